//! The end of a run: the run's closing figures, the report files (summary, trace, the mock's
//! counters, plots and page, JUnit), the gates, what the terminal is told, and the exit code.
//!
//! From the first file on, a file that cannot be written (full disk ...) stops neither the
//! other files nor the summary on stdout: the errors are told at the end, and the run exits 2.

use std::path::{Path, PathBuf};

use anyhow::Context;
use tokio::time::Instant;

use super::recorder::Recorded;
use crate::agent::conversation::Agent;
use crate::cli::RunArgs;
use crate::cli::{EXIT_ERROR, EXIT_FAILED_GATE, EXIT_INTERRUPTED, EXIT_OK};
use crate::metrics::{BreakerTransition, LoadReport, RunEnd, RunMetrics};
use crate::observe::ServerMetrics;
use crate::pricing::PriceTable;
use crate::report::gates::{self, LoadHealthLimits};
use crate::report::summary::Summary;
use crate::report::visuals::PriceChoice;
use crate::report::{self, terminal};
use crate::runner;
use crate::scenario::{Endpoint, LoadShape, Plan};

/// What a finished run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The report directory.
    pub dir: PathBuf,
    /// The final summary (thresholds included).
    pub summary: Summary,
    /// With a warm-up window: the summary of the conversations started after it.
    pub gated_summary: Option<Summary>,
    /// The metrics the thresholds read: the conversations started after the warm-up window
    /// when there is one, else the whole run's (a sweep pools a step's repeats from them).
    pub judged: RunMetrics,
    /// The mock server's ground truth, when the endpoint was the embedded mock.
    pub mock_stats: Option<mock_server::StatsSnapshot>,
    /// 0 when every threshold passed, 1 when one failed, 2 when a session panicked, 3 when
    /// the run was interrupted (stopped early or cut conversations) and no threshold failed.
    pub exit_code: u8,
}

/// What the endpoint's side counted: the embedded mock's ground truth, the scraped metrics.
pub(super) struct EndpointFigures {
    /// `/mock/stats` of the embedded mock.
    pub(super) mock_stats: Option<mock_server::StatsSnapshot>,
    /// What the scrapes of `endpoint.metrics_url` found.
    pub(super) server: Option<ServerMetrics>,
}

/// Closes the run's figures, writes every report file, evaluates the gates and tells the
/// terminal; `load` is what the runner did, `endpoint` what the endpoint's side counted.
pub(super) fn finish(
    plan: &Plan,
    prices: &PriceTable,
    args: &RunArgs,
    agent: &Agent,
    load: &runner::LoadReport,
    recorded: Recorded,
    endpoint: EndpointFigures,
) -> anyhow::Result<RunOutcome> {
    let EndpointFigures { mock_stats, server } = endpoint;
    let Recorded {
        dir,
        recorder,
        gated,
        abort_reason,
    } = recorded;
    let end = run_end(plan, agent, load);
    let gated_metrics = gated.map(|g| g.finish(end.clone()));
    let mut gated_summary = gated_metrics.as_ref().map(Summary::from_metrics);
    let (metrics, mut summary, mut write_errors) = recorder.finish_keeping(end);
    summary.shard = super::shard::section(plan, metrics.info.started_at, args.start_at);
    if let Some(m) = &server {
        // The server's figures cover the whole run, warm-up included: gates read them as they
        // are.
        summary.add_server(m);
        if let Some(g) = gated_summary.as_mut() {
            g.add_server(m);
        }
        report::csv::write_server_metrics(&dir, m).unwrap_or_else(|e| write_errors.push(e));
    }
    write_run_files(plan, &dir, load, mock_stats.as_ref(), &mut write_errors)?;

    // Gates: evaluated on the post-warm-up figures when there is a warm-up window.
    let results = gates::evaluate(
        &plan.gates.thresholds,
        gated_summary.as_ref().unwrap_or(&summary),
    );
    let no_success = gates::no_success(&summary).filter(|_| !plan.limits.expect_no_success);
    // A shard of several is a slice of the run: its thresholds are shown, but `bench merge`
    // judges the run (p99 of one shard is not the run's p99).
    let slice = plan.sharding.as_ref().is_some_and(|s| !s.shard.is_whole());
    let passed = slice || (gates::all_passed(&results) && no_success.is_none());
    summary.thresholds = results;
    write_report_files(
        plan,
        prices,
        args,
        &dir,
        (&metrics, server.as_ref()),
        &summary,
        &mut write_errors,
    );

    super::shard::write_state(
        &dir,
        plan,
        prices,
        &summary,
        &metrics,
        gated_metrics.as_ref(),
    )
    .unwrap_or_else(|e| write_errors.push(e));
    if slice {
        eprintln!(
            "shard {}: thresholds are judged on the merged run (`bench merge OUT DIR...`), not on one shard",
            summary
                .shard
                .as_ref()
                .map(|s| format!("{}/{}", s.index, s.count))
                .unwrap_or_default()
        );
    }
    tell(
        (&summary, !args.embedded),
        load,
        no_success.as_deref(),
        abort_reason.as_deref(),
        passed,
    );
    eprintln!("report: {}", dir.display());
    fail_on_write_errors(&dir, &write_errors)?;
    Ok(RunOutcome {
        dir,
        summary,
        gated_summary,
        judged: gated_metrics.unwrap_or(metrics),
        mock_stats,
        exit_code: exit_code(load, passed),
    })
}

