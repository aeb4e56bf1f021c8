//! The recorder: the report directory, made once the plan is known to be runnable, and the one
//! owner of the run's results, a task that records every conversation as its record arrives
//! (metrics, streamed CSV rows, checkpoints) and watches `abort_on_fail` thresholds.
//!
//! The recorder finishes by structure: the driver holds every sender of its channel, so once
//! the runner has returned and dropped the driver, the channel closes and the task returns.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::metrics::{Aggregator, LiveStats, RunInfo};
use crate::observe::Publisher;
use crate::pricing::PriceTable;
use crate::record::ConversationRecord;
use crate::report::gates;
use crate::report::progress::{Progress, ProgressOptions};
use crate::report::summary::Summary;
use crate::report::{self, RunRecorder};
use crate::scenario::{Endpoint, LoadShape, Plan};

/// Where runs go unless `--out` or `[report] out` says otherwise.
const REPORTS_DIR: &str = "reports";
/// Bytes written (and removed) in the report directory before the first request: a full disk
/// is refused then, not after the whole load.
const WRITE_PROBE_BYTES: usize = 16 * 1024;
/// Records the channel holds before a sender waits.
const CHANNEL_CAPACITY: usize = 4096;
/// How often the recorder checks `abort_on_fail` thresholds.
const ABORT_CHECK_EVERY: Duration = Duration::from_secs(1);
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

/// The recorder while the load runs.
pub(super) struct Recording {
    dir: PathBuf,
    run_start: Instant,
    warm_up: Duration,
    live: Arc<LiveStats>,
    progress: Option<Progress>,
    task: JoinHandle<(RunRecorder, Option<Aggregator>, Option<String>)>,
}

/// What the recorder holds once the load is over.
pub(super) struct Recorded {
    /// The report directory.
    pub(super) dir: PathBuf,
    /// Every conversation's metrics and the open CSV files.
    pub(super) recorder: RunRecorder,
    /// With a warm-up window: the figures of the conversations started after it.
    pub(super) gated: Option<Aggregator>,
    /// Why an `abort_on_fail` threshold stopped the run, if one did.
    pub(super) abort_reason: Option<String>,
}

/// Makes the report directory and checks it can be written (before anything is sent).
pub(super) fn prepare_dir(plan: &Plan) -> anyhow::Result<PathBuf> {
    let dir = match &plan.report.out {
        Some(out) => {
            report::prepare_out_dir(out)?;
            out.clone()
        }
        None => report::create_run_dir(Path::new(REPORTS_DIR), &plan.name, SystemTime::now())?,
    };
    report::atomic::probe_writable(&dir, WRITE_PROBE_BYTES)?;
    Ok(dir)
}

/// Starts the recorder task and the progress line, writing into `dir` ([`prepare_dir`]): the
/// run's clock starts here. Returns the recorder and the sender for the driver: the driver
/// must hold every sender, so that the recorder ends with it. `stop` is notified when an
/// `abort_on_fail` threshold fails.
pub(super) fn start(
    plan: &Plan,
    dir: PathBuf,
    prices: &PriceTable,
    quiet: bool,
    stop: Arc<Notify>,
    publisher: Option<Publisher>,
) -> anyhow::Result<(Recording, mpsc::Sender<ConversationRecord>)> {
    let started_at = SystemTime::now();
    let run_start = Instant::now();
    let info = run_info(plan, started_at);
    let recorder = RunRecorder::new(
        Aggregator::new(info.clone(), run_start, prices.clone()),
        Some(&dir),
    )?;
    // With a warm-up window, the gated figures come from a second aggregator that only sees
    // conversations started after it.
    let warm_up = plan.gates.warm_up;
    let gated = (!warm_up.is_zero()).then(|| Aggregator::new(info, run_start, prices.clone()));
    let live = recorder.live();
    let progress = Progress::spawn(live.clone(), ProgressOptions::for_stderr(quiet));

    let (tx, rx) = mpsc::channel::<ConversationRecord>(CHANNEL_CAPACITY);
    let thresholds = plan.gates.thresholds.clone();
    let duties = Duties {
        thresholds,
        stop,
        publisher,
    };
    let task = tokio::spawn(record_all(rx, recorder, gated, warm_up, run_start, duties));
    let recording = Recording {
        dir,
        run_start,
        warm_up,
        live,
        progress,
        task,
    };
    Ok((recording, tx))
}

/// What the run is, for the summary.
fn run_info(plan: &Plan, started_at: SystemTime) -> RunInfo {
    RunInfo {
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
        slo: plan.slo.clone(),
    }
}

impl Recording {
    /// The instant timeline seconds and CSV offsets are measured from.
    pub(super) fn run_start(&self) -> Instant {
        self.run_start
    }

    /// The live counters the progress line and the driver share.
    pub(super) fn live(&self) -> Arc<LiveStats> {
        Arc::clone(&self.live)
    }

    /// Waits for the recorder task (it ends when every sender is gone), records `late`
    /// (records of cut conversations that found the channel full), and stops the progress line.
    pub(super) async fn finish(self, late: Vec<ConversationRecord>) -> anyhow::Result<Recorded> {
        let (mut recorder, mut gated, abort_reason) =
            self.task.await.context("the recorder task failed")?;
        for rec in late {
            if let Err(e) = recorder.record(&rec) {
                eprintln!("warning: {e:#}; per-call CSV rows are incomplete");
            }
            if let Some(g) = gated.as_mut()
                && gates::record_after_warm_up(&rec, self.run_start, self.warm_up)
            {
                g.record(&rec);
            }
        }
        if let Some(p) = self.progress {
            p.stop().await;
        }
        Ok(Recorded {
            dir: self.dir,
            recorder,
            gated,
            abort_reason,
        })
    }
}

/// What the recorder watches and tells besides recording.
struct Duties {
    /// `abort_on_fail` thresholds are checked about once a second.
    thresholds: Vec<gates::Threshold>,
    /// Notified when one of them fails.
    stop: Arc<Notify>,
    /// The live exporter's page, refreshed once a second.
    publisher: Option<Publisher>,
}

/// The one owner of the run's results: records every conversation as it arrives, and about
/// once a second checks `abort_on_fail` thresholds and refreshes the live exporter's page. Returns when every sender is gone.
async fn record_all(
    mut rx: mpsc::Receiver<ConversationRecord>,
    mut recorder: RunRecorder,
    mut gated: Option<Aggregator>,
    warm_up: Duration,
    run_start: Instant,
    duties: Duties,
) -> (RunRecorder, Option<Aggregator>, Option<String>) {
    let Duties {
        thresholds,
        stop,
        publisher,
    } = duties;
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
    if let Some(p) = &publisher {
        p.publish(recorder.aggregator());
    }
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
            if let Some(p) = &publisher {
                p.publish(recorder.aggregator());
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
    if let Some(p) = &publisher {
        p.publish(recorder.aggregator());
    }
    (recorder, gated, abort_reason)
}
