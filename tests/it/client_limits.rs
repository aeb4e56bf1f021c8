//! What one attempt may cost, whatever a server sends (issue 15.3): a body past
//! `max_response_bytes` is `response_too_large` (announced or found while reading, JSON or
//! stream), a slow-but-steady stream still times out on time, and a large reply without usage
//! is parsed and counted without holding the async workers past the attempt timeout. Also the
//! stream timings (issue 14.8): gaps only between chunks that carried tokens, and TTFT, gaps
//! and the attempt's latency consistent with `CallRecord::tpot`.

use std::time::{Duration, Instant};

use reactbench::record::ErrorClass;

use crate::client::request;
use crate::server_shapes::{Reply, client_for, json_response, raw_server, sse_reply};

fn completion_with(content_len: usize, usage: bool) -> String {
    let usage = if usage {
        r#","usage":{"prompt_tokens":5,"completion_tokens":9}"#
    } else {
        ""
    };
    format!(
        r#"{{"choices":[{{"message":{{"role":"assistant","content":"{}"}},"finish_reason":"stop"}}]{usage}}}"#,
        "a".repeat(content_len)
    )
}

#[tokio::test]
async fn a_body_past_the_limit_is_response_too_large_however_it_is_framed() {
    let limit = 64 * 1024;
    let big = completion_with(200 * 1024, true);
    let chunked = {
        let mut v =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
                .to_vec();
        for piece in big.as_bytes().chunks(8192) {
            v.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            v.extend_from_slice(piece);
            v.extend_from_slice(b"\r\n");
        }
        v.extend_from_slice(b"0\r\n\r\n");
        v
    };
    let token = format!(
        r#"{{"choices":[{{"delta":{{"content":"{}"}}}}]}}"#,
        "b".repeat(1000)
    );
    let events: Vec<&str> = std::iter::repeat_n(token.as_str(), 200).collect();
    for (what, reply, stream) in [
        (
            "announced by Content-Length",
            Reply::whole(json_response("200 OK", "", &big)),
            false,
        ),
        ("chunked JSON", Reply::whole(chunked.clone()), false),
        ("a stream", sse_reply(&events, Duration::ZERO), true),
        (
            "a JSON reply to a stream request",
            Reply::whole(chunked),
            true,
        ),
        (
            "an error body",
            Reply::whole(json_response("500 Internal Server Error", "", &big)),
            false,
        ),
    ] {
        let addr = raw_server(reply).await;
        let client = client_for(addr, |c| c.max_response_bytes = limit);
        let e = client
            .chat(&request("gpt-4.1", stream))
            .await
            .expect_err(what);
        let want = if what == "an error body" {
            // The status still classifies; the body is cut at the limit.
            ErrorClass::Server
        } else {
            ErrorClass::ResponseTooLarge
        };
        assert_eq!(e.class, want, "{what}: {e}");
    }
    // Under the limit, the same reply is fine.
    let addr = raw_server(Reply::whole(json_response("200 OK", "", &big))).await;
    let r = client_for(addr, |c| c.max_response_bytes = 1 << 20)
        .chat(&request("gpt-4.1", false))
        .await
        .expect("under the limit");
    assert_eq!(r.content.map(|c| c.len()), Some(200 * 1024));
}

/// A default-limit client refuses a 10 MB completion (it cost a gigabyte of memory before).
#[tokio::test]
async fn the_default_limit_refuses_a_10_mb_completion() {
    let addr = raw_server(Reply::whole(json_response(
        "200 OK",
        "",
        &completion_with(10_000_000, false),
    )))
    .await;
    let e = client_for(addr, |_| {})
        .chat(&request("gpt-4.1", false))
        .await
        .expect_err("too large");
    assert_eq!(e.class, ErrorClass::ResponseTooLarge);
}

/// A stream that sends a token every 20 ms forever: the attempt ends at its timeout, not
/// when the server stops.
#[tokio::test]
async fn a_slow_but_steady_stream_times_out_on_time() {
    let token = r#"{"choices":[{"delta":{"content":"x"}}]}"#;
    let events: Vec<&str> = std::iter::repeat_n(token, 500).collect();
    let addr = raw_server(sse_reply(&events, Duration::from_millis(20))).await;
    let client = client_for(addr, |c| c.attempt_timeout = Duration::from_millis(400));
    let started = Instant::now();
    let e = client
        .chat(&request("gpt-4.1", true))
        .await
        .expect_err("times out");
    let took = started.elapsed();
    assert_eq!(e.class, ErrorClass::Timeout);
    // Tolerant: a loaded machine may be late, but not by the stream's 10 s.
    assert!(took < Duration::from_secs(3), "{took:?}");
}

