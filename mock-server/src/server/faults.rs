//! Injected failures: scheduled outages, the fault drawn per request, and what each fault does
//! to the reply (an error instead of it, no reply at all, or a broken body or stream).
//!
//! The draw comes first from the request's generator (seeded by `seed` and the arrival
//! number), so a sequential client sees the same faults every run, and the jitter drawn after
//! it does not depend on which fault was configured.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use tokio::time::Instant;

use super::respond::{Body, add_retry_headers, error, json_response};
use super::state::{State, stopped};
use super::stream::{Event, Frames};
use crate::config::{FaultConfig, FaultKind, Outage};
use crate::limits::go_duration;
use crate::rng::SplitMix;
use crate::stats::Outcome;
use crate::wire::{ErrorBody, ErrorDetail, Usage};

/// The 503 of a scheduled outage.
pub fn outage(model: &str, o: &Outage) -> Response<Body> {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!(
            "The model `{model}` is unavailable (scheduled mock outage from {:?} to {:?} after \
             start).",
            o.from, o.to
        ),
        "server_error",
        None,
        Some("service_unavailable"),
    )
}

/// The fault of this request, if any: the first draw of its generator. A stream error event
/// drawn for a non-streaming request is no fault (it is served normally).
pub fn draw(faults: &FaultConfig, rng: &mut SplitMix, stream: bool) -> Option<FaultKind> {
    faults
        .pick(rng.next_f64())
        .filter(|f| stream || *f != FaultKind::StreamErrorEvent)
}

/// A fault that replaces the reply.
pub enum Instead {
    /// This error is sent at once.
    Reply(Response<Body>),
    /// Nothing is sent.
    Silence(Silence),
}

/// How a request that gets no reply ends.
pub enum Silence {
    /// It waits until shutdown.
    Hang,
    /// Its connection is reset.
    Reset,
}

/// What replaces the reply under `fault`; `None` for no fault, and for the faults that break
/// the reply's body instead (see [`broken_body`] and [`break_stream`]).
pub fn instead(fault: Option<FaultKind>, model: &str, faults: &FaultConfig) -> Option<Instead> {
    let r = match fault? {
        FaultKind::RateLimit => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "Rate limit reached for {model} (injected by the mock server). Please try \
                     again in {}.",
                    go_duration(faults.retry_after)
                ),
                "requests",
                None,
                Some("rate_limit_exceeded"),
            );
            add_retry_headers(&mut r, faults.retry_after);
            r
        }
        FaultKind::InsufficientQuota => error(
            StatusCode::TOO_MANY_REQUESTS,
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            None,
            Some("insufficient_quota"),
        ),
        FaultKind::ServerError => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
            None,
        ),
        FaultKind::BadGateway => error(
            StatusCode::BAD_GATEWAY,
            "Bad gateway.",
            "server_error",
            None,
            None,
        ),
        FaultKind::ServiceUnavailable => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The engine is currently overloaded, please try again later.",
            "server_error",
            None,
            None,
        ),
        FaultKind::Hang => return Some(Instead::Silence(Silence::Hang)),
        FaultKind::Reset => return Some(Instead::Silence(Silence::Reset)),
        _ => return None,
    };
    Some(Instead::Reply(r))
}

/// Ends a request that gets no reply (a hang or a reset), counting it first, since nothing
/// will be sent to count it by. A hang returns at shutdown; a reset marks the connection to
/// close with a TCP reset. The error makes hyper drop the connection.
pub async fn without_reply(
    state: &State,
    outcome: &Outcome<'_>,
    how: Silence,
    reset: &AtomicBool,
) -> io::Error {
    state.stats.record(outcome);
    match how {
        Silence::Hang => {
            stopped(&mut state.shutdown.clone()).await;
            io::Error::other("mock fault: hang ended by shutdown")
        }
        Silence::Reset => {
            reset.store(true, Ordering::Relaxed);
            io::Error::other("mock fault: connection reset")
        }
    }
}

/// What the frames of a cut body are given, as a stream's are. The body never arrives whole,
/// so its usage is never counted.
pub struct CutBody<'a> {
    /// The server's state (its counters).
    pub state: &'a Arc<State>,
    /// The model asked for.
    pub model: &'a str,
    /// The reply's usage.
    pub usage: Usage,
    /// The request's start: the half body is due at once.
    pub started: Instant,
}

/// Whether `fault` breaks a non-streaming reply's body (see [`broken_body`]).
pub fn breaks_body(fault: Option<FaultKind>) -> bool {
    matches!(fault, Some(FaultKind::MalformedJson | FaultKind::StreamCut))
}

/// The reply with a broken body: half the JSON and an HTML comment for `malformed_json`; for
/// `stream_cut` (the other fault [`breaks_body`] names), half the JSON and a dropped
/// connection.
pub fn broken_body(fault: Option<FaultKind>, body: Vec<u8>, cut: CutBody<'_>) -> Response<Body> {
    if fault == Some(FaultKind::MalformedJson) {
        let mut broken = body[..body.len() / 2].to_vec();
        broken.extend_from_slice(b"<!-- upstream error -->");
        return json_response(StatusCode::OK, broken);
    }
    let len = body.len();
    let half = Bytes::from(body).slice(..len / 2);
    let frames = Frames {
        frames: vec![(Duration::ZERO, half, false)].into_iter(),
        due: cut.started,
        state: cut.state.clone(),
        model: cut.model.to_string(),
        usage: cut.usage,
        cut: true,
    };
    let mut r = Response::new(frames.into_body());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}

/// Breaks a stream's events under `fault`: one malformed event and `[DONE]` for
/// `malformed_json`; the first half of the events for `stream_cut` (the body then ends with
/// an error); the first half and an error event for `stream_error_event`. `pieces` is the
/// reply's token pieces (content and arguments), which decide where half-way is.
pub fn break_stream(events: &mut Vec<Event>, fault: Option<FaultKind>, id: &str, pieces: usize) {
    let half = (pieces / 2 + 1).min(events.len());
    match fault {
        Some(FaultKind::MalformedJson) => {
            events[0].data = Bytes::from(format!(
                "data: {{\"id\":\"{id}\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"delta\":{{\"content\":\n\n",
            ));
            // Nothing after it but the end marker: a client cannot salvage a usage chunk.
            events.truncate(1);
            events.push(Event::new(
                Duration::ZERO,
                Bytes::from_static(b"data: [DONE]\n\n"),
            ));
        }
        Some(FaultKind::StreamCut) => events.truncate(half),
        Some(FaultKind::StreamErrorEvent) => {
            events.truncate(half);
            events.push(Event::new(
                Duration::ZERO,
                sse_error(&ErrorBody {
                    error: ErrorDetail {
                        message: "The server had an error while processing your request. Sorry \
                                  about that!",
                        kind: "server_error",
                        param: None,
                        code: None,
                    },
                }),
            ));
        }
        _ => {}
    }
}

/// One SSE event holding an error object.
fn sse_error(body: &ErrorBody<'_>) -> Bytes {
    let mut out = b"data: ".to_vec();
    let _ = serde_json::to_writer(&mut out, body);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}
