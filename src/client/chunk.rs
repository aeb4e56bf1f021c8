//! One chunk of a chat stream (the JSON an SSE `data:` line carries), with its strings
//! borrowed from the event where they have no escapes, and [`chunk_head`]: the prefix every
//! chunk of a stream repeats, so that later chunks need only their rest parsed.

use std::borrow::Cow;

use serde::Deserialize;

use super::reply::{WireFunctionIn, WireUsage};

/// An optional string borrowed from the input when it has no escapes. (Serde borrows a plain
/// `Cow<str>` field but not one inside an `Option`.)
fn opt_cow<'de, D>(d: D) -> Result<Option<Cow<'de, str>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Borrowed<'de>>::deserialize(d)?.map(|b| b.0))
}

/// A list that some servers send as `null` when empty.
fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// One streamed chunk. Strings are borrowed from the event where they can be (no escapes):
/// a stream has one chunk per token.
#[derive(Deserialize)]
pub(super) struct WireChunk<'a> {
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub(super) model: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub(super) object: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    pub(super) choices: Vec<WireChunkChoice<'a>>,
    #[serde(default)]
    pub(super) usage: Option<WireUsage>,
    #[serde(default)]
    pub(super) error: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
pub(super) struct WireChunkChoice<'a> {
    #[serde(default, borrow)]
    pub(super) delta: Option<WireDelta<'a>>,
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub(super) finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(super) struct WireDelta<'a> {
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub(super) content: Option<Cow<'a, str>>,
    /// DeepSeek-R1, vLLM's reasoning parser.
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub(super) reasoning_content: Option<Cow<'a, str>>,
    /// Some gateways (OpenRouter).
    #[serde(default, borrow, deserialize_with = "opt_cow")]
    pub(super) reasoning: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(super) tool_calls: Option<Vec<WireToolCallDelta>>,
}

#[derive(Deserialize)]
pub(super) struct WireToolCallDelta {
    #[serde(default)]
    pub(super) index: Option<usize>,
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default)]
    pub(super) function: Option<WireFunctionIn>,
}

impl WireToolCallDelta {
    /// Whether the fragment holds any text of the call (an id, a name or arguments).
    pub(super) fn carries_tokens(&self) -> bool {
        let some = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
        some(&self.id)
            || self
                .function
                .as_ref()
                .is_some_and(|f| some(&f.name) || some(&f.arguments))
    }
}

/// The part of a chunk before `"choices":` (`{"id":...,"created":...,"model":...,`), when it is
/// a whole set of members that a later chunk needs nothing from: a stream repeats the same
/// bytes in every chunk, and identical bytes parse to identical values, so a later chunk that
/// starts with them needs only its rest parsed (`{` + rest is a JSON object of the remaining
/// members). That is about half of each chunk's parse (a streamed call's largest cost).
/// `None` when `"choices":` is not a top-level key of a head that parses on its own, or when
/// the head holds usage, an error or choices.
pub(super) fn chunk_head(data: &str) -> Option<Vec<u8>> {
    let pos = memchr::memmem::find(data.as_bytes(), b"\"choices\":")?;
    if pos < 2 || data.as_bytes()[pos - 1] != b',' {
        return None;
    }
    // The members before it, closed: parses only if `"choices"` was a key at the top level.
    let mut probe = String::with_capacity(pos);
    probe.push_str(&data[..pos - 1]);
    probe.push('}');
    let head: WireChunk<'_> = serde_json::from_str(&probe).ok()?;
    let clean = head.choices.is_empty()
        && head.usage.is_none()
        && head.error.is_none()
        && head.object.as_deref() != Some("error");
    clean.then(|| data.as_bytes()[..pos].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_strings_are_borrowed_unless_escaped() {
        let data =
            r#"{"model":"m","choices":[{"delta":{"content":"plain"},"finish_reason":"stop"}]}"#;
        let c: WireChunk<'_> = serde_json::from_str(data).unwrap();
        assert!(matches!(c.model, Some(Cow::Borrowed("m"))));
        let choice = &c.choices[0];
        let content = choice.delta.as_ref().and_then(|d| d.content.as_ref());
        assert!(matches!(content, Some(Cow::Borrowed("plain"))));
        assert!(matches!(choice.finish_reason, Some(Cow::Borrowed("stop"))));
        let data = r#"{"choices":[{"delta":{"content":"say \"hi\"\n"}}]}"#;
        let c: WireChunk<'_> = serde_json::from_str(data).unwrap();
        let content = c.choices[0].delta.as_ref().and_then(|d| d.content.clone());
        assert_eq!(content.as_deref(), Some("say \"hi\"\n"));
        let c: WireChunk<'_> = serde_json::from_str(r#"{"model":null,"choices":[]}"#).unwrap();
        assert!(c.model.is_none());
        // A usage chunk with `"choices": null` (some servers) is a usage chunk, not an error.
        let c: WireChunk<'_> = serde_json::from_str(
            r#"{"choices":null,"usage":{"prompt_tokens":3,"completion_tokens":2}}"#,
        )
        .unwrap();
        assert!(c.choices.is_empty() && c.usage.is_some());
    }
}
