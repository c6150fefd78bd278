//! A server-sent events parser, fed the response body chunk by chunk.
//!
//! Chunks arrive cut anywhere (inside a line, inside a UTF-8 character), so bytes are kept
//! until a whole line is in. Lines end with `\n` or `\r\n`; a blank line ends an event;
//! `data:` lines of one event are joined with `\n`; comment lines (`: keep-alive`, which
//! OpenRouter sends while a model thinks) and unknown fields are ignored, as the spec says.
//!
//! It uses nothing of this crate but this file: the fuzz target `fuzz/fuzz_targets/sse.rs`
//! compiles it on its own, without the HTTP stack.

/// One event: its `event:` name, if any, and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `event:` field (Anthropic names every event; OpenAI-compatible servers do not).
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// Incremental parser state.
#[derive(Debug)]
pub(crate) struct SseParser {
    /// Bytes of a line not yet complete.
    pending: Vec<u8>,
    event: Option<String>,
    data: String,
    has_data: bool,
    /// The most bytes one line, or one event's data, may have (`settings.limits.sseLineBytes`).
    max_line: usize,
}

impl Default for SseParser {
    fn default() -> Self {
        SseParser::with_limit(symphony_melody::limits::SSE_LINE_BYTES.default)
    }
}

/// A line or an event passed the parser's limit: the stream is not read further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLong {
    /// The limit, in bytes.
    pub max: u64,
}

impl SseParser {
    /// A parser that refuses a line or an event's data longer than `max_line` bytes.
    pub fn with_limit(max_line: u64) -> Self {
        SseParser {
            pending: Vec::new(),
            event: None,
            data: String::new(),
            has_data: false,
            max_line: usize::try_from(max_line).unwrap_or(usize::MAX),
        }
    }

    /// Feeds a chunk; returns the events it completed, or [`TooLong`] when a line (its bytes
    /// before the `\n`, a `\r` included) or one event's data passes the limit, wherever the
    /// chunks break: a server that never ends a line cannot grow memory, and no line longer than
    /// the limit is copied. Only the unfinished end of the chunk is kept.
    pub fn push_limited(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, TooLong> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            let (head, tail) = (&rest[..pos], &rest[pos + 1..]);
            self.check(self.pending.len() + head.len())?;
            let line = if self.pending.is_empty() {
                String::from_utf8_lossy(head)
            } else {
                self.pending.extend_from_slice(head);
                String::from_utf8_lossy(&self.pending)
            };
            let line = line.strip_suffix('\r').unwrap_or(&line).to_owned();
            self.pending.clear();
            self.line(&line, &mut out)?;
            rest = tail;
        }
        self.check(self.pending.len() + rest.len())?;
        self.pending.extend_from_slice(rest);
        Ok(out)
    }

    /// The body ended: a last line without its newline, and an event without its blank line,
    /// still count (some servers close right after the last `data:` line).
    pub fn finish(&mut self) -> Result<Vec<SseEvent>, TooLong> {
        let mut out = Vec::new();
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            let line = String::from_utf8_lossy(&rest);
            self.line(line.strip_suffix('\r').unwrap_or(&line), &mut out)?;
        }
        self.dispatch(&mut out);
        Ok(out)
    }

    /// Refuses a line, or an event's data, of `len` bytes when that passes the limit.
    fn check(&self, len: usize) -> Result<(), TooLong> {
        if len > self.max_line {
            return Err(TooLong {
                max: self.max_line as u64,
            });
        }
        Ok(())
    }

    fn line(&mut self, line: &str, out: &mut Vec<SseEvent>) -> Result<(), TooLong> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                let newline = usize::from(self.has_data);
                self.check(self.data.len() + newline + value.len())?;
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_owned()),
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.has_data {
            out.push(SseEvent {
                event: self.event.take(),
                data: std::mem::take(&mut self.data),
            });
        }
        self.event = None;
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use symphony_melody::limits::SSE_LINE_BYTES;

    /// Feeds `text` in pieces of `piece` bytes to a parser with `limit`, then ends the body.
    fn feed(text: &[u8], piece: usize, limit: u64) -> Result<Vec<SseEvent>, TooLong> {
        let mut p = SseParser::with_limit(limit);
        let mut out = Vec::new();
        for chunk in text.chunks(piece) {
            out.extend(p.push_limited(chunk)?);
        }
        out.extend(p.finish()?);
        Ok(out)
    }

    fn parse_in_pieces(text: &str, piece: usize) -> Vec<SseEvent> {
        feed(text.as_bytes(), piece, SSE_LINE_BYTES.default).expect("within the default limit")
    }

    #[test]
    fn events_survive_any_chunking() {
        let text = "event: message_start\r\ndata: {\"a\":\"é\"}\r\n\r\n: ping\n\ndata: one\ndata: two\n\ndata: [DONE]";
        let want = vec![
            SseEvent {
                event: Some("message_start".into()),
                data: "{\"a\":\"é\"}".into(),
            },
            SseEvent {
                event: None,
                data: "one\ntwo".into(),
            },
            SseEvent {
                event: None,
                data: "[DONE]".into(),
            },
        ];
        for piece in 1..text.len() {
            assert_eq!(parse_in_pieces(text, piece), want, "piece size {piece}");
        }
    }

    #[test]
    fn an_event_name_without_data_is_not_an_event() {
        assert_eq!(parse_in_pieces("event: ping\n\n", 4), vec![]);
    }

    /// Whether `text` is refused under `limit`, fed whole and fed in every piece size.
    fn refused_however_cut(text: &[u8], limit: u64) -> bool {
        let whole = feed(text, text.len().max(1), limit).is_err();
        for piece in 1..text.len() {
            assert_eq!(
                feed(text, piece, limit).is_err(),
                whole,
                "piece size {piece} decided otherwise than the whole body"
            );
        }
        whole
    }

    #[test]
    fn a_line_over_the_limit_is_refused_even_when_it_arrives_whole() {
        // Found by fuzzing: a line that came complete in one chunk was never measured.
        assert!(refused_however_cut(b"\x03A\x02\n", 2));
        assert!(refused_however_cut(b"event: a-very-long-name\n", 8));
        assert!(refused_however_cut(b": a long comment\ndata: x\n\n", 8));
        assert!(!refused_however_cut(b": comment\ndata: x\n\n", 9));
    }

    #[test]
    fn a_carriage_return_counts_the_same_wherever_the_chunk_ends() {
        // A `\r` kept at the end of a chunk was counted, and not when its `\n` came with it.
        // A line is its bytes before the `\n`, the `\r` included.
        assert!(!refused_however_cut(b"data: 12\n\n", 8));
        assert!(refused_however_cut(b"data: 12\r\n\r\n", 8));
        assert!(!refused_however_cut(b"data: 1\r\n\r\n", 8));
    }

    #[test]
    fn an_event_over_the_limit_is_refused_at_the_end_of_the_body_too() {
        // Three lines of 10 bytes each make `1234\n1234\n1234`: 14 bytes, over 10. The body's
        // last line, without its newline, was added to the event unmeasured.
        assert!(refused_however_cut(
            b"data: 1234\ndata: 1234\ndata: 1234",
            10
        ));
        assert!(refused_however_cut(
            b"data: 1234\ndata: 1234\ndata: 1234\n\n",
            10
        ));
        assert_eq!(
            feed(b"data: 1234\ndata: 1", 3, 10).expect("6 bytes are within 10"),
            vec![SseEvent {
                event: None,
                data: "1234\n1".into()
            }]
        );
    }
}
