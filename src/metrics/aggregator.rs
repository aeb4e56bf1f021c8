//! The single owner of a run's metrics: [`Aggregator`] turns conversation records into
//! histograms, counters and the per-second timeline, with no lock (one task feeds it).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::pricing::PriceTable;
use crate::record::{CallRecord, ConversationRecord, ToolRecord, ToolStatus};

use super::data::{Counters, Histograms, LoadReport, ModelMetrics, RunEnd, RunInfo, RunMetrics};
use super::hist::{NANO_USD_PER_USD, duration_us, record};
use super::keys::{
    billed_model, call_cost_usd, finish_reason_key, is_local_refusal, reached_model,
    tool_status_str,
};
use super::live::LiveStats;
use super::shape::AgentShape;
use super::timeline::{BreakerTransitionAt, Timeline};

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
    shape: AgentShape,
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
            shape: AgentShape::default(),
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
        if let Some(g) = &rec.guard {
            c.guard_checks += 1;
            c.guard_requests += u64::from(g.attempts);
            let answered = u32::from(g.error.is_none());
            c.guard_failed_requests += u64::from(g.attempts.saturating_sub(answered));
            *c.guard_by_verdict.entry(g.verdict.as_str()).or_default() += 1;
            if let Some(e) = &g.error {
                *c.guard_errors.entry(e.clone()).or_default() += 1;
            }
            c.guard_usd += g.usd;
            // A check its breaker refused took microseconds: as a latency it would make an
            // outage of the guard look fast.
            if g.attempts > 0 {
                record(&mut self.hist.guard_us, duration_us(g.latency));
            }
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
        if let Some(slo) = &self.info.slo {
            let c = &mut self.counters;
            c.slo_judged += 1;
            let missed = slo.missed(rec, usd);
            if missed.is_empty() {
                c.slo_good += 1;
            }
            for m in missed {
                *c.slo_missed.entry(m.to_string()).or_default() += 1;
            }
        }
        self.update_live(rec, usd);
        usd
    }

    /// Records one call and returns its cost.
    fn record_call(&mut self, call: &CallRecord) -> f64 {
        // A call refused locally with nothing sent (breaker open down the whole chain, spend
        // cap) takes microseconds; counting it as a latency would make an outage look fast.
        // It stays in the call and error counts, not in the latency figures.
        let sent = call.attempts.iter().any(|a| !is_local_refusal(a.error));
        let latency_us = sent.then(|| duration_us(call.latency));
        self.count_call(call);
        self.shape.record_call(call, sent);
        self.time_call(call, latency_us);
        let cost = call_cost_usd(&self.prices, call);
        let usd = cost.unwrap_or(0.0);
        let c = &mut self.counters;
        c.usage.add(&call.usage);
        c.usd_total += usd;
        if cost.is_none() {
            c.unpriced_calls += 1;
        }
        self.record_model(call, usd, cost.is_none(), latency_us);
        self.record_second(call, usd, latency_us);
        usd
    }

    /// Call, attempt, status, error-class, finish-reason and retry counts.
    fn count_call(&mut self, call: &CallRecord) {
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
        if call.error.is_none() {
            *c.finish_reasons
                .entry(finish_reason_key(call.finish_reason.as_deref()))
                .or_default() += 1;
        }
        if call.stream_ignored {
            c.stream_ignored += 1;
        }
    }

    /// The call's timings; `latency_us` only when something was sent.
    fn time_call(&mut self, call: &CallRecord, latency_us: Option<u64>) {
        if let Some(latency_us) = latency_us {
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
    }

    /// The per-model figures of the model that billed the call.
    fn record_model(
        &mut self,
        call: &CallRecord,
        usd: f64,
        unpriced: bool,
        latency_us: Option<u64>,
    ) {
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
        if unpriced {
            m.unpriced_calls += 1;
        }
        if let Some(latency_us) = latency_us {
            record(&mut m.call_latency_us, latency_us);
        }
        if let Some(t) = call.ttft {
            record(&mut m.ttft_us, duration_us(t));
        }
    }

    /// The call in the second it ended.
    fn record_second(&mut self, call: &CallRecord, usd: f64, latency_us: Option<u64>) {
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
        if let Some(latency_us) = latency_us {
            second.record_call_latency(latency_us);
        }
    }

    fn record_tool(&mut self, tool: &ToolRecord) {
        self.shape.record_tool(tool);
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

    /// The counters so far (read by the live exporter).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The run-wide histograms so far.
    pub fn histograms(&self) -> &Histograms {
        &self.hist
    }

    /// The per-model figures so far (dollars are priced at the end: see `prices`).
    pub fn models(&self) -> &BTreeMap<String, ModelMetrics> {
        &self.models
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
            shape: self.shape.clone(),
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
        // The cache's saving, priced like the totals: per model, from integer token counts.
        self.shape.cached_saving_usd = super::shape::cached_saving_usd(
            self.models
                .iter()
                .map(|(name, m)| (name.as_str(), m.usage.cached_tokens)),
            &self.prices,
        );
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
            shape: self.shape,
        }
    }
}
