//! Retry policy: which failures are worth another attempt, and how long to wait first.
//!
//! Classification comes from [`ErrorClass`] (status and error code, never message text):
//! rate limits, 408/409, 5xx, timeouts, connection errors and cut streams are retried; 400,
//! 401, 403, 404, 422, `insufficient_quota` and malformed replies are not. The wait is the
//! server's when it names one (`retry-after-ms`, `Retry-After`, and on a 429 the
//! `x-ratelimit-reset-*` of the exhausted limit), else the configured backoff: capped first,
//! then jittered, so the jittered wait never exceeds the cap. A server wait longer than
//! `max_server_wait` means give up (as openai-python does), since sleeping minutes inside a load
//! test measures nothing. Sleeping is the caller's job, with `tokio::time::sleep`.

use std::time::Duration;

use rand::{Rng, RngExt};
use serde::Deserialize;

use crate::client::LlmError;
use crate::record::ErrorClass;
use crate::units::HumanDuration;

/// How the wait grows from one retry to the next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackoffStrategy {
    /// base, 2 base, 4 base, 8 base ...
    #[default]
    Exponential,
    /// base, 2 base, 3 base ... (the first retry waits one base delay, never zero).
    Linear,
    /// base, 2 base, 3 base, 5 base, 8 base ...
    Fibonacci,
}

/// `[agent.retry]` in a scenario file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Retries after the first attempt, per model of the fallback chain (`max_retries`, 3).
    pub max_retries: u32,
    /// Growth of the wait (`strategy`: `exponential`, `linear` or `fibonacci`).
    pub strategy: BackoffStrategy,
    /// Wait before the first retry (`base_delay`, `"1s"`).
    pub base_delay: HumanDuration,
    /// Longest computed wait, applied before jitter (`max_delay`, `"30s"`).
    pub max_delay: HumanDuration,
    /// Randomise each wait within its upper half, so users do not retry in lockstep
    /// (`jitter`, true).
    pub jitter: bool,
    /// A server-directed wait longer than this means give up on the model
    /// (`max_server_wait`, `"120s"`).
    pub max_server_wait: HumanDuration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 3,
            strategy: BackoffStrategy::Exponential,
            base_delay: HumanDuration(Duration::from_secs(1)),
            max_delay: HumanDuration(Duration::from_secs(30)),
            jitter: true,
            max_server_wait: HumanDuration(Duration::from_secs(120)),
        }
    }
}

/// The longest server-directed wait ever slept, whatever `max_server_wait` says: a day. Server
/// numbers are parsed saturating (`client::SATURATED_WAIT`, ~136 years for `1e20`), and a wait
/// past this is a give-up, never a sleep or an `Instant` sum near overflow.
pub const MAX_SERVER_WAIT_CAP: Duration = Duration::from_secs(24 * 3600);

/// Whether a failure of this class may succeed if sent again.
pub fn class_is_retryable(class: ErrorClass) -> bool {
    matches!(
        class,
        ErrorClass::RateLimited
            | ErrorClass::Conflict
            | ErrorClass::Server
            | ErrorClass::Timeout
            | ErrorClass::Connection
            | ErrorClass::StreamCut
    )
}

/// Whether `err` may succeed if sent again.
pub fn is_retryable(err: &LlmError) -> bool {
    class_is_retryable(err.class)
}

/// The wait the server asked for: `retry-after-ms` or `Retry-After` on any error; on a rate
/// limit also the reset of the exhausted `x-ratelimit-*` limit.
pub fn server_wait(err: &LlmError) -> Option<Duration> {
    err.rate_limit.retry_after.or_else(|| {
        (err.class == ErrorClass::RateLimited)
            .then(|| err.rate_limit.reset_wait())
            .flatten()
    })
}

/// The computed wait before retry number `retry` (1 for the first retry): the strategy's
/// multiple of the base delay, capped at `max_delay`, then jittered within `[cap/2, cap]`.
pub fn backoff<R: Rng + ?Sized>(retry: u32, config: &RetryConfig, rng: &mut R) -> Duration {
    let n = retry.max(1);
    let factor: u64 = match config.strategy {
        BackoffStrategy::Exponential => 1u64 << (n - 1).min(40),
        BackoffStrategy::Linear => u64::from(n),
        BackoffStrategy::Fibonacci => {
            let (mut a, mut b) = (1u64, 2u64);
            for _ in 1..n.min(80) {
                (a, b) = (b, a.saturating_add(b));
            }
            a
        }
    };
    let raw = config
        .base_delay
        .0
        .checked_mul(u32::try_from(factor).unwrap_or(u32::MAX))
        .unwrap_or(Duration::MAX);
    let capped = raw.min(config.max_delay.0);
    if config.jitter && !capped.is_zero() {
        // "Equal jitter": keeps at least half the wait, so linear's first retry is never ~0.
        let half = capped / 2;
        let extra_ns =
            rng.random_range(0..=(capped - half).as_nanos().min(u64::MAX as u128) as u64);
        half + Duration::from_nanos(extra_ns)
    } else {
        capped
    }
}

