//! The socket side of one WebSocket, driven by its session task alone (one task per socket):
//! the task waits for the socket to be readable or writable and then reads or writes without
//! waiting, so an idle socket is one task, no read buffer and no channel (issue #11 §2).
//!
//! Frames are parsed by [`frame::FrameReader`], which applies the size limit at the frame header
//! (64 KiB before `hello-ok`, `policy.maxPayload` after) before reading any payload. Pings are
//! answered here (transport work; only the latest unanswered ping gets a pong), and the peer's
//! close frame is validated and echoed here (RFC 6455 §5.5.1). RFC 6455 violations (framing
//! 1002, UTF-8 1007) fail the connection with that close code. Every decision to *start* a
//! close, the server's own pings and the pong deadline are core outputs.

mod frame;

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::TcpStream;
use tokio::sync::Notify;

use frame::{FrameReader, OpCode, ReadError, MAX_CONTROL_PAYLOAD, PROTOCOL_ERROR};

/// What the socket hands the session.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// One whole text (or binary) message.
    Message(Vec<u8>),
    Pong,
    /// The peer sent a close frame (already echoed), or the stream ended.
    PeerClosed,
    /// A message larger than the read limit; the stream cannot be resynchronised.
    Oversize(usize),
    /// The peer broke RFC 6455 (bad framing: 1002; text or close reason not UTF-8: 1007). The
    /// connection is failed with this close code and no reason, as the reference's `ws` does.
    Violation(u16),
}

/// RFC 6455 §7.4.1: a text message (or close reason) that is not UTF-8.
const INVALID_PAYLOAD: u16 = 1007;

/// Wake-ups for the session task from the hub task (a stored permit: a wake-up between two
/// selects is never lost).
#[derive(Debug, Default)]
pub(crate) struct Signals {
    pub notify: Notify,
    /// The hub found this session's mailbox full: close it as a slow consumer.
    pub hub_overflow: AtomicBool,
}

impl Signals {
    pub(crate) fn raise(&self, flag: &AtomicBool) {
        flag.store(true, Ordering::Release);
        self.notify.notify_one();
    }
}

/// One frame to write.
#[derive(Debug)]
pub(crate) enum WriteItem {
    Text(Vec<u8>),
    Ping,
    Close { code: u16, reason: String },
}

/// Where reading stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadState {
    Open,
    /// After a fatal frame: the stream cannot be parsed any more, but closing it now would reset
    /// the connection (unread input → RST) and lose our close frame (1009, 1002, 1007). Input
    /// is discarded until the peer hangs up; the session terminates us after its close grace.
    Discard,
    /// The peer's close frame arrived or the stream ended.
    Done,
}

/// A frame being written: its header, then its payload.
#[derive(Debug)]
struct Encoded {
    head: [u8; 10],
    head_len: usize,
    payload: Vec<u8>,
    written: usize,
    /// Text bytes to report as flushed once written.
    text_len: usize,
}

impl Encoded {
    /// A server frame (unmasked, final).
    fn new(opcode: OpCode, payload: Vec<u8>, text_len: usize) -> Self {
        let mut head = [0u8; 10];
        head[0] = 0x80 | opcode as u8;
        let n = payload.len();
        let head_len = if n < 126 {
            head[1] = n as u8;
            2
        } else if let Ok(short) = u16::try_from(n) {
            head[1] = 126;
            head[2..4].copy_from_slice(&short.to_be_bytes());
            4
        } else {
            head[1] = 127;
            head[2..10].copy_from_slice(&(n as u64).to_be_bytes());
            10
        };
        Self { head, head_len, payload, written: 0, text_len }
    }

    fn remaining(&self) -> [IoSlice<'_>; 2] {
        let head = &self.head[self.written.min(self.head_len)..self.head_len];
        let body = &self.payload[self.written.saturating_sub(self.head_len)..];
        [IoSlice::new(head), IoSlice::new(body)]
    }

    fn done(&self) -> bool {
        self.written == self.head_len + self.payload.len()
    }
}

