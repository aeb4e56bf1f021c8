//! Prompt-injection sanitizer: screens user input (once, as it enters), tool outputs and
//! recalled memory (indirect injection), and model-proposed actions.
//!
//! Layers, in order:
//! 1. Unicode NFKC normalization (full-width `ｉｇｎｏｒｅ` becomes `ignore`, decomposed Vietnamese
//!    is composed) and stripping of invisible and bidi-control characters (zero-width spaces and
//!    joiners, U+200B..U+200F, U+202A..U+202E, U+2060..U+2064, U+2066..U+2069, U+FEFF, soft hyphen,
//!    Unicode tag characters, whose hidden ASCII is decoded and scanned). The result is the
//!    cleaned text the model gets.
//! 2. A length limit, counted in characters (truncation is itself a small risk signal).
//! 3. Folding for matching only ([`text`]): Cyrillic and Greek look-alikes to Latin, diacritics
//!    removed, one character for one, so a match maps back to the cleaned text.
//! 4. One [`RegexSet`] holding every weighted signal ([`config`]: overrides and paraphrases,
//!    role markers, instructions addressed to the assistant, hidden instructions, exfiltration
//!    and tool abuse, decode-and-execute, English and Vietnamese), context-pollution phrase and
//!    dangerous-function name, so a text is scanned once, in linear time, whatever the number of
//!    patterns. Dangerous names match on ASCII word boundaries only, so "evaluate the ecosystem"
//!    is neither `eval` nor `system`. Each signal has one weight for user input and actions and
//!    one for data (tool output, memory), where an instruction to the assistant is out of place.
//! 5. Decode and rescan ([`decode`]): encoded spans (base64, hex, binary, percent, tag
//!    characters) and whole-text readings (rot13, reversed, leetspeak, spaced letters), bounded
//!    in depth and size, scanned with the same patterns; a decoded instruction counts whatever
//!    its wrapper, plus the obfuscation weight.
//! 6. A risk score: the sum of the weights of the distinct signals found, less a discount for
//!    text that talks about prompt injection, clamped to [0, 1]. A text is unsafe when its
//!    score reaches the threshold.
//!
//! Unlike the seed, nothing is HTML-escaped (escaping is a display concern; the model should see
//! the user's text), a pattern that can match the empty string is rejected at start-up (the seed's
//! empty pattern matched, and in strict mode redacted, everything), and history is never
//! re-screened: screen each text once where it enters the conversation and keep the verdict.
//!
//! Files: [`config`] (settings and built-in tables), [`verdict`] (what screening finds),
//! [`text`] (normalisation and folding before matching), [`decode`] (other readings of a text);
//! this file compiles and runs the matcher. How it is measured: docs/sanitizer.md.

mod config;
mod decode;
mod text;
mod verdict;

use std::sync::OnceLock;

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use unicode_normalization::UnicodeNormalization;

pub use config::{
    DEFAULT_DANGEROUS_FUNCTIONS, DEFAULT_POLLUTION_PHRASES, DISCUSSION_PATTERN, PatternConfig,
    SanitizerConfig, builtin_patterns,
};
pub use decode::{MAX_DECODED_BYTES, MAX_DEPTH, MAX_SPAN_BYTES, MAX_SPANS, MAX_VIEWS};
pub use text::is_invisible;
pub use verdict::{SanitizerError, Threat, ThreatKind, Verdict, threat_kinds};

use decode::{Decoder, View};
use text::{fold, hidden_tags, map_offsets, normalize, reject_empty_match, word_bounded};

/// Where a text comes from; decides which layers count and with which weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Input,
    ToolOutput,
    Memory,
    Action,
}

impl Source {
    /// Tool output and memory are data: instructions there are out of place.
    fn is_data(self) -> bool {
        matches!(self, Source::ToolOutput | Source::Memory)
    }
}

