//! What screening a text finds: threats, the verdict, and the errors of a bad configuration.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

/// What kind of threat was found. Serialized as a stable snake_case string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreatKind {
    /// An injection pattern matched (its name says which).
    Injection,
    /// A dangerous function or command name.
    DangerousFunction,
    /// A context-pollution phrase.
    ContextPollution,
    /// The text was longer than the limit and was cut.
    InputTruncated,
    /// Invisible or bidi-control characters were stripped.
    InvisibleCharacters,
    /// Text hidden by an encoding or a transformation (base64, hex, binary, rot13, reversed,
    /// leetspeak, letter-spacing, look-alike letters) that matched once decoded; the pattern
    /// names the decoding.
    Obfuscation,
}

impl ThreatKind {
    /// Stable snake_case name used in reports and `summary.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ThreatKind::Injection => "injection",
            ThreatKind::DangerousFunction => "dangerous_function",
            ThreatKind::ContextPollution => "context_pollution",
            ThreatKind::InputTruncated => "input_truncated",
            ThreatKind::InvisibleCharacters => "invisible_characters",
            ThreatKind::Obfuscation => "obfuscation",
        }
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Threat {
    /// What kind of threat.
    pub kind: ThreatKind,
    /// Which pattern found it: an injection pattern's name, the dangerous name, the pollution
    /// phrase, the layer (`max_input_chars`, `invisible`), or the decoding (`base64`, `rot13`,
    /// `spaced_letters`, `homoglyph` ...).
    pub pattern: String,
}

/// The sanitizer's decision about one text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// False when the text must be refused (score at or above the threshold, or a dangerous
    /// name in a proposed action).
    pub safe: bool,
    /// Risk score in [0, 1]: the capped sum of the weights of what matched, rounded to 4 places.
    pub score: f64,
    /// Everything found, in pattern order.
    pub threats: Vec<Threat>,
    /// The text to pass on: normalized, invisible characters stripped, truncated, and redacted
    /// in strict mode. Never HTML-escaped.
    pub cleaned: String,
}

/// A configuration the sanitizer cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum SanitizerError {
    /// A pattern that does not compile.
    #[error("sanitizer pattern `{name}` is not a valid regular expression: {message}")]
    InvalidPattern {
        /// The pattern's name (or its text, for phrases and names).
        name: String,
        /// The regex engine's message.
        message: String,
    },
    /// A pattern that can match the empty string, and so would match (and in strict mode
    /// redact) every input.
    #[error(
        "sanitizer pattern `{name}` can match the empty string, so it would match every input; make it require at least one character"
    )]
    EmptyMatch {
        /// The pattern's name.
        name: String,
    },
    /// A weight or threshold out of range.
    #[error("sanitizer setting `{key}` = {value} is out of range; use {expected}")]
    OutOfRange {
        /// The key.
        key: String,
        /// The bad value.
        value: f64,
        /// What would be accepted.
        expected: &'static str,
    },
}

/// Names of the distinct threat kinds in a verdict, for counters.
pub fn threat_kinds(verdict: &Verdict) -> Vec<&'static str> {
    let mut seen = HashSet::new();
    verdict
        .threats
        .iter()
        .filter(|t| seen.insert(t.kind))
        .map(|t| t.kind.as_str())
        .collect()
}
