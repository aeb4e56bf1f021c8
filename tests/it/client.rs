//! The LLM client against wiremock: exact HTTP failure shapes of real servers (OpenAI, LiteLLM,
//! vLLM), SSE streams with their deviations, and the API key never leaking.

use std::time::{Duration, SystemTime};

use reactbench::chat::{ChatMessage, ChatReply, ChatRequest, MaxTokensField, Role};
use reactbench::client::{ApiKey, ClientConfig, LlmClient, LlmError};
use reactbench::record::ErrorClass;
use reactbench::tokens::Tokenizer;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "sk-test-SECRET-0123456789abcdef";

pub fn request(model: &str, stream: bool) -> ChatRequest {
    ChatRequest {
        model: model.to_string(),
        messages: vec![
            ChatMessage::text(Role::System, "You are a careful assistant."),
            ChatMessage::text(Role::User, "What is 2 + 2? Trả lời ngắn gọn."),
        ],
        max_tokens: Some(256),
        max_tokens_field: MaxTokensField::MaxTokens,
        tools: Vec::new().into(),
        stream,
        stop: Default::default(),
    }
}

pub fn config(server: &MockServer) -> ClientConfig {
    ClientConfig {
        base_url: format!("{}/v1", server.uri()),
        attempt_timeout: Duration::from_secs(10),
        ..ClientConfig::default()
    }
}

fn client(server: &MockServer) -> LlmClient {
    LlmClient::with_key(&config(server), Some(ApiKey::new(SECRET))).unwrap()
}

