//! A native tool step: the reply's `tool_calls`, with each call's arguments as JSON text cut
//! to `max_tokens`, and more calls in one reply when the script's `parallel_tool_calls` allows.

use serde_json::Value;

use super::args;
use super::types::{Reply, ScriptInput, ToolStep};
use super::vocab::{decode, expression, owned, pieces, query, tokens_within};
use std::collections::BTreeMap;

use crate::config::ScriptConfig;
use crate::rng::{SplitMix, combine};
use crate::wire::{ReplyFunction, ReplyToolCall, Tool};

/// The reply of a native tool step: its first call as drawn, then any further parallel calls,
/// as many as fit in `max_tokens`.
pub fn reply(
    bpe: &tiktoken_rs::CoreBPE,
    config: &ScriptConfig,
    input: &ScriptInput<'_>,
    s: ToolStep<'_>,
) -> Reply {
    let (hash, step, dangerous) = (s.hash, s.step, s.dangerous);
    let calls = parallel_calls(config, input, s);
    let mut budget = input.max_tokens;
    let mut tool_calls = Vec::with_capacity(calls.len());
    let mut call_pieces = Vec::new();
    let mut completion_tokens = 0;
    let mut cut = false;
    for (i, (tool, arg)) in calls.into_iter().enumerate() {
        let args = arguments(
            &tool,
            &arg,
            input.tools,
            combine(hash, ARGS_SALT + step + ((i as u64) << 32)),
        );
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
            id: format!("call_{:016x}", combine(hash, 0xCA11 + step + salt)),
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
    Reply {
        content: None,
        tool_calls,
        finish_reason: if cut { "length" } else { "tool_calls" },
        completion_tokens,
        pieces: Vec::new(),
        call_pieces,
        dangerous,
    }
}

/// The step's calls as (tool, input): the first as drawn, then the further calls of a
/// parallel step. Those are drawn only when the script allows several, so a script of one
/// call per step (the default) draws exactly what it always did.
fn parallel_calls(
    config: &ScriptConfig,
    input: &ScriptInput<'_>,
    s: ToolStep<'_>,
) -> Vec<(String, String)> {
    let mut calls = vec![(s.tool, s.arg)];
    let parallel = config.parallel_tool_calls;
    if input.parallel_tool_calls && parallel.max > 1 && !s.dangerous && !s.forced {
        let mut prng = SplitMix::new(combine(s.hash, 0x9A4A_0000 + s.step));
        let extra = prng.range(parallel.min.max(1), parallel.max) - 1;
        for _ in 0..extra {
            let tool = s.tools[pick_tool(s.tools, &config.tool_weights, &mut prng)].to_string();
            let arg = if tool == "calculator" {
                expression(&mut prng)
            } else {
                query(&mut prng)
            };
            calls.push((tool, arg));
        }
    }
    calls
}

/// Salt of the draws of a step's schema-valid arguments.
pub const ARGS_SALT: u64 = 0xA465_0000;

/// Which offered tool a call uses: uniform, or by `[script] tool_weights` (a tool not listed
/// weighs 1, one weighted 0 is never chosen while another can be). Without weights the draw is
/// the one the script always made.
pub fn pick_tool(tools: &[&str], weights: &BTreeMap<String, u64>, rng: &mut SplitMix) -> usize {
    if weights.is_empty() {
        return rng.range(0, tools.len() as u64 - 1) as usize;
    }
    let weight = |t: &str| weights.get(t).copied().unwrap_or(1);
    let total: u64 = tools.iter().map(|t| weight(t)).sum();
    if total == 0 {
        return rng.range(0, tools.len() as u64 - 1) as usize;
    }
    let mut at = rng.range(0, total - 1);
    for (i, t) in tools.iter().enumerate() {
        let w = weight(t);
        if at < w {
            return i;
        }
        at -= w;
    }
    tools.len() - 1
}

/// A call's arguments as JSON text: drawn from the tool's schema (with `seed`) when it has one
/// beyond the one-string shape, else `{key: arg}` with the script's own query or expression.
fn arguments(tool: &str, arg: &str, tools: &[Tool], seed: u64) -> String {
    let offered = tools.iter().find(|t| t.function.name == tool);
    if offered.is_some_and(|t| t.function.parameters.is_none()) && tool != "calculator" {
        // A function without parameters takes an empty object.
        return "{}".to_string();
    }
    let schema = offered
        .and_then(|t| t.function.parameters.as_ref())
        .and_then(|p| serde_json::from_str::<Value>(p.get()).ok());
    if tool != "calculator"
        && let Some(schema) = schema.filter(|s| s.is_object() && args::simple_key(s).is_none())
    {
        return args::generate(&schema, &mut SplitMix::new(seed)).to_string();
    }
    let key = argument_key(tool, tools);
    serde_json::json!({ key: arg }).to_string()
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
}
