//! Circuit breakers, one per (endpoint, model), shared by every virtual user.
//!
//! Closed: calls flow; the breaker trips to open after `failure_threshold` consecutive failures,
//! or (when `failure_rate` is set) when the failure rate over the last `window` reaches it with
//! at least `min_calls` calls. Open: calls are refused locally until `recovery_timeout` passed.
//! Half-open: exactly `half_open_max_calls` probe calls are admitted; when all of them succeed
//! the breaker closes, when one fails it reopens.
//!
//! What counts: 429 and 5xx, timeouts, connection errors, cut streams and malformed replies are
//! failures; client errors (400, 401, 403, 404, 409, 422, context length) are neither failure nor
//! success, because they say nothing about the server's health. The breaker's own rejections are
//! never failures (the seed's breaker counted them, so it never closed under steady traffic).
//!
//! Cost: one `std::sync::Mutex` held for a few instructions per call, never across an await.
//! A [`Permit`] dropped without an outcome (a cancelled call) frees its half-open probe slot.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::client::LlmError;
use crate::record::ErrorClass;
use crate::units::HumanDuration;

/// Buckets of the failure-rate window (the window slides in steps of `window / BUCKETS`).
const BUCKETS: usize = 10;

/// Transitions kept per breaker; beyond this they are counted, not stored (only a breaker
/// flapping with a tiny recovery timeout could get there).
const MAX_TRANSITIONS: usize = 10_000;

/// `[agent.breaker]` in a scenario file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker (`failure_threshold`, 5).
    pub failure_threshold: u32,
    /// Time open before probing (`recovery_timeout`, `"60s"`).
    pub recovery_timeout: HumanDuration,
    /// Probe calls admitted while half-open; all must succeed to close (`half_open_max_calls`, 3).
    pub half_open_max_calls: u32,
    /// Also open when the failure rate over `window` reaches this fraction (0 < r <= 1);
    /// unset disables rate mode (`failure_rate`).
    pub failure_rate: Option<f64>,
    /// Sliding window of the failure rate (`window`, `"60s"`).
    pub window: HumanDuration,
    /// Calls needed in the window before the rate may trip the breaker (`min_calls`, 20).
    pub min_calls: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            recovery_timeout: HumanDuration(Duration::from_secs(60)),
            half_open_max_calls: 3,
            failure_rate: None,
            window: HumanDuration(Duration::from_secs(60)),
            min_calls: 20,
        }
    }
}

impl BreakerConfig {
    /// Checks values serde cannot: zero thresholds and rates outside (0, 1].
    pub fn validate(&self) -> Result<(), String> {
        if self.failure_threshold == 0 {
            return Err("agent.breaker.failure_threshold = 0 would open the breaker before any call; use 1 or more".into());
        }
        if self.half_open_max_calls == 0 {
            return Err("agent.breaker.half_open_max_calls = 0 would never close the breaker again; use 1 or more".into());
        }
        if let Some(r) = self.failure_rate
            && !(r > 0.0 && r <= 1.0)
        {
            return Err(format!(
                "agent.breaker.failure_rate = {r} is not a fraction in (0, 1]; write 0.5 for 50 %"
            ));
        }
        if self.failure_rate.is_some() && self.window.0.is_zero() {
            return Err(
                "agent.breaker.window must be longer than 0s when failure_rate is set".into(),
            );
        }
        Ok(())
    }
}

/// A breaker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Calls are refused locally.
    Open,
    /// A limited number of probe calls test the endpoint.
    HalfOpen,
}

impl BreakerState {
    /// Stable snake_case name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// One state change, with its time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakerTransition {
    /// Endpoint base URL of the breaker.
    pub endpoint: Arc<str>,
    /// Model of the breaker.
    pub model: Arc<str>,
    /// State before.
    pub from: BreakerState,
    /// State after.
    pub to: BreakerState,
    /// When it happened.
    pub at: Instant,
}

/// How an admitted call ended, as far as the breaker cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallResult {
    /// The endpoint answered.
    Success,
    /// The endpoint failed (429, 5xx, timeout, connection, cut stream, malformed reply).
    Failure,
    /// Says nothing about the endpoint's health (client errors, cancelled calls).
    Neutral,
}

impl CallResult {
    /// How an attempt's error counts: 4xx client errors are neutral; 408 is a timeout and counts.
    pub fn of(result: Result<(), &LlmError>) -> CallResult {
        let err = match result {
            Ok(()) => return CallResult::Success,
            Err(e) => e,
        };
        match err.class {
            ErrorClass::RateLimited
            | ErrorClass::Server
            | ErrorClass::Timeout
            | ErrorClass::Connection
            | ErrorClass::StreamCut
            | ErrorClass::Malformed => CallResult::Failure,
            ErrorClass::Conflict if err.status == Some(408) => CallResult::Failure,
            _ => CallResult::Neutral,
        }
    }
}

