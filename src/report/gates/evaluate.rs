//! Verdicts: thresholds against a summary (and a baseline), the early abort while a run goes,
//! the warm-up window, and the run-level checks no threshold states (the load generator kept
//! up; some call succeeded).

use std::time::Duration;

use super::parse::{Bound, Threshold};
use crate::report::format::figure as format_value;
use crate::report::summary::{Summary, ThresholdResult};

/// Evaluates every threshold against a summary, without a baseline (`baseline` conditions are
/// skipped).
pub fn evaluate(thresholds: &[Threshold], summary: &Summary) -> Vec<ThresholdResult> {
    evaluate_against(thresholds, summary, None)
}

/// Evaluates every threshold against a summary, taking `baseline` conditions from `baseline`.
pub fn evaluate_against(
    thresholds: &[Threshold],
    summary: &Summary,
    baseline: Option<&Summary>,
) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|t| evaluate_one(t, summary, baseline))
        .collect()
}

fn evaluate_one(t: &Threshold, s: &Summary, baseline: Option<&Summary>) -> ThresholdResult {
    let measured = s.metric(&t.metric);
    let mut r = ThresholdResult {
        metric: t.metric.clone(),
        condition: t.condition.clone(),
        limit: None,
        measured,
        passed: false,
        note: None,
    };
    // The sweep's answer exists only once `bench sweep` has found it; a run (or a sweep's
    // step) leaves such thresholds to the sweep.
    if t.metric.starts_with("sweep.") && s.sweep.is_none() {
        r.passed = true;
        r.note = Some("skipped: judged by bench sweep on its answer".to_string());
        return r;
    }
    let limit = match (t.bound, baseline) {
        (Bound::Value(v), _) => v,
        (Bound::Baseline { .. }, None) => {
            r.passed = true;
            r.note = Some("skipped: no baseline run given".to_string());
            return r;
        }
        (Bound::Baseline { factor }, Some(b)) => match b.metric(&t.metric) {
            Some(v) => v * factor,
            None => {
                r.note = Some("the baseline run has no such value".to_string());
                return r;
            }
        },
    };
    r.limit = Some(limit);
    let Some(value) = measured else {
        r.note = Some("this run has no such value".to_string());
        return r;
    };
    // A percentile of an empty histogram reads 0 and would pass `<` vacuously.
    if let Some(0) = sample_count(s, &t.metric) {
        r.note = Some("no samples were recorded, so it cannot be checked".to_string());
        return r;
    }
    // Likewise a rate or a per-conversation figure over nothing reads 0, which is no pass.
    if let Some(count) = denominator(&t.metric)
        && s.metric(count) == Some(0.0)
    {
        r.note = Some(format!("`{count}` is 0, so it cannot be checked"));
        return r;
    }
    r.passed = t.op.holds(value, limit);
    r
}

/// For a statistic of a latency object (`llm_call.latency_ms.p95`), its sample count.
fn sample_count(s: &Summary, metric: &str) -> Option<u64> {
    let (object, stat) = metric.rsplit_once('.')?;
    if stat == "count" || !object.ends_with("_ms") {
        return None;
    }
    s.metric(&format!("{object}.count")).map(|c| c as u64)
}

/// For a rate or an average (`conversation.error_rate`, `cost.usd_per_conversation`,
/// `llm_call.fallback_rate` ...), the count it is taken over.
fn denominator(metric: &str) -> Option<&'static str> {
    let ratio = metric.ends_with("_rate") || metric.ends_with("retry_amplification");
    if metric.starts_with("llm_call.") && ratio || metric.contains("per_call") {
        Some("llm_call.count")
    } else if metric.starts_with("conversation.") && ratio || metric.contains("per_conversation") {
        Some("conversation.count")
    } else {
        None
    }
}

/// True when every threshold passed (or was skipped).
pub fn all_passed(results: &[ThresholdResult]) -> bool {
    results.iter().all(|r| r.passed)
}

