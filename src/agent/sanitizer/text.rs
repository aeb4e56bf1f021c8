//! Text preparation before matching: Unicode normalisation, invisible characters, word-bounded
//! names, and the check that no pattern matches the empty string.

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

use super::verdict::SanitizerError;

/// Characters stripped before matching: invisible formatting and bidi controls that let an
/// attacker split a keyword ("ig\u{200B}nore") or reorder what a reviewer sees.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                  // soft hyphen
        | '\u{034F}'                // combining grapheme joiner
        | '\u{061C}'                // Arabic letter mark
        | '\u{115F}' | '\u{1160}'   // Hangul fillers
        | '\u{17B4}' | '\u{17B5}'
        | '\u{180E}'                // Mongolian vowel separator
        | '\u{200B}'..='\u{200F}'   // zero-width space, joiners, LRM, RLM
        | '\u{202A}'..='\u{202E}'   // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}'   // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}'   // bidi isolates
        | '\u{3164}'                // Hangul filler
        | '\u{FE00}'..='\u{FE0F}'   // variation selectors
        | '\u{FEFF}'                // BOM, zero-width no-break space
        | '\u{FFA0}'
        | '\u{E0000}'..='\u{E007F}' // tag characters ("ASCII smuggling")
    )
}

/// NFKC-normalizes and strips invisible characters; says whether any were stripped. ASCII and
/// other already-normalized text without invisible characters takes a copy-only fast path.
pub(super) fn normalize(text: &str) -> (String, bool) {
    let has_invisible = !text.is_ascii() && text.chars().any(is_invisible);
    if !has_invisible && (text.is_ascii() || is_nfkc_quick(text.chars()) == IsNormalized::Yes) {
        return (text.to_string(), false);
    }
    let stripped: String = text.chars().filter(|&c| !is_invisible(c)).collect();
    // NFKC can produce no invisible characters from visible ones, but strip again cheaply in
    // case a compatibility mapping does.
    let cleaned: String = stripped.nfkc().filter(|&c| !is_invisible(c)).collect();
    (cleaned, has_invisible)
}

/// A dangerous name as a regex: escaped, with ASCII word boundaries on the sides that begin or
/// end with a word character (so `rm -rf` and `os.system` work, and `eval` does not match
/// "evaluate"). ASCII boundaries keep the set on the fast DFA engines for non-ASCII text.
pub(super) fn word_bounded(name: &str) -> String {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let escaped = regex::escape(name.trim()).replace(' ', r"\s+");
    let start = if name.trim().starts_with(is_word) {
        r"(?-u:\b)"
    } else {
        ""
    };
    let end = if name.trim().ends_with(is_word) {
        r"(?-u:\b)"
    } else {
        ""
    };
    format!("{start}{escaped}{end}")
}

/// Rejects a pattern whose language contains the empty string.
pub(super) fn reject_empty_match(name: &str, source: &str) -> Result<(), SanitizerError> {
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(true)
        .build()
        .parse(source)
        .map_err(|e| SanitizerError::InvalidPattern {
            name: name.to_string(),
            message: e.to_string(),
        })?;
    if hir.properties().minimum_len() == Some(0) {
        return Err(SanitizerError::EmptyMatch {
            name: name.to_string(),
        });
    }
    Ok(())
}