/// A refusal: the breaker is open (or half-open with every probe slot taken).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// The state that refused.
    pub state: BreakerState,
    /// Time until an open breaker will admit a probe; `None` when half-open.
    pub retry_in: Option<Duration>,
}

#[derive(Clone, Copy, Default)]
struct Bucket {
    /// Index of the window step this bucket holds (time since the breaker's birth / step).
    step: u64,
    calls: u32,
    failures: u32,
}

struct Inner {
    state: BreakerState,
    /// Bumped at every transition: a permit from an older generation reports into nothing.
    generation: u64,
    consecutive_failures: u32,
    opened_at: Instant,
    probes_admitted: u32,
    probes_succeeded: u32,
    buckets: [Bucket; BUCKETS],
    transitions: Vec<BreakerTransition>,
}

/// One breaker.
pub struct Breaker {
    endpoint: Arc<str>,
    model: Arc<str>,
    config: BreakerConfig,
    born: Instant,
    inner: Mutex<Inner>,
    rejections: AtomicU64,
    transitions_dropped: AtomicU64,
}

impl std::fmt::Debug for Breaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("state", &self.state())
            .finish()
    }
}

/// Admission to make one call; report its result with [`Permit::record`]. Dropping it without
/// recording counts as [`CallResult::Neutral`] (frees a half-open probe slot).
#[must_use = "record the call's result on the permit"]
pub struct Permit<'a> {
    breaker: &'a Breaker,
    generation: u64,
    probe: bool,
    recorded: bool,
}

impl Permit<'_> {
    /// True when this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// Reports how the call ended.
    pub fn record(mut self, result: CallResult) {
        self.recorded = true;
        self.breaker.on_result(self.generation, self.probe, result);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.recorded {
            self.breaker
                .on_result(self.generation, self.probe, CallResult::Neutral);
        }
    }
}

impl Breaker {
    /// A closed breaker for `model` at `endpoint`.
    pub fn new(endpoint: &str, model: &str, config: BreakerConfig) -> Self {
        let now = Instant::now();
        Breaker {
            endpoint: Arc::from(endpoint),
            model: Arc::from(model),
            config,
            born: now,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                generation: 0,
                consecutive_failures: 0,
                opened_at: now,
                probes_admitted: 0,
                probes_succeeded: 0,
                buckets: [Bucket::default(); BUCKETS],
                transitions: Vec::new(),
            }),
            rejections: AtomicU64::new(0),
            transitions_dropped: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves plain counters behind; keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The model this breaker guards.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The current state (an open breaker whose recovery time passed still reads open until a
    /// call asks to be admitted).
    pub fn state(&self) -> BreakerState {
        self.lock().state
    }

    /// Calls refused so far.
    pub fn rejections(&self) -> u64 {
        self.rejections.load(Ordering::Relaxed)
    }

    /// Every transition so far, oldest first.
    pub fn transitions(&self) -> Vec<BreakerTransition> {
        self.lock().transitions.clone()
    }

    /// Transitions not stored because more than 10,000 happened.
    pub fn transitions_dropped(&self) -> u64 {
        self.transitions_dropped.load(Ordering::Relaxed)
    }

    /// Asks to make one call now.
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        let now = Instant::now();
        let mut g = self.lock();
        if g.state == BreakerState::Open {
            // A recovery time past what an `Instant` holds means: stay open for this run.
            let reopen_at = g.opened_at.checked_add(self.config.recovery_timeout.0);
            if reopen_at.is_none_or(|t| now < t) {
                drop(g);
                self.rejections.fetch_add(1, Ordering::Relaxed);
                return Err(Rejected {
                    state: BreakerState::Open,
                    retry_in: reopen_at.map(|t| t - now),
                });
            }
            self.transition(&mut g, BreakerState::HalfOpen, now);
        }
        match g.state {
            BreakerState::HalfOpen => {
                if g.probes_admitted >= self.config.half_open_max_calls {
                    drop(g);
                    self.rejections.fetch_add(1, Ordering::Relaxed);
                    return Err(Rejected {
                        state: BreakerState::HalfOpen,
                        retry_in: None,
                    });
                }
                g.probes_admitted += 1;
                Ok(Permit {
                    breaker: self,
                    generation: g.generation,
                    probe: true,
                    recorded: false,
                })
            }
            _ => Ok(Permit {
                breaker: self,
                generation: g.generation,
                probe: false,
                recorded: false,
            }),
        }
    }

