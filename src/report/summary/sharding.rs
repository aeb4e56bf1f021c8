//! The `shard` and `merged` sections of `summary.json`: which part of a sharded run a report
//! is, and which shards a merged report was added up from.

use serde::{Deserialize, Serialize};

/// What a shard was given of the whole run's load and limits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ShardShare {
    /// Closed model: the users this shard runs (ids `u` with `u mod N = I`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub users: Option<u64>,
    /// Open model: this shard's arrival rate, per second.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub arrival_rate_per_s: Option<f64>,
    /// Open model: this shard's cap on sessions in flight.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_in_flight: Option<u64>,
    /// Replay: the trace sessions this shard runs.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub replay_sessions: Option<u64>,
    /// This shard's part of `[load] max_conversations`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_conversations: Option<u64>,
    /// This shard's part of `[limits] spend_cap_usd`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub spend_cap_usd: Option<f64>,
}

/// `shard`: this report is shard `index` of `count` of one run (`bench run --shard`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ShardSection {
    /// This shard, 0-based.
    pub index: u64,
    /// Shards of the run.
    pub count: u64,
    /// The common start (`--start-at`), UTC RFC 3339 with milliseconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub planned_start: Option<String>,
    /// When this shard's load really started, minus the planned start, milliseconds
    /// (positive: late).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub start_offset_ms: Option<f64>,
    /// Digest of the scenario file, its prompts and the flags that change the plan: shards
    /// of one run have the same.
    pub scenario_digest: String,
    /// The run's seed.
    pub seed: u64,
    /// The `bench` version that ran the shard.
    pub bench_version: String,
    /// What this shard was given of the load and the limits.
    pub share: ShardShare,
}

/// `merged`: this report was added up by `bench merge` from the shards listed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MergedSection {
    /// Shards of the run.
    pub count: u64,
    /// The shards' common scenario digest.
    pub scenario_digest: String,
    /// The shards' common `bench` version.
    pub bench_version: String,
    /// The common start, if the shards had one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub planned_start: Option<String>,
    /// Each shard, by index.
    pub shards: Vec<MergedShard>,
}

/// One shard of a merged run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MergedShard {
    /// Its index.
    pub index: u64,
    /// Its report directory, as given to `bench merge`.
    pub dir: String,
    /// Its start, UTC RFC 3339 with milliseconds.
    pub started_at: String,
    /// Its start minus the planned start, milliseconds, if it had one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub start_offset_ms: Option<f64>,
    /// Its length, seconds.
    pub duration_s: f64,
    /// Conversations it recorded.
    pub conversations: u64,
    /// LLM calls it recorded.
    pub llm_calls: u64,
    /// True if it stopped early or cut conversations.
    pub interrupted: bool,
    /// What it was given of the load and limits.
    pub share: ShardShare,
}

/// `slo`: the conversations judged on the scenario's `[slo]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SloSection {
    /// Each objective as written, by its key (`outcome` lists the good outcomes).
    pub objectives: std::collections::BTreeMap<String, String>,
    /// Conversations judged (every recorded one).
    pub conversations: u64,
    /// Of those, conversations that met every objective.
    pub good: u64,
    /// `good / conversations` (0 without conversations).
    pub attainment: f64,
    /// Lower end of the attainment's 95% Wilson interval.
    pub attainment_low: f64,
    /// Upper end of the attainment's 95% Wilson interval.
    pub attainment_high: f64,
    /// Good conversations per second of the run.
    pub goodput_per_second: f64,
    /// Per objective: the share of the judged conversations that missed it.
    pub missed: std::collections::BTreeMap<String, f64>,
}

/// `sweep`: the answer of `bench sweep`, in the summary its thresholds are judged on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepSection {
    /// The highest load that met the SLO: users (closed model) or conversations started per
    /// second (open model); 0 when none did.
    pub max_load: f64,
    /// The same, for a closed model (absent for an open one).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_users: Option<f64>,
    /// The same, for an open model (absent for a closed one).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_rate_per_s: Option<f64>,
    /// Attainment at that load, with its 95% interval.
    pub attainment: f64,
    /// See `attainment`.
    pub attainment_low: f64,
    /// See `attainment`.
    pub attainment_high: f64,
    /// Good conversations per second at that load.
    pub goodput_per_second: f64,
    /// Conversations per second at that load.
    pub conversations_per_second: f64,
    /// Dollars per conversation at that load.
    pub usd_per_conversation: f64,
    /// Dollars per day at that load, around the clock.
    pub usd_per_day: f64,
    /// Dollars per month (30 days) at that load.
    pub usd_per_month: f64,
    /// Steps run (repeats included).
    pub steps: u64,
}

/// The fields of [`SweepSection`] a threshold may name (`sweep.<field>`).
pub const SWEEP_FIELDS: [&str; 12] = [
    "max_load",
    "max_users",
    "max_rate_per_s",
    "attainment",
    "attainment_low",
    "attainment_high",
    "goodput_per_second",
    "conversations_per_second",
    "usd_per_conversation",
    "usd_per_day",
    "usd_per_month",
    "steps",
];
