//! The mock calls whatever tools a request carries, with arguments a JSON-schema validator
//! accepts (nested objects, enums, arrays, required fields, bounds), in both protocols,
//! deterministically, weighted by `[script] tool_weights`.

use std::collections::{BTreeMap, BTreeSet};

use mock_server::config::{CountRange, ScriptConfig};
use mock_server::script::{self, ScriptInput};
use mock_server::tokens::Encoding;
use mock_server::wire::{Message, Tool};
use reactbench::agent::react::{ReactStep, parse_reply, system_prompt};
use reactbench::agent::tools::{ToolBox, ToolsConfig, parse_openai_tools};
use serde_json::{Value, json};

use crate::support::repo;

fn tools_json() -> String {
    std::fs::read_to_string(repo().join("tests/data/tools-nested.json")).expect("fixture")
}

/// Each tool's name and validator.
fn validators() -> BTreeMap<String, jsonschema::Validator> {
    validators_of(&tools_json())
}

fn validators_of(tools_json: &str) -> BTreeMap<String, jsonschema::Validator> {
    parse_openai_tools(tools_json)
        .expect("fixture parses")
        .into_iter()
        .map(|t| {
            let v = jsonschema::validator_for(&t.parameters).expect("a valid schema");
            (t.name, v)
        })
        .collect()
}

fn config(parallel: u64, weights: &[(&str, u64)]) -> ScriptConfig {
    ScriptConfig {
        tool_steps: CountRange { min: 1, max: 1 },
        parallel_tool_calls: CountRange {
            min: parallel,
            max: parallel,
        },
        tool_weights: weights.iter().map(|(k, w)| (k.to_string(), *w)).collect(),
        ..ScriptConfig::default()
    }
}

/// A plain request to the script: these messages and tools, parallel calls allowed.
fn script_input<'a>(messages: &'a [Message], tools: &'a [Tool]) -> ScriptInput<'a> {
    ScriptInput {
        messages,
        tools,
        tool_choice: None,
        max_tokens: None,
        want_pieces: false,
        stop: &[],
        json_object: false,
        parallel_tool_calls: true,
    }
}

/// The (tool, arguments) the mock's first step calls for a conversation seeded `seed`.
fn native_calls(seed: u64, cfg: &ScriptConfig, tools: &[Tool]) -> Vec<(String, Value)> {
    let text = json!([
        {"role": "system", "content": "You are a support agent."},
        {"role": "user", "content": format!("Customer question number {seed}")}
    ])
    .to_string();
    let messages: Vec<Message> = serde_json::from_str(&text).unwrap();
    let input = script_input(&messages, tools);
    let r = script::reply(
        seed,
        cfg,
        CountRange { min: 20, max: 40 },
        Encoding::O200kBase,
        &input,
    );
    r.tool_calls
        .iter()
        .map(|c| {
            let args: Value = serde_json::from_str(&c.function.arguments).expect("JSON arguments");
            (c.function.name.clone(), args)
        })
        .collect()
}

#[test]
fn native_arguments_are_schema_valid_for_every_tool_over_many_seeds() {
    let validators = validators();
    let tools: Vec<Tool> = serde_json::from_str(&tools_json()).unwrap();
    let cfg = config(3, &[]);
    let mut seen = BTreeSet::new();
    for seed in 0..400 {
        let calls = native_calls(seed, &cfg, &tools);
        assert_eq!(calls.len(), 3);
        for (name, args) in calls {
            let v = validators.get(&name).expect("an offered tool");
            let errors: Vec<String> = v.iter_errors(&args).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "seed {seed} {name} {args}: {errors:?}");
            seen.insert(name);
        }
    }
    assert_eq!(seen.len(), validators.len(), "every tool called: {seen:?}");
    // Deterministic from seed and conversation.
    assert_eq!(native_calls(7, &cfg, &tools), native_calls(7, &cfg, &tools));
    assert_ne!(native_calls(7, &cfg, &tools), native_calls(8, &cfg, &tools));
}

