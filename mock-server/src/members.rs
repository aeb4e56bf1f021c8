//! Finds one top-level member of a JSON object by scanning, without parsing it.
//!
//! An agent sends the same `tools` list with every request: most of the bytes of a request,
//! and (callgrind, a 1.1 KB native-protocol request with an 830-byte list) 9,700 of the
//! 14,600 instructions serde_json spent on it, a quarter of the server's work per request, even
//! kept as a `RawValue` (serde_json still walks and checks every byte of it). The server finds
//! the member here instead, and when its value starts with a list it has already parsed, it
//! parses the rest of the request without it (see `server::chat`). The value itself is not
//! scanned: the caller says how long it is (the length of the known list it starts with), which
//! is one comparison of bytes; scanning it byte by byte cost almost as much as serde_json.
//!
//! The scan does not validate: it only follows strings and brackets. That is enough because
//! its caller parses everything it does not take out with serde_json, and takes out only text
//! it parsed before: if the rest is valid JSON, the prefix before the cut was scanned as it
//! really is (strings and brackets of valid JSON are found exactly), so the cut was a whole
//! member of the top-level object, and putting a valid value back keeps the body valid. On
//! anything unexpected the scan gives up and the caller parses the whole body.

use std::ops::Range;

/// Where a member is in the text of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's value.
    pub value: Range<usize>,
    /// What to cut out to leave the object without the member: the key, the value and one
    /// comma next to them (with the whitespace between).
    pub cut: Range<usize>,
}

/// The top-level member `key` of the object `text`, if `text` looks like an object that has
/// it exactly once; `measure` is given the text from the start of the member's value to the end
/// of `text` and answers the length of the value. `None` when `measure` does, when the object
/// has no such member or has it twice, has a key written with an escape (which could spell
/// `key` without its bytes), or when anything looks malformed.
pub fn find<'t>(
    text: &'t str,
    key: &str,
    mut measure: impl FnMut(&'t str) -> Option<usize>,
) -> Option<Member> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return None;
    }
    let mut found: Option<Member> = None;
    // The end of the previous member's value (after it comes the comma before this one).
    let mut prev_end: Option<usize> = None;
    loop {
        let key_start = i;
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(b, i)?;
        let raw = &b[key_start + 1..key_end - 1];
        if raw.contains(&b'\\') {
            return None;
        }
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let value_start = skip_ws(b, i + 1);
        let is_key = raw == key.as_bytes();
        if is_key && found.is_some() {
            return None;
        }
        let value_end = if is_key {
            let len = measure(text.get(value_start..)?)?;
            text.get(value_start..value_start + len)?;
            value_start + len
        } else {
            value_end(b, value_start)?
        };
        i = skip_ws(b, value_end);
        let last = match b.get(i) {
            Some(b',') => false,
            Some(b'}') => true,
            _ => return None,
        };
        if is_key {
            let cut = if !last {
                // `"key": value, ` up to the next key.
                key_start..skip_ws(b, i + 1)
            } else if let Some(prev) = prev_end {
                // The last member: from the comma after the previous value.
                prev..value_end
            } else {
                // The only member.
                key_start..value_end
            };
            found = Some(Member {
                value: value_start..value_end,
                cut,
            });
        }
        if last {
            return (skip_ws(b, i + 1) == b.len()).then_some(found).flatten();
        }
        prev_end = Some(value_end);
        i = skip_ws(b, i + 1);
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The index after the closing quote of the string opening at `start`.
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        i += memchr::memchr2(b'"', b'\\', &b[i..])?;
        if b[i] == b'"' {
            return Some(i + 1);
        }
        // A backslash escapes the next byte (for `\u` the four hex digits are plain bytes).
        i += 2;
        if i > b.len() {
            return None;
        }
    }
}

