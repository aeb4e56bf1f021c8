//! The turn of a conversation as the script sees it: the user message that starts it, the
//! tool steps it takes and the ones done, and the tools a text-protocol prompt lists.

use crate::config::CountRange;
use crate::rng::{SplitMix, combine, hash_bytes};
use crate::wire::Message;

/// Prefix of user messages that carry a tool result in the text protocol.
pub const OBSERVATION_PREFIX: &str = "Observation:";

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

/// Marks a tool's arguments schema in a text-protocol tool list (`name: description
/// Arguments JSON schema: {...}`), as reactbench's agent writes it for tools of its own.
pub const ARGS_MARK: &str = "Arguments JSON schema:";

/// The arguments schema a text-protocol prompt gives for tool `name`: the JSON after
/// [`ARGS_MARK`] on the line that starts `name:`.
pub fn text_schema(messages: &[Message], name: &str) -> Option<serde_json::Value> {
    let head = format!("{name}:");
    messages
        .iter()
        .filter(|m| m.role == "system" || m.role == "developer")
        .find_map(|m| {
            let text = m.content.text();
            text.lines().filter(|l| l.starts_with(&head)).find_map(|l| {
                let (_, json) = l.split_once(ARGS_MARK)?;
                serde_json::from_str(json.trim()).ok()
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
