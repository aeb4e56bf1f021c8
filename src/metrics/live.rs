//! Live figures for the progress line: a few atomics the aggregator bumps after each
//! conversation and the progress task reads once per second.
//!
//! Relaxed ordering is enough: each figure is read on its own, and a progress line that mixes
//! values a few microseconds apart is still correct to the eye.

use std::sync::atomic::{AtomicU64, Ordering};

/// Running totals of a run, readable from any task.
#[derive(Debug, Default)]
pub struct LiveStats {
    users_active: AtomicU64,
    conversations: AtomicU64,
    calls: AtomicU64,
    errors: AtomicU64,
    fallbacks: AtomicU64,
    nano_usd: AtomicU64,
    p95_call_us: AtomicU64,
}

/// One reading of [`LiveStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveSnapshot {
    /// Virtual users running now (set by the runner).
    pub users_active: u64,
    /// Conversations finished so far.
    pub conversations: u64,
    /// LLM calls finished so far.
    pub calls: u64,
    /// LLM calls failed so far.
    pub errors: u64,
    /// LLM calls answered by a fallback so far.
    pub fallbacks: u64,
    /// Dollars spent so far, in nano-dollars.
    pub nano_usd: u64,
    /// p95 of LLM call latency so far, microseconds (refreshed a few times a second).
    pub p95_call_us: u64,
}

impl LiveSnapshot {
    /// Dollars spent so far.
    pub fn usd(&self) -> f64 {
        self.nano_usd as f64 / super::hist::NANO_USD_PER_USD
    }
}

impl LiveStats {
    /// Sets how many virtual users are running (the runner knows, the records do not).
    pub fn set_users_active(&self, users: u64) {
        self.users_active.store(users, Ordering::Relaxed);
    }

    /// Adds one finished conversation's figures.
    pub fn add_conversation(&self, calls: u64, errors: u64, fallbacks: u64, nano_usd: u64) {
        self.conversations.fetch_add(1, Ordering::Relaxed);
        self.calls.fetch_add(calls, Ordering::Relaxed);
        self.errors.fetch_add(errors, Ordering::Relaxed);
        self.fallbacks.fetch_add(fallbacks, Ordering::Relaxed);
        self.nano_usd.fetch_add(nano_usd, Ordering::Relaxed);
    }

    /// Sets the p95 of call latency so far.
    pub fn set_p95_call_us(&self, us: u64) {
        self.p95_call_us.store(us, Ordering::Relaxed);
    }

    /// Reads every figure.
    pub fn snapshot(&self) -> LiveSnapshot {
        LiveSnapshot {
            users_active: self.users_active.load(Ordering::Relaxed),
            conversations: self.conversations.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            fallbacks: self.fallbacks.load(Ordering::Relaxed),
            nano_usd: self.nano_usd.load(Ordering::Relaxed),
            p95_call_us: self.p95_call_us.load(Ordering::Relaxed),
        }
    }
}
