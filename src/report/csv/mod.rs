//! The run's CSV files, with stable columns (pinned by a test, documented in
//! `docs/report-files.md`).
//!
//! `calls.csv` and `conversations.csv` have one row per call and per conversation. They are
//! *streamed*: [`RecordCsv`] ([`stream`]) appends rows as each record arrives, into temporary
//! files that are renamed into place when the run ends. A long run thus keeps no record in
//! memory (a million calls would otherwise hold hundreds of MB of strings), and an interrupted
//! run still renames complete files, because every row written is a whole row. The other files
//! are small and written from the final [`RunMetrics`] in one go.
//!
//! Times are milliseconds with microsecond precision; money is unrounded dollars.

use std::path::Path;

use anyhow::Context;

use super::atomic::AtomicFile;
use crate::metrics::RunMetrics;
use crate::observe::{Kind, Sample, SeriesKey, ServerMetrics};

pub mod shape;
pub mod stream;

pub use shape::{PROMPT_BY_STEP_COLUMNS, PROMPT_BY_STEP_FILE, TOOLS_COLUMNS, TOOLS_FILE};
pub use stream::RecordCsv;

/// Columns of `calls.csv`.
pub const CALLS_COLUMNS: &[&str] = &[
    "conversation_id",
    "user_id",
    "turn",
    "step",
    "model_asked",
    "model_answered",
    "attempts",
    "retries",
    "fallback",
    "status",
    "error_class",
    "latency_ms",
    "ttft_ms",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "cost_usd",
    "start_offset_ms",
    "ttft_answer_ms",
    "tpot_ms",
    "output_tokens_per_s",
    "finish_reason",
    "reasoning_tokens",
    "stream_ignored",
];

/// Columns of `conversations.csv`.
pub const CONVERSATIONS_COLUMNS: &[&str] = &[
    "conversation_id",
    "user_id",
    "turn",
    "outcome",
    "steps",
    "calls",
    "tools",
    "start_offset_ms",
    "latency_ms",
    "latency_from_intended_ms",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "cost_usd",
    "sanitizer_threats",
    "budget_warning",
    "session_wait_ms",
    "error_detail",
];

/// Columns of `latency_percentiles.csv`.
pub const LATENCY_PERCENTILES_COLUMNS: &[&str] = &[
    "metric", "model", "count", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p99_9_ms", "max_ms",
    "mean_ms",
];

/// Columns of `timeline.csv`.
pub const TIMELINE_COLUMNS: &[&str] = &[
    "second",
    "conversations_started",
    "conversations_finished",
    "calls",
    "errors",
    "fallbacks",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "cost_usd",
    "call_p95_ms",
    "breaker_open",
];

/// Columns of `cost_by_model.csv`.
pub const COST_BY_MODEL_COLUMNS: &[&str] = &[
    "model",
    "calls",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "cost_usd",
    "usd_per_call",
    "share_of_cost",
];

/// Columns of `errors.csv`.
pub const ERRORS_COLUMNS: &[&str] = &["scope", "error_class", "count", "share_of_scope"];
/// Columns of `server_metrics.csv`: one row per kept series per scrape; counters as the
/// server published them (cumulative), so any rate can be computed again.
pub const SERVER_METRICS_COLUMNS: &[&str] = &["elapsed_s", "metric", "labels", "kind", "value"];
/// The server's scraped metrics.
pub const SERVER_METRICS_FILE: &str = "server_metrics.csv";

fn csv_writer(file: AtomicFile) -> csv::Writer<AtomicFile> {
    csv::WriterBuilder::new().from_writer(file)
}

fn commit(w: csv::Writer<AtomicFile>) -> anyhow::Result<()> {
    let file = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot flush CSV rows: {}", e.error()))?;
    file.commit()
}

