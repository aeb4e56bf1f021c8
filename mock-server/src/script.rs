//! Scripted ReAct replies, derived from the request alone (the server keeps no conversation
//! state). The convention is documented in the crate docs ("The ReAct script"); this module is
//! its single implementation.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde_json::Value;
use tiktoken_rs::CoreBPE;

use crate::config::{CountRange, ScriptConfig};
use crate::rng::{SplitMix, combine, hash_bytes};
use crate::tokens::Encoding;
use crate::wire::{Message, ReplyFunction, ReplyToolCall, Tool};

/// Prefix of user messages that carry a tool result in the text protocol.
pub const OBSERVATION_PREFIX: &str = "Observation:";

/// What the model replies, with its exact token count.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// Text of the reply; `None` when it is a tool call (native protocol).
    pub content: Option<String>,
    /// The tool calls of a tool step (native protocol): one, or several when the script's
    /// `parallel_tool_calls` allows and the request does not forbid it.
    pub tool_calls: Vec<ReplyToolCall>,
    /// `stop`, `length` or `tool_calls`.
    pub finish_reason: &'static str,
    /// Output tokens: of the content, or of the call's name plus its arguments.
    pub completion_tokens: u64,
    /// The content split into tokens, for streaming; empty unless asked.
    pub pieces: Vec<Cow<'static, str>>,
    /// Each tool call's arguments split into tokens, for streaming; empty unless asked.
    pub call_pieces: Vec<Vec<Cow<'static, str>>>,
    /// True when the step proposes the configured dangerous tool.
    pub dangerous: bool,
}

/// Everything the script reads from a request.
pub struct ScriptInput<'a> {
    /// The conversation.
    pub messages: &'a [Message<'a>],
    /// Tools offered natively.
    pub tools: &'a [Tool],
    /// `tool_choice` as sent.
    pub tool_choice: Option<&'a Value>,
    /// The completion limit, if any.
    pub max_tokens: Option<u64>,
    /// Fill [`Reply::pieces`].
    pub want_pieces: bool,
    /// Stop sequences: the content ends before the first one it holds.
    pub stop: &'a [String],
    /// `response_format` `json_object`: the content is a JSON object.
    pub json_object: bool,
    /// The request allows several tool calls in one reply (`parallel_tool_calls` not false).
    pub parallel_tool_calls: bool,
}

/// The turn of a conversation as the script sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Turn {
    /// Hash of the seed and the turn message's text: every choice of the turn derives from it.
    pub hash: u64,
    /// Tool steps this turn takes.
    pub steps: u64,
    /// Tool steps already done (tool messages and `Observation:` user messages after it).
    pub done: u64,
}

/// Finds the turn: the last user message not starting with `Observation:`; counts steps done
/// after it and draws the number of steps from the seed and the message's text.
pub fn turn(seed: u64, messages: &[Message], range: CountRange) -> Turn {
    let is_observation = |m: &Message| {
        m.role == "user"
            && m.content
                .text()
                .trim_start()
                .starts_with(OBSERVATION_PREFIX)
    };
    let idx = messages
        .iter()
        .rposition(|m| m.role == "user" && !is_observation(m));
    let text = idx.map(|i| messages[i].content.text()).unwrap_or_default();
    let hash = hash_bytes(seed, text.as_bytes());
    let steps = SplitMix::new(combine(hash, 0x57E9)).range(range.min, range.max);
    let after = idx.map_or(0, |i| i + 1);
    // A step is one observation, or one run of consecutive tool messages (a reply with
    // several parallel calls is answered by several tool messages in a row).
    let mut done = 0;
    let mut in_tool_run = false;
    for m in &messages[after..] {
        let tool = m.role == "tool";
        if is_observation(m) || (tool && !in_tool_run) {
            done += 1;
        }
        in_tool_run = tool;
    }
    Turn { hash, steps, done }
}

/// Tool names listed LangChain-style in the system (or developer) prompt: the text between
/// `one of [` and the next `]`, split on commas.
pub fn text_tools(messages: &[Message]) -> Vec<String> {
    for m in messages
        .iter()
        .filter(|m| m.role == "system" || m.role == "developer")
    {
        let text = m.content.text();
        if let Some(start) = text.find("one of [") {
            let rest = &text[start + "one of [".len()..];
            if let Some(end) = rest.find(']') {
                return rest[..end]
                    .split(',')
                    .map(|t| t.trim().trim_matches(|c| c == '"' || c == '\'' || c == '`'))
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect();
            }
        }
    }
    Vec::new()
}

