//! The WhatsApp channel as the gateway sees it: its accounts, started and stopped together, each
//! account's `channels.status` entry in the plugin's shape, `send` routed to the account, and
//! `channels logout`.
//!
//! Built without a protocol implementation (`link: None`, the default build: see
//! docs/whatsapp.md), accounts never start: their status still says whether credentials exist,
//! and every send answers NOT_LINKED with the reference's text.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::account::{Account, AccountConfig, AccountHandle, Exit, Host, SendError, SendRequest, Sent, Status};
use super::creds::{CredsError, CredsStore};
use super::ledger::Ledger;
use super::link::Link;
use super::not_linked_message;

/// `lastError` of accounts in a build without a WhatsApp protocol implementation.
pub const NOT_BUILT_IN: &str = "WhatsApp support is not built into this binary (cargo feature `whatsapp`)";

impl SendError {
    /// The gateway error code: `NOT_LINKED` when no connection is open, `UNAVAILABLE` when the
    /// delivery failed.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotLinked(_) => "NOT_LINKED",
            Self::Failed(_) => "UNAVAILABLE",
        }
    }
}

struct Slot<H> {
    config: AccountConfig,
    host: Arc<H>,
    creds: CredsStore,
    handle: Option<AccountHandle>,
    task: Option<JoinHandle<Exit>>,
    /// The last status of a stopped account (kept for `channels.status`).
    last: Option<Status>,
}

/// The accounts of the WhatsApp channel.
pub struct Channel<L: Link + Clone, H: Host> {
    state_dir: std::path::PathBuf,
    link: Option<L>,
    accounts: BTreeMap<String, Slot<H>>,
}

impl<L: Link + Clone, H: Host> Channel<L, H> {
    /// A channel over `link` (`None`: no protocol implementation in this build).
    pub fn new(state_dir: &Path, link: Option<L>) -> Self {
        Self { state_dir: state_dir.to_owned(), link, accounts: BTreeMap::new() }
    }

    /// Configures an account (its credentials in the default folder under the state dir).
    pub fn add_account(&mut self, config: AccountConfig, host: Arc<H>) -> Result<(), CredsError> {
        let creds = CredsStore::new(&self.state_dir, &config.account_id)?;
        self.accounts.insert(config.account_id.clone(), Slot { config, host, creds, handle: None, task: None, last: None });
        Ok(())
    }

    /// Starts every linked account that is not running (needs a Tokio runtime). Accounts
    /// without credentials stay stopped: they are not linked, there is nothing to reconnect.
    pub fn start_all(&mut self) -> std::io::Result<()> {
        let Some(link) = self.link.clone() else { return Ok(()) };
        for (id, slot) in &mut self.accounts {
            let running = slot.task.as_ref().is_some_and(|t| !t.is_finished());
            if running || !slot.creds.is_linked() {
                continue;
            }
            let ledger = Ledger::open(Ledger::default_path(&self.state_dir, id))?;
            let (account, handle) = Account::new(link.clone(), slot.host.clone(), slot.creds.clone(), ledger, slot.config.clone());
            slot.task = Some(tokio::spawn(account.run()));
            slot.handle = Some(handle);
        }
        Ok(())
    }

    /// Starts one linked account that is not running: `Ok(false)` when it runs already, is not
    /// linked, is unknown, or this build has no protocol implementation.
    pub fn start_one(&mut self, account_id: &str) -> std::io::Result<bool> {
        let Some(link) = self.link.clone() else { return Ok(false) };
        let Some(slot) = self.accounts.get_mut(account_id) else { return Ok(false) };
        if slot.task.as_ref().is_some_and(|t| !t.is_finished()) || !slot.creds.is_linked() {
            return Ok(false);
        }
        let ledger = Ledger::open(Ledger::default_path(&self.state_dir, account_id))?;
        let (account, handle) = Account::new(link, slot.host.clone(), slot.creds.clone(), ledger, slot.config.clone());
        slot.task = Some(tokio::spawn(account.run()));
        slot.handle = Some(handle);
        Ok(true)
    }

    /// Stops an account's loop and waits for it.
    async fn stop(slot: &mut Slot<H>) {
        if let Some(task) = Self::detach_slot(slot) {
            let _ = task.await;
        }
    }

    /// Aborts an account's loop (keeping its last status) without waiting: the task to await.
    fn detach_slot(slot: &mut Slot<H>) -> Option<JoinHandle<Exit>> {
        let task = slot.task.take();
        if let Some(t) = &task {
            t.abort();
        }
        if let Some(handle) = slot.handle.take() {
            let mut last = handle.status();
            last.running = false;
            last.connected = false;
            slot.last = Some(last);
        }
        task
    }

