//! Prompt-injection sanitizer: screens user input (once, as it enters), tool outputs (indirect
//! injection) and model-proposed actions.
//!
//! Layers, in order:
//! 1. Unicode NFKC normalization (full-width `ｉｇｎｏｒｅ` becomes `ignore`, decomposed Vietnamese
//!    is composed) and stripping of invisible and bidi-control characters (zero-width spaces and
//!    joiners, U+200B..U+200F, U+202A..U+202E, U+2060..U+2064, U+2066..U+2069, U+FEFF, soft hyphen,
//!    Unicode tag characters), so obfuscated attacks meet the same patterns as plain ones.
//! 2. A length limit, counted in characters (truncation is itself a small risk signal).
//! 3. One [`RegexSet`] holding every injection pattern, context-pollution phrase and
//!    dangerous-function name, so a text is scanned once, in linear time, whatever the number of
//!    patterns. Dangerous names match on ASCII word boundaries only, so "evaluate the ecosystem"
//!    is neither `eval` nor `system`.
//! 4. A risk score: the sum of the weights of the distinct patterns that matched, capped at 1.
//!    A text is unsafe when its score reaches the threshold.
//!
//! Unlike the seed, nothing is HTML-escaped (escaping is a display concern; the model should see
//! the user's text), a pattern that can match the empty string is rejected at start-up (the seed's
//! empty pattern matched, and in strict mode redacted, everything), and history is never
//! re-screened: screen each text once where it enters the conversation and keep the verdict.
//!
//! Files: [`config`] (settings and built-in tables), [`verdict`] (what screening finds),
//! [`text`] (normalisation before matching); this file compiles and runs the matcher.

mod config;
mod text;
mod verdict;

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use unicode_normalization::UnicodeNormalization;

pub use config::{
    DEFAULT_DANGEROUS_FUNCTIONS, DEFAULT_POLLUTION_PHRASES, PatternConfig, SanitizerConfig,
    builtin_patterns,
};
pub use text::is_invisible;
pub use verdict::{SanitizerError, Threat, ThreatKind, Verdict, threat_kinds};

use text::{normalize, reject_empty_match, word_bounded};

/// Where a text comes from; decides which layers count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Input,
    ToolOutput,
    Action,
}

/// One entry of the compiled set.
#[derive(Debug)]
struct Entry {
    kind: ThreatKind,
    name: String,
    weight: f64,
}

/// A compiled sanitizer; cheap to share (`Arc`) across users, `screen_*` take `&self`.
#[derive(Debug)]
pub struct Sanitizer {
    config: SanitizerConfig,
    set: RegexSet,
    entries: Vec<Entry>,
    /// One regex per set entry, only in strict mode (redaction needs match positions).
    redactors: Vec<Regex>,
}

