//! One conversation through the full agent stack: sessions, sanitizer, token budget, history
//! truncation, the ReAct loop (text or native tool calls), simulated tools, and every LLM call
//! through retries, breakers and fallbacks. The result is one [`ConversationRecord`].
//!
//! One [`Agent`] is shared (`Arc`) by all virtual users of a run, as a production service
//! shares its session store, breakers and connection pool; each conversation's own state (its
//! messages and budget) lives on its task's stack.
//!
//! Decisions worth knowing:
//! - A tool name the sanitizer calls dangerous ends the conversation with `refused_action`,
//!   before anything runs. A name outside the allow-list is refused too (never run), but the
//!   model is told so in the observation and may go on: that is what a production agent does
//!   with a hallucinated tool.
//! - Tool output the sanitizer finds unsafe (indirect injection) is withheld from the model and
//!   replaced by a notice; the finding is recorded.
//! - A session keeps, per turn, the user's (sanitized) message and the final answer, not the
//!   intermediate tool steps, so its memory stays bounded by the number of turns.
//! - A 400 `context_length_exceeded` triggers one harder truncation and one retry of the call.
//! - A reply is never an answer just because the call succeeded: `content_filter`, then
//!   `length`, then an empty reply end the conversation as `content_filtered`, `truncated`,
//!   `empty_reply` (see [`unusable`]).
//! - A user over its session rate limit waits for the limiter, as a real client would, and is
//!   counted once; refusing at once let zero-think-time users spin through refusals that
//!   looked like throughput.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::agent::breaker::{BreakerConfig, BreakerRegistry};
use crate::agent::budget::{Budget, BudgetCheck, BudgetConfig};
use crate::agent::history;
use crate::agent::react::{self, ReactStep};
use crate::agent::resilience::{Caller, SendGuard, pending_call};
use crate::agent::retry::RetryConfig;
use crate::agent::sanitizer::{Sanitizer, SanitizerConfig, Verdict};
use crate::agent::sessions::{SessionConfig, SessionError, SessionId, SessionStore};
use crate::agent::tools::{ToolBox, ToolsConfig};
use crate::chat::{ChatMessage, ChatReply, ChatRequest, MaxTokensField, Role, ToolSpec};
use crate::client::LlmClient;
use crate::pricing::PriceTable;
use crate::record::{
    AttemptRecord, CallRecord, ConversationRecord, ErrorClass, Outcome, ToolRecord, ToolStatus,
};
use crate::tokens::Tokenizer;

/// How the agent and the model exchange tool calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// `Thought:` / `Action:` / `Action Input:` / `Observation:` / `Final Answer:` in plain text.
    Text,
    /// OpenAI tool calls: `tools` in the request, `tool_calls` in the reply, `role: tool` results
    /// (the default: what current APIs are built for).
    #[default]
    Native,
}

/// Everything the agent needs to know, validated by the scenario.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// Primary model.
    pub model: String,
    /// Fallback chain, tried in order.
    pub fallback: Vec<String>,
    /// Tool-call protocol.
    pub protocol: Protocol,
    /// Stream replies (SSE).
    pub stream: bool,
    /// Completion limit per call.
    pub max_tokens: Option<u32>,
    /// Which field carries the completion limit.
    pub max_tokens_field: MaxTokensField,
    /// Stop sequences sent with every request; `None` is the protocol's default
    /// ([`DEFAULT_TEXT_STOP`] for the text protocol, none for native tool calls), an empty
    /// list sends none.
    pub stop: Option<Vec<String>>,
    /// The primary model's context window in tokens, if known; history is truncated to it.
    pub context_window: Option<u64>,
    /// Overall deadline of one LLM call, retries and fallbacks included.
    pub call_deadline: Option<Duration>,
    /// Token budget per conversation.
    pub budget: BudgetConfig,
    /// Session store.
    pub sessions: SessionConfig,
    /// Input, tool-output and action screening.
    pub sanitizer: SanitizerConfig,
    /// Retry policy.
    pub retry: RetryConfig,
    /// Circuit breakers.
    pub breaker: BreakerConfig,
    /// Simulated tools.
    pub tools: ToolsConfig,
}

