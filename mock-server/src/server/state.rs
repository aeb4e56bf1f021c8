//! What every handler shares: the validated configuration resolved per model, the counters,
//! the caches and limiters, and the shutdown signal.
//!
//! One [`State`] lives behind an `Arc` for the server's life; its locks (stats, token cache,
//! tool lists, rate limits) are short and never held across an await.

use std::sync::Arc;

use bytes::Bytes;
use hyper::Request;
use hyper::header;
use tokio::sync::watch;
use tokio::time::Instant;

use super::tool_cache::ToolCache;
use crate::capacity::Capacity;
use crate::config::{MockConfig, ModelSettings, Outage};
use crate::limits::{LimitHeaders, Limited, Limiter};
use crate::stats::Stats;
use crate::tokens::TokenCounter;
use crate::wire;

/// Everything the handlers share.
pub struct State {
    /// The validated configuration.
    pub config: MockConfig,
    /// Settings of models not named in the config.
    default_settings: ModelSettings,
    /// Settings of the models named in the config.
    settings: foldhash::HashMap<String, ModelSettings>,
    /// Ground-truth counters.
    pub stats: Stats,
    /// Requests in progress and latency histograms, for `GET /metrics`.
    pub live: Arc<crate::prom::Live>,
    /// Token counts of message texts.
    pub tokens: TokenCounter,
    /// Parsed `tools` lists.
    pub tools: ToolCache,
    /// rpm and tpm buckets.
    limiter: Limiter,
    /// Queues and servers of the named models with a capacity model.
    capacity: foldhash::HashMap<String, Capacity>,
    /// The same of the `default` settings, shared by every model not named.
    default_capacity: Option<Capacity>,
    start: Instant,
    /// Becomes true when the handle asks for shutdown.
    pub shutdown: watch::Receiver<bool>,
    /// `Bearer <key>` when a key is configured.
    auth: Option<String>,
    /// The body of `GET /v1/models`, written once.
    pub models_json: Bytes,
}

impl State {
    /// Resolves every model's settings once.
    pub fn new(config: MockConfig, shutdown: watch::Receiver<bool>) -> State {
        let settings: foldhash::HashMap<String, ModelSettings> = config
            .model_names()
            .map(|n| (n.to_string(), config.model(n)))
            .collect();
        // Clients such as GuideLLM and chat UIs take the first listed model: a mock that
        // names none but answers any still lists one, so they find something to ask for.
        let mut names: Vec<&str> = config.model_names().collect();
        if names.is_empty() && config.accept_any_model {
            names.push(crate::config::LISTED_WHEN_ANY);
        }
        let list = wire::ModelList {
            object: "list",
            data: names
                .into_iter()
                .map(|id| wire::ModelEntry {
                    id,
                    object: "model",
                    created: 1_700_000_000,
                    owned_by: "reactbench-mock",
                })
                .collect(),
        };
        let models_json = Bytes::from(serde_json::to_vec(&list).unwrap_or_default());
        let default_settings = config.model(crate::config::DEFAULT_MODEL_KEY);
        let capacity = settings
            .iter()
            .filter_map(|(n, s)| Capacity::of(s).map(|c| (n.clone(), c)))
            .collect();
        State {
            default_capacity: Capacity::of(&default_settings),
            capacity,
            default_settings,
            settings,
            stats: Stats::default(),
            live: Arc::default(),
            tokens: TokenCounter::new(),
            tools: ToolCache::default(),
            limiter: Limiter::default(),
            start: Instant::now(),
            shutdown,
            auth: config.api_key.as_ref().map(|k| format!("Bearer {k}")),
            models_json,
            config,
        }
    }

    /// The settings of `model` (a model not named gets the `default` ones).
    pub fn settings(&self, model: &str) -> &ModelSettings {
        self.settings.get(model).unwrap_or(&self.default_settings)
    }

    /// The capacity model serving `model`, if it has one.
    pub fn capacity(&self, model: &str) -> Option<&Capacity> {
        match self.settings.contains_key(model) {
            true => self.capacity.get(model),
            false => self.default_capacity.as_ref(),
        }
    }

    /// Requests waiting for a place now, over every model's queue.
    pub fn waiting(&self) -> u64 {
        self.capacity
            .values()
            .chain(self.default_capacity.as_ref())
            .map(Capacity::waiting)
            .sum()
    }

    /// Whole seconds since the server started.
    pub fn elapsed_s(&self) -> u64 {
        self.start.elapsed().as_secs()
    }

    /// Whether the request carries the configured key (always, when none is configured).
    pub fn authorized<B>(&self, req: &Request<B>) -> bool {
        match &self.auth {
            None => true,
            Some(want) => req
                .headers()
                .get(header::AUTHORIZATION)
                .is_some_and(|v| v.as_bytes() == want.as_bytes()),
        }
    }

    /// Takes the request's cost (one request, `tokens` tokens) from the model's rpm and tpm
    /// buckets; the headers to send, or the 429 to send instead. Models with neither limit
    /// take no lock.
    pub fn take_limits(
        &self,
        model: &str,
        settings: &ModelSettings,
        tokens: u64,
    ) -> Result<LimitHeaders, Limited> {
        if settings.rpm.is_none() && settings.tpm.is_none() {
            return Ok(LimitHeaders::default());
        }
        self.limiter
            .acquire(model, settings.rpm, settings.tpm, tokens, Instant::now())
    }

    /// The scheduled outage `model` is in now, if any.
    pub fn in_outage(&self, model: &str) -> Option<&Outage> {
        if self.config.outages.is_empty() {
            return None;
        }
        let t = Instant::now().saturating_duration_since(self.start);
        self.config
            .outages
            .iter()
            .find(|o| (o.model == model || o.model == "*") && o.from <= t && t < o.to)
    }
}

/// Resolves when shutdown is asked for, or when the handle (the sender) is gone.
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}
