//! The HTTP side: the accept loop, one hyper HTTP/1.1 connection per task, and the routes.
//!
//! One tokio task per connection runs hyper's HTTP/1.1 server. All shared state lives in
//! [`State`] (`state.rs`) behind an `Arc`; its locks (stats, token cache, tool lists, rate
//! limits) are short and never held across an await.
//!
//! The chat handler (`chat.rs`) is a pipeline over the other files, which depend one way:
//! `chat` on `request`, `faults` and `reply`; `reply` on `faults` and `stream`; `faults` on
//! `stream`; all of them on `respond` (reply shapes) and `state`. None of them uses this file,
//! which only accepts, serves connections and routes.

mod chat;
mod faults;
mod guard;
mod reply;
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
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use respond::{Body, error, json_response, unauthorized};
pub use state::State;
use state::stopped;

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

/// Serves one connection until the client closes it, its head times out, or shutdown
/// drains it.
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

/// Routes one request: chat completions to the handler in `chat.rs`, the small GET routes
/// here.
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
            // Running from here until the reply's body is dropped (sent, cut, or abandoned);
            // dropped with this future when the client leaves before an answer.
            let mut inflight = state.live.begin();
            let resp = chat::chat(state, req, reset).await?;
            if resp.status() == StatusCode::OK {
                inflight.set_ok();
            }
            Ok(resp.map(|body| {
                body.map_frame(move |frame| {
                    inflight.frame();
                    frame
                })
                .boxed_unsync()
            }))
        }
        (&Method::POST, "/v1/moderations" | "/moderations") => {
            guard::guard(state, req, guard::Shape::Moderation).await
        }
        (&Method::POST, "/guard") => guard::guard(state, req, guard::Shape::Generic).await,
        (&Method::GET, "/metrics") => {
            let page = crate::prom::render(&state.stats.snapshot(), &state.live, state.waiting());
            let mut r = Response::new(respond::full(page));
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            Ok(r)
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
        (_, "/v1/chat/completions" | "/v1/models" | "/mock/stats" | "/metrics" | "/health") => {
            Ok(error(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("Method {method} is not allowed on {path}."),
                "invalid_request_error",
                None,
                None,
            ))
        }
        _ => Ok(error(
            StatusCode::NOT_FOUND,
            &format!(
                "Unknown request URL: {method} {path}. The mock serves POST /v1/chat/completions, \
                 POST /v1/moderations, POST /guard, GET /v1/models, GET /health, GET /mock/stats \
                 and GET /metrics."
            ),
            "invalid_request_error",
            None,
            Some("unknown_url"),
        )),
    }
}

/// The address to print for a bound socket: an unspecified IP becomes loopback.
pub fn display_addr(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}
