//! The response head: read from a connection (interim 1xx heads skipped) and parsed with
//! httparse, its size and header count bounded however the reads split it, its framing and
//! keep-alive decided by RFC 9112's rules.

use bytes::Buf;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::conn::Conn;
use super::framing::{Chunk, Framing};

/// Most bytes a response head may take (status line and headers).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most headers a response may carry (real providers send 20 to 40).
pub const MAX_HEADERS: usize = 128;
/// Most interim (1xx) heads skipped before the response.
const MAX_INTERIM_HEADS: usize = 16;

/// Why no response head arrived.
#[derive(Debug)]
pub enum Failure {
    /// DNS, TCP or TLS failed.
    Connect(String),
    /// The connect (DNS, TCP and TLS together) took longer than the connect timeout.
    ConnectTimeout(String),
    /// The connection failed or closed before a complete response head.
    Closed(String),
    /// The bytes that came back are not an HTTP/1.x response head.
    BadHead(String),
}

/// What a response head says.
pub(super) struct Head {
    pub(super) status: u16,
    pub(super) json: bool,
    pub(super) headers: HeaderMap,
    pub(super) framing: Framing,
    pub(super) keep_alive: bool,
}

/// Reads and parses the response head (skipping interim 1xx heads), leaving the buffer at the
/// first byte of the body.
pub(super) async fn read_head(conn: &mut Conn) -> Result<Head, Failure> {
    let mut interim = 0;
    loop {
        if let Some(parsed) = parse_head_bounded(&conn.buf)? {
            conn.buf.advance(parsed.len);
            if let Some(head) = parsed.head {
                return Ok(head);
            }
            // An interim response (100 Continue and the like): the real one follows. A server
            // that sends them forever gets no more of this client's time than a long head.
            interim += 1;
            if interim > MAX_INTERIM_HEADS {
                return Err(Failure::BadHead(format!(
                    "more than {MAX_INTERIM_HEADS} interim (1xx) responses before the response"
                )));
            }
            continue;
        }
        match conn.fill().await {
            Ok(0) if conn.buf.is_empty() => {
                return Err(Failure::Closed(
                    "the server closed the connection without a response".into(),
                ));
            }
            Ok(0) => {
                return Err(Failure::Closed(
                    "the server closed the connection in the middle of the response head".into(),
                ));
            }
            Ok(_) => {}
            Err(e) => {
                return Err(Failure::Closed(format!(
                    "the connection failed before a response: {e}"
                )));
            }
        }
    }
}

/// The outcome of parsing the response head at the start of `buf` (the bytes read so far),
/// with the limits applied to the head's total size, so the verdict does not depend on how
/// the reads split it: a complete head of more than [`MAX_HEAD_BYTES`] is refused just like an
/// incomplete one already past it, and more than [`MAX_HEADERS`] headers are refused whole or
/// in part. `Ok(None)`: not complete yet, read more. This is the transport's own entry point
/// (`read_head` calls nothing else), public for the property tests.
pub fn parse_head_bounded(buf: &[u8]) -> Result<Option<Parsed>, Failure> {
    let too_long = || {
        Failure::BadHead(format!(
            "the response head is longer than {MAX_HEAD_BYTES} bytes"
        ))
    };
    match parse_head(buf)? {
        Some(parsed) if parsed.len > MAX_HEAD_BYTES => Err(too_long()),
        Some(parsed) => Ok(Some(parsed)),
        // Incomplete, and already longer than allowed: it can only grow.
        None if buf.len() > MAX_HEAD_BYTES => Err(too_long()),
        None => Ok(None),
    }
}

/// A parsed head: its length, and `None` for an interim (1xx) head.
pub struct Parsed {
    /// Bytes of the head, its blank line included.
    pub len: usize,
    head: Option<Head>,
}

impl Parsed {
    /// The status, or `None` for an interim (1xx) head.
    pub fn status(&self) -> Option<u16> {
        self.head.as_ref().map(|h| h.status)
    }
}

/// Parses a head at the start of `buf`; `Ok(None)` when it is not complete yet.
fn parse_head(buf: &[u8]) -> Result<Option<Parsed>, Failure> {
    // Uninitialized slots: initializing all of them was most of parsing a short head.
    let mut slots =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut resp, buf, &mut slots);
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            let start = String::from_utf8_lossy(&buf[..buf.len().min(60)]).into_owned();
            return Err(Failure::BadHead(format!(
                "the reply is not an HTTP/1.1 response ({e}); it starts with {start:?}"
            )));
        }
    };
    let status = resp.code.unwrap_or(0);
    // 101 would switch protocols, which no request here asks for: treat it as final.
    if (100..200).contains(&status) && status != 101 {
        return Ok(Some(Parsed { len, head: None }));
    }
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut transfer_coded = false;
    let mut close = resp.version == Some(0);
    let mut json = false;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| Failure::BadHead("invalid Content-Length".into()))?;
            if content_length.is_some_and(|m| m != n) {
                return Err(Failure::BadHead(
                    "conflicting Content-Length headers".into(),
                ));
            }
            content_length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_coded = true;
            // Chunked must be the last coding applied for the length to be known.
            chunked = h
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("content-type") {
            let media = h.value.split(|&b| b == b';').next().unwrap_or_default();
            json = media.trim_ascii().eq_ignore_ascii_case(b"application/json");
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && resp.version == Some(0) {
                    close = false;
                }
            }
        }
    }
    let framing = if status == 204 || status == 304 {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked(Chunk::Size)
    } else if transfer_coded {
        // RFC 9112 6.3: a coding other than chunked last means "read until close".
        Framing::UntilClose
    } else {
        match content_length {
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    };
    let mut headers = HeaderMap::new();
    if !(200..300).contains(&status) {
        for h in resp.headers.iter() {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(h.name.as_bytes()),
                HeaderValue::from_bytes(h.value),
            ) {
                headers.append(name, value);
            }
        }
    }
    Ok(Some(Parsed {
        len,
        head: Some(Head {
            status,
            json,
            headers,
            keep_alive: !close && framing != Framing::UntilClose,
            framing,
        }),
    }))
}
