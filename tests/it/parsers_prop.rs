//! Property tests of every parser that reads what a server sends (issue 15.2): the response
//! head, chunked bodies, server-sent events and the stream decoder, reply JSON, error bodies,
//! and the retry and rate-limit headers.
//!
//! A server (broken, hostile, or a proxy in between) chooses every byte these parsers read, and
//! the network chooses where the reads cut them. So for each parser, three claims:
//! - no input panics: arbitrary bytes, and realistic shapes (valid SSE lines, `data:` with and
//!   without its space, CRLF and LF, `: ping` comments, empty events, escaped JSON, chunk
//!   extensions, trailers) mutated or cut, give a value or a typed error;
//! - nothing is read past its stated bounds: a head over its limit is refused whatever the
//!   split, a chunked body yields exactly the bytes its chunks declare and never more than the
//!   response limit, a reply over `max_response_bytes` is `response_too_large`, and every
//!   server-given wait is at most the documented cap or a give-up;
//! - a reply cut at every byte boundary, and at random multi-splits, parses the same as whole
//!   (content, tool calls, tokens, finish_reason, error class).
//!
//! Each property runs a bounded number of cases ([`config`]), so the file takes a few seconds
//! in a debug build; `PROPTEST_CASES=N` runs N cases of each for a deeper search, and
//! `PROPTEST_RNG_SEED=N` fixes the otherwise random seed. No failure files are written into
//! the tree: a failure prints its shrunk input, to be kept as a plain regression test at the
//! end of this file.

use std::time::{Duration, SystemTime};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use reactbench::agent::retry::{GiveUp, MAX_SERVER_WAIT_CAP, RetryConfig, RetryDecision, decide};
use reactbench::chat::{ChatReply, ChatRequest, ToolCall, Usage};
use reactbench::client::{
    ChunkedDecoder, LlmError, MAX_HEAD_BYTES, MAX_HEADERS, RateLimitInfo, SATURATED_WAIT, SseEvent,
    SseParser, StreamDecoder, classify_error, is_context_window_message, parse_completion,
    parse_count, parse_error_body, parse_head_bounded, parse_reset_duration, parse_retry_after,
    parse_retry_after_ms, parse_stream, saturating_wait,
};
use reactbench::record::ErrorClass;
use reactbench::units::HumanDuration;
use serde_json::{Value, json};

use crate::client::request;
use crate::server_shapes::{Reply, client_for, raw_server};

/// `cases` cases, no failure files; `PROPTEST_CASES` overrides the count for a deeper run.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        // A failing case of the split-at-every-byte properties costs a parse per byte: bound
        // the shrinking so a failure is reported in seconds, not minutes.
        max_shrink_iters: 512,
        ..ProptestConfig::default()
    }
}

/// Cut points for [`cut_at`]: up to 12 positions anywhere (reduced modulo the length).
fn cuts() -> impl Strategy<Value = Vec<usize>> {
    vec(any::<usize>(), 0..12)
}

/// `bytes` cut at `cuts` (taken modulo `len + 1`, sorted): empty pieces included, as a read
/// can return nothing new.
fn cut_at<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    at.sort_unstable();
    let mut pieces = Vec::with_capacity(at.len() + 1);
    let mut from = 0;
    for c in at {
        pieces.push(&bytes[from..c]);
        from = c;
    }
    pieces.push(&bytes[from..]);
    pieces
}

/// Every way of cutting `bytes` in two: the pieces for each boundary, `0..=len`.
fn every_split(bytes: &[u8]) -> impl Iterator<Item = [&[u8]; 2]> {
    (0..=bytes.len()).map(move |i| [&bytes[..i], &bytes[i..]])
}

/// Some text as servers send it: ASCII words, any printable Unicode, and the characters JSON
/// must escape (quotes, backslashes, newlines, controls).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z ,.]{0,10}",
        2 => "\\PC{0,6}",
        1 => "[\"\\\\\n\t\u{1}é€😀 ]{0,6}",
    ]
}

// ---- the response head ----

/// Bytes that start like a response head, then go anywhere: status lines, header lines with
/// CRLF or bare LF, the headers the transport reads, and arbitrary bytes.
fn head_like() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"HTTP/1.1 ".to_vec()),
        Just(b"HTTP/1.0 200 OK\r\n".to_vec()),
        Just(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"content-length: 5\r\n".to_vec()),
        Just(b"content-length: 99999999999999999999999\r\n".to_vec()),
        Just(b"transfer-encoding: gzip, chunked\r\n".to_vec()),
        Just(b"connection: close\r\n".to_vec()),
        Just(b"content-type: application/json; charset=utf-8\r\n".to_vec()),
        "[a-z-]{1,12}: [ -~]{0,20}\r\n".prop_map(String::into_bytes),
        "[0-9]{1,4}".prop_map(String::into_bytes),
        vec(any::<u8>(), 0..16),
    ];
    vec(piece, 0..12).prop_map(|p| p.concat())
}

/// A complete response head (and its length) followed by some body bytes: any status, any
/// reason, headers of any name and value, lines ended by CRLF or a bare LF.
fn valid_head() -> impl Strategy<Value = (Vec<u8>, usize)> {
    let header = prop_oneof![
        ("[a-zA-Z][a-zA-Z0-9-]{0,15}", "[!-~]([ -~]{0,20}[!-~])?")
            .prop_map(|(n, v)| format!("{n}: {v}")),
        "[0-9]{1,6}".prop_map(|n| format!("Content-Length: {n}")),
        Just("transfer-encoding: chunked".to_string()),
        Just("Connection: keep-alive, close".to_string()),
        Just("content-type: text/event-stream".to_string()),
        Just("retry-after: 1e23".to_string()),
    ];
    (
        prop_oneof![Just("HTTP/1.1"), Just("HTTP/1.0")],
        prop_oneof![
            Just(200u16),
            Just(204),
            Just(100),
            Just(429),
            Just(503),
            100u16..1000
        ],
        "[A-Za-z ]{0,12}",
        vec(header, 0..10),
        any::<bool>(),
        vec(any::<u8>(), 0..20),
    )
        .prop_map(|(version, status, reason, headers, crlf, body)| {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut head = format!("{version} {status} {reason}{nl}");
            for h in headers {
                head.push_str(&h);
                head.push_str(nl);
            }
            head.push_str(nl);
            let len = head.len();
            let mut bytes = head.into_bytes();
            bytes.extend_from_slice(&body);
            (bytes, len)
        })
}

