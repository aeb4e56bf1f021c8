//! The OpenAI-compatible HTTP client: one attempt of one chat-completions call.
//!
//! [`LlmClient::chat`] turns a [`ChatRequest`](crate::chat::ChatRequest) into OpenAI JSON,
//! sends it once (streaming or not), and returns either a
//! [`ChatReply`](crate::chat::ChatReply) or an [`LlmError`] that carries everything a retry
//! policy needs: the class (from the HTTP status and the error body's `code` and `type`;
//! message wording only to recognise a context-window overflow, see `errors.rs`), the status,
//! and the rate-limit headers (parsed saturating, see `headers.rs`). Retries, breakers and
//! fallbacks live in `agent::resilience`; this module does one attempt and measures it
//! honestly.
//!
//! It is liberal in what it accepts, because real servers deviate: a usage chunk whose `choices`
//! is not empty, `finish_reason: "stop"` together with tool calls, no `usage` at all (then the
//! tokens are counted locally with tiktoken and flagged as estimated), an `{"error": ...}` event
//! in the middle of a stream, a stream that ends without `data: [DONE]`, and error bodies in
//! OpenAI, LiteLLM (`"code": "429"`) and vLLM (top-level `{"object": "error", ...}`) shapes.
//!
//! The API key is read from an environment variable, held in [`ApiKey`] (whose `Debug` prints
//! `***`), sent as a sensitive header, and scrubbed from any error text a server echoes back.
//!
//! The files, in layers (each uses only files listed before it; `tests/it/layering.rs` checks
//! that no two use each other):
//! - `url.rs` (base URLs: the chat path, which URLs are taken, redaction), `headers.rs`
//!   (retry and rate-limit headers), `errors.rs` (error bodies to a class), `sse.rs` (the SSE
//!   parser), `request.rs` (the request's JSON and the tool-list cache), `config.rs`
//!   ([`ClientConfig`], [`ApiKey`], [`ClientBuildError`]), `estimate.rs` (local token counts):
//!   plain types and parsers.
//! - `http1/`: the transport (HTTP/1.1 over TCP or TLS, a keep-alive pool).
//! - `llm_error.rs`: [`LlmError`] and how each failure becomes one.
//! - `reply.rs`: a non-streamed reply, [`parse_completion`]. `chunk.rs`: one stream chunk's
//!   wire format. `stream.rs`: the stream's state and [`StreamDecoder`].
//! - `body.rs`: reading a reply body within its size bound, whole or as a stream.
//! - `llm_client.rs`: [`LlmClient`], construction and the exchange itself.
//! - `get.rs`: [`Getter`] and [`Poster`], bounded plain `GET` and JSON `POST` requests over the
//!   same transport (a server's Prometheus `/metrics` page, a guard service's verdict).
//!
//! This file only names the parts and re-exports the module's public face.

mod body;
mod chunk;
mod config;
mod errors;
mod estimate;
mod get;
mod headers;
mod http1;
mod llm_client;
mod llm_error;
mod reply;
mod request;
mod sse;
mod stream;
mod url;

pub use config::{
    ApiKey, ClientBuildError, ClientConfig, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_RESPONSE_BYTES,
};
pub use errors::{
    ErrorBody, classify, classify_error, is_context_window_message, parse_error_body,
};
pub use get::{GetError, Getter, Poster};
pub use headers::{
    RateLimitInfo, SATURATED_WAIT, parse_count, parse_reset_duration, parse_retry_after,
    parse_retry_after_ms, saturating_wait,
};
pub use http1::{
    BodyError, ChunkedDecoder, Failure as HeadFailure, MAX_HEAD_BYTES, MAX_HEADERS,
    Parsed as ParsedHead, parse_head_bounded,
};
pub use llm_client::LlmClient;
pub use llm_error::LlmError;
pub use reply::parse_completion;
pub use request::request_json;
pub use sse::{SseEvent, SseEventRef, SseParser};
pub use stream::{StreamDecoder, parse_stream};
pub use url::{chat_uri, chat_url, redact_url};
