//! reactbench: load-testing and cost-benchmarking for LLM ReAct agents.
//!
//! `bench run scenario.toml` replays a concurrent multi-user ReAct workload against an
//! OpenAI-compatible endpoint (an embedded mock server by default) through the full agent stack
//! a production agent runs, and reports latency, failures, tokens and dollars.
//!
//! # Layout
//! - [`cli`]: command-line types; [`run()`] dispatches them; [`mod@run`] is `bench run`.
//! - [`units`]: human durations, ranges and rates used by scenario files.
//! - [`chat`]: wire-independent chat types; [`client`] speaks OpenAI's HTTP API with them.
//! - [`tokens`]: real tokenizers (tiktoken) by model family.
//! - [`agent`]: the agent stack: ReAct loop, budget, sessions, sanitizer, retry, breaker,
//!   fallback, simulated tools.
//! - [`record`]: what a conversation and each of its calls leave behind (outcomes, error
//!   classes), read by the client, the agent, metrics and reports.
//! - [`scenario`]: TOML scenario file to validated plan; [`runner`]: load models and virtual
//!   users; [`metrics`]: histograms and counters to a summary.
//! - [`pricing`]: price tables and what-if costs; [`report`]: files and terminal output.

pub mod agent;
pub mod chat;
pub mod cli;
pub mod client;
pub mod compare_cmd;
pub mod merge_cmd;
pub mod metrics;
pub mod observe;
pub mod prices_cmd;
pub mod pricing;
pub mod record;
pub mod report;
pub mod report_cmd;
pub mod run;
pub mod runner;
pub mod sanitize_cmd;
pub mod scenario;
pub mod sweep_cmd;
pub mod tokens;
pub mod units;

use std::process::ExitCode;

use cli::{Cli, Command};

pub use cli::{EXIT_ERROR, EXIT_FAILED_GATE, EXIT_INTERRUPTED, EXIT_OK};

/// Runs one command line. Errors are usage, configuration or I/O errors (exit 2); a run whose
/// gates fail returns `Ok` with exit code 1.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => match run::run(args) {
            Err(e) if e.is::<run::StoppedBeforeStart>() => {
                eprintln!("interrupted: {e}");
                Ok(ExitCode::from(EXIT_INTERRUPTED))
            }
            other => other,
        },
        Command::Prices(args) => prices_cmd::run(args),
        Command::Sanitize(args) => sanitize_cmd::run(args),
        Command::Compare(args) => compare_cmd::run(args),
        Command::Validate(args) => {
            let plan = scenario::check_file(&args.scenario)?;
            print!("{}", plan.summary());
            Ok(ExitCode::from(EXIT_OK))
        }
        Command::Report(args) => report_cmd::run(args),
        Command::Merge(args) => merge_cmd::run(args),
        Command::Sweep(args) => sweep_cmd::run(args),
    }
}
