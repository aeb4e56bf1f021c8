//! Count ranges as the config writes them: `"40..=200"`, `"40..200"`, `"7"` or 7.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An inclusive range of counts, written `"40..=200"`, `"40..200"` (end excluded), `"7"` or 7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountRange {
    /// Smallest value.
    pub min: u64,
    /// Largest value (inclusive).
    pub max: u64,
}

impl FromStr for CountRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let num = |t: &str| {
            t.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{t}` is not a whole number"))
        };
        let (min, max) = if let Some((a, b)) = s.split_once("..=") {
            (num(a)?, num(b)?)
        } else if let Some((a, b)) = s.split_once("..") {
            let b = num(b)?;
            if b == 0 {
                return Err(format!("`{s}` is empty"));
            }
            (num(a)?, b - 1)
        } else {
            let n = num(s)?;
            (n, n)
        };
        if min > max {
            return Err(format!("`{s}` is empty (start after end)"));
        }
        Ok(CountRange { min, max })
    }
}

impl fmt::Display for CountRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.min, self.max)
    }
}

impl Serialize for CountRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CountRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) => Ok(CountRange { min: n, max: n }),
            Raw::Text(t) => t.parse().map_err(|e: String| {
                serde::de::Error::custom(format!("{e}; write a range like \"40..=200\""))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_reject() {
        for (text, want) in [
            ("40..=200", Some((40, 200))),
            ("0..3", Some((0, 2))),
            ("7", Some((7, 7))),
            ("5..=2", None),
            ("0..0", None),
            ("a..=3", None),
        ] {
            let got = text.parse::<CountRange>().ok().map(|r| (r.min, r.max));
            assert_eq!(got, want, "{text}");
        }
    }
}
