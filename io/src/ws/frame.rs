//! RFC 6455 frames parsed from what the socket has delivered, with the size limit applied at the
//! frame header, before any of the payload is read or buffered (issue #11 §1: an unauthenticated
//! peer declaring a 20 MB frame costs nothing but the header).
//!
//! Sans-await: the session task waits for the socket to be readable, hands [`FrameReader::read_from`]
//! one non-blocking read, then takes whole frames with [`FrameReader::next_frame`], which is given
//! the limit of that moment (a socket that waited for its next frame while `connect` was decided
//! accepts a large frame the client sends after `hello-ok`). An idle socket holds no read buffer:
//! a read lands in a stack chunk and only what is not consumed at once is kept; a payload is read
//! straight into its own allocation, growing as bytes arrive rather than by the declared length.

use std::io;

pub(crate) use fastwebsockets::OpCode;

/// RFC 6455 §7.4.1: protocol error.
pub(crate) const PROTOCOL_ERROR: u16 = 1002;
/// RFC 6455 §5.5: control frames carry at most 125 bytes.
pub(crate) const MAX_CONTROL_PAYLOAD: usize = 125;
/// Stack bytes for one read outside a payload: headers and typical small requests.
const READ_CHUNK: usize = 4096;
/// Payload bytes added to a growing payload per read.
const PAYLOAD_STEP: usize = 64 * 1024;

/// One frame header, validated (RFC 6455 §5.2): reserved bits zero, a known opcode, masked,
/// control frames whole and at most 125 bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub fin: bool,
    pub opcode: OpCode,
    /// The declared payload length (already checked against the caller's limit).
    pub len: usize,
    mask: [u8; 4],
}

/// Why no frame came.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer broke the framing rules: fail the connection with 1002.
    Violation,
    /// The header declared more than the limit allows; nothing of the payload was read.
    TooBig(u64),
}

/// Frames of one client stream (the server side: every client frame must be masked).
#[derive(Debug, Default)]
pub(crate) struct FrameReader {
    /// Read but not yet parsed; `buf[pos..]` is unconsumed.
    buf: Vec<u8>,
    pos: usize,
    /// The frame whose payload is arriving.
    current: Option<(Header, Vec<u8>)>,
}

impl FrameReader {
    /// A reader starting with bytes already read off the stream (the HTTP layer's read-ahead).
    pub(crate) fn new(initial: &[u8]) -> Self {
        Self { buf: initial.to_vec(), pos: 0, current: None }
    }

