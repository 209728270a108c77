//! The WhatsApp account against a fake WhatsApp Web at the [`Link`] seam, on virtual time:
//! QR login (rotation, pairing restart, persistence), not linked, logout, reconnect backoff,
//! inbound → agent → reply (pairing, echoes, read receipts), and a `send` retried after a crash
//! without a duplicate.

#[path = "whatsapp/fake.rs"]
mod fake;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fake::{closed, creds_for, dm, FakeHost, FakeWa, Step, EPOCH_MS};
use openclaw_channels::backoff::Jitter;
use openclaw_channels::policy::DmPolicy;
use openclaw_channels::route::Peer;
use openclaw_channels::whatsapp::account::{login, Account, AccountConfig, AccountHandle, Exit, LoginError, LoginOutcome, SendError, SendRequest, WHATSAPP_RECONNECT};
use openclaw_channels::whatsapp::creds::CredsStore;
use openclaw_channels::whatsapp::inbound::Access;
use openclaw_channels::whatsapp::ledger::Ledger;
use openclaw_channels::whatsapp::link::LinkEvent;
use openclaw_channels::whatsapp::not_linked_message;
use openclaw_channels::whatsapp::target::{normalize_target, E164};

const OWN: &str = "15550001111";
const SEED: u64 = 42;

struct Dirs(PathBuf);

