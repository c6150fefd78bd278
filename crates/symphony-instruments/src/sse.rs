//! A server-sent events parser, fed the response body chunk by chunk.
//!
//! Chunks arrive cut anywhere (inside a line, inside a UTF-8 character), so bytes are kept
//! until a whole line is in. Lines end with `\n` or `\r\n`; a blank line ends an event;
//! `data:` lines of one event are joined with `\n`; comment lines (`: keep-alive`, which
//! OpenRouter sends while a model thinks) and unknown fields are ignored, as the spec says.

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

    /// Feeds a chunk; returns the events it completed, or [`TooLong`] when a line (or one
    /// event's data) passes the limit: a server that never ends a line cannot grow memory.
    pub fn push_limited(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, TooLong> {
        let events = self.push(bytes);
        let too_long = self.pending.len() > self.max_line
            || self.data.len() > self.max_line
            || events.iter().any(|e| e.data.len() > self.max_line);
        if too_long {
            return Err(TooLong {
                max: self.max_line as u64,
            });
        }
        Ok(events)
    }

    /// Feeds a chunk; returns the events it completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(pos) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            let mut line = &self.pending[start..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let line = String::from_utf8_lossy(line).into_owned();
            self.line(&line, &mut out);
            start = end + 1;
        }
        self.pending.drain(..start);
        out
    }

    /// The body ended: a last line without its newline, and an event without its blank line,
    /// still count (some servers close right after the last `data:` line).
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            let line = String::from_utf8_lossy(&rest);
            let line = line.trim_end_matches('\r').to_owned();
            self.line(&line, &mut out);
        }
        self.dispatch(&mut out);
        out
    }

    fn line(&mut self, line: &str, out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_owned()),
            _ => {}
        }
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

    fn parse_in_pieces(text: &str, piece: usize) -> Vec<SseEvent> {
        let mut p = SseParser::default();
        let mut out = Vec::new();
        for chunk in text.as_bytes().chunks(piece) {
            out.extend(p.push(chunk));
        }
        out.extend(p.finish());
        out
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
}
