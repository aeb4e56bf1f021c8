//! `bench run`: the main job, as a short pipeline. Loads and validates the scenario (nothing is
//! sent before it is valid), then, each step in its own file:
//!
//! 1. `endpoint.rs`: starts the embedded mock server when the endpoint is `mock`, and builds
//!    the client;
//! 2. `agent.rs`: builds the one agent every virtual user shares;
//! 3. `observe.rs` and `recorder.rs`: the live exporter (`--metrics-addr`); the report
//!    directory and the recorder, the one owner of the run's results; the scraper of the
//!    server's own metrics (`metrics_url`);
//! 4. `driver.rs` and `signals.rs`: the per-conversation driver the runner calls, and Ctrl-C;
//!    the runner (`crate::runner`) then drives the load model;
//! 5. `finish.rs`: closes the figures, writes the report, evaluates the gates, picks the exit
//!    code.
//!
//! Shutdown is by structure: the deadline, Ctrl-C, a lost `abort_on_fail` threshold or the
//! spend cap all resolve one `shutdown` future; the runner then stops starting conversations,
//! gives those in flight the grace period, and returns; its driver (which holds every sender of
//! the record channel) is dropped, so the recorder task sees the channel close and finishes.

mod agent;
mod driver;
mod endpoint;
mod finish;
mod observe;
mod recorder;
mod shard;
mod signals;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Notify;

use crate::cli::RunArgs;
use crate::pricing::PriceTable;
use crate::runner;
use crate::scenario::{self, Plan};

pub use finish::RunOutcome;
pub use shard::StoppedBeforeStart;

/// Runs `bench run`.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut plan = scenario::load(&args.scenario)?;
    let overrides = args.overrides();
    scenario::apply_overrides(&mut plan, &overrides)?;
    if let Some(shard) = args.shard()? {
        let bytes = std::fs::read(&args.scenario)
            .with_context(|| format!("cannot read {}", args.scenario.display()))?;
        let digest = scenario::scenario_digest(&bytes, &plan, &overrides.plan_flags());
        scenario::apply_shard(&mut plan, shard, digest);
    }
    if let Some(at) = args.start_at {
        shard::check_start_at(at)?;
    }
    let prices = scenario::price_table(&plan)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = runtime.block_on(run_plan(&plan, prices, &args))?;
    Ok(ExitCode::from(outcome.exit_code))
}

/// Runs a validated plan to its end and writes its report. Library entry point for tests.
pub async fn run_plan(
    plan: &Plan,
    prices: PriceTable,
    args: &RunArgs,
) -> anyhow::Result<RunOutcome> {
    let target = endpoint::connect(plan).await?;
    let mock_addr = target.mock.as_ref().map(|m| m.addr());
    let agent = agent::build(plan, &prices, target.client, mock_addr)?;
    let exporter = observe::start_exporter(args.metrics_addr, plan, &agent).await?;
    // The report directory exists only once the plan is known to be runnable.
    let dir = recorder::prepare_dir(plan)?;
    if let Some(at) = args.start_at
        && let Err(e) = shard::wait_for_start(at, args.quiet).await
    {
        // Only an empty directory goes: nothing was sent.
        let _ = std::fs::remove_dir(&dir);
        return Err(e);
    }
    let stop = Arc::new(Notify::new());
    let (recording, records) = recorder::start(
        plan,
        dir,
        &prices,
        args.quiet,
        Arc::clone(&stop),
        exporter.as_ref().map(|e| e.publisher()),
    )?;
    let scraper = observe::start_scraper(plan, mock_addr, recording.run_start()).await;
    let overflow = driver::Overflow::default();
    let driver = driver::make_driver(
        Arc::clone(&agent),
        records,
        recording.live(),
        Arc::clone(&stop),
        Arc::clone(&overflow),
    );
    let stops = signals::listen(stop);
    let load = runner::run_load(
        &plan.load,
        &plan.workload,
        plan.seed,
        driver,
        stops.shutdown,
        stops.cut,
    )
    .await;
    stops.listener.abort();
    let recorded = recording.finish(driver::take_overflow(&overflow)).await?;
    let server = match scraper {
        Some(s) => s.finish().await,
        None => None,
    };
    if let Some(e) = exporter {
        e.close(args.metrics_hold).await;
    }
    let mock_stats = endpoint::shut_down(target.mock).await;
    let figures = finish::EndpointFigures { mock_stats, server };
    finish::finish(plan, &prices, args, &agent, &load, recorded, figures)
}
