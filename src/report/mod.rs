//! Report files and terminal output. Planned; see the open issues.
pub mod histlog;
pub mod html;
pub mod plot;
