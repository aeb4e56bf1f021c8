//! OpenAI chat-completions wire types, owned by the mock server.
//!
//! Deliberately not shared with the harness's client: a schema mistake on one side must show up
//! as a failing test on the other. Requests are parsed leniently (unknown optional fields are
//! ignored, as OpenAI does); replies are written in OpenAI's exact shape.
//!
//! `request.rs` holds what the mock reads (borrowing from the body), `reply.rs` what it sends
//! (with `Serialize` derives, the reference for the wire shape), and `write.rs` the
//! hand-written writers the server uses instead of serde_json on the per-request path, pinned
//! byte for byte against those derives by its tests.

mod reply;
mod request;
mod write;

pub use reply::{
    Choice, Chunk, ChunkChoice, Completion, CompletionTokensDetails, Delta, ErrorBody, ErrorDetail,
    FunctionDelta, ModelEntry, ModelList, PromptTokensDetails, ReplyFunction, ReplyMessage,
    ReplyToolCall, ToolCallDelta, Usage,
};
pub use request::{
    ChatRequest, Content, ContentPart, FunctionCall, Message, RequestToolCall, StreamOptions, Tool,
    ToolFunction, parse_tools,
};
pub use write::ChunkWriter;
