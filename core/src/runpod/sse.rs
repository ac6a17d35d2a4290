//! A Server-Sent Events parser (the WHATWG `text/event-stream` format), fed chunk by chunk.
//!
//! It follows the standard where it matters (CR, LF and CRLF line ends, split anywhere between
//! chunks; `:` comments; multi-line `data`; `id` kept across events; a leading BOM) and is
//! lenient where a server may be sloppy: an event cut off by the end of the stream is still
//! delivered, and invalid UTF-8 is replaced rather than failing the stream.

/// The longest line kept; a longer one means a broken or hostile server.
pub(crate) const MAX_LINE_BYTES: usize = 1 << 20;

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `event:` type; `message` when none was given.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The last `id:` seen on the stream so far (ids persist across events).
    pub id: Option<String>,
}

/// A line longer than [`MAX_LINE_BYTES`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LineTooLong;

#[derive(Debug, Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    /// The previous chunk ended in CR: a LF starting this chunk belongs to it.
    after_cr: bool,
    started: bool,
    event: String,
    data: String,
    has_data: bool,
    last_id: Option<String>,
}

impl SseParser {
    /// Feed a chunk; complete events are appended to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), LineTooLong> {
        let mut chunk = chunk;
        if !self.started && !chunk.is_empty() {
            self.started = true;
            chunk = chunk.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(chunk);
        }
        for &b in chunk {
            let after_cr = std::mem::take(&mut self.after_cr);
            match b {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    self.line_done(&line, out);
                }
                _ => {
                    if self.line.len() >= MAX_LINE_BYTES {
                        return Err(LineTooLong);
                    }
                    self.line.push(b);
                }
            }
        }
        Ok(())
    }

    /// The stream ended: deliver what is pending, even without its closing blank line.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, out);
        }
        self.dispatch(out);
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return; // a comment (servers send them as keep-alives)
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            // The standard ignores an id holding NUL; an empty id resets it.
            "id" if !value.contains('\0') => {
                self.last_id = (!value.is_empty()).then(|| value.to_owned());
            }
            _ => {} // `retry` and unknown fields: nothing to do for a one-shot reader
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = std::mem::take(&mut self.event);
        if !std::mem::take(&mut self.has_data) {
            return;
        }
        out.push(SseEvent {
            event: if event.is_empty() {
                "message".to_owned()
            } else {
                event
            },
            data: std::mem::take(&mut self.data),
            id: self.last_id.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(input: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut p = SseParser::default();
        let mut out = Vec::new();
        for c in input.chunks(piece.max(1)) {
            p.push(c, &mut out)
                .unwrap_or_else(|_| panic!("line too long"));
        }
        p.finish(&mut out);
        out
    }

    #[test]
    fn events_are_the_same_however_the_stream_is_split() {
        let input = b"\xEF\xBB\xBF: hello\r\nid: 1\r\nevent: log\r\ndata: {\"line\":\"a\"}\r\n\r\n\
            data: first\ndata:second\ndata\n\nid: 7\rdata: cr only\r\r: keep-alive\n\nretry: 5\n\n";
        let expected = vec![
            SseEvent {
                event: "log".into(),
                data: "{\"line\":\"a\"}".into(),
                id: Some("1".into()),
            },
            SseEvent {
                event: "message".into(),
                data: "first\nsecond\n".into(),
                id: Some("1".into()),
            },
            SseEvent {
                event: "message".into(),
                data: "cr only".into(),
                id: Some("7".into()),
            },
        ];
        for piece in 1..input.len() {
            assert_eq!(parse_in_pieces(input, piece), expected, "piece {piece}");
        }
    }

    #[test]
    fn an_event_cut_off_at_the_end_is_still_delivered() {
        let out = parse_in_pieces(b"data: a\n\ndata: tail", 4);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].data, "tail");
        assert!(parse_in_pieces(b"event: x\n\n: only a comment", 3).is_empty());
    }

    #[test]
    fn ids_with_nul_are_ignored_and_empty_ids_reset() {
        let out = parse_in_pieces(b"id: a\ndata: 1\n\nid: b\0\ndata: 2\n\nid\ndata: 3\n\n", 5);
        let ids: Vec<Option<&str>> = out.iter().map(|e| e.id.as_deref()).collect();
        assert_eq!(ids, vec![Some("a"), Some("a"), None]);
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut p = SseParser::default();
        let mut out = Vec::new();
        let big = vec![b'x'; MAX_LINE_BYTES];
        assert_eq!(p.push(&big, &mut out), Ok(()));
        assert_eq!(p.push(b"x", &mut out), Err(LineTooLong));
    }
}
