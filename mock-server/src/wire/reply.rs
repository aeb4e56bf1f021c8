//! What the mock sends: completions, stream chunks, errors and the model list, in OpenAI's
//! exact shape. The `Serialize` derives are the reference; the server writes the completions
//! and chunks with the writers in `write.rs`, which give the same bytes.

use serde::Serialize;

/// `usage` of a reply.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Usage {
    /// Input tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
    /// Breakdown of the input.
    pub prompt_tokens_details: PromptTokensDetails,
    /// Breakdown of the output.
    pub completion_tokens_details: CompletionTokensDetails,
}

/// `usage.prompt_tokens_details`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct PromptTokensDetails {
    /// Input tokens billed at the cached price.
    pub cached_tokens: u64,
    /// Always 0.
    pub audio_tokens: u64,
}

/// `usage.completion_tokens_details`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct CompletionTokensDetails {
    /// Always 0: the mock does not reason.
    pub reasoning_tokens: u64,
    /// Always 0.
    pub audio_tokens: u64,
}

impl Usage {
    /// Usage from the three counts.
    pub fn new(prompt: u64, cached: u64, completion: u64) -> Usage {
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            prompt_tokens_details: PromptTokensDetails {
                cached_tokens: cached,
                audio_tokens: 0,
            },
            completion_tokens_details: CompletionTokensDetails {
                reasoning_tokens: 0,
                audio_tokens: 0,
            },
        }
    }
}

/// A non-streaming reply (`object: "chat.completion"`).
#[derive(Debug, Serialize)]
pub struct Completion<'a> {
    /// `chatcmpl-...`.
    pub id: &'a str,
    /// Always `chat.completion`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: u64,
    /// The model asked for.
    pub model: &'a str,
    /// One choice.
    pub choices: [Choice<'a>; 1],
    /// Token counts.
    pub usage: Usage,
    /// Always null.
    pub system_fingerprint: Option<&'static str>,
}

/// A reply choice.
#[derive(Debug, Serialize)]
pub struct Choice<'a> {
    /// Always 0.
    pub index: u32,
    /// The assistant message.
    pub message: ReplyMessage<'a>,
    /// Always null.
    pub logprobs: Option<()>,
    /// `stop`, `length` or `tool_calls`.
    pub finish_reason: &'static str,
}

/// The assistant message of a reply.
#[derive(Debug, Serialize)]
pub struct ReplyMessage<'a> {
    /// Always `assistant`.
    pub role: &'static str,
    /// Text, or null with tool calls.
    pub content: Option<&'a str>,
    /// Always null.
    pub refusal: Option<()>,
    /// Tool calls, omitted when none.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub tool_calls: &'a [ReplyToolCall],
}

/// A tool call in a reply.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplyToolCall {
    /// `call_...`.
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Name and arguments.
    pub function: ReplyFunction,
}

/// Function of a reply tool call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplyFunction {
    /// Function name.
    pub name: String,
    /// Arguments as a JSON string.
    pub arguments: String,
}

/// One streaming event (`object: "chat.completion.chunk"`).
#[derive(Debug, Serialize)]
pub struct Chunk<'a> {
    /// Same id for every chunk of a stream.
    pub id: &'a str,
    /// Always `chat.completion.chunk`.
    pub object: &'static str,
    /// Unix seconds, the same for every chunk.
    pub created: u64,
    /// The model asked for.
    pub model: &'a str,
    /// Always null.
    pub system_fingerprint: Option<&'static str>,
    /// One choice, or none in the usage chunk.
    pub choices: Vec<ChunkChoice<'a>>,
    /// Only in the usage chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// A streaming choice.
#[derive(Debug, Serialize)]
pub struct ChunkChoice<'a> {
    /// Always 0.
    pub index: u32,
    /// What this chunk adds.
    pub delta: Delta<'a>,
    /// Always null.
    pub logprobs: Option<()>,
    /// Null but in the finish chunk.
    pub finish_reason: Option<&'static str>,
}

/// The delta of a streaming choice; absent fields are omitted.
#[derive(Debug, Default, Serialize)]
pub struct Delta<'a> {
    /// `assistant` in the first chunk only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    /// A piece of text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
    /// Tool-call fragments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

/// A tool-call fragment: the first carries `id`, `type` and the name, later ones argument text.
#[derive(Debug, Serialize)]
pub struct ToolCallDelta<'a> {
    /// Which call this fragment belongs to.
    pub index: u32,
    /// Only in the first fragment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    /// `function`, only in the first fragment.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// Name (first fragment) or argument text.
    pub function: FunctionDelta<'a>,
}

/// Function part of a tool-call fragment.
#[derive(Debug, Serialize)]
pub struct FunctionDelta<'a> {
    /// Only in the first fragment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// A piece of the arguments' JSON text.
    pub arguments: &'a str,
}

/// OpenAI's error body: `{"error": {...}}`.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// The error.
    pub error: ErrorDetail<'a>,
}

/// The error object.
#[derive(Debug, Serialize)]
pub struct ErrorDetail<'a> {
    /// Human message.
    pub message: &'a str,
    /// `invalid_request_error`, `server_error`, `insufficient_quota`, `requests`, `tokens` ...
    #[serde(rename = "type")]
    pub kind: &'a str,
    /// The offending parameter, if any.
    pub param: Option<&'a str>,
    /// Machine-readable code (`context_length_exceeded`, `rate_limit_exceeded` ...), if any.
    pub code: Option<&'a str>,
}

/// `GET /v1/models` entry.
#[derive(Debug, Serialize)]
pub struct ModelEntry<'a> {
    /// Model name.
    pub id: &'a str,
    /// Always `model`.
    pub object: &'static str,
    /// Fixed timestamp.
    pub created: u64,
    /// Always `reactbench-mock`.
    pub owned_by: &'static str,
}

/// `GET /v1/models` body.
#[derive(Debug, Serialize)]
pub struct ModelList<'a> {
    /// Always `list`.
    pub object: &'static str,
    /// The models.
    pub data: Vec<ModelEntry<'a>>,
}
