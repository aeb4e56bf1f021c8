//! Hot paths of every call that the other benches do not cover: HDR histogram recording (the
//! recorder does several per call, one per token gap when streaming), SSE parsing (every byte
//! of a streamed reply goes through `SseParser`, every event through the chunk parser), reply
//! parsing (every non-streamed call), and ReAct reply parsing (every text-protocol step).
//! Sanitizer, tokenizer and aggregator have their own benches.
//!
//! Run with `cargo bench --bench hot_paths -- --warm-up-time 1 --measurement-time 3`.
//! Plots are off: they need system fonts that build machines may lack.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reactbench::agent::react::parse_reply;
use reactbench::chat::{ChatMessage, ChatRequest, MaxTokensField, Role};
use reactbench::client::{SseParser, parse_completion, parse_stream};
use reactbench::metrics::{new_histogram, record};

/// A streamed 40-token reply as the mock and OpenAI send it: a role chunk, one chunk per
/// token, a finish chunk, a usage chunk and `[DONE]`.
fn sse_body() -> Vec<u8> {
    let mut s = String::new();
    let head = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1764300000,"model":"gpt-4.1","choices":["#;
    s.push_str(&format!(
        "data: {head}{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\"\"}},\"finish_reason\":null}}]}}\n\n"
    ));
    for i in 0..40 {
        s.push_str(&format!(
            "data: {head}{{\"index\":0,\"delta\":{{\"content\":\" word{i}\"}},\"finish_reason\":null}}]}}\n\n"
        ));
    }
    s.push_str(&format!(
        "data: {head}{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\n"
    ));
    s.push_str(r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1764300000,"model":"gpt-4.1","choices":[],"usage":{"prompt_tokens":120,"completion_tokens":40,"total_tokens":160}}"#);
    s.push_str("\n\ndata: [DONE]\n\n");
    s.into_bytes()
}

/// A non-streamed reply as mock-server sends it (611 bytes, 40 completion tokens).
const COMPLETION: &str = r#"{"id":"chatcmpl-9ad870b57940a53f00000000","object":"chat.completion","created":1796152610,"model":"gpt-4.1","choices":[{"index":0,"message":{"role":"assistant","content":"Here is is from answer this which use question it shows this value simple user our total first from user then answer first is will answer of final question information at and result user is is final which this.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":66,"completion_tokens":40,"total_tokens":106,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}},"system_fingerprint":null}"#;

fn request(stream: bool) -> ChatRequest {
    ChatRequest {
        model: "gpt-4.1".to_string(),
        messages: vec![ChatMessage::text(Role::User, "What did I pay in total?")],
        max_tokens: Some(512),
        max_tokens_field: MaxTokensField::MaxTokens,
        tools: Vec::new().into(),
        stream,
        stop: Default::default(),
    }
}

const REACT_REPLY: &str = "Thought: The user paid for 3 items plus shipping; I should compute \
the total before answering the return question.\nAction: calculator\nAction Input: 3 * 249000 + \
30000\nObservation: 777000\nThought: I now know the final answer\nFinal Answer: 777000 VND.";

const REACT_FINAL: &str = "Thought: I now know the final answer.\n**Final Answer:** You paid \
777,000 VND in total, and items can be returned within 30 days of delivery.";

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("record_1000_latencies", |b| {
        let mut h = new_histogram();
        // Microsecond latencies from 0.5 ms to about 30 s, spread over many buckets.
        let values: Vec<u64> = (0..1000u64).map(|i| 500 + i * i * 29).collect();
        b.iter(|| {
            for &v in &values {
                record(&mut h, black_box(v));
            }
        });
    });
    g.finish();

    let body = sse_body();
    let mut g = c.benchmark_group("sse");
    g.throughput(Throughput::Bytes(body.len() as u64));
    for chunk in [64usize, 1460, body.len()] {
        g.bench_function(
            format!("parse_40_token_stream_in_{chunk}_byte_reads"),
            |b| {
                b.iter(|| {
                    let mut p = SseParser::default();
                    let mut events = 0usize;
                    for piece in body.chunks(chunk) {
                        p.feed(piece);
                        while let Ok(Some(ev)) = p.next_event_ref() {
                            events += ev.data.len();
                        }
                    }
                    if let Ok(Some(ev)) = p.finish() {
                        events += ev.data.len();
                    }
                    black_box(events)
                });
            },
        );
    }
    g.finish();

    let mut g = c.benchmark_group("reply");
    g.throughput(Throughput::Elements(1));
    let plain = request(false);
    g.bench_function("parse_completion_611_bytes", |b| {
        b.iter(|| {
            black_box(parse_completion(
                black_box(COMPLETION.as_bytes()),
                &plain,
                200,
            ))
            .is_ok()
        });
    });
    let streamed = request(true);
    g.bench_function("parse_40_token_stream_events_and_chunks", |b| {
        b.iter(|| black_box(parse_stream(black_box(&body), &streamed, 200)).is_ok());
    });
    g.finish();

    let mut g = c.benchmark_group("react");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_action_step", |b| {
        b.iter(|| black_box(parse_reply(black_box(REACT_REPLY)).is_ok()));
    });
    g.bench_function("parse_final_answer", |b| {
        b.iter(|| black_box(parse_reply(black_box(REACT_FINAL)).is_ok()));
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
