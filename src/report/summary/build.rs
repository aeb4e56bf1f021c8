//! A [`Summary`] from a run's metrics, one section at a time, and the template every metric
//! path is listed from.

use std::collections::BTreeMap;

use super::{
    AttemptSection, BreakerSection, BudgetSection, ConversationSection, CostSection, GuardSection,
    LatencyMs, LlmCallSection, LoadSection, ModelCalls, ModelCost, RunSection, SUMMARY_VERSION,
    SanitizerSection, ScrapeCounts, ServerMetric, ServerSection, ServerTokensCheck,
    SessionsSection, Summary, TokensSection, ToolSection, TransitionEntry, UsdPercentiles,
    collect_paths, rfc3339_utc,
};
use crate::metrics::{NANO_USD_PER_USD, RunMetrics};
use crate::observe::ServerMetrics;
use crate::record::{ErrorClass, GuardVerdict, Outcome};

impl Summary {
    /// Summarizes a run's metrics.
    pub fn from_metrics(m: &RunMetrics) -> Self {
        Summary {
            version: SUMMARY_VERSION,
            run: RunSection {
                name: m.info.name.clone(),
                seed: m.info.seed,
                started_at: rfc3339_utc(m.info.started_at),
                duration_s: m.duration.as_secs_f64(),
                interrupted: m.interrupted,
                endpoint_kind: m.info.endpoint_kind.clone(),
                load_model: m.info.load_model.clone(),
            },
            conversation: conversation_section(m),
            llm_call: llm_call_section(m),
            attempt: AttemptSection {
                count: m.counters.attempts,
                local_refusals: m.counters.local_refusals,
                by_status: status_map(&m.counters.attempts_by_status),
                by_error_class: classes(&m.counters.attempts_by_error),
                latency_ms: LatencyMs::from_us(&m.hist.attempt_us),
            },
            tool: tool_section(m),
            tokens: tokens_section(m),
            cost: cost_section(m),
            breaker: breaker_section(m),
            sanitizer: SanitizerSection {
                blocked_conversations: outcome_count(m, Outcome::BlockedBySanitizer),
                conversations_with_threats: m.counters.conversations_with_threats,
                threats: m.counters.sanitizer_threats.values().sum(),
                by_threat: m.counters.sanitizer_threats.clone(),
            },
            budget: BudgetSection {
                warnings: m.counters.budget_warnings,
                exceeded: outcome_count(m, Outcome::BudgetExceeded),
                max_steps: outcome_count(m, Outcome::MaxSteps),
            },
            sessions: SessionsSection {
                evictions: m.session_evictions,
                rate_limit_rejections: m.local_rate_limit_rejections,
                rate_limited_turns: m.counters.session_rate_limited_turns,
                wait_ms: LatencyMs::from_us(&m.hist.session_wait_us),
            },
            load: load_section(m),
            guard: guard_section(m),
            prompt: super::shape::prompt_section(m),
            server: None,
            slo: slo_section(m),
            sweep: None,
            shard: None,
            merged: None,
            thresholds: Vec::new(),
        }
    }

    /// Adds what the scrapes of the server's metrics found (`server`), its token counters
    /// set beside this summary's token totals.
    pub fn add_server(&mut self, m: &ServerMetrics) {
        let metrics = m
            .metric_names()
            .into_iter()
            .filter_map(|(name, kind)| {
                let f = m.figures(name)?;
                Some((
                    name.to_string(),
                    ServerMetric {
                        kind: kind.as_str().to_string(),
                        mean: f.mean,
                        max: f.max,
                        last: f.last,
                        increase: f.increase,
                    },
                ))
            })
            .collect();
        let tokens = m.tokens().map(|t| ServerTokensCheck {
            prompt_difference: t.prompt_tokens - self.tokens.prompt as f64,
            generation_difference: t.generation_tokens - self.tokens.completion as f64,
            server_prompt: t.prompt_tokens,
            server_generation: t.generation_tokens,
            prompt_metric: t.prompt_metric,
            generation_metric: t.generation_metric,
        });
        self.server = Some(ServerSection {
            source: m.source.clone(),
            interval_s: m.interval_s,
            scrapes: ScrapeCounts {
                ok: m.scrapes_ok,
                failed: m.failed(),
                by_kind: m.failures.clone(),
                last_error: m.last_error.clone(),
            },
            tokens,
            metrics,
        });
    }

    /// Every numeric (or boolean) metric path of the fixed schema, in key order. Maps whose
    /// keys depend on the run (`by_model`, `by_status`, `by_threat`, `open_s`) are left out;
    /// maps with a fixed key set (`by_outcome`, `by_error_class`, tool `by_status`) are in.
    pub fn metric_paths() -> Vec<String> {
        let template = Summary::from_metrics(&empty_metrics());
        let mut out = Vec::new();
        if let Ok(json) = serde_json::to_value(&template) {
            collect_paths(&json, String::new(), &mut out);
        }
        out
    }
}