/// The run's closing figures: when it ended, breaker transitions, the load model's counts,
/// the session store's evictions and rate-limit refusals.
fn run_end(plan: &Plan, agent: &Agent, load: &runner::LoadReport) -> RunEnd {
    let sessions = agent.sessions().stats();
    RunEnd {
        ended: Instant::now(),
        interrupted: load.interrupted,
        breaker_transitions: agent
            .breakers()
            .transitions()
            .into_iter()
            .chain(
                agent
                    .guard()
                    .map(|g| g.breaker().transitions())
                    .unwrap_or_default(),
            )
            .map(|t| BreakerTransition {
                key: t.model.to_string(),
                from: t.from.as_str().to_string(),
                to: t.to.as_str().to_string(),
                at: t.at,
            })
            .collect(),
        load: LoadReport {
            dropped_arrivals: load.dropped_arrivals,
            intended_starts: load.started + load.dropped_arrivals,
            scheduler_lag_us: matches!(plan.load.shape, LoadShape::Open(_))
                .then(|| load.scheduler_lag_us.clone()),
        },
        session_evictions: sessions.evicted_capacity
            + sessions.evicted_ttl
            + sessions.evicted_user_cap,
        local_rate_limit_rejections: sessions.rate_limited,
    }
}

/// The run's own trace and the mock's counters, next to the summary.
fn write_run_files(
    plan: &Plan,
    dir: &Path,
    load: &runner::LoadReport,
    mock_stats: Option<&mock_server::StatsSnapshot>,
    write_errors: &mut Vec<anyhow::Error>,
) -> anyhow::Result<()> {
    if plan.load.keep_trace {
        runner::write_trace(&dir.join("trace.jsonl"), &load.trace)
            .with_context(|| format!("cannot write {}", dir.join("trace.jsonl").display()))
            .unwrap_or_else(|e| write_errors.push(e));
    }
    if let Some(stats) = mock_stats {
        let json = serde_json::to_string_pretty(stats)? + "\n";
        report::atomic::write_bytes(dir.join("mock_stats.json"), json.as_bytes())
            .unwrap_or_else(|e| write_errors.push(e));
    }

    Ok(())
}

/// The summary files (replacing the checkpoint), the plots and page, and the JUnit file.
fn write_report_files(
    plan: &Plan,
    prices: &PriceTable,
    args: &RunArgs,
    dir: &Path,
    (metrics, server): (&RunMetrics, Option<&ServerMetrics>),
    summary: &Summary,
    write_errors: &mut Vec<anyhow::Error>,
) {
    report::write_summary_files(dir, summary).unwrap_or_else(|e| write_errors.push(e));
    // The final summary replaces the checkpoint.
    match std::fs::remove_file(dir.join(report::PARTIAL_SUMMARY)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            eprintln!(
                "warning: cannot remove {}: {e}",
                dir.join(report::PARTIAL_SUMMARY).display()
            );
        }
        _ => {}
    }
    if (plan.report.plots || plan.report.html)
        && let Err(e) = report::visuals::write_run_report(
            dir,
            metrics,
            summary,
            prices,
            &PriceChoice::from(&plan.prices),
            &settings(plan),
            server,
        )
    {
        write_errors.push(e.context("cannot write the plots and index.html"));
    }
    if let Some(path) = &args.junit {
        gates::write_junit(path, &summary.thresholds, &plan.name)
            .unwrap_or_else(|e| write_errors.push(e));
    }
}

