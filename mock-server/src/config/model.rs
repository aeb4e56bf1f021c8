//! One model's settings: the optional keys of a `[models.*]` table ([`ModelConfig`]), and the
//! same settings with every default applied ([`ModelSettings`]), which the server resolves
//! once per model.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::range::CountRange;

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
    /// Requests served at once; more wait in a queue (their wait shows in TTFT), as in a
    /// server's waiting queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u64>,
    /// Output tokens per second shared by the replies in progress: each reply's token rate
    /// is this divided by the replies in progress when it starts (never faster than
    /// `per_token`), as continuous batching shares a GPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput_tokens_per_s: Option<f64>,
    /// Requests that may wait for `max_concurrency`; one more is refused with
    /// `queue_full_status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_queue: Option<u64>,
    /// The status of a refusal by a full queue: 429 (default) or 503.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_full_status: Option<u16>,
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
    /// Requests served at once, if limited.
    pub max_concurrency: Option<u64>,
    /// Output tokens per second shared by the replies in progress, if limited.
    pub throughput_tokens_per_s: Option<f64>,
    /// Requests that may wait for a place, if bounded.
    pub max_queue: Option<u64>,
    /// Status of a refusal by a full queue.
    pub queue_full_status: u16,
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
            max_concurrency: None,
            throughput_tokens_per_s: None,
            max_queue: None,
            queue_full_status: 429,
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

    /// Applies the keys `c` sets.
    pub(super) fn apply(&mut self, c: &ModelConfig) {
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
        if c.max_concurrency.is_some() {
            self.max_concurrency = c.max_concurrency;
        }
        if c.throughput_tokens_per_s.is_some() {
            self.throughput_tokens_per_s = c.throughput_tokens_per_s;
        }
        if c.max_queue.is_some() {
            self.max_queue = c.max_queue;
        }
        if let Some(v) = c.queue_full_status {
            self.queue_full_status = v;
        }
    }

    /// True when the model has a capacity model (a concurrency or throughput limit).
    pub fn has_capacity(&self) -> bool {
        self.max_concurrency.is_some() || self.throughput_tokens_per_s.is_some()
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
            max_concurrency: s.max_concurrency,
            throughput_tokens_per_s: s.throughput_tokens_per_s,
            max_queue: s.max_queue,
            queue_full_status: Some(s.queue_full_status),
        }
    }
}
