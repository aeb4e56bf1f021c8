//! What a run's metrics are, as plain data: the run-level inputs ([`RunInfo`], [`RunEnd`]),
//! the histograms and counters per run and per model, and the [`RunMetrics`] the aggregator
//! hands to the reports.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use tokio::time::Instant;

use crate::chat::Usage;
use crate::record::{ErrorClass, Outcome};

use super::hist::new_histogram;
use super::timeline::{BreakerTransitionAt, Timeline};

/// What the run was, for the summary's `run` section.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunInfo {
    /// Scenario name.
    pub name: String,
    /// Seed of every random choice.
    pub seed: u64,
    /// Wall-clock start (reported as UTC RFC 3339).
    pub started_at: SystemTime,
    /// `mock` or `http` (never a URL with credentials, never a key).
    pub endpoint_kind: String,
    /// `closed`, `open` or `replay`.
    pub load_model: String,
    /// The service-level objectives conversations are judged on (`[slo]`), if any.
    #[serde(default)]
    pub slo: Option<super::slo::Slo>,
}

/// One circuit-breaker state change, as plain data (the breaker's own type lives elsewhere).
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerTransition {
    /// Which breaker: usually `endpoint/model` or the model name.
    pub key: String,
    /// State before: `closed`, `open` or `half_open`.
    pub from: String,
    /// State after.
    pub to: String,
    /// When it changed.
    pub at: Instant,
}

/// What the load model reports at the end of the run.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// Open model: arrivals dropped because the in-flight cap was reached.
    pub dropped_arrivals: u64,
    /// Open model: conversations the schedule intended to start (dropped ones included).
    pub intended_starts: u64,
    /// Scheduler lag (actual minus intended start), microseconds. When `None`, the lag is taken
    /// from the records' `intended_start` and `started`.
    pub scheduler_lag_us: Option<Histogram<u64>>,
}

/// Run-level inputs that are not in the conversation records, given once at the end.
#[derive(Clone, Debug)]
pub struct RunEnd {
    /// When the run ended (the duration is measured from the aggregator's `run_start`).
    pub ended: Instant,
    /// True if Ctrl-C or the deadline cut conversations short.
    pub interrupted: bool,
    /// Every breaker state change, in any order.
    pub breaker_transitions: Vec<BreakerTransition>,
    /// The load model's report.
    pub load: LoadReport,
    /// Sessions evicted by the LRU capacity or TTL.
    pub session_evictions: u64,
    /// Turns refused by the local per-user rate limit.
    pub local_rate_limit_rejections: u64,
}

/// Tokens, dollars and latencies of one model (the model that answered).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ModelMetrics {
    /// Calls this model answered, or failed calls that asked it last.
    pub calls: u64,
    /// Of those, calls that failed.
    pub errors: u64,
    /// Calls it answered as a fallback.
    pub fallbacks: u64,
    /// Tokens billed.
    pub usage: Usage,
    /// Dollars billed, at this model's own price.
    pub usd: f64,
    /// Calls whose model had no price in the table (billed as zero).
    pub unpriced_calls: u64,
    /// Call latency (retries included), microseconds.
    #[serde(with = "super::state::hist")]
    pub call_latency_us: Histogram<u64>,
    /// Time to first token of the calls it answered, microseconds.
    #[serde(with = "super::state::hist")]
    pub ttft_us: Histogram<u64>,
}

impl ModelMetrics {
    pub(super) fn new() -> Self {
        ModelMetrics {
            calls: 0,
            errors: 0,
            fallbacks: 0,
            usage: Usage::default(),
            usd: 0.0,
            unpriced_calls: 0,
            call_latency_us: new_histogram(),
            ttft_us: new_histogram(),
        }
    }
}

