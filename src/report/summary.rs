//! `summary.json` and `summary.md`: the run's figures under stable, versioned keys.
//!
//! CI gates and `bench compare` read metric paths such as `llm_call.latency_ms.p95`,
//! `conversation.error_rate`, `cost.usd_per_conversation`; [`Summary::metric`] resolves them.
//! Keys change only on purpose, with a new [`SUMMARY_VERSION`]; a test pins the key set, and
//! `docs/report-files.md` documents every key.
//!
//! Latency objects are milliseconds (fractional); a histogram with no samples reports
//! `count: 0` and zeros, so a gate should look at `count` before trusting a percentile.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::metrics::{NANO_USD_PER_USD, RunMetrics};
use crate::record::{ErrorClass, Outcome};

/// Version of the `summary.json` schema.
pub const SUMMARY_VERSION: u32 = 2;

/// The whole summary (`summary.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Schema version ([`SUMMARY_VERSION`]).
    pub version: u32,
    /// What the run was.
    pub run: RunSection,
    /// Conversations.
    pub conversation: ConversationSection,
    /// Logical LLM calls (retries and fallbacks inside).
    pub llm_call: LlmCallSection,
    /// HTTP attempts.
    pub attempt: AttemptSection,
    /// Tool runs.
    pub tool: ToolSection,
    /// Tokens of every call.
    pub tokens: TokensSection,
    /// Dollars.
    pub cost: CostSection,
    /// Circuit breakers.
    pub breaker: BreakerSection,
    /// Sanitizer findings.
    pub sanitizer: SanitizerSection,
    /// Token budget.
    pub budget: BudgetSection,
    /// Session layer.
    pub sessions: SessionsSection,
    /// Load model.
    pub load: LoadSection,
    /// CI gates: one entry per threshold condition, in scenario order. Absent when the
    /// scenario has no `[thresholds]`; filled by the caller with
    /// `report::gates::evaluate` before the files are written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<ThresholdResult>,
}

/// `run`: what the run was.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSection {
    /// Scenario name.
    pub name: String,
    /// Seed.
    pub seed: u64,
    /// Start, UTC RFC 3339 (seconds).
    pub started_at: String,
    /// Length of the run, seconds.
    pub duration_s: f64,
    /// True if the run stopped early (Ctrl-C, SIGTERM, spend cap, `abort_on_fail`) or cut
    /// conversations in flight.
    pub interrupted: bool,
    /// `mock` or `http`.
    pub endpoint_kind: String,
    /// `closed`, `open` or `replay`.
    pub load_model: String,
}

/// Percentiles of a latency histogram, milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyMs {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Largest sample.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl LatencyMs {
    /// Percentiles of a microsecond histogram, in milliseconds (zeros when it is empty).
    pub fn from_us(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return LatencyMs::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        LatencyMs {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            p99_9: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// `conversation`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationSection {
    /// Conversations recorded.
    pub count: u64,
    /// Of those, conversations that reached the model (one request or more sent).
    /// `per_second`, `latency_ms` and `cost.usd_per_conversation` count only these.
    pub sent: u64,
    /// Of those, conversations settled locally with nothing sent (blocked input, refused
    /// session, a turn the local rate limit held past the run's end, spend cap).
    pub local_only: u64,
    /// Conversations by outcome; every outcome is listed, zeros included.
    pub by_outcome: BTreeMap<String, u64>,
    /// Conversations that ended in an error outcome (failed, unparseable, interrupted).
    pub errors: u64,
    /// `errors / count` (0 when there were none).
    pub error_rate: f64,
    /// Conversations that reached the model, finished per second of run.
    pub per_second: f64,
    /// Mean ReAct steps.
    pub steps_mean: f64,
    /// Latency from the actual start, of conversations that reached the model.
    pub latency_ms: LatencyMs,
    /// Open model: latency from the intended start (coordinated omission corrected).
    pub latency_from_intended_ms: LatencyMs,
}

/// Per-model call figures in `llm_call.by_model`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelCalls {
    /// Calls this model answered (or last failed).
    pub calls: u64,
    /// Of those, failed.
    pub errors: u64,
    /// Of those, answered as a fallback.
    pub fallbacks: u64,
    /// Call latency.
    pub latency_ms: LatencyMs,
    /// Time to first token.
    pub ttft_ms: LatencyMs,
}