impl Dirs {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("openclaw-wa-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
    fn creds(&self) -> CredsStore {
        CredsStore::new(&self.0, "default").expect("creds store")
    }
    fn ledger(&self) -> Ledger {
        Ledger::open(Ledger::default_path(&self.0, "default")).expect("ledger")
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(policy: DmPolicy) -> AccountConfig {
    AccountConfig::new("default", Access { dm_policy: policy, ..Access::default() }, SEED)
}

fn start(fake: &FakeWa, host: &Arc<FakeHost>, dirs: &Dirs, config: AccountConfig) -> (AccountHandle, tokio::task::JoinHandle<Exit>) {
    let (account, handle) = Account::new(fake.clone(), host.clone(), dirs.creds(), dirs.ledger(), config);
    (handle, tokio::spawn(account.run()))
}

/// Waits (without moving the virtual clock) until `cond` holds.
async fn until(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..100_000 {
        if cond() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("never happened: {what}");
}

fn send_req(key: &str, to: &str, text: &str) -> SendRequest {
    SendRequest { idempotency_key: key.into(), target: normalize_target(to).expect("target"), text: text.into() }
}

#[tokio::test(start_paused = true)]
async fn an_account_that_was_never_linked_ends_without_a_reconnect_loop_and_sends_answer_not_linked() {
    let dirs = Dirs::new("unlinked");
    let fake = FakeWa::new(vec![]);
    let host = FakeHost::new();
    let (handle, task) = start(&fake, &host, &dirs, config(DmPolicy::Pairing));
    assert_eq!(task.await.expect("join"), Exit::NotLinked);
    assert!(fake.connects().is_empty(), "no connection attempted");
    let status = handle.status();
    assert!(!status.linked && !status.running && !status.connected);
    assert_eq!(status.last_error.as_deref(), Some("not linked"));
    let err = handle.send(send_req("k1", "+1 555 222 3333", "hi")).await.expect_err("not linked");
    assert_eq!(err, SendError::NotLinked(not_linked_message("default")));
    assert_eq!(err.to_string(), "No active WhatsApp Web listener (account: default). Start the gateway, then link WhatsApp with: openclaw channels login --channel whatsapp --account default.");
}

#[tokio::test(start_paused = true)]
async fn qr_login_shows_each_rotated_qr_saves_the_pairing_and_reconnects_once_after_515() {
    let dirs = Dirs::new("login");
    let fake = FakeWa::new(vec![
        Step::Open(vec![LinkEvent::Qr("qr-1".into()), LinkEvent::Qr("qr-2".into()), LinkEvent::Creds(creds_for(OWN)), closed(515, "restart required", false)]),
        Step::Open(vec![LinkEvent::Open]),
    ]);
    let mut qrs = Vec::new();
    let outcome = login(&fake, &dirs.creds(), false, Duration::from_secs(60), |q| qrs.push(q.to_owned())).await.expect("login");
    assert_eq!(outcome, LoginOutcome::Linked(E164::from_digits_of(OWN)));
    assert_eq!(qrs, ["qr-1", "qr-2"], "every rotated QR is shown");
    let connects = fake.connects();
    assert_eq!(connects.len(), 2);
    assert!(connects[0].1.is_none(), "the login starts without credentials");
    assert_eq!(connects[1].1, Some(creds_for(OWN)), "the restart uses the new credentials");
    // A restart (a new store over the same folder) sees the link.
    assert!(dirs.creds().is_linked());
    let again = login(&fake, &dirs.creds(), false, Duration::from_secs(60), |_| panic!("no QR when linked")).await.expect("login");
    assert_eq!(again, LoginOutcome::AlreadyLinked(E164::from_digits_of(OWN)));
    assert_eq!(fake.connects().len(), 2, "already linked: no connection");
}

#[tokio::test(start_paused = true)]
async fn a_login_nobody_scans_times_out_and_a_refused_one_leaves_nothing_behind() {
    let dirs = Dirs::new("login-fail");
    let fake = FakeWa::new(vec![Step::Open(vec![LinkEvent::Qr("qr-1".into())]), Step::Open(vec![LinkEvent::Creds(creds_for(OWN)), closed(401, "logged out", true)])]);
    let err = login(&fake, &dirs.creds(), false, Duration::from_secs(30), |_| {}).await.expect_err("timeout");
    assert!(matches!(err, LoginError::TimedOut), "{err}");
    let err = login(&fake, &dirs.creds(), false, Duration::from_secs(30), |_| {}).await.expect_err("logged out");
    assert!(matches!(err, LoginError::LoggedOut), "{err}");
    assert!(!dirs.creds().is_linked() && !dirs.creds().dir().exists(), "refused credentials are wiped");
}

#[tokio::test(start_paused = true)]
async fn a_logout_records_last_disconnect_deletes_the_credentials_and_does_not_reconnect() {
    let dirs = Dirs::new("logout");
    dirs.creds().save(&creds_for(OWN)).expect("linked");
    let fake = FakeWa::new(vec![Step::Open(vec![LinkEvent::Open]), Step::Open(vec![LinkEvent::Open])]);
    let host = FakeHost::new();
    let (mut handle, task) = start(&fake, &host, &dirs, config(DmPolicy::Pairing));
    let status = handle.wait_for(|s| s.connected).await;
    assert!(status.linked && status.running);
    assert_eq!(status.self_number, E164::from_digits_of(OWN));
    tokio::time::advance(Duration::from_secs(5)).await;
    fake.push(closed(401, "Connection Failure", true));
    assert_eq!(task.await.expect("join"), Exit::LoggedOut);
    let status = handle.status();
    let last = status.last_disconnect.clone().expect("lastDisconnect");
    assert_eq!((last.status, last.error.as_str(), last.logged_out), (Some(401), "Connection Failure", true));
    assert!(last.at_ms >= EPOCH_MS + 5_000);
    assert!(!status.linked && !status.running && !status.connected);
    assert_eq!(status.last_error.as_deref(), Some("logged out"));
    assert!(!dirs.creds().dir().exists(), "credentials deleted");
    tokio::time::advance(Duration::from_secs(600)).await;
    assert_eq!(fake.connects().len(), 1, "no reconnect after a logout");
    let json = status.to_json();
    assert_eq!(json["lastDisconnect"], serde_json::json!({"at": last.at_ms, "status": 401, "error": "Connection Failure", "loggedOut": true}));
    assert!(matches!(handle.send(send_req("k", OWN, "x")).await, Err(SendError::NotLinked(_))));
}

#[tokio::test(start_paused = true)]
async fn reconnects_follow_the_web_reconnect_backoff_and_give_up_at_max_attempts() {
    let dirs = Dirs::new("backoff");
    dirs.creds().save(&creds_for(OWN)).expect("linked");
    let fake = FakeWa::new(vec![
        Step::Open(vec![LinkEvent::Open, closed(428, "Connection Closed", false)]),
        Step::Refuse("connect ECONNREFUSED".into()),
        Step::Refuse("connect ECONNREFUSED".into()),
        Step::Open(vec![LinkEvent::Open]),
    ]);
    let host = FakeHost::new();
    let (mut handle, task) = start(&fake, &host, &dirs, config(DmPolicy::Pairing));
    handle.wait_for(|s| s.connected && s.reconnect_attempts == 3).await;
    let at: Vec<_> = fake.connects().iter().map(|(t, _)| *t).collect();
    assert_eq!(at.len(), 4);
    // The delays are exactly the policy's, with the account's seeded jitter.
    let mut jitter = Jitter::new(SEED);
    for (i, pair) in at.windows(2).enumerate() {
        let attempt = i as u32 + 1;
        let want = WHATSAPP_RECONNECT.delay(attempt, jitter.next_fraction());
        assert_eq!(pair[1] - pair[0], want, "delay before reconnect {attempt}");
        let base = WHATSAPP_RECONNECT.delay(attempt, 0.0);
        assert!(want >= base && want.as_millis() <= base.as_millis() * 125 / 100);
    }
    let status = handle.status();
    assert_eq!(status.last_disconnect.as_ref().map(|d| (d.status, d.error.as_str(), d.logged_out)), Some((None, "connect ECONNREFUSED", false)));
    assert!(status.linked && status.running);
    task.abort();

    // maxAttempts: three failures in a row end the loop, credentials kept.
    let fake = FakeWa::new(vec![Step::Refuse("down".into()), Step::Refuse("down".into()), Step::Refuse("down".into()), Step::Open(vec![])]);
    let mut cfg = config(DmPolicy::Pairing);
    cfg.max_attempts = 3;
    let (handle, task) = start(&fake, &host, &dirs, cfg);
    assert!(matches!(task.await.expect("join"), Exit::GaveUp(_)));
    assert_eq!(fake.connects().len(), 3);
    assert!(dirs.creds().is_linked());
    assert_eq!(handle.status().last_error.as_deref(), Some("gave up after 3 reconnect attempts: down"));
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_stayed_up_restarts_the_attempt_counter() {
    let dirs = Dirs::new("uptime");
    dirs.creds().save(&creds_for(OWN)).expect("linked");
    let fake = FakeWa::new(vec![
        Step::Open(vec![LinkEvent::Open, closed(428, "lost", false)]),
        Step::Open(vec![LinkEvent::Open]),
        Step::Open(vec![LinkEvent::Open]),
    ]);
    let host = FakeHost::new();
    let (mut handle, task) = start(&fake, &host, &dirs, config(DmPolicy::Pairing));
    handle.wait_for(|s| s.connected && s.reconnect_attempts == 1).await;
    // Up for longer than the heartbeat (60 s), then dropped: attempt 1 again, not 2.
    tokio::time::advance(Duration::from_secs(61)).await;
    fake.push(closed(428, "lost again", false));
    let status = handle.wait_for(|s| s.connected && fake.connects().len() == 3).await;
    assert_eq!(status.reconnect_attempts, 1);
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn inbound_messages_run_the_agent_and_the_reply_goes_back_once() {
    let dirs = Dirs::new("inbound");
    dirs.creds().save(&creds_for(OWN)).expect("linked");
    let fake = FakeWa::new(vec![Step::Open(vec![LinkEvent::Open])]);
    let host = FakeHost::new();
    host.approved.lock().expect("approved").push(E164::from_digits_of("15552223333").expect("n"));
    let (mut handle, task) = start(&fake, &host, &dirs, config(DmPolicy::Pairing));
    handle.wait_for(|s| s.connected).await;

    // An approved sender: read receipt, typing, agent, reply to the chat.
    fake.push(dm("IN1", "15552223333", "hello", false, EPOCH_MS));
    until("the reply", || fake.delivered().len() == 1).await;
    let reply = &fake.delivered()[0];
    assert_eq!((reply.jid.as_str(), reply.text.as_str()), ("15552223333@s.whatsapp.net", "echo: hello"));
    assert_eq!(fake.reads(), [("15552223333@s.whatsapp.net".to_owned(), "IN1".to_owned())]);
    assert_eq!(fake.typing(), ["15552223333@s.whatsapp.net"]);
    assert_eq!(host.runs(), [(Peer::Direct("+15552223333".into()), E164::from_digits_of("15552223333").expect("n"), "hello".into())]);

    // Self-chat: processed without a read receipt; the echo of our own reply is not.
    fake.push(dm("IN2", OWN, "note to self", true, EPOCH_MS));
    until("the self-chat reply", || fake.delivered().len() == 2).await;
    let echo_id = fake.delivered()[1].id.clone();
    fake.push(dm(&echo_id, OWN, "echo: note to self", true, EPOCH_MS));
    // Our outbound message to someone else, seen from the phone: skipped.
    fake.push(dm("OUT9", "15559998888", "sent from my phone", true, EPOCH_MS));
    // An unknown sender: a pairing code, once.
    fake.push(dm("IN3", "15557776666", "who are you", false, EPOCH_MS));
    fake.push(dm("IN4", "15557776666", "hello?", false, EPOCH_MS));
    until("the pairing reply", || fake.delivered().len() == 3).await;
    let pairing = fake.delivered()[2].clone();
    assert_eq!(pairing.jid, "15557776666@s.whatsapp.net");
    assert!(pairing.text.starts_with("OpenClaw: access not configured.\n\nYour WhatsApp phone number: +15557776666\nPairing code:\n```\n"), "{}", pairing.text);
    assert!(pairing.text.contains("openclaw pairing approve whatsapp "));
    // Let everything queued settle, then count.
    fake.push(dm("IN5", "15552223333", "last", false, EPOCH_MS));
    until("the last reply", || fake.delivered().len() == 4).await;
    assert_eq!(host.runs().len(), 3, "hello, note to self, last: {:?}", host.runs());
    assert_eq!(fake.reads().len(), 2, "no receipt in the self-chat, none for refused senders");
    assert!(handle.status().last_message_at.is_some());
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn a_send_retried_after_a_crash_is_delivered_once() {
    let dirs = Dirs::new("idem");
    dirs.creds().save(&creds_for(OWN)).expect("linked");
    let host = FakeHost::new();
    let fake = FakeWa::new(vec![Step::Open(vec![LinkEvent::Open]), Step::Open(vec![LinkEvent::Open]), Step::Open(vec![LinkEvent::Open])]);

    // Gateway 1: the message reaches WhatsApp, the answer is lost, then the gateway dies.
    let (mut handle, task) = start(&fake, &host, &dirs, config(DmPolicy::Pairing));
    handle.wait_for(|s| s.connected).await;
    fake.lose_next_answer();
    let err = handle.send(send_req("idem-1", "+1 (555) 222-3333", "hi there")).await.expect_err("answer lost");
    assert!(matches!(err, SendError::Failed(_)), "{err:?}");
    task.abort();
    let _ = task.await;

    // Gateway 2, same state dir: the caller retries with the same key.
    let (mut handle, task) = start(&fake, &host, &dirs, config(DmPolicy::Pairing));
    handle.wait_for(|s| s.connected).await;
    let sent = handle.send(send_req("idem-1", "+1 (555) 222-3333", "hi there")).await.expect("sent");
    assert_eq!(sent.to_jid, "15552223333@s.whatsapp.net");
    let attempts = fake.attempts();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].id, attempts[1].id, "the retry reuses the message id");
    assert_eq!(attempts[1].id, sent.message_id);
    assert_eq!(fake.delivered().len(), 1, "WhatsApp keeps one message per id: no duplicate");
    // Once acknowledged, a retry is answered from the ledger without sending.
    let again = handle.send(send_req("idem-1", "+15552223333", "hi there")).await.expect("replayed");
    assert_eq!(again, sent);
    assert_eq!(fake.attempts().len(), 2);
    // Another key is another message.
    let other = handle.send(send_req("idem-2", "120363000000000001@g.us", "to the group")).await.expect("sent");
    assert_ne!(other.message_id, sent.message_id);
    assert_eq!(other.to_jid, "120363000000000001@g.us");
    task.abort();
    let _ = task.await;

    // Gateway 3: the acknowledged send survives a restart too.
    let (mut handle, task) = start(&fake, &host, &dirs, config(DmPolicy::Pairing));
    handle.wait_for(|s| s.connected).await;
    assert_eq!(handle.send(send_req("idem-1", "+15552223333", "hi there")).await.expect("replayed"), sent);
    assert_eq!(fake.attempts().len(), 3, "nothing sent again");
    task.abort();
}
