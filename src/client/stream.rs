//! A streamed reply: the state a chat stream builds up chunk by chunk (content, reasoning,
//! tool calls assembled from fragments, usage, TTFT and the gaps between token chunks), and
//! [`StreamDecoder`], which feeds it from body bytes through the SSE parser.

use std::borrow::Cow;
use std::time::Duration;

use tokio::time::Instant;

use super::chunk::{WireChunk, WireToolCallDelta, chunk_head};
use super::estimate::{estimate_usage, estimate_usage_async};
use super::llm_error::{LlmError, embedded_error, malformed, truncate};
use super::sse::{SseEventRef, SseParser};
use crate::chat::{ChatReply, ChatRequest, ToolCall, Usage};
use crate::record::ErrorClass;

/// A tool call being assembled from streamed fragments.
#[derive(Default)]
struct PartialCall {
    index: usize,
    id: String,
    name: String,
    arguments: String,
}

/// What a stream has delivered so far.
struct StreamState {
    start: Instant,
    model: Option<String>,
    content: Option<String>,
    /// Reasoning text, kept only to count it when the server sends no usage.
    reasoning: Option<String>,
    calls: Vec<PartialCall>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    done: bool,
    /// First token of any kind (reasoning included).
    ttft: Option<Duration>,
    /// First answer token (content or tool call).
    ttft_answer: Option<Duration>,
    last_delta: Option<Instant>,
    gaps_us: Vec<u32>,
    /// What every chunk of this stream has begun with so far, up to `"choices":` (see
    /// [`chunk_head`]); `None` until a chunk taught it, or when the stream's chunks have none.
    head: Option<Vec<u8>>,
    /// `{` and the rest of a chunk after its head, reused.
    rest: String,
}

impl StreamState {
    fn new(start: Instant) -> Self {
        StreamState {
            start,
            model: None,
            content: None,
            reasoning: None,
            calls: Vec::new(),
            finish_reason: None,
            usage: None,
            done: false,
            ttft: None,
            ttft_answer: None,
            last_delta: None,
            gaps_us: Vec::new(),
            head: None,
            rest: String::new(),
        }
    }

    /// Notes the arrival of a chunk that carried tokens (content, reasoning or tool-call
    /// delta; `answer` for the first two... of content or tool calls) for TTFT and the gaps
    /// between such chunks. Chunks without tokens (role-only, usage-only, empty) are not the
    /// ends of a gap.
    fn token_arrived(&mut self, answer: bool) {
        let now = Instant::now();
        if answer && self.ttft_answer.is_none() {
            self.ttft_answer = Some(now - self.start);
        }
        match self.last_delta {
            None => self.ttft = Some(now - self.start),
            Some(prev) => {
                let gap = (now - prev).as_micros();
                self.gaps_us.push(u32::try_from(gap).unwrap_or(u32::MAX));
            }
        }
        self.last_delta = Some(now);
    }

    fn tool_fragment(&mut self, frag: WireToolCallDelta) {
        // Servers that omit `index` send one call at a time: a new id starts a new call.
        let index = frag
            .index
            .unwrap_or_else(|| match (&frag.id, self.calls.last()) {
                (Some(id), Some(last)) if !last.id.is_empty() && *id != last.id => last.index + 1,
                (_, Some(last)) => last.index,
                (_, None) => 0,
            });
        let pos = match self.calls.iter().position(|c| c.index == index) {
            Some(p) => p,
            None => {
                self.calls.push(PartialCall {
                    index,
                    ..PartialCall::default()
                });
                self.calls.len() - 1
            }
        };
        let call = &mut self.calls[pos];
        if let Some(id) = frag.id
            && !id.is_empty()
        {
            call.id = id;
        }
        if let Some(f) = frag.function {
            // OpenAI sends the name once; some servers repeat the whole name in every fragment.
            if let Some(n) = f.name
                && n != call.name
            {
                call.name.push_str(&n);
            }
            if let Some(a) = f.arguments {
                call.arguments.push_str(&a);
            }
        }
    }