/// `llm_call`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmCallSection {
    /// Logical calls.
    pub count: u64,
    /// Attempts that reached the network.
    pub attempts: u64,
    /// Attempts beyond each call's first.
    pub retries: u64,
    /// Attempts per call.
    pub retry_amplification: f64,
    /// Calls answered by a fallback model.
    pub fallbacks: u64,
    /// `fallbacks / count`.
    pub fallback_rate: f64,
    /// Calls that failed after all retries and fallbacks.
    pub errors: u64,
    /// `errors / count`.
    pub error_rate: f64,
    /// Calls finished per second of run.
    pub per_second: f64,
    /// Calls by the final attempt's HTTP status (`none`: no response).
    pub by_status: BTreeMap<String, u64>,
    /// Failed calls by error class; every class is listed, zeros included.
    pub by_error_class: BTreeMap<String, u64>,
    /// Call latency, retries and backoff included.
    pub latency_ms: LatencyMs,
    /// Time to first token of any kind (reasoning included).
    pub ttft_ms: LatencyMs,
    /// Time to the first answer token (content or tool call; reasoning excluded).
    pub ttft_answer_ms: LatencyMs,
    /// Gaps between streamed chunks that carried tokens (a chunk may carry several tokens).
    pub inter_chunk_ms: LatencyMs,
    /// Time per output token: (end − first token) / (completion tokens − 1), per call.
    pub tpot_ms: LatencyMs,
    /// Output tokens per second of each answered call (percentiles in tokens/s, not ms).
    pub output_tokens_per_s: LatencyMs,
    /// Answered calls by `finish_reason` (stop, length, tool_calls, content_filter,
    /// function_call, other, none); every key listed.
    pub by_finish_reason: BTreeMap<String, u64>,
    /// Calls that asked for a stream and got one complete JSON reply instead.
    pub stream_ignored: u64,
    /// Per answering model.
    pub by_model: BTreeMap<String, ModelCalls>,
}

/// `attempt`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AttemptSection {
    /// Attempts that reached the network.
    pub count: u64,
    /// Attempts refused locally (breaker open, spend cap).
    pub local_refusals: u64,
    /// Attempts by HTTP status (`none`: no response), refusals included.
    pub by_status: BTreeMap<String, u64>,
    /// Failed attempts by error class; every class is listed.
    pub by_error_class: BTreeMap<String, u64>,
    /// Latency of attempts that reached the network.
    pub latency_ms: LatencyMs,
}

/// `tool`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolSection {
    /// Tool runs and refusals.
    pub count: u64,
    /// By status: `ok`, `error`, `refused` (all listed).
    pub by_status: BTreeMap<String, u64>,
    /// Run time (refusals excluded).
    pub latency_ms: LatencyMs,
}

/// `tokens`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TokensSection {
    /// Input tokens, cached included.
    pub prompt: u64,
    /// Cached input tokens.
    pub cached: u64,
    /// Output tokens, reasoning included.
    pub completion: u64,
    /// Of the output tokens, reasoning tokens (billed as output).
    pub reasoning: u64,
    /// Prompt plus completion.
    pub total: u64,
    /// True if any count was estimated locally (the endpoint sent no usage).
    pub estimated: bool,
    /// Mean tokens (prompt plus completion) per conversation (0 when there were none).
    /// Added after version 1 shipped; older files read as 0.
    #[serde(default)]
    pub per_conversation: f64,
}

/// Per-model cost in `cost.by_model`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelCost {
    /// Calls billed to the model.
    pub calls: u64,
    /// Input tokens, cached included.
    pub prompt: u64,
    /// Cached input tokens.
    pub cached: u64,
    /// Output tokens, reasoning included.
    pub completion: u64,
    /// Of the output tokens, reasoning tokens.
    pub reasoning: u64,
    /// Dollars at the model's own price.
    pub usd: f64,
}

