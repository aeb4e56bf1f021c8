//! Error bodies and their classes.
//!
//! Servers answer failures in many shapes: OpenAI's `{"error": {"message", "type", "code"}}`,
//! LiteLLM's same shape with `"code": "400"` and the exception's name in the message, vLLM's
//! top-level `{"object": "error", "message", "type", "code": 400}`, llama.cpp's server
//! `{"error": {"code": 400, "message", "type": "exceed_context_size_error"}}`, FastAPI's
//! `{"detail": "..."}`, `{"error": "text"}`, and plain text or HTML from a proxy.
//! [`parse_error_body`] reads every one of them; [`classify_error`] names the class from the
//! HTTP status, then the `code`, then the `type`, and only for a context-window overflow (which
//! only OpenAI names by code) from the message's wording as each server writes it.

use crate::record::ErrorClass;

/// The fields of an error body, in any of the shapes servers send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorBody {
    /// The human-readable message (or the whole body when it is not a JSON error object).
    pub message: Option<String>,
    /// `type`, if any.
    pub error_type: Option<String>,
    /// `code`, numbers normalised to their decimal text (`400` -> `"400"`).
    pub code: Option<String>,
}

/// The class of an HTTP error from its status and the body's `type` and `code` only.
pub fn classify(status: u16, error_type: Option<&str>, code: Option<&str>) -> ErrorClass {
    let is = |want: &str| code == Some(want) || error_type == Some(want);
    match status {
        400 if is("context_length_exceeded") => ErrorClass::ContextLength,
        400 | 422 => ErrorClass::BadRequest,
        401 | 403 => ErrorClass::Auth,
        404 => ErrorClass::NotFound,
        408 | 409 => ErrorClass::Conflict,
        429 if is("insufficient_quota") => ErrorClass::QuotaExceeded,
        429 => ErrorClass::RateLimited,
        500..=599 => ErrorClass::Server,
        400..=499 => ErrorClass::BadRequest,
        _ => ErrorClass::Other,
    }
}

/// `code` and `type` values that name a context-window overflow, lowercased (OpenAI, llama.cpp,
/// LiteLLM's exception name as a type).
const CONTEXT_CODES: &[&str] = &[
    "context_length_exceeded",
    "exceed_context_size_error",
    "contextwindowexceedederror",
    "context_window_exceeded",
];

/// Phrases, lowercased, in which servers say a prompt overflowed the context window:
/// LiteLLM (`ContextWindowExceededError`), vLLM ("This model's maximum context length is 4096
/// tokens ..."), Anthropic and gateways in front of it ("prompt is too long"), llama.cpp's
/// server ("the request exceeds the available context size"), OpenAI's wording too.
const CONTEXT_PHRASES: &[&str] = &[
    "contextwindowexceedederror",
    "context_length_exceeded",
    "maximum context length",
    "prompt is too long",
    "exceeds the available context size",
    "exceeds the context window",
    "context window exceeded",
    "context length exceeded",
];

/// Whether `message` is a context-window overflow as some server words it.
pub fn is_context_window_message(message: &str) -> bool {
    // Error messages are short after truncation, but a proxy may send a whole page: look at
    // the start only (the phrases come early in every known message).
    let head: String = message
        .chars()
        .take(2000)
        .flat_map(char::to_lowercase)
        .collect();
    CONTEXT_PHRASES.iter().any(|p| head.contains(p))
}

/// The class of an error: [`classify`] by status, code and type, then a 400 (or 413, 422)
/// whose code, type or message names a context-window overflow is
/// [`ErrorClass::ContextLength`].
pub fn classify_error(status: u16, body: &ErrorBody) -> ErrorClass {
    let class = classify(status, body.error_type.as_deref(), body.code.as_deref());
    if class == ErrorClass::ContextLength || !matches!(status, 400 | 413 | 422) {
        return class;
    }
    let named = |v: &Option<String>| {
        v.as_deref().is_some_and(|t| {
            let t = t.to_ascii_lowercase();
            CONTEXT_CODES.iter().any(|c| t == *c || t.ends_with(c))
        })
    };
    if named(&body.code)
        || named(&body.error_type)
        || body
            .message
            .as_deref()
            .is_some_and(is_context_window_message)
    {
        ErrorClass::ContextLength
    } else {
        class
    }
}

fn code_text(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn str_field(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key).and_then(|x| x.as_str()).map(str::to_string)
}

/// Reads `{"error": {...}}` (OpenAI, LiteLLM, llama.cpp), `{"error": "text"}`, top-level
/// `{"object": "error", "message", "type", "code"}` (vLLM) and `{"detail": "text"}`
/// (FastAPI); `None` for JSON that is none of these.
pub(crate) fn parse_error_value(v: &serde_json::Value) -> Option<ErrorBody> {
    match v.get("error") {
        Some(e @ serde_json::Value::Object(_)) => Some(ErrorBody {
            message: str_field(e, "message").or_else(|| str_field(v, "message")),
            error_type: str_field(e, "type"),
            code: code_text(e.get("code")),
        }),
        Some(serde_json::Value::String(s)) => Some(ErrorBody {
            message: Some(s.clone()),
            error_type: str_field(v, "type"),
            code: code_text(v.get("code")),
        }),
        _ if v.get("object").and_then(|o| o.as_str()) == Some("error")
            || (v.get("message").is_some() && v.get("choices").is_none()) =>
        {
            Some(ErrorBody {
                message: str_field(v, "message"),
                error_type: str_field(v, "type"),
                code: code_text(v.get("code")),
            })
        }
        _ if v.get("choices").is_none() => {
            let detail = str_field(v, "detail")?;
            Some(ErrorBody {
                message: Some(detail),
                ..ErrorBody::default()
            })
        }
        _ => None,
    }
}

