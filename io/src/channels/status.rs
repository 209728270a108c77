//! The health of each channel account (lock-free for readers of a snapshot: a short std
//! `Mutex`, never held across `.await`), rendered as the reference's `channels.status`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use openclaw_core::wire::channels::ChannelsHealth;
use serde_json::{json, Value};
use tokio::sync::Notify;

use super::settings::TelegramAccount;

/// What `channels.status` shows for one account.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HealthState {
    pub running: bool,
    pub connected: bool,
    pub last_start_at: Option<u64>,
    pub last_stop_at: Option<u64>,
    pub last_connected_at: Option<u64>,
    pub last_event_at: Option<u64>,
    pub last_inbound_at: Option<u64>,
    pub last_outbound_at: Option<u64>,
    pub reconnect_attempts: u32,
    /// Token masked.
    pub last_error: Option<String>,
    /// `@username` once `getMe` answered.
    pub bot_username: Option<String>,
}

/// One account's health, shared by its task and the status readers. A change of what `health`
/// summarises (running, connected, lastError, retrying or not) wakes `changed`.
#[derive(Debug, Default)]
pub struct Health {
    state: Mutex<HealthState>,
    changed: Arc<Notify>,
}

impl Health {
    /// A health whose summary changes wake `changed` (the runtime's `health` reporter).
    pub fn new(changed: Arc<Notify>) -> Self {
        Self { state: Mutex::default(), changed }
    }

    pub fn update(&self, f: impl FnOnce(&mut HealthState)) {
        let changed = match self.state.lock() {
            Ok(mut s) => {
                let before = summary(&s);
                f(&mut s);
                summary(&s) != before
            }
            Err(_) => false,
        };
        if changed {
            self.changed.notify_one();
        }
    }

    pub fn snapshot(&self) -> HealthState {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// What a `health` reader cares about (timestamps alone do not trigger a report).
fn summary(h: &HealthState) -> (bool, bool, Option<String>, bool) {
    (h.running, h.connected, h.last_error.clone(), h.reconnect_attempts > 0)
}

/// `polling` or `webhook`.
fn mode(account: &TelegramAccount) -> &'static str {
    if account.webhook.is_some() {
        "webhook"
    } else {
        "polling"
    }
}

/// One account as `channelAccounts.telegram[]` shows it.
pub fn account_json(account: &TelegramAccount, h: &HealthState) -> Value {
    let configured = account.token.is_some();
    let lifecycle = if h.connected {
        "ready"
    } else if h.running {
        "connecting"
    } else {
        "stopped"
    };
    json!({
        "accountId": account.id,
        "enabled": account.enabled,
        "lastStartAt": h.last_start_at,
        "lastStopAt": h.last_stop_at,
        "restartPending": false,
        "reconnectAttempts": h.reconnect_attempts,
        "lastConnectedAt": h.last_connected_at,
        "lastEventAt": h.last_event_at,
        "lastTransportActivityAt": h.last_event_at,
        "lifecycle": lifecycle,
        "lastInboundAt": h.last_inbound_at,
        "lastOutboundAt": h.last_outbound_at,
        "tokenSource": account.token_source.as_str(),
        "tokenStatus": if configured { "available" } else { "missing" },
        "mode": mode(account),
        "allowUnmentionedGroups": account.groups.values().any(|require| !require),
        "configured": configured,
        "running": h.running,
        "connected": h.connected,
        "lastError": h.last_error.clone().or_else(|| account.token_error.clone()),
    })
}

/// The reference's `healthState` of an account that is managed (enabled, with a token) and not
/// healthy: `not-running` when stopped, `disconnected` when running but not connected past the
/// 120 s connect grace; `None` otherwise (the reference then leaves the key out).
pub fn health_state(account: &TelegramAccount, h: &HealthState, now_ms: u64) -> Option<&'static str> {
    const CONNECT_GRACE_MS: u64 = 120_000;
    if !account.enabled || account.token.is_none() {
        return None;
    }
    if !h.running {
        return Some("not-running");
    }
    let in_grace = h.last_start_at.is_some_and(|at| now_ms.saturating_sub(at) < CONNECT_GRACE_MS);
    (!h.connected && !in_grace).then_some("disconnected")
}

