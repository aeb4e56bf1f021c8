//! The request's wire format: a [`ChatRequest`] as OpenAI's chat-completions JSON, written by
//! serde from borrowed views (no copy of a message), with the run's tool list serialized once.

use std::sync::Arc;

use serde::Serialize;

use crate::chat::{ChatMessage, ChatRequest, MaxTokensField, ToolSpec};

#[derive(Serialize)]
pub(super) struct WireRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessageOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    /// Serialized once per tool list (see [`ToolsJson`]): every request of a run offers the
    /// same tools, and writing their schemas out per call cost ~6 µs of CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'a serde_json::value::RawValue>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
struct WireMessageOut<'a> {
    role: &'static str,
    /// Plain string content (never an array of parts: older servers reject those); `null` only
    /// for an assistant message that holds nothing but tool calls, as OpenAI documents.
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireToolCallOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
}

#[derive(Serialize)]
struct WireToolCallOut<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunctionOut<'a>,
}

#[derive(Serialize)]
struct WireFunctionOut<'a> {
    name: &'a str,
    arguments: &'a str,
}

#[derive(Serialize)]
struct WireToolOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireToolFunction<'a>,
}

#[derive(Serialize)]
struct WireToolFunction<'a> {
    name: &'a str,
    description: &'a str,
    parameters: &'a serde_json::Value,
}

impl<'a> From<&'a ChatMessage> for WireMessageOut<'a> {
    fn from(m: &'a ChatMessage) -> Self {
        let content = match (&m.content, m.tool_calls.is_empty()) {
            (Some(c), _) => Some(c.as_str()),
            (None, false) => None,
            (None, true) => Some(""),
        };
        WireMessageOut {
            role: m.role.as_str(),
            content,
            tool_calls: m
                .tool_calls
                .iter()
                .map(|c| WireToolCallOut {
                    id: &c.id,
                    kind: "function",
                    function: WireFunctionOut {
                        name: &c.name,
                        arguments: &c.arguments,
                    },
                })
                .collect(),
            tool_call_id: m.tool_call_id.as_deref(),
        }
    }
}

impl<'a> WireRequest<'a> {
    /// The wire form of `r`, with its tools already serialized (`None` when it has none).
    pub(super) fn new(r: &'a ChatRequest, tools: Option<&'a serde_json::value::RawValue>) -> Self {
        let (max_tokens, max_completion_tokens) = match r.max_tokens_field {
            MaxTokensField::MaxTokens => (r.max_tokens, None),
            MaxTokensField::MaxCompletionTokens => (None, r.max_tokens),
        };
        WireRequest {
            model: &r.model,
            messages: r.messages.iter().map(WireMessageOut::from).collect(),
            max_tokens,
            max_completion_tokens,
            tools,
            stream: r.stream,
            stream_options: r.stream.then_some(StreamOptions {
                include_usage: true,
            }),
            stop: &r.stop,
        }
    }
}

/// The request's `tools` array as JSON text.
fn tools_raw(tools: &[ToolSpec]) -> Result<Box<serde_json::value::RawValue>, serde_json::Error> {
    let wire: Vec<WireToolOut<'_>> = tools
        .iter()
        .map(|t| WireToolOut {
            kind: "function",
            function: WireToolFunction {
                name: &t.name,
                description: &t.description,
                parameters: &t.parameters,
            },
        })
        .collect();
    serde_json::value::to_raw_value(&wire)
}

/// The last tool list serialized, remembered by identity (`Arc::ptr_eq`): the agent builds one
/// list per run and every request shares it, so this is computed once. Holding the `Arc` keeps
/// its address from being reused by another list.
#[derive(Default)]
pub(super) struct ToolsJson(std::sync::Mutex<Option<SerializedTools>>);

/// A tool list and its JSON text.
type SerializedTools = (Arc<[ToolSpec]>, Arc<serde_json::value::RawValue>);

