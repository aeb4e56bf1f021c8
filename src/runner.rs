//! Load models: the closed, open and replay shapes of a run, independent of the agent.
//!
//! [`run_load`] drives a caller-supplied async `driver`, one call per conversation (one user
//! turn run to its end), and owns the schedule: when each conversation starts, the deadline,
//! Ctrl-C, and the grace period for conversations in flight. The driver does the work and
//! forwards its records to the metrics; the runner only counts starts and ends.
//!
//! - **Closed**: one tokio task per virtual user (10,000 users are 10,000 small tasks, no
//!   threads). Each follows the stage profile (ramp-up is one stage from 0 to `users`): while
//!   its index is below the current target it runs sessions of several turns with think time
//!   between turns; above the target it finishes its conversation and waits, or stops when the
//!   profile never needs it again.
//! - **Open**: sessions arrive at a constant or Poisson rate, whatever the system's speed. The
//!   arrival loop runs in [`run_load`]'s own task, so the arrival schedule, the in-flight cap,
//!   dropped arrivals and scheduler lag have one owner and no lock.
//! - **Replay**: a trace's sessions start at their recorded offsets times `time_scale`.
//!
//! Every random choice comes from ChaCha streams seeded from the run's seed and the user's or
//! arrival's number, so a run's prompts are the same whatever the timing. A run returns its own
//! trace ([`LoadReport::trace`]) in the replay format unless its plan keeps none
//! (`LoadPlan::keep_trace`); [`write_trace`] writes it atomically.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

use crate::scenario::{Arrival, LoadPlan, LoadShape, Stage, TraceEntry, Workload};
use crate::units::{CountRange, DurationRange};

pub use crate::scenario::trace::write_trace;

/// Where a conversation's prompt came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptSource {
    /// Index of the `[[workload]]` source in the scenario.
    pub index: usize,
    /// The source's label (`benign`, `hostile` ...), for reporting.
    pub label: Option<Arc<str>>,
}

/// One conversation to run: what the driver receives.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversationSpec {
    /// Run-unique number, in order of start (0, 1, 2 ...).
    pub conversation_id: u64,
    /// Virtual user (closed model), arrival number (open model) or trace user (replay).
    pub user_id: u64,
    /// The user's session number (0-based, per user); turns of one session share history.
    pub session: u64,
    /// Turn within the session, 1-based.
    pub turn: u32,
    /// True for a session's first turn: the agent opens a new session.
    pub new_session: bool,
    /// True for a session's last planned turn (the driver can forget the session after it).
    pub last_turn: bool,
    /// The user's message.
    pub prompt: String,
    /// The workload source of the prompt; `None` when it came from a replayed trace.
    pub source: Option<PromptSource>,
    /// Open and replay models, first turn of a session: when the schedule meant it to start
    /// (latency from here is free of coordinated omission). `None` in the closed model.
    pub intended_start: Option<Instant>,
}

/// What a load run did.
#[derive(Debug)]
pub struct LoadReport {
    /// Conversations started (driver calls).
    pub started: u64,
    /// Conversations whose driver future completed; `started - completed` were cut off when
    /// the grace period ran out.
    pub completed: u64,
    /// Open model: arrivals dropped because `max_in_flight` sessions were running.
    pub dropped_arrivals: u64,
    /// Sessions whose task panicked (a bug in the harness: the run goes on without them).
    pub panicked: u64,
    /// Conversations cut in flight when the grace period ran out or `cut` completed (their
    /// drivers were dropped before they returned).
    pub cut: u64,
    /// True when the run stopped early (the `shutdown` future: Ctrl-C, SIGTERM, an
    /// `abort_on_fail` threshold, the spend cap) or cut conversations in flight.
    pub interrupted: bool,
    /// Open and replay models: how late each arrival was dispatched against its schedule,
    /// in microseconds.
    pub scheduler_lag_us: Histogram<u64>,
    /// From the start to the last conversation ending (or being cut off).
    pub elapsed: Duration,
    /// What the run started, one entry per session, sorted by offset then user: replayable
    /// with `[load] trace = ...`; write it with [`write_trace`]. Empty when the plan keeps no
    /// trace.
    pub trace: Vec<TraceEntry>,
}

