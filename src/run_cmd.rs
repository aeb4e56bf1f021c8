//! `bench run`: the main job. Loads and validates the scenario (nothing is sent before it is
//! valid), starts the embedded mock server when the endpoint is `mock`, builds the agent, drives
//! the load model, records every conversation through one owner, and writes the report.
//!
//! Shutdown is by structure: the deadline, Ctrl-C, a lost `abort_on_fail` threshold or the
//! spend cap all resolve one `shutdown` future; the runner then stops starting conversations,
//! gives those in flight the grace period, and returns; its driver (which holds every sender of
//! the record channel) is dropped, so the recorder task sees the channel close and finishes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::agent::conversation::{Agent, TurnRequest, new_record};
use crate::agent::sessions::SessionId;
use crate::agent::settings::AgentConfig;
use crate::agent::spend::SpendCap;
use crate::cli::RunArgs;
use crate::cli::{EXIT_ERROR, EXIT_FAILED_GATE, EXIT_INTERRUPTED, EXIT_OK};
use crate::client::{ClientConfig, LlmClient};
use crate::metrics::{Aggregator, BreakerTransition, LoadReport, RunEnd, RunInfo};
use crate::pricing::PriceTable;
use crate::record::{ConversationRecord, ErrorClass, Outcome};
use crate::report::gates::{self, LoadHealthLimits};
use crate::report::progress::{Progress, ProgressOptions};
use crate::report::summary::Summary;
use crate::report::visuals::PriceChoice;
use crate::report::{self, RunRecorder, terminal};
use crate::runner::{self, ConversationSpec};
use crate::scenario::{self, Endpoint, LoadShape, Plan};

/// Where runs go unless `--out` or `[report] out` says otherwise.
const REPORTS_DIR: &str = "reports";
/// How often the recorder checks `abort_on_fail` thresholds.
const ABORT_CHECK_EVERY: Duration = Duration::from_secs(1);
/// Bytes written (and removed) in the report directory before the first request: a full disk
/// is refused then, not after the whole load.
const WRITE_PROBE_BYTES: usize = 16 * 1024;
/// How often the streamed CSV rows are flushed to their files, so a run killed hard (SIGKILL,
/// out of memory) leaves them readable up to then.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How often the rows are synced to disk and `summary.partial.json` rewritten (power cuts).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(3);
/// Most records the recorder takes from its channel at once.
const RECORD_BATCH: usize = 1024;
/// The recorder's rest between batches (see `record_all`): far below what fills the channel
/// (4,096 records in 2 ms would be two million conversations a second), and invisible in a
/// progress line redrawn every few hundred milliseconds.
const RECORD_PAUSE: Duration = Duration::from_millis(2);

/// Runs `bench run`.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut plan = scenario::load(&args.scenario)?;
    scenario::apply_overrides(&mut plan, &args.overrides())?;
    let prices = scenario::price_table(&plan)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = runtime.block_on(run_plan(&plan, prices, &args))?;
    Ok(ExitCode::from(outcome.exit_code))
}

/// What a finished run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The report directory.
    pub dir: PathBuf,
    /// The final summary (thresholds included).
    pub summary: Summary,
    /// The mock server's ground truth, when the endpoint was the embedded mock.
    pub mock_stats: Option<mock_server::StatsSnapshot>,
    /// 0 when every threshold passed, 1 when one failed, 2 when a session panicked, 3 when
    /// the run was interrupted (stopped early or cut conversations) and no threshold failed.
    pub exit_code: u8,
}

