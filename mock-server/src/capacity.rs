//! A model's capacity, as real servers have one: at most `max_concurrency` requests are
//! served at once and the rest wait in a queue (their wait is part of their time to first
//! token, as in vLLM's waiting queue); `throughput_tokens_per_s` output tokens per second are
//! shared by the replies in progress (each reply's token rate is the throughput divided by the
//! replies in progress when it is admitted, never faster than `per_token`: continuous
//! batching); a queue longer than `max_queue` refuses the request (429 or 503).
//!
//! The share is taken once, at admission, so each reply keeps the schedule it was given
//! (every chunk is due at an instant from its start): a model of processor sharing that is
//! exact while the load is steady, and errs towards the load at admission when it changes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::ModelSettings;

/// One model's (or the default settings') queue and servers.
pub struct Capacity {
    slots: Option<Arc<Semaphore>>,
    max_queue: Option<u64>,
    throughput: Option<f64>,
    waiting: AtomicU64,
    active: Arc<AtomicU64>,
}

/// A request being served: holds its place until dropped (with its reply's body).
pub struct Admission {
    _slot: Option<OwnedSemaphorePermit>,
    active: Arc<AtomicU64>,
    /// How long the request waited for its place.
    pub waited: Duration,
    /// Requests in progress at admission, this one included.
    pub active_at_admission: u64,
    /// Requests waiting at admission, this one excluded.
    pub waiting_at_admission: u64,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The queue was full: the request is refused.
pub struct QueueFull {
    /// Requests waiting when it came.
    pub waiting: u64,
}

impl Capacity {
    /// The capacity of `s`, or `None` when it has neither limit.
    pub fn of(s: &ModelSettings) -> Option<Capacity> {
        s.has_capacity().then(|| Capacity {
            slots: s
                .max_concurrency
                .map(|n| Arc::new(Semaphore::new(usize::try_from(n).unwrap_or(usize::MAX)))),
            max_queue: s.max_queue,
            throughput: s.throughput_tokens_per_s,
            waiting: AtomicU64::new(0),
            active: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Waits for a place (in arrival order: tokio's semaphore is fair), or refuses at once
    /// when `max_queue` requests already wait.
    pub async fn admit(&self) -> Result<Admission, QueueFull> {
        let start = tokio::time::Instant::now();
        let slot = match &self.slots {
            None => None,
            Some(slots) => match Arc::clone(slots).try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    let waiting = self.waiting.fetch_add(1, Ordering::Relaxed);
                    if self.max_queue.is_some_and(|max| waiting >= max) {
                        self.waiting.fetch_sub(1, Ordering::Relaxed);
                        return Err(QueueFull { waiting });
                    }
                    // Leaves the queue however the wait ends (also when the client leaves).
                    let _left = Left(&self.waiting);
                    let p = Arc::clone(slots).acquire_owned().await.ok();
                    drop(_left);
                    p
                }
            },
        };
        let active = self.active.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Admission {
            _slot: slot,
            active: Arc::clone(&self.active),
            waited: start.elapsed(),
            active_at_admission: active,
            waiting_at_admission: self.waiting.load(Ordering::Relaxed),
        })
    }

    /// Requests waiting for a place now.
    pub fn waiting(&self) -> u64 {
        self.waiting.load(Ordering::Relaxed)
    }

    /// The gap between output tokens of a reply admitted with `active` replies in
    /// progress: `per_token`, or the throughput's share when that is slower.
    pub fn token_gap(&self, per_token: Duration, active: u64) -> Duration {
        match self.throughput {
            Some(t) => per_token.max(Duration::from_secs_f64(active.max(1) as f64 / t)),
            None => per_token,
        }
    }
}

struct Left<'a>(&'a AtomicU64);

impl Drop for Left<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