/// The guard's checks, when there were any.
fn guard_section(m: &RunMetrics) -> Option<GuardSection> {
    let c = &m.counters;
    if c.guard_checks == 0 {
        return None;
    }
    let by_verdict: BTreeMap<String, u64> = GuardVerdict::ALL
        .iter()
        .map(|v| {
            let k = v.as_str();
            (
                k.to_string(),
                c.guard_by_verdict.get(k).copied().unwrap_or(0),
            )
        })
        .collect();
    let errors = by_verdict["failed_open"] + by_verdict["failed_closed"];
    Some(GuardSection {
        checks: c.guard_checks,
        requests: c.guard_requests,
        failed_requests: c.guard_failed_requests,
        errors,
        error_rate: errors as f64 / c.guard_checks as f64,
        by_verdict,
        by_error: c.guard_errors.clone(),
        latency_ms: LatencyMs::from_us(&m.hist.guard_us),
        usd_total: c.guard_usd,
    })
}

/// Events per second of the run (0 for a run of no length).
fn per_s(m: &RunMetrics, n: u64) -> f64 {
    let secs = m.duration.as_secs_f64();
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

fn outcome_count(m: &RunMetrics, o: Outcome) -> u64 {
    m.counters.outcomes.get(&o).copied().unwrap_or(0)
}

/// Counts by error class, every class listed (zeros included).
fn classes(map: &BTreeMap<ErrorClass, u64>) -> BTreeMap<String, u64> {
    ErrorClass::ALL
        .iter()
        .map(|e| (e.as_str().to_string(), map.get(e).copied().unwrap_or(0)))
        .collect()
}

fn conversation_section(m: &RunMetrics) -> ConversationSection {
    let c = &m.counters;
    let conversations = m.conversations();
    let sent = m.conversations_sent();
    let conv_errors = m.conversation_errors();
    ConversationSection {
        count: conversations,
        sent,
        local_only: conversations - sent,
        by_outcome: Outcome::ALL
            .iter()
            .map(|o| (o.as_str().to_string(), outcome_count(m, *o)))
            .collect(),
        errors: conv_errors,
        error_rate: rate(conv_errors, conversations),
        per_second: per_s(m, sent),
        steps_mean: rate(c.steps, conversations),
        latency_ms: LatencyMs::from_us(&m.hist.conversation_us),
        latency_from_intended_ms: LatencyMs::from_us(&m.hist.conversation_from_intended_us),
    }
}

fn llm_call_section(m: &RunMetrics) -> LlmCallSection {
    let c = &m.counters;
    LlmCallSection {
        count: c.calls,
        attempts: c.attempts,
        retries: c.retries,
        retry_amplification: rate(c.attempts, c.calls),
        fallbacks: c.fallbacks,
        fallback_rate: rate(c.fallbacks, c.calls),
        errors: c.call_errors,
        error_rate: rate(c.call_errors, c.calls),
        per_second: per_s(m, c.calls),
        by_status: status_map(&c.calls_by_status),
        by_error_class: classes(&c.calls_by_error),
        latency_ms: LatencyMs::from_us(&m.hist.call_us),
        ttft_ms: LatencyMs::from_us(&m.hist.ttft_us),
        ttft_answer_ms: LatencyMs::from_us(&m.hist.ttft_answer_us),
        inter_chunk_ms: LatencyMs::from_us(&m.hist.inter_chunk_us),
        tpot_ms: LatencyMs::from_us(&m.hist.tpot_us),
        // Thousandths of a token per second, so the microsecond-to-millisecond
        // scaling of `from_us` yields tokens per second.
        output_tokens_per_s: LatencyMs::from_us(&m.hist.output_milli_tokens_per_s),
        by_finish_reason: crate::metrics::FINISH_REASONS
            .iter()
            .map(|k| (k.to_string(), c.finish_reasons.get(k).copied().unwrap_or(0)))
            .collect(),
        stream_ignored: c.stream_ignored,
        by_model: m
            .models
            .iter()
            .map(|(name, mm)| {
                (
                    name.clone(),
                    ModelCalls {
                        calls: mm.calls,
                        errors: mm.errors,
                        fallbacks: mm.fallbacks,
                        latency_ms: LatencyMs::from_us(&mm.call_latency_us),
                        ttft_ms: LatencyMs::from_us(&mm.ttft_us),
                    },
                )
            })
            .collect(),
    }
}

fn tool_section(m: &RunMetrics) -> ToolSection {
    let c = &m.counters;
    let mut by_status: BTreeMap<String, u64> = ["ok", "error", "refused"]
        .iter()
        .map(|s| (s.to_string(), 0))
        .collect();
    for (k, v) in &c.tools_by_status {
        *by_status.entry(k.to_string()).or_default() += v;
    }
    ToolSection {
        count: c.tools_by_status.values().sum(),
        by_status,
        latency_ms: LatencyMs::from_us(&m.hist.tool_us),
        by_tool: super::shape::by_tool(&m.shape),
    }
}

fn tokens_section(m: &RunMetrics) -> TokensSection {
    let u = &m.counters.usage;
    TokensSection {
        prompt: u.prompt_tokens,
        cached: u.cached_tokens,
        completion: u.completion_tokens,
        reasoning: u.reasoning_tokens,
        total: u.total(),
        estimated: u.estimated,
        // Over the conversations that reached the model, as cost per conversation is: a
        // conversation refused locally spent nothing and must not dilute the mean.
        per_conversation: rate(u.total(), m.conversations_sent()),
    }
}

fn cost_section(m: &RunMetrics) -> CostSection {
    let c = &m.counters;
    let sent = m.conversations_sent();
    let cost_h = &m.hist.conversation_cost_nano_usd;
    // Clamped to the exact maximum: HDR reports a bucket's top, up to 0.1% above.
    let usd = |nano: u64| (nano as f64 / NANO_USD_PER_USD).min(c.max_conversation_usd);
    let usd_pct = if cost_h.is_empty() {
        UsdPercentiles::default()
    } else {
        UsdPercentiles {
            p50: usd(cost_h.value_at_quantile(0.50)),
            p95: usd(cost_h.value_at_quantile(0.95)),
            p99: usd(cost_h.value_at_quantile(0.99)),
            max: c.max_conversation_usd,
        }
    };
    CostSection {
        usd_total: c.usd_total,
        usd_per_conversation: if sent == 0 {
            0.0
        } else {
            c.usd_total / sent as f64
        },
        usd_per_conversation_percentiles: usd_pct,
        usd_per_call: if c.calls == 0 {
            0.0
        } else {
            c.usd_total / c.calls as f64
        },
        unpriced_calls: c.unpriced_calls,
        cached_saving_usd: m.shape.cached_saving_usd,
        by_model: m
            .models
            .iter()
            .map(|(name, mm)| {
                (
                    name.clone(),
                    ModelCost {
                        calls: mm.calls,
                        prompt: mm.usage.prompt_tokens,
                        cached: mm.usage.cached_tokens,
                        completion: mm.usage.completion_tokens,
                        reasoning: mm.usage.reasoning_tokens,
                        usd: mm.usd,
                    },
                )
            })
            .collect(),
    }
}

fn breaker_section(m: &RunMetrics) -> BreakerSection {
    let mut open_s: BTreeMap<String, f64> = BTreeMap::new();
    for s in &m.timeline.seconds {
        for (k, v) in &s.breaker_open_s {
            *open_s.entry(k.clone()).or_default() += v;
        }
    }
    BreakerSection {
        opened: m
            .breaker_transitions
            .iter()
            .filter(|t| t.to == "open")
            .count() as u64,
        transitions: m
            .breaker_transitions
            .iter()
            .map(|t| TransitionEntry {
                key: t.key.clone(),
                from: t.from.clone(),
                to: t.to.clone(),
                at_s: t.at.as_secs_f64(),
            })
            .collect(),
        open_s,
    }
}

fn load_section(m: &RunMetrics) -> LoadSection {
    let conversations = m.conversations();
    LoadSection {
        dropped_arrivals: m.dropped_arrivals,
        intended_starts: m.intended_starts,
        achieved_conversations_per_s: per_s(m, conversations),
        scheduler_lag_ms: LatencyMs::from_us(&m.hist.scheduler_lag_us),
        achieved_rate_ratio: if m.intended_starts == 0 {
            1.0
        } else {
            conversations as f64 / m.intended_starts as f64
        },
    }
}
/// Status counts keyed by the status as text, `none` for no response.
fn status_map(m: &BTreeMap<Option<u16>, u64>) -> BTreeMap<String, u64> {
    m.iter()
        .map(|(k, v)| (crate::metrics::status_key(*k), *v))
        .collect()
}

/// The `slo` section, when the run judged conversations on an `[slo]`.
fn slo_section(m: &RunMetrics) -> Option<super::SloSection> {
    let slo = m.info.slo.as_ref()?;
    let c = &m.counters;
    let (low, high) = crate::metrics::slo::wilson_95(c.slo_good, c.slo_judged);
    let secs = m.duration.as_secs_f64();
    Some(super::SloSection {
        objectives: slo.written.iter().cloned().collect(),
        conversations: c.slo_judged,
        good: c.slo_good,
        attainment: rate(c.slo_good, c.slo_judged),
        attainment_low: low,
        attainment_high: high,
        goodput_per_second: if secs > 0.0 {
            c.slo_good as f64 / secs
        } else {
            0.0
        },
        missed: slo
            .written
            .iter()
            .map(|(k, _)| {
                let n = c.slo_missed.get(k).copied().unwrap_or(0);
                (k.clone(), rate(n, c.slo_judged))
            })
            .collect(),
    })
}

fn rate(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

fn empty_metrics() -> RunMetrics {
    let info = crate::metrics::RunInfo {
        name: String::new(),
        seed: 0,
        started_at: std::time::UNIX_EPOCH,
        endpoint_kind: String::new(),
        load_model: String::new(),
        slo: None,
    };
    let start = tokio::time::Instant::now();
    crate::metrics::Aggregator::new(info, start, crate::pricing::PriceTable::default()).finish(
        crate::metrics::RunEnd {
            ended: start,
            interrupted: false,
            breaker_transitions: Vec::new(),
            load: crate::metrics::LoadReport::default(),
            session_evictions: 0,
            local_rate_limit_rejections: 0,
        },
    )
}
