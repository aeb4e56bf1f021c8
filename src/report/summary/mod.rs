//! `summary.json` and `summary.md`: the run's figures under stable, versioned keys.
//!
//! CI gates and `bench compare` read metric paths such as `llm_call.latency_ms.p95`,
//! `conversation.error_rate`, `cost.usd_per_conversation`; [`Summary::metric`] resolves them.
//! Keys change only on purpose, with a new [`SUMMARY_VERSION`]; a test pins the key set, and
//! `docs/report-files.md` documents every key.
//!
//! Latency objects are milliseconds (fractional); a histogram with no samples reports
//! `count: 0` and zeros, so a gate should look at `count` before trusting a percentile.
//!
//! The schema lives here; [`build`] fills it from a run's metrics.

pub mod build;
pub mod shape;
mod sharding;

pub use sharding::{
    MergedSection, MergedShard, SWEEP_FIELDS, ShardSection, ShardShare, SloSection, SweepSection,
};

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

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
    /// The guard stage, when the scenario has one (`[agent.guard]`) and it checked any input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<GuardSection>,
    /// Where the prompt tokens come from: by step index and by part (absent when no call
    /// was counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptSection>,
    /// The server's own metrics, when the scenario scrapes them (`endpoint.metrics_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerSection>,
    /// The service-level objectives (`[slo]`): attainment and goodput.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloSection>,
    /// The answer of `bench sweep` (only in the summary a sweep judges its thresholds on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepSection>,
    /// Which shard of a sharded run this is (`bench run --shard I/N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardSection>,
    /// The shards this run was merged from (`bench merge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<MergedSection>,
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

/// `guard`: the external guard stage's checks of the turns' input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GuardSection {
    /// Checks (one per turn whose input reached the guard).
    pub checks: u64,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Of those, requests that failed (a retry may still have got the verdict).
    pub failed_requests: u64,
    /// Checks by verdict: `allowed`, `flagged`, `failed_open`, `failed_closed` (fixed).
    pub by_verdict: BTreeMap<String, u64>,
    /// Checks without a verdict: `failed_open + failed_closed`.
    pub errors: u64,
    /// `errors / checks`.
    pub error_rate: f64,
    /// Checks without a verdict by the last error's kind (dynamic).
    pub by_error: BTreeMap<String, u64>,
    /// Latency of a check that sent a request, retries included (part of the conversation's
    /// latency); checks its breaker refused are left out.
    pub latency_ms: LatencyMs,
    /// Dollars of the guard's requests (`usd_per_call`); not in `cost.usd_total`, which is the
    /// model's.
    pub usd_total: f64,
}

/// `server`: what the scrapes of the server's metrics page found. Each kept metric is a key of
/// its own (`server.vllm:num_requests_waiting.max`), its label sets summed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSection {
    /// The page scraped (a URL without secrets, or `embedded mock`).
    pub source: String,
    /// Seconds between scrapes.
    pub interval_s: f64,
    /// Scrapes that worked and that failed.
    pub scrapes: ScrapeCounts,
    /// The server's token counters beside the run's own token totals, when it publishes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<ServerTokensCheck>,
    /// Every kept metric by name.
    #[serde(flatten)]
    pub metrics: BTreeMap<String, ServerMetric>,
}

/// `server.scrapes`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScrapeCounts {
    /// Scrapes that gave samples.
    pub ok: u64,
    /// Scrapes that failed (never a reason to fail the run).
    pub failed: u64,
    /// Failures by kind: `connect`, `timeout`, `status`, `broken`, `too_large`, `parse`,
    /// `empty`.
    pub by_kind: BTreeMap<String, u64>,
    /// The last failure's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// One server metric over the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerMetric {
    /// `gauge` or `counter`.
    pub kind: String,
    /// Gauge: mean over the scrapes; counter: mean rate per second.
    pub mean: f64,
    /// Gauge: largest value; counter: largest rate between two scrapes.
    pub max: f64,
    /// Gauge: last value; counter: rate between the last two scrapes.
    pub last: f64,
    /// Counter: increase over the run (restarts counted from zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub increase: Option<f64>,
}

/// `server.tokens`: the server's prompt and generation counters' increase over the run beside
/// the run's own `tokens.prompt` and `tokens.completion` (a real-endpoint analogue of the
/// mock's reconciliation).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerTokensCheck {
    /// The server's prompt-token counter.
    pub prompt_metric: String,
    /// The server's generation-token counter.
    pub generation_metric: String,
    /// Its increase over the run.
    pub server_prompt: f64,
    /// Its increase over the run.
    pub server_generation: f64,
    /// `server_prompt - tokens.prompt`.
    pub prompt_difference: f64,
    /// `server_generation - tokens.completion`.
    pub generation_difference: f64,
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
    /// Per tool name (absent when no tool ran).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_tool: BTreeMap<String, ToolStats>,
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
    /// Dollars the cached prompt tokens saved against the uncached input price.
    #[serde(default)]
    pub cached_saving_usd: f64,
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

/// UTC RFC 3339 with seconds, e.g. `2026-11-28T11:25:00Z`.
pub fn rfc3339_utc(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// UTC RFC 3339 with milliseconds (`2026-12-04T10:00:00.123Z`), for instants that shards
/// compare.
pub fn rfc3339_utc_millis(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

impl Summary {
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

/// One tool in `tool.by_tool`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolStats {
    /// Runs and refusals.
    pub calls: u64,
    /// Runs that failed (the error text went to the model).
    pub errors: u64,
    /// Refused without running.
    pub refused: u64,
    /// `errors / calls`.
    pub error_rate: f64,
    /// Run time (refusals excluded).
    pub latency_ms: LatencyMs,
    /// Tokens of the outputs the model was given.
    pub output_tokens: u64,
    /// `output_tokens / calls`.
    pub output_tokens_mean: f64,
}

/// One step index in `prompt.by_step`: means over the calls sent at that step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    /// Step index within a turn (1 = the first call; the last row also holds later steps
    /// past 64).
    pub step: u32,
    /// Calls sent at this step.
    pub calls: u64,
    /// Mean prompt tokens as counted before sending (the sum of the four parts).
    pub prompt_tokens: f64,
    /// Of which the system prompt.
    pub system: f64,
    /// Of which the tool definitions.
    pub tool_schemas: f64,
    /// Of which the user and assistant messages (and the reply priming).
    pub history: f64,
    /// Of which the tool results.
    pub tool_results: f64,
    /// Mean prompt tokens as billed (answered calls).
    pub billed_prompt_tokens: f64,
    /// Mean cached prompt tokens as billed (answered calls).
    pub cached_tokens: f64,
}

/// Each part's share of all counted prompt tokens, in `[0, 1]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptShare {
    /// The system prompt.
    pub system: f64,
    /// The tool definitions.
    pub tool_schemas: f64,
    /// User and assistant messages.
    pub history: f64,
    /// Tool results.
    pub tool_results: f64,
}

/// `prompt`: where the prompt tokens come from (absent when no call was counted).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptSection {
    /// Prompt tokens counted before sending, all calls.
    pub counted_tokens: u64,
    /// The share of each part.
    pub share: PromptShare,
    /// By step index.
    pub by_step: Vec<StepRow>,
}