    /// Stops every account (gateway shutdown, reload).
    pub async fn stop_all(&mut self) {
        for slot in self.accounts.values_mut() {
            Self::stop(slot).await;
        }
    }

    /// Aborts every account's loop and hands back the tasks to await (for callers that hold
    /// the channel under a lock and must not await while holding it).
    pub fn detach_all(&mut self) -> Vec<JoinHandle<Exit>> {
        self.accounts.values_mut().filter_map(Self::detach_slot).collect()
    }

    /// Aborts one account's loop; the task to await. `None`: unknown or not running.
    pub fn detach(&mut self, account_id: &str) -> Option<JoinHandle<Exit>> {
        self.accounts.get_mut(account_id).and_then(Self::detach_slot)
    }

    /// The handle of a running account (to send through without holding the channel).
    pub fn handle(&self, account_id: &str) -> Option<AccountHandle> {
        self.accounts.get(account_id).and_then(|s| s.handle.clone())
    }

    /// The protocol implementation of this build, if any.
    pub fn link(&self) -> Option<&L> {
        self.link.as_ref()
    }

    /// An account's credentials folder.
    pub fn creds(&self, account_id: &str) -> Option<CredsStore> {
        self.accounts.get(account_id).map(|s| s.creds.clone())
    }

    /// Deletes a stopped account's credentials (`channels logout` after [`Channel::detach`]):
    /// `{cleared, loggedOut}` as the plugin answers; `None` for an unknown account.
    pub fn clear(&mut self, account_id: &str) -> Option<Result<Value, CredsError>> {
        let slot = self.accounts.get_mut(account_id)?;
        Some(slot.creds.clear().map(|cleared| {
            let mut last = slot.last.take().unwrap_or_default();
            last.linked = false;
            last.self_number = None;
            last.last_error = Some("logged out".into());
            slot.last = Some(last);
            json!({"cleared": cleared, "loggedOut": cleared})
        }))
    }

    /// Sends through `account_id`: NOT_LINKED when it has no open connection (or does not
    /// exist in this build's running set).
    pub async fn send(&self, account_id: &str, req: SendRequest) -> Result<Sent, SendError> {
        match self.accounts.get(account_id).and_then(|s| s.handle.as_ref()) {
            Some(handle) => handle.send(req).await,
            None => Err(SendError::NotLinked(not_linked_message(account_id))),
        }
    }

    /// `channels logout`: stops the account and deletes its credentials.
    /// `{cleared, loggedOut}` as the plugin answers; `None` for an unknown account.
    pub async fn logout(&mut self, account_id: &str) -> Option<Result<Value, CredsError>> {
        let slot = self.accounts.get_mut(account_id)?;
        Self::stop(slot).await;
        self.clear(account_id)
    }

    /// The configured account ids.
    pub fn account_ids(&self) -> Vec<String> {
        self.accounts.keys().cloned().collect()
    }

    /// One account's `channelAccounts.whatsapp[]` entry, in the plugin's shape.
    pub fn account_status(&self, account_id: &str, now: SystemTime) -> Option<Value> {
        let slot = self.accounts.get(account_id)?;
        let status = match &slot.handle {
            Some(handle) => handle.status(),
            None => slot.last.clone().unwrap_or_else(|| Status { account_id: account_id.to_owned(), ..Status::default() }),
        };
        let creds = slot.creds.load().ok().flatten();
        let linked = creds.is_some();
        let number = creds.as_ref().and_then(|c| c.self_number());
        let jid = creds.as_ref().and_then(|c| c.me_jid().map(str::to_owned));
        let auth_age = linked.then(|| slot.creds.auth_age(now)).flatten().map(|d| d.as_millis() as u64);
        let last_error = match (&self.link, &status.last_error) {
            (None, _) => Some(NOT_BUILT_IN.to_owned()),
            (Some(_), Some(e)) => Some(e.clone()),
            (Some(_), None) if !linked => Some("not linked".to_owned()),
            (Some(_), None) => None,
        };
        let mut entry = status.to_json();
        let fields = json!({
            "accountId": account_id,
            "enabled": true,
            "configured": true,
            "statusState": if linked { "linked" } else { "not-linked" },
            "linked": linked,
            "authAgeMs": auth_age,
            "self": {"e164": if linked { number.map(|n| n.to_string()) } else { None }, "jid": if linked { jid } else { None }, "lid": null},
            "lastInboundAt": status.last_message_at,
            "lastError": last_error,
        });
        if let (Some(entry), Some(fields)) = (entry.as_object_mut(), fields.as_object()) {
            for (k, v) in fields {
                entry.insert(k.clone(), v.clone());
            }
        }
        Some(entry)
    }
}
