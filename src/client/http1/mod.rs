//! The client's transport: HTTP/1.1 over TCP, or over TLS for `https`, with a pool of
//! keep-alive connections. Each request is written and its reply read by the task that asked
//! for it; no connection task, no channels between tasks.
//!
//! Why not hyper's client (which this replaced): every hyper exchange crosses three task
//! boundaries (request to connection task, head back, body frames back), each a wake-up and a
//! channel; here one task does one `write` and, usually, one `read`. On the zero-latency
//! capacity bench that made the same request loop cost markedly more CPU per call through
//! hyper-util's pooled client, and through oha (hyper's connection API, a spawned task per
//! connection), than written this way. docs/performance.md has the method and the current
//! figures for this client and oha; the hyper-util measurement is in this file's history.
//! What this does not do, a load generator does not want: redirects, proxies, compression,
//! HTTP/2 (connections are opened as needed, up to the client's `max_connections`),
//! upgrades, pipelining.
//!
//! What it does follow: RFC 9112 framing (`Transfer-Encoding: chunked` wins over
//! `Content-Length`, conflicting lengths are an error, no length means "until the server
//! closes"), interim 1xx heads are skipped, `Connection: close` and HTTP/1.0 are not reused,
//! and a body read to its end hands its connection back to the pool; one dropped half-way
//! (a timeout, a cut) closes it. The parsing of heads and chunk sizes is `httparse`'s, the
//! parser hyper uses.
//!
//! The files, lowest first: `target.rs` (where requests go, and the request bytes), `conn.rs`
//! (a TCP or TLS stream and its read buffer), `framing.rs` (how a body ends; chunked decoding
//! as steps without I/O, and [`ChunkedDecoder`]), `head.rs` (reading and parsing a response
//! head), `pool.rs` (connecting, and the idle connections), `exchange.rs` (`Pool::send`, the
//! response and its body). `tests.rs` runs them against raw servers.

mod conn;
mod exchange;
mod framing;
mod head;
mod pool;
mod target;

pub(crate) use exchange::Body;
pub use framing::{BodyError, ChunkedDecoder};
pub use head::{Failure, MAX_HEAD_BYTES, MAX_HEADERS, Parsed, parse_head_bounded};
pub(crate) use pool::{Pool, PoolConfig};
pub(crate) use target::{Target, tls_config};

#[cfg(test)]
mod tests;
