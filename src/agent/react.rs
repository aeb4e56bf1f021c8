//! The text ReAct protocol (LangChain's `Thought:` / `Action:` / `Action Input:` /
//! `Observation:` / `Final Answer:` format): the system prompt that teaches it, the observation
//! messages that answer it, and a forgiving parser for the model's replies.
//!
//! Real models drift from the format: they bold the keys (`**Action:**`), wrap them in backticks,
//! skip the `Thought:`, spread `Action Input` over several lines or a code fence, and keep writing
//! past the point where they should stop, inventing an `Observation:` and even a
//! `Final Answer:`. The parser accepts all of these, and an unusable reply is a [`ParseError`]
//! value the loop records, never a panic.

use std::sync::LazyLock;

use regex::Regex;

/// What the model asked for in one reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReactStep {
    /// Run a tool and send its result back as an observation.
    Action {
        /// The reasoning before the action, if the model wrote any.
        thought: Option<String>,
        /// Tool name, trimmed of markdown and quotes.
        tool: String,
        /// Tool input (may span several lines), trimmed of code fences and enclosing quotes.
        input: String,
    },
    /// The conversation's answer.
    Final {
        /// The reasoning before the answer, if the model wrote any.
        thought: Option<String>,
        /// The answer text (may span several lines).
        answer: String,
    },
}

/// A reply the text protocol cannot use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The reply was empty or only whitespace.
    #[error("the model's reply is empty")]
    Empty,
    /// Neither an `Action:` nor a `Final Answer:` in the reply.
    #[error("the model's reply has neither `Action:` nor `Final Answer:`")]
    NoActionOrAnswer,
    /// `Action:` with nothing after it.
    #[error("the model's reply has `Action:` without a tool name")]
    MissingToolName,
    /// `Action:` without `Action Input:` (and no `tool[input]` form).
    #[error("the model's reply calls `{tool}` without `Action Input:`")]
    MissingActionInput {
        /// The tool the reply named.
        tool: String,
    },
    /// `Final Answer:` with nothing after it.
    #[error("the model's reply has an empty `Final Answer:`")]
    EmptyFinalAnswer,
}

impl ParseError {
    /// A stable snake_case name of the failure, for `error_detail` in the reports.
    pub fn kind(&self) -> &'static str {
        match self {
            ParseError::Empty => "empty_reply",
            ParseError::NoActionOrAnswer => "no_action_or_final_answer",
            ParseError::MissingToolName => "action_without_tool_name",
            ParseError::MissingActionInput { .. } => "action_without_action_input",
            ParseError::EmptyFinalAnswer => "empty_final_answer",
        }
    }
}

/// Things in a reply that look like credentials: OpenAI-style keys (`sk-...`, `sk-proj-...`)
/// and bearer tokens. A model may echo a key it saw in a tool result or a prompt; reports
/// must not carry it.
static SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bsk-[A-Za-z0-9_-]{6,}|\bbearer\s+[A-Za-z0-9._~+/=-]{6,}")
        .expect("static regex")
});

/// A bounded, one-line, redacted excerpt of a reply for diagnosis: credentials replaced by
/// `[redacted]`, at most `max_chars` characters (cut on a character boundary, `...` appended
/// when cut), newlines, carriage returns and tabs written as `\n`, `\r`, `\t`.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let redacted = SECRET.replace_all(text, "[redacted]");
    let mut out = String::with_capacity(max_chars.min(redacted.len()) + 8);
    let mut chars = redacted.chars();
    for c in chars.by_ref().take(max_chars) {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    if chars.next().is_some() {
        out.push_str("...");
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Thought,
    Action,
    ActionInput,
    Observation,
    FinalAnswer,
}

/// A key at the start of a line, with optional markdown around it: `**Action:**`, `` `Action`: ``,
/// `- Thought:`, `### Final Answer:`, `Action 1:`.
static KEY_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^[\s>#*_`-]*(thought|action[\s_]*input|action|observation|final[\s_]*answer)\s*\d*\s*[*_`]*\s*:[*_`]*[ \t]*(.*)$",
    )
    .expect("static regex")
});

