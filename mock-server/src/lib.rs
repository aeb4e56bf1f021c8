//! An OpenAI-compatible mock server for load tests: fast, deterministic for a seed, and honest
//! about what it did (`GET /mock/stats`).
//!
//! Embed it with [`serve`] (tests, `bench` with `kind = "mock"`), or run the `mock-server`
//! binary (`mock-server --port 0 --config mock.toml` prints the bound address).
//!
//! # Routes
//! - `POST /v1/chat/completions`: JSON or SSE (`stream: true`), scripted ReAct replies.
//! - `GET /v1/models`: the models named in the config. `GET /health`: `{"status":"ok"}`.
//! - `GET /mock/stats`: [`StatsSnapshot`] as JSON, the ground truth tests reconcile against.
//! - `POST /v1/moderations` (OpenAI's shape) and `POST /guard` (`{"text"}` to `{"flagged",
//!   "score"}`): a guard service for `[agent.guard]`, answering after `[guard] latency`, with
//!   500s at `error_probability`, flagging texts that hold one of `[guard] flag`.
//! - `GET /metrics`: the same counters in Prometheus' text format under vLLM's metric names,
//!   with requests running and latency histograms (see `prom.rs`).
//!
//! # Configuration (TOML; the `[mock]` table of a scenario file)
//! Every key is optional; an empty table is valid. Durations are human strings ("200ms").
//! ```toml
//! seed = 42                    # every random choice derives from it (default 0)
//! accept_any_model = true      # false: models not named below get 404 model_not_found
//! api_key = "sk-mock"          # optional: then `Authorization: Bearer sk-mock` or 401
//! max_body_bytes = 4194304     # larger request bodies get 413 (default 4 MiB)
//! header_read_timeout = "30s"   # a request head must arrive within this, idle or not
//! max_connections = 16384       # open at once; more wait unaccepted
//!
//! [models.default]             # applies to every model; defaults shown
//! ttft = "200ms"               # time to first token
//! per_token = "20ms"           # time per further output token
//! jitter = "uniform"           # none | uniform (±ratio) | normal (sd ratio) | exponential
//! jitter_ratio = 0.1           # jitter size as a fraction of each delay
//! completion_tokens = "40..=200"  # reply text length in tokens, uniform
//! context_window = 128000      # prompt + max_tokens past it: 400 context_length_exceeded
//! prompt_caching = "openai"    # off | openai (see "Prompt caching")
//! # rpm = 500                  # requests per minute (absent: unlimited)
//! # tpm = 30000                # prompt + completion tokens per minute (absent: unlimited)
//!
//! [models."gpt-4.1"]           # overrides for one model; only the keys it changes
//! ttft = "400ms"
//!
//! [script]
//! tool_steps = "0..=3"         # tool steps per turn before the final answer
//! dangerous_action_probability = 0.0  # a turn's first step proposes `dangerous_tool`
//! dangerous_tool = "delete_all"
//!
//! [faults]                     # probability per chat request; the sum must be <= 1
//! rate_limit = 0.0             # 429 rate_limit_exceeded, with retry-after and retry-after-ms
//! insufficient_quota = 0.0     # 429 insufficient_quota, no retry headers
//! server_error = 0.0           # 500
//! bad_gateway = 0.0            # 502
//! service_unavailable = 0.0    # 503
//! hang = 0.0                   # never answers (until the client gives up)
//! reset = 0.0                  # TCP reset instead of a reply
//! malformed_json = 0.0         # 200 whose body is not JSON (streams: one broken event, [DONE])
//! stream_cut = 0.0             # body stops half-way, connection dropped
//! stream_error_event = 0.0     # streams only: an {"error": ...} event half-way, no [DONE]
//! retry_after = "1s"           # what injected rate_limit 429s advertise
//!
//! [[outages]]                  # 503 for `model` ("*" = all) from `from` to `to` after start
//! model = "gpt-4.1"
//! from = "10s"
//! to = "25s"
//! ```
//! A request is checked in this order: key (401), body size (413), JSON and fields (400),
//! model (404), outage (503), injected fault, context window (400), rate limits (429), reply.
//! Faults draw from a generator seeded by `seed` and the request's arrival number, so a
//! sequential client sees the same faults and jitter every run; scripted replies depend only
//! on `seed` and the request's content.
//!
//! # The ReAct script
//! Replies are derived from the request alone; the server keeps no conversation state.
//! - **Turn**: the last `user` message whose text does not start with `Observation:`. Its text
//!   and the seed fix everything about the turn.
//! - **Steps**: the turn takes `k` tool steps, drawn in `script.tool_steps` from the seed and a
//!   hash of the turn message's text (so the same conversation and seed give the same `k`).
//!   Steps done = the `role: "tool"` messages plus the user messages starting with
//!   `Observation:` after the turn message.
//! - **Text protocol** (no `tools` in the request): the tools are listed in a system (or
//!   developer) message LangChain-style, on a line containing `one of [calculator, search,
//!   lookup]`. While done < k the reply is
//!   `Thought: I should ...\nAction: <tool>\nAction Input: <input>`; then
//!   `Final Answer: ...`. Without a tool list the turn answers at once (`Final Answer: ...` if a
//!   system message mentions "Final Answer", plain text otherwise).
//! - **Native protocol** (`tools` in the request, `tool_choice` not `"none"`): while done < k
//!   the reply has one `tool_calls` entry (`finish_reason: "tool_calls"`, content null) naming
//!   a tool from `tools`; then a plain text answer with `finish_reason: "stop"`. A
//!   `tool_choice` naming a function forces that tool; `"required"` forces at least one step.
//! - **Inputs**: `calculator` gets an arithmetic expression (integers, `+ - * /`, parentheses)
//!   that always evaluates without error, such as `(12 + 7) * 3`; as native arguments
//!   `{"expression": "..."}`. A tool whose schema is one required string property gets a
//!   short query string (as native arguments `{"<key>": "..."}`). Any other tool gets
//!   arguments drawn from its JSON schema (types, required and optional properties, enums,
//!   nested objects, arrays, bounds, formats; not `pattern` or `$ref`), valid against it, in
//!   the native protocol from `tools` and in the text protocol from the schema a tool-list
//!   line gives after `Arguments JSON schema:` (then `Action Input` is that JSON). The tool of
//!   each step is drawn from the offered tools by seed, turn and step, weighted by
//!   `script.tool_weights`.
//! - **Dangerous actions**: with `script.dangerous_action_probability` (per turn, seeded), the
//!   first step proposes `script.dangerous_tool` (not an offered tool) with input
//!   `all records`, so agents' allow-lists and refusals get exercised.
//! - **Length**: a final answer is exactly `n` tokens with `n` drawn from the model's
//!   `completion_tokens`; a text step's thought is sized from the same draw. `max_tokens` (or
//!   `max_completion_tokens`, which wins) cuts the reply to that many tokens with
//!   `finish_reason: "length"` (a cut tool call has truncated, invalid JSON arguments).
//!
//! # Tokens
//! Counted with tiktoken-rs: `cl100k_base` for gpt-4 and gpt-3.5 models, `o200k_base` for all
//! others (exact for OpenAI's current models, an estimate for other providers), the same rule
//! as the harness. Prompt tokens = 3 per message + tokens of its role and content (+ each tool
//! call's name and arguments) + 3 for reply priming. Completion tokens = tokens of the reply's
//! content, or of the tool call's name plus its arguments. Counts of message texts are cached.
//!
//! # Prompt caching
//! With `prompt_caching = "openai"`: the cacheable prefix is every message before the newest
//! turn, which starts at the last `assistant` message (where the agent's previous call ended)
//! or, with no assistant message, at the last message. If that prefix (with its per-message
//! overheads) holds at least 1,024 tokens, `prompt_tokens_details.cached_tokens` reports it
//! rounded down to a multiple of 128; otherwise 0. `off` always reports 0.
//!
//! # Latency
//! A reply of `n` tokens waits `ttft` before its first token and `per_token` between tokens,
//! each jittered independently. Streams really wait between chunks (the role chunk and the
//! first content token arrive together after `ttft`; a tool call's name after `ttft`, then one
//! argument fragment per `per_token`); non-streaming replies wait `ttft + (n-1) × per_token`
//! (jittered) and then answer. Errors and injected faults answer at once.
//!
//! # Rate limits
//! `rpm` and `tpm` are token buckets that refill continuously (limit/60 per second). A request
//! costs 1 request and its prompt plus completion tokens. Replies of limited models carry
//! `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (reset as `1s`, `6m0s`); a request
//! that does not fit gets 429 `rate_limit_exceeded` with `retry-after` (seconds, rounded up)
//! and `retry-after-ms`.

