//! `histograms.hlog`: every latency histogram of the run as an HdrHistogram interval log, so
//! runs (or shards of one run) can be merged exactly later, and `bench report DIR` can redraw
//! percentile curves without the run.
//!
//! One entry per histogram, covering the whole run, tagged `<metric>` for the run-wide
//! histogram and `<metric>@<model>` for per-model ones (metric names as in
//! `latency_percentiles.csv`); values are integer microseconds, V2 deflate encoding, the format
//! HdrHistogram's Java and Go tools read. Characters a tag may not hold (`,`, space, CR, LF)
//! become `_`.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

use super::atomic;
use crate::metrics::RunMetrics;

/// File name of the interval log in a run directory.
pub const HLOG_FILE: &str = "histograms.hlog";

/// The tag of a histogram: `metric`, or `metric@model` when `model` is not `all`.
pub fn tag_for(metric: &str, model: &str) -> String {
    let raw = if model == "all" {
        metric.to_string()
    } else {
        format!("{metric}@{model}")
    };
    raw.chars()
        .map(|c| {
            if matches!(c, ',' | ' ' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Writes `histograms.hlog` into `dir`, atomically. Empty histograms are left out.
pub fn write_histograms(dir: &Path, m: &RunMetrics) -> anyhow::Result<()> {
    let path = dir.join(HLOG_FILE);
    let mut buf = Vec::new();
    {
        let mut serializer = V2DeflateSerializer::new();
        let mut log = IntervalLogWriterBuilder::new()
            .add_comment(&format!(
                "reactbench run: {}",
                m.info.name.replace('\n', " ")
            ))
            .add_comment("values: microseconds; tags: metric or metric@model")
            .with_start_time(m.info.started_at)
            .with_base_time(m.info.started_at)
            .begin_log_with(&mut buf, &mut serializer)
            .context("cannot start the histogram log")?;
        for (metric, model, h) in super::csv::latency_histograms(m) {
            if h.is_empty() {
                continue;
            }
            let tag = tag_for(metric, &model);
            // Timestamps are offsets from the BaseTime header (the run's start).
            log.write_histogram(h, Duration::ZERO, m.duration, Tag::new(&tag))
                .map_err(|e| anyhow::anyhow!("cannot encode histogram {tag}: {e:?}"))?;
        }
    }
    atomic::write_with(&path, |f| Ok(f.write_all(&buf)?))
}

/// Reads an interval log back: (tag, histogram) per entry, untagged entries as `""`.
pub fn read_histograms(path: &Path) -> anyhow::Result<Vec<(String, Histogram<u64>)>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    let mut de = Deserializer::new();
    for entry in IntervalLogIterator::new(&bytes) {
        let entry = entry.map_err(|e| {
            anyhow::anyhow!(
                "{} is not a valid HdrHistogram interval log ({e:?}); re-run to regenerate it",
                path.display()
            )
        })?;
        if let LogEntry::Interval(h) = entry {
            let tag = h.tag().map(|t| t.as_str().to_string()).unwrap_or_default();
            let raw = base64::engine::general_purpose::STANDARD
                .decode(h.encoded_histogram())
                .with_context(|| format!("histogram {tag} in {} is not base64", path.display()))?;
            let hist: Histogram<u64> = de
                .deserialize(&mut raw.as_slice())
                .map_err(|e| anyhow::anyhow!("histogram {tag} in {}: {e:?}", path.display()))?;
            out.push((tag, hist));
        }
    }
    Ok(out)
}
