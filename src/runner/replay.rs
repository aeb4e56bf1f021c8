//! The replay model's arrivals: a trace's sessions start at their recorded offsets times
//! `time_scale`, with their recorded turns; a user's sessions are numbered in order.

use std::collections::HashMap;

use tokio::time::Instant;

use super::session::Dispatch;
use super::shared::offset;
use crate::scenario::{ReplayLoad, TraceEntry};

/// The replay schedule, owned by the runner's loop.
pub(super) struct ReplayArrivals {
    sessions: std::vec::IntoIter<TraceEntry>,
    next: Option<TraceEntry>,
    start: Instant,
    time_scale: f64,
    sessions_per_user: HashMap<u64, u64>,
}

impl ReplayArrivals {
    pub(super) fn new(r: &ReplayLoad, start: Instant) -> ReplayArrivals {
        let mut sessions = r.sessions.clone().into_iter();
        let next = sessions.next();
        ReplayArrivals {
            sessions,
            next,
            start,
            time_scale: r.time_scale,
            sessions_per_user: HashMap::new(),
        }
    }

    /// When the next session is due.
    pub(super) fn next_at(&self) -> Option<Instant> {
        self.next
            .as_ref()
            .and_then(|e| offset(self.start, e.offset_ms as f64 / 1000.0 * self.time_scale))
    }

    /// True once the last session was taken.
    pub(super) fn finished(&self) -> bool {
        self.next.is_none()
    }

    /// Takes the session that is due.
    pub(super) fn fire(&mut self) -> Option<Dispatch> {
        let intended = self.next_at()?;
        let entry = std::mem::replace(&mut self.next, self.sessions.next())?;
        let counter = self.sessions_per_user.entry(entry.user).or_insert(0);
        let session = *counter;
        *counter += 1;
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
