//! The mock server's configuration: the `[mock]` table of a scenario file, or a `mock.toml`.
//!
//! Every field has a default, so an empty table is a valid configuration: any model name is
//! accepted, replies take 200 ms to the first token and 20 ms per further token, are 40 to 200
//! tokens long, no limits and no faults. See the crate docs for every key with an example.
//!
//! Per-model settings are layered: built-in defaults, then `[models.default]`, then
//! `[models."NAME"]`; a model table only needs the keys it changes. [`MockConfig::model`]
//! resolves one model's settings (`model.rs`); [`MockConfig::validate`] checks everything once
//! and [`MockConfig::from_toml_file`] reads a file and checks it (`check.rs`, which sits on
//! top: this file does not use it). The `[faults]` and `[[outages]]` tables are in
//! `faults.rs`, the count ranges every table uses in `range.rs`.

mod check;
mod faults;
mod model;
mod range;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use faults::{FaultConfig, FaultKind, Outage};
pub use model::{Jitter, ModelConfig, ModelSettings, PromptCaching};
pub use range::CountRange;

/// Errors in a mock configuration: what key, what value, and what would be accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read mock config {path}: {source}")]
    Read {
        /// The file named by the caller.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for [`MockConfig`] (unknown key, wrong type ...).
    #[error("invalid mock config {path}: {message}")]
    Parse {
        /// The file named by the caller.
        path: String,
        /// The TOML parser's message (it names the key and line).
        message: String,
    },
    /// A value parsed but is out of range.
    #[error("invalid mock config: `{key}` = {value}: {hint}")]
    Invalid {
        /// The key path, for example `models.gpt-4.1.jitter_ratio`.
        key: String,
        /// The offending value as written.
        value: String,
        /// What would be accepted.
        hint: String,
    },
}

/// The whole mock server configuration. See the crate docs for the TOML keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MockConfig {
    /// Seed of every random choice (script lengths, tools, jitter, faults). Default 0.
    pub seed: u64,
    /// Serve any model name with the `default` settings (true by default); when false, a model
    /// not named in `models` gets 404 `model_not_found`.
    pub accept_any_model: bool,
    /// When set, requests must carry `Authorization: Bearer <api_key>` or get 401.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Largest accepted request body in bytes (default 4 MiB); larger bodies get 413.
    pub max_body_bytes: u64,
    /// Longest a client may take to send a request head, from its connection's start or from
    /// the end of its previous reply (default 30 s, hyper's); past it the connection is
    /// closed. Bounds slow-loris clients; it also closes connections idle that long between
    /// requests, as real servers' keep-alive timeouts do.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Most connections open at once (default 16,384). Past it new connections are not
    /// accepted: they wait in the kernel's listen queue until one closes.
    pub max_connections: usize,
    /// Per-model settings: the key `default` applies to every model, other keys name models
    /// and override it.
    pub models: BTreeMap<String, ModelConfig>,
    /// How scripted ReAct replies are shaped.
    pub script: ScriptConfig,
    /// Fault probabilities by kind.
    pub faults: FaultConfig,
    /// Scheduled outages: a model answers 503 between two offsets from server start.
    pub outages: Vec<Outage>,
    /// The guard endpoints (`POST /v1/moderations`, `POST /guard`).
    pub guard: GuardConfig,
}

/// How the mock's guard endpoints answer: after `latency`, a 500 with probability
/// `error_probability`, otherwise a verdict: flagged when the text holds one of `flag`
/// (case-insensitive).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// Time before each answer (default 20 ms).
    #[serde(with = "humantime_serde")]
    pub latency: Duration,
    /// Probability of a 500 instead of a verdict (default 0).
    pub error_probability: f64,
    /// Substrings that flag a text, matched case-insensitively.
    pub flag: Vec<String>,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            latency: Duration::from_millis(20),
            error_probability: 0.0,
            flag: [
                "ignore all previous instructions",
                "ignore previous instructions",
                "system prompt",
                "bỏ qua mọi hướng dẫn",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        }
    }
}

/// Default request body limit (4 MiB): far above any realistic chat request.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 4 * 1024 * 1024;

/// Default [`MockConfig::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Default [`MockConfig::max_connections`]: above the 4,096 connections the scale benchmarks
/// open, below a default descriptor limit's reach once raised.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            seed: 0,
            accept_any_model: true,
            api_key: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            models: BTreeMap::new(),
            script: ScriptConfig::default(),
            faults: FaultConfig::default(),
            outages: Vec::new(),
            guard: GuardConfig::default(),
        }
    }
}

