//! RFC 6455 frames read off the socket with the size limit applied at the frame header, before
//! any of the payload is read or buffered (issue #11 §1: an unauthenticated peer declaring a
//! 20 MB frame costs nothing but the header).
//!
//! The limit is read when a header has arrived, not when the read starts: a socket waiting for
//! its next frame while `connect` is decided must accept a large frame the client sends after
//! `hello-ok`. An idle socket holds no read buffer: the wait for its next bytes reads into the
//! stack, and read-ahead is kept on the heap only until consumed. A payload is read into its own
//! allocation, growing as bytes arrive rather than by the declared length.

use tokio::io::{AsyncRead, AsyncReadExt};

pub(crate) use fastwebsockets::OpCode;

/// RFC 6455 §7.4.1: protocol error.
pub(crate) const PROTOCOL_ERROR: u16 = 1002;
/// RFC 6455 §5.5: control frames carry at most 125 bytes.
pub(crate) const MAX_CONTROL_PAYLOAD: usize = 125;
/// Stack bytes for the first read after an idle wait: a header and a typical small request.
const FIRST_READ: usize = 256;
/// Bytes asked of the socket per further read while completing a header.
const READ_AHEAD: usize = 1024;
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
    /// End of stream or a socket error: nothing more to read.
    Gone(std::io::Error),
    /// The peer broke the framing rules: fail the connection with 1002.
    Violation,
    /// The header declared more than the limit allows; nothing of the payload was read.
    TooBig(u64),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Gone(e)
    }
}

/// Reads frames from `R` (the server side: every client frame must be masked).
pub(crate) struct FrameReader<R> {
    raw: R,
    /// Read-ahead; `buf[pos..]` is unconsumed.
    buf: Vec<u8>,
    pos: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub(crate) fn new(raw: R) -> Self {
        Self { raw, buf: Vec::new(), pos: 0 }
    }

    /// The stream, for discarding input after a fatal frame.
    pub(crate) fn get_mut(&mut self) -> &mut R {
        &mut self.raw
    }

    /// The next frame header. `limit(opcode)` is asked once the header is in hand: the largest
    /// payload a data frame may declare now (control frames are capped at 125 by the RFC).
    pub(crate) async fn header(&mut self, limit: impl FnOnce() -> usize) -> Result<Header, ReadError> {
        self.fill(2).await?;
        let (b0, b1) = (self.buf[self.pos], self.buf[self.pos + 1]);
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
        self.fill(2 + extra + 4).await?;
        let at = self.pos + 2;
        let declared: u64 = match extra {
            0 => u64::from(b1 & 0x7f),
            2 => u64::from(u16::from_be_bytes([self.buf[at], self.buf[at + 1]])),
            _ => {
                let mut be = [0u8; 8];
                be.copy_from_slice(&self.buf[at..at + 8]);
                u64::from_be_bytes(be)
            }
        };
        let mut mask = [0u8; 4];
        mask.copy_from_slice(&self.buf[at + extra..at + extra + 4]);
        self.consume(2 + extra + 4);
        if control {
            if declared > MAX_CONTROL_PAYLOAD as u64 {
                return Err(ReadError::Violation);
            }
        } else if declared > limit() as u64 {
            return Err(ReadError::TooBig(declared));
        }
        let len = usize::try_from(declared).map_err(|_| ReadError::TooBig(declared))?;
        Ok(Header { fin, opcode, len, mask })
    }

    /// The payload of `header`, unmasked.
    pub(crate) async fn payload(&mut self, header: &Header) -> Result<Vec<u8>, ReadError> {
        let len = header.len;
        let have = (self.buf.len() - self.pos).min(len);
        let mut out = Vec::with_capacity(len.min(PAYLOAD_STEP).max(have));
        out.extend_from_slice(&self.buf[self.pos..self.pos + have]);
        self.consume(have);
        while out.len() < len {
            let want = (len - out.len()).min(PAYLOAD_STEP);
            out.reserve(want);
            let n = (&mut self.raw).take(want as u64).read_buf(&mut out).await?;
            if n == 0 {
                return Err(ReadError::Gone(std::io::ErrorKind::UnexpectedEof.into()));
            }
        }
        for (i, b) in out.iter_mut().enumerate() {
            *b ^= header.mask[i & 3];
        }
        Ok(out)
    }

