//! The seam to a WhatsApp Web (multi-device) protocol implementation. The account loop
//! ([`super::account`]) sees only this: a [`Link`] opens connections, a connection reports
//! [`LinkEvent`]s on a bounded channel and sends through its [`MessageSender`].
//!
//! [`super::wa_rust`] implements it over `whatsapp-rust` 0.7 (cargo feature `whatsapp`): its `Bot` events
//! `PairingQrCode` / `PairSuccess` / `Connected` / `Messages` / `Disconnected` / `LoggedOut`
//! map onto [`LinkEvent`], and `SendOptions::with_message_id` lets the caller choose the message
//! id, which is what makes a retried send idempotent. The tests drive a fake behind it.

use std::future::Future;
use std::path::PathBuf;

use tokio::sync::mpsc;

use super::creds::Creds;
use super::inbound::InboundMessage;

/// Close status WhatsApp sends right after a successful QR scan: reconnect with the new
/// credentials (Baileys `DisconnectReason.restartRequired`).
pub const STATUS_RESTART_REQUIRED: u16 = 515;
/// Close status of a logout (Baileys `DisconnectReason.loggedOut`).
pub const STATUS_LOGGED_OUT: u16 = 401;

/// Why a connection closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disconnect {
    /// The WhatsApp / transport status code, when there is one.
    pub status: Option<u16>,
    pub error: String,
    /// The device was unlinked (on the phone, or the credentials were refused): do not
    /// reconnect, the account needs a new QR login.
    pub logged_out: bool,
}

/// What a connection reports.
#[derive(Clone, Debug, PartialEq)]
pub enum LinkEvent {
    /// A login QR payload to show; WhatsApp rotates it (about every 20 s) until scanned.
    Qr(String),
    /// The credentials changed (pairing done, keys rotated): persist them.
    Creds(Creds),
    /// Connected and authenticated.
    Open,
    /// An inbound message (already decrypted).
    Message(InboundMessage),
    /// The connection is gone; no event follows.
    Closed(Disconnect),
}

/// One open connection.
pub struct Connection<S> {
    pub events: mpsc::Receiver<LinkEvent>,
    pub sender: S,
}

/// Sends on an open connection.
pub trait MessageSender: Clone + Send + Sync + 'static {
    /// Sends `text` to `jid` with the given message id (the receiving side drops a second
    /// message with an id it already has). `Err` = not accepted by the server.
    fn send_text(&self, jid: String, text: String, message_id: String) -> impl Future<Output = Result<(), String>> + Send;
    /// Marks a message read (blue ticks); best effort.
    fn mark_read(&self, chat_jid: String, message_id: String) -> impl Future<Output = ()> + Send;
    /// Shows "typing…" in a chat; best effort.
    fn typing(&self, chat_jid: String) -> impl Future<Output = ()> + Send;
}

/// Opens connections.
pub trait Link: Send + Sync + 'static {
    type Sender: MessageSender;
    /// Opens one connection for the account whose credentials folder is `dir` (the
    /// implementation may keep its own state there: logout deletes the folder): with `creds` it
    /// logs in as that device, without it it starts a QR login. `Err` = the connection could not
    /// be opened (retried with backoff).
    fn connect(&self, dir: PathBuf, creds: Option<Creds>) -> impl Future<Output = Result<Connection<Self::Sender>, String>> + Send;
}

/// A boxed future (what the object-safe halves of [`BoxLink`] return).
pub type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;

trait DynSender: Send + Sync {
    fn send_text(&self, jid: String, text: String, message_id: String) -> BoxFuture<Result<(), String>>;
    fn mark_read(&self, chat_jid: String, message_id: String) -> BoxFuture<()>;
    fn typing(&self, chat_jid: String) -> BoxFuture<()>;
}

impl<S: MessageSender> DynSender for S {
    fn send_text(&self, jid: String, text: String, message_id: String) -> BoxFuture<Result<(), String>> {
        let s = self.clone();
        Box::pin(async move { MessageSender::send_text(&s, jid, text, message_id).await })
    }
    fn mark_read(&self, chat_jid: String, message_id: String) -> BoxFuture<()> {
        let s = self.clone();
        Box::pin(async move { MessageSender::mark_read(&s, chat_jid, message_id).await })
    }
    fn typing(&self, chat_jid: String) -> BoxFuture<()> {
        let s = self.clone();
        Box::pin(async move { MessageSender::typing(&s, chat_jid).await })
    }
}

/// Any [`MessageSender`], type-erased.
#[derive(Clone)]
pub struct BoxSender(std::sync::Arc<dyn DynSender>);

impl MessageSender for BoxSender {
    fn send_text(&self, jid: String, text: String, message_id: String) -> impl Future<Output = Result<(), String>> + Send {
        self.0.send_text(jid, text, message_id)
    }
    fn mark_read(&self, chat_jid: String, message_id: String) -> impl Future<Output = ()> + Send {
        self.0.mark_read(chat_jid, message_id)
    }
    fn typing(&self, chat_jid: String) -> impl Future<Output = ()> + Send {
        self.0.typing(chat_jid)
    }
}

trait DynLink: Send + Sync {
    fn connect(&self, dir: PathBuf, creds: Option<Creds>) -> BoxFuture<Result<Connection<BoxSender>, String>>;
}

impl<L: Link + Clone> DynLink for L {
    fn connect(&self, dir: PathBuf, creds: Option<Creds>) -> BoxFuture<Result<Connection<BoxSender>, String>> {
        let link = self.clone();
        Box::pin(async move {
            let conn = Link::connect(&link, dir, creds).await?;
            Ok(Connection { events: conn.events, sender: BoxSender(std::sync::Arc::new(conn.sender)) })
        })
    }
}

/// Any [`Link`], type-erased: what the gateway holds (the protocol implementation of the build,
/// or a test's fake).
#[derive(Clone)]
pub struct BoxLink(std::sync::Arc<dyn DynLink>);

impl BoxLink {
    pub fn new<L: Link + Clone>(link: L) -> Self {
        Self(std::sync::Arc::new(link))
    }
}

impl std::fmt::Debug for BoxLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoxLink")
    }
}

impl Link for BoxLink {
    type Sender = BoxSender;
    fn connect(&self, dir: PathBuf, creds: Option<Creds>) -> impl Future<Output = Result<Connection<BoxSender>, String>> + Send {
        self.0.connect(dir, creds)
    }
}
