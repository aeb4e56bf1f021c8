//! Run metrics: one [`Aggregator`] owns every histogram and counter of a run.
//!
//! Virtual users send one [`ConversationRecord`] per finished conversation (it batches all the
//! conversation's calls, attempts, tokens and token gaps) to the runner, which feeds them to the
//! aggregator from a single task. The aggregator is therefore never shared: no lock sits on the
//! hot path, and recording a conversation costs O(calls + attempts + token gaps) work.
//!
//! At the end the runner passes the run-level inputs that do not live in records ([`RunEnd`]:
//! breaker transitions, the load report, session evictions, local rate-limit rejections) and gets
//! a [`RunMetrics`]: plain data (histograms, counters, the per-second timeline) that the summary,
//! the CSV files and the plots read.
//!
//! Units: histograms hold integer microseconds (3 significant digits, auto-resizing, so any
//! latency fits); dollars per conversation are held in a histogram of nano-dollars (0.1%
//! precision, bounded memory whatever the run's length); dollar totals are unrounded `f64` sums.
//!
//! - [`live`]: the few atomics the progress line reads once per second.
//! - [`timeline`]: the per-second buckets.

pub mod live;
pub mod timeline;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use tokio::time::Instant;

use crate::chat::Usage;
use crate::pricing::PriceTable;
use crate::record::{CallRecord, ConversationRecord, ErrorClass, Outcome, ToolRecord, ToolStatus};

pub use live::{LiveSnapshot, LiveStats};
pub use timeline::{Second, Timeline};

/// Significant digits of every latency histogram: values are exact to 0.1%.
pub const SIGFIG: u8 = 3;

/// Nano-dollars per dollar: the unit of the cost-per-conversation histogram.
pub const NANO_USD_PER_USD: f64 = 1e9;

/// A new empty auto-resizing histogram with [`SIGFIG`] significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // 3 is within the 0..=5 digits hdrhistogram accepts, so this cannot fail.
    Histogram::new(SIGFIG).expect("3 significant digits is a valid HDR precision")
}

/// Records `value` in an auto-resizing histogram. (`saturating_record` would clamp to the
/// histogram's current top instead of growing it.)
pub fn record<T: hdrhistogram::Counter>(h: &mut Histogram<T>, value: u64) {
    if h.record(value).is_err() {
        // Only a count overflow gets here; keeping the sample at the top beats losing it.
        h.saturating_record(value);
    }
}

/// Microseconds in a duration, saturating (a histogram value).
pub fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// What the run was, for the summary's `run` section.
#[derive(Clone, Debug, PartialEq)]
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
#[derive(Clone, Debug)]
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
    pub call_latency_us: Histogram<u64>,
    /// Time to first token of the calls it answered, microseconds.
    pub ttft_us: Histogram<u64>,
}

