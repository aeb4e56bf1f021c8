//! `GET /metrics`: the mock's counters in Prometheus' text format, under vLLM's metric names and
//! meanings, so dashboards and scrapers built for vLLM work against the mock unchanged.
//!
//! What is served (every counter equals the matching `/mock/stats` figure at the same moment):
//! - `vllm:num_requests_running` (gauge): chat requests between their place in a model's
//!   capacity (at once, without one) and the end of their reply body (a stream counts until
//!   its last byte or until the client goes away);
//! - `vllm:num_requests_waiting` (gauge): chat requests waiting in a model's queue for a place
//!   (`max_concurrency`), as vLLM's waiting queue; 0 without a capacity model;
//! - `vllm:prompt_tokens_total`, `vllm:generation_tokens_total` (counters, per `model_name`):
//!   `tokens_by_model[model].prompt_tokens` and `.completion_tokens` of `/mock/stats`, that is
//!   the usage of replies that carried one;
//! - `vllm:request_success_total` (counter, per `model_name`): replies with status 200,
//!   `by_model_status[model]["200"]`;
//! - `vllm:time_to_first_token_seconds` and `vllm:e2e_request_latency_seconds` (histograms with
//!   vLLM's buckets, all models together) of 200 replies: from the request's arrival to its first
//!   body frame (the whole body when not streamed), and to the end of the body (or the moment
//!   it was cut or abandoned by the client).
//!
//! The histograms are fixed buckets of atomics: recording is two relaxed adds, no lock.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::stats::StatsSnapshot;

/// vLLM's bucket bounds for time to first token, in seconds.
const TTFT_BOUNDS_S: &[f64] = &[
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
];

/// vLLM's bucket bounds for end-to-end request latency, in seconds.
const E2E_BOUNDS_S: &[f64] = &[
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
    480.0, 960.0, 1920.0, 7680.0,
];

/// A Prometheus histogram with fixed bounds: per-bucket counts (not cumulative; summed when
/// written; their total is the count) and the sum in microseconds.
pub struct Histogram {
    bounds_s: &'static [f64],
    /// One more than `bounds_s`: the last is `+Inf`.
    buckets: Box<[AtomicU64]>,
    sum_us: AtomicU64,
}

impl Histogram {
    fn new(bounds_s: &'static [f64]) -> Histogram {
        Histogram {
            bounds_s,
            buckets: (0..=bounds_s.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
        }
    }

    /// vLLM's time-to-first-token histogram.
    pub fn ttft() -> Histogram {
        Histogram::new(TTFT_BOUNDS_S)
    }

    /// vLLM's end-to-end latency histogram.
    pub fn e2e() -> Histogram {
        Histogram::new(E2E_BOUNDS_S)
    }

    /// Counts one observation.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = self.bounds_s.partition_point(|b| *b < s);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0u64;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            match self.bounds_s.get(i) {
                Some(b) => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        // The sum and count written after the buckets, and the count as the +Inf bucket's, so
        // a scrape racing an observation still reads a consistent histogram.
        let sum_s = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum_s}");
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
}

/// The live figures `/metrics` adds to a stats snapshot: kept by the server for every chat
/// request, whatever its outcome (see [`Live::begin`]).
pub struct Live {
    /// Chat requests in progress.
    running: AtomicU64,
    /// Time to first token of 200 replies.
    ttft: Histogram,
    /// End-to-end latency of 200 replies.
    e2e: Histogram,
}

impl Default for Live {
    fn default() -> Live {
        Live {
            running: AtomicU64::new(0),
            ttft: Histogram::ttft(),
            e2e: Histogram::e2e(),
        }
    }
}

impl Live {
    /// A chat request arrived: counted as running until the returned guard is dropped (its
    /// reply body sent, or the request abandoned).
    pub fn begin(self: &Arc<Live>) -> InFlight {
        self.running.fetch_add(1, Ordering::Relaxed);
        InFlight {
            live: Arc::clone(self),
            started: Instant::now(),
            ok: false,
            first_seen: false,
        }
    }

