//! The client's transport: HTTP/1.1 over TCP, or over TLS for `https`, with a pool of
//! keep-alive connections. Each request is written and its reply read by the task that asked
//! for it; no connection task, no channels between tasks.
//!
//! Why not hyper's client (which this replaced): on the zero-latency capacity bench, the same
//! request loop cost 38-41 µs of CPU per call through hyper-util's pooled client, 30-34 µs
//! through oha (hyper's connection API, a spawned task per connection), and 14-17 µs written
//! this way (2026-12-01, README's Performance section). Every hyper exchange crosses three task
//! boundaries (request to connection task, head back, body frames back), each a wake-up and a
//! channel; here one task does one `write` and, usually, one `read`. What this does not do, a
//! load generator does not want: redirects, proxies, compression, HTTP/2 (connections are
//! opened as needed, up to the client's `max_connections`), upgrades, pipelining.
//!
//! What it does follow: RFC 9112 framing (`Transfer-Encoding: chunked` wins over
//! `Content-Length`, conflicting lengths are an error, no length means "until the server
//! closes"), interim 1xx heads are skipped, `Connection: close` and HTTP/1.0 are not reused,
//! and a body read to its end hands its connection back to the pool; one dropped half-way
//! (a timeout, a cut) closes it. The parsing of heads and chunk sizes is `httparse`'s, the
//! parser hyper uses.

mod conn;
mod framing;
mod head;

use conn::{Conn, Io, READ_CHUNK};
pub use framing::{BodyError, ChunkedDecoder};
use framing::{Chunk, ChunkStep, Framing, chunk_step};
use head::read_head;
pub use head::{Failure, MAX_HEAD_BYTES, MAX_HEADERS, Parsed, parse_head_bounded};

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use http::HeaderMap;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Where requests go and how to connect there.
pub(crate) struct Target {
    /// `https`: TLS, with the server's name checked against the Mozilla roots.
    pub tls: bool,
    /// Host for DNS and TLS (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Request line and the headers every request carries, up to (not including) `Accept`
    /// and `Content-Length`. Holds the API key if there is one: never printed.
    head: Vec<u8>,
}

impl Target {
    /// The target of `uri` (`http` or `https` with a host: see `client::chat_uri`), sending
    /// `headers` with every request.
    pub fn new(uri: &http::Uri, headers: &HeaderMap) -> Option<Target> {
        let tls = match uri.scheme_str()? {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        let authority = uri.authority()?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(b"POST ");
        head.extend_from_slice(path.as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        head.extend_from_slice(authority.as_str().as_bytes());
        head.extend_from_slice(b"\r\n");
        for (name, value) in headers {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        Some(Target {
            tls,
            host,
            port,
            head,
        })
    }

    /// The whole request: head, `accept`, `content-length`, body.
    pub fn request(&self, accept: &str, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.head.len() + 64 + body.len());
        out.extend_from_slice(&self.head);
        out.extend_from_slice(b"accept: ");
        out.extend_from_slice(accept.as_bytes());
        out.extend_from_slice(b"\r\ncontent-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
        out
    }
}

/// The TLS settings of a client that trusts `roots`: ring's algorithms, TLS 1.2 and 1.3,
/// ALPN `http/1.1` (the only protocol spoken here).
pub(crate) fn tls_config(
    roots: rustls::RootCertStore,
) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(tls))
}

/// An idle connection and since when.
struct Idle {
    conn: Conn,
    since: Instant,
}

/// How to connect and how many idle connections to keep.
pub(crate) struct PoolConfig {
    /// Bounds DNS, TCP and TLS together.
    pub connect_timeout: Duration,
    /// Idle connections kept.
    pub max_idle: usize,
    /// Idle connections older than this are closed, not reused.
    pub idle_timeout: Duration,
    /// TCP keepalive probes after this much silence.
    pub tcp_keepalive: Duration,
}

/// The connections to one target.
pub(crate) struct Pool {
    target: Target,
    tls: Option<tokio_rustls::TlsConnector>,
    server_name: Option<ServerName<'static>>,
    config: PoolConfig,
    /// Most recently used at the back: reused first, so the connections in use stay few and
    /// warm, and the ones left idle longest are found at the front and closed.
    idle: Mutex<VecDeque<Idle>>,
}

impl Pool {
    /// A pool for `target`; `tls` is required for `https` targets.
    pub fn new(target: Target, tls: Option<Arc<rustls::ClientConfig>>, config: PoolConfig) -> Pool {
        let server_name = target
            .tls
            .then(|| ServerName::try_from(target.host.clone()).ok())
            .flatten();
        Pool {
            tls: tls.map(tokio_rustls::TlsConnector::from),
            server_name,
            target,
            config,
            idle: Mutex::new(VecDeque::new()),
        }
    }