/// One entry of the compiled set.
#[derive(Debug)]
struct Entry {
    kind: ThreatKind,
    name: String,
    /// Weight in user input and actions.
    weight: f64,
    /// Weight in tool output and memory.
    data_weight: f64,
}

/// A compiled sanitizer; cheap to share (`Arc`) across users, `screen_*` take `&self`.
#[derive(Debug)]
pub struct Sanitizer {
    config: SanitizerConfig,
    /// The patterns of `entries`, then the discussion pattern. The decoder's triggers are a
    /// set of their own: in one set with these, their counting states multiply with the
    /// patterns' partial matches on random text (base64 noise), the lazy DFA's cache thrashes
    /// and the search falls back to the much slower NFA simulation.
    set: RegexSet,
    /// The patterns of `entries` with optional whitespace, for letters that were spaced out
    /// and joined up (word breaks may be lost). Compiled on first use: few texts need it, and
    /// compiling it costs as much as the main set.
    compact_set: OnceLock<RegexSet>,
    compact_sources: Vec<String>,
    entries: Vec<Entry>,
    decoder: Decoder,
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
        check_range("obfuscation_weight", config.obfuscation_weight, true)?;
        check_range("discussion_discount", config.discussion_discount, true)?;

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
            check_range(
                &format!("patterns.{}.data_weight", extra.name),
                extra.data_weight(),
                true,
            )?;
            match injection.iter_mut().find(|p| p.name == extra.name) {
                Some(existing) => *existing = extra.clone(),
                None => injection.push(extra.clone()),
            }
        }

        let mut sources: Vec<String> = Vec::new();
        let mut entries: Vec<Entry> = Vec::new();
        for p in injection
            .iter()
            .filter(|p| p.weight > 0.0 || p.data_weight() > 0.0)
        {
            sources.push(fold_source(&p.regex));
            entries.push(Entry {
                kind: ThreatKind::Injection,
                name: p.name.clone(),
                weight: p.weight,
                data_weight: p.data_weight(),
            });
        }
        for phrase in &config.pollution_phrases {
            sources.push(fold_source(phrase));
            entries.push(Entry {
                kind: ThreatKind::ContextPollution,
                name: phrase.clone(),
                weight: config.pollution_weight,
                data_weight: config.pollution_weight,
            });
        }
        for name in &config.dangerous_functions {
            sources.push(word_bounded(&fold_source(name)));
            entries.push(Entry {
                kind: ThreatKind::DangerousFunction,
                name: name.clone(),
                weight: config.dangerous_function_weight,
                // Dangerous names in data are data, not calls (see `screen_tool_output`).
                data_weight: 0.0,
            });
        }

        for (source, entry) in sources.iter().zip(&entries) {
            reject_empty_match(&entry.name, source)?;
        }
        let set_error = |e: regex::Error| SanitizerError::InvalidPattern {
            name: "(pattern set)".to_string(),
            message: e.to_string(),
        };
        let mut all: Vec<String> = sources.clone();
        all.push(DISCUSSION_PATTERN.to_string());
        let set = RegexSetBuilder::new(&all)
            .case_insensitive(true)
            .size_limit(64 << 20)
            .dfa_size_limit(16 << 20)
            .build()
            .map_err(set_error)?;
        // A compact source that could match the empty string (a user pattern of whitespace
        // only) would match every spaced view: such an entry never matches there.
        let compact_sources: Vec<String> = sources
            .iter()
            .map(|s| {
                let c = s.replace(r"\s+", r"\s*");
                if reject_empty_match("", &c).is_ok() {
                    c
                } else {
                    r"[^\s\S]".to_string()
                }
            })
            .collect();
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
            compact_set: OnceLock::new(),
            compact_sources,
            entries,
            decoder: Decoder::new(),
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
    /// instructions hidden in retrieved web text). Tool output is data: patterns of
    /// instructions addressed to the assistant count here with their data weight. Dangerous
    /// names here are data, not calls, and do not count; the action that would call them is
    /// screened by [`Sanitizer::check_action`].
    pub fn screen_tool_output(&self, text: &str) -> Verdict {
        self.screen(text, Source::ToolOutput)
    }

    /// Screens a recalled memory (a saved note or preference) before it joins the prompt.
    /// Memory is data, as tool output is, and has the tool-output length limit.
    pub fn screen_memory(&self, text: &str) -> Verdict {
        self.screen(text, Source::Memory)
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
        let tool = fold(&tool).map_or(tool, |f| f.text);
        for index in self.set.matches(&tool).iter() {
            let Some(entry) = self.entries.get(index) else {
                continue;
            };
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
        let mut found = Findings {
            seen: Vec::new(),
            threats: Vec::new(),
            score: 0.0,
        };

        let (mut cleaned, stripped) = normalize(text);
        let mut extra_views = Vec::new();
        if stripped {
            found.push(
                ThreatKind::InvisibleCharacters,
                "invisible",
                self.config.invisible_weight,
            );
            if let Some(tags) = hidden_tags(text) {
                let tags = fold(&tags).map_or(tags, |f| f.text);
                extra_views.push(View {
                    text: tags,
                    how: "tag_characters",
                    compact: false,
                });
            }
        }
        let limit = match source {
            Source::ToolOutput | Source::Memory => self.config.max_tool_output_chars,
            Source::Input | Source::Action => self.config.max_input_chars,
        };
        if let Some((cut, _)) = cleaned.char_indices().nth(limit) {
            cleaned.truncate(cut);
            found.push(
                ThreatKind::InputTruncated,
                "max_chars",
                self.config.truncation_weight,
            );
        }
        let folded = fold(&cleaned);
        let scanned: &str = folded.as_ref().map_or(&cleaned, |f| &f.text);

        // Most traffic is benign: a plain `is_match` stops at the first hit and skips the
        // overlapping search that `matches` runs over the whole text to find every pattern.
        let mut discussion = false;
        let mut matched: Vec<usize> = Vec::new();
        if self.set.is_match(scanned) {
            for index in self.set.matches(scanned).iter() {
                if index < self.entries.len() {
                    matched.push(index);
                } else {
                    discussion = true;
                }
            }
        }
        // A text about prompt injection quotes attacks as examples: what is inside quotes
        // does not count there. (An attack wrapped in quotes *and* in talk about injection
        // gets through; that is the price of not blocking the security docs.)
        if discussion
            && !matched.is_empty()
            && let Some(unquoted) = strip_quoted(scanned)
        {
            matched = self
                .set
                .matches(&unquoted)
                .iter()
                .filter(|&i| i < self.entries.len())
                .collect();
        }
        let mut redact: Vec<usize> = Vec::new();
        for index in matched {
            if self.add_entry(index, source, &mut found) {
                redact.push(index);
            }
        }
        let triggers = self.decoder.fired(scanned);
        if folded.as_ref().is_some_and(|f| f.mixed_script) && !redact.is_empty() {
            found.push(
                ThreatKind::Obfuscation,
                "homoglyph",
                self.config.obfuscation_weight,
            );
        }

        // Decode and rescan: a decoded instruction is a threat whatever its wrapper, and the
        // wrapper adds the obfuscation weight once per kind of decoding that revealed one.
        if !triggers.is_empty() || !extra_views.is_empty() {
            for view in self.decoder.views(scanned, triggers, extra_views) {
                let set = if view.compact {
                    self.compact_set()
                } else {
                    &self.set
                };
                let mut revealed = false;
                for index in set.matches(&view.text).iter() {
                    if index < self.entries.len() {
                        revealed |= self.add_entry(index, source, &mut found);
                    }
                }
                if revealed && !found.has(ThreatKind::Obfuscation, view.how) {
                    found.push(
                        ThreatKind::Obfuscation,
                        view.how,
                        self.config.obfuscation_weight,
                    );
                }
            }
        }

        if discussion {
            found.score -= self.config.discussion_discount;
        }
        if self.config.strict && !redact.is_empty() {
            cleaned = self.redact(&cleaned, folded.as_ref().map(|f| f.text.as_str()), &redact);
        }
        let score = round4(found.score.clamp(0.0, 1.0));
        Verdict {
            safe: score < self.config.threshold,
            score,
            threats: found.threats,
            cleaned,
        }
    }

    /// The compact set, compiled on first use. Its patterns are the main set's with `\s+`
    /// made `\s*`, so they compile wherever the main set did; if one ever did not, spaced
    /// views go unmatched rather than failing a screen.
    fn compact_set(&self) -> &RegexSet {
        self.compact_set.get_or_init(|| {
            RegexSetBuilder::new(&self.compact_sources)
                .case_insensitive(true)
                .size_limit(64 << 20)
                .dfa_size_limit(16 << 20)
                .build()
                .unwrap_or_else(|_| RegexSet::empty())
        })
    }

    /// Counts entry `index` once per text, with its weight for this source; false when it
    /// was already counted or weighs nothing here.
    fn add_entry(&self, index: usize, source: Source, found: &mut Findings) -> bool {
        let entry = &self.entries[index];
        let weight = if source.is_data() {
            entry.data_weight
        } else {
            entry.weight
        };
        // A dangerous name counts in user input and actions even at weight 0: it is what makes
        // `check_action` refuse. In data it is data.
        let counts = if entry.kind == ThreatKind::DangerousFunction {
            !source.is_data()
        } else {
            weight > 0.0
        };
        if !counts || found.seen.contains(&index) {
            return false;
        }
        found.seen.push(index);
        found.push(entry.kind, &entry.name, weight);
        true
    }

    /// Replaces every match of the given entries with `[REDACTED]`, merging overlaps. The
    /// patterns run on the folded text when there is one; positions map back one to one.
    fn redact(&self, text: &str, folded: Option<&str>, indices: &[usize]) -> String {
        let scanned = folded.unwrap_or(text);
        let mut spans: Vec<(usize, usize)> = indices
            .iter()
            .filter_map(|&i| self.redactors.get(i))
            .flat_map(|re| re.find_iter(scanned).map(|m| (m.start(), m.end())))
            .filter(|(s, e)| e > s)
            .collect();
        if let Some(folded) = folded {
            map_offsets(folded, text, &mut spans);
        }
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

/// What screening one text has found so far.
struct Findings {
    /// Entries already counted (a handful at most, so a vector beats a set).
    seen: Vec<usize>,
    threats: Vec<Threat>,
    score: f64,
}

impl Findings {
    fn push(&mut self, kind: ThreatKind, pattern: &str, weight: f64) {
        self.threats.push(Threat {
            kind,
            pattern: pattern.to_string(),
        });
        self.score += weight;
    }

    fn has(&self, kind: ThreatKind, pattern: &str) -> bool {
        self.threats
            .iter()
            .any(|t| t.kind == kind && t.pattern == pattern)
    }
}

/// The text without its quoted passages ('...', "...", “...”, ‘...’ within a line, up to 300
/// characters), or `None` when it has none.
fn strip_quoted(text: &str) -> Option<String> {
    static QUOTED: OnceLock<Regex> = OnceLock::new();
    let re = QUOTED.get_or_init(|| {
        Regex::new(r#"'[^'\n]{3,300}'|"[^"\n]{3,300}"|“[^”\n]{3,300}”|‘[^’\n]{3,300}’"#)
            .expect("the quote regex compiles")
    });
    match re.replace_all(text, "\"\"") {
        std::borrow::Cow::Borrowed(_) => None,
        std::borrow::Cow::Owned(s) => Some(s),
    }
}

/// A pattern as it is matched: NFKC, then folded like the text (so an accented Vietnamese
/// pattern from a scenario file matches folded text).
fn fold_source(source: &str) -> String {
    let nfkc: String = source.nfkc().collect();
    fold(&nfkc).map_or(nfkc, |f| f.text)
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