/// Runs a validated plan to its end and writes its report. Library entry point for tests.
pub async fn run_plan(
    plan: &Plan,
    prices: PriceTable,
    args: &RunArgs,
) -> anyhow::Result<RunOutcome> {
    // The endpoint: the embedded mock on loopback, or the plan's URL.
    let (mock, base_url, api_key_env, headers) = match &plan.endpoint.target {
        Endpoint::Mock { config } => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .context("cannot bind the embedded mock server to 127.0.0.1")?;
            let handle = mock_server::serve(listener, (**config).clone()).await?;
            let url = handle.base_url();
            (Some(handle), url, None, Vec::new())
        }
        Endpoint::Http {
            base_url,
            api_key_env,
            headers,
        } => (
            None,
            base_url.clone(),
            api_key_env.clone(),
            headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
    };
    let client = LlmClient::new(&ClientConfig {
        base_url,
        api_key_env,
        headers,
        attempt_timeout: plan.endpoint.timeout,
        connect_timeout: plan.endpoint.connect_timeout,
        max_connections: plan.endpoint.max_connections,
        max_response_bytes: plan.endpoint.max_response_bytes,
        auth_header: plan.endpoint.auth_header.clone(),
        ..ClientConfig::default()
    })?;

    let context_window = match &plan.endpoint.target {
        // The mock plays the provider: its window is the one the requests must fit.
        Endpoint::Mock { config } => Some(config.model(&plan.agent.model).context_window),
        Endpoint::Http { .. } => prices.get(&plan.agent.model).and_then(|p| p.context_window),
    };
    let spend = plan
        .limits
        .spend_cap_usd
        .map(|usd| Arc::new(SpendCap::new(usd, prices.clone())));
    let agent = Arc::new(Agent::new(
        AgentConfig {
            context_window,
            call_deadline: plan.endpoint.call_deadline,
            ..plan.agent.clone()
        },
        client,
        spend,
        plan.seed,
    )?);

    // The report directory exists only once the plan is known to be runnable.
    let started_at = SystemTime::now();
    let dir = match &plan.report.out {
        Some(out) => {
            report::prepare_out_dir(out)?;
            out.clone()
        }
        None => report::create_run_dir(Path::new(REPORTS_DIR), &plan.name, started_at)?,
    };
    report::atomic::probe_writable(&dir, WRITE_PROBE_BYTES)?;
    let run_start = Instant::now();
    let info = RunInfo {
        name: plan.name.clone(),
        seed: plan.seed,
        started_at,
        endpoint_kind: match plan.endpoint.target {
            Endpoint::Mock { .. } => "mock".into(),
            Endpoint::Http { .. } => "http".into(),
        },
        load_model: match plan.load.shape {
            LoadShape::Closed(_) => "closed".into(),
            LoadShape::Open(_) => "open".into(),
            LoadShape::Replay(_) => "replay".into(),
        },
    };
    let recorder = RunRecorder::new(
        Aggregator::new(info.clone(), run_start, prices.clone()),
        Some(&dir),
    )?;
    // With a warm-up window, the gated figures come from a second aggregator that only sees
    // conversations started after it.
    let warm_up = plan.gates.warm_up;
    let gated = (!warm_up.is_zero()).then(|| Aggregator::new(info, run_start, prices.clone()));
    let live = recorder.live();
    let progress = Progress::spawn(live.clone(), ProgressOptions::for_stderr(args.quiet));

    let stop = Arc::new(Notify::new());
    let (tx, rx) = mpsc::channel::<ConversationRecord>(4096);
    let thresholds = plan.gates.thresholds.clone();
    let recorder_task = tokio::spawn(record_all(
        rx,
        recorder,
        gated,
        warm_up,
        run_start,
        thresholds,
        Arc::clone(&stop),
    ));

    let overflow = Overflow::default();
    let driver = make_driver(
        Arc::clone(&agent),
        tx,
        live,
        Arc::clone(&stop),
        Arc::clone(&overflow),
    );
    // Ctrl-C or SIGTERM (how CI runners and Kubernetes stop a job) once: no new
    // conversations, those in flight get the grace period. A second signal of either kind:
    // cut them now (they are reported as interrupted). Either way the report is written. One task counts the presses, so the two
    // futures below never both take the same signal.
    let first_interrupt = Arc::new(Notify::new());
    let second_interrupt = Arc::new(Notify::new());
    let signals = tokio::spawn({
        let first = Arc::clone(&first_interrupt);
        let second = Arc::clone(&second_interrupt);
        async move {
            let Some(mut signals) = StopSignals::new() else {
                return;
            };
            let Some(name) = signals.next().await else {
                return;
            };
            eprintln!(
                "\n{name}: no new conversations; letting those in flight finish (Ctrl-C again to stop now)"
            );
            first.notify_one();
            let Some(name) = signals.next().await else {
                return;
            };
            eprintln!(
                "\n{name} again: stopping now; conversations in flight are cut and reported as interrupted"
            );
            second.notify_one();
        }
    });
    let stop_signal = Arc::clone(&stop);
    let shutdown = async move {
        tokio::select! {
            _ = first_interrupt.notified() => {}
            _ = stop_signal.notified() => {}
        }
    };
    let cut = async move { second_interrupt.notified().await };
    let load = runner::run_load(&plan.load, &plan.workload, plan.seed, driver, shutdown, cut).await;
    signals.abort();
    let (mut recorder, mut gated, abort_reason) =
        recorder_task.await.context("the recorder task failed")?;
    for rec in std::mem::take(&mut *lock(&overflow)) {
        if let Err(e) = recorder.record(&rec) {
            eprintln!("warning: {e:#}; per-call CSV rows are incomplete");
        }
        if let Some(g) = gated.as_mut()
            && gates::record_after_warm_up(&rec, run_start, warm_up)
        {
            g.record(&rec);
        }
    }
    if let Some(p) = progress {
        p.stop().await;
    }

    let mock_stats = match mock {
        Some(handle) => {
            let stats = handle.stats();
            handle.shutdown().await;
            Some(stats)
        }
        None => None,
    };

    let sessions = agent.sessions().stats();
    let end = RunEnd {
        ended: Instant::now(),
        interrupted: load.interrupted,
        breaker_transitions: agent
            .breakers()
            .transitions()
            .into_iter()
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
    };
    let gated_summary = gated.map(|g| Summary::from_metrics(&g.finish(end.clone())));
    // From here a file that cannot be written (full disk ...) stops neither the other files nor
    // the summary on stdout: the errors are told at the end, and the run exits 2.
    let (metrics, mut summary, mut write_errors) = recorder.finish_keeping(end);

    if plan.load.keep_trace {
        runner::write_trace(&dir.join("trace.jsonl"), &load.trace)
            .with_context(|| format!("cannot write {}", dir.join("trace.jsonl").display()))
            .unwrap_or_else(|e| write_errors.push(e));
    }
    if let Some(stats) = &mock_stats {
        let json = serde_json::to_string_pretty(stats)? + "\n";
        report::atomic::write_bytes(dir.join("mock_stats.json"), json.as_bytes())
            .unwrap_or_else(|e| write_errors.push(e));
    }

    // Gates: evaluated on the post-warm-up figures when there is a warm-up window.
    let results = gates::evaluate(
        &plan.gates.thresholds,
        gated_summary.as_ref().unwrap_or(&summary),
    );
    let no_success = gates::no_success(&summary).filter(|_| !plan.limits.expect_no_success);
    let passed = gates::all_passed(&results) && no_success.is_none();
    summary.thresholds = results;
    report::write_summary_files(&dir, &summary).unwrap_or_else(|e| write_errors.push(e));
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
            &dir,
            &metrics,
            &summary,
            &prices,
            &PriceChoice::from(&plan.prices),
            &settings(plan),
        )
    {
        write_errors.push(e.context("cannot write the plots and index.html"));
    }
    if let Some(path) = &args.junit {
        gates::write_junit(path, &summary.thresholds, &plan.name)
            .unwrap_or_else(|e| write_errors.push(e));
    }

    print!(
        "{}",
        terminal::render_table(&summary, terminal::stdout_color())
    );
    if !summary.thresholds.is_empty() {
        print!(
            "{}",
            gates::render_terminal(&summary.thresholds, terminal::stdout_color())
        );
    }
    for w in terminal::warnings(&summary)
        .into_iter()
        .chain(gates::load_health_warnings(
            &summary,
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
    if let Some(why) = &no_success {
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
    eprintln!("report: {}", dir.display());
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

    Ok(RunOutcome {
        dir,
        summary,
        mock_stats,
        // A panicked session is a harness bug: the figures are incomplete, so the run errs.
        exit_code: if load.panicked > 0 {
            EXIT_ERROR
        } else if !passed {
            EXIT_FAILED_GATE
        } else if load.interrupted {
            EXIT_INTERRUPTED
        } else {
            EXIT_OK
        },
    })
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

/// The one owner of the run's results: records every conversation as it arrives, and about
/// once a second checks `abort_on_fail` thresholds. Returns when every sender is gone.
async fn record_all(
    mut rx: mpsc::Receiver<ConversationRecord>,
    mut recorder: RunRecorder,
    mut gated: Option<Aggregator>,
    warm_up: Duration,
    run_start: Instant,
    thresholds: Vec<gates::Threshold>,
    stop: Arc<Notify>,
) -> (RunRecorder, Option<Aggregator>, Option<String>) {
    let watch_aborts = thresholds.iter().any(|t| t.abort_on_fail);
    let mut next_check = Instant::now() + ABORT_CHECK_EVERY;
    let mut abort_reason = None;
    let mut csv_error_reported = false;
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    // Records are taken in batches, and the task rests for `RECORD_PAUSE` after each: a
    // receiver waiting on the channel is woken by every send, and at tens of thousands of
    // conversations a second those wake-ups (a task switch, often a thread unpark) cost more
    // than the recording. `recv_many` returns 0 once every sender is gone and nothing is left.
    let mut next_flush = Instant::now() + FLUSH_EVERY;
    let mut next_checkpoint = Instant::now() + CHECKPOINT_EVERY;
    let mut checkpoint_error_reported = false;
    loop {
        // Also wakes for the flush when no record comes (a server that never answers).
        let received = tokio::select! {
            n = rx.recv_many(&mut batch, RECORD_BATCH) => n,
            () = tokio::time::sleep_until(next_flush) => usize::MAX,
        };
        if received == 0 {
            break;
        }
        for rec in batch.drain(..) {
            if let Err(e) = recorder.record(&rec)
                && !csv_error_reported
            {
                // The metrics still take the record; only its CSV rows are lost.
                eprintln!("warning: {e:#}; per-call CSV rows are incomplete");
                csv_error_reported = true;
            }
            if let Some(g) = gated.as_mut()
                && gates::record_after_warm_up(&rec, run_start, warm_up)
            {
                g.record(&rec);
            }
        }
        let now = Instant::now();
        if now >= next_flush {
            next_flush = now + FLUSH_EVERY;
            let summary = now >= next_checkpoint;
            if summary {
                next_checkpoint = now + CHECKPOINT_EVERY;
            }
            if let Err(e) = recorder.checkpoint(now, summary)
                && !checkpoint_error_reported
            {
                eprintln!("warning: {e:#}; a hard kill would lose the recent rows");
                checkpoint_error_reported = true;
            }
        }
        if watch_aborts && abort_reason.is_none() && Instant::now() >= next_check {
            next_check = Instant::now() + ABORT_CHECK_EVERY;
            let now = Instant::now();
            let (summary, samples) = match &gated {
                Some(g) => (Summary::from_metrics(&g.snapshot(now)), g.conversations()),
                None => (recorder.snapshot_summary(now), recorder.conversations()),
            };
            if let Some(reason) = gates::should_abort(&thresholds, &|p| summary.metric(p), samples)
            {
                eprintln!("\n{reason}");
                abort_reason = Some(reason);
                stop.notify_one();
            }
        }
        tokio::time::sleep(RECORD_PAUSE).await;
    }
    (recorder, gated, abort_reason)
}

/// The closure the runner calls for each conversation: maps the runner's (user, session)
/// numbers to the agent's session ids, runs the turn, and sends the record to the recorder.
fn make_driver(
    agent: Arc<Agent>,
    tx: mpsc::Sender<ConversationRecord>,
    live: Arc<crate::metrics::LiveStats>,
    stop: Arc<Notify>,
    overflow: Overflow,
) -> impl Fn(ConversationSpec) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
+ Send
+ Sync
+ 'static {
    // The session each user is in: (the runner's session number, the agent's session id).
    // An entry lives from a session's first turn to its last, so memory is bounded by the
    // sessions in flight.
    let sessions: Arc<Mutex<HashMap<u64, (u64, SessionId)>>> = Arc::default();
    let in_flight = Arc::new(AtomicU64::new(0));
    move |spec: ConversationSpec| {
        let agent = Arc::clone(&agent);
        let tx = tx.clone();
        let live = Arc::clone(&live);
        let sessions = Arc::clone(&sessions);
        let in_flight = Arc::clone(&in_flight);
        let stop = Arc::clone(&stop);
        let overflow = Arc::clone(&overflow);
        Box::pin(async move {
            let session = if spec.new_session {
                None
            } else {
                lock(&sessions)
                    .get(&spec.user_id)
                    .filter(|(n, _)| *n == spec.session)
                    .map(|(_, id)| *id)
            };
            live.set_users_active(in_flight.fetch_add(1, Ordering::Relaxed) + 1);
            let req = TurnRequest {
                conversation_id: spec.conversation_id,
                user_id: spec.user_id,
                turn: spec.turn,
                session,
                prompt: spec.prompt,
                intended_start: spec.intended_start,
            };
            let mut guard = InFlight {
                record: Some(new_record(&req)),
                tx: tx.clone(),
                in_flight: Arc::clone(&in_flight),
                live: Arc::clone(&live),
                overflow: Arc::clone(&overflow),
            };
            let record = guard.record.as_mut().expect("set just above");
            let new_session = agent.run_turn_into(req, record).await;
            match new_session {
                // The session is over: forget it, so the map holds only live sessions (the
                // open model gives every arrival a new user id).
                _ if spec.last_turn => {
                    lock(&sessions).remove(&spec.user_id);
                }
                Some(id) => {
                    lock(&sessions).insert(spec.user_id, (spec.session, id));
                }
                None => {}
            }
            let capped = guard
                .record
                .as_ref()
                .is_some_and(|r| r.outcome == Outcome::SpendCap);
            guard.finish().await;
            if capped {
                // The spend cap refused a call: new conversations could only be refused too.
                stop.notify_one();
            }
        })
    }
}

/// A conversation in flight. Normally [`InFlight::finish`] sends its record. If the runner drops
/// the conversation at the end of the grace period, `Drop` still sends what it did so far,
/// with outcome `interrupted`, so no conversation that started is missing from the report.
struct InFlight {
    record: Option<ConversationRecord>,
    tx: mpsc::Sender<ConversationRecord>,
    in_flight: Arc<AtomicU64>,
    live: Arc<crate::metrics::LiveStats>,
    overflow: Overflow,
}

/// Records of cut conversations that found the record channel full.
type Overflow = Arc<Mutex<Vec<ConversationRecord>>>;

impl InFlight {
    async fn finish(mut self) {
        if let Some(rec) = self.record.take() {
            // The recorder outlives every driver call, so a send fails only if it panicked.
            let _ = self.tx.send(rec).await;
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.live
            .set_users_active(self.in_flight.fetch_sub(1, Ordering::Relaxed) - 1);
        if let Some(mut rec) = self.record.take() {
            close_cut_record(&mut rec);
            // Cannot wait in `drop`: when the channel is full (thousands cut at once), the
            // record goes to the overflow list, which the run records after the channel.
            if let Err(e) = self.tx.try_send(rec) {
                let rec = match e {
                    mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r) => r,
                };
                lock(&self.overflow).push(rec);
            }
        }
    }
}

/// Closes the record of a conversation cut in flight: its latency and that of the call and
/// attempt it was waiting on (still `interrupted`, pushed before they were sent) run to now.
fn close_cut_record(rec: &mut ConversationRecord) {
    rec.latency = rec.started.elapsed();
    for call in rec
        .calls
        .iter_mut()
        .filter(|c| c.error == Some(ErrorClass::Interrupted))
    {
        call.latency = call.started.elapsed();
        for a in call
            .attempts
            .iter_mut()
            .filter(|a| a.error == Some(ErrorClass::Interrupted))
        {
            a.latency = a.started.elapsed();
        }
    }
}

/// The signals that stop a run: SIGINT (Ctrl-C) and, on Unix, SIGTERM. Once listened to,
/// neither kills the process any more: the run stops through its shutdown path and writes its
/// report.
struct StopSignals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// `None` when the handlers cannot be installed (then the defaults stay: the process dies).
    fn new() -> Option<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            // Streams, not `ctrl_c()` per wait: a signal between two waits is not lost.
            let int = signal(SignalKind::interrupt()).ok()?;
            let term = signal(SignalKind::terminate()).ok()?;
            Some(StopSignals { int, term })
        }
        #[cfg(not(unix))]
        Some(StopSignals {})
    }

    /// The next signal's name; `None` if listening failed.
    async fn next(&mut self) -> Option<&'static str> {
        #[cfg(unix)]
        {
            tokio::select! {
                r = self.int.recv() => r.map(|()| "interrupted (SIGINT)"),
                r = self.term.recv() => r.map(|()| "terminated (SIGTERM)"),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.ok().map(|()| "interrupted")
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
