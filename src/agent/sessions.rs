//! Sessions shared by all virtual users: random ids, LRU capacity, an idle TTL that really
//! expires, a per-user cap on live sessions, a per-user GCRA rate limit with bounded memory, and
//! the conversation history of each session.
//!
//! # Design (and why not moka for the sessions)
//! The store is one `Mutex` over three plain maps: sessions by id, an LRU order
//! (`BTreeMap<touch sequence, id>`), and each user's live session ids. Every operation holds the
//! lock for a handful of map operations, never across an `.await`. moka was the first choice,
//! but (1) it reads time from its own clock, so a test with `tokio::time::pause()` cannot make a
//! session expire; (2) its eviction runs in deferred maintenance, so capacity, TTL and the
//! per-user index would drift apart and eviction counts would be approximate; (3) its default
//! admission policy (TinyLFU) may reject a *new* session, which a session store must never do.
//! Time here is [`tokio::time::Instant`], read *inside* the lock, so LRU order and
//! last-access order are the same and expired sessions are always at the front of the LRU.
//!
//! The TTL is checked before a session is touched: [`SessionStore::begin_turn`] first removes
//! every session idle for longer than the TTL, and only then looks the requested id up and
//! refreshes its last access (the seed refreshed first, so nothing ever expired).
//!
//! The rate limit is governor's keyed GCRA limiter driven by a clock over tokio time (so paused
//! time drives it too). Its map would grow with every user ever seen, so every
//! [`RETAIN_EVERY`] checks it drops the keys whose state equals a fresh one
//! (`retain_recent`): memory is bounded by the users active in the last few emission intervals
//! (a few seconds at 30/min, up to the burst window for users that used their burst), plus
//! [`RETAIN_EVERY`].
//!
//! Ids are 128 bits from the thread-local CSPRNG (ChaCha12 seeded from the OS), printed as 32 hex
//! digits: not derived from the user or the time, unguessable, and stable for the session's life.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::chat::ChatMessage;
use crate::units::{HumanDuration, Rate};

/// The maps behind the lock hash random ids and user numbers, which need no defence against
/// chosen keys: foldhash instead of SipHash, whose hashing was a third of the store's time.
type HashMap<K, V> = foldhash::HashMap<K, V>;

/// Rate-limit checks between two sweeps of idle keys from the limiter's map.
pub const RETAIN_EVERY: u64 = 1024;

/// A virtual user's id (the runner numbers its users).
pub type UserId = u64;

/// What to do when a user who already has `max_concurrent_per_user` live sessions opens one more.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnUserLimit {
    /// Close the user's least recently used session and open the new one (the default: a user
    /// opening a fourth tab loses the stalest one, as most chat products behave, and a load test
    /// does not turn stale sessions into refusals for a whole TTL).
    #[default]
    EvictOldest,
    /// Refuse the new session; the turn ends with outcome `session_refused`.
    Refuse,
}

/// Session settings, user-facing as `[agent] sessions = { max_sessions = 10000, ttl = "1h",
/// max_concurrent_per_user = 3, rate_limit = "30/min", on_user_limit = "evict_oldest" }`.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Most live sessions in the store; beyond it the least recently used one is evicted.
    pub max_sessions: usize,
    /// Idle time after which a session expires (measured from its last turn).
    pub ttl: HumanDuration,
    /// Most live sessions one user may hold.
    pub max_concurrent_per_user: usize,
    /// Turns one user may start, as a GCRA rate with a burst of the count (`"30/min"`: 30 at
    /// once, then one every 2 s). The agent holds a turn over it until the limiter admits it.
    pub rate_limit: Rate,
    /// What happens at `max_concurrent_per_user` (default `evict_oldest`).
    pub on_user_limit: OnUserLimit,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            max_sessions: 10_000,
            ttl: HumanDuration(Duration::from_secs(3600)),
            max_concurrent_per_user: 3,
            rate_limit: Rate {
                per_second: 0.5,
                count: 30.0,
                period: Duration::from_secs(60),
            },
            on_user_limit: OnUserLimit::EvictOldest,
        }
    }
}

