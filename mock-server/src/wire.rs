//! OpenAI chat-completions wire types, owned by the mock server.
//!
//! Deliberately not shared with the harness's client: a schema mistake on one side must show up
//! as a failing test on the other. Requests are parsed leniently (unknown optional fields are
//! ignored, as OpenAI does); replies are written in OpenAI's exact shape.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A `POST /v1/chat/completions` body. Fields the mock does not use are ignored.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    /// Model name.
    pub model: Option<String>,
    /// The conversation; `None` when missing (a 400, not a parse error).
    pub messages: Option<Vec<Message>>,
    /// Completion limit (legacy field).
    pub max_tokens: Option<i64>,
    /// Completion limit (newer field; wins over `max_tokens`).
    pub max_completion_tokens: Option<i64>,
    /// Stream the reply as server-sent events.
    #[serde(default, deserialize_with = "null_default")]
    pub stream: bool,
    /// Streaming options.
    pub stream_options: Option<StreamOptions>,
    /// Tools offered (native protocol).
    #[serde(default, deserialize_with = "null_default")]
    pub tools: Vec<Tool>,
    /// `"none"`, `"auto"`, `"required"` or `{"type": "function", "function": {"name": ...}}`.
    pub tool_choice: Option<Value>,
}

/// Clients send `null` for optional fields they leave unset: read it as the default.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `stream_options`.
#[derive(Debug, Deserialize)]
pub struct StreamOptions {
    /// Send a final chunk with `usage` and no choices.
    #[serde(default)]
    pub include_usage: bool,
}

/// One request message.
#[derive(Debug, Deserialize)]
pub struct Message {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// A string, an array of content parts, or null.
    #[serde(default)]
    pub content: Content,
    /// Tool calls of an assistant message.
    #[serde(default, deserialize_with = "null_default")]
    pub tool_calls: Vec<RequestToolCall>,
    /// For a tool message, the call it answers.
    pub tool_call_id: Option<String>,
}

/// Message content as OpenAI accepts it. Deserialized by hand: serde's untagged enums buffer
/// every value before trying variants, which costs an extra copy of each prompt.
#[derive(Debug, Default)]
pub enum Content {
    /// No content (assistant messages with tool calls).
    #[default]
    Null,
    /// Plain text.
    Text(String),
    /// Content parts; only `text` parts count.
    Parts(Vec<ContentPart>),
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Content;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, an array of content parts, or null")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Content, E> {
                Ok(Content::Text(v.to_string()))
            }

            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Content, E> {
                Ok(Content::Text(v))
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<Content, E> {
                Ok(Content::Null)
            }

            fn visit_none<E: serde::de::Error>(self) -> Result<Content, E> {
                Ok(Content::Null)
            }

            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Content, D::Error> {
                d.deserialize_any(V)
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Content, A::Error> {
                let mut parts = Vec::new();
                while let Some(p) = seq.next_element::<ContentPart>()? {
                    parts.push(p);
                }
                Ok(Content::Parts(parts))
            }
        }
        d.deserialize_any(V)
    }
}

/// One content part.
#[derive(Debug, Deserialize)]
pub struct ContentPart {
    /// The part's text (`type: "text"`); other part types have none.
    pub text: Option<String>,
}

impl Content {
    /// The text of the content (parts joined without separator).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Content::Null => "".into(),
            Content::Text(t) => t.as_str().into(),
            Content::Parts(p) => p
                .iter()
                .filter_map(|p| p.text.as_deref())
                .collect::<String>()
                .into(),
        }
    }
}

/// A tool call inside a request's assistant message.
#[derive(Debug, Deserialize)]
pub struct RequestToolCall {
    /// The call's function.
    pub function: Option<FunctionCall>,
}

/// Function name and JSON-text arguments.
#[derive(Debug, Deserialize)]
pub struct FunctionCall {
    /// Function name.
    #[serde(default)]
    pub name: String,
    /// Arguments as JSON text.
    #[serde(default)]
    pub arguments: String,
}

/// A tool offered in `tools`.
#[derive(Debug, Deserialize)]
pub struct Tool {
    /// The function (only `type: "function"` tools exist).
    pub function: ToolFunction,
}

/// A function offered as a tool.
#[derive(Debug, Deserialize)]
pub struct ToolFunction {
    /// Its name.
    pub name: String,
    /// JSON schema of its arguments, kept as text: it is read only when a reply calls the
    /// tool, and building a `Value` tree of every schema in every request was the largest
    /// part of parsing a native-protocol request.
    pub parameters: Option<Box<serde_json::value::RawValue>>,
}

/// `usage` of a reply.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Usage {
    /// Input tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
    /// Breakdown of the input.
    pub prompt_tokens_details: PromptTokensDetails,
    /// Breakdown of the output.
    pub completion_tokens_details: CompletionTokensDetails,
}

/// `usage.prompt_tokens_details`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct PromptTokensDetails {
    /// Input tokens billed at the cached price.
    pub cached_tokens: u64,
    /// Always 0.
    pub audio_tokens: u64,
}

/// `usage.completion_tokens_details`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct CompletionTokensDetails {
    /// Always 0: the mock does not reason.
    pub reasoning_tokens: u64,
    /// Always 0.
    pub audio_tokens: u64,
}

impl Usage {
    /// Usage from the three counts.
    pub fn new(prompt: u64, cached: u64, completion: u64) -> Usage {
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            prompt_tokens_details: PromptTokensDetails {
                cached_tokens: cached,
                audio_tokens: 0,
            },
            completion_tokens_details: CompletionTokensDetails {
                reasoning_tokens: 0,
                audio_tokens: 0,
            },
        }
    }
}

