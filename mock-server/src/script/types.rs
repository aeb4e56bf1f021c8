//! What the script reads from a request ([`ScriptInput`]), what it answers ([`Reply`]), and
//! the tool step its parts hand on.

use std::borrow::Cow;

use serde_json::Value;

use crate::wire::{Message, ReplyToolCall, Tool};

/// What the model replies, with its exact token count.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// Text of the reply; `None` when it is a tool call (native protocol).
    pub content: Option<String>,
    /// The tool calls of a tool step (native protocol): one, or several when the script's
    /// `parallel_tool_calls` allows and the request does not forbid it.
    pub tool_calls: Vec<ReplyToolCall>,
    /// `stop`, `length` or `tool_calls`.
    pub finish_reason: &'static str,
    /// Output tokens: of the content, or of the call's name plus its arguments.
    pub completion_tokens: u64,
    /// The content split into tokens, for streaming; empty unless asked.
    pub pieces: Vec<Cow<'static, str>>,
    /// Each tool call's arguments split into tokens, for streaming; empty unless asked.
    pub call_pieces: Vec<Vec<Cow<'static, str>>>,
    /// True when the step proposes the configured dangerous tool.
    pub dangerous: bool,
}

/// Everything the script reads from a request.
pub struct ScriptInput<'a> {
    /// The conversation.
    pub messages: &'a [Message<'a>],
    /// Tools offered natively.
    pub tools: &'a [Tool],
    /// `tool_choice` as sent.
    pub tool_choice: Option<&'a Value>,
    /// The completion limit, if any.
    pub max_tokens: Option<u64>,
    /// Fill [`Reply::pieces`].
    pub want_pieces: bool,
    /// Stop sequences: the content ends before the first one it holds.
    pub stop: &'a [String],
    /// `response_format` `json_object`: the content is a JSON object.
    pub json_object: bool,
    /// The request allows several tool calls in one reply (`parallel_tool_calls` not false).
    pub parallel_tool_calls: bool,
}

/// A tool step of the turn, with its first call as drawn.
pub struct ToolStep<'t> {
    /// The turn's hash: every choice of the turn derives from it.
    pub hash: u64,
    /// Which step of the turn this is (0 for the first).
    pub step: u64,
    /// The names of the tools offered.
    pub tools: &'t [&'t str],
    /// The first call's tool.
    pub tool: String,
    /// The first call's input.
    pub arg: String,
    /// The first call proposes the configured dangerous tool.
    pub dangerous: bool,
    /// `tool_choice` names the tool.
    pub forced: bool,
}
