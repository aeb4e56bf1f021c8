//! Report files and terminal output of a run.
//!
//! A run writes into its own directory, `reports/<name>-<UTC time>/` unless told otherwise
//! ([`run_dir_name`], [`create_run_dir`]). Every file goes through [`atomic`] (temporary file,
//! then rename), so an interrupted run never leaves half a file. The files and their columns
//! and keys are documented in `docs/report-files.md`.
//!
//! - [`summary`]: `summary.json` (versioned stable keys, metric paths for gates) and
//!   `summary.md`.
//! - [`csv`]: `calls.csv` and `conversations.csv` (streamed while the run goes), and the
//!   latency percentile, timeline, cost-by-model and errors CSVs.
//! - [`hlog`]: `histograms.hlog`, every latency histogram of the run by name; [`histlog`]: the
//!   interval-log file format it is written in.
//! - [`visuals`]: the PNG plots, `price_comparison.csv` and `index.html` (also re-rendered from
//!   a run directory by `bench report`).
//! - [`run_dir`]: [`run_dir::RunDir`], the one reader of a finished run's folder (by its
//!   versioned `summary.json`) for `bench compare`, `bench report` and `bench prices --run`.
//! - [`terminal`]: the end-of-run tables (stdout) and their Markdown form.
//! - [`progress`]: the live progress line (stderr).
//! - [`format`](mod@format): how dollars, counts and durations read, one rule per context.
//! - [`gates`]: `[thresholds]` conditions, their verdicts and JUnit XML; [`compare`]: two runs
//!   side by side with tolerances (`bench compare`).
//!
//! [`RunRecorder`] ties the aggregator and the streamed CSVs together for the runner: one owner,
//! fed from the channel the virtual users send their records to.

pub mod atomic;
pub mod compare;
pub mod csv;
pub mod format;
pub mod gates;
pub mod histlog;
pub mod hlog;
pub mod html;
pub mod plot;
pub mod progress;
pub mod run_dir;
pub mod shard_file;
pub mod summary;
pub mod terminal;
pub mod visuals;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;

use crate::metrics::{Aggregator, RunEnd, RunMetrics};
use crate::record::ConversationRecord;
use summary::Summary;

/// The checkpoint of a run's summary, rewritten every few seconds while it goes and removed
/// once `summary.json` is written: after a hard kill it holds the figures up to then.
pub const PARTIAL_SUMMARY: &str = "summary.partial.json";

/// Longest scenario-name part of a run directory name, in characters.
const MAX_NAME_CHARS: usize = 60;

/// The directory name of a run: the scenario name as a lowercase slug (letters, digits and
/// dashes), a dash, and the UTC start time as `YYYYMMDDTHHMMSSZ`; e.g.
/// `100-users-mixed-react-workload-20261128T112500Z`.
pub fn run_dir_name(name: &str, started_at: SystemTime) -> String {
    let mut slug = String::new();
    for ch in name.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let mut slug: String = slug.chars().take(MAX_NAME_CHARS).collect();
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        slug.push_str("run");
    }
    let time: String = summary::rfc3339_utc(started_at)
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("{slug}-{time}")
}

/// Creates `base/<run_dir_name>` (with `-2`, `-3` ... if a run of the same name started in the
/// same second) and returns it.
pub fn create_run_dir(base: &Path, name: &str, started_at: SystemTime) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(base)
        .with_context(|| format!("cannot create the reports directory {}", base.display()))?;
    let stem = run_dir_name(name, started_at);
    for n in 1u32..1000 {
        let dir = if n == 1 {
            base.join(&stem)
        } else {
            base.join(format!("{stem}-{n}"))
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("cannot create {}", dir.display()));
            }
        }
    }
    anyhow::bail!(
        "{} already holds 999 runs named {stem}; remove some or pass --out",
        base.display()
    )
}

