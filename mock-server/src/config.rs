//! The mock server's configuration: the `[mock]` table of a scenario file, or a `mock.toml`.
//!
//! Every field has a default, so an empty table is a valid configuration: any model name is
//! accepted, replies take 200 ms to the first token and 20 ms per further token, are 40 to 200
//! tokens long, no limits and no faults. See the crate docs for every key with an example.
//!
//! Per-model settings are layered: built-in defaults, then `[models.default]`, then
//! `[models."NAME"]`; a model table only needs the keys it changes. [`MockConfig::validate`]
//! checks everything once; [`MockConfig::model`] resolves one model's settings.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

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

fn invalid(key: impl Into<String>, value: impl fmt::Display, hint: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.to_string(),
        hint: hint.to_string(),
    }
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
        }
    }
}

/// Settings of one model; every field is optional and falls back to `models.default`, then to
/// the built-in default named on each field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Time to first token (default "200ms").
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub ttft: Option<Duration>,
    /// Time per output token after the first (default "20ms").
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub per_token: Option<Duration>,
    /// Jitter distribution applied to the first-token time and to every token gap (default
    /// "uniform").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Jitter>,
    /// Size of the jitter as a fraction of the delay it perturbs (default 0.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_ratio: Option<f64>,
    /// Length of a reply's text in tokens, drawn uniformly (default "40..=200").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<CountRange>,
    /// Context window in tokens (default 128000): prompt plus `max_tokens` past it gets 400
    /// `context_length_exceeded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    /// How cached prompt tokens are reported (default "openai").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_caching: Option<PromptCaching>,
    /// Requests per minute; absent means unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Tokens (prompt plus completion) per minute; absent means unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
}

/// Shape of the random jitter added to each delay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Delays are exact.
    None,
    /// Uniform in `±ratio × delay`.
    #[default]
    Uniform,
    /// Normal with standard deviation `ratio × delay`, clamped at zero.
    Normal,
    /// Exponential with mean `ratio × delay`, added (a long right tail, like real providers).
    Exponential,
}

/// How cached prompt tokens are reported in `usage.prompt_tokens_details.cached_tokens`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptCaching {
    /// Never any cached tokens.
    Off,
    /// OpenAI's rule; see the crate docs ("Prompt caching").
    #[default]
    Openai,
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
}

impl Default for ScriptConfig {
    fn default() -> Self {
        ScriptConfig {
            tool_steps: CountRange { min: 0, max: 3 },
            dangerous_action_probability: 0.0,
            dangerous_tool: "delete_all".to_string(),
            parallel_tool_calls: CountRange { min: 1, max: 1 },
        }
    }
}

/// Probability of each injected fault, per chat-completion request (all default 0; their sum
/// must not exceed 1). One draw per request picks at most one fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultConfig {
    /// 429 `rate_limit_exceeded` with `retry-after` and `retry-after-ms`.
    pub rate_limit: f64,
    /// 429 `insufficient_quota` (not retryable, no retry headers).
    pub insufficient_quota: f64,
    /// 500 `server_error`.
    pub server_error: f64,
    /// 502 bad gateway.
    pub bad_gateway: f64,
    /// 503 overloaded.
    pub service_unavailable: f64,
    /// Never answer: the request hangs until the client gives up (or the server shuts down).
    pub hang: f64,
    /// Close the connection with a TCP reset instead of answering.
    pub reset: f64,
    /// 200 whose body is not valid JSON; a stream sends one broken event, then `[DONE]`.
    pub malformed_json: f64,
    /// The reply body stops half-way and the connection is dropped (streaming or not).
    pub stream_cut: f64,
    /// Streaming only: half-way, an `{"error": ...}` event ends the stream (no `[DONE]`).
    /// Non-streaming requests that draw it are served normally.
    pub stream_error_event: f64,
    /// Wait advertised by injected 429 `rate_limit_exceeded` replies (default "1s").
    #[serde(with = "humantime_serde")]
    pub retry_after: Duration,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            rate_limit: 0.0,
            insufficient_quota: 0.0,
            server_error: 0.0,
            bad_gateway: 0.0,
            service_unavailable: 0.0,
            hang: 0.0,
            reset: 0.0,
            malformed_json: 0.0,
            stream_cut: 0.0,
            stream_error_event: 0.0,
            retry_after: Duration::from_secs(1),
        }
    }
}

