//! History truncation to the model's context window.
//!
//! Rules, in order:
//! 1. A history that already fits is returned unchanged.
//! 2. Pinned messages are always kept: the leading system message(s), and the first user
//!    message of the current turn (also when there is no system message: the seed dropped it).
//! 3. The rest is cut into groups: an assistant message with `tool_calls` together with the
//!    `role: tool` messages that answer it form one group; every other message is a group of
//!    one. A tool result that answers no call of the assistant message before it is an orphan
//!    and is always dropped (the API rejects it).
//! 4. Groups are kept newest first while they fit in `max_prompt_tokens`; the first group that
//!    does not fit ends the walk, so the kept part is one contiguous, coherent tail.
//!
//! So no output ever holds a tool result whose call was dropped, nor a call separated from its
//! results. If the pinned messages alone do not fit, only they are returned (the budget check
//! or the endpoint then reports the overflow). [`truncate_harder`] halves the target, for the
//! single retry after a 400 `context_length_exceeded`.

use std::collections::HashSet;

use crate::chat::{ChatMessage, Role};
use crate::tokens::{TOKENS_REPLY_PRIMING, Tokenizer};

/// Text-protocol observations are sent back as user messages starting with this word; they
/// belong to the turn, they do not start one.
const OBSERVATION_PREFIX: &str = "Observation";

/// Index of the user message that starts the current turn: the last user message that is not a
/// text-protocol observation (`Observation: ...`). `None` if there is no such message.
pub fn current_turn_start(messages: &[ChatMessage]) -> Option<usize> {
    messages.iter().rposition(|m| {
        m.role == Role::User
            && !m
                .content
                .as_deref()
                .unwrap_or("")
                .trim_start()
                .starts_with(OBSERVATION_PREFIX)
    })
}

/// Truncates `messages` to at most `max_prompt_tokens` (as [`Tokenizer::count_messages`]
/// counts them), keeping the system message, the current turn's first user message (found by
/// [`current_turn_start`]) and the newest messages, never splitting a tool call from its
/// results. See the module docs for the exact rules.
pub fn truncate(
    messages: &[ChatMessage],
    max_prompt_tokens: u64,
    tokenizer: &Tokenizer,
) -> Vec<ChatMessage> {
    truncate_turn(
        messages,
        current_turn_start(messages),
        max_prompt_tokens,
        tokenizer,
    )
}

/// [`truncate`] to half of `max_prompt_tokens`: the one harder retry after the endpoint
/// answered 400 `context_length_exceeded` (our count disagreed with the server's, so leave a
/// wide margin rather than retry at the same size).
pub fn truncate_harder(
    messages: &[ChatMessage],
    max_prompt_tokens: u64,
    tokenizer: &Tokenizer,
) -> Vec<ChatMessage> {
    truncate(messages, max_prompt_tokens / 2, tokenizer)
}

/// [`truncate`] with the current turn's first user message given by index (`None`: no user
/// message is pinned), for callers that track turns themselves.
pub fn truncate_turn(
    messages: &[ChatMessage],
    turn_start: Option<usize>,
    max_prompt_tokens: u64,
    tokenizer: &Tokenizer,
) -> Vec<ChatMessage> {
    let costs: Vec<u64> = messages
        .iter()
        .map(|m| tokenizer.count_message(m))
        .collect();
    truncate_costed(messages, &costs, turn_start, max_prompt_tokens).0
}

