//! Service-level objectives per conversation (`[slo]`): which conversations were **good**
//! (met every objective), the attainment (share of good conversations) with its Wilson
//! interval, and goodput (good conversations per second).
//!
//! A conversation is judged on what it did: its latency (from its intended start in the open
//! model, so a late start counts against it), the TTFT and latency of every LLM call it made,
//! the p95 of each streamed call's gaps between chunks, its dollars, and its outcome. A
//! conversation that failed, was blocked or was cut is not good whatever its latency: errors
//! never improve a latency figure.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::record::{ConversationRecord, Outcome};

/// An upper bound: `< limit`, or `<= limit` when `inclusive`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bound<T> {
    /// The limit.
    pub limit: T,
    /// `<=` rather than `<`.
    pub inclusive: bool,
}

impl<T: PartialOrd> Bound<T> {
    /// True when `value` is within the bound.
    pub fn holds(&self, value: T) -> bool {
        if self.inclusive {
            value <= self.limit
        } else {
            value < self.limit
        }
    }
}

/// The objectives of `[slo]`; an unset one is not judged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    /// The conversation's latency (from its intended start in the open model).
    pub conversation_latency: Option<Bound<Duration>>,
    /// The time to first token of every streamed call of the conversation.
    pub ttft: Option<Bound<Duration>>,
    /// The latency of every LLM call of the conversation (retries included).
    pub llm_call_latency: Option<Bound<Duration>>,
    /// The p95 of the gaps between chunks of every streamed call of the conversation.
    pub inter_token: Option<Bound<Duration>>,
    /// The conversation's dollars.
    pub cost_per_conversation: Option<Bound<f64>>,
    /// The outcomes that count as good (default: `answered`).
    pub outcomes: Vec<Outcome>,
    /// Each objective as written, by its key, for reports (`conversation_latency` = `< 8s`).
    pub written: Vec<(String, String)>,
}

/// The objectives' names, in report order.
pub const OBJECTIVES: [&str; 6] = [
    "outcome",
    "conversation_latency",
    "ttft",
    "llm_call_latency",
    "inter_token",
    "cost_per_conversation",
];

impl Slo {
    /// The objectives `rec` missed (empty: a good conversation). `usd` is its cost.
    pub fn missed(&self, rec: &ConversationRecord, usd: f64) -> Vec<&'static str> {
        let mut missed = Vec::new();
        if !self.outcomes.contains(&rec.outcome) {
            missed.push("outcome");
        }
        if let Some(b) = &self.conversation_latency {
            let latency = match rec.intended_start {
                Some(i) => (rec.started + rec.latency).saturating_duration_since(i),
                None => rec.latency,
            };
            if !b.holds(latency) {
                missed.push("conversation_latency");
            }
        }
        if let Some(b) = &self.ttft
            && rec
                .calls
                .iter()
                .any(|c| c.ttft.is_some_and(|t| !b.holds(t)))
        {
            missed.push("ttft");
        }
        if let Some(b) = &self.llm_call_latency
            && rec.calls.iter().any(|c| !b.holds(c.latency))
        {
            missed.push("llm_call_latency");
        }
        if let Some(b) = &self.inter_token
            && rec
                .calls
                .iter()
                .filter_map(|c| p95_us(&c.inter_chunk_gaps_us))
                .any(|p| !b.holds(Duration::from_micros(p)))
        {
            missed.push("inter_token");
        }
        if let Some(b) = &self.cost_per_conversation
            && !b.holds(usd)
        {
            missed.push("cost_per_conversation");
        }
        missed
    }
}

/// The p95 of a call's gaps (nearest rank), `None` without gaps.
fn p95_us(gaps: &[u32]) -> Option<u64> {
    if gaps.is_empty() {
        return None;
    }
    let mut sorted = gaps.to_vec();
    sorted.sort_unstable();
    let rank = (0.95 * sorted.len() as f64).ceil() as usize;
    Some(u64::from(sorted[rank.clamp(1, sorted.len()) - 1]))
}

/// The Wilson score interval of `good` successes in `n` trials at 95% confidence
/// (z = 1.959964): `(low, high)`; `(0, 1)` without trials.
pub fn wilson_95(good: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let n_f = n as f64;
    let p = good as f64 / n_f;
    let z2 = z * z;
    let denom = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denom;
    let half = z * ((p * (1.0 - p) / n_f) + z2 / (4.0 * n_f * n_f)).sqrt() / denom;
    // At the ends the interval reaches 0 or 1 exactly (the formula lands a rounding away).
    let low = if good == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let high = if good == n {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    (low, high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_known_values() {
        // 95 of 100: the textbook interval [0.8882, 0.9785].
        let (lo, hi) = wilson_95(95, 100);
        assert!((lo - 0.88825).abs() < 1e-4, "{lo}");
        assert!((hi - 0.97846).abs() < 1e-4, "{hi}");
        // All good in 10: [0.7225, 1].
        let (lo, hi) = wilson_95(10, 10);
        assert!((lo - 0.72246).abs() < 1e-4, "{lo}");
        assert_eq!(hi, 1.0);
        assert_eq!(wilson_95(0, 0), (0.0, 1.0));
    }

    #[test]
    fn p95_is_the_nearest_rank() {
        assert_eq!(p95_us(&[]), None);
        assert_eq!(p95_us(&[7]), Some(7));
        let gaps: Vec<u32> = (1..=100).collect();
        assert_eq!(p95_us(&gaps), Some(95));
        let gaps: Vec<u32> = (1..=20).collect();
        assert_eq!(p95_us(&gaps), Some(19));
    }
}
