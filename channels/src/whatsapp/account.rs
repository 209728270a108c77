//! One WhatsApp account: the connection loop (spec §4.3) and the QR login (spec §4.2), over a
//! [`Link`].
//!
//! The loop ([`Account::run`]) loads the credentials (none → it ends `NotLinked`: no reconnect
//! loop for an account that was never linked), connects, serves inbound messages and sends, and
//! on a close records `lastDisconnect {at, status, error, loggedOut}`; a logout deletes the
//! credentials and ends it (`LoggedOut`), anything else reconnects after the `web.reconnect`
//! backoff (2 s × 1.8 up to 30 s, jitter 0.25, at most 12 attempts; the counter restarts after
//! a connection that stayed up longer than the heartbeat). Sends reach it through an
//! [`AccountHandle`]; while no connection is open they fail with the reference's "No active
//! WhatsApp Web listener" text ([`SendError::NotLinked`]).
//!
//! Inbound: [`classify`] decides; an allowed message is marked read (never in the self-chat),
//! "typing…" is shown, the agent runs through [`Host::run_agent`] in a task of its own, and its
//! reply goes back to the chat in chunks of at most 4000 characters. Ids of messages sent here are
//! remembered so their echoes are not taken for inbound messages.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::creds::{CredsError, CredsStore};
use super::inbound::{classify, Access, Context, InboundMessage, Verdict};
use super::ledger::{Begin, Ledger};
use super::link::{Connection, Disconnect, Link, LinkEvent, MessageSender, STATUS_LOGGED_OUT, STATUS_RESTART_REQUIRED};
use super::target::{Target, E164};
use super::{not_linked_message, pairing_reply};
use crate::backoff::{BackoffPolicy, Jitter};
use crate::pairing::PairingCode;
use crate::route::Peer;
use crate::telegram::chunk::{chunk_text, DEFAULT_CHUNK_CHARS};

/// `web.reconnect` defaults.
pub const WHATSAPP_RECONNECT: BackoffPolicy = BackoffPolicy { initial_ms: 2_000, max_ms: 30_000, factor: 1.8, jitter: 0.25 };
/// `web.reconnect.maxAttempts` default (0 = unlimited).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 12;
/// `web.heartbeatSeconds` default.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(60);
/// The agent's "say nothing" answer.
pub const SILENT_REPLY: &str = "NO_REPLY";
/// Echo ids remembered.
const RECENT_SENT: usize = 256;

/// What the gateway provides to an account.
pub trait Host: Send + Sync + 'static {
    /// Wall-clock ms since the epoch.
    fn now_ms(&self) -> u64;
    /// Senders approved through pairing for this account.
    fn approved(&self) -> Vec<E164>;
    /// Creates or refreshes the pairing request of `sender`; `Some(code)` when it is new (then
    /// the sender gets the code).
    fn pair(&self, sender: &E164, name: Option<&str>) -> Option<PairingCode>;
    /// Runs the agent for an allowed message; the reply text, if any.
    fn run_agent(&self, peer: Peer, sender: E164, text: String) -> impl Future<Output = Option<String>> + Send;
}

/// Settings of one account.
#[derive(Clone, Debug)]
pub struct AccountConfig {
    pub account_id: String,
    pub access: Access,
    pub backoff: BackoffPolicy,
    /// 0 = unlimited.
    pub max_attempts: u32,
    pub heartbeat: Duration,
    /// Seeds the backoff jitter and the message ids (from OS randomness in the gateway).
    pub seed: u64,
    /// `sendReadReceipts` (default true).
    pub read_receipts: bool,
}

impl AccountConfig {
    pub fn new(account_id: &str, access: Access, seed: u64) -> Self {
        Self {
            account_id: account_id.to_owned(),
            access,
            backoff: WHATSAPP_RECONNECT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            heartbeat: DEFAULT_HEARTBEAT,
            seed,
            read_receipts: true,
        }
    }
}

/// `lastDisconnect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastDisconnect {
    pub at_ms: u64,
    pub status: Option<u16>,
    pub error: String,
    pub logged_out: bool,
}

