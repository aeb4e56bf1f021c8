//! The run-wide spend cap: a reservation before each logical LLM call, settled by what the
//! reply really cost, so concurrent users cannot overshoot the cap together. Shared by every
//! conversation of a run (atomics only: it is asked once per call and once per attempt).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::chat::ChatRequest;
use crate::pricing::PriceTable;
use crate::record::{AttemptRecord, CallRecord, ErrorClass};

/// The run-wide spend cap. Before each logical LLM call the agent reserves the call's worst
/// case (its prompt at the input price and its completion limit at the output price, of the
/// dearest model in the chain); a call whose reservation does not fit under the cap is not
/// sent. When the call returns, the reservation is replaced by what the reply's usage really
/// cost, priced by the model that answered. Against an endpoint that honours `max_tokens`,
/// concurrent users can never overshoot the cap together.
///
/// An endpoint may bill more than `max_tokens` (llama.cpp's server and llmsim ignore
/// `max_completion_tokens`). So the cap learns: every reservation uses at least the largest
/// completion any call of the run has been billed (`max(max_tokens, largest seen)`), and once
/// real spend reaches the cap no further attempt is sent. What cannot be stopped is what was
/// already in flight when the cap was crossed: [`SpendCap::status`] gives the overshoot and
/// the bound stated at the crossing ([`SpendCrossing`]).
#[derive(Debug)]
pub struct SpendCap {
    limit_nano_usd: u64,
    spent_nano_usd: AtomicU64,
    reserved_nano_usd: AtomicU64,
    /// Calls holding a reservation (admitted, not settled yet).
    in_flight: AtomicU64,
    /// Largest completion one call has been billed, by any model of the run.
    largest_completion_tokens: AtomicU64,
    /// Largest amount one settled call cost beyond its reservation (0 while the endpoint bills
    /// within its limits).
    largest_excess_nano_usd: AtomicU64,
    /// Set once, by the settlement that took spend to the cap.
    crossing: OnceLock<SpendCrossing>,
    prices: PriceTable,
}

/// The moment real spend reached the cap: what was in flight then is billed after it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpendCrossing {
    /// Dollars spent right after the call that reached the cap was settled.
    pub spent_usd: f64,
    /// Calls holding a reservation at that moment (sent, or about to be refused before
    /// sending): they cannot be recalled.
    pub in_flight_calls: u64,
    /// Their reservations, in dollars.
    pub in_flight_reserved_usd: f64,
    /// The stated bound on the overshoot: what was spent past the cap at the crossing, plus
    /// the in-flight reservations, plus, per call in flight, the largest amount any call had
    /// cost beyond its reservation so far. It holds as long as the endpoint bills no call
    /// further past its reservation than it already had.
    pub overshoot_bound_usd: f64,
}

/// What the spend cap did, for the report ([`SpendCap::status`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpendStatus {
    /// The cap, in dollars.
    pub cap_usd: f64,
    /// Real spend so far (settled calls).
    pub spent_usd: f64,
    /// Spend past the cap: `max(0, spent - cap)`.
    pub overshoot_usd: f64,
    /// Reservations of calls still in flight (0 once the run is over).
    pub reserved_usd: f64,
    /// Largest completion one call was billed; later reservations used at least this.
    pub largest_completion_tokens: u64,
    /// When and how the cap was reached; `None` if it never was.
    pub crossing: Option<SpendCrossing>,
}

impl SpendCap {
    /// A cap of `limit_usd` dollars, pricing calls with `prices`.
    pub fn new(limit_usd: f64, prices: PriceTable) -> SpendCap {
        SpendCap {
            limit_nano_usd: to_nano(limit_usd),
            spent_nano_usd: AtomicU64::new(0),
            reserved_nano_usd: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            largest_completion_tokens: AtomicU64::new(0),
            largest_excess_nano_usd: AtomicU64::new(0),
            crossing: OnceLock::new(),
            prices,
        }
    }

    /// True while real spend is below the cap (asked before every network attempt).
    pub fn allows(&self) -> bool {
        self.spent_nano_usd.load(Ordering::Acquire) < self.limit_nano_usd
    }

    /// Dollars spent so far (settled calls only).
    pub fn spent_usd(&self) -> f64 {
        self.spent_nano_usd.load(Ordering::Relaxed) as f64 / 1e9
    }

    /// The cap's figures: cap, spend, overshoot and, once the cap was reached, what was in
    /// flight then and the overshoot bound stated at that moment.
    pub fn status(&self) -> SpendStatus {
        let spent = self.spent_nano_usd.load(Ordering::Acquire);
        SpendStatus {
            cap_usd: self.limit_nano_usd as f64 / 1e9,
            spent_usd: spent as f64 / 1e9,
            overshoot_usd: spent.saturating_sub(self.limit_nano_usd) as f64 / 1e9,
            reserved_usd: self.reserved_nano_usd.load(Ordering::Acquire) as f64 / 1e9,
            largest_completion_tokens: self.largest_completion_tokens.load(Ordering::Relaxed),
            crossing: self.crossing.get().copied(),
        }
    }