    /// Applies one `data:` payload; `Ok(true)` once `[DONE]` arrived.
    #[cfg(test)]
    fn apply(&mut self, ev: &super::sse::SseEvent, status: u16) -> Result<bool, LlmError> {
        self.apply_ref(ev.borrowed(), status)
    }

    /// Applies every complete event `parser` holds; `Ok(true)` once `[DONE]` arrived.
    fn apply_events(&mut self, parser: &mut SseParser, status: u16) -> Result<bool, LlmError> {
        while let Some(ev) = parser.next_event_ref().map_err(|m| malformed(status, m))? {
            if self.apply_ref(ev, status)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// At the end of the body: the last event, if the server did not end it with a blank line.
    fn apply_last(&mut self, parser: &mut SseParser, status: u16) -> Result<(), LlmError> {
        if let Some(ev) = parser.finish().map_err(|m| malformed(status, m))? {
            self.apply_ref(ev.borrowed(), status)?;
        }
        Ok(())
    }

    /// Applies one event; `Ok(true)` once `[DONE]` arrived.
    fn apply_ref(&mut self, ev: SseEventRef<'_>, status: u16) -> Result<bool, LlmError> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(true);
        }
        if data.is_empty() {
            return Ok(false);
        }
        let is_error_event = ev.event == Some("error");
        // A chunk that begins with the stream's head: only the rest is parsed (the head's
        // values are the first chunk's). Anything that does not parse that way takes the
        // whole-chunk path below, which also words the errors.
        let mut rest = std::mem::take(&mut self.rest);
        let split = match &self.head {
            Some(head) if !is_error_event && data.as_bytes().starts_with(head) => {
                rest.clear();
                rest.push('{');
                rest.push_str(&data[head.len()..]);
                serde_json::from_str::<WireChunk<'_>>(&rest).ok()
            }
            _ => None,
        };
        let result = match split {
            Some(chunk) => self.take_chunk(chunk, data, status),
            None => self.apply_whole(data, is_error_event, status),
        };
        self.rest = rest;
        result
    }

    /// [`StreamState::apply`] for a chunk parsed whole; learns the stream's head from it.
    fn apply_whole(
        &mut self,
        data: &str,
        is_error_event: bool,
        status: u16,
    ) -> Result<bool, LlmError> {
        let chunk: WireChunk = match serde_json::from_str(data) {
            Ok(c) if !is_error_event => c,
            parsed => {
                let value = serde_json::from_str::<serde_json::Value>(data).ok();
                return Err(match (value, parsed.is_ok() || is_error_event) {
                    (Some(v), _) => embedded_error(&v, status, ErrorClass::StreamCut),
                    (None, true) => LlmError {
                        status: Some(status),
                        ..LlmError::local(ErrorClass::StreamCut, truncate(data.to_string()))
                    },
                    (None, false) => malformed(
                        status,
                        format!(
                            "stream chunk is not JSON: {:?}",
                            // Cut on a character boundary: the chunk may be any UTF-8 text.
                            data.chars().take(80).collect::<String>()
                        ),
                    ),
                });
            }
        };
        if self.head.is_none() && chunk.error.is_none() {
            self.head = chunk_head(data);
        }
        self.take_chunk(chunk, data, status)
    }

    /// Takes what a parsed chunk carries; `data` is its whole text (for an error's details).
    fn take_chunk(
        &mut self,
        chunk: WireChunk<'_>,
        data: &str,
        status: u16,
    ) -> Result<bool, LlmError> {
        if chunk.error.is_some() || chunk.object.as_deref() == Some("error") {
            let v: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
            return Err(embedded_error(&v, status, ErrorClass::StreamCut));
        }
        if self.model.is_none() {
            self.model = chunk.model.map(Cow::into_owned);
        }
        // Usage is taken from whichever chunk carries it, even one whose choices are not empty.
        if let Some(u) = chunk.usage {
            self.usage = Some(u.into());
        }
        if let Some(choice) = chunk.choices.into_iter().next() {
            if let Some(delta) = choice.delta {
                let mut answer = false;
                let mut thought = false;
                if let Some(c) = delta.content
                    && !c.is_empty()
                {
                    self.content.get_or_insert_with(String::new).push_str(&c);
                    answer = true;
                }
                for r in [delta.reasoning_content, delta.reasoning]
                    .into_iter()
                    .flatten()
                {
                    if !r.is_empty() {
                        self.reasoning.get_or_insert_with(String::new).push_str(&r);
                        thought = true;
                    }
                }
                if let Some(frags) = delta.tool_calls {
                    for f in frags {
                        answer |= f.carries_tokens();
                        self.tool_fragment(f);
                    }
                }
                if answer || thought {
                    self.token_arrived(answer);
                }
            }
            // Some servers send `"finish_reason": ""` on every chunk; only a real reason counts.
            if let Some(reason) = choice.finish_reason
                && !reason.is_empty()
            {
                self.finish_reason = Some(reason.into_owned());
            }
        }
        Ok(false)
    }

    /// The reply, with tokens counted locally if the server sent no usage.
    fn into_reply(self, req: &ChatRequest) -> ChatReply {
        let (mut reply, reasoning) = self.into_parts(req);
        if reply.usage.estimated {
            reply.usage = estimate_usage(
                req,
                reply.content.as_deref(),
                reasoning.as_deref(),
                &reply.tool_calls,
            );
        }
        reply
    }

    /// [`StreamState::into_reply`], counting large texts on a blocking thread.
    async fn into_reply_async(self, req: &ChatRequest) -> ChatReply {
        let (mut reply, reasoning) = self.into_parts(req);
        if reply.usage.estimated {
            let (usage, content, calls) = estimate_usage_async(
                req,
                reply.content.take(),
                reasoning,
                std::mem::take(&mut reply.tool_calls),
            )
            .await;
            (reply.usage, reply.content, reply.tool_calls) = (usage, content, calls);
        }
        reply
    }

    /// The reply and the reasoning text; without the server's usage, the usage is a
    /// placeholder flagged `estimated`, for the caller to count.
    fn into_parts(mut self, req: &ChatRequest) -> (ChatReply, Option<String>) {
        self.calls.sort_by_key(|c| c.index);
        let tool_calls: Vec<ToolCall> = self
            .calls
            .into_iter()
            .map(|c| ToolCall {
                id: if c.id.is_empty() {
                    format!("call_{}", c.index)
                } else {
                    c.id
                },
                name: c.name,
                arguments: c.arguments,
            })
            .collect();
        let usage = self.usage.unwrap_or(Usage {
            estimated: true,
            ..Usage::default()
        });
        let reply = ChatReply {
            model: self.model.unwrap_or_else(|| req.model.clone()),
            content: self.content,
            tool_calls,
            finish_reason: self.finish_reason,
            usage,
            ttft: self.ttft,
            ttft_answer: self.ttft_answer,
            inter_chunk_gaps_us: self.gaps_us,
            missing_done: !self.done,
            stream_ignored: false,
        };
        (reply, self.reasoning)
    }
}

/// An SSE reply decoded as it arrives: the transport's own path
/// ([`LlmClient::chat`](super::LlmClient::chat) feeds it every piece of a streamed body as
/// read), public for the benchmarks and the property tests, which feed the same bytes cut
/// anywhere.
pub struct StreamDecoder {
    parser: SseParser,
    state: StreamState,
    status: u16,
}

impl StreamDecoder {
    /// A decoder for a reply with `status`, whose request was sent at `start` (for TTFT).
    pub fn new(status: u16, start: Instant) -> Self {
        StreamDecoder {
            parser: SseParser::default(),
            state: StreamState::new(start),
            status,
        }
    }

