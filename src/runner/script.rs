//! The seeded draws of a session: its turns (a scripted multi-turn item, or independent draws
//! from the workload), think times, and the seeds of each user's and arrival's generator.

use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::spec::PromptSource;
use crate::scenario::Workload;
use crate::units::{CountRange, DurationRange};

/// One session's turns, decided when it starts.
pub(super) type Script = Vec<(Option<PromptSource>, String)>;

/// Draws a session: a scripted multi-turn item plays its turns; otherwise the session has
/// `turns_per_session` turns, each an independent draw from the workload.
pub(super) fn draw_script(workload: &Workload, turns: CountRange, rng: &mut ChaCha8Rng) -> Script {
    let source = |index: usize| {
        Some(PromptSource {
            index,
            label: workload.sources[index].label.as_deref().map(Arc::from),
        })
    };
    let Some((index, first)) = workload.pick(rng) else {
        return Vec::new();
    };
    let mut script = vec![(source(index), first.text.clone())];
    if !first.follow_ups.is_empty() {
        script.extend(first.follow_ups.iter().map(|t| (source(index), t.clone())));
        return script;
    }
    let n = rng.random_range(turns.min..=turns.max);
    for _ in 1..n {
        if let Some((index, item)) = workload.pick(rng) {
            script.push((source(index), item.text.clone()));
        }
    }
    script
}

pub(super) fn draw_duration(range: DurationRange, rng: &mut ChaCha8Rng) -> Duration {
    if range.min == range.max {
        return range.min;
    }
    let lo = range.min.as_nanos().min(u128::from(u64::MAX)) as u64;
    let hi = range.max.as_nanos().min(u128::from(u64::MAX)) as u64;
    Duration::from_nanos(rng.random_range(lo..=hi))
}

/// Turns seed and stream number into independent generator seeds (SplitMix64's finalizer).
pub(super) fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Stream numbers keep closed users' and open arrivals' generators apart.
pub(super) const OPEN_STREAM: u64 = 1 << 62;
pub(super) const ARRIVAL_STREAM: u64 = (1 << 62) - 1;
/// Open model, sharded: shard `I`'s arrival stream is `mix(mix(seed, ARRIVAL_STREAM),
/// SHARD_STREAM + I)`.
pub(super) const SHARD_STREAM: u64 = 1 << 61;
