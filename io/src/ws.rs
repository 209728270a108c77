//! The socket side of one WebSocket: a reader task feeding whole messages into a bounded
//! channel, and a writer task draining a [`WriteQueue`] and reporting flushed bytes.
//!
//! Frames are read by [`frame::FrameReader`], which applies the size limit at the frame header
//! (64 KiB before `hello-ok`, `policy.maxPayload` after, via [`ReadLimit`]) before reading any
//! payload; fastwebsockets writes. Pings are answered here (transport work; the pong goes
//! through the write queue), and the peer's close frame is validated and echoed here (RFC 6455
//! §5.5.1). RFC 6455 violations (framing 1002, UTF-8 1007) fail the connection with that close
//! code. Every decision to *start* a close, the server's own pings and the pong deadline are
//! core outputs.

mod frame;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use fastwebsockets::{Frame, Payload, WebSocketError, WebSocketWrite};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, Notify};

use frame::{FrameReader, OpCode, ReadError, MAX_CONTROL_PAYLOAD, PROTOCOL_ERROR};

/// What the reader hands the session (boxed in the channel: a tokio channel allocates 32 slots
/// up front, which an idle socket should not pay for at full size).
#[derive(Debug)]
pub(crate) enum Inbound {
    /// One whole text (or binary) message.
    Message(Vec<u8>),
    Pong,
    /// The peer sent a close frame (already echoed).
    PeerClosed,
    /// A message larger than the read limit; the stream cannot be resynchronised.
    Oversize(usize),
    /// The peer broke RFC 6455 (bad framing: 1002; text or close reason not UTF-8: 1007). The
    /// connection is failed with this close code and no reason, as the reference's `ws` does.
    Violation(u16),
}

/// RFC 6455 §7.4.1: a text message (or close reason) that is not UTF-8.
const INVALID_PAYLOAD: u16 = 1007;

/// Wake-ups for the session task from its writer and from the hub task, behind one `Notify`
/// (permits are stored, so a wake-up between two selects is never lost).
#[derive(Debug, Default)]
pub(crate) struct Signals {
    pub notify: Notify,
    /// Total text bytes written to the socket so far.
    pub flushed: AtomicU64,
    pub writer_failed: AtomicBool,
    /// The hub found this session's mailbox full: close it as a slow consumer.
    pub hub_overflow: AtomicBool,
}

impl Signals {
    pub(crate) fn raise(&self, flag: &AtomicBool) {
        flag.store(true, Ordering::Release);
        self.notify.notify_one();
    }
}

/// One frame for the writer.
#[derive(Debug)]
pub(crate) enum WriteItem {
    Text(Vec<u8>),
    Ping,
    Close { code: u16, reason: String },
    /// Frames fastwebsockets obliges us to send (pong, close echo), already encoded as payload.
    Control { opcode: OpCode, payload: Vec<u8> },
}

#[derive(Debug, Default)]
struct QueueState {
    items: VecDeque<WriteItem>,
    /// Only the latest unanswered ping gets a pong (RFC 6455 §5.5.3), so a peer flooding pings
    /// cannot grow the queue.
    pong: Option<Vec<u8>>,
    closed: bool,
}

/// Session → writer queue. Not bounded by count: core's outbox admits text frames only while
/// fewer than `maxBufferedBytes` are unflushed, so its size is bounded in bytes by core; control
/// frames are a handful (one ping per interval, one close, one coalesced pong).
#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    // A std mutex: held for a push or pop only, never across an await.
    state: Mutex<QueueState>,
    notify: Notify,
}

impl WriteQueue {
    pub(crate) fn push(&self, item: WriteItem) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if s.closed {
            return;
        }
        if let WriteItem::Control { opcode: OpCode::Pong, payload } = item {
            s.pong = Some(payload);
        } else {
            s.items.push_back(item);
        }
        drop(s);
        self.notify.notify_one();
    }

    /// No more items; the writer ends once the queue is empty.
    pub(crate) fn close(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).closed = true;
        self.notify.notify_one();
    }

    async fn next(&self) -> Option<WriteItem> {
        loop {
            {
                let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(payload) = s.pong.take() {
                    return Some(WriteItem::Control { opcode: OpCode::Pong, payload });
                }
                if let Some(item) = s.items.pop_front() {
                    return Some(item);
                }
                if s.closed {
                    return None;
                }
            }
            self.notify.notified().await;
        }
    }
}

/// Writes queued frames until the queue closes or the socket fails.
pub(crate) async fn run_writer<W: AsyncWrite + Unpin>(
    mut ws: WebSocketWrite<W>,
    queue: Arc<WriteQueue>,
    signals: Arc<Signals>,
) {
    while let Some(item) = queue.next().await {
        let (frame, text_len) = match item {
            WriteItem::Text(bytes) => {
                let n = bytes.len();
                (Frame::text(Payload::Owned(bytes)), n)
            }
            WriteItem::Ping => (Frame::new(true, OpCode::Ping, None, Payload::Owned(Vec::new())), 0),
            WriteItem::Close { code, reason } => (Frame::close(code, reason.as_bytes()), 0),
            WriteItem::Control { opcode, payload } => {
                (Frame::new(true, opcode, None, Payload::Owned(payload)), 0)
            }
        };
        let result = match ws.write_frame(frame).await {
            Ok(()) => ws.flush().await,
            // After our close frame fastwebsockets refuses data frames; nothing to report.
            Err(WebSocketError::ConnectionClosed) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "websocket write failed");
            signals.raise(&signals.writer_failed);
            return;
        }
        if text_len > 0 {
            signals.flushed.fetch_add(text_len as u64, Ordering::AcqRel);
            signals.notify.notify_one();
        }
    }
}

