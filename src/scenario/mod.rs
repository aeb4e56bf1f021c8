//! Scenario files: TOML parsed once into a validated [`Plan`]; nothing downstream re-checks it.
//!
//! [`load`] reads a file, rejects unknown keys everywhere, checks every value, reads the prompt
//! files and replay trace it names, and returns a [`Plan`] or a [`ScenarioError`] that names
//! the file, the key path (such as `load.users`), the bad value and what is accepted.
//! [`apply_overrides`] applies `bench run` flags and re-checks what they change;
//! [`validate_prices`] checks that the price table prices every model the plan may call.
//!
//! The `[mock]` table, the `[agent]` table and the agent's `budget`, `sessions`, `sanitizer`,
//! `retry`, `breaker` and `tools` sub-tables deserialize straight into the config types their
//! owners define (`mock_server::MockConfig`, [`AgentConfig`], `agent::budget::BudgetConfig`
//! ...), so unknown keys there are rejected with their full key path too, and each owner's
//! `validate` runs here, once.
//!
//! The files, lowest first (none uses one above it): `error.rs` (why a file was refused),
//! `plan.rs` (the validated types, defaults and bounds), `raw.rs` (the file as written),
//! `check.rs` (the validation context and small value checks), `load_model.rs` (the `[load]`
//! table), `invariants.rs` (checks across tables), `prices.rs` (the price table),
//! `validate.rs` (text to plan), `overrides.rs` (command-line flags), `describe.rs` (the plan
//! for people). `workload.rs` and `trace.rs` are the prompt sources and the replay format.

mod capacity;
mod check;
mod describe;
mod error;
mod invariants;
mod load_model;
mod overrides;
mod partition;
mod plan;
mod prices;
mod raw;
pub mod shard;
pub mod trace;
mod validate;
pub mod workload;

pub use crate::agent::settings::{AgentConfig, Protocol};
pub use error::{ComponentError, ScenarioError};
pub use overrides::{Overrides, apply_overrides};
pub use partition::{apply_shard, scenario_digest};
pub use plan::{
    Arrival, ClosedLoad, DEFAULT_CALL_DEADLINE, DEFAULT_CONNECT_TIMEOUT, DEFAULT_GRACE,
    DEFAULT_MAX_IN_FLIGHT, DEFAULT_SEED, DEFAULT_TIMEOUT, Endpoint, EndpointPlan, Limits, LoadPlan,
    LoadShape, MAX_CONNECTIONS, MAX_DURATION, MAX_USERS, OpenLoad, Plan, PricesPlan, ReplayLoad,
    ReportPlan, Stage, SweepPlan,
};
pub use prices::{price_table, validate_prices};
pub use shard::{Shard, ShardShare, Sharding};
pub use trace::TraceEntry;
pub use validate::{check_file, load, parse};
pub use workload::{Source, WorkItem, Workload};