impl ModelMetrics {
    fn new() -> Self {
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
#[derive(Clone, Debug)]
pub struct Histograms {
    /// LLM call latency, retries, backoff and fallbacks included.
    pub call_us: Histogram<u64>,
    /// Latency of each attempt that reached the network.
    pub attempt_us: Histogram<u64>,
    /// Time to first token (streaming calls that answered).
    pub ttft_us: Histogram<u64>,
    /// Time to the first answer token (content or tool call, reasoning excluded).
    pub ttft_answer_us: Histogram<u64>,
    /// Gaps between streamed chunks that carried tokens (a chunk may carry several).
    pub inter_chunk_us: Histogram<u64>,
    /// Time per output token of streamed calls that answered with two tokens or more.
    pub tpot_us: Histogram<u64>,
    /// Output tokens per second of each answered call, in thousandths (a histogram holds
    /// integers; 0.1% precision).
    pub output_milli_tokens_per_s: Histogram<u64>,
    /// How long the local per-user rate limit held turns back before admitting them.
    pub session_wait_us: Histogram<u64>,
    /// Conversation latency from its actual start, of conversations that reached the model
    /// (one attempt or more sent): a turn refused locally takes microseconds and would make
    /// the figures look fast.
    pub conversation_us: Histogram<u64>,
    /// Open model: conversation latency from its intended start (no coordinated omission).
    pub conversation_from_intended_us: Histogram<u64>,
    /// Tool run time (refusals excluded).
    pub tool_us: Histogram<u64>,
    /// Open model: actual minus intended start.
    pub scheduler_lag_us: Histogram<u64>,
    /// Dollars per conversation that reached the model, in nano-dollars.
    pub conversation_cost_nano_usd: Histogram<u64>,
}

impl Histograms {
    fn new() -> Self {
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
        }
    }
}

/// Counters of a run. Maps are ordered so reports list keys in a stable order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters {
    /// Conversations by how they ended.
    pub outcomes: BTreeMap<Outcome, u64>,
    /// Conversations that reached the model: at least one attempt sent. Throughput, cost per
    /// conversation and conversation latency count these; the rest were settled locally
    /// (blocked input, refused session, spend cap, a turn held past the run's end).
    pub conversations_sent: u64,
    /// Conversations the local per-user rate limit held back before admitting them (each
    /// counted once, however long it waited).
    pub session_rate_limited_turns: u64,
    /// Answered calls by `finish_reason`: the keys of [`FINISH_REASONS`].
    pub finish_reasons: BTreeMap<&'static str, u64>,
    /// Calls that asked for a stream and got one complete JSON reply.
    pub stream_ignored: u64,
    /// LLM calls.
    pub calls: u64,
    /// LLM calls that failed after all retries and fallbacks.
    pub call_errors: u64,
    /// LLM calls by the final attempt's HTTP status (`None` when no response arrived).
    pub calls_by_status: BTreeMap<Option<u16>, u64>,
    /// Failed LLM calls by error class.
    pub calls_by_error: BTreeMap<ErrorClass, u64>,
    /// Attempts that reached the network.
    pub attempts: u64,
    /// Attempts refused locally (breaker open, spend cap): no request sent.
    pub local_refusals: u64,
    /// Attempts (local refusals included) by HTTP status (`None` when no response arrived).
    pub attempts_by_status: BTreeMap<Option<u16>, u64>,
    /// Failed attempts (local refusals included) by error class.
    pub attempts_by_error: BTreeMap<ErrorClass, u64>,
    /// Attempts beyond the first that reached the network, summed over calls.
    pub retries: u64,
    /// Calls answered by a fallback model.
    pub fallbacks: u64,
    /// Tool runs by status: `ok`, `error`, `refused`.
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
    /// Dollars of the most expensive conversation, exact (the histogram rounds up by <0.1%,
    /// and a percentile should never read above the true maximum).
    pub max_conversation_usd: f64,
}

/// The `finish_reason` keys counted in `llm_call.by_finish_reason`: the reasons OpenAI
/// documents, `other` for anything else a server sends, `none` when it sent none.
pub const FINISH_REASONS: [&str; 7] = [
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "function_call",
    "other",
    "none",
];

/// The [`FINISH_REASONS`] key of a reply's `finish_reason`.
pub fn finish_reason_key(reason: Option<&str>) -> &'static str {
    match reason {
        None => "none",
        Some(r) => FINISH_REASONS[..5]
            .iter()
            .find(|k| **k == r)
            .copied()
            .unwrap_or("other"),
    }
}

/// True when a conversation sent at least one request to the endpoint.
pub fn reached_model(rec: &ConversationRecord) -> bool {
    rec.calls
        .iter()
        .any(|c| c.attempts.iter().any(|a| !is_local_refusal(a.error)))
}

/// The model a call is billed to and timed under: the one that answered, else the last one
/// attempted, else the one asked.
pub fn billed_model(call: &CallRecord) -> &str {
    call.model_answered
        .as_deref()
        .or_else(|| call.attempts.last().map(|a| a.model.as_str()))
        .unwrap_or(&call.model_asked)
}

/// Dollars of one call at the price of the model that answered; `None` if the table lacks it.
pub fn call_cost_usd(prices: &PriceTable, call: &CallRecord) -> Option<f64> {
    prices.cost_usd(billed_model(call), &call.usage)
}