/// The run-wide histograms, microseconds.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Histograms {
    /// LLM call latency, retries, backoff and fallbacks included.
    #[serde(with = "super::state::hist")]
    pub call_us: Histogram<u64>,
    /// Latency of each attempt that reached the network.
    #[serde(with = "super::state::hist")]
    pub attempt_us: Histogram<u64>,
    /// Time to first token (streaming calls that answered).
    #[serde(with = "super::state::hist")]
    pub ttft_us: Histogram<u64>,
    /// Time to the first answer token (content or tool call, reasoning excluded).
    #[serde(with = "super::state::hist")]
    pub ttft_answer_us: Histogram<u64>,
    /// Gaps between streamed chunks that carried tokens (a chunk may carry several).
    #[serde(with = "super::state::hist")]
    pub inter_chunk_us: Histogram<u64>,
    /// Time per output token of streamed calls that answered with two tokens or more.
    #[serde(with = "super::state::hist")]
    pub tpot_us: Histogram<u64>,
    /// Output tokens per second of each answered call, in thousandths (a histogram holds
    /// integers; 0.1% precision).
    #[serde(with = "super::state::hist")]
    pub output_milli_tokens_per_s: Histogram<u64>,
    /// How long the local per-user rate limit held turns back before admitting them.
    #[serde(with = "super::state::hist")]
    pub session_wait_us: Histogram<u64>,
    /// Conversation latency from its actual start, of conversations that reached the model
    /// (one attempt or more sent): a turn refused locally takes microseconds and would make
    /// the figures look fast.
    #[serde(with = "super::state::hist")]
    pub conversation_us: Histogram<u64>,
    /// Open model: conversation latency from its intended start (no coordinated omission).
    #[serde(with = "super::state::hist")]
    pub conversation_from_intended_us: Histogram<u64>,
    /// Tool run time (refusals excluded).
    #[serde(with = "super::state::hist")]
    pub tool_us: Histogram<u64>,
    /// Open model: actual minus intended start.
    #[serde(with = "super::state::hist")]
    pub scheduler_lag_us: Histogram<u64>,
    /// Dollars per conversation that reached the model, in nano-dollars.
    #[serde(with = "super::state::hist")]
    pub conversation_cost_nano_usd: Histogram<u64>,
    /// Guard checks (`[agent.guard]`) that sent a request, retries included.
    #[serde(with = "super::state::hist")]
    pub guard_us: Histogram<u64>,
}

impl Histograms {
    pub(super) fn new() -> Self {
        Histograms {
            call_us: new_histogram(),
            attempt_us: new_histogram(),
            ttft_us: new_histogram(),
            ttft_answer_us: new_histogram(),
            inter_chunk_us: new_histogram(),
            tpot_us: new_histogram(),
            output_milli_tokens_per_s: new_histogram(),
            session_wait_us: new_histogram(),
            conversation_us: new_histogram(),
            conversation_from_intended_us: new_histogram(),
            tool_us: new_histogram(),
            scheduler_lag_us: new_histogram(),
            conversation_cost_nano_usd: new_histogram(),
            guard_us: new_histogram(),
        }
    }
}

