//! Human-friendly units used by scenario files: durations (`"300ms"`, `"1m30s"`), duration
//! ranges (`"1s..3s"`), count ranges (`"1..=4"`), and rates (`"30/min"`, `"5/s"`).
//!
//! Each type parses from a string with [`std::str::FromStr`] (the error text says what is
//! accepted) and deserializes from a TOML string, so a scenario struct can hold it directly.
//! Display prints the canonical form, which parses back to the same value.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Sleeps for `d`; a zero duration returns at once. (`tokio::time::sleep` rounds every
/// deadline up to its next 1 ms tick, so a zero sleep still waited up to a millisecond: with
/// zero tool latency or zero retry waits that was most of a fast call's time.)
pub async fn sleep_for(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

/// A duration written for humans: `"300ms"`, `"1m30s"`, `"2h"`, `"0s"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The wrapped duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        HumanDuration(d)
    }
}

/// Parses one duration, explaining the accepted forms on failure.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(t).map_err(|e| {
        format!("`{text}` is not a duration ({e}); write a number with a unit, such as \"300ms\", \"2s\", \"1m30s\" or \"1h\"")
    })
}

impl FromStr for HumanDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_duration(s).map(HumanDuration)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// An inclusive range of durations: `"1s..3s"`, or one value such as `"2s"` for a fixed
/// duration. A value is drawn uniformly from `[min, max]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DurationRange {
    /// Shortest duration (inclusive).
    pub min: Duration,
    /// Longest duration (inclusive).
    pub max: Duration,
}

impl DurationRange {
    /// A range holding exactly one duration.
    pub fn fixed(d: Duration) -> Self {
        DurationRange { min: d, max: d }
    }
}

impl FromStr for DurationRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (lo, hi) = match s.split_once("..") {
            Some((lo, hi)) => (lo, hi.strip_prefix('=').unwrap_or(hi)),
            None => (s, s),
        };
        let min = parse_duration(lo).map_err(|e| format!("{e}; a range is written \"1s..3s\""))?;
        let max = parse_duration(hi).map_err(|e| format!("{e}; a range is written \"1s..3s\""))?;
        if min > max {
            return Err(format!(
                "`{s}` is an empty range: its start is after its end; write the smaller duration first, such as \"1s..3s\""
            ));
        }
        Ok(DurationRange { min, max })
    }
}

impl fmt::Display for DurationRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", humantime::format_duration(self.min))
        } else {
            write!(
                f,
                "{}..{}",
                humantime::format_duration(self.min),
                humantime::format_duration(self.max)
            )
        }
    }
}

/// An inclusive range of counts: `"1..=4"` (1 to 4), `"1..4"` (1 to 3, as in Rust), or `"3"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountRange {
    /// Smallest count (inclusive).
    pub min: u64,
    /// Largest count (inclusive).
    pub max: u64,
}

impl CountRange {
    /// A range holding exactly one count.
    pub fn fixed(n: u64) -> Self {
        CountRange { min: n, max: n }
    }
}

impl FromStr for CountRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |what: &str| {
            format!(
                "`{s}` is not a count range ({what}); write \"1..=4\" (1 to 4), \"1..4\" (1 to 3) or one number such as \"3\""
            )
        };
        let num = |t: &str| {
            t.trim()
                .parse::<u64>()
                .map_err(|_| bad("not a whole number"))
        };
        let (min, max) = if let Some((lo, hi)) = s.split_once("..=") {
            (num(lo)?, num(hi)?)
        } else if let Some((lo, hi)) = s.split_once("..") {
            let hi = num(hi)?;
            if hi == 0 {
                return Err(bad("empty"));
            }
            (num(lo)?, hi - 1)
        } else {
            let n = num(s)?;
            (n, n)
        };
        if min > max {
            return Err(bad("empty"));
        }
        Ok(CountRange { min, max })
    }
}

impl fmt::Display for CountRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}..={}", self.min, self.max)
        }
    }
}

/// Events per unit of time: `"30/min"`, `"5/s"`, `"1000/h"`. Stored as events per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Events per second.
    pub per_second: f64,
    /// The count as written (`30` in `"30/min"`).
    pub count: f64,
    /// The period as written (one minute in `"30/min"`).
    pub period: Duration,
}

