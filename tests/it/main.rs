//! Integration tests of `bench`: one binary, one module per area.

mod client;
mod plots;
mod prices;
mod resilience;
mod sanitize;
