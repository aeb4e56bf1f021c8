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
            ErrorClass::Other => "other",
        }
    }

    /// Every class, in report order.
    pub const ALL: [ErrorClass; 16] = [
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
    /// Time to first token of the answering attempt (streaming only).
    pub ttft: Option<Duration>,
    /// Inter-token gaps of the answering attempt, microseconds (streaming only).
    pub inter_token_gaps_us: Vec<u32>,
    /// Tokens billed for this call (by the answering model).
    pub usage: Usage,
    /// True when the answer came from a fallback model.
    pub fallback: bool,
}

impl CallRecord {
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
}

/// How a conversation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// The model gave a final answer.
    Answered,
    /// The token budget would have been exceeded by the next call.
    BudgetExceeded,
    /// The step limit was reached before a final answer.
    MaxSteps,
    /// The sanitizer blocked the user's input (no request sent).
    BlockedBySanitizer,
    /// The session layer refused the turn: the user is over the per-user rate limit (GCRA).
    RateLimited,
    /// The session layer refused a new session: the user already holds
    /// `max_concurrent_per_user` sessions and `on_user_limit = "refuse"`.
    SessionRefused,
    /// The model proposed a refused action (a dangerous or unknown tool) and the agent stopped.
    RefusedAction,
    /// The model's reply could not be parsed as a ReAct step.
    Unparseable,
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
            Outcome::RateLimited => "rate_limited",
            Outcome::SessionRefused => "session_refused",
            Outcome::RefusedAction => "refused_action",
            Outcome::Unparseable => "unparseable",
            Outcome::Failed => "failed",
            Outcome::SpendCap => "spend_cap",
            Outcome::Interrupted => "interrupted",
        }
    }

    /// Every outcome, in report order.
    pub const ALL: [Outcome; 11] = [
        Outcome::Answered,
        Outcome::BudgetExceeded,
        Outcome::MaxSteps,
        Outcome::BlockedBySanitizer,
        Outcome::RateLimited,
        Outcome::SessionRefused,
        Outcome::RefusedAction,
        Outcome::Unparseable,
        Outcome::Failed,
        Outcome::SpendCap,
        Outcome::Interrupted,
    ];

    /// Whether this outcome counts as an error in `conversation.error_rate`. Outcomes that are
    /// the agent's controls working as designed (budget, blocked input, refused action) are not.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            Outcome::Failed | Outcome::Unparseable | Outcome::Interrupted
        )
    }
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
    /// True when the conversation crossed the budget's warning threshold.
    pub budget_warning: bool,
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