mod capacity;
pub mod config;
mod json;
pub mod latency;
pub mod limits;
mod members;
mod prom;
pub mod rng;
pub mod script;
mod server;
pub mod stats;
pub mod tokens;
pub mod validate;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{
    ConfigError, CountRange, FaultConfig, FaultKind, GuardConfig, Jitter, MockConfig, ModelConfig,
    ModelSettings, Outage, PromptCaching, ScriptConfig,
};
pub use stats::{GuardTotals, QueueSecond, QueueTotals, StatsSnapshot, TokenTotals};

/// A running mock server. Dropping it stops the server too (without waiting); prefer
/// [`MockHandle::shutdown`].
pub struct MockHandle {
    addr: SocketAddr,
    state: Arc<server::State>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for MockHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MockHandle {
    /// The bound address (an unspecified IP is shown as 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OpenAI base URL, `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The counters now (the same data as `GET /mock/stats`).
    pub fn stats(&self) -> StatsSnapshot {
        self.state.stats.snapshot()
    }

    /// Stops accepting, lets in-flight replies finish (up to 10 s; hanging requests are
    /// released at once), and returns when every connection is closed.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Serves `config` on `listener` until the handle is shut down or dropped.
pub async fn serve(listener: TcpListener, config: MockConfig) -> anyhow::Result<MockHandle> {
    config.validate()?;
    let addr = listener
        .local_addr()
        .context("mock server: cannot read the listener's address")?;
    // Load the vocabulary now, off the async threads, so the first request is not slow.
    tokio::task::spawn_blocking(|| {
        let _ = tiktoken_rs::o200k_base_singleton();
    })
    .await
    .context("mock server: loading the tokenizer failed")?;
    let (stop, stopped) = watch::channel(false);
    let state = Arc::new(server::State::new(config, stopped));
    let task = tokio::spawn(server::accept_loop(listener, state.clone()));
    Ok(MockHandle {
        addr: server::display_addr(addr),
        state,
        stop,
        task,
    })
}
