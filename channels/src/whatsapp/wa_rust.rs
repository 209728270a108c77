//! The WhatsApp Web protocol implementation behind the [`Link`] seam: `whatsapp-rust` 0.7
//! (docs/whatsapp.md §1), compiled only with the cargo feature `whatsapp` (off by default).
//!
//! Each account keeps the library's own SQLite store (Signal sessions, keys, app state) in its
//! credentials folder, `wa-store.sqlite` beside `creds.json` (folder 0700), so `channels logout`
//! deletes both. `creds.json` holds what the gateway reads (`me.id`, the linked JID) and names
//! the store. One [`Connection`] is one `Bot` run: its events are mapped onto [`LinkEvent`]s;
//! dropping the connection's last sender shuts the bot down (graceful flush in a task).
//!
//! Mapping: `PairingQrCode` → `Qr`; `PairSuccess` → `Creds {me.id, me.lid, store}`;
//! `Connected` → `Open`; `Messages` → one `Message` per text message; `LoggedOut` →
//! `Closed {401, loggedOut}`; `Disconnected` / `ConnectFailure` / `StreamReplaced` /
//! `PairingQrCodesExhausted` → `Closed` (the account loop reconnects with its own backoff, so
//! the library's internal reconnect is cut short by shutting the bot down). Not mapped yet:
//! mentions (`mentioned_jids` stays empty: groups that require a mention are not answered),
//! media, receipts, presence.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;
use tokio::sync::mpsc;
use whatsapp_rust::prelude::*;
use whatsapp_rust::wacore::net::DisconnectReason;
use whatsapp_rust::ChatStateType;

use super::creds::Creds;
use super::inbound::InboundMessage;
use super::link::{Connection, Disconnect, Link, LinkEvent, MessageSender, STATUS_LOGGED_OUT};

/// The library's store file, in the account's credentials folder.
pub const STORE_FILE: &str = "wa-store.sqlite";

/// `whatsapp-rust` as a [`Link`].
#[derive(Clone, Debug, Default)]
pub struct WhatsAppRust;

impl WhatsAppRust {
    pub fn new() -> Self {
        Self
    }
}

/// Shuts the bot down when the last clone of the connection's sender is dropped.
struct Running {
    handle: std::sync::Mutex<Option<BotHandle>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let handle = self.handle.lock().ok().and_then(|mut h| h.take());
        if let (Some(handle), Ok(rt)) = (handle, tokio::runtime::Handle::try_current()) {
            rt.spawn(handle.shutdown());
        }
    }
}

/// Sends on one running bot.
#[derive(Clone)]
pub struct WaSender {
    client: Arc<Client>,
    _running: Arc<Running>,
}

fn jid(raw: &str) -> Result<Jid, String> {
    raw.parse::<Jid>().map_err(|e| format!("bad JID {raw:?}: {e}"))
}

impl MessageSender for WaSender {
    async fn send_text(&self, to: String, text: String, message_id: String) -> Result<(), String> {
        let to = jid(&to)?;
        let message = wa::Message { conversation: Some(text), ..Default::default() };
        self.client
            .send_message_with_options(to, message, SendOptions::default().with_message_id(message_id))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn mark_read(&self, chat_jid: String, message_id: String) {
        if let Ok(chat) = jid(&chat_jid) {
            let _ = self.client.mark_as_read(&chat, None, &[message_id.as_str()]).await;
        }
    }

    async fn typing(&self, chat_jid: String) {
        if let Ok(chat) = jid(&chat_jid) {
            let _ = self.client.chatstate().send(&chat, ChatStateType::Composing).await;
        }
    }
}

fn closed(status: Option<u16>, error: String, logged_out: bool) -> LinkEvent {
    LinkEvent::Closed(Disconnect { status, error, logged_out })
}

/// The [`LinkEvent`]s of one library event.
fn map_event(event: &Event) -> Vec<LinkEvent> {
    match event {
        Event::PairingQrCode(qr) => vec![LinkEvent::Qr(qr.code.clone())],
        Event::PairSuccess(p) => {
            let creds = json!({"me": {"id": p.id.to_string(), "lid": p.lid.to_string()}, "store": STORE_FILE, "library": "whatsapp-rust 0.7"});
            Creds::new(creds).map(|c| vec![LinkEvent::Creds(c)]).unwrap_or_default()
        }
        Event::Connected(_) => vec![LinkEvent::Open],
        Event::Messages(batch) => batch.messages.iter().filter_map(|m| inbound(&m.message, &m.info)).map(LinkEvent::Message).collect(),
        Event::LoggedOut(l) => vec![closed(Some(STATUS_LOGGED_OUT), format!("logged out: {:?}", l.reason), true)],
        Event::Disconnected(d) => {
            let status = match &d.reason {
                DisconnectReason::ServerClose { code, .. } => *code,
                DisconnectReason::StreamEnded | DisconnectReason::ReadError(_) | DisconnectReason::Unknown => None,
            };
            vec![closed(status, format!("disconnected: {}", d.reason), false)]
        }
        Event::ConnectFailure(f) => {
            let detail = f.message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default();
            vec![closed(u16::try_from(f.reason.code()).ok(), format!("connect failure: {:?}{detail}", f.reason), f.reason.is_logged_out())]
        }
        Event::StreamReplaced(_) => vec![closed(None, "stream replaced by another connection of this device".into(), false)],
        Event::PairingQrCodesExhausted(_) => vec![closed(None, "no QR was scanned in time".into(), false)],
        _ => Vec::new(),
    }
}

/// Whether the library event closes the connection for the account loop (a [`LinkEvent::Closed`]).
fn ends_connection(event: &Event) -> bool {
    matches!(event, Event::LoggedOut(_) | Event::Disconnected(_) | Event::ConnectFailure(_) | Event::StreamReplaced(_) | Event::PairingQrCodesExhausted(_))
}

fn inbound(message: &wa::Message, info: &MessageInfo) -> Option<InboundMessage> {
    let text = message.text_content()?.to_owned();
    let source = &info.source;
    Some(InboundMessage {
        id: info.id.to_string(),
        chat_jid: source.chat.to_non_ad_string(),
        participant_jid: source.is_group.then(|| source.sender.to_non_ad_string()),
        from_me: source.is_from_me,
        text,
        timestamp_ms: u64::try_from(info.timestamp.timestamp_millis()).unwrap_or_default(),
        push_name: Some(info.push_name.clone()).filter(|n| !n.is_empty()),
        mentioned_jids: Vec::new(),
    })
}

fn store_path(dir: &Path) -> PathBuf {
    dir.join(STORE_FILE)
}

impl Link for WhatsAppRust {
    type Sender = WaSender;