impl SessionConfig {
    /// Checks the values; the error names the key (`agent.sessions.*`) and what is accepted.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_sessions == 0 {
            return Err("agent.sessions.max_sessions = 0 allows no session; set a positive capacity such as 10000".into());
        }
        if self.max_concurrent_per_user == 0 {
            return Err("agent.sessions.max_concurrent_per_user = 0 allows no session; set a positive number such as 3".into());
        }
        if self.ttl.0.is_zero() {
            return Err("agent.sessions.ttl = \"0s\" expires every session at once; set an idle time such as \"1h\"".into());
        }
        self.quota().map(|_| ())
    }

    /// The GCRA quota: burst of `count` (at least 1), one cell per `period / count`.
    fn quota(&self) -> Result<Quota, String> {
        let rate = self.rate_limit;
        let burst = NonZeroU32::new(rate.count.floor().clamp(1.0, u32::MAX as f64) as u32)
            .unwrap_or(NonZeroU32::MIN);
        let interval = Duration::try_from_secs_f64(1.0 / rate.per_second).unwrap_or_default();
        Quota::with_period(interval)
            .map(|q| q.allow_burst(burst))
            .ok_or_else(|| {
                format!(
                    "agent.sessions.rate_limit = \"{rate}\" is too fast to enforce; write a rate below one per nanosecond, such as \"30/min\""
                )
            })
    }
}

/// A session id: 128 random bits, shown as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(u128);

impl SessionId {
    /// A fresh id from the thread-local CSPRNG.
    fn random() -> SessionId {
        SessionId(rand::rng().random::<u128>())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

/// How [`SessionStore::begin_turn`] found the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opened {
    /// The requested session was live and is resumed with its history.
    Resumed,
    /// No session was requested; a new one was opened.
    New,
    /// The requested session is gone (expired, evicted or never existed, or owned by another
    /// user); a new, empty one was opened in its place.
    Replaced,
}

/// A turn admitted by the store: the session to use and its history so far.
#[derive(Clone, Debug)]
pub struct Turn {
    /// The session id (new or resumed); pass it to [`SessionStore::end_turn`] and to the next
    /// turn.
    pub id: SessionId,
    /// The history stored at the end of the previous turn (empty for a new session).
    pub history: Vec<ChatMessage>,
    /// Whether it was resumed, new, or a replacement for a session that was gone.
    pub opened: Opened,
}

/// Why a turn was refused. The agent waits out a rate-limit refusal (see
/// [`SessionStore::try_begin_turn`]); a per-user cap refusal ends the turn as
/// `session_refused`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The user's rate limit is used up.
    #[error("user {user} is over the rate limit; the next turn is allowed in {retry_after:?}")]
    RateLimited {
        /// The user.
        user: UserId,
        /// How long until the limiter would admit a turn.
        retry_after: Duration,
    },
    /// The user holds `limit` live sessions and the policy is `refuse`.
    #[error("user {user} already holds {limit} live sessions (on_user_limit = \"refuse\")")]
    UserLimit {
        /// The user.
        user: UserId,
        /// The configured `max_concurrent_per_user`.
        limit: usize,
    },
}

/// Counters of what the store did, for the run's metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Sessions opened.
    pub opened: u64,
    /// Sessions resumed.
    pub resumed: u64,
    /// Sessions evicted because the store was at `max_sessions` (least recently used first).
    pub evicted_capacity: u64,
    /// Sessions removed because they were idle longer than the TTL.
    pub evicted_ttl: u64,
    /// Sessions evicted because their user opened one over `max_concurrent_per_user`.
    pub evicted_user_cap: u64,
    /// New sessions refused at `max_concurrent_per_user` (policy `refuse`).
    pub refused_user_cap: u64,
    /// Turns the per-user rate limit held back (local, nothing sent), each counted once
    /// however long it waited and whether it was admitted later or not.
    pub rate_limited: u64,
}

/// A governor clock reading tokio time, so `tokio::time::pause()` drives the rate limiter too.
#[derive(Clone, Debug)]
struct TokioClock {
    origin: Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.origin)
    }
}

type Limiter =
    RateLimiter<UserId, DefaultKeyedStateStore<UserId>, TokioClock, NoOpMiddleware<Duration>>;

/// One live session.
#[derive(Debug)]
struct Entry {
    user: UserId,
    last_access: Instant,
    /// Key of this session in the LRU order.
    seq: u64,
    history: Vec<ChatMessage>,
}