/// Runs a load model to its end, calling `driver` once per conversation.
///
/// Stops starting conversations at the deadline (`duration`, or the end of explicit stages),
/// when every user has run `conversations_per_user`, after `max_conversations`, when a replay
/// trace is done, or when `shutdown` completes (Ctrl-C: the report is marked interrupted).
/// Conversations in flight then get up to `grace` to finish before they are dropped, or until
/// `cut` completes (a second Ctrl-C), whichever comes first.
/// Must be called inside a tokio runtime.
pub async fn run_load<F, Fut>(
    load: &LoadPlan,
    workload: &Workload,
    seed: u64,
    driver: F,
    shutdown: impl Future<Output = ()>,
    cut: impl Future<Output = ()>,
) -> LoadReport
where
    F: Fn(ConversationSpec) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let start = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let (trace_tx, mut trace_rx) = mpsc::unbounded_channel();
    let deadline = match &load.shape {
        LoadShape::Closed(c) if c.explicit_stages && load.duration.is_none() => {
            match load.conversations_per_user {
                None => c
                    .stages
                    .iter()
                    .try_fold(Duration::ZERO, |a, s| a.checked_add(s.duration))
                    .and_then(|d| start.checked_add(d)),
                Some(_) => None,
            }
        }
        // A deadline beyond what `Instant` holds is no deadline (validated plans stay far below).
        _ => load.duration.and_then(|d| start.checked_add(d)),
    };
    let shared = Arc::new(Shared {
        start,
        deadline,
        max_conversations: load.max_conversations,
        started: AtomicU64::new(0),
        completed: AtomicU64::new(0),
        stop: stop_rx,
        // Without a trace to keep, nothing is sent: the runner holds nothing per session.
        trace: load.keep_trace.then_some(trace_tx),
        driver,
        workload: workload.clone(),
        think_time: load.think_time,
        turns_per_session: load.turns_per_session,
    });

    let mut tasks = JoinSet::new();
    let mut arrivals = Arrivals::new(load, seed, start);
    if let LoadShape::Closed(c) = &load.shape {
        let profile: Arc<[Stage]> = c.stages.clone().into();
        for user in 0..c.users {
            let shared = Arc::clone(&shared);
            let profile = Arc::clone(&profile);
            let quota = load.conversations_per_user;
            tasks.spawn(closed_user(shared, profile, user, seed, quota));
        }
    }

    // The scheduling loop: arrivals, the deadline and Ctrl-C, reaping finished tasks.
    let mut shutdown = pin!(shutdown);
    let mut interrupted = false;
    let mut dropped_arrivals = 0u64;
    let mut panicked = 0u64;
    let mut lag_us = Histogram::<u64>::new(3).expect("3 significant figures is a valid precision");
    loop {
        if shared.exhausted() {
            arrivals = Arrivals::Done;
        }
        if matches!(arrivals, Arrivals::Done) && tasks.is_empty() {
            break;
        }
        let next_arrival = arrivals.next_at();
        tokio::select! {
            biased;
            _ = &mut shutdown => {
                interrupted = true;
                break;
            }
            _ = sleep_until_opt(deadline) => break,
            r = tasks.join_next(), if !tasks.is_empty() => {
                // A driver that panicked ends only its own user; the run goes on, and the
                // report says how many.
                panicked += u64::from(is_panic(r));
            }
            _ = sleep_until_opt(next_arrival) => {
                let Some(arrival) = arrivals.fire() else { continue };
                let now = Instant::now();
                lag_us.saturating_record(micros(now.saturating_duration_since(arrival.intended)));
                while let Some(r) = tasks.try_join_next() {
                    panicked += u64::from(is_panic(Some(r)));
                }
                if arrival.cap.is_some_and(|cap| tasks.len() as u64 >= cap) {
                    dropped_arrivals += 1;
                    continue;
                }
                tasks.spawn(session_task(Arc::clone(&shared), arrival));
            }
        }
    }

    // Stop starting conversations; let those in flight finish within the grace period.
    let _ = stop_tx.send(true);
    let grace_end = Instant::now() + load.grace;
    let mut cut = pin!(cut);
    loop {
        tokio::select! {
            r = tasks.join_next() => {
                if r.is_none() {
                    break;
                }
                panicked += u64::from(is_panic(r));
            }
            // The grace period ran out, or a second Ctrl-C asked to stop now.
            () = async {
                tokio::select! {
                    _ = sleep_until(grace_end) => {}
                    _ = &mut cut => {}
                }
            } => {
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                break;
            }
        }
    }
    let elapsed = start.elapsed();
    let started = shared.started.load(Ordering::Relaxed);
    let completed = shared.completed.load(Ordering::Relaxed);
    // A session whose driver panicked left its conversation unfinished too; it is counted
    // as panicked, not cut.
    let cut = started.saturating_sub(completed.saturating_add(panicked));
    // Every task is gone, so every trace guard has sent its session; the last sender goes
    // with `shared`.
    drop(shared);
    let mut trace = Vec::new();
    while let Some(entry) = trace_rx.recv().await {
        trace.push(entry);
    }
    trace.sort_by_key(|e: &TraceEntry| (e.offset_ms, e.user));
    LoadReport {
        started,
        completed,
        dropped_arrivals,
        panicked,
        cut,
        interrupted: interrupted || cut > 0,
        scheduler_lag_us: lag_us,
        elapsed,
        trace,
    }
}

