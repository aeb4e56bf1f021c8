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

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::chat::{ChatReply, ChatRequest, ToolCall, Usage};
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
mod url;

pub use reply::parse_completion;
pub use request::request_json;
use request::{ToolsJson, WireRequest};
pub use sse::{SseEvent, SseEventRef, SseParser};
pub use url::{chat_uri, chat_url, redact_url};

pub use http1::{
    BodyError, ChunkedDecoder, Failure as HeadFailure, MAX_HEAD_BYTES, MAX_HEADERS,
    Parsed as ParsedHead, parse_head_bounded,
};

use chunk::{WireChunk, WireToolCallDelta, chunk_head};
use config::auth_header;
pub use config::{
    ApiKey, ClientBuildError, ClientConfig, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_RESPONSE_BYTES,
};
pub use errors::{
    ErrorBody, classify, classify_error, is_context_window_message, parse_error_body,
};
use estimate::{OFF_THREAD_BYTES, estimate_usage, estimate_usage_async};
pub use headers::{
    RateLimitInfo, SATURATED_WAIT, parse_count, parse_reset_duration, parse_retry_after,
    parse_retry_after_ms, saturating_wait,
};
pub use llm_error::LlmError;
use llm_error::{
    body_error, embedded_error, http_error, malformed, too_large, transport_error, truncate,
};

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
    fn apply(&mut self, ev: &SseEvent, status: u16) -> Result<bool, LlmError> {
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

/// An SSE reply decoded as it arrives: the transport's own path ([`LlmClient::chat`] feeds it
/// every piece of a streamed body as read), public for the benchmarks and the property tests,
/// which feed the same bytes cut anywhere.
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
    async fn finish_async(mut self, req: &ChatRequest) -> Result<ChatReply, LlmError> {
        self.end()?;
        Ok(self.state.into_reply_async(req).await)
    }
}

/// A whole SSE body already in memory, parsed as [`LlmClient::chat`] parses a stream as it
/// arrives (events, chunks, TTFT and gaps, usage), refusing, as it does, a stream that ends
/// before a finish_reason or `[DONE]`. Public for the benchmarks.
pub fn parse_stream(bytes: &[u8], req: &ChatRequest, status: u16) -> Result<ChatReply, LlmError> {
    let mut decoder = StreamDecoder::new(status, Instant::now());
    decoder.feed(bytes)?;
    decoder.finish(req)
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
    use crate::chat::{ChatMessage, MaxTokensField};

    fn req(stream: bool, field: MaxTokensField) -> ChatRequest {
        ChatRequest {
            model: "gpt-4.1".into(),
            messages: vec![
                ChatMessage::text(crate::chat::Role::User, "hi"),
                ChatMessage {
                    role: crate::chat::Role::Assistant,
                    content: None,
                    tool_calls: vec![ToolCall {
                        id: "c1".into(),
                        name: "calc".into(),
                        arguments: "{}".into(),
                    }],
                    tool_call_id: None,
                },
                ChatMessage::tool_result("c1", "4"),
            ],
            max_tokens: Some(100),
            max_tokens_field: field,
            tools: Vec::new().into(),
            stream,
            stop: Default::default(),
        }
    }

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
