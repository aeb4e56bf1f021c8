//! The metrics of a sharded run's shards added into the metrics of one run, exactly:
//! histograms by HdrHistogram addition, counters and tokens by sums, dollars re-priced from
//! each model's merged token totals (as [`super::Aggregator::finish`] prices a whole run, so a
//! merged run's dollars are the whole run's to the last bit), timelines aligned on absolute
//! seconds, breaker transitions kept per shard.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use hdrhistogram::{Counter, Histogram};

use super::data::{Counters, Histograms, ModelMetrics, RunMetrics};
use super::timeline::{BreakerTransitionAt, Second};
use crate::pricing::PriceTable;

/// One shard's metrics and its label in the merged breaker keys (such as `shard 1/4`).
pub struct ShardMetrics {
    /// The shard's complete metrics.
    pub metrics: RunMetrics,
    /// How the shard is named where its figures stay apart (breakers).
    pub label: String,
}

/// Adds the shards' metrics into one run's. The merged run starts at the earliest shard's
/// start and ends at the latest shard's end; each shard's timeline moves by its start's
/// offset, rounded to the second. `prices` re-prices each model's token totals (a model it
/// lacks keeps the sum of the shards' dollars).
pub fn merge_runs(parts: Vec<ShardMetrics>, prices: &PriceTable) -> anyhow::Result<RunMetrics> {
    let start = parts
        .iter()
        .map(|p| p.metrics.info.started_at)
        .min()
        .context("no shard to merge")?;
    let mut out: Option<RunMetrics> = None;
    for ShardMetrics { metrics: m, label } in parts {
        let offset = m
            .info
            .started_at
            .duration_since(start)
            .unwrap_or(Duration::ZERO);
        let merged = out.get_or_insert_with(|| empty_like(&m, start));
        merged.duration = merged.duration.max(offset + m.duration);
        merged.interrupted |= m.interrupted;
        add_histograms(&mut merged.hist, &m.hist)?;
        add_counters(&mut merged.counters, &m.counters);
        for (name, model) in &m.models {
            match merged.models.get_mut(name) {
                Some(into) => add_model(into, model)?,
                None => {
                    merged.models.insert(name.clone(), model.clone());
                }
            }
        }
        let shift = (offset.as_secs_f64().round()) as u64;
        for (i, second) in m.timeline.seconds.iter().enumerate() {
            let into = merged.timeline.at(Duration::from_secs(shift + i as u64));
            add_second(into, second, &label);
        }
        merged
            .breaker_transitions
            .extend(m.breaker_transitions.iter().map(|t| BreakerTransitionAt {
                key: format!("{} ({label})", t.key),
                from: t.from.clone(),
                to: t.to.clone(),
                at: t.at + offset,
            }));
        merged.dropped_arrivals += m.dropped_arrivals;
        merged.intended_starts += m.intended_starts;
        merged.session_evictions += m.session_evictions;
        merged.local_rate_limit_rejections += m.local_rate_limit_rejections;
        merged.shape.add(&m.shape)?;
    }
    let mut merged = out.context("no shard to merge")?;
    merged.breaker_transitions.sort_by_key(|t| t.at);
    // Dollars: each model's merged token totals priced once, as a whole run is.
    let mut usd_total = 0.0;
    for (name, m) in merged.models.iter_mut() {
        if let Some(usd) = prices.cost_usd(name, &m.usage) {
            m.usd = usd;
        }
        usd_total += m.usd;
    }
    merged.counters.usd_total = usd_total;
    merged.shape.cached_saving_usd = super::shape::cached_saving_usd(
        merged
            .models
            .iter()
            .map(|(name, m)| (name.as_str(), m.usage.cached_tokens)),
        prices,
    );
    Ok(merged)
}

/// A run with `m`'s description, starting at `start`, and nothing counted.
fn empty_like(m: &RunMetrics, start: std::time::SystemTime) -> RunMetrics {
    let mut info = m.info.clone();
    info.started_at = start;
    RunMetrics {
        info,
        duration: Duration::ZERO,
        interrupted: false,
        hist: Histograms::new(),
        counters: Counters::default(),
        models: BTreeMap::new(),
        timeline: Default::default(),
        breaker_transitions: Vec::new(),
        dropped_arrivals: 0,
        intended_starts: 0,
        session_evictions: 0,
        local_rate_limit_rejections: 0,
        shape: Default::default(),
    }
}

fn add<T: Counter>(into: &mut Histogram<T>, from: &Histogram<T>, what: &str) -> anyhow::Result<()> {
    into.add(from)
        .map_err(|e| anyhow::anyhow!("cannot add the {what} histograms: {e:?}"))
}

