//! The run's CSV files, with stable columns (pinned by a test, documented in
//! `docs/report-files.md`).
//!
//! `calls.csv` and `conversations.csv` have one row per call and per conversation. They are
//! *streamed*: [`RecordCsv`] appends rows as each record arrives, into temporary files that are
//! renamed into place when the run ends. A long run thus keeps no record in memory (a million
//! calls would otherwise hold hundreds of MB of strings), and an interrupted run still renames
//! complete files, because every row written is a whole row. The other files are small and
//! written from the final [`RunMetrics`] in one go.
//!
//! Times are milliseconds with microsecond precision; money is unrounded dollars.

use std::path::Path;

use anyhow::Context;
use tokio::time::Instant;

use super::atomic::AtomicFile;
use crate::metrics::{self, RunMetrics};
use crate::pricing::PriceTable;
use crate::record::{ConversationRecord, ErrorClass};

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

fn csv_writer(file: AtomicFile) -> csv::Writer<AtomicFile> {
    csv::WriterBuilder::new().from_writer(file)
}

fn commit(w: csv::Writer<AtomicFile>) -> anyhow::Result<()> {
    let file = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot flush CSV rows: {}", e.error()))?;
    file.commit()
}

/// Streams `calls.csv` and `conversations.csv` as records arrive; [`RecordCsv::finish`] renames
/// them into place.
pub struct RecordCsv {
    calls: AtomicFile,
    conversations: AtomicFile,
    run_start: Instant,
    /// The row being built, reused.
    row: Row,
}

/// One CSV row built in a reused buffer, then written whole.
///
/// The same bytes the `csv` crate writes (comma, `\n`, a cell quoted only when it holds a
/// comma, a quote, `\r` or `\n`, quotes doubled), without its per-cell machinery: the streamed
/// files take thirty-odd cells per conversation on the recorder's one task, and through
/// `csv::Writer` and `format_args!` they were a sixth of the harness's instructions per call at
/// full load (callgrind). The files written from the final metrics still use `csv`. The bytes
/// are pinned by tests that read the files back with the `csv` crate.
#[derive(Debug, Default)]
struct Row {
    bytes: Vec<u8>,
    /// Cells so far in this row.
    cells: usize,
}

impl Row {
    fn start(&mut self) {
        self.bytes.clear();
        self.cells = 0;
    }

    fn sep(&mut self) {
        if self.cells > 0 {
            self.bytes.push(b',');
        }
        self.cells += 1;
    }

    fn int(&mut self, n: impl itoa::Integer) {
        self.sep();
        self.bytes
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    fn flag(&mut self, b: bool) {
        self.raw(if b { "true" } else { "false" });
    }

    /// A cell known to need no quotes (numbers, fixed names).
    fn raw(&mut self, s: &str) {
        self.sep();
        self.bytes.extend_from_slice(s.as_bytes());
    }

    /// Any text, quoted when it must be.
    fn text(&mut self, s: &str) {
        self.sep();
        if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
            self.bytes.push(b'"');
            for piece in s.split_inclusive('"') {
                self.bytes.extend_from_slice(piece.as_bytes());
                if piece.ends_with('"') {
                    self.bytes.push(b'"');
                }
            }
            self.bytes.push(b'"');
        } else {
            self.bytes.extend_from_slice(s.as_bytes());
        }
    }

    /// Dollars, unrounded (`Display` of `f64`: the shortest text that reads back the same).
    fn usd(&mut self, usd: f64) {
        use std::io::Write as _;
        self.sep();
        // Writing into a Vec cannot fail.
        let _ = write!(self.bytes, "{usd}");
    }

    /// Milliseconds with three decimals (microsecond resolution), from integer arithmetic:
    /// `{:.3}` on an `f64` went through the exact float formatter, a tenth of the recorder's
    /// time per row at full load.
    fn ms(&mut self, d: std::time::Duration) {
        self.sep();
        let mut cell = [0u8; MILLIS_CELL];
        self.bytes.extend_from_slice(millis(d, &mut cell));
    }

    /// Tokens per second with one decimal.
    fn tokens_per_s(&mut self, tps: f64) {
        use std::io::Write as _;
        self.sep();
        // Writing into a Vec cannot fail.
        let _ = write!(self.bytes, "{tps:.1}");
    }

    fn empty(&mut self) {
        self.sep();
    }