/// The largest message the reader accepts now, shared by the session task (which raises it
/// when the session opens) and the reader (which reads it at every frame header).
#[derive(Debug)]
pub(crate) struct ReadLimit(AtomicUsize);

impl ReadLimit {
    pub(crate) fn new(bytes: usize) -> Self {
        Self(AtomicUsize::new(bytes))
    }

    /// Raises the limit (it never shrinks: a closing session ignores what it reads anyway).
    /// Called before the output that tells the peer it may send more (`hello-ok`) is queued.
    pub(crate) fn raise_to(&self, bytes: usize) {
        self.0.fetch_max(bytes, Ordering::AcqRel);
    }

    fn get(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// Reads whole messages (fragments reassembled, at most `limit` bytes, checked at every frame
/// header before its payload is read) into `tx` until the peer closes, the socket fails or the
/// session goes away. Ends by dropping `tx`.
pub(crate) async fn run_reader<R: AsyncRead + Unpin>(
    raw: R,
    tx: mpsc::Sender<Box<Inbound>>,
    queue: Arc<WriteQueue>,
    limit: Arc<ReadLimit>,
) {
    let mut frames = FrameReader::new(raw);
    if let Some(fatal) = read_messages(&mut frames, &tx, &queue, &limit).await {
        let _ = tx.send(Box::new(fatal)).await;
        // The stream cannot be parsed any more, but closing it now would reset the connection
        // (unread input → RST) and lose our close frame (1009, 1002, 1007). Discard input until
        // the peer hangs up; the session terminates us after its close grace otherwise.
        let _ = tokio::io::copy(frames.get_mut(), &mut tokio::io::sink()).await;
    }
}

/// The framing loop; returns why the connection must be failed (an oversize message or an RFC
/// 6455 violation), or `None` when the stream ended.
async fn read_messages<R: AsyncRead + Unpin>(
    frames: &mut FrameReader<R>,
    tx: &mpsc::Sender<Box<Inbound>>,
    queue: &WriteQueue,
    limit: &ReadLimit,
) -> Option<Inbound> {
    // A fragmented message so far, and whether it is text (checked for UTF-8 when whole).
    let mut partial: Option<(bool, Vec<u8>)> = None;
    loop {
        let so_far = partial.as_ref().map_or(0, |(_, buf)| buf.len());
        let header = match frames.header(|| limit.get().saturating_sub(so_far)).await {
            Ok(header) => header,
            Err(ReadError::TooBig(len)) => {
                let total = usize::try_from(len).unwrap_or(usize::MAX).saturating_add(so_far);
                return Some(Inbound::Oversize(total));
            }
            // Reserved bits or opcodes, unmasked, fragmented or oversize control frames.
            Err(ReadError::Violation) => return Some(Inbound::Violation(PROTOCOL_ERROR)),
            Err(ReadError::Gone(e)) => {
                tracing::debug!(error = %e, "websocket read ended");
                return None;
            }
        };
        let payload = match frames.payload(&header).await {
            Ok(payload) => payload,
            Err(e) => {
                tracing::debug!(error = ?e, "websocket read ended");
                return None;
            }
        };
        let inbound = match header.opcode {
            OpCode::Text | OpCode::Binary if partial.is_none() && header.fin => {
                if header.opcode == OpCode::Text && std::str::from_utf8(&payload).is_err() {
                    return Some(Inbound::Violation(INVALID_PAYLOAD));
                }
                Some(Inbound::Message(payload))
            }
            OpCode::Text | OpCode::Binary if partial.is_none() => {
                partial = Some((header.opcode == OpCode::Text, payload));
                None
            }
            OpCode::Continuation if partial.is_some() => {
                let (is_text, buf) = partial.get_or_insert_with(|| (false, Vec::new()));
                buf.extend_from_slice(&payload);
                if !header.fin {
                    None
                } else if *is_text && std::str::from_utf8(buf).is_err() {
                    return Some(Inbound::Violation(INVALID_PAYLOAD));
                } else {
                    partial.take().map(|(_, whole)| Inbound::Message(whole))
                }
            }
            // A new data frame inside a fragmented message, or a stray continuation.
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                return Some(Inbound::Violation(PROTOCOL_ERROR));
            }
            OpCode::Pong => Some(Inbound::Pong),
            OpCode::Close => match close_violation(&payload) {
                Some(code) => return Some(Inbound::Violation(code)),
                None => {
                    // Echo the peer's close (its code and reason) to complete the handshake.
                    queue.push(WriteItem::Control { opcode: OpCode::Close, payload });
                    let _ = tx.send(Box::new(Inbound::PeerClosed)).await;
                    return None;
                }
            },
            // Answered at once (the queue keeps only the latest unanswered ping's pong).
            OpCode::Ping => {
                queue.push(WriteItem::Control { opcode: OpCode::Pong, payload });
                None
            }
        };
        if let Some(msg) = inbound {
            if tx.send(Box::new(msg)).await.is_err() {
                return None;
            }
        }
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
