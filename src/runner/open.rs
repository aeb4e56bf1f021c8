//! The open model's arrivals: sessions arrive at a constant or Poisson rate, whatever the
//! system's speed. The schedule is a sum of gaps from the run's start, so it does not drift
//! with rounding; each arrival is a new user with its own generator.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use super::script::{ARRIVAL_STREAM, OPEN_STREAM, SHARD_STREAM, mix};
use super::session::Dispatch;
use super::shared::offset;
use crate::scenario::{Arrival, OpenLoad, Shard};

/// The open model's schedule, owned by the runner's loop.
pub(super) struct OpenArrivals {
    // Boxed: the generator is large, and the schedule is moved into an enum with small
    // variants.
    rng: Box<ChaCha8Rng>,
    start: Instant,
    /// Offset of the next arrival from the start, in seconds (kept as a sum so the schedule
    /// does not drift with rounding).
    next_s: f64,
    per_second: f64,
    arrival: Arrival,
    cap: u64,
    count: u64,
    seed: u64,
    shard: Shard,
}

impl OpenArrivals {
    /// The schedule of `shard` (its plan already holds its part of the rate): the whole run's
    /// arrival stream for one shard, else a stream of its own derived from the seed and the
    /// shard's index, so the shards' processes are independent.
    pub(super) fn new(o: &OpenLoad, seed: u64, shard: Shard, start: Instant) -> OpenArrivals {
        let stream = match shard.is_whole() {
            true => mix(seed, ARRIVAL_STREAM),
            false => mix(mix(seed, ARRIVAL_STREAM), SHARD_STREAM + shard.index),
        };
        OpenArrivals {
            rng: Box::new(ChaCha8Rng::seed_from_u64(stream)),
            start,
            next_s: 0.0,
            per_second: o.arrival_rate.per_second,
            arrival: o.arrival,
            cap: o.max_in_flight,
            count: 0,
            seed,
            shard,
        }
    }

    /// When the next arrival is due.
    pub(super) fn next_at(&self) -> Option<Instant> {
        offset(self.start, self.next_s)
    }

    /// Takes the arrival that is due and schedules the one after it.
    pub(super) fn fire(&mut self) -> Option<Dispatch> {
        let intended = self.next_at()?;
        let gap = match self.arrival {
            Arrival::Constant => 1.0 / self.per_second,
            // Exponential gaps; 1 - u is in (0, 1], so the log is finite.
            Arrival::Poisson => -(1.0 - self.rng.random::<f64>()).ln() / self.per_second,
        };
        self.next_s += gap;
        // Arrival numbers stay unique across shards: shard I of N numbers its arrivals I,
        // I + N, I + 2N ... (the whole run 0, 1, 2 ...).
        let user = self
            .count
            .saturating_mul(self.shard.count)
            .saturating_add(self.shard.index);
        self.count += 1;
        Some(Dispatch {
            user,
            session: 0,
            intended,
            turns: None,
            rng_seed: mix(self.seed, OPEN_STREAM + user),
            cap: Some(self.cap),
        })
    }
}
