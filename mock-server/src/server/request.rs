//! A chat request from bytes to checked values: the body read within its limit, parsed (a
//! `tools` list seen before is cut out first), and checked in OpenAI's order, each refusal
//! worded as OpenAI words it.
//!
//! Nothing here waits but the body read, draws randomness or touches the counters: the
//! handler decides what a refusal means for the stats.

// A refusal is the reply itself (`Step`'s error), returned once and sent: boxing it would add
// an allocation to every refused request to save a move of 128 bytes.
#![allow(clippy::result_large_err)]

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header;
use hyper::{Request, Response, StatusCode};

use super::respond::{Body, Step, error, invalid};
use super::tool_cache::ToolCache;
use crate::config::{MockConfig, ModelSettings};
use crate::members;
use crate::script::ScriptInput;
use crate::stats::Outcome;
use crate::validate::{self, ReplyOptions};
use crate::wire::{ChatRequest, Message, Tool};

/// The roles a message may have.
const ROLES: [&str; 5] = ["system", "developer", "user", "assistant", "tool"];

/// The body, read whole; a 413 when it is larger than `limit` (by its `content-length` before
/// reading, or as it arrives). An error when the client broke the connection mid-body: there
/// is nothing to answer then.
pub async fn read_body(req: Request<Incoming>, limit: u64) -> io::Result<Step<Bytes>> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Ok(Err(too_large(limit)));
    }
    match Limited::new(req.into_body(), limit as usize)
        .collect()
        .await
    {
        Ok(c) => Ok(Ok(c.to_bytes())),
        Err(e) if e.is::<LengthLimitError>() => Ok(Err(too_large(limit))),
        Err(e) => Err(io::Error::other(e)),
    }
}

fn too_large(limit: u64) -> Response<Body> {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            "Request body is larger than the mock server's limit of {limit} bytes; send a \
             smaller request or raise `max_body_bytes`."
        ),
        "invalid_request_error",
        None,
        Some("request_too_large"),
    )
}

/// A parsed request and its tools.
pub struct Parsed<'a> {
    /// The request, borrowing from the body (or from the body without its `tools`).
    pub request: ChatRequest<'a>,
    /// The tools offered (none when `tools` is absent or null).
    pub tools: Arc<[Tool]>,
}

/// Parses the body; a 400 when it is not a JSON request or its `tools` are malformed. `rest`
/// holds the body without its `tools` member when that list was seen before.
pub fn parse<'a>(cache: &ToolCache, body: &'a [u8], rest: &'a mut String) -> Step<Parsed<'a>> {
    // UTF-8 is checked once for the whole body, then the JSON is parsed as text: `from_slice`
    // checks every string on its own, which cost a fifth of parsing a request.
    let text = std::str::from_utf8(body).ok();
    let fast = match text {
        Some(text) => without_known_tools(cache, text, rest),
        None => None,
    };
    let (parsed, known_tools) = match (fast, text) {
        (Some((request, tools)), _) => (Ok(request), Some(tools)),
        (None, Some(text)) => (serde_json::from_str::<ChatRequest>(text), None),
        (None, None) => (serde_json::from_slice::<ChatRequest>(body), None),
    };
    let request = match parsed {
        Ok(r) => r,
        Err(e) => {
            return Err(invalid(
                &format!(
                    "We could not parse the JSON body of your request ({e}). Send a JSON object \
                     with `model` and `messages`."
                ),
                None,
                None,
            ));
        }
    };
    let tools = match (known_tools, request.tools) {
        (Some(tools), _) => tools,
        (None, None) => Arc::from(Vec::new()),
        (None, Some(raw)) => match cache.get(raw.get()) {
            Ok(tools) => tools,
            Err(e) => {
                return Err(invalid(
                    &format!(
                        "We could not parse the JSON body of your request (tools: {e}). Send \
                         `tools` as an array of {{\"type\": \"function\", \"function\": \
                         {{\"name\": ...}}}} objects."
                    ),
                    Some("tools"),
                    None,
                ));
            }
        },
    };
    Ok(Parsed { request, tools })
}

/// The request parsed without its `tools` member, when that member is a list seen before.
///
/// A known list is cut out and the rest parsed alone (see `members`): the list is most of the
/// request, and parsing it again would only find it valid again. Anything unexpected (an
/// error, or a second `tools` the scan did not see) gives `None`, and the whole body is
/// parsed, which also words the error from the body as it was sent.
fn without_known_tools<'a>(
    cache: &ToolCache,
    text: &'a str,
    rest: &'a mut String,
) -> Option<(ChatRequest<'a>, Arc<[Tool]>)> {
    let mut tools_seen = None;
    let member = members::find(text, "tools", |value| {
        let (len, tools) = cache.known_prefix(value)?;
        tools_seen = Some(tools);
        Some(len)
    })?;
    let tools = tools_seen?;
    *rest = [&text[..member.cut.start], &text[member.cut.end..]].concat();
    let rest: &'a String = rest;
    let request = serde_json::from_str::<ChatRequest>(rest)
        .ok()
        .filter(|r| r.tools.is_none())?;
    Some((request, tools))
}