/// The index after the value starting at `start`.
fn value_end(b: &[u8], start: usize) -> Option<usize> {
    match *b.get(start)? {
        b'"' => string_end(b, start),
        b'[' | b'{' => {
            let mut depth = 0usize;
            let mut i = start;
            loop {
                // Between strings there are only brackets, separators, numbers and literals.
                match *b.get(i)? {
                    b'"' => {
                        i = string_end(b, i)?;
                        continue;
                    }
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        // A number or a literal: up to what may follow a value.
        _ => {
            let len = b[start..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))?;
            (len > 0).then_some(start + len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list the caller knows.
    const LIST: &str = r#"[{"type":"function","function":{"name":"a]\"}{","parameters":{}}}]"#;

    fn measure(rest: &str) -> Option<usize> {
        rest.starts_with(LIST).then_some(LIST.len())
    }

    /// `text` with the member cut out, and the member's value.
    fn split(text: &str) -> Option<(String, &str)> {
        let m = find(text, "tools", measure)?;
        let rest = format!("{}{}", &text[..m.cut.start], &text[m.cut.end..]);
        Some((rest, &text[m.value]))
    }

    #[test]
    fn cuts_the_member_wherever_it_is() {
        let tools = LIST;
        for (text, rest) in [
            (
                format!(r#"{{"model":"m","tools":{tools},"stream":true}}"#),
                r#"{"model":"m","stream":true}"#,
            ),
            (
                format!(r#"{{"tools":{tools},"model":"m"}}"#),
                r#"{"model":"m"}"#,
            ),
            (
                format!(r#"{{"model":"m","tools":{tools}}}"#),
                r#"{"model":"m"}"#,
            ),
            (format!(r#"{{"tools":{tools}}}"#), r#"{}"#),
            (
                format!("{{ \"model\" : \"m\" ,\n \"tools\" : {tools} ,\n \"n\" : 1 }} \n"),
                "{ \"model\" : \"m\" ,\n \"n\" : 1 } \n",
            ),
            (
                format!(r#"{{"messages":[{{"content":"\"tools\":[]"}}],"tools":{tools}}}"#),
                r#"{"messages":[{"content":"\"tools\":[]"}]}"#,
            ),
        ] {
            let (cut, value) = split(&text).unwrap_or_else(|| panic!("no tools in {text}"));
            assert_eq!(cut, rest, "{text}");
            assert_eq!(value, tools, "{text}");
            // What is left is still the same object without the member.
            let mut whole: serde_json::Value = serde_json::from_str(&text).expect("valid");
            whole.as_object_mut().unwrap().remove("tools");
            let left: serde_json::Value = serde_json::from_str(&cut).expect("still valid");
            assert_eq!(left, whole, "{text}");
        }
    }

    #[test]
    fn gives_up_on_anything_it_cannot_be_sure_of() {
        let l = LIST;
        for text in [
            r#"{"model":"m"}"#.to_string(),
            format!(r#"{{"tools":{l},"tools":{l}}}"#),
            format!(r#"{{"\u0074ools":{l}}}"#),
            format!(r#"{{"nested":{{"tools":{l}}}}}"#),
            format!(r#"["tools",{l}]"#),
            format!(r#"{{"tools":{l} "model":"m"}}"#),
            format!(r#"{{"tools":{l}}}x"#),
            format!(r#"{{"tools":{l}"#),
            format!(r#"{{"a":["unclosed],"tools":{l}}}"#),
            format!(r#"{{"a":[[],"tools":{l}}}"#),
            format!(r#"{{"a":,"tools":{l}}}"#),
            // Not the known list, or more than it.
            r#"{"tools":[]}"#.to_string(),
            format!(r#"{{"tools":{},1]}}"#, &l[..l.len() - 1]),
            format!(r#"{{"tools":{l}]}}"#),
            r#"{}"#.to_string(),
            String::new(),
        ] {
            assert_eq!(split(&text), None, "{text}");
        }
    }

    #[test]
    fn measures_only_the_value_of_the_key() {
        let text = r#"{"a":1,"tools":null,"b":"x\\"}"#;
        let mut seen = Vec::new();
        let m = find(text, "tools", |rest| {
            seen.push(rest);
            Some(4)
        })
        .expect("found");
        assert_eq!(seen, [r#"null,"b":"x\\"}"#]);
        assert_eq!(&text[m.value], "null");
        assert_eq!(&text[m.cut], r#""tools":null,"#);
        // A length past the end, or inside a character, is refused.
        assert_eq!(find(text, "tools", |_| Some(99)), None);
        assert_eq!(find(r#"{"tools":"é"}"#, "tools", |_| Some(2)), None);
    }
}