/// The server side of one upgraded WebSocket.
#[derive(Debug)]
pub(crate) struct Socket {
    tcp: TcpStream,
    frames: FrameReader,
    read: ReadState,
    /// A fragmented message so far, and whether it is text (checked for UTF-8 when whole).
    partial: Option<(bool, Vec<u8>)>,
    /// Frames waiting to be written, in order. Not bounded by count: core's outbox admits text
    /// frames only while fewer than `maxBufferedBytes` are unflushed, so it is bounded in bytes
    /// by core; control frames are a handful.
    queue: VecDeque<Encoded>,
    /// The latest unanswered ping's pong (RFC 6455 §5.5.3: a ping flood cannot grow the queue);
    /// written before queued frames.
    pong: Option<Vec<u8>>,
    writing: Option<Encoded>,
    /// A close frame is queued (ours or the echo): nothing more is queued after it.
    close_queued: bool,
}

impl Socket {
    /// `read_ahead`: bytes the HTTP layer read past the upgrade request.
    pub(crate) fn new(tcp: TcpStream, read_ahead: &[u8]) -> Self {
        Self {
            tcp,
            frames: FrameReader::new(read_ahead),
            read: ReadState::Open,
            partial: None,
            queue: VecDeque::new(),
            pong: None,
            writing: None,
            close_queued: false,
        }
    }

    /// Whether the session wants to hear from the socket (reading has not ended).
    pub(crate) fn reading(&self) -> bool {
        self.read != ReadState::Done
    }

    /// Whether frames are waiting to be written.
    pub(crate) fn has_output(&self) -> bool {
        self.writing.is_some() || self.pong.is_some() || !self.queue.is_empty()
    }

    /// Waits until the socket may have bytes to read (cancel-safe).
    pub(crate) async fn readable(&self) -> io::Result<()> {
        self.tcp.readable().await
    }

    /// Waits until the socket may take bytes (cancel-safe).
    pub(crate) async fn writable(&self) -> io::Result<()> {
        self.tcp.writable().await
    }

    pub(crate) fn push(&mut self, item: WriteItem) {
        if self.close_queued {
            return;
        }
        let frame = match item {
            WriteItem::Text(bytes) => {
                let n = bytes.len();
                Encoded::new(OpCode::Text, bytes, n)
            }
            WriteItem::Ping => Encoded::new(OpCode::Ping, Vec::new(), 0),
            WriteItem::Close { code, reason } => {
                self.close_queued = true;
                // A control frame carries at most 125 bytes: the reason is cut at a character.
                let mut cut = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
                while !reason.is_char_boundary(cut) {
                    cut -= 1;
                }
                let mut payload = code.to_be_bytes().to_vec();
                payload.extend_from_slice(&reason.as_bytes()[..cut]);
                Encoded::new(OpCode::Close, payload, 0)
            }
        };
        self.queue.push_back(frame);
    }

