//! A hostile server: a raw TCP listener on 127.0.0.1:0 that reads each request whole, counts
//! it, then answers with one of more than 30 kinds of broken reply (bad JSON and SSE, broken
//! framing, early closes and resets, a slow drip, huge heads and bodies, absurd retry headers,
//! 1xx and 3xx), chosen by a fixed seed. The client must never panic or hang past its timeout,
//! and `bench run` against it must record exactly as many attempts as the server counted.
//!
//! Counting rule: the server counts a request once it has read its head and body, before it
//! answers; every kind answers only after that, so each request the client sent in full is
//! counted, whatever the reply does to the connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reactbench::chat::{ChatMessage, ChatRequest, MaxTokensField, Role};
use reactbench::client::{ClientConfig, LlmClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the client may do with a kind: answer, fail, or either (a tolerated oddity).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Ok,
    Err,
    Either,
}

/// One kind of reply: its name, whether the request asks for a stream, what the client should
/// make of it.
#[derive(Clone, Copy, Debug)]
struct Kind {
    name: &'static str,
    stream: bool,
    expect: Expect,
}

const fn k(name: &'static str, stream: bool, expect: Expect) -> Kind {
    Kind {
        name,
        stream,
        expect,
    }
}

const KINDS: &[Kind] = &[
    k("valid_json", false, Expect::Ok),
    k("valid_sse", true, Expect::Ok),
    k("truncated_json", false, Expect::Err),
    k("choices_a_string", false, Expect::Err),
    k("usage_negative", false, Expect::Either),
    k("usage_huge_float", false, Expect::Either),
    k("usage_a_string", false, Expect::Either),
    k("content_a_number", false, Expect::Err),
    k("invalid_utf8", false, Expect::Either),
    k("sse_garbage_lines", true, Expect::Either),
    k("sse_missing_done", true, Expect::Either),
    k("sse_event_without_data", true, Expect::Either),
    k("sse_one_megabyte_line", true, Expect::Err),
    k("chunk_size_not_hex", false, Expect::Err),
    k("chunk_size_negative", false, Expect::Err),
    k("chunk_size_huge", false, Expect::Err),
    k("chunked_ends_early", false, Expect::Err),
    k("content_length_short", false, Expect::Either),
    k("content_length_long", false, Expect::Err),
    k("content_length_conflicting", false, Expect::Err),
    k("content_length_and_chunked", false, Expect::Either),
    k("close_before_status", false, Expect::Err),
    k("close_after_headers", false, Expect::Err),
    k("reset", false, Expect::Err),
    k("slow_drip", false, Expect::Err),
    k("header_100_kb", false, Expect::Err),
    k("headers_10_000", false, Expect::Err),
    k("body_20_mb", false, Expect::Err),
    k("retry_after_ms_1e23", false, Expect::Err),
    k("retry_after_1e20", false, Expect::Err),
    k("retry_after_negative", false, Expect::Err),
    k("ratelimit_reset_huge", false, Expect::Err),
    k("continue_100_then_reply", false, Expect::Either),
    k("early_hints_103_then_reply", false, Expect::Either),
    k("redirect_302", false, Expect::Err),
    k("no_content_204", false, Expect::Err),
    k("http_1_0_close_delimited", false, Expect::Either),
    k("status_line_garbage", false, Expect::Err),
    k("gzip_on_plain_bytes", false, Expect::Either),
    k("error_json_on_200", false, Expect::Err),
    k("endless_sse_comments", true, Expect::Err),
];

const COMPLETION: &str = r#"{"id":"x","object":"chat.completion","created":1,"model":"gpt-4.1","choices":[{"index":0,"message":{"role":"assistant","content":"Final Answer: 4"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14}}"#;

fn completion_with(field: &str, value: &str) -> String {
    match field {
        "usage" => COMPLETION.replace(
            r#""prompt_tokens":10"#,
            &format!(r#""prompt_tokens":{value}"#),
        ),
        "choices" => format!(
            r#"{{"id":"x","object":"chat.completion","created":1,"model":"gpt-4.1","choices":{value}}}"#
        ),
        "content" => COMPLETION.replace(r#""Final Answer: 4""#, value),
        _ => unreachable!("no such field"),
    }
}

fn json_reply(body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn sse_reply(events: &str) -> Vec<u8> {
    let mut out =
        b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec();
    out.extend_from_slice(format!("{:x}\r\n{events}\r\n0\r\n\r\n", events.len()).as_bytes());
    out
}

const CHUNK: &str = r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"content":"Final Answer: 4"},"finish_reason":null}]}"#;
const LAST: &str = r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14}}"#;