const WORDS: &[&str] = &[
    "the",
    "result",
    "of",
    "this",
    "step",
    "is",
    "that",
    "we",
    "can",
    "use",
    "value",
    "data",
    "answer",
    "based",
    "on",
    "information",
    "from",
    "which",
    "shows",
    "our",
    "next",
    "user",
    "question",
    "so",
    "will",
    "check",
    "and",
    "then",
    "give",
    "final",
    "report",
    "clear",
    "short",
    "simple",
    "number",
    "total",
    "first",
    "look",
    "at",
    "it",
];

const TOPICS: &[&str] = &[
    "population of Hanoi",
    "boiling point of water at altitude",
    "capital of Australia",
    "exchange rate USD to VND",
    "status of order 1042",
    "opening hours of the main library",
    "distance from Paris to Lyon",
    "weather in Da Nang tomorrow",
    "price of a monthly metro pass",
    "author of The Tale of Kieu",
];

/// What replies are built from, per vocabulary, computed once: filler words that are exactly
/// one token with their leading space, and the token pieces of the fixed phrases. Replies are
/// sequences of these pieces, so their token count is known without encoding them (BPE splits
/// text at word and punctuation boundaries first, and every piece is one such unit).
struct Vocab {
    words: Vec<String>,
    final_prefix: Vec<String>,
    plain_prefix: Vec<String>,
    thought_prefix: Vec<String>,
}

impl Vocab {
    fn new(bpe: &CoreBPE) -> Vocab {
        let split = |s: &str| pieces(bpe, &bpe.encode_ordinary(s));
        let mut words: Vec<String> = WORDS
            .iter()
            .map(|w| format!(" {w}"))
            .filter(|w| bpe.encode_ordinary(w).len() == 1)
            .collect();
        if words.is_empty() {
            words.push(" the".to_string());
        }
        Vocab {
            words,
            final_prefix: split("Final Answer:"),
            plain_prefix: split("Here is"),
            thought_prefix: split("Thought: I should"),
        }
    }

    fn word(&self, rng: &mut SplitMix) -> &str {
        &self.words[rng.range(0, self.words.len() as u64 - 1) as usize]
    }
}

fn vocab(enc: Encoding) -> &'static Vocab {
    static O200K: OnceLock<Vocab> = OnceLock::new();
    static CL100K: OnceLock<Vocab> = OnceLock::new();
    let cell = match enc {
        Encoding::O200kBase => &O200K,
        Encoding::Cl100kBase => &CL100K,
    };
    cell.get_or_init(|| Vocab::new(enc.bpe()))
}

/// An arithmetic expression (numbers, `+ - * /`, parentheses) that evaluates without error.
pub fn expression(rng: &mut SplitMix) -> String {
    let a = rng.range(1, 99);
    let b = rng.range(1, 99);
    let c = rng.range(1, 9);
    match rng.range(0, 4) {
        0 => format!("{a} + {b} * {c}"),
        1 => format!("({a} + {b}) * {c}"),
        2 => format!("{a} * {b} - {c}"),
        3 => format!("{a} / {c}"),
        _ => format!("({a} - {b}) / {c}"),
    }
}

fn query(rng: &mut SplitMix) -> String {
    TOPICS[rng.range(0, TOPICS.len() as u64 - 1) as usize].to_string()
}

/// The argument key for a native tool: `expression` for `calculator`, else the schema's first
/// required property, else `query`.
fn argument_key(name: &str, tools: &[Tool]) -> String {
    if name == "calculator" {
        return "expression".to_string();
    }
    tools
        .iter()
        .find(|t| t.function.name == name)
        .and_then(|t| t.function.parameters.as_ref())
        .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
        .as_ref()
        .and_then(|p| p.get("required"))
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(Value::as_str)
        .unwrap_or("query")
        .to_string()
}