    /// Writes what it can without waiting. Returns the text bytes whose frames are now wholly
    /// written; an error means the socket is unusable.
    pub(crate) fn write_some(&mut self) -> io::Result<usize> {
        let mut flushed = 0;
        loop {
            if self.writing.is_none() {
                self.writing = match self.pong.take() {
                    Some(payload) => Some(Encoded::new(OpCode::Pong, payload, 0)),
                    None => self.queue.pop_front(),
                };
            }
            let Some(frame) = &mut self.writing else { return Ok(flushed) };
            match self.tcp.try_write_vectored(&frame.remaining()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    frame.written += n;
                    if frame.done() {
                        flushed += frame.text_len;
                        self.writing = None;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(flushed),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next thing for the session among the bytes already read (no waiting), with `limit`
    /// the largest message it accepts now.
    pub(crate) fn next_inbound(&mut self, limit: usize) -> Option<Inbound> {
        while self.read == ReadState::Open {
            let so_far = self.partial.as_ref().map_or(0, |(_, buf)| buf.len());
            let (header, payload) = match self.frames.next_frame(limit.saturating_sub(so_far)) {
                Ok(Some(frame)) => frame,
                Ok(None) => return None,
                Err(ReadError::TooBig(len)) => {
                    let total = usize::try_from(len).unwrap_or(usize::MAX).saturating_add(so_far);
                    return Some(self.fail(Inbound::Oversize(total)));
                }
                // Reserved bits or opcodes, unmasked, fragmented or oversize control frames.
                Err(ReadError::Violation) => return Some(self.fail(Inbound::Violation(PROTOCOL_ERROR))),
            };
            match header.opcode {
                OpCode::Text | OpCode::Binary if self.partial.is_none() && header.fin => {
                    if header.opcode == OpCode::Text && std::str::from_utf8(&payload).is_err() {
                        return Some(self.fail(Inbound::Violation(INVALID_PAYLOAD)));
                    }
                    return Some(Inbound::Message(payload));
                }
                OpCode::Text | OpCode::Binary if self.partial.is_none() => {
                    self.partial = Some((header.opcode == OpCode::Text, payload));
                }
                OpCode::Continuation if self.partial.is_some() => {
                    let (is_text, buf) = self.partial.get_or_insert_with(|| (false, Vec::new()));
                    buf.extend_from_slice(&payload);
                    if !header.fin {
                        continue;
                    }
                    if *is_text && std::str::from_utf8(buf).is_err() {
                        return Some(self.fail(Inbound::Violation(INVALID_PAYLOAD)));
                    }
                    return self.partial.take().map(|(_, whole)| Inbound::Message(whole));
                }
                // A new data frame inside a fragmented message, or a stray continuation.
                OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                    return Some(self.fail(Inbound::Violation(PROTOCOL_ERROR)));
                }
                OpCode::Pong => return Some(Inbound::Pong),
                OpCode::Close => {
                    if let Some(code) = close_violation(&payload) {
                        return Some(self.fail(Inbound::Violation(code)));
                    }
                    // Echo the peer's close (its code and reason) to complete the handshake.
                    if !self.close_queued {
                        self.close_queued = true;
                        self.queue.push_back(Encoded::new(OpCode::Close, payload, 0));
                    }
                    self.read = ReadState::Done;
                    return Some(Inbound::PeerClosed);
                }
                // Answered at once (only the latest unanswered ping's pong is kept).
                OpCode::Ping => {
                    if !self.close_queued {
                        self.pong = Some(payload);
                    }
                }
            }
        }
        None
    }

    /// Reads what the socket has without waiting. Returns `Some` when the stream ended (or
    /// failed): the session is told the peer is gone.
    pub(crate) fn read_some(&mut self) -> Option<Inbound> {
        let tcp = &self.tcp;
        let result = match self.read {
            ReadState::Done => return None,
            ReadState::Open => self.frames.read_from(|buf| tcp.try_read(buf)),
            ReadState::Discard => {
                let mut sink = [0u8; 4096];
                tcp.try_read(&mut sink)
            }
        };
        match result {
            Ok(0) => {}
            Ok(_) => return None,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => return None,
            Err(e) => tracing::debug!(error = %e, "websocket read ended"),
        }
        self.read = ReadState::Done;
        Some(Inbound::PeerClosed)
    }

    fn fail(&mut self, why: Inbound) -> Inbound {
        self.read = ReadState::Discard;
        self.partial = None;
        why
    }
}

/// Why a peer's close frame fails the connection (RFC 6455 §5.5, §5.5.1, §7.4): a 1-byte or
/// over-125-byte payload or a code that may not be sent (1002), a reason that is not UTF-8 (1007).
fn close_violation(payload: &[u8]) -> Option<u16> {
    match payload {
        [] => None,
        [_] => Some(PROTOCOL_ERROR),
        _ if payload.len() > MAX_CONTROL_PAYLOAD => Some(PROTOCOL_ERROR),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
                Some(PROTOCOL_ERROR)
            } else if std::str::from_utf8(reason).is_err() {
                Some(INVALID_PAYLOAD)
            } else {
                None
            }
        }
    }
}