impl ToolsJson {
    pub(super) fn get(
        &self,
        tools: &Arc<[ToolSpec]>,
    ) -> Result<Option<Arc<serde_json::value::RawValue>>, serde_json::Error> {
        if tools.is_empty() {
            return Ok(None);
        }
        let mut cached = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((list, json)) = cached.as_ref()
            && Arc::ptr_eq(list, tools)
        {
            return Ok(Some(Arc::clone(json)));
        }
        let json: Arc<serde_json::value::RawValue> = Arc::from(tools_raw(tools)?);
        *cached = Some((Arc::clone(tools), Arc::clone(&json)));
        Ok(Some(json))
    }
}

/// The JSON body `chat` sends for `req` (for tests and debugging tools).
pub fn request_json(req: &ChatRequest) -> serde_json::Value {
    let tools = ToolsJson::default().get(&req.tools).ok().flatten();
    serde_json::to_value(WireRequest::new(req, tools.as_deref())).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::chat::ToolCall;

    /// A request with a tool call and its answer in the history (shared with the stream tests).
    pub(in crate::client) fn req(stream: bool, field: MaxTokensField) -> ChatRequest {
        ChatRequest {
            model: "gpt-4.1".into(),
            messages: vec![
                ChatMessage::text(crate::chat::Role::User, "hi"),
                ChatMessage {
                    role: crate::chat::Role::Assistant,
                    content: None,
                    tool_calls: vec![ToolCall {
                        id: "c1".into(),
                        name: "calc".into(),
                        arguments: "{}".into(),
                    }],
                    tool_call_id: None,
                },
                ChatMessage::tool_result("c1", "4"),
            ],
            max_tokens: Some(100),
            max_tokens_field: field,
            tools: Vec::new().into(),
            stream,
            stop: Default::default(),
        }
    }

    #[test]
    fn request_body_shape() {
        let j = request_json(&req(true, MaxTokensField::MaxTokens));
        assert_eq!(j["max_tokens"], 100);
        assert!(j.get("max_completion_tokens").is_none());
        assert_eq!(j["stream_options"]["include_usage"], true);
        assert_eq!(j["messages"][0]["content"], "hi");
        assert!(j["messages"][1]["content"].is_null());
        assert_eq!(
            j["messages"][1]["tool_calls"][0]["function"]["name"],
            "calc"
        );
        assert_eq!(j["messages"][2]["tool_call_id"], "c1");
        assert!(j.get("tools").is_none());
        let j = request_json(&req(false, MaxTokensField::MaxCompletionTokens));
        assert_eq!(j["max_completion_tokens"], 100);
        assert!(j.get("max_tokens").is_none());
        assert!(j.get("stream_options").is_none());
        assert_eq!(j["stream"], false);
    }

    #[test]
    fn tool_lists_are_serialized_once_per_list() {
        let spec = |name: &str| ToolSpec {
            name: name.to_string(),
            description: format!("{name} tool"),
            parameters: serde_json::json!({"type": "object", "required": ["q"]}),
        };
        let a: Arc<[ToolSpec]> = Arc::from(vec![spec("search")]);
        let b: Arc<[ToolSpec]> = Arc::from(vec![spec("lookup")]);
        let cache = ToolsJson::default();
        let first = cache.get(&a).unwrap().unwrap();
        assert!(
            Arc::ptr_eq(&first, &cache.get(&a).unwrap().unwrap()),
            "reused"
        );
        let other = cache.get(&b).unwrap().unwrap();
        assert!(other.get().contains("\"lookup\"") && !other.get().contains("search"));
        assert!(cache.get(&Arc::from(Vec::new())).unwrap().is_none());
        // The cached text is exactly what the request body carries.
        let mut r = req(false, MaxTokensField::MaxTokens);
        r.tools = Arc::clone(&a);
        let body = request_json(&r);
        let from_cache: serde_json::Value = serde_json::from_str(first.get()).unwrap();
        assert_eq!(body["tools"], from_cache);
        assert_eq!(body["tools"][0]["function"]["name"], "search");
        assert_eq!(body["tools"][0]["type"], "function");
    }
}