    /// Chat requests in progress.
    pub fn running(&self) -> u64 {
        self.running.load(Ordering::Relaxed)
    }
}

/// One chat request in progress; dropping it ends it.
pub struct InFlight {
    live: Arc<Live>,
    started: Instant,
    ok: bool,
    first_seen: bool,
}

impl InFlight {
    /// The reply's status is 200: its timings go into the histograms.
    pub fn set_ok(&mut self) {
        self.ok = true;
    }

    /// A body frame is going out: the first one is the time to first token.
    pub fn frame(&mut self) {
        if self.ok && !self.first_seen {
            self.first_seen = true;
            self.live.ttft.observe(self.started.elapsed());
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.live.running.fetch_sub(1, Ordering::Relaxed);
        if self.ok && self.first_seen {
            self.live.e2e.observe(self.started.elapsed());
        }
    }
}

/// Escapes a label value (backslash, quote, newline), as the text format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn per_model(out: &mut String, name: &str, help: &str, rows: impl Iterator<Item = (String, u64)>) {
    // No HELP and TYPE before the first model is seen: strict parsers refuse a family
    // without samples.
    let mut first = true;
    for (model, v) in rows {
        if first {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            first = false;
        }
        let _ = writeln!(out, "{name}{{model_name=\"{}\"}} {v}", label(&model));
    }
}

/// The whole `/metrics` page.
/// `waiting` is the requests waiting in the models' queues now: they are in progress for
/// [`Live`] but not yet running.
pub fn render(snap: &StatsSnapshot, live: &Live, waiting: u64) -> String {
    let mut out = String::with_capacity(4096);
    let _ = writeln!(
        out,
        "# HELP vllm:num_requests_running Number of requests in model execution batches.\n\
         # TYPE vllm:num_requests_running gauge\n\
         vllm:num_requests_running {}",
        live.running().saturating_sub(waiting)
    );
    let _ = writeln!(
        out,
        "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n\
         # TYPE vllm:num_requests_waiting gauge\n\
         vllm:num_requests_waiting {waiting}"
    );
    per_model(
        &mut out,
        "vllm:prompt_tokens_total",
        "Number of prefill tokens processed.",
        snap.tokens_by_model
            .iter()
            .map(|(m, t)| (m.clone(), t.prompt_tokens)),
    );
    per_model(
        &mut out,
        "vllm:generation_tokens_total",
        "Number of generation tokens processed.",
        snap.tokens_by_model
            .iter()
            .map(|(m, t)| (m.clone(), t.completion_tokens)),
    );
    per_model(
        &mut out,
        "vllm:request_success_total",
        "Count of successfully processed requests.",
        snap.by_model_status
            .iter()
            .map(|(m, s)| (m.clone(), s.get("200").copied().unwrap_or(0))),
    );
    live.ttft.write(
        &mut out,
        "vllm:time_to_first_token_seconds",
        "Histogram of time to first token in seconds.",
    );
    live.e2e.write(
        &mut out,
        "vllm:e2e_request_latency_seconds",
        "Histogram of end to end request latency in seconds.",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_le_inclusive() {
        let h = Histogram::ttft();
        h.observe(Duration::from_millis(1)); // exactly on the first bound: in it
        h.observe(Duration::from_millis(30));
        h.observe(Duration::from_secs(5000)); // past the last bound: +Inf only
        let mut out = String::new();
        h.write(&mut out, "t", "help");
        assert!(out.contains("t_bucket{le=\"0.001\"} 1\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"0.02\"} 1\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"0.04\"} 2\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"2560\"} 2\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("t_count 3\n"), "{out}");
        assert!(out.contains("t_sum 5000.031\n"), "{out}");
    }

    #[test]
    fn no_family_is_left_without_samples() {
        let page = render(&StatsSnapshot::default(), &Live::default(), 0);
        assert!(!page.contains("vllm:prompt_tokens_total"), "{page}");
        assert!(page.contains("vllm:num_requests_running 0\n"), "{page}");
        assert!(
            page.contains("vllm:e2e_request_latency_seconds_count 0\n"),
            "{page}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