    /// Reserves `usd` for a call about to be sent; `None` if spend plus every reservation
    /// would pass the cap. Concurrent reservers may both be refused near the cap, never both
    /// admitted past it.
    pub(super) fn try_reserve(&self, usd: f64) -> Option<u64> {
        let nano = to_nano(usd);
        let reserved = self.reserved_nano_usd.fetch_add(nano, Ordering::AcqRel) + nano;
        let spent = self.spent_nano_usd.load(Ordering::Acquire);
        if spent >= self.limit_nano_usd || spent.saturating_add(reserved) > self.limit_nano_usd {
            self.reserved_nano_usd.fetch_sub(nano, Ordering::AcqRel);
            return None;
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Some(nano)
    }

    /// Replaces a reservation by the real cost of the reply (if a model answered), learns the
    /// endpoint's real completion sizes, and notes the crossing if this call reached the cap.
    pub(super) fn settle(
        &self,
        reserved_nano: u64,
        answered: Option<&str>,
        usage: &crate::chat::Usage,
    ) {
        let cost = answered
            .and_then(|m| self.prices.cost_usd(m, usage))
            .map_or(0, to_nano);
        if answered.is_some() {
            self.largest_completion_tokens
                .fetch_max(usage.completion_tokens, Ordering::AcqRel);
        }
        self.largest_excess_nano_usd
            .fetch_max(cost.saturating_sub(reserved_nano), Ordering::AcqRel);
        // Spend first, then the reservation: a concurrent crossing may count this call twice
        // (in spend and in flight), never in neither, so its bound stays a bound.
        let before = self.spent_nano_usd.fetch_add(cost, Ordering::AcqRel);
        self.reserved_nano_usd
            .fetch_sub(reserved_nano, Ordering::AcqRel);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        if before < self.limit_nano_usd && before.saturating_add(cost) >= self.limit_nano_usd {
            let in_flight = self.in_flight.load(Ordering::Acquire);
            let reserved = self.reserved_nano_usd.load(Ordering::Acquire);
            let spent = self.spent_nano_usd.load(Ordering::Acquire);
            let excess = self.largest_excess_nano_usd.load(Ordering::Acquire);
            let bound = spent
                .saturating_sub(self.limit_nano_usd)
                .saturating_add(reserved)
                .saturating_add(in_flight.saturating_mul(excess));
            let _ = self.crossing.set(SpendCrossing {
                spent_usd: spent as f64 / 1e9,
                in_flight_calls: in_flight,
                in_flight_reserved_usd: reserved as f64 / 1e9,
                overshoot_bound_usd: bound as f64 / 1e9,
            });
        }
    }

    /// The worst case of one call: `prompt_tokens` at the input price and the larger of
    /// `completion_tokens` and the largest completion billed so far at the output price, of
    /// the dearest of `models` (unpriced models count as free).
    pub(super) fn worst_case_usd<'a>(
        &self,
        models: impl Iterator<Item = &'a str>,
        prompt_tokens: u64,
        completion_tokens: u64,
    ) -> f64 {
        let usage = crate::chat::Usage {
            prompt_tokens,
            cached_tokens: 0,
            completion_tokens: completion_tokens
                .max(self.largest_completion_tokens.load(Ordering::Acquire)),
            reasoning_tokens: 0,
            estimated: true,
        };
        models
            .filter_map(|m| self.prices.cost_usd(m, &usage))
            .fold(0.0, f64::max)
    }
}

/// Completion tokens reserved against the spend cap for a call that sets no `max_tokens`
/// (library use only: a scenario with a spend cap must set `agent.max_tokens`).
pub(super) const DEFAULT_RESERVED_COMPLETION: u32 = 4096;

/// The record of a call the spend cap refused before anything was sent.
pub(super) fn refused_by_spend_cap(req: &ChatRequest, step: u32) -> CallRecord {
    let now = Instant::now();
    CallRecord {
        step,
        model_asked: req.model.clone(),
        model_answered: None,
        attempts: vec![AttemptRecord {
            model: req.model.clone(),
            started: now,
            latency: Duration::ZERO,
            status: None,
            error: Some(ErrorClass::SpendCap),
            backoff: Duration::ZERO,
        }],
        started: now,
        latency: Duration::ZERO,
        status: None,
        error: Some(ErrorClass::SpendCap),
        ttft: None,
        ttft_answer: None,
        inter_chunk_gaps_us: Vec::new(),
        finish_reason: None,
        stream_ignored: false,
        usage: Default::default(),
        fallback: false,
        prompt: Default::default(),
    }
}

fn to_nano(usd: f64) -> u64 {
    (usd * 1e9).round().max(0.0) as u64
}