/// Why an agent could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The sanitizer's patterns are invalid.
    #[error("agent.sanitizer: {0}")]
    Sanitizer(#[from] crate::agent::sanitizer::SanitizerError),
    /// The session settings are invalid.
    #[error("{0}")]
    Sessions(String),
    /// The tool settings are invalid.
    #[error("{0}")]
    Tools(String),
}

/// The run-wide spend cap. Before each logical LLM call the agent reserves the call's worst
/// case (its prompt at the input price and its completion limit at the output price, of the
/// dearest model in the chain); a call whose reservation does not fit under the cap is not
/// sent. When the call returns, the reservation is replaced by what the reply's usage really
/// cost, priced by the model that answered. Against an endpoint that honours `max_tokens`,
/// concurrent users can never overshoot the cap together.
///
/// An endpoint may bill more than `max_tokens` (llama.cpp's server and llmsim ignore
/// `max_completion_tokens`). So the cap learns: every reservation uses at least the largest
/// completion any call of the run has been billed (`max(max_tokens, largest seen)`), and once
/// real spend reaches the cap no further attempt is sent. What cannot be stopped is what was
/// already in flight when the cap was crossed: [`SpendCap::status`] gives the overshoot and
/// the bound stated at the crossing ([`SpendCrossing`]).
#[derive(Debug)]
pub struct SpendCap {
    limit_nano_usd: u64,
    spent_nano_usd: AtomicU64,
    reserved_nano_usd: AtomicU64,
    /// Calls holding a reservation (admitted, not settled yet).
    in_flight: AtomicU64,
    /// Largest completion one call has been billed, by any model of the run.
    largest_completion_tokens: AtomicU64,
    /// Largest amount one settled call cost beyond its reservation (0 while the endpoint bills
    /// within its limits).
    largest_excess_nano_usd: AtomicU64,
    /// Set once, by the settlement that took spend to the cap.
    crossing: OnceLock<SpendCrossing>,
    prices: PriceTable,
}

/// The moment real spend reached the cap: what was in flight then is billed after it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpendCrossing {
    /// Dollars spent right after the call that reached the cap was settled.
    pub spent_usd: f64,
    /// Calls holding a reservation at that moment (sent, or about to be refused before
    /// sending): they cannot be recalled.
    pub in_flight_calls: u64,
    /// Their reservations, in dollars.
    pub in_flight_reserved_usd: f64,
    /// The stated bound on the overshoot: what was spent past the cap at the crossing, plus
    /// the in-flight reservations, plus, per call in flight, the largest amount any call had
    /// cost beyond its reservation so far. It holds as long as the endpoint bills no call
    /// further past its reservation than it already had.
    pub overshoot_bound_usd: f64,
}

/// What the spend cap did, for the report ([`SpendCap::status`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpendStatus {
    /// The cap, in dollars.
    pub cap_usd: f64,
    /// Real spend so far (settled calls).
    pub spent_usd: f64,
    /// Spend past the cap: `max(0, spent - cap)`.
    pub overshoot_usd: f64,
    /// Reservations of calls still in flight (0 once the run is over).
    pub reserved_usd: f64,
    /// Largest completion one call was billed; later reservations used at least this.
    pub largest_completion_tokens: u64,
    /// When and how the cap was reached; `None` if it never was.
    pub crossing: Option<SpendCrossing>,
}

impl SpendCap {
    /// A cap of `limit_usd` dollars, pricing calls with `prices`.
    pub fn new(limit_usd: f64, prices: PriceTable) -> SpendCap {
        SpendCap {
            limit_nano_usd: to_nano(limit_usd),
            spent_nano_usd: AtomicU64::new(0),
            reserved_nano_usd: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            largest_completion_tokens: AtomicU64::new(0),
            largest_excess_nano_usd: AtomicU64::new(0),
            crossing: OnceLock::new(),
            prices,
        }
    }

    /// True while real spend is below the cap (asked before every network attempt).
    pub fn allows(&self) -> bool {
        self.spent_nano_usd.load(Ordering::Acquire) < self.limit_nano_usd
    }

    /// Dollars spent so far (settled calls only).
    pub fn spent_usd(&self) -> f64 {
        self.spent_nano_usd.load(Ordering::Relaxed) as f64 / 1e9
    }

