//! What every task of a run shares: the start, the deadline, the stop flag, the conversation
//! counters (atomics touched once per conversation), the driver and the workload; and the
//! guard that sends a session's trace entry however the session ends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};

use crate::scenario::{TraceEntry, Workload};
use crate::units::{CountRange, DurationRange};

/// State every task of a run reads; counters are atomics touched once per conversation.
pub(super) struct Shared<F> {
    pub(super) start: Instant,
    pub(super) deadline: Option<Instant>,
    pub(super) max_conversations: Option<u64>,
    pub(super) started: AtomicU64,
    pub(super) completed: AtomicU64,
    pub(super) stop: watch::Receiver<bool>,
    pub(super) trace: Option<mpsc::UnboundedSender<TraceEntry>>,
    pub(super) driver: F,
    pub(super) workload: Workload,
    pub(super) think_time: DurationRange,
    pub(super) turns_per_session: CountRange,
}

impl<F> Shared<F> {
    pub(super) fn stopped(&self) -> bool {
        *self.stop.borrow() || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// True once `max_conversations` have started.
    pub(super) fn exhausted(&self) -> bool {
        self.max_conversations
            .is_some_and(|max| self.started.load(Ordering::Relaxed) >= max)
    }

    /// Takes the next conversation number, unless the run is stopping or at its cap.
    pub(super) fn claim(&self) -> Option<u64> {
        if self.stopped() {
            return None;
        }
        let max = self.max_conversations.unwrap_or(u64::MAX);
        self.started
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
    }

    /// Sleeps until `at`; false if the run stopped first (then the caller starts nothing).
    pub(super) async fn wait_until(&self, at: Instant) -> bool {
        if at <= Instant::now() {
            // Tokio's timer rounds a deadline up to its next 1 ms tick, so sleeping until `now`
            // (zero think time) cost up to a millisecond per wait: at zero latency, two of them
            // per conversation held the harness to a fifth of its capacity. Yield instead, which
            // still lets the timer driver (the run's deadline) and other users run.
            tokio::task::yield_now().await;
            return !self.stopped();
        }
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = sleep_until(at) => !self.stopped(),
            _ = stop.wait_for(|s| *s) => false,
        }
    }
}

/// True when a joined task ended by panicking.
pub(super) fn is_panic(joined: Option<Result<(), tokio::task::JoinError>>) -> bool {
    matches!(joined, Some(Err(e)) if e.is_panic())
}

/// Sends a session's trace entry when the session ends, however it ends (also when its task
/// is dropped at the end of the grace period).
pub(super) struct TraceGuard<'a> {
    pub(super) entry: TraceEntry,
    /// `None` when the run keeps no trace.
    pub(super) tx: Option<&'a mpsc::UnboundedSender<TraceEntry>>,
}

impl TraceGuard<'_> {
    pub(super) fn push(&mut self, prompt: &str) {
        if self.tx.is_some() {
            self.entry.turns.push(prompt.to_string());
        }
    }
}

impl Drop for TraceGuard<'_> {
    fn drop(&mut self) {
        if let Some(tx) = self.tx
            && !self.entry.turns.is_empty()
        {
            // The receiver lives until every task is gone; a failed send cannot happen.
            let _ = tx.send(std::mem::take(&mut self.entry));
        }
    }
}

pub(super) fn micros(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

pub(super) fn millis(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

/// `start` plus `seconds`, or `None` (never) when that is not a representable instant.
pub(super) fn offset(start: Instant, seconds: f64) -> Option<Instant> {
    Duration::try_from_secs_f64(seconds)
        .ok()
        .and_then(|d| start.checked_add(d))
}

pub(super) async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}
