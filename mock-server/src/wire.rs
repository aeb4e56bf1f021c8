//! OpenAI chat-completions wire types, owned by the mock server.
//!
//! Deliberately not shared with the harness's client: a schema mistake on one side must show up
//! as a failing test on the other. Requests are parsed leniently (unknown optional fields are
//! ignored, as OpenAI does); replies are written in OpenAI's exact shape.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::json;

/// A `POST /v1/chat/completions` body. Fields the mock does not use are ignored. Strings are
/// borrowed from the body where they hold no escapes.
#[derive(Debug, Deserialize)]
pub struct ChatRequest<'a> {
    /// Model name.
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub model: Option<Cow<'a, str>>,
    /// The conversation; `None` when missing (a 400, not a parse error).
    #[serde(borrow)]
    pub messages: Option<Vec<Message<'a>>>,
    /// Completion limit (legacy field).
    pub max_tokens: Option<i64>,
    /// Completion limit (newer field; wins over `max_tokens`).
    pub max_completion_tokens: Option<i64>,
    /// Stream the reply as server-sent events.
    #[serde(default, deserialize_with = "null_default")]
    pub stream: bool,
    /// Streaming options.
    pub stream_options: Option<StreamOptions>,
    /// Tools offered (native protocol), as their JSON text: an agent sends the same list with
    /// every request, so the server parses each distinct list once (see [`parse_tools`]).
    #[serde(default, borrow)]
    pub tools: Option<&'a RawValue>,
    /// `"none"`, `"auto"`, `"required"` or `{"type": "function", "function": {"name": ...}}`.
    pub tool_choice: Option<Value>,
    /// Choices wanted (only 1 is served).
    pub n: Option<i64>,
    /// Sampling temperature, checked against OpenAI's range `0..=2`.
    pub temperature: Option<f64>,
    /// Log probabilities wanted (not served).
    #[serde(default, deserialize_with = "null_default")]
    pub logprobs: bool,
    /// Top log probabilities per token (not served).
    pub top_logprobs: Option<i64>,
    /// `{"type": "text" | "json_object" | "json_schema", ...}`.
    pub response_format: Option<Value>,
    /// Stop sequences: a string or up to 4 strings.
    pub stop: Option<Value>,
    /// The deprecated `functions` list (not served: the mock speaks `tools`).
    #[serde(default, borrow)]
    pub functions: Option<&'a RawValue>,
    /// The deprecated `function_call` (not served).
    #[serde(default, borrow)]
    pub function_call: Option<&'a RawValue>,
    /// Whether a reply may hold several tool calls (default true).
    pub parallel_tool_calls: Option<bool>,
}

/// The tools of a request's `tools` text (`null` is none).
pub fn parse_tools(text: &str) -> Result<Vec<Tool>, serde_json::Error> {
    Ok(
        Option::<Vec<Tool>>::deserialize(&mut serde_json::Deserializer::from_str(text))?
            .unwrap_or_default(),
    )
}

/// An optional string borrowed from the body when it has no escapes. (Serde borrows a plain
/// `Cow<str>` field, but not one inside an `Option`.)
fn opt_cow<'de, D>(d: D) -> Result<Option<Cow<'de, str>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Borrowed<'de>>::deserialize(d)?.map(|b| b.0))
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
pub struct Message<'a> {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    #[serde(borrow)]
    pub role: Cow<'a, str>,
    /// A string, an array of content parts, or null.
    #[serde(default, borrow)]
    pub content: Content<'a>,
    /// Tool calls of an assistant message.
    #[serde(default, borrow, deserialize_with = "null_default")]
    pub tool_calls: Vec<RequestToolCall<'a>>,
    /// For a tool message, the call it answers.
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub tool_call_id: Option<Cow<'a, str>>,
}