fn classify(word: &str) -> Key {
    let w: String = word
        .chars()
        .filter(|c| c.is_alphabetic())
        .flat_map(char::to_lowercase)
        .collect();
    match w.as_str() {
        "thought" => Key::Thought,
        "actioninput" => Key::ActionInput,
        "action" => Key::Action,
        "observation" => Key::Observation,
        _ => Key::FinalAnswer,
    }
}

/// Parses one model reply.
///
/// - Everything from the first `Observation:` on is cut off: the model invented it.
/// - When both `Action:` and `Final Answer:` remain, **the earlier one wins**: text after an
///   action is the model running ahead of a tool result it has not seen yet, and an action
///   written after a final answer is an afterthought the answer did not need.
/// - Without a `Thought:` key, text before the first key counts as the thought.
/// - `Action: search[rust]` (the ReAct paper's form) works without `Action Input:`.
pub fn parse_reply(text: &str) -> Result<ReactStep, ParseError> {
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let mut preamble = String::new();
    let mut sections: Vec<(Key, String)> = Vec::new();
    for line in text.lines() {
        if let Some(caps) = KEY_LINE.captures(line) {
            let key = classify(&caps[1]);
            if key == Key::Observation {
                break;
            }
            sections.push((key, caps[2].to_string()));
        } else if let Some((_, body)) = sections.last_mut() {
            body.push('\n');
            body.push_str(line);
        } else {
            preamble.push_str(line);
            preamble.push('\n');
        }
    }

    let thought = sections
        .iter()
        .find(|(k, _)| *k == Key::Thought)
        .map(|(_, body)| body.trim().to_string())
        .or_else(|| Some(preamble.trim().to_string()))
        .filter(|t| !t.is_empty());
    let action_at = sections.iter().position(|(k, _)| *k == Key::Action);
    let final_at = sections.iter().position(|(k, _)| *k == Key::FinalAnswer);

    match (action_at, final_at) {
        (Some(a), f) if f.is_none_or(|f| a < f) => {
            let raw_tool = strip_markup(sections[a].1.trim());
            let input = sections[a + 1..]
                .iter()
                .take_while(|(k, _)| *k != Key::Action && *k != Key::FinalAnswer)
                .find(|(k, _)| *k == Key::ActionInput)
                .map(|(_, body)| strip_markup(body.trim()));
            let (tool, input) = match (split_bracket_form(&raw_tool), input) {
                (Some((tool, inner)), None) => (tool, Some(inner)),
                (_, input) => (raw_tool.clone(), input),
            };
            let tool = tool.trim_end_matches("()").trim().to_string();
            if tool.is_empty() {
                return Err(ParseError::MissingToolName);
            }
            match input {
                Some(input) => Ok(ReactStep::Action {
                    thought,
                    tool,
                    input,
                }),
                None => Err(ParseError::MissingActionInput { tool }),
            }
        }
        (_, Some(f)) => {
            let answer = sections[f].1.trim().to_string();
            if answer.is_empty() {
                return Err(ParseError::EmptyFinalAnswer);
            }
            Ok(ReactStep::Final { thought, answer })
        }
        _ => Err(ParseError::NoActionOrAnswer),
    }
}

/// Removes a code fence (```` ```json ... ``` ````), enclosing backticks, bold markers or one
/// pair of enclosing double quotes.
fn strip_markup(s: &str) -> String {
    let mut s = s.trim();
    if let Some(rest) = s.strip_prefix("```") {
        // Drop the fence's language tag line, if any.
        let rest = match rest.find('\n') {
            Some(nl) if !rest[..nl].trim().contains(' ') => &rest[nl + 1..],
            _ => rest,
        };
        s = rest.trim_end().strip_suffix("```").unwrap_or(rest).trim();
    }
    for marker in ["**", "`", "\""] {
        if s.len() >= 2 * marker.len() && s.starts_with(marker) && s.ends_with(marker) {
            s = s[marker.len()..s.len() - marker.len()].trim();
        }
    }
    s.to_string()
}

