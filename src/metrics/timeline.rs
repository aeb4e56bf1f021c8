//! The per-second timeline: what happened in each second of the run.
//!
//! Calls, errors, fallbacks, tokens and dollars count in the second the call *ended* (when its
//! outcome was known, as load generators report throughput); conversations count as started in
//! their start second and finished in their end second. Each second keeps a small call-latency
//! histogram (2 significant digits, `u32` counts, created only for seconds that saw a call) so
//! its p95 is exact to 1%: about 8 KB per busy second, 30 MB for an hour-long run.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::chat::Usage;

/// Longest timeline kept: one day of seconds (under 10 MB of rows); anything later counts in
/// the last row. A load test of an LLM agent longer than a day is not what this is for.
pub const MAX_SECONDS: u64 = 24 * 3600;

/// One second of the run.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Second {
    /// Conversations that started in this second.
    pub conversations_started: u64,
    /// Conversations that ended in this second.
    pub conversations_finished: u64,
    /// LLM calls that ended in this second.
    pub calls: u64,
    /// Of those, failed calls.
    pub errors: u64,
    /// Of those, calls answered by a fallback.
    pub fallbacks: u64,
    /// Tokens of those calls.
    pub usage: Usage,
    /// Dollars of those calls.
    pub usd: f64,
    /// Seconds (0..=1) each breaker key spent open during this second.
    pub breaker_open_s: BTreeMap<String, f64>,
    // Boxed: most seconds of a quiet run have none, and rows stay small.
    #[serde(with = "super::state::opt_hist")]
    call_latency_us: Option<Box<Histogram<u32>>>,
}

impl Second {
    /// Records one call's latency in this second's histogram.
    pub fn record_call_latency(&mut self, us: u64) {
        let h = self.call_latency_us.get_or_insert_with(|| {
            // 2 digits is valid for hdrhistogram, so this cannot fail.
            Box::new(Histogram::new(2).expect("2 significant digits is a valid HDR precision"))
        });
        super::hist::record(h, us);
    }

    /// Adds `other`'s call latencies to this second's (merging shards' timelines).
    pub fn add_latencies(&mut self, other: &Second) {
        let Some(from) = other.call_latency_us.as_deref() else {
            return;
        };
        match self.call_latency_us.as_deref_mut() {
            // Both are auto-resizing histograms of one precision: adding cannot fail short of
            // a count overflow, which saturating addition keeps at the top.
            Some(into) => {
                if into.add(from).is_err() {
                    for v in from.iter_recorded() {
                        into.saturating_record_n(v.value_iterated_to(), v.count_at_value());
                    }
                }
            }
            None => self.call_latency_us = Some(Box::new(from.clone())),
        }
    }

    /// p95 of the latency of calls that ended in this second, microseconds; `None` if none did.
    pub fn call_p95_us(&self) -> Option<u64> {
        self.call_latency_us
            .as_ref()
            .filter(|h| !h.is_empty())
            .map(|h| h.value_at_quantile(0.95))
    }
}

/// Seconds from the run's start, index 0 being `[0 s, 1 s)`.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Timeline {
    /// One entry per second, up to the last second anything happened or the run ended.
    pub seconds: Vec<Second>,
}

impl Timeline {
    /// The second holding offset `t`, created (with any before it) if needed. Offsets past
    /// [`MAX_SECONDS`] land in the last second, so a bogus time cannot allocate without bound.
    pub fn at(&mut self, t: Duration) -> &mut Second {
        let i = usize::try_from(t.as_secs().min(MAX_SECONDS - 1)).unwrap_or(0);
        if self.seconds.len() <= i {
            self.seconds.resize_with(i + 1, Second::default);
        }
        &mut self.seconds[i]
    }

    /// Fills `breaker_open_s` from transitions sorted by time; a breaker still open at the end
    /// counts as open until `run_duration`.
    pub fn apply_breaker_open(
        &mut self,
        transitions: &[BreakerTransitionAt],
        run_duration: Duration,
    ) {
        let mut open_since: BTreeMap<&str, Duration> = BTreeMap::new();
        let mut spans: Vec<(&str, Duration, Duration)> = Vec::new();
        for t in transitions {
            let was_open = open_since.contains_key(t.key.as_str());
            if t.to == "open" && !was_open {
                open_since.insert(&t.key, t.at);
            } else if t.to != "open"
                && let Some(start) = open_since.remove(t.key.as_str())
            {
                spans.push((&t.key, start, t.at));
            }
        }
        for (key, start) in open_since {
            spans.push((key, start, run_duration.max(start)));
        }
        for (key, start, end) in spans {
            if end <= start {
                continue;
            }
            // Make sure the seconds exist up to the span's end, so shading reaches it.
            self.at(end.saturating_sub(Duration::from_nanos(1)));
            let first = start.as_secs();
            let last = end.saturating_sub(Duration::from_nanos(1)).as_secs();
            for s in first..=last {
                let lo = Duration::from_secs(s).max(start);
                let hi = Duration::from_secs(s + 1).min(end);
                if hi > lo {
                    *self
                        .at(Duration::from_secs(s))
                        .breaker_open_s
                        .entry(key.to_string())
                        .or_default() += (hi - lo).as_secs_f64();
                }
            }
        }
        // A run that ended with nothing in its last seconds still shows them.
        if run_duration > Duration::ZERO {
            self.at(run_duration.saturating_sub(Duration::from_nanos(1)));
        }
    }
}

/// A breaker transition with its time as an offset from the run's start.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BreakerTransitionAt {
    /// Which breaker.
    pub key: String,
    /// State before.
    pub from: String,
    /// State after.
    pub to: String,
    /// Time since the run started.
    pub at: Duration,
}
