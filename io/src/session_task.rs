//! One task per WebSocket driving its [`Session`]: drain outputs to `Wait`, then select one
//! input among the reader's messages, the hub mailbox, writer/hub signals and the deadline
//! (style.md principle 9). Every branch is cancel-safe: channel `recv`, `Notify`, `sleep`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use fastwebsockets::upgrade::UpgradeFut;
use fastwebsockets::Role;
use openclaw_core::{
    CloseCode, ConnId, HubToSession, Limits, Nonce, Output, PeerInfo, Session, SessionEvent,
    SessionTimer,
};
use tokio::sync::mpsc;

use crate::admission::PreauthSlot;
use crate::clock;
use crate::hub_task::{HubInput, MAILBOX_CAPACITY};
use crate::identity::random_uuid;
use crate::server::TaskToken;
use crate::ws::{run_reader, run_writer, Inbound, ReadLimit, Signals, WriteItem, WriteQueue};

/// Whole messages read ahead of the session; the reader waits beyond this (TCP backpressure).
const INBOUND_CAPACITY: usize = 8;
/// Outputs carried out before the task yields to the runtime.
const BUDGET: usize = 256;
/// Longest frame prefix written to the verbose log.
const LOG_PREFIX: usize = 240;

/// Everything a session task starts with.
pub(crate) struct SessionStart {
    pub conn: ConnId,
    pub peer: PeerInfo,
    pub limits: Limits,
    pub hub: mpsc::Sender<HubInput>,
    pub slot: Option<PreauthSlot>,
    pub verbose: bool,
    pub token: TaskToken,
}

/// Completes the upgrade and drives the session until the socket is gone.
pub(crate) async fn run(start: SessionStart, upgrade: UpgradeFut) {
    let ws = match upgrade.await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!(conn = %start.conn, error = %e, "websocket upgrade failed");
            return;
        }
    };
    // Split the raw stream, not the WebSocket, so the reader keeps the stream after an
    // unparseable (oversize) frame.
    let (rd, wr) = tokio::io::split(ws.into_inner());
    let (_, wr) = fastwebsockets::after_handshake_split(tokio::io::empty(), wr, Role::Server);
    let queue = Arc::new(WriteQueue::default());
    let signals = Arc::new(Signals::default());
    let (in_tx, in_rx) = mpsc::channel(INBOUND_CAPACITY);
    let read_limit = Arc::new(ReadLimit::new(start.limits.preauth_max_payload));
    let reader = tokio::spawn(run_reader(rd, in_tx, Arc::clone(&queue), Arc::clone(&read_limit)));
    let mut writer = tokio::spawn(run_writer(wr, Arc::clone(&queue), Arc::clone(&signals)));
    let (mb_tx, mb_rx) = mpsc::channel(MAILBOX_CAPACITY);
    let attach = HubInput::Attach { conn: start.conn, mailbox: mb_tx, signals: Arc::clone(&signals) };
    if start.hub.send(attach).await.is_err() {
        reader.abort();
        writer.abort();
        return;
    }
    let grace = start.limits.close_grace;
    let session = Session::new(
        start.conn,
        start.peer,
        Nonce(random_uuid()),
        clock::now(),
        clock::wall(),
        start.limits,
    );
    let mut driver = Driver {
        session,
        queue: Arc::clone(&queue),
        signals,
        read_limit,
        hub: start.hub,
        slot: start.slot,
        verbose: start.verbose,
        flushed_seen: 0,
        told_hub_closed: false,
        terminated: false,
    };
    if start.verbose {
        tracing::debug!(conn = %start.conn, "websocket opened");
    }
    driver.run(in_rx, mb_rx).await;
    reader.abort();
    if driver.terminated {
        writer.abort();
    } else {
        // Let the writer flush what is queued (a close frame, an echo), but not forever.
        queue.close();
        if tokio::time::timeout(grace, &mut writer).await.is_err() {
            writer.abort();
        }
    }
    if start.verbose {
        tracing::debug!(conn = %start.conn, terminated = driver.terminated, "websocket closed");
    }
    drop(start.token);
}

struct Driver {
    session: Session,
    queue: Arc<WriteQueue>,
    signals: Arc<Signals>,
    /// What the reader accepts: the session's current frame limit.
    read_limit: Arc<ReadLimit>,
    hub: mpsc::Sender<HubInput>,
    /// Held until `hello-ok` (pre-auth admission).
    slot: Option<PreauthSlot>,
    verbose: bool,
    flushed_seen: u64,
    told_hub_closed: bool,
    /// The TCP connection is to be dropped without flushing.
    terminated: bool,
}

