//! Integration tests of `bench`: one binary, one module per area.
mod metrics;
mod report;