    fn transition(&self, g: &mut Inner, to: BreakerState, now: Instant) {
        let from = g.state;
        g.state = to;
        g.generation += 1;
        g.consecutive_failures = 0;
        g.probes_admitted = 0;
        g.probes_succeeded = 0;
        if to == BreakerState::Open {
            g.opened_at = now;
        }
        if to == BreakerState::Closed {
            g.buckets = [Bucket::default(); BUCKETS];
        }
        if g.transitions.len() < MAX_TRANSITIONS {
            g.transitions.push(BreakerTransition {
                endpoint: self.endpoint.clone(),
                model: self.model.clone(),
                from,
                to,
                at: now,
            });
        } else {
            self.transitions_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The window step `now` falls in, and the bucket for it (cleared if it held an old step).
    fn bucket<'g>(&self, g: &'g mut Inner, now: Instant) -> &'g mut Bucket {
        let step_ns = (self.config.window.0.as_nanos() / BUCKETS as u128).max(1);
        let step = ((now - self.born).as_nanos() / step_ns) as u64;
        let b = &mut g.buckets[(step % BUCKETS as u64) as usize];
        if b.step != step {
            *b = Bucket {
                step,
                calls: 0,
                failures: 0,
            };
        }
        b
    }

    fn rate_tripped(&self, g: &Inner, now: Instant) -> bool {
        let Some(rate) = self.config.failure_rate else {
            return false;
        };
        let step_ns = (self.config.window.0.as_nanos() / BUCKETS as u128).max(1);
        let current = ((now - self.born).as_nanos() / step_ns) as u64;
        let (calls, failures) = g
            .buckets
            .iter()
            .filter(|b| b.step + (BUCKETS as u64) > current)
            .fold((0u32, 0u32), |(c, f), b| (c + b.calls, f + b.failures));
        calls >= self.config.min_calls.max(1) && f64::from(failures) >= rate * f64::from(calls)
    }

    fn on_result(&self, generation: u64, probe: bool, result: CallResult) {
        let now = Instant::now();
        let mut g = self.lock();
        if g.generation != generation {
            // Admitted before the last transition: its news is stale (a slow call from the
            // closed era must not close or reopen a breaker that has moved on).
            return;
        }
        match (g.state, result) {
            (BreakerState::HalfOpen, CallResult::Success) if probe => {
                g.probes_succeeded += 1;
                if g.probes_succeeded >= self.config.half_open_max_calls {
                    self.transition(&mut g, BreakerState::Closed, now);
                }
            }
            (BreakerState::HalfOpen, CallResult::Failure) if probe => {
                self.transition(&mut g, BreakerState::Open, now);
            }
            (BreakerState::HalfOpen, CallResult::Neutral) if probe => {
                // No verdict: let another probe take the slot.
                g.probes_admitted = g.probes_admitted.saturating_sub(1);
            }
            (BreakerState::Closed, CallResult::Success) => {
                g.consecutive_failures = 0;
                if self.config.failure_rate.is_some() {
                    self.bucket(&mut g, now).calls += 1;
                }
            }
            (BreakerState::Closed, CallResult::Failure) => {
                g.consecutive_failures += 1;
                if self.config.failure_rate.is_some() {
                    let b = self.bucket(&mut g, now);
                    b.calls += 1;
                    b.failures += 1;
                }
                if g.consecutive_failures >= self.config.failure_threshold
                    || self.rate_tripped(&g, now)
                {
                    self.transition(&mut g, BreakerState::Open, now);
                }
            }
            _ => {}
        }
    }
}

/// Breakers by endpoint and model, created on first use and shared by all virtual users.
#[derive(Debug)]
pub struct BreakerRegistry {
    config: BreakerConfig,
    /// foldhash: looked up twice per call with names from the scenario, not from traffic.
    map: RwLock<foldhash::HashMap<String, foldhash::HashMap<String, Arc<Breaker>>>>,
}

impl BreakerRegistry {
    /// An empty registry whose breakers all use `config`.
    pub fn new(config: BreakerConfig) -> Self {
        BreakerRegistry {
            config,
            map: RwLock::default(),
        }
    }

    /// The breaker of `model` at `endpoint`, created closed if new.
    pub fn get(&self, endpoint: &str, model: &str) -> Arc<Breaker> {
        {
            let map = self.map.read().unwrap_or_else(|p| p.into_inner());
            if let Some(b) = map.get(endpoint).and_then(|m| m.get(model)) {
                return b.clone();
            }
        }
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        map.entry(endpoint.to_string())
            .or_default()
            .entry(model.to_string())
            .or_insert_with(|| Arc::new(Breaker::new(endpoint, model, self.config.clone())))
            .clone()
    }

    /// Every breaker created so far.
    pub fn breakers(&self) -> Vec<Arc<Breaker>> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.values().flat_map(|m| m.values().cloned()).collect()
    }

    /// Every transition of every breaker, in time order.
    pub fn transitions(&self) -> Vec<BreakerTransition> {
        let mut all: Vec<BreakerTransition> = self
            .breakers()
            .iter()
            .flat_map(|b| b.transitions())
            .collect();
        all.sort_by_key(|t| t.at);
        all
    }
}

#[cfg(test)]
mod tests;
