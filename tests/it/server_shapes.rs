//! A loopback test server (raw tokio on 127.0.0.1:0) that speaks the exact reply and error
//! shapes of OpenAI, vLLM, LiteLLM, llama.cpp's server and a reasoning model (DeepSeek-R1 as
//! vLLM serves it, and a gateway's `delta.reasoning`), byte for byte, headers included. The
//! table is server kind x reply; each row asserts the client-level facts: the `ChatReply`
//! (content, finish_reason, usage, reasoning, TTFTs, `stream_ignored`) or the `LlmError` class.
//! What the agent makes of them (empty replies, truncation) is the agent's tests' business.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reactbench::chat::{ChatReply, ChatRequest, ToolSpec};
use reactbench::client::{ClientConfig, LlmClient, LlmError};
use reactbench::record::ErrorClass;
use reactbench::tokens::Tokenizer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::client::request;

/// One reply: written in pieces, with a pause before each.
#[derive(Clone)]
pub struct Reply {
    pub pieces: Vec<(Duration, Vec<u8>)>,
}

impl Reply {
    /// A whole reply written at once.
    pub fn whole(bytes: Vec<u8>) -> Reply {
        Reply {
            pieces: vec![(Duration::ZERO, bytes)],
        }
    }
}

/// Serves `reply` to every request on every connection, then closes the connection.
pub async fn raw_server(reply: Reply) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let reply = Arc::new(reply);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let reply = Arc::clone(&reply);
            tokio::spawn(async move {
                // Read the head and its Content-Length body.
                let mut req = Vec::new();
                let mut b = [0u8; 8192];
                loop {
                    let n = s.read(&mut b).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    req.extend_from_slice(&b[..n]);
                    if let Some(h) = memchr::memmem::find(&req, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&req[..h]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if req.len() >= h + 4 + len {
                            break;
                        }
                    }
                }
                for (pause, bytes) in &reply.pieces {
                    if !pause.is_zero() {
                        tokio::time::sleep(*pause).await;
                    }
                    if s.write_all(bytes).await.is_err() {
                        return;
                    }
                }
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}

pub fn client_for(addr: SocketAddr, tweak: impl FnOnce(&mut ClientConfig)) -> LlmClient {
    let mut config = ClientConfig {
        base_url: format!("http://{addr}/v1"),
        attempt_timeout: Duration::from_secs(10),
        ..ClientConfig::default()
    };
    tweak(&mut config);
    LlmClient::with_key(&config, None).unwrap()
}

/// A JSON response with `status`, extra header lines and `body`.
pub fn json_response(status: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// An SSE response, chunked, each event its own chunk written after `gap`.
pub fn sse_reply(events: &[&str], gap: Duration) -> Reply {
    let mut pieces = vec![(
        Duration::ZERO,
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            .to_vec(),
    )];
    for e in events {
        let data = format!("data: {e}\n\n");
        pieces.push((gap, format!("{:x}\r\n{data}\r\n", data.len()).into_bytes()));
    }
    pieces.push((Duration::ZERO, b"0\r\n\r\n".to_vec()));
    Reply { pieces }
}

/// What one row expects.
enum Want {
    /// A reply: content, finish_reason, whether usage is estimated, reasoning tokens.
    Reply {
        content: Option<&'static str>,
        finish: Option<&'static str>,
        estimated: bool,
        reasoning_tokens: u64,
        /// A stream's first answer token came after its first token (reasoning first).
        reasoning_first: bool,
        stream_ignored: bool,
    },
    /// An error of this class.
    Error(ErrorClass),
}

fn reply(content: Option<&'static str>, finish: &'static str, estimated: bool) -> Want {
    Want::Reply {
        content,
        finish: Some(finish),
        estimated,
        reasoning_tokens: 0,
        reasoning_first: false,
        stream_ignored: false,
    }
}

const OPENAI_HEAD: &str = r#"{"id":"chatcmpl-AB","object":"chat.completion.chunk","created":1733000000,"model":"gpt-4.1-2025-04-14","service_tier":"default","system_fingerprint":"fp_1","#;

fn openai_completion(content: &str, finish: &str) -> String {
    format!(
        r#"{{"id":"chatcmpl-AB","object":"chat.completion","created":1733000000,"model":"gpt-4.1-2025-04-14","choices":[{{"index":0,"message":{{"role":"assistant","content":{content},"refusal":null,"annotations":[]}},"logprobs":null,"finish_reason":"{finish}"}}],"usage":{{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{{"cached_tokens":0,"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}},"service_tier":"default","system_fingerprint":"fp_1"}}"#
    )
}

fn openai_chunk(delta: &str, finish: &str) -> String {
    format!(
        r#"{OPENAI_HEAD}"choices":[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}],"usage":null}}"#
    )
}

fn openai_stream(with_usage: bool) -> Vec<String> {
    let mut v = vec![
        openai_chunk(
            r#"{"role":"assistant","content":"","refusal":null}"#,
            "null",
        ),
        openai_chunk(r#"{"content":"2 + 2"}"#, "null"),
        openai_chunk(r#"{"content":" = 4"}"#, "null"),
        openai_chunk("{}", r#""stop""#),
    ];
    if with_usage {
        v.push(format!(
            r#"{OPENAI_HEAD}"choices":[],"usage":{{"prompt_tokens":19,"completion_tokens":5,"total_tokens":24,"prompt_tokens_details":{{"cached_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":0}}}}}}"#
        ));
    }
    v.push("[DONE]".into());
    v
}

const VLLM_HEAD: &str = r#"{"id":"chatcmpl-9f","object":"chat.completion.chunk","created":1733000000,"model":"meta-llama/Llama-3.1-8B-Instruct","#;

fn vllm_stream(with_usage: bool) -> Vec<String> {
    let mut v = vec![
        format!(
            r#"{VLLM_HEAD}"choices":[{{"index":0,"delta":{{"role":"assistant","content":""}},"logprobs":null,"finish_reason":null}}]}}"#
        ),
        format!(
            r#"{VLLM_HEAD}"choices":[{{"index":0,"delta":{{"content":"4"}},"logprobs":null,"finish_reason":null}}]}}"#
        ),
        format!(
            r#"{VLLM_HEAD}"choices":[{{"index":0,"delta":{{"content":""}},"logprobs":null,"finish_reason":"stop","stop_reason":null}}]}}"#
        ),
    ];
    if with_usage {
        v.push(format!(
            r#"{VLLM_HEAD}"choices":[],"usage":{{"prompt_tokens":30,"total_tokens":31,"completion_tokens":1}}}}"#
        ));
    }
    v.push("[DONE]".into());
    v
}

/// llama.cpp's server writes `choices` first and the id and model after.
const LLAMA_FIELDS: &str = r#""created":1733000000,"id":"chatcmpl-x","model":"gpt-3.5-turbo","system_fingerprint":"b4000","object":"chat.completion.chunk""#;

fn llama_stream(with_usage: bool) -> Vec<String> {
    let mut v = vec![
        format!(
            r#"{{"choices":[{{"finish_reason":null,"index":0,"delta":{{"role":"assistant","content":null}}}}],{LLAMA_FIELDS}}}"#
        ),
        format!(
            r#"{{"choices":[{{"finish_reason":null,"index":0,"delta":{{"content":"4"}}}}],{LLAMA_FIELDS}}}"#
        ),
    ];
    let last = if with_usage {
        r#","usage":{"completion_tokens":1,"prompt_tokens":25,"total_tokens":26},"timings":{"prompt_n":25,"prompt_ms":10.5,"predicted_n":1,"predicted_ms":2.1}"#
    } else {
        r#","timings":{"prompt_n":25,"prompt_ms":10.5}"#
    };
    v.push(format!(
        r#"{{"choices":[{{"finish_reason":"stop","index":0,"delta":{{}}}}],{LLAMA_FIELDS}{last}}}"#
    ));
    v.push("[DONE]".into());
    v
}

fn r1_stream(field: &str) -> Vec<String> {
    let head = r#"{"id":"chatcmpl-r1","object":"chat.completion.chunk","created":1733000000,"model":"deepseek-ai/DeepSeek-R1","#;
    vec![
        format!(
            r#"{head}"choices":[{{"index":0,"delta":{{"role":"assistant","content":""}},"finish_reason":null}}]}}"#
        ),
        format!(
            r#"{head}"choices":[{{"index":0,"delta":{{"{field}":"The user asks 2+2."}},"finish_reason":null}}]}}"#
        ),
        format!(
            r#"{head}"choices":[{{"index":0,"delta":{{"{field}":" That is 4."}},"finish_reason":null}}]}}"#
        ),
        format!(
            r#"{head}"choices":[{{"index":0,"delta":{{"content":"4"}},"finish_reason":null}}]}}"#
        ),
        format!(
            r#"{head}"choices":[{{"index":0,"delta":{{"content":""}},"finish_reason":"stop"}}]}}"#
        ),
        format!(
            r#"{head}"choices":[],"usage":{{"prompt_tokens":12,"completion_tokens":11,"total_tokens":23,"completion_tokens_details":{{"reasoning_tokens":10}}}}}}"#
        ),
        "[DONE]".into(),
    ]
}

fn sse(events: Vec<String>) -> Reply {
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    sse_reply(&refs, Duration::from_millis(2))
}

fn rows() -> Vec<(&'static str, &'static str, bool, Reply, Want)> {
    let ok = "200 OK";
    vec![
        // ---- OpenAI ----
        (
            "openai",
            "normal",
            false,
            Reply::whole(json_response(
                ok,
                "",
                &openai_completion(r#""2 + 2 = 4""#, "stop"),
            )),
            reply(Some("2 + 2 = 4"), "stop", false),
        ),
        (
            "openai",
            "streamed with usage",
            true,
            sse(openai_stream(true)),
            reply(Some("2 + 2 = 4"), "stop", false),
        ),
        (
            "openai",
            "streamed without usage",
            true,
            sse(openai_stream(false)),
            reply(Some("2 + 2 = 4"), "stop", true),
        ),
        (
            "openai",
            "context error",
            false,
            Reply::whole(json_response(
                "400 Bad Request",
                "",
                r#"{"error":{"message":"This model's maximum context length is 1047576 tokens. However, your messages resulted in 1100000 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
            )),
            Want::Error(ErrorClass::ContextLength),
        ),
        (
            "openai",
            "rate limit",
            false,
            Reply::whole(json_response(
                "429 Too Many Requests",
                "retry-after-ms: 1200\r\nx-ratelimit-remaining-requests: 0\r\nx-ratelimit-reset-requests: 1s\r\n",
                r#"{"error":{"message":"Rate limit reached for gpt-4.1 on requests per min (RPM): Limit 500, Used 500, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
            )),
            Want::Error(ErrorClass::RateLimited),
        ),
        (
            "openai",
            "quota",
            false,
            Reply::whole(json_response(
                "429 Too Many Requests",
                "",
                r#"{"error":{"message":"You exceeded your current quota.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
            )),
            Want::Error(ErrorClass::QuotaExceeded),
        ),
        (
            "openai",
            "empty content",
            false,
            Reply::whole(json_response(ok, "", &openai_completion(r#""""#, "stop"))),
            reply(Some(""), "stop", false),
        ),
        (
            "openai",
            "finish length",
            false,
            Reply::whole(json_response(
                ok,
                "",
                &openai_completion(r#""2 + 2 is""#, "length"),
            )),
            reply(Some("2 + 2 is"), "length", false),
        ),
        (
            "openai",
            "content filter",
            false,
            Reply::whole(json_response(
                ok,
                "",
                &openai_completion("null", "content_filter"),
            )),
            reply(None, "content_filter", false),
        ),
        (
            "openai",
            "streamed, answered in JSON",
            true,
            Reply::whole(json_response(
                ok,
                "",
                &openai_completion(r#""2 + 2 = 4""#, "stop"),
            )),
            Want::Reply {
                content: Some("2 + 2 = 4"),
                finish: Some("stop"),
                estimated: false,
                reasoning_tokens: 0,
                reasoning_first: false,
                stream_ignored: true,
            },
        ),
        // ---- vLLM ----
        (
            "vllm",
            "normal",
            false,
            Reply::whole(json_response(
                ok,
                "",
                r#"{"id":"chatcmpl-9f","object":"chat.completion","created":1733000000,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"message":{"role":"assistant","reasoning_content":null,"content":"4","tool_calls":[]},"logprobs":null,"finish_reason":"stop","stop_reason":null}],"usage":{"prompt_tokens":30,"total_tokens":31,"completion_tokens":1,"prompt_tokens_details":null},"prompt_logprobs":null,"kv_transfer_params":null}"#,
            )),
            reply(Some("4"), "stop", false),
        ),
        (
            "vllm",
            "streamed with usage",
            true,
            sse(vllm_stream(true)),
            reply(Some("4"), "stop", false),
        ),
        (
            "vllm",
            "streamed without usage",
            true,
            sse(vllm_stream(false)),
            reply(Some("4"), "stop", true),
        ),
        (
            "vllm",
            "context error",
            false,
            Reply::whole(json_response(
                "400 Bad Request",
                "",
                r#"{"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400}"#,
            )),
            Want::Error(ErrorClass::ContextLength),
        ),
        (
            "vllm",
            "other bad request",
            false,
            Reply::whole(json_response(
                "400 Bad Request",
                "",
                r#"{"object":"error","message":"[{'type': 'less_than_equal', 'loc': ('body', 'temperature'), 'msg': 'Input should be less than or equal to 2'}]","type":"BadRequestError","param":null,"code":400}"#,
            )),
            Want::Error(ErrorClass::BadRequest),
        ),
        (
            "vllm",
            "finish length",
            false,
            Reply::whole(json_response(
                ok,
                "",
                r#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Four"},"finish_reason":"length","stop_reason":null}],"usage":{"prompt_tokens":30,"total_tokens":31,"completion_tokens":1}}"#,
            )),
            reply(Some("Four"), "length", false),
        ),
        (
            "vllm",
            "streamed, JSON without a content type",
            true,
            Reply::whole(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    openai_completion(r#""4""#, "stop").len(),
                    openai_completion(r#""4""#, "stop")
                )
                .into_bytes(),
            ),
            Want::Reply {
                content: Some("4"),
                finish: Some("stop"),
                estimated: false,
                reasoning_tokens: 0,
                reasoning_first: false,
                stream_ignored: true,
            },
        ),
        // ---- LiteLLM ----
        (
            "litellm",
            "context error",
            false,
            Reply::whole(json_response(
                "400 Bad Request",
                "",
                r#"{"error":{"message":"litellm.ContextWindowExceededError: litellm.BadRequestError: ContextWindowExceededError: OpenAIException - This model's maximum context length is 8192 tokens. Received Model Group=gpt-4\nAvailable Model Group Fallbacks=None","type":null,"param":null,"code":"400"}}"#,
            )),
            Want::Error(ErrorClass::ContextLength),
        ),
        (
            "litellm",
            "rate limit",
            false,
            Reply::whole(json_response(
                "429 Too Many Requests",
                "retry-after: 2\r\n",
                r#"{"error":{"message":"litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached","type":"None","param":"None","code":"429"}}"#,
            )),
            Want::Error(ErrorClass::RateLimited),
        ),
        (
            "litellm",
            "anthropic prompt too long",
            false,
            Reply::whole(json_response(
                "400 Bad Request",
                "",
                r#"{"error":{"message":"litellm.BadRequestError: AnthropicException - {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"prompt is too long: 215000 tokens > 200000 maximum\"}}","type":null,"param":null,"code":"400"}}"#,
            )),
            Want::Error(ErrorClass::ContextLength),
        ),
        (
            "litellm",
            "huge retry header",
            false,
            Reply::whole(json_response(
                "429 Too Many Requests",
                "retry-after: 1e20\r\nretry-after-ms: 1e23\r\nx-ratelimit-reset-requests: 99999999h\r\n",
                r#"{"error":{"message":"slow down","type":"None","param":"None","code":"429"}}"#,
            )),
            Want::Error(ErrorClass::RateLimited),
        ),
        // ---- llama.cpp's server ----
        (
            "llama.cpp",
            "normal",
            false,
            Reply::whole(json_response(
                ok,
                "",
                r#"{"choices":[{"finish_reason":"stop","index":0,"message":{"role":"assistant","content":"4"}}],"created":1733000000,"model":"gpt-3.5-turbo","system_fingerprint":"b4000","object":"chat.completion","usage":{"completion_tokens":1,"prompt_tokens":25,"total_tokens":26},"id":"chatcmpl-x","timings":{"prompt_n":25,"prompt_ms":10.5,"predicted_n":1,"predicted_ms":2.1}}"#,
            )),
            reply(Some("4"), "stop", false),
        ),
        (
            "llama.cpp",
            "streamed with usage",
            true,
            sse(llama_stream(true)),
            reply(Some("4"), "stop", false),
        ),
        (
            "llama.cpp",
            "streamed without usage",
            true,
            sse(llama_stream(false)),
            reply(Some("4"), "stop", true),
        ),
        (
            "llama.cpp",
            "context error",
            false,
            Reply::whole(json_response(
                "400 Bad Request",
                "",
                r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":5000,"n_ctx":4096}}"#,
            )),
            Want::Error(ErrorClass::ContextLength),
        ),
        (
            "llama.cpp",
            "server busy",
            false,
            Reply::whole(json_response(
                "503 Service Unavailable",
                "",
                r#"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#,
            )),
            Want::Error(ErrorClass::Server),
        ),
        // ---- reasoning models ----
        (
            "deepseek-r1 (vllm)",
            "reasoning stream",
            true,
            sse(r1_stream("reasoning_content")),
            Want::Reply {
                content: Some("4"),
                finish: Some("stop"),
                estimated: false,
                reasoning_tokens: 10,
                reasoning_first: true,
                stream_ignored: false,
            },
        ),
        (
            "gateway",
            "reasoning stream",
            true,
            sse(r1_stream("reasoning")),
            Want::Reply {
                content: Some("4"),
                finish: Some("stop"),
                estimated: false,
                reasoning_tokens: 10,
                reasoning_first: true,
                stream_ignored: false,
            },
        ),
        (
            "deepseek-r1 (vllm)",
            "reasoning only, null content",
            false,
            Reply::whole(json_response(
                ok,
                "",
                r#"{"id":"c","object":"chat.completion","created":1,"model":"deepseek-ai/DeepSeek-R1","choices":[{"index":0,"message":{"role":"assistant","reasoning_content":"Thinking about 2+2 until the budget ran out","content":null},"finish_reason":"length"}],"usage":{"prompt_tokens":12,"completion_tokens":64,"total_tokens":76,"completion_tokens_details":{"reasoning_tokens":64}}}"#,
            )),
            Want::Reply {
                content: None,
                finish: Some("length"),
                estimated: false,
                reasoning_tokens: 64,
                reasoning_first: false,
                stream_ignored: false,
            },
        ),
    ]
}

fn check(server: &str, kind: &str, got: &Result<ChatReply, LlmError>, want: &Want, stream: bool) {
    match (want, got) {
        (Want::Error(class), Err(e)) => assert_eq!(e.class, *class, "{server} {kind}: {e}"),
        (
            Want::Reply {
                content,
                finish,
                estimated,
                reasoning_tokens,
                reasoning_first,
                stream_ignored,
            },
            Ok(r),
        ) => {
            let at = format!("{server} {kind}: {r:?}");
            assert_eq!(r.content.as_deref(), *content, "{at}");
            assert_eq!(r.finish_reason.as_deref(), *finish, "{at}");
            assert_eq!(r.usage.estimated, *estimated, "{at}");
            assert_eq!(r.usage.reasoning_tokens, *reasoning_tokens, "{at}");
            assert_eq!(r.stream_ignored, *stream_ignored, "{at}");
            assert!(!r.missing_done, "{at}");
            if stream && !stream_ignored {
                let (ttft, answer) = (r.ttft.expect(&at), r.ttft_answer.expect(&at));
                assert_eq!(answer > ttft, *reasoning_first, "{at}");
                assert!(answer >= ttft, "{at}");
            } else {
                assert!(r.ttft.is_none() && r.ttft_answer.is_none(), "{at}");
                assert!(r.inter_chunk_gaps_us.is_empty(), "{at}");
            }
        }
        (want, got) => panic!(
            "{server} {kind}: wanted {}, got {got:?}",
            match want {
                Want::Error(c) => format!("error {c:?}"),
                Want::Reply { .. } => "a reply".to_string(),
            }
        ),
    }
}

#[tokio::test]
async fn each_server_kind_and_reply_shape_reads_as_the_client_should() {
    let mut seen = 0;
    for (server, kind, stream, reply, want) in rows() {
        let addr = raw_server(reply).await;
        let client = client_for(addr, |_| {});
        let got = client.chat(&request("gpt-4.1", stream)).await;
        check(server, kind, &got, &want, stream);
        seen += 1;
    }
    assert!(seen >= 25);
}

/// A huge wait in any retry header panicked every virtual user (issue 15.1): now it parses
/// saturating, and the retry policy gives up instead of sleeping.
#[tokio::test]
async fn huge_retry_headers_are_a_give_up_not_a_panic() {
    use reactbench::agent::retry::{GiveUp, RetryConfig, RetryDecision, decide};
    for header in [
        "retry-after-ms: 1e23\r\n",
        "retry-after: 1e20\r\n",
        "retry-after: inf\r\n",
        "x-ratelimit-remaining-requests: 0\r\nx-ratelimit-reset-requests: 1e20\r\n",
        "x-ratelimit-remaining-tokens: 0\r\nx-ratelimit-reset-tokens: 99999999h\r\n",
    ] {
        let addr = raw_server(Reply::whole(json_response(
            "429 Too Many Requests",
            header,
            r#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#,
        )))
        .await;
        let e = client_for(addr, |_| {})
            .chat(&request("gpt-4.1", false))
            .await
            .expect_err("429");
        assert_eq!(e.class, ErrorClass::RateLimited);
        let mut rng = rand::rng();
        let d = decide(&e, 0, &RetryConfig::default(), &mut rng);
        assert!(
            matches!(d, RetryDecision::GiveUp(GiveUp::ServerWaitTooLong(_))),
            "{header}: {d:?}"
        );
    }
}

/// Issue 14.10: with no usage from the server, the prompt estimate counts the tool
/// definitions (it counted the messages alone, 37 tokens for a request with three tools).
#[tokio::test]
async fn estimated_prompt_tokens_include_the_tool_definitions() {
    let tool = |name: &str| ToolSpec {
        name: name.into(),
        description: format!("Looks up {name} records by id."),
        parameters: serde_json::json!({
            "type": "object",
            "properties": {"id": {"type": "string", "description": "The record id."}},
            "required": ["id"],
        }),
    };
    let mut req: ChatRequest = request("gpt-4.1", false);
    req.tools = vec![tool("order"), tool("customer"), tool("invoice")].into();
    let body = r#"{"choices":[{"message":{"role":"assistant","content":"Done."},"finish_reason":"stop"}]}"#;
    let addr = raw_server(Reply::whole(json_response("200 OK", "", body))).await;
    let r = client_for(addr, |_| {}).chat(&req).await.unwrap();
    let t = Tokenizer::for_model("gpt-4.1");
    assert!(r.usage.estimated);
    assert_eq!(r.usage.prompt_tokens, t.count_request(&req));
    assert_eq!(
        r.usage.prompt_tokens,
        t.count_messages(&req.messages) + t.count_tools(&req.tools)
    );
    assert!(t.count_tools(&req.tools) > 40, "three tools cost tokens");
}