/// The summary table and gates on stdout; warnings, failures and interruptions on stderr.
fn tell(
    (summary, table): (&Summary, bool),
    load: &runner::LoadReport,
    no_success: Option<&str>,
    abort_reason: Option<&str>,
    passed: bool,
) {
    if table {
        print!(
            "{}",
            terminal::render_table(summary, terminal::stdout_color())
        );
    }
    if table && !summary.thresholds.is_empty() {
        print!(
            "{}",
            gates::render_terminal(&summary.thresholds, terminal::stdout_color())
        );
    }
    for w in terminal::warnings(summary)
        .into_iter()
        .chain(gates::load_health_warnings(
            summary,
            &LoadHealthLimits::default(),
        ))
    {
        eprintln!("warning: {w}");
    }
    if load.panicked > 0 {
        eprintln!(
            "error: {} virtual-user sessions panicked and stopped early (a bug in reactbench: please report it with the messages above); the figures cover the rest",
            load.panicked
        );
    }
    if let Some(why) = no_success {
        eprintln!("failed: {why}");
    }
    if let Some(reason) = abort_reason {
        eprintln!("aborted: {reason}");
    }
    if load.cut > 0 {
        eprintln!(
            "warning: {} conversations were still in flight when the run stopped (grace period over, or a second Ctrl-C); they are reported with outcome `interrupted`, their cut attempts with error `interrupted`; raise `grace` to let them finish",
            load.cut
        );
    }
    if load.interrupted && passed && load.panicked == 0 {
        eprintln!(
            "interrupted: the run stopped early or cut conversations; its figures are incomplete (exit {EXIT_INTERRUPTED})"
        );
    }
}

/// Fails the run (exit 2) when a report file could not be written, naming every one; the
/// summary on stdout and every other file are complete.
fn fail_on_write_errors(dir: &Path, write_errors: &[anyhow::Error]) -> anyhow::Result<()> {
    if let Some(first) = write_errors.first() {
        for e in &write_errors[1..] {
            eprintln!("error: {e:#}");
        }
        // Only these files are missing: the summary above and every other file are complete.
        anyhow::bail!(
            "{first:#}; {} report file(s) could not be written (the summary above is complete, and so is every other file in {})",
            write_errors.len(),
            dir.display()
        );
    }
    Ok(())
}

/// 0 when every threshold passed, 1 when one failed, 2 when a session panicked, 3 when the run
/// was interrupted and no threshold failed.
fn exit_code(load: &runner::LoadReport, passed: bool) -> u8 {
    // A panicked session is a harness bug: the figures are incomplete, so the run errs.
    if load.panicked > 0 {
        EXIT_ERROR
    } else if !passed {
        EXIT_FAILED_GATE
    } else if load.interrupted {
        EXIT_INTERRUPTED
    } else {
        EXIT_OK
    }
}

/// The run's settings as shown on the HTML page (never a key: only the variable's name).
fn settings(plan: &Plan) -> Vec<(String, String)> {
    let a = &plan.agent;
    let mut out = vec![
        (
            "scenario file".to_string(),
            plan.source.display().to_string(),
        ),
        (
            "endpoint".to_string(),
            match &plan.endpoint.target {
                Endpoint::Mock { .. } => "embedded mock server".to_string(),
                Endpoint::Http {
                    base_url,
                    api_key_env,
                    ..
                } => format!(
                    "{} (key from ${})",
                    crate::client::redact_url(base_url),
                    api_key_env.as_deref().unwrap_or("-")
                ),
            },
        ),
        ("model".to_string(), a.model.clone()),
        ("fallback".to_string(), a.fallback.join(", ")),
        (
            "protocol".to_string(),
            format!(
                "{:?}{}",
                a.protocol,
                if a.stream { ", streaming" } else { "" }
            )
            .to_lowercase(),
        ),
        (
            "budget".to_string(),
            format!(
                "{} tokens, {} steps, warning at {}",
                a.budget.max_tokens, a.budget.max_steps, a.budget.warning_threshold
            ),
        ),
        (
            "retry".to_string(),
            format!(
                "{} retries, {} from {} to {}",
                a.retry.max_retries,
                format!("{:?}", a.retry.strategy).to_lowercase(),
                a.retry.base_delay,
                a.retry.max_delay
            ),
        ),
        (
            "breaker".to_string(),
            format!(
                "{} failures, {} recovery, {} half-open probes",
                a.breaker.failure_threshold,
                a.breaker.recovery_timeout,
                a.breaker.half_open_max_calls
            ),
        ),
    ];
    if let Some(cap) = plan.limits.spend_cap_usd {
        out.push(("spend cap".to_string(), format!("${cap}")));
    }
    out
}
