//! What one conversation did, as plain data: the agent fills these in, the runner's metrics
//! read them. Nothing here does I/O.
//!
//! Times are `tokio::time::Instant`s (so tests with paused time see consistent values); the
//! metrics turn them into offsets from the run's start.

use std::time::Duration;

use tokio::time::Instant;

use crate::chat::Usage;

/// Why an LLM call attempt failed, derived from the HTTP status and the error body's `code`
/// (never from searching message text).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    /// 429 `rate_limit_exceeded` (retryable).
    RateLimited,
    /// 429 `insufficient_quota` (not retryable: retrying cannot help).
    QuotaExceeded,
    /// 500, 502, 503, 504 and other 5xx.
    Server,
    /// 408 or 409 (retryable client-side conflicts).
    Conflict,
    /// The attempt exceeded its timeout, or the server hung.
    Timeout,
    /// Connection refused or reset, or a transport error.
    Connection,
    /// A stream that broke off mid-way, or an `{"error": ...}` event mid-stream.
    StreamCut,
    /// 400 `context_length_exceeded`.
    ContextLength,
    /// Other 400, and 422.
    BadRequest,
    /// 401 or 403.
    Auth,
    /// 404 (unknown model or route).
    NotFound,
    /// A reply that is not valid JSON or not the expected shape.
    Malformed,
    /// The circuit breaker was open and refused the call locally (no request sent).
    BreakerOpen,
    /// The run-wide spend cap was reached; no request sent.
    SpendCap,
    /// The overall deadline of the call passed.
    Deadline,
    /// The reply was larger than `max_response_bytes`; the connection was closed.
    ResponseTooLarge,
    /// The run stopped (grace period over, or a second Ctrl-C/SIGTERM) while this attempt was
    /// in flight: the request was sent, its reply never read.
    Interrupted,
    /// Anything else.
    Other,
}

impl ErrorClass {
    /// Stable snake_case name used in reports and `summary.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::QuotaExceeded => "quota_exceeded",
            ErrorClass::Server => "server_error",
            ErrorClass::Conflict => "conflict",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Connection => "connection",
            ErrorClass::StreamCut => "stream_cut",
            ErrorClass::ContextLength => "context_length_exceeded",
            ErrorClass::BadRequest => "bad_request",
            ErrorClass::Auth => "auth",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Malformed => "malformed_response",
            ErrorClass::BreakerOpen => "breaker_open",
            ErrorClass::SpendCap => "spend_cap",
            ErrorClass::Deadline => "deadline",
            ErrorClass::ResponseTooLarge => "response_too_large",
            ErrorClass::Interrupted => "interrupted",
            ErrorClass::Other => "other",
        }
    }

    /// Every class, in report order.
    pub const ALL: [ErrorClass; 18] = [
        ErrorClass::RateLimited,
        ErrorClass::QuotaExceeded,
        ErrorClass::Server,
        ErrorClass::Conflict,
        ErrorClass::Timeout,
        ErrorClass::Connection,
        ErrorClass::StreamCut,
        ErrorClass::ContextLength,
        ErrorClass::BadRequest,
        ErrorClass::Auth,
        ErrorClass::NotFound,
        ErrorClass::Malformed,
        ErrorClass::BreakerOpen,
        ErrorClass::SpendCap,
        ErrorClass::Deadline,
        ErrorClass::ResponseTooLarge,
        ErrorClass::Interrupted,
        ErrorClass::Other,
    ];
}

/// One HTTP attempt (or one local refusal) within an LLM call.
#[derive(Clone, Debug, PartialEq)]
pub struct AttemptRecord {
    /// Model this attempt asked for.
    pub model: String,
    /// When the attempt started (after any backoff sleep).
    pub started: Instant,
    /// Time from sending to the end of the reply, or to the failure.
    pub latency: Duration,
    /// HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// Why it failed; `None` on success.
    pub error: Option<ErrorClass>,
    /// Backoff slept before this attempt (zero for a model's first attempt).
    pub backoff: Duration,
}