/// Percentiles of dollars per conversation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UsdPercentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Most expensive conversation.
    pub max: f64,
}

/// `cost`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostSection {
    /// Dollars of the whole run.
    pub usd_total: f64,
    /// Mean dollars per conversation that reached the model.
    pub usd_per_conversation: f64,
    /// Dollars per conversation that reached the model, as a distribution (0.1% precision).
    pub usd_per_conversation_percentiles: UsdPercentiles,
    /// Mean dollars per LLM call.
    pub usd_per_call: f64,
    /// Calls whose model had no price (billed as zero).
    pub unpriced_calls: u64,
    /// Per billed model.
    pub by_model: BTreeMap<String, ModelCost>,
}

/// One breaker transition in `breaker.transitions`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TransitionEntry {
    /// Which breaker.
    pub key: String,
    /// State before.
    pub from: String,
    /// State after.
    pub to: String,
    /// Seconds since the run started.
    pub at_s: f64,
}

/// `breaker`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BreakerSection {
    /// Transitions to `open`.
    pub opened: u64,
    /// Every transition, in time order.
    pub transitions: Vec<TransitionEntry>,
    /// Seconds each breaker spent open.
    pub open_s: BTreeMap<String, f64>,
}

/// `sanitizer`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SanitizerSection {
    /// Conversations blocked at input.
    pub blocked_conversations: u64,
    /// Conversations with at least one finding.
    pub conversations_with_threats: u64,
    /// Findings.
    pub threats: u64,
    /// Findings by threat kind.
    pub by_threat: BTreeMap<String, u64>,
}

/// `budget`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetSection {
    /// Conversations that crossed the warning threshold.
    pub warnings: u64,
    /// Conversations stopped by the token budget.
    pub exceeded: u64,
    /// Conversations stopped at the step limit.
    pub max_steps: u64,
}

/// `sessions`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionsSection {
    /// Sessions evicted (capacity or TTL).
    pub evictions: u64,
    /// Turns refused by the local per-user rate limit, as the session store counted them.
    pub rate_limit_rejections: u64,
    /// Conversations the local per-user rate limit (no request sent, not an endpoint 429) held
    /// back before admitting them, each counted once.
    pub rate_limited_turns: u64,
    /// How long those turns waited.
    pub wait_ms: LatencyMs,
}

/// `load`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadSection {
    /// Open model: arrivals dropped at the in-flight cap.
    pub dropped_arrivals: u64,
    /// Open model: conversations the schedule intended to start.
    pub intended_starts: u64,
    /// Conversations finished per second.
    pub achieved_conversations_per_s: f64,
    /// Open model: actual minus intended start.
    pub scheduler_lag_ms: LatencyMs,
    /// Open model: conversations recorded over conversations the schedule intended to start
    /// (1 for closed and replay runs, which have no target rate). Well under 1 means the
    /// generator, not the system under test, set the pace. Added after version 1 shipped;
    /// older files read as 1.
    #[serde(default = "one")]
    pub achieved_rate_ratio: f64,
}

fn one() -> f64 {
    1.0
}

/// Status counts keyed by the status as text, `none` for no response.
fn status_map(m: &BTreeMap<Option<u16>, u64>) -> BTreeMap<String, u64> {
    m.iter()
        .map(|(k, v)| (crate::metrics::status_key(*k), *v))
        .collect()
}