fn add_histograms(into: &mut Histograms, from: &Histograms) -> anyhow::Result<()> {
    // Destructured so that a new histogram cannot be forgotten here.
    let Histograms {
        call_us,
        attempt_us,
        ttft_us,
        ttft_answer_us,
        inter_chunk_us,
        tpot_us,
        output_milli_tokens_per_s,
        session_wait_us,
        conversation_us,
        conversation_from_intended_us,
        tool_us,
        scheduler_lag_us,
        conversation_cost_nano_usd,
        guard_us,
    } = from;
    add(&mut into.call_us, call_us, "call latency")?;
    add(&mut into.attempt_us, attempt_us, "attempt latency")?;
    add(&mut into.ttft_us, ttft_us, "TTFT")?;
    add(&mut into.ttft_answer_us, ttft_answer_us, "answer TTFT")?;
    add(&mut into.inter_chunk_us, inter_chunk_us, "inter-chunk")?;
    add(&mut into.tpot_us, tpot_us, "TPOT")?;
    add(
        &mut into.output_milli_tokens_per_s,
        output_milli_tokens_per_s,
        "output tokens per second",
    )?;
    add(&mut into.session_wait_us, session_wait_us, "session wait")?;
    add(&mut into.conversation_us, conversation_us, "conversation")?;
    add(
        &mut into.conversation_from_intended_us,
        conversation_from_intended_us,
        "conversation from intended start",
    )?;
    add(&mut into.tool_us, tool_us, "tool")?;
    add(
        &mut into.scheduler_lag_us,
        scheduler_lag_us,
        "scheduler lag",
    )?;
    add(
        &mut into.conversation_cost_nano_usd,
        conversation_cost_nano_usd,
        "conversation cost",
    )?;
    add(&mut into.guard_us, guard_us, "guard")
}

fn add_map<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

fn add_usage(into: &mut crate::chat::Usage, from: &crate::chat::Usage) {
    into.prompt_tokens += from.prompt_tokens;
    into.cached_tokens += from.cached_tokens;
    into.completion_tokens += from.completion_tokens;
    into.reasoning_tokens += from.reasoning_tokens;
    into.estimated |= from.estimated;
}

fn add_counters(into: &mut Counters, from: &Counters) {
    // Destructured so that a new counter cannot be forgotten here.
    let Counters {
        outcomes,
        conversations_sent,
        session_rate_limited_turns,
        finish_reasons,
        stream_ignored,
        calls,
        call_errors,
        calls_by_status,
        calls_by_error,
        attempts,
        local_refusals,
        attempts_by_status,
        attempts_by_error,
        retries,
        fallbacks,
        tools_by_status,
        sanitizer_threats,
        conversations_with_threats,
        budget_warnings,
        usage,
        usd_total,
        unpriced_calls,
        steps,
        guard_checks,
        guard_requests,
        guard_failed_requests,
        guard_by_verdict,
        guard_errors,
        guard_usd,
        max_conversation_usd,
        slo_judged,
        slo_good,
        slo_missed,
    } = from;
    add_map(&mut into.outcomes, outcomes);
    into.conversations_sent += conversations_sent;
    into.session_rate_limited_turns += session_rate_limited_turns;
    add_map(&mut into.finish_reasons, finish_reasons);
    into.stream_ignored += stream_ignored;
    into.calls += calls;
    into.call_errors += call_errors;
    add_map(&mut into.calls_by_status, calls_by_status);
    add_map(&mut into.calls_by_error, calls_by_error);
    into.attempts += attempts;
    into.local_refusals += local_refusals;
    add_map(&mut into.attempts_by_status, attempts_by_status);
    add_map(&mut into.attempts_by_error, attempts_by_error);
    into.retries += retries;
    into.fallbacks += fallbacks;
    add_map(&mut into.tools_by_status, tools_by_status);
    add_map(&mut into.sanitizer_threats, sanitizer_threats);
    into.conversations_with_threats += conversations_with_threats;
    into.budget_warnings += budget_warnings;
    add_usage(&mut into.usage, usage);
    // Re-priced from the models' token totals at the end; summed meanwhile.
    into.usd_total += usd_total;
    into.unpriced_calls += unpriced_calls;
    into.steps += steps;
    into.guard_checks += guard_checks;
    into.guard_requests += guard_requests;
    into.guard_failed_requests += guard_failed_requests;
    add_map(&mut into.guard_by_verdict, guard_by_verdict);
    add_map(&mut into.guard_errors, guard_errors);
    into.guard_usd += guard_usd;
    into.max_conversation_usd = into.max_conversation_usd.max(*max_conversation_usd);
    into.slo_judged += slo_judged;
    into.slo_good += slo_good;
    add_map(&mut into.slo_missed, slo_missed);
}

fn add_model(into: &mut ModelMetrics, from: &ModelMetrics) -> anyhow::Result<()> {
    into.calls += from.calls;
    into.errors += from.errors;
    into.fallbacks += from.fallbacks;
    add_usage(&mut into.usage, &from.usage);
    into.usd += from.usd;
    into.unpriced_calls += from.unpriced_calls;
    add(
        &mut into.call_latency_us,
        &from.call_latency_us,
        "model call latency",
    )?;
    add(&mut into.ttft_us, &from.ttft_us, "model TTFT")
}

fn add_second(into: &mut Second, from: &Second, label: &str) {
    into.conversations_started += from.conversations_started;
    into.conversations_finished += from.conversations_finished;
    into.calls += from.calls;
    into.errors += from.errors;
    into.fallbacks += from.fallbacks;
    add_usage(&mut into.usage, &from.usage);
    into.usd += from.usd;
    for (key, open_s) in &from.breaker_open_s {
        *into
            .breaker_open_s
            .entry(format!("{key} ({label})"))
            .or_default() += open_s;
    }
    into.add_latencies(from);
}
