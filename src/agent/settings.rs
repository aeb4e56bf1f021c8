//! The agent's settings: the one type the scenario's `[agent]` table deserializes into, the
//! scenario validates, and [`crate::agent::conversation::Agent`] runs with. The sub-tables
//! (`budget`, `sessions`, `sanitizer`, `retry`, `breaker`, `tools`) are their owners' own
//! config types, so each key is defined once, next to the code that reads it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::agent::breaker::BreakerConfig;
use crate::agent::budget::BudgetConfig;
use crate::agent::guard::GuardConfig;
use crate::agent::retry::RetryConfig;
use crate::agent::sanitizer::SanitizerConfig;
use crate::agent::sessions::SessionConfig;
use crate::agent::tools::ToolsConfig;
use crate::chat::MaxTokensField;

/// The text protocol's default stop sequence, as common ReAct agents send it (LangChain's
/// `ReActSingleInputOutputParser` agents stop at `"\nObservation:"`): a model that goes on to
/// write its own observation is cut there instead of being billed for an invented tool result.
pub const DEFAULT_TEXT_STOP: &str = "\nObservation:";

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

/// Everything the agent needs to know: the scenario's `[agent]` table (keys in brackets), and
/// two facts of the endpoint that are no key of that table, set by the run.
///
/// Unknown keys are refused with their full path; the order of the fields is the order serde
/// lists the accepted keys in its message.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Primary model (`model`).
    pub model: String,
    /// Fallback chain, tried in order (`fallback`, default none).
    #[serde(default)]
    pub fallback: Vec<String>,
    /// The agent's own system prompt (`system_prompt`); the text protocol appends its ReAct
    /// instructions and tool list to it, the native protocol sends it as is. Default: a
    /// one-line assistant prompt (native), the ReAct instructions alone (text).
    pub system_prompt: Option<String>,
    /// A file holding the system prompt (`system_prompt_file`), relative to the scenario
    /// file; the scenario reads it into `system_prompt`.
    pub system_prompt_file: Option<std::path::PathBuf>,
    /// Tool-call protocol (`protocol`, default `"native"`).
    #[serde(default)]
    pub protocol: Protocol,
    /// Stream replies over SSE (`stream`, default true).
    #[serde(default = "streams_by_default")]
    pub stream: bool,
    /// Completion limit per call (`max_tokens`, default none).
    pub max_tokens: Option<u32>,
    /// Which request field carries the completion limit (`max_tokens_field`, default
    /// `"max_tokens"`).
    #[serde(default)]
    pub max_tokens_field: MaxTokensField,
    /// Stop sequences sent with every request (`stop`); `None` is the protocol's default
    /// ([`DEFAULT_TEXT_STOP`] for the text protocol, none for native tool calls), an empty
    /// list sends none.
    pub stop: Option<Vec<String>>,
    /// The primary model's context window in tokens, if known; history is truncated to it.
    /// Not a key: the run takes it from the mock's settings or the price table.
    #[serde(skip)]
    pub context_window: Option<u64>,
    /// Overall deadline of one LLM call, retries and fallbacks included. Not a key of
    /// `[agent]`: the run sets it from `endpoint.call_deadline`.
    #[serde(skip)]
    pub call_deadline: Option<Duration>,
    /// Token budget per conversation (`[agent.budget]`).
    #[serde(default)]
    pub budget: BudgetConfig,
    /// Session store (`[agent.sessions]`).
    #[serde(default)]
    pub sessions: SessionConfig,
    /// Input, tool-output and action screening (`[agent.sanitizer]`).
    #[serde(default)]
    pub sanitizer: SanitizerConfig,
    /// Retry policy (`[agent.retry]`).
    #[serde(default)]
    pub retry: RetryConfig,
    /// Circuit breakers (`[agent.breaker]`).
    #[serde(default)]
    pub breaker: BreakerConfig,
    /// Simulated tools (`[agent.tools]`).
    #[serde(default)]
    pub tools: ToolsConfig,
    /// An external guard service asked about each turn's input before the model
    /// (`[agent.guard]`); none by default.
    #[serde(default)]
    pub guard: Option<GuardConfig>,
}

fn streams_by_default() -> bool {
    true
}

impl AgentConfig {
    /// Every model the agent may call: the primary, then the fallbacks.
    pub fn models(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.model.as_str()).chain(self.fallback.iter().map(String::as_str))
    }
}
