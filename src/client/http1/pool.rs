//! The connections to one target: connecting (DNS, TCP and TLS under one timeout) and the
//! idle list of keep-alive connections, the most recently used reused first. The exchange on
//! a connection is `exchange.rs`'s.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::conn::{Conn, Io, READ_CHUNK};
use super::head::Failure;
use super::target::Target;

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

    /// The most recently used idle connection that is still usable.
    pub(super) fn checkout(&self) -> Option<Conn> {
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
    pub(super) fn checkin(&self, conn: Conn) {
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
    pub(super) fn idle_count(&self) -> usize {
        self.idle.lock().map(|i| i.len()).unwrap_or(0)
    }

    pub(super) async fn connect(&self) -> Result<Conn, Failure> {
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
