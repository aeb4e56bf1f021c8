//! The run's latency histograms as an HdrHistogram interval log, so runs and shards can later be
//! merged exactly (adding histograms loses nothing; averaging percentiles would).
//!
//! Each named histogram (`llm_call/gpt-4o`, `conversation`, `ttft/gpt-4o`, ...) is one interval
//! line whose tag is the name, serialized with the V2 deflate format that the Java
//! `HistogramLogProcessor` and other HdrHistogram tools read. Values are integer microseconds;
//! the log's max column is divided by 1000 so a person reading the file sees milliseconds.
//!
//! Tags may not hold `,`, spaces or line breaks, so such characters (and `%`) in names are
//! percent-encoded on write and decoded on read.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, anyhow};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

use super::atomic;

/// Writes `histograms` (name -> latencies in microseconds) to `path` as an interval log with one
/// interval per name, all starting at `start` and lasting `duration`. Written atomically.
pub fn write_interval_log(
    path: &Path,
    histograms: &BTreeMap<String, Histogram<u64>>,
    start: SystemTime,
    duration: Duration,
) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    {
        let mut writer = IntervalLogWriterBuilder::new()
            .add_comment(
                "reactbench latency histograms; values in microseconds; tag = metric/model",
            )
            .with_start_time(start)
            .with_base_time(start)
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut buf, &mut serializer)
            .context("starting the interval log")?;
        writer
            .write_comment(
                "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"",
            )
            .context("writing the interval log header")?;
        for (name, histogram) in histograms {
            let encoded = encode_tag(name);
            let tag = Tag::new(&encoded)
                .ok_or_else(|| anyhow!("histogram name {name:?} cannot be used as a log tag"))?;
            writer
                .write_histogram(histogram, Duration::ZERO, duration, Some(tag))
                .map_err(|e| anyhow!("serializing histogram {name:?}: {e}"))?;
        }
    }
    atomic::write_bytes(path, &buf)
}

/// Reads an interval log back into name -> histogram. Intervals with the same tag are added
/// together, which is how logs of several runs or shards merge; untagged intervals go under
/// the empty name.
pub fn read_interval_log(path: &Path) -> anyhow::Result<BTreeMap<String, Histogram<u64>>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse_interval_log(&bytes).with_context(|| format!("parsing interval log {}", path.display()))
}

/// Parses interval-log text; see [`read_interval_log`].
pub fn parse_interval_log(bytes: &[u8]) -> anyhow::Result<BTreeMap<String, Histogram<u64>>> {
    let mut out: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    let mut deserializer = Deserializer::new();
    for (i, entry) in IntervalLogIterator::new(bytes).enumerate() {
        let entry = entry.map_err(|e| {
            anyhow!(
                "entry {} is not a valid interval log line ({e:?}); is this an HdrHistogram log?",
                i + 1
            )
        })?;
        let LogEntry::Interval(interval) = entry else {
            continue;
        };
        let name = match interval.tag() {
            Some(tag) => decode_tag(tag.as_str())?,
            None => String::new(),
        };
        let compressed = base64_decode(interval.encoded_histogram())
            .with_context(|| format!("histogram {name:?} is not valid base64"))?;
        let histogram: Histogram<u64> = deserializer
            .deserialize(&mut compressed.as_slice())
            .map_err(|e| anyhow!("histogram {name:?} cannot be decoded: {e:?}"))?;
        match out.get_mut(&name) {
            Some(merged) => {
                merged.auto(true);
                merged
                    .add(&histogram)
                    .map_err(|e| anyhow!("merging histogram {name:?}: {e:?}"))?;
            }
            None => {
                out.insert(name, histogram);
            }
        }
    }
    Ok(out)
}

fn base64_decode(text: &str) -> anyhow::Result<Vec<u8>> {
    use base64::Engine as _;
    Ok(base64::engine::general_purpose::STANDARD.decode(text)?)
}

/// Percent-encodes the characters a tag may not hold, and `%` itself so decoding is exact.
fn encode_tag(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, ',' | ' ' | '\r' | '\n' | '%' | '\t') {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn decode_tag(tag: &str) -> anyhow::Result<String> {
    let mut bytes = Vec::with_capacity(tag.len());
    let mut rest = tag.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        if b != b'%' {
            bytes.push(b);
            continue;
        }
        let hex = rest.get(..2).unwrap_or(rest);
        let code = std::str::from_utf8(hex)
            .ok()
            .filter(|h| h.len() == 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .with_context(|| format!("tag {tag:?} has a bad %-escape; expected two hex digits"))?;
        bytes.push(code);
        rest = &rest[2..];
    }
    String::from_utf8(bytes).with_context(|| format!("tag {tag:?} decodes to invalid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_awkward_names() {
        for name in [
            "llm_call/gpt-4o",
            "a b,c%d",
            "ttft/claude sonnet 4.5",
            "x\ny",
        ] {
            let encoded = encode_tag(name);
            assert!(
                Tag::new(&encoded).is_some(),
                "{encoded:?} is not a valid tag"
            );
            assert_eq!(decode_tag(&encoded).unwrap(), name);
        }
    }
}