/// Schemas as generators write them: Pydantic's `$defs` and `$ref`, draft-07 `definitions`,
/// `multipleOf`, `const`, patterns with examples, nullable unions, strict mode; and the shipped
/// example's tools.
#[test]
fn native_arguments_are_valid_for_refs_multiples_patterns_and_the_shipped_example() {
    for file in [
        "tests/data/tools-pydantic.json",
        "scenarios/support-agent/tools.json",
    ] {
        let text = std::fs::read_to_string(repo().join(file)).expect("fixture");
        let validators = validators_of(&text);
        let tools: Vec<Tool> = serde_json::from_str(&text).unwrap();
        let cfg = config(2, &[]);
        let mut seen = BTreeSet::new();
        for seed in 0..400 {
            for (name, args) in native_calls(seed, &cfg, &tools) {
                let v = validators.get(&name).expect("an offered tool");
                let errors: Vec<String> = v.iter_errors(&args).map(|e| e.to_string()).collect();
                assert!(
                    errors.is_empty(),
                    "{file} seed {seed} {name} {args}: {errors:?}"
                );
                seen.insert(name);
            }
        }
        assert_eq!(
            seen.len(),
            validators.len(),
            "{file}: every tool called: {seen:?}"
        );
    }
}

#[test]
fn text_protocol_arguments_are_schema_valid_too() {
    let validators = validators();
    let tc = ToolsConfig {
        loaded: parse_openai_tools(&tools_json()).unwrap(),
        ..ToolsConfig::default()
    };
    let described = ToolBox::new(&tc).unwrap().describe();
    let pairs: Vec<(&str, &str)> = described
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_str()))
        .collect();
    let prompt = format!("You are a support agent.\n\n{}", system_prompt(&pairs));
    assert!(prompt.contains(mock_server::script::ARGS_MARK));
    assert_eq!(
        mock_server::script::ARGS_MARK,
        reactbench::agent::tools::ARGS_MARK
    );
    let cfg = config(1, &[]);
    let mut seen = BTreeSet::new();
    for seed in 0..300 {
        let text = json!([
            {"role": "system", "content": prompt},
            {"role": "user", "content": format!("Customer question number {seed}")}
        ])
        .to_string();
        let messages: Vec<Message> = serde_json::from_str(&text).unwrap();
        let input = script_input(&messages, &[]);
        let r = script::reply(
            seed,
            &cfg,
            CountRange { min: 20, max: 40 },
            Encoding::O200kBase,
            &input,
        );
        let content = r.content.expect("a text reply");
        let Ok(ReactStep::Action { tool, input, .. }) = parse_reply(&content) else {
            panic!("seed {seed}: not an action: {content}");
        };
        let v = validators.get(&tool).expect("a listed tool");
        // The one-string tool gets the script's own query as plain text, as before.
        let args: Value = if tool == "search_kb" {
            json!({ "query": input })
        } else {
            serde_json::from_str(&input).unwrap_or_else(|e| panic!("{tool}: {input}: {e}"))
        };
        let errors: Vec<String> = v.iter_errors(&args).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "seed {seed} {tool} {args}: {errors:?}");
        seen.insert(tool);
    }
    assert_eq!(seen.len(), validators.len(), "every tool called: {seen:?}");
}

#[test]
fn tool_weights_shift_the_choice() {
    let tools: Vec<Tool> = serde_json::from_str(&tools_json()).unwrap();
    let cfg = config(1, &[("issue_refund", 8), ("ping", 0)]);
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for seed in 0..600 {
        for (name, _) in native_calls(seed, &cfg, &tools) {
            *counts.entry(name).or_default() += 1;
        }
    }
    // Weights 1, 8, 1, 0: refunds are 80% of calls, pings none.
    let refunds = counts.get("issue_refund").copied().unwrap_or(0);
    assert!((420..=540).contains(&refunds), "{counts:?}");
    assert_eq!(counts.get("ping"), None, "{counts:?}");
}