    /// Takes the next bytes of the body; `Ok(true)` once `[DONE]` arrived (the rest of the
    /// body is not needed, and bytes fed after it are ignored).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<bool, LlmError> {
        if self.state.done {
            return Ok(true);
        }
        self.parser.feed(bytes);
        self.state.apply_events(&mut self.parser, self.status)
    }

    /// At the end of the body (or after `[DONE]`): takes a last event not closed by a blank
    /// line, and refuses a stream that ended before a finish_reason or `[DONE]`.
    fn end(&mut self) -> Result<(), LlmError> {
        if !self.state.done {
            self.state.apply_last(&mut self.parser, self.status)?;
        }
        if !self.state.done && self.state.finish_reason.is_none() {
            return Err(LlmError {
                status: Some(self.status),
                ..LlmError::local(
                    ErrorClass::StreamCut,
                    "stream ended before a finish_reason or [DONE]",
                )
            });
        }
        Ok(())
    }

    /// The reply, tokens counted locally (in bounded time) if the server sent no usage.
    pub fn finish(mut self, req: &ChatRequest) -> Result<ChatReply, LlmError> {
        self.end()?;
        Ok(self.state.into_reply(req))
    }

    /// [`StreamDecoder::finish`], counting large texts on a blocking thread.
    pub(super) async fn finish_async(mut self, req: &ChatRequest) -> Result<ChatReply, LlmError> {
        self.end()?;
        Ok(self.state.into_reply_async(req).await)
    }
}