    /// Ends the row and writes it.
    fn finish(&mut self, out: &mut AtomicFile) -> std::io::Result<()> {
        use std::io::Write as _;
        self.bytes.push(b'\n');
        out.write_all(&self.bytes)
    }
}

/// Room for the longest [`millis`] cell (`u128` microseconds / 1000, a point, three digits).
const MILLIS_CELL: usize = 48;

/// A duration as milliseconds with three decimals, rounded to the nearest microsecond.
fn millis(d: std::time::Duration, cell: &mut [u8; MILLIS_CELL]) -> &[u8] {
    let us = (d.as_nanos() + 500) / 1000;
    let mut whole = itoa::Buffer::new();
    let whole = whole.format(us / 1000).as_bytes();
    let n = whole.len();
    cell[..n].copy_from_slice(whole);
    let frac = (us % 1000) as u16;
    cell[n] = b'.';
    cell[n + 1] = b'0' + (frac / 100) as u8;
    cell[n + 2] = b'0' + (frac / 10 % 10) as u8;
    cell[n + 3] = b'0' + (frac % 10) as u8;
    &cell[..n + 4]
}

impl std::fmt::Debug for RecordCsv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordCsv").finish_non_exhaustive()
    }
}

impl RecordCsv {
    /// Starts both files in `dir` (which must exist); offsets are measured from `run_start`.
    pub fn create(dir: &Path, run_start: Instant) -> anyhow::Result<Self> {
        let mut row = Row::default();
        let mut header = |path: std::path::PathBuf, columns: &[&str]| {
            let mut file = AtomicFile::create(&path)?;
            row.start();
            for c in columns {
                row.text(c);
            }
            row.finish(&mut file)
                .with_context(|| format!("cannot write {}", path.display()))?;
            anyhow::Ok(file)
        };
        let calls = header(dir.join("calls.csv"), CALLS_COLUMNS)?;
        let conversations = header(dir.join("conversations.csv"), CONVERSATIONS_COLUMNS)?;
        Ok(RecordCsv {
            calls,
            conversations,
            run_start,
            row,
        })
    }

    /// Appends one conversation's rows; calls are priced by the model that answered.
    pub fn write(&mut self, rec: &ConversationRecord, prices: &PriceTable) -> anyhow::Result<()> {
        self.write_rows(rec, prices)
            .context("cannot write calls.csv or conversations.csv rows")
    }

    fn write_rows(&mut self, rec: &ConversationRecord, prices: &PriceTable) -> std::io::Result<()> {
        let r = &mut self.row;
        let mut usd_total = 0.0;
        for call in &rec.calls {
            let usd = metrics::call_cost_usd(prices, call).unwrap_or(0.0);
            usd_total += usd;
            let sent = call
                .attempts
                .iter()
                .filter(|a| !metrics::is_local_refusal(a.error))
                .count();
            r.start();
            r.int(rec.conversation_id);
            r.int(rec.user_id);
            r.int(rec.turn);
            r.int(call.step);
            r.text(&call.model_asked);
            r.text(call.model_answered.as_deref().unwrap_or(""));
            r.int(sent);
            r.int(call.retries());
            r.flag(call.fallback);
            match call.status {
                Some(st) => r.int(st),
                None => r.empty(),
            }
            r.raw(call.error.map(ErrorClass::as_str).unwrap_or(""));
            r.ms(call.latency);
            match call.ttft {
                Some(t) => r.ms(t),
                None => r.empty(),
            }
            r.int(call.usage.prompt_tokens);
            r.int(call.usage.cached_tokens);
            r.int(call.usage.completion_tokens);
            r.usd(usd);
            r.ms(call.started.saturating_duration_since(self.run_start));
            match call.ttft_answer {
                Some(t) => r.ms(t),
                None => r.empty(),
            }
            match call.tpot() {
                Some(t) => r.ms(t),
                None => r.empty(),
            }
            match call.output_tokens_per_s() {
                Some(tps) => r.tokens_per_s(tps),
                None => r.empty(),
            }
            match &call.finish_reason {
                Some(f) => r.text(f),
                None => r.empty(),
            }
            r.int(call.usage.reasoning_tokens);
            r.flag(call.stream_ignored);
            r.finish(&mut self.calls)?;
        }
        let u = rec.usage();
        r.start();
        r.int(rec.conversation_id);
        r.int(rec.user_id);
        r.int(rec.turn);
        r.raw(rec.outcome.as_str());
        r.int(rec.steps);
        r.int(rec.calls.len());
        r.int(rec.tools.len());
        r.ms(rec.started.saturating_duration_since(self.run_start));
        r.ms(rec.latency);
        match rec.intended_start {
            Some(i) => r.ms((rec.started + rec.latency).saturating_duration_since(i)),
            None => r.empty(),
        }
        r.int(u.prompt_tokens);
        r.int(u.cached_tokens);
        r.int(u.completion_tokens);
        r.usd(usd_total);
        r.text(&rec.sanitizer_threats.join(";"));
        r.flag(rec.budget_warning);
        match rec.session_wait {
            Some(w) => r.ms(w),
            None => r.empty(),
        }
        r.text(rec.error_detail.as_deref().unwrap_or(""));
        r.finish(&mut self.conversations)
    }