    /// The request bytes for `body` (see [`Target::request`]).
    pub fn request_bytes(&self, accept: &str, body: &[u8]) -> Vec<u8> {
        self.target.request(accept, body)
    }

    /// Sends `request` (from [`Pool::request_bytes`]) and reads the response head.
    pub async fn send(&self, request: &[u8]) -> Result<Response<'_>, Failure> {
        let mut conn = match self.checkout() {
            Some(c) => c,
            None => self.connect().await?,
        };
        conn.io
            .write_all(request)
            .await
            .map_err(|e| Failure::Closed(format!("cannot send the request: {e}")))?;
        let head = read_head(&mut conn).await?;
        Ok(Response {
            status: head.status,
            json: head.json,
            headers: head.headers,
            body: Body {
                conn: Some(conn),
                pool: self,
                framing: head.framing,
                reusable: head.keep_alive,
                pending: 0,
            },
        })
    }

    /// The most recently used idle connection that is still usable.
    fn checkout(&self) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(entry) = idle.pop_back() {
            if entry.since.elapsed() >= self.config.idle_timeout {
                // The newest is too old, so every other one is too.
                idle.clear();
                return None;
            }
            if entry.conn.still_open() {
                return Some(entry.conn);
            }
        }
        None
    }

    /// Returns a connection whose exchange is complete.
    fn checkin(&self, conn: Conn) {
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while idle
            .front()
            .is_some_and(|e| now.duration_since(e.since) >= self.config.idle_timeout)
        {
            idle.pop_front();
        }
        if idle.len() < self.config.max_idle {
            idle.push_back(Idle { conn, since: now });
        }
    }

    /// Idle connections held now.
    #[cfg(test)]
    fn idle_count(&self) -> usize {
        self.idle.lock().map(|i| i.len()).unwrap_or(0)
    }

    async fn connect(&self) -> Result<Conn, Failure> {
        let t = &self.target;
        let timeout = self.config.connect_timeout;
        let connecting = async {
            let tcp = self.connect_tcp().await?;
            let io = match (&self.tls, &self.server_name) {
                (Some(tls), Some(name)) => {
                    let stream = tls.connect(name.clone(), tcp).await.map_err(|e| {
                        Failure::Connect(format!("TLS handshake with {} failed: {e}", t.host))
                    })?;
                    Io::Tls(Box::new(stream))
                }
                (None, _) if !t.tls => Io::Plain(tcp),
                _ => {
                    return Err(Failure::Connect(format!(
                        "`{}` is not a name a TLS certificate can be checked against",
                        t.host
                    )));
                }
            };
            Ok(Conn {
                io,
                buf: BytesMut::with_capacity(READ_CHUNK),
            })
        };
        match tokio::time::timeout(timeout, connecting).await {
            Ok(done) => done,
            Err(_) => Err(Failure::ConnectTimeout(format!(
                "connect (DNS, TCP and TLS) to {}:{} took longer than {timeout:?}",
                t.host, t.port
            ))),
        }
    }

    async fn connect_tcp(&self) -> Result<TcpStream, Failure> {
        let t = &self.target;
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((t.host.as_str(), t.port))
            .await
            .map_err(|e| Failure::Connect(format!("cannot resolve {}: {e}", t.host)))?
            .collect();
        let mut last = None;
        for addr in &addrs {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    // Small requests must leave at once, not wait for Nagle.
                    let _ = s.set_nodelay(true);
                    let keepalive =
                        socket2::TcpKeepalive::new().with_time(self.config.tcp_keepalive);
                    let _ = socket2::SockRef::from(&s).set_tcp_keepalive(&keepalive);
                    return Ok(s);
                }
                Err(e) => last = Some((addr, e)),
            }
        }
        Err(Failure::Connect(match last {
            Some((addr, e)) => format!("tcp connect to {addr} failed: {e}"),
            None => format!("{} resolved to no address", t.host),
        }))
    }
}

