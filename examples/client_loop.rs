//! The HTTP client alone, without the agent stack: `concurrency` tasks each call
//! `LlmClient::chat` back to back with the request a native-protocol `bench run` sends first
//! (system prompt, one user prompt, the three default tools), for `seconds`.
//!
//!   cargo run --release --example client_loop -- BASE_URL [concurrency=32] [seconds=10] [stream]
//!
//! Prints `calls N errors E seconds S calls_per_second R`. `scripts/bench-peers.sh` runs it
//! under GNU time beside `bench run` and oha on the same mock-server, which splits the harness's
//! CPU per call into the HTTP exchange (this loop) and the agent stack (the rest).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use reactbench::agent::tools::{ToolBox, ToolsConfig};
use reactbench::chat::{ChatMessage, ChatRequest, MaxTokensField, Role};
use reactbench::client::{ClientConfig, LlmClient};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let base_url = args
        .next()
        .context("usage: client_loop BASE_URL [concurrency] [seconds] [stream]")?;
    let concurrency: usize = match args.next() {
        Some(c) => c.parse().context("concurrency is a number of tasks")?,
        None => 32,
    };
    let seconds: u64 = match args.next() {
        Some(s) => s.parse().context("seconds is a whole number")?,
        None => 10,
    };
    let stream = args.next().as_deref() == Some("stream");

    let tools = ToolBox::new(&ToolsConfig::default()).map_err(anyhow::Error::msg)?;
    let request = Arc::new(ChatRequest {
        model: "gpt-4.1".to_string(),
        messages: vec![
            ChatMessage::text(
                Role::System,
                "You are a helpful assistant. Use the tools when they help, then answer the user.",
            ),
            ChatMessage::text(
                Role::User,
                "My order 1042 was 3 items at 249000 VND each plus 30000 shipping. What did I pay \
                 in total, and can I still return one item?",
            ),
        ],
        max_tokens: Some(512),
        max_tokens_field: MaxTokensField::MaxTokens,
        tools: Arc::from(tools.spec()),
        stream,
        stop: Default::default(),
    });
    let client = LlmClient::new(&ClientConfig {
        base_url,
        ..ClientConfig::default()
    })?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let calls = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    runtime.block_on(async {
        let end = tokio::time::Instant::now() + Duration::from_secs(seconds);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..concurrency.max(1) {
            let (client, request) = (client.clone(), Arc::clone(&request));
            let (calls, errors) = (Arc::clone(&calls), Arc::clone(&errors));
            tasks.spawn(async move {
                while tokio::time::Instant::now() < end {
                    if client.chat(&request).await.is_err() {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    });
    let elapsed = start.elapsed().as_secs_f64();
    let n = calls.load(Ordering::Relaxed);
    println!(
        "calls {n} errors {} seconds {elapsed:.3} calls_per_second {:.1}",
        errors.load(Ordering::Relaxed),
        n as f64 / elapsed
    );
    Ok(())
}
