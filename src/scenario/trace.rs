//! The trace format: one JSON object per line, one line per session,
//! `{"user": 3, "offset_ms": 1250, "turns": ["first turn", "follow-up"]}`.
//!
//! The replay load model reads it (`[load] trace = "..."`), and every run writes what it
//! started in the same format, so a run can be replayed. `user` may also be a string in
//! traces recorded elsewhere; strings are numbered in order of first appearance.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One session of a trace: who, when (from the start of the run) and what they said.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TraceEntry {
    /// Virtual user id.
    pub user: u64,
    /// When the session started, in milliseconds from the start of the run.
    pub offset_ms: u64,
    /// The user turns of the session, in order (never empty).
    pub turns: Vec<String>,
}

/// A user id as traces write it: a number, or a name from another tool.
#[derive(Deserialize)]
#[serde(untagged)]
enum TraceUser {
    Id(u64),
    Name(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    user: TraceUser,
    offset_ms: u64,
    turns: Vec<String>,
}

/// Parses a trace. Lines may come in any order; the result is sorted by offset (stable, so
/// equal offsets keep file order). Errors give the 1-based line number and what is wrong.
pub fn parse_trace(text: &str) -> Result<Vec<TraceEntry>, (usize, String)> {
    let mut names: HashMap<String, u64> = HashMap::new();
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let raw: RawEntry = serde_json::from_str(line).map_err(|e| {
            (
                i + 1,
                format!(
                    "{e}; each line is {{\"user\": 1, \"offset_ms\": 0, \"turns\": [\"...\"]}}"
                ),
            )
        })?;
        if raw.turns.is_empty() || raw.turns.iter().any(|t| t.trim().is_empty()) {
            return Err((
                i + 1,
                "`turns` must hold at least one non-empty user turn".to_string(),
            ));
        }
        let user = match raw.user {
            TraceUser::Id(id) => id,
            TraceUser::Name(name) => {
                let next = names.len() as u64;
                *names.entry(name).or_insert(next)
            }
        };
        entries.push(TraceEntry {
            user,
            offset_ms: raw.offset_ms,
            turns: raw.turns,
        });
    }
    entries.sort_by_key(|e| e.offset_ms);
    Ok(entries)
}

/// Writes `entries` to `path` atomically: into a temporary file beside it, then renamed over
/// it, so a reader never sees half a trace even if the run is interrupted while writing.
pub fn write_trace(path: &Path, entries: &[TraceEntry]) -> anyhow::Result<()> {
    crate::report::atomic::write_with(path, |out| {
        for e in entries {
            serde_json::to_writer(&mut *out, e)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sorts_and_numbers_named_users() {
        let text = "{\"user\": \"bob\", \"offset_ms\": 500, \"turns\": [\"b\"]}\n\n\
                    {\"user\": 7, \"offset_ms\": 100, \"turns\": [\"a\", \"a2\"]}\n\
                    {\"user\": \"bob\", \"offset_ms\": 900, \"turns\": [\"c\"]}\n";
        let t = parse_trace(text).expect("valid");
        assert_eq!(
            t.iter().map(|e| (e.user, e.offset_ms)).collect::<Vec<_>>(),
            vec![(7, 100), (0, 500), (0, 900)]
        );
        assert_eq!(t[0].turns, vec!["a", "a2"]);
    }

    #[test]
    fn rejects_bad_lines_with_their_number() {
        for (text, line) in [
            ("{\"user\": 1, \"offset_ms\": 0, \"turns\": []}", 1),
            ("\n{\"user\": 1, \"offset_ms\": -5, \"turns\": [\"x\"]}", 2),
            ("{\"user\": 1, \"offset\": 0, \"turns\": [\"x\"]}", 1),
            ("not json", 1),
        ] {
            assert_eq!(parse_trace(text).map_err(|e| e.0), Err(line), "{text}");
        }
    }
}
