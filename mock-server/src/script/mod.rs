//! Scripted ReAct replies, derived from the request alone (the server keeps no conversation
//! state). The convention is documented in the crate docs ("The ReAct script"); this module is
//! its single implementation.
//!
//! [`reply`] finds the turn and the step (`turn.rs`), draws the step's tool and input from
//! the vocabulary (`vocab.rs`), and builds a native tool step (`calls.rs`), or a text step or
//! the final answer (`text.rs`). What they pass each other is in `types.rs`; none of them
//! uses this file.

mod args;
mod calls;
mod text;
mod turn;
mod types;
mod vocab;

use serde_json::Value;

use crate::config::{CountRange, ScriptConfig};
use crate::rng::{SplitMix, combine};
use crate::tokens::Encoding;
pub use turn::{ARGS_MARK, OBSERVATION_PREFIX, Turn, text_schema, text_tools, turn};
use types::ToolStep;
pub use types::{Reply, ScriptInput};
pub use vocab::expression;
use vocab::{query, vocab};

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

    if tools.is_empty() || step >= turn.steps {
        return text::final_answer(bpe, v, input, native, !tools.is_empty(), target, &mut rng);
    }
    let dangerous = step == 0
        && SplitMix::new(combine(turn.hash, 0xDA9)).next_f64()
            < config.dangerous_action_probability;
    let tool = if dangerous {
        config.dangerous_tool.clone()
    } else if let Some(f) = forced {
        f.to_string()
    } else {
        tools[calls::pick_tool(&tools, &config.tool_weights, &mut rng)].to_string()
    };
    let text_schema = (!native && !dangerous)
        .then(|| turn::text_schema(input.messages, &tool))
        .flatten()
        .filter(|s| args::simple_key(s).is_none());
    let arg = if dangerous {
        "all records".to_string()
    } else if let Some(schema) = text_schema {
        // A text-protocol tool with a schema of its own: its Action Input is the JSON
        // arguments, drawn as the native protocol draws them.
        let mut prng = SplitMix::new(combine(turn.hash, calls::ARGS_SALT + step));
        args::generate(&schema, &mut prng).to_string()
    } else if tool == "calculator" {
        expression(&mut rng)
    } else {
        query(&mut rng)
    };
    let s = ToolStep {
        hash: turn.hash,
        step,
        tools: &tools,
        tool,
        arg,
        dangerous,
        forced: forced.is_some(),
    };
    if native {
        calls::reply(bpe, config, input, s)
    } else {
        text::action(bpe, v, input, s, target, &mut rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Message;

    fn msgs(json: &str) -> Vec<Message<'_>> {
        serde_json::from_str(json).expect("test messages parse")
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
