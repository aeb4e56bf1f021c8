//! Chat types the agent speaks in, independent of any wire format.
//!
//! The agent builds [`ChatRequest`]s and reads [`ChatReply`]s; `client.rs` alone turns them
//! into OpenAI JSON and back. The mock server owns separate wire structs on purpose, so a schema
//! mistake on either side shows up as a failing test on the other.

use std::time::Duration;

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Instructions from the agent's author.
    System,
    /// A message from the end user.
    User,
    /// A reply from the model (text, or tool calls).
    Assistant,
    /// The result of a tool call, answering the assistant message that asked for it.
    Tool,
}

impl Role {
    /// The role's name on the wire (`"system"`, `"user"`, `"assistant"`, `"tool"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// A tool call proposed by the model (native tool-call protocol).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCall {
    /// The id the model gave the call; the tool's reply quotes it as `tool_call_id`.
    pub id: String,
    /// The function name the model asked for.
    pub name: String,
    /// The arguments as the JSON text the model wrote (it may be invalid JSON).
    pub arguments: String,
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// Its text; `None` for an assistant message that only holds tool calls.
    pub content: Option<String>,
    /// Tool calls of an assistant message (native protocol); empty otherwise.
    pub tool_calls: Vec<ToolCall>,
    /// For a `Tool` message, the id of the call it answers.
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    /// A plain text message.
    pub fn text(role: Role, content: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// A tool result answering call `id`.
    pub fn tool_result(id: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            role: Role::Tool,
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: Some(id.into()),
        }
    }
}

/// A function the model may call (native protocol), sent in the request's `tools`.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolSpec {
    /// Function name.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of its arguments.
    pub parameters: serde_json::Value,
}

/// Which field carries the completion-length limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    /// `max_tokens`: understood by every OpenAI-compatible server (the default).
    #[default]
    MaxTokens,
    /// `max_completion_tokens`: required by OpenAI's reasoning models.
    MaxCompletionTokens,
}

/// One chat-completions request, before it becomes JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatRequest {
    /// Model name as the endpoint knows it.
    pub model: String,
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Completion-length limit, if any.
    pub max_tokens: Option<u32>,
    /// Which field carries `max_tokens`.
    pub max_tokens_field: MaxTokensField,
    /// Tools offered (native protocol); empty for the text protocol.
    /// Shared, not copied: every request of a run offers the same tools, and copying their
    /// schemas into each request cost about 7% of the agent's CPU per call.
    pub tools: std::sync::Arc<[ToolSpec]>,
    /// Stream the reply as server-sent events (with `stream_options.include_usage`).
    pub stream: bool,
    /// Stop sequences (`stop`); empty sends none. Shared like `tools`: every request of a run
    /// sends the same list.
    pub stop: std::sync::Arc<[String]>,
}

/// Token counts of one reply, as the endpoint billed them (or as counted locally when the
/// endpoint sent no `usage`, in which case `estimated` is set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// Input tokens, cached ones included (`prompt_tokens`).
    pub prompt_tokens: u64,
    /// Of the input tokens, those billed at the cached-input price
    /// (`prompt_tokens_details.cached_tokens`).
    pub cached_tokens: u64,
    /// Output tokens (`completion_tokens`), reasoning tokens included.
    pub completion_tokens: u64,
    /// Of the output tokens, those spent on reasoning
    /// (`completion_tokens_details.reasoning_tokens`); billed at the output price.
    pub reasoning_tokens: u64,
    /// True when these counts were computed locally, not reported by the endpoint.
    pub estimated: bool,
}

impl Usage {
    /// Counts as an endpoint reported them (not estimated).
    pub fn billed(prompt_tokens: u64, cached_tokens: u64, completion_tokens: u64) -> Self {
        Usage {
            prompt_tokens,
            cached_tokens,
            completion_tokens,
            reasoning_tokens: 0,
            estimated: false,
        }
    }

    /// Prompt plus completion tokens.
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    /// Adds another usage to this one; the sum is estimated if either part was.
    pub fn add(&mut self, other: &Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.cached_tokens += other.cached_tokens;
        self.completion_tokens += other.completion_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
        self.estimated |= other.estimated;
    }
}

/// A successful reply.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatReply {
    /// The model name the endpoint reported.
    pub model: String,
    /// Text content, if any.
    pub content: Option<String>,
    /// Tool calls, if any (also when `finish_reason` is `stop`, as some servers send).
    pub tool_calls: Vec<ToolCall>,
    /// `stop`, `length`, `tool_calls`, ... as sent; `None` if the server sent none.
    pub finish_reason: Option<String>,
    /// Token counts.
    pub usage: Usage,
    /// Streaming only: time from sending the request to the first token of any kind (content,
    /// reasoning or tool-call delta).
    pub ttft: Option<Duration>,
    /// Streaming only: time from sending the request to the first answer token (content or
    /// tool-call delta, not reasoning).
    pub ttft_answer: Option<Duration>,
    /// Streaming only: gaps between successive content or tool-call deltas, in microseconds.
    /// Kept as a batch per call so recording costs one message per call, not per token.
    pub inter_chunk_gaps_us: Vec<u32>,
    /// True when the stream ended without `data: [DONE]` (tolerated, but noted).
    pub missing_done: bool,
    /// True when a stream was asked for and the endpoint sent one complete JSON reply instead.
    pub stream_ignored: bool,
}