/// [`truncate_turn`] with each message's token cost already known (`costs[i]` is what
/// [`Tokenizer::count_message`] says of `messages[i]`), also returning the prompt tokens of the
/// kept messages (what [`Tokenizer::count_messages`] would say of them). The agent keeps the
/// costs across the steps of a turn, so each message is tokenized once per turn instead of
/// twice per step (here and again for the budget's estimate).
///
/// # Panics
/// Never: `costs` shorter than `messages` prices the missing messages at 0 (a caller bug that
/// would under-count, not crash).
pub fn truncate_costed(
    messages: &[ChatMessage],
    costs: &[u64],
    turn_start: Option<usize>,
    max_prompt_tokens: u64,
) -> (Vec<ChatMessage>, u64) {
    let cost = |i: usize| costs.get(i).copied().unwrap_or(0);
    let total = TOKENS_REPLY_PRIMING + (0..messages.len()).map(cost).sum::<u64>();
    if total <= max_prompt_tokens {
        return (messages.to_vec(), total);
    }
    let costs: Vec<u64> = (0..messages.len()).map(cost).collect();

    let mut keep = vec![false; messages.len()];
    let mut used = TOKENS_REPLY_PRIMING;
    let leading_system = messages
        .iter()
        .take_while(|m| m.role == Role::System)
        .count();
    let pinned = (0..leading_system).chain(turn_start.filter(|&i| i < messages.len()));
    for i in pinned {
        if !keep[i] {
            keep[i] = true;
            used += costs[i];
        }
    }

    // Groups of the unpinned messages, oldest first, as index lists.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut i = 0;
    while i < messages.len() {
        let m = &messages[i];
        if keep[i] {
            i += 1;
            continue;
        }
        if m.role == Role::Assistant && !m.tool_calls.is_empty() {
            let ids: HashSet<&str> = m.tool_calls.iter().map(|c| c.id.as_str()).collect();
            let mut group = vec![i];
            let mut j = i + 1;
            while j < messages.len()
                && messages[j].role == Role::Tool
                && messages[j]
                    .tool_call_id
                    .as_deref()
                    .is_some_and(|id| ids.contains(id))
            {
                group.push(j);
                j += 1;
            }
            groups.push(group);
            i = j;
        } else if m.role == Role::Tool {
            // An orphan: its call is not right before it. Never sent.
            i += 1;
        } else {
            groups.push(vec![i]);
            i += 1;
        }
    }

    for group in groups.iter().rev() {
        let cost: u64 = group.iter().map(|&k| costs[k]).sum();
        if used + cost > max_prompt_tokens {
            break;
        }
        used += cost;
        for &k in group {
            keep[k] = true;
        }
    }

    let kept = messages
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(m, _)| m.clone())
        .collect();
    let tokens = TOKENS_REPLY_PRIMING
        + costs
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(c, _)| c)
            .sum::<u64>();
    (kept, tokens)
}

