//! Retries, circuit breaker and fallback chain against wiremock: what the server saw, and what
//! the call record says, for each way a call can go.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reactbench::agent::breaker::{BreakerConfig, BreakerRegistry, BreakerState};
use reactbench::agent::resilience::{CallOutcome, Caller};
use reactbench::agent::retry::{BackoffStrategy, RetryConfig};
use reactbench::client::LlmClient;
use reactbench::record::ErrorClass;
use reactbench::units::HumanDuration;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::client::{config, request};

const PRIMARY: &str = "gpt-4.1";
const FALLBACK: &str = "deepseek-v3.2";

fn fast_retry(max_retries: u32) -> RetryConfig {
    RetryConfig {
        max_retries,
        strategy: BackoffStrategy::Exponential,
        base_delay: HumanDuration(Duration::from_millis(2)),
        max_delay: HumanDuration(Duration::from_millis(10)),
        jitter: true,
        max_server_wait: HumanDuration(Duration::from_secs(5)),
    }
}

fn registry(threshold: u32) -> Arc<BreakerRegistry> {
    Arc::new(BreakerRegistry::new(BreakerConfig {
        failure_threshold: threshold,
        ..BreakerConfig::default()
    }))
}

fn caller(server: &MockServer, retry: RetryConfig, breakers: Arc<BreakerRegistry>) -> Caller {
    let client = LlmClient::with_key(&config(server), None).unwrap();
    Caller::new(client, retry, breakers, vec![FALLBACK.to_string()], None)
}

fn ok_body(model: &str) -> Value {
    json!({"model": model, "choices": [{"index": 0, "message": {"role": "assistant", "content": "4"},
           "finish_reason": "stop"}], "usage": {"prompt_tokens": 20, "completion_tokens": 1}})
}

fn error_body(code: &str) -> Value {
    json!({"error": {"message": "m", "type": "t", "param": null, "code": code}})
}

/// Answers requests for `model` with `template`, `times` times (or always).
async fn on_model(
    server: &MockServer,
    model: &str,
    template: ResponseTemplate,
    times: Option<u64>,
) {
    let mut m = Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"model": model})))
        .respond_with(template);
    if let Some(n) = times {
        m = m.up_to_n_times(n);
    }
    m.mount(server).await;
}

