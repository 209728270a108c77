//! The QR login methods the reference's apps use (channels-agent-nodes.md §4.2, the plugin's
//! `login-qr`): `web.login.start` stops the account and opens a login connection, answering the
//! first QR as a PNG data URL; `web.login.wait` waits for the scan, answering a rotated QR when
//! the caller's `currentQrDataUrl` is no longer the latest, and starts the account once linked.
//! A login lives 3 minutes. Texts are the plugin's.
//!
//! Beyond the reference, each answer with a QR also carries `qr` (the raw QR payload), which
//! `openclaw channels login` renders in the terminal.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use openclaw_channels::whatsapp::account::{login, LoginError, LoginOutcome};
use openclaw_channels::whatsapp::qr;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::whatsapp::WhatsAppRuntime;
use crate::clock;

/// How long a login (and its QR) stays usable (`ACTIVE_LOGIN_TTL_MS`).
pub const LOGIN_TTL: Duration = Duration::from_secs(180);
/// `web.login.start`: how long to wait for the first QR (default, minimum).
const QR_WAIT: (u64, u64) = (30_000, 5_000);
/// `web.login.wait`: how long to wait (default, minimum).
const SCAN_WAIT: (u64, u64) = (120_000, 1_000);

pub const LOGGED_OUT_MESSAGE: &str = "WhatsApp reported the session is logged out. Cleared cached web session; please scan a new QR.";
const STILL_WAITING: &str = "Still waiting for the QR scan. Let me know when you’ve scanned it.";

/// The latest QR of a login: raw payload and data URL.
#[derive(Clone, Debug, Default, PartialEq)]
struct Qr {
    raw: String,
    url: String,
}

/// How a login task ended.
#[derive(Clone, Debug, PartialEq)]
enum Ended {
    Linked,
    Failed { message: String, logged_out: bool },
}

struct Active {
    started_ms: u64,
    qr: watch::Receiver<Option<Qr>>,
    ended: watch::Receiver<Option<Ended>>,
    task: JoinHandle<()>,
}

/// A login's start time and what to watch: its latest QR, its outcome.
type Watchers = (u64, watch::Receiver<Option<Qr>>, watch::Receiver<Option<Ended>>);

/// The logins in progress, by account.
#[derive(Default)]
pub struct Logins(Mutex<BTreeMap<String, Active>>);

impl Logins {
    pub fn abort(&self, account: &str) {
        if let Some(a) = self.0.lock().ok().and_then(|mut m| m.remove(account)) {
            a.task.abort();
        }
    }

    pub fn abort_all(&self) {
        if let Ok(mut m) = self.0.lock() {
            for (_, a) in std::mem::take(&mut *m) {
                a.task.abort();
            }
        }
    }

    fn watchers(&self, account: &str) -> Option<Watchers> {
        let m = self.0.lock().ok()?;
        m.get(account).map(|a| (a.started_ms, a.qr.clone(), a.ended.clone()))
    }
}

fn bounded(value: Option<u64>, (default, min): (u64, u64)) -> Duration {
    Duration::from_millis(value.unwrap_or(default).max(min))
}

fn qr_answer(qr: &Qr, message: &str) -> Value {
    json!({"qrDataUrl": qr.url, "qr": qr.raw, "message": message})
}