/// The whole `channels.status` answer (the reference's shape, minus its event-loop probe).
pub fn status_json(now_ms: u64, accounts: &[(TelegramAccount, HealthState)]) -> Value {
    let rows: Vec<Value> = accounts
        .iter()
        .map(|(a, h)| {
            let mut row = account_json(a, h);
            if let Some(state) = health_state(a, h, now_ms) {
                row["healthState"] = json!(state);
            }
            row
        })
        .collect();
    let default = accounts.iter().find(|(a, _)| a.id == super::settings::DEFAULT_ACCOUNT).or(accounts.first());
    let mut out = json!({
        "ts": now_ms,
        "channelOrder": [],
        "channelLabels": {},
        "channelDetailLabels": {},
        "channelSystemImages": {},
        "channelMeta": [],
        "channels": {},
        "channelAccounts": {},
        "channelDefaultAccountId": {},
        "statusIssues": [],
    });
    if let Some((a, h)) = default {
        out["channelOrder"] = json!(["telegram"]);
        out["channelLabels"] = json!({"telegram": "Telegram"});
        out["channelDetailLabels"] = json!({"telegram": "Telegram Bot"});
        out["channelSystemImages"] = json!({"telegram": "paperplane"});
        out["channelMeta"] = json!([{"id": "telegram", "label": "Telegram", "detailLabel": "Telegram Bot", "systemImage": "paperplane"}]);
        out["channels"] = json!({"telegram": {
            "configured": a.token.is_some(),
            "running": h.running,
            "lastStartAt": h.last_start_at,
            "lastStopAt": h.last_stop_at,
            "lastError": h.last_error.clone().or_else(|| a.token_error.clone()),
            "tokenSource": a.token_source.as_str(),
            "lastProbeAt": null,
            "mode": mode(a),
        }});
        out["channelAccounts"] = json!({"telegram": rows});
        out["channelDefaultAccountId"] = json!({"telegram": a.id});
    }
    out
}

/// What `health` shows of the channels, as the reference: `channels.telegram` is the default
/// account's row plus `lastProbeAt` and every account under `accounts.<id>`.
pub fn health_summary(accounts: &[(TelegramAccount, HealthState)]) -> ChannelsHealth {
    let Some((default, h)) = accounts.iter().find(|(a, _)| a.id == super::settings::DEFAULT_ACCOUNT).or(accounts.first()) else {
        return ChannelsHealth::default();
    };
    let row = |a: &TelegramAccount, h: &HealthState| {
        let mut v = account_json(a, h);
        v["lastProbeAt"] = Value::Null;
        v
    };
    let mut telegram = row(default, h);
    telegram["accounts"] = Value::Object(accounts.iter().map(|(a, h)| (a.id.clone(), row(a, h))).collect());
    ChannelsHealth {
        channels: BTreeMap::from([("telegram".to_owned(), telegram)]),
        order: vec!["telegram".into()],
        labels: BTreeMap::from([("telegram".to_owned(), "Telegram".to_owned())]),
    }
}

/// Adds a probe's answer to an account row (or the channel summary): `probe`, `lastProbeAt`,
/// and the probe's error as `lastError` when there is none.
pub fn attach_probe(row: &mut Value, probe: &Value, at_ms: u64) {
    if !row.is_object() {
        return;
    }
    row["probe"] = probe.clone();
    row["lastProbeAt"] = json!(at_ms);
    if row["lastError"].is_null() {
        if let Some(e) = probe["error"].as_str().filter(|_| probe["ok"] == json!(false)) {
            row["lastError"] = json!(e);
        }
    }
}

/// Adds the WhatsApp accounts (their `channelAccounts.whatsapp[]` entries) to a
/// `channels.status` answer, as the plugin reports them: the default account's summary under
/// `channels.whatsapp`, and a `statusIssues` entry per account that is not linked.
pub fn add_whatsapp(out: &mut Value, entries: &[Value]) {
    let Some(default) = entries.iter().find(|e| e["accountId"] == super::settings::DEFAULT_ACCOUNT).or(entries.first()) else { return };
    if let Some(order) = out["channelOrder"].as_array_mut() {
        order.push(json!("whatsapp"));
    }
    out["channelLabels"]["whatsapp"] = json!("WhatsApp");
    out["channelDetailLabels"]["whatsapp"] = json!("WhatsApp Web");
    out["channelSystemImages"]["whatsapp"] = json!("message");
    if let Some(meta) = out["channelMeta"].as_array_mut() {
        meta.push(json!({"id": "whatsapp", "label": "WhatsApp", "detailLabel": "WhatsApp Web", "systemImage": "message"}));
    }
    let keys = [
        "configured", "statusState", "linked", "authAgeMs", "self", "running", "connected", "lastConnectedAt", "lastDisconnect",
        "reconnectAttempts", "lastInboundAt", "lastMessageAt", "lastEventAt", "busy", "lastRunActivityAt", "lastError", "healthState", "lifecycle",
    ];
    out["channels"]["whatsapp"] = Value::Object(keys.iter().map(|k| ((*k).to_owned(), default.get(*k).cloned().unwrap_or(Value::Null))).collect());
    out["channelAccounts"]["whatsapp"] = json!(entries);
    out["channelDefaultAccountId"]["whatsapp"] = default["accountId"].clone();
    if let Some(issues) = out["statusIssues"].as_array_mut() {
        for e in entries.iter().filter(|e| e["enabled"] == true && e["linked"] != true) {
            issues.push(json!({
                "channel": "whatsapp",
                "accountId": e["accountId"],
                "kind": "auth",
                "message": "Not linked (no WhatsApp Web session).",
                "fix": "Run: openclaw channels login (scan QR on the gateway host).",
            }));
        }
    }
}