/// `search[rust async]` -> (`search`, `rust async`).
fn split_bracket_form(s: &str) -> Option<(String, String)> {
    let open = s.find('[')?;
    let inner = s[open + 1..].strip_suffix(']')?;
    let tool = s[..open].trim();
    (!tool.is_empty() && !tool.contains(char::is_whitespace))
        .then(|| (tool.to_string(), inner.trim().to_string()))
}

/// The LangChain-style system prompt for the text protocol, listing each tool with its
/// description. It contains the line `Action: the action to take, should be one of [a, b, c]`,
/// from which the mock server reads the tools on offer.
pub fn system_prompt(tools: &[(&str, &str)]) -> String {
    let mut out = String::from(
        "Answer the following questions as best you can. You have access to the following tools:\n\n",
    );
    for (name, description) in tools {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(description);
        out.push('\n');
    }
    let names: Vec<&str> = tools.iter().map(|(name, _)| *name).collect();
    out.push_str("\nUse the following format:\n\n");
    out.push_str("Question: the input question you must answer\n");
    out.push_str("Thought: you should always think about what to do\n");
    out.push_str(&format!(
        "Action: the action to take, should be one of [{}]\n",
        names.join(", ")
    ));
    out.push_str("Action Input: the input to the action\n");
    out.push_str("Observation: the result of the action\n");
    out.push_str("... (this Thought/Action/Action Input/Observation can repeat N times)\n");
    out.push_str("Thought: I now know the final answer\n");
    out.push_str("Final Answer: the final answer to the original input question\n\n");
    out.push_str("Begin!");
    out
}

/// How the user message that carries a tool's result starts.
pub const OBSERVATION_PREFIX: &str = "Observation: ";

