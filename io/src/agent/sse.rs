//! A Server-Sent Events decoder (the WHATWG event-stream format) fed with arbitrary byte chunks.

/// One dispatched event: `event:` (empty when absent) and the joined `data:` lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SseEvent {
    pub event: String,
    pub data: String,
}

/// Longest line kept; a provider that sends more without a newline is broken.
const MAX_LINE: usize = 4 * 1024 * 1024;

#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    buf: Vec<u8>,
    event: String,
    data: Vec<String>,
}

/// The stream is not SSE we can follow.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("event-stream line longer than {MAX_LINE} bytes")]
pub(crate) struct LineTooLong;

impl SseDecoder {
    /// Feeds a chunk; returns the events it completed.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, LineTooLong> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n' || *b == b'\r') {
            let line = String::from_utf8_lossy(&self.buf[..pos]).into_owned();
            let mut consumed = pos + 1;
            if self.buf[pos] == b'\r' && self.buf.get(pos + 1) == Some(&b'\n') {
                consumed += 1;
            }
            self.buf.drain(..consumed);
            self.line(&line, &mut out);
        }
        if self.buf.len() > MAX_LINE {
            return Err(LineTooLong);
        }
        Ok(out)
    }

    /// The stream ended: a final event without its blank line is still dispatched.
    pub(crate) fn finish(&mut self) -> Option<SseEvent> {
        let rest = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
        let mut out = Vec::new();
        if !rest.is_empty() {
            self.line(&rest, &mut out);
        }
        self.line("", &mut out);
        out.pop()
    }

    fn line(&mut self, line: &str, out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if !self.data.is_empty() {
                out.push(SseEvent { event: std::mem::take(&mut self.event), data: self.data.join("\n") });
                self.data.clear();
            }
            self.event.clear();
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
            "event" => self.event = value.to_owned(),
            "data" => self.data.push(value.to_owned()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks() {
        let mut d = SseDecoder::default();
        assert_eq!(d.feed(b"data: {\"a\"").unwrap(), vec![]);
        let got = d.feed(b":1}\r\n\r\n: comment\nevent: ping\ndata: x\ndata: y\n\n").unwrap();
        assert_eq!(got, vec![
            SseEvent { event: String::new(), data: "{\"a\":1}".into() },
            SseEvent { event: "ping".into(), data: "x\ny".into() },
        ]);
        d.feed(b"data: [DONE]").unwrap();
        assert_eq!(d.finish(), Some(SseEvent { event: String::new(), data: "[DONE]".into() }));
        assert_eq!(d.finish(), None);
    }
}
