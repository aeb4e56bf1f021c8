//! Bring your own agent (issue 21): the agent's own system prompt and tool definitions, tools
//! simulated with failures and outputs, tool services called over HTTP, and the prompt of
//! every step counted by part.

use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use reactbench::agent::conversation::Agent;
use reactbench::agent::settings::{AgentConfig, Protocol};
use reactbench::agent::tools::{ToolBox, ToolsConfig};
use reactbench::client::LlmClient;
use reactbench::metrics::Aggregator;
use reactbench::pricing::PriceTable;
use reactbench::record::{Outcome, ToolStatus};
use reactbench::report::summary::Summary;
use reactbench::tokens::Tokenizer;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::agent::agent_config;

const TOOLS: &str = r#"
allowed = ["get_order", "search_kb"]
[[define]]
name = "get_order"
description = "Fetch an order by id"
parameters = { type = "object", properties = { order_id = { type = "string" } }, required = ["order_id"] }
[[define]]
name = "search_kb"
description = "Search the help center"
parameters = { type = "object", properties = { query = { type = "string" } }, required = ["query"] }
[simulate.search_kb]
output_tokens = "120"
"#;

fn tools(extra: &str) -> ToolsConfig {
    toml::from_str(&format!("{TOOLS}\n{extra}")).expect("tools config")
}

/// A reply with one tool call, and no `usage`: the client then counts the request it sent.
fn tool_call(id: &str, name: &str, args: Value) -> Value {
    json!({"model": "gpt-4.1", "choices": [{"index": 0, "message": {"role": "assistant",
        "content": null, "tool_calls": [{"id": id, "type": "function",
        "function": {"name": name, "arguments": args.to_string()}}]},
        "finish_reason": "tool_calls"}]})
}

/// A server that calls `get_order`, then `search_kb`, then answers.
async fn scripted_server() -> MockServer {
    let server = MockServer::start().await;
    let answer = json!({"model": "gpt-4.1", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": "Your order has shipped."},
        "finish_reason": "stop"}]});
    for (priority, marker, reply) in [
        (1, Some("call_2"), answer),
        (
            2,
            Some("call_1"),
            tool_call("call_2", "search_kb", json!({"query": "refund policy"})),
        ),
        (
            3,
            None,
            tool_call("call_1", "get_order", json!({"order_id": "A-17"})),
        ),
    ] {
        let mut m = Mock::given(method("POST")).and(path("/v1/chat/completions"));
        if let Some(marker) = marker {
            m = m.and(body_string_contains(marker));
        }
        m.respond_with(ResponseTemplate::new(200).set_body_json(reply))
            .with_priority(priority)
            .mount(&server)
            .await;
    }
    server
}

fn wire_agent(server: &MockServer, config: AgentConfig) -> Agent {
    let client = LlmClient::with_key(&crate::client::config(server), None).unwrap();
    Agent::new(config, client, None, 7).unwrap()
}

fn own_config(extra_tools: &str) -> AgentConfig {
    let mut c = agent_config(Protocol::Native, false);
    c.fallback.clear();
    c.system_prompt = Some("You are Acme's support agent. Be brief and polite.".into());
    c.tools = tools(extra_tools);
    c
}

/// The request bodies the server received, in order.
async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|r| serde_json::from_slice(&r.body).ok())
        .collect()
}