impl Driver {
    async fn run(
        &mut self,
        mut inbound: mpsc::Receiver<Box<Inbound>>,
        mut mailbox: mpsc::Receiver<Box<HubToSession>>,
    ) {
        loop {
            let wait = self.drain().await;
            if self.session.is_open() {
                self.slot = None;
            }
            if self.session.is_closed() {
                break;
            }
            let deadline = wait.map(|(at, _)| at);
            let sleep_at = clock::to_tokio(deadline.unwrap_or_default());
            tokio::select! {
                biased;
                () = self.signals.notify.notified() => self.handle_signals(),
                msg = mailbox.recv() => match msg {
                    Some(msg) => self.session.handle_hub(clock::now(), *msg),
                    // The hub has exited (drained): nobody will close us gracefully any more.
                    None => self.terminate(),
                },
                msg = inbound.recv() => self.handle_inbound(msg.map(|m| *m)),
                () = tokio::time::sleep_until(sleep_at), if deadline.is_some() => {
                    let now = clock::now();
                    if deadline.is_some_and(|at| now >= at) {
                        self.session.handle_timeout(now);
                    }
                }
            }
        }
        if !self.told_hub_closed {
            let _ = self.hub.send(HubInput::Session { conn: self.session.conn(), event: SessionEvent::Closed }).await;
        }
    }

    fn handle_inbound(&mut self, msg: Option<Inbound>) {
        let now = clock::now();
        match msg {
            Some(Inbound::Message(bytes)) => {
                if self.verbose {
                    log_inbound(self.session.conn(), &bytes);
                }
                self.session.handle_frame(now, &bytes);
            }
            Some(Inbound::Pong) => self.session.handle_pong(now),
            Some(Inbound::Oversize(len)) => self.session.handle_oversize(now, len),
            Some(Inbound::Violation(code)) => self.session.begin_close(now, CloseCode(code), ""),
            Some(Inbound::PeerClosed) | None => self.session.handle_peer_closed(now),
        }
    }

    fn handle_signals(&mut self) {
        let flushed = self.signals.flushed.load(Ordering::Acquire);
        if flushed > self.flushed_seen {
            let delta = flushed - self.flushed_seen;
            self.flushed_seen = flushed;
            self.session.handle_flushed(usize::try_from(delta).unwrap_or(usize::MAX));
        }
        if self.signals.hub_overflow.swap(false, Ordering::AcqRel) {
            self.session.begin_close(clock::now(), CloseCode::POLICY, "slow consumer");
        }
        if self.signals.writer_failed.load(Ordering::Acquire) {
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        self.terminated = true;
        self.queue.close();
        self.session.handle_peer_closed(clock::now());
    }

    /// Carries out outputs in order until `Wait`.
    async fn drain(&mut self) -> Option<(openclaw_core::Instant, SessionTimer)> {
        let conn = self.session.conn();
        // Before `hello-ok` is queued: a frame the peer sends after reading it must be admitted.
        self.read_limit.raise_to(self.session.max_frame_len());
        let mut budget = BUDGET;
        loop {
            match self.session.poll_output() {
                Output::Send(bytes) => {
                    if self.verbose {
                        tracing::debug!(%conn, frame = %prefix(&bytes), "send");
                    }
                    self.queue.push(WriteItem::Text(bytes));
                }
                Output::Ping => self.queue.push(WriteItem::Ping),
                Output::Close { code, reason } => {
                    if self.verbose {
                        tracing::debug!(%conn, code = code.0, %reason, "close");
                    }
                    self.queue.push(WriteItem::Close { code: code.0, reason });
                }
                Output::Terminate => {
                    if self.verbose {
                        tracing::debug!(%conn, "terminate");
                    }
                    self.terminated = true;
                    self.queue.close();
                }
                Output::ToHub(event) => {
                    if matches!(event, SessionEvent::Closed) {
                        self.told_hub_closed = true;
                    }
                    // The hub never blocks, so this wait is short; if it is gone, so are we.
                    if self.hub.send(HubInput::Session { conn, event }).await.is_err() {
                        self.terminated = true;
                        self.queue.close();
                    }
                }
                Output::Wait(wait) => return wait,
            }
            budget -= 1;
            if budget == 0 {
                budget = BUDGET;
                tokio::task::yield_now().await;
            }
        }
    }
}

fn prefix(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(LOG_PREFIX)]);
    if bytes.len() > LOG_PREFIX {
        format!("{s}…")
    } else {
        s.into_owned()
    }
}

/// Logs what a request is without its params (a `connect` carries the secret).
fn log_inbound(conn: ConnId, bytes: &[u8]) {
    let value: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    let kind = value.get("type").and_then(|v| v.as_str()).unwrap_or("?");
    let method = value.get("method").and_then(|v| v.as_str()).unwrap_or("?");
    let id = value.get("id").map(|v| v.to_string()).unwrap_or_default();
    tracing::debug!(%conn, kind, method, id, len = bytes.len(), "recv");
}
