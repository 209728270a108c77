//! A fake WhatsApp Web behind the channels crate's `Link` seam, for gateway-level tests: a
//! connection without credentials shows a QR (the test rotates it and "scans" it with a phone
//! number: credentials, then the 515 restart WhatsApp asks for); a connection with credentials
//! opens at once. The server side keeps one message per id (as WhatsApp does) and records every
//! send attempt. Waits are on a `Notify`, bounded by the caller's deadline.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openclaw_channels::whatsapp::creds::Creds;
use openclaw_channels::whatsapp::inbound::InboundMessage;
use openclaw_channels::whatsapp::link::{BoxLink, Connection, Disconnect, Link, LinkEvent, MessageSender};
use serde_json::json;
use tokio::sync::{mpsc, Notify};

/// One message the fake server accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub jid: String,
    pub text: String,
    pub id: String,
}

#[derive(Default)]
struct State {
    /// `true` per connect made with credentials.
    connects: Vec<bool>,
    current: Option<mpsc::Sender<LinkEvent>>,
    qrs: u32,
    attempts: usize,
    delivered: Vec<Delivered>,
    ids: BTreeSet<String>,
}

#[derive(Clone, Default)]
pub struct FakeWhatsApp {
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
}

impl FakeWhatsApp {
    pub fn new() -> Self {
        Self::default()
    }

    /// The fake as the gateway holds a protocol implementation.
    pub fn link(&self) -> BoxLink {
        BoxLink::new(self.clone())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn push(&self, event: LinkEvent) {
        let tx = self.state().current.clone();
        if let Some(tx) = tx {
            let _ = tx.try_send(event);
        }
    }

    fn next_qr(&self) -> LinkEvent {
        let mut st = self.state();
        st.qrs += 1;
        LinkEvent::Qr(format!("2@fake-qr-{},cHVibGljLWtleQ==,aWRlbnRpdHk=,YWR2LXNlY3JldA==", st.qrs))
    }

    /// WhatsApp rotates the QR of the open login connection.
    pub fn rotate_qr(&self) {
        let qr = self.next_qr();
        self.push(qr);
    }

    /// The phone scans the QR: the device's credentials, then "restart required" (515).
    pub fn scan(&self, number: &str) {
        self.push(LinkEvent::Creds(creds_for(number)));
        self.push(LinkEvent::Closed(Disconnect { status: Some(515), error: "restart required".into(), logged_out: false }));
    }

    /// The device is removed on the phone.
    pub fn log_out(&self) {
        self.push(LinkEvent::Closed(Disconnect { status: Some(401), error: "logged out".into(), logged_out: true }));
    }

    /// An inbound message on the open connection.
    pub fn inbound(&self, msg: InboundMessage) {
        self.push(LinkEvent::Message(msg));
    }

    /// Per connect so far: whether it carried credentials.
    pub fn connects(&self) -> Vec<bool> {
        self.state().connects.clone()
    }

    pub fn attempts(&self) -> usize {
        self.state().attempts
    }

    pub fn delivered(&self) -> Vec<Delivered> {
        self.state().delivered.clone()
    }

    /// Waits until `cond` holds (checked after every event of the fake), at most `within`.
    pub async fn wait_until(&self, within: Duration, cond: impl Fn(&Self) -> bool) -> Result<(), String> {
        let wait = async {
            loop {
                let notified = self.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if cond(self) {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(within, wait).await.map_err(|_| "the fake WhatsApp did not reach the expected state in time".to_owned())
    }
}

/// Linked-device credentials of `number` (digits), `me.id` as Baileys writes it.
pub fn creds_for(number: &str) -> Creds {
    Creds::new(json!({"me": {"id": format!("{number}:12@s.whatsapp.net"), "name": "fake"}, "noiseKey": {"private": "x", "public": "y"}})).unwrap_or_else(|_| unreachable!("an object"))
}

impl Link for FakeWhatsApp {
    type Sender = FakeWhatsApp;

    async fn connect(&self, _dir: std::path::PathBuf, creds: Option<Creds>) -> Result<Connection<FakeWhatsApp>, String> {
        let first = if creds.is_some() { LinkEvent::Open } else { self.next_qr() };
        let (tx, rx) = mpsc::channel(64);
        let _ = tx.try_send(first);
        {
            let mut st = self.state();
            st.connects.push(creds.is_some());
            st.current = Some(tx);
        }
        self.changed.notify_waiters();
        Ok(Connection { events: rx, sender: self.clone() })
    }
}

impl MessageSender for FakeWhatsApp {
    async fn send_text(&self, jid: String, text: String, message_id: String) -> Result<(), String> {
        {
            let mut st = self.state();
            st.attempts += 1;
            if st.ids.insert(message_id.clone()) {
                st.delivered.push(Delivered { jid, text, id: message_id });
            }
        }
        self.changed.notify_waiters();
        Ok(())
    }

    async fn mark_read(&self, _chat_jid: String, _message_id: String) {}

    async fn typing(&self, _chat_jid: String) {}
}
