//! Sharded runs: which part of the workload shard `I` of `N` runs, and the plan's limits cut
//! so that the shards together never exceed the whole.
//!
//! The partition is exact and reproducible: in the closed model shard `I` runs the users
//! whose id `u` has `u mod N = I`, each with the random stream, prompts, think times and
//! stage timing it has in the whole run (users are seeded by their id, and the stage profile
//! says when each id joins, so every shard ramps its own share); a replay shard runs trace
//! sessions `i mod N = I` at their recorded times; an open-model shard runs its own arrival
//! process at `rate / N` (the merged arrivals are a process at the full rate: a sum of
//! independent Poisson processes is Poisson). Counts that must not be exceeded in total
//! (`max_in_flight`, `max_conversations`) are split with the remainders going to the lowest
//! indices; the spend cap is split evenly. A shard count of 1 is the whole run, unchanged.

use std::fmt;

pub use crate::report::summary::ShardShare;

/// Shard `index` of `count` (0-based index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u64,
    /// How many shards the run has.
    pub count: u64,
}

/// The most shards a run may be split into.
pub const MAX_SHARDS: u64 = 10_000;

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The whole run: shard 0 of 1.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// A shard, checked: `count` in `1..=MAX_SHARDS`, `index < count`.
    pub fn new(index: u64, count: u64) -> Result<Shard, String> {
        if count == 0 || count > MAX_SHARDS {
            return Err(format!(
                "a shard count from 1 to {MAX_SHARDS}, such as 0/4 (this one has {count})"
            ));
        }
        if index >= count {
            return Err(format!(
                "an index below the count: shards are numbered 0 to {} (0-based, like \
                 JOB_COMPLETION_INDEX)",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// Parses `I/N`, such as `0/4`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (i, n) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| "I/N, such as 0/4 (shard 0 of 4)".to_string())?;
        let number = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("I/N with whole numbers, such as 0/4; {s:?} is not one"))
        };
        Shard::new(number(i)?, number(n)?)
    }

    /// True for the whole run (one shard).
    pub fn is_whole(self) -> bool {
        self.count == 1
    }

    /// True when item `n` (a user id, a trace session's position) belongs to this shard.
    pub fn owns(self, n: u64) -> bool {
        n % self.count == self.index
    }

    /// This shard's part of `total` items split as evenly as possible, the remainder going to
    /// the lowest indices: the parts of all shards add up to `total`.
    pub fn share(self, total: u64) -> u64 {
        total / self.count + u64::from(self.index < total % self.count)
    }

    /// How many of the ids `0..total` this shard owns (the same as [`Shard::share`]).
    pub fn owned_below(self, total: u64) -> u64 {
        self.share(total)
    }
}

/// What a shard's report says of the run it is a part of.
#[derive(Clone, Debug, PartialEq)]
pub struct Sharding {
    /// Which shard.
    pub shard: Shard,
    /// What it was given of the load and limits.
    pub share: ShardShare,
    /// [`super::scenario_digest`] of the whole run's scenario.
    pub digest: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_checks_index_and_count() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(Shard::parse(" 0/1 "), Ok(Shard::WHOLE));
        for bad in ["4/4", "1/0", "a/2", "3", "-1/2", "1/20000"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shares_add_up_to_the_whole() {
        for count in 1..=7u64 {
            for total in [0u64, 1, 5, 7, 100, 101] {
                let parts: u64 = (0..count)
                    .map(|index| Shard { index, count }.share(total))
                    .sum();
                assert_eq!(parts, total, "{total} in {count}");
                let owned: u64 = (0..count)
                    .map(|index| {
                        (0..total)
                            .filter(|u| Shard { index, count }.owns(*u))
                            .count()
                    })
                    .sum::<usize>() as u64;
                assert_eq!(owned, total);
                for index in 0..count {
                    let s = Shard { index, count };
                    assert_eq!(
                        s.owned_below(total),
                        (0..total).filter(|u| s.owns(*u)).count() as u64
                    );
                }
            }
        }
    }
}
