//! The virtual user of the open and replay models: one task per arrival, running one session
//! from its scheduled start ([`Dispatch`]).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use super::script::{Script, draw_duration, draw_script};
use super::shared::{Shared, TraceGuard, millis};
use super::spec::ConversationSpec;
use crate::scenario::TraceEntry;

/// One arrival of the open or replay model: a session to run from `intended`.
pub(super) struct Dispatch {
    pub(super) user: u64,
    pub(super) session: u64,
    pub(super) intended: Instant,
    /// The replayed turns, or `None` to draw them from the workload with `rng_seed`.
    pub(super) turns: Option<Vec<String>>,
    pub(super) rng_seed: u64,
    /// Open model: the in-flight cap.
    pub(super) cap: Option<u64>,
}

/// Runs one open-model or replayed session.
pub(super) async fn session_task<F, Fut>(shared: Arc<Shared<F>>, arrival: Dispatch)
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