/// Message content as OpenAI accepts it. Deserialized by hand: serde's untagged enums buffer
/// every value before trying variants, which costs an extra copy of each prompt.
#[derive(Debug, Default)]
pub enum Content<'a> {
    /// No content (assistant messages with tool calls).
    #[default]
    Null,
    /// Plain text, borrowed from the body unless it holds escapes.
    Text(Cow<'a, str>),
    /// Content parts; only `text` parts count.
    Parts(Vec<ContentPart>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Content<'a>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, an array of content parts, or null")
            }

            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Content<'a>, E> {
                Ok(Content::Text(Cow::Borrowed(v)))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Content<'a>, E> {
                Ok(Content::Text(Cow::Owned(v.to_string())))
            }

            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Content<'a>, E> {
                Ok(Content::Text(Cow::Owned(v)))
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<Content<'a>, E> {
                Ok(Content::Null)
            }

            fn visit_none<E: serde::de::Error>(self) -> Result<Content<'a>, E> {
                Ok(Content::Null)
            }

            fn visit_some<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Content<'a>, D::Error> {
                d.deserialize_any(self)
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Content<'a>, A::Error> {
                let mut parts = Vec::new();
                while let Some(p) = seq.next_element::<ContentPart>()? {
                    parts.push(p);
                }
                Ok(Content::Parts(parts))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// One content part.
#[derive(Debug, Deserialize)]
pub struct ContentPart {
    /// The part's text (`type: "text"`); other part types have none.
    pub text: Option<String>,
}

impl Content<'_> {
    /// The text of the content (parts joined without separator).
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Content::Null => "".into(),
            Content::Text(t) => Cow::Borrowed(t),
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
pub struct RequestToolCall<'a> {
    /// The call's id, which a later `tool` message answers.
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub id: Option<Cow<'a, str>>,
    /// The call's function.
    #[serde(borrow)]
    pub function: Option<FunctionCall<'a>>,
}

/// Function name and JSON-text arguments.
#[derive(Debug, Deserialize)]
pub struct FunctionCall<'a> {
    /// Function name.
    #[serde(default, borrow)]
    pub name: Cow<'a, str>,
    /// Arguments as JSON text.
    #[serde(default, borrow)]
    pub arguments: Cow<'a, str>,
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

// ---- the writers (see `json.rs`): the same bytes as the `Serialize` derives above ----

impl Usage {
    /// Appends this object's JSON.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"prompt_tokens\":");
        json::number(out, self.prompt_tokens);
        out.extend_from_slice(b",\"completion_tokens\":");
        json::number(out, self.completion_tokens);
        out.extend_from_slice(b",\"total_tokens\":");
        json::number(out, self.total_tokens);
        out.extend_from_slice(b",\"prompt_tokens_details\":{\"cached_tokens\":");
        json::number(out, self.prompt_tokens_details.cached_tokens);
        out.extend_from_slice(b",\"audio_tokens\":");
        json::number(out, self.prompt_tokens_details.audio_tokens);
        out.extend_from_slice(b"},\"completion_tokens_details\":{\"reasoning_tokens\":");
        json::number(out, self.completion_tokens_details.reasoning_tokens);
        out.extend_from_slice(b",\"audio_tokens\":");
        json::number(out, self.completion_tokens_details.audio_tokens);
        out.extend_from_slice(b"}}");
    }
}

impl ReplyToolCall {
    /// Appends this object's JSON.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"id\":");
        json::string(out, &self.id);
        out.extend_from_slice(b",\"type\":");
        json::string(out, self.kind);
        out.extend_from_slice(b",\"function\":{\"name\":");
        json::string(out, &self.function.name);
        out.extend_from_slice(b",\"arguments\":");
        json::string(out, &self.function.arguments);
        out.extend_from_slice(b"}}");
    }
}