    /// The cap's figures: cap, spend, overshoot and, once the cap was reached, what was in
    /// flight then and the overshoot bound stated at that moment.
    pub fn status(&self) -> SpendStatus {
        let spent = self.spent_nano_usd.load(Ordering::Acquire);
        SpendStatus {
            cap_usd: self.limit_nano_usd as f64 / 1e9,
            spent_usd: spent as f64 / 1e9,
            overshoot_usd: spent.saturating_sub(self.limit_nano_usd) as f64 / 1e9,
            reserved_usd: self.reserved_nano_usd.load(Ordering::Acquire) as f64 / 1e9,
            largest_completion_tokens: self.largest_completion_tokens.load(Ordering::Relaxed),
            crossing: self.crossing.get().copied(),
        }
    }

    /// Reserves `usd` for a call about to be sent; `None` if spend plus every reservation
    /// would pass the cap. Concurrent reservers may both be refused near the cap, never both
    /// admitted past it.
    fn try_reserve(&self, usd: f64) -> Option<u64> {
        let nano = to_nano(usd);
        let reserved = self.reserved_nano_usd.fetch_add(nano, Ordering::AcqRel) + nano;
        let spent = self.spent_nano_usd.load(Ordering::Acquire);
        if spent >= self.limit_nano_usd || spent.saturating_add(reserved) > self.limit_nano_usd {
            self.reserved_nano_usd.fetch_sub(nano, Ordering::AcqRel);
            return None;
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Some(nano)
    }

    /// Replaces a reservation by the real cost of the reply (if a model answered), learns the
    /// endpoint's real completion sizes, and notes the crossing if this call reached the cap.
    fn settle(&self, reserved_nano: u64, answered: Option<&str>, usage: &crate::chat::Usage) {
        let cost = answered
            .and_then(|m| self.prices.cost_usd(m, usage))
            .map_or(0, to_nano);
        if answered.is_some() {
            self.largest_completion_tokens
                .fetch_max(usage.completion_tokens, Ordering::AcqRel);
        }
        self.largest_excess_nano_usd
            .fetch_max(cost.saturating_sub(reserved_nano), Ordering::AcqRel);
        // Spend first, then the reservation: a concurrent crossing may count this call twice
        // (in spend and in flight), never in neither, so its bound stays a bound.
        let before = self.spent_nano_usd.fetch_add(cost, Ordering::AcqRel);
        self.reserved_nano_usd
            .fetch_sub(reserved_nano, Ordering::AcqRel);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        if before < self.limit_nano_usd && before.saturating_add(cost) >= self.limit_nano_usd {
            let in_flight = self.in_flight.load(Ordering::Acquire);
            let reserved = self.reserved_nano_usd.load(Ordering::Acquire);
            let spent = self.spent_nano_usd.load(Ordering::Acquire);
            let excess = self.largest_excess_nano_usd.load(Ordering::Acquire);
            let bound = spent
                .saturating_sub(self.limit_nano_usd)
                .saturating_add(reserved)
                .saturating_add(in_flight.saturating_mul(excess));
            let _ = self.crossing.set(SpendCrossing {
                spent_usd: spent as f64 / 1e9,
                in_flight_calls: in_flight,
                in_flight_reserved_usd: reserved as f64 / 1e9,
                overshoot_bound_usd: bound as f64 / 1e9,
            });
        }
    }

    /// The worst case of one call: `prompt_tokens` at the input price and the larger of
    /// `completion_tokens` and the largest completion billed so far at the output price, of
    /// the dearest of `models` (unpriced models count as free).
    fn worst_case_usd<'a>(
        &self,
        models: impl Iterator<Item = &'a str>,
        prompt_tokens: u64,
        completion_tokens: u64,
    ) -> f64 {
        let usage = crate::chat::Usage {
            prompt_tokens,
            cached_tokens: 0,
            completion_tokens: completion_tokens
                .max(self.largest_completion_tokens.load(Ordering::Acquire)),
            reasoning_tokens: 0,
            estimated: true,
        };
        models
            .filter_map(|m| self.prices.cost_usd(m, &usage))
            .fold(0.0, f64::max)
    }
}

/// Completion tokens reserved against the spend cap for a call that sets no `max_tokens`
/// (library use only: a scenario with a spend cap must set `agent.max_tokens`).
const DEFAULT_RESERVED_COMPLETION: u32 = 4096;

