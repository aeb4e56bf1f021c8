//! Text replies: a text-protocol tool step (`Thought: ... Action: ... Action Input: ...`) and
//! the final answer, built from one-token pieces so their token count is known, then shaped
//! by the request's options (`json_object`, `stop`, `max_tokens`).

use std::borrow::Cow;

use tiktoken_rs::CoreBPE;

use super::types::{Reply, ScriptInput, ToolStep};
use super::vocab::{Vocab, owned, pieces};
use crate::rng::SplitMix;

/// A text-protocol tool step: a thought of filler words sized from `target`, then the action
/// and its input.
pub fn action(
    bpe: &CoreBPE,
    v: &'static Vocab,
    input: &ScriptInput<'_>,
    s: ToolStep<'_>,
    target: u64,
    rng: &mut SplitMix,
) -> Reply {
    let mut out: Vec<Cow<'static, str>> = Vec::with_capacity(target as usize + 16);
    out.extend(v.thought_prefix.iter().map(|p| Cow::Borrowed(p.as_str())));
    for _ in 0..target.saturating_sub(16).max(3) {
        out.push(Cow::Borrowed(v.word(rng)));
    }
    let tail = format!(".\nAction: {}\nAction Input: {}", s.tool, s.arg);
    out.extend(owned(pieces(bpe, &bpe.encode_ordinary(&tail))));
    text_reply(bpe, out, input, s.dangerous)
}

/// The final answer: exactly `target` tokens (before `max_tokens`), opening with `Final
/// Answer:` where the text protocol is spoken (a tool list, or a system prompt that mentions
/// it), else as plain text.
pub fn final_answer(
    bpe: &CoreBPE,
    v: &'static Vocab,
    input: &ScriptInput<'_>,
    native: bool,
    tools_offered: bool,
    target: u64,
    rng: &mut SplitMix,
) -> Reply {
    let wants_react = !native
        && input.messages.iter().any(|m| {
            (m.role == "system" || m.role == "developer")
                && m.content.text().contains("Final Answer")
        });
    let prefix = if wants_react || tools_offered && !native {
        &v.final_prefix
    } else {
        &v.plain_prefix
    };
    let mut out: Vec<Cow<'static, str>> = Vec::with_capacity(target as usize + 1);
    out.extend(prefix.iter().map(|p| Cow::Borrowed(p.as_str())));
    // At least one word: "." straight after ":" would merge into one token.
    for _ in 0..target.saturating_sub(prefix.len() as u64 + 1).max(1) {
        out.push(Cow::Borrowed(v.word(rng)));
    }
    out.push(Cow::Borrowed("."));
    out.truncate(target as usize);
    text_reply(bpe, out, input, false)
}

/// A text reply from its token pieces: made a JSON object in `json_object` mode, ended before
/// the first stop sequence, cut at `max_tokens`.
fn text_reply(
    bpe: &CoreBPE,
    mut pieces: Vec<Cow<'static, str>>,
    input: &ScriptInput<'_>,
    dangerous: bool,
) -> Reply {
    if input.json_object {
        let json = crate::validate::as_json_object(&pieces.concat());
        pieces = owned(self::pieces(bpe, &bpe.encode_ordinary(&json)));
    }
    if !input.stop.is_empty() {
        cut_at_stop(&mut pieces, input.stop);
    }
    let mut finish = "stop";
    if let Some(max) = input.max_tokens
        && pieces.len() as u64 > max
    {
        pieces.truncate(max as usize);
        finish = "length";
    }
    let content: String = pieces.concat();
    Reply {
        completion_tokens: pieces.len() as u64,
        pieces: if input.want_pieces {
            pieces
        } else {
            Vec::new()
        },
        content: Some(content),
        tool_calls: Vec::new(),
        call_pieces: Vec::new(),
        finish_reason: finish,
        dangerous,
    }
}

/// Drops the pieces from the first stop sequence on; a piece the sequence starts inside keeps
/// its text before it (and still counts as a token, as the model generated it).
fn cut_at_stop(pieces: &mut Vec<Cow<'static, str>>, stop: &[String]) {
    let content = pieces.concat();
    let Some(at) = crate::validate::stop_at(&content, stop) else {
        return;
    };
    let mut start = 0;
    for (i, p) in pieces.iter_mut().enumerate() {
        let end = start + p.len();
        if end > at {
            let keep = at - start;
            if keep == 0 {
                pieces.truncate(i);
            } else {
                *p = Cow::Owned(p[..keep].to_string());
                pieces.truncate(i + 1);
            }
            return;
        }
        start = end;
    }
}