impl Completion<'_> {
    /// Appends this reply's JSON.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let [choice] = &self.choices;
        let m = &choice.message;
        out.extend_from_slice(b"{\"id\":");
        json::string(out, self.id);
        out.extend_from_slice(b",\"object\":");
        json::string(out, self.object);
        out.extend_from_slice(b",\"created\":");
        json::number(out, self.created);
        out.extend_from_slice(b",\"model\":");
        json::string(out, self.model);
        out.extend_from_slice(b",\"choices\":[{\"index\":");
        json::number(out, u64::from(choice.index));
        out.extend_from_slice(b",\"message\":{\"role\":");
        json::string(out, m.role);
        out.extend_from_slice(b",\"content\":");
        json::opt_string(out, m.content);
        out.extend_from_slice(b",\"refusal\":null");
        if !m.tool_calls.is_empty() {
            out.extend_from_slice(b",\"tool_calls\":[");
            for (i, call) in m.tool_calls.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                call.write_json(out);
            }
            out.push(b']');
        }
        out.extend_from_slice(b"},\"logprobs\":null,\"finish_reason\":");
        json::string(out, choice.finish_reason);
        out.extend_from_slice(b"}],\"usage\":");
        self.usage.write_json(out);
        out.extend_from_slice(b",\"system_fingerprint\":");
        json::opt_string(out, self.system_fingerprint);
        out.push(b'}');
    }
}

/// Writes the chunks of one stream. Everything before `choices` is the same in every chunk of
/// a stream, so it is written once, when the stream starts.
pub struct ChunkWriter {
    /// `{"id":...,"object":...,"created":...,"model":...,"system_fingerprint":...,"choices":[`
    prefix: Vec<u8>,
}

impl ChunkWriter {
    /// The writer for chunks with these fields (see [`Chunk`]).
    pub fn new(
        id: &str,
        object: &str,
        created: u64,
        model: &str,
        system_fingerprint: Option<&str>,
    ) -> ChunkWriter {
        let mut prefix = Vec::with_capacity(160);
        prefix.extend_from_slice(b"{\"id\":");
        json::string(&mut prefix, id);
        prefix.extend_from_slice(b",\"object\":");
        json::string(&mut prefix, object);
        prefix.extend_from_slice(b",\"created\":");
        json::number(&mut prefix, created);
        prefix.extend_from_slice(b",\"model\":");
        json::string(&mut prefix, model);
        prefix.extend_from_slice(b",\"system_fingerprint\":");
        json::opt_string(&mut prefix, system_fingerprint);
        prefix.extend_from_slice(b",\"choices\":[");
        ChunkWriter { prefix }
    }

    /// Appends the JSON of a chunk with these choices and usage.
    pub fn write(&self, out: &mut Vec<u8>, choices: &[ChunkChoice<'_>], usage: Option<&Usage>) {
        out.extend_from_slice(&self.prefix);
        for (i, c) in choices.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"index\":");
            json::number(out, u64::from(c.index));
            out.extend_from_slice(b",\"delta\":");
            c.delta.write_json(out);
            out.extend_from_slice(b",\"logprobs\":null,\"finish_reason\":");
            json::opt_string(out, c.finish_reason);
            out.push(b'}');
        }
        out.push(b']');
        if let Some(usage) = usage {
            out.extend_from_slice(b",\"usage\":");
            usage.write_json(out);
        }
        out.push(b'}');
    }
}

#[cfg(test)]
impl Chunk<'_> {
    /// Appends this chunk's JSON (a stream uses one [`ChunkWriter`] for all its chunks).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        ChunkWriter::new(
            self.id,
            self.object,
            self.created,
            self.model,
            self.system_fingerprint,
        )
        .write(out, &self.choices, self.usage.as_ref());
    }
}