    /// Makes at least `n` unconsumed bytes available. With nothing buffered, the wait for the
    /// peer's next bytes uses a small stack buffer, so an idle socket holds no read buffer.
    async fn fill(&mut self, n: usize) -> Result<(), ReadError> {
        while self.buf.len() - self.pos < n {
            if self.pos == self.buf.len() {
                let mut first = [0u8; FIRST_READ];
                let got = self.raw.read(&mut first).await?;
                if got == 0 {
                    return Err(ReadError::Gone(std::io::ErrorKind::UnexpectedEof.into()));
                }
                self.buf.clear();
                self.pos = 0;
                self.buf.extend_from_slice(&first[..got]);
                continue;
            }
            if self.pos > 0 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            self.buf.reserve(READ_AHEAD);
            if self.raw.read_buf(&mut self.buf).await? == 0 {
                return Err(ReadError::Gone(std::io::ErrorKind::UnexpectedEof.into()));
            }
        }
        Ok(())
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

    #[tokio::test]
    async fn reads_masked_frames_back_to_back() {
        let mut wire = frame(0x81, b"hello", [1, 2, 3, 4]);
        let big = vec![b'x'; 70_000];
        wire.extend(frame(0x82, &big, [9, 8, 7, 6]));
        wire.extend(frame(0x89, b"", [0; 4]));
        let mut r = FrameReader::new(&wire[..]);
        let h = r.header(|| 100_000).await.unwrap();
        assert!(h.fin && h.opcode == OpCode::Text && h.len == 5);
        assert_eq!(r.payload(&h).await.unwrap(), b"hello");
        let h = r.header(|| 100_000).await.unwrap();
        assert_eq!(r.payload(&h).await.unwrap(), big);
        let h = r.header(|| 0).await.unwrap();
        assert!(h.opcode == OpCode::Ping && h.len == 0);
        assert!(matches!(r.header(|| 0).await, Err(ReadError::Gone(_))));
    }

    #[tokio::test]
    async fn refuses_at_the_header_before_any_payload() {
        // The header alone announces 2^40 bytes: refused without waiting for one of them.
        let mut wire = vec![0x81, 0x80 | 127];
        wire.extend_from_slice(&(1u64 << 40).to_be_bytes());
        wire.extend_from_slice(&[0; 4]);
        let mut r = FrameReader::new(&wire[..]);
        assert!(matches!(r.header(|| 65_536).await, Err(ReadError::TooBig(n)) if n == 1 << 40));
        // At the limit is fine, one over is not.
        let ok = frame(0x81, &[b'a'; 300], [0; 4]);
        assert!(FrameReader::new(&ok[..]).header(|| 300).await.is_ok());
        assert!(matches!(FrameReader::new(&ok[..]).header(|| 299).await, Err(ReadError::TooBig(300))));
    }

    #[tokio::test]
    async fn framing_violations() {
        let unmasked = [0x81u8, 0x00];
        let reserved = frame(0xc1, b"", [0; 4]);
        let bad_opcode = frame(0x83, b"", [0; 4]);
        let fragmented_ping = frame(0x09, b"", [0; 4]);
        let long_ping = frame(0x89, &[0; 126], [0; 4]);
        for wire in [&unmasked[..], &reserved, &bad_opcode, &fragmented_ping, &long_ping] {
            let mut r = FrameReader::new(wire);
            assert!(matches!(r.header(|| 1 << 20).await, Err(ReadError::Violation)), "{wire:?}");
        }
    }
}
