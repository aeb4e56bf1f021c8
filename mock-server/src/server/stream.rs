//! Streamed replies: the SSE events of a reply with the latency model's delays, and the body
//! that sends them.
//!
//! Every frame is due at an instant counted from the request's start, not after a relative
//! sleep: tokio rounds each sleep up to its 1 ms tick, and a 100-token stream ran 10-33% long
//! when the gaps were slept one by one (issue 14.7).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::stream;
use http_body_util::{BodyExt, StreamBody};
use hyper::Response;
use hyper::body::Frame;
use hyper::header::{self, HeaderValue};

use super::respond::Body;
use super::state::State;
use crate::config::ModelSettings;
use crate::latency;
use crate::rng::SplitMix;
use crate::script::Reply;
use crate::wire::{self, ChunkChoice, ChunkWriter, Delta, FunctionDelta, ToolCallDelta};

/// Pause between the last bytes of a cut body and the cut, so those bytes reach the client.
const CUT_DELAY: Duration = Duration::from_millis(5);

/// What a stream is made of.
pub struct StreamPlan<'a> {
    /// The completion's id, the same in every chunk.
    pub id: &'a str,
    /// Unix seconds, the same in every chunk.
    pub created: u64,
    /// The model asked for.
    pub model: &'a str,
    /// The scripted reply, split into pieces.
    pub reply: &'a Reply,
    /// The usage chunk's counts, when `stream_options.include_usage` asked for it.
    pub usage: Option<wire::Usage>,
    /// The model's latency settings.
    pub settings: &'a ModelSettings,
}

/// One SSE event and the delay before it.
pub struct Event {
    /// Since the previous event.
    pub delay: Duration,
    /// `data: ...\n\n`.
    pub data: Bytes,
    /// The event holds the usage chunk (counted in the stats as it is handed over).
    pub usage: bool,
}

impl Event {
    /// An event without usage.
    pub fn new(delay: Duration, data: Bytes) -> Event {
        Event {
            delay,
            data,
            usage: false,
        }
    }
}

