//! WhatsApp in the gateway: `channels.whatsapp` projected into accounts, the accounts held as one
//! [`Channel`] over the build's protocol implementation ([`BoxLink`]; none in a default build),
//! started with the gateway and restarted on reload; `send` through it (NOT_LINKED with the
//! reference's text when an account has no open connection), its `channels.status` entries,
//! `channels.logout`, and the QR login methods (`web.login.start` / `web.login.wait`, in
//! [`super::wa_login`]).
//!
//! The channel sits behind a std `Mutex` that is never held across `.await`: sends clone the
//! account's handle out, stops abort under the lock and await outside it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use openclaw_channels::pairing::Upsert;
use openclaw_channels::policy::{DmPolicy, GroupPolicy};
use openclaw_channels::route::{session_key, DmScope, Peer, RouteInput};
use openclaw_channels::whatsapp::account::{AccountConfig, Host, SendError, SendRequest, Sent};
use openclaw_channels::whatsapp::channel::{Channel, NOT_BUILT_IN};
use openclaw_channels::whatsapp::inbound::Access;
use openclaw_channels::whatsapp::link::BoxLink;
use openclaw_channels::whatsapp::target::{parse_allow_entry, AllowEntry, E164};
use openclaw_core::auth::scopes::{Scope, ScopeSet};
use openclaw_core::config::{AllowFromEntry, Config, DmPolicySetting, GroupPolicySetting, WhatsAppAccountConfig};
use openclaw_core::hub::RunOutcome;
use openclaw_core::wire::agent::AgentParams;
use openclaw_core::{Caller, CallerEvent};
use serde_json::{json, Value};

use super::settings::DEFAULT_ACCOUNT;
use super::store;
use crate::callers::HubHandle;
use crate::clock;
use crate::settings::SettingsError;
use crate::state_db::StateDb;

/// One configured WhatsApp account.
#[derive(Clone, Debug, PartialEq)]
pub struct WhatsAppAccount {
    pub id: String,
    pub enabled: bool,
    pub access: Access,
    pub read_receipts: bool,
}

impl WhatsAppAccount {
    fn dm_policy_str(&self) -> &'static str {
        match self.access.dm_policy {
            DmPolicy::Pairing => "pairing",
            DmPolicy::Allowlist => "allowlist",
            DmPolicy::Open => "open",
            DmPolicy::Disabled => "disabled",
        }
    }
}

/// `channels.whatsapp` as accounts (empty when the section is absent): the default account
/// unless only named accounts are configured, then each `accounts.<id>` over the top-level keys.
pub fn project(config: &Config) -> Result<Vec<WhatsAppAccount>, SettingsError> {
    let Some(wa) = config.channels.as_ref().and_then(|c| c.whatsapp.as_ref()) else { return Ok(Vec::new()) };
    let base = wa.base();
    let top_enabled = base.enabled.unwrap_or(true);
    let named = wa.accounts.clone().unwrap_or_default();
    let mut out = Vec::new();
    if named.is_empty() || named.contains_key(DEFAULT_ACCOUNT) {
        let over = named.get(DEFAULT_ACCOUNT).cloned().unwrap_or_default();
        out.push(account(DEFAULT_ACCOUNT, &merge(&base, &over), top_enabled, "channels.whatsapp")?);
    }
    for (id, over) in named.iter().filter(|(id, _)| id.as_str() != DEFAULT_ACCOUNT) {
        out.push(account(id, &merge(&base, over), top_enabled, &format!("channels.whatsapp.accounts.{id}"))?);
    }
    Ok(out)
}

fn merge(base: &WhatsAppAccountConfig, over: &WhatsAppAccountConfig) -> WhatsAppAccountConfig {
    WhatsAppAccountConfig {
        enabled: over.enabled.or(base.enabled),
        dm_policy: over.dm_policy.or(base.dm_policy),
        allow_from: over.allow_from.clone().or_else(|| base.allow_from.clone()),
        group_policy: over.group_policy.or(base.group_policy),
        group_allow_from: over.group_allow_from.clone().or_else(|| base.group_allow_from.clone()),
        groups: over.groups.clone().or_else(|| base.groups.clone()),
        send_read_receipts: over.send_read_receipts.or(base.send_read_receipts),
    }
}

