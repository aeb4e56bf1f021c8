//! [`LlmClient`]: built once per endpoint from its [`ClientConfig`] (headers, key, TLS,
//! connection pool), it bounds the requests in flight and makes one attempt per
//! [`LlmClient::chat`]: request JSON written, sent, status judged, body read into a reply or
//! an error, all within the attempt timeout, the key scrubbed from any error text.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::body::{completion_reply, read_body, read_stream};
use super::config::{ApiKey, ClientBuildError, ClientConfig, auth_header};
use super::headers::RateLimitInfo;
use super::http1;
use super::llm_error::{LlmError, http_error, transport_error, truncate};
use super::request::{ToolsJson, WireRequest};
use super::url::{chat_uri, redact_url};
use crate::chat::{ChatReply, ChatRequest};
use crate::record::ErrorClass;

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
