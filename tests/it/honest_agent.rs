//! Records that tell the truth (issues 14 and 15): empty, truncated and filtered replies are not
//! answers; a user held by its own rate limit waits instead of spinning through refusals; an
//! unparseable reply says why; the text protocol stops at `Observation:`; the spend cap learns
//! what an endpoint really bills and states its overshoot bound.

use std::sync::Arc;
use std::time::Duration;

use reactbench::agent::conversation::{Agent, TurnRequest, new_record};
use reactbench::agent::settings::{AgentConfig, Protocol};
use reactbench::agent::spend::SpendCap;
use reactbench::client::LlmClient;
use reactbench::pricing::PriceTable;
use reactbench::record::Outcome;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::agent::{agent, agent_config, start, turn};

/// An agent over `server` (wiremock), with the integration tests' usual settings.
fn wire_agent(server: &MockServer, config: AgentConfig, spend: Option<Arc<SpendCap>>) -> Agent {
    let client = LlmClient::with_key(&crate::client::config(server), None).unwrap();
    Agent::new(config, client, spend, 7).unwrap()
}

fn no_fallback(protocol: Protocol, stream: bool) -> AgentConfig {
    let mut c = agent_config(protocol, stream);
    c.fallback.clear();
    c
}

fn completion(content: Value, finish_reason: &str) -> Value {
    json!({"model": "gpt-4.1", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": content},
        "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 3}})
}

async fn answer_always(server: &MockServer, template: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(template)
        .mount(server)
        .await;
}

#[tokio::test]
async fn empty_truncated_and_filtered_replies_never_count_as_answered() {
    let sse =
        |body: &str| ResponseTemplate::new(200).set_body_raw(body.to_string(), "text/event-stream");
    let json_reply = |v: Value| ResponseTemplate::new(200).set_body_json(v);
    let cases: Vec<(&str, Protocol, bool, ResponseTemplate, Outcome)> = vec![
        (
            "native, content null, no tool call",
            Protocol::Native,
            false,
            json_reply(completion(Value::Null, "stop")),
            Outcome::EmptyReply,
        ),
        (
            "native, whitespace only",
            Protocol::Native,
            false,
            json_reply(completion(json!(" \n\t "), "stop")),
            Outcome::EmptyReply,
        ),
        (
            "native stream with nothing but [DONE]",
            Protocol::Native,
            true,
            sse("data: [DONE]\n\n"),
            Outcome::EmptyReply,
        ),
        (
            "native, cut at the completion limit",
            Protocol::Native,
            false,
            json_reply(completion(json!("The answer is"), "length")),
            Outcome::Truncated,
        ),
        (
            "native, filtered",
            Protocol::Native,
            false,
            json_reply(completion(json!(""), "content_filter")),
            Outcome::ContentFiltered,
        ),
        (
            "native, filtered with text left: the filter wins",
            Protocol::Native,
            false,
            json_reply(completion(json!("Sure, here is"), "content_filter")),
            Outcome::ContentFiltered,
        ),
        (
            "text, content null",
            Protocol::Text,
            false,
            json_reply(completion(Value::Null, "stop")),
            Outcome::EmptyReply,
        ),
        (
            "text, a final answer cut at the limit is still truncated",
            Protocol::Text,
            false,
            json_reply(completion(json!("Final Answer: 4 because"), "length")),
            Outcome::Truncated,
        ),
        (
            "text, empty and cut: length wins over empty",
            Protocol::Text,
            false,
            json_reply(completion(json!(""), "length")),
            Outcome::Truncated,
        ),
        (
            "text, filtered",
            Protocol::Text,
            false,
            json_reply(completion(json!("Thought: I"), "content_filter")),
            Outcome::ContentFiltered,
        ),
    ];
    for (what, protocol, stream, template, want) in cases {
        let server = MockServer::start().await;
        answer_always(&server, template).await;
        let agent = wire_agent(&server, no_fallback(protocol, stream), None);
        let rec = turn(&agent, 1, "What is 2 + 2?").await.record;
        assert_eq!(rec.outcome, want, "{what}: {rec:#?}");
        assert!(rec.outcome.is_error(), "{what}");
        assert_eq!(rec.calls.len(), 1, "{what}: one call, then the end");
        assert_eq!(server.received_requests().await.unwrap().len(), 1, "{what}");
    }
}

#[tokio::test]
async fn an_unparseable_reply_keeps_its_failure_kind_and_a_redacted_excerpt() {
    let server = MockServer::start().await;
    let reply = format!(
        "I think it is 4.\nMy key is sk-proj-Abcdefgh12345678, use Bearer tok.en-123456 {}",
        "x".repeat(400)
    );
    answer_always(
        &server,
        ResponseTemplate::new(200).set_body_json(completion(json!(reply), "stop")),
    )
    .await;
    let agent = wire_agent(&server, no_fallback(Protocol::Text, false), None);
    let rec = turn(&agent, 1, "What is 2 + 2?").await.record;
    assert_eq!(rec.outcome, Outcome::Unparseable);
    let detail = rec.error_detail.expect("an unparseable reply says why");
    assert!(
        detail.starts_with("no_action_or_final_answer: I think it is 4.\\nMy key is [redacted]"),
        "{detail}"
    );
    assert!(
        !detail.contains("sk-proj") && !detail.contains("tok.en"),
        "{detail}"
    );
    assert!(!detail.contains('\n'), "one line: {detail}");
    assert!(detail.ends_with("..."), "bounded: {detail}");
    assert!(
        detail.chars().count() <= 200 + 40,
        "{} chars",
        detail.chars().count()
    );
}

#[tokio::test]
async fn the_text_protocol_stops_at_observation_and_native_sends_no_stop() {
    // (what, protocol, `[agent] stop`, the request's `stop` member)
    type Case = (&'static str, Protocol, Option<Vec<String>>, Option<Value>);
    let cases: Vec<Case> = vec![
        (
            "text, default",
            Protocol::Text,
            None,
            Some(json!(["\nObservation:"])),
        ),
        ("native, default", Protocol::Native, None, None),
        ("text, disabled", Protocol::Text, Some(vec![]), None),
        (
            "native, configured",
            Protocol::Native,
            Some(vec!["END".into()]),
            Some(json!(["END"])),
        ),
    ];
    for (what, protocol, stop, want) in cases {
        let server = MockServer::start().await;
        answer_always(
            &server,
            ResponseTemplate::new(200).set_body_json(completion(json!("Final Answer: 4"), "stop")),
        )
        .await;
        let mut config = no_fallback(protocol, false);
        config.stop = stop;
        let agent = wire_agent(&server, config, None);
        let rec = turn(&agent, 1, "What is 2 + 2?").await.record;
        assert_eq!(rec.outcome, Outcome::Answered, "{what}: {rec:#?}");
        let sent: Value = server.received_requests().await.unwrap()[0]
            .body_json()
            .unwrap();
        assert_eq!(sent.get("stop").cloned(), want, "{what}: {sent}");
    }
}

/// A user whose rate limit is used up waits for the limiter, as a real client would: every
/// turn runs, the held ones say how long they waited, and each counts once as a local refusal.
#[tokio::test]
async fn a_user_over_its_rate_limit_waits_and_every_turn_runs() {
    let mock = start("[script]\ntool_steps = \"0..=0\"\n").await;
    let mut config = agent_config(Protocol::Native, false);
    config.sessions.rate_limit = "1/100ms".parse().unwrap();
    let agent = agent(&mock, config, None);
    let mut waits = Vec::new();
    for t in 0..4u64 {
        // The same user, back to back (zero think time).
        let rec = agent
            .run_turn(TurnRequest {
                conversation_id: t,
                rng_key: t,
                user_id: 1,
                turn: 1,
                session: None,
                prompt: "What is 6 times 7?".into(),
                intended_start: None,
            })
            .await
            .record;
        assert_eq!(rec.outcome, Outcome::Answered, "turn {t}: {rec:#?}");
        assert!(rec.latency >= rec.session_wait.unwrap_or_default());
        waits.push(rec.session_wait);
    }
    assert_eq!(waits[0], None, "the first turn is within the burst");
    for w in &waits[1..] {
        let w = w.expect("held back, then admitted");
        // One cell every 100 ms; the first turn's call took some of it.
        assert!(w > Duration::ZERO && w <= Duration::from_secs(2), "{w:?}");
    }
    assert_eq!(
        agent.sessions().stats().rate_limited,
        3,
        "one per held turn"
    );
    assert_eq!(mock.stats().requests_total, 4);
    mock.shutdown().await;
}

/// A turn still held when the run drops it (the grace period ended) says so: outcome
/// `session_rate_limited`, the wait so far, no call, nothing sent.
#[tokio::test]
async fn a_turn_held_when_the_run_ends_is_session_rate_limited_with_nothing_sent() {
    let mock = start("").await;
    let mut config = agent_config(Protocol::Native, false);
    config.sessions.rate_limit = "1/h".parse().unwrap();
    let agent = agent(&mock, config, None);
    // The user's one turn an hour is taken.
    assert!(agent.sessions().begin_turn(1, None).is_ok());
    let req = TurnRequest {
        conversation_id: 2,
        rng_key: 2,
        user_id: 1,
        turn: 1,
        session: None,
        prompt: "What is 6 times 7?".into(),
        intended_start: None,
    };
    let mut rec = new_record(&req);
    let cut = tokio::time::timeout(
        Duration::from_millis(50),
        agent.run_turn_into(req, &mut rec),
    )
    .await;
    assert!(cut.is_err(), "the turn is held for an hour");
    assert_eq!(rec.outcome, Outcome::SessionRateLimited, "{rec:#?}");
    assert!(!rec.outcome.is_error());
    assert!(
        rec.session_wait
            .is_some_and(|w| w >= Duration::from_millis(40))
    );
    assert!(rec.calls.is_empty());
    assert_eq!(agent.sessions().stats().rate_limited, 1);
    assert_eq!(mock.stats().requests_total, 0);
    mock.shutdown().await;
}

/// A server that bills ten times `max_tokens` (llama.cpp's server ignores
/// `max_completion_tokens`): 100 asked, 1000 billed, $0.008 a call at gpt-4.1's $8/M.
async fn overbilling_server(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    let body = json!({"model": "gpt-4.1", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": "42"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 1000}});
    answer_always(
        &server,
        ResponseTemplate::new(200)
            .set_body_json(body)
            .set_delay(delay),
    )
    .await;
    server
}

fn capped_config() -> AgentConfig {
    let mut c = no_fallback(Protocol::Native, false);
    c.max_tokens = Some(100);
    c.sessions.rate_limit = "1000/s".parse().unwrap();
    c
}

#[tokio::test]
async fn the_spend_cap_learns_what_the_endpoint_really_bills() {
    let server = overbilling_server(Duration::ZERO).await;
    let cap = Arc::new(SpendCap::new(0.01, PriceTable::default_table().unwrap()));
    let agent = wire_agent(&server, capped_config(), Some(cap.clone()));
    // One conversation at a time: the first is billed $0.008 against a $0.001 reservation;
    // the second must reserve what the endpoint really billed, which no longer fits.
    let first = turn(&agent, 1, "What is 6 times 7?").await.record;
    assert_eq!(first.outcome, Outcome::Answered);
    let second = turn(&agent, 2, "What is 6 times 7?").await.record;
    assert_eq!(second.outcome, Outcome::SpendCap, "{second:#?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    let s = cap.status();
    assert_eq!(s.largest_completion_tokens, 1000);
    assert_eq!(s.overshoot_usd, 0.0, "{s:?}");
    assert!(s.spent_usd > 0.0079 && s.spent_usd < 0.01, "{s:?}");
    assert_eq!(s.crossing, None);
}

#[tokio::test]
async fn the_spend_cap_overshoot_stays_within_the_bound_it_states() {
    let server = overbilling_server(Duration::from_millis(100)).await;
    let cap = Arc::new(SpendCap::new(0.01, PriceTable::default_table().unwrap()));
    let agent = Arc::new(wire_agent(&server, capped_config(), Some(cap.clone())));
    let tasks: Vec<_> = (0..50)
        .map(|id| {
            let agent = Arc::clone(&agent);
            tokio::spawn(async move { turn(&agent, id, "What is 6 times 7?").await.record })
        })
        .collect();
    let mut answered = 0;
    for t in tasks {
        let rec = t.await.unwrap();
        assert!(
            matches!(rec.outcome, Outcome::Answered | Outcome::SpendCap),
            "{rec:#?}"
        );
        answered += u64::from(rec.outcome == Outcome::Answered);
    }
    let s = cap.status();
    let crossing = s
        .crossing
        .expect("the over-billing endpoint crossed the cap");
    eprintln!("spend cap: {s:?}");
    assert!(s.overshoot_usd > 0.0, "{s:?}");
    assert!(
        s.overshoot_usd <= crossing.overshoot_bound_usd + 1e-9,
        "overshoot {} past the stated bound {}: {s:?}",
        s.overshoot_usd,
        crossing.overshoot_bound_usd
    );
    assert!(crossing.in_flight_calls > 0 && crossing.in_flight_reserved_usd > 0.0);
    assert_eq!(s.reserved_usd, 0.0, "every reservation settled");
    // Nothing was sent once the cap was crossed: only the first wave reached the server.
    let sent = server.received_requests().await.unwrap().len() as u64;
    assert_eq!(sent, answered);
    assert!(sent < 20, "{sent} requests for a cap of about one call");
}

#[test]
fn a_spend_cap_without_max_tokens_is_a_configuration_error() {
    let text = r#"
name = "t"
duration = "5s"
[load]
users = 3
[agent]
model = "gpt-4.1"
[[workload]]
prompts = ["hi"]
[limits]
spend_cap_usd = 0.01
"#;
    let err = reactbench::scenario::parse(std::path::Path::new("t.toml"), text)
        .expect_err("a cap needs a completion limit");
    assert_eq!(err.key(), Some("agent.max_tokens"), "{err}");
    assert!(err.to_string().contains("max_tokens = 512"), "{err}");
    let fixed = text.replace(
        "model = \"gpt-4.1\"",
        "model = \"gpt-4.1\"\nmax_tokens = 256",
    );
    assert!(reactbench::scenario::parse(std::path::Path::new("t.toml"), &fixed).is_ok());
}
