//! Integration tests of `bench`: one binary, one module per area.

mod runner;
mod scenario;
