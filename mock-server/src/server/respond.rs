//! Replies in OpenAI's shapes: the response body type, JSON replies, the error object, and the
//! headers that go with errors and limits (`retry-after`, `x-ratelimit-*`).
//!
//! Every part of the handler writes its replies with these, so an error has one shape
//! wherever it is decided.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};

use crate::limits::{LimitHeaders, Limited, go_duration};
use crate::wire::{ErrorBody, ErrorDetail};

/// A value, or the reply that ends the request instead.
pub type Step<T> = Result<T, Response<Body>>;

/// Response body: a whole buffer, or a stream of frames (SSE, or a body cut by a fault).
pub type Body = UnsyncBoxBody<Bytes, io::Error>;

/// A whole-buffer body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A JSON reply with this status.
pub fn json_response(status: StatusCode, bytes: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(full(bytes));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// An error reply in OpenAI's shape.
pub fn error(
    status: StatusCode,
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response<Body> {
    let body = ErrorBody {
        error: ErrorDetail {
            message,
            kind,
            param,
            code,
        },
    };
    json_response(status, serde_json::to_vec(&body).unwrap_or_default())
}

/// A 400 `invalid_request_error`.
pub fn invalid(message: &str, param: Option<&str>, code: Option<&str>) -> Response<Body> {
    error(
        StatusCode::BAD_REQUEST,
        message,
        "invalid_request_error",
        param,
        code,
    )
}

/// The 401 of a missing or wrong key.
pub fn unauthorized<B>(req: &Request<B>) -> Response<Body> {
    // Never echo the key that was sent: keys must not leak into logs or reports.
    let message = if req.headers().contains_key(header::AUTHORIZATION) {
        "Incorrect API key provided. Send the key the mock server was configured with as \
         `Authorization: Bearer <key>`."
    } else {
        "You didn't provide an API key. Send it as `Authorization: Bearer <key>`."
    };
    error(
        StatusCode::UNAUTHORIZED,
        message,
        "invalid_request_error",
        None,
        Some("invalid_api_key"),
    )
}

fn set_header(r: &mut Response<Body>, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

/// `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` of the limits that are set.
pub fn add_limit_headers(r: &mut Response<Body>, h: &LimitHeaders) {
    if let Some(q) = h.requests {
        set_header(r, "x-ratelimit-limit-requests", &q.limit.to_string());
        set_header(
            r,
            "x-ratelimit-remaining-requests",
            &q.remaining.to_string(),
        );
        set_header(r, "x-ratelimit-reset-requests", &go_duration(q.reset));
    }
    if let Some(t) = h.tokens {
        set_header(r, "x-ratelimit-limit-tokens", &t.limit.to_string());
        set_header(r, "x-ratelimit-remaining-tokens", &t.remaining.to_string());
        set_header(r, "x-ratelimit-reset-tokens", &go_duration(t.reset));
    }
}

/// `retry-after` (whole seconds, rounded up) and `retry-after-ms`.
pub fn add_retry_headers(r: &mut Response<Body>, wait: Duration) {
    let ms = wait.as_millis().max(1);
    set_header(r, "retry-after", &ms.div_ceil(1000).to_string());
    set_header(r, "retry-after-ms", &ms.to_string());
}

/// The 429 of a configured rpm or tpm limit, with its retry and limit headers.
pub fn rate_limited(model: &str, l: &Limited) -> Response<Body> {
    let per = if l.kind == "requests" {
        "requests per min (RPM)"
    } else {
        "tokens per min (TPM)"
    };
    let mut r = error(
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "Rate limit reached for {model} on {per}: Limit {}, Requested {}. Please try again \
             in {}.",
            l.limit,
            l.requested,
            go_duration(l.retry_after)
        ),
        l.kind,
        None,
        Some("rate_limit_exceeded"),
    );
    add_retry_headers(&mut r, l.retry_after);
    add_limit_headers(&mut r, &l.headers);
    r
}

/// The refusal of a request when `max_queue` requests already wait for the model: 429 with a
/// short `Retry-After`, or 503 as an overloaded engine answers.
pub fn queue_full(model: &str, status: u16) -> Response<Body> {
    if status == 503 {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The engine is currently overloaded, please try again later.",
            "server_error",
            None,
            None,
        );
    }
    let mut r = error(
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "Too many requests waiting for {model}: the queue is full. Please try again in 1s."
        ),
        "requests",
        None,
        Some("rate_limit_exceeded"),
    );
    add_retry_headers(&mut r, Duration::from_secs(1));
    r
}
