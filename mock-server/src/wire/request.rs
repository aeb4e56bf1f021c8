//! What the mock reads: a chat request, borrowing its strings from the body where they hold
//! no escapes, with `null` read as the default wherever clients send it for "unset".

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

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
    /// What it does (billed as prompt tokens).
    #[serde(default)]
    pub description: Option<String>,
    /// JSON schema of its arguments, kept as text: it is read only when a reply calls the
    /// tool, and building a `Value` tree of every schema in every request was the largest
    /// part of parsing a native-protocol request.
    pub parameters: Option<Box<serde_json::value::RawValue>>,
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
        assert!(!r.stream && r.tools.is_none());
        assert!(parse_tools("null").unwrap().is_empty());
    }
}