/// The record of a call the spend cap refused before anything was sent.
fn refused_by_spend_cap(req: &ChatRequest, step: u32) -> CallRecord {
    let now = Instant::now();
    CallRecord {
        step,
        model_asked: req.model.clone(),
        model_answered: None,
        attempts: vec![AttemptRecord {
            model: req.model.clone(),
            started: now,
            latency: Duration::ZERO,
            status: None,
            error: Some(ErrorClass::SpendCap),
            backoff: Duration::ZERO,
        }],
        started: now,
        latency: Duration::ZERO,
        status: None,
        error: Some(ErrorClass::SpendCap),
        ttft: None,
        ttft_answer: None,
        inter_chunk_gaps_us: Vec::new(),
        finish_reason: None,
        stream_ignored: false,
        usage: Default::default(),
        fallback: false,
    }
}

fn to_nano(usd: f64) -> u64 {
    (usd * 1e9).round().max(0.0) as u64
}

/// One user turn to run.
#[derive(Clone, Debug)]
pub struct TurnRequest {
    /// Run-unique conversation number.
    pub conversation_id: u64,
    /// Virtual user.
    pub user_id: u64,
    /// Turn number within the session (1-based).
    pub turn: u32,
    /// The session to resume, if any (`None` opens a new one).
    pub session: Option<SessionId>,
    /// What the user says.
    pub prompt: String,
    /// Open model: when the conversation was scheduled to start.
    pub intended_start: Option<Instant>,
}

/// The record of a turn, and the session to pass to the user's next turn.
#[derive(Clone, Debug)]
pub struct TurnResult {
    /// Everything the conversation did.
    pub record: ConversationRecord,
    /// The session used (resume it with the next turn), if one was opened.
    pub session: Option<SessionId>,
}

/// The text protocol's default stop sequence, as common ReAct agents send it (LangChain's
/// `ReActSingleInputOutputParser` agents stop at `"\nObservation:"`): a model that goes on to
/// write its own observation is cut there instead of being billed for an invented tool result.
pub const DEFAULT_TEXT_STOP: &str = "\nObservation:";

/// Most characters of a reply kept in [`ConversationRecord::error_detail`].
const EXCERPT_CHARS: usize = 200;

const WITHHELD: &str = "[tool output withheld by the sanitizer: it looked like a prompt injection]";
const NATIVE_SYSTEM_PROMPT: &str =
    "You are a helpful assistant. Use the tools when they help, then answer the user.";

/// Most user-message token counts [`Agent`] remembers (distinct prompts of a workload).
const PROMPT_TOKEN_CACHE: usize = 16_384;

/// The agent service shared by every virtual user of a run.
pub struct Agent {
    config: AgentConfig,
    caller: Caller,
    sessions: Arc<SessionStore>,
    sanitizer: Sanitizer,
    tools: ToolBox,
    tokenizer: Tokenizer,
    system_prompt: String,
    /// Prompt tokens of the system message (see [`Agent::message_tokens`]).
    system_prompt_tokens: u64,
    /// Prompt tokens of user messages seen so far, by text (see [`Agent::message_tokens`]).
    /// (foldhash: the keys are the scenario's own prompts.)
    prompt_tokens: Mutex<foldhash::HashMap<String, u64>>,
    tool_specs: Arc<[ToolSpec]>,
    tool_spec_tokens: u64,
    /// Stop sequences of every request (shared, like the tools).
    stop: Arc<[String]>,
    spend: Option<Arc<SpendCap>>,
    seed: u64,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("model", &self.config.model)
            .field("fallback", &self.config.fallback)
            .field("protocol", &self.config.protocol)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// Builds the agent: compiles the sanitizer, opens the session store, sets up breakers and
    /// the caller over `client`. `spend` stops new attempts once the run-wide cap is reached.
    pub fn new(
        config: AgentConfig,
        client: LlmClient,
        spend: Option<Arc<SpendCap>>,
        seed: u64,
    ) -> Result<Agent, AgentError> {
        let sanitizer = Sanitizer::new(&config.sanitizer)?;
        let sessions = SessionStore::new(config.sessions).map_err(AgentError::Sessions)?;
        let tools = ToolBox::new(&config.tools).map_err(AgentError::Tools)?;
        let breakers = Arc::new(BreakerRegistry::new(config.breaker.clone()));
        let mut caller = Caller::new(
            client,
            config.retry.clone(),
            breakers,
            config.fallback.clone(),
            config.call_deadline,
        )
        .with_jitter_seed(seed);
        if let Some(cap) = &spend {
            let cap = Arc::clone(cap);
            let guard: SendGuard = Arc::new(move || cap.allows());
            caller = caller.with_send_guard(guard);
        }
        let tokenizer = Tokenizer::for_model(&config.model);
        let (system_prompt, tool_specs) = match config.protocol {
            Protocol::Text => {
                let described = tools.describe();
                let pairs: Vec<(&str, &str)> = described
                    .iter()
                    .map(|(n, d)| (n.as_str(), d.as_str()))
                    .collect();
                (react::system_prompt(&pairs), Vec::new())
            }
            Protocol::Native => (NATIVE_SYSTEM_PROMPT.to_string(), tools.spec()),
        };
        let tool_specs: Arc<[ToolSpec]> = tool_specs.into();
        let stop: Arc<[String]> = match (&config.stop, config.protocol) {
            (Some(list), _) => list.clone().into(),
            (None, Protocol::Text) => Arc::from([DEFAULT_TEXT_STOP.to_string()]),
            (None, Protocol::Native) => Arc::from([]),
        };
        let tool_spec_tokens = tokenizer.count_tools(&tool_specs);
        let system_prompt_tokens =
            tokenizer.count_message(&ChatMessage::text(Role::System, system_prompt.clone()));
        Ok(Agent {
            config,
            caller,
            sessions,
            sanitizer,
            tools,
            tokenizer,
            system_prompt,
            system_prompt_tokens,
            prompt_tokens: Mutex::default(),
            tool_specs,
            tool_spec_tokens,
            stop,
            spend,
            seed,
        })
    }

