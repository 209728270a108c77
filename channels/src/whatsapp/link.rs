//! The seam to a WhatsApp Web (multi-device) protocol implementation. The account loop
//! ([`super::account`]) sees only this: a [`Link`] opens connections, a connection reports
//! [`LinkEvent`]s on a bounded channel and sends through its [`MessageSender`].
//!
//! It mirrors what `whatsapp-rust` 0.7 offers (docs/whatsapp.md): its `Bot` events
//! `PairingQrCode` / `PairSuccess` / `Connected` / `Messages` / `Disconnected` / `LoggedOut`
//! map onto [`LinkEvent`], and `SendOptions::with_message_id` lets the caller choose the message
//! id, which is what makes a retried send idempotent. The tests drive a fake behind it.

use std::future::Future;

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
    /// Opens one connection: with `creds` it logs in as that device, without it it starts a QR
    /// login. `Err` = the connection could not be opened (retried with backoff).
    fn connect(&self, creds: Option<Creds>) -> impl Future<Output = Result<Connection<Self::Sender>, String>> + Send;
}
