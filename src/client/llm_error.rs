//! [`LlmError`], one failed attempt as a value, and how each way of failing becomes one: no
//! response (the transport's failures), a body cut or too large, a non-2xx status with its
//! error body, an error object inside a 2xx reply, a reply that does not parse. Every message
//! is bounded in length.

use super::errors::{classify_error, parse_error_body, parse_error_value};
use super::headers::RateLimitInfo;
use super::http1;
use crate::record::ErrorClass;

/// Longest server error message kept in an [`LlmError`] (servers sometimes send whole HTML
/// pages; a report needs the first lines, not megabytes).
const MAX_ERROR_MESSAGE_CHARS: usize = 1000;

/// One failed attempt, as a value.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct LlmError {
    /// What kind of failure, from status and error code.
    pub class: ErrorClass,
    /// HTTP status, if a response arrived (200 for an error event inside a stream).
    pub status: Option<u16>,
    /// The error body's `type`, if any.
    pub error_type: Option<String>,
    /// The error body's `code`, numbers normalised to their decimal text (`400` -> `"400"`).
    pub code: Option<String>,
    /// The server's message, or a description of the local failure; never holds the API key.
    pub message: String,
    /// Rate-limit headers of the response (boxed: keeps `Result<_, LlmError>` small on the
    /// success path).
    pub rate_limit: Box<RateLimitInfo>,
}

impl LlmError {
    /// An error raised locally (no response), such as a timeout or a refused connection.
    pub fn local(class: ErrorClass, message: impl Into<String>) -> Self {
        LlmError {
            class,
            status: None,
            error_type: None,
            code: None,
            message: message.into(),
            rate_limit: Box::default(),
        }
    }

    fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(st) = self.status {
            s.push_str(&format!("HTTP {st} "));
        }
        s.push_str(self.class.as_str());
        if let Some(c) = &self.code {
            s.push_str(&format!(" (code {c})"));
        }
        if !self.message.is_empty() {
            s.push_str(": ");
            s.push_str(&self.message);
        }
        s
    }
}

/// The reply is longer than `max_response_bytes` (`limit`); its connection was closed.
pub(super) fn too_large(status: u16, limit: u64) -> LlmError {
    LlmError {
        status: Some(status),
        ..LlmError::local(
            ErrorClass::ResponseTooLarge,
            format!(
                "the reply is longer than endpoint.max_response_bytes ({limit} bytes); its connection was closed"
            ),
        )
    }
}

/// `s`, cut to [`MAX_ERROR_MESSAGE_CHARS`] characters (and marked so) when longer.
pub(super) fn truncate(mut s: String) -> String {
    if s.chars().count() > MAX_ERROR_MESSAGE_CHARS {
        s = s.chars().take(MAX_ERROR_MESSAGE_CHARS).collect();
        s.push_str(" ...");
    }
    s
}

/// No response: refused, reset, timed out while connecting, closed before a status line, or
/// something that is not HTTP came back.
pub(super) fn transport_error(f: http1::Failure) -> LlmError {
    let (class, message) = match f {
        http1::Failure::ConnectTimeout(m) => (ErrorClass::Timeout, m),
        http1::Failure::Connect(m) | http1::Failure::Closed(m) => (ErrorClass::Connection, m),
        http1::Failure::BadHead(m) => (ErrorClass::Malformed, m),
    };
    LlmError::local(class, truncate(message))
}

/// The body broke off after a 2xx status: a stream cut, whatever the transport says.
pub(super) fn body_error(e: http1::BodyError, status: u16) -> LlmError {
    LlmError {
        status: Some(status),
        ..LlmError::local(ErrorClass::StreamCut, truncate(e.0))
    }
}

/// The typed error of a non-2xx response.
pub(super) fn http_error(status: u16, text: &str, rate_limit: RateLimitInfo) -> LlmError {
    let body = parse_error_body(text);
    LlmError {
        class: classify_error(status, &body),
        status: Some(status),
        message: truncate(body.message.unwrap_or_default()),
        error_type: body.error_type,
        code: body.code,
        rate_limit: Box::new(rate_limit),
    }
}

/// An error object found inside a 2xx body or stream.
pub(super) fn embedded_error(v: &serde_json::Value, status: u16, class: ErrorClass) -> LlmError {
    let body = parse_error_value(v).unwrap_or_default();
    LlmError {
        class,
        status: Some(status),
        message: truncate(
            body.message
                .unwrap_or_else(|| "error object in a successful response".to_string()),
        ),
        error_type: body.error_type,
        code: body.code,
        rate_limit: Box::default(),
    }
}

/// A 2xx reply (or a piece of one) that is not what a chat completion looks like.
pub(super) fn malformed(status: u16, what: String) -> LlmError {
    LlmError {
        status: Some(status),
        ..LlmError::local(ErrorClass::Malformed, truncate(what))
    }
}
