//! The scenario file as written: serde types that mirror the TOML, unknown keys refused at
//! every level, and the deserializer's errors turned into messages with a key path and a line.
//! Only validation reads these; everything else reads the [`super::plan::Plan`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::ScenarioError;
use super::plan::Arrival;
use crate::agent::settings::AgentConfig;
use crate::units::{CountRange, DurationRange, HumanDuration, Rate};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub(super) name: Option<String>,
    pub(super) description: Option<String>,
    pub(super) seed: Option<u64>,
    pub(super) duration: Option<HumanDuration>,
    pub(super) conversations_per_user: Option<u64>,
    pub(super) grace: Option<HumanDuration>,
    #[serde(default)]
    pub(super) endpoint: RawEndpoint,
    pub(super) mock: Option<mock_server::MockConfig>,
    pub(super) load: RawLoad,
    pub(super) agent: AgentConfig,
    #[serde(default)]
    pub(super) workload: Vec<RawWorkload>,
    #[serde(default)]
    pub(super) prices: RawPrices,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default)]
    pub(super) report: RawReport,
    #[serde(default)]
    pub(super) thresholds: BTreeMap<String, OneOrMany>,
    pub(super) slo: Option<RawSlo>,
    pub(super) sweep: Option<RawSweep>,
}

/// `[slo]`: per-conversation objectives, each an upper bound such as `"< 8s"`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSlo {
    pub(super) conversation_latency: Option<String>,
    pub(super) ttft: Option<String>,
    pub(super) llm_call_latency: Option<String>,
    pub(super) inter_token: Option<String>,
    pub(super) cost_per_conversation: Option<String>,
    pub(super) outcome: Option<Vec<String>>,
}

/// `[sweep]`: how `bench sweep` steps the load.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSweep {
    pub(super) target: Option<f64>,
    pub(super) start: Option<f64>,
    pub(super) factor: Option<f64>,
    pub(super) resolution: Option<f64>,
    pub(super) max_load: Option<f64>,
    pub(super) max_steps: Option<u32>,
    pub(super) max_duration: Option<HumanDuration>,
    pub(super) step_duration: Option<HumanDuration>,
    pub(super) warm_up: Option<HumanDuration>,
    pub(super) repeats: Option<u32>,
    #[serde(default)]
    pub(super) models: Vec<String>,
}

#[derive(Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum EndpointKind {
    #[default]
    Mock,
    Http,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEndpoint {
    #[serde(default)]
    pub(super) kind: EndpointKind,
    pub(super) base_url: Option<String>,
    pub(super) api_key_env: Option<String>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, String>,
    pub(super) timeout: Option<HumanDuration>,
    pub(super) connect_timeout: Option<HumanDuration>,
    pub(super) call_deadline: Option<HumanDuration>,
    pub(super) max_connections: Option<u64>,
    pub(super) max_response_bytes: Option<u64>,
    pub(super) auth_header: Option<String>,
    pub(super) metrics_url: Option<String>,
    pub(super) metrics_interval: Option<HumanDuration>,
    pub(super) metrics: Option<OneOrMany>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLoad {
    pub(super) users: Option<u64>,
    pub(super) ramp_up: Option<HumanDuration>,
    pub(super) stages: Option<Vec<RawStage>>,
    pub(super) think_time: Option<DurationRange>,
    pub(super) turns_per_session: Option<CountRange>,
    pub(super) arrival_rate: Option<Rate>,
    pub(super) arrival: Option<Arrival>,
    pub(super) max_in_flight: Option<u64>,
    pub(super) trace: Option<PathBuf>,
    pub(super) time_scale: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStage {
    pub(super) target: u64,
    pub(super) duration: HumanDuration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorkload {
    pub(super) weight: Option<u32>,
    pub(super) prompts: Option<Vec<String>>,
    pub(super) file: Option<PathBuf>,
    pub(super) label: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrices {
    pub(super) table: Option<PathBuf>,
    #[serde(default)]
    pub(super) compare: Vec<String>,
    pub(super) reference: Option<String>,
    pub(super) per_day: Option<u64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) spend_cap_usd: Option<f64>,
    pub(super) max_conversations: Option<u64>,
    pub(super) expect_no_success: Option<bool>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReport {
    pub(super) out: Option<PathBuf>,
    pub(super) plots: Option<bool>,
    pub(super) html: Option<bool>,
    pub(super) trace: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// Parses TOML text into the raw types; syntax and schema errors name the key and the line.
pub(super) fn deserialize(path: &Path, text: &str) -> Result<RawScenario, ScenarioError> {
    let de = toml::Deserializer::parse(text).map_err(|e| {
        let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
        ScenarioError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        ScenarioError::Schema {
            path: path.to_path_buf(),
            key: if key == "." {
                "(top level)".into()
            } else {
                key
            },
            line: inner.span().map(|s| line_col(text, s.start).0),
            message: friendlier(inner.message().trim()),
        }
    })
}

/// Serde says `expected u64`; a person reads "a whole number" more easily.
fn friendlier(message: &str) -> String {
    message
        .replace("expected u64", "expected a whole number of 0 or more")
        .replace("expected u32", "expected a whole number of 0 or more")
        .replace("expected f64", "expected a number")
        .replace(
            "data did not match any variant of untagged enum OneOrMany",
            "expected a string or a list of strings",
        )
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, column)
}
