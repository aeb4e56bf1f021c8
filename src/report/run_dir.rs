//! The one reader of a finished run's report folder. `bench compare`, `bench report` and
//! `bench prices --run` (and any command that reads runs back) open a run here, by its
//! versioned `summary.json` ([`Summary::from_json`] refuses other versions with a message
//! saying what changed), and take its other files from the same place.
//!
//! A run is given as its directory or as its `summary.json`; the other files are looked for
//! beside the summary. Only `summary.json` is required: the callers say what a missing
//! optional file costs them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use hdrhistogram::Histogram;

use super::hlog::{HLOG_FILE, read_histograms};
use super::plot::TimelinePoint;
use super::summary::Summary;

/// The file whose presence marks a complete run directory.
pub const SUMMARY_FILE: &str = "summary.json";

/// The per-second timeline written beside the summary.
pub const TIMELINE_FILE: &str = "timeline.csv";

/// A finished run, opened by its summary.
#[derive(Clone, Debug)]
pub struct RunDir {
    /// The folder holding the run's files (the summary's folder).
    pub dir: PathBuf,
    /// The `summary.json` read.
    pub summary_path: PathBuf,
    /// Its contents.
    pub summary: Summary,
}

impl RunDir {
    /// Opens a run: a directory holding `summary.json`, or that file itself. An unreadable
    /// file, invalid JSON or another schema version is an error naming the file.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let summary_path = if path.is_dir() {
            path.join(SUMMARY_FILE)
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&summary_path).with_context(|| {
            if path.is_dir() {
                format!(
                    "{} is not a run directory: it has no readable {SUMMARY_FILE}; give a \
                     directory that `bench run` wrote, such as reports/<name>-<time>/, or its \
                     {SUMMARY_FILE}",
                    path.display()
                )
            } else {
                format!(
                    "cannot read {}; give a run directory that `bench run` wrote (holding \
                     {SUMMARY_FILE}) or its {SUMMARY_FILE}",
                    summary_path.display()
                )
            }
        })?;
        let summary = Summary::from_json(&text).with_context(|| {
            format!(
                "{} is not a reactbench {SUMMARY_FILE}",
                summary_path.display()
            )
        })?;
        let dir = match summary_path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(RunDir {
            dir,
            summary_path,
            summary,
        })
    }

    /// The path of a file of the run, e.g. `run.file("calls.csv")`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The latency histograms of `histograms.hlog` by name, or `None` when the run has no
    /// such file.
    pub fn histograms(&self) -> anyhow::Result<Option<BTreeMap<String, Histogram<u64>>>> {
        let path = self.file(HLOG_FILE);
        if path.is_file() {
            read_histograms(&path).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The plotted columns of `timeline.csv`, or `None` when the run has no such file.
    pub fn timeline(&self) -> anyhow::Result<Option<Vec<TimelinePoint>>> {
        let path = self.file(TIMELINE_FILE);
        if path.is_file() {
            read_timeline(&path).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Reads the plotted columns of `timeline.csv` back (by header name, so added columns do not
/// break it).
pub fn read_timeline(path: &Path) -> anyhow::Result<Vec<TimelinePoint>> {
    let mut r = ::csv::Reader::from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let header = r.headers()?.clone();
    let col = |name: &str| {
        header.iter().position(|h| h == name).with_context(|| {
            format!(
                "{} has no `{name}` column; it is not a reactbench timeline",
                path.display()
            )
        })
    };
    let (second, calls, errors, p95) = (
        col("second")?,
        col("calls")?,
        col("errors")?,
        col("call_p95_ms")?,
    );
    let mut out = Vec::new();
    for (i, row) in r.records().enumerate() {
        let row = row.with_context(|| format!("{} row {}", path.display(), i + 2))?;
        let cell = |c: usize| row.get(c).unwrap_or("");
        let int = |c: usize| {
            cell(c).parse::<u64>().with_context(|| {
                format!(
                    "{} row {}: `{}` is not a whole number",
                    path.display(),
                    i + 2,
                    cell(c)
                )
            })
        };
        let p95_ms = match cell(p95) {
            "" => None,
            t => Some(t.parse::<f64>().with_context(|| {
                format!("{} row {}: `{t}` is not a number", path.display(), i + 2)
            })?),
        };
        out.push(TimelinePoint {
            second: int(second)?,
            calls: int(calls)?,
            errors: int(errors)?,
            p95_ms,
        });
    }
    Ok(out)
}
