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
mod tests {
    use std::collections::HashSet;

    use tokio::time::advance;

    use super::*;
    use crate::chat::Role;

    fn store(toml_text: &str) -> Arc<SessionStore> {
        let cfg: SessionConfig = toml::from_str(toml_text).unwrap();
        SessionStore::new(cfg).unwrap()
    }

    /// A store with a rate limit too generous to matter.
    fn unlimited(extra: &str) -> Arc<SessionStore> {
        store(&format!("rate_limit = \"1000000/s\"\n{extra}"))
    }

    #[test]
    fn config_defaults_and_errors() {
        let c: SessionConfig = toml::from_str("").unwrap();
        assert_eq!(c, SessionConfig::default());
        assert_eq!(c.max_sessions, 10_000);
        assert_eq!(c.ttl.0, Duration::from_secs(3600));
        assert_eq!(c.max_concurrent_per_user, 3);
        assert_eq!(c.rate_limit.to_string(), "30/min");
        assert_eq!(c.on_user_limit, OnUserLimit::EvictOldest);
        let c: SessionConfig = toml::from_str("on_user_limit = \"refuse\"\nttl = \"10m\"").unwrap();
        assert_eq!(
            (c.on_user_limit, c.ttl.0),
            (OnUserLimit::Refuse, Duration::from_secs(600))
        );
        assert!(toml::from_str::<SessionConfig>("on_user_limit = \"drop\"").is_err());
        assert!(toml::from_str::<SessionConfig>("max_session = 1").is_err());
        for (text, key) in [
            ("max_sessions = 0", "max_sessions"),
            ("max_concurrent_per_user = 0", "max_concurrent_per_user"),
            ("ttl = \"0s\"", "ttl"),
            ("rate_limit = \"1000000000000/s\"", "rate_limit"),
        ] {
            let c: SessionConfig = toml::from_str(text).unwrap();
            let err = SessionStore::new(c).unwrap_err();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn ttl_expiry_really_happens() {
        let s = unlimited("ttl = \"1h\"");
        let t = s.begin_turn(1, None).unwrap();
        assert_eq!(t.opened, Opened::New);
        assert!(s.end_turn(t.id, vec![ChatMessage::text(Role::User, "hi")]));

        // Accessed within the TTL, again and again: it lives on, history intact.
        for _ in 0..3 {
            advance(Duration::from_secs(3599)).await;
            let r = s.begin_turn(1, Some(t.id)).unwrap();
            assert_eq!(
                (r.opened, r.id, r.history.len()),
                (Opened::Resumed, t.id, 1)
            );
        }
        // Idle one second past the TTL: gone, even though this very call asks for it.
        advance(Duration::from_secs(3601)).await;
        let r = s.begin_turn(1, Some(t.id)).unwrap();
        assert_eq!(r.opened, Opened::Replaced);
        assert_ne!(r.id, t.id);
        assert!(r.history.is_empty());
        assert!(
            !s.end_turn(t.id, Vec::new()),
            "the expired session must stay gone"
        );
        assert_eq!(s.stats().evicted_ttl, 1);

        // end_turn checks the TTL before refreshing too: a turn that outlived the TTL finds
        // its session gone rather than reviving it.
        let r2 = s.begin_turn(1, Some(r.id)).unwrap();
        advance(Duration::from_secs(3601)).await;
        assert!(!s.end_turn(r2.id, Vec::new()));
        assert_eq!(s.stats().evicted_ttl, 2);
        let r = s.begin_turn(1, None).unwrap();
        assert!(s.end_turn(r.id, Vec::new()));

        // An idle store purges on demand too.
        advance(Duration::from_secs(7200)).await;
        assert_eq!(s.purge_expired(), 1);
        assert!(s.is_empty());
        assert_eq!(s.users(), 0);
        assert_eq!(s.stats().evicted_ttl, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limit_is_gcra_per_user() {
        let s = store("rate_limit = \"30/min\"\nmax_concurrent_per_user = 100");
        for i in 0..30 {
            assert!(
                s.begin_turn(1, None).is_ok(),
                "turn {i} is within the burst"
            );
        }
        match s.begin_turn(1, None) {
            Err(SessionError::RateLimited {
                user: 1,
                retry_after,
            }) => {
                assert_eq!(retry_after, Duration::from_secs(2));
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        assert!(s.begin_turn(2, None).is_ok(), "another user is not limited");
        advance(Duration::from_secs(2)).await;
        assert!(
            s.begin_turn(1, None).is_ok(),
            "one cell replenished after 2 s"
        );
        assert!(s.begin_turn(1, None).is_err());
        assert_eq!(s.stats().rate_limited, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limit_memory_stays_bounded_after_100k_users() {
        let s = store("rate_limit = \"30/min\"\nmax_sessions = 1000");
        let mut peak = 0;
        for user in 0..100_000u64 {
            let t = s.begin_turn(user, None).unwrap();
            s.end_turn(t.id, vec![ChatMessage::text(Role::User, "q")]);
            advance(Duration::from_millis(1)).await;
            peak = peak.max(s.rate_limiter_keys());
        }
        // A key is forgotten two emission intervals (4 s = 4000 users here) after its last turn,
        // at the next sweep (every RETAIN_EVERY checks).
        assert!(peak <= 4000 + 2 * RETAIN_EVERY as usize, "peak {peak} keys");
        assert!(s.len() <= 1000 && s.users() <= 1000);
        assert_eq!(s.stats().evicted_capacity, 99_000);
        // Once everyone is quiet, a sweep forgets them all but the few just seen.
        advance(Duration::from_secs(10)).await;
        for _ in 0..RETAIN_EVERY {
            let _ = s.begin_turn(7, None);
        }
        assert!(s.rate_limiter_keys() <= 1, "{}", s.rate_limiter_keys());
    }

    #[tokio::test(start_paused = true)]
    async fn ids_are_unique_and_unguessable() {
        let a = unlimited("max_concurrent_per_user = 100000\nmax_sessions = 100000");
        let b = unlimited("");
        let mut seen = HashSet::new();
        let mut ones = 0u64;
        // Same user, same instant: nothing an attacker could vary, still all different.
        for _ in 0..10_000 {
            let id = a.begin_turn(42, None).unwrap().id;
            let hex = id.to_string();
            assert_eq!(hex.len(), 32);
            assert!(
                hex.bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
            ones += u64::from(id.0.count_ones());
            assert!(seen.insert(id), "duplicate id {id}");
        }
        // A second store at the same instant for the same user does not repeat them.
        assert!(!seen.contains(&b.begin_turn(42, None).unwrap().id));
        // Roughly half the bits set: random, not a counter or a small hash (mean 64, sd 0.06).
        let mean = ones as f64 / 10_000.0;
        assert!((63.0..65.0).contains(&mean), "mean set bits {mean}");
    }

    #[tokio::test(start_paused = true)]
    async fn per_user_cap() {
        for (policy, want_fourth_ok) in [("evict_oldest", true), ("refuse", false)] {
            let s = unlimited(&format!(
                "max_concurrent_per_user = 3\non_user_limit = \"{policy}\""
            ));
            let mut ids = Vec::new();
            for _ in 0..3 {
                ids.push(s.begin_turn(1, None).unwrap().id);
                advance(Duration::from_secs(1)).await;
            }
            // Touch the first so the second is the user's least recently used.
            assert_eq!(
                s.begin_turn(1, Some(ids[0])).unwrap().opened,
                Opened::Resumed
            );
            let fourth = s.begin_turn(1, None);
            assert_eq!(fourth.is_ok(), want_fourth_ok, "{policy}");
            assert_eq!(s.user_sessions(1), 3, "{policy}");
            // Another user is unaffected by user 1's cap.
            assert!(s.begin_turn(2, None).is_ok());
            let st = s.stats();
            if want_fourth_ok {
                assert_eq!((st.evicted_user_cap, st.refused_user_cap), (1, 0));
                assert_eq!(
                    s.begin_turn(1, Some(ids[2])).unwrap().opened,
                    Opened::Resumed
                );
                assert_eq!(
                    s.begin_turn(1, Some(ids[0])).unwrap().opened,
                    Opened::Resumed
                );
                assert_eq!(
                    s.begin_turn(1, Some(ids[1])).unwrap().opened,
                    Opened::Replaced
                );
                assert_eq!(s.stats().evicted_user_cap, 2);
            } else {
                assert_eq!((st.evicted_user_cap, st.refused_user_cap), (0, 1));
                assert_eq!(
                    fourth.unwrap_err(),
                    SessionError::UserLimit { user: 1, limit: 3 }
                );
                // Closing one makes room.
                assert!(s.close(ids[1]));
                assert!(s.begin_turn(1, None).is_ok());
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn lru_eviction_at_capacity() {
        let s = unlimited("max_sessions = 3");
        let a = s.begin_turn(1, None).unwrap().id;
        let b = s.begin_turn(2, None).unwrap().id;
        let c = s.begin_turn(3, None).unwrap().id;
        // Use a, so b becomes the least recently used.
        assert!(s.end_turn(a, Vec::new()));
        let d = s.begin_turn(4, None).unwrap().id;
        assert_eq!(s.len(), 3);
        assert_eq!(s.stats().evicted_capacity, 1);
        assert_eq!(s.begin_turn(2, Some(b)).unwrap().opened, Opened::Replaced);
        // That replacement evicted c, the next least recently used.
        assert_eq!(s.begin_turn(3, Some(c)).unwrap().opened, Opened::Replaced);
        assert_eq!(s.begin_turn(4, Some(d)).unwrap().opened, Opened::Resumed);
        assert_eq!(s.stats().evicted_capacity, 3);
        assert_eq!(s.users(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn another_users_session_is_not_resumed() {
        let s = unlimited("");
        let t = s.begin_turn(1, None).unwrap();
        s.end_turn(t.id, vec![ChatMessage::text(Role::User, "secret")]);
        let other = s.begin_turn(2, Some(t.id)).unwrap();
        assert_eq!(other.opened, Opened::Replaced);
        assert!(other.history.is_empty());
        assert_eq!(s.begin_turn(1, Some(t.id)).unwrap().history.len(), 1);
    }

    #[test]
    fn concurrent_users_keep_the_maps_consistent() {
        let s = SessionStore::new(SessionConfig {
            max_sessions: 50,
            rate_limit: "1000000/s".parse().unwrap(),
            ..SessionConfig::default()
        })
        .unwrap();
        let threads: Vec<_> = (0..4u64)
            .map(|k| {
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    let mut last = None;
                    for i in 0..2000u64 {
                        let user = k * 100 + i % 40;
                        if let Ok(t) = s.begin_turn(user, last) {
                            s.end_turn(t.id, vec![ChatMessage::text(Role::User, "q")]);
                            last = Some(t.id);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let inner = s.lock();
        assert!(inner.sessions.len() <= 50);
        assert_eq!(inner.lru.len(), inner.sessions.len());
        let indexed: usize = inner.by_user.values().map(Vec::len).sum();
        assert_eq!(indexed, inner.sessions.len());
        assert!(inner.by_user.values().all(|v| v.len() <= 3));
    }
}
