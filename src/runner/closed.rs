//! The closed model: one tokio task per virtual user (10,000 users are 10,000 small tasks, no
//! threads), each following the stage profile (ramp-up is one stage from 0 to `users`): while
//! its index is below the current target it runs sessions of several turns with think time
//! between turns; above the target it finishes its conversation and waits, or stops when the
//! profile never needs it again.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use super::script::{draw_duration, draw_script, mix};
use super::shared::{Shared, TraceGuard, millis};
use super::spec::ConversationSpec;
use crate::scenario::{Stage, TraceEntry};

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
pub(super) async fn closed_user<F, Fut>(
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