/// True for an attempt refused locally (no request sent).
pub fn is_local_refusal(error: Option<ErrorClass>) -> bool {
    matches!(error, Some(ErrorClass::BreakerOpen | ErrorClass::SpendCap))
}

/// Key of a status map: the HTTP status, or `"none"` when no response arrived.
pub fn status_key(status: Option<u16>) -> String {
    status.map_or_else(|| "none".to_string(), |s| s.to_string())
}

/// Stable name of a tool status.
pub fn tool_status_str(s: &ToolStatus) -> &'static str {
    match s {
        ToolStatus::Ok => "ok",
        ToolStatus::Error => "error",
        ToolStatus::Refused => "refused",
    }
}

/// The single owner of a run's metrics. Feed it records with [`Aggregator::record`], then call
/// [`Aggregator::finish`].
#[derive(Debug)]
pub struct Aggregator {
    info: RunInfo,
    run_start: Instant,
    prices: PriceTable,
    hist: Histograms,
    counters: Counters,
    models: BTreeMap<String, ModelMetrics>,
    timeline: Timeline,
    live: Arc<LiveStats>,
    /// When the live p95 was last recomputed: walking a histogram for a quantile costs
    /// thousands of steps, so it is refreshed at most a few times a second, not per record.
    live_p95_at: Option<std::time::Instant>,
}

impl Aggregator {
    /// A new aggregator for a run that started at `run_start`; calls are priced from `prices`.
    pub fn new(info: RunInfo, run_start: Instant, prices: PriceTable) -> Self {
        Aggregator {
            info,
            run_start,
            prices,
            hist: Histograms::new(),
            counters: Counters::default(),
            models: BTreeMap::new(),
            timeline: Timeline::default(),
            live: Arc::new(LiveStats::default()),
            live_p95_at: None,
        }
    }

    /// The live figures the progress line reads; share the `Arc` with the progress task.
    pub fn live(&self) -> Arc<LiveStats> {
        Arc::clone(&self.live)
    }

    /// The run's start, from which timeline seconds and CSV offsets are measured.
    pub fn run_start(&self) -> Instant {
        self.run_start
    }