/// The account's runtime snapshot (spec §2.2), as `channels.status` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub account_id: String,
    pub linked: bool,
    pub running: bool,
    pub connected: bool,
    pub reconnect_attempts: u32,
    pub last_connected_at: Option<u64>,
    pub last_disconnect: Option<LastDisconnect>,
    pub last_error: Option<String>,
    pub last_message_at: Option<u64>,
    pub self_number: Option<E164>,
}

impl Status {
    /// The `channelAccounts.whatsapp[]` entry.
    pub fn to_json(&self) -> Value {
        json!({
            "accountId": self.account_id,
            "linked": self.linked,
            "running": self.running,
            "connected": self.connected,
            "reconnectAttempts": self.reconnect_attempts,
            "lastConnectedAt": self.last_connected_at,
            "lastDisconnect": self.last_disconnect.as_ref().map(|d| json!({
                "at": d.at_ms, "status": d.status, "error": d.error, "loggedOut": d.logged_out,
            })),
            "lastError": self.last_error,
            "lastMessageAt": self.last_message_at,
            "self": self.self_number.as_ref().map(|n| json!({"e164": n.as_str(), "jid": n.jid()})),
        })
    }
}

/// How the loop ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// No credentials: link with `openclaw channels login --channel whatsapp`.
    NotLinked,
    /// The device was unlinked; the credentials are deleted.
    LoggedOut,
    /// `maxAttempts` reconnects failed.
    GaveUp(Disconnect),
    /// Every handle was dropped.
    Stopped,
}

/// An outbound text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendRequest {
    pub idempotency_key: String,
    pub target: Target,
    pub text: String,
}

/// A delivered send: `{messageId, toJid}` of the `send` result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub message_id: String,
    pub to_jid: String,
}

/// Why a send failed; the gateway maps `NotLinked` to `NOT_LINKED`, `Failed` to `UNAVAILABLE`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("{0}")]
    NotLinked(String),
    #[error("{0}")]
    Failed(String),
}

enum Cmd {
    Send(SendRequest, oneshot::Sender<Result<Sent, SendError>>),
}

/// Reaches a running account.
#[derive(Clone, Debug)]
pub struct AccountHandle {
    account_id: String,
    cmd: mpsc::Sender<Cmd>,
    status: watch::Receiver<Status>,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Send(req, _) => f.debug_tuple("Send").field(req).finish(),
        }
    }
}

impl AccountHandle {
    /// Sends a text (idempotent per key, across restarts). Not running or not connected →
    /// [`SendError::NotLinked`].
    pub async fn send(&self, req: SendRequest) -> Result<Sent, SendError> {
        let not_linked = || SendError::NotLinked(not_linked_message(&self.account_id));
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Cmd::Send(req, tx)).await.map_err(|_| not_linked())?;
        rx.await.map_err(|_| not_linked())?
    }

    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    /// Waits until the status satisfies `pred` (for callers that wait on a condition).
    pub async fn wait_for(&mut self, pred: impl Fn(&Status) -> bool) -> Status {
        if let Ok(s) = self.status.wait_for(|s| pred(s)).await {
            return s.clone();
        }
        self.status.borrow().clone()
    }
}

/// One account's loop.
pub struct Account<L: Link, H: Host> {
    link: L,
    host: Arc<H>,
    creds: CredsStore,
    ledger: Ledger,
    config: AccountConfig,
    cmd: mpsc::Receiver<Cmd>,
    status: watch::Sender<Status>,
    recent: Arc<Mutex<VecDeque<String>>>,
    ids: Jitter,
}

/// What [`Account::serve`] ended with.
enum Served {
    Closed { close: Disconnect, uptime_ms: u64 },
    Stopped,
}