/// Token ids of `text`, cut to `limit` if given; returns the ids and whether they were cut.
fn tokens_within(bpe: &CoreBPE, text: &str, limit: Option<u64>) -> (Vec<u32>, bool) {
    let mut ids = bpe.encode_ordinary(text);
    let cut = match limit {
        Some(l) if (ids.len() as u64) > l => {
            ids.truncate(l as usize);
            true
        }
        _ => false,
    };
    (ids, cut)
}

fn decode(bpe: &CoreBPE, ids: &[u32]) -> String {
    bpe.decode_bytes(ids)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn pieces(bpe: &CoreBPE, ids: &[u32]) -> Vec<String> {
    bpe._decode_native_and_split(ids.to_vec())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect()
}

fn owned(p: Vec<String>) -> Vec<Cow<'static, str>> {
    p.into_iter().map(Cow::Owned).collect()
}

/// Builds the reply for a request. `seed` is the server's seed; `length` the model's
/// completion length range.
pub fn reply(
    seed: u64,
    config: &ScriptConfig,
    length: CountRange,
    enc: Encoding,
    input: &ScriptInput<'_>,
) -> Reply {
    let bpe = enc.bpe();
    let v = vocab(enc);
    let choice_none = input.tool_choice.and_then(Value::as_str) == Some("none");
    let forced = input
        .tool_choice
        .and_then(|c| c.get("function"))
        .and_then(|f| f.get("name"))
        .and_then(Value::as_str);
    let native = !input.tools.is_empty() && !choice_none;
    let listed;
    let tools: Vec<&str> = if native {
        input
            .tools
            .iter()
            .map(|t| t.function.name.as_str())
            .collect()
    } else if choice_none {
        Vec::new()
    } else {
        listed = text_tools(input.messages);
        listed.iter().map(String::as_str).collect()
    };
    let mut turn = turn(seed, input.messages, config.tool_steps);
    if input.tool_choice.and_then(Value::as_str) == Some("required") && native {
        turn.steps = turn.steps.max(turn.done + 1);
    }
    let step = turn.done;
    let mut rng = SplitMix::new(combine(turn.hash, step + 1));
    let target = rng.range(length.min, length.max);

    if !tools.is_empty() && step < turn.steps {
        let dangerous = step == 0
            && SplitMix::new(combine(turn.hash, 0xDA9)).next_f64()
                < config.dangerous_action_probability;
        let tool = if dangerous {
            config.dangerous_tool.clone()
        } else if let Some(f) = forced {
            f.to_string()
        } else {
            tools[rng.range(0, tools.len() as u64 - 1) as usize].to_string()
        };
        let arg = if dangerous {
            "all records".to_string()
        } else if tool == "calculator" {
            expression(&mut rng)
        } else {
            query(&mut rng)
        };
        if native {
            // Further calls of a parallel step: drawn only when the script allows several, so
            // a script of one call per step (the default) draws exactly what it always did.
            let mut calls = vec![(tool, arg)];
            let parallel = config.parallel_tool_calls;
            if input.parallel_tool_calls && parallel.max > 1 && !dangerous && forced.is_none() {
                let mut prng = SplitMix::new(combine(turn.hash, 0x9A4A_0000 + step));
                let extra = prng.range(parallel.min.max(1), parallel.max) - 1;
                for _ in 0..extra {
                    let tool = tools[prng.range(0, tools.len() as u64 - 1) as usize].to_string();
                    let arg = if tool == "calculator" {
                        expression(&mut prng)
                    } else {
                        query(&mut prng)
                    };
                    calls.push((tool, arg));
                }
            }
            let mut budget = input.max_tokens;
            let mut tool_calls = Vec::with_capacity(calls.len());
            let mut call_pieces = Vec::new();
            let mut completion_tokens = 0;
            let mut cut = false;
            for (i, (tool, arg)) in calls.into_iter().enumerate() {
                let key = argument_key(&tool, input.tools);
                let args = serde_json::json!({ key: arg }).to_string();
                let name_tokens = bpe.encode_ordinary(&tool).len() as u64;
                if i > 0 && budget.is_some_and(|b| b <= name_tokens) {
                    // No room for another call: the reply ends with the calls so far.
                    break;
                }
                let limit = budget.map(|m| m.saturating_sub(name_tokens));
                let (ids, was_cut) = tokens_within(bpe, &args, limit);
                let arguments = if was_cut { decode(bpe, &ids) } else { args };
                let used = name_tokens + ids.len() as u64;
                completion_tokens += used;
                budget = budget.map(|b| b.saturating_sub(used));
                // The first call keeps the id it always had; the others are numbered after it.
                let salt = if i == 0 { 0 } else { (i as u64) << 32 };
                tool_calls.push(ReplyToolCall {
                    id: format!("call_{:016x}", combine(turn.hash, 0xCA11 + step + salt)),
                    kind: "function",
                    function: ReplyFunction {
                        name: tool,
                        arguments,
                    },
                });
                if input.want_pieces {
                    call_pieces.push(owned(pieces(bpe, &ids)));
                }
                if was_cut {
                    cut = true;
                    break;
                }
            }
            return Reply {
                content: None,
                tool_calls,
                finish_reason: if cut { "length" } else { "tool_calls" },
                completion_tokens,
                pieces: Vec::new(),
                call_pieces,
                dangerous,
            };
        }
        let mut out: Vec<Cow<'static, str>> = Vec::with_capacity(target as usize + 16);
        out.extend(v.thought_prefix.iter().map(|p| Cow::Borrowed(p.as_str())));
        for _ in 0..target.saturating_sub(16).max(3) {
            out.push(Cow::Borrowed(v.word(&mut rng)));
        }
        let tail = format!(".\nAction: {tool}\nAction Input: {arg}");
        out.extend(owned(pieces(bpe, &bpe.encode_ordinary(&tail))));
        return text_reply(bpe, out, input, dangerous);
    }

    // Final answer: exactly `target` tokens (before max_tokens).
    let wants_react = !native
        && input.messages.iter().any(|m| {
            (m.role == "system" || m.role == "developer")
                && m.content.text().contains("Final Answer")
        });
    let prefix = if wants_react || !tools.is_empty() && !native {
        &v.final_prefix
    } else {
        &v.plain_prefix
    };
    let mut out: Vec<Cow<'static, str>> = Vec::with_capacity(target as usize + 1);
    out.extend(prefix.iter().map(|p| Cow::Borrowed(p.as_str())));
    // At least one word: "." straight after ":" would merge into one token.
    for _ in 0..target.saturating_sub(prefix.len() as u64 + 1).max(1) {
        out.push(Cow::Borrowed(v.word(&mut rng)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_key_reads_the_schema_kept_as_text() {
        let tools: Vec<Tool> = serde_json::from_str(
            r#"[{"type":"function","function":{"name":"lookup","parameters":
                {"type":"object","required":["key","other"]}}},
               {"type":"function","function":{"name":"odd","parameters":{"required":"key"}}},
               {"type":"function","function":{"name":"bare","parameters":null}},
               {"type":"function","function":{"name":"calculator"}}]"#,
        )
        .expect("tools parse");
        assert_eq!(argument_key("lookup", &tools), "key");
        assert_eq!(argument_key("odd", &tools), "query");
        assert_eq!(argument_key("bare", &tools), "query");
        assert_eq!(argument_key("calculator", &tools), "expression");
        assert_eq!(argument_key("missing", &tools), "query");
    }

    /// Evaluates `+ - * /` with parentheses; `None` on any error (division by zero, syntax).
    fn eval(s: &str) -> Option<f64> {
        fn expr(t: &[char], i: &mut usize) -> Option<f64> {
            let mut v = term(t, i)?;
            while *i < t.len() && (t[*i] == '+' || t[*i] == '-') {
                let op = t[*i];
                *i += 1;
                let r = term(t, i)?;
                v = if op == '+' { v + r } else { v - r };
            }
            Some(v)
        }
        fn term(t: &[char], i: &mut usize) -> Option<f64> {
            let mut v = atom(t, i)?;
            while *i < t.len() && (t[*i] == '*' || t[*i] == '/') {
                let op = t[*i];
                *i += 1;
                let r = atom(t, i)?;
                if op == '/' && r == 0.0 {
                    return None;
                }
                v = if op == '*' { v * r } else { v / r };
            }
            Some(v)
        }
        fn atom(t: &[char], i: &mut usize) -> Option<f64> {
            if *i < t.len() && t[*i] == '(' {
                *i += 1;
                let v = expr(t, i)?;
                (t.get(*i) == Some(&')')).then(|| *i += 1)?;
                return Some(v);
            }
            let start = *i;
            while *i < t.len() && t[*i].is_ascii_digit() {
                *i += 1;
            }
            t[start..*i].iter().collect::<String>().parse().ok()
        }
        let t: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
        let mut i = 0;
        let v = expr(&t, &mut i)?;
        (i == t.len()).then_some(v)
    }

    #[test]
    fn expressions_always_evaluate() {
        let mut rng = SplitMix::new(3);
        for _ in 0..2000 {
            let e = expression(&mut rng);
            assert!(eval(&e).is_some(), "{e}");
        }
    }

    fn msgs(json: &str) -> Vec<Message<'_>> {
        serde_json::from_str(json).expect("test messages parse")
    }

    #[test]
    fn tools_from_system_prompt() {
        let m = msgs(
            r#"[{"role":"system","content":"Use tools.\nAction: the action to take, should be one of [calculator, search, lookup]\n"}]"#,
        );
        assert_eq!(text_tools(&m), ["calculator", "search", "lookup"]);
    }

    #[test]
    fn turn_counts_observations_after_the_last_real_user_message() {
        let m = msgs(
            r#"[{"role":"system","content":"s"},{"role":"user","content":"old"},
            {"role":"user","content":"Observation: 1"},{"role":"user","content":"new"},
            {"role":"assistant","content":"Thought"},{"role":"user","content":"Observation: 2"},
            {"role":"tool","content":"3","tool_call_id":"x"}]"#,
        );
        let t = turn(1, &m, CountRange { min: 2, max: 2 });
        assert_eq!((t.steps, t.done), (2, 2));
        assert_eq!(t.hash, hash_bytes(1, b"new"));
    }

    #[test]
    fn final_answer_has_exact_drawn_length_and_max_tokens_cuts() {
        let bpe = tiktoken_rs::o200k_base_singleton();
        let enc = Encoding::O200kBase;
        let m = msgs(r#"[{"role":"user","content":"hello"}]"#);
        let cfg = ScriptConfig::default();
        let range = CountRange { min: 30, max: 60 };
        let mut input = ScriptInput {
            messages: &m,
            tools: &[],
            tool_choice: None,
            max_tokens: None,
            want_pieces: true,
            stop: &[],
            json_object: false,
            parallel_tool_calls: true,
        };
        let r = reply(5, &cfg, range, enc, &input);
        let text = r.content.clone().expect("text reply");
        assert!((30..=60).contains(&r.completion_tokens));
        assert_eq!(bpe.encode_ordinary(&text).len() as u64, r.completion_tokens);
        assert_eq!(r.pieces.concat(), text);
        assert_eq!(r.finish_reason, "stop");
        input.max_tokens = Some(7);
        let cut = reply(5, &cfg, range, enc, &input);
        assert_eq!((cut.completion_tokens, cut.finish_reason), (7, "length"));
        assert!(text.starts_with(cut.content.as_deref().unwrap_or("?")));
    }

    #[test]
    fn piece_counts_equal_real_token_counts_in_both_vocabularies() {
        let sys = r#"{"role":"system","content":"Action: one of [calculator, search, lookup]. Final Answer"}"#;
        for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
            let bpe = enc.bpe();
            for seed in 0..40 {
                for tail in [
                    "",
                    r#",{"role":"assistant","content":"x"},{"role":"user","content":"Observation: 1"}"#,
                ] {
                    let text = format!(r#"[{sys},{{"role":"user","content":"q{seed}"}}{tail}]"#);
                    let m = msgs(&text);
                    let cfg = ScriptConfig {
                        tool_steps: CountRange { min: 0, max: 2 },
                        ..ScriptConfig::default()
                    };
                    let input = ScriptInput {
                        messages: &m,
                        tools: &[],
                        tool_choice: None,
                        max_tokens: None,
                        want_pieces: true,
                        stop: &[],
                        json_object: false,
                        parallel_tool_calls: true,
                    };
                    let r = reply(seed, &cfg, CountRange { min: 1, max: 120 }, enc, &input);
                    let text = r.content.clone().unwrap_or_default();
                    assert_eq!(
                        bpe.encode_ordinary(&text).len() as u64,
                        r.completion_tokens,
                        "{enc:?} {text:?}"
                    );
                    assert_eq!(r.pieces.concat(), text);
                }
            }
        }
    }
}
