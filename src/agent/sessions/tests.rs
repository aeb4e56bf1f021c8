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