/// The head parser's verdict on `bytes` read in two reads cut at `cut`, as the transport
/// reaches it: the first read's verdict if it has one, else both reads'.
fn head_verdict(bytes: &[u8], cut: usize) -> Result<Option<(usize, Option<u16>)>, String> {
    for prefix in [&bytes[..cut], bytes] {
        match parse_head_bounded(prefix) {
            Ok(Some(p)) => return Ok(Some((p.len, p.status()))),
            Ok(None) => continue,
            Err(e) => return Err(format!("{e:?}")),
        }
    }
    Ok(None)
}

proptest! {
    #![proptest_config(config(512))]

    /// Arbitrary bytes give a head, "read more" or a typed error; a head is never longer than
    /// the bytes it came from, nor than the limit.
    #[test]
    fn any_bytes_give_the_head_parser_a_head_more_to_read_or_an_error(bytes in head_like()) {
        if let Ok(Some(parsed)) = parse_head_bounded(&bytes) {
            prop_assert!(parsed.len <= bytes.len() && parsed.len <= MAX_HEAD_BYTES);
        }
    }
}

proptest! {
    #![proptest_config(config(96))]

    /// The transport parses the bytes read so far from their start after every read: each
    /// prefix of a head is "read more", and every prefix that holds it gives the same head.
    #[test]
    fn a_head_parses_the_same_however_the_reads_cut_it((bytes, head_len) in valid_head()) {
        let whole = parse_head_bounded(&bytes).map_err(|e| format!("{e:?}"));
        let whole = whole.map(|p| p.map(|p| (p.len, p.status())));
        let (len, status) = match whole {
            Ok(Some(head)) => head,
            // httparse refuses some heads this generator writes (a reason or value it finds
            // invalid): then no prefix may be accepted either.
            other => {
                for i in 0..=bytes.len() {
                    prop_assert!(
                        !matches!(parse_head_bounded(&bytes[..i]), Ok(Some(_))),
                        "a prefix of {i} bytes was accepted, the whole was {other:?}"
                    );
                }
                return Ok(());
            }
        };
        prop_assert_eq!(len, head_len);
        for i in 0..=bytes.len() {
            let got = parse_head_bounded(&bytes[..i]).map_err(|e| format!("{e:?}"));
            let got = got.map(|p| p.map(|p| (p.len, p.status())));
            if i < head_len {
                prop_assert!(matches!(got, Ok(None)), "prefix of {i}: {got:?}");
            } else {
                prop_assert_eq!(got, Ok(Some((len, status))), "prefix of {}", i);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(24))]

    /// A head around either limit (64 KiB, 128 headers) is accepted exactly when it is within
    /// both, wherever the two reads that bring it are cut.
    #[test]
    fn a_head_past_either_limit_is_refused_wherever_the_reads_cut_it(
        headers in prop_oneof![0usize..4, (MAX_HEADERS - 3)..(MAX_HEADERS + 2)],
        over in -40i64..40,
        cuts in vec(any::<usize>(), 6),
    ) {
        let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..headers {
            head.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
        }
        head.extend_from_slice(b"x-big: ");
        // The value that puts the head `over` bytes past the limit (the line's CRLF and the
        // blank line counted).
        let value = (MAX_HEAD_BYTES as i64 + over - head.len() as i64 - 4).max(1) as usize;
        head.extend(std::iter::repeat_n(b'a', value));
        head.extend_from_slice(b"\r\n\r\n");
        let head_len = head.len();
        head.extend_from_slice(b"body");
        let accepted = head_len <= MAX_HEAD_BYTES && headers < MAX_HEADERS;
        let at = cuts
            .iter()
            .map(|c| c % (head.len() + 1))
            .chain([MAX_HEAD_BYTES - 1, MAX_HEAD_BYTES, MAX_HEAD_BYTES + 1, head.len()]);
        for cut in at {
            let cut = cut.min(head.len());
            let got = head_verdict(&head, cut);
            prop_assert_eq!(got.is_ok(), accepted, "cut at {}: {:?}", cut, got);
            if accepted {
                prop_assert_eq!(got, Ok(Some((head_len, Some(200)))));
            }
        }
    }
}

// ---- chunked bodies ----

/// A chunked body as servers write it: its wire bytes, the data it carries, and the bytes
/// that follow it (the next response on the connection).
#[derive(Clone, Debug)]
struct Chunked {
    wire: Vec<u8>,
    data: Vec<u8>,
    /// Where the body ends in `wire` (after the blank line that ends the trailers).
    end: usize,
    /// The data size each chunk declares, in order.
    sizes: Vec<usize>,
}

/// One chunk-size line: the size in either case, with leading zeros, a chunk extension or the
/// white space before one.
fn size_line(size: usize, upper: bool, zeros: usize, ext: &str) -> String {
    let hex = if upper {
        format!("{size:X}")
    } else {
        format!("{size:x}")
    };
    format!("{}{hex}{ext}\r\n", "0".repeat(zeros))
}

fn chunk_ext() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(String::new()),
        1 => "[a-z]{1,6}".prop_map(|n| format!(";{n}")),
        1 => ("[a-z]{1,6}", "[a-z0-9]{0,6}").prop_map(|(n, v)| format!(";{n}={v}")),
        1 => Just(" ;q=\"x y\"".to_string()),
    ]
}

