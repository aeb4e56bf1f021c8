//! The OpenAI-compatible HTTP client: one attempt of one chat-completions call.
//!
//! [`LlmClient::chat`] turns a [`ChatRequest`] into OpenAI JSON, sends it once (streaming or
//! not), and returns either a [`ChatReply`] or an [`LlmError`] that carries everything a retry
//! policy needs: the class (from the HTTP status and the error body's `code` and `type`; message
//! wording only to recognise a context-window overflow, see `errors.rs`), the status, and the
//! rate-limit headers (parsed saturating, see `headers.rs`). Retries, breakers and fallbacks live in
//! `agent::resilience`; this file does one attempt and measures it honestly.
//!
//! It is liberal in what it accepts, because real servers deviate: a usage chunk whose `choices`
//! is not empty, `finish_reason: "stop"` together with tool calls, no `usage` at all (then the
//! tokens are counted locally with tiktoken and flagged as estimated), an `{"error": ...}` event
//! in the middle of a stream, a stream that ends without `data: [DONE]`, and error bodies in
//! OpenAI, LiteLLM (`"code": "429"`) and vLLM (top-level `{"object": "error", ...}`) shapes.
//!
//! The API key is read from an environment variable, held in [`ApiKey`] (whose `Debug` prints
//! `***`), sent as a sensitive header, and scrubbed from any error text a server echoes back.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::chat::{ChatReply, ChatRequest};
use crate::record::ErrorClass;

mod chunk;
mod config;
mod errors;
mod estimate;
mod headers;
mod http1;
mod llm_error;
mod reply;
mod request;
mod sse;
mod stream;
mod url;

pub use reply::parse_completion;
pub use request::request_json;
use request::{ToolsJson, WireRequest};
pub use sse::{SseEvent, SseEventRef, SseParser};
pub use stream::{StreamDecoder, parse_stream};
pub use url::{chat_uri, chat_url, redact_url};

pub use http1::{
    BodyError, ChunkedDecoder, Failure as HeadFailure, MAX_HEAD_BYTES, MAX_HEADERS,
    Parsed as ParsedHead, parse_head_bounded,
};

use config::auth_header;
pub use config::{
    ApiKey, ClientBuildError, ClientConfig, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_RESPONSE_BYTES,
};
pub use errors::{
    ErrorBody, classify, classify_error, is_context_window_message, parse_error_body,
};
use estimate::OFF_THREAD_BYTES;
pub use headers::{
    RateLimitInfo, SATURATED_WAIT, parse_count, parse_reset_duration, parse_retry_after,
    parse_retry_after_ms, saturating_wait,
};
pub use llm_error::LlmError;
use llm_error::{body_error, http_error, too_large, transport_error, truncate};

/// TCP keepalive probes start after this much silence on a connection (what reqwest did).
const TCP_KEEPALIVE: Duration = Duration::from_secs(15);

/// A client for one endpoint. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct LlmClient {
    /// Connections to `{base_url}/chat/completions`; the request head it writes holds the
    /// content type, the configured extra headers and the key.
    http: Arc<http1::Pool>,
    base_url: Arc<str>,
    /// `{base_url}/chat/completions`, parsed once.
    uri: http::Uri,
    /// The run's tool list, serialized once.
    tools_json: Arc<ToolsJson>,
    key: Option<ApiKey>,
    attempt_timeout: Duration,
    /// See [`ClientConfig::max_response_bytes`].
    max_response_bytes: u64,
    /// Slots for requests in flight (see [`ClientConfig::max_connections`]).
    slots: Arc<Semaphore>,
}

impl fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmClient")
            .field("uri", &redact_url(&self.uri.to_string()))
            .field("key", &self.key)
            .field("attempt_timeout", &self.attempt_timeout)
            .finish()
    }
}