    /// Pushes the rows written so far to both temporary files (and with `sync` to the disk),
    /// so a run killed hard still leaves them readable.
    pub fn checkpoint(&mut self, sync: bool) -> std::io::Result<()> {
        self.calls.checkpoint(sync)?;
        self.conversations.checkpoint(sync)
    }

    /// Flushes both files and renames them into place.
    pub fn finish(self) -> anyhow::Result<()> {
        self.calls.commit().context("cannot finish calls.csv")?;
        self.conversations
            .commit()
            .context("cannot finish conversations.csv")
    }
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

/// Writes every CSV that comes from the final metrics (not the streamed ones).
pub fn write_metric_files(dir: &Path, m: &RunMetrics) -> anyhow::Result<()> {
    write_latency_percentiles(dir, m)?;
    write_timeline(dir, m)?;
    write_cost_by_model(dir, m)?;
    write_errors(dir, m)
}

#[cfg(test)]
mod tests {
    use super::{MILLIS_CELL, Row, millis};
    use std::time::Duration;

    /// The hand-built rows are byte for byte what the `csv` crate writes for the same cells.
    #[test]
    fn rows_are_what_the_csv_crate_writes() {
        let texts = [
            "plain",
            "",
            "with,comma",
            "say \"hi\"",
            "\"",
            "two\nlines",
            "cr\r",
            "ignore_previous;dan_jailbreak",
            "tôi, \"bạn\"",
            " leading space",
        ];
        let mut row = Row::default();
        row.start();
        row.empty();
        for t in texts {
            row.text(t);
            row.int(42_u64);
        }
        row.flag(true);
        row.usd(0.000_012_5);
        row.ms(Duration::from_micros(1_234_567));
        row.empty();
        row.bytes.push(b'\n');

        let mut want = csv::Writer::from_writer(Vec::new());
        let mut cells: Vec<String> = vec![String::new()];
        for t in texts {
            cells.push(t.to_string());
            cells.push("42".to_string());
        }
        cells.extend(["true", "0.0000125", "1234.567", ""].map(String::from));
        want.write_record(&cells).unwrap();
        let want = want.into_inner().unwrap();
        assert_eq!(
            String::from_utf8(row.bytes).unwrap(),
            String::from_utf8(want).unwrap()
        );
    }

    #[test]
    fn millis_have_three_decimals_rounded_to_the_microsecond() {
        let cases = [
            (Duration::ZERO, "0.000"),
            (Duration::from_nanos(499), "0.000"),
            (Duration::from_nanos(500), "0.001"),
            (Duration::from_nanos(1_234_567), "1.235"),
            (Duration::from_micros(999_999), "999.999"),
            (Duration::from_millis(1_000), "1000.000"),
            (
                Duration::from_secs(3_600) + Duration::from_micros(42),
                "3600000.042",
            ),
            // The longest duration there is still fits the cell.
            (Duration::MAX, "18446744073709551616000.000"),
        ];
        for (d, want) in cases {
            let mut cell = [0u8; MILLIS_CELL];
            assert_eq!(millis(d, &mut cell), want.as_bytes(), "{d:?}");
            // The same text the float formatter gives away from half-microsecond ties.
            if d.as_nanos() % 1000 != 500 {
                assert_eq!(format!("{:.3}", d.as_secs_f64() * 1000.0), want, "{d:?}");
            }
        }
    }
}