fn chunked_body() -> impl Strategy<Value = Chunked> {
    let chunk = (
        vec(any::<u8>(), 1..40),
        any::<bool>(),
        0usize..3,
        chunk_ext(),
    );
    (
        vec(chunk, 0..6),
        0usize..3,
        chunk_ext(),
        vec("x-[a-z]{1,6}: [ -~]{0,12}", 0..3),
        vec(any::<u8>(), 0..8),
    )
        .prop_map(|(chunks, last_zeros, last_ext, trailers, after)| {
            let mut wire = Vec::new();
            let mut data = Vec::new();
            let mut sizes = Vec::new();
            for (bytes, upper, zeros, ext) in chunks {
                wire.extend_from_slice(size_line(bytes.len(), upper, zeros, &ext).as_bytes());
                wire.extend_from_slice(&bytes);
                wire.extend_from_slice(b"\r\n");
                data.extend_from_slice(&bytes);
                sizes.push(bytes.len());
            }
            wire.extend_from_slice(size_line(0, false, last_zeros, &last_ext).as_bytes());
            for t in trailers {
                wire.extend_from_slice(t.as_bytes());
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(b"\r\n");
            let end = wire.len();
            wire.extend_from_slice(&after);
            Chunked {
                wire,
                data,
                end,
                sizes,
            }
        })
}

/// What decoding `pieces` one after the other gives: the data, whether the body ended, the
/// error if one came (decoding stops there), and the bytes left after the body.
#[derive(Debug, PartialEq)]
struct Decoded {
    data: Vec<u8>,
    ended: bool,
    error: Option<String>,
    rest: Vec<u8>,
}

fn decode_chunked(pieces: &[&[u8]]) -> Decoded {
    let mut decoder = ChunkedDecoder::default();
    let mut data = Vec::new();
    let mut ended = false;
    for piece in pieces {
        match decoder.feed(piece, &mut data) {
            Ok(e) => ended = e,
            Err(e) => {
                return Decoded {
                    data,
                    ended: false,
                    error: Some(e.0),
                    rest: Vec::new(),
                };
            }
        }
    }
    assert_eq!(decoder.end().is_ok(), ended, "end() agrees with feed");
    Decoded {
        data,
        ended,
        error: None,
        rest: decoder.buffered().to_vec(),
    }
}

/// Bytes that look like a chunked body, in pieces that are each valid framing or close to it:
/// sizes (up to sixteen `f`s), CRLFs and bare LFs, extensions, data, terminators, trailers.
fn chunked_like() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        "[0-9a-fA-F]{1,3}\r\n".prop_map(String::into_bytes),
        Just(b"ffffffffffffffff\r\n".to_vec()),
        Just(b"fffffffffffffffff\r\n".to_vec()),
        Just(b"0\r\n\r\n".to_vec()),
        Just(b"0\r\nx-t: 1\r\n\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b";ext=1".to_vec()),
        Just(b"3\r\nabc\r\n".to_vec()),
        vec(any::<u8>(), 0..12),
    ];
    vec(piece, 0..10).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(config(96))]

    /// A valid chunked body cut at every byte, or at many places at once, decodes to exactly
    /// its data and leaves exactly what follows it; cut before its end, it has not ended.
    #[test]
    fn a_chunked_body_decodes_the_same_at_every_split(body in chunked_body(), cuts in cuts()) {
        let want = Decoded {
            data: body.data.clone(),
            ended: true,
            error: None,
            rest: body.wire[body.end..].to_vec(),
        };
        prop_assert_eq!(&decode_chunked(&[&body.wire]), &want);
        for pieces in every_split(&body.wire) {
            prop_assert_eq!(&decode_chunked(&pieces), &want, "cut at {}", pieces[0].len());
            let first = decode_chunked(&pieces[..1]);
            if pieces[0].len() < body.end {
                prop_assert!(!first.ended && first.error.is_none(), "{:?}", first);
                prop_assert!(body.data.starts_with(&first.data));
            }
        }
        prop_assert_eq!(&decode_chunked(&cut_at(&body.wire, &cuts)), &want);
    }

    /// A chunk with more data than its size declares is refused, and nothing past the sizes
    /// declared so far is ever handed out, however the body arrives.
    #[test]
    fn a_chunk_longer_than_its_size_is_refused_and_never_read_past_it(
        body in chunked_body(),
        which in any::<usize>(),
        extra in "[a-z]{1,5}",
        cuts in cuts(),
    ) {
        prop_assume!(!body.sizes.is_empty());
        let which = which % body.sizes.len();
        // Insert `extra` after the data of chunk `which`.
        let mut at = 0;
        let mut wire = Vec::new();
        let mut declared = 0;
        for (i, &size) in body.sizes.iter().enumerate() {
            let line = memchr::memmem::find(&body.wire[at..], b"\r\n").unwrap() + 2;
            wire.extend_from_slice(&body.wire[at..at + line + size]);
            at += line + size;
            declared += size;
            if i == which {
                wire.extend_from_slice(extra.as_bytes());
                wire.extend_from_slice(&body.wire[at..]);
                break;
            }
            // The CRLF after the data.
            wire.extend_from_slice(b"\r\n");
            at += 2;
        }
        for pieces in [vec![&wire[..]], cut_at(&wire, &cuts)] {
            let got = decode_chunked(&pieces);
            prop_assert!(got.error.is_some(), "{:?}", got);
            prop_assert_eq!(got.data.len(), declared);
            prop_assert_eq!(&got.data[..], &body.data[..declared]);
        }
    }

    /// Arbitrary and almost-valid chunked bytes never panic the decoder, never give more data
    /// than was fed, and give the same data, end and verdict at every split.
    #[test]
    fn any_chunked_bytes_decode_the_same_at_every_split(
        wire in chunked_like(),
        cuts in cuts(),
    ) {
        let whole = decode_chunked(&[&wire]);
        prop_assert!(whole.data.len() <= wire.len());
        let same = |got: &Decoded| {
            got.data == whole.data && got.ended == whole.ended
                && got.error.is_some() == whole.error.is_some()
        };
        for pieces in every_split(&wire) {
            let got = decode_chunked(&pieces);
            prop_assert!(same(&got), "cut at {}: {:?} vs whole {:?}", pieces[0].len(), got, whole);
        }
        let got = decode_chunked(&cut_at(&wire, &cuts));
        prop_assert!(same(&got), "{:?} vs whole {:?}", got, whole);
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// A chunk-size line around its limit (1024 bytes with its CRLF) and a trailer section
    /// around its limit (16 KiB with its blank line) are each refused exactly when past it,
    /// wherever the reads cut them.
    #[test]
    fn chunk_lines_and_trailers_near_their_limits_get_one_verdict_however_cut(
        ext in 1010usize..1030,
        trailer_lines in 14usize..18,
        trailer_tail in 0usize..1100,
        cuts in cuts(),
    ) {
        let line = format!("5;{}\r\n", "e".repeat(ext));
        let line_ok = line.len() <= 1024;
        let mut wire = line.into_bytes();
        wire.extend_from_slice(b"hello\r\n0\r\n");
        let mut trailers = Vec::new();
        for i in 0..trailer_lines {
            trailers.extend_from_slice(format!("x-{i:02}: {}\r\n", "t".repeat(1000)).as_bytes());
        }
        trailers.extend_from_slice(format!("x-tail: {}\r\n", "t".repeat(trailer_tail)).as_bytes());
        trailers.extend_from_slice(b"\r\n");
        let trailers_ok = trailers.len() <= 16 * 1024;
        wire.extend_from_slice(&trailers);
        for pieces in [vec![&wire[..]], cut_at(&wire, &cuts)] {
            let got = decode_chunked(&pieces);
            prop_assert_eq!(got.ended, line_ok && trailers_ok, "{:?}", got.error);
            prop_assert_eq!(got.error.is_some(), !(line_ok && trailers_ok));
            prop_assert_eq!(&got.data[..], if line_ok { &b"hello"[..] } else { &b""[..] });
        }
    }
}

// ---- server-sent events ----

