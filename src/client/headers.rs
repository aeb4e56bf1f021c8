//! Retry and rate-limit headers: `retry-after-ms`, `Retry-After` (seconds or an HTTP date) and
//! OpenAI's `x-ratelimit-*`.
//!
//! Every number here comes from a server and may be anything: `1e23`, `inf`, `NaN`, `-3`,
//! `99999999h`. A wait is parsed saturating: a value too large for a [`Duration`] (or larger
//! than [`SATURATED_WAIT`]) becomes [`SATURATED_WAIT`], far beyond any sane
//! `max_server_wait`, so the retry policy gives up on it instead of sleeping; NaN and negative
//! values are no wait at all. Nothing in this file panics on any input (a property test feeds
//! it arbitrary text).

use std::time::{Duration, SystemTime};

use http::HeaderMap;

/// What every server-given wait is clamped to: about 136 years. Any wait this long is "give
/// up" to the retry policy (`agent::retry::decide`), and it still fits an `Instant` sum.
pub const SATURATED_WAIT: Duration = Duration::from_secs(u32::MAX as u64);

/// Rate-limit information from a response's headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RateLimitInfo {
    /// `retry-after-ms`, else `retry-after` (seconds, or an HTTP date turned into a wait).
    pub retry_after: Option<Duration>,
    /// `x-ratelimit-reset-requests` (`1s`, `6m0s`, `20ms` ...).
    pub reset_requests: Option<Duration>,
    /// `x-ratelimit-reset-tokens`.
    pub reset_tokens: Option<Duration>,
    /// `x-ratelimit-remaining-requests`.
    pub remaining_requests: Option<u64>,
    /// `x-ratelimit-remaining-tokens`.
    pub remaining_tokens: Option<u64>,
    /// `x-ratelimit-limit-requests`.
    pub limit_requests: Option<u64>,
    /// `x-ratelimit-limit-tokens`.
    pub limit_tokens: Option<u64>,
}

impl RateLimitInfo {
    /// Reads the headers; `now` turns an HTTP-date `Retry-After` into a wait. Unparseable
    /// values are ignored (a bad header must not turn into a wrong wait); huge ones saturate
    /// at [`SATURATED_WAIT`].
    pub fn from_headers(headers: &HeaderMap, now: SystemTime) -> Self {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let number = |name: &str| text(name).and_then(parse_count);
        let retry_after = text("retry-after-ms")
            .and_then(parse_retry_after_ms)
            .or_else(|| text("retry-after").and_then(|t| parse_retry_after(t, now)));
        RateLimitInfo {
            retry_after,
            reset_requests: text("x-ratelimit-reset-requests").and_then(parse_reset_duration),
            reset_tokens: text("x-ratelimit-reset-tokens").and_then(parse_reset_duration),
            remaining_requests: number("x-ratelimit-remaining-requests"),
            remaining_tokens: number("x-ratelimit-remaining-tokens"),
            limit_requests: number("x-ratelimit-limit-requests"),
            limit_tokens: number("x-ratelimit-limit-tokens"),
        }
    }

    /// The reset that matters: of an exhausted limit (remaining 0) if the server says which,
    /// else the longest reset given.
    pub fn reset_wait(&self) -> Option<Duration> {
        let exhausted = [
            (self.remaining_requests, self.reset_requests),
            (self.remaining_tokens, self.reset_tokens),
        ]
        .into_iter()
        .filter(|(rem, _)| *rem == Some(0))
        .filter_map(|(_, reset)| reset)
        .max();
        exhausted.or_else(|| self.reset_requests.max(self.reset_tokens))
    }
}

/// `secs` seconds as a wait: `None` for NaN and negative values, [`SATURATED_WAIT`] for
/// anything at or above it (infinity included). The one place server numbers become waits.
pub fn saturating_wait(secs: f64) -> Option<Duration> {
    if secs.is_nan() || secs < 0.0 {
        return None;
    }
    if secs >= SATURATED_WAIT.as_secs_f64() {
        return Some(SATURATED_WAIT);
    }
    // In range, so this cannot fail; a failure would still be "no wait", not a panic.
    Duration::try_from_secs_f64(secs).ok()
}

/// A count header (`x-ratelimit-remaining-*`): a whole number, saturating at `u64::MAX`
/// (a count too large to hold is still "not exhausted"); anything else is ignored.
pub fn parse_count(text: &str) -> Option<u64> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(t.parse::<u64>().unwrap_or(u64::MAX))
}

/// `retry-after-ms`: milliseconds, possibly fractional.
pub fn parse_retry_after_ms(text: &str) -> Option<Duration> {
    let ms = text.trim().parse::<f64>().ok()?;
    saturating_wait(ms / 1000.0)
}

/// `Retry-After`: whole or fractional seconds, or an HTTP date (a date in the past means 0).
pub fn parse_retry_after(text: &str, now: SystemTime) -> Option<Duration> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<f64>() {
        return saturating_wait(secs);
    }
    let at = httpdate::parse_http_date(t).ok()?;
    let wait = at.duration_since(now).unwrap_or(Duration::ZERO);
    Some(wait.min(SATURATED_WAIT))
}