/// The user message that carries a tool's result back to the model.
pub fn observation_message(text: &str) -> String {
    format!("{OBSERVATION_PREFIX}{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(thought: Option<&str>, tool: &str, input: &str) -> Result<ReactStep, ParseError> {
        Ok(ReactStep::Action {
            thought: thought.map(str::to_string),
            tool: tool.to_string(),
            input: input.to_string(),
        })
    }

    fn final_answer(thought: Option<&str>, answer: &str) -> Result<ReactStep, ParseError> {
        Ok(ReactStep::Final {
            thought: thought.map(str::to_string),
            answer: answer.to_string(),
        })
    }

    #[test]
    fn parses_the_shapes_real_models_write() {
        let cases: Vec<(&str, Result<ReactStep, ParseError>)> = vec![
            (
                "Thought: I need to add.\nAction: calculator\nAction Input: 2+2",
                action(Some("I need to add."), "calculator", "2+2"),
            ),
            (
                "thought:   lower case  \n  ACTION :  search \naction input:  rust  ",
                action(Some("lower case"), "search", "rust"),
            ),
            (
                "**Thought:** bold keys\n**Action:** `lookup`\n**Action Input:** `order 42`",
                action(Some("bold keys"), "lookup", "order 42"),
            ),
            (
                "`Action`: search\n`Action Input`: \"quoted query\"",
                action(None, "search", "quoted query"),
            ),
            (
                "Let me look it up.\nAction: search\nAction Input: a",
                action(Some("Let me look it up."), "search", "a"),
            ),
            (
                "Action: search\nAction Input: line one\nline two\n\nline three",
                action(None, "search", "line one\nline two\n\nline three"),
            ),
            (
                "Action: lookup\nAction Input:\n```json\n{\"id\": 7}\n```",
                action(None, "lookup", "{\"id\": 7}"),
            ),
            (
                "Thought: t\nAction: search\nAction Input: q\nObservation: made up\nThought: I know\nFinal Answer: 42",
                action(Some("t"), "search", "q"),
            ),
            (
                "Thought: done\nFinal Answer: 4\nAction: search\nAction Input: x",
                final_answer(Some("done"), "4"),
            ),
            (
                "Action: search[rust async]",
                action(None, "search", "rust async"),
            ),
            (
                "Final Answer: first line\nsecond line",
                final_answer(None, "first line\nsecond line"),
            ),
            ("### Final Answer: 4", final_answer(None, "4")),
            ("", Err(ParseError::Empty)),
            ("  \n\t ", Err(ParseError::Empty)),
            (
                "I think the answer is 4.",
                Err(ParseError::NoActionOrAnswer),
            ),
            ("Action:\nAction Input: x", Err(ParseError::MissingToolName)),
            (
                "Action: search",
                Err(ParseError::MissingActionInput {
                    tool: "search".into(),
                }),
            ),
            ("Final Answer:   ", Err(ParseError::EmptyFinalAnswer)),
            (
                "Observation: only a hallucination\nFinal Answer: 1",
                Err(ParseError::NoActionOrAnswer),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_reply(text), expected, "input: {text:?}");
        }
    }

    #[test]
    fn excerpts_are_bounded_one_line_and_redacted() {
        let long = "é".repeat(300);
        let cases: Vec<(&str, usize, String)> = vec![
            ("I think\nit is 4.", 200, "I think\\nit is 4.".to_string()),
            (&long, 5, "ééééé...".to_string()),
            ("abc", 3, "abc".to_string()),
            (
                "my key is sk-proj-AbCdEf123456 ok",
                200,
                "my key is [redacted] ok".to_string(),
            ),
            (
                "Authorization: Bearer eyJhbGciOi.abc",
                200,
                "Authorization: [redacted]".to_string(),
            ),
            ("tab\there\r", 200, "tab\\there\\r".to_string()),
            // A key cut by the bound is redacted before cutting, never half shown.
            ("sk-abcdefghijkl", 4, "[red...".to_string()),
        ];
        for (text, max, want) in cases {
            assert_eq!(excerpt(text, max), want, "{text:?}");
        }
    }

    #[test]
    fn parse_failures_have_stable_kinds() {
        for (text, kind) in [
            ("", "empty_reply"),
            ("I think the answer is 4.", "no_action_or_final_answer"),
            ("Action:\nAction Input: x", "action_without_tool_name"),
            ("Action: search", "action_without_action_input"),
            ("Final Answer:   ", "empty_final_answer"),
        ] {
            assert_eq!(parse_reply(text).unwrap_err().kind(), kind, "{text:?}");
        }
    }

    #[test]
    fn never_panics_on_arbitrary_text() {
        const PIECES: &[&str] = &[
            "Thought:",
            "Action:",
            "Action Input:",
            "Observation:",
            "Final Answer:",
            "**",
            "`",
            "```",
            "\n",
            " ",
            "[",
            "]",
            "\"",
            ":",
            "search",
            "đơn hàng",
            "\u{200B}",
            "🦀",
            "()",
            "é\u{301}",
            "\r\n",
            "#",
        ];
        // A small deterministic generator (xorshift) so the test is reproducible.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 12) as usize;
            let text: String = (0..len)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            match parse_reply(&text) {
                Ok(ReactStep::Action { tool, .. }) => assert!(!tool.is_empty(), "{text:?}"),
                Ok(ReactStep::Final { answer, .. }) => assert!(!answer.is_empty(), "{text:?}"),
                Err(_) => {}
            }
        }
    }

    #[test]
    fn system_prompt_lists_the_tools_for_the_mock() {
        let prompt = system_prompt(&[
            ("calculator", "evaluates arithmetic"),
            ("search", "searches the web"),
            ("lookup", "looks up an order"),
        ]);
        assert!(
            prompt
                .lines()
                .any(|l| l.contains("one of [calculator, search, lookup]")),
            "{prompt}"
        );
        assert!(prompt.contains("calculator: evaluates arithmetic\n"));
        assert!(prompt.contains("Final Answer:"));
        assert_eq!(observation_message("4"), "Observation: 4");
    }
}
