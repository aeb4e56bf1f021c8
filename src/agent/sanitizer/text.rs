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

/// The ASCII text smuggled in Unicode tag characters (U+E0020..U+E007E mirror ASCII and render
/// as nothing), if any: stripping them hides the payload from the patterns, so it is decoded
/// and scanned as a view of its own.
pub(super) fn hidden_tags(text: &str) -> Option<String> {
    let tags: String = text
        .chars()
        .filter_map(|c| match c {
            '\u{E0020}'..='\u{E007E}' => char::from_u32(c as u32 - 0xE0000),
            _ => None,
        })
        .collect();
    (!tags.is_empty()).then_some(tags)
}

/// The text patterns are matched against, when it differs from the cleaned text.
#[derive(Debug)]
pub(super) struct Folded {
    /// One character for each character of the cleaned text.
    pub text: String,
    /// Some word mixes Latin letters with Cyrillic or Greek look-alikes ("іgnоrе"): a
    /// homoglyph attack, or at least a text that was folded where it mattered.
    pub mixed_script: bool,
}

/// Folds what only looks different, for matching (the model still gets the cleaned text):
/// Cyrillic and Greek letters that look like Latin ones become those Latin letters, and Latin
/// letters lose their diacritics (Vietnamese "hướng dẫn" becomes "huong dan", so one unaccented
/// pattern covers text typed with and without accents, and "bỏ quа" with a Cyrillic `а`). Each
/// character maps to exactly one character, so a match position maps back to the cleaned text
/// ([`map_offsets`]). `None` when nothing changes (all ASCII, the common case).
pub(super) fn fold(text: &str) -> Option<Folded> {
    if text.is_ascii() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let (mut latin, mut lookalike, mut mixed_script) = (false, false, false);
    for c in text.chars() {
        let (folded, script) = fold_char(c);
        match script {
            Script::Latin => latin = true,
            Script::LookAlike => lookalike = true,
            Script::Other if folded.is_alphanumeric() => {}
            Script::Other => {
                mixed_script |= latin && lookalike;
                latin = false;
                lookalike = false;
            }
        }
        out.push(folded);
    }
    mixed_script |= latin && lookalike;
    Some(Folded {
        text: out,
        mixed_script,
    })
}

/// What a character was, for the mixed-script check.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    LookAlike,
    Other,
}

fn fold_char(c: char) -> (char, Script) {
    if c.is_ascii() {
        let script = if c.is_ascii_alphabetic() {
            Script::Latin
        } else {
            Script::Other
        };
        return (c, script);
    }
    if let Some(latin) = look_alike(c) {
        return (latin, Script::LookAlike);
    }
    let stripped = match c {
        'đ' => Some('d'),
        'Đ' => Some('D'),
        'ø' => Some('o'),
        'Ø' => Some('O'),
        'ł' => Some('l'),
        'Ł' => Some('L'),
        'ı' => Some('i'),
        // Latin-1 Supplement to Latin Extended-B, and Latin Extended Additional (Vietnamese):
        // the base letter of the canonical decomposition.
        '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}' => {
            let mut base = None;
            unicode_normalization::char::decompose_canonical(c, |d| {
                if base.is_none() {
                    base = Some(d);
                }
            });
            base.filter(char::is_ascii_alphabetic)
        }
        _ => None,
    };
    match stripped {
        Some(base) => (base, Script::Latin),
        None => (c, Script::Other),
    }
}

/// Cyrillic and Greek letters that render like a Latin letter in common fonts (a subset of
/// Unicode's confusables.txt: the letters seen in homoglyph attacks, not every possible one).
/// Whole Russian or Greek words fold into Latin-looking nonsense that no pattern matches.
fn look_alike(c: char) -> Option<char> {
    Some(match c {
        // Cyrillic lower case
        'а' => 'a',
        'в' => 'b',
        'е' | 'ё' => 'e',
        'һ' => 'h',
        'і' | 'ї' => 'i',
        'ј' => 'j',
        'к' => 'k',
        'м' => 'm',
        'н' => 'h',
        'о' => 'o',
        'р' => 'p',
        'с' => 'c',
        'т' => 't',
        'у' => 'y',
        'х' => 'x',
        'ѕ' => 's',
        'ԁ' => 'd',
        'ԛ' => 'q',
        'ԝ' => 'w',
        // Cyrillic upper case
        'А' => 'A',
        'В' => 'B',
        'Е' => 'E',
        'К' => 'K',
        'М' => 'M',
        'Н' => 'H',
        'О' => 'O',
        'Р' => 'P',
        'С' => 'C',
        'Т' => 'T',
        'У' => 'Y',
        'Х' => 'X',
        'І' => 'I',
        'Ј' => 'J',
        'Ѕ' => 'S',
        // Greek
        'α' => 'a',
        'ε' => 'e',
        'ι' => 'i',
        'κ' => 'k',
        'ν' => 'v',
        'ο' => 'o',
        'ρ' => 'p',
        'τ' => 't',
        'υ' => 'u',
        'χ' => 'x',
        'Α' => 'A',
        'Β' => 'B',
        'Ε' => 'E',
        'Ζ' => 'Z',
        'Η' => 'H',
        'Ι' => 'I',
        'Κ' => 'K',
        'Μ' => 'M',
        'Ν' => 'N',
        'Ο' => 'O',
        'Ρ' => 'P',
        'Τ' => 'T',
        'Υ' => 'Y',
        'Χ' => 'X',
        _ => return None,
    })
}

/// Maps byte spans in `folded` (from [`fold`] of `cleaned`) to byte spans in `cleaned`: the two
/// have the same characters in the same order, only their UTF-8 lengths differ.
pub(super) fn map_offsets(folded: &str, cleaned: &str, spans: &mut [(usize, usize)]) {
    let mut at = vec![cleaned.len(); folded.len() + 1];
    for ((f, _), (c, _)) in folded.char_indices().zip(cleaned.char_indices()) {
        at[f] = c;
    }
    for (start, end) in spans.iter_mut() {
        *start = at[*start];
        *end = at[*end];
    }
}