/// Why no further attempt of the same model will be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GiveUp {
    /// The failure cannot be cured by sending again.
    NotRetryable,
    /// `max_retries` retries were made.
    Exhausted,
    /// The server asked for a wait longer than `max_server_wait`.
    ServerWaitTooLong(Duration),
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Sleep this long, then send again.
    Retry(Duration),
    /// Stop retrying this model.
    GiveUp(GiveUp),
}

/// Decides after a failure, given how many retries of this model were already made.
pub fn decide<R: Rng + ?Sized>(
    err: &LlmError,
    retries_done: u32,
    config: &RetryConfig,
    rng: &mut R,
) -> RetryDecision {
    if !is_retryable(err) {
        return RetryDecision::GiveUp(GiveUp::NotRetryable);
    }
    if retries_done >= config.max_retries {
        return RetryDecision::GiveUp(GiveUp::Exhausted);
    }
    match server_wait(err) {
        Some(w) if w > config.max_server_wait.0.min(MAX_SERVER_WAIT_CAP) => {
            RetryDecision::GiveUp(GiveUp::ServerWaitTooLong(w))
        }
        // A zero wait ("retry now") during a storm would hammer the server: use the backoff.
        Some(w) if !w.is_zero() => RetryDecision::Retry(w),
        _ => RetryDecision::Retry(backoff(retries_done + 1, config, rng)),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::client::RateLimitInfo;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn cfg(strategy: BackoffStrategy, jitter: bool) -> RetryConfig {
        RetryConfig {
            strategy,
            jitter,
            ..RetryConfig::default()
        }
    }

    #[test]
    fn backoff_sequences_without_jitter() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for (strategy, want) in [
            (BackoffStrategy::Exponential, [1, 2, 4, 8, 16, 30, 30]),
            (BackoffStrategy::Linear, [1, 2, 3, 4, 5, 6, 7]),
            (BackoffStrategy::Fibonacci, [1, 2, 3, 5, 8, 13, 21]),
        ] {
            let c = cfg(strategy, false);
            let got: Vec<u64> = (1..=7)
                .map(|n| backoff(n, &c, &mut rng).as_secs())
                .collect();
            assert_eq!(got, want, "{strategy:?}");
        }
    }

    #[test]
    fn linear_first_retry_waits_one_base_delay_even_with_jitter() {
        let c = cfg(BackoffStrategy::Linear, true);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..1000 {
            let d = backoff(1, &c, &mut rng);
            assert!(d >= Duration::from_millis(500) && d <= secs(1), "{d:?}");
        }
        assert_eq!(
            backoff(1, &cfg(BackoffStrategy::Linear, false), &mut rng),
            secs(1)
        );
    }

    #[test]
    fn jitter_applies_after_the_cap() {
        // Uncapped, retry 10 would be 512 s; the cap makes it 30 s, and jitter stays under it.
        let c = cfg(BackoffStrategy::Exponential, true);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let waits: Vec<Duration> = (0..1000).map(|_| backoff(10, &c, &mut rng)).collect();
        assert!(waits.iter().all(|d| *d >= secs(15) && *d <= secs(30)));
        // And it really varies.
        assert!(waits.iter().any(|d| *d != waits[0]));
        // Huge retry numbers saturate instead of overflowing.
        assert_eq!(
            backoff(
                u32::MAX,
                &cfg(BackoffStrategy::Exponential, false),
                &mut rng
            ),
            secs(30)
        );
        assert_eq!(
            backoff(u32::MAX, &cfg(BackoffStrategy::Fibonacci, false), &mut rng),
            secs(30)
        );
    }

    #[test]
    fn retryable_classes() {
        for (class, want) in [
            (ErrorClass::RateLimited, true),
            (ErrorClass::Conflict, true),
            (ErrorClass::Server, true),
            (ErrorClass::Timeout, true),
            (ErrorClass::Connection, true),
            (ErrorClass::StreamCut, true),
            (ErrorClass::QuotaExceeded, false),
            (ErrorClass::ContextLength, false),
            (ErrorClass::BadRequest, false),
            (ErrorClass::Auth, false),
            (ErrorClass::NotFound, false),
            (ErrorClass::Malformed, false),
            (ErrorClass::BreakerOpen, false),
            (ErrorClass::SpendCap, false),
            (ErrorClass::Deadline, false),
        ] {
            assert_eq!(class_is_retryable(class), want, "{class:?}");
        }
    }

    fn err(class: ErrorClass, rate_limit: RateLimitInfo) -> LlmError {
        LlmError {
            rate_limit: Box::new(rate_limit),
            ..LlmError::local(class, "x")
        }
    }

    #[test]
    fn decisions_honour_server_waits() {
        let c = cfg(BackoffStrategy::Exponential, false);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let after = |d: Duration| RateLimitInfo {
            retry_after: Some(d),
            ..RateLimitInfo::default()
        };
        let reset = RateLimitInfo {
            reset_requests: Some(secs(360)),
            remaining_requests: Some(0),
            ..RateLimitInfo::default()
        };
        let short_reset = RateLimitInfo {
            reset_tokens: Some(Duration::from_millis(20)),
            ..RateLimitInfo::default()
        };
        for (e, done, want) in [
            (
                err(ErrorClass::RateLimited, after(secs(7))),
                0,
                RetryDecision::Retry(secs(7)),
            ),
            // Server wait is honoured even beyond max_delay, as long as it is under the maximum.
            (
                err(ErrorClass::RateLimited, after(secs(90))),
                0,
                RetryDecision::Retry(secs(90)),
            ),
            (
                err(ErrorClass::RateLimited, after(secs(121))),
                0,
                RetryDecision::GiveUp(GiveUp::ServerWaitTooLong(secs(121))),
            ),
            // `6m0s` on an exhausted request limit is past 120 s: give up rather than sleep.
            (
                err(ErrorClass::RateLimited, reset.clone()),
                0,
                RetryDecision::GiveUp(GiveUp::ServerWaitTooLong(secs(360))),
            ),
            (
                err(ErrorClass::RateLimited, short_reset.clone()),
                1,
                RetryDecision::Retry(Duration::from_millis(20)),
            ),
            // Reset headers only direct the wait on a rate limit, not on a 503.
            (
                err(ErrorClass::Server, reset),
                1,
                RetryDecision::Retry(secs(2)),
            ),
            (
                err(ErrorClass::Server, after(Duration::ZERO)),
                0,
                RetryDecision::Retry(secs(1)),
            ),
            (
                err(ErrorClass::Server, RateLimitInfo::default()),
                2,
                RetryDecision::Retry(secs(4)),
            ),
            (
                err(ErrorClass::Server, RateLimitInfo::default()),
                3,
                RetryDecision::GiveUp(GiveUp::Exhausted),
            ),
            (
                err(ErrorClass::QuotaExceeded, after(secs(1))),
                0,
                RetryDecision::GiveUp(GiveUp::NotRetryable),
            ),
        ] {
            assert_eq!(decide(&e, done, &c, &mut rng), want, "{e:?} after {done}");
        }
    }

    /// Issue 15.1: huge, infinite and NaN server waits never panic and never turn into a
    /// sleep; each is a give-up (or, for NaN, no server wait at all: the backoff).
    #[test]
    fn huge_server_waits_from_any_header_mean_give_up() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let lenient = RetryConfig {
            // Even a configuration that would accept any wait gives up past the hard cap.
            max_server_wait: HumanDuration(Duration::MAX),
            jitter: false,
            ..RetryConfig::default()
        };
        for (name, value, want_give_up) in [
            ("retry-after-ms", "1e23", true),
            ("retry-after", "1e20", true),
            ("retry-after", "inf", true),
            ("x-ratelimit-reset-requests", "1e20", true),
            ("x-ratelimit-reset-requests", "99999999h", true),
            ("retry-after", "NaN", false),
            ("retry-after", "-1", false),
        ] {
            let mut h = http::HeaderMap::new();
            h.insert(name, http::HeaderValue::from_static(value));
            h.insert(
                "x-ratelimit-remaining-requests",
                http::HeaderValue::from_static("0"),
            );
            let info = RateLimitInfo::from_headers(&h, std::time::SystemTime::now());
            let e = err(ErrorClass::RateLimited, info);
            for config in [&RetryConfig::default(), &lenient] {
                let got = decide(&e, 0, config, &mut rng);
                match got {
                    RetryDecision::GiveUp(GiveUp::ServerWaitTooLong(_)) => {
                        assert!(want_give_up, "{name}: {value} -> {got:?}")
                    }
                    RetryDecision::Retry(w) => {
                        assert!(!want_give_up, "{name}: {value} -> {got:?}");
                        assert!(w <= config.max_delay.0, "{name}: {value}: backoff {w:?}");
                    }
                    other => panic!("{name}: {value}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn config_from_toml_with_defaults_and_unknown_keys_rejected() {
        let c: RetryConfig =
            toml::from_str("strategy = \"linear\"\nbase_delay = \"250ms\"").unwrap();
        assert_eq!(c.strategy, BackoffStrategy::Linear);
        assert_eq!(c.base_delay.0, Duration::from_millis(250));
        assert_eq!(c.max_retries, 3);
        assert_eq!(c.max_server_wait.0, secs(120));
        let e = toml::from_str::<RetryConfig>("retries = 3").unwrap_err();
        assert!(e.to_string().contains("retries"), "{e}");
    }
}
