//! One task per WebSocket, and nothing else per socket: it drives the [`Session`] and the socket
//! itself. Drain outputs to `Wait` (queueing frames, writing what the socket takes at once), take
//! any message already read, then select one event among the hub's signal and mailbox, the
//! socket becoming writable (only with frames waiting) or readable, and the deadline (style.md
//! principle 9). Every branch is cancel-safe (`Notify`, channel `recv`, readiness, `sleep`);
//! reads and writes happen after the select, without waiting. An idle socket costs this task's
//! state, its mailbox and the hub's record: no read buffer, no reader or writer task.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use fastwebsockets::upgrade::UpgradeFut;
use hyper_util::rt::TokioIo;
use openclaw_core::{
    CloseCode, ConnId, HubToSession, Limits, Nonce, Output, PeerInfo, Session, SessionEvent,
    SessionTimer,
};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::admission::PreauthSlot;
use crate::canvas_caps::CanvasCaps;
use crate::clock;
use crate::hub_task::{HubInput, MAILBOX_CAPACITY};
use crate::identity::random_uuid;
use crate::server::TaskToken;
use crate::ws::{Inbound, Signals, Socket, WriteItem};

/// Outputs carried out (or messages taken) before the task yields to the runtime.
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
    /// The canvas capability minted for this socket, honoured once its `hello-ok` offered it.
    pub canvas: Option<(Arc<CanvasCaps>, String)>,
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
    // Back to the TCP stream (and whatever the HTTP layer read past the request): this task
    // reads and writes it itself, when it is ready.
    let socket = match ws.into_inner().into_inner().downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => Socket::new(parts.io.into_inner(), &parts.read_buf),
        Err(_) => {
            tracing::warn!(conn = %start.conn, "websocket upgrade: not a TCP stream");
            return;
        }
    };
    let signals = Arc::new(Signals::default());
    let (mb_tx, mb_rx) = mpsc::channel(MAILBOX_CAPACITY);
    let attach = HubInput::Attach { conn: start.conn, mailbox: mb_tx, signals: Arc::clone(&signals) };
    if start.hub.send(attach).await.is_err() {
        return;
    }
    let grace = start.limits.close_grace;
    let read_limit = start.limits.preauth_max_payload;
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
        socket,
        signals,
        read_limit,
        hub: start.hub,
        slot: start.slot,
        verbose: start.verbose,
        told_hub_closed: false,
        terminated: false,
        canvas: start.canvas,
    };
    if start.verbose {
        tracing::debug!(conn = %start.conn, "websocket opened");
    }
    driver.run(mb_rx).await;
    if !driver.terminated {
        // Flush what is queued (a close frame, an echo), but not forever.
        let _ = tokio::time::timeout(grace, driver.flush()).await;
    }
    if start.verbose {
        tracing::debug!(conn = %start.conn, terminated = driver.terminated, "websocket closed");
    }
    if let Some((caps, _)) = &driver.canvas {
        caps.release(start.conn);
    }
    drop(driver);
    drop(start.token);
}

struct Driver {
    session: Session,
    socket: Socket,
    signals: Arc<Signals>,
    /// The largest message read now: the session's current frame limit (it never shrinks: a
    /// closing session ignores what it reads anyway).
    read_limit: usize,
    hub: mpsc::Sender<HubInput>,
    /// Held until `hello-ok` (pre-auth admission).
    slot: Option<PreauthSlot>,
    verbose: bool,
    told_hub_closed: bool,
    /// The TCP connection is to be dropped without flushing.
    terminated: bool,
    canvas: Option<(Arc<CanvasCaps>, String)>,
}

/// What woke the task.
enum Event {
    Signals,
    Hub(Option<Box<HubToSession>>),
    Writable(std::io::Result<()>),
    Readable(std::io::Result<()>),
    Deadline,
}

