//! `calls.csv` and `conversations.csv`, streamed: [`RecordCsv`] appends each record's rows as
//! it arrives, into temporary files renamed into place when the run ends. The rows are built by
//! hand (`Row`) because this is the recorder's hot path.

use std::path::Path;

use anyhow::Context;
use tokio::time::Instant;

use super::{CALLS_COLUMNS, CONVERSATIONS_COLUMNS};
use crate::metrics;
use crate::pricing::PriceTable;
use crate::record::{ConversationRecord, ErrorClass};
use crate::report::atomic::AtomicFile;

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
