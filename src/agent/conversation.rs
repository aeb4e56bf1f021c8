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

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use crate::agent::admission::admit;
use crate::agent::breaker::BreakerRegistry;
use crate::agent::budget::{Budget, BudgetCheck};
use crate::agent::guard::Guard;
use crate::agent::history;
use crate::agent::react::{self, ReactStep};
use crate::agent::resilience::{Caller, SendGuard, pending_call};
use crate::agent::sanitizer::{Sanitizer, Verdict};
use crate::agent::sessions::{SessionId, SessionStore};
use crate::agent::settings::{AgentConfig, DEFAULT_TEXT_STOP, Protocol};
use crate::agent::spend::{DEFAULT_RESERVED_COMPLETION, SpendCap, refused_by_spend_cap};
use crate::agent::tools::ToolBox;
use crate::chat::{ChatMessage, ChatReply, ChatRequest, Role, ToolSpec};
use crate::client::LlmClient;
use crate::record::{ConversationRecord, ErrorClass, Outcome, PromptParts, ToolRecord, ToolStatus};
use crate::tokens::Tokenizer;

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

/// One user turn to run.
#[derive(Clone, Debug)]
pub struct TurnRequest {
    /// Run-unique conversation number.
    pub conversation_id: u64,
    /// Seed of the conversation's own random choices (tool results ...). Give each
    /// conversation its own, stable whatever the timing: `bench run` derives it from the user,
    /// session and turn, so a conversation draws the same in a whole run and in a shard.
    pub rng_key: u64,
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
    /// The external guard stage, when `[agent.guard]` is set ([`Agent::with_guard`]).
    guard: Option<Guard>,
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
        let own = config.system_prompt.as_deref().map(str::trim_end);
        let (system_prompt, tool_specs) = match config.protocol {
            Protocol::Text => {
                let described = tools.describe();
                let pairs: Vec<(&str, &str)> = described
                    .iter()
                    .map(|(n, d)| (n.as_str(), d.as_str()))
                    .collect();
                let react = react::system_prompt(&pairs);
                let prompt = match own {
                    Some(own) => format!("{own}\n\n{react}"),
                    None => react,
                };
                (prompt, Vec::new())
            }
            Protocol::Native => (
                own.unwrap_or(NATIVE_SYSTEM_PROMPT).to_string(),
                tools.spec(),
            ),
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
            guard: None,
        })
    }

    /// The agent with a guard service asked about each turn's input before the model.
    pub fn with_guard(mut self, guard: Guard) -> Agent {
        self.guard = Some(guard);
        self
    }

    /// The guard stage, if any.
    pub fn guard(&self) -> Option<&Guard> {
        self.guard.as_ref()
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

    /// The client the agent calls through (its free request slots, for the live export).
    pub fn client(&self) -> &crate::client::LlmClient {
        self.caller.client()
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
        let turn = match admit(&self.sessions, req.user_id, req.session, rec).await {
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
        // The guard service sees the input as the user sent it, and is on the critical path:
        // its latency is the conversation's.
        if let Some(guard) = &self.guard {
            let checked = guard.check(&req.prompt).await;
            let blocks = checked.verdict.blocks();
            rec.guard = Some(checked);
            if blocks {
                self.sessions.end_turn(turn.id, turn.history);
                rec.outcome = Outcome::BlockedByGuard;
                rec.latency = started.elapsed();
                return Some(turn.id);
            }
        }
        let user_message = ChatMessage::text(Role::User, verdict.cleaned);

        let mut messages = Vec::with_capacity(turn.history.len() + 8);
        messages.push(ChatMessage::text(Role::System, self.system_prompt.clone()));
        messages.extend(turn.history.iter().cloned());
        messages.push(user_message.clone());

        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ req.rng_key.rotate_left(17));
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
            let costed = (prompt.len() == messages.len()).then_some(costs.as_slice());
            let parts = self.prompt_parts(&prompt, costed);
            // The budget is checked before the paid call, never after.
            match budget.check_before_call(estimate, max_completion) {
                BudgetCheck::Ok => {}
                BudgetCheck::Warning { .. } => rec.budget_warning = true,
                BudgetCheck::Exceeded { .. } => return (Outcome::BudgetExceeded, None),
                BudgetCheck::MaxSteps { .. } => return (Outcome::MaxSteps, None),
            }

            let mut out = self.call(rec, self.request(prompt), step, parts).await;
            if out == Err(ErrorClass::ContextLength) {
                // Our count disagreed with the server's: truncate harder, retry once.
                let harder = history::truncate_harder(messages, max_prompt, &self.tokenizer);
                let parts = self.prompt_parts(&harder, None);
                out = self.call(rec, self.request(harder), step, parts).await;
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
                        Err(e) => return unparseable(rec, &e, &text),
                    }
                }
            }
        }
    }

    /// The prompt's counted tokens by part: each message's count (from `costs` when they
    /// price `prompt` one to one, else counted now) goes to the system prompt, tool results or
    /// history; the tool definitions and the reply priming are added once. The parts sum to
    /// the budget's estimate of the request.
    fn prompt_parts(&self, prompt: &[ChatMessage], costs: Option<&[u64]>) -> PromptParts {
        let mut parts = PromptParts {
            tool_schemas: self.tool_spec_tokens,
            history: crate::tokens::TOKENS_REPLY_PRIMING,
            ..PromptParts::default()
        };
        for (i, m) in prompt.iter().enumerate() {
            let n = match costs.and_then(|c| c.get(i)) {
                Some(&n) => n,
                None => self.message_tokens(m),
            };
            let observation = m.role == Role::User
                && self.config.protocol == Protocol::Text
                && m.content
                    .as_deref()
                    .is_some_and(|c| c.starts_with(react::OBSERVATION_PREFIX));
            match m.role {
                Role::System => parts.system += n,
                Role::Tool => parts.tool_results += n,
                _ if observation => parts.tool_results += n,
                _ => parts.history += n,
            }
        }
        parts
    }

    /// One LLM call through the resilience layer, within the spend cap; records it, with
    /// the request's counted prompt (`parts`, whose total is also the spend reservation's
    /// size).
    async fn call(
        &self,
        rec: &mut ConversationRecord,
        req: ChatRequest,
        step: u32,
        parts: PromptParts,
    ) -> Result<ChatReply, ErrorClass> {
        let prompt_tokens = parts.total();
        let reservation = match &self.spend {
            Some(cap) => {
                let worst = cap.worst_case_usd(
                    self.config.models(),
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
                        let mut refused = refused_by_spend_cap(&req, step);
                        refused.prompt = parts;
                        rec.calls.push(refused);
                        return Err(ErrorClass::SpendCap);
                    }
                }
            }
            None => None,
        };
        // The call's record lives in the conversation's from the start, so a call cut in flight
        // (grace period over, second Ctrl-C) still leaves the attempts it sent.
        let mut pending = pending_call(step, &req.model);
        pending.prompt = parts;
        rec.calls.push(pending);
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
                output_tokens: 0,
                output_bytes: 0,
                http_status: None,
            });
            return None;
        }
        let result = self.tools.run(name, input, rng).await;
        let screened = self.sanitizer.screen_tool_output(&result.output);
        note_threats(rec, &screened);
        let observation = if screened.safe {
            screened.cleaned
        } else {
            WITHHELD.to_string()
        };
        // What the model is given, counted as it will be in the next prompt.
        rec.tools
            .push(result.record(self.tokenizer.count_bounded(&observation)));
        Some(observation)
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
        guard: None,
        budget_warning: false,
        session_wait: None,
        error_detail: None,
    }
}

/// Ends a text-protocol conversation whose reply follows no ReAct form, keeping what was wrong
/// and an excerpt of the reply.
fn unparseable(
    rec: &mut ConversationRecord,
    e: &react::ParseError,
    text: &str,
) -> (Outcome, Option<String>) {
    rec.error_detail = Some(format!(
        "{}: {}",
        e.kind(),
        react::excerpt(text, EXCERPT_CHARS)
    ));
    (Outcome::Unparseable, None)
}

fn note_threats(rec: &mut ConversationRecord, verdict: &Verdict) {
    for t in &verdict.threats {
        rec.sanitizer_threats.push(t.kind.as_str().to_string());
    }
}