#[tokio::test]
async fn the_own_system_prompt_and_tools_are_sent_as_defined() {
    let server = scripted_server().await;
    let agent = wire_agent(&server, own_config(""));
    let rec = crate::agent::turn(&agent, 1, "Where is my order A-17?")
        .await
        .record;
    assert_eq!(rec.outcome, Outcome::Answered, "{rec:#?}");
    let sent = bodies(&server).await;
    assert_eq!(sent.len(), 3);
    assert_eq!(
        sent[0]["messages"][0]["content"],
        "You are Acme's support agent. Be brief and polite."
    );
    let names: Vec<&str> = sent[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert_eq!(names, ["get_order", "search_kb"]);
    assert_eq!(
        sent[0]["tools"][0]["function"]["parameters"]["required"][0],
        "order_id"
    );
    // The generated output of search_kb is counted as the model gets it.
    assert_eq!(rec.tools[1].name, "search_kb");
    assert!(
        (100..=140).contains(&rec.tools[1].output_tokens),
        "{:?}",
        rec.tools
    );
}

#[tokio::test]
async fn a_failing_tools_error_reaches_the_model_as_the_tool_result() {
    let server = scripted_server().await;
    let agent = wire_agent(
        &server,
        own_config(
            "[simulate.get_order]\nfailure_probability = 1.0\nerror = \"Error: order service is down (503)\"",
        ),
    );
    let rec = crate::agent::turn(&agent, 1, "Where is my order A-17?")
        .await
        .record;
    assert_eq!(rec.outcome, Outcome::Answered);
    assert_eq!(rec.tools[0].status, ToolStatus::Error);
    let sent = bodies(&server).await;
    let tool_message = sent[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .cloned()
        .expect("a tool message in the second request");
    assert_eq!(tool_message["tool_call_id"], "call_1");
    assert_eq!(
        tool_message["content"],
        "Error: order service is down (503)"
    );
}

#[tokio::test]
async fn each_steps_prompt_is_counted_by_part_and_the_parts_sum_to_what_was_sent() {
    let server = scripted_server().await;
    for protocol in [Protocol::Native] {
        let mut config = own_config("");
        config.protocol = protocol;
        let agent = wire_agent(&server, config);
        let rec = crate::agent::turn(&agent, 1, "Where is my order A-17?")
            .await
            .record;
        assert_eq!(rec.calls.len(), 3);
        let t = Tokenizer::for_model("gpt-4.1");
        let mut last = 0;
        for (i, c) in rec.calls.iter().enumerate() {
            // The server sent no usage: the client counted the request it sent.
            assert!(c.usage.estimated);
            let p = c.prompt;
            assert_eq!(p.total(), c.usage.prompt_tokens, "step {}", i + 1);
            assert_eq!(
                p.system + p.tool_schemas + p.history + p.tool_results,
                p.total()
            );
            assert_eq!(
                p.system,
                t.count_message(&reactbench::chat::ChatMessage::text(
                    reactbench::chat::Role::System,
                    "You are Acme's support agent. Be brief and polite."
                ))
            );
            assert!(p.tool_schemas > 20);
            assert!(p.total() > last, "the prompt grows step by step");
            last = p.total();
        }
        assert_eq!(rec.calls[0].prompt.tool_results, 0);
        // The search result (about 120 tokens) is in the third prompt.
        assert!(rec.calls[2].prompt.tool_results > 120);

        // The report's rows are those counts, step by step, and its parts sum to them.
        let t0 = rec.started;
        let mut agg = Aggregator::new(
            crate::metrics::info(),
            t0,
            PriceTable::default_table().unwrap(),
        );
        agg.record(&rec);
        let m = agg.finish(crate::metrics::run_end(t0));
        let s = Summary::from_metrics(&m);
        let p = s.prompt.expect("a prompt section");
        assert_eq!(p.by_step.len(), 3);
        for (row, c) in p.by_step.iter().zip(&rec.calls) {
            assert_eq!(row.calls, 1);
            assert_eq!(row.prompt_tokens, c.prompt.total() as f64);
            assert_eq!(
                row.system + row.tool_schemas + row.history + row.tool_results,
                row.prompt_tokens
            );
            assert_eq!(row.tool_results, c.prompt.tool_results as f64);
        }
        let share = p.share.system + p.share.tool_schemas + p.share.history + p.share.tool_results;
        assert!((share - 1.0).abs() < 1e-9);
        let kb = &s.tool.by_tool["search_kb"];
        assert_eq!((kb.calls, kb.errors), (1, 0));
        assert_eq!(kb.output_tokens, rec.tools[1].output_tokens);
        assert_eq!(s.tool.by_tool["get_order"].calls, 1);
    }
}

#[tokio::test]
async fn a_url_tool_posts_its_arguments_and_records_latency_and_status() {
    let service = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/tools/get_order"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_string(r#"{"order_id":"A-17","status":"shipped"}"#)
                .set_delay(Duration::from_millis(50)),
        )
        .mount(&service)
        .await;
    Mock::given(method("POST"))
        .and(path("/tools/hung"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&service)
        .await;
    Mock::given(method("POST"))
        .and(path("/tools/broken"))
        .respond_with(ResponseTemplate::new(503).set_body_string("overloaded"))
        .mount(&service)
        .await;
    let cfg = tools(&format!(
        "[simulate.get_order]\nurl = \"{0}/tools/get_order\"\n[[define]]\nname = \"slow\"\n[simulate.slow]\nurl = \"{0}/tools/hung\"\ntimeout = \"200ms\"\n[[define]]\nname = \"broken\"\n[simulate.broken]\nurl = \"{0}/tools/broken\"",
        service.uri()
    ));
    let cfg = ToolsConfig {
        allowed: Some(vec!["get_order".into(), "slow".into(), "broken".into()]),
        ..cfg
    };
    let tb = ToolBox::new(&cfg).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);

    let r = tb
        .run("get_order", r#"{"order_id": "A-17"}"#, &mut rng)
        .await;
    assert_eq!(r.status, ToolStatus::Ok);
    assert_eq!(r.http_status, Some(201));
    assert_eq!(r.output, r#"{"order_id":"A-17","status":"shipped"}"#);
    assert!(r.latency >= Duration::from_millis(50), "{:?}", r.latency);
    let rec = r.record(9);
    assert_eq!(
        (rec.http_status, rec.output_bytes, rec.output_tokens),
        (Some(201), 38, 9)
    );
    let got: Vec<Value> = service
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|r| serde_json::from_slice(&r.body).ok())
        .collect();
    assert_eq!(got, [json!({"order_id": "A-17"})]);

    let hung = tb.run("slow", r#"{"query": "x"}"#, &mut rng).await;
    assert_eq!((hung.status, hung.http_status), (ToolStatus::Error, None));
    assert!(
        hung.output.contains("did not answer within"),
        "{}",
        hung.output
    );
    assert!(hung.latency < Duration::from_secs(30));

    let broken = tb.run("broken", "{}", &mut rng).await;
    assert_eq!(
        (broken.status, broken.http_status),
        (ToolStatus::Error, Some(503))
    );
    assert!(
        broken.output.contains("HTTP 503: overloaded"),
        "{}",
        broken.output
    );
}

/// The mock bills the tool definitions as OpenAI does, by the rule the agent counts them with:
/// every call's billed prompt equals the agent's count of what it sent, tools included, in
/// both protocols (the text protocol sends no `tools`, and the schemas ride in the prompt).
#[tokio::test]
async fn the_mock_bills_what_the_agent_counted_tool_schemas_included() {
    let mock = crate::agent::start("seed = 5\n[script]\ntool_steps = \"2..=3\"\n").await;
    for protocol in [Protocol::Native, Protocol::Text] {
        let mut config = own_config("");
        config.protocol = protocol;
        config.stream = protocol == Protocol::Native;
        let agent = crate::agent::agent(&mock, config, None);
        for id in 0..4 {
            let rec = crate::agent::turn(&agent, id, &format!("Where is my order A-{id}?"))
                .await
                .record;
            assert_eq!(rec.outcome, Outcome::Answered, "{rec:#?}");
            assert!(rec.calls.len() >= 3);
            for c in &rec.calls {
                assert!(!c.usage.estimated);
                assert_eq!(
                    c.usage.prompt_tokens,
                    c.prompt.total(),
                    "{protocol:?} step {}",
                    c.step
                );
                if protocol == Protocol::Native {
                    assert!(c.prompt.tool_schemas > 20);
                } else {
                    assert_eq!(c.prompt.tool_schemas, 0);
                }
            }
        }
    }
    mock.shutdown().await;
}
