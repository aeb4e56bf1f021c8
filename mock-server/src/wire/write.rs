//! Hand-written JSON writers for the replies sent on every request: the same bytes as the
//! `Serialize` derives in `reply.rs` (the tests pin them field for field), at a fraction of
//! serde_json's cost. The JSON primitives (escaping, numbers) are in `json.rs`.

#[cfg(test)]
use super::reply::Chunk;
use super::reply::{ChunkChoice, Completion, Delta, ReplyToolCall, Usage};
use crate::json;

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
    /// The writer for chunks with these fields (see [`Chunk`](super::Chunk)).
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

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::super::reply::*;

    fn same_as_serde<T: Serialize>(value: &T, written: Vec<u8>) {
        let want = serde_json::to_string(value).expect("serializes");
        assert_eq!(String::from_utf8(written).expect("UTF-8"), want);
    }

    /// The hand-written completion writer gives serde_json's bytes, field for field, with and
    /// without tool calls, content and fingerprint.
    #[test]
    fn completion_writer_matches_the_serialize_derive() {
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
    }

    /// The chunk writer gives serde_json's bytes for every kind of delta and the usage chunk.
    #[test]
    fn chunk_writer_matches_the_serialize_derive() {
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
}