fn entries(list: &[AllowFromEntry], key: &str) -> Result<Vec<AllowEntry>, SettingsError> {
    list.iter().map(|e| parse_allow_entry(&e.as_text()).map_err(|message| SettingsError { field: key.to_owned(), message })).collect()
}

fn account(id: &str, c: &WhatsAppAccountConfig, top_enabled: bool, key: &str) -> Result<WhatsAppAccount, SettingsError> {
    if openclaw_channels::whatsapp::creds::CredsStore::new(std::path::Path::new("/"), id).is_err() {
        return Err(SettingsError { field: key.to_owned(), message: format!("account id {id:?} is not usable (letters, digits, '-' and '_' only)") });
    }
    let dm_policy = match c.dm_policy {
        None | Some(DmPolicySetting::Pairing) => DmPolicy::Pairing,
        Some(DmPolicySetting::Allowlist) => DmPolicy::Allowlist,
        Some(DmPolicySetting::Open) => DmPolicy::Open,
        Some(DmPolicySetting::Disabled) => DmPolicy::Disabled,
    };
    let allow_from = entries(c.allow_from.as_deref().unwrap_or_default(), &format!("{key}.allowFrom"))?;
    if dm_policy == DmPolicy::Open && !allow_from.contains(&AllowEntry::Anyone) {
        return Err(SettingsError { field: format!("{key}.dmPolicy"), message: "dmPolicy \"open\" requires allowFrom to include \"*\"".into() });
    }
    let group_allow_from = c.group_allow_from.as_deref().map(|l| entries(l, &format!("{key}.groupAllowFrom"))).transpose()?;
    let group_policy = match c.group_policy {
        Some(GroupPolicySetting::Open) => GroupPolicy::Open,
        None | Some(GroupPolicySetting::Allowlist) => GroupPolicy::Allowlist,
        Some(GroupPolicySetting::Disabled) => GroupPolicy::Disabled,
    };
    let groups = c.groups.iter().flatten().map(|(k, g)| (k.clone(), g.require_mention.unwrap_or(true))).collect();
    Ok(WhatsAppAccount {
        id: id.to_owned(),
        enabled: top_enabled && c.enabled.unwrap_or(true),
        access: Access { dm_policy, allow_from, group_policy, group_allow_from, groups },
        read_receipts: c.send_read_receipts.unwrap_or(true),
    })
}

/// What an account's loop asks of the gateway: the clock, the pairing store, agent runs.
pub struct WaHost {
    account: String,
    routing: (DmScope, String),
    db: Arc<StateDb>,
    hub: HubHandle,
}

impl Host for WaHost {
    fn now_ms(&self) -> u64 {
        clock::wall().0
    }

    fn approved(&self) -> Vec<E164> {
        // A short indexed read of the state database (the loop asks once per inbound message).
        store::approved_entries(&self.db, "whatsapp", &self.account)
            .unwrap_or_default()
            .iter()
            .filter_map(|e| E164::from_digits_of(e))
            .collect()
    }

    fn pair(&self, sender: &E164, name: Option<&str>) -> Option<openclaw_channels::pairing::PairingCode> {
        match store::pairing_upsert(&self.db, "whatsapp", &self.account, sender.as_str(), name, clock::wall().0) {
            Ok(Upsert::Created(code)) => Some(code),
            Ok(Upsert::Existing(_)) => None,
            Err(e) => {
                tracing::warn!(account = %self.account, "whatsapp: pairing store: {e}");
                None
            }
        }
    }

