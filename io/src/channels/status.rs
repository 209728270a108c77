//! The health of each channel account (lock-free for readers of a snapshot: a short std
//! `Mutex`, never held across `.await`), rendered as the reference's `channels.status`.

use std::sync::Mutex;

use serde_json::{json, Value};

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

/// One account's health, shared by its task and the status readers.
#[derive(Debug, Default)]
pub struct Health(Mutex<HealthState>);

impl Health {
    pub fn update(&self, f: impl FnOnce(&mut HealthState)) {
        if let Ok(mut s) = self.0.lock() {
            f(&mut s);
        }
    }

    pub fn snapshot(&self) -> HealthState {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
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
        "mode": "polling",
        "allowUnmentionedGroups": account.groups.values().any(|require| !require),
        "configured": configured,
        "running": h.running,
        "connected": h.connected,
        "lastError": h.last_error.clone().or_else(|| account.token_error.clone()),
    })
}

/// The whole `channels.status` answer (the reference's shape, minus its event-loop probe).
pub fn status_json(now_ms: u64, accounts: &[(TelegramAccount, HealthState)]) -> Value {
    let rows: Vec<Value> = accounts.iter().map(|(a, h)| account_json(a, h)).collect();
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
            "mode": "polling",
        }});
        out["channelAccounts"] = json!({"telegram": rows});
        out["channelDefaultAccountId"] = json!({"telegram": a.id});
    }
    out
}