/// `web.login.start {accountId?, force?, timeoutMs?}`.
pub async fn start(rt: &WhatsAppRuntime, account_id: Option<&str>, force: bool, timeout_ms: Option<u64>) -> Result<Value, String> {
    let Some(account) = rt.account(account_id) else {
        return Err(match account_id {
            Some(a) if !a.trim().is_empty() => format!("unknown whatsapp account: {a}"),
            _ => "WhatsApp is not configured (set channels.whatsapp)".into(),
        });
    };
    let id = account.id;
    if let Err(e) = rt.can_link() {
        return Ok(json!({"message": format!("Failed to start WhatsApp login: {e}")}));
    }
    let (link, creds) = {
        let inner = rt.inner.lock().map_err(|_| "whatsapp state poisoned".to_owned())?;
        let Some(channel) = inner.as_ref().map(|i| &i.channel) else { return Err("WhatsApp is not configured".into()) };
        match (rt.link.clone(), channel.creds(&id)) {
            (Some(link), Some(creds)) => (link, creds),
            _ => return Ok(json!({"message": format!("Failed to start WhatsApp login: account {id} is disabled")})),
        }
    };
    let now = clock::wall().0;
    if !force {
        if let Ok(Some(c)) = creds.load() {
            rt.start_linked();
            let who = c.self_number().map(|n| n.to_string()).or_else(|| c.me_jid().map(str::to_owned)).unwrap_or_else(|| "unknown".into());
            return Ok(json!({"message": format!("WhatsApp is already linked ({who}). Say “relink” if you want a fresh QR.")}));
        }
        if let Some((started, qr, _)) = rt.logins.watchers(&id) {
            let latest = qr.borrow().clone();
            if let (true, Some(q)) = (now.saturating_sub(started) < LOGIN_TTL.as_millis() as u64, latest) {
                return Ok(qr_answer(&q, "QR already active. Scan it in WhatsApp → Linked Devices."));
            }
        }
    }
    // The login takes the account's connection: stop its loop first.
    rt.logins.abort(&id);
    let task = rt.inner.lock().ok().and_then(|mut i| i.as_mut().and_then(|i| i.channel.detach(&id)));
    if let Some(t) = task {
        let _ = t.await;
    }
    let (qr_tx, mut qr_rx) = watch::channel(None::<Qr>);
    let (end_tx, mut end_rx) = watch::channel(None::<Ended>);
    let task = tokio::spawn(async move {
        let on_qr = |raw: &str| match qr::png_data_url(raw) {
            Ok(url) => {
                qr_tx.send_replace(Some(Qr { raw: raw.to_owned(), url }));
            }
            Err(e) => tracing::warn!("whatsapp: {e}"),
        };
        let ended = match login(&link, &creds, force, LOGIN_TTL, on_qr).await {
            Ok(LoginOutcome::Linked(_) | LoginOutcome::AlreadyLinked(_)) => Ended::Linked,
            Err(LoginError::LoggedOut) => Ended::Failed { message: LOGGED_OUT_MESSAGE.into(), logged_out: true },
            Err(e) => Ended::Failed { message: e.to_string(), logged_out: false },
        };
        end_tx.send_replace(Some(ended));
    });
    if let Ok(mut m) = rt.logins.0.lock() {
        if let Some(old) = m.insert(id.clone(), Active { started_ms: now, qr: qr_rx.clone(), ended: end_rx.clone(), task }) {
            old.task.abort();
        }
    }
    let first = async {
        tokio::select! {
            r = qr_rx.wait_for(Option::is_some) => r.ok().and_then(|q| q.clone()).map(Ok),
            r = end_rx.wait_for(Option::is_some) => r.ok().and_then(|e| e.clone()).map(Err),
        }
    };
    match tokio::time::timeout(bounded(timeout_ms, QR_WAIT), first).await {
        Ok(Some(Ok(qr))) => Ok(qr_answer(&qr, "Scan this QR in WhatsApp → Linked Devices.")),
        Ok(Some(Err(Ended::Linked))) => {
            rt.logins.abort(&id);
            rt.start_linked();
            Ok(json!({"message": "WhatsApp recovered the existing linked session.", "connected": true}))
        }
        Ok(Some(Err(Ended::Failed { message, .. }))) => {
            rt.logins.abort(&id);
            Ok(json!({"message": format!("Failed to get QR: {message}")}))
        }
        Ok(None) | Err(_) => {
            rt.logins.abort(&id);
            Ok(json!({"message": "Failed to get QR: Error: Timed out waiting for WhatsApp QR"}))
        }
    }
}

/// `web.login.wait {accountId?, timeoutMs?, currentQrDataUrl?}`.
pub async fn wait(rt: &WhatsAppRuntime, account_id: Option<&str>, timeout_ms: Option<u64>, current: Option<&str>) -> Result<Value, String> {
    let id = rt.account(account_id).map(|a| a.id).unwrap_or_else(|| super::store::state_account_id(account_id.unwrap_or_default()));
    let not_connected = |message: &str| json!({"connected": false, "message": message});
    let Some((started, mut qr, mut ended)) = rt.logins.watchers(&id) else {
        return Ok(not_connected("No active WhatsApp login in progress."));
    };
    if clock::wall().0.saturating_sub(started) >= LOGIN_TTL.as_millis() as u64 {
        rt.logins.abort(&id);
        return Ok(not_connected("The login QR expired. Ask me to generate a new one."));
    }
    let deadline = clock::deadline_in(bounded(timeout_ms, SCAN_WAIT));
    let mut qr_open = true;
    loop {
        let end = ended.borrow_and_update().clone();
        match end {
            Some(Ended::Linked) => {
                rt.logins.abort(&id);
                rt.start_linked();
                return Ok(json!({"connected": true, "message": "✅ Linked! WhatsApp is ready."}));
            }
            Some(Ended::Failed { message, logged_out }) => {
                rt.logins.abort(&id);
                let message = if logged_out { message } else { format!("WhatsApp login failed: {message}") };
                return Ok(not_connected(&message));
            }
            None => {}
        }
        let latest = qr.borrow_and_update().clone();
        if let (Some(q), Some(cur)) = (&latest, current) {
            if q.url != cur {
                let mut answer = qr_answer(q, "QR refreshed. Scan the latest code in WhatsApp → Linked Devices.");
                answer["connected"] = json!(false);
                return Ok(answer);
            }
        }
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => return Ok(not_connected(STILL_WAITING)),
            r = ended.changed() => if r.is_err() && ended.borrow().is_none() { return Ok(not_connected("Login ended without a connection.")) },
            // The QR sender goes away just before the outcome is published: wait for it.
            r = qr.changed(), if qr_open => qr_open = r.is_ok(),
        }
    }
}
