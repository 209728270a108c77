//! The socket side of one WebSocket: a reader task feeding whole messages into a bounded
//! channel, and a writer task draining a [`WriteQueue`] and reporting flushed bytes.
//!
//! fastwebsockets choices (style.md principles 9-10): `auto_pong` on (answering the peer's
//! pings is transport work; the pong goes through the write queue), `auto_close` off: the
//! peer's close frame is validated and echoed here (RFC 6455 §5.5.1). RFC 6455 violations
//! (framing 1002, UTF-8 1007) fail the connection with that close code. Every decision to *start* a close, the server's own
//! pings and the pong deadline are core outputs.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use fastwebsockets::{Frame, OpCode, Payload, Role, WebSocketError, WebSocketWrite};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, Notify};

/// What the reader hands the session.
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

/// RFC 6455 §7.4.1: protocol error.
const PROTOCOL_ERROR: u16 = 1002;
/// RFC 6455 §7.4.1: a text message (or close reason) that is not UTF-8.
const INVALID_PAYLOAD: u16 = 1007;
/// RFC 6455 §5.5: control frames carry at most 125 bytes.
const MAX_CONTROL_PAYLOAD: usize = 125;

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

/// Reads whole messages (fragments reassembled, at most `max_message` bytes) into `tx` until the
/// peer closes, the socket fails or the session goes away. Ends by dropping `tx`.
pub(crate) async fn run_reader<R: AsyncRead + Unpin>(
    mut raw: R,
    tx: mpsc::Sender<Inbound>,
    queue: Arc<WriteQueue>,
    max_message: usize,
) {
    if let Some(fatal) = read_messages(&mut raw, &tx, &queue, max_message).await {
        let _ = tx.send(fatal).await;
        // The stream cannot be parsed any more, but closing it now would reset the connection
        // (unread input → RST) and lose our close frame (1009, 1002, 1007). Discard input until
        // the peer hangs up; the session terminates us after its close grace otherwise.
        let _ = tokio::io::copy(&mut raw, &mut tokio::io::sink()).await;
    }
}

/// The framing loop; returns why the connection must be failed (an oversize message or an RFC
/// 6455 violation), or `None` when the stream ended.
async fn read_messages<R: AsyncRead + Unpin>(
    raw: &mut R,
    tx: &mpsc::Sender<Inbound>,
    queue: &WriteQueue,
    max_message: usize,
) -> Option<Inbound> {
    // The read state machine borrows the stream so that we keep it after an oversize frame;
    // the write half is built separately by the writer (the halves share no state).
    let (mut ws, _) = fastwebsockets::after_handshake_split(raw, tokio::io::sink(), Role::Server);
    // `>=` in fastwebsockets: a frame of exactly `max_message` bytes is still read.
    ws.set_max_message_size(max_message.saturating_add(1));
    ws.set_auto_pong(true);
    // Close frames are checked and echoed here: fastwebsockets lets a 126-byte close through
    // and echoes it, and does not fail a 1-byte or non-UTF-8 one with a close frame.
    ws.set_auto_close(false);
    let mut obligated = |frame: Frame<'_>| {
        queue.push(WriteItem::Control { opcode: frame.opcode, payload: frame.payload.to_vec() });
        std::future::ready(Ok::<(), std::io::Error>(()))
    };
    // A fragmented message so far, and whether it is text (checked for UTF-8 when whole).
    let mut partial: Option<(bool, Vec<u8>)> = None;
    loop {
        let read = ws.read_frame(&mut obligated).await.map(|mut frame| (was_masked(&mut frame), frame));
        let inbound = match read {
            // RFC 6455 §5.1: a server fails the connection on an unmasked client frame.
            Ok((false, _)) => return Some(Inbound::Violation(PROTOCOL_ERROR)),
            Ok((true, frame)) => match frame.opcode {
                OpCode::Text | OpCode::Binary if frame.fin && partial.is_none() => {
                    Some(Inbound::Message(frame.payload.to_vec()))
                }
                OpCode::Text | OpCode::Binary if partial.is_none() => {
                    partial = Some((frame.opcode == OpCode::Text, frame.payload.to_vec()));
                    None
                }
                OpCode::Continuation if partial.is_some() => {
                    let (is_text, buf) = partial.get_or_insert_with(|| (false, Vec::new()));
                    buf.extend_from_slice(&frame.payload);
                    if buf.len() > max_message {
                        return Some(Inbound::Oversize(buf.len()));
                    }
                    if !frame.fin {
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
                OpCode::Pong if frame.payload.len() > MAX_CONTROL_PAYLOAD => {
                    return Some(Inbound::Violation(PROTOCOL_ERROR));
                }
                OpCode::Pong => Some(Inbound::Pong),
                OpCode::Close => match close_violation(&frame.payload) {
                    Some(code) => return Some(Inbound::Violation(code)),
                    None => {
                        // Echo the peer's close (its code and reason) to complete the handshake.
                        queue.push(WriteItem::Control { opcode: OpCode::Close, payload: frame.payload.to_vec() });
                        let _ = tx.send(Inbound::PeerClosed).await;
                        return None;
                    }
                },
                OpCode::Ping => None, // answered by auto_pong
            },
            Err(WebSocketError::FrameTooLarge) => {
                return Some(Inbound::Oversize(max_message.saturating_add(1)));
            }
            // A text frame that is not UTF-8 (§8.1).
            Err(WebSocketError::InvalidUTF8) => return Some(Inbound::Violation(INVALID_PAYLOAD)),
            // Reserved bits or opcodes, fragmented or oversize control frames, a 1-byte close.
            Err(
                WebSocketError::ReservedBitsNotZero
                | WebSocketError::InvalidValue
                | WebSocketError::ControlFrameFragmented
                | WebSocketError::PingFrameTooLarge,
            ) => return Some(Inbound::Violation(PROTOCOL_ERROR)),
            Err(e) => {
                tracing::debug!(error = %e, "websocket read ended");
                return None;
            }
        };
        if let Some(msg) = inbound {
            if tx.send(msg).await.is_err() {
                return None;
            }
        }
    }
}

/// Whether the peer masked `frame`. fastwebsockets keeps the mask after unmasking but exposes it
/// only through the header it would write.
fn was_masked(frame: &mut Frame<'_>) -> bool {
    let mut head = [0u8; 14];
    frame.fmt_head(&mut head);
    head[1] & 0x80 != 0
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
