//! `shard_state.json`: what `bench merge` needs from a shard's report that its other files do
//! not hold exactly: the shard's identity, its complete metrics (every histogram and counter,
//! nothing rounded: [`crate::metrics::state`]), the post-warm-up metrics the gates read, the
//! price of each model it billed (so the merge re-prices token totals as the whole run would),
//! and the scenario's thresholds and report settings (so the merge gates and draws like the
//! run).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::atomic;
use super::summary::ShardSection;
use crate::metrics::RunMetrics;
use crate::metrics::state::STATE_VERSION;
use crate::pricing::{ModelPrice, PriceTable};

/// File name of a shard's state in its report directory.
pub const SHARD_FILE: &str = "shard_state.json";

/// A shard's state, as written next to its report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardFile {
    /// Layout version ([`STATE_VERSION`]).
    pub version: u32,
    /// Which shard of which run (also in `summary.json`).
    pub shard: ShardSection,
    /// The scenario's `[thresholds]`, as written.
    pub thresholds: BTreeMap<String, Vec<String>>,
    /// `[limits] expect_no_success`.
    pub expect_no_success: bool,
    /// `[report] plots` and `html`.
    pub plots: bool,
    /// See `plots`.
    pub html: bool,
    /// The price of every model the shard billed, by the name it billed under.
    pub prices: BTreeMap<String, ModelPrice>,
    /// The shard's metrics, whole run.
    pub metrics: RunMetrics,
    /// With a warm-up window: the metrics after it (what the gates read).
    pub gated: Option<RunMetrics>,
}

impl ShardFile {
    /// The prices of `metrics`' models in `table`, by the names they were billed under.
    pub fn prices_of(metrics: &RunMetrics, table: &PriceTable) -> BTreeMap<String, ModelPrice> {
        metrics
            .models
            .keys()
            .filter_map(|m| table.get(m).map(|p| (m.clone(), p.clone())))
            .collect()
    }

    /// Writes `dir/shard_state.json` atomically.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_string(self).context("serializing the shard's state")?;
        atomic::write_bytes(dir.join(SHARD_FILE), json.as_bytes())
    }

    /// Reads `dir/shard_state.json`.
    pub fn read(dir: &Path) -> anyhow::Result<ShardFile> {
        let path = dir.join(SHARD_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {}: is {} the report of a `bench run --shard I/N`?",
                path.display(),
                dir.display()
            )
        })?;
        let version = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("version").and_then(serde_json::Value::as_u64));
        anyhow::ensure!(
            version == Some(u64::from(STATE_VERSION)),
            "{} has layout version {}, this bench reads version {STATE_VERSION}; merge with the \
             bench that ran the shards",
            path.display(),
            version.map_or_else(|| "none".to_string(), |v| v.to_string())
        );
        serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
    }
}
