//! A plan cut down to one shard's part ([`apply_shard`]), and the digest that tells whether
//! shards are parts of one run ([`scenario_digest`]). The partition itself is described in
//! `shard.rs`.

use super::plan::{LoadShape, Plan};
use super::shard::{Shard, ShardShare, Sharding};

/// Cuts `plan` down to `shard`'s part, and marks it as a shard with `digest` (the
/// [`scenario_digest`] of the whole run) and what the shard was given. Shard `0/1` runs
/// exactly the whole run.
pub fn apply_shard(plan: &mut Plan, shard: Shard, digest: String) {
    let share = cut(plan, shard);
    plan.sharding = Some(Sharding {
        shard,
        share,
        digest,
    });
}

fn cut(plan: &mut Plan, shard: Shard) -> ShardShare {
    plan.load.shard = shard;
    let mut share = ShardShare::default();
    if let Some(max) = plan.load.max_conversations.as_mut() {
        *max = shard.share(*max);
        share.max_conversations = Some(*max);
    }
    if let Some(cap) = plan.limits.spend_cap_usd.as_mut() {
        *cap /= shard.count as f64;
        share.spend_cap_usd = Some(*cap);
    }
    match &mut plan.load.shape {
        LoadShape::Closed(c) => share.users = Some(shard.owned_below(c.users)),
        LoadShape::Open(o) => {
            o.arrival_rate.per_second /= shard.count as f64;
            // Every shard may hold at least one session in flight.
            o.max_in_flight = shard.share(o.max_in_flight).max(1);
            share.arrival_rate_per_s = Some(o.arrival_rate.per_second);
            share.max_in_flight = Some(o.max_in_flight);
        }
        // The runner takes the shard's sessions from the whole trace (it numbers each user's
        // sessions over the whole trace).
        LoadShape::Replay(r) => {
            share.replay_sessions = Some(shard.owned_below(r.sessions.len() as u64));
        }
    }
    share
}

/// A 64-bit digest (FNV-1a, hex) of what makes two shards parts of one run: the scenario
/// file's bytes, the text of every prompt in its workload, and the flags that change the plan.
/// Not a security measure: it tells apart shards of different scenarios or overrides.
pub fn scenario_digest(scenario_bytes: &[u8], plan: &Plan, flags: &str) -> String {
    let mut h = Fnv::default();
    h.write(scenario_bytes);
    h.write(&[0xff]);
    for source in &plan.workload.sources {
        for item in &source.items {
            h.write(item.text.as_bytes());
            h.write(&[0]);
            for f in &item.follow_ups {
                h.write(f.as_bytes());
                h.write(&[0]);
            }
        }
        h.write(&[0xfe]);
    }
    if let LoadShape::Replay(r) = &plan.load.shape {
        for s in &r.sessions {
            h.write(&s.user.to_le_bytes());
            h.write(&s.offset_ms.to_le_bytes());
            for t in &s.turns {
                h.write(t.as_bytes());
                h.write(&[0]);
            }
        }
    }
    h.write(&[0xfd]);
    h.write(flags.as_bytes());
    format!("{:016x}", h.0)
}

/// FNV-1a, 64 bits (a digest to tell scenarios apart; no crate needed for ten lines).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}