/// Files a run may leave in its directory besides its PNG plots (any `*.png`), and the
/// hidden temporary files of [`atomic`] (`.<name>.tmp-<pid>-<n>`).
const REPORT_FILES: &[&str] = &[
    "summary.json",
    "summary.md",
    PARTIAL_SUMMARY,
    "calls.csv",
    "conversations.csv",
    "latency_percentiles.csv",
    "timeline.csv",
    "cost_by_model.csv",
    "errors.csv",
    "tools.csv",
    "prompt_by_step.csv",
    "histograms.hlog",
    "mock_stats.json",
    "trace.jsonl",
    "index.html",
    "price_comparison.csv",
    "report_inputs.json",
    shard_file::SHARD_FILE,
];

/// Makes `out` (`--out` or `[report] out`) ready for a new run before anything is sent: creates
/// it if missing; takes it as it is when empty; replaces a previous report of ours whole (the
/// old folder is renamed aside in one step, then deleted, so a new run never sits beside an
/// old run's page or plots, even if stopped half-way); refuses any other non-empty folder.
pub fn prepare_out_dir(out: &Path) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(out) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return std::fs::create_dir_all(out)
                .with_context(|| format!("cannot create the report directory {}", out.display()));
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot read the report directory {}", out.display()));
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", out.display()))?;
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        names.push((entry.file_name().to_string_lossy().into_owned(), is_file));
    }
    if names.is_empty() {
        return Ok(());
    }
    let ours = |(name, is_file): &(String, bool)| {
        *is_file
            && (REPORT_FILES.contains(&name.as_str())
                || name.ends_with(".png")
                || (name.starts_with('.') && name.contains(".tmp-")))
    };
    let marked = names
        .iter()
        .any(|(n, _)| n == "summary.json" || n == PARTIAL_SUMMARY || n == "calls.csv");
    if !marked || !names.iter().all(ours) {
        let foreign: Vec<&str> = names
            .iter()
            .filter(|n| !ours(n))
            .map(|(n, _)| n.as_str())
            .take(3)
            .collect();
        anyhow::bail!(
            "the report directory {} is not empty and is not a previous reactbench report{}; \
             pass an empty or new folder to --out (or `[report] out`), or leave it out for \
             reports/<name>-<time>/",
            out.display(),
            if foreign.is_empty() {
                String::new()
            } else {
                format!(" (it holds {})", foreign.join(", "))
            }
        );
    }
    // A previous report: set it aside in one rename, start an empty folder, then delete it.
    let name = out
        .file_name()
        .with_context(|| format!("{} has no folder name", out.display()))?;
    let mut aside_name = std::ffi::OsString::from(".");
    aside_name.push(name);
    aside_name.push(format!(".old-{}", std::process::id()));
    let aside = out.with_file_name(aside_name);
    std::fs::rename(out, &aside).with_context(|| {
        format!(
            "cannot move the previous report {} aside to replace it",
            out.display()
        )
    })?;
    std::fs::create_dir(out)
        .with_context(|| format!("cannot create the report directory {}", out.display()))?;
    std::fs::remove_dir_all(&aside)
        .with_context(|| format!("cannot remove the previous report at {}", aside.display()))
}

/// Writes `summary.json` and `summary.md` into `dir`.
pub fn write_summary_files(dir: &Path, s: &Summary) -> anyhow::Result<()> {
    let mut json = s.to_json();
    json.push('\n');
    atomic::write_bytes(dir.join("summary.json"), json.as_bytes())?;
    atomic::write_bytes(dir.join("summary.md"), s.to_markdown().as_bytes())
}

/// Writes every file that comes from the final metrics: `summary.json`, `summary.md`,
/// `latency_percentiles.csv`, `timeline.csv`, `cost_by_model.csv`, `errors.csv`,
/// `histograms.hlog`. Returns the summary.
pub fn write_metric_files(dir: &Path, m: &RunMetrics) -> anyhow::Result<Summary> {
    let s = Summary::from_metrics(m);
    csv::write_metric_files(dir, m)?;
    csv::shape::write_shape_files(dir, m)?;
    hlog::write_histograms(dir, m)?;
    // The summary last: its presence marks a complete report directory.
    write_summary_files(dir, &s)?;
    Ok(s)
}

/// The one owner of a run's results: aggregates each record and streams its CSV rows.
#[derive(Debug)]
pub struct RunRecorder {
    agg: Aggregator,
    csv: Option<csv::RecordCsv>,
    dir: Option<PathBuf>,
}