    /// A message's prompt tokens; the system prompt, the same in every conversation, was
    /// counted once when the agent was built.
    fn message_tokens(&self, m: &ChatMessage) -> u64 {
        if m.role == Role::System
            && m.tool_calls.is_empty()
            && m.content.as_deref() == Some(self.system_prompt.as_str())
        {
            return self.system_prompt_tokens;
        }
        // Prompts come from a finite workload and repeat: their counts are remembered (a
        // count is a pure function of the text, so this is exact). Tokenizing a short prompt
        // was a sixth of the agent's CPU per call at zero latency.
        if m.role == Role::User && m.tool_calls.is_empty() && m.tool_call_id.is_none() {
            let text = m.content.as_deref().unwrap_or("");
            if let Ok(cache) = self.prompt_tokens.lock()
                && let Some(&n) = cache.get(text)
            {
                return n;
            }
            let n = self.tokenizer.count_message(m);
            if let Ok(mut cache) = self.prompt_tokens.lock() {
                // Bounded: a workload of endless distinct prompts starts over, never grows.
                if cache.len() >= PROMPT_TOKEN_CACHE {
                    cache.clear();
                }
                cache.insert(text.to_string(), n);
            }
            return n;
        }
        self.tokenizer.count_message(m)
    }

    /// The breakers, for the run's transition log.
    pub fn breakers(&self) -> &Arc<BreakerRegistry> {
        self.caller.breakers()
    }

    /// The session store, for its counters.
    pub fn sessions(&self) -> &Arc<SessionStore> {
        &self.sessions
    }

    /// The sanitizer, shared with `bench sanitize`-style checks.
    pub fn sanitizer(&self) -> &Sanitizer {
        &self.sanitizer
    }

    /// The configuration.
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    /// Largest prompt the history may grow to: the context window minus the completion limit.
    fn max_prompt_tokens(&self) -> u64 {
        match self.config.context_window {
            Some(w) => w
                .saturating_sub(u64::from(self.config.max_tokens.unwrap_or(0)))
                .saturating_sub(self.tool_spec_tokens),
            None => u64::MAX,
        }
    }

    fn request(&self, messages: Vec<ChatMessage>) -> ChatRequest {
        ChatRequest {
            model: self.config.model.clone(),
            messages,
            max_tokens: self.config.max_tokens,
            max_tokens_field: self.config.max_tokens_field,
            tools: self.tool_specs.clone(),
            stream: self.config.stream,
            stop: self.stop.clone(),
        }
    }

    /// Runs one user turn to its end. Never fails: every way it can end is an [`Outcome`].
    pub async fn run_turn(&self, req: TurnRequest) -> TurnResult {
        let mut record = new_record(&req);
        let session = self.run_turn_into(req, &mut record).await;
        TurnResult { record, session }
    }