impl<L: Link, H: Host> Account<L, H> {
    /// An account and its handle; run it with [`Account::run`].
    pub fn new(link: L, host: Arc<H>, creds: CredsStore, ledger: Ledger, config: AccountConfig) -> (Self, AccountHandle) {
        let (cmd_tx, cmd) = mpsc::channel(64);
        let initial = Status { account_id: config.account_id.clone(), linked: creds.is_linked(), ..Status::default() };
        let (status, status_rx) = watch::channel(initial);
        let handle = AccountHandle { account_id: config.account_id.clone(), cmd: cmd_tx, status: status_rx };
        let ids = Jitter::new(config.seed.rotate_left(17) ^ 0x5741);
        (Self { link, host, creds, ledger, config, cmd, status, recent: Arc::default(), ids }, handle)
    }

    fn update(&self, f: impl FnOnce(&mut Status)) {
        self.status.send_modify(f);
    }

    /// Runs until the account is not (or no longer) linked, gives up, or is dropped by every
    /// handle. Drop the future to stop it (its agent tasks are aborted with it).
    pub async fn run(mut self) -> Exit {
        let mut jitter = Jitter::new(self.config.seed);
        let mut attempt = 0u32;
        loop {
            let creds = match self.creds.load() {
                Ok(Some(creds)) => creds,
                Ok(None) => return self.end(Exit::NotLinked, "not linked".into()),
                Err(e) => return self.end(Exit::NotLinked, e.to_string()),
            };
            let me = creds.self_number();
            self.update(|s| {
                s.linked = true;
                s.running = true;
                s.self_number = me;
            });
            let served = match self.link.connect(self.creds.dir().to_owned(), Some(creds)).await {
                Ok(conn) => self.serve(conn).await,
                Err(error) => Served::Closed { close: Disconnect { status: None, error, logged_out: false }, uptime_ms: 0 },
            };
            let (close, uptime_ms) = match served {
                Served::Closed { close, uptime_ms } => (close, uptime_ms),
                Served::Stopped => return self.end(Exit::Stopped, "stopped".into()),
            };
            let at_ms = self.host.now_ms();
            self.update(|s| {
                s.connected = false;
                s.last_disconnect = Some(LastDisconnect { at_ms, status: close.status, error: close.error.clone(), logged_out: close.logged_out });
            });
            if close.logged_out {
                let _ = self.creds.clear();
                self.update(|s| s.linked = false);
                return self.end(Exit::LoggedOut, "logged out".into());
            }
            if u128::from(uptime_ms) > self.config.heartbeat.as_millis() {
                attempt = 0;
            }
            attempt += 1;
            self.update(|s| {
                s.reconnect_attempts = attempt;
                s.last_error = Some(close.error.clone());
            });
            if self.config.max_attempts > 0 && attempt >= self.config.max_attempts {
                let error = format!("gave up after {attempt} reconnect attempts: {}", close.error);
                return self.end(Exit::GaveUp(close), error);
            }
            let delay = self.config.backoff.delay(attempt, jitter.next_fraction());
            if !self.idle(delay).await {
                return self.end(Exit::Stopped, "stopped".into());
            }
        }
    }

    fn end(&self, exit: Exit, error: String) -> Exit {
        self.update(|s| {
            s.running = false;
            s.connected = false;
            s.last_error = Some(error);
        });
        exit
    }

