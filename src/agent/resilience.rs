//! One logical LLM call through circuit breaker, retries and the fallback chain.
//!
//! [`Caller::call`] tries the request's model first, then each fallback model in order, each
//! with its own breaker (per endpoint and model) and its own retry budget. The request sent to a
//! fallback is the same conversation with only `model` replaced. Every attempt, including local
//! refusals (breaker open, spend cap), lands in the returned [`CallRecord`].
//!
//! When the call moves down the chain:
//! - the model's breaker refuses the call (open, or half-open with its probes taken);
//! - its retries are spent on a retryable failure, or the server asked for a wait longer than
//!   `max_server_wait`, or the next backoff would overrun the call's deadline;
//! - a non-retryable failure that is about this model, not this request: 404 (unknown model),
//!   429 `insufficient_quota` (a quota may be per model or per provider behind a relay), and a
//!   malformed reply.
//!
//! When it stops and returns the error to the agent: 400 `context_length_exceeded` (the agent
//! truncates harder and calls again), other 400/422 (the request itself is wrong, so another
//! model would refuse it too), 401/403 (same key for every model of the endpoint), the spend
//! cap, and the call's overall deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use crate::agent::breaker::{Breaker, BreakerRegistry, CallResult};
use crate::agent::retry::{self, GiveUp, RetryConfig, RetryDecision};
use crate::chat::{ChatReply, ChatRequest, Usage};
use crate::client::{LlmClient, LlmError};
use crate::record::{AttemptRecord, CallRecord, ErrorClass};

/// Asked before every attempt that would reach the network; `false` stops the call with
/// [`ErrorClass::SpendCap`]. The run-wide spend cap plugs in here.
pub type SendGuard = Arc<dyn Fn() -> bool + Send + Sync>;

/// The result of one logical call: its record, and the reply or the final error.
#[derive(Clone, Debug)]
pub struct CallOutcome {
    /// Everything the call did, for the metrics.
    pub record: CallRecord,
    /// The reply, if a model answered.
    pub reply: Option<ChatReply>,
    /// The last error, if no model answered.
    pub error: Option<LlmError>,
}

/// Runs calls through breakers, retries and fallbacks. Share one per scenario (`Arc<Caller>`)
/// or build one per user; it holds no per-call state.
pub struct Caller {
    client: LlmClient,
    retry: RetryConfig,
    breakers: Arc<BreakerRegistry>,
    fallback: Vec<String>,
    call_deadline: Option<Duration>,
    send_guard: Option<SendGuard>,
    jitter_seed: u64,
    calls: AtomicU64,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("client", &self.client)
            .field("retry", &self.retry)
            .field("fallback", &self.fallback)
            .field("call_deadline", &self.call_deadline)
            .field("send_guard", &self.send_guard.is_some())
            .finish()
    }
}

/// Fallback models are tried on a non-retryable failure of these classes (about the model, not
/// the request).
fn model_specific(class: ErrorClass) -> bool {
    matches!(
        class,
        ErrorClass::NotFound | ErrorClass::QuotaExceeded | ErrorClass::Malformed
    )
}

/// Where one logical call stands between attempts.
struct AttemptState {
    /// The call's overall deadline, if any.
    deadline: Option<Instant>,
    /// The call's number, which seeds its jitter.
    call_no: u64,
    /// Drawn from only when a retry needs jitter.
    rng: Option<ChaCha8Rng>,
    /// The wait before the coming attempt (recorded with it).
    backoff: Duration,
    /// Retries of the current model so far.
    retries_done: u32,
}

/// What one attempt leads to.
enum Step {
    /// The model answered.
    Answered(ChatReply),
    /// Try this model again after the wait.
    Retry(Duration),
    /// Move down the fallback chain; the error is the latest.
    NextModel(LlmError),
    /// Give the error back to the agent.
    Stop(LlmError),
}

/// Records a local refusal (nothing sent) as an attempt, and returns its error.
fn refuse(
    model: &str,
    backoff: Duration,
    class: ErrorClass,
    message: String,
    attempts: &mut Vec<AttemptRecord>,
) -> LlmError {
    attempts.push(AttemptRecord {
        model: model.to_string(),
        started: Instant::now(),
        latency: Duration::ZERO,
        status: None,
        error: Some(class),
        backoff,
    });
    LlmError::local(class, message)
}

impl Caller {
    /// A caller sending through `client`, with `fallback` models tried in order after the
    /// request's own model, and an optional overall deadline per call (retries, backoff and
    /// fallbacks included).
    pub fn new(
        client: LlmClient,
        retry: RetryConfig,
        breakers: Arc<BreakerRegistry>,
        fallback: Vec<String>,
        call_deadline: Option<Duration>,
    ) -> Self {
        Caller {
            client,
            retry,
            breakers,
            fallback,
            call_deadline,
            send_guard: None,
            jitter_seed: 0x5eed,
            calls: AtomicU64::new(0),
        }
    }