/// One kind of injected fault; its `name` is the key in the config and in the stats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// 429 `rate_limit_exceeded`.
    RateLimit,
    /// 429 `insufficient_quota`.
    InsufficientQuota,
    /// 500.
    ServerError,
    /// 502.
    BadGateway,
    /// 503.
    ServiceUnavailable,
    /// No answer.
    Hang,
    /// TCP reset.
    Reset,
    /// Invalid JSON body.
    MalformedJson,
    /// Body cut half-way.
    StreamCut,
    /// Error event half-way through a stream.
    StreamErrorEvent,
    /// 503 from a scheduled outage (not drawn: scheduled).
    Outage,
}

impl FaultKind {
    /// Every kind drawn by probability, in draw order.
    pub const DRAWN: [FaultKind; 10] = [
        FaultKind::RateLimit,
        FaultKind::InsufficientQuota,
        FaultKind::ServerError,
        FaultKind::BadGateway,
        FaultKind::ServiceUnavailable,
        FaultKind::Hang,
        FaultKind::Reset,
        FaultKind::MalformedJson,
        FaultKind::StreamCut,
        FaultKind::StreamErrorEvent,
    ];

    /// The kind's name in config keys and in `/mock/stats`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::RateLimit => "rate_limit",
            FaultKind::InsufficientQuota => "insufficient_quota",
            FaultKind::ServerError => "server_error",
            FaultKind::BadGateway => "bad_gateway",
            FaultKind::ServiceUnavailable => "service_unavailable",
            FaultKind::Hang => "hang",
            FaultKind::Reset => "reset",
            FaultKind::MalformedJson => "malformed_json",
            FaultKind::StreamCut => "stream_cut",
            FaultKind::StreamErrorEvent => "stream_error_event",
            FaultKind::Outage => "outage",
        }
    }
}

impl FaultConfig {
    /// The configured probability of a drawn kind (0 for [`FaultKind::Outage`]).
    pub fn probability(&self, kind: FaultKind) -> f64 {
        match kind {
            FaultKind::RateLimit => self.rate_limit,
            FaultKind::InsufficientQuota => self.insufficient_quota,
            FaultKind::ServerError => self.server_error,
            FaultKind::BadGateway => self.bad_gateway,
            FaultKind::ServiceUnavailable => self.service_unavailable,
            FaultKind::Hang => self.hang,
            FaultKind::Reset => self.reset,
            FaultKind::MalformedJson => self.malformed_json,
            FaultKind::StreamCut => self.stream_cut,
            FaultKind::StreamErrorEvent => self.stream_error_event,
            FaultKind::Outage => 0.0,
        }
    }

    /// The fault a uniform draw `u` in `[0, 1)` lands on, if any (cumulative, in
    /// [`FaultKind::DRAWN`] order).
    pub fn pick(&self, u: f64) -> Option<FaultKind> {
        let mut acc = 0.0;
        for kind in FaultKind::DRAWN {
            acc += self.probability(kind);
            if u < acc {
                return Some(kind);
            }
        }
        None
    }
}

/// A scheduled outage: `model` answers 503 from `from` to `to` after server start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    /// The model that goes down; `"*"` means every model.
    pub model: String,
    /// Start offset from server start (inclusive).
    #[serde(with = "humantime_serde")]
    pub from: Duration,
    /// End offset from server start (exclusive).
    #[serde(with = "humantime_serde")]
    pub to: Duration,
}

/// An inclusive range of counts, written `"40..=200"`, `"40..200"` (end excluded), `"7"` or 7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountRange {
    /// Smallest value.
    pub min: u64,
    /// Largest value (inclusive).
    pub max: u64,
}