/// Everything behind the lock.
#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<SessionId, Entry>,
    /// Touch sequence -> id; the first entry is the least recently used (and the oldest access).
    lru: BTreeMap<u64, SessionId>,
    /// Each user's live sessions (at most `max_concurrent_per_user`); a user with none has no
    /// key, so this map is bounded by the number of sessions.
    by_user: HashMap<UserId, Vec<SessionId>>,
    next_seq: u64,
    stats: SessionStats,
}

impl Inner {
    fn touch(&mut self, id: SessionId, now: Instant) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(e) = self.sessions.get_mut(&id) {
            self.lru.remove(&e.seq);
            e.seq = seq;
            e.last_access = now;
            self.lru.insert(seq, id);
        }
    }

    fn remove(&mut self, id: SessionId) -> Option<Entry> {
        let e = self.sessions.remove(&id)?;
        self.lru.remove(&e.seq);
        if let Some(ids) = self.by_user.get_mut(&e.user) {
            ids.retain(|x| *x != id);
            if ids.is_empty() {
                self.by_user.remove(&e.user);
            }
        }
        Some(e)
    }

    /// Removes every session idle for longer than `ttl`; they sit at the front of the LRU.
    fn purge_expired(&mut self, now: Instant, ttl: Duration) -> usize {
        let mut n = 0;
        while let Some((_, &id)) = self.lru.first_key_value() {
            let idle = self
                .sessions
                .get(&id)
                .map(|e| now.saturating_duration_since(e.last_access));
            match idle {
                Some(idle) if idle <= ttl => break,
                Some(_) => {
                    self.remove(id);
                    n += 1;
                }
                // Cannot happen (the maps change together), but never loop on it.
                None => {
                    self.lru.pop_first();
                }
            }
        }
        self.stats.evicted_ttl += n as u64;
        n
    }
}

/// The session store shared by every virtual user of a run (it comes in an [`Arc`]).
pub struct SessionStore {
    config: SessionConfig,
    inner: Mutex<Inner>,
    limiter: Limiter,
    /// The limiter clock's zero, to turn its answers into waits.
    clock: TokioClock,
    checks: AtomicU64,
    rate_limited: AtomicU64,
}

impl fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionStore")
            .field("config", &self.config)
            .field("sessions", &self.len())
            .field("rate_limiter_keys", &self.limiter.len())
            .finish()
    }
}

impl SessionStore {
    /// A store for `config` (validated here), ready to share.
    pub fn new(config: SessionConfig) -> Result<Arc<SessionStore>, String> {
        config.validate()?;
        let clock = TokioClock {
            origin: Instant::now(),
        };
        Ok(Arc::new(SessionStore {
            limiter: RateLimiter::dashmap_with_clock(config.quota()?, clock.clone()),
            clock,
            config,
            inner: Mutex::new(Inner::default()),
            checks: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        }))
    }

    /// Admits one turn of `user`: checks the user's rate limit, expires idle sessions, then
    /// resumes `session` (if live and owned by this user) or opens a new one, applying the
    /// per-user cap and the capacity. The returned history is a copy; store the updated one with
    /// [`SessionStore::end_turn`].
    ///
    /// A refusal by the rate limit counts once in [`SessionStats::rate_limited`]. A caller that
    /// waits for admission and asks again (as [`crate::agent::conversation::Agent`] does) uses
    /// [`SessionStore::try_begin_turn`] and [`SessionStore::note_held`] instead, so a turn held
    /// back counts once however many times it asked.
    pub fn begin_turn(
        &self,
        user: UserId,
        session: Option<SessionId>,
    ) -> Result<Turn, SessionError> {
        let result = self.try_begin_turn(user, session);
        if matches!(result, Err(SessionError::RateLimited { .. })) {
            self.note_held();
        }
        result
    }

    /// [`SessionStore::begin_turn`] without counting a rate-limit refusal: the caller counts
    /// the held turn once with [`SessionStore::note_held`], then waits `retry_after` and asks
    /// again.
    pub fn try_begin_turn(
        &self,
        user: UserId,
        session: Option<SessionId>,
    ) -> Result<Turn, SessionError> {
        self.check_rate(user)?;
        let mut inner = self.lock();
        let now = Instant::now();
        inner.purge_expired(now, self.config.ttl.0);

        if let Some(id) = session
            && inner.sessions.get(&id).is_some_and(|e| e.user == user)
        {
            inner.touch(id, now);
            inner.stats.resumed += 1;
            let history = inner
                .sessions
                .get(&id)
                .map(|e| e.history.clone())
                .unwrap_or_default();
            return Ok(Turn {
                id,
                history,
                opened: Opened::Resumed,
            });
        }

        let id = self.open(&mut inner, user, now)?;
        Ok(Turn {
            id,
            history: Vec::new(),
            opened: if session.is_some() {
                Opened::Replaced
            } else {
                Opened::New
            },
        })
    }