/// The fields of any error body: a JSON error object in one of the shapes above, else the
/// trimmed text as the message (plain text, HTML, JSON of another shape).
pub fn parse_error_body(text: &str) -> ErrorBody {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| parse_error_value(&v))
        .unwrap_or_else(|| ErrorBody {
            message: Some(text.trim().to_string()),
            ..ErrorBody::default()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14.5: each server's exact context-window body is `context_length_exceeded`; other
    /// 400s stay `bad_request`.
    #[test]
    fn context_window_errors_of_every_server_are_recognised() {
        for (server, status, body, want) in [
            (
                "openai",
                400,
                r#"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
                ErrorClass::ContextLength,
            ),
            (
                "litellm",
                400,
                r#"{"error":{"message":"litellm.ContextWindowExceededError: litellm.BadRequestError: ContextWindowExceededError: OpenAIException - This model's maximum context length is 8192 tokens.","type":null,"param":null,"code":"400"}}"#,
                ErrorClass::ContextLength,
            ),
            (
                "litellm (type)",
                400,
                r#"{"error":{"message":"prompt too big","type":"ContextWindowExceededError","param":null,"code":"400"}}"#,
                ErrorClass::ContextLength,
            ),
            (
                "vllm",
                400,
                r#"{"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400}"#,
                ErrorClass::ContextLength,
            ),
            (
                "anthropic-style gateway",
                400,
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 215000 tokens > 200000 maximum"}}"#,
                ErrorClass::ContextLength,
            ),
            (
                "llama.cpp server",
                400,
                r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":5000,"n_ctx":4096}}"#,
                ErrorClass::ContextLength,
            ),
            (
                "vllm other 400",
                400,
                r#"{"object":"error","message":"temperature must be non-negative","type":"BadRequestError","param":null,"code":400}"#,
                ErrorClass::BadRequest,
            ),
            (
                "plain text",
                400,
                "Bad Request: prompt is too long",
                ErrorClass::ContextLength,
            ),
            ("plain text 400", 400, "Bad Request", ErrorClass::BadRequest),
            (
                "a 500 that mentions the window is a server error",
                500,
                r#"{"error":{"message":"maximum context length","code":500}}"#,
                ErrorClass::Server,
            ),
        ] {
            let parsed = parse_error_body(body);
            assert_eq!(classify_error(status, &parsed), want, "{server}: {body}");
        }
    }

    #[test]
    fn classification_uses_status_and_code_first() {
        for (status, ty, code, want) in [
            (
                400,
                None,
                Some("context_length_exceeded"),
                ErrorClass::ContextLength,
            ),
            (
                400,
                Some("context_length_exceeded"),
                None,
                ErrorClass::ContextLength,
            ),
            (
                400,
                Some("invalid_request_error"),
                None,
                ErrorClass::BadRequest,
            ),
            (
                400,
                Some("BadRequestError"),
                Some("400"),
                ErrorClass::BadRequest,
            ),
            (422, None, None, ErrorClass::BadRequest),
            (401, None, Some("invalid_api_key"), ErrorClass::Auth),
            (403, None, None, ErrorClass::Auth),
            (404, None, Some("model_not_found"), ErrorClass::NotFound),
            (408, None, None, ErrorClass::Conflict),
            (409, None, None, ErrorClass::Conflict),
            (
                429,
                Some("requests"),
                Some("rate_limit_exceeded"),
                ErrorClass::RateLimited,
            ),
            (429, None, Some("429"), ErrorClass::RateLimited),
            (
                429,
                Some("insufficient_quota"),
                Some("insufficient_quota"),
                ErrorClass::QuotaExceeded,
            ),
            (
                429,
                None,
                Some("insufficient_quota"),
                ErrorClass::QuotaExceeded,
            ),
            (500, None, None, ErrorClass::Server),
            (502, None, None, ErrorClass::Server),
            (503, None, None, ErrorClass::Server),
            (504, None, None, ErrorClass::Server),
            (418, None, None, ErrorClass::BadRequest),
            (302, None, None, ErrorClass::Other),
        ] {
            assert_eq!(classify(status, ty, code), want, "{status} {ty:?} {code:?}");
        }
    }

    #[test]
    fn error_bodies_in_every_shape() {
        for (body, want) in [
            (
                r#"{"error":{"message":"m","type":"requests","code":"rate_limit_exceeded"}}"#,
                (Some("m"), Some("requests"), Some("rate_limit_exceeded")),
            ),
            (
                r#"{"error":{"message":"m","type":"None","code":"429"}}"#,
                (Some("m"), Some("None"), Some("429")),
            ),
            (
                r#"{"object":"error","message":"m","type":"BadRequestError","param":null,"code":400}"#,
                (Some("m"), Some("BadRequestError"), Some("400")),
            ),
            (r#"{"error":"plain"}"#, (Some("plain"), None, None)),
            (
                r#"{"error":{"message":"m","code":null}}"#,
                (Some("m"), None, None),
            ),
            (
                r#"{"error":{"code":400,"message":"m","type":"t"}}"#,
                (Some("m"), Some("t"), Some("400")),
            ),
            (r#"{"detail":"Not Found"}"#, (Some("Not Found"), None, None)),
            (
                " upstream timed out \n",
                (Some("upstream timed out"), None, None),
            ),
            (r#"[1,2]"#, (Some("[1,2]"), None, None)),
            (r#"{"id":"x"}"#, (Some(r#"{"id":"x"}"#), None, None)),
        ] {
            let got = parse_error_body(body);
            assert_eq!(
                (
                    got.message.as_deref(),
                    got.error_type.as_deref(),
                    got.code.as_deref()
                ),
                want,
                "{body}"
            );
        }
    }
}
