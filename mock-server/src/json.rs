//! JSON text for the replies sent on every request: completions and stream chunks (and the
//! hex digits of their ids).
//!
//! Written by hand because serde_json spent most of a streamed reply's CPU here: a 40-token
//! stream is 43 chunks of some twenty fields each, and serde_json escapes every key as it
//! writes it and goes through its formatter for every fragment (callgrind: 4,800 instructions
//! a chunk, three quarters of the server's instructions for a streamed request). The writers
//! in `wire/write.rs` put the fixed parts as literal bytes and escape only the values, with
//! the same rules as serde_json, so the bytes are the same: tests compare them with
//! `serde_json`'s output for the same values (the wire types keep their `Serialize` derives
//! for that).

/// What follows a backslash for each byte that must be escaped; `u` means `\u00XX`; 0 means
/// the byte is written as it is. The same escapes serde_json writes.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string: quoted, with `"`, `\` and control characters escaped.
pub fn string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time while none of them needs escaping (most text).
        let end = (i + 8).min(bytes.len());
        if end - i == 8 {
            let word = u64::from_le_bytes(bytes[i..end].try_into().expect("eight bytes"));
            if !needs_escape(word) {
                i = end;
                continue;
            }
        }
        for (j, &b) in bytes.iter().enumerate().take(end).skip(i) {
            let escape = ESCAPE[usize::from(b)];
            if escape == 0 {
                continue;
            }
            out.extend_from_slice(&bytes[start..j]);
            if escape == b'u' {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            } else {
                out.push(b'\\');
                out.push(escape);
            }
            start = j + 1;
        }
        i = end;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// True when one of the eight bytes of `word` is a control character, `"` or `\` (exact:
/// the "has a byte less than n" and "has a zero byte" tests of Bit Twiddling Hacks, which
/// admit no false answer about whether such a byte exists; bytes of 0x80 and up never count).
const fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let q = word ^ (ONES * b'"' as u64);
    let quote = q.wrapping_sub(ONES) & !q & HIGH;
    let b = word ^ (ONES * b'\\' as u64);
    let backslash = b.wrapping_sub(ONES) & !b & HIGH;
    (control | quote | backslash) != 0
}

/// Appends `s` as a JSON string, or `null`.
pub fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends a number.
pub fn number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends `n` in lowercase hex, zero-padded to at least `width` digits: `format!("{n:0w$x}")`
/// without the formatting machinery (reply and request ids, twice per request).
pub fn hex(out: &mut String, n: u64, width: usize) {
    let digits = (16 - n.leading_zeros() as usize / 4).max(1).max(width);
    for i in (0..digits).rev() {
        let nibble = if i < 16 { (n >> (4 * i)) & 0xf } else { 0 };
        out.push(char::from(HEX[nibble as usize]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(s: &str) {
        let mut out = Vec::new();
        string(&mut out, s);
        let want = serde_json::to_string(s).expect("a str serializes");
        assert_eq!(String::from_utf8(out).expect("UTF-8 out"), want, "{s:?}");
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for b in 0u8..0x80 {
            let c = char::from(b);
            check(&c.to_string());
            check(&format!("a{c}b"));
            // At every position of strings long enough for the eight-byte scan, twice.
            for len in 8..=20 {
                for at in 0..len {
                    let mut text: Vec<char> = "abcdefghijklmnopqrst".chars().take(len).collect();
                    text[at] = c;
                    text[len - 1 - at] = c;
                    check(&text.iter().collect::<String>());
                }
            }
        }
        // Multi-byte characters beside every kind of byte, across word boundaries.
        for b in [0u8, 0x1f, b'"', b'\\', b' ', 0x7f] {
            let c = char::from(b);
            check(&format!("đổi{c}gói cước{c}🚀🚀{c}x"));
        }
        for s in [
            "",
            "plain words",
            "say \"hi\"\n\tand go\\",
            "(2.5 + 3) * 4",
            "{\"expression\":\"1+2\"}",
            "Tôi muốn đổi gói cước",
            "emoji 🚀 and \u{2028} line separator and \u{7f} delete",
            "\u{0}\u{1f}\u{10FFFF}",
        ] {
            check(s);
        }
        let mut out = Vec::new();
        opt_string(&mut out, None);
        number(&mut out, u64::MAX);
        assert_eq!(out, b"null18446744073709551615");
    }

    #[test]
    fn hex_is_what_format_writes() {
        for n in [0u64, 1, 0xf, 0x10, 0xdead_beef, u64::MAX, 1 << 63] {
            for width in [1, 8, 16, 20] {
                let mut s = String::new();
                hex(&mut s, n, width);
                assert_eq!(s, format!("{n:0width$x}"), "{n} {width}");
            }
        }
    }
}