    async fn run_agent(&self, peer: Peer, sender: E164, text: String) -> Option<String> {
        let key = session_key(&RouteInput {
            agent_id: "main",
            main_key: &self.routing.1,
            dm_scope: self.routing.0,
            channel: "whatsapp",
            account_id: &self.account,
            peer: &peer,
        });
        let mut id = [0u8; 12];
        let _ = getrandom::fill(&mut id);
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let params = AgentParams {
            message: text,
            idempotency_key: format!("whatsapp:{}:{id}", self.account),
            session_key: Some(key),
            channel: Some("whatsapp".into()),
            account_id: Some(self.account.clone()),
            to: Some(sender.to_string()),
            ..AgentParams::default()
        };
        let caller = Caller::Channel { channel: "whatsapp".into(), account: self.account.clone(), peer: sender.to_string() };
        let mut scopes = ScopeSet::empty();
        scopes.insert(Scope::Write);
        let mut stream = match self.hub.start_run(caller, scopes, params).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(account = %self.account, "whatsapp: agent run refused: {e}");
                return None;
            }
        };
        let mut outcome = None;
        while let Some(event) = stream.next().await {
            match event {
                CallerEvent::Final { outcome: o, .. } => outcome = Some(o),
                CallerEvent::Response(Err(e)) => {
                    tracing::warn!(account = %self.account, "whatsapp: agent refused: {}", e.message);
                    return None;
                }
                CallerEvent::Response(Ok(_)) | CallerEvent::Run { .. } => {}
            }
        }
        match outcome? {
            RunOutcome::Ok(v) => {
                let payloads = v["result"]["payloads"].as_array().cloned().unwrap_or_default();
                Some(payloads.iter().filter_map(|p| p["text"].as_str()).filter(|t| !t.trim().is_empty()).collect::<Vec<_>>().join("\n\n"))
            }
            RunOutcome::Failed { error, .. } => Some(format!("⚠️ {}", error.message)),
        }
    }
}

pub(super) type WaChannel = Channel<BoxLink, WaHost>;

pub(super) struct WaInner {
    pub accounts: Vec<WhatsAppAccount>,
    routing: (DmScope, String),
    pub channel: WaChannel,
}

/// The WhatsApp accounts of the gateway.
pub struct WhatsAppRuntime {
    /// Credentials live under it; `None` (a gateway without a state dir): nothing can link.
    state_dir: Option<PathBuf>,
    pub(super) link: Option<BoxLink>,
    db: Arc<StateDb>,
    hub: HubHandle,
    pub(super) inner: Mutex<Option<WaInner>>,
    pub(super) logins: super::wa_login::Logins,
}

/// The error message of a send with no open connection, as the reference's `send` answers it.
pub fn not_linked_error(account_id: &str) -> String {
    format!("OutboundDeliveryError: {}", openclaw_channels::whatsapp::not_linked_message(account_id))
}

impl WhatsAppRuntime {
    pub fn new(state_dir: Option<PathBuf>, link: Option<BoxLink>, db: Arc<StateDb>, hub: HubHandle) -> Self {
        Self { state_dir, link, db, hub, inner: Mutex::new(None), logins: Default::default() }
    }

    /// Whether `channels.whatsapp` is configured.
    pub fn configured(&self) -> bool {
        self.inner.lock().is_ok_and(|i| i.as_ref().is_some_and(|i| !i.accounts.is_empty()))
    }

    /// Runs `accounts`: a no-op when they did not change, else every account is restarted
    /// (the old loops are aborted; linked accounts start again). Call on a tokio runtime.
    pub fn apply(&self, accounts: &[WhatsAppAccount], routing: (DmScope, String)) {
        let Ok(mut inner) = self.inner.lock() else { return };
        if inner.as_ref().is_some_and(|i| i.accounts == accounts && i.routing == routing) {
            return;
        }
        // The old loops are aborted here; their tasks end on their own.
        drop(inner.take().map(|mut i| i.channel.detach_all()));
        let dir = self.state_dir.clone().unwrap_or_else(|| std::env::temp_dir().join("openclaw-no-state-dir"));
        let link = self.state_dir.as_ref().and(self.link.clone());
        let mut channel = Channel::new(&dir, link);
        for a in accounts.iter().filter(|a| a.enabled) {
            let mut config = AccountConfig::new(&a.id, a.access.clone(), getrandom::u64().unwrap_or(0x5741));
            config.read_receipts = a.read_receipts;
            let host = Arc::new(WaHost { account: a.id.clone(), routing: routing.clone(), db: Arc::clone(&self.db), hub: self.hub.clone() });
            if let Err(e) = channel.add_account(config, host) {
                tracing::warn!(account = %a.id, "whatsapp: {e}");
            }
        }
        if let Err(e) = channel.start_all() {
            tracing::warn!("whatsapp: starting accounts: {e}");
        }
        *inner = Some(WaInner { accounts: accounts.to_vec(), routing, channel });
    }