    /// Waits out a backoff delay, answering sends meanwhile. `false` when every handle is gone.
    async fn idle(&mut self, delay: Duration) -> bool {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return true,
                cmd = self.cmd.recv() => match cmd {
                    None => return false,
                    Some(Cmd::Send(req, reply)) => {
                        let _ = reply.send(self.replay_or_not_linked(&req));
                    }
                },
            }
        }
    }

    /// Without a connection: a send already delivered is answered from the ledger, anything
    /// else is NOT_LINKED.
    fn replay_or_not_linked(&self, req: &SendRequest) -> Result<Sent, SendError> {
        match self.ledger.get(&req.idempotency_key) {
            Some(e) if e.sent => Ok(Sent { message_id: e.message_id.clone(), to_jid: e.to_jid.clone() }),
            _ => Err(SendError::NotLinked(not_linked_message(&self.config.account_id))),
        }
    }

    async fn serve(&mut self, conn: Connection<L::Sender>) -> Served {
        let Connection { mut events, sender } = conn;
        let mut tasks = JoinSet::new();
        let mut opened_at: Option<u64> = None;
        let uptime = |host: &H, opened: Option<u64>| opened.map_or(0, |t| host.now_ms().saturating_sub(t));
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    None => {
                        let close = Disconnect { status: None, error: "connection ended".into(), logged_out: false };
                        return Served::Closed { close, uptime_ms: uptime(&self.host, opened_at) };
                    }
                    Some(LinkEvent::Qr(_)) => {
                        // A QR on a connection with credentials: they were refused.
                        let close = Disconnect { status: Some(STATUS_LOGGED_OUT), error: "credentials refused: a new QR login is required".into(), logged_out: true };
                        return Served::Closed { close, uptime_ms: uptime(&self.host, opened_at) };
                    }
                    Some(LinkEvent::Creds(creds)) => {
                        if let Err(e) = self.creds.save(&creds) {
                            self.update(|s| s.last_error = Some(e.to_string()));
                        }
                    }
                    Some(LinkEvent::Open) => {
                        let now = self.host.now_ms();
                        opened_at = Some(now);
                        self.update(|s| {
                            s.connected = true;
                            s.last_connected_at = Some(now);
                            s.last_error = None;
                        });
                    }
                    Some(LinkEvent::Message(msg)) => self.inbound(msg, &sender, &mut tasks, opened_at.unwrap_or(0)),
                    Some(LinkEvent::Closed(close)) => return Served::Closed { close, uptime_ms: uptime(&self.host, opened_at) },
                },
                cmd = self.cmd.recv() => match cmd {
                    None => return Served::Stopped,
                    Some(Cmd::Send(req, reply)) => {
                        let result = if opened_at.is_some() { self.send(&sender, req).await } else { self.replay_or_not_linked(&req) };
                        let _ = reply.send(result);
                    }
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
    }

    fn next_id(&mut self) -> String {
        let hi = (self.ids.next_fraction() * (1u64 << 52) as f64) as u64;
        let lo = (self.ids.next_fraction() * (1u64 << 20) as f64) as u64;
        format!("3EB0{hi:013X}{lo:05X}")
    }

    async fn send(&mut self, sender: &L::Sender, req: SendRequest) -> Result<Sent, SendError> {
        let jid = req.target.jid();
        let now = self.host.now_ms();
        let fresh = self.next_id();
        let entry = match self.ledger.begin(&req.idempotency_key, &jid, now, || fresh) {
            Ok(Begin::Done(e)) => return Ok(Sent { message_id: e.message_id, to_jid: e.to_jid }),
            Ok(Begin::Send(e)) => e,
            Err(e) => return Err(SendError::Failed(format!("send ledger: {e}"))),
        };
        remember(&self.recent, &entry.message_id);
        sender.send_text(entry.to_jid.clone(), req.text, entry.message_id.clone()).await.map_err(SendError::Failed)?;
        self.ledger.finish(&req.idempotency_key).map_err(|e| SendError::Failed(format!("send ledger: {e}")))?;
        self.update(|s| s.last_error = None);
        Ok(Sent { message_id: entry.message_id, to_jid: entry.to_jid })
    }

    fn inbound(&mut self, msg: InboundMessage, sender: &L::Sender, tasks: &mut JoinSet<()>, connected_at_ms: u64) {
        let now = self.host.now_ms();
        self.update(|s| s.last_message_at = Some(now));
        let sent_by_us = self.recent.lock().is_ok_and(|r| r.contains(&msg.id));
        let own = self.status.borrow().self_number.clone();
        let approved = self.host.approved();
        let ctx = Context { self_number: own.as_ref(), approved: &approved, connected_at_ms, sent_by_us };
        match classify(&self.config.access, ctx, &msg) {
            Verdict::Skip(_) => {}
            Verdict::Pair { sender: who } => {
                if let Some(code) = self.host.pair(&who, msg.push_name.as_deref()) {
                    let id = self.next_id();
                    remember(&self.recent, &id);
                    let (sender, text) = (sender.clone(), pairing_reply(&who, &code));
                    tasks.spawn(async move {
                        let _ = sender.send_text(msg.chat_jid, text, id).await;
                    });
                }
            }
            Verdict::Process { peer, sender: who, reply_to } => {
                let self_chat = own.as_ref() == Some(&who) && !matches!(peer, Peer::Group { .. });
                let ids: Vec<String> = (0..8).map(|_| self.next_id()).collect();
                let (host, sender, recent) = (self.host.clone(), sender.clone(), self.recent.clone());
                let read = self.config.read_receipts && !self_chat;
                tasks.spawn(async move {
                    if read {
                        sender.mark_read(msg.chat_jid.clone(), msg.id.clone()).await;
                    }
                    sender.typing(reply_to.clone()).await;
                    let Some(reply) = host.run_agent(peer, who, msg.text).await else { return };
                    let reply = reply.trim();
                    if reply.is_empty() || reply == SILENT_REPLY {
                        return;
                    }
                    let mut ids = ids.into_iter();
                    for chunk in chunk_text(reply, DEFAULT_CHUNK_CHARS) {
                        // More chunks than prepared ids: derive further ones from the last.
                        let id = ids.next().unwrap_or_else(|| format!("{}{}", msg.id, chunk.len()));
                        remember(&recent, &id);
                        if sender.send_text(reply_to.clone(), chunk, id).await.is_err() {
                            break;
                        }
                    }
                });
            }
        }
    }
}

