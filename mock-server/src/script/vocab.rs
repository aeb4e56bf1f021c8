//! What replies are made of: one-token filler words, the token pieces of fixed phrases, tool
//! inputs (arithmetic expressions, queries), and the tokenizer helpers that split text into
//! pieces whose count is the reply's token count.

use std::borrow::Cow;
use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

use crate::rng::SplitMix;
use crate::tokens::Encoding;

const WORDS: &[&str] = &[
    "the",
    "result",
    "of",
    "this",
    "step",
    "is",
    "that",
    "we",
    "can",
    "use",
    "value",
    "data",
    "answer",
    "based",
    "on",
    "information",
    "from",
    "which",
    "shows",
    "our",
    "next",
    "user",
    "question",
    "so",
    "will",
    "check",
    "and",
    "then",
    "give",
    "final",
    "report",
    "clear",
    "short",
    "simple",
    "number",
    "total",
    "first",
    "look",
    "at",
    "it",
];

const TOPICS: &[&str] = &[
    "population of Hanoi",
    "boiling point of water at altitude",
    "capital of Australia",
    "exchange rate USD to VND",
    "status of order 1042",
    "opening hours of the main library",
    "distance from Paris to Lyon",
    "weather in Da Nang tomorrow",
    "price of a monthly metro pass",
    "author of The Tale of Kieu",
];

/// What replies are built from, per vocabulary, computed once: filler words that are exactly
/// one token with their leading space, and the token pieces of the fixed phrases. Replies are
/// sequences of these pieces, so their token count is known without encoding them (BPE splits
/// text at word and punctuation boundaries first, and every piece is one such unit).
pub struct Vocab {
    words: Vec<String>,
    /// `Final Answer:`.
    pub final_prefix: Vec<String>,
    /// `Here is`, the start of a plain answer.
    pub plain_prefix: Vec<String>,
    /// `Thought: I should`, the start of a text-protocol tool step.
    pub thought_prefix: Vec<String>,
}

impl Vocab {
    fn new(bpe: &CoreBPE) -> Vocab {
        let split = |s: &str| pieces(bpe, &bpe.encode_ordinary(s));
        let mut words: Vec<String> = WORDS
            .iter()
            .map(|w| format!(" {w}"))
            .filter(|w| bpe.encode_ordinary(w).len() == 1)
            .collect();
        if words.is_empty() {
            words.push(" the".to_string());
        }
        Vocab {
            words,
            final_prefix: split("Final Answer:"),
            plain_prefix: split("Here is"),
            thought_prefix: split("Thought: I should"),
        }
    }

    /// A filler word drawn from `rng`.
    pub fn word(&self, rng: &mut SplitMix) -> &str {
        &self.words[rng.range(0, self.words.len() as u64 - 1) as usize]
    }
}

/// The vocabulary of `enc`, built on first use.
pub fn vocab(enc: Encoding) -> &'static Vocab {
    static O200K: OnceLock<Vocab> = OnceLock::new();
    static CL100K: OnceLock<Vocab> = OnceLock::new();
    let cell = match enc {
        Encoding::O200kBase => &O200K,
        Encoding::Cl100kBase => &CL100K,
    };
    cell.get_or_init(|| Vocab::new(enc.bpe()))
}

/// An arithmetic expression (numbers, `+ - * /`, parentheses) that evaluates without error.
pub fn expression(rng: &mut SplitMix) -> String {
    let a = rng.range(1, 99);
    let b = rng.range(1, 99);
    let c = rng.range(1, 9);
    match rng.range(0, 4) {
        0 => format!("{a} + {b} * {c}"),
        1 => format!("({a} + {b}) * {c}"),
        2 => format!("{a} * {b} - {c}"),
        3 => format!("{a} / {c}"),
        _ => format!("({a} - {b}) / {c}"),
    }
}

/// A short query: one of a few fixed topics.
pub fn query(rng: &mut SplitMix) -> String {
    TOPICS[rng.range(0, TOPICS.len() as u64 - 1) as usize].to_string()
}

/// Token ids of `text`, cut to `limit` if given; returns the ids and whether they were cut.
pub fn tokens_within(bpe: &CoreBPE, text: &str, limit: Option<u64>) -> (Vec<u32>, bool) {
    let mut ids = bpe.encode_ordinary(text);
    let cut = match limit {
        Some(l) if (ids.len() as u64) > l => {
            ids.truncate(l as usize);
            true
        }
        _ => false,
    };
    (ids, cut)
}

/// The text of token ids.
pub fn decode(bpe: &CoreBPE, ids: &[u32]) -> String {
    bpe.decode_bytes(ids)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The text of each token id: pieces that concatenate to the decoded text.
pub fn pieces(bpe: &CoreBPE, ids: &[u32]) -> Vec<String> {
    bpe._decode_native_and_split(ids.to_vec())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect()
}

/// Pieces as the reply holds them.
pub fn owned(p: Vec<String>) -> Vec<Cow<'static, str>> {
    p.into_iter().map(Cow::Owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluates `+ - * /` with parentheses; `None` on any error (division by zero, syntax).
    fn eval(s: &str) -> Option<f64> {
        fn expr(t: &[char], i: &mut usize) -> Option<f64> {
            let mut v = term(t, i)?;
            while *i < t.len() && (t[*i] == '+' || t[*i] == '-') {
                let op = t[*i];
                *i += 1;
                let r = term(t, i)?;
                v = if op == '+' { v + r } else { v - r };
            }
            Some(v)
        }
        fn term(t: &[char], i: &mut usize) -> Option<f64> {
            let mut v = atom(t, i)?;
            while *i < t.len() && (t[*i] == '*' || t[*i] == '/') {
                let op = t[*i];
                *i += 1;
                let r = atom(t, i)?;
                if op == '/' && r == 0.0 {
                    return None;
                }
                v = if op == '*' { v * r } else { v / r };
            }
            Some(v)
        }
        fn atom(t: &[char], i: &mut usize) -> Option<f64> {
            if *i < t.len() && t[*i] == '(' {
                *i += 1;
                let v = expr(t, i)?;
                (t.get(*i) == Some(&')')).then(|| *i += 1)?;
                return Some(v);
            }
            let start = *i;
            while *i < t.len() && t[*i].is_ascii_digit() {
                *i += 1;
            }
            t[start..*i].iter().collect::<String>().parse().ok()
        }
        let t: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
        let mut i = 0;
        let v = expr(&t, &mut i)?;
        (i == t.len()).then_some(v)
    }

    #[test]
    fn expressions_always_evaluate() {
        let mut rng = SplitMix::new(3);
        for _ in 0..2000 {
            let e = expression(&mut rng);
            assert!(eval(&e).is_some(), "{e}");
        }
    }
}