/// A response whose head has arrived.
pub(crate) struct Response<'p> {
    /// The status code.
    pub status: u16,
    /// `Content-Type` is `application/json` (with or without parameters): a streamed request
    /// answered with one JSON reply instead of events.
    pub json: bool,
    /// The headers, kept only for statuses outside 2xx (a success needs none of them, and
    /// building the map cost a few allocations per call).
    pub headers: HeaderMap,
    /// The body, read with [`Body::next`] or [`Body::collect`].
    pub body: Body<'p>,
}

/// A response body, read from the connection as it arrives.
pub(crate) struct Body<'p> {
    /// `None` once the body ended (the connection went back to the pool, or was closed).
    conn: Option<Conn>,
    pool: &'p Pool,
    framing: Framing,
    /// The connection may carry another request once this body has ended.
    reusable: bool,
    /// Bytes handed out by the last [`Body::next`], dropped from the buffer at the next call.
    pending: usize,
}

impl Body<'_> {
    /// The next piece of the body as it arrives; `None` at its end.
    pub async fn next(&mut self) -> Result<Option<&[u8]>, BodyError> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Ok(None);
            };
            conn.buf.advance(std::mem::take(&mut self.pending));
            match self.framing {
                Framing::Done => {
                    self.end();
                    return Ok(None);
                }
                Framing::Length(0) => self.framing = Framing::Done,
                Framing::Length(left) => {
                    let n = available(conn, left, "before its Content-Length was reached").await?;
                    self.framing = Framing::Length(left - n as u64);
                    return Ok(Some(self.hand_out(n)));
                }
                Framing::UntilClose => {
                    if conn.buf.is_empty() {
                        let read = conn.fill().await.map_err(cut)?;
                        if read == 0 {
                            self.reusable = false;
                            self.framing = Framing::Done;
                            continue;
                        }
                    }
                    let n = conn.buf.len();
                    return Ok(Some(self.hand_out(n)));
                }
                Framing::Chunked(state) => {
                    if let Some(n) = self.step_chunked(state).await? {
                        return Ok(Some(self.hand_out(n)));
                    }
                }
            }
        }
    }

    /// One step of chunked decoding; `Some(n)` when `n` bytes of data are ready at the front of
    /// the buffer.
    async fn step_chunked(&mut self, state: Chunk) -> Result<Option<usize>, BodyError> {
        let conn = self.conn.as_mut().expect("called with a connection");
        match chunk_step(state, &conn.buf)? {
            ChunkStep::More(where_) => fill_or_cut(conn, where_).await?,
            ChunkStep::Skip(used, next) => {
                conn.buf.advance(used);
                self.framing = next;
            }
            ChunkStep::Data(n, next) => {
                self.framing = Framing::Chunked(next);
                return Ok(Some(n));
            }
        }
        Ok(None)
    }

    fn hand_out(&mut self, n: usize) -> &[u8] {
        self.pending = n;
        &self
            .conn
            .as_ref()
            .expect("handing out from a connection")
            .buf[..n]
    }

    /// The length the head announced (`Content-Length`), if any.
    pub fn declared_len(&self) -> Option<u64> {
        match self.framing {
            Framing::Length(n) => Some(n),
            _ => None,
        }
    }

    /// The whole body (tests; the client reads bodies with a size limit).
    #[cfg(test)]
    pub async fn collect(mut self) -> Result<Vec<u8>, BodyError> {
        let mut out = match self.framing {
            Framing::Length(n) => Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(1 << 20)),
            _ => Vec::new(),
        };
        while let Some(piece) = self.next().await? {
            out.extend_from_slice(piece);
        }
        Ok(out)
    }

    /// Ends the body with what is already buffered, without waiting for the network: for a
    /// reader that has what it needs (an SSE stream's `[DONE]`) but would keep the connection
    /// if its last bytes are already here. If they are not, the connection is closed.
    pub fn finish_buffered(mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        conn.buf.advance(std::mem::take(&mut self.pending));
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return;
            };
            let buf = &conn.buf;
            self.framing = match self.framing {
                Framing::Done => {
                    self.end();
                    return;
                }
                Framing::Length(left) if (buf.len() as u64) >= left => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX);
                    conn.buf.advance(n);
                    Framing::Done
                }
                // The same steps as `next` takes, on what is buffered only.
                Framing::Chunked(state) => match chunk_step(state, buf) {
                    Ok(ChunkStep::Skip(used, next)) => {
                        conn.buf.advance(used);
                        next
                    }
                    Ok(ChunkStep::Data(n, next)) => {
                        conn.buf.advance(n);
                        Framing::Chunked(next)
                    }
                    Ok(ChunkStep::More(_)) | Err(_) => break,
                },
                _ => break,
            };
        }
        // The end is not here yet: dropping the connection closes it.
        self.conn = None;
    }

    /// The body has ended: the connection goes back to the pool if it can carry another
    /// request (nothing left over, keep-alive allowed).
    fn end(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.reusable
            && conn.buf.is_empty()
        {
            self.pool.checkin(conn);
        }
    }
}