/// One SSE event holding a chunk with these choices and usage.
fn sse(writer: &ChunkWriter, choices: &[ChunkChoice<'_>], usage: Option<&wire::Usage>) -> Bytes {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"data: ");
    writer.write(&mut out, choices, usage);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// One SSE event holding a chunk of one choice with this delta.
fn chunk(writer: &ChunkWriter, delta: Delta<'_>, finish: Option<&'static str>) -> Bytes {
    let choice = ChunkChoice {
        index: 0,
        delta,
        logprobs: None,
        finish_reason: finish,
    };
    sse(writer, &[choice], None)
}

/// Every event of a stream in order, with the latency model's delays (faults break them
/// afterwards: see `faults::break_stream`).
pub fn events(p: &StreamPlan<'_>, rng: &mut SplitMix) -> Vec<Event> {
    let writer = ChunkWriter::new(p.id, "chat.completion.chunk", p.created, p.model, None);
    let mut events = Vec::with_capacity(p.reply.pieces.len() + 4);
    let first = latency::first_token(p.settings, rng);
    if p.reply.tool_calls.is_empty() {
        text_events(&mut events, &writer, p, first, rng);
    } else {
        call_events(&mut events, &writer, p, first, rng);
    }
    events.push(Event::new(
        Duration::ZERO,
        chunk(&writer, Delta::default(), Some(p.reply.finish_reason)),
    ));
    if let Some(usage) = p.usage {
        events.push(Event {
            delay: Duration::ZERO,
            data: sse(&writer, &[], Some(&usage)),
            usage: true,
        });
    }
    events.push(Event::new(
        Duration::ZERO,
        Bytes::from_static(b"data: [DONE]\n\n"),
    ));
    events
}

/// The events of a tool-call reply. Each call opens with its id and name at its own index,
/// then streams its arguments; the first delta also carries the role, as OpenAI's do.
fn call_events(
    events: &mut Vec<Event>,
    writer: &ChunkWriter,
    p: &StreamPlan<'_>,
    first: Duration,
    rng: &mut SplitMix,
) {
    for (i, call) in p.reply.tool_calls.iter().enumerate() {
        let delay = if i == 0 {
            first
        } else {
            latency::token_gap(p.settings, rng)
        };
        let opening = Delta {
            role: (i == 0).then_some("assistant"),
            content: None,
            tool_calls: Some([ToolCallDelta {
                index: i as u32,
                id: Some(&call.id),
                kind: Some("function"),
                function: FunctionDelta {
                    name: Some(&call.function.name),
                    arguments: "",
                },
            }]),
        };
        events.push(Event::new(delay, chunk(writer, opening, None)));
        for piece in p.reply.call_pieces.get(i).into_iter().flatten() {
            let fragment = Delta {
                tool_calls: Some([ToolCallDelta {
                    index: i as u32,
                    id: None,
                    kind: None,
                    function: FunctionDelta {
                        name: None,
                        arguments: piece.as_ref(),
                    },
                }]),
                ..Delta::default()
            };
            let delay = latency::token_gap(p.settings, rng);
            events.push(Event::new(delay, chunk(writer, fragment, None)));
        }
    }
}

/// The events of a text reply: the role with empty content after the first-token time, then
/// one piece per token, the first one at once.
fn text_events(
    events: &mut Vec<Event>,
    writer: &ChunkWriter,
    p: &StreamPlan<'_>,
    first: Duration,
    rng: &mut SplitMix,
) {
    let role = Delta {
        role: Some("assistant"),
        content: Some(""),
        tool_calls: None,
    };
    events.push(Event::new(first, chunk(writer, role, None)));
    for (i, piece) in p.reply.pieces.iter().enumerate() {
        let delay = if i == 0 {
            Duration::ZERO
        } else {
            latency::token_gap(p.settings, rng)
        };
        let text = Delta {
            content: Some(piece.as_ref()),
            ..Delta::default()
        };
        events.push(Event::new(delay, chunk(writer, text, None)));
    }
}

/// Frames to send: consecutive events without a delay between them go out together.
pub struct Frames {
    /// Each frame's delay after the one before, its bytes, and whether it holds the usage.
    pub frames: std::vec::IntoIter<(Duration, Bytes, bool)>,
    /// When the next frame is due: the request's start plus every delay so far. Each frame
    /// waits for its own instant, so the timer's rounding never accumulates over a stream.
    pub due: tokio::time::Instant,
    /// Where the usage is counted.
    pub state: Arc<State>,
    /// The model the usage is counted for.
    pub model: String,
    /// The usage the stats count when its frame goes out.
    pub usage: wire::Usage,
    /// End with an error after the last frame, which drops the connection mid-body.
    pub cut: bool,
}

impl Frames {
    /// The body: each frame after its delay; the usage is counted as its frame is handed
    /// over; a cut ends with an error (hyper then drops the connection mid-body).
    pub fn into_body(self) -> Body {
        let body = stream::unfold(self, |mut st| async move {
            match st.frames.next() {
                Some((delay, data, has_usage)) => {
                    if !delay.is_zero() {
                        st.due += delay;
                        tokio::time::sleep_until(st.due).await;
                    }
                    if has_usage {
                        st.state.stats.usage(
                            &st.model,
                            st.usage.prompt_tokens,
                            st.usage.prompt_tokens_details.cached_tokens,
                            st.usage.completion_tokens,
                        );
                    }
                    Some((Ok(Frame::data(data)), st))
                }
                None if st.cut => {
                    st.cut = false;
                    // Let hyper flush what was sent first: an error drops its write buffer.
                    tokio::time::sleep(CUT_DELAY).await;
                    Some((Err(io::Error::other("mock fault: stream cut")), st))
                }
                None => None,
            }
        });
        StreamBody::new(body).boxed_unsync()
    }
}

/// The SSE reply sending `events`.
pub fn sse_response(
    state: Arc<State>,
    model: &str,
    usage: wire::Usage,
    events: Vec<Event>,
    cut: bool,
    started: tokio::time::Instant,
) -> Response<Body> {
    let mut frames: Vec<(Duration, BytesMut, bool)> = Vec::new();
    for e in events {
        match frames.last_mut() {
            Some(last) if e.delay.is_zero() => {
                last.1.extend_from_slice(&e.data);
                last.2 |= e.usage;
            }
            _ => frames.push((e.delay, BytesMut::from(&e.data[..]), e.usage)),
        }
    }
    let st = Frames {
        frames: frames
            .into_iter()
            .map(|(d, b, u)| (d, b.freeze(), u))
            .collect::<Vec<_>>()
            .into_iter(),
        due: started,
        state,
        model: model.to_string(),
        usage,
        cut,
    };
    let mut r = Response::new(st.into_body());
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}