impl FromStr for CountRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let num = |t: &str| {
            t.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{t}` is not a whole number"))
        };
        let (min, max) = if let Some((a, b)) = s.split_once("..=") {
            (num(a)?, num(b)?)
        } else if let Some((a, b)) = s.split_once("..") {
            let b = num(b)?;
            if b == 0 {
                return Err(format!("`{s}` is empty"));
            }
            (num(a)?, b - 1)
        } else {
            let n = num(s)?;
            (n, n)
        };
        if min > max {
            return Err(format!("`{s}` is empty (start after end)"));
        }
        Ok(CountRange { min, max })
    }
}

impl fmt::Display for CountRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.min, self.max)
    }
}

impl Serialize for CountRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CountRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) => Ok(CountRange { min: n, max: n }),
            Raw::Text(t) => t.parse().map_err(|e: String| {
                serde::de::Error::custom(format!("{e}; write a range like \"40..=200\""))
            }),
        }
    }
}

/// One model's settings with every default applied.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSettings {
    /// Time to first token.
    pub ttft: Duration,
    /// Time per output token after the first.
    pub per_token: Duration,
    /// Jitter distribution.
    pub jitter: Jitter,
    /// Jitter size as a fraction of each delay.
    pub jitter_ratio: f64,
    /// Reply text length in tokens.
    pub completion_tokens: CountRange,
    /// Context window in tokens.
    pub context_window: u64,
    /// Cached-token reporting.
    pub prompt_caching: PromptCaching,
    /// Requests per minute, if limited.
    pub rpm: Option<u64>,
    /// Tokens per minute, if limited.
    pub tpm: Option<u64>,
}

impl Default for ModelSettings {
    fn default() -> Self {
        ModelSettings {
            ttft: Duration::from_millis(200),
            per_token: Duration::from_millis(20),
            jitter: Jitter::Uniform,
            jitter_ratio: 0.1,
            completion_tokens: CountRange { min: 40, max: 200 },
            context_window: 128_000,
            prompt_caching: PromptCaching::Openai,
            rpm: None,
            tpm: None,
        }
    }
}

impl ModelSettings {
    /// Zero latency and no jitter: what benchmarks and most tests want.
    pub fn instant() -> Self {
        ModelSettings {
            ttft: Duration::ZERO,
            per_token: Duration::ZERO,
            jitter: Jitter::None,
            ..ModelSettings::default()
        }
    }

    fn apply(&mut self, c: &ModelConfig) {
        if let Some(v) = c.ttft {
            self.ttft = v;
        }
        if let Some(v) = c.per_token {
            self.per_token = v;
        }
        if let Some(v) = c.jitter {
            self.jitter = v;
        }
        if let Some(v) = c.jitter_ratio {
            self.jitter_ratio = v;
        }
        if let Some(v) = c.completion_tokens {
            self.completion_tokens = v;
        }
        if let Some(v) = c.context_window {
            self.context_window = v;
        }
        if let Some(v) = c.prompt_caching {
            self.prompt_caching = v;
        }
        if c.rpm.is_some() {
            self.rpm = c.rpm;
        }
        if c.tpm.is_some() {
            self.tpm = c.tpm;
        }
    }
}

impl From<&ModelSettings> for ModelConfig {
    fn from(s: &ModelSettings) -> Self {
        ModelConfig {
            ttft: Some(s.ttft),
            per_token: Some(s.per_token),
            jitter: Some(s.jitter),
            jitter_ratio: Some(s.jitter_ratio),
            completion_tokens: Some(s.completion_tokens),
            context_window: Some(s.context_window),
            prompt_caching: Some(s.prompt_caching),
            rpm: s.rpm,
            tpm: s.tpm,
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
    /// Reads and validates a TOML file holding a [`MockConfig`] at its top level.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<MockConfig, ConfigError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let config: MockConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: shown,
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

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

    /// Checks every value once; the server trusts a validated config.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.header_read_timeout.is_zero() {
            return Err(invalid(
                "header_read_timeout",
                "0s",
                "use a positive duration such as \"30s\"",
            ));
        }
        if self.max_connections == 0 {
            return Err(invalid(
                "max_connections",
                0,
                "use a positive number of connections",
            ));
        }
        if self.max_body_bytes == 0 {
            return Err(invalid(
                "max_body_bytes",
                0,
                "use a positive number of bytes",
            ));
        }
        if let Some(k) = &self.api_key
            && k.is_empty()
        {
            return Err(invalid(
                "api_key",
                "\"\"",
                "remove the key to disable the check, or set a non-empty key",
            ));
        }
        for (name, m) in &self.models {
            let key = |field: &str| format!("models.\"{name}\".{field}");
            if let Some(r) = m.jitter_ratio
                && !(0.0..=10.0).contains(&r)
            {
                return Err(invalid(
                    key("jitter_ratio"),
                    r,
                    "use a fraction from 0 to 10",
                ));
            }
            if let Some(w) = m.context_window
                && w == 0
            {
                return Err(invalid(
                    key("context_window"),
                    w,
                    "use a positive token count",
                ));
            }
            if let Some(c) = m.completion_tokens
                && c.max > MAX_COMPLETION_TOKENS
            {
                return Err(invalid(
                    key("completion_tokens"),
                    c,
                    "use at most 1000000 tokens per reply",
                ));
            }
            if let Some(c) = m.completion_tokens
                && c.min == 0
            {
                return Err(invalid(
                    key("completion_tokens"),
                    c,
                    "replies have at least 1 token; start the range at 1 or more",
                ));
            }
            if m.rpm == Some(0) || m.tpm == Some(0) {
                return Err(invalid(
                    key("rpm/tpm"),
                    0,
                    "use a positive limit, or remove the key for no limit",
                ));
            }
        }
        if self.script.tool_steps.max > 50 {
            return Err(invalid(
                "script.tool_steps",
                self.script.tool_steps,
                "use at most 50 tool steps per turn",
            ));
        }
        let parallel = self.script.parallel_tool_calls;
        if parallel.min == 0 || parallel.max > 16 {
            return Err(invalid(
                "script.parallel_tool_calls",
                parallel,
                "use a range within 1..=16 calls per reply",
            ));
        }
        let p = self.script.dangerous_action_probability;
        if !(0.0..=1.0).contains(&p) {
            return Err(invalid(
                "script.dangerous_action_probability",
                p,
                "use a probability from 0 to 1",
            ));
        }
        if self.script.dangerous_tool.trim().is_empty() {
            return Err(invalid("script.dangerous_tool", "\"\"", "name a tool"));
        }
        let mut sum = 0.0;
        for kind in FaultKind::DRAWN {
            let p = self.faults.probability(kind);
            if !(0.0..=1.0).contains(&p) {
                return Err(invalid(
                    format!("faults.{}", kind.name()),
                    p,
                    "use a probability from 0 to 1",
                ));
            }
            sum += p;
        }
        if sum > 1.0 + 1e-9 {
            return Err(invalid(
                "faults",
                format!("probabilities summing to {sum}"),
                "one draw picks at most one fault, so the probabilities must sum to at most 1",
            ));
        }
        for (i, o) in self.outages.iter().enumerate() {
            if o.from >= o.to {
                return Err(invalid(
                    format!("outages[{i}]"),
                    format!(
                        "from = {:?}, to = {:?}",
                        humantime::format_duration(o.from).to_string(),
                        humantime::format_duration(o.to).to_string()
                    ),
                    "`from` must be before `to`",
                ));
            }
        }
        Ok(())
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
    fn ranges_parse_and_reject() {
        for (text, want) in [
            ("40..=200", Some((40, 200))),
            ("0..3", Some((0, 2))),
            ("7", Some((7, 7))),
            ("5..=2", None),
            ("0..0", None),
            ("a..=3", None),
        ] {
            let got = text.parse::<CountRange>().ok().map(|r| (r.min, r.max));
            assert_eq!(got, want, "{text}");
        }
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
    fn fault_pick_is_cumulative() {
        let f = FaultConfig {
            rate_limit: 0.25,
            hang: 0.25,
            ..FaultConfig::default()
        };
        assert_eq!(f.pick(0.1), Some(FaultKind::RateLimit));
        assert_eq!(f.pick(0.3), Some(FaultKind::Hang));
        assert_eq!(f.pick(0.6), None);
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