impl Rate {
    /// The mean interval between two events.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second)
    }
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a rate; write a positive count per unit, such as \"5/s\", \"30/min\" or \"1000/h\""
            )
        };
        let (count, unit) = s.split_once('/').ok_or_else(bad)?;
        let count: f64 = count.trim().parse().map_err(|_| bad())?;
        if !(count.is_finite() && count > 0.0) {
            return Err(bad());
        }
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            "d" | "day" => Duration::from_secs(86_400),
            other => parse_duration(other).map_err(|_| bad())?,
        };
        if period.is_zero() {
            return Err(bad());
        }
        Ok(Rate {
            per_second: count / period.as_secs_f64(),
            count,
            period,
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.period.as_secs() {
            1 => "s".to_string(),
            60 => "min".to_string(),
            3600 => "h".to_string(),
            86_400 => "d".to_string(),
            _ => humantime::format_duration(self.period).to_string(),
        };
        write!(f, "{}/{}", self.count, unit)
    }
}

macro_rules! serde_via_str {
    ($($t:ty),*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )*};
}
serde_via_str!(HumanDuration, DurationRange, CountRange, Rate);

#[cfg(test)]
mod tests {
    use super::*;

    /// Off the 1 ms tick grid, a zero `tokio::time::sleep` moves the paused clock on by a
    /// millisecond (checked); `sleep_for` does not sleep at all.
    #[tokio::test(start_paused = true)]
    async fn sleep_for_zero_waits_for_no_tick() {
        tokio::time::advance(Duration::from_micros(300)).await;
        let t = tokio::time::Instant::now();
        sleep_for(Duration::ZERO).await;
        assert_eq!(t.elapsed(), Duration::ZERO);
        sleep_for(Duration::from_millis(5)).await;
        assert!(t.elapsed() >= Duration::from_millis(5));
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations() {
        for (text, want) in [
            ("300ms", Some(ms(300))),
            ("1m30s", Some(ms(90_000))),
            ("2h", Some(ms(7_200_000))),
            ("0", Some(Duration::ZERO)),
            ("0s", Some(Duration::ZERO)),
            ("fast", None),
            ("10", None),
            ("-1s", None),
        ] {
            assert_eq!(
                text.parse::<HumanDuration>().ok().map(|d| d.0),
                want,
                "{text}"
            );
        }
        let err = "fast".parse::<HumanDuration>().unwrap_err();
        assert!(err.contains("1m30s"), "{err}");
    }

    #[test]
    fn duration_ranges() {
        let r: DurationRange = "1s..3s".parse().unwrap();
        assert_eq!((r.min, r.max), (ms(1000), ms(3000)));
        let r: DurationRange = "250ms".parse().unwrap();
        assert_eq!((r.min, r.max), (ms(250), ms(250)));
        assert!("3s..1s".parse::<DurationRange>().is_err());
        assert!("1s..x".parse::<DurationRange>().is_err());
        assert_eq!(
            "1s..3s".parse::<DurationRange>().unwrap().to_string(),
            "1s..3s"
        );
    }

    #[test]
    fn count_ranges() {
        for (text, want) in [
            ("1..=4", Some((1, 4))),
            ("1..4", Some((1, 3))),
            ("3", Some((3, 3))),
            ("4..=1", None),
            ("1..1", None),
            ("a..=2", None),
            ("-1", None),
        ] {
            let got = text.parse::<CountRange>().ok().map(|r| (r.min, r.max));
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn rates() {
        for (text, want) in [
            ("30/min", Some(0.5)),
            ("5/s", Some(5.0)),
            ("3600/h", Some(1.0)),
            ("10/10s", Some(1.0)),
            ("0/s", None),
            ("5", None),
            ("x/s", None),
            ("5/fortnight", None),
        ] {
            let got = text.parse::<Rate>().ok().map(|r| r.per_second);
            assert_eq!(got, want, "{text}");
        }
        assert_eq!("30/min".parse::<Rate>().unwrap().to_string(), "30/min");
    }

    #[test]
    fn deserializes_from_toml() {
        #[derive(Deserialize)]
        struct T {
            d: HumanDuration,
            r: DurationRange,
            c: CountRange,
            q: Rate,
        }
        let t: T =
            toml::from_str("d = \"1m\"\nr = \"1s..2s\"\nc = \"1..=3\"\nq = \"5/s\"").unwrap();
        assert_eq!(t.d.0, ms(60_000));
        assert_eq!(t.r.max, ms(2000));
        assert_eq!(t.c.max, 3);
        assert_eq!(t.q.per_second, 5.0);
    }
}