impl Sanitizer {
    /// Compiles every pattern once. Fails, naming the pattern, on a pattern that does not
    /// compile or can match the empty string, and on weights outside [0, 1].
    pub fn new(config: &SanitizerConfig) -> Result<Sanitizer, SanitizerError> {
        check_range("threshold", config.threshold, false)?;
        check_range(
            "dangerous_function_weight",
            config.dangerous_function_weight,
            true,
        )?;
        check_range("pollution_weight", config.pollution_weight, true)?;
        check_range("truncation_weight", config.truncation_weight, true)?;
        check_range("invisible_weight", config.invisible_weight, true)?;

        let mut injection: Vec<PatternConfig> = if config.builtin_patterns {
            builtin_patterns()
        } else {
            Vec::new()
        };
        for extra in &config.patterns {
            check_range(
                &format!("patterns.{}.weight", extra.name),
                extra.weight,
                true,
            )?;
            match injection.iter_mut().find(|p| p.name == extra.name) {
                Some(existing) => *existing = extra.clone(),
                None => injection.push(extra.clone()),
            }
        }

        let mut sources: Vec<String> = Vec::new();
        let mut entries: Vec<Entry> = Vec::new();
        for p in injection.iter().filter(|p| p.weight > 0.0) {
            sources.push(p.regex.nfkc().collect());
            entries.push(Entry {
                kind: ThreatKind::Injection,
                name: p.name.clone(),
                weight: p.weight,
            });
        }
        for phrase in &config.pollution_phrases {
            sources.push(phrase.nfkc().collect());
            entries.push(Entry {
                kind: ThreatKind::ContextPollution,
                name: phrase.clone(),
                weight: config.pollution_weight,
            });
        }
        for name in &config.dangerous_functions {
            sources.push(word_bounded(name));
            entries.push(Entry {
                kind: ThreatKind::DangerousFunction,
                name: name.clone(),
                weight: config.dangerous_function_weight,
            });
        }

        for (source, entry) in sources.iter().zip(&entries) {
            reject_empty_match(&entry.name, source)?;
        }
        let set = RegexSetBuilder::new(&sources)
            .case_insensitive(true)
            .size_limit(64 << 20)
            .dfa_size_limit(16 << 20)
            .build()
            .map_err(|e| SanitizerError::InvalidPattern {
                name: "(pattern set)".to_string(),
                message: e.to_string(),
            })?;
        let redactors = if config.strict {
            sources
                .iter()
                .zip(&entries)
                .map(|(source, entry)| {
                    RegexBuilder::new(source)
                        .case_insensitive(true)
                        .size_limit(16 << 20)
                        .build()
                        .map_err(|e| SanitizerError::InvalidPattern {
                            name: entry.name.clone(),
                            message: e.to_string(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            Vec::new()
        };
        Ok(Sanitizer {
            config: config.clone(),
            set,
            entries,
            redactors,
        })
    }

    /// The settings this sanitizer was built from.
    pub fn config(&self) -> &SanitizerConfig {
        &self.config
    }

    /// Screens user input. Call it once, as the input enters the conversation, and keep the
    /// cleaned text in history (re-screening history would redo, and in strict mode re-redact,
    /// work already done).
    pub fn screen_input(&self, text: &str) -> Verdict {
        self.screen(text, Source::Input)
    }

    /// Screens a tool's output before it goes back to the model (indirect injection, such as
    /// instructions hidden in retrieved web text). Dangerous names here are data, not calls, and
    /// do not count; the action that would call them is screened by [`Sanitizer::check_action`].
    pub fn screen_tool_output(&self, text: &str) -> Verdict {
        self.screen(text, Source::ToolOutput)
    }

    /// Screens an action the model proposes: a dangerous name in the tool name or its input
    /// makes it unsafe whatever the score and threshold; injection patterns in the input count
    /// as usual. The cleaned text is the cleaned input.
    pub fn check_action(&self, tool_name: &str, input: &str) -> Verdict {
        if !self.config.enabled {
            return pass_through(input);
        }
        let mut verdict = self.screen(input, Source::Action);
        let tool = normalize(tool_name).0;
        for index in self.set.matches(&tool).iter() {
            let entry = &self.entries[index];
            if entry.kind == ThreatKind::DangerousFunction {
                let threat = Threat {
                    kind: entry.kind,
                    pattern: entry.name.clone(),
                };
                if !verdict.threats.contains(&threat) {
                    verdict.score = round4((verdict.score + entry.weight).min(1.0));
                    verdict.threats.push(threat);
                }
            }
        }
        if verdict
            .threats
            .iter()
            .any(|t| t.kind == ThreatKind::DangerousFunction)
        {
            verdict.safe = false;
        }
        verdict
    }

    fn screen(&self, text: &str, source: Source) -> Verdict {
        if !self.config.enabled {
            return pass_through(text);
        }
        let mut threats = Vec::new();
        let mut score = 0.0;

        let (mut cleaned, stripped) = normalize(text);
        if stripped {
            threats.push(Threat {
                kind: ThreatKind::InvisibleCharacters,
                pattern: "invisible".to_string(),
            });
            score += self.config.invisible_weight;
        }
        let limit = match source {
            Source::ToolOutput => self.config.max_tool_output_chars,
            Source::Input | Source::Action => self.config.max_input_chars,
        };
        if let Some((cut, _)) = cleaned.char_indices().nth(limit) {
            cleaned.truncate(cut);
            threats.push(Threat {
                kind: ThreatKind::InputTruncated,
                pattern: "max_chars".to_string(),
            });
            score += self.config.truncation_weight;
        }

        // Most traffic is benign: a plain `is_match` stops at the first hit and skips the
        // overlapping search that `matches` runs over the whole text to find every pattern.
        let matched: Vec<usize> = if self.set.is_match(&cleaned) {
            self.set.matches(&cleaned).into_iter().collect()
        } else {
            Vec::new()
        };
        let mut redact: Vec<usize> = Vec::new();
        for index in matched {
            let entry = &self.entries[index];
            if entry.kind == ThreatKind::DangerousFunction && source == Source::ToolOutput {
                continue;
            }
            threats.push(Threat {
                kind: entry.kind,
                pattern: entry.name.clone(),
            });
            score += entry.weight;
            redact.push(index);
        }
        if self.config.strict && !redact.is_empty() {
            cleaned = self.redact(&cleaned, &redact);
        }
        let score = round4(score.min(1.0));
        Verdict {
            safe: score < self.config.threshold,
            score,
            threats,
            cleaned,
        }
    }

    /// Replaces every match of the given entries with `[REDACTED]`, merging overlaps.
    fn redact(&self, text: &str, indices: &[usize]) -> String {
        let mut spans: Vec<(usize, usize)> = indices
            .iter()
            .filter_map(|&i| self.redactors.get(i))
            .flat_map(|re| re.find_iter(text).map(|m| (m.start(), m.end())))
            .filter(|(s, e)| e > s)
            .collect();
        spans.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut pos = 0;
        for (start, end) in spans {
            if end <= pos {
                continue;
            }
            let start = start.max(pos);
            out.push_str(&text[pos..start]);
            out.push_str("[REDACTED]");
            pos = end;
        }
        out.push_str(&text[pos..]);
        out
    }
}

fn pass_through(text: &str) -> Verdict {
    Verdict {
        safe: true,
        score: 0.0,
        threats: Vec::new(),
        cleaned: text.to_string(),
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn check_range(key: &str, value: f64, zero_ok: bool) -> Result<(), SanitizerError> {
    let ok = value.is_finite() && value <= 1.0 && (value > 0.0 || (zero_ok && value == 0.0));
    if ok {
        Ok(())
    } else {
        Err(SanitizerError::OutOfRange {
            key: key.to_string(),
            value,
            expected: if zero_ok {
                "a number from 0 to 1"
            } else {
                "a number greater than 0 and at most 1"
            },
        })
    }
}

#[cfg(test)]
mod tests;