async fn serve(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

async fn fail_with(template: ResponseTemplate, stream: bool) -> LlmError {
    let server = serve(template).await;
    client(&server)
        .chat(&request("gpt-4.1", stream))
        .await
        .expect_err("the server answered with a failure")
}

/// The error of one non-streamed call made with `cfg` (no key).
async fn fail_with_config(cfg: &ClientConfig) -> LlmError {
    LlmClient::with_key(cfg, None)
        .expect("client builds")
        .chat(&request("gpt-4.1", false))
        .await
        .expect_err("the call fails")
}

async fn reply_of(template: ResponseTemplate, stream: bool) -> (ChatReply, Value) {
    let server = serve(template).await;
    let reply = client(&server)
        .chat(&request("gpt-4.1", stream))
        .await
        .expect("the server answered with a success");
    let sent = server.received_requests().await.unwrap();
    (reply, sent[0].body_json::<Value>().unwrap())
}

fn openai_error(message: &str, ty: &str, code: &str) -> Value {
    json!({"error": {"message": message, "type": ty, "param": null, "code": code}})
}

fn completion(content: &str, usage: Option<Value>) -> Value {
    let mut v = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4.1-2025-04-14",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    });
    if let Some(u) = usage {
        v["usage"] = u;
    }
    v
}

fn sse(events: &[Value], done: bool) -> String {
    let mut s = String::new();
    for e in events {
        s.push_str(&format!("data: {e}\n\n"));
    }
    if done {
        s.push_str("data: [DONE]\n\n");
    }
    s
}

fn sse_template(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

fn delta(content: &str) -> Value {
    json!({"id": "c", "object": "chat.completion.chunk", "model": "gpt-4.1",
           "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]})
}

fn finish(reason: &str) -> Value {
    json!({"id": "c", "object": "chat.completion.chunk", "model": "gpt-4.1",
           "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
}

#[tokio::test]
async fn rate_limit_429_in_each_header_style() {
    let body = openai_error(
        "Rate limit reached for requests",
        "requests",
        "rate_limit_exceeded",
    );
    let in_30s = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
    type ReadWait = fn(&LlmError) -> Option<Duration>;
    type Case = (Vec<(&'static str, String)>, ReadWait, Duration);
    let cases: Vec<Case> = vec![
        (
            vec![("retry-after", "7".into())],
            |e| e.rate_limit.retry_after,
            Duration::from_secs(7),
        ),
        (
            vec![("retry-after-ms", "1500".into())],
            |e| e.rate_limit.retry_after,
            Duration::from_millis(1500),
        ),
        (
            vec![
                ("x-ratelimit-reset-requests", "6m0s".into()),
                ("x-ratelimit-remaining-requests", "0".into()),
                ("x-ratelimit-reset-tokens", "20ms".into()),
                ("x-ratelimit-remaining-tokens", "1000".into()),
            ],
            |e| e.rate_limit.reset_wait(),
            Duration::from_secs(360),
        ),
    ];
    for (headers, read, want) in cases {
        let mut t = ResponseTemplate::new(429).set_body_json(&body);
        for (k, v) in &headers {
            t = t.insert_header(*k, v.as_str());
        }
        let e = fail_with(t, false).await;
        assert_eq!(e.class, ErrorClass::RateLimited, "{headers:?}");
        assert_eq!(e.status, Some(429));
        assert_eq!(e.code.as_deref(), Some("rate_limit_exceeded"));
        assert_eq!(read(&e), Some(want), "{headers:?}");
    }
    // An HTTP date becomes a wait from now (the date has one-second resolution).
    let e = fail_with(
        ResponseTemplate::new(429)
            .set_body_json(&body)
            .insert_header("retry-after", in_30s.as_str()),
        false,
    )
    .await;
    let wait = e
        .rate_limit
        .retry_after
        .expect("HTTP-date Retry-After parsed");
    assert!(
        wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
}

#[tokio::test]
async fn quota_429_is_its_own_class() {
    let e = fail_with(
        ResponseTemplate::new(429).set_body_json(openai_error(
            "You exceeded your current quota",
            "insufficient_quota",
            "insufficient_quota",
        )),
        false,
    )
    .await;
    assert_eq!(e.class, ErrorClass::QuotaExceeded);
}

#[tokio::test]
async fn http_failure_shapes() {
    for (status, body, class, code) in [
        (
            401,
            openai_error("Invalid auth", "invalid_request_error", "invalid_api_key"),
            ErrorClass::Auth,
            Some("invalid_api_key"),
        ),
        (
            400,
            openai_error(
                "This model's maximum context length is 128000 tokens.",
                "invalid_request_error",
                "context_length_exceeded",
            ),
            ErrorClass::ContextLength,
            Some("context_length_exceeded"),
        ),
        (
            503,
            openai_error("The server is overloaded", "server_error", "overloaded"),
            ErrorClass::Server,
            Some("overloaded"),
        ),
        // LiteLLM: the code is the status as a string.
        (
            429,
            json!({"error": {"message": "litellm.RateLimitError: ...", "type": "None", "param": "None", "code": "429"}}),
            ErrorClass::RateLimited,
            Some("429"),
        ),
        // vLLM: a top-level error object with a numeric code; its context-window overflow is
        // recognised by its wording (issue 14.5).
        (
            400,
            json!({"object": "error", "message": "This model's maximum context length is 4096 tokens", "type": "BadRequestError", "param": null, "code": 400}),
            ErrorClass::ContextLength,
            Some("400"),
        ),
        (
            400,
            json!({"object": "error", "message": "temperature must be non-negative", "type": "BadRequestError", "param": null, "code": 400}),
            ErrorClass::BadRequest,
            Some("400"),
        ),
        (
            404,
            json!({"object": "error", "message": "The model `x` does not exist.", "type": "NotFoundError", "param": null, "code": 404}),
            ErrorClass::NotFound,
            Some("404"),
        ),
    ] {
        let e = fail_with(ResponseTemplate::new(status).set_body_json(&body), false).await;
        assert_eq!(e.class, class, "{status} {body}");
        assert_eq!(e.status, Some(status));
        assert_eq!(e.code.as_deref(), code, "{body}");
        assert!(!e.message.is_empty());
    }
    // A 502 page from a proxy that is not JSON at all keeps its text as the message.
    let e = fail_with(
        ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"),
        false,
    )
    .await;
    assert_eq!((e.class, e.status), (ErrorClass::Server, Some(502)));
    assert!(e.message.contains("Bad Gateway"));
}

#[tokio::test]
async fn malformed_json_is_a_malformed_reply() {
    for body in [
        "{\"id\": \"x\", \"choices\": [",
        "not json",
        "{\"choices\": []}",
    ] {
        let e = fail_with(
            ResponseTemplate::new(200).set_body_raw(body, "application/json"),
            false,
        )
        .await;
        assert_eq!(e.class, ErrorClass::Malformed, "{body}");
        assert_eq!(e.status, Some(200));
    }
}

/// A 200 that is not a completion takes the general path: an error object inside it is
/// classified by its code (some proxies do this), a wrongly typed body is malformed.
#[tokio::test]
async fn error_objects_and_wrong_types_inside_a_200() {
    let e = fail_with(
        ResponseTemplate::new(200).set_body_raw(
            r#"{"error":{"message":"Rate limit reached","type":"rate_limit_error","code":"429"}}"#,
            "application/json",
        ),
        false,
    )
    .await;
    assert_eq!((e.class, e.status), (ErrorClass::RateLimited, Some(200)));
    assert!(e.message.contains("Rate limit reached"), "{}", e.message);

    let e = fail_with(
        ResponseTemplate::new(200).set_body_raw(r#"{"choices": "none"}"#, "application/json"),
        false,
    )
    .await;
    assert_eq!(e.class, ErrorClass::Malformed);
    assert!(e.message.contains("not a chat completion"), "{}", e.message);
}

#[tokio::test]
async fn usage_from_the_server_with_cached_tokens() {
    let usage = json!({"prompt_tokens": 120, "completion_tokens": 7, "total_tokens": 127,
                       "prompt_tokens_details": {"cached_tokens": 64}});
    let (reply, sent) = reply_of(
        ResponseTemplate::new(200).set_body_json(completion("4", Some(usage))),
        false,
    )
    .await;
    assert_eq!(reply.content.as_deref(), Some("4"));
    assert_eq!(reply.model, "gpt-4.1-2025-04-14");
    assert_eq!(
        (
            reply.usage.prompt_tokens,
            reply.usage.cached_tokens,
            reply.usage.completion_tokens
        ),
        (120, 64, 7)
    );
    assert!(!reply.usage.estimated);
    assert_eq!(reply.ttft, None, "no TTFT without streaming");
    // What went on the wire: plain-string content, max_tokens, no stream options.
    assert_eq!(sent["model"], "gpt-4.1");
    assert_eq!(sent["max_tokens"], 256);
    assert_eq!(sent["stream"], false);
    assert_eq!(
        sent["messages"][1]["content"],
        "What is 2 + 2? Trả lời ngắn gọn."
    );
}

#[tokio::test]
async fn missing_usage_is_counted_locally_and_flagged() {
    let (reply, _) = reply_of(
        ResponseTemplate::new(200).set_body_json(completion("The answer is 4.", None)),
        false,
    )
    .await;
    let t = Tokenizer::for_model("gpt-4.1");
    let req = request("gpt-4.1", false);
    assert!(reply.usage.estimated);
    assert_eq!(reply.usage.prompt_tokens, t.count_messages(&req.messages));
    assert_eq!(reply.usage.completion_tokens, t.count("The answer is 4."));
}

#[tokio::test]
async fn native_tool_calls_without_streaming() {
    let body = json!({"model": "gpt-4.1", "choices": [{"index": 0, "finish_reason": "tool_calls",
        "message": {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "calculator", "arguments": "{\"expr\":\"2+2\"}"}}]}}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 12}});
    let (reply, _) = reply_of(ResponseTemplate::new(200).set_body_json(body), false).await;
    assert_eq!(reply.content, None);
    assert_eq!(reply.tool_calls.len(), 1);
    assert_eq!(reply.tool_calls[0].id, "call_a");
    assert_eq!(reply.tool_calls[0].arguments, "{\"expr\":\"2+2\"}");
    assert_eq!(reply.finish_reason.as_deref(), Some("tool_calls"));
}

#[tokio::test]
async fn sse_happy_path_with_ttft_gaps_and_usage_on_a_chunk_with_choices() {
    let pieces = ["The", " answer", " is", " 4."];
    let mut events: Vec<Value> = vec![
        json!({"model": "gpt-4.1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
    ];
    events.extend(pieces.iter().map(|p| delta(p)));
    // Some servers put usage on a chunk whose choices are not empty.
    let mut last = finish("stop");
    last["usage"] = json!({"prompt_tokens": 30, "completion_tokens": 4});
    events.push(last);
    let (reply, sent) = reply_of(sse_template(sse(&events, true)), true).await;
    assert_eq!(reply.content.as_deref(), Some("The answer is 4."));
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        (reply.usage.prompt_tokens, reply.usage.completion_tokens),
        (30, 4)
    );
    assert!(!reply.usage.estimated);
    assert!(reply.ttft.is_some());
    // One gap between each pair of non-empty deltas; the role-only chunk is not a token.
    assert_eq!(reply.inter_chunk_gaps_us.len(), pieces.len() - 1);
    assert!(!reply.missing_done);
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn sse_streamed_tool_call_fragments_are_assembled() {
    let frag = |index: u32, id: Option<&str>, name: Option<&str>, args: &str| {
        let mut f = json!({"index": index, "function": {"arguments": args}});
        if let Some(id) = id {
            f["id"] = json!(id);
            f["type"] = json!("function");
        }
        if let Some(n) = name {
            f["function"]["name"] = json!(n);
        }
        json!({"model": "gpt-4.1", "choices": [{"index": 0, "delta": {"tool_calls": [f]}}]})
    };
    let events = vec![
        frag(0, Some("call_1"), Some("calculator"), ""),
        frag(0, None, None, "{\"expr\":"),
        frag(1, Some("call_2"), Some("search"), "{\"q\":"),
        frag(0, None, None, "\"2+2\"}"),
        frag(1, None, None, "\"hanoi\"}"),
        // finish_reason "stop" together with tool calls, as some servers send.
        finish("stop"),
    ];
    let (reply, _) = reply_of(sse_template(sse(&events, true)), true).await;
    let calls: Vec<(&str, &str, &str)> = reply
        .tool_calls
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.as_str()))
        .collect();
    assert_eq!(
        calls,
        vec![
            ("call_1", "calculator", "{\"expr\":\"2+2\"}"),
            ("call_2", "search", "{\"q\":\"hanoi\"}"),
        ]
    );
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    // No usage chunk (a llama.cpp server ignores include_usage): counted locally.
    assert!(reply.usage.estimated);
    assert!(reply.usage.completion_tokens > 0);
}

#[tokio::test]
async fn sse_without_done_is_accepted_after_a_finish_reason() {
    let events = vec![delta("Hi"), finish("stop")];
    let (reply, _) = reply_of(sse_template(sse(&events, false)), true).await;
    assert_eq!(reply.content.as_deref(), Some("Hi"));
    assert!(reply.missing_done);
}

#[tokio::test]
async fn sse_cut_before_a_finish_reason_is_a_stream_cut() {
    let events = vec![delta("The"), delta(" answer")];
    let e = fail_with(sse_template(sse(&events, false)), true).await;
    assert_eq!(e.class, ErrorClass::StreamCut);
    assert_eq!(e.status, Some(200));
}

#[tokio::test]
async fn sse_non_json_chunk_with_multibyte_text_is_malformed_not_a_panic() {
    // A relay that streams a localized page: a multi-byte character straddles byte 80.
    let mut body = sse(&[delta("The")], false);
    body.push_str(&format!("data: {}é và tiếng Việt\n\n", "x".repeat(79)));
    let e = fail_with(sse_template(body), true).await;
    assert_eq!(e.class, ErrorClass::Malformed);
    assert!(e.message.contains("not JSON"), "{}", e.message);
}

#[tokio::test]
async fn sse_error_event_mid_stream_is_a_stream_cut_with_its_code() {
    let mut body = sse(&[delta("The")], false);
    body.push_str(
        "data: {\"error\":{\"message\":\"upstream overloaded\",\"type\":\"server_error\",\"code\":\"503\"}}\n\n",
    );
    body.push_str("data: [DONE]\n\n");
    let e = fail_with(sse_template(body), true).await;
    assert_eq!(e.class, ErrorClass::StreamCut);
    assert_eq!(e.code.as_deref(), Some("503"));
    assert_eq!(e.message, "upstream overloaded");
    // vLLM's top-level error object mid-stream, too.
    let mut body = sse(&[delta("The")], false);
    body.push_str("data: {\"object\":\"error\",\"message\":\"boom\",\"type\":\"InternalServerError\",\"code\":500}\n\n");
    let e = fail_with(sse_template(body), true).await;
    assert_eq!(
        (e.class, e.code.as_deref()),
        (ErrorClass::StreamCut, Some("500"))
    );
}

#[tokio::test]
async fn sse_malformed_chunk_is_malformed() {
    let mut body = sse(&[delta("The")], false);
    body.push_str("data: {\"choices\": [\n\n");
    let e = fail_with(sse_template(body), true).await;
    assert_eq!(e.class, ErrorClass::Malformed);
}

#[tokio::test]
async fn max_completion_tokens_when_asked() {
    let server = serve(ResponseTemplate::new(200).set_body_json(completion("ok", None))).await;
    let mut req = request("o3-mini", false);
    req.max_tokens_field = MaxTokensField::MaxCompletionTokens;
    client(&server).chat(&req).await.unwrap();
    let sent: Value = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    assert_eq!(sent["max_completion_tokens"], 256);
    assert!(sent.get("max_tokens").is_none());
}

/// The connect timeout covers the TLS handshake: a server that accepts TCP and then says
/// nothing is a timeout after `connect_timeout`, long before the attempt timeout.
#[tokio::test]
async fn a_stalled_tls_handshake_is_a_connect_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and holds connections without a byte of TLS.
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let cfg = ClientConfig {
        base_url: format!("https://localhost:{port}/v1"),
        connect_timeout: Duration::from_millis(200),
        attempt_timeout: Duration::from_secs(30),
        ..ClientConfig::default()
    };
    let e = fail_with_config(&cfg).await;
    assert_eq!(e.class, ErrorClass::Timeout, "{}", e.message);
    assert!(e.message.contains("connect"), "{}", e.message);
    assert_eq!(e.status, None);
    silent.abort();
}

/// Redirects are not followed; the error says where to point `base_url` instead.
#[tokio::test]
async fn a_redirect_is_an_error_naming_the_target() {
    let e = fail_with(
        ResponseTemplate::new(308)
            .insert_header("location", "https://api.example.com/v2/chat/completions"),
        false,
    )
    .await;
    assert_eq!((e.class, e.status), (ErrorClass::Other, Some(308)));
    assert!(
        e.message
            .contains("https://api.example.com/v2/chat/completions")
            && e.message.contains("base_url"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn attempt_timeout_and_refused_connection() {
    let server = serve(
        ResponseTemplate::new(200)
            .set_body_json(completion("late", None))
            .set_delay(Duration::from_secs(5)),
    )
    .await;
    let cfg = ClientConfig {
        attempt_timeout: Duration::from_millis(100),
        ..config(&server)
    };
    let e = fail_with_config(&cfg).await;
    assert_eq!(e.class, ErrorClass::Timeout);

    // A port nobody listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = ClientConfig {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        ..ClientConfig::default()
    };
    let e = fail_with_config(&cfg).await;
    assert_eq!(e.class, ErrorClass::Connection);
    assert_eq!(e.status, None);
}

#[tokio::test]
async fn api_key_is_sent_but_never_in_debug_or_error_text() {
    // A server that echoes the key back in its error message, as some relays do.
    let server = serve(ResponseTemplate::new(401).set_body_json(openai_error(
        &format!("Incorrect API key provided: {SECRET}."),
        "invalid_request_error",
        "invalid_api_key",
    )))
    .await;
    let c = client(&server);
    let e = c.chat(&request("gpt-4.1", false)).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Auth);
    for text in [
        format!("{e}"),
        format!("{e:?}"),
        format!("{c:?}"),
        format!("{:?}", config(&server)),
    ] {
        assert!(!text.contains(SECRET), "key leaked into: {text}");
    }
    assert!(e.message.contains("***"));
    let sent = server.received_requests().await.unwrap();
    let auth = sent[0].headers.get("authorization").unwrap();
    assert_eq!(auth.to_str().unwrap(), format!("Bearer {SECRET}"));

    // A missing key variable is a build error naming the variable, not a silent no-auth run.
    let cfg = ClientConfig {
        api_key_env: Some("REACTBENCH_TEST_KEY_THAT_IS_NOT_SET".into()),
        ..config(&server)
    };
    let err = LlmClient::new(&cfg).unwrap_err().to_string();
    assert!(err.contains("REACTBENCH_TEST_KEY_THAT_IS_NOT_SET"), "{err}");
}

#[tokio::test]
async fn bad_base_url_and_header_are_build_errors() {
    for cfg in [
        ClientConfig {
            base_url: "ftp://example.com/v1".into(),
            ..ClientConfig::default()
        },
        ClientConfig {
            base_url: "not a url".into(),
            ..ClientConfig::default()
        },
        ClientConfig {
            headers: vec![("bad header".into(), "v".into())],
            ..ClientConfig::default()
        },
    ] {
        assert!(LlmClient::new(&cfg).is_err(), "{cfg:?}");
    }
}
