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