/// While a run goes: the first `abort_on_fail` threshold already lost, as a message, once at
/// least its `min_samples` conversations have finished. `live` gives the current value of a
/// metric path (for instance `|p| snapshot_summary.metric(p)`); `samples` is the number of
/// conversations finished so far. `baseline` conditions never abort (no baseline is at hand
/// mid-run). The caller stops starting conversations, lets those in flight finish or cuts
/// them at its grace period, and still writes the full report; the final evaluation then
/// reports the threshold as failed.
pub fn should_abort(
    thresholds: &[Threshold],
    live: &impl Fn(&str) -> Option<f64>,
    samples: u64,
) -> Option<String> {
    thresholds
        .iter()
        .filter(|t| t.abort_on_fail && samples >= t.min_samples)
        .find_map(|t| {
            let Bound::Value(limit) = t.bound else {
                return None;
            };
            let value = live(&t.metric)?;
            (!t.op.holds(value, limit)).then(|| {
                format!(
                    "threshold `{} {}` lost after {samples} conversations (measured {}); \
                     aborting the run because it is marked abort_on_fail",
                    t.metric,
                    t.condition,
                    format_value(value)
                )
            })
        })
}

/// True if a conversation that started `started_after` the run's start counts toward the
/// gated figures (it started after the warm-up window). The runner feeds such conversations
/// to a second aggregator whose summary the thresholds read.
pub fn counts_after_warm_up(started_after: Duration, warm_up: Duration) -> bool {
    started_after >= warm_up
}

/// [`counts_after_warm_up`] for a record: its start (the intended one in an open model, so a
/// late start caused by warm-up slowness is still warm-up) measured from `run_start`.
pub fn record_after_warm_up(
    rec: &crate::record::ConversationRecord,
    run_start: tokio::time::Instant,
    warm_up: Duration,
) -> bool {
    let start = rec.intended_start.unwrap_or(rec.started);
    counts_after_warm_up(start.saturating_duration_since(run_start), warm_up)
}

/// When the load generator itself is the bottleneck.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadHealthLimits {
    /// Warn when `load.achieved_rate_ratio` is below this (default 0.9).
    pub min_achieved_rate_ratio: f64,
    /// Warn when `load.scheduler_lag_ms.p99` is above this many milliseconds (default 100).
    pub max_scheduler_lag_p99_ms: f64,
}

impl Default for LoadHealthLimits {
    fn default() -> Self {
        LoadHealthLimits {
            min_achieved_rate_ratio: 0.9,
            max_scheduler_lag_p99_ms: 100.0,
        }
    }
}

/// Warnings (for stderr) when the load generator fell short of its schedule, each saying what
/// to change and which metric path gates it. Empty when the generator kept up.
pub fn load_health_warnings(s: &Summary, limits: &LoadHealthLimits) -> Vec<String> {
    let mut out = Vec::new();
    let l = &s.load;
    if l.intended_starts > 0 && l.achieved_rate_ratio < limits.min_achieved_rate_ratio {
        out.push(format!(
            "load generator fell short of its target: {} of {} intended conversations ran \
             ({:.0}%), {} dropped at the in-flight cap; raise load.max_in_flight, lower \
             load.arrival_rate, or run bench on a bigger machine. Gate it with \
             \"load.achieved_rate_ratio\" = \">= {}\"",
            s.conversation.count,
            l.intended_starts,
            l.achieved_rate_ratio * 100.0,
            l.dropped_arrivals,
            limits.min_achieved_rate_ratio
        ));
    }
    if l.scheduler_lag_ms.count > 0 && l.scheduler_lag_ms.p99 > limits.max_scheduler_lag_p99_ms {
        out.push(format!(
            "load generator lagged behind its schedule: p99 start lag {} ms (limit {} ms), so \
             the offered load was lower than asked; the machine running bench is saturated: \
             use fewer users or more cores. Gate it with \"load.scheduler_lag_ms.p99\" = \
             \"< {}\"",
            format_value(l.scheduler_lag_ms.p99),
            format_value(limits.max_scheduler_lag_p99_ms),
            format_value(limits.max_scheduler_lag_p99_ms)
        ));
    }
    out
}

/// Why the run fails although no threshold says so: requests went out and no model answered a
/// single call (every one failed after its retries and fallbacks, or was cut). A run with no
/// thresholds would otherwise pass on 100% failures. `None` when some call was answered, or
/// when nothing was sent at all (every prompt blocked before the model, say).
pub fn no_success(s: &Summary) -> Option<String> {
    let answered = s.llm_call.count.saturating_sub(s.llm_call.errors);
    (s.attempt.count > 0 && answered == 0).then(|| {
        format!(
            "no call succeeded: {} attempts were sent for {} calls and no model answered any \
             (errors by class in llm_call.by_error_class); if this run is meant to fail, set \
             `[limits] expect_no_success = true` in the scenario",
            s.attempt.count, s.llm_call.count
        )
    })
}