/// Lines of an event stream as servers write them, and as they should not: `data:` with and
/// without its space, `event:`, comments, ignored fields, blank lines, lines without a colon,
/// stray text and bytes that are not UTF-8; CRLF or LF each, the last line possibly unended.
fn sse_like() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        4 => text().prop_map(|t| format!("data: {t}").into_bytes()),
        2 => text().prop_map(|t| format!("data:{t}").into_bytes()),
        1 => Just(b"data".to_vec()),
        1 => Just(b"data:".to_vec()),
        1 => "[a-z]{0,8}".prop_map(|e| format!("event: {e}").into_bytes()),
        1 => Just(b": ping".to_vec()),
        1 => Just(b":".to_vec()),
        1 => Just(b"id: 7".to_vec()),
        1 => Just(b"retry: 10".to_vec()),
        3 => Just(Vec::new()),
        1 => Just(b"data: [DONE]".to_vec()),
        1 => "[ -~]{0,12}".prop_map(String::into_bytes),
        1 => vec(any::<u8>(), 0..6),
    ];
    let ending = prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..]), Just(&b"\r\r\n"[..])];
    (vec((line, ending), 0..14), any::<bool>()).prop_map(|(lines, unended)| {
        let mut out = Vec::new();
        let n = lines.len();
        for (i, (line, end)) in lines.into_iter().enumerate() {
            out.extend_from_slice(&line);
            if !(unended && i + 1 == n) {
                out.extend_from_slice(end);
            }
        }
        out
    })
}

/// The events an [`SseParser`] finds in `pieces` fed one after the other, the last one at the
/// end of the stream included, and whether it stopped on a line that is not UTF-8.
fn sse_events(pieces: &[&[u8]]) -> (Vec<SseEvent>, bool) {
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    for piece in pieces {
        parser.feed(piece);
        loop {
            match parser.next_event() {
                Ok(Some(e)) => events.push(e),
                Ok(None) => break,
                Err(_) => return (events, true),
            }
        }
    }
    match parser.finish() {
        Ok(Some(e)) => events.push(e),
        Ok(None) => {}
        Err(_) => return (events, true),
    }
    (events, false)
}

proptest! {
    #![proptest_config(config(128))]

    /// The events of any stream of lines are the same however the bytes arrive.
    #[test]
    fn sse_events_are_the_same_at_every_split(bytes in sse_like(), cuts in cuts()) {
        let whole = sse_events(&[&bytes]);
        for pieces in every_split(&bytes) {
            prop_assert_eq!(&sse_events(&pieces), &whole, "cut at {}", pieces[0].len());
        }
        prop_assert_eq!(&sse_events(&cut_at(&bytes, &cuts)), &whole);
    }
}

