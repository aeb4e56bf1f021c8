//! Plain requests beside the chat API, over the client's own transport (HTTP/1.1, TLS for
//! `https`, kept-alive connections): [`Getter`], a `GET` of a small document such as a server's
//! Prometheus `/metrics` page, and [`Poster`], a JSON `POST` such as a guard service's verdict.
//! Every request is bounded: connect, head and body together within one timeout, the body
//! within a size limit, so a server that hangs or floods costs a failed request, never a stuck
//! task.

use std::time::Duration;

use http::{HeaderMap, HeaderValue};

use super::http1::{self, Failure};
use super::url::redact_url;

/// Why a get failed; [`GetError::kind`] names the class for counters.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    /// DNS, TCP or TLS failed, or the connection closed before a response.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// No complete reply within the timeout.
    #[error("no complete reply within {0:?}")]
    Timeout(Duration),
    /// The reply's status is not 2xx.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The reply is not HTTP, or its body broke off.
    #[error("broken reply: {0}")]
    Broken(String),
    /// The body is larger than the limit.
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
}

impl GetError {
    /// A stable snake_case name: `connect`, `timeout`, `status`, `broken`, `too_large`.
    pub fn kind(&self) -> &'static str {
        match self {
            GetError::Connect(_) => "connect",
            GetError::Timeout(_) => "timeout",
            GetError::Status(_) => "status",
            GetError::Broken(_) => "broken",
            GetError::TooLarge(_) => "too_large",
        }
    }
}

/// Gets one URL again and again.
pub struct Getter {
    pool: http1::Pool,
    timeout: Duration,
    max_bytes: usize,
}

impl Getter {
    /// A getter of `url` (`http` or `https`); each get must finish within `timeout` and its
    /// body fit in `max_bytes`. The error names the URL, redacted.
    pub fn new(url: &str, timeout: Duration, max_bytes: usize) -> Result<Getter, String> {
        Ok(Getter {
            pool: pool(url, "GET", HeaderMap::new(), timeout)?,
            timeout,
            max_bytes,
        })
    }

    /// One get: the body of a 2xx reply.
    pub async fn get(&self) -> Result<Vec<u8>, GetError> {
        match tokio::time::timeout(self.timeout, self.get_unbounded()).await {
            Ok(result) => result,
            Err(_) => Err(GetError::Timeout(self.timeout)),
        }
    }

    async fn get_unbounded(&self) -> Result<Vec<u8>, GetError> {
        let request = self.pool.request_bytes("text/plain, */*", b"");
        exchange(&self.pool, &request, self.max_bytes).await
    }
}

/// Sends `request` and reads a 2xx reply's body within `max_bytes`.
async fn exchange(
    pool: &http1::Pool,
    request: &[u8],
    max_bytes: usize,
) -> Result<Vec<u8>, GetError> {
    match exchange_any(pool, request, max_bytes).await? {
        (200..300, body) => Ok(body),
        (status, _) => Err(GetError::Status(status)),
    }
}

/// Sends `request` and reads the reply's status and body (within `max_bytes`), whatever the
/// status.
async fn exchange_any(
    pool: &http1::Pool,
    request: &[u8],
    max_bytes: usize,
) -> Result<(u16, Vec<u8>), GetError> {
    let mut response = pool.send(request).await.map_err(|f| match f {
        Failure::Connect(m) | Failure::ConnectTimeout(m) | Failure::Closed(m) => {
            GetError::Connect(m)
        }
        Failure::BadHead(m) => GetError::Broken(m),
    })?;
    let status = response.status;
    let mut out = Vec::new();
    while let Some(piece) = response
        .body
        .next()
        .await
        .map_err(|e| GetError::Broken(e.0))?
    {
        if out.len() + piece.len() > max_bytes {
            return Err(GetError::TooLarge(max_bytes));
        }
        out.extend_from_slice(piece);
    }
    Ok((status, out))
}

/// Posts JSON bodies to one URL.
pub struct Poster {
    pool: http1::Pool,
    timeout: Duration,
    max_bytes: usize,
}

impl Poster {
    /// A poster to `url` (`http` or `https`) sending `headers` (an API key's among them) with
    /// each request; each must finish within `timeout`, its reply within `max_bytes`.
    pub fn new(
        url: &str,
        headers: HeaderMap,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Poster, String> {
        let mut headers = headers;
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Ok(Poster {
            pool: pool(url, "POST", headers, timeout)?,
            timeout,
            max_bytes,
        })
    }

    /// One request: the body of its 2xx reply.
    pub async fn post(&self, body: &[u8]) -> Result<Vec<u8>, GetError> {
        let request = self.pool.request_bytes("application/json", body);
        match tokio::time::timeout(self.timeout, exchange(&self.pool, &request, self.max_bytes))
            .await
        {
            Ok(result) => result,
            Err(_) => Err(GetError::Timeout(self.timeout)),
        }
    }
}

impl std::fmt::Debug for Poster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poster")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Poster {
    /// One request: the reply's status and body, whatever the status (a tool service's 4xx
    /// or 5xx body is what the model would see).
    pub async fn post_any(&self, body: &[u8]) -> Result<(u16, Vec<u8>), GetError> {
        let request = self.pool.request_bytes("application/json", body);
        match tokio::time::timeout(
            self.timeout,
            exchange_any(&self.pool, &request, self.max_bytes),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(GetError::Timeout(self.timeout)),
        }
    }
}

/// A pool of connections to `url` sending `method` requests with `headers`.
fn pool(
    url: &str,
    method: &str,
    mut headers: HeaderMap,
    timeout: Duration,
) -> Result<http1::Pool, String> {
    let bad = || format!("`{}` is not an http or https URL", redact_url(url));
    let uri: http::Uri = url.parse().map_err(|_| bad())?;
    if !headers.contains_key(http::header::USER_AGENT) {
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(concat!("reactbench/", env!("CARGO_PKG_VERSION"))),
        );
    }
    let target = http1::Target::with_method(method, &uri, &headers).ok_or_else(bad)?;
    let tls = if target.tls {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Some(http1::tls_config(roots).map_err(|e| format!("TLS setup failed: {e}"))?)
    } else {
        None
    };
    Ok(http1::Pool::new(
        target,
        tls,
        http1::PoolConfig {
            connect_timeout: timeout,
            max_idle: 64,
            idle_timeout: Duration::from_secs(60),
            tcp_keepalive: Duration::from_secs(30),
        },
    ))
}
