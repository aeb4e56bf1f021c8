//! Workload: the weighted prompt sources a scenario's `[[workload]]` tables name, loaded once
//! into memory, and the seeded choice of the next prompt.
//!
//! A source holds inline `prompts = [..]` or a `file`: plain text (one prompt per line; blank
//! lines and lines starting with `#` are skipped, so a file can carry its attribution) or JSONL
//! (`.jsonl`: one object per line with a `text` field, an optional `turns` array of follow-up
//! user turns that make a scripted multi-turn session, and an optional `label`).

use std::path::{Path, PathBuf};

use rand::{Rng, RngExt};
use serde::Deserialize;

/// One prompt, or one scripted session: its first user turn and the follow-ups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkItem {
    /// The first user turn.
    pub text: String,
    /// Follow-up user turns of a scripted session (empty for a single prompt).
    pub follow_ups: Vec<String>,
}

/// One weighted source of prompts.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// Relative weight among the sources (> 0).
    pub weight: u32,
    /// Reporting label, such as `benign` or `hostile`.
    pub label: Option<String>,
    /// Where the prompts came from: the file's path, or `inline`.
    pub origin: String,
    /// The prompts, never empty.
    pub items: Vec<WorkItem>,
}

/// The workload mix: every source, drawn from by weight.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// The sources, in file order.
    pub sources: Vec<Source>,
    /// Sum of the weights, cached for drawing.
    total_weight: u64,
}

impl Workload {
    /// A workload of the given sources. Each source must hold at least one item and have a
    /// weight above zero; the scenario loader guarantees both.
    pub fn new(sources: Vec<Source>) -> Self {
        let total_weight = sources.iter().map(|s| u64::from(s.weight)).sum();
        Workload {
            sources,
            total_weight,
        }
    }

    /// Draws a source by weight and an item from it, uniformly. Returns the source's index and
    /// the item. `None` only for a workload without items, which a validated plan never has.
    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<(usize, &WorkItem)> {
        if self.total_weight == 0 {
            return None;
        }
        let mut ticket = rng.random_range(0..self.total_weight);
        for (index, source) in self.sources.iter().enumerate() {
            let w = u64::from(source.weight);
            if ticket < w {
                if source.items.is_empty() {
                    return None;
                }
                let item = &source.items[rng.random_range(0..source.items.len())];
                return Some((index, item));
            }
            ticket -= w;
        }
        None
    }

    /// Number of prompts over all sources.
    pub fn item_count(&self) -> usize {
        self.sources.iter().map(|s| s.items.len()).sum()
    }
}

/// Why a prompt file could not be used.
#[derive(Debug)]
pub enum PromptFileError {
    /// The file could not be read.
    Io(PathBuf, std::io::Error),
    /// A line is not what the format expects: 1-based line number and what is wrong.
    Line(PathBuf, usize, String),
    /// The file holds no prompt.
    Empty(PathBuf),
}

/// One JSONL line of a prompt file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonlItem {
    text: String,
    #[serde(default)]
    turns: Vec<String>,
    // Accepted so a labelled sanitizer corpus can double as a workload; the source's label is
    // what reports use.
    #[serde(default)]
    #[allow(dead_code)]
    label: Option<String>,
}

/// Reads a prompt file: JSONL when its name ends in `.jsonl`, else one prompt per line.
pub fn read_prompt_file(path: &Path) -> Result<Vec<WorkItem>, PromptFileError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| PromptFileError::Io(path.to_path_buf(), e))?;
    let jsonl = path.extension().is_some_and(|e| e == "jsonl");
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (!jsonl && line.starts_with('#')) {
            continue;
        }
        if !jsonl {
            items.push(WorkItem {
                text: line.to_string(),
                follow_ups: Vec::new(),
            });
            continue;
        }
        let item: JsonlItem = serde_json::from_str(line).map_err(|e| {
            PromptFileError::Line(
                path.to_path_buf(),
                i + 1,
                format!(
                    "{e}; each line is an object such as {{\"text\": \"...\", \"turns\": [\"...\"]}}"
                ),
            )
        })?;
        if item.text.trim().is_empty() || item.turns.iter().any(|t| t.trim().is_empty()) {
            return Err(PromptFileError::Line(
                path.to_path_buf(),
                i + 1,
                "`text` and every entry of `turns` must be non-empty".to_string(),
            ));
        }
        items.push(WorkItem {
            text: item.text,
            follow_ups: item.turns,
        });
    }
    if items.is_empty() {
        return Err(PromptFileError::Empty(path.to_path_buf()));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn source(weight: u32, texts: &[&str]) -> Source {
        Source {
            weight,
            label: None,
            origin: "inline".into(),
            items: texts
                .iter()
                .map(|t| WorkItem {
                    text: t.to_string(),
                    follow_ups: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn picks_by_weight() {
        let w = Workload::new(vec![source(9, &["a"]), source(1, &["b"])]);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut counts = [0u32; 2];
        for _ in 0..10_000 {
            let (i, _) = w.pick(&mut rng).expect("non-empty");
            counts[i] += 1;
        }
        // 90/10 split within a wide margin: a broken weighting (50/50, or all one) fails.
        assert!((8_500..9_500).contains(&counts[0]), "{counts:?}");
    }
}