    /// [`Agent::run_turn`], filling a record the caller owns (made with [`new_record`]). If the
    /// future is dropped mid-way (the run's grace period ended), the record keeps everything
    /// finished so far and its outcome stays `interrupted`, so the caller can still report it.
    /// Returns the session to resume with the user's next turn.
    pub async fn run_turn_into(
        &self,
        req: TurnRequest,
        rec: &mut ConversationRecord,
    ) -> Option<SessionId> {
        let started = rec.started;

        // Sessions first: a user over the rate limit waits for admission before anything else
        // runs; a user over the session cap (policy `refuse`) is refused.
        let turn = match self.admit(&req, rec).await {
            Ok(t) => t,
            Err(outcome) => {
                rec.outcome = outcome;
                rec.latency = started.elapsed();
                return req.session;
            }
        };

        // User input is screened once, as it enters; history is never re-screened.
        let verdict = self.sanitizer.screen_input(&req.prompt);
        note_threats(rec, &verdict);
        if !verdict.safe {
            self.sessions.end_turn(turn.id, turn.history);
            rec.outcome = Outcome::BlockedBySanitizer;
            rec.latency = started.elapsed();
            return Some(turn.id);
        }
        let user_message = ChatMessage::text(Role::User, verdict.cleaned);

        let mut messages = Vec::with_capacity(turn.history.len() + 8);
        messages.push(ChatMessage::text(Role::System, self.system_prompt.clone()));
        messages.extend(turn.history.iter().cloned());
        messages.push(user_message.clone());

        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ req.conversation_id.rotate_left(17));
        let mut budget = Budget::new(self.config.budget);
        let (outcome, answer) = self
            .react_loop(rec, &mut messages, &mut budget, &mut rng)
            .await;
        rec.outcome = outcome;
        rec.budget_warning |= budget.warned();

