//! Server-sent events, parsed incrementally: bytes are fed as the network delivers them and
//! events taken as they complete, whatever the cuts. Knows nothing of chat chunks (that is
//! `stream.rs`); what the events carry is text.

/// One server-sent event.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines, joined with newlines.
    pub data: String,
}

impl SseEvent {
    /// A borrowed view.
    pub fn borrowed(&self) -> SseEventRef<'_> {
        SseEventRef {
            event: self.event.as_deref(),
            data: &self.data,
        }
    }
}

/// A server-sent event borrowed from the [`SseParser`] that found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SseEventRef<'a> {
    /// The `event:` field, if any.
    pub event: Option<&'a str>,
    /// The `data:` lines, joined with newlines.
    pub data: &'a str,
}

impl SseEventRef<'_> {
    /// An owned copy.
    pub fn to_event(&self) -> SseEvent {
        SseEvent {
            event: self.event.map(str::to_string),
            data: self.data.to_string(),
        }
    }
}

/// An incremental SSE parser: feed it bytes as they arrive, take events as they complete.
/// Lines are split only at `\n` (a trailing `\r` is dropped), so a multi-byte character split
/// across network chunks is never cut.
///
/// An event of one `data:` line (every event of a chat stream) is handed out as a slice of
/// the bytes fed, not copied: memchr for the lines, no `String` per line or per event (those
/// were the largest costs of a streamed call after the chunks' JSON).
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    pos: usize,
    /// The pending event's `data:` lines, once copied out of `buf`.
    data: String,
    /// The pending event's only `data:` line so far, still in `buf` (start, end).
    line: Option<(usize, usize)>,
    /// The pending event's `event:` field.
    event: Option<String>,
    /// A `data:` or `event:` field has arrived since the last event.
    has_pending: bool,
    /// An event was handed out: the pending state is reset before reading on.
    dispatched: bool,
}

impl SseParser {
    /// Appends bytes from the network.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.reset_if_dispatched();
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 4096 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event, if one is buffered. `Err` holds a line that is not UTF-8.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, String> {
        Ok(self.next_event_ref()?.map(|e| e.to_event()))
    }