/// One logical LLM call of the agent: all attempts and fallbacks it took to get (or fail to get)
/// one reply.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRecord {
    /// ReAct step this call belongs to (1-based).
    pub step: u32,
    /// The model the agent asked for (the primary).
    pub model_asked: String,
    /// The model that answered, if one did; differs from `model_asked` after a fallback.
    pub model_answered: Option<String>,
    /// Every attempt, in order, across the fallback chain.
    pub attempts: Vec<AttemptRecord>,
    /// When the call started.
    pub started: Instant,
    /// From the start of the first attempt to the end of the last, retries and backoff included.
    pub latency: Duration,
    /// HTTP status of the final attempt, if any.
    pub status: Option<u16>,
    /// Why the call failed in the end; `None` if a model answered.
    pub error: Option<ErrorClass>,
    /// Time to first token of any kind (answer text, reasoning or a tool call) of the
    /// answering attempt (streaming only).
    pub ttft: Option<Duration>,
    /// Time to the first answer token (content or tool call, not reasoning) of the answering
    /// attempt (streaming only); equal to `ttft` when the model sent no reasoning first.
    pub ttft_answer: Option<Duration>,
    /// Gaps between successive chunks that carried tokens, of the answering attempt, in
    /// microseconds (streaming only). Chunks, not tokens: servers send several tokens per chunk.
    pub inter_chunk_gaps_us: Vec<u32>,
    /// `finish_reason` of the answer as the endpoint sent it (`stop`, `length`, `tool_calls`,
    /// `content_filter` ...); `None` when it sent none or no model answered.
    pub finish_reason: Option<String>,
    /// True when the request asked for a stream and the endpoint answered with one complete
    /// JSON reply instead (accepted as the answer; no stream timings).
    pub stream_ignored: bool,
    /// Tokens billed for this call (by the answering model).
    pub usage: Usage,
    /// True when the answer came from a fallback model.
    pub fallback: bool,
    /// The prompt as counted before sending, by part (zero for a call never built).
    pub prompt: PromptParts,
}

/// One request's prompt tokens as the tokenizer counted what was sent, split by where they come
/// from; the parts sum to [`PromptParts::total`]. What an agent costs is decided here: the
/// system prompt and tool schemas are resent with every step, and tool results pile up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PromptParts {
    /// The system message.
    pub system: u64,
    /// The tool definitions (native protocol; by OpenAI's counting rule).
    pub tool_schemas: u64,
    /// User and assistant messages: earlier turns, this turn's question, the model's earlier
    /// steps (tool calls, thoughts), and the reply priming.
    pub history: u64,
    /// Tool results: `role: tool` messages, or the text protocol's `Observation:` messages.
    pub tool_results: u64,
}

impl PromptParts {
    /// The whole prompt.
    pub fn total(&self) -> u64 {
        self.system + self.tool_schemas + self.history + self.tool_results
    }
}

impl CallRecord {
    /// Time per output token of the answering attempt: (end − first token) / (completion
    /// tokens − 1), as aiperf and vLLM report it. `None` without a stream, without a first
    /// token, or with fewer than two completion tokens.
    pub fn tpot(&self) -> Option<Duration> {
        let ttft = self.ttft?;
        let attempt = self.attempts.last()?;
        if self.error.is_some() || self.usage.completion_tokens < 2 {
            return None;
        }
        let generating = attempt.latency.checked_sub(ttft)?;
        let gaps = u32::try_from(self.usage.completion_tokens - 1).unwrap_or(u32::MAX);
        Some(generating / gaps)
    }

    /// Output tokens per second of the answering attempt, over its whole latency (first byte
    /// waited included), as aiperf's per-request output token throughput.
    pub fn output_tokens_per_s(&self) -> Option<f64> {
        let attempt = self.attempts.last()?;
        if self.error.is_some() || attempt.latency.is_zero() {
            return None;
        }
        Some(self.usage.completion_tokens as f64 / attempt.latency.as_secs_f64())
    }

    /// Retries: attempts that reached the network beyond each model's first. Moving down the
    /// fallback chain is a fallback, not a retry, so a failed primary answered by its fallback
    /// counts no retry.
    pub fn retries(&self) -> u32 {
        let sent = |a: &&AttemptRecord| {
            a.error != Some(ErrorClass::BreakerOpen) && a.error != Some(ErrorClass::SpendCap)
        };
        // A call has a handful of attempts: comparing each with the ones before it costs less
        // than collecting the models (this runs twice per call on the recorder's hot path).
        let mut retries = 0u32;
        for (i, a) in self.attempts.iter().enumerate() {
            if sent(&a)
                && self.attempts[..i]
                    .iter()
                    .filter(sent)
                    .any(|b| b.model == a.model)
            {
                retries += 1;
            }
        }
        retries
    }
}