/// A Go-style duration as OpenAI sends in `x-ratelimit-reset-*`: `1s`, `6m0s`, `20ms`,
/// `1h2m3.5s`, `0.5s`; a bare number is seconds. Saturates like every wait here.
pub fn parse_reset_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(secs) = t.parse::<f64>() {
        return saturating_wait(secs);
    }
    let mut total = 0.0_f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        // f64 sums of non-negative finite parts are finite or +inf: both saturate below.
        total += value * scale;
    }
    saturating_wait(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn reset_durations_in_go_style() {
        let ms = Duration::from_millis;
        for (text, want) in [
            ("1s", Some(ms(1000))),
            ("6m0s", Some(ms(360_000))),
            ("20ms", Some(ms(20))),
            ("1h2m3.5s", Some(ms(3_723_500))),
            ("0.5s", Some(ms(500))),
            ("2", Some(ms(2000))),
            ("59.56s", Some(ms(59_560))),
            ("", None),
            ("soon", None),
            ("5x", None),
            ("-1s", None),
        ] {
            assert_eq!(parse_reset_duration(text), want, "{text}");
        }
    }

    #[test]
    fn retry_after_in_seconds_or_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00
        for (text, want) in [
            ("7", Some(Duration::from_secs(7))),
            ("0.25", Some(Duration::from_millis(250))),
            (
                "Wed, 21 Oct 2015 07:28:30 GMT",
                Some(Duration::from_secs(30)),
            ),
            ("Wed, 21 Oct 2015 07:27:00 GMT", Some(Duration::ZERO)),
            ("tomorrow", None),
            ("-3", None),
        ] {
            assert_eq!(parse_retry_after(text, now), want, "{text}");
        }
    }

    /// Issue 15.1: these panicked in `Duration::from_secs_f64` on every virtual user.
    #[test]
    fn huge_nan_infinite_and_negative_waits_saturate_or_are_ignored() {
        let now = SystemTime::UNIX_EPOCH;
        let sat = Some(SATURATED_WAIT);
        for (name, text, want) in [
            ("retry-after-ms", "1e23", sat),
            ("retry-after-ms", "inf", sat),
            ("retry-after-ms", "NaN", None),
            ("retry-after-ms", "-5", None),
            ("retry-after-ms", "1.8e308", sat),
            ("retry-after", "1e20", sat),
            ("retry-after", "infinity", sat),
            ("retry-after", "nan", None),
            ("retry-after", "-inf", None),
            ("x-ratelimit-reset-requests", "1e20", sat),
            ("x-ratelimit-reset-requests", "99999999h", sat),
            (
                "x-ratelimit-reset-requests",
                "99999999999999999999999999h59m",
                sat,
            ),
            (
                "x-ratelimit-reset-tokens",
                "100000000000000000000000000000000ms",
                sat,
            ),
            ("x-ratelimit-reset-tokens", "NaN", None),
        ] {
            let got = match name {
                "retry-after-ms" => parse_retry_after_ms(text),
                "retry-after" => parse_retry_after(text, now),
                _ => parse_reset_duration(text),
            };
            assert_eq!(got, want, "{name}: {text}");
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_static(text));
            // And through the whole header reader, whose results feed the retry policy.
            let _ = RateLimitInfo::from_headers(&h, now).reset_wait();
        }
        assert_eq!(parse_count("99999999999999999999999"), Some(u64::MAX));
        assert_eq!(parse_count("1e20"), None);
        assert_eq!(parse_count("-1"), None);
        assert_eq!(parse_count(" 12 "), Some(12));
    }

    #[test]
    fn rate_limit_headers_and_which_reset_matters() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("retry-after", "9"),
            ("retry-after-ms", "1500"),
            ("x-ratelimit-reset-requests", "6m0s"),
            ("x-ratelimit-reset-tokens", "20ms"),
            ("x-ratelimit-remaining-requests", "12"),
            ("x-ratelimit-remaining-tokens", "0"),
            ("x-ratelimit-limit-requests", "500"),
            ("x-ratelimit-limit-tokens", "30000"),
        ] {
            h.insert(k, HeaderValue::from_static(v));
        }
        let info = RateLimitInfo::from_headers(&h, SystemTime::now());
        // retry-after-ms is the more precise of the two and wins.
        assert_eq!(info.retry_after, Some(Duration::from_millis(1500)));
        assert_eq!(info.reset_requests, Some(Duration::from_secs(360)));
        assert_eq!(info.limit_tokens, Some(30_000));
        // Tokens are exhausted, so their reset is the one to wait for, not the longer one.
        assert_eq!(info.reset_wait(), Some(Duration::from_millis(20)));
        h.remove("x-ratelimit-remaining-tokens");
        let info = RateLimitInfo::from_headers(&h, SystemTime::now());
        assert_eq!(info.reset_wait(), Some(Duration::from_secs(360)));
    }
}