fn write_csv(
    path: &Path,
    columns: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> anyhow::Result<()> {
    let mut w = csv_writer(AtomicFile::create(path)?);
    w.write_record(columns)?;
    for row in rows {
        w.write_record(&row)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    commit(w).with_context(|| format!("cannot finish {}", path.display()))
}

/// Writes `latency_percentiles.csv`: one row per metric (model `all`) and per metric and model
/// for call latency and TTFT.
pub fn write_latency_percentiles(dir: &Path, m: &RunMetrics) -> anyhow::Result<()> {
    write_csv(
        &dir.join("latency_percentiles.csv"),
        LATENCY_PERCENTILES_COLUMNS,
        latency_rows(m),
    )
}

/// The latency histograms as (metric, model, histogram): what the percentile CSV and the plots
/// show. Model `all` is the run-wide histogram.
pub fn latency_histograms(
    m: &RunMetrics,
) -> Vec<(&'static str, String, &hdrhistogram::Histogram<u64>)> {
    let h = &m.hist;
    let all = || "all".to_string();
    let mut out = vec![
        ("llm_call", all(), &h.call_us),
        ("attempt", all(), &h.attempt_us),
        ("ttft", all(), &h.ttft_us),
        ("ttft_answer", all(), &h.ttft_answer_us),
        ("inter_chunk", all(), &h.inter_chunk_us),
        ("tpot", all(), &h.tpot_us),
        ("conversation", all(), &h.conversation_us),
        (
            "conversation_from_intended",
            all(),
            &h.conversation_from_intended_us,
        ),
        ("tool", all(), &h.tool_us),
        ("scheduler_lag", all(), &h.scheduler_lag_us),
        ("session_wait", all(), &h.session_wait_us),
    ];
    for (model, mm) in &m.models {
        out.push(("llm_call", model.clone(), &mm.call_latency_us));
    }
    for (model, mm) in &m.models {
        out.push(("ttft", model.clone(), &mm.ttft_us));
    }
    out
}

fn latency_rows(m: &RunMetrics) -> Vec<Vec<String>> {
    latency_histograms(m)
        .into_iter()
        .map(|(metric, model, h)| {
            let l = super::summary::LatencyMs::from_us(h);
            vec![
                metric.to_string(),
                model,
                l.count.to_string(),
                l.p50.to_string(),
                l.p90.to_string(),
                l.p95.to_string(),
                l.p99.to_string(),
                l.p99_9.to_string(),
                l.max.to_string(),
                format!("{:.3}", l.mean),
            ]
        })
        .collect()
}

/// Writes `timeline.csv`: one row per second of the run.
pub fn write_timeline(dir: &Path, m: &RunMetrics) -> anyhow::Result<()> {
    let rows = m.timeline.seconds.iter().enumerate().map(|(i, s)| {
        let breaker = s
            .breaker_open_s
            .iter()
            .map(|(k, v)| format!("{k}={v:.3}"))
            .collect::<Vec<_>>()
            .join(";");
        vec![
            i.to_string(),
            s.conversations_started.to_string(),
            s.conversations_finished.to_string(),
            s.calls.to_string(),
            s.errors.to_string(),
            s.fallbacks.to_string(),
            s.usage.prompt_tokens.to_string(),
            s.usage.cached_tokens.to_string(),
            s.usage.completion_tokens.to_string(),
            s.usd.to_string(),
            s.call_p95_us()
                .map(|us| (us as f64 / 1000.0).to_string())
                .unwrap_or_default(),
            breaker,
        ]
    });
    write_csv(&dir.join("timeline.csv"), TIMELINE_COLUMNS, rows)
}

/// Writes `cost_by_model.csv`: one row per billed model.
pub fn write_cost_by_model(dir: &Path, m: &RunMetrics) -> anyhow::Result<()> {
    let total = m.counters.usd_total;
    let rows = m.models.iter().map(|(model, mm)| {
        vec![
            model.clone(),
            mm.calls.to_string(),
            mm.usage.prompt_tokens.to_string(),
            mm.usage.cached_tokens.to_string(),
            mm.usage.completion_tokens.to_string(),
            mm.usd.to_string(),
            (if mm.calls == 0 {
                0.0
            } else {
                mm.usd / mm.calls as f64
            })
            .to_string(),
            (if total > 0.0 { mm.usd / total } else { 0.0 }).to_string(),
        ]
    });
    write_csv(&dir.join("cost_by_model.csv"), COST_BY_MODEL_COLUMNS, rows)
}

/// Writes `errors.csv`: failed calls and failed attempts by error class (classes that never
/// happened are left out).
pub fn write_errors(dir: &Path, m: &RunMetrics) -> anyhow::Result<()> {
    let c = &m.counters;
    let mut rows = Vec::new();
    let scopes = [
        ("llm_call", &c.calls_by_error, c.calls),
        (
            "attempt",
            &c.attempts_by_error,
            c.attempts + c.local_refusals,
        ),
    ];
    for (scope, map, total) in scopes {
        for (class, n) in map {
            let share = if total == 0 {
                0.0
            } else {
                *n as f64 / total as f64
            };
            rows.push(vec![
                scope.to_string(),
                class.as_str().to_string(),
                n.to_string(),
                share.to_string(),
            ]);
        }
    }
    write_csv(&dir.join("errors.csv"), ERRORS_COLUMNS, rows)
}

/// Writes `server_metrics.csv`: every kept series' value at each scrape, in time order.
pub fn write_server_metrics(dir: &Path, m: &ServerMetrics) -> anyhow::Result<()> {
    let mut rows: Vec<(f64, &SeriesKey, &'static str, f64)> = m
        .series
        .iter()
        .flat_map(|(key, series)| {
            series
                .points
                .iter()
                .map(move |&(t, v)| (t, key, series.kind.as_str(), v))
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    let rows = rows.into_iter().map(|(t, key, kind, v)| {
        vec![
            format!("{t:.3}"),
            key.name.clone(),
            key.labels.clone(),
            kind.to_string(),
            v.to_string(),
        ]
    });
    write_csv(&dir.join(SERVER_METRICS_FILE), SERVER_METRICS_COLUMNS, rows)
}

/// Reads `server_metrics.csv` back (for `bench report`).
pub fn read_server_metrics(
    path: &Path,
    source: &str,
    interval_s: f64,
) -> anyhow::Result<ServerMetrics> {
    let mut r = ::csv::Reader::from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut by_time: std::collections::BTreeMap<u64, Vec<Sample>> = Default::default();
    for (i, row) in r.records().enumerate() {
        let row = row.with_context(|| format!("{}: row {} is not CSV", path.display(), i + 2))?;
        let bad = || {
            anyhow::anyhow!(
                "{}: row {} is not a server metrics row",
                path.display(),
                i + 2
            )
        };
        let t: f64 = row.get(0).and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let value: f64 = row.get(4).and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let kind = match row.get(3) {
            Some("counter") => Kind::Counter,
            Some("gauge") => Kind::Gauge,
            _ => return Err(bad()),
        };
        by_time.entry(t.to_bits()).or_default().push(Sample {
            name: row.get(1).ok_or_else(bad)?.to_string(),
            labels: row.get(2).ok_or_else(bad)?.to_string(),
            kind,
            value,
        });
    }
    let mut m = ServerMetrics::new(source.to_string(), interval_s);
    let mut times: Vec<(f64, Vec<Sample>)> = by_time
        .into_iter()
        .map(|(t, s)| (f64::from_bits(t), s))
        .collect();
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (t, samples) in times {
        m.add_scrape(t, samples);
    }
    Ok(m)
}

/// Writes every CSV that comes from the final metrics (not the streamed ones).
pub fn write_metric_files(dir: &Path, m: &RunMetrics) -> anyhow::Result<()> {
    write_latency_percentiles(dir, m)?;
    write_timeline(dir, m)?;
    write_cost_by_model(dir, m)?;
    write_errors(dir, m)
}
