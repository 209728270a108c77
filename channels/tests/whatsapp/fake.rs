//! A fake WhatsApp Web behind the [`Link`] seam: a script of what each connection does, the
//! events the test pushes into the open connection, and a server side that keeps one message
//! per id (as WhatsApp does) and records every attempt, read receipt and typing indicator.

#![allow(dead_code)]

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use openclaw_channels::pairing::{PairingStore, Upsert};
use openclaw_channels::route::Peer;
use openclaw_channels::whatsapp::account::Host;
use openclaw_channels::whatsapp::creds::Creds;
use openclaw_channels::whatsapp::inbound::InboundMessage;
use openclaw_channels::whatsapp::link::{Connection, Disconnect, Link, LinkEvent, MessageSender};
use openclaw_channels::whatsapp::target::E164;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What one `connect` does.
#[derive(Clone, Debug)]
pub enum Step {
    /// The connection cannot be opened.
    Refuse(String),
    /// Opens and reports these events at once (more can be pushed later).
    Open(Vec<LinkEvent>),
}

/// One attempt to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub jid: String,
    pub text: String,
    pub id: String,
}

#[derive(Default)]
struct State {
    script: VecDeque<Step>,
    /// (when, with credentials) per connect call.
    connects: Vec<(Instant, Option<Creds>)>,
    current: Option<mpsc::Sender<LinkEvent>>,
    attempts: Vec<Attempt>,
    /// Messages the "server" kept: one per id.
    delivered: Vec<Attempt>,
    ids: BTreeSet<String>,
    /// The next send is delivered, but the connection drops before the answer.
    lose_next_answer: bool,
    reads: Vec<(String, String)>,
    typing: Vec<String>,
}

#[derive(Clone, Default)]
pub struct FakeWa(Arc<Mutex<State>>);

impl FakeWa {
    pub fn new(script: Vec<Step>) -> Self {
        let fake = Self::default();
        fake.state().script = script.into();
        fake
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().expect("fake state")
    }

    /// Pushes an event into the open connection.
    pub fn push(&self, event: LinkEvent) {
        let tx = self.state().current.clone().expect("a connection is open");
        tx.try_send(event).expect("event queued");
    }

    pub fn connects(&self) -> Vec<(Instant, Option<Creds>)> {
        self.state().connects.clone()
    }

    pub fn attempts(&self) -> Vec<Attempt> {
        self.state().attempts.clone()
    }

    pub fn delivered(&self) -> Vec<Attempt> {
        self.state().delivered.clone()
    }

    pub fn reads(&self) -> Vec<(String, String)> {
        self.state().reads.clone()
    }

    pub fn typing(&self) -> Vec<String> {
        self.state().typing.clone()
    }

    pub fn lose_next_answer(&self) {
        self.state().lose_next_answer = true;
    }
}

impl Link for FakeWa {
    type Sender = FakeWa;

    async fn connect(&self, _dir: std::path::PathBuf, creds: Option<Creds>) -> Result<Connection<FakeWa>, String> {
        let mut st = self.state();
        st.connects.push((Instant::now(), creds));
        match st.script.pop_front() {
            None => Err("script exhausted".into()),
            Some(Step::Refuse(e)) => Err(e),
            Some(Step::Open(events)) => {
                let (tx, rx) = mpsc::channel(64);
                for e in events {
                    tx.try_send(e).expect("initial event");
                }
                st.current = Some(tx);
                Ok(Connection { events: rx, sender: self.clone() })
            }
        }
    }
}

impl MessageSender for FakeWa {
    async fn send_text(&self, jid: String, text: String, message_id: String) -> Result<(), String> {
        let mut st = self.state();
        let attempt = Attempt { jid, text, id: message_id };
        st.attempts.push(attempt.clone());
        if st.ids.insert(attempt.id.clone()) {
            st.delivered.push(attempt);
        }
        if std::mem::take(&mut st.lose_next_answer) {
            return Err("connection lost before the server's ack".into());
        }
        Ok(())
    }

    async fn mark_read(&self, chat_jid: String, message_id: String) {
        self.state().reads.push((chat_jid, message_id));
    }

    async fn typing(&self, chat_jid: String) {
        self.state().typing.push(chat_jid);
    }
}

/// The gateway side: a clock on virtual time, the pairing store, an agent that echoes.
pub struct FakeHost {
    start: Instant,
    pairing: Mutex<PairingStore>,
    pub approved: Mutex<Vec<E164>>,
    /// (peer, sender, text) per agent run.
    pub runs: Mutex<Vec<(Peer, E164, String)>>,
    counter: Mutex<u8>,
}

/// Virtual-time epoch the fake clock starts at.
pub const EPOCH_MS: u64 = 1_800_000_000_000;

impl FakeHost {
    pub fn new() -> Arc<Self> {
        Arc::new(Self { start: Instant::now(), pairing: Mutex::new(PairingStore::default()), approved: Mutex::default(), runs: Mutex::default(), counter: Mutex::new(0) })
    }

    pub fn runs(&self) -> Vec<(Peer, E164, String)> {
        self.runs.lock().expect("runs").clone()
    }
}

impl Host for FakeHost {
    fn now_ms(&self) -> u64 {
        EPOCH_MS + self.start.elapsed().as_millis() as u64
    }

    fn approved(&self) -> Vec<E164> {
        self.approved.lock().expect("approved").clone()
    }

    fn pair(&self, sender: &E164, name: Option<&str>) -> Option<openclaw_channels::pairing::PairingCode> {
        let now = self.now_ms();
        let mut counter = self.counter.lock().expect("counter");
        let upsert = self.pairing.lock().expect("pairing").upsert(sender.as_str(), "default", name, now, || {
            *counter += 1;
            [*counter; 8]
        });
        match upsert {
            Upsert::Created(code) => Some(code),
            Upsert::Existing(_) => None,
        }
    }

    async fn run_agent(&self, peer: Peer, sender: E164, text: String) -> Option<String> {
        self.runs.lock().expect("runs").push((peer, sender, text.clone()));
        Some(format!("echo: {text}"))
    }
}

/// Linked credentials for `number` (Baileys' `me.id` shape).
pub fn creds_for(number: &str) -> Creds {
    Creds::new(json!({"me": {"id": format!("{number}:7@s.whatsapp.net"), "name": "bot"}, "noiseKey": "x"})).expect("creds")
}

pub fn closed(status: u16, error: &str, logged_out: bool) -> LinkEvent {
    LinkEvent::Closed(Disconnect { status: Some(status), error: error.into(), logged_out })
}

/// A text DM from `from` (digits) at virtual time `at_ms`.
pub fn dm(id: &str, from: &str, text: &str, from_me: bool, at_ms: u64) -> LinkEvent {
    LinkEvent::Message(InboundMessage {
        id: id.into(),
        chat_jid: format!("{from}@s.whatsapp.net"),
        participant_jid: None,
        from_me,
        text: text.into(),
        timestamp_ms: at_ms,
        push_name: Some("Ann".into()),
        mentioned_jids: vec![],
    })
}
