//! The per-conversation driver: the closure the runner calls once per conversation. It maps
//! the runner's (user, session) numbers to the agent's session ids, runs the turn, and sends
//! the record to the recorder; a conversation cut in flight still sends what it did.
//!
//! This is the hot path of a run (one call per conversation): one short lock on the map of open
//! sessions, one boxed future, and one channel send; nothing else per call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc};

use crate::agent::conversation::{Agent, TurnRequest, new_record};
use crate::agent::sessions::SessionId;
use crate::metrics::LiveStats;
use crate::record::{ConversationRecord, ErrorClass, Outcome};
use crate::runner::ConversationSpec;

/// The closure the runner calls for each conversation: maps the runner's (user, session)
/// numbers to the agent's session ids, runs the turn, and sends the record to the recorder.
pub(super) fn make_driver(
    agent: Arc<Agent>,
    tx: mpsc::Sender<ConversationRecord>,
    live: Arc<LiveStats>,
    stop: Arc<Notify>,
    overflow: Overflow,
) -> impl Fn(ConversationSpec) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
+ Send
+ Sync
+ 'static {
    // The session each user is in: (the runner's session number, the agent's session id).
    // An entry lives from a session's first turn to its last, so memory is bounded by the
    // sessions in flight.
    let sessions: Arc<Mutex<HashMap<u64, (u64, SessionId)>>> = Arc::default();
    let in_flight = Arc::new(AtomicU64::new(0));
    move |spec: ConversationSpec| {
        let agent = Arc::clone(&agent);
        let tx = tx.clone();
        let live = Arc::clone(&live);
        let sessions = Arc::clone(&sessions);
        let in_flight = Arc::clone(&in_flight);
        let stop = Arc::clone(&stop);
        let overflow = Arc::clone(&overflow);
        Box::pin(async move {
            let session = if spec.new_session {
                None
            } else {
                lock(&sessions)
                    .get(&spec.user_id)
                    .filter(|(n, _)| *n == spec.session)
                    .map(|(_, id)| *id)
            };
            live.set_users_active(in_flight.fetch_add(1, Ordering::Relaxed) + 1);
            let req = TurnRequest {
                conversation_id: spec.conversation_id,
                rng_key: spec.rng_key(),
                user_id: spec.user_id,
                turn: spec.turn,
                session,
                prompt: spec.prompt,
                intended_start: spec.intended_start,
            };
            let mut guard = InFlight {
                record: Some(new_record(&req)),
                tx: tx.clone(),
                in_flight: Arc::clone(&in_flight),
                live: Arc::clone(&live),
                overflow: Arc::clone(&overflow),
            };
            let record = guard.record.as_mut().expect("set just above");
            let new_session = agent.run_turn_into(req, record).await;
            match new_session {
                // The session is over: forget it, so the map holds only live sessions (the
                // open model gives every arrival a new user id).
                _ if spec.last_turn => {
                    lock(&sessions).remove(&spec.user_id);
                }
                Some(id) => {
                    lock(&sessions).insert(spec.user_id, (spec.session, id));
                }
                None => {}
            }
            let capped = guard
                .record
                .as_ref()
                .is_some_and(|r| r.outcome == Outcome::SpendCap);
            guard.finish().await;
            if capped {
                // The spend cap refused a call: new conversations could only be refused too.
                stop.notify_one();
            }
        })
    }
}

/// A conversation in flight. Normally [`InFlight::finish`] sends its record. If the runner drops
/// the conversation at the end of the grace period, `Drop` still sends what it did so far,
/// with outcome `interrupted`, so no conversation that started is missing from the report.
struct InFlight {
    record: Option<ConversationRecord>,
    tx: mpsc::Sender<ConversationRecord>,
    in_flight: Arc<AtomicU64>,
    live: Arc<LiveStats>,
    overflow: Overflow,
}

/// Records of cut conversations that found the record channel full.
pub(super) type Overflow = Arc<Mutex<Vec<ConversationRecord>>>;

impl InFlight {
    async fn finish(mut self) {
        if let Some(rec) = self.record.take() {
            // The recorder outlives every driver call, so a send fails only if it panicked.
            let _ = self.tx.send(rec).await;
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.live
            .set_users_active(self.in_flight.fetch_sub(1, Ordering::Relaxed) - 1);
        if let Some(mut rec) = self.record.take() {
            close_cut_record(&mut rec);
            // Cannot wait in `drop`: when the channel is full (thousands cut at once), the
            // record goes to the overflow list, which the run records after the channel.
            if let Err(e) = self.tx.try_send(rec) {
                let rec = match e {
                    mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r) => r,
                };
                lock(&self.overflow).push(rec);
            }
        }
    }
}

/// Closes the record of a conversation cut in flight: its latency and that of the call and
/// attempt it was waiting on (still `interrupted`, pushed before they were sent) run to now.
fn close_cut_record(rec: &mut ConversationRecord) {
    rec.latency = rec.started.elapsed();
    for call in rec
        .calls
        .iter_mut()
        .filter(|c| c.error == Some(ErrorClass::Interrupted))
    {
        call.latency = call.started.elapsed();
        for a in call
            .attempts
            .iter_mut()
            .filter(|a| a.error == Some(ErrorClass::Interrupted))
        {
            a.latency = a.started.elapsed();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The records of cut conversations that found the channel full, for the run to record after
/// the channel closed.
pub(super) fn take_overflow(overflow: &Overflow) -> Vec<ConversationRecord> {
    std::mem::take(&mut *lock(overflow))
}