/// A 6 MB reply of one long run without spaces and no usage: counting it whole with BPE took
/// seconds on the async worker, past the attempt timeout. Now the count is bounded and runs
/// on a blocking thread: the attempt ends within (about) its timeout either way.
#[tokio::test]
async fn a_large_reply_without_usage_is_counted_within_the_attempt_timeout() {
    for (stream, timeout) in [(false, 20_000), (true, 20_000), (false, 300)] {
        let reply = if stream {
            let token = format!(
                r#"{{"choices":[{{"delta":{{"content":"{}"}}}}]}}"#,
                "a".repeat(60_000)
            );
            let mut events: Vec<String> = std::iter::repeat_n(token, 100).collect();
            events.push(r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#.into());
            events.push("[DONE]".into());
            let refs: Vec<&str> = events.iter().map(String::as_str).collect();
            sse_reply(&refs, Duration::ZERO)
        } else {
            Reply::whole(json_response(
                "200 OK",
                "",
                &completion_with(6_000_000, false),
            ))
        };
        let addr = raw_server(reply).await;
        let client = client_for(addr, |c| c.attempt_timeout = Duration::from_millis(timeout));
        let started = Instant::now();
        let got = client.chat(&request("gpt-4.1", stream)).await;
        let took = started.elapsed();
        match got {
            Ok(r) => {
                assert!(r.usage.estimated);
                assert!(r.usage.completion_tokens > 100_000, "{:?}", r.usage);
            }
            Err(e) => {
                assert_eq!(e.class, ErrorClass::Timeout, "{e}");
                assert!(timeout < 1000, "only the short timeout may fire: {e}");
            }
        }
        // Whole counting took tens of seconds in a debug build; bounded, it takes well under.
        let bound =
            Duration::from_millis(timeout).min(Duration::from_secs(15)) + Duration::from_secs(3);
        assert!(
            took < bound,
            "stream {stream}, timeout {timeout} ms: took {took:?}"
        );
    }
}

/// Issue 14.8: role-only, empty and usage-only chunks are not the ends of gaps; with tokens
/// every 30 ms, TTFT plus the gaps fills the attempt, so `tpot` is the gap.
#[tokio::test]
async fn gaps_are_between_chunks_that_carried_tokens_and_add_up_to_the_attempt() {
    let events = [
        r#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#,
        r#"{"choices":[{"delta":{"content":"a"}}]}"#,
        r#"{"choices":[{"delta":{"content":""}}]}"#,
        r#"{"choices":[{"delta":{"reasoning_content":"hm"}}]}"#,
        r#"{"choices":[{"delta":{"content":"b"}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"calc","arguments":""}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[]}}]}"#,
        r#"{"choices":[{"delta":{"content":"c"}}]}"#,
        r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":5}}"#,
        "[DONE]",
    ];
    let addr = raw_server(sse_reply(&events, Duration::from_millis(30))).await;
    let client = client_for(addr, |_| {});
    let started = Instant::now();
    let r = client.chat(&request("gpt-4.1", true)).await.unwrap();
    let latency = started.elapsed();
    // Five chunks carried tokens (a, reasoning, b, tool call, c): four gaps.
    assert_eq!(
        r.inter_chunk_gaps_us.len(),
        4,
        "{:?}",
        r.inter_chunk_gaps_us
    );
    let ttft = r.ttft.unwrap();
    // The first token came in the second chunk, not the role-only first one.
    assert!(ttft >= Duration::from_millis(55), "{ttft:?}");
    assert_eq!(r.ttft_answer, Some(ttft));
    let gaps = Duration::from_micros(r.inter_chunk_gaps_us.iter().map(|&g| u64::from(g)).sum());
    // Each gap spans at least the two 30 ms pauses between token-bearing chunks but one.
    assert!(
        gaps >= Duration::from_millis(4 * 30 + 2 * 30 - 10),
        "{gaps:?}"
    );
    let tail = latency
        .checked_sub(ttft + gaps)
        .expect("ttft and gaps lie within the attempt");
    // After the last token: finish, usage and [DONE] chunks (3 x 30 ms) and parsing.
    assert!(tail < Duration::from_millis(90 + 500), "{tail:?}");
}