/// A non-streaming reply (`object: "chat.completion"`).
#[derive(Debug, Serialize)]
pub struct Completion<'a> {
    /// `chatcmpl-...`.
    pub id: &'a str,
    /// Always `chat.completion`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: u64,
    /// The model asked for.
    pub model: &'a str,
    /// One choice.
    pub choices: [Choice<'a>; 1],
    /// Token counts.
    pub usage: Usage,
    /// Always null.
    pub system_fingerprint: Option<&'static str>,
}

/// A reply choice.
#[derive(Debug, Serialize)]
pub struct Choice<'a> {
    /// Always 0.
    pub index: u32,
    /// The assistant message.
    pub message: ReplyMessage<'a>,
    /// Always null.
    pub logprobs: Option<()>,
    /// `stop`, `length` or `tool_calls`.
    pub finish_reason: &'static str,
}

/// The assistant message of a reply.
#[derive(Debug, Serialize)]
pub struct ReplyMessage<'a> {
    /// Always `assistant`.
    pub role: &'static str,
    /// Text, or null with tool calls.
    pub content: Option<&'a str>,
    /// Always null.
    pub refusal: Option<()>,
    /// Tool calls, omitted when none.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub tool_calls: &'a [ReplyToolCall],
}

/// A tool call in a reply.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplyToolCall {
    /// `call_...`.
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Name and arguments.
    pub function: ReplyFunction,
}

/// Function of a reply tool call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplyFunction {
    /// Function name.
    pub name: String,
    /// Arguments as a JSON string.
    pub arguments: String,
}

/// One streaming event (`object: "chat.completion.chunk"`).
#[derive(Debug, Serialize)]
pub struct Chunk<'a> {
    /// Same id for every chunk of a stream.
    pub id: &'a str,
    /// Always `chat.completion.chunk`.
    pub object: &'static str,
    /// Unix seconds, the same for every chunk.
    pub created: u64,
    /// The model asked for.
    pub model: &'a str,
    /// Always null.
    pub system_fingerprint: Option<&'static str>,
    /// One choice, or none in the usage chunk.
    pub choices: Vec<ChunkChoice<'a>>,
    /// Only in the usage chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// A streaming choice.
#[derive(Debug, Serialize)]
pub struct ChunkChoice<'a> {
    /// Always 0.
    pub index: u32,
    /// What this chunk adds.
    pub delta: Delta<'a>,
    /// Always null.
    pub logprobs: Option<()>,
    /// Null but in the finish chunk.
    pub finish_reason: Option<&'static str>,
}

/// The delta of a streaming choice; absent fields are omitted.
#[derive(Debug, Default, Serialize)]
pub struct Delta<'a> {
    /// `assistant` in the first chunk only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    /// A piece of text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
    /// Tool-call fragments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

/// A tool-call fragment: the first carries `id`, `type` and the name, later ones argument text.
#[derive(Debug, Serialize)]
pub struct ToolCallDelta<'a> {
    /// Which call this fragment belongs to.
    pub index: u32,
    /// Only in the first fragment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    /// `function`, only in the first fragment.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// Name (first fragment) or argument text.
    pub function: FunctionDelta<'a>,
}

/// Function part of a tool-call fragment.
#[derive(Debug, Serialize)]
pub struct FunctionDelta<'a> {
    /// Only in the first fragment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// A piece of the arguments' JSON text.
    pub arguments: &'a str,
}

/// OpenAI's error body: `{"error": {...}}`.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// The error.
    pub error: ErrorDetail<'a>,
}

/// The error object.
#[derive(Debug, Serialize)]
pub struct ErrorDetail<'a> {
    /// Human message.
    pub message: &'a str,
    /// `invalid_request_error`, `server_error`, `insufficient_quota`, `requests`, `tokens` ...
    #[serde(rename = "type")]
    pub kind: &'a str,
    /// The offending parameter, if any.
    pub param: Option<&'a str>,
    /// Machine-readable code (`context_length_exceeded`, `rate_limit_exceeded` ...), if any.
    pub code: Option<&'a str>,
}

/// `GET /v1/models` entry.
#[derive(Debug, Serialize)]
pub struct ModelEntry<'a> {
    /// Model name.
    pub id: &'a str,
    /// Always `model`.
    pub object: &'static str,
    /// Fixed timestamp.
    pub created: u64,
    /// Always `reactbench-mock`.
    pub owned_by: &'static str,
}

/// `GET /v1/models` body.
#[derive(Debug, Serialize)]
pub struct ModelList<'a> {
    /// Always `list`.
    pub object: &'static str,
    /// The models.
    pub data: Vec<ModelEntry<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_forms() {
        let ms: Vec<Message> = serde_json::from_str(
            r#"[{"role":"user","content":"hi"},{"role":"assistant","content":null},
            {"role":"assistant"},{"role":"user","content":[{"type":"text","text":"a"},
            {"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"b"}]}]"#,
        )
        .expect("all OpenAI content forms parse");
        let texts: Vec<String> = ms.iter().map(|m| m.content.text().into_owned()).collect();
        assert_eq!(texts, ["hi", "", "", "ab"]);
        assert!(serde_json::from_str::<Message>(r#"{"role":"user","content":5}"#).is_err());
        let r: ChatRequest =
            serde_json::from_str(r#"{"model":"m","messages":[],"stream":null,"tools":null}"#)
                .expect("nulls read as defaults");
        assert!(!r.stream && r.tools.is_empty());
    }
}
