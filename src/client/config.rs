//! How to reach an endpoint, as configured: [`ClientConfig`] and its defaults, the API key
//! ([`ApiKey`], never printed), the header that carries it, and why a client cannot be built
//! ([`ClientBuildError`], reported before a run starts).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::header::{AUTHORIZATION, HeaderName, HeaderValue};

/// Default of [`ClientConfig::max_connections`]: far more than a real provider lets one key
/// keep in flight, far fewer than the descriptors and loopback ports a machine has.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// An API key. Its `Debug` prints `***`, it has no `Display`, and the client never puts it into
/// an error message, so it cannot leak into logs or reports by accident.
#[derive(Clone)]
pub struct ApiKey(Arc<str>);

impl ApiKey {
    /// Wraps a key given directly (tests, or a caller that read it elsewhere).
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(Arc::from(key.into()))
    }

    /// Reads the key from environment variable `var`.
    pub fn from_env(var: &str) -> Result<Self, ClientBuildError> {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(ApiKey::new(v.trim())),
            _ => Err(ClientBuildError::MissingKey {
                var: var.to_string(),
            }),
        }
    }

    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How to reach one endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// Base URL up to and including the API version, such as `https://api.openai.com/v1`;
    /// `/chat/completions` is appended.
    pub base_url: String,
    /// Name of the environment variable holding the API key; `None` sends no `Authorization`.
    pub api_key_env: Option<String>,
    /// Extra headers sent with every request (for relays that want their own).
    pub headers: Vec<(String, String)>,
    /// Timeout of one attempt, from sending the request to the last byte of the reply.
    pub attempt_timeout: Duration,
    /// Timeout of establishing one connection: DNS, TCP and the TLS handshake.
    pub connect_timeout: Duration,
    /// Idle connections kept per host. The client opens as many connections as there are
    /// requests in flight; this bounds the ones it keeps for reuse.
    pub pool_max_idle_per_host: usize,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
    /// Most requests in flight at once, hence most open connections (HTTP/1.1 carries one
    /// request per connection, and the client opens a new one whenever none is idle). Without
    /// this bound 50,000 virtual users would open 50,000 sockets and run out of descriptors
    /// or loopback ports. Callers wait for a slot with [`LlmClient::slot`](super::LlmClient::slot).
    pub max_connections: usize,
    /// Largest reply body read (`[endpoint] max_response_bytes`, default 8 MiB); a larger one
    /// fails the attempt as `response_too_large` and closes its connection. It bounds the
    /// memory and the parsing one attempt can cost, whatever a server sends.
    pub max_response_bytes: u64,
    /// Header that carries the key: `None` sends `Authorization: Bearer KEY`; a name (such as
    /// Azure OpenAI's `api-key`) sends `NAME: KEY` instead (`[endpoint] auth_header`).
    pub auth_header: Option<String>,
}

/// Default of [`ClientConfig::max_response_bytes`]: 8 MiB, some thirty times the longest
/// completion a 128k-token window can produce as text.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 8 << 20;

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            base_url: "http://127.0.0.1:8080/v1".to_string(),
            api_key_env: None,
            headers: Vec::new(),
            attempt_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            pool_max_idle_per_host: 1024,
            pool_idle_timeout: Duration::from_secs(90),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            auth_header: None,
        }
    }
}

/// Why an [`LlmClient`](super::LlmClient) could not be built (a configuration problem,
/// reported before a run).
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    /// The key's environment variable is unset or empty.
    #[error(
        "environment variable `{var}` (endpoint.api_key_env) is not set or empty; export the API key in it, or remove api_key_env for an endpoint that needs no key"
    )]
    MissingKey {
        /// The variable's name.
        var: String,
    },
    /// An extra header has an invalid name or value.
    #[error(
        "header `{name}` (endpoint.headers) is not a valid HTTP header name or value; use ASCII letters, digits and dashes in names and visible ASCII in values"
    )]
    BadHeader {
        /// The header's name as configured.
        name: String,
    },
    /// The base URL does not parse.
    #[error(
        "endpoint.base_url `{url}` is not a valid http(s) URL; write it like \"https://api.openai.com/v1\""
    )]
    BadUrl {
        /// The URL as configured.
        url: String,
    },
    /// TLS could not be set up.
    #[error("could not set up TLS for the HTTP client: {0}")]
    Tls(#[from] rustls::Error),
}

/// The header that carries the key: `Authorization: Bearer KEY` by default, `NAME: KEY` when
/// the endpoint names its own (Azure OpenAI's `api-key`). The value is marked sensitive.
pub(super) fn auth_header(
    name: Option<&str>,
    key: &ApiKey,
) -> Result<(HeaderName, HeaderValue), ClientBuildError> {
    let bad = |name: &str| ClientBuildError::BadHeader {
        name: name.to_string(),
    };
    let (name, value) = match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => (AUTHORIZATION, format!("Bearer {}", key.expose())),
        Some(n) if n.eq_ignore_ascii_case("authorization") => {
            (AUTHORIZATION, format!("Bearer {}", key.expose()))
        }
        Some(n) => (
            HeaderName::from_bytes(n.as_bytes()).map_err(|_| bad(n))?,
            key.expose().to_string(),
        ),
    };
    let mut value = HeaderValue::from_str(&value).map_err(|_| bad(name.as_str()))?;
    value.set_sensitive(true);
    Ok((name, value))
}