    /// [`SseParser::next_event`], borrowed: valid until the parser is used again.
    pub fn next_event_ref(&mut self) -> Result<Option<SseEventRef<'_>>, String> {
        self.reset_if_dispatched();
        while let Some(nl) = memchr::memchr(b'\n', &self.buf[self.pos..]) {
            let start = self.pos;
            let mut end = start + nl;
            self.pos = end + 1;
            if end > start && self.buf[end - 1] == b'\r' {
                end -= 1;
            }
            if start == end {
                if self.has_pending {
                    return Ok(Some(self.dispatch()));
                }
                continue;
            }
            self.take_field(start, end)?;
        }
        // Out of whole lines: a line still in `buf` is copied, since `feed` may move `buf`.
        if let Some((s, e)) = self.line.take() {
            let text = std::str::from_utf8(&self.buf[s..e]).unwrap_or_default();
            self.data.push_str(text);
        }
        Ok(None)
    }

    /// At the end of the stream: the last event if the server did not end it with a blank line.
    pub fn finish(&mut self) -> Result<Option<SseEvent>, String> {
        self.reset_if_dispatched();
        if self.pos < self.buf.len() {
            let start = std::mem::replace(&mut self.pos, self.buf.len());
            let mut end = self.buf.len();
            if self.buf[end - 1] == b'\r' {
                end -= 1;
            }
            if start < end {
                self.take_field(start, end)?;
            }
        }
        Ok(self.has_pending.then(|| self.dispatch().to_event()))
    }

    fn reset_if_dispatched(&mut self) {
        if std::mem::take(&mut self.dispatched) {
            self.data.clear();
            self.line = None;
            self.event = None;
            self.has_pending = false;
        }
    }

    /// Applies the non-blank line `buf[start..end]` to the pending event.
    fn take_field(&mut self, start: usize, end: usize) -> Result<(), String> {
        let line = std::str::from_utf8(&self.buf[start..end])
            .map_err(|e| format!("stream line is not UTF-8: {e}"))?;
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value_start) = match memchr::memchr(b':', line.as_bytes()) {
            Some(colon) => {
                let space = usize::from(line.as_bytes().get(colon + 1) == Some(&b' '));
                (&line[..colon], start + colon + 1 + space)
            }
            None => (line, end),
        };
        match field {
            "data" => {
                if !self.has_pending_data() {
                    self.line = Some((value_start, end));
                } else {
                    if let Some((s, e)) = self.line.take() {
                        let first = std::str::from_utf8(&self.buf[s..e]).unwrap_or_default();
                        self.data.push_str(first);
                    }
                    if !self.data.is_empty() {
                        self.data.push('\n');
                    }
                    let value =
                        std::str::from_utf8(&self.buf[value_start..end]).unwrap_or_default();
                    self.data.push_str(value);
                }
                self.has_pending = true;
            }
            "event" => {
                let value = std::str::from_utf8(&self.buf[value_start..end]).unwrap_or_default();
                self.event = Some(value.to_string());
                self.has_pending = true;
            }
            _ => {}
        }
        Ok(())
    }

    /// True once a `data:` line of the pending event has arrived.
    fn has_pending_data(&self) -> bool {
        self.line.is_some() || !self.data.is_empty()
    }

    /// Hands out the pending event; its state is reset at the next call.
    fn dispatch(&mut self) -> SseEventRef<'_> {
        self.dispatched = true;
        let data = match self.line {
            // Checked as UTF-8 when its line was read.
            Some((s, e)) => std::str::from_utf8(&self.buf[s..e]).unwrap_or_default(),
            None => self.data.as_str(),
        };
        SseEventRef {
            event: self.event.as_deref(),
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_parser_handles_split_lines_crlf_comments_and_no_final_blank() {
        let text =
            ": keep-alive\r\ndata: {\"a\":1}\r\n\r\nevent: error\ndata: x\ndata: y\n\ndata: [DONE]";
        let bytes = text.as_bytes();
        let mut p = SseParser::default();
        let mut got = Vec::new();
        // Feed one byte at a time: the worst split the network can produce.
        for b in bytes {
            p.feed(std::slice::from_ref(b));
            while let Some(ev) = p.next_event().unwrap() {
                got.push(ev);
            }
        }
        if let Some(ev) = p.finish().unwrap() {
            got.push(ev);
        }
        let want = vec![
            SseEvent {
                event: None,
                data: "{\"a\":1}".into(),
            },
            SseEvent {
                event: Some("error".into()),
                data: "x\ny".into(),
            },
            SseEvent {
                event: None,
                data: "[DONE]".into(),
            },
        ];
        assert_eq!(got, want);
    }

    /// Every way of cutting a stream in two gives the same events as reading it whole, and a
    /// one-line event read whole is handed out from the parser's buffer, not copied.
    #[test]
    fn sse_events_are_the_same_however_the_bytes_arrive() {
        let text = "data: {\"a\":1}\n\ndata:\ndata: x\ndata: y\n\n: c\nevent: e\ndata: z\r\n\r\nretry: 5\n\ndata: tôi\n\ndata: [DONE]";
        let bytes = text.as_bytes();
        let read = |cuts: &[usize]| {
            let mut p = SseParser::default();
            let mut got = Vec::new();
            let mut from = 0;
            for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
                p.feed(&bytes[from..cut]);
                from = cut;
                while let Some(ev) = p.next_event().unwrap() {
                    got.push(ev);
                }
            }
            got.extend(p.finish().unwrap());
            got
        };
        let whole = read(&[]);
        let data: Vec<&str> = whole.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, ["{\"a\":1}", "x\ny", "z", "tôi", "[DONE]"]);
        assert_eq!(whole[2].event.as_deref(), Some("e"));
        // Cuts inside a multi-byte character included.
        for cut in 1..bytes.len() {
            assert_eq!(read(&[cut]), whole, "cut at {cut}");
        }
        let mut p = SseParser::default();
        p.feed(bytes);
        let range = p.buf.as_ptr_range();
        let at = p.next_event_ref().unwrap().unwrap().data.as_ptr();
        assert!(range.contains(&at), "borrowed, not copied");
    }

    #[test]
    fn sse_parser_keeps_multibyte_chars_split_across_chunks() {
        let text = "data: {\"c\":\"tôi\"}\n\n".as_bytes();
        let cut = text.iter().position(|&b| b >= 0x80).unwrap() + 1;
        let mut p = SseParser::default();
        p.feed(&text[..cut]);
        assert_eq!(p.next_event().unwrap(), None);
        p.feed(&text[cut..]);
        assert_eq!(p.next_event().unwrap().unwrap().data, "{\"c\":\"tôi\"}");
    }
}