async fn models_seen(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.body_json::<Value>().unwrap()["model"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn errors(o: &CallOutcome) -> Vec<(String, Option<ErrorClass>)> {
    o.record
        .attempts
        .iter()
        .map(|a| (a.model.clone(), a.error))
        .collect()
}

fn a(model: &str, e: Option<ErrorClass>) -> (String, Option<ErrorClass>) {
    (model.to_string(), e)
}

#[tokio::test]
async fn retries_503_then_succeeds_on_the_primary() {
    let server = MockServer::start().await;
    on_model(
        &server,
        PRIMARY,
        ResponseTemplate::new(503).set_body_json(error_body("overloaded")),
        Some(2),
    )
    .await;
    on_model(
        &server,
        PRIMARY,
        ResponseTemplate::new(200).set_body_json(ok_body(PRIMARY)),
        None,
    )
    .await;
    let o = caller(&server, fast_retry(3), registry(5))
        .call(request(PRIMARY, false), 1)
        .await;
    let r = &o.record;
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(o.reply.as_ref().unwrap().content.as_deref(), Some("4"));
    assert_eq!(
        errors(&o),
        vec![
            a(PRIMARY, Some(ErrorClass::Server)),
            a(PRIMARY, Some(ErrorClass::Server)),
            a(PRIMARY, None)
        ]
    );
    assert_eq!(r.retries(), 2);
    assert_eq!(r.attempts[0].backoff, Duration::ZERO);
    assert!(r.attempts[1].backoff > Duration::ZERO && r.attempts[2].backoff > Duration::ZERO);
    assert_eq!(r.model_answered.as_deref(), Some(PRIMARY));
    assert!(!r.fallback);
    assert_eq!((r.status, r.error, r.step), (Some(200), None, 1));
    assert_eq!(r.usage.prompt_tokens, 20);
    assert_eq!(models_seen(&server).await, vec![PRIMARY; 3]);
}

#[tokio::test]
async fn server_directed_wait_is_slept_exactly() {
    let server = MockServer::start().await;
    on_model(
        &server,
        PRIMARY,
        ResponseTemplate::new(429)
            .set_body_json(error_body("rate_limit_exceeded"))
            .insert_header("retry-after-ms", "40"),
        Some(1),
    )
    .await;
    on_model(
        &server,
        PRIMARY,
        ResponseTemplate::new(200).set_body_json(ok_body(PRIMARY)),
        None,
    )
    .await;
    let o = caller(&server, fast_retry(3), registry(5))
        .call(request(PRIMARY, false), 1)
        .await;
    assert!(o.error.is_none());
    assert_eq!(o.record.attempts[1].backoff, Duration::from_millis(40));
}

#[tokio::test]
async fn fallback_after_retries_spent_gets_the_same_conversation_with_its_own_model() {
    let server = MockServer::start().await;
    on_model(
        &server,
        PRIMARY,
        ResponseTemplate::new(503).set_body_json(error_body("overloaded")),
        None,
    )
    .await;
    on_model(
        &server,
        FALLBACK,
        ResponseTemplate::new(200).set_body_json(ok_body(FALLBACK)),
        None,
    )
    .await;
    let req = request(PRIMARY, false);
    let o = caller(&server, fast_retry(2), registry(5))
        .call(req.clone(), 3)
        .await;
    assert!(o.error.is_none(), "{:?}", o.error);
    let r = &o.record;
    assert_eq!(
        errors(&o),
        vec![
            a(PRIMARY, Some(ErrorClass::Server)),
            a(PRIMARY, Some(ErrorClass::Server)),
            a(PRIMARY, Some(ErrorClass::Server)),
            a(FALLBACK, None),
        ]
    );
    assert_eq!(r.model_asked, PRIMARY);
    assert_eq!(r.model_answered.as_deref(), Some(FALLBACK));
    assert!(r.fallback);
    assert_eq!(
        r.attempts[3].backoff,
        Duration::ZERO,
        "a fallback's first attempt does not wait"
    );
    // The fallback saw its own model name, and the primary's conversation unchanged.
    let sent = server.received_requests().await.unwrap();
    let last: Value = sent.last().unwrap().body_json().unwrap();
    let first: Value = sent[0].body_json().unwrap();
    assert_eq!(last["model"], FALLBACK);
    assert_eq!(last["messages"], first["messages"]);
    assert_eq!(last["max_tokens"], first["max_tokens"]);
    assert_eq!(
        models_seen(&server).await,
        vec![PRIMARY, PRIMARY, PRIMARY, FALLBACK]
    );
}

#[tokio::test]
async fn open_breaker_sends_calls_to_the_fallback_without_touching_the_primary() {
    let server = MockServer::start().await;
    on_model(
        &server,
        PRIMARY,
        ResponseTemplate::new(503).set_body_json(error_body("overloaded")),
        None,
    )
    .await;
    on_model(
        &server,
        FALLBACK,
        ResponseTemplate::new(200).set_body_json(ok_body(FALLBACK)),
        None,
    )
    .await;
    let breakers = registry(2);
    let c = caller(&server, fast_retry(3), breakers.clone());
    // Two failures open the primary's breaker; the third attempt is refused locally.
    let o = c.call(request(PRIMARY, false), 1).await;
    assert_eq!(
        errors(&o),
        vec![
            a(PRIMARY, Some(ErrorClass::Server)),
            a(PRIMARY, Some(ErrorClass::Server)),
            a(PRIMARY, Some(ErrorClass::BreakerOpen)),
            a(FALLBACK, None),
        ]
    );
    assert_eq!(o.record.attempts[2].status, None);
    // Three requests sent (two primary, one fallback): one retry of the primary; the local
    // refusal is not a request and the fallback is not a retry.
    assert_eq!(o.record.retries(), 1);
    // The next call goes straight to the fallback.
    let o = c.call(request(PRIMARY, false), 2).await;
    assert_eq!(
        errors(&o),
        vec![a(PRIMARY, Some(ErrorClass::BreakerOpen)), a(FALLBACK, None)]
    );
    assert_eq!(
        models_seen(&server).await,
        vec![PRIMARY, PRIMARY, FALLBACK, FALLBACK]
    );
    let primary = breakers.get(c.client().endpoint(), PRIMARY);
    assert_eq!(primary.state(), BreakerState::Open);
    assert_eq!(primary.rejections(), 2);
    let t = breakers.transitions();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (&*t[0].model, t[0].from, t[0].to),
        (PRIMARY, BreakerState::Closed, BreakerState::Open)
    );
}

#[tokio::test]
async fn context_length_is_returned_without_retry_or_fallback() {
    let server = MockServer::start().await;
    on_model(
        &server,
        PRIMARY,
        ResponseTemplate::new(400).set_body_json(error_body("context_length_exceeded")),
        None,
    )
    .await;
    on_model(
        &server,
        FALLBACK,
        ResponseTemplate::new(200).set_body_json(ok_body(FALLBACK)),
        None,
    )
    .await;
    let o = caller(&server, fast_retry(3), registry(1))
        .call(request(PRIMARY, false), 1)
        .await;
    assert_eq!(
        o.error.as_ref().map(|e| e.class),
        Some(ErrorClass::ContextLength)
    );
    assert_eq!(o.record.error, Some(ErrorClass::ContextLength));
    assert_eq!(o.record.status, Some(400));
    assert_eq!(models_seen(&server).await, vec![PRIMARY]);
    // A client error does not count against the breaker, even with a threshold of one.
    let b = caller(&server, fast_retry(0), registry(1));
    b.call(request(PRIMARY, false), 1).await;
    assert_eq!(
        b.breakers().get(b.client().endpoint(), PRIMARY).state(),
        BreakerState::Closed
    );
}

#[tokio::test]
async fn non_retryable_failures_fall_back_only_when_about_the_model() {
    for (status, code, falls_back) in [
        (404, "model_not_found", true),
        (429, "insufficient_quota", true),
        (401, "invalid_api_key", false),
        (400, "invalid_value", false),
    ] {
        let server = MockServer::start().await;
        on_model(
            &server,
            PRIMARY,
            ResponseTemplate::new(status).set_body_json(error_body(code)),
            None,
        )
        .await;
        on_model(
            &server,
            FALLBACK,
            ResponseTemplate::new(200).set_body_json(ok_body(FALLBACK)),
            None,
        )
        .await;
        let o = caller(&server, fast_retry(3), registry(5))
            .call(request(PRIMARY, false), 1)
            .await;
        let want: Vec<&str> = if falls_back {
            vec![PRIMARY, FALLBACK]
        } else {
            vec![PRIMARY]
        };
        assert_eq!(models_seen(&server).await, want, "{status} {code}");
        assert_eq!(o.error.is_none(), falls_back, "{status} {code}");
    }
}

#[tokio::test]
async fn server_wait_past_the_maximum_goes_to_the_fallback_at_once() {
    let server = MockServer::start().await;
    on_model(
        &server,
        PRIMARY,
        ResponseTemplate::new(429)
            .set_body_json(error_body("rate_limit_exceeded"))
            .insert_header("x-ratelimit-reset-requests", "6m0s")
            .insert_header("x-ratelimit-remaining-requests", "0"),
        None,
    )
    .await;
    on_model(
        &server,
        FALLBACK,
        ResponseTemplate::new(200).set_body_json(ok_body(FALLBACK)),
        None,
    )
    .await;
    let o = caller(&server, fast_retry(3), registry(5))
        .call(request(PRIMARY, false), 1)
        .await;
    assert_eq!(
        errors(&o),
        vec![a(PRIMARY, Some(ErrorClass::RateLimited)), a(FALLBACK, None)]
    );
    // Had the 6-minute wait been honoured, the call would have taken minutes.
    assert!(o.record.latency < Duration::from_secs(60));
}

#[tokio::test]
async fn all_models_failing_returns_the_last_error_with_every_attempt() {
    let server = MockServer::start().await;
    on_model(&server, PRIMARY, ResponseTemplate::new(502), None).await;
    on_model(&server, FALLBACK, ResponseTemplate::new(500), None).await;
    let o = caller(&server, fast_retry(1), registry(5))
        .call(request(PRIMARY, false), 1)
        .await;
    assert!(o.reply.is_none());
    assert_eq!(o.record.error, Some(ErrorClass::Server));
    assert_eq!(o.record.status, Some(500));
    assert_eq!(o.record.attempts.len(), 4);
    assert_eq!(o.record.model_answered, None);
    // One retry on each model; the move to the fallback is not a retry.
    assert_eq!(o.record.retries(), 2);
}

#[tokio::test]
async fn spend_guard_stops_before_any_request() {
    let server = MockServer::start().await;
    on_model(
        &server,
        PRIMARY,
        ResponseTemplate::new(200).set_body_json(ok_body(PRIMARY)),
        None,
    )
    .await;
    let allowed = Arc::new(AtomicBool::new(true));
    let flag = allowed.clone();
    let c = caller(&server, fast_retry(3), registry(5))
        .with_send_guard(Arc::new(move || flag.load(Ordering::Relaxed)));
    assert!(c.call(request(PRIMARY, false), 1).await.error.is_none());
    allowed.store(false, Ordering::Relaxed);
    let o = c.call(request(PRIMARY, false), 2).await;
    assert_eq!(o.record.error, Some(ErrorClass::SpendCap));
    assert_eq!(errors(&o), vec![a(PRIMARY, Some(ErrorClass::SpendCap))]);
    assert_eq!(o.record.retries(), 0);
    assert_eq!(
        models_seen(&server).await,
        vec![PRIMARY],
        "only the first call was sent"
    );
}

#[tokio::test]
async fn call_deadline_bounds_a_hanging_server() {
    let server = MockServer::start().await;
    on_model(
        &server,
        PRIMARY,
        ResponseTemplate::new(200)
            .set_body_json(ok_body(PRIMARY))
            .set_delay(Duration::from_secs(10)),
        None,
    )
    .await;
    let client = LlmClient::with_key(&config(&server), None).unwrap();
    let c = Caller::new(
        client,
        fast_retry(3),
        registry(1),
        vec![FALLBACK.to_string()],
        Some(Duration::from_millis(150)),
    );
    let o = c.call(request(PRIMARY, false), 1).await;
    assert_eq!(o.record.error, Some(ErrorClass::Deadline));
    assert_eq!(errors(&o), vec![a(PRIMARY, Some(ErrorClass::Deadline))]);
    // Our own deadline says nothing about the server: the breaker stays closed.
    assert_eq!(
        c.breakers().get(c.client().endpoint(), PRIMARY).state(),
        BreakerState::Closed
    );
}

#[tokio::test]
async fn streaming_call_record_carries_ttft_and_gaps() {
    let server = MockServer::start().await;
    let chunk =
        |c: &str| json!({"model": PRIMARY, "choices": [{"index": 0, "delta": {"content": c}}]});
    let body = format!(
        "data: {}\n\ndata: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
        chunk("a"),
        chunk("b"),
        json!({"model": PRIMARY, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 9, "completion_tokens": 2}})
    );
    on_model(
        &server,
        PRIMARY,
        ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"),
        None,
    )
    .await;
    let o = caller(&server, fast_retry(3), registry(5))
        .call(request(PRIMARY, true), 1)
        .await;
    assert!(o.record.ttft.is_some());
    assert_eq!(o.record.inter_chunk_gaps_us.len(), 1);
    assert_eq!(o.record.usage.completion_tokens, 2);
}