    /// One read through `read` (non-blocking, e.g. `TcpStream::try_read`): `Ok(0)` is the end of
    /// the stream. Payload bytes go straight into the payload, at most up to its declared end.
    pub(crate) fn read_from(&mut self, mut read: impl FnMut(&mut [u8]) -> io::Result<usize>) -> io::Result<usize> {
        if let Some((header, payload)) = &mut self.current {
            let want = (header.len - payload.len()).min(PAYLOAD_STEP);
            if self.pos == self.buf.len() && want > 0 {
                let old = payload.len();
                payload.resize(old + want, 0);
                let result = read(&mut payload[old..]);
                payload.truncate(old + *result.as_ref().unwrap_or(&0));
                return result;
            }
        }
        let mut chunk = [0u8; READ_CHUNK];
        let n = read(&mut chunk)?;
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// The next whole frame (payload unmasked) among the bytes read so far, or `None` until more
    /// arrive. `limit` is the largest payload a data frame may declare now (control frames are
    /// capped at 125 by the RFC); it is applied as soon as the header is complete.
    pub(crate) fn next_frame(&mut self, limit: usize) -> Result<Option<(Header, Vec<u8>)>, ReadError> {
        loop {
            let Some((header, payload)) = &mut self.current else {
                let Some(header) = self.header(limit)? else { return Ok(None) };
                let have = (self.buf.len() - self.pos).min(header.len);
                let mut payload = Vec::with_capacity(header.len.min(PAYLOAD_STEP).max(have));
                payload.extend_from_slice(&self.buf[self.pos..self.pos + have]);
                self.consume(have);
                self.current = Some((header, payload));
                continue;
            };
            if payload.len() == header.len {
                let (header, mut payload) = self.current.take().unwrap_or_else(|| unreachable!());
                for (i, b) in payload.iter_mut().enumerate() {
                    *b ^= header.mask[i & 3];
                }
                return Ok(Some((header, payload)));
            }
            let have = (self.buf.len() - self.pos).min(header.len - payload.len());
            if have == 0 {
                return Ok(None);
            }
            payload.extend_from_slice(&self.buf[self.pos..self.pos + have]);
            self.consume(have);
        }
    }

    /// Parses a header from the unconsumed bytes if they hold a whole one.
    fn header(&mut self, limit: usize) -> Result<Option<Header>, ReadError> {
        let avail = &self.buf[self.pos..];
        let [b0, b1, ..] = *avail else { return Ok(None) };
        let fin = b0 & 0x80 != 0;
        if b0 & 0x70 != 0 {
            return Err(ReadError::Violation);
        }
        let opcode = OpCode::try_from(b0 & 0x0f).map_err(|_| ReadError::Violation)?;
        let masked = b1 & 0x80 != 0;
        let control = matches!(opcode, OpCode::Close | OpCode::Ping | OpCode::Pong);
        // RFC 6455 §5.1: a server fails the connection on an unmasked client frame.
        if !masked || (control && !fin) {
            return Err(ReadError::Violation);
        }
        let extra = match b1 & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        if avail.len() < 2 + extra + 4 {
            return Ok(None);
        }
        let declared: u64 = match extra {
            0 => u64::from(b1 & 0x7f),
            2 => u64::from(u16::from_be_bytes([avail[2], avail[3]])),
            _ => {
                let mut be = [0u8; 8];
                be.copy_from_slice(&avail[2..10]);
                u64::from_be_bytes(be)
            }
        };
        let mut mask = [0u8; 4];
        mask.copy_from_slice(&avail[2 + extra..2 + extra + 4]);
        self.consume(2 + extra + 4);
        if control {
            if declared > MAX_CONTROL_PAYLOAD as u64 {
                return Err(ReadError::Violation);
            }
        } else if declared > limit as u64 {
            return Err(ReadError::TooBig(declared));
        }
        let len = usize::try_from(declared).map_err(|_| ReadError::TooBig(declared))?;
        Ok(Some(Header { fin, opcode, len, mask }))
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        if self.pos == self.buf.len() {
            // Drained: free it, so that a socket waiting for its next frame holds nothing.
            self.pos = 0;
            self.buf = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(b0: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = vec![b0];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        out
    }

    /// Feeds `wire` through `read_from` in reads of at most `step` bytes, taking every frame as
    /// soon as it is whole (with `limit`); stops at the end of `wire` or the first error.
    fn parse(wire: &[u8], step: usize, limit: usize) -> (Vec<(Header, Vec<u8>)>, Option<ReadError>) {
        let mut r = FrameReader::default();
        let mut rest = wire;
        let mut out = Vec::new();
        loop {
            loop {
                match r.next_frame(limit) {
                    Ok(Some(frame)) => out.push(frame),
                    Ok(None) => break,
                    Err(e) => return (out, Some(e)),
                }
            }
            let n = r
                .read_from(|buf| {
                    let n = buf.len().min(step).min(rest.len());
                    buf[..n].copy_from_slice(&rest[..n]);
                    rest = &rest[n..];
                    Ok(n)
                })
                .expect("read");
            if n == 0 {
                return (out, None);
            }
        }
    }

    #[test]
    fn reads_masked_frames_back_to_back_in_any_slicing() {
        let mut wire = frame(0x81, b"hello", [1, 2, 3, 4]);
        let big = vec![b'x'; 70_000];
        wire.extend(frame(0x82, &big, [9, 8, 7, 6]));
        wire.extend(frame(0x89, b"", [0; 4]));
        for step in [1, 3, 7, 100, 5000, 1 << 20] {
            let (frames, err) = parse(&wire, step, 100_000);
            assert!(err.is_none(), "step {step}: {err:?}");
            assert_eq!(frames.len(), 3, "step {step}");
            assert!(frames[0].0.fin && frames[0].0.opcode == OpCode::Text && frames[0].1 == b"hello");
            assert!(frames[1].0.opcode == OpCode::Binary && frames[1].1 == big, "step {step}");
            assert!(frames[2].0.opcode == OpCode::Ping && frames[2].1.is_empty());
        }
    }

    #[test]
    fn an_idle_reader_holds_no_buffer() {
        let wire = frame(0x81, b"hello", [1, 2, 3, 4]);
        let (frames, _) = parse(&wire, 1, 100);
        assert_eq!(frames.len(), 1);
        let mut r = FrameReader::new(&wire);
        assert!(r.next_frame(100).expect("frame").is_some());
        assert!(r.buf.capacity() == 0 && r.current.is_none());
    }

    #[test]
    fn refuses_at_the_header_before_any_payload() {
        // The header alone announces 2^40 bytes: refused without waiting for one of them.
        let mut wire = vec![0x81, 0x80 | 127];
        wire.extend_from_slice(&(1u64 << 40).to_be_bytes());
        wire.extend_from_slice(&[0; 4]);
        let mut r = FrameReader::new(&wire);
        assert!(matches!(r.next_frame(65_536), Err(ReadError::TooBig(n)) if n == 1 << 40));
        // At the limit is fine, one over is not.
        let ok = frame(0x81, &[b'a'; 300], [0; 4]);
        assert!(matches!(FrameReader::new(&ok).next_frame(300), Ok(Some(_))));
        assert!(matches!(FrameReader::new(&ok).next_frame(299), Err(ReadError::TooBig(300))));
        // The limit is the one given when the header is complete, not when reading began.
        let mut r = FrameReader::new(&ok[..3]);
        assert!(matches!(r.next_frame(10), Ok(None)));
        let mut rest = &ok[3..];
        r.read_from(|buf| {
            let n = buf.len().min(rest.len());
            buf[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            Ok(n)
        })
        .expect("read");
        assert!(matches!(r.next_frame(300), Ok(Some((_, p))) if p == [b'a'; 300]));
    }

    #[test]
    fn framing_violations() {
        let unmasked = [0x81u8, 0x00];
        let reserved = frame(0xc1, b"", [0; 4]);
        let bad_opcode = frame(0x83, b"", [0; 4]);
        let fragmented_ping = frame(0x09, b"", [0; 4]);
        let long_ping = frame(0x89, &[0; 126], [0; 4]);
        for wire in [&unmasked[..], &reserved, &bad_opcode, &fragmented_ping, &long_ping] {
            let mut r = FrameReader::new(wire);
            assert!(matches!(r.next_frame(1 << 20), Err(ReadError::Violation)), "{wire:?}");
        }
    }
}