/// One chunk of a chat stream.
#[derive(Clone, Debug)]
enum Delta {
    Content(String),
    Reasoning(String),
    /// A tool-call fragment: the call's index and a piece of its arguments (the first
    /// fragment of each index also carries its id and name).
    Tool(u8, String),
    Role,
    /// An empty delta with `"finish_reason": ""`, as some servers send on every chunk.
    NoReason,
    Finish(&'static str),
    /// A usage-only chunk (`choices: []`).
    Usage(u64, u64),
    /// An error object mid-stream.
    Error,
}

fn delta() -> impl Strategy<Value = Delta> {
    prop_oneof![
        6 => text().prop_map(Delta::Content),
        2 => text().prop_map(Delta::Reasoning),
        3 => (0u8..3, text()).prop_map(|(i, a)| Delta::Tool(i, a)),
        1 => Just(Delta::Role),
        1 => Just(Delta::NoReason),
        2 => prop_oneof![Just("stop"), Just("length"), Just("tool_calls")].prop_map(Delta::Finish),
        1 => (0u64..100_000, 0u64..100_000).prop_map(|(p, c)| Delta::Usage(p, c)),
        1 => Just(Delta::Error),
    ]
}

/// How one event is written: `data: ` or `data:`, its JSON on one line or on two `data:`
/// lines, CRLF or LF, a `: ping` comment or an `event: message` line before it, and an extra
/// blank line (an empty event) after it.
#[derive(Clone, Copy, Debug)]
struct Framing {
    space: bool,
    two_lines: bool,
    crlf: bool,
    ping: bool,
    named: bool,
    blank: bool,
}

fn framing() -> impl Strategy<Value = Framing> {
    (
        any::<bool>(),
        prop::bool::weighted(0.15),
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(space, two_lines, crlf, ping, named, blank)| Framing {
            space,
            two_lines,
            crlf,
            ping,
            named,
            blank,
        })
}

/// A chat stream as OpenAI-compatible servers write it.
#[derive(Clone, Debug)]
struct Stream {
    deltas: Vec<(Delta, Framing)>,
    /// Every chunk starts with the same `id`, `object`, `created` and `model` (OpenAI, vLLM),
    /// or carries only `model` and `choices`.
    with_head: bool,
    done: bool,
    /// The last event is not followed by its blank line.
    unended: bool,
}

/// A chat stream of fewer than `max` chunks (a split at every byte parses it once per byte).
fn stream_of(max: usize) -> impl Strategy<Value = Stream> {
    (
        vec((delta(), framing()), 0..max),
        any::<bool>(),
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(deltas, with_head, done, unended)| Stream {
            deltas,
            with_head,
            done,
            unended,
        })
}

impl Stream {
    /// The data of each event, in order.
    fn payloads(&self) -> Vec<String> {
        let mut named = [false; 3];
        self.deltas
            .iter()
            .map(|(d, _)| {
                let choice = |delta: Value, reason: Value| {
                    json!([{"index": 0, "delta": delta, "finish_reason": reason}])
                };
                let (choices, usage) = match d {
                    Delta::Content(t) => (choice(json!({"content": t}), Value::Null), None),
                    Delta::Reasoning(t) => {
                        (choice(json!({"reasoning_content": t}), Value::Null), None)
                    }
                    Delta::Tool(i, args) => {
                        let mut frag = json!({"index": i, "function": {"arguments": args}});
                        if !std::mem::replace(&mut named[usize::from(*i)], true) {
                            frag["id"] = json!(format!("call_{i}_x"));
                            frag["type"] = json!("function");
                            frag["function"]["name"] = json!(format!("tool_{i}"));
                        }
                        (choice(json!({"tool_calls": [frag]}), Value::Null), None)
                    }
                    Delta::Role => (
                        choice(json!({"role": "assistant", "content": ""}), Value::Null),
                        None,
                    ),
                    Delta::NoReason => (choice(json!({}), json!("")), None),
                    Delta::Finish(r) => (choice(json!({}), json!(r)), None),
                    Delta::Usage(p, c) => (
                        json!([]),
                        Some(json!({"prompt_tokens": p, "completion_tokens": c})),
                    ),
                    Delta::Error => {
                        return r#"{"error":{"message":"overloaded","type":"server_error","code":"503"}}"#
                            .to_string();
                    }
                };
                let usage = usage.map(|u| format!(r#","usage":{u}"#)).unwrap_or_default();
                if self.with_head {
                    format!(
                        r#"{{"id":"chatcmpl-7","object":"chat.completion.chunk","created":1700000000,"model":"m-1","choices":{choices}{usage}}}"#
                    )
                } else {
                    format!(r#"{{"choices":{choices},"model":"m-1"{usage}}}"#)
                }
            })
            .collect()
    }

    /// The body on the wire.
    fn bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        let n = self.deltas.len();
        for (i, ((_, f), data)) in self.deltas.iter().zip(self.payloads()).enumerate() {
            let nl = if f.crlf { "\r\n" } else { "\n" };
            let field = if f.space { "data: " } else { "data:" };
            if f.ping {
                out.push_str(&format!(": ping{nl}{nl}"));
            }
            if f.named {
                out.push_str(&format!("event: message{nl}"));
            }
            if f.two_lines {
                // `{` alone, then the rest: joined with a newline, still the same JSON.
                out.push_str(&format!("{field}{{{nl}{field}{}{nl}", &data[1..]));
            } else {
                out.push_str(&format!("{field}{data}{nl}"));
            }
            let last = i + 1 == n && !self.done;
            if !(last && self.unended) {
                out.push_str(nl);
            }
            if f.blank && !last {
                out.push_str(nl);
            }
        }
        if self.done {
            out.push_str("data: [DONE]\n\n");
        }
        out.into_bytes()
    }

    /// What the client must make of it, or the class of its error.
    fn expected(&self) -> Result<Expected, ErrorClass> {
        let mut content = String::new();
        let mut calls: Vec<ToolCall> = Vec::new();
        let mut finish = None;
        let mut usage = None;
        for (d, _) in &self.deltas {
            match d {
                Delta::Content(t) => content.push_str(t),
                Delta::Tool(i, args) => {
                    let id = format!("call_{i}_x");
                    match calls.iter_mut().find(|c| c.id == id) {
                        Some(c) => c.arguments.push_str(args),
                        None => calls.push(ToolCall {
                            id,
                            name: format!("tool_{i}"),
                            arguments: args.clone(),
                        }),
                    }
                }
                Delta::Finish(r) => finish = Some(r.to_string()),
                Delta::Usage(p, c) => usage = Some(Usage::billed(*p, 0, *c)),
                Delta::Error => return Err(ErrorClass::StreamCut),
                Delta::Reasoning(_) | Delta::Role | Delta::NoReason => {}
            }
        }
        if !self.done && finish.is_none() {
            return Err(ErrorClass::StreamCut);
        }
        calls.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Expected {
            content: (!content.is_empty()).then_some(content),
            calls,
            finish,
            usage,
        })
    }
}

/// What a chat stream carries.
#[derive(Debug)]
struct Expected {
    content: Option<String>,
    /// Sorted by id.
    calls: Vec<ToolCall>,
    finish: Option<String>,
    /// `None`: the server sent none, so the client counts the tokens.
    usage: Option<Usage>,
}

/// What must not depend on how a reply arrived: everything but the timings themselves (TTFT
/// and gaps are measured, so only whether there is one and how many), or the error's class and
/// message.
#[derive(Debug, PartialEq)]
struct Outcome {
    reply: Option<(ChatReply, bool, bool, usize)>,
    error: Option<(ErrorClass, String)>,
}

fn outcome(r: Result<ChatReply, LlmError>) -> Outcome {
    match r {
        Ok(mut reply) => {
            let timings = (
                reply.ttft.take().is_some(),
                reply.ttft_answer.take().is_some(),
                std::mem::take(&mut reply.inter_chunk_gaps_us).len(),
            );
            Outcome {
                reply: Some((reply, timings.0, timings.1, timings.2)),
                error: None,
            }
        }
        Err(e) => Outcome {
            reply: None,
            error: Some((e.class, e.message)),
        },
    }
}

/// A stream decoded from `pieces` as the client decodes what it reads.
fn decode_stream(pieces: &[&[u8]], req: &ChatRequest) -> Outcome {
    let mut decoder = StreamDecoder::new(200, tokio::time::Instant::now());
    for piece in pieces {
        match decoder.feed(piece) {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => return outcome(Err(e)),
        }
    }
    outcome(decoder.finish(req))
}

/// Checks that `got` is what `s` says: content, tool calls, finish_reason, usage, `[DONE]`
/// and model, or the class of the error it carries.
fn check_stream(s: &Stream, got: &Outcome) -> Result<(), TestCaseError> {
    match (s.expected(), got) {
        (
            Ok(want),
            Outcome {
                reply: Some((r, ..)),
                ..
            },
        ) => {
            prop_assert_eq!(&r.content, &want.content);
            let mut calls = r.tool_calls.clone();
            calls.sort_by(|a, b| a.id.cmp(&b.id));
            prop_assert_eq!(calls, want.calls);
            prop_assert_eq!(&r.finish_reason, &want.finish);
            match want.usage {
                Some(u) => prop_assert_eq!(r.usage, u),
                None => prop_assert!(r.usage.estimated),
            }
            prop_assert_eq!(r.missing_done, !s.done);
            // The first chunk names the model; a stream of none leaves the request's.
            let model = if s.deltas.is_empty() {
                "gpt-4.1"
            } else {
                "m-1"
            };
            prop_assert_eq!(r.model.as_str(), model);
        }
        (
            Err(class),
            Outcome {
                error: Some((got, _)),
                ..
            },
        ) => prop_assert_eq!(*got, class),
        (want, got) => prop_assert!(false, "want {:?}, got {:?}", want, got),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(16))]