    async fn connect(&self, dir: PathBuf, creds: Option<Creds>) -> Result<Connection<WaSender>, String> {
        if creds.is_none() {
            // A new login: a fresh store (a left-over one belongs to an unlinked device).
            let _ = std::fs::remove_file(store_path(&dir));
        }
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let path = store_path(&dir);
        let store = SqliteStore::new(&path.to_string_lossy()).await.map_err(|e| format!("WhatsApp store {}: {e}", path.display()))?;
        {
            // The store holds the device's keys: owner-only, like creds.json (its -wal/-shm
            // companions are covered by the 0700 folder).
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let (tx, rx) = mpsc::channel(256);
        let bot = Bot::builder()
            .with_backend(store)
            .skip_history_sync()
            .on_event(move |event, client| {
                if ends_connection(&event) {
                    // The account loop reconnects with its own backoff (one connection per
                    // account): the library must not reconnect this bot behind it.
                    client.enable_auto_reconnect.store(false, std::sync::atomic::Ordering::Relaxed);
                }
                let tx = tx.clone();
                async move {
                    for e in map_event(&event) {
                        // The account loop reads in order; a full queue waits (bounded).
                        if tx.send(e).await.is_err() {
                            return;
                        }
                    }
                }
            })
            .build()
            .await
            .map_err(|e| format!("WhatsApp client: {e}"))?;
        let handle = bot.spawn();
        let client = handle.client();
        Ok(Connection { events: rx, sender: WaSender { client, _running: Arc::new(Running { handle: std::sync::Mutex::new(Some(handle)) }) } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_events_map_onto_the_seam() {
        let qr = Event::PairingQrCode(whatsapp_rust::wacore::types::events::PairingQrCode::builder().code("2@abc".to_owned()).timeout(std::time::Duration::from_secs(20)).build());
        assert_eq!(map_event(&qr), [LinkEvent::Qr("2@abc".into())]);
        assert!(!ends_connection(&qr));
    }

    fn close(event: &Event) -> Disconnect {
        match map_event(event).as_slice() {
            [LinkEvent::Closed(d)] => d.clone(),
            other => panic!("{event:?} → {other:?}, not one close"),
        }
    }

    #[test]
    fn a_logout_is_a_close_without_reconnect_and_other_closes_are_retried() {
        use whatsapp_rust::wacore::types::events::{ConnectFailure, ConnectFailureReason, Disconnected, LoggedOut};
        let logout = Event::LoggedOut(LoggedOut::builder().on_connect(false).reason(ConnectFailureReason::LoggedOut).build());
        let d = close(&logout);
        assert_eq!((d.status, d.logged_out), (Some(STATUS_LOGGED_OUT), true));
        let refused = Event::ConnectFailure(ConnectFailure::builder().reason(ConnectFailureReason::AccountLocked).build());
        let d = close(&refused);
        assert_eq!((d.status, d.logged_out), (Some(403), true), "a locked device needs a new login");
        let unavailable = Event::ConnectFailure(ConnectFailure::builder().reason(ConnectFailureReason::ServiceUnavailable).message("busy".to_owned()).build());
        let d = close(&unavailable);
        assert_eq!((d.status, d.logged_out, d.error.contains("busy")), (Some(503), false, true));
        let lost = Event::Disconnected(Disconnected::builder().reason(DisconnectReason::ServerClose { code: Some(1006), reason: String::new() }).build());
        let d = close(&lost);
        assert_eq!((d.status, d.logged_out), (Some(1006), false));
        for e in [&logout, &refused, &unavailable, &lost] {
            assert!(ends_connection(e), "{e:?} must stop the library's own reconnect");
        }
    }

    #[test]
    fn a_text_message_becomes_an_inbound_message() {
        let mut info = MessageInfo::default();
        info.id = "3EB0AA".into();
        info.source.chat = "15552223333@s.whatsapp.net".parse().expect("jid");
        info.source.sender = "15552223333:4@s.whatsapp.net".parse().expect("jid");
        info.push_name = "Ann".into();
        let message = wa::Message { conversation: Some("hello".into()), ..Default::default() };
        let got = inbound(&message, &info).expect("a text message");
        assert_eq!((got.id.as_str(), got.chat_jid.as_str(), got.text.as_str(), got.from_me), ("3EB0AA", "15552223333@s.whatsapp.net", "hello", false));
        assert_eq!((got.participant_jid, got.push_name.as_deref()), (None, Some("Ann")));
        assert!(inbound(&wa::Message::default(), &info).is_none(), "no text: nothing for the agent");
    }
}