/// A request that passed every check, with the values the reply needs.
pub struct Checked<'r> {
    /// The model asked for, which the mock serves.
    pub model: &'r str,
    /// The conversation, at least one message, every role known.
    pub messages: &'r [Message<'r>],
    /// `max_completion_tokens`, else `max_tokens`; at least 1 when set.
    pub max_tokens: Option<u64>,
    /// What the reply must honour (`stop`, `json_object`).
    pub options: ReplyOptions,
    /// `None` for a whole reply; for a stream, whether it ends with a usage chunk
    /// (`stream_options.include_usage`).
    pub stream: Option<bool>,
}

/// Checks the fields in OpenAI's order, then that the model is served; a 400 (or the 404 of an
/// unknown model) for the first that fails. The outcome gets the model and `stream` as soon as
/// the model is known, so the refusals after that are counted for it.
pub fn check<'r>(
    request: &'r ChatRequest<'_>,
    tools: &[Tool],
    config: &MockConfig,
    outcome: &mut Outcome<'r>,
) -> Step<Checked<'r>> {
    let Some(model) = request.model.as_deref() else {
        return Err(invalid(
            "Missing required parameter: 'model'.",
            Some("model"),
            Some("missing_required_parameter"),
        ));
    };
    outcome.model = Some(model);
    outcome.stream = Some(request.stream);
    let messages = check_messages(request.messages.as_deref())?;
    let max_tokens = match request.max_completion_tokens.or(request.max_tokens) {
        Some(n) if n < 1 => {
            return Err(invalid(
                &format!("Invalid 'max_tokens': {n}; use an integer of at least 1."),
                Some("max_tokens"),
                Some("integer_below_min_value"),
            ));
        }
        other => other.map(|n| n as u64),
    };
    let options = validate::check(request, messages, tools)
        .map_err(|e| invalid(&e.message, e.param.as_deref(), Some(e.code)))?;
    if !config.serves(model) {
        return Err(error(
            StatusCode::NOT_FOUND,
            &format!(
                "The model `{model}` does not exist or you do not have access to it. Name it in \
                 the mock's `models` or set `accept_any_model = true`."
            ),
            "invalid_request_error",
            Some("model"),
            Some("model_not_found"),
        ));
    }
    let stream = request.stream.then(|| {
        request
            .stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage)
    });
    Ok(Checked {
        model,
        messages,
        max_tokens,
        options,
        stream,
    })
}

/// The messages, when present, not empty and of known roles.
fn check_messages<'r>(messages: Option<&'r [Message<'r>]>) -> Step<&'r [Message<'r>]> {
    let Some(messages) = messages else {
        return Err(invalid(
            "Missing required parameter: 'messages'.",
            Some("messages"),
            Some("missing_required_parameter"),
        ));
    };
    if messages.is_empty() {
        return Err(invalid(
            "'messages' must hold at least one message.",
            Some("messages"),
            Some("empty_array"),
        ));
    }
    if let Some((i, m)) = messages
        .iter()
        .enumerate()
        .find(|(_, m)| !ROLES.contains(&m.role.as_ref()))
    {
        return Err(invalid(
            &format!(
                "Invalid value: '{}' in messages[{i}].role. Supported values are: 'system', \
                 'developer', 'user', 'assistant', and 'tool'.",
                m.role
            ),
            Some("messages"),
            Some("invalid_value"),
        ));
    }
    Ok(messages)
}

impl<'r> Checked<'r> {
    /// A 400 `context_length_exceeded` when the prompt plus `max_tokens` do not fit the
    /// model's context window.
    pub fn fits_context(&self, settings: &ModelSettings, prompt_tokens: u64) -> Step<()> {
        let completion = self.max_tokens.unwrap_or(0);
        let requested = prompt_tokens + completion;
        if requested <= settings.context_window {
            return Ok(());
        }
        Err(invalid(
            &format!(
                "This model's maximum context length is {} tokens. However, you requested {} \
                 tokens ({} in the messages, {} in the completion). Please reduce the length of \
                 the messages or completion.",
                settings.context_window, requested, prompt_tokens, completion
            ),
            Some("messages"),
            Some("context_length_exceeded"),
        ))
    }

    /// What the script reads from the request.
    pub fn script_input<'s>(
        &'s self,
        request: &'s ChatRequest<'_>,
        tools: &'s [Tool],
    ) -> ScriptInput<'s> {
        ScriptInput {
            messages: self.messages,
            tools,
            tool_choice: request.tool_choice.as_ref(),
            max_tokens: self.max_tokens,
            want_pieces: request.stream,
            stop: &self.options.stop,
            json_object: self.options.json_object,
            parallel_tool_calls: request.parallel_tool_calls != Some(false),
        }
    }
}