    /// The price table calls are priced from.
    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }

    /// Records one finished conversation. Returns its cost in dollars.
    pub fn record(&mut self, rec: &ConversationRecord) -> f64 {
        let c = &mut self.counters;
        *c.outcomes.entry(rec.outcome).or_default() += 1;
        c.steps += u64::from(rec.steps);
        if rec.budget_warning {
            c.budget_warnings += 1;
        }
        if !rec.sanitizer_threats.is_empty() {
            c.conversations_with_threats += 1;
        }
        for t in &rec.sanitizer_threats {
            *c.sanitizer_threats.entry(t.clone()).or_default() += 1;
        }
        let sent = reached_model(rec);
        if sent {
            c.conversations_sent += 1;
            record(&mut self.hist.conversation_us, duration_us(rec.latency));
        }
        if let Some(wait) = rec.session_wait {
            c.session_rate_limited_turns += 1;
            record(&mut self.hist.session_wait_us, duration_us(wait));
        }
        let end = rec.started + rec.latency;
        if let Some(intended) = rec.intended_start {
            record(
                &mut self.hist.conversation_from_intended_us,
                duration_us(end.saturating_duration_since(intended)),
            );
            record(
                &mut self.hist.scheduler_lag_us,
                duration_us(rec.started.saturating_duration_since(intended)),
            );
        }
        self.timeline
            .at(self.offset(rec.started))
            .conversations_started += 1;
        self.timeline.at(self.offset(end)).conversations_finished += 1;

        let mut usd = 0.0;
        for call in &rec.calls {
            usd += self.record_call(call);
        }
        for tool in &rec.tools {
            self.record_tool(tool);
        }
        if sent {
            self.counters.max_conversation_usd = self.counters.max_conversation_usd.max(usd);
            record(
                &mut self.hist.conversation_cost_nano_usd,
                (usd * NANO_USD_PER_USD).round() as u64,
            );
        }
        self.update_live(rec, usd);
        usd
    }

    /// Records one call and returns its cost.
    fn record_call(&mut self, call: &CallRecord) -> f64 {
        let c = &mut self.counters;
        c.calls += 1;
        *c.calls_by_status.entry(call.status).or_default() += 1;
        if let Some(e) = call.error {
            c.call_errors += 1;
            *c.calls_by_error.entry(e).or_default() += 1;
        }
        c.retries += u64::from(call.retries());
        if call.fallback {
            c.fallbacks += 1;
        }
        for a in &call.attempts {
            *c.attempts_by_status.entry(a.status).or_default() += 1;
            if let Some(e) = a.error {
                *c.attempts_by_error.entry(e).or_default() += 1;
            }
            if is_local_refusal(a.error) {
                c.local_refusals += 1;
            } else {
                c.attempts += 1;
                record(&mut self.hist.attempt_us, duration_us(a.latency));
            }
        }
        // A call refused locally with nothing sent (breaker open down the whole chain, spend
        // cap) takes microseconds; counting it as a latency would make an outage look fast.
        // It stays in the call and error counts, not in the latency figures.
        let sent = call.attempts.iter().any(|a| !is_local_refusal(a.error));
        let latency_us = duration_us(call.latency);
        if sent {
            record(&mut self.hist.call_us, latency_us);
        }
        if let Some(t) = call.ttft {
            record(&mut self.hist.ttft_us, duration_us(t));
        }
        if let Some(t) = call.ttft_answer {
            record(&mut self.hist.ttft_answer_us, duration_us(t));
        }
        for &g in &call.inter_chunk_gaps_us {
            record(&mut self.hist.inter_chunk_us, u64::from(g));
        }
        if let Some(t) = call.tpot() {
            record(&mut self.hist.tpot_us, duration_us(t));
        }
        if let Some(tps) = call.output_tokens_per_s() {
            record(
                &mut self.hist.output_milli_tokens_per_s,
                (tps * 1000.0).round() as u64,
            );
        }
        if call.error.is_none() {
            *c.finish_reasons
                .entry(finish_reason_key(call.finish_reason.as_deref()))
                .or_default() += 1;
        }
        if call.stream_ignored {
            c.stream_ignored += 1;
        }
        let cost = call_cost_usd(&self.prices, call);
        let usd = cost.unwrap_or(0.0);
        c.usage.add(&call.usage);
        c.usd_total += usd;
        if cost.is_none() {
            c.unpriced_calls += 1;
        }

        let model = billed_model(call);
        let m = match self.models.get_mut(model) {
            Some(m) => m,
            None => self
                .models
                .entry(model.to_string())
                .or_insert_with(ModelMetrics::new),
        };
        m.calls += 1;
        if call.error.is_some() {
            m.errors += 1;
        }
        if call.fallback {
            m.fallbacks += 1;
        }
        m.usage.add(&call.usage);
        m.usd += usd;
        if cost.is_none() {
            m.unpriced_calls += 1;
        }
        if sent {
            record(&mut m.call_latency_us, latency_us);
        }
        if let Some(t) = call.ttft {
            record(&mut m.ttft_us, duration_us(t));
        }

        let end = call.started + call.latency;
        let second = self.timeline.at(self.offset(end));
        second.calls += 1;
        if call.error.is_some() {
            second.errors += 1;
        }
        if call.fallback {
            second.fallbacks += 1;
        }
        second.usage.add(&call.usage);
        second.usd += usd;
        if sent {
            second.record_call_latency(latency_us);
        }
        usd
    }

    fn record_tool(&mut self, tool: &ToolRecord) {
        *self
            .counters
            .tools_by_status
            .entry(tool_status_str(&tool.status))
            .or_default() += 1;
        if tool.status != ToolStatus::Refused {
            record(&mut self.hist.tool_us, duration_us(tool.latency));
        }
    }

    fn offset(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.run_start)
    }

    fn update_live(&mut self, rec: &ConversationRecord, usd: f64) {
        let errors = rec.calls.iter().filter(|c| c.error.is_some()).count() as u64;
        let fallbacks = rec.calls.iter().filter(|c| c.fallback).count() as u64;
        self.live.add_conversation(
            rec.calls.len() as u64,
            errors,
            fallbacks,
            (usd * NANO_USD_PER_USD).round() as u64,
        );
        let now = std::time::Instant::now();
        let stale = self
            .live_p95_at
            .is_none_or(|t| now.duration_since(t) >= Duration::from_millis(250));
        if stale {
            self.live_p95_at = Some(now);
            self.live
                .set_p95_call_us(self.hist.call_us.value_at_quantile(0.95));
        }
    }

    /// Conversations recorded so far.
    pub fn conversations(&self) -> u64 {
        self.counters.outcomes.values().sum()
    }

    /// Conversations recorded so far that reached the model.
    pub fn conversations_sent(&self) -> u64 {
        self.counters.conversations_sent
    }

    /// The metrics so far, as if the run ended at `now`, leaving the aggregator running: for
    /// checks during a run such as `abort_on_fail` thresholds (`report::gates::should_abort`
    /// on `Summary::from_metrics(&agg.snapshot(now))`). It copies every histogram, so call it
    /// at most a few times a second. Run-level inputs (load report, breaker transitions,
    /// session counts) are not known yet and read as zero.
    pub fn snapshot(&self, now: Instant) -> RunMetrics {
        let copy = Aggregator {
            info: self.info.clone(),
            run_start: self.run_start,
            prices: self.prices.clone(),
            hist: self.hist.clone(),
            counters: self.counters.clone(),
            models: self.models.clone(),
            timeline: self.timeline.clone(),
            live: Arc::clone(&self.live),
            live_p95_at: None,
        };
        copy.finish(RunEnd {
            ended: now,
            interrupted: false,
            breaker_transitions: Vec::new(),
            load: LoadReport::default(),
            session_evictions: 0,
            local_rate_limit_rejections: 0,
        })
    }

    /// Ends the run: merges the run-level inputs and returns the final metrics.
    pub fn finish(mut self, end: RunEnd) -> RunMetrics {
        if let Some(lag) = end.load.scheduler_lag_us {
            self.hist.scheduler_lag_us = lag;
        }
        let duration = end.ended.saturating_duration_since(self.run_start);
        let mut transitions = end.breaker_transitions;
        transitions.sort_by_key(|t| t.at);
        let transitions: Vec<BreakerTransitionAt> = transitions
            .into_iter()
            .map(|t| BreakerTransitionAt {
                at: t.at.saturating_duration_since(self.run_start),
                key: t.key,
                from: t.from,
                to: t.to,
            })
            .collect();
        self.timeline.apply_breaker_open(&transitions, duration);
        // Dollars are linear in tokens, so price each model's integer token totals once: the
        // totals then come out the same to the last bit whatever order concurrent
        // conversations arrived in (a running float sum does not).
        let mut usd_total = 0.0;
        for (name, m) in self.models.iter_mut() {
            if let Some(usd) = self.prices.cost_usd(name, &m.usage) {
                m.usd = usd;
            }
            usd_total += m.usd;
        }
        self.counters.usd_total = usd_total;
        RunMetrics {
            info: self.info,
            duration,
            interrupted: end.interrupted,
            hist: self.hist,
            counters: self.counters,
            models: self.models,
            timeline: self.timeline,
            breaker_transitions: transitions,
            dropped_arrivals: end.load.dropped_arrivals,
            intended_starts: end.load.intended_starts,
            session_evictions: end.session_evictions,
            local_rate_limit_rejections: end.local_rate_limit_rejections,
        }
    }
}

/// A breaker transition with its time as an offset from the run's start.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerTransitionAt {
    /// Which breaker.
    pub key: String,
    /// State before.
    pub from: String,
    /// State after.
    pub to: String,
    /// Time since the run started.
    pub at: Duration,
}

/// Everything a run measured: what the summary, CSVs, terminal table and plots read.
#[derive(Clone, Debug)]
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
