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
//!
//! The files, lowest first: `spec.rs` (what the driver receives, what a run reports),
//! `script.rs` (seeded draws), `shared.rs` (state every task reads), `closed.rs` (the closed
//! model's virtual users), `session.rs` (the open and replay models' virtual user), `open.rs`
//! and `replay.rs` (their arrival schedules); this file runs the schedule.

mod closed;
mod open;
mod replay;
mod script;
mod session;
mod shared;
mod spec;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

use self::closed::closed_user;
use self::open::OpenArrivals;
use self::replay::ReplayArrivals;
use self::session::{Dispatch, session_task};
use self::shared::{Shared, is_panic, micros, sleep_until_opt};
use crate::scenario::{LoadPlan, LoadShape, Stage, TraceEntry, Workload};

pub use self::closed::next_active;
pub use self::spec::{ConversationSpec, LoadReport, PromptSource};
pub use crate::scenario::trace::write_trace;

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
    let deadline = deadline_of(load, start);
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
    let arrivals = Arrivals::new(load, seed, start);
    if let LoadShape::Closed(c) = &load.shape {
        let profile: Arc<[Stage]> = c.stages.clone().into();
        // A shard runs its own users, each as in the whole run (see `scenario::shard`).
        for user in (0..c.users).filter(|u| load.shard.owns(*u)) {
            let shared = Arc::clone(&shared);
            let profile = Arc::clone(&profile);
            let quota = load.conversations_per_user;
            tasks.spawn(closed_user(shared, profile, user, seed, quota));
        }
    }
    let scheduled = schedule(&shared, &mut tasks, arrivals, shutdown).await;

    // Stop starting conversations; let those in flight finish within the grace period.
    let _ = stop_tx.send(true);
    let panicked = scheduled.panicked + wind_down(&mut tasks, load.grace, cut).await;
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
        dropped_arrivals: scheduled.dropped_arrivals,
        panicked,
        cut,
        interrupted: scheduled.interrupted || cut > 0,
        scheduler_lag_us: scheduled.lag_us,
        elapsed,
        trace,
    }
}

/// When the run stops starting conversations, if it has a deadline: `duration`, or, for
/// explicit stages without `duration` or `conversations_per_user`, the end of the stages.
fn deadline_of(load: &LoadPlan, start: Instant) -> Option<Instant> {
    match &load.shape {
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
    }
}

/// What the scheduling loop saw.
struct Scheduled {
    interrupted: bool,
    dropped_arrivals: u64,
    panicked: u64,
    lag_us: Histogram<u64>,
}

/// The scheduling loop: arrivals, the deadline and Ctrl-C, reaping finished tasks. Returns when
/// the run should stop starting conversations.
async fn schedule<F, Fut>(
    shared: &Arc<Shared<F>>,
    tasks: &mut JoinSet<()>,
    mut arrivals: Arrivals,
    shutdown: impl Future<Output = ()>,
) -> Scheduled
where
    F: Fn(ConversationSpec) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
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
            _ = sleep_until_opt(shared.deadline) => break,
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
                tasks.spawn(session_task(Arc::clone(shared), arrival));
            }
        }
    }
    Scheduled {
        interrupted,
        dropped_arrivals,
        panicked,
        lag_us,
    }
}

/// Lets the conversations in flight finish until `grace` has passed or `cut` completes (a
/// second Ctrl-C), then drops the rest. Returns how many tasks panicked meanwhile.
async fn wind_down(tasks: &mut JoinSet<()>, grace: Duration, cut: impl Future<Output = ()>) -> u64 {
    let grace_end = Instant::now() + grace;
    let mut cut = pin!(cut);
    let mut panicked = 0u64;
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
    panicked
}

/// The arrival schedule of the open and replay models, owned by [`run_load`]'s loop.
enum Arrivals {
    /// No (more) arrivals: the closed model, or a finished schedule.
    Done,
    /// Open model.
    Open(OpenArrivals),
    /// Replay model.
    Replay(ReplayArrivals),
}

impl Arrivals {
    fn new(load: &LoadPlan, seed: u64, start: Instant) -> Self {
        match &load.shape {
            LoadShape::Closed(_) => Arrivals::Done,
            LoadShape::Open(o) => Arrivals::Open(OpenArrivals::new(o, seed, load.shard, start)),
            LoadShape::Replay(r) => Arrivals::Replay(ReplayArrivals::new(r, load.shard, start)),
        }
    }

    /// When the next arrival is due.
    fn next_at(&self) -> Option<Instant> {
        match self {
            Arrivals::Done => None,
            Arrivals::Open(o) => o.next_at(),
            Arrivals::Replay(r) => r.next_at(),
        }
    }

    /// Takes the arrival that is due and schedules the one after it.
    fn fire(&mut self) -> Option<Dispatch> {
        match self {
            Arrivals::Done => None,
            Arrivals::Open(o) => o.fire(),
            Arrivals::Replay(r) => {
                let dispatch = r.fire()?;
                if r.finished() {
                    *self = Arrivals::Done;
                }
                Some(dispatch)
            }
        }
    }
}