/// What happened when the agent ran a tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolStatus {
    /// The tool ran and returned output.
    Ok,
    /// The tool ran and reported an error (bad arguments, division by zero ...).
    Error,
    /// Refused without running: unknown to the allow-list, or a dangerous name.
    Refused,
}

/// One tool run (or refusal).
#[derive(Clone, Debug, PartialEq)]
pub struct ToolRecord {
    /// Tool name as the model asked for it.
    pub name: String,
    /// When it started.
    pub started: Instant,
    /// Simulated run time (zero for a refusal).
    pub latency: Duration,
    /// How it ended.
    pub status: ToolStatus,
    /// Tokens of the output the model was given (the tokenizer's count; 0 for a refusal).
    pub output_tokens: u64,
    /// Bytes of the tool's output (or error text).
    pub output_bytes: u64,
    /// A tool service's HTTP status (`url` tools; `None` for simulated tools and when no
    /// reply came).
    pub http_status: Option<u16>,
}

/// How a conversation ended.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The model gave a final answer.
    Answered,
    /// The token budget would have been exceeded by the next call.
    BudgetExceeded,
    /// The step limit was reached before a final answer.
    MaxSteps,
    /// The sanitizer blocked the user's input (no request sent).
    BlockedBySanitizer,
    /// The guard service (`[agent.guard]`) flagged the user's input, or gave no verdict under
    /// `on_error = "block"` (no request sent to the model).
    BlockedByGuard,
    /// The session layer's per-user rate limit (GCRA, local, nothing sent) held the turn back
    /// past the end of the run. A turn that waited and was then admitted is not this: it runs
    /// on and its wait is in `ConversationRecord::session_wait`.
    SessionRateLimited,
    /// The session layer refused a new session: the user already holds
    /// `max_concurrent_per_user` sessions and `on_user_limit = "refuse"`.
    SessionRefused,
    /// The model proposed a refused action (a dangerous or unknown tool) and the agent stopped.
    RefusedAction,
    /// The model's reply could not be parsed as a ReAct step.
    Unparseable,
    /// The model answered with no content and no tool call (`content: null`, or a stream with
    /// nothing but `[DONE]`).
    EmptyReply,
    /// The answer was cut at the completion limit (`finish_reason: "length"`).
    Truncated,
    /// The endpoint withheld or cut the answer (`finish_reason: "content_filter"`).
    ContentFiltered,
    /// An LLM call failed after all retries and fallbacks.
    Failed,
    /// The run-wide spend cap stopped the conversation.
    SpendCap,
    /// The run ended (deadline or Ctrl-C) while the conversation was in flight.
    Interrupted,
}

impl Outcome {
    /// Stable snake_case name used in reports and `summary.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::BudgetExceeded => "budget_exceeded",
            Outcome::MaxSteps => "max_steps",
            Outcome::BlockedBySanitizer => "blocked_by_sanitizer",
            Outcome::BlockedByGuard => "blocked_by_guard",
            Outcome::SessionRateLimited => "session_rate_limited",
            Outcome::SessionRefused => "session_refused",
            Outcome::RefusedAction => "refused_action",
            Outcome::Unparseable => "unparseable",
            Outcome::EmptyReply => "empty_reply",
            Outcome::Truncated => "truncated",
            Outcome::ContentFiltered => "content_filtered",
            Outcome::Failed => "failed",
            Outcome::SpendCap => "spend_cap",
            Outcome::Interrupted => "interrupted",
        }
    }

    /// Every outcome, in report order.
    pub const ALL: [Outcome; 15] = [
        Outcome::Answered,
        Outcome::BudgetExceeded,
        Outcome::MaxSteps,
        Outcome::BlockedBySanitizer,
        Outcome::BlockedByGuard,
        Outcome::SessionRateLimited,
        Outcome::SessionRefused,
        Outcome::RefusedAction,
        Outcome::Unparseable,
        Outcome::EmptyReply,
        Outcome::Truncated,
        Outcome::ContentFiltered,
        Outcome::Failed,
        Outcome::SpendCap,
        Outcome::Interrupted,
    ];

    /// Whether this outcome counts as an error in `conversation.error_rate`. Outcomes that are
    /// the agent's controls working as designed (budget, blocked input, refused action) are not.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            Outcome::Failed
                | Outcome::Unparseable
                | Outcome::EmptyReply
                | Outcome::Truncated
                | Outcome::ContentFiltered
                | Outcome::Interrupted
        )
    }
}

