//! A non-streamed reply: the completion's wire format (also the `usage` and tool-call
//! function objects that stream chunks carry), parsed straight into its typed shape on the
//! common path, through a `serde_json::Value` only to find and word what went wrong.

use serde::Deserialize;

use super::errors::{classify_error, parse_error_value};
use super::estimate::estimate_usage;
use super::llm_error::{LlmError, embedded_error, malformed};
use crate::chat::{ChatReply, ChatRequest, ToolCall, Usage};

#[derive(Deserialize)]
pub(super) struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<WirePromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<WireCompletionDetails>,
}

#[derive(Deserialize)]
struct WireCompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct WirePromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        let cached = u.prompt_tokens_details.and_then(|d| d.cached_tokens);
        let reasoning = u.completion_tokens_details.and_then(|d| d.reasoning_tokens);
        Usage {
            // A subset of the completion tokens; a server that says more is not believed.
            reasoning_tokens: reasoning.unwrap_or(0).min(u.completion_tokens),
            ..Usage::billed(u.prompt_tokens, cached.unwrap_or(0), u.completion_tokens)
        }
    }
}

#[derive(Deserialize)]
struct WireCompletion {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Option<Vec<WireChoice>>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    message: Option<WireMessageIn>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessageIn {
    #[serde(default)]
    content: Option<String>,
    /// DeepSeek-R1 and vLLM's reasoning parser: the reasoning, not the answer.
    #[serde(default)]
    reasoning_content: Option<String>,
    /// Some gateways (OpenRouter): the same under another name.
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCallIn>>,
}

#[derive(Deserialize)]
struct WireToolCallIn {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunctionIn>,
}

#[derive(Deserialize)]
pub(super) struct WireFunctionIn {
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) arguments: Option<String>,
}

/// A non-streamed reply body (`status` is the response's, for the errors). Public for the
/// benchmarks: every non-streamed call goes through it.
pub fn parse_completion(
    bytes: &[u8],
    req: &ChatRequest,
    status: u16,
) -> Result<ChatReply, LlmError> {
    // A well-formed completion parses straight into its typed shape (going through a
    // `serde_json::Value` first was a tenth of the client's time per call); anything else takes
    // the general path, which finds error objects and words the errors.
    //
    // The body is checked as UTF-8 once, then parsed as text: `from_slice` validates every
    // string on its own, which cost a fifth of the parse.
    let typed = std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| serde_json::from_str::<WireCompletion>(text).ok());
    let wire = match typed {
        Some(wire) if wire.choices.is_some() => wire,
        _ => parse_completion_slowly(bytes, status)?,
    };
    let choice = wire
        .choices
        .unwrap_or_default()
        .into_iter()
        .next()
        .ok_or_else(|| malformed(status, "reply has no choices".to_string()))?;
    let (content, reasoning, tool_calls) = match choice.message {
        Some(m) => (
            m.content,
            m.reasoning_content.or(m.reasoning),
            m.tool_calls
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    let f = c.function.unwrap_or(WireFunctionIn {
                        name: None,
                        arguments: None,
                    });
                    ToolCall {
                        id: c.id.unwrap_or_else(|| format!("call_{i}")),
                        name: f.name.unwrap_or_default(),
                        arguments: f.arguments.unwrap_or_default(),
                    }
                })
                .collect::<Vec<_>>(),
        ),
        None => (None, None, Vec::new()),
    };
    let usage = match wire.usage {
        Some(u) => u.into(),
        None => estimate_usage(req, content.as_deref(), reasoning.as_deref(), &tool_calls),
    };
    Ok(ChatReply {
        model: wire.model.unwrap_or_else(|| req.model.clone()),
        content,
        tool_calls,
        finish_reason: choice.finish_reason,
        usage,
        ttft: None,
        ttft_answer: None,
        inter_chunk_gaps_us: Vec::new(),
        missing_done: false,
        stream_ignored: false,
    })
}

/// The general path for a 2xx body that is not plainly a completion: an error object some
/// proxies send with 200, a body that is not JSON, or one whose fields have the wrong types.
fn parse_completion_slowly(bytes: &[u8], status: u16) -> Result<WireCompletion, LlmError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        malformed(
            status,
            format!(
                "reply is not JSON ({e}); it starts with {:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
            ),
        )
    })?;
    if value.get("choices").is_none()
        && let Some(body) = parse_error_value(&value)
    {
        // Some proxies answer 200 with an error object; classify it by its numeric code if it
        // carries one, as a server error otherwise.
        let code_status = body.code.as_deref().and_then(|c| c.parse::<u16>().ok());
        let class = classify_error(code_status.unwrap_or(500), &body);
        return Err(embedded_error(&value, status, class));
    }
    serde_json::from_value(value)
        .map_err(|e| malformed(status, format!("reply is not a chat completion: {e}")))
}