/// Counters of a run. Maps are ordered so reports list keys in a stable order.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    /// Conversations by how they ended.
    #[serde(with = "super::state::named_keys")]
    pub outcomes: BTreeMap<Outcome, u64>,
    /// Conversations that reached the model: at least one attempt sent. Throughput, cost per
    /// conversation and conversation latency count these; the rest were settled locally
    /// (blocked input, refused session, spend cap, a turn held past the run's end).
    pub conversations_sent: u64,
    /// Conversations the local per-user rate limit held back before admitting them (each
    /// counted once, however long it waited).
    pub session_rate_limited_turns: u64,
    /// Answered calls by `finish_reason`: the keys of [`FINISH_REASONS`].
    #[serde(with = "super::state::static_keys")]
    pub finish_reasons: BTreeMap<&'static str, u64>,
    /// Calls that asked for a stream and got one complete JSON reply.
    pub stream_ignored: u64,
    /// LLM calls.
    pub calls: u64,
    /// LLM calls that failed after all retries and fallbacks.
    pub call_errors: u64,
    /// LLM calls by the final attempt's HTTP status (`None` when no response arrived).
    #[serde(with = "super::state::pairs")]
    pub calls_by_status: BTreeMap<Option<u16>, u64>,
    /// Failed LLM calls by error class.
    #[serde(with = "super::state::named_keys")]
    pub calls_by_error: BTreeMap<ErrorClass, u64>,
    /// Attempts that reached the network.
    pub attempts: u64,
    /// Attempts refused locally (breaker open, spend cap): no request sent.
    pub local_refusals: u64,
    /// Attempts (local refusals included) by HTTP status (`None` when no response arrived).
    #[serde(with = "super::state::pairs")]
    pub attempts_by_status: BTreeMap<Option<u16>, u64>,
    /// Failed attempts (local refusals included) by error class.
    #[serde(with = "super::state::named_keys")]
    pub attempts_by_error: BTreeMap<ErrorClass, u64>,
    /// Attempts beyond the first that reached the network, summed over calls.
    pub retries: u64,
    /// Calls answered by a fallback model.
    pub fallbacks: u64,
    /// Tool runs by status: `ok`, `error`, `refused`.
    #[serde(with = "super::state::static_keys")]
    pub tools_by_status: BTreeMap<&'static str, u64>,
    /// Sanitizer findings by threat kind.
    pub sanitizer_threats: BTreeMap<String, u64>,
    /// Conversations with at least one sanitizer finding.
    pub conversations_with_threats: u64,
    /// Conversations that crossed the budget's warning threshold.
    pub budget_warnings: u64,
    /// Tokens of every call.
    pub usage: Usage,
    /// Dollars of every call, each at the price of the model that answered.
    pub usd_total: f64,
    /// Calls whose model had no price (billed as zero; the scenario check should prevent it).
    pub unpriced_calls: u64,
    /// Sum of conversation steps (for the mean).
    pub steps: u64,
    /// Guard checks (`[agent.guard]`).
    pub guard_checks: u64,
    /// Requests those checks sent (retries included).
    pub guard_requests: u64,
    /// Of those, requests that failed (retried or not).
    pub guard_failed_requests: u64,
    /// Guard checks by verdict: `allowed`, `flagged`, `failed_open`, `failed_closed`.
    #[serde(with = "super::state::static_keys")]
    pub guard_by_verdict: BTreeMap<&'static str, u64>,
    /// Guard checks without a verdict, by the last error's kind.
    pub guard_errors: BTreeMap<String, u64>,
    /// Dollars of the guard's requests.
    pub guard_usd: f64,
    /// Dollars of the most expensive conversation, exact (the histogram rounds up by <0.1%,
    /// and a percentile should never read above the true maximum).
    pub max_conversation_usd: f64,
    /// With `[slo]`: conversations judged (every recorded one).
    pub slo_judged: u64,
    /// With `[slo]`: conversations that met every objective.
    pub slo_good: u64,
    /// With `[slo]`: conversations that missed each objective (one may miss several).
    pub slo_missed: BTreeMap<String, u64>,
}

/// Everything a run measured: what the summary, CSVs, terminal table and plots read.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RunMetrics {
    /// What the run was.
    pub info: RunInfo,
    /// From the run's start to its end.
    pub duration: Duration,
    /// True if Ctrl-C or the deadline cut conversations short.
    pub interrupted: bool,
    /// Run-wide histograms.
    pub hist: Histograms,
    /// Counters.
    pub counters: Counters,
    /// Per model (the one that answered): tokens, dollars, call latency and TTFT.
    pub models: BTreeMap<String, ModelMetrics>,
    /// Per-second timeline.
    pub timeline: Timeline,
    /// Breaker state changes, in time order.
    pub breaker_transitions: Vec<BreakerTransitionAt>,
    /// Open model: arrivals dropped at the in-flight cap.
    pub dropped_arrivals: u64,
    /// Open model: conversations the schedule intended to start.
    pub intended_starts: u64,
    /// Sessions evicted.
    pub session_evictions: u64,
    /// Turns refused by the local rate limit.
    pub local_rate_limit_rejections: u64,
    /// Per tool, the prompt by step and part, the prompt cache's saving.
    pub shape: super::shape::AgentShape,
}

impl RunMetrics {
    /// Conversations recorded.
    pub fn conversations(&self) -> u64 {
        self.counters.outcomes.values().sum()
    }

    /// Conversations that reached the model (one attempt or more sent).
    pub fn conversations_sent(&self) -> u64 {
        self.counters.conversations_sent
    }

    /// Conversations whose outcome counts as an error.
    pub fn conversation_errors(&self) -> u64 {
        self.counters
            .outcomes
            .iter()
            .filter(|(o, _)| o.is_error())
            .map(|(_, n)| n)
            .sum()
    }
}