impl RunRecorder {
    /// A recorder that streams `calls.csv` and `conversations.csv` into `dir` (which must
    /// exist), or keeps metrics only when `dir` is `None`.
    pub fn new(agg: Aggregator, dir: Option<&Path>) -> anyhow::Result<Self> {
        let csv = match dir {
            Some(d) => Some(csv::RecordCsv::create(d, agg.run_start())?),
            None => None,
        };
        Ok(RunRecorder {
            agg,
            csv,
            dir: dir.map(Path::to_path_buf),
        })
    }

    /// The live figures for the progress line.
    pub fn live(&self) -> std::sync::Arc<crate::metrics::LiveStats> {
        self.agg.live()
    }

    /// The figures so far (read by the live exporter).
    pub fn aggregator(&self) -> &Aggregator {
        &self.agg
    }

    /// Records one conversation. The metrics always take it; an error means only its CSV rows
    /// could not be written (disk full ...), and the caller may stop the run.
    pub fn record(&mut self, rec: &ConversationRecord) -> anyhow::Result<()> {
        self.agg.record(rec);
        if let Some(csv) = self.csv.as_mut() {
            csv.write(rec, self.agg.prices())?;
        }
        Ok(())
    }

    /// The summary of what was recorded so far (for early-abort checks while the run goes).
    pub fn snapshot_summary(&self, now: tokio::time::Instant) -> Summary {
        Summary::from_metrics(&self.agg.snapshot(now))
    }

    /// Conversations recorded so far.
    pub fn conversations(&self) -> u64 {
        self.agg.conversations()
    }

    /// Makes what was recorded so far survive a hard kill: flushes the streamed CSV rows (and
    /// with `summary` syncs them and rewrites [`PARTIAL_SUMMARY`] atomically from the figures so
    /// far). Does nothing without a directory.
    pub fn checkpoint(&mut self, now: tokio::time::Instant, summary: bool) -> anyhow::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        if let Some(csv) = self.csv.as_mut() {
            csv.checkpoint(summary)
                .context("cannot flush calls.csv or conversations.csv rows")?;
        }
        if summary {
            let mut s = Summary::from_metrics(&self.agg.snapshot(now));
            // Not the end: whatever happens next, these figures are a part of the run.
            s.run.interrupted = true;
            let mut json = s.to_json();
            json.push('\n');
            atomic::write_bytes(dir.join(PARTIAL_SUMMARY), json.as_bytes())?;
        }
        Ok(())
    }

    /// Ends the run: renames the streamed CSVs into place, writes every other file, and returns
    /// the metrics and summary.
    pub fn finish(self, end: RunEnd) -> anyhow::Result<(RunMetrics, Summary)> {
        let (metrics, summary, mut errors) = self.finish_keeping(end);
        match errors.is_empty() {
            true => Ok((metrics, summary)),
            false => Err(errors.remove(0)),
        }
    }

    /// Like [`RunRecorder::finish`], but a file that cannot be written (full disk ...) does not
    /// stop the others: every file that can be written is, and the errors are returned with
    /// the metrics and summary, which are complete whatever the disk did.
    pub fn finish_keeping(self, end: RunEnd) -> (RunMetrics, Summary, Vec<anyhow::Error>) {
        let metrics = self.agg.finish(end);
        let mut errors = Vec::new();
        if let Some(csv) = self.csv
            && let Err(e) = csv.finish()
        {
            errors.push(e);
        }
        let summary = Summary::from_metrics(&metrics);
        if let Some(dir) = &self.dir {
            let writes: [&dyn Fn() -> anyhow::Result<()>; 7] = [
                &|| csv::write_latency_percentiles(dir, &metrics),
                &|| csv::write_timeline(dir, &metrics),
                &|| csv::write_cost_by_model(dir, &metrics),
                &|| csv::shape::write_shape_files(dir, &metrics),
                &|| csv::write_errors(dir, &metrics),
                &|| hlog::write_histograms(dir, &metrics),
                // The summary last: its presence marks a complete report directory.
                &|| write_summary_files(dir, &summary),
            ];
            errors.extend(writes.iter().filter_map(|w| w().err()));
        }
        (metrics, summary, errors)
    }
}