fn cut(e: io::Error) -> BodyError {
    BodyError(format!("the connection failed mid-body: {e}"))
}

/// How many of the `left` bytes still expected are buffered, reading first if none is.
async fn available(conn: &mut Conn, left: u64, where_: &str) -> Result<usize, BodyError> {
    if conn.buf.is_empty() {
        fill_or_cut(conn, where_).await?;
    }
    Ok(conn
        .buf
        .len()
        .min(usize::try_from(left).unwrap_or(usize::MAX)))
}

/// Reads more of a body that is not complete; the end of the stream here is a cut.
async fn fill_or_cut(conn: &mut Conn, where_: &str) -> Result<(), BodyError> {
    match conn.fill().await {
        Ok(0) => Err(BodyError(format!(
            "the server closed the connection {where_}"
        ))),
        Ok(_) => Ok(()),
        Err(e) => Err(cut(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use tokio::io::AsyncReadExt;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    fn pool_for(addr: SocketAddr) -> Pool {
        pool_at(&format!("http://{addr}/v1/chat/completions"), None)
    }

    fn pool_at(url: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Pool {
        let uri: http::Uri = url.parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-extra", HeaderValue::from_static("1"));
        Pool::new(
            Target::new(&uri, &headers).unwrap(),
            tls,
            PoolConfig {
                connect_timeout: Duration::from_secs(5),
                max_idle: 8,
                idle_timeout: Duration::from_secs(60),
                tcp_keepalive: Duration::from_secs(15),
            },
        )
    }

    /// A server that answers each request with the next of `replies` (raw bytes), after reading
    /// the request's head and body; returns its address and the requests it read.
    async fn raw_server(replies: Vec<&'static [u8]>) -> (SocketAddr, Arc<Mutex<Vec<Vec<u8>>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            let replies = Arc::new(Mutex::new(VecDeque::from(replies)));
            while let Ok((mut s, _)) = listener.accept().await {
                let (replies, log) = (Arc::clone(&replies), Arc::clone(&log));
                tokio::spawn(async move {
                    loop {
                        let mut req = Vec::new();
                        // Read a head and a Content-Length body.
                        let body_end = loop {
                            let mut b = [0u8; 4096];
                            let n = s.read(&mut b).await.unwrap_or(0);
                            if n == 0 {
                                return;
                            }
                            req.extend_from_slice(&b[..n]);
                            if let Some(h) = memchr::memmem::find(&req, b"\r\n\r\n") {
                                let text = String::from_utf8_lossy(&req[..h]).to_lowercase();
                                let len = text
                                    .lines()
                                    .find_map(|l| l.strip_prefix("content-length: "))
                                    .and_then(|v| v.trim().parse::<usize>().ok())
                                    .unwrap_or(0);
                                if req.len() >= h + 4 + len {
                                    break h + 4 + len;
                                }
                            }
                        };
                        log.lock().unwrap().push(req[..body_end].to_vec());
                        let reply = replies.lock().unwrap().pop_front();
                        let Some(reply) = reply else { return };
                        if s.write_all(reply).await.is_err() {
                            return;
                        }
                        if reply
                            .windows(17)
                            .any(|w| w.eq_ignore_ascii_case(b"connection: close"))
                        {
                            return;
                        }
                    }
                });
            }
        });
        (addr, seen)
    }

    async fn exchange(pool: &Pool, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
        let req = pool.request_bytes("application/json", body);
        let resp = pool.send(&req).await.map_err(|e| format!("{e:?}"))?;
        let status = resp.status;
        let body = resp.body.collect().await.map_err(|e| e.0)?;
        Ok((status, body))
    }

    #[tokio::test]
    async fn request_bytes_carry_the_head_the_headers_and_the_body() {
        let (addr, seen) =
            raw_server(vec![b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]).await;
        let pool = pool_for(addr);
        assert_eq!(
            exchange(&pool, b"{\"a\":1}").await.unwrap(),
            (200, b"ok".to_vec())
        );
        let sent = String::from_utf8(seen.lock().unwrap()[0].clone()).unwrap();
        assert_eq!(
            sent,
            format!(
                "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\nx-extra: 1\r\n\
                 accept: application/json\r\ncontent-length: 7\r\n\r\n{{\"a\":1}}"
            )
        );
    }

    #[tokio::test]
    async fn framings_chunked_length_until_close_and_interim_heads() {
        for (reply, status, want, reused) in [
            (
                &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\nx-trailer: t\r\n\r\n"[..],
                200,
                &b"hello!"[..],
                true,
            ),
            (
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc",
                200,
                b"abc",
                true,
            ),
            // Chunked wins over a Content-Length (RFC 9112 6.3).
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 99\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
                200,
                b"hi",
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end",
                200,
                b"until the end",
                false,
            ),
            (b"HTTP/1.1 204 No Content\r\n\r\n", 204, b"", true),
            (
                b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nx",
                200,
                b"x",
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: Close\r\n\r\nok",
                200,
                b"ok",
                false,
            ),
        ] {
            let (addr, _) = raw_server(vec![reply]).await;
            let pool = pool_for(addr);
            let (got, body) = exchange(&pool, b"{}").await.unwrap();
            assert_eq!((got, body.as_slice()), (status, want), "{reply:?}");
            assert_eq!(pool.idle_count(), usize::from(reused), "{reply:?}");
        }
    }

    #[tokio::test]
    async fn keep_alive_reuses_one_connection_and_a_closed_one_is_not_reused() {
        let ok: &'static [u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        let (addr, seen) = raw_server(vec![ok, ok, ok]).await;
        let pool = pool_for(addr);
        for _ in 0..3 {
            assert_eq!(exchange(&pool, b"{}").await.unwrap().1, b"ok");
        }
        assert_eq!(seen.lock().unwrap().len(), 3);
        assert_eq!(pool.idle_count(), 1, "one connection carried all three");

        // The server closes its side of an idle connection: the next request opens a new one
        // instead of failing on the dead one.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut b = [0u8; 4096];
                    let _ = s.read(&mut b).await;
                    let _ = s.write_all(ok).await;
                    // Then close, as a server whose keep-alive timeout passed.
                });
            }
        });
        let pool = pool_for(addr);
        assert_eq!(exchange(&pool, b"{}").await.unwrap().1, b"ok");
        assert_eq!(pool.idle_count(), 1);
        // Let the close arrive and the runtime see it.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(exchange(&pool, b"{}").await.unwrap().1, b"ok");
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn broken_replies_are_named() {
        for (reply, want) in [
            (&b""[..], "without a response"),
            (
                b"HTTP/1.1 200 OK\r\ncontent-le",
                "middle of the response head",
            ),
            (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "not an HTTP/1.1 response"),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc",
                "conflicting Content-Length",
            ),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
                "Content-Length",
            ),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel",
                "inside a chunk",
            ),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
                "invalid chunk size",
            ),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n",
                "longer than its size",
            ),
        ] {
            // The server answers and closes (every reply below is its last word).
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move {
                if let Ok((mut s, _)) = listener.accept().await {
                    let mut b = [0u8; 4096];
                    let _ = s.read(&mut b).await;
                    let _ = s.write_all(reply).await;
                }
            });
            let pool = pool_for(addr);
            let err = exchange(&pool, b"{}").await.unwrap_err();
            assert!(err.contains(want), "{reply:?}: {err}");
            assert_eq!(
                pool.idle_count(),
                0,
                "a broken exchange leaves no connection"
            );
        }
    }

    #[tokio::test]
    async fn headers_are_kept_for_errors_only() {
        let (addr, _) = raw_server(vec![
            b"HTTP/1.1 429 Too Many Requests\r\nretry-after-ms: 250\r\ncontent-length: 2\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\nx-request-id: r1\r\ncontent-length: 2\r\n\r\n{}",
        ])
        .await;
        let pool = pool_for(addr);
        let req = pool.request_bytes("application/json", b"{}");
        let resp = pool.send(&req).await.unwrap();
        assert_eq!(resp.status, 429);
        assert_eq!(resp.headers.get("retry-after-ms").unwrap(), "250");
        assert_eq!(resp.body.collect().await.unwrap(), b"{}");
        let resp = pool.send(&req).await.unwrap();
        assert_eq!(resp.status, 200);
        assert!(resp.headers.is_empty());
    }

    #[tokio::test]
    async fn streamed_pieces_arrive_as_they_are_sent_and_done_keeps_a_finished_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (go_tx, mut go_rx) = tokio::sync::mpsc::channel::<&'static [u8]>(4);
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut b = [0u8; 4096];
            let _ = s.read(&mut b).await;
            while let Some(bytes) = go_rx.recv().await {
                s.write_all(bytes).await.unwrap();
            }
            // Keep the connection open: the client must not wait for a close.
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let pool = pool_for(addr);
        let req = pool.request_bytes("text/event-stream", b"{}");
        go_tx
            .send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\ndata: \r\n")
            .await
            .unwrap();
        let mut resp = pool.send(&req).await.unwrap();
        assert_eq!(resp.body.next().await.unwrap().unwrap(), b"data: ");
        go_tx.send(b"4\r\n1234\r\n").await.unwrap();
        assert_eq!(resp.body.next().await.unwrap().unwrap(), b"1234");
        // The last chunk and the terminator arrive together; the reader stops on its own
        // signal and leaves the rest to `finish_buffered`.
        go_tx.send(b"2\r\n!!\r\n0\r\n\r\n").await.unwrap();
        assert_eq!(resp.body.next().await.unwrap().unwrap(), b"!!");
        resp.body.finish_buffered();
        assert_eq!(
            pool.idle_count(),
            1,
            "the ended body gave its connection back"
        );
    }

    #[tokio::test]
    async fn an_unfinished_body_closes_its_connection() {
        let (addr, _) = raw_server(vec![b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab"]).await;
        let pool = pool_for(addr);
        let req = pool.request_bytes("application/json", b"{}");
        let mut resp = pool.send(&req).await.unwrap();
        assert_eq!(resp.body.next().await.unwrap().unwrap(), b"ab");
        resp.body.finish_buffered();
        assert_eq!(pool.idle_count(), 0);
    }

    /// A TLS server with the self-signed `localhost` certificate in `tests/data/tls`, answering
    /// every request on a connection with `ok`; returns its port and the connections accepted.
    async fn tls_server() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let cert = CertificateDer::from_pem_slice(include_bytes!(
            "../../../tests/data/tls/localhost.cert.pem"
        ))
        .unwrap();
        let key = PrivateKeyDer::from_pem_slice(include_bytes!(
            "../../../tests/data/tls/localhost.key.pem"
        ))
        .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut s) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut req = Vec::new();
                    let mut b = [0u8; 4096];
                    loop {
                        let n = s.read(&mut b).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        req.extend_from_slice(&b[..n]);
                        // Each request here is a head and a two-byte body.
                        while let Some(h) = memchr::memmem::find(&req, b"\r\n\r\n") {
                            if req.len() < h + 6 {
                                break;
                            }
                            req.drain(..h + 6);
                            let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if s.write_all(reply).await.is_err() || s.flush().await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (port, accepted)
    }

    #[tokio::test]
    async fn https_exchanges_reuse_one_tls_connection() {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let (port, accepted) = tls_server().await;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(
                CertificateDer::from_pem_slice(include_bytes!(
                    "../../../tests/data/tls/localhost.cert.pem"
                ))
                .unwrap(),
            )
            .unwrap();
        let pool = pool_at(
            &format!("https://localhost:{port}/v1/chat/completions"),
            Some(tls_config(roots).unwrap()),
        );
        for _ in 0..3 {
            assert_eq!(exchange(&pool, b"{}").await.unwrap(), (200, b"ok".to_vec()));
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(pool.idle_count(), 1);
    }

    /// The roots the client ships with (Mozilla's) do not trust a self-signed certificate: the
    /// handshake fails, and says why.
    #[tokio::test]
    async fn an_untrusted_certificate_fails_the_handshake() {
        let (port, _) = tls_server().await;
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let pool = pool_at(
            &format!("https://localhost:{port}/v1/chat/completions"),
            Some(tls_config(roots).unwrap()),
        );
        let err = exchange(&pool, b"{}").await.unwrap_err();
        assert!(
            err.contains("TLS handshake with localhost failed") && err.contains("certificate"),
            "{err}"
        );
    }

    /// Reads `head` as the transport does when the network delivers it in two reads cut at
    /// `cut`: the verdict of the first read (if it is one), else of both.
    fn verdict(head: &[u8], cut: usize) -> Result<Option<u16>, String> {
        for prefix in [&head[..cut], head] {
            match parse_head_bounded(prefix) {
                Ok(Some(p)) => return Ok(p.status()),
                Ok(None) => continue,
                Err(e) => return Err(format!("{e:?}")),
            }
        }
        Ok(None)
    }

    /// Issue 15.4: a 100 KB header was accepted or refused depending on how reads split the
    /// head. The limits apply to the head's total size and header count, wherever it is cut.
    #[test]
    fn head_limits_do_not_depend_on_how_reads_split_the_head() {
        let head_with = |value_len: usize, headers: usize| {
            let mut h = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..headers {
                h.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
            }
            h.extend_from_slice(b"x-big: ");
            h.extend(std::iter::repeat_n(b'a', value_len));
            h.extend_from_slice(b"\r\ncontent-length: 2\r\n\r\nok");
            h
        };
        for (what, head, accepted) in [
            ("a 100 KB header", head_with(100 * 1024, 0), false),
            (
                "a head just over the limit",
                head_with(MAX_HEAD_BYTES, 0),
                false,
            ),
            ("a 60 KB header", head_with(60 * 1024, 0), true),
            ("126 headers", head_with(1, MAX_HEADERS - 2), true),
            ("too many headers", head_with(1, MAX_HEADERS), false),
        ] {
            let whole = verdict(&head, head.len());
            assert_eq!(whole.is_ok(), accepted, "{what}: {whole:?}");
            let step = (head.len() / 97).max(1);
            for cut in (0..head.len())
                .step_by(step)
                .chain([MAX_HEAD_BYTES, MAX_HEAD_BYTES + 1])
            {
                let cut = cut.min(head.len());
                assert_eq!(
                    verdict(&head, cut).is_ok(),
                    accepted,
                    "{what}, cut at {cut}"
                );
            }
        }
    }

    /// The same through a real socket: the head arrives in two writes, cut inside the big
    /// header or after the first 64 KiB, and is refused either way.
    #[tokio::test]
    async fn a_100_kb_header_is_refused_however_it_arrives() {
        let mut head = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
        head.extend(std::iter::repeat_n(b'a', 100 * 1024));
        head.extend_from_slice(b"\r\ncontent-length: 2\r\n\r\nok");
        let head: &'static [u8] = head.leak();
        for cut in [10, 30 * 1024, MAX_HEAD_BYTES + 5, head.len()] {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move {
                if let Ok((mut s, _)) = listener.accept().await {
                    let mut b = [0u8; 4096];
                    let _ = s.read(&mut b).await;
                    let _ = s.write_all(&head[..cut]).await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let _ = s.write_all(&head[cut..]).await;
                }
            });
            let err = exchange(&pool_for(addr), b"{}").await.unwrap_err();
            assert!(err.contains("longer than"), "cut at {cut}: {err}");
        }
    }

    /// Issue 15.2: `finish_buffered` kept its own copy of the chunk parsing, which computed
    /// `size + 2` and overflowed (a panic in a debug build) on a chunk size of sixteen `f`s
    /// buffered after the piece a stream stopped at. It now takes the same steps as `next`.
    #[tokio::test]
    async fn a_huge_chunk_size_buffered_after_the_last_piece_read_is_no_panic() {
        let (addr, _) = raw_server(vec![
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\nffffffffffffffff\r\nxyz",
        ])
        .await;
        let pool = pool_for(addr);
        let req = pool.request_bytes("text/event-stream", b"{}");
        let mut resp = pool.send(&req).await.unwrap();
        assert_eq!(resp.body.next().await.unwrap().unwrap(), b"abc");
        resp.body.finish_buffered();
        assert_eq!(
            pool.idle_count(),
            0,
            "an unfinished body closes its connection"
        );
    }
}
