//! What the runner hands the driver (one [`ConversationSpec`] per conversation) and what a
//! load run reports ([`LoadReport`]).

use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use crate::scenario::TraceEntry;

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

impl ConversationSpec {
    /// A key for this conversation's own random choices that depends on who asked what when
    /// in the plan (user, session, turn), never on the order conversations happened to start:
    /// the same in every run of the seed, and in whichever shard runs the user.
    pub fn rng_key(&self) -> u64 {
        let mut z = self.user_id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z ^= self
            .session
            .wrapping_mul(0xBF58_476D_1CE4_E5B9)
            .rotate_left(21);
        z ^= u64::from(self.turn)
            .wrapping_mul(0x94D0_49BB_1331_11EB)
            .rotate_left(42);
        z
    }
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
    /// with `[load] trace = ...`; write it with [`super::write_trace`]. Empty when the plan keeps no
    /// trace.
    pub trace: Vec<TraceEntry>,
}