    /// Starts the linked accounts that are not running (after a login).
    pub(super) fn start_linked(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            if let Some(i) = inner.as_mut() {
                if let Err(e) = i.channel.start_all() {
                    tracing::warn!("whatsapp: starting accounts: {e}");
                }
            }
        }
    }

    /// Stops every account and waits for their loops.
    pub async fn stop(&self) {
        let tasks = match self.inner.lock() {
            Ok(mut inner) => inner.as_mut().map(|i| i.channel.detach_all()).unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        self.logins.abort_all();
        for t in tasks {
            let _ = t.await;
        }
    }

    /// The configured account `account_id` names (blank: the default, else the first).
    pub fn account(&self, account_id: Option<&str>) -> Option<WhatsAppAccount> {
        let inner = self.inner.lock().ok()?;
        let accounts = &inner.as_ref()?.accounts;
        let wanted = account_id.map(str::trim).filter(|a| !a.is_empty());
        accounts
            .iter()
            .find(|a| wanted.map_or(a.id == DEFAULT_ACCOUNT, |w| a.id.eq_ignore_ascii_case(w)))
            .or_else(|| if wanted.is_none() { accounts.first() } else { None })
            .cloned()
    }

    /// Sends a text through an account: NOT_LINKED (the reference's text) when it has no open
    /// connection.
    pub async fn send(&self, account_id: &str, req: SendRequest) -> Result<Sent, SendError> {
        let handle = self.inner.lock().ok().and_then(|i| i.as_ref().and_then(|i| i.channel.handle(account_id)));
        match handle {
            Some(h) => h.send(req).await,
            None => Err(SendError::NotLinked(not_linked_error(account_id))),
        }
        .map_err(|e| match e {
            SendError::NotLinked(_) => SendError::NotLinked(not_linked_error(account_id)),
            other => other,
        })
    }

    /// `channels.start` for WhatsApp: `{channel, accountId, started, outcome}` as for Telegram
    /// (`skipped` with `not-linked` for an account without credentials).
    pub fn start_account(&self, wanted: Option<&str>) -> Value {
        let Some(account) = self.account(wanted) else {
            let id = wanted.map(str::trim).filter(|w| !w.is_empty()).unwrap_or(DEFAULT_ACCOUNT);
            return json!({"channel": "whatsapp", "accountId": id, "started": false, "outcome": {"status": "skipped", "reason": "unconfigured"}});
        };
        let id = account.id.clone();
        let outcome = match self.inner.lock() {
            Ok(mut inner) => match inner.as_mut() {
                None => json!({"status": "skipped", "reason": "unconfigured"}),
                Some(_) if !account.enabled => json!({"status": "skipped", "reason": "disabled"}),
                Some(i) if i.channel.handle(&id).is_some_and(|h| h.status().running) => json!({"status": "retry", "reason": "task-owned"}),
                Some(i) if !i.channel.creds(&id).is_some_and(|c| c.is_linked()) => json!({"status": "skipped", "reason": "not-linked"}),
                Some(i) if i.channel.link().is_none() => json!({"status": "skipped", "reason": "unsupported"}),
                Some(i) => match i.channel.start_one(&id) {
                    Ok(true) => json!({"status": "handed-off"}),
                    Ok(false) => json!({"status": "retry", "reason": "task-owned"}),
                    Err(e) => json!({"status": "skipped", "reason": e.to_string()}),
                },
            },
            Err(_) => json!({"status": "skipped", "reason": "unconfigured"}),
        };
        let started = outcome["status"] == "handed-off";
        json!({"channel": "whatsapp", "accountId": id, "started": started, "outcome": outcome})
    }

    /// `channels.stop` for WhatsApp: the account's loop stopped (its credentials kept).
    pub async fn stop_account(&self, wanted: Option<&str>) -> Value {
        let id = self.account(wanted).map(|a| a.id).unwrap_or_else(|| store::state_account_id(wanted.unwrap_or_default()));
        let task = self.inner.lock().ok().and_then(|mut i| i.as_mut().and_then(|i| i.channel.detach(&id)));
        if let Some(t) = task {
            let _ = t.await;
        }
        json!({"channel": "whatsapp", "accountId": id, "stopped": true})
    }

    /// `channels.logout` for WhatsApp: stops the account and deletes its credentials.
    pub async fn logout(&self, account_id: Option<&str>) -> Result<Value, String> {
        let id = self.account(account_id).map(|a| a.id).unwrap_or_else(|| store::state_account_id(account_id.unwrap_or_default()));
        self.logins.abort(&id);
        let task = self.inner.lock().ok().and_then(|mut i| i.as_mut().and_then(|i| i.channel.detach(&id)));
        if let Some(t) = task {
            let _ = t.await;
        }
        let cleared = match self.inner.lock() {
            Ok(mut inner) => inner.as_mut().and_then(|i| i.channel.clear(&id)),
            Err(_) => None,
        };
        let answer = match cleared {
            Some(r) => r.map_err(|e| e.to_string())?,
            None => json!({"cleared": false, "loggedOut": false}),
        };
        Ok(json!({"channel": "whatsapp", "accountId": id, "cleared": answer["cleared"], "loggedOut": answer["loggedOut"]}))
    }

    /// The `channelAccounts.whatsapp[]` entries, in the plugin's shape.
    pub fn account_entries(&self) -> Vec<Value> {
        let Ok(inner) = self.inner.lock() else { return Vec::new() };
        let Some(inner) = inner.as_ref() else { return Vec::new() };
        let now = clock::system_time();
        inner
            .accounts
            .iter()
            .map(|a| {
                let mut entry = inner.channel.account_status(&a.id, now).unwrap_or_else(|| {
                    json!({"accountId": a.id, "linked": false, "running": false, "connected": false, "reconnectAttempts": 0, "lastError": "disabled"})
                });
                let (running, connected, linked) = (entry["running"] == true, entry["connected"] == true, entry["linked"] == true);
                let lifecycle = if connected {
                    "ready"
                } else if running {
                    "connecting"
                } else {
                    "stopped"
                };
                let reason = if !a.enabled {
                    "disabled"
                } else if !linked {
                    "not linked"
                } else if connected {
                    "connected"
                } else if running {
                    "connecting"
                } else {
                    "stopped"
                };
                if let Some(o) = entry.as_object_mut() {
                    o.insert("enabled".into(), json!(a.enabled));
                    o.insert("configured".into(), json!(true));
                    o.insert("dmPolicy".into(), json!(a.dm_policy_str()));
                    o.insert("lifecycle".into(), json!(lifecycle));
                    o.insert("healthState".into(), json!(lifecycle));
                    o.insert("stateReason".into(), json!(reason));
                    o.insert("restartPending".into(), json!(false));
                    o.insert("busy".into(), json!(false));
                }
                entry
            })
            .collect()
    }

    /// Whether this build can link at all (a protocol implementation and a state dir).
    pub fn can_link(&self) -> Result<(), String> {
        match (&self.link, &self.state_dir) {
            (None, _) => Err(NOT_BUILT_IN.to_owned()),
            (Some(_), None) => Err("the gateway has no state directory to keep WhatsApp credentials in".into()),
            (Some(_), Some(_)) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_json(v: Value) -> Result<Vec<WhatsAppAccount>, SettingsError> {
        let config: Config = serde_json::from_value(v).expect("config");
        project(&config)
    }

    #[test]
    fn accounts_inherit_the_top_level_keys_and_bad_entries_name_their_key() {
        assert!(project_json(json!({})).unwrap().is_empty());
        let a = project_json(json!({"channels": {"whatsapp": {"dmPolicy": "allowlist", "allowFrom": ["+1 (555) 000-1111"], "sendReadReceipts": false,
            "accounts": {"work": {"enabled": false}, "default": {}}}}}))
        .unwrap();
        let ids: Vec<_> = a.iter().map(|a| (a.id.as_str(), a.enabled, a.read_receipts)).collect();
        assert_eq!(ids, [("default", true, false), ("work", false, false)]);
        assert_eq!(a[1].access.dm_policy, DmPolicy::Allowlist);
        assert_eq!(a[1].access.allow_from, [AllowEntry::Number(E164::from_digits_of("+15550001111").unwrap())]);
        let e = project_json(json!({"channels": {"whatsapp": {"allowFrom": ["120363@g.us"]}}})).unwrap_err();
        assert_eq!(e.field, "channels.whatsapp.allowFrom");
        let e = project_json(json!({"channels": {"whatsapp": {"accounts": {"w": {"dmPolicy": "open", "allowFrom": ["+15550001111"]}}}}})).unwrap_err();
        assert_eq!(e.field, "channels.whatsapp.accounts.w.dmPolicy");
        let e = project_json(json!({"channels": {"whatsapp": {"accounts": {"../x": {}}}}})).unwrap_err();
        assert!(e.field.starts_with("channels.whatsapp.accounts."), "{e:?}");
    }
}