    /// A short chat stream (content, reasoning, tool-call fragments, usage, finish_reason,
    /// errors, pings and empty events) decodes to the same reply cut at every byte.
    #[test]
    fn a_chat_stream_decodes_the_same_at_every_split(s in stream_of(5)) {
        let req = request("gpt-4.1", true);
        let bytes = s.bytes();
        let whole = decode_stream(&[&bytes], &req);
        check_stream(&s, &whole)?;
        for pieces in every_split(&bytes) {
            prop_assert_eq!(&decode_stream(&pieces, &req), &whole, "cut at {}", pieces[0].len());
        }
    }
}

proptest! {
    #![proptest_config(config(96))]

    /// A longer chat stream decodes to what it says, the same as `parse_stream` reads it
    /// whole, and the same cut at many places at once.
    #[test]
    fn a_chat_stream_decodes_to_what_it_says_in_any_pieces(
        s in stream_of(12),
        cuts in vec(cuts(), 4),
    ) {
        let req = request("gpt-4.1", true);
        let bytes = s.bytes();
        let whole = decode_stream(&[&bytes], &req);
        check_stream(&s, &whole)?;
        prop_assert_eq!(&outcome(parse_stream(&bytes, &req, 200)), &whole);
        for cuts in cuts {
            prop_assert_eq!(&decode_stream(&cut_at(&bytes, &cuts), &req), &whole);
        }
    }
}

/// Bytes of a chat stream gone wrong: real chunks and lines mixed with fragments of JSON,
/// `[DONE]` in odd places, error events, numbers too large, and bytes that are not UTF-8.
fn stream_like() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => stream_of(5).prop_map(|s| s.bytes()),
        2 => Just(b"data: ".to_vec()),
        1 => Just(b"data: [DONE]\n\n".to_vec()),
        1 => Just(b"event: error\n".to_vec()),
        1 => Just(b": ping\r\n\r\n".to_vec()),
        2 => Just(b"\n".to_vec()),
        1 => Just(br#"{"choices":[{"delta":{"tool_calls":[{"index":4294967296}]}}]}"#.to_vec()),
        1 => Just(br#"{"usage":{"prompt_tokens":-1,"completion_tokens":1e400}}"#.to_vec()),
        1 => Just(br#"{"choices":null,"object":"error"}"#.to_vec()),
        1 => Just(br#"{"choices":[{"delta":{"content":"\ud800"}}]}"#.to_vec()),
        1 => Just([&b"data: "[..], &[b'['; 5000], b"\n\n"].concat()),
        2 => vec(any::<u8>(), 0..10),
    ];
    vec(piece, 0..6).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(config(48))]

    /// Any bytes give the stream decoder a reply or a typed error, and the same one in any
    /// pieces.
    #[test]
    fn any_stream_bytes_decode_to_a_reply_or_a_typed_error_the_same_in_pieces(
        bytes in stream_like(),
        cuts in cuts(),
    ) {
        let req = request("gpt-4.1", true);
        let whole = decode_stream(&[&bytes], &req);
        if let Some((class, _)) = &whole.error {
            prop_assert!(
                matches!(class, ErrorClass::Malformed | ErrorClass::StreamCut)
                    || class_of_an_http_status(*class),
                "{:?}",
                whole
            );
        }
        prop_assert_eq!(&decode_stream(&cut_at(&bytes, &cuts), &req), &whole);
    }
}

/// The classes an error object's own code can give (a proxy's error body with status 200).
fn class_of_an_http_status(class: ErrorClass) -> bool {
    matches!(
        class,
        ErrorClass::RateLimited
            | ErrorClass::QuotaExceeded
            | ErrorClass::Server
            | ErrorClass::Conflict
            | ErrorClass::ContextLength
            | ErrorClass::BadRequest
            | ErrorClass::Auth
            | ErrorClass::NotFound
            | ErrorClass::Other
    )
}

// ---- reply JSON and error bodies ----

/// JSON of the shapes the reply and error parsers look for, with every field of every type:
/// keys from their vocabulary, values nested a few levels.
fn json_like() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        text().prop_map(Value::String),
        prop_oneof![
            Just("error"),
            Just("429"),
            Just("insufficient_quota"),
            Just("context_length_exceeded"),
            Just("This model's maximum context length is 4096 tokens"),
        ]
        .prop_map(|s| json!(s)),
    ];
    let key = prop_oneof![
        Just("choices"),
        Just("message"),
        Just("content"),
        Just("reasoning_content"),
        Just("tool_calls"),
        Just("function"),
        Just("name"),
        Just("arguments"),
        Just("id"),
        Just("finish_reason"),
        Just("usage"),
        Just("prompt_tokens"),
        Just("completion_tokens"),
        Just("prompt_tokens_details"),
        Just("cached_tokens"),
        Just("model"),
        Just("error"),
        Just("code"),
        Just("type"),
        Just("object"),
        Just("detail"),
    ]
    .prop_map(str::to_string);
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A completion as a server writes it, and what it carries.
#[derive(Clone, Debug)]
struct Completion {
    body: String,
    content: Option<String>,
    /// Name and arguments of each tool call.
    calls: Vec<(String, String)>,
    /// Prompt and completion tokens, if the server counted them.
    usage: Option<(u64, u64)>,
}

fn completion() -> impl Strategy<Value = Completion> {
    (
        prop::option::of(text()),
        vec(("[a-z_]{1,8}", text()), 0..3),
        prop::option::of((any::<u32>(), any::<u32>())),
    )
        .prop_map(|(content, calls, usage)| {
            let tool_calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, (n, a))| {
                    json!({"id": format!("call_{i}"), "type": "function",
                           "function": {"name": n, "arguments": a}})
                })
                .collect();
            let mut v = json!({
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": "m-1",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content,
                             "tool_calls": tool_calls}, "finish_reason": "stop"}],
            });
            let usage = usage.map(|(p, c)| (u64::from(p), u64::from(c)));
            if let Some((p, c)) = usage {
                v["usage"] = json!({"prompt_tokens": p, "completion_tokens": c});
            }
            Completion {
                body: v.to_string(),
                content,
                calls,
                usage,
            }
        })
}

/// A completion with one of its members (or the whole of a choice, a tool call, the usage)
/// replaced by JSON of any shape: past the first byte, into the typed and the general paths.
fn completion_mutated() -> impl Strategy<Value = Vec<u8>> {
    let at = prop_oneof![
        Just("/model"),
        Just("/choices"),
        Just("/choices/0"),
        Just("/choices/0/message"),
        Just("/choices/0/message/content"),
        Just("/choices/0/message/tool_calls"),
        Just("/choices/0/message/tool_calls/0"),
        Just("/choices/0/message/tool_calls/0/function"),
        Just("/choices/0/message/tool_calls/0/function/arguments"),
        Just("/choices/0/finish_reason"),
        Just("/usage"),
        Just("/usage/prompt_tokens"),
    ];
    (completion(), at, json_like()).prop_map(|(c, at, value)| {
        let mut v: Value = serde_json::from_str(&c.body).unwrap();
        if let Some(slot) = v.pointer_mut(at) {
            *slot = value;
        }
        v.to_string().into_bytes()
    })
}