fn remember(recent: &Mutex<VecDeque<String>>, id: &str) {
    if let Ok(mut r) = recent.lock() {
        if r.len() >= RECENT_SENT {
            r.pop_front();
        }
        r.push_back(id.to_owned());
    }
}

/// How a QR login ended well.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Already linked (and not forced): no QR.
    AlreadyLinked(Option<E164>),
    /// Linked now; the credentials are saved.
    Linked(Option<E164>),
}

/// Why a QR login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("WhatsApp refused the login (logged out); start a new login for a fresh QR")]
    LoggedOut,
    #[error("WhatsApp login failed: {0}")]
    Failed(String),
    #[error("timed out waiting for the QR to be scanned")]
    TimedOut,
    #[error(transparent)]
    Creds(#[from] CredsError),
}

/// The QR login (`openclaw channels login --channel whatsapp`, `web.login.*`): connects without
/// credentials, hands every QR to `on_qr` (WhatsApp rotates it until one is scanned), saves the
/// credentials of the pairing, reconnects once when WhatsApp asks for a restart after pairing
/// (status 515), and ends when the connection opens. `force` unlinks first.
pub async fn login<L: Link>(link: &L, store: &CredsStore, force: bool, timeout: Duration, mut on_qr: impl FnMut(&str) + Send) -> Result<LoginOutcome, LoginError> {
    if force {
        store.clear()?;
    } else if let Some(creds) = store.load()? {
        return Ok(LoginOutcome::AlreadyLinked(creds.self_number()));
    }
    let attempt = async {
        let mut creds = None;
        let mut restarted = false;
        loop {
            let mut conn = link.connect(store.dir().to_owned(), creds.clone()).await.map_err(LoginError::Failed)?;
            loop {
                match conn.events.recv().await {
                    Some(LinkEvent::Qr(code)) => on_qr(&code),
                    Some(LinkEvent::Creds(c)) => {
                        store.save(&c)?;
                        creds = Some(c);
                    }
                    Some(LinkEvent::Open) => return Ok(LoginOutcome::Linked(creds.as_ref().and_then(|c| c.self_number()))),
                    Some(LinkEvent::Message(_)) => {}
                    Some(LinkEvent::Closed(d)) if d.status == Some(STATUS_RESTART_REQUIRED) && creds.is_some() && !restarted => {
                        restarted = true;
                        break;
                    }
                    Some(LinkEvent::Closed(d)) if d.logged_out => {
                        store.clear()?;
                        return Err(LoginError::LoggedOut);
                    }
                    Some(LinkEvent::Closed(d)) => return Err(LoginError::Failed(d.error)),
                    None => return Err(LoginError::Failed("connection ended".into())),
                }
            }
        }
    };
    tokio::time::timeout(timeout, attempt).await.map_err(|_| LoginError::TimedOut)?
}
