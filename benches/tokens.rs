//! Token-counting throughput: tokens/s and MB/s of `Tokenizer::count` on English and
//! Vietnamese text, and `count_messages` on a 10-message ReAct history (the per-call cost the
//! budget check adds).
//!
//! Run with `cargo bench --bench tokens -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reactbench::chat::{ChatMessage, Role, ToolCall};
use reactbench::tokens::Tokenizer;

const ENGLISH: &str = "The agent received a question about the quarterly revenue of the company. \
It decided to search for the latest financial report, then used the calculator to compute the \
growth rate between the two quarters, and finally wrote a short answer with the figures and a \
note about where they came from. ";

const VIETNAMESE: &str = "Tác tử nhận được một câu hỏi về doanh thu hàng quý của công ty. \
Nó quyết định tìm kiếm báo cáo tài chính mới nhất, sau đó dùng máy tính để tính tốc độ tăng \
trưởng giữa hai quý, và cuối cùng viết một câu trả lời ngắn kèm số liệu và ghi chú về nguồn. ";

/// About 8 KB of text: a realistic long prompt.
fn text(paragraph: &str) -> String {
    paragraph.repeat(8192 / paragraph.len() + 1)
}

fn history() -> Vec<ChatMessage> {
    let call = ChatMessage {
        role: Role::Assistant,
        content: None,
        tool_calls: vec![ToolCall {
            id: "call_1".into(),
            name: "search".into(),
            arguments: r#"{"query":"quarterly revenue report 2026"}"#.into(),
        }],
        tool_call_id: None,
    };
    vec![
        ChatMessage::text(
            Role::System,
            "You are a helpful ReAct agent. Use tools when needed.",
        ),
        ChatMessage::text(Role::User, "What was the revenue growth between Q2 and Q3?"),
        call.clone(),
        ChatMessage::tool_result("call_1", ENGLISH),
        ChatMessage::text(Role::Assistant, "Thought: I need the Q2 figure too."),
        call,
        ChatMessage::tool_result("call_1", VIETNAMESE),
        ChatMessage::text(Role::Assistant, "Thought: now compute the growth rate."),
        ChatMessage::tool_result("call_1", "12.5"),
        ChatMessage::text(
            Role::Assistant,
            "Final Answer: revenue grew 12.5% from Q2 to Q3.",
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let tok = Tokenizer::for_model("gpt-4.1");
    for (name, body) in [("english", text(ENGLISH)), ("vietnamese", text(VIETNAMESE))] {
        let tokens = tok.count(&body);
        let mut g = c.benchmark_group(format!("count_{name}"));
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function("bytes", |b| b.iter(|| tok.count(black_box(&body))));
        g.throughput(Throughput::Elements(tokens));
        g.bench_function("tokens", |b| b.iter(|| tok.count(black_box(&body))));
        g.finish();
    }
    let h = history();
    let mut g = c.benchmark_group("count_messages");
    g.throughput(Throughput::Elements(h.len() as u64));
    g.bench_function("10_message_history", |b| {
        b.iter(|| tok.count_messages(black_box(&h)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // No plots: criterion's plotters backend needs system fonts, which a CI box may lack.
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