        let mut history = turn.history;
        if let Some(answer) = answer {
            history.push(user_message);
            history.push(ChatMessage::text(Role::Assistant, answer));
        }
        self.sessions.end_turn(turn.id, history);
        rec.latency = started.elapsed();
        Some(turn.id)
    }

    /// Admits the turn as a real user's client would: when the user's rate limit is used up,
    /// waits until the limiter admits it (the limiter's GCRA says when) and asks again. The
    /// held turn counts once in the store's `rate_limited`, and the wait lands in
    /// `rec.session_wait`. If the run drops the conversation while it waits (the grace period
    /// ended), the record says `session_rate_limited` with the wait so far and no call: it was
    /// never admitted, and nothing was sent.
    async fn admit(
        &self,
        req: &TurnRequest,
        rec: &mut ConversationRecord,
    ) -> Result<crate::agent::sessions::Turn, Outcome> {
        let mut unheld = Some(rec);
        let mut held: Option<Held<'_>> = None;
        loop {
            let refusal = match self.sessions.try_begin_turn(req.user_id, req.session) {
                Ok(turn) => {
                    if let Some(h) = held {
                        h.admitted();
                    }
                    return Ok(turn);
                }
                Err(e) => e,
            };
            match refusal {
                SessionError::RateLimited { retry_after, .. } => {
                    if let Some(rec) = unheld.take() {
                        self.sessions.note_held();
                        held = Some(Held::new(rec));
                    }
                    if retry_after.is_zero() {
                        // Admissible by the time it was asked (the limiter's clock moved on):
                        // ask again, never sleeping for zero.
                        tokio::task::yield_now().await;
                    } else {
                        crate::units::sleep_for(retry_after).await;
                    }
                }
                SessionError::UserLimit { .. } => {
                    if let Some(h) = held {
                        h.admitted();
                    }
                    return Err(Outcome::SessionRefused);
                }
            }
        }
    }

    /// The ReAct loop proper. Returns the outcome and, when answered, the final answer.
    async fn react_loop(
        &self,
        rec: &mut ConversationRecord,
        messages: &mut Vec<ChatMessage>,
        budget: &mut Budget,
        rng: &mut ChaCha8Rng,
    ) -> (Outcome, Option<String>) {
        let max_prompt = self.max_prompt_tokens();
        let max_completion = u64::from(self.config.max_tokens.unwrap_or(0));
        let mut step: u32 = 0;
        // Token cost of each message, kept across steps: the loop only appends messages, so
        // each is tokenized once per turn (tokenizing dominated the agent's own CPU per call).
        let mut costs: Vec<u64> = Vec::with_capacity(messages.len() + 8);
        loop {
            step += 1;
            for m in &messages[costs.len().min(messages.len())..] {
                costs.push(self.message_tokens(m));
            }
            let (prompt, prompt_tokens) = history::truncate_costed(
                messages,
                &costs,
                history::current_turn_start(messages),
                max_prompt,
            );
            let estimate = prompt_tokens + self.tool_spec_tokens;
            // The budget is checked before the paid call, never after.
            match budget.check_before_call(estimate, max_completion) {
                BudgetCheck::Ok => {}
                BudgetCheck::Warning { .. } => rec.budget_warning = true,
                BudgetCheck::Exceeded { .. } => return (Outcome::BudgetExceeded, None),
                BudgetCheck::MaxSteps { .. } => return (Outcome::MaxSteps, None),
            }

            let mut out = self.call(rec, self.request(prompt), step, estimate).await;
            if out == Err(ErrorClass::ContextLength) {
                // Our count disagreed with the server's: truncate harder, retry once.
                let harder = history::truncate_harder(messages, max_prompt, &self.tokenizer);
                let estimate = self.tokenizer.count_messages(&harder) + self.tool_spec_tokens;
                out = self.call(rec, self.request(harder), step, estimate).await;
            }
            let reply = match out {
                Ok(reply) => reply,
                Err(ErrorClass::SpendCap) => return (Outcome::SpendCap, None),
                Err(_) => return (Outcome::Failed, None),
            };
            budget.record(&reply.usage);
            rec.steps += 1;
            if let Some(outcome) = unusable(&reply, self.config.protocol) {
                return (outcome, None);
            }

            match self.config.protocol {
                Protocol::Native if !reply.tool_calls.is_empty() => {
                    messages.push(ChatMessage {
                        role: Role::Assistant,
                        content: reply.content.clone(),
                        tool_calls: reply.tool_calls.clone(),
                        tool_call_id: None,
                    });
                    for call in &reply.tool_calls {
                        match self.use_tool(rec, &call.name, &call.arguments, rng).await {
                            Some(observation) => {
                                messages.push(ChatMessage::tool_result(&call.id, observation))
                            }
                            None => return (Outcome::RefusedAction, None),
                        }
                    }
                }
                Protocol::Native => {
                    return (Outcome::Answered, Some(reply.content.unwrap_or_default()));
                }
                Protocol::Text => {
                    let text = reply.content.unwrap_or_default();
                    match react::parse_reply(&text) {
                        Ok(ReactStep::Final { answer, .. }) => {
                            return (Outcome::Answered, Some(answer));
                        }
                        Ok(ReactStep::Action { tool, input, .. }) => {
                            let Some(observation) = self.use_tool(rec, &tool, &input, rng).await
                            else {
                                return (Outcome::RefusedAction, None);
                            };
                            messages.push(ChatMessage::text(Role::Assistant, text));
                            messages.push(ChatMessage::text(
                                Role::User,
                                react::observation_message(&observation),
                            ));
                        }
                        Err(e) => {
                            rec.error_detail = Some(format!(
                                "{}: {}",
                                e.kind(),
                                react::excerpt(&text, EXCERPT_CHARS)
                            ));
                            return (Outcome::Unparseable, None);
                        }
                    }
                }
            }
        }
    }

    /// One LLM call through the resilience layer, within the spend cap; records it.
    /// `prompt_tokens` is the request's counted size, for the spend reservation.
    async fn call(
        &self,
        rec: &mut ConversationRecord,
        req: ChatRequest,
        step: u32,
        prompt_tokens: u64,
    ) -> Result<ChatReply, ErrorClass> {
        let reservation = match &self.spend {
            Some(cap) => {
                let models = std::iter::once(self.config.model.as_str())
                    .chain(self.config.fallback.iter().map(String::as_str));
                let worst = cap.worst_case_usd(
                    models,
                    prompt_tokens,
                    u64::from(
                        self.config
                            .max_tokens
                            .unwrap_or(DEFAULT_RESERVED_COMPLETION),
                    ),
                );
                match cap.try_reserve(worst) {
                    Some(r) => Some((cap, r)),
                    None => {
                        rec.calls.push(refused_by_spend_cap(&req, step));
                        return Err(ErrorClass::SpendCap);
                    }
                }
            }
            None => None,
        };
        // The call's record lives in the conversation's from the start, so a call cut in flight
        // (grace period over, second Ctrl-C) still leaves the attempts it sent.
        rec.calls.push(pending_call(step, &req.model));
        let n = rec.calls.len() - 1;
        let result = self.caller.call_into(req, &mut rec.calls[n]).await;
        if let Some((cap, reserved)) = reservation {
            let call = &rec.calls[n];
            cap.settle(reserved, call.model_answered.as_deref(), &call.usage);
        }
        result.map_err(|e| e.class)
    }

    /// Screens and runs one model-proposed action. Returns the observation for the model, or
    /// `None` when the action is dangerous and the conversation must stop.
    async fn use_tool(
        &self,
        rec: &mut ConversationRecord,
        name: &str,
        input: &str,
        rng: &mut ChaCha8Rng,
    ) -> Option<String> {
        let verdict = self.sanitizer.check_action(name, input);
        note_threats(rec, &verdict);
        if !verdict.safe {
            rec.tools.push(ToolRecord {
                name: name.to_string(),
                started: Instant::now(),
                latency: Duration::ZERO,
                status: ToolStatus::Refused,
            });
            return None;
        }
        let result = self.tools.run(name, input, rng).await;
        rec.tools.push(result.record());
        let screened = self.sanitizer.screen_tool_output(&result.output);
        note_threats(rec, &screened);
        Some(if screened.safe {
            screened.cleaned
        } else {
            WITHHELD.to_string()
        })
    }
}

