//! Incremental `text/event-stream` parser (WHATWG framing).
//!
//! Bytes are pushed as they arrive; chunk boundaries may fall anywhere, including inside a
//! CRLF pair or a multi-byte UTF-8 character. Lines are only decoded once complete, so a split
//! character never turns into U+FFFD. Invalid UTF-8 is replaced, never a panic.

/// One dispatched SSE event: the joined `data:` lines and the optional `event:` name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseFrame {
    /// `event:` field, if any (OpenCode never sends one).
    pub event: Option<String>,
    /// `data:` lines joined with `\n`.
    pub data: String,
    /// `id:` field, if any (OpenCode never sends one).
    pub id: Option<String>,
}

/// Streaming SSE parser. Feed bytes with [`SseParser::push`], collect frames.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the current, not yet terminated line.
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a leading `\n` of the next chunk belongs to it.
    pending_cr: bool,
    /// Data lines of the frame being assembled.
    data: String,
    has_data: bool,
    event: Option<String>,
    id: Option<String>,
    /// Whether any byte at all was seen (to strip a leading BOM once).
    started: bool,
}

/// Frames bigger than this are dropped (a broken peer must not exhaust memory).
const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

impl SseParser {
    /// A parser at the start of a stream.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk and appends every completed frame to `out`.
    pub fn push(&mut self, mut chunk: &[u8], out: &mut Vec<SseFrame>) {
        if !self.started && !chunk.is_empty() {
            self.started = true;
            if let Some(rest) = chunk.strip_prefix(b"\xEF\xBB\xBF") {
                chunk = rest;
            }
        }
        if self.pending_cr {
            self.pending_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while let Some(pos) = chunk.iter().position(|b| *b == b'\n' || *b == b'\r') {
            self.line.extend_from_slice(&chunk[..pos]);
            let was_cr = chunk[pos] == b'\r';
            chunk = &chunk[pos + 1..];
            if was_cr {
                if chunk.is_empty() {
                    self.pending_cr = true;
                } else if let Some(rest) = chunk.strip_prefix(b"\n") {
                    chunk = rest;
                }
            }
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, out);
        }
        if self.line.len() + chunk.len() > MAX_FRAME_BYTES {
            tracing::warn!(
                len = self.line.len() + chunk.len(),
                "sse line too long, dropped"
            );
            self.line.clear();
            self.reset_frame();
            return;
        }
        self.line.extend_from_slice(chunk);
    }

    /// Ends the stream: a frame without its terminating blank line is discarded, as the
    /// spec requires (a half-received event must not be dispatched).
    pub fn finish(&mut self) {
        self.line.clear();
        self.pending_cr = false;
        self.reset_frame();
    }

    fn reset_frame(&mut self) {
        self.data.clear();
        self.has_data = false;
        self.event = None;
        self.id = None;
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseFrame>) {
        if line.is_empty() {
            if self.has_data {
                out.push(SseFrame {
                    event: self.event.take(),
                    data: std::mem::take(&mut self.data),
                    id: self.id.take(),
                });
            }
            self.reset_frame();
            return;
        }
        if line[0] == b':' {
            return; // comment / keep-alive
        }
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                if self.data.len() + value.len() > MAX_FRAME_BYTES {
                    tracing::warn!("sse frame too large, dropped");
                    self.reset_frame();
                    return;
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            b"event" => self.event = Some(value.into_owned()),
            b"id" => self.id = Some(value.into_owned()),
            _ => {} // `retry:` and unknown fields are ignored
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseFrame> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.push(c, &mut out);
        }
        out
    }

    #[test]
    fn basic_lf_frames() {
        let out = parse_all(&[b"data: {\"a\":1}\n\ndata: x\n\n"]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].data, "{\"a\":1}");
        assert_eq!(out[1].data, "x");
    }

    #[test]
    fn crlf_split_across_chunks() {
        let out = parse_all(&[b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"]);
        let data: Vec<_> = out.iter().map(|f| f.data.as_str()).collect();
        assert_eq!(data, ["a", "b"]);
    }

    #[test]
    fn lone_cr_terminates_lines() {
        let out = parse_all(&[b"data: a\r\rdata: b\r\r"]);
        let data: Vec<_> = out.iter().map(|f| f.data.as_str()).collect();
        assert_eq!(data, ["a", "b"]);
    }

    #[test]
    fn multi_line_data_comments_and_fields() {
        let out =
            parse_all(&[b": heartbeat\n\nevent: x\nid: 7\ndata: l1\ndata:l2\nretry: 5\nfoo\n\n"]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data, "l1\nl2");
        assert_eq!(out[0].event.as_deref(), Some("x"));
        assert_eq!(out[0].id.as_deref(), Some("7"));
    }

    #[test]
    fn utf8_split_inside_character() {
        let bytes = "data: 你好\n\n".as_bytes();
        let out = parse_all(&[&bytes[..8], &bytes[8..]]);
        assert_eq!(out[0].data, "你好");
    }

    #[test]
    fn bom_and_unterminated_tail() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.push(b"\xEF\xBB\xBFdata: a\n\ndata: partial", &mut out);
        p.finish();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data, "a");
    }

    #[test]
    fn empty_data_line_dispatches_empty_frame_but_blank_only_does_not() {
        let out = parse_all(&[b"\n\n\ndata\n\n"]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data, "");
    }
}
