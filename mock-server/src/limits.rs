//! Provider rate limits per model: requests and tokens per minute, as token buckets.
//!
//! A bucket holds up to the per-minute limit and refills continuously at limit/60 per second,
//! which is how OpenAI describes its limits. A request needs 1 request unit and its prompt plus
//! completion tokens; if either bucket is short, nothing is taken and the reply is 429 with the
//! wait until enough has refilled. Time is `tokio::time::Instant`, so tests can pause it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    level: f64,
    last: Instant,
}

impl Bucket {
    fn new(capacity: u64, now: Instant) -> Bucket {
        Bucket {
            capacity: capacity as f64,
            level: capacity as f64,
            last: now,
        }
    }

    fn per_sec(&self) -> f64 {
        self.capacity / 60.0
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.level = (self.level + dt * self.per_sec()).min(self.capacity);
        self.last = now;
    }

    fn wait_for(&self, need: f64) -> Duration {
        Duration::from_secs_f64(((need - self.level).max(0.0) / self.per_sec()).min(1e9))
    }

    fn header(&self) -> LimitHeader {
        LimitHeader {
            limit: self.capacity as u64,
            remaining: self.level.floor().max(0.0) as u64,
            reset: self.wait_for(self.capacity),
        }
    }
}

/// The values of one `x-ratelimit-*-requests` or `-tokens` header triple.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LimitHeader {
    /// `x-ratelimit-limit-*`.
    pub limit: u64,
    /// `x-ratelimit-remaining-*`.
    pub remaining: u64,
    /// `x-ratelimit-reset-*`: until the bucket is full again.
    pub reset: Duration,
}

/// Headers to send with a reply.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LimitHeaders {
    /// Request limit state, when rpm is set.
    pub requests: Option<LimitHeader>,
    /// Token limit state, when tpm is set.
    pub tokens: Option<LimitHeader>,
}

/// A 429 from a configured limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limited {
    /// `"requests"` or `"tokens"`: which limit was hit.
    pub kind: &'static str,
    /// The limit.
    pub limit: u64,
    /// What the request needed.
    pub requested: u64,
    /// How long until it would fit (`retry-after`).
    pub retry_after: Duration,
    /// Headers as they stand.
    pub headers: LimitHeaders,
}

#[derive(Debug)]
struct ModelBuckets {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
}

/// Every model's buckets. One short lock per limited request; never held across an await.
#[derive(Default)]
pub struct Limiter {
    models: Mutex<HashMap<String, ModelBuckets>>,
}

impl Limiter {
    /// Takes one request and `tokens` tokens from `model`'s buckets, or says how long to wait.
    /// Models with neither limit never get here.
    pub fn acquire(
        &self,
        model: &str,
        rpm: Option<u64>,
        tpm: Option<u64>,
        tokens: u64,
        now: Instant,
    ) -> Result<LimitHeaders, Limited> {
        let Ok(mut map) = self.models.lock() else {
            return Ok(LimitHeaders::default());
        };
        if !map.contains_key(model) {
            map.insert(
                model.to_string(),
                ModelBuckets {
                    requests: rpm.map(|c| Bucket::new(c, now)),
                    tokens: tpm.map(|c| Bucket::new(c, now)),
                },
            );
        }
        let Some(b) = map.get_mut(model) else {
            return Ok(LimitHeaders::default());
        };
        for bucket in [&mut b.requests, &mut b.tokens].into_iter().flatten() {
            bucket.refill(now);
        }
        let headers = |b: &ModelBuckets| LimitHeaders {
            requests: b.requests.as_ref().map(Bucket::header),
            tokens: b.tokens.as_ref().map(Bucket::header),
        };
        if let Some(r) = &b.requests
            && r.level < 1.0
        {
            return Err(Limited {
                kind: "requests",
                limit: r.capacity as u64,
                requested: 1,
                retry_after: r.wait_for(1.0),
                headers: headers(b),
            });
        }
        if let Some(t) = &b.tokens
            && t.level < tokens as f64
        {
            return Err(Limited {
                kind: "tokens",
                limit: t.capacity as u64,
                requested: tokens,
                // A request larger than the whole minute's budget can never fit; say a minute.
                retry_after: if tokens as f64 > t.capacity {
                    Duration::from_secs(60)
                } else {
                    t.wait_for(tokens as f64)
                },
                headers: headers(b),
            });
        }
        if let Some(r) = &mut b.requests {
            r.level -= 1.0;
        }
        if let Some(t) = &mut b.tokens {
            t.level -= tokens as f64;
        }
        Ok(headers(b))
    }
}

/// Formats a duration as OpenAI's reset headers do (Go style): `20ms`, `1s`, `1.5s`, `6m0s`,
/// `1h2m3s`.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let h = ms / 3_600_000;
    let m = ms / 60_000 % 60;
    let s_ms = ms % 60_000;
    let secs = if s_ms.is_multiple_of(1000) {
        format!("{}s", s_ms / 1000)
    } else {
        let t = format!("{}.{:03}", s_ms / 1000, s_ms % 1000);
        format!("{}s", t.trim_end_matches('0'))
    };
    if h > 0 {
        format!("{h}h{m}m{secs}")
    } else if m > 0 {
        format!("{m}m{secs}")
    } else {
        secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_durations() {
        for (ms, want) in [
            (20, "20ms"),
            (1000, "1s"),
            (1500, "1.5s"),
            (360_000, "6m0s"),
            (3_723_000, "1h2m3s"),
        ] {
            assert_eq!(go_duration(Duration::from_millis(ms)), want);
        }
    }

    #[test]
    fn buckets_limit_and_refill() {
        let l = Limiter::default();
        let t0 = Instant::now();
        let ok = l
            .acquire("m", Some(2), Some(100), 40, t0)
            .expect("first fits");
        assert_eq!(ok.requests.map(|h| h.remaining), Some(1));
        assert_eq!(ok.tokens.map(|h| h.remaining), Some(60));
        l.acquire("m", Some(2), Some(100), 40, t0)
            .expect("second fits");
        let e = l
            .acquire("m", Some(2), Some(100), 10, t0)
            .expect_err("third is limited");
        assert_eq!(e.kind, "requests");
        assert_eq!(e.retry_after, Duration::from_secs(30));
        // After 30 s one request has refilled; tokens 20 + 50 = 70 < 80.
        let t1 = t0 + Duration::from_secs(30);
        let e = l
            .acquire("m", Some(2), Some(100), 80, t1)
            .expect_err("tokens short");
        assert_eq!(e.kind, "tokens");
        l.acquire("m", Some(2), Some(100), 70, t1)
            .expect("fits exactly");
    }
}