/// State every task of a run reads; counters are atomics touched once per conversation.
struct Shared<F> {
    start: Instant,
    deadline: Option<Instant>,
    max_conversations: Option<u64>,
    started: AtomicU64,
    completed: AtomicU64,
    stop: watch::Receiver<bool>,
    trace: Option<mpsc::UnboundedSender<TraceEntry>>,
    driver: F,
    workload: Workload,
    think_time: DurationRange,
    turns_per_session: CountRange,
}

impl<F> Shared<F> {
    fn stopped(&self) -> bool {
        *self.stop.borrow() || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// True once `max_conversations` have started.
    fn exhausted(&self) -> bool {
        self.max_conversations
            .is_some_and(|max| self.started.load(Ordering::Relaxed) >= max)
    }

    /// Takes the next conversation number, unless the run is stopping or at its cap.
    fn claim(&self) -> Option<u64> {
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
    async fn wait_until(&self, at: Instant) -> bool {
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
fn is_panic(joined: Option<Result<(), tokio::task::JoinError>>) -> bool {
    matches!(joined, Some(Err(e)) if e.is_panic())
}

/// Sends a session's trace entry when the session ends, however it ends (also when its task
/// is dropped at the end of the grace period).
struct TraceGuard<'a> {
    entry: TraceEntry,
    /// `None` when the run keeps no trace.
    tx: Option<&'a mpsc::UnboundedSender<TraceEntry>>,
}

impl TraceGuard<'_> {
    fn push(&mut self, prompt: &str) {
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

/// One session's turns, decided when it starts.
type Script = Vec<(Option<PromptSource>, String)>;

/// Draws a session: a scripted multi-turn item plays its turns; otherwise the session has
/// `turns_per_session` turns, each an independent draw from the workload.
fn draw_script(workload: &Workload, turns: CountRange, rng: &mut ChaCha8Rng) -> Script {
    let source = |index: usize| {
        Some(PromptSource {
            index,
            label: workload.sources[index].label.as_deref().map(Arc::from),
        })
    };
    let Some((index, first)) = workload.pick(rng) else {
        return Vec::new();
    };
    let mut script = vec![(source(index), first.text.clone())];
    if !first.follow_ups.is_empty() {
        script.extend(first.follow_ups.iter().map(|t| (source(index), t.clone())));
        return script;
    }
    let n = rng.random_range(turns.min..=turns.max);
    for _ in 1..n {
        if let Some((index, item)) = workload.pick(rng) {
            script.push((source(index), item.text.clone()));
        }
    }
    script
}

fn draw_duration(range: DurationRange, rng: &mut ChaCha8Rng) -> Duration {
    if range.min == range.max {
        return range.min;
    }
    let lo = range.min.as_nanos().min(u128::from(u64::MAX)) as u64;
    let hi = range.max.as_nanos().min(u128::from(u64::MAX)) as u64;
    Duration::from_nanos(rng.random_range(lo..=hi))
}

/// Turns seed and stream number into independent generator seeds (SplitMix64's finalizer).
fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Stream numbers keep closed users' and open arrivals' generators apart.
const OPEN_STREAM: u64 = 1 << 62;
const ARRIVAL_STREAM: u64 = (1 << 62) - 1;

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

fn millis(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

/// `start` plus `seconds`, or `None` (never) when that is not a representable instant.
fn offset(start: Instant, seconds: f64) -> Option<Instant> {
    Duration::try_from_secs_f64(seconds)
        .ok()
        .and_then(|d| start.checked_add(d))
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// When user `user` is next wanted by the stage profile, at or after `now` (offsets from the
/// run's start), or `None` if never again.
///
/// The target ramps linearly through each stage. Ramping up from `a` to `b` over `d`, user
/// `i` (`a <= i < b`) joins at `d * (i - a) / (b - a)`; ramping down, user `i`
/// (`b <= i < a`) leaves at `d * (a - i) / (a - b)`. The last target holds for ever.
pub fn next_active(profile: &[Stage], user: u64, now: Duration) -> Option<Duration> {
    let at = |t0: Duration, d: Duration, num: u64, den: u64| {
        let nanos = d.as_nanos() * u128::from(num) / u128::from(den.max(1));
        t0 + Duration::from_nanos(nanos.min(u128::from(u64::MAX)) as u64)
    };
    let (mut t0, mut a) = (Duration::ZERO, 0u64);
    for stage in profile {
        let (t1, b) = (t0 + stage.duration, stage.target);
        // The part of [t0, t1) during which `user` is active.
        let active = if stage.duration.is_zero() {
            None
        } else if user < a.min(b) {
            Some((t0, t1))
        } else if a < b && user < b {
            Some((at(t0, stage.duration, user - a, b - a), t1))
        } else if b < a && user < a {
            Some((t0, at(t0, stage.duration, a - user, a - b)))
        } else {
            None
        };
        if let Some((s, e)) = active
            && e > now
        {
            return Some(s.max(now));
        }
        (t0, a) = (t1, b);
    }
    (user < a).then(|| t0.max(now))
}

/// One closed-model virtual user.
async fn closed_user<F, Fut>(
    shared: Arc<Shared<F>>,
    profile: Arc<[Stage]>,
    user: u64,
    seed: u64,
    quota: Option<u64>,
) where
    F: Fn(ConversationSpec) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, user));
    let mut done = 0u64;
    let mut session = 0u64;
    let active_now = |shared: &Shared<F>| {
        let now = shared.start.elapsed();
        next_active(&profile, user, now) == Some(now)
    };
    loop {
        let Some(at) = next_active(&profile, user, shared.start.elapsed()) else {
            return;
        };
        if !shared.wait_until(shared.start + at).await {
            return;
        }
        let script = draw_script(&shared.workload, shared.turns_per_session, &mut rng);
        if script.is_empty() {
            // Only an empty workload draws nothing; a validated plan has none.
            return;
        }
        let mut guard = TraceGuard {
            entry: TraceEntry {
                user,
                offset_ms: millis(shared.start.elapsed()),
                turns: Vec::new(),
            },
            tx: shared.trace.as_ref(),
        };
        let turns = script.len();
        for (i, (source, prompt)) in script.into_iter().enumerate() {
            if quota.is_some_and(|q| done >= q) {
                return;
            }
            if i > 0 {
                let think = draw_duration(shared.think_time, &mut rng);
                if !shared.wait_until(Instant::now() + think).await {
                    return;
                }
                // Above the current target: this user's conversation is over; it waits.
                if !active_now(&shared) {
                    break;
                }
            }
            let Some(conversation_id) = shared.claim() else {
                return;
            };
            guard.push(&prompt);
            let spec = ConversationSpec {
                conversation_id,
                user_id: user,
                session,
                turn: u32::try_from(i + 1).unwrap_or(u32::MAX),
                new_session: i == 0,
                last_turn: i + 1 == turns,
                prompt,
                source,
                intended_start: None,
            };
            (shared.driver)(spec).await;
            shared.completed.fetch_add(1, Ordering::Relaxed);
            done += 1;
        }
        drop(guard);
        session += 1;
        if quota.is_some_and(|q| done >= q) {
            return;
        }
        let think = draw_duration(shared.think_time, &mut rng);
        if !shared.wait_until(Instant::now() + think).await {
            return;
        }
    }
}

/// One arrival of the open or replay model: a session to run from `intended`.
struct Dispatch {
    user: u64,
    session: u64,
    intended: Instant,
    /// The replayed turns, or `None` to draw them from the workload with `rng_seed`.
    turns: Option<Vec<String>>,
    rng_seed: u64,
    /// Open model: the in-flight cap.
    cap: Option<u64>,
}

/// Runs one open-model or replayed session.
async fn session_task<F, Fut>(shared: Arc<Shared<F>>, arrival: Dispatch)
where
    F: Fn(ConversationSpec) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut rng = ChaCha8Rng::seed_from_u64(arrival.rng_seed);
    // A replayed session's turns follow each other at once: the trace has no think times.
    let replayed = arrival.turns.is_some();
    let script: Script = match arrival.turns {
        Some(turns) => turns.into_iter().map(|t| (None, t)).collect(),
        None => draw_script(&shared.workload, shared.turns_per_session, &mut rng),
    };
    let mut guard = TraceGuard {
        entry: TraceEntry {
            user: arrival.user,
            // The schedule, not the dispatch time: replaying this trace reproduces it.
            offset_ms: millis(arrival.intended.saturating_duration_since(shared.start)),
            turns: Vec::new(),
        },
        tx: shared.trace.as_ref(),
    };
    let turns = script.len();
    for (i, (source, prompt)) in script.into_iter().enumerate() {
        if i > 0 && !replayed {
            let think = draw_duration(shared.think_time, &mut rng);
            if !shared.wait_until(Instant::now() + think).await {
                return;
            }
        }
        let Some(conversation_id) = shared.claim() else {
            return;
        };
        guard.push(&prompt);
        let spec = ConversationSpec {
            conversation_id,
            user_id: arrival.user,
            session: arrival.session,
            turn: u32::try_from(i + 1).unwrap_or(u32::MAX),
            new_session: i == 0,
            last_turn: i + 1 == turns,
            prompt,
            source,
            intended_start: (i == 0).then_some(arrival.intended),
        };
        (shared.driver)(spec).await;
        shared.completed.fetch_add(1, Ordering::Relaxed);
    }
}

/// The arrival schedule of the open and replay models, owned by [`run_load`]'s loop.
enum Arrivals {
    /// No (more) arrivals: the closed model, or a finished schedule.
    Done,
    /// Open model.
    Open {
        // Boxed: the generator is large and the other variants small.
        rng: Box<ChaCha8Rng>,
        start: Instant,
        /// Offset of the next arrival from the start, in seconds (kept as a sum so the
        /// schedule does not drift with rounding).
        next_s: f64,
        per_second: f64,
        arrival: Arrival,
        cap: u64,
        count: u64,
        seed: u64,
    },
    /// Replay model.
    Replay {
        sessions: std::vec::IntoIter<TraceEntry>,
        next: Option<TraceEntry>,
        start: Instant,
        time_scale: f64,
        sessions_per_user: HashMap<u64, u64>,
    },
}

impl Arrivals {
    fn new(load: &LoadPlan, seed: u64, start: Instant) -> Self {
        match &load.shape {
            LoadShape::Closed(_) => Arrivals::Done,
            LoadShape::Open(o) => Arrivals::Open {
                rng: Box::new(ChaCha8Rng::seed_from_u64(mix(seed, ARRIVAL_STREAM))),
                start,
                next_s: 0.0,
                per_second: o.arrival_rate.per_second,
                arrival: o.arrival,
                cap: o.max_in_flight,
                count: 0,
                seed,
            },
            LoadShape::Replay(r) => {
                let mut sessions = r.sessions.clone().into_iter();
                let next = sessions.next();
                Arrivals::Replay {
                    sessions,
                    next,
                    start,
                    time_scale: r.time_scale,
                    sessions_per_user: HashMap::new(),
                }
            }
        }
    }

    /// When the next arrival is due.
    fn next_at(&self) -> Option<Instant> {
        match self {
            Arrivals::Done => None,
            Arrivals::Open { start, next_s, .. } => offset(*start, *next_s),
            Arrivals::Replay {
                next,
                start,
                time_scale,
                ..
            } => next
                .as_ref()
                .and_then(|e| offset(*start, e.offset_ms as f64 / 1000.0 * time_scale)),
        }
    }

    /// Takes the arrival that is due and schedules the one after it.
    fn fire(&mut self) -> Option<Dispatch> {
        let intended = self.next_at()?;
        match self {
            Arrivals::Done => None,
            Arrivals::Open {
                rng,
                next_s,
                per_second,
                arrival,
                cap,
                count,
                seed,
                ..
            } => {
                let gap = match arrival {
                    Arrival::Constant => 1.0 / *per_second,
                    // Exponential gaps; 1 - u is in (0, 1], so the log is finite.
                    Arrival::Poisson => -(1.0 - rng.random::<f64>()).ln() / *per_second,
                };
                *next_s += gap;
                let user = *count;
                *count += 1;
                Some(Dispatch {
                    user,
                    session: 0,
                    intended,
                    turns: None,
                    rng_seed: mix(*seed, OPEN_STREAM + user),
                    cap: Some(*cap),
                })
            }
            Arrivals::Replay {
                sessions,
                next,
                sessions_per_user,
                ..
            } => {
                let entry = std::mem::replace(next, sessions.next())?;
                let counter = sessions_per_user.entry(entry.user).or_insert(0);
                let session = *counter;
                *counter += 1;
                if next.is_none() {
                    *self = Arrivals::Done;
                }
                Some(Dispatch {
                    user: entry.user,
                    session,
                    intended,
                    turns: Some(entry.turns),
                    rng_seed: 0,
                    cap: None,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn ramp_up_spreads_user_starts() {
        let profile = [Stage {
            target: 4,
            duration: s(1000),
        }];
        let starts: Vec<_> = (0..5).map(|u| next_active(&profile, u, s(0))).collect();
        assert_eq!(
            starts,
            vec![Some(s(0)), Some(s(250)), Some(s(500)), Some(s(750)), None]
        );
        // Once wanted, wanted for ever (the last target holds).
        assert_eq!(next_active(&profile, 3, s(60_000)), Some(s(60_000)));
    }

    #[test]
    fn stages_ramp_down_and_up_again() {
        let profile = [
            Stage {
                target: 4,
                duration: s(0),
            },
            Stage {
                target: 4,
                duration: s(1000),
            },
            Stage {
                target: 2,
                duration: s(1000),
            },
            Stage {
                target: 2,
                duration: s(1000),
            },
            Stage {
                target: 3,
                duration: s(1000),
            },
        ];
        // User 3 is active during the hold, leaves half-way down (at 1.5 s) and never returns.
        assert_eq!(next_active(&profile, 3, s(1200)), Some(s(1200)));
        assert_eq!(next_active(&profile, 3, s(1600)), None);
        // User 2 leaves at the end of the ramp-down (2 s) and comes back at 3 s.
        assert_eq!(next_active(&profile, 2, s(1900)), Some(s(1900)));
        assert_eq!(next_active(&profile, 2, s(2100)), Some(s(3000)));
        // Users 0 and 1 never leave.
        assert_eq!(next_active(&profile, 1, s(2500)), Some(s(2500)));
    }
}