impl LlmClient {
    /// Builds the client, reading the key from `config.api_key_env` if set.
    pub fn new(config: &ClientConfig) -> Result<Self, ClientBuildError> {
        let key = match &config.api_key_env {
            Some(var) => Some(ApiKey::from_env(var)?),
            None => None,
        };
        Self::with_key(config, key)
    }

    /// Builds the client with a key given directly (`config.api_key_env` is ignored).
    pub fn with_key(config: &ClientConfig, key: Option<ApiKey>) -> Result<Self, ClientBuildError> {
        let base = config.base_url.trim_end_matches('/');
        let uri = chat_uri(base).ok_or_else(|| ClientBuildError::BadUrl {
            url: redact_url(&config.base_url),
        })?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let bad = || ClientBuildError::BadHeader { name: name.clone() };
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            let v = HeaderValue::from_str(value).map_err(|_| bad())?;
            headers.insert(n, v);
        }
        // The body is JSON whatever the extra headers say; `Accept` is set per request.
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.remove(http::header::ACCEPT);
        headers.remove(http::header::CONTENT_LENGTH);
        headers.remove(http::header::HOST);
        if !headers.contains_key(USER_AGENT) {
            headers.insert(
                USER_AGENT,
                HeaderValue::from_static(concat!("reactbench/", env!("CARGO_PKG_VERSION"))),
            );
        }
        if let Some(k) = &key {
            let (name, value) = auth_header(config.auth_header.as_deref(), k)?;
            headers.insert(name, value);
        }
        let target =
            http1::Target::new(&uri, &headers).ok_or_else(|| ClientBuildError::BadUrl {
                url: redact_url(&config.base_url),
            })?;
        let tls = if target.tls {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            Some(http1::tls_config(roots)?)
        } else {
            None
        };
        let http = Arc::new(http1::Pool::new(
            target,
            tls,
            http1::PoolConfig {
                connect_timeout: config.connect_timeout,
                max_idle: config.pool_max_idle_per_host,
                idle_timeout: config.pool_idle_timeout,
                tcp_keepalive: TCP_KEEPALIVE,
            },
        ));
        Ok(LlmClient {
            http,
            base_url: Arc::from(redact_url(base)),
            uri,
            tools_json: Arc::default(),
            key,
            attempt_timeout: config.attempt_timeout,
            max_response_bytes: config.max_response_bytes.max(1),
            slots: Arc::new(Semaphore::new(
                config.max_connections.clamp(1, Semaphore::MAX_PERMITS),
            )),
        })
    }

    /// Waits for a free request slot (at most `max_connections` requests are in flight); hold
    /// the returned permit for the whole attempt. The caller starts its attempt clock after
    /// this returns, so time spent queueing for a slot is part of the call's latency but not
    /// of the attempt's, and not of the attempt timeout: a full pool shows up as a gap between
    /// call and attempt latency instead of as server slowness.
    pub async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        // `None` only if the semaphore were closed, which nothing does: then no bound applies.
        Arc::clone(&self.slots).acquire_owned().await.ok()
    }

    /// Requests that could start now without waiting for a slot.
    pub fn free_slots(&self) -> usize {
        self.slots.available_permits()
    }

    /// The endpoint's base URL (no trailing slash), secrets redacted ([`redact_url`]): it is
    /// shown in logs and reports; breakers are keyed by it.
    pub fn endpoint(&self) -> &str {
        &self.base_url
    }

    /// The per-attempt timeout.
    pub fn attempt_timeout(&self) -> Duration {
        self.attempt_timeout
    }

    /// One attempt: sends `req` once and reads the whole reply (streamed if `req.stream`),
    /// within the attempt timeout.
    ///
    /// The timeout covers everything the attempt does: sending, reading the whole body, and
    /// parsing and counting its tokens (large ones on a blocking thread, so the timer can fire).
    pub async fn chat(&self, req: &ChatRequest) -> Result<ChatReply, LlmError> {
        // TTFT is measured from here, as the caller measures the attempt's latency: the two
        // must share an origin for `CallRecord::tpot`.
        let start = Instant::now();
        let result = tokio::time::timeout(self.attempt_timeout, self.attempt(req, start)).await;
        let result = result.unwrap_or_else(|_| {
            Err(LlmError::local(
                ErrorClass::Timeout,
                format!(
                    "no complete reply within the attempt timeout of {:?}",
                    self.attempt_timeout
                ),
            ))
        });
        result.map_err(|e| self.scrub(e))
    }

    /// Removes the key from any text a server echoed back.
    fn scrub(&self, mut e: LlmError) -> LlmError {
        if let Some(k) = &self.key
            && !k.expose().is_empty()
            && e.message.contains(k.expose())
        {
            e.message = e.message.replace(k.expose(), "***");
        }
        e
    }

    async fn attempt(&self, req: &ChatRequest, start: Instant) -> Result<ChatReply, LlmError> {
        let encode = |e: serde_json::Error| {
            LlmError::local(ErrorClass::Other, format!("could not encode request: {e}"))
        };
        let tools = self.tools_json.get(&req.tools).map_err(encode)?;
        let mut body = Vec::with_capacity(2048);
        serde_json::to_writer(&mut body, &WireRequest::new(req, tools.as_deref()))
            .map_err(encode)?;
        let accept = if req.stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        let request = self.http.request_bytes(accept, &body);
        let resp = self.http.send(&request).await.map_err(transport_error)?;
        let status = resp.status;
        if !(200..300).contains(&status) {
            let rate_limit = RateLimitInfo::from_headers(&resp.headers, SystemTime::now());
            let location = resp
                .headers
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            // A body cut short or too long still leaves the status (and what was read) to
            // classify by.
            let mut body = Vec::new();
            let _ = read_body(resp.body, self.max_response_bytes, &mut body).await;
            let mut err = http_error(status, &String::from_utf8_lossy(&body), rate_limit);
            if (300..400).contains(&status) {
                // Redirects are not followed: a load test should hit the final URL.
                err.message = truncate(format!(
                    "the endpoint redirected to {}; set endpoint.base_url to the final URL",
                    location.as_deref().unwrap_or("(no Location header)")
                ));
            }
            return Err(err);
        }
        if req.stream && !resp.json {
            read_stream(resp.body, status, req, start, self.max_response_bytes).await
        } else {
            let mut bytes = Vec::new();
            read_body(resp.body, self.max_response_bytes, &mut bytes)
                .await
                .map_err(|e| e.into_error(status, self.max_response_bytes))?;
            completion_reply(bytes, req, status).await
        }
    }
}

/// Why a body was not read whole.
enum ReadFailure {
    /// It broke off.
    Cut(http1::BodyError),
    /// It is longer than the limit (announced so, or found so while reading).
    TooLarge,
}

impl ReadFailure {
    fn into_error(self, status: u16, limit: u64) -> LlmError {
        match self {
            ReadFailure::Cut(e) => body_error(e, status),
            ReadFailure::TooLarge => too_large(status, limit),
        }
    }
}

/// Reads the whole body into `out`, at most `limit` bytes: a longer one (announced by its
/// `Content-Length`, or found while reading) stops the reading, and dropping the body closes
/// its connection. `out` keeps what was read either way.
async fn read_body(
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
async fn completion_reply(
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
async fn read_stream(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_never_debug_printed() {
        let key = ApiKey::new("sk-test-SECRET-123");
        assert_eq!(format!("{key:?}"), "***");
        let client = LlmClient::with_key(&ClientConfig::default(), Some(key)).unwrap();
        assert!(!format!("{client:?}").contains("SECRET"));
        let err = ApiKey::from_env("REACTBENCH_SURELY_UNSET_VAR").unwrap_err();
        assert!(err.to_string().contains("REACTBENCH_SURELY_UNSET_VAR"));
    }
}