/// What the guard service said of a turn's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GuardVerdict {
    /// Allowed.
    Allowed,
    /// Flagged: the turn was blocked.
    Flagged,
    /// No verdict (errors, timeouts, breaker open) and `on_error = "allow"`: the turn went on.
    FailedOpen,
    /// No verdict and `on_error = "block"`: the turn was blocked.
    FailedClosed,
}

impl GuardVerdict {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardVerdict::Allowed => "allowed",
            GuardVerdict::Flagged => "flagged",
            GuardVerdict::FailedOpen => "failed_open",
            GuardVerdict::FailedClosed => "failed_closed",
        }
    }

    /// Every verdict, in report order.
    pub const ALL: [GuardVerdict; 4] = [
        GuardVerdict::Allowed,
        GuardVerdict::Flagged,
        GuardVerdict::FailedOpen,
        GuardVerdict::FailedClosed,
    ];

    /// True when the turn does not go on to the model.
    pub fn blocks(self) -> bool {
        matches!(self, GuardVerdict::Flagged | GuardVerdict::FailedClosed)
    }
}

/// One guard check (`[agent.guard]`), retries included.
#[derive(Clone, Debug, PartialEq)]
pub struct GuardRecord {
    /// When it started.
    pub started: Instant,
    /// From the first request to the verdict or the last failure, retries included.
    pub latency: Duration,
    /// Requests sent (0 when its breaker was open).
    pub attempts: u32,
    /// What it said, or what the policy did without a verdict.
    pub verdict: GuardVerdict,
    /// The guard's score (the top category score of a moderation), when it sent one.
    pub score: Option<f64>,
    /// Without a verdict, the last error's kind: `connection`, `timeout`, `rate_limited`,
    /// `server`, `client`, `malformed`, `breaker_open`.
    pub error: Option<String>,
    /// The last reply's status, if one came.
    pub status: Option<u16>,
    /// Dollars of its requests (`usd_per_call` per request).
    pub usd: f64,
}

/// Everything one conversation (one user turn run to its end) did.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversationRecord {
    /// Run-unique conversation number.
    pub conversation_id: u64,
    /// Virtual user that started it.
    pub user_id: u64,
    /// Turn number within the user's session (1-based).
    pub turn: u32,
    /// When the conversation actually started.
    pub started: Instant,
    /// Open model only: when it was scheduled to start (for coordinated-omission-free latency).
    pub intended_start: Option<Instant>,
    /// From start to end.
    pub latency: Duration,
    /// How it ended.
    pub outcome: Outcome,
    /// ReAct steps taken (LLM calls that returned a reply).
    pub steps: u32,
    /// Every LLM call, in order.
    pub calls: Vec<CallRecord>,
    /// Every tool run or refusal, in order.
    pub tools: Vec<ToolRecord>,
    /// Threat kinds the sanitizer found (in user input, tool output or proposed actions).
    pub sanitizer_threats: Vec<String>,
    /// The guard's check of the input, when `[agent.guard]` is set and the input reached it.
    pub guard: Option<GuardRecord>,
    /// True when the conversation crossed the budget's warning threshold.
    pub budget_warning: bool,
    /// How long the session layer's per-user rate limit (local, nothing sent) held this turn
    /// back before admitting it; `None` when it was admitted at once. A turn held back counts
    /// as one local refusal, however long it waited.
    pub session_wait: Option<Duration>,
    /// Why the conversation failed, for diagnosis: for `unparseable`, the parse failure's kind
    /// and a bounded excerpt of the reply (secrets redacted). `None` otherwise.
    pub error_detail: Option<String>,
}

impl ConversationRecord {
    /// Sum of the tokens of all calls.
    pub fn usage(&self) -> Usage {
        let mut u = Usage::default();
        for c in &self.calls {
            u.add(&c.usage);
        }
        u
    }
}