#[tokio::test]
async fn breaker_recovers_through_half_open_probes_when_the_outage_ends() {
    let server = MockServer::start().await;
    on_model(&server, PRIMARY, ResponseTemplate::new(503), Some(2)).await;
    on_model(
        &server,
        PRIMARY,
        ResponseTemplate::new(200).set_body_json(ok_body(PRIMARY)),
        None,
    )
    .await;
    on_model(
        &server,
        FALLBACK,
        ResponseTemplate::new(200).set_body_json(ok_body(FALLBACK)),
        None,
    )
    .await;
    let breakers = Arc::new(BreakerRegistry::new(BreakerConfig {
        failure_threshold: 2,
        recovery_timeout: HumanDuration(Duration::from_millis(50)),
        half_open_max_calls: 2,
        ..BreakerConfig::default()
    }));
    let c = caller(&server, fast_retry(0), breakers.clone());
    // Outage: two failures (no retries) each fall back; the second opens the breaker.
    for step in 1..=2 {
        let o = c.call(request(PRIMARY, false), step).await;
        assert_eq!(o.record.model_answered.as_deref(), Some(FALLBACK));
    }
    tokio::time::sleep(Duration::from_millis(60)).await;
    // Two probes succeed and close it; later calls stay on the primary.
    for step in 3..=5 {
        let o = c.call(request(PRIMARY, false), step).await;
        assert_eq!(
            o.record.model_answered.as_deref(),
            Some(PRIMARY),
            "step {step}"
        );
    }
    let t: Vec<(BreakerState, BreakerState)> = breakers
        .transitions()
        .iter()
        .map(|t| (t.from, t.to))
        .collect();
    use BreakerState::{Closed, HalfOpen, Open};
    assert_eq!(
        t,
        vec![(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed)]
    );
}