impl Delta<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        let mut first = true;
        let mut key = |out: &mut Vec<u8>, k: &[u8]| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            out.extend_from_slice(k);
        };
        if let Some(role) = self.role {
            key(out, b"\"role\":");
            json::string(out, role);
        }
        if let Some(content) = self.content {
            key(out, b"\"content\":");
            json::string(out, content);
        }
        if let Some([call]) = &self.tool_calls {
            key(out, b"\"tool_calls\":[{\"index\":");
            json::number(out, u64::from(call.index));
            if let Some(id) = call.id {
                out.extend_from_slice(b",\"id\":");
                json::string(out, id);
            }
            if let Some(kind) = call.kind {
                out.extend_from_slice(b",\"type\":");
                json::string(out, kind);
            }
            out.extend_from_slice(b",\"function\":{");
            if let Some(name) = call.function.name {
                out.extend_from_slice(b"\"name\":");
                json::string(out, name);
                out.push(b',');
            }
            out.extend_from_slice(b"\"arguments\":");
            json::string(out, call.function.arguments);
            out.extend_from_slice(b"}}]");
        }
        out.push(b'}');
    }
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

    fn same_as_serde<T: Serialize>(value: &T, written: Vec<u8>) {
        let want = serde_json::to_string(value).expect("serializes");
        assert_eq!(String::from_utf8(written).expect("UTF-8"), want);
    }

    /// The hand-written completion and chunk writers give serde_json's bytes, field for field.
    #[test]
    fn writers_match_the_serialize_derives() {
        let calls = [ReplyToolCall {
            id: "call_00ab".into(),
            kind: "function",
            function: ReplyFunction {
                name: "calculator".into(),
                arguments: r#"{"expression":"(2.5 + 3) * 4"}"#.into(),
            },
        }];
        let two = [calls[0].clone(), calls[0].clone()];
        for (content, tool_calls, fingerprint, finish) in [
            (
                Some("Final Answer: 777,000 VND.\nSay \"thanks\"."),
                &[][..],
                None,
                "stop",
            ),
            (None, &calls[..], None, "tool_calls"),
            (Some("Tôi 🚀 \u{1}"), &two[..], Some("fp_1"), "length"),
            (Some(""), &[][..], None, "stop"),
        ] {
            let c = Completion {
                id: "chatcmpl-9ad870b57940a53f00000000",
                object: "chat.completion",
                created: 1_796_152_610,
                model: "gpt-4.1",
                choices: [Choice {
                    index: 0,
                    message: ReplyMessage {
                        role: "assistant",
                        content,
                        refusal: None,
                        tool_calls,
                    },
                    logprobs: None,
                    finish_reason: finish,
                }],
                usage: Usage::new(1300, 1280, 40),
                system_fingerprint: fingerprint,
            };
            let mut out = Vec::new();
            c.write_json(&mut out);
            same_as_serde(&c, out);
        }

        let fragment = |id, kind, name, arguments| ToolCallDelta {
            index: 0,
            id,
            kind,
            function: FunctionDelta { name, arguments },
        };
        let deltas = [
            Delta {
                role: Some("assistant"),
                content: Some(""),
                tool_calls: None,
            },
            Delta {
                content: Some(" word \"quoted\"\n"),
                ..Delta::default()
            },
            Delta::default(),
            Delta {
                role: Some("assistant"),
                tool_calls: Some([fragment(
                    Some("call_1"),
                    Some("function"),
                    Some("search"),
                    "",
                )]),
                ..Delta::default()
            },
            Delta {
                tool_calls: Some([fragment(None, None, None, "{\"query\":")]),
                ..Delta::default()
            },
        ];
        for (i, delta) in deltas.into_iter().enumerate() {
            let chunk = Chunk {
                id: "chatcmpl-1",
                object: "chat.completion.chunk",
                created: 1_764_300_000,
                model: "gpt-4.1",
                system_fingerprint: None,
                choices: vec![ChunkChoice {
                    index: 0,
                    delta,
                    logprobs: None,
                    finish_reason: (i == 2).then_some("stop"),
                }],
                usage: None,
            };
            let mut out = Vec::new();
            chunk.write_json(&mut out);
            same_as_serde(&chunk, out);
        }
        let usage_chunk = Chunk {
            id: "chatcmpl-1",
            object: "chat.completion.chunk",
            created: 0,
            model: "m",
            system_fingerprint: Some("fp"),
            choices: Vec::new(),
            usage: Some(Usage::new(66, 0, 40)),
        };
        let mut out = Vec::new();
        usage_chunk.write_json(&mut out);
        same_as_serde(&usage_chunk, out);
    }

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
        assert!(!r.stream && r.tools.is_none());
        assert!(parse_tools("null").unwrap().is_empty());
    }
}
