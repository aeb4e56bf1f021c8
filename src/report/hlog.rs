//! `histograms.hlog`: the one mapping from a run's latency histograms to the names they carry in
//! its HdrHistogram interval log, so runs (or shards of one run) can be merged exactly later,
//! `bench compare` recomputes percentiles from it and `bench report DIR` redraws the latency
//! plots without the run.
//!
//! The file format (V2 deflate, tag escaping, merging equal tags on read) is
//! [`super::histlog`]'s; this module only says which histograms go in and under what names:
//! the `metric` of `latency_percentiles.csv` for run-wide histograms and `<metric>/<model>` for
//! the per-model ones ([`histogram_name`]), and which `summary.json` latency object each one
//! backs ([`LATENCY_HISTOGRAMS`]).

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::Histogram;

use crate::metrics::RunMetrics;

/// File name of the interval log in a run directory.
pub const HLOG_FILE: &str = "histograms.hlog";

/// The latency objects of `summary.json` and the name of their histogram in the interval log.
/// Per-model histograms are `llm_call/<model>` and `ttft/<model>`
/// (`llm_call.by_model.<model>.latency_ms` and `.ttft_ms`).
pub const LATENCY_HISTOGRAMS: &[(&str, &str)] = &[
    ("llm_call.latency_ms", "llm_call"),
    ("llm_call.ttft_ms", "ttft"),
    ("llm_call.ttft_answer_ms", "ttft_answer"),
    ("llm_call.inter_chunk_ms", "inter_chunk"),
    ("llm_call.tpot_ms", "tpot"),
    ("attempt.latency_ms", "attempt"),
    ("conversation.latency_ms", "conversation"),
    (
        "conversation.latency_from_intended_ms",
        "conversation_from_intended",
    ),
    ("tool.latency_ms", "tool"),
    ("load.scheduler_lag_ms", "scheduler_lag"),
    ("sessions.wait_ms", "session_wait"),
];

/// The log name of a histogram: `metric` for the run-wide one (`model` = `all`), else
/// `metric/model`. Model names may hold `/` (`deepseek/deepseek-chat`): the metric is always
/// the part before the first `/`.
pub fn histogram_name(metric: &str, model: &str) -> String {
    if model == "all" {
        metric.to_string()
    } else {
        format!("{metric}/{model}")
    }
}

/// The histograms of a run to store in its interval log, by name: every non-empty latency
/// histogram of `latency_percentiles.csv` (run-wide ones as in [`LATENCY_HISTOGRAMS`], plus
/// per-model call latency and TTFT). Dollars per conversation are not latencies and stay out.
pub fn log_histograms(m: &RunMetrics) -> BTreeMap<String, Histogram<u64>> {
    super::csv::latency_histograms(m)
        .into_iter()
        .filter(|(_, _, h)| !h.is_empty())
        .map(|(metric, model, h)| {
            debug_assert!(LATENCY_HISTOGRAMS.iter().any(|(_, n)| *n == metric));
            (histogram_name(metric, &model), h.clone())
        })
        .collect()
}

/// Writes a run's [`log_histograms`] to `dir/histograms.hlog` (one interval spanning the run,
/// `BaseTime` the run's start), atomically.
pub fn write_histograms(dir: &Path, m: &RunMetrics) -> anyhow::Result<()> {
    super::histlog::write_interval_log(
        &dir.join(HLOG_FILE),
        &log_histograms(m),
        m.info.started_at,
        m.duration,
    )
}

/// Reads a run's interval log back: name -> histogram, intervals of the same name added
/// together (how the logs of several shards merge).
pub fn read_histograms(path: &Path) -> anyhow::Result<BTreeMap<String, Histogram<u64>>> {
    super::histlog::read_interval_log(path)
}
