//! Integration tests of `bench`: one binary, one module per area.

mod agent;
mod client;
mod compare;
mod gates;
mod metrics;
mod plots;
mod prices;
mod report;
mod resilience;
mod run;
mod runner;
mod sanitize;
mod scenario;
mod signals;
mod visuals;