    /// Stores the history at the end of a turn and counts it as an access. Returns false if the
    /// session is gone meanwhile (evicted, or idle past the TTL since its last access: the TTL
    /// is checked before the access is refreshed, here too); the history is then dropped.
    pub fn end_turn(&self, id: SessionId, history: Vec<ChatMessage>) -> bool {
        let mut inner = self.lock();
        let now = Instant::now();
        inner.purge_expired(now, self.config.ttl.0);
        let Some(e) = inner.sessions.get_mut(&id) else {
            return false;
        };
        e.history = history;
        inner.touch(id, now);
        true
    }

    /// Closes a session (the user ended it). Returns false if it was already gone.
    pub fn close(&self, id: SessionId) -> bool {
        self.lock().remove(id).is_some()
    }

    /// Removes every expired session now (turns do this too; call it from a periodic task if
    /// the store may sit idle). Returns how many were removed.
    pub fn purge_expired(&self) -> usize {
        let mut inner = self.lock();
        inner.purge_expired(Instant::now(), self.config.ttl.0)
    }

    /// Live sessions (expired ones not yet purged included).
    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    /// True when no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Live sessions of `user`.
    pub fn user_sessions(&self, user: UserId) -> usize {
        self.lock().by_user.get(&user).map_or(0, Vec::len)
    }

    /// Users with at least one live session (bounded by the number of sessions).
    pub fn users(&self) -> usize {
        self.lock().by_user.len()
    }

    /// Keys in the rate limiter's map (what the bounded-memory guarantee is about).
    pub fn rate_limiter_keys(&self) -> usize {
        self.limiter.len()
    }

    /// The counters so far.
    pub fn stats(&self) -> SessionStats {
        let mut s = self.lock().stats;
        s.rate_limited = self.rate_limited.load(Ordering::Relaxed);
        s
    }

    /// The settings.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The lock, even if a panicking thread poisoned it: every critical section leaves the maps
    /// consistent before anything that could panic, so the data is still sound.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check_rate(&self, user: UserId) -> Result<(), SessionError> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % RETAIN_EVERY == RETAIN_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&user)
            .map_err(|not_until| SessionError::RateLimited {
                user,
                retry_after: not_until.wait_time_from(self.clock.now()),
            })
    }

    /// Counts one turn the per-user rate limit held back (whether it was admitted later or
    /// not).
    pub fn note_held(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// Opens a new session for `user` under the lock, applying the per-user cap, then capacity.
    fn open(
        &self,
        inner: &mut Inner,
        user: UserId,
        now: Instant,
    ) -> Result<SessionId, SessionError> {
        let cap = self.config.max_concurrent_per_user;
        if inner.by_user.get(&user).map_or(0, Vec::len) >= cap {
            match self.config.on_user_limit {
                OnUserLimit::Refuse => {
                    inner.stats.refused_user_cap += 1;
                    return Err(SessionError::UserLimit { user, limit: cap });
                }
                OnUserLimit::EvictOldest => {
                    let oldest = inner.by_user.get(&user).and_then(|ids| {
                        ids.iter()
                            .copied()
                            .min_by_key(|id| inner.sessions.get(id).map_or(0, |e| e.seq))
                    });
                    if let Some(old) = oldest {
                        inner.remove(old);
                        inner.stats.evicted_user_cap += 1;
                    }
                }
            }
        }
        while inner.sessions.len() >= self.config.max_sessions {
            let Some((_, lru)) = inner.lru.first_key_value().map(|(k, v)| (*k, *v)) else {
                break;
            };
            inner.remove(lru);
            inner.stats.evicted_capacity += 1;
        }
        let mut id = SessionId::random();
        while inner.sessions.contains_key(&id) {
            id = SessionId::random();
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.sessions.insert(
            id,
            Entry {
                user,
                last_access: now,
                seq,
                history: Vec::new(),
            },
        );
        inner.lru.insert(seq, id);
        inner.by_user.entry(user).or_default().push(id);
        inner.stats.opened += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests;