fn too_many_requests(header: &str) -> Vec<u8> {
    let body = r#"{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
    format!(
        "HTTP/1.1 429 Too Many Requests\r\nconnection: close\r\ncontent-type: application/json\r\n{header}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Writes the reply of `kind` to a connection whose request was read. Every kind closes the
/// connection afterwards (one request per connection keeps the counting rule simple), and the
/// well-formed replies say so with `connection: close`, as RFC 9112 asks of a server that
/// closes: without it a client may reuse the connection in the instant before the close
/// reaches it, and that request is lost to both sides' counts alike.
async fn answer(kind: &Kind, s: &mut TcpStream) {
    let bytes: Vec<u8> = match kind.name {
        "valid_json" => json_reply(COMPLETION.as_bytes()),
        "valid_sse" => sse_reply(&format!("data: {CHUNK}\n\ndata: {LAST}\n\ndata: [DONE]\n\n")),
        "truncated_json" => json_reply(&COMPLETION.as_bytes()[..COMPLETION.len() / 2]),
        "choices_a_string" => json_reply(completion_with("choices", r#""oops""#).as_bytes()),
        "usage_negative" => json_reply(completion_with("usage", "-5").as_bytes()),
        "usage_huge_float" => json_reply(completion_with("usage", "1e30").as_bytes()),
        "usage_a_string" => json_reply(completion_with("usage", r#""ten""#).as_bytes()),
        "content_a_number" => json_reply(completion_with("content", "42").as_bytes()),
        "invalid_utf8" => {
            let mut body = COMPLETION.as_bytes().to_vec();
            let at = COMPLETION.find("Final").expect("marker");
            body[at] = 0xff;
            body[at + 1] = 0xfe;
            json_reply(&body)
        }
        "sse_garbage_lines" => sse_reply(&format!(
            "garbage\n\n%%%\n\ndata: {CHUNK}\n\ndata: {{not json\n\ndata: [DONE]\n\n"
        )),
        "sse_missing_done" => sse_reply(&format!("data: {CHUNK}\n\ndata: {LAST}\n\n")),
        "sse_event_without_data" => {
            sse_reply(&format!("event: ping\n\nid: 3\n\ndata: {CHUNK}\n\ndata: [DONE]\n\n"))
        }
        "sse_one_megabyte_line" => {
            let big = "x".repeat(1 << 20);
            sse_reply(&format!("data: {big}\n\ndata: [DONE]\n\n"))
        }
        "chunk_size_not_hex" => b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
                .to_vec(),
        "chunk_size_negative" => b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n-5\r\nabc\r\n0\r\n\r\n"
                .to_vec(),
        "chunk_size_huge" => b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nabc"
                .to_vec(),
        "chunked_ends_early" => b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n100\r\n{\"id\":"
                .to_vec(),
        "content_length_short" => {
            let mut out = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                COMPLETION.len() - 10
            )
            .into_bytes();
            out.extend_from_slice(COMPLETION.as_bytes());
            out
        }
        "content_length_long" => {
            let mut out = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                COMPLETION.len() + 500
            )
            .into_bytes();
            out.extend_from_slice(COMPLETION.as_bytes());
            out
        }
        "content_length_conflicting" => {
            let mut out = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\ncontent-length: 7\r\n\r\n",
                COMPLETION.len()
            )
            .into_bytes();
            out.extend_from_slice(COMPLETION.as_bytes());
            out
        }
        "content_length_and_chunked" => {
            let mut out = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{COMPLETION}\r\n0\r\n\r\n",
                COMPLETION.len()
            )
            .into_bytes();
            out.shrink_to_fit();
            out
        }
        "close_before_status" => Vec::new(),
        "close_after_headers" => {
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n"
                .to_vec()
        }
        "reset" => {
            let _ = s.set_zero_linger();
            Vec::new()
        }
        "slow_drip" => {
            // One byte per 50 ms, at most 3 s: the client's 1 s timeout must cut it.
            let reply = json_reply(COMPLETION.as_bytes());
            for b in reply.iter().take(60) {
                if s.write_all(&[*b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Vec::new()
        }
        "header_100_kb" => {
            let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-big: ".to_vec();
            out.extend(std::iter::repeat_n(b'a', 100 * 1024));
            out.extend_from_slice(
                format!("\r\ncontent-length: {}\r\n\r\n{COMPLETION}", COMPLETION.len()).as_bytes(),
            );
            out
        }
        "headers_10_000" => {
            let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n".to_vec();
            for i in 0..10_000 {
                out.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
            }
            out.extend_from_slice(
                format!("content-length: {}\r\n\r\n{COMPLETION}", COMPLETION.len()).as_bytes(),
            );
            out
        }
        "body_20_mb" => {
            let size = 20 << 20;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {size}\r\n\r\n"
            );
            if s.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let block = vec![b' '; 64 * 1024];
            for _ in 0..(size / block.len()) {
                if s.write_all(&block).await.is_err() {
                    return;
                }
            }
            Vec::new()
        }
        "retry_after_ms_1e23" => too_many_requests("retry-after-ms: 1e23"),
        "retry_after_1e20" => too_many_requests("retry-after: 1e20"),
        "retry_after_negative" => too_many_requests("retry-after: -5"),
        "ratelimit_reset_huge" => too_many_requests("x-ratelimit-reset-requests: 99999999h"),
        "continue_100_then_reply" => {
            let mut out = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
            out.extend(json_reply(COMPLETION.as_bytes()));
            out
        }
        "early_hints_103_then_reply" => {
            let mut out = b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n".to_vec();
            out.extend(json_reply(COMPLETION.as_bytes()));
            out
        }
        "redirect_302" => {
            b"HTTP/1.1 302 Found\r\nconnection: close\r\nlocation: http://127.0.0.1:1/elsewhere\r\ncontent-length: 0\r\n\r\n"
                .to_vec()
        }
        "no_content_204" => b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n".to_vec(),
        "http_1_0_close_delimited" => {
            let mut out = b"HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n".to_vec();
            out.extend_from_slice(COMPLETION.as_bytes());
            out
        }
        "status_line_garbage" => b"HTTQ/9.9 two hundred\r\n\r\n{}".to_vec(),
        "gzip_on_plain_bytes" => {
            let mut out = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
                COMPLETION.len()
            )
            .into_bytes();
            out.extend_from_slice(COMPLETION.as_bytes());
            out
        }
        "error_json_on_200" => json_reply(
            br#"{"error":{"message":"upstream failed","type":"server_error","code":null}}"#,
        ),
        "endless_sse_comments" => {
            let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
            if s.write_all(head).await.is_err() {
                return;
            }
            // Bounded: at most 5 s of comments, ended early when the client goes away.
            for _ in 0..250 {
                if s.write_all(b"8\r\n: ping\n\n\r\n").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Vec::new()
        }
        other => unreachable!("unknown kind {other}"),
    };
    let _ = s.write_all(&bytes).await;
    let _ = s.flush().await;
}

/// Reads one request (head and `content-length` body); false if the client went away first.
async fn read_request(s: &mut TcpStream) -> bool {
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return false;
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    true
}

/// The hostile server: a fixed kind, or kinds drawn from a seed per request.
struct Hostile {
    addr: std::net::SocketAddr,
    requests: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Hostile {
    async fn start(fixed: Option<Kind>, seed: u64) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("address");
        let requests = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, halt) = (Arc::clone(&requests), Arc::clone(&stop));
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                if halt.load(Ordering::Relaxed) {
                    break;
                }
                let count = Arc::clone(&count);
                tokio::spawn(async move {
                    if !read_request(&mut s).await {
                        return;
                    }
                    let n = count.fetch_add(1, Ordering::SeqCst);
                    let kind = fixed.unwrap_or_else(|| {
                        // SplitMix64 of (seed, n): a fixed sequence of kinds per seed.
                        let mut z = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                        KINDS[((z ^ (z >> 31)) % KINDS.len() as u64) as usize]
                    });
                    answer(&kind, &mut s).await;
                    // One reply per connection, then a close. A client may have sent its next
                    // request on this connection in the instant before it saw the close (any
                    // server that closes without `connection: close` races so): that request
                    // reached the server, so it is counted, and the close refuses it.
                    let _ = s.shutdown().await;
                    let late =
                        tokio::time::timeout(Duration::from_millis(300), read_request(&mut s));
                    if late.await == Ok(true) {
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        Hostile {
            addr,
            requests,
            stop,
            task,
        }
    }

    fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.abort();
    }
}

fn request(stream: bool) -> ChatRequest {
    ChatRequest {
        model: "gpt-4.1".to_string(),
        messages: vec![ChatMessage::text(Role::User, "What is 2 + 2?")],
        max_tokens: Some(64),
        max_tokens_field: MaxTokensField::MaxTokens,
        tools: Arc::from(Vec::new()),
        stream,
        stop: Default::default(),
    }
}

#[test]
fn there_are_at_least_thirty_kinds_of_broken_reply() {
    let broken = KINDS.iter().filter(|k| k.expect != Expect::Ok).count();
    assert!(broken >= 30, "{broken}");
    let mut names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), KINDS.len(), "kind names are unique");
}

/// Every kind, one call each through the client: no panic, an answer or a typed error within
/// the attempt timeout (plus slack for a loaded machine), and the controls answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_broken_reply_ends_in_a_typed_error_within_the_timeout() {
    let timeout = Duration::from_secs(1);
    // The tokenizer a reply without usage is counted with loads once per process (seconds in
    // a debug build); `bench run` loads it before the first request, so do the same here.
    reactbench::tokens::Tokenizer::for_model("gpt-4.1").count("warm up");
    let mut failures = Vec::new();
    let mut seen = Vec::new();
    for kind in KINDS {
        let server = Hostile::start(Some(*kind), 0).await;
        let client = LlmClient::new(&ClientConfig {
            base_url: server.base_url(),
            attempt_timeout: timeout,
            connect_timeout: Duration::from_secs(1),
            ..ClientConfig::default()
        })
        .expect("client");
        let t0 = Instant::now();
        let result = client.chat(&request(kind.stream)).await;
        let took = t0.elapsed();
        let class = match &result {
            Ok(_) => "ok".to_string(),
            Err(e) => e.class.as_str().to_string(),
        };
        seen.push(format!("{}: {class} in {took:?}", kind.name));
        if took > timeout + Duration::from_secs(2) {
            failures.push(format!("{} took {took:?}", kind.name));
        }
        match (kind.expect, &result) {
            (Expect::Ok, Err(e)) => {
                failures.push(format!("{}: expected a reply, got {e:?}", kind.name))
            }
            (Expect::Err, Ok(r)) => {
                failures.push(format!("{}: expected an error, got {r:?}", kind.name))
            }
            _ => {}
        }
        assert_eq!(
            server.requests(),
            1,
            "{}: one request sent, one counted",
            kind.name
        );
        server.stop();
    }
    eprintln!("{}", seen.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A bounded `bench run` against replies drawn from every kind by a fixed seed: it ends on
/// its own (exit 0, 1, or 3 if the grace period cut a call; never a panic's 101 or a signal) within duration + timeout + grace,
/// in bounded memory, and its attempt count equals the requests the server counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_against_the_hostile_server_reconciles_and_ends_in_time() {
    let server = Hostile::start(None, 42).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = dir.path().join("hostile.toml");
    std::fs::write(
        &scenario,
        format!(
            r#"
name = "hostile"
seed = 42
duration = "4s"
grace = "1s"

[endpoint]
kind = "http"
base_url = "{}"
timeout = "1s"
call_deadline = "3s"

[load]
users = 8
think_time = "0s..20ms"

[agent]
model = "gpt-4.1"
protocol = "text"
stream = true
max_tokens = 64
retry = {{ max_retries = 1, base_delay = "10ms", max_delay = "50ms", max_server_wait = "1s" }}
breaker = {{ failure_threshold = 1000 }}
sessions = {{ rate_limit = "100000/s" }}

[[workload]]
prompts = ["What is 2 + 2?"]

[limits]
spend_cap_usd = 100.0

[report]
plots = false
html = false
"#,
            server.base_url()
        ),
    )
    .expect("scenario written");
    let out = dir.path().join("report");
    let t0 = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["run", scenario.to_str().expect("utf-8"), "--quiet", "--out"])
        .arg(&out)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bench starts");
    let pid = child.id();
    let mut peak_kb = 0u64;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "bench run did not end"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = t0.elapsed();
    let output = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    // 0 or 1, or 3 when a conversation was still in flight at the end of the grace period and
    // was cut (its attempts still recorded): never a panic's 101 or a signal.
    assert!(
        matches!(status.code(), Some(0 | 1 | 3)),
        "exit {status:?}\n{stderr}"
    );
    // The process as a whole, start-up and report included, on a loaded debug test machine.
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(peak_kb < 600 * 1024, "peak RSS {peak_kb} kB");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("summary.json")).expect("summary written"),
    )
    .expect("summary JSON");
    assert_eq!(
        summary["run"]["interrupted"].as_bool(),
        Some(status.code() == Some(3)),
        "exit 3 exactly when the run was cut"
    );
    // Give requests still being read by the server a moment to be counted.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The run itself: 4 s of load, then at most the grace period (1 s) and what one attempt
    // timeout (1 s) lets a call overrun it, with slack for scheduling.
    let run_s = summary["run"]["duration_s"].as_f64().expect("duration");
    assert!(run_s < 4.0 + 1.0 + 1.0 + 0.5, "the run lasted {run_s} s");
    let attempts = summary["attempt"]["count"].as_u64().expect("attempt count");
    eprintln!(
        "hostile run: {attempts} attempts, server counted {}, run {run_s:.2} s ({took:?} with \
         start-up), peak RSS {} MB, classes {}",
        server.requests(),
        peak_kb / 1024,
        summary["attempt"]["by_error_class"]
    );
    assert!(attempts > 20, "the run sent requests: {attempts}");
    assert_eq!(
        attempts,
        server.requests(),
        "every attempt sent is recorded"
    );
    server.stop();
}
