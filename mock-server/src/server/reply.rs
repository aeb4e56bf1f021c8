//! The reply to a request that passed every check: a completion written whole after the
//! latency model's wait, or a stream whose chunks are each due at their own instant; either
//! broken by a drawn fault; with its `x-request-id`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use tokio::time::Instant;

use super::faults::{self, CutBody};
use super::respond::{Body, json_response};
use super::state::State;
use super::stream::{self, StreamPlan, sse_response};
use crate::config::{FaultKind, ModelSettings};
use crate::json;
use crate::latency;
use crate::rng::{SplitMix, combine};
use crate::script::Reply;
use crate::stats::Outcome;
use crate::wire::{Choice, Completion, ReplyMessage, Usage};

/// Everything a reply is made of.
pub struct Answer<'a> {
    /// The request's arrival number (its ids derive from it).
    pub seq: u64,
    /// The request's start: every delay is an instant counted from it.
    pub started: Instant,
    /// The model asked for.
    pub model: &'a str,
    /// Its settings (the latency model).
    pub settings: &'a ModelSettings,
    /// The scripted reply.
    pub reply: &'a Reply,
    /// Its token counts.
    pub usage: Usage,
    /// The fault drawn, which may break the body.
    pub fault: Option<FaultKind>,
    /// `None` for a whole reply; for a stream, whether it ends with a usage chunk.
    pub stream: Option<bool>,
}

/// The reply. A whole one that is sent intact gets its usage in the outcome; a stream's usage
/// is counted as its chunk goes out. `rng` is the request's generator, after the fault draw.
pub async fn answer(
    state: &Arc<State>,
    a: &Answer<'_>,
    rng: &mut SplitMix,
    outcome: &mut Outcome<'_>,
) -> Response<Body> {
    let mut id = String::with_capacity(33);
    id.push_str("chatcmpl-");
    json::hex(&mut id, combine(state.config.seed, a.seq), 16);
    json::hex(&mut id, u64::from(a.seq as u32), 8);
    let created = unix_now();
    let mut r = match a.stream {
        Some(include_usage) => streamed(state, a, &id, created, include_usage, rng),
        None => whole(state, a, &id, created, rng, outcome).await,
    };
    let mut request_id = String::with_capacity(20);
    request_id.push_str("req_");
    json::hex(&mut request_id, a.seq, 1);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        // A constant name: `insert` with a `&str` name validates it anew on every request.
        const X_REQUEST_ID: header::HeaderName = header::HeaderName::from_static("x-request-id");
        r.headers_mut().insert(X_REQUEST_ID, v);
    }
    r
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The SSE reply: every event with its delay, then broken by the fault if one was drawn.
fn streamed(
    state: &Arc<State>,
    a: &Answer<'_>,
    id: &str,
    created: u64,
    include_usage: bool,
    rng: &mut SplitMix,
) -> Response<Body> {
    let mut events = stream::events(
        &StreamPlan {
            id,
            created,
            model: a.model,
            reply: a.reply,
            usage: include_usage.then_some(a.usage),
            settings: a.settings,
        },
        rng,
    );
    let reply = a.reply;
    let pieces = reply.pieces.len() + reply.call_pieces.iter().map(Vec::len).sum::<usize>();
    faults::break_stream(&mut events, a.fault, id, pieces);
    let cut = a.fault == Some(FaultKind::StreamCut);
    sse_response(state.clone(), a.model, a.usage, events, cut, a.started)
}

/// The completion as one JSON body, sent when the whole reply's latency has passed.
async fn whole(
    state: &Arc<State>,
    a: &Answer<'_>,
    id: &str,
    created: u64,
    rng: &mut SplitMix,
    outcome: &mut Outcome<'_>,
) -> Response<Body> {
    let tool_calls = a.reply.tool_calls.clone();
    let completion = Completion {
        id,
        object: "chat.completion",
        created,
        model: a.model,
        choices: [Choice {
            index: 0,
            message: ReplyMessage {
                role: "assistant",
                content: a.reply.content.as_deref(),
                refusal: None,
                tool_calls: &tool_calls,
            },
            logprobs: None,
            finish_reason: a.reply.finish_reason,
        }],
        usage: a.usage,
        system_fingerprint: None,
    };
    // Sized for a typical reply at once instead of growing from 128 bytes.
    let mut body = Vec::with_capacity(1024);
    completion.write_json(&mut body);
    let wait = latency::total(a.settings, a.reply.completion_tokens, rng);
    if !wait.is_zero() {
        tokio::time::sleep_until(a.started + wait).await;
    }
    if faults::breaks_body(a.fault) {
        let cut = CutBody {
            state,
            model: a.model,
            usage: a.usage,
            started: a.started,
        };
        return faults::broken_body(a.fault, body, cut);
    }
    let usage = a.usage;
    outcome.usage = Some([
        usage.prompt_tokens,
        usage.prompt_tokens_details.cached_tokens,
        usage.completion_tokens,
    ]);
    json_response(StatusCode::OK, body)
}
