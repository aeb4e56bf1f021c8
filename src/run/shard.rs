//! Sharded runs: the common start (`--start-at`), and what a shard's report adds: the
//! `shard` section of its summary and `shard_state.json` for `bench merge`.

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::metrics::RunMetrics;
use crate::pricing::PriceTable;
use crate::report::shard_file::ShardFile;
use crate::report::summary::{ShardSection, Summary, rfc3339_utc_millis};
use crate::scenario::Plan;

/// How far in the past `--start-at` may be before it is an error rather than a start now: a
/// pod scheduled a moment late still joins the test; one minutes late would skew it.
pub(super) const START_TOLERANCE: Duration = Duration::from_secs(5);

/// The run was stopped (Ctrl-C, SIGTERM) while it waited for `--start-at`: nothing was sent
/// and no report written (exit 3).
#[derive(Debug, thiserror::Error)]
#[error("stopped while waiting for the common start (--start-at); nothing was sent")]
pub struct StoppedBeforeStart;

/// Refuses a start time more than [`START_TOLERANCE`] in the past.
pub(super) fn check_start_at(at: SystemTime) -> anyhow::Result<()> {
    if let Ok(late) = SystemTime::now().duration_since(at)
        && late > START_TOLERANCE
    {
        anyhow::bail!(
            "--start-at {} is {:.1} s in the past (more than {} s); give a time in the future, \
             leaving room for every shard to be scheduled, such as \
             $(date -u -d '+2 min' +%Y-%m-%dT%H:%M:%SZ)",
            rfc3339_utc_millis(at),
            late.as_secs_f64(),
            START_TOLERANCE.as_secs()
        );
    }
    Ok(())
}

/// Waits until `at`, showing the countdown on stderr (a line a second on a terminal, else one
/// line now), and returns at that instant. Ctrl-C or SIGTERM ends the wait with
/// [`StoppedBeforeStart`].
pub(super) async fn wait_for_start(at: SystemTime, quiet: bool) -> anyhow::Result<()> {
    check_start_at(at)?;
    let terminal = std::io::stderr().is_terminal() && !quiet;
    let when = rfc3339_utc_millis(at);
    if !quiet && !terminal {
        let left = at.duration_since(SystemTime::now()).unwrap_or_default();
        eprintln!(
            "waiting {:.1} s for the common start at {when}",
            left.as_secs_f64()
        );
    }
    let stopped = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                },
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    };
    let countdown = async {
        // Re-read the wall clock every time: the planned start is a wall-clock instant.
        while let Ok(left) = at.duration_since(SystemTime::now()) {
            if terminal {
                eprint!("\rstarting at {when} in {:>5.1} s ", left.as_secs_f64());
                let _ = std::io::stderr().flush();
            }
            // Wake when the seconds left reach a whole number (the line counts down by one),
            // and at the start itself.
            let step = match left > Duration::from_secs(1) {
                true => left.saturating_sub(Duration::from_secs(
                    (left.as_secs_f64().ceil() as u64).saturating_sub(1),
                )),
                false => left,
            };
            tokio::time::sleep(step).await;
        }
        if terminal {
            eprintln!("\rstarting now ({when}){:20}", "");
        }
    };
    tokio::select! {
        () = countdown => Ok(()),
        () = stopped => {
            if terminal {
                eprintln!();
            }
            Err(StoppedBeforeStart.into())
        }
    }
}

/// The `shard` section of a shard's summary: which shard of which run, its planned start and
/// how far from it the load really started.
pub(super) fn section(
    plan: &Plan,
    started_at: SystemTime,
    planned: Option<SystemTime>,
) -> Option<ShardSection> {
    let sharding = plan.sharding.as_ref()?;
    Some(ShardSection {
        index: sharding.shard.index,
        count: sharding.shard.count,
        planned_start: planned.map(rfc3339_utc_millis),
        start_offset_ms: planned.map(|p| signed_ms(started_at, p)),
        scenario_digest: sharding.digest.clone(),
        seed: plan.seed,
        bench_version: env!("CARGO_PKG_VERSION").to_string(),
        share: sharding.share.clone(),
    })
}

/// `a - b` in milliseconds, negative when `a` is earlier.
pub(super) fn signed_ms(a: SystemTime, b: SystemTime) -> f64 {
    match a.duration_since(b) {
        Ok(d) => d.as_secs_f64() * 1000.0,
        Err(e) => -e.duration().as_secs_f64() * 1000.0,
    }
}

/// Writes `shard_state.json` for `bench merge`.
pub(super) fn write_state(
    dir: &Path,
    plan: &Plan,
    prices: &PriceTable,
    summary: &Summary,
    metrics: &RunMetrics,
    gated: Option<&RunMetrics>,
) -> anyhow::Result<()> {
    let Some(shard) = summary.shard.clone() else {
        return Ok(());
    };
    ShardFile {
        version: crate::metrics::state::STATE_VERSION,
        shard,
        thresholds: plan.thresholds.clone(),
        expect_no_success: plan.limits.expect_no_success,
        plots: plan.report.plots,
        html: plan.report.html,
        prices: ShardFile::prices_of(metrics, prices),
        metrics: metrics.clone(),
        gated: gated.cloned(),
    }
    .write(dir)
}