/// A whole SSE body already in memory, parsed as [`LlmClient::chat`](super::LlmClient::chat)
/// parses a stream as it arrives (events, chunks, TTFT and gaps, usage), refusing, as it does,
/// a stream that ends before a finish_reason or `[DONE]`. Public for the benchmarks.
pub fn parse_stream(bytes: &[u8], req: &ChatRequest, status: u16) -> Result<ChatReply, LlmError> {
    let mut decoder = StreamDecoder::new(status, Instant::now());
    decoder.feed(bytes)?;
    decoder.finish(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::MaxTokensField;
    use crate::client::sse::SseEvent;

    use crate::client::request::tests::req;

    fn run_stream(chunks: &[&str]) -> Result<ChatReply, LlmError> {
        Ok(stream_state(chunks)?.into_reply(&req(true, MaxTokensField::MaxTokens)))
    }

    #[test]
    fn tool_fragments_without_index_or_with_repeated_names() {
        // No `index`: a new id starts a new call; two calls may share one chunk.
        let r = run_stream(&[
            r#"{"choices":[{"delta":{"tool_calls":[{"id":"a","function":{"name":"calc","arguments":"{}"}},{"id":"b","function":{"name":"search","arguments":"{\"q\":1}"}}]}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
        ])
        .unwrap();
        let got: Vec<(&str, &str, &str)> = r
            .tool_calls
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.as_str()))
            .collect();
        assert_eq!(got, vec![("a", "calc", "{}"), ("b", "search", "{\"q\":1}")]);
        // The whole name repeated in every fragment is not doubled; no id gets a stable one.
        let r = run_stream(&[
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"calc","arguments":"{\"x\""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"calc","arguments":":2}"}}]}}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#,
        ])
        .unwrap();
        assert_eq!(r.tool_calls[0].name, "calc");
        assert_eq!(r.tool_calls[0].arguments, "{\"x\":2}");
        assert_eq!(r.tool_calls[0].id, "call_0");
        assert!(r.missing_done);
    }

    /// Feeds `chunks` as data events; returns the state (for its learned head) or the error.
    fn stream_state(chunks: &[impl AsRef<str>]) -> Result<StreamState, LlmError> {
        let mut state = StreamState::new(Instant::now());
        for c in chunks {
            let ev = SseEvent {
                event: None,
                data: c.as_ref().to_string(),
            };
            if state.apply(&ev, 200)? {
                break;
            }
        }
        Ok(state)
    }

    /// Chunks after the first are parsed from their head on when they repeat it; what they
    /// deliver is the same as parsing each whole, whatever the head holds or does.
    #[test]
    fn chunks_repeating_the_head_parse_from_it_with_the_same_result() {
        let head = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","system_fingerprint":null,"#;
        let content = |t: &str| {
            format!(
                r#"{head}"choices":[{{"index":0,"delta":{{"content":"{t}"}},"finish_reason":null}}]}}"#
            )
        };
        let mut chunks: Vec<String> = vec![format!(
            r#"{head}"choices":[{{"index":0,"delta":{{"role":"assistant","content":""}},"finish_reason":null}}]}}"#
        )];
        chunks.extend(["Hel", "lo \\\"x\\\"", " tôi"].map(content));
        chunks.push(format!(
            r#"{head}"choices":[{{"index":0,"delta":{{}},"finish_reason":"stop"}}]}}"#
        ));
        chunks.push(format!(
            r#"{head}"choices":[],"usage":{{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}}}"#
        ));
        let state = stream_state(&chunks).unwrap();
        assert_eq!(
            state.head.as_deref(),
            Some(head.as_bytes()),
            "learned from the first"
        );
        let r = state.into_reply(&req(true, MaxTokensField::MaxTokens));
        assert_eq!(r.content.as_deref(), Some("Hello \"x\" tôi"));
        assert_eq!(r.finish_reason.as_deref(), Some("stop"));
        assert_eq!((r.usage.prompt_tokens, r.usage.completion_tokens), (9, 3));
        assert_eq!(r.model, "gpt-4.1");
        assert_eq!(r.inter_chunk_gaps_us.len(), 2, "three tokens, two gaps");

        // A head that changes mid-stream: whole-chunk parses, same content.
        let mut changed = chunks.clone();
        changed[2] = changed[2].replace("chatcmpl-1", "chatcmpl-2");
        let r = stream_state(&changed)
            .unwrap()
            .into_reply(&req(true, MaxTokensField::MaxTokens));
        assert_eq!(r.content.as_deref(), Some("Hello \"x\" tôi"));

        // `"choices":` inside a head field is not taken for the top-level key.
        let nested = r#"{"meta":{"n":1,"choices":2},"choices":[{"delta":{"content":"a"}}]}"#;
        let state =
            stream_state(&[nested.to_string(), nested.replace(":\"a\"", ":\"b\"")]).unwrap();
        assert!(state.head.is_none());
        assert_eq!(state.content.as_deref(), Some("ab"));

        // An error object after the head is still an error, with its code.
        let mut failing = chunks[..2].to_vec();
        failing.push(format!(
            r#"{head}"choices":[],"error":{{"message":"boom","type":"server_error","code":"500"}}}}"#
        ));
        let e = stream_state(&failing).err().expect("error chunk");
        assert_eq!(
            (e.class, e.code.as_deref()),
            (ErrorClass::StreamCut, Some("500"))
        );
        // A rest that is not JSON takes the whole-chunk path and is named malformed.
        let mut broken = chunks[..2].to_vec();
        broken.push(format!(r#"{head}"choices":[{{"delta":"#));
        let e = stream_state(&broken).err().expect("malformed chunk");
        assert_eq!(e.class, ErrorClass::Malformed);
    }

    #[test]
    fn empty_finish_reason_does_not_end_a_stream() {
        let mut state = StreamState::new(Instant::now());
        let ev = SseEvent {
            event: None,
            data: r#"{"choices":[{"delta":{"content":"x"},"finish_reason":""}]}"#.into(),
        };
        state.apply(&ev, 200).unwrap();
        assert_eq!(state.finish_reason, None);
    }
}
