//! Token counts for a reply that came without `usage`: counted locally with tiktoken
//! ([`Tokenizer`]), in bounded time, and flagged as estimated; large texts are counted on a
//! blocking thread so the attempt timeout can still fire.

use crate::chat::{ChatRequest, ToolCall, Usage};
use crate::tokens::Tokenizer;

/// Replies and texts larger than this are parsed and counted on a blocking thread, not on the
/// async workers: the attempt timeout can only fire while its task yields.
pub(super) const OFF_THREAD_BYTES: usize = 256 * 1024;

/// Counts the tokens locally when the server sent no usage, and flags them as estimated: the
/// prompt (messages and tool definitions) and the completion (content, reasoning, tool calls),
/// each text in bounded time ([`Tokenizer::count_bounded`]).
pub(super) fn estimate_usage(
    req: &ChatRequest,
    content: Option<&str>,
    reasoning: Option<&str>,
    calls: &[ToolCall],
) -> Usage {
    let t = Tokenizer::for_model(&req.model);
    let answer = content.map_or(0, |c| t.count_bounded(c))
        + calls
            .iter()
            .map(|c| t.count_bounded(&c.name) + t.count_bounded(&c.arguments))
            .sum::<u64>();
    let reasoning = reasoning.map_or(0, |r| t.count_bounded(r));
    Usage {
        prompt_tokens: t.count_request(req),
        cached_tokens: 0,
        completion_tokens: answer + reasoning,
        reasoning_tokens: reasoning,
        estimated: true,
    }
}

/// [`estimate_usage`] on a blocking thread when the texts are large (so the attempt timeout
/// can fire and the async workers stay free), inline otherwise.
pub(super) async fn estimate_usage_async(
    req: &ChatRequest,
    content: Option<String>,
    reasoning: Option<String>,
    calls: Vec<ToolCall>,
) -> (Usage, Option<String>, Vec<ToolCall>) {
    let size = content.as_ref().map_or(0, String::len)
        + reasoning.as_ref().map_or(0, String::len)
        + calls
            .iter()
            .map(|c| c.name.len() + c.arguments.len())
            .sum::<usize>();
    if size <= OFF_THREAD_BYTES {
        let usage = estimate_usage(req, content.as_deref(), reasoning.as_deref(), &calls);
        return (usage, content, calls);
    }
    let req = req.clone();
    let counted = tokio::task::spawn_blocking(move || {
        let usage = estimate_usage(&req, content.as_deref(), reasoning.as_deref(), &calls);
        (usage, content, calls)
    });
    match counted.await {
        Ok(done) => done,
        // Only a panic inside the tokenizer gets here: no texts to give back, no estimate.
        Err(_) => (
            Usage {
                estimated: true,
                ..Usage::default()
            },
            None,
            Vec::new(),
        ),
    }
}
