//! Integration tests of `bench`: one binary, one module per area.

mod agent;
mod client;
mod client_limits;
mod client_urls;
mod compare;
mod gates;
mod guard;
mod honest_agent;
mod hostile;
mod layering;
mod metrics;
mod observe;
mod own_agent;
mod parsers_prop;
mod plots;
mod prices;
mod report;
mod resilience;
mod run;
mod runner;
mod sanitize;
mod scenario;
mod server_shapes;
mod signals;
mod support;
mod visuals;