proptest! {
    #![proptest_config(config(192))]

    /// Any bytes, JSON of any shape, and completions with any member replaced give the reply
    /// parser a reply or a typed error.
    #[test]
    fn any_reply_body_parses_to_a_reply_or_a_typed_error(
        body in prop_oneof![
            vec(any::<u8>(), 0..64),
            json_like().prop_map(|v| v.to_string().into_bytes()),
            completion_mutated(),
            // Nested past serde_json's recursion limit.
            (1usize..3000).prop_map(|n| [&b"{\"choices\":"[..], &vec![b'['; n]].concat()),
        ],
        stream in any::<bool>(),
    ) {
        if let Err(e) = parse_completion(&body, &request("gpt-4.1", stream), 200) {
            prop_assert!(
                e.class == ErrorClass::Malformed || class_of_an_http_status(e.class),
                "{:?}",
                e
            );
            prop_assert!(e.message.chars().count() <= 1004, "{}", e.message.len());
        }
    }

    /// Error bodies of any shape and any status classify without a panic, and the status
    /// decides the class but for the few codes and messages that refine it.
    #[test]
    fn any_error_body_classifies_by_its_status_first(
        text in prop_oneof![
            json_like().prop_map(|v| v.to_string()),
            "\\PC{0,40}",
            Just("<html><body>502 Bad Gateway</body></html>".to_string()),
        ],
        status in prop_oneof![100u16..600, any::<u16>()],
    ) {
        let body = parse_error_body(&text);
        let class = classify_error(status, &body);
        let _ = is_context_window_message(&text);
        match status {
            500..=599 => prop_assert_eq!(class, ErrorClass::Server),
            401 | 403 => prop_assert_eq!(class, ErrorClass::Auth),
            429 => prop_assert!(matches!(class, ErrorClass::RateLimited | ErrorClass::QuotaExceeded)),
            400 | 413 | 422 => prop_assert!(
                matches!(class, ErrorClass::BadRequest | ErrorClass::ContextLength),
                "{:?}", class
            ),
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// A completion reads back as what it carries, and every cut short of its end is
    /// malformed, never a reply.
    #[test]
    fn a_completion_reads_back_whole_and_is_malformed_when_cut(c in completion()) {
        let req = request("gpt-4.1", false);
        let body = c.body.as_bytes();
        let reply = parse_completion(body, &req, 200).unwrap();
        prop_assert_eq!(reply.content, c.content);
        let calls: Vec<(String, String)> =
            reply.tool_calls.into_iter().map(|t| (t.name, t.arguments)).collect();
        prop_assert_eq!(calls, c.calls);
        prop_assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
        match c.usage {
            Some((p, n)) => prop_assert_eq!(reply.usage, Usage::billed(p, 0, n)),
            None => prop_assert!(reply.usage.estimated),
        }
        for i in 0..body.len() {
            let class = parse_completion(&body[..i], &req, 200).err().map(|e| e.class);
            prop_assert_eq!(class, Some(ErrorClass::Malformed), "cut at {}", i);
        }
    }
}

// ---- retry and rate-limit headers ----

/// Header values as servers write waits and counts, and as they should not: numbers of any
/// size and form, Go-style durations, HTTP dates of any year, and any text.
fn wait_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[-+]?[0-9]{0,25}(\\.[0-9]{0,12})?([eE][-+]?[0-9]{1,4})?",
        "([0-9]{0,22}(\\.[0-9]{0,6})?(h|m|s|ms|us|µs|ns|d|)){1,6}",
        prop_oneof![
            Just("inf"),
            Just("-inf"),
            Just("infinity"),
            Just("NaN"),
            Just("1e23"),
            Just("99999999h"),
            Just("1.8e308"),
            Just("-0"),
            Just("0x10"),
        ]
        .prop_map(str::to_string),
        (0u64..253_402_300_800)
            .prop_map(|s| httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(s))),
        "\\PC{0,24}",
        " *[0-9]{1,30} *",
    ]
}

const WAIT_HEADERS: [&str; 4] = [
    "retry-after",
    "retry-after-ms",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
];
const COUNT_HEADERS: [&str; 4] = [
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-limit-requests",
    "x-ratelimit-limit-tokens",
];

proptest! {
    #![proptest_config(config(512))]

    /// Every wait parsed from any text is at most [`SATURATED_WAIT`], and counts parse or not,
    /// without a panic.
    #[test]
    fn any_wait_header_parses_to_no_wait_or_one_within_the_cap(
        text in wait_text(),
        now in 0u64..(1 << 40),
        secs in any::<f64>(),
    ) {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(now);
        for wait in [
            parse_retry_after_ms(&text),
            parse_retry_after(&text, now),
            parse_reset_duration(&text),
            saturating_wait(secs),
        ] {
            prop_assert!(wait.is_none_or(|w| w <= SATURATED_WAIT), "{text:?}: {wait:?}");
        }
        prop_assert_eq!(saturating_wait(secs).is_none(), secs.is_nan() || secs < 0.0);
        let _ = parse_count(&text);
    }

    /// Whatever the headers of a 429 or 503 say, the retry policy sleeps at most its cap (or
    /// its backoff), or gives up; never a longer sleep, never a panic.
    #[test]
    fn any_rate_limit_headers_lead_to_a_bounded_sleep_or_a_give_up(
        waits in vec(prop::option::of(wait_text()), 4),
        counts in vec(prop::option::of(wait_text()), 4),
        status in prop_oneof![Just(429u16), Just(503)],
        max_server_wait in prop_oneof![
            Just(Duration::ZERO),
            Just(Duration::from_secs(120)),
            Just(Duration::from_secs(3 * 24 * 3600)),
            Just(Duration::MAX),
        ],
        jitter in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut headers = http::HeaderMap::new();
        for (name, value) in WAIT_HEADERS.iter().zip(&waits).chain(COUNT_HEADERS.iter().zip(&counts)) {
            if let Some(v) = value.as_deref().and_then(|v| http::HeaderValue::from_str(v).ok()) {
                headers.insert(*name, v);
            }
        }
        let info = RateLimitInfo::from_headers(&headers, SystemTime::now());
        for wait in [info.retry_after, info.reset_requests, info.reset_tokens, info.reset_wait()] {
            prop_assert!(wait.is_none_or(|w| w <= SATURATED_WAIT), "{info:?}");
        }
        let class = if status == 429 { ErrorClass::RateLimited } else { ErrorClass::Server };
        let err = LlmError {
            status: Some(status),
            rate_limit: Box::new(info),
            ..LlmError::local(class, "limited")
        };
        let config = RetryConfig {
            max_server_wait: HumanDuration(max_server_wait),
            jitter,
            ..RetryConfig::default()
        };
        let server_cap = max_server_wait.min(MAX_SERVER_WAIT_CAP);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        match decide(&err, 0, &config, &mut rng) {
            RetryDecision::Retry(w) => prop_assert!(
                w <= server_cap.max(config.max_delay.0),
                "sleeps {w:?} on {headers:?}"
            ),
            RetryDecision::GiveUp(GiveUp::ServerWaitTooLong(w)) => prop_assert!(w > server_cap),
            RetryDecision::GiveUp(other) => prop_assert!(false, "{other:?}"),
        }
    }

    /// A Go-style duration reads as the sum of its parts, to the microsecond.
    #[test]
    fn a_go_style_duration_reads_as_the_sum_of_its_parts(
        h in 0u64..1000, m in 0u64..60, s in 0u64..60, ms in 0u64..1000,
    ) {
        let got = parse_reset_duration(&format!("{h}h{m}m{s}s{ms}ms")).unwrap();
        let want = Duration::from_millis(((h * 60 + m) * 60 + s) * 1000 + ms);
        prop_assert!(got.abs_diff(want) <= Duration::from_micros(1), "{got:?} vs {want:?}");
    }
}

