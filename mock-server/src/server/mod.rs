//! The HTTP side: accept loop, routing, the chat-completions handler, SSE bodies, faults.
//!
//! One tokio task per connection runs hyper's HTTP/1.1 server. All shared state lives in
//! [`State`] (`state.rs`) behind an `Arc`; its locks (stats, token cache, tool lists, rate
//! limits) are short and never held across an await.

mod faults;
mod request;
mod respond;
mod state;
mod stream;
mod tool_cache;

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::FaultKind;
use crate::json;
use crate::latency;
use crate::limits::LimitHeaders;
use crate::rng::{SplitMix, combine};
use crate::script;
use crate::stats::Outcome;
use crate::tokens;
use crate::wire::{self, Choice, Completion, ReplyMessage};
use faults::{CutBody, Instead};
use request::Parsed;
use respond::{Body, add_limit_headers, error, json_response, rate_limited, unauthorized};
pub use state::State;
use state::stopped;
use stream::{StreamPlan, sse_response};

/// How long a graceful shutdown waits for in-flight replies before dropping connections.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until shutdown, then drains them.
pub async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let mut shutdown = state.shutdown.clone();
    let mut conns = JoinSet::new();
    // A permit per open connection, taken before accepting: past the bound, new connections
    // wait in the kernel's listen queue instead of holding memory and a task here.
    let slots = Arc::new(tokio::sync::Semaphore::new(state.config.max_connections));
    loop {
        let permit = tokio::select! {
            biased;
            _ = stopped(&mut shutdown) => break,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        tokio::select! {
            biased;
            // Err means the handle was dropped: stop too.
            _ = stopped(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    state.stats.connection();
                    // Small SSE writes must leave at once, not wait for Nagle.
                    let _ = stream.set_nodelay(true);
                    let state = state.clone();
                    conns.spawn(async move {
                        connection(stream, state).await;
                        drop(permit);
                    });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
        conns.abort_all();
    }
}

/// A TCP stream that is closed with a reset (`SO_LINGER` 0) when a fault asked for it.
struct ConnIo {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ConnIo {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

async fn connection(stream: TcpStream, state: Arc<State>) {
    let mut shutdown = state.shutdown.clone();
    let header_read_timeout = state.config.header_read_timeout;
    let reset = Arc::new(AtomicBool::new(false));
    let io = TokioIo::new(ConnIo {
        inner: stream,
        reset: reset.clone(),
    });
    let svc = service_fn(move |req| {
        let state = state.clone();
        let reset = reset.clone();
        async move { handle(&state, req, &reset).await }
    });
    // Head and body copied into one buffer and written at once: a reply is a few hundred
    // bytes, and the copy costs less than queueing the two for a vectored write (callgrind:
    // 1k fewer instructions per request).
    let conn = http1::Builder::new()
        .writev(false)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .serve_connection(io, svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stopped(&mut shutdown) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

async fn handle(
    state: &Arc<State>,
    req: Request<Incoming>,
    reset: &AtomicBool,
) -> Result<Response<Body>, io::Error> {
    state.stats.http_request();
    let path = req.uri().path();
    let method = req.method();
    match (method, path) {
        (&Method::POST, "/v1/chat/completions" | "/chat/completions") => {
            chat(state, req, reset).await
        }
        (&Method::GET, "/health" | "/healthz" | "/v1/health") => Ok(json_response(
            StatusCode::OK,
            Bytes::from_static(b"{\"status\":\"ok\"}"),
        )),
        (&Method::GET, "/mock/stats") => Ok(json_response(
            StatusCode::OK,
            serde_json::to_vec(&state.stats.snapshot()).unwrap_or_default(),
        )),
        (&Method::GET, "/v1/models" | "/models") => {
            if !state.authorized(&req) {
                return Ok(unauthorized(&req));
            }
            Ok(json_response(StatusCode::OK, state.models_json.clone()))
        }
        (_, "/v1/chat/completions" | "/v1/models" | "/mock/stats" | "/health") => Ok(error(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("Method {method} is not allowed on {path}."),
            "invalid_request_error",
            None,
            None,
        )),
        _ => Ok(error(
            StatusCode::NOT_FOUND,
            &format!(
                "Unknown request URL: {method} {path}. The mock serves POST /v1/chat/completions, \
                 GET /v1/models, GET /health and GET /mock/stats."
            ),
            "invalid_request_error",
            None,
            Some("unknown_url"),
        )),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Records the outcome with the reply's status and returns the reply.
fn finish(state: &State, mut outcome: Outcome<'_>, r: Response<Body>) -> Response<Body> {
    outcome.status = Some(r.status().as_u16());
    state.stats.record(&outcome);
    r
}

async fn chat(
    state: &Arc<State>,
    req: Request<Incoming>,
    reset: &AtomicBool,
) -> Result<Response<Body>, io::Error> {
    // Every delay of the reply is an instant measured from here: a relative sleep per token
    // rounds each gap up to tokio's 1 ms tick, and a 100-token stream ran 10-33% long.
    let started = tokio::time::Instant::now();
    let seq = state.stats.chat_request();
    let config = &state.config;
    let mut outcome = Outcome::default();

    if !state.authorized(&req) {
        let r = unauthorized(&req);
        return Ok(finish(state, outcome, r));
    }
    let body = match request::read_body(req, config.max_body_bytes).await? {
        Ok(body) => body,
        Err(r) => return Ok(finish(state, outcome, r)),
    };
    let mut rest = String::new();
    let Parsed { request, tools } = match request::parse(&state.tools, &body, &mut rest) {
        Ok(parsed) => parsed,
        Err(r) => return Ok(finish(state, outcome, r)),
    };
    let checked = match request::check(&request, &tools, config, &mut outcome) {
        Ok(checked) => checked,
        Err(r) => return Ok(finish(state, outcome, r)),
    };
    let model = checked.model;
    let messages = checked.messages;
    let settings = state.settings(model);

    if let Some(o) = state.in_outage(model) {
        outcome.fault = Some(FaultKind::Outage);
        return Ok(finish(state, outcome, faults::outage(model, o)));
    }

    // Per-request randomness: faults and jitter follow the arrival order from the seed.
    let mut rng = SplitMix::new(combine(config.seed, seq));
    let fault = faults::draw(&config.faults, &mut rng, request.stream);
    outcome.fault = fault;
    match faults::instead(fault, model, &config.faults) {
        None => {}
        Some(Instead::Reply(r)) => return Ok(finish(state, outcome, r)),
        Some(Instead::Hang) => {
            return Err(faults::without_reply(state, &outcome, true, reset).await);
        }
        Some(Instead::Reset) => {
            return Err(faults::without_reply(state, &outcome, false, reset).await);
        }
    }

    let encoding = tokens::encoding_for(model);
    let prompt = state
        .tokens
        .prompt(encoding.bpe(), messages, settings.prompt_caching);
    if let Err(r) = checked.fits_context(settings, prompt.prompt_tokens) {
        outcome.fault = None;
        return Ok(finish(state, outcome, r));
    }

    let reply = script::reply(
        config.seed,
        &config.script,
        settings.completion_tokens,
        encoding,
        &checked.script_input(&request, &tools),
    );

    let mut limit_headers = LimitHeaders::default();
    if settings.rpm.is_some() || settings.tpm.is_some() {
        let cost = prompt.prompt_tokens + reply.completion_tokens;
        match state
            .limiter
            .acquire(model, settings.rpm, settings.tpm, cost, Instant::now())
        {
            Ok(h) => limit_headers = h,
            Err(l) => {
                let r = rate_limited(model, &l);
                outcome.fault = None;
                outcome.rate_limited = Some(l.kind);
                return Ok(finish(state, outcome, r));
            }
        }
    }
    outcome.dangerous = reply.dangerous;

    let mut id = String::with_capacity(33);
    id.push_str("chatcmpl-");
    json::hex(&mut id, combine(config.seed, seq), 16);
    json::hex(&mut id, u64::from(seq as u32), 8);
    let created = unix_now();
    let usage = wire::Usage::new(
        prompt.prompt_tokens,
        prompt.cached_tokens,
        reply.completion_tokens,
    );
    let mut r = if request.stream {
        let include_usage = request
            .stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage);
        let mut events = stream::events(
            &StreamPlan {
                id: &id,
                created,
                model,
                reply: &reply,
                usage: include_usage.then_some(usage),
                settings,
            },
            &mut rng,
        );
        let pieces = reply.pieces.len() + reply.call_pieces.iter().map(Vec::len).sum::<usize>();
        faults::break_stream(&mut events, fault, &id, pieces);
        let cut = fault == Some(FaultKind::StreamCut);
        sse_response(state.clone(), model, usage, events, cut, started)
    } else {
        let tool_calls = reply.tool_calls.clone();
        let completion = Completion {
            id: &id,
            object: "chat.completion",
            created,
            model,
            choices: [Choice {
                index: 0,
                message: ReplyMessage {
                    role: "assistant",
                    content: reply.content.as_deref(),
                    refusal: None,
                    tool_calls: &tool_calls,
                },
                logprobs: None,
                finish_reason: reply.finish_reason,
            }],
            usage,
            system_fingerprint: None,
        };
        // Sized for a typical reply at once instead of growing from 128 bytes.
        let mut body = Vec::with_capacity(1024);
        completion.write_json(&mut body);
        let wait = latency::total(settings, reply.completion_tokens, &mut rng);
        if !wait.is_zero() {
            tokio::time::sleep_until(started + wait).await;
        }
        if faults::breaks_body(fault) {
            let cut = CutBody {
                state,
                model,
                usage,
                started,
            };
            faults::broken_body(fault, body, cut)
        } else {
            outcome.usage = Some([
                usage.prompt_tokens,
                usage.prompt_tokens_details.cached_tokens,
                usage.completion_tokens,
            ]);
            json_response(StatusCode::OK, body)
        }
    };
    let mut request_id = String::with_capacity(20);
    request_id.push_str("req_");
    json::hex(&mut request_id, seq, 1);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        // A constant name: `insert` with a `&str` name validates it anew on every request.
        const X_REQUEST_ID: header::HeaderName = header::HeaderName::from_static("x-request-id");
        r.headers_mut().insert(X_REQUEST_ID, v);
    }
    add_limit_headers(&mut r, &limit_headers);
    Ok(finish(state, outcome, r))
}

/// The address to print for a bound socket: an unspecified IP becomes loopback.
pub fn display_addr(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}