/// Why a reply cannot be used whatever it says, or `None` when it can. Precedence, highest
/// first: `finish_reason: "content_filter"` (the endpoint withheld or cut the answer: whatever
/// is there is not the model's answer), then `"length"` (cut at the completion limit, so even a
/// reply that parses is incomplete: a half-written answer or tool arguments), then an empty
/// reply (no content, or only whitespace, and, in the native protocol, no tool call; the text
/// protocol reads only the content).
pub fn unusable(reply: &ChatReply, protocol: Protocol) -> Option<Outcome> {
    match reply.finish_reason.as_deref() {
        Some("content_filter") => return Some(Outcome::ContentFiltered),
        Some("length") => return Some(Outcome::Truncated),
        _ => {}
    }
    let blank = reply.content.as_deref().is_none_or(|c| c.trim().is_empty());
    let empty = match protocol {
        Protocol::Native => blank && reply.tool_calls.is_empty(),
        Protocol::Text => blank,
    };
    empty.then_some(Outcome::EmptyReply)
}

/// A turn the session rate limit is holding back. Dropped while still held (the run ended and
/// dropped the conversation), it marks the record `session_rate_limited` with the wait so far.
struct Held<'a> {
    rec: Option<&'a mut ConversationRecord>,
    since: Instant,
}

impl<'a> Held<'a> {
    fn new(rec: &'a mut ConversationRecord) -> Held<'a> {
        Held {
            rec: Some(rec),
            since: Instant::now(),
        }
    }

    /// The limiter let the turn go on (or the session cap refused it): records the wait.
    fn admitted(mut self) {
        if let Some(rec) = self.rec.take() {
            rec.session_wait = Some(self.since.elapsed());
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(rec) = self.rec.take() {
            rec.session_wait = Some(self.since.elapsed());
            rec.outcome = Outcome::SessionRateLimited;
        }
    }
}

/// A fresh record for `req`, started now, whose outcome reads `interrupted` until the turn
/// ends some other way.
pub fn new_record(req: &TurnRequest) -> ConversationRecord {
    ConversationRecord {
        conversation_id: req.conversation_id,
        user_id: req.user_id,
        turn: req.turn,
        started: Instant::now(),
        intended_start: req.intended_start,
        latency: Duration::ZERO,
        outcome: Outcome::Interrupted,
        steps: 0,
        calls: Vec::new(),
        tools: Vec::new(),
        sanitizer_threats: Vec::new(),
        budget_warning: false,
        session_wait: None,
        error_detail: None,
    }
}

fn note_threats(rec: &mut ConversationRecord, verdict: &Verdict) {
    for t in &verdict.threats {
        rec.sanitizer_threats.push(t.kind.as_str().to_string());
    }
}
