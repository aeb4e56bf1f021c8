//! What a run's complete metrics need to be written as JSON, so the shards of a sharded run can be merged exactly
//! later (`bench merge`): every histogram in HdrHistogram's V2 format (base64), every counter
//! as counted, the timeline with its per-second histograms, breaker transitions as offsets.
//! Nothing is rounded, so adding the shards' states loses nothing.
//!
//! The types of `data.rs` and `timeline.rs` derive serde with the helpers below for what JSON cannot hold
//! as it is: histograms, maps keyed by `Option<u16>` or by enums, and `&'static str` keys.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::serialization::{Deserializer as HdrDeserializer, Serializer as _, V2Serializer};
use hdrhistogram::{Counter, Histogram};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::keys::FINISH_REASONS;
use crate::record::{ErrorClass, GuardVerdict, Outcome};

/// Version of the state's JSON layout; a merge refuses another.
pub const STATE_VERSION: u32 = 1;

fn encode<T: Counter>(h: &Histogram<T>) -> Result<String, String> {
    let mut buf = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut buf)
        .map_err(|e| format!("cannot serialize a histogram: {e:?}"))?;
    Ok(STANDARD.encode(buf))
}

fn decode<T: Counter>(text: &str) -> Result<Histogram<T>, String> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|e| format!("a histogram is not valid base64: {e}"))?;
    let mut h: Histogram<T> = HdrDeserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("a histogram is not in HdrHistogram's V2 format: {e:?}"))?;
    // Merged histograms must grow like the run's own.
    h.auto(true);
    Ok(h)
}

/// `#[serde(with = "hist")]`: a histogram as base64 of its V2 serialization.
pub(super) mod hist {
    use super::*;

    pub fn serialize<S: Serializer, T: Counter>(h: &Histogram<T>, s: S) -> Result<S::Ok, S::Error> {
        encode(h).map_err(serde::ser::Error::custom)?.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Counter>(
        d: D,
    ) -> Result<Histogram<T>, D::Error> {
        decode(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// `#[serde(with = "opt_hist")]`: an optional boxed histogram.
pub(super) mod opt_hist {
    use super::*;

    pub fn serialize<S: Serializer, T: Counter>(
        h: &Option<Box<Histogram<T>>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        h.as_ref()
            .map(|h| encode(h))
            .transpose()
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Counter>(
        d: D,
    ) -> Result<Option<Box<Histogram<T>>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| decode(&t).map(Box::new))
            .transpose()
            .map_err(D::Error::custom)
    }
}

/// `#[serde(with = "pairs")]`: a map whose keys JSON cannot name (`Option<u16>`), as a list
/// of pairs.
pub(super) mod pairs {
    use super::*;

    pub fn serialize<S: Serializer, K: Serialize, V: Serialize>(
        m: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }

    pub fn deserialize<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

/// `#[serde(with = "static_keys")]`: a map keyed by the aggregator's fixed names (finish
/// reasons, tool statuses, guard verdicts), read back as those names.
pub(super) mod static_keys {
    use super::*;

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<&'static str, u64>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        m.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<&'static str, u64>, D::Error> {
        BTreeMap::<String, u64>::deserialize(d)?
            .into_iter()
            .map(|(k, v)| {
                known_name(&k)
                    .map(|k| (k, v))
                    .ok_or_else(|| D::Error::custom(format!("unknown counter key {k:?}")))
            })
            .collect()
    }

    fn known_name(name: &str) -> Option<&'static str> {
        FINISH_REASONS
            .iter()
            .copied()
            .chain(["ok", "error", "refused"])
            .chain(GuardVerdict::ALL.iter().map(|v| v.as_str()))
            .find(|k| *k == name)
    }
}

/// A key of fixed, stably named values ([`Outcome`], [`ErrorClass`]).
pub(super) trait Named: Copy + Ord + 'static {
    /// Every value.
    const ALL: &'static [Self];
    /// Its stable name.
    fn name(self) -> &'static str;
}

impl Named for Outcome {
    const ALL: &'static [Self] = &Outcome::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Named for ErrorClass {
    const ALL: &'static [Self] = &ErrorClass::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// `#[serde(with = "named_keys")]`: counts by a [`Named`] key, keyed by its stable name.
pub(super) mod named_keys {
    use super::*;

    pub fn serialize<S: Serializer, K: Named>(
        m: &BTreeMap<K, u64>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(m.iter().map(|(k, v)| (k.name(), v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, K: Named>(
        d: D,
    ) -> Result<BTreeMap<K, u64>, D::Error> {
        BTreeMap::<String, u64>::deserialize(d)?
            .into_iter()
            .map(|(k, v)| {
                K::ALL
                    .iter()
                    .find(|o| o.name() == k)
                    .map(|o| (*o, v))
                    .ok_or_else(|| D::Error::custom(format!("unknown key {k:?}")))
            })
            .collect()
    }
}
