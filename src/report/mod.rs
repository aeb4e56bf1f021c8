//! Report files and terminal output. Planned; see the open issues.
