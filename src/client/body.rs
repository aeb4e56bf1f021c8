//! Reading a reply's body within `max_response_bytes`: whole, then parsed as one completion
//! (large ones on a blocking thread), or as an SSE stream decoded piece by piece as it arrives,
//! with a JSON reply to a streamed request recognised by its first byte.

use tokio::time::Instant;

use super::estimate::OFF_THREAD_BYTES;
use super::http1;
use super::llm_error::{LlmError, body_error, too_large};
use super::reply::parse_completion;
use super::stream::StreamDecoder;
use crate::chat::{ChatReply, ChatRequest};
use crate::record::ErrorClass;

/// Why a body was not read whole.
pub(super) enum ReadFailure {
    /// It broke off.
    Cut(http1::BodyError),
    /// It is longer than the limit (announced so, or found so while reading).
    TooLarge,
}

impl ReadFailure {
    pub(super) fn into_error(self, status: u16, limit: u64) -> LlmError {
        match self {
            ReadFailure::Cut(e) => body_error(e, status),
            ReadFailure::TooLarge => too_large(status, limit),
        }
    }
}

/// Reads the whole body into `out`, at most `limit` bytes: a longer one (announced by its
/// `Content-Length`, or found while reading) stops the reading, and dropping the body closes
/// its connection. `out` keeps what was read either way.
pub(super) async fn read_body(
    mut body: http1::Body<'_>,
    limit: u64,
    out: &mut Vec<u8>,
) -> Result<(), ReadFailure> {
    if let Some(n) = body.declared_len() {
        if n > limit {
            return Err(ReadFailure::TooLarge);
        }
        out.reserve(usize::try_from(n).unwrap_or(0).min(1 << 20));
    }
    loop {
        match body.next().await {
            Ok(Some(piece)) => {
                if (out.len() + piece.len()) as u64 > limit {
                    return Err(ReadFailure::TooLarge);
                }
                out.extend_from_slice(piece);
            }
            Ok(None) => return Ok(()),
            Err(e) => return Err(ReadFailure::Cut(e)),
        }
    }
}

/// A whole JSON reply parsed (and its tokens counted if the server sent no usage): on this
/// task when small, on a blocking thread when large.
pub(super) async fn completion_reply(
    bytes: Vec<u8>,
    req: &ChatRequest,
    status: u16,
) -> Result<ChatReply, LlmError> {
    let mut reply = if bytes.len() <= OFF_THREAD_BYTES {
        parse_completion(&bytes, req, status)?
    } else {
        let req = req.clone();
        tokio::task::spawn_blocking(move || parse_completion(&bytes, &req, status))
            .await
            .map_err(|e| {
                LlmError::local(ErrorClass::Other, format!("parsing the reply failed: {e}"))
            })??
    };
    // A stream was asked for and one complete reply came: accepted, noted, no stream timings.
    reply.stream_ignored = req.stream;
    Ok(reply)
}

/// Reads an SSE reply incrementally, at most `limit` bytes of it. A body that begins with `{`
/// is one JSON reply to a streamed request (servers that ignore `stream`): it is read whole
/// and parsed as a completion, and the reply says `stream_ignored`.
pub(super) async fn read_stream(
    mut body: http1::Body<'_>,
    status: u16,
    req: &ChatRequest,
    start: Instant,
    limit: u64,
) -> Result<ChatReply, LlmError> {
    let mut decoder = StreamDecoder::new(status, start);
    let mut read: u64 = 0;
    // Until the first byte that is not white space: is it an event stream or JSON?
    let mut sniffing = true;
    loop {
        match body.next().await {
            Ok(Some(bytes)) => {
                read += bytes.len() as u64;
                if read > limit {
                    return Err(too_large(status, limit));
                }
                if sniffing {
                    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
                        Some(b'{') => {
                            let mut whole = bytes.to_vec();
                            read_body(body, limit, &mut whole)
                                .await
                                .map_err(|e| e.into_error(status, limit))?;
                            return completion_reply(whole, req, status).await;
                        }
                        Some(_) => sniffing = false,
                        None => {}
                    }
                }
                if decoder.feed(bytes)? {
                    // `[DONE]`: what follows is the body's end, if it is here already
                    // (then the connection is kept); nothing is waited for.
                    body.finish_buffered();
                    break;
                }
            }
            Err(e) => return Err(body_error(e, status)),
            Ok(None) => break,
        }
    }
    decoder.finish_async(req).await
}
