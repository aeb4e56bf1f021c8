//! Admission of a turn to its session: a user over its rate limit waits for the limiter, as a
//! real client would, and is counted once; a user over the session cap is refused. Refusing at
//! once let zero-think-time users spin through refusals that looked like throughput.

use tokio::time::Instant;

use crate::agent::sessions::{SessionError, SessionId, SessionStore, Turn};
use crate::record::{ConversationRecord, Outcome};

/// Admits `user_id`'s turn in `session` as a real user's client would: when the user's rate limit is used up,
/// waits until the limiter admits it (the limiter's GCRA says when) and asks again. The
/// held turn counts once in the store's `rate_limited`, and the wait lands in
/// `rec.session_wait`. If the run drops the conversation while it waits (the grace period
/// ended), the record says `session_rate_limited` with the wait so far and no call: it was
/// never admitted, and nothing was sent.
pub(super) async fn admit(
    sessions: &SessionStore,
    user_id: u64,
    session: Option<SessionId>,
    rec: &mut ConversationRecord,
) -> Result<Turn, Outcome> {
    let mut unheld = Some(rec);
    let mut held: Option<Held<'_>> = None;
    loop {
        let refusal = match sessions.try_begin_turn(user_id, session) {
            Ok(turn) => {
                if let Some(h) = held {
                    h.admitted();
                }
                return Ok(turn);
            }
            Err(e) => e,
        };
        match refusal {
            SessionError::RateLimited { retry_after, .. } => {
                if let Some(rec) = unheld.take() {
                    sessions.note_held();
                    held = Some(Held::new(rec));
                }
                if retry_after.is_zero() {
                    // Admissible by the time it was asked (the limiter's clock moved on):
                    // ask again, never sleeping for zero.
                    tokio::task::yield_now().await;
                } else {
                    crate::units::sleep_for(retry_after).await;
                }
            }
            SessionError::UserLimit { .. } => {
                if let Some(h) = held {
                    h.admitted();
                }
                return Err(Outcome::SessionRefused);
            }
        }
    }
}

/// A turn the session rate limit is holding back. Dropped while still held (the run ended and
/// dropped the conversation), it marks the record `session_rate_limited` with the wait so far.
struct Held<'a> {
    rec: Option<&'a mut ConversationRecord>,
    since: Instant,
}

impl<'a> Held<'a> {
    fn new(rec: &'a mut ConversationRecord) -> Held<'a> {
        Held {
            rec: Some(rec),
            since: Instant::now(),
        }
    }

    /// The limiter let the turn go on (or the session cap refused it): records the wait.
    fn admitted(mut self) {
        if let Some(rec) = self.rec.take() {
            rec.session_wait = Some(self.since.elapsed());
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(rec) = self.rec.take() {
            rec.session_wait = Some(self.since.elapsed());
            rec.outcome = Outcome::SessionRateLimited;
        }
    }
}