// ---- a whole reply through the client ----

/// A 200 reply as a server sends it: head, framing (Content-Length, chunked with chunks of
/// any size, or until the server closes) and a body that is a chat stream or one JSON reply.
#[derive(Clone, Debug)]
struct Wire {
    body: Vec<u8>,
    /// A stream request (a JSON body then says `stream_ignored`).
    stream: bool,
    sse: bool,
    json_type: bool,
    /// 0: Content-Length, 1: chunked, 2: until the server closes.
    framing: u8,
    chunk_cuts: Vec<usize>,
    /// Bytes after the end the framing states (for the first two): never part of the reply.
    after: Vec<u8>,
}

impl Wire {
    fn bytes(&self) -> Vec<u8> {
        let kind = if self.json_type {
            "application/json"
        } else {
            "text/event-stream"
        };
        let mut out = format!("HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\n");
        let framing = match self.framing {
            0 => format!("content-length: {}\r\n", self.body.len()),
            1 => "transfer-encoding: chunked\r\n".to_string(),
            _ => "connection: close\r\n".to_string(),
        };
        out.push_str(&framing);
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        if self.framing == 1 {
            for piece in cut_at(&self.body, &self.chunk_cuts) {
                if !piece.is_empty() {
                    out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    out.extend_from_slice(piece);
                    out.extend_from_slice(b"\r\n");
                }
            }
            out.extend_from_slice(b"0\r\n\r\n");
        } else {
            out.extend_from_slice(&self.body);
        }
        if self.framing < 2 {
            out.extend_from_slice(&self.after);
        }
        out
    }

    /// The body parsed whole, in memory: what the client must make of it however it arrives.
    fn parsed_whole(&self) -> Outcome {
        let req = request("gpt-4.1", self.stream);
        if self.sse {
            outcome(parse_stream(&self.body, &req, 200))
        } else {
            outcome(parse_completion(&self.body, &req, 200).map(|mut r| {
                r.stream_ignored = self.stream;
                r
            }))
        }
    }
}

fn wire() -> impl Strategy<Value = Wire> {
    let sse = stream_of(8).prop_map(|s| (s.bytes(), true, true, false));
    let json = (completion(), any::<bool>(), any::<bool>()).prop_map(|(c, stream, json_type)| {
        // A stream request answered with JSON is told by its content type, or sniffed from
        // its first byte.
        (c.body.into_bytes(), stream, false, json_type || !stream)
    });
    let after = prop_oneof![
        Just(Vec::new()),
        Just(b"data: {\"choices\":[{\"delta\":{\"content\":\"extra\"}}]}\n\n".to_vec()),
        vec(any::<u8>(), 1..40),
    ];
    (prop_oneof![sse, json], 0u8..3, cuts(), after).prop_map(
        |((body, stream, sse, json_type), framing, chunk_cuts, after)| Wire {
            body,
            stream,
            sse,
            json_type,
            framing,
            chunk_cuts,
            after,
        },
    )
}

/// Tests through the client: a real socket on loopback, the reply written in the pieces given
/// with a millisecond between them (so the client reads them apart).
#[test]
fn a_reply_cut_anywhere_on_the_wire_reads_as_its_body_parsed_whole_unless_past_the_limit() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(config(24));
    let limit = prop_oneof![
        Just(None),
        (-3i64..3).prop_map(Some),
        (-200i64..200).prop_map(Some)
    ];
    runner
        .run(&(wire(), cuts(), limit), |(wire, cuts, limit)| {
            let bytes = wire.bytes();
            let body_len = wire.body.len() as i64;
            let limit = limit.map(|d| (body_len + d).max(0) as u64);
            let pieces = cut_at(&bytes, &cuts)
                .into_iter()
                .map(|p| (Duration::from_millis(1), p.to_vec()))
                .collect();
            let got = rt.block_on(async {
                let addr = raw_server(Reply { pieces }).await;
                let client = client_for(addr, |c| {
                    if let Some(l) = limit {
                        c.max_response_bytes = l;
                    }
                });
                client.chat(&request("gpt-4.1", wire.stream)).await
            });
            let whole = wire.parsed_whole();
            let over = limit.is_some_and(|l| wire.body.len() as u64 > l);
            let got = outcome(got);
            if over {
                let class = got.error.as_ref().map(|e| e.0);
                // Refused as too large; a body that is an error whole may be refused as that
                // error first, when it comes before the limit is passed.
                let whole_class = whole.error.as_ref().map(|e| e.0);
                prop_assert!(
                    class == Some(ErrorClass::ResponseTooLarge)
                        || (class.is_some() && class == whole_class),
                    "{} bytes over a limit of {:?}: {:?}",
                    body_len,
                    limit,
                    got
                );
            } else {
                prop_assert_eq!(got, whole);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

// ---- regressions ----

/// Issue 15.2: a chunk-size line of more than 1024 bytes (a long extension) was accepted when
/// one read brought it whole and refused when it came in pieces. Now refused either way.
#[test]
fn a_chunk_size_line_over_its_limit_is_refused_whole_and_in_pieces() {
    let mut wire = format!("5;{}\r\nhello\r\n0\r\n\r\n", "e".repeat(1100)).into_bytes();
    assert!(decode_chunked(&[&wire]).error.is_some());
    assert!(
        decode_chunked(&[&wire[..600], &wire[600..]])
            .error
            .is_some()
    );
    // And one of exactly 1024 bytes is taken either way.
    wire = format!("5;{}\r\nhello\r\n0\r\n\r\n", "e".repeat(1024 - 5)).into_bytes();
    for pieces in [vec![&wire[..]], vec![&wire[..1023], &wire[1023..]]] {
        let got = decode_chunked(&pieces);
        assert_eq!((got.data.as_slice(), got.ended), (&b"hello"[..], true));
    }
}

/// Issue 15.2: trailer lines were limited one by one, so a server could send short trailer
/// lines forever (they never count toward `max_response_bytes`). The whole trailer section is
/// limited now.
#[test]
fn short_trailer_lines_are_refused_once_their_section_passes_its_limit() {
    let mut wire = b"2\r\nhi\r\n0\r\n".to_vec();
    for _ in 0..2100 {
        wire.extend_from_slice(b"x-t: 1\r\n");
    }
    wire.extend_from_slice(b"\r\n");
    let got = decode_chunked(&[&wire]);
    assert_eq!(got.data, b"hi");
    assert!(got.error.unwrap().contains("trailers"));
}