    /// Asks `guard` before every network attempt (the run-wide spend cap).
    pub fn with_send_guard(mut self, guard: SendGuard) -> Self {
        self.send_guard = Some(guard);
        self
    }

    /// Seeds the backoff jitter, so a seeded run draws the same waits.
    pub fn with_jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = seed;
        self
    }

    /// The client used.
    pub fn client(&self) -> &LlmClient {
        &self.client
    }

    /// The breakers consulted.
    pub fn breakers(&self) -> &Arc<BreakerRegistry> {
        &self.breakers
    }

    /// Runs one logical call for ReAct step `step`. Never panics and never returns early with
    /// `?`: every failure is in the outcome.
    pub async fn call(&self, req: ChatRequest, step: u32) -> CallOutcome {
        let mut record = pending_call(step, &req.model);
        match self.call_into(req, &mut record).await {
            Ok(reply) => CallOutcome {
                record,
                reply: Some(reply),
                error: None,
            },
            Err(e) => CallOutcome {
                record,
                reply: None,
                error: Some(e),
            },
        }
    }

    /// [`Caller::call`] into a record the caller owns (made by [`pending_call`]), so that a
    /// call dropped half-way (the run's grace period ran out, a second Ctrl-C) still leaves
    /// every attempt it sent: each attempt is pushed as `interrupted` before its request goes
    /// out and filled in when its reply is read.
    pub async fn call_into(
        &self,
        mut req: ChatRequest,
        record: &mut CallRecord,
    ) -> Result<ChatReply, LlmError> {
        let start = record.started;
        let deadline = self.call_deadline.map(|d| start + d);
        let primary = req.model.clone();
        let mut chain: Vec<&str> = Vec::with_capacity(1 + self.fallback.len());
        chain.push(&primary);
        for m in &self.fallback {
            if !chain.contains(&m.as_str()) {
                chain.push(m);
            }
        }
        let mut attempt = AttemptState {
            deadline,
            call_no: self.calls.fetch_add(1, Ordering::Relaxed),
            rng: None,
            backoff: Duration::ZERO,
            retries_done: 0,
        };
        let mut last_err: Option<LlmError> = None;
        'models: for (i, model) in chain.iter().enumerate() {
            if i > 0 {
                req.model.clear();
                req.model.push_str(model);
            }
            // One lookup per model of the chain, not per attempt.
            let breaker = self.breakers.get(self.client.endpoint(), model);
            attempt.backoff = Duration::ZERO;
            attempt.retries_done = 0;
            loop {
                match self
                    .try_model(&req, model, &breaker, &mut attempt, &mut record.attempts)
                    .await
                {
                    Step::Answered(reply) => return Self::outcome(record, start, Ok((i, reply))),
                    Step::Retry(wait) => {
                        crate::units::sleep_for(wait).await;
                        attempt.backoff = wait;
                        attempt.retries_done += 1;
                    }
                    Step::NextModel(e) => {
                        last_err = Some(e);
                        continue 'models;
                    }
                    Step::Stop(e) => {
                        last_err = Some(e);
                        break 'models;
                    }
                }
            }
        }
        let err = last_err.unwrap_or_else(|| {
            LlmError::local(ErrorClass::Other, "no model to call (empty fallback chain)")
        });
        Self::outcome(record, start, Err(err))
    }

    /// One attempt at `model`: admitted (deadline, spend cap, breaker, connection slot), sent,
    /// and what to do next decided from its result.
    async fn try_model(
        &self,
        req: &ChatRequest,
        model: &str,
        breaker: &Breaker,
        at: &mut AttemptState,
        attempts: &mut Vec<AttemptRecord>,
    ) -> Step {
        if let Some(stop) = self.refusal_before_breaker(model, at, attempts) {
            return stop;
        }
        let endpoint = self.client.endpoint();
        let permit = match breaker.try_acquire() {
            Ok(p) => p,
            Err(rejected) => {
                return Step::NextModel(refuse(
                    model,
                    at.backoff,
                    ErrorClass::BreakerOpen,
                    format!(
                        "circuit breaker of {model} at {endpoint} is {}; no request sent",
                        rejected.state.as_str()
                    ),
                    attempts,
                ));
            }
        };
        // Wait for a connection slot first (`ClientConfig::max_connections`): the wait
        // counts in the call's latency, never in the attempt's or its timeout.
        let slot = match at.deadline {
            Some(d) => tokio::time::timeout_at(d, self.client.slot()).await,
            None => Ok(self.client.slot().await),
        };
        let Ok(_slot) = slot else {
            permit.record(CallResult::Neutral);
            return Step::Stop(self.deadline_error("waiting for a free connection"));
        };
        let err = match self.send(req, model, at, attempts).await {
            Ok(reply) => {
                permit.record(CallResult::Success);
                return Step::Answered(reply);
            }
            Err(e) => e,
        };
        permit.record(CallResult::of(Err(&err)));
        self.after_failure(err, at)
    }

    /// The checks made before the breaker is asked, in this order: the call's deadline, then
    /// the run's spend cap. `None` when both let the attempt go on.
    fn refusal_before_breaker(
        &self,
        model: &str,
        at: &AttemptState,
        attempts: &mut Vec<AttemptRecord>,
    ) -> Option<Step> {
        if at.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(Step::Stop(self.deadline_error("")));
        }
        if let Some(guard) = &self.send_guard
            && !guard()
        {
            return Some(Step::Stop(refuse(
                model,
                at.backoff,
                ErrorClass::SpendCap,
                "the run-wide spend cap is reached; no request sent".to_string(),
                attempts,
            )));
        }
        None
    }

    /// Sends one attempt. Its record is pushed as `interrupted` before the request goes out,
    /// so that if this future is dropped while the attempt is in flight the record still shows
    /// it (see [`Caller::call_into`]); it is filled in when the reply is read.
    async fn send(
        &self,
        req: &ChatRequest,
        model: &str,
        at: &AttemptState,
        attempts: &mut Vec<AttemptRecord>,
    ) -> Result<ChatReply, LlmError> {
        let started = Instant::now();
        attempts.push(AttemptRecord {
            model: model.to_string(),
            started,
            latency: Duration::ZERO,
            status: None,
            error: Some(ErrorClass::Interrupted),
            backoff: at.backoff,
        });
        let result = match at.deadline {
            Some(d) => tokio::time::timeout_at(d, self.client.chat(req))
                .await
                .unwrap_or_else(|_| Err(self.deadline_error("during an attempt"))),
            None => self.client.chat(req).await,
        };
        let sent = attempts.last_mut().expect("pushed above");
        sent.latency = started.elapsed();
        match &result {
            Ok(_) => {
                sent.status = Some(200);
                sent.error = None;
            }
            Err(err) => {
                sent.status = err.status;
                sent.error = Some(err.class);
            }
        }
        result
    }

    /// After a failed attempt: retry this model after a wait, move down the chain, or stop.
    fn after_failure(&self, err: LlmError, at: &mut AttemptState) -> Step {
        if err.class == ErrorClass::Deadline {
            return Step::Stop(err);
        }
        let (seed, call_no) = (self.jitter_seed, at.call_no);
        let rng = at.rng.get_or_insert_with(|| {
            ChaCha8Rng::seed_from_u64(seed ^ call_no.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        });
        match retry::decide(&err, at.retries_done, &self.retry, rng) {
            RetryDecision::Retry(wait) => {
                if at.deadline.is_some_and(|d| Instant::now() + wait >= d) {
                    // No time to retry this model: the next one may still answer.
                    Step::NextModel(err)
                } else {
                    Step::Retry(wait)
                }
            }
            RetryDecision::GiveUp(GiveUp::NotRetryable) if !model_specific(err.class) => {
                Step::Stop(err)
            }
            RetryDecision::GiveUp(_) => Step::NextModel(err),
        }
    }

    /// The error of a call whose overall deadline passed; `when` says at which point.
    fn deadline_error(&self, when: &str) -> LlmError {
        let d = self.call_deadline.unwrap_or_default();
        let message = if when.is_empty() {
            format!("the call's deadline of {d:?} passed")
        } else {
            format!("the call's deadline of {d:?} passed {when}")
        };
        LlmError::local(ErrorClass::Deadline, message)
    }

    /// Fills in `record` from the call's result and hands the result back.
    fn outcome(
        record: &mut CallRecord,
        start: Instant,
        result: Result<(usize, ChatReply), LlmError>,
    ) -> Result<ChatReply, LlmError> {
        record.latency = start.elapsed();
        record.status = record.attempts.last().and_then(|a| a.status);
        record.error = None;
        match result {
            Ok((index, reply)) => {
                record.model_answered = record.attempts.last().map(|a| a.model.clone());
                record.fallback = index > 0;
                record.ttft = reply.ttft;
                record.ttft_answer = reply.ttft_answer;
                record.inter_chunk_gaps_us = reply.inter_chunk_gaps_us.clone();
                record.finish_reason = reply.finish_reason.clone();
                record.stream_ignored = reply.stream_ignored;
                record.usage = reply.usage;
                Ok(reply)
            }
            Err(e) => {
                record.error = Some(e.class);
                Err(e)
            }
        }
    }
}

/// The record of a call about to start: it reads `interrupted` until [`Caller::call_into`]
/// fills it in, which is what a call dropped half-way leaves.
pub fn pending_call(step: u32, model: &str) -> CallRecord {
    CallRecord {
        step,
        model_asked: model.to_string(),
        model_answered: None,
        attempts: Vec::new(),
        started: Instant::now(),
        latency: Duration::ZERO,
        status: None,
        error: Some(ErrorClass::Interrupted),
        ttft: None,
        ttft_answer: None,
        inter_chunk_gaps_us: Vec::new(),
        finish_reason: None,
        stream_ignored: false,
        usage: Usage::default(),
        fallback: false,
        prompt: Default::default(),
    }
}