impl Driver {
    async fn run(&mut self, mut mailbox: mpsc::Receiver<Box<HubToSession>>) {
        let mut budget = BUDGET;
        loop {
            let wait = self.drain().await;
            if self.session.is_open() {
                self.slot = None;
            }
            if self.session.is_closed() {
                break;
            }
            // Write what the socket takes now; a flush may let the session send more.
            if !self.terminated && self.socket.has_output() && self.write() {
                continue;
            }
            // A message already read goes first (no waiting), within the budget.
            if let Some(msg) = self.socket.next_inbound(self.read_limit) {
                self.handle_inbound(msg);
                budget -= 1;
                if budget == 0 {
                    budget = BUDGET;
                    tokio::task::yield_now().await;
                }
                continue;
            }
            let deadline = wait.map(|(at, _)| at);
            let sleep_at = clock::to_tokio(deadline.unwrap_or_default());
            let writing = !self.terminated && self.socket.has_output();
            let reading = !self.terminated && self.socket.reading();
            let event = tokio::select! {
                biased;
                () = self.signals.notify.notified() => Event::Signals,
                r = self.socket.writable(), if writing => Event::Writable(r),
                msg = mailbox.recv() => Event::Hub(msg),
                r = self.socket.readable(), if reading => Event::Readable(r),
                () = tokio::time::sleep_until(sleep_at), if deadline.is_some() => Event::Deadline,
            };
            match event {
                Event::Signals => self.handle_signals(),
                Event::Hub(Some(msg)) => {
                    if let (HubToSession::Accept { canvas: true, .. }, Some((caps, cap))) = (&*msg, &self.canvas) {
                        caps.grant(self.session.conn(), cap, clock::now());
                    }
                    self.session.handle_hub(clock::now(), *msg);
                }
                // The hub has exited (drained): nobody will close us gracefully any more.
                Event::Hub(None) => self.terminate(),
                Event::Writable(Ok(())) => {
                    self.write();
                }
                Event::Readable(Ok(())) => {
                    if let Some(gone) = self.socket.read_some() {
                        self.handle_inbound(gone);
                    }
                }
                Event::Writable(Err(e)) | Event::Readable(Err(e)) => {
                    tracing::debug!(error = %e, "websocket socket failed");
                    self.terminate();
                }
                Event::Deadline => {
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

    /// Writes what the socket takes now; a failed socket ends the connection. Returns whether
    /// the session heard of it (text flushed, or the socket failed).
    fn write(&mut self) -> bool {
        match self.socket.write_some() {
            Ok(0) => false,
            Ok(flushed) => {
                self.session.handle_flushed(flushed);
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "websocket write failed");
                self.terminate();
                true
            }
        }
    }

    /// Writes everything queued (after the session closed).
    async fn flush(&mut self) {
        while self.socket.has_output() {
            if self.socket.writable().await.is_err() || self.socket.write_some().is_err() {
                return;
            }
        }
    }

    fn handle_inbound(&mut self, msg: Inbound) {
        let now = clock::now();
        match msg {
            Inbound::Message(bytes) => {
                if self.verbose {
                    log_inbound(self.session.conn(), &bytes);
                }
                self.session.handle_frame(now, &bytes);
            }
            Inbound::Pong => self.session.handle_pong(now),
            Inbound::Oversize(len) => self.session.handle_oversize(now, len),
            Inbound::Violation(code) => self.session.begin_close(now, CloseCode(code), ""),
            Inbound::PeerClosed => self.session.handle_peer_closed(now),
        }
    }

    fn handle_signals(&mut self) {
        if self.signals.hub_overflow.swap(false, Ordering::AcqRel) {
            self.session.begin_close(clock::now(), CloseCode::POLICY, "slow consumer");
        }
    }

    fn terminate(&mut self) {
        self.terminated = true;
        self.session.handle_peer_closed(clock::now());
    }

    /// Carries out outputs in order until `Wait`.
    async fn drain(&mut self) -> Option<(openclaw_core::Instant, SessionTimer)> {
        let conn = self.session.conn();
        // Before `hello-ok` is queued: a frame the peer sends after reading it must be admitted.
        self.read_limit = self.read_limit.max(self.session.max_frame_len());
        let mut budget = BUDGET;
        loop {
            match self.session.poll_output() {
                Output::Send(bytes) => {
                    if self.verbose {
                        tracing::debug!(%conn, frame = %prefix(&bytes), "send");
                    }
                    self.push(WriteItem::Text(bytes));
                }
                Output::Ping => self.push(WriteItem::Ping),
                Output::Close { code, reason } => {
                    if self.verbose {
                        tracing::debug!(%conn, code = code.0, %reason, "close");
                    }
                    self.push(WriteItem::Close { code: code.0, reason });
                }
                Output::Terminate => {
                    if self.verbose {
                        tracing::debug!(%conn, "terminate");
                    }
                    self.terminated = true;
                }
                Output::ToHub(event) => {
                    if matches!(event, SessionEvent::Closed) {
                        self.told_hub_closed = true;
                    }
                    // The hub never blocks, so this wait is short; if it is gone, so are we.
                    if self.hub.send(HubInput::Session { conn, event }).await.is_err() {
                        self.terminated = true;
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

    fn push(&mut self, item: WriteItem) {
        if !self.terminated {
            self.socket.push(item);
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