/// Settings of the scripted ReAct replies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptConfig {
    /// How many tool steps a turn takes before its final answer (default "0..=3").
    pub tool_steps: CountRange,
    /// Probability that a turn's first step proposes the dangerous tool instead of an offered
    /// one (default 0), so agents' refusals get exercised.
    pub dangerous_action_probability: f64,
    /// Name of the dangerous tool proposed (default "delete_all").
    pub dangerous_tool: String,
    /// Tool calls in one reply of a native tool step (default "1"); above 1, a reply holds
    /// that many calls (drawn per step) unless the request sets `parallel_tool_calls: false`,
    /// so an agent's parallel path runs under load.
    pub parallel_tool_calls: CountRange,
    /// Relative weights of tools when a step picks one (`{ search_kb = 3, get_order = 2 }`);
    /// a tool not listed weighs 1. Default: all equal.
    pub tool_weights: std::collections::BTreeMap<String, u64>,
}

impl Default for ScriptConfig {
    fn default() -> Self {
        ScriptConfig {
            tool_steps: CountRange { min: 0, max: 3 },
            dangerous_action_probability: 0.0,
            dangerous_tool: "delete_all".to_string(),
            parallel_tool_calls: CountRange { min: 1, max: 1 },
            tool_weights: std::collections::BTreeMap::new(),
        }
    }
}

/// Longest reply the config may ask for, in tokens (replies are built in memory).
pub const MAX_COMPLETION_TOKENS: u64 = 1_000_000;

/// The key of the settings every model inherits.
pub const DEFAULT_MODEL_KEY: &str = "default";

/// The model `GET /v1/models` lists when no model is named and any is accepted (every name
/// gets the `default` settings; this one is what most scenarios ask for).
pub const LISTED_WHEN_ANY: &str = "gpt-4.1";

impl MockConfig {
    /// Whether `model` is served: named in `models`, or any model when `accept_any_model`.
    pub fn serves(&self, model: &str) -> bool {
        self.accept_any_model || (model != DEFAULT_MODEL_KEY && self.models.contains_key(model))
    }

    /// The settings of `model`: built-in defaults, then `models.default`, then
    /// `models."<model>"`.
    pub fn model(&self, model: &str) -> ModelSettings {
        let mut s = ModelSettings::default();
        if let Some(d) = self.models.get(DEFAULT_MODEL_KEY) {
            s.apply(d);
        }
        if model != DEFAULT_MODEL_KEY
            && let Some(m) = self.models.get(model)
        {
            s.apply(m);
        }
        s
    }

    /// Model names listed by `GET /v1/models`: the keys of `models` but `default`.
    pub fn model_names(&self) -> impl Iterator<Item = &str> {
        self.models
            .keys()
            .map(String::as_str)
            .filter(|k| *k != DEFAULT_MODEL_KEY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_is_valid_and_defaults_apply() {
        let c: MockConfig = toml::from_str("").expect("empty config parses");
        c.validate().expect("empty config is valid");
        assert!(c.accept_any_model);
        assert_eq!(c.model("anything"), ModelSettings::default());
    }

    #[test]
    fn model_overrides_layer_on_default() {
        let c: MockConfig = toml::from_str(
            r#"
            seed = 7
            [models.default]
            ttft = "50ms"
            completion_tokens = "10..=20"
            [models."gpt-4.1"]
            ttft = "300ms"
            rpm = 60
            "#,
        )
        .expect("parses");
        c.validate().expect("valid");
        let m = c.model("gpt-4.1");
        assert_eq!(m.ttft, Duration::from_millis(300));
        assert_eq!(m.completion_tokens, CountRange { min: 10, max: 20 });
        assert_eq!(m.rpm, Some(60));
        assert_eq!(c.model("other").ttft, Duration::from_millis(50));
        assert_eq!(c.model("other").rpm, None);
        assert_eq!(c.model_names().collect::<Vec<_>>(), ["gpt-4.1"]);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(toml::from_str::<MockConfig>("sede = 1").is_err());
        assert!(toml::from_str::<MockConfig>("[models.x]\nttft = \"fast\"").is_err());
        let c: MockConfig = toml::from_str("[faults]\nhang = 0.7\nreset = 0.6").expect("parses");
        let e = c.validate().expect_err("sum over 1");
        assert!(e.to_string().contains("faults"), "{e}");
        let c: MockConfig =
            toml::from_str("[[outages]]\nmodel = \"m\"\nfrom = \"9s\"\nto = \"2s\"").expect("p");
        assert!(c.validate().is_err());
    }

    #[test]
    fn config_round_trips_through_toml() {
        let mut c = MockConfig {
            seed: 3,
            api_key: Some("k".into()),
            ..MockConfig::default()
        };
        c.models.insert(
            "gpt-4.1".into(),
            ModelConfig::from(&ModelSettings::default()),
        );
        c.outages.push(Outage {
            model: "gpt-4.1".into(),
            from: Duration::from_secs(10),
            to: Duration::from_secs(25),
        });
        let text = toml::to_string(&c).expect("serializes");
        let back: MockConfig = toml::from_str(&text).expect("parses back");
        assert_eq!(back, c);
    }
}
