//! `mock-server`: the OpenAI-compatible mock as a standalone process.
//!
//! Prints `http://127.0.0.1:PORT/v1` on stdout once listening (so `--port 0` is usable from
//! scripts), serves until Ctrl-C, then shuts down gracefully.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use mock_server::{Jitter, MockConfig};

// The server allocates per request (parsed body, reply); mimalloc's per-thread heaps cost less
// than glibc's arenas under load. Method and figures: docs/performance.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// OpenAI-compatible mock server: scripted ReAct replies, latency model, rate limits, faults.
#[derive(Debug, Parser)]
#[command(name = "mock-server", version)]
struct Args {
    /// Port to listen on; 0 picks a free one (the address is printed on stdout).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// TOML configuration (the keys of a scenario's `[mock]` table at top level).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seed, overriding the file's.
    #[arg(long)]
    seed: Option<u64>,
    /// Zero latency and no jitter for every model (for throughput benchmarks).
    #[arg(long)]
    instant: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mock-server: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[tokio::main]
async fn run(args: Args) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => MockConfig::from_toml_file(path)?,
        None => MockConfig::default(),
    };
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if args.instant {
        config.models.entry("default".to_string()).or_default();
        for m in config.models.values_mut() {
            m.ttft = Some(Duration::ZERO);
            m.per_token = Some(Duration::ZERO);
            m.jitter = Some(Jitter::None);
        }
    }
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let handle = mock_server::serve(listener, config).await?;
    println!("{}", handle.base_url());
    std::io::stdout()
        .flush()
        .context("cannot write to stdout")?;
    eprintln!("mock-server: listening on {}; Ctrl-C stops", handle.addr());
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    eprintln!("mock-server: shutting down");
    handle.shutdown().await;
    Ok(())
}
