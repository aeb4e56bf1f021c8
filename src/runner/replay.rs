//! The replay model's arrivals: a trace's sessions start at their recorded offsets times
//! `time_scale`, with their recorded turns; a user's sessions are numbered in order.

use std::collections::HashMap;

use tokio::time::Instant;

use super::session::Dispatch;
use super::shared::offset;
use crate::scenario::{ReplayLoad, Shard, TraceEntry};

/// The replay schedule, owned by the runner's loop.
pub(super) struct ReplayArrivals {
    /// This shard's sessions with each one's number among its user's sessions in the whole
    /// trace (so a session is numbered alike in every shard count).
    sessions: std::vec::IntoIter<(TraceEntry, u64)>,
    next: Option<(TraceEntry, u64)>,
    start: Instant,
    time_scale: f64,
}

impl ReplayArrivals {
    /// The schedule of `shard`: the trace's sessions `i` with `i mod N = I`.
    pub(super) fn new(r: &ReplayLoad, shard: Shard, start: Instant) -> ReplayArrivals {
        let mut sessions_per_user: HashMap<u64, u64> = HashMap::new();
        let mut owned = Vec::new();
        for (i, entry) in r.sessions.iter().enumerate() {
            let counter = sessions_per_user.entry(entry.user).or_insert(0);
            let session = *counter;
            *counter += 1;
            if shard.owns(i as u64) {
                owned.push((entry.clone(), session));
            }
        }
        let mut sessions = owned.into_iter();
        let next = sessions.next();
        ReplayArrivals {
            sessions,
            next,
            start,
            time_scale: r.time_scale,
        }
    }

    /// When the next session is due.
    pub(super) fn next_at(&self) -> Option<Instant> {
        self.next
            .as_ref()
            .and_then(|(e, _)| offset(self.start, e.offset_ms as f64 / 1000.0 * self.time_scale))
    }

    /// True once the last session was taken.
    pub(super) fn finished(&self) -> bool {
        self.next.is_none()
    }

    /// Takes the session that is due.
    pub(super) fn fire(&mut self) -> Option<Dispatch> {
        let intended = self.next_at()?;
        let (entry, session) = std::mem::replace(&mut self.next, self.sessions.next())?;
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