/// The first problem that would make an API reject `messages` as a tool-call sequence: a tool
/// result not directly answering a call of the assistant message before it, or a call left
/// without its result while later messages follow. `None` when the sequence is well formed.
/// Used by tests here and usable as a debug assertion by the agent loop.
pub fn tool_pairing_error(messages: &[ChatMessage]) -> Option<String> {
    let mut open: HashSet<&str> = HashSet::new();
    let mut in_group = false;
    for (i, m) in messages.iter().enumerate() {
        match m.role {
            Role::Tool => {
                let id = m.tool_call_id.as_deref().unwrap_or("");
                if !in_group || !open.remove(id) {
                    return Some(format!(
                        "message {i}: tool result for `{id}` answers no pending call"
                    ));
                }
            }
            _ => {
                if !open.is_empty() {
                    return Some(format!(
                        "message {i}: calls {open:?} have no result before it"
                    ));
                }
                in_group = m.role == Role::Assistant && !m.tool_calls.is_empty();
                open = m.tool_calls.iter().map(|c| c.id.as_str()).collect();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::chat::ToolCall;

    fn tok() -> Tokenizer {
        Tokenizer::for_model("gpt-4.1")
    }

    fn sys(t: &str) -> ChatMessage {
        ChatMessage::text(Role::System, t)
    }
    fn user(t: &str) -> ChatMessage {
        ChatMessage::text(Role::User, t)
    }
    fn asst(t: &str) -> ChatMessage {
        ChatMessage::text(Role::Assistant, t)
    }
    fn calls(ids: &[&str]) -> ChatMessage {
        ChatMessage {
            role: Role::Assistant,
            content: None,
            tool_calls: ids
                .iter()
                .map(|id| ToolCall {
                    id: id.to_string(),
                    name: "search".into(),
                    arguments: r#"{"query":"weather in Hanoi today"}"#.into(),
                })
                .collect(),
            tool_call_id: None,
        }
    }
    fn result(id: &str) -> ChatMessage {
        ChatMessage::tool_result(id, "Hanoi: 31°C, humid, light rain in the afternoon")
    }

    /// Short labels of the output, to compare against an expected shape.
    fn shape(msgs: &[ChatMessage]) -> Vec<String> {
        msgs.iter()
            .map(|m| match m.role {
                Role::Tool => format!("tool:{}", m.tool_call_id.as_deref().unwrap_or("")),
                Role::Assistant if !m.tool_calls.is_empty() => format!(
                    "calls:{}",
                    m.tool_calls
                        .iter()
                        .map(|c| c.id.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                r => format!("{}:{}", r.as_str(), m.content.as_deref().unwrap_or("")),
            })
            .collect()
    }

    /// With costs given, the same messages are kept, and the count returned is what
    /// `count_messages` says of them, whether or not anything had to go.
    #[test]
    fn truncate_costed_matches_truncate_and_counts_the_prompt() {
        let t = tok();
        let msgs = vec![
            sys("You are a helpful agent."),
            user(&long("old")),
            asst(&long("older answer")),
            user("What is the weather in Hanoi?"),
            calls(&["a", "b"]),
            result("a"),
            result("b"),
        ];
        let costs: Vec<u64> = msgs.iter().map(|m| t.count_message(m)).collect();
        for max in [10_000, 400, 120, 50] {
            let turn = current_turn_start(&msgs);
            let (kept, tokens) = truncate_costed(&msgs, &costs, turn, max);
            assert_eq!(
                shape(&kept),
                shape(&truncate_turn(&msgs, turn, max, &t)),
                "{max}"
            );
            assert_eq!(tokens, t.count_messages(&kept), "{max}");
        }
    }

    fn long(word: &str) -> String {
        format!("{word} ").repeat(200)
    }

    #[test]
    fn table() {
        let t = tok();
        let l = long("filler");
        let (sys_l, user_l) = (format!("system:{l}"), format!("user:{l}"));
        // (name, history, budget in tokens, expected shape)
        let cases: Vec<(&str, Vec<ChatMessage>, u64, Vec<&str>)> = vec![
            (
                "fits: unchanged, even with an orphan",
                vec![sys("s"), result("x"), user("q")],
                10_000,
                vec!["system:s", "tool:x", "user:q"],
            ),
            (
                "no system message: the turn's user message is still kept",
                vec![user("old"), asst(&l), user("q"), asst(&l), asst("newest")],
                60,
                vec!["user:q", "assistant:newest"],
            ),
            (
                "system and turn start pinned, newest kept, older turn dropped",
                vec![
                    sys("s"),
                    user("old"),
                    asst(&l),
                    user("q"),
                    asst("a1"),
                    asst("a2"),
                ],
                60,
                vec!["system:s", "user:q", "assistant:a1", "assistant:a2"],
            ),
            (
                "a tool group that does not fit is dropped whole",
                vec![
                    sys("s"),
                    user("q"),
                    calls(&["c1", "c2"]),
                    result("c1"),
                    result("c2"),
                    asst("done"),
                ],
                40,
                vec!["system:s", "user:q", "assistant:done"],
            ),
            (
                "a tool group that fits is kept whole",
                vec![
                    sys("s"),
                    user("old"),
                    asst(&l),
                    user("q"),
                    calls(&["c1"]),
                    result("c1"),
                ],
                100,
                vec!["system:s", "user:q", "calls:c1", "tool:c1"],
            ),
            (
                "orphan tool results are dropped when truncating",
                vec![sys("s"), user("q"), asst(&l), result("ghost"), asst("a")],
                40,
                vec!["system:s", "user:q", "assistant:a"],
            ),
            (
                "the walk stops at the first group that does not fit",
                vec![sys("s"), user("q"), asst("tiny"), asst(&l), asst("a")],
                40,
                vec!["system:s", "user:q", "assistant:a"],
            ),
            (
                "pinned alone over budget: only pinned returned",
                vec![sys(&l), user(&l), asst("a")],
                10,
                vec![sys_l.as_str(), user_l.as_str()],
            ),
            (
                "text-protocol observations do not start a turn",
                vec![
                    sys("s"),
                    user("q"),
                    asst(&l),
                    user("Observation: 4"),
                    asst("Final Answer: 4"),
                ],
                60,
                vec![
                    "system:s",
                    "user:q",
                    "user:Observation: 4",
                    "assistant:Final Answer: 4",
                ],
            ),
        ];
        for (name, history, budget, want) in cases {
            let got = truncate(&history, budget, &t);
            assert_eq!(shape(&got), want, "{name}");
            if got.len() < history.len() {
                assert!(
                    t.count_messages(&got) <= budget || got.len() <= 2,
                    "{name}: over budget"
                );
                assert_eq!(tool_pairing_error(&got), None, "{name}");
            }
        }
    }

    #[test]
    fn harder_halves_the_target() {
        let t = tok();
        let mut h = vec![sys("s"), user("q")];
        for i in 0..20 {
            h.push(asst(&format!("step {i} {}", long("x"))));
        }
        let normal = truncate(&h, 1000, &t);
        let harder = truncate_harder(&h, 1000, &t);
        assert!(t.count_messages(&normal) <= 1000);
        assert!(t.count_messages(&harder) <= 500);
        assert!(harder.len() < normal.len());
        assert_eq!(shape(&harder)[..2], ["system:s", "user:q"]);
        assert_eq!(harder.last(), h.last());
    }

    /// A random but well-formed history: turns of a user question, then steps that are either
    /// plain assistant text or a call group of 1-3 calls with their results.
    fn random_history(rng: &mut ChaCha8Rng) -> Vec<ChatMessage> {
        let mut h = Vec::new();
        if rng.random_bool(0.7) {
            h.push(sys("You are an agent."));
        }
        let mut next_id = 0;
        for turn in 0..rng.random_range(1..4) {
            h.push(user(&format!(
                "question {turn} {}",
                "word ".repeat(rng.random_range(1..30))
            )));
            for _ in 0..rng.random_range(0..6) {
                if rng.random_bool(0.6) {
                    let n = rng.random_range(1..4);
                    let ids: Vec<String> = (0..n).map(|k| format!("c{}", next_id + k)).collect();
                    next_id += n;
                    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                    h.push(calls(&refs));
                    for id in &ids {
                        h.push(result(id));
                    }
                } else {
                    h.push(asst(&"thought ".repeat(rng.random_range(1..40))));
                }
            }
        }
        h
    }

    #[test]
    fn never_orphans_tool_results_over_many_histories() {
        let t = tok();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut truncated = 0;
        for _ in 0..500 {
            let h = random_history(&mut rng);
            assert_eq!(tool_pairing_error(&h), None, "generator made a bad history");
            let budget = rng.random_range(10..400);
            for got in [truncate(&h, budget, &t), truncate_harder(&h, budget, &t)] {
                assert_eq!(tool_pairing_error(&got), None, "{:?}", shape(&got));
                // The system message and the turn's first user message survive.
                if h[0].role == Role::System {
                    assert_eq!(got[0], h[0]);
                }
                let start = current_turn_start(&h).map(|i| &h[i]);
                assert!(got.iter().any(|m| Some(m) == start));
                // Output is a subsequence of the input, in order.
                let mut it = h.iter();
                assert!(got.iter().all(|m| it.any(|x| x == m)));
                if got.len() < h.len() {
                    truncated += 1;
                }
            }
        }
        assert!(
            truncated > 500,
            "the generator should force truncation often: {truncated}"
        );
    }

    #[test]
    fn pairing_checker_finds_orphans() {
        assert!(tool_pairing_error(&[user("q"), result("a")]).is_some());
        assert!(tool_pairing_error(&[calls(&["a"]), user("q")]).is_some());
        assert!(tool_pairing_error(&[calls(&["a"]), result("b")]).is_some());
        assert!(tool_pairing_error(&[calls(&["a"]), result("a"), result("a")]).is_some());
        assert_eq!(
            tool_pairing_error(&[calls(&["a", "b"]), result("b"), result("a")]),
            None
        );
    }
}