fn rate(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

/// UTC RFC 3339 with seconds, e.g. `2026-11-28T11:25:00Z`.
pub fn rfc3339_utc(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

impl Summary {
    /// Summarizes a run's metrics.
    pub fn from_metrics(m: &RunMetrics) -> Self {
        let c = &m.counters;
        let secs = m.duration.as_secs_f64();
        let per_s = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let conversations = m.conversations();
        let sent = m.conversations_sent();
        let conv_errors = m.conversation_errors();
        let outcome_count = |o: Outcome| c.outcomes.get(&o).copied().unwrap_or(0);
        let by_outcome = Outcome::ALL
            .iter()
            .map(|o| (o.as_str().to_string(), outcome_count(*o)))
            .collect();
        let classes = |map: &BTreeMap<ErrorClass, u64>| -> BTreeMap<String, u64> {
            ErrorClass::ALL
                .iter()
                .map(|e| (e.as_str().to_string(), map.get(e).copied().unwrap_or(0)))
                .collect()
        };
        let mut tools_by_status: BTreeMap<String, u64> = ["ok", "error", "refused"]
            .iter()
            .map(|s| (s.to_string(), 0))
            .collect();
        for (k, v) in &c.tools_by_status {
            *tools_by_status.entry(k.to_string()).or_default() += v;
        }
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
        let mut open_s: BTreeMap<String, f64> = BTreeMap::new();
        for s in &m.timeline.seconds {
            for (k, v) in &s.breaker_open_s {
                *open_s.entry(k.clone()).or_default() += v;
            }
        }
        let threats: u64 = c.sanitizer_threats.values().sum();
        Summary {
            version: SUMMARY_VERSION,
            run: RunSection {
                name: m.info.name.clone(),
                seed: m.info.seed,
                started_at: rfc3339_utc(m.info.started_at),
                duration_s: secs,
                interrupted: m.interrupted,
                endpoint_kind: m.info.endpoint_kind.clone(),
                load_model: m.info.load_model.clone(),
            },
            conversation: ConversationSection {
                count: conversations,
                sent,
                local_only: conversations - sent,
                by_outcome,
                errors: conv_errors,
                error_rate: rate(conv_errors, conversations),
                per_second: per_s(sent),
                steps_mean: rate(c.steps, conversations),
                latency_ms: LatencyMs::from_us(&m.hist.conversation_us),
                latency_from_intended_ms: LatencyMs::from_us(&m.hist.conversation_from_intended_us),
            },
            llm_call: LlmCallSection {
                count: c.calls,
                attempts: c.attempts,
                retries: c.retries,
                retry_amplification: rate(c.attempts, c.calls),
                fallbacks: c.fallbacks,
                fallback_rate: rate(c.fallbacks, c.calls),
                errors: c.call_errors,
                error_rate: rate(c.call_errors, c.calls),
                per_second: per_s(c.calls),
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
            },
            attempt: AttemptSection {
                count: c.attempts,
                local_refusals: c.local_refusals,
                by_status: status_map(&c.attempts_by_status),
                by_error_class: classes(&c.attempts_by_error),
                latency_ms: LatencyMs::from_us(&m.hist.attempt_us),
            },
            tool: ToolSection {
                count: c.tools_by_status.values().sum(),
                by_status: tools_by_status,
                latency_ms: LatencyMs::from_us(&m.hist.tool_us),
            },
            tokens: TokensSection {
                prompt: c.usage.prompt_tokens,
                cached: c.usage.cached_tokens,
                completion: c.usage.completion_tokens,
                reasoning: c.usage.reasoning_tokens,
                total: c.usage.total(),
                estimated: c.usage.estimated,
                per_conversation: rate(c.usage.total(), conversations),
            },
            cost: CostSection {
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
            },
            breaker: BreakerSection {
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
            },
            sanitizer: SanitizerSection {
                blocked_conversations: outcome_count(Outcome::BlockedBySanitizer),
                conversations_with_threats: c.conversations_with_threats,
                threats,
                by_threat: c.sanitizer_threats.clone(),
            },
            budget: BudgetSection {
                warnings: c.budget_warnings,
                exceeded: outcome_count(Outcome::BudgetExceeded),
                max_steps: outcome_count(Outcome::MaxSteps),
            },
            sessions: SessionsSection {
                evictions: m.session_evictions,
                rate_limit_rejections: m.local_rate_limit_rejections,
                rate_limited_turns: c.session_rate_limited_turns,
                wait_ms: LatencyMs::from_us(&m.hist.session_wait_us),
            },
            load: LoadSection {
                dropped_arrivals: m.dropped_arrivals,
                intended_starts: m.intended_starts,
                achieved_conversations_per_s: per_s(conversations),
                scheduler_lag_ms: LatencyMs::from_us(&m.hist.scheduler_lag_us),
                achieved_rate_ratio: if m.intended_starts == 0 {
                    1.0
                } else {
                    conversations as f64 / m.intended_starts as f64
                },
            },
            thresholds: Vec::new(),
        }
    }

    /// The summary as pretty JSON.
    pub fn to_json(&self) -> String {
        // Every field is a string, number, bool, map with string keys or list: cannot fail.
        serde_json::to_string_pretty(self).expect("a Summary always serializes")
    }

    /// Reads a summary back from JSON (for `bench compare`, `bench report` and `bench prices`).
    /// The version is checked before the keys, so a summary of another version is refused
    /// with a message saying what changed, not with the first key it lacks.
    pub fn from_json(text: &str) -> anyhow::Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        anyhow::ensure!(
            version == Some(u64::from(SUMMARY_VERSION)),
            "summary.json has {}, this bench reads version {SUMMARY_VERSION}; \
             re-run the scenario or use a matching bench (version 2 renamed \
             `llm_call.inter_token_ms` to `inter_chunk_ms` and the outcome `rate_limited` to \
             `session_rate_limited`: see docs/report-files.md)",
            version.map_or_else(|| "no version".to_string(), |v| format!("version {v}"))
        );
        Ok(serde_json::from_value(value)?)
    }

    /// The number at a dotted metric path such as `llm_call.latency_ms.p95`, or `None` if the
    /// path names nothing numeric. Map keys may hold dots (`cost.by_model.gpt-4.1.usd`): each
    /// step matches the longest key that is a prefix of the rest of the path.
    pub fn metric(&self, path: &str) -> Option<f64> {
        let json = serde_json::to_value(self).ok()?;
        lookup(&json, path)
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

/// The verdict on one threshold: what `summary.json` lists under `thresholds`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// Metric path.
    pub metric: String,
    /// The condition as written.
    pub condition: String,
    /// The value compared against (the baseline's value times the factor for `baseline`
    /// conditions); `null` when it could not be known.
    pub limit: Option<f64>,
    /// The run's value; `null` when the run has no such value (e.g. a model it never called).
    pub measured: Option<f64>,
    /// True when the condition held, or was skipped.
    pub passed: bool,
    /// Why the threshold was skipped or could not be checked, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ThresholdResult {
    /// True when the threshold was not evaluated (a `baseline` condition without a baseline).
    pub fn skipped(&self) -> bool {
        self.passed && self.note.is_some()
    }
}

fn lookup(v: &serde_json::Value, path: &str) -> Option<f64> {
    if path.is_empty() {
        return match v {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            _ => None,
        };
    }
    let obj = v.as_object()?;
    if let Some(child) = obj.get(path) {
        return lookup(child, "");
    }
    // Longest key first, so `gpt-4.1` wins over a hypothetical `gpt-4`.
    let mut keys: Vec<&String> = obj
        .keys()
        .filter(|k| {
            path.len() > k.len() && path.starts_with(k.as_str()) && path.as_bytes()[k.len()] == b'.'
        })
        .collect();
    keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
    keys.into_iter()
        .find_map(|k| lookup(&obj[k.as_str()], &path[k.len() + 1..]))
}

/// Appends the dotted path of every number or boolean in `v` (under `prefix`) to `out`.
pub(crate) fn collect_paths(v: &serde_json::Value, prefix: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                collect_paths(child, p, out);
            }
        }
        serde_json::Value::Number(_) | serde_json::Value::Bool(_) => out.push(prefix),
        _ => {}
    }
}

fn empty_metrics() -> RunMetrics {
    let info = crate::metrics::RunInfo {
        name: String::new(),
        seed: 0,
        started_at: std::time::UNIX_EPOCH,
        endpoint_kind: String::new(),
        load_model: String::new(),
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
