//! The channel runtime: one task per (channel, account), started with the gateway, restarted
//! when `channels.*`/`session.*` change on hot reload (core's reload rules classify
//! `channels.telegram` as `RestartChannel`), stopped on shutdown; and the channel methods
//! (`channels.status`, `send`) the hub hands over as host requests.
//!
//! It lives in `io` (not behind a feature of the `channels` crate) because it is glue between
//! io's pieces: the outbound HTTP client, the state database, the hub handle and the clock. The
//! `channels` crate keeps the channel logic (policies, parsing, chunking, the Bot API client and
//! the polling loop) free of the gateway.

pub mod local_media;
pub mod settings;
pub mod status;
pub mod store;
pub mod telegram;
pub mod wa_login;
pub mod whatsapp;

mod control;
pub(crate) mod send;
mod webhook;

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use openclaw_channels::telegram::account::LoopConfig;
use openclaw_core::wire::frames::{ErrorCode, ErrorShape};
use openclaw_core::wire::host::HostRequest;
use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::callers::HubHandle;
use crate::clock;
use crate::host::{Host, HostFuture, HostHandler};
use crate::outbound::{Outbound, OutboundConfig};
use crate::state_db::StateDb;
use settings::{ChannelSettings, TelegramAccount};
use status::Health;

/// One account as the runtime holds it.
struct Running {
    account: TelegramAccount,
    health: Arc<Health>,
    task: Option<JoinHandle<()>>,
    delivering: Arc<tokio::sync::Mutex<()>>,
}

struct Inner {
    settings: Option<ChannelSettings>,
    accounts: Vec<Running>,
    /// Reports the accounts to the hub for `health` whenever their summary changes.
    reporter: Option<JoinHandle<()>>,
}

/// The running channel accounts.
pub struct ChannelRuntime {
    db: Arc<StateDb>,
    hub: HubHandle,
    outbound: Arc<Outbound>,
    /// The polling loop's settings (tests shorten the poll).
    loop_config: LoopConfig,
    poll_grace: Duration,
    inner: Arc<Mutex<Inner>>,
    /// Woken when an account's `health` summary changes (or the accounts do).
    changed: Arc<Notify>,
    /// The WhatsApp accounts.
    pub whatsapp: Arc<whatsapp::WhatsAppRuntime>,
}

impl ChannelRuntime {
    pub fn new(
        db: Arc<StateDb>,
        hub: HubHandle,
        loop_config: LoopConfig,
        poll_grace: Duration,
        state_dir: Option<std::path::PathBuf>,
        whatsapp_link: Option<openclaw_channels::whatsapp::link::BoxLink>,
    ) -> Result<Self, crate::outbound::OutboundError> {
        let outbound = Outbound::new(&OutboundConfig { connect_timeout: Duration::from_secs(10), read_timeout: None, extra_root_certs: Vec::new() })?;
        let whatsapp = Arc::new(whatsapp::WhatsAppRuntime::new(state_dir, whatsapp_link, Arc::clone(&db), hub.clone()));
        Ok(Self {
            db,
            hub,
            outbound: Arc::new(outbound),
            loop_config,
            poll_grace,
            inner: Arc::new(Mutex::new(Inner { settings: None, accounts: Vec::new(), reporter: None })),
            changed: Arc::new(Notify::new()),
            whatsapp,
        })
    }

    /// Runs `settings`: a no-op when they did not change, else every account task is
    /// restarted (a token change to another bot reads that bot's own offset). Call on a tokio
    /// runtime.
    pub fn apply(&self, settings: &ChannelSettings) {
        // WhatsApp restarts only when its own accounts (or the routing) changed.
        self.whatsapp.apply(&settings.whatsapp, (settings.dm_scope, settings.main_key.clone()));
        let old = {
            let Ok(mut inner) = self.inner.lock() else { return };
            // A change of the media policy alone restarts nothing (`send` reads it each time).
            let same = inner.settings.as_ref().is_some_and(|s| s.same_accounts(settings));
            inner.settings = Some(settings.clone());
            if same {
                return;
            }
            let old = std::mem::take(&mut inner.accounts);
            if inner.reporter.is_none() {
                inner.reporter = Some(tokio::spawn(report_health(Arc::downgrade(&self.inner), self.hub.clone(), Arc::clone(&self.changed))));
            }
            for account in &settings.telegram {
                let health = Arc::new(Health::new(Arc::clone(&self.changed)));
                let delivering = Arc::new(tokio::sync::Mutex::new(()));
                let task = match (&account.token, account.enabled) {
                    (Some(token), true) => {
                        let ctx = telegram::AccountCtx::new(account.clone(), token.0.clone(), settings, Arc::clone(&self.db), self.hub.clone(), Arc::clone(&health), Arc::clone(&delivering));
                        let mut config = self.loop_config.clone();
                        config.seed = getrandom::u64().unwrap_or(config.seed);
                        Some(tokio::spawn(telegram::run(Arc::new(ctx), Arc::clone(&self.outbound), config, self.poll_grace)))
                    }
                    _ => None,
                };
                inner.accounts.push(Running { account: account.clone(), health, task, delivering });
            }
            old
        };
        for r in old {
            if let Some(t) = r.task {
                t.abort();
            }
        }
        self.changed.notify_one();
    }

    /// Stops every account and waits until their tasks are gone and the reply chunk being
    /// sent (if any) is recorded.
    pub async fn stop(&self) {
        let (tasks, deliveries): (Vec<JoinHandle<()>>, Vec<_>) = match self.inner.lock() {
            Ok(mut inner) => (
                {
                    let reporter = inner.reporter.take();
                    inner.accounts.iter_mut().filter_map(|r| r.task.take()).chain(reporter).collect()
                },
                inner.accounts.iter().map(|r| Arc::clone(&r.delivering)).collect(),
            ),
            Err(_) => (Vec::new(), Vec::new()),
        };
        for t in tasks {
            t.abort();
            let _ = t.await;
        }
        for d in deliveries {
            drop(d.lock().await);
        }
        self.whatsapp.stop().await;
    }

    /// The `channels.status` answer.
    pub fn status(&self) -> Value {
        let mut out = status::status_json(clock::wall().0, &rows(&self.inner));
        status::add_whatsapp(&mut out, &self.whatsapp.account_entries());
        out
    }

    /// The account to send with: `account_id`, else the default one.
    fn account(&self, account_id: Option<&str>) -> Option<TelegramAccount> {
        let inner = self.inner.lock().ok()?;
        let wanted = account_id.map(str::trim).filter(|a| !a.is_empty());
        inner
            .accounts
            .iter()
            .find(|r| wanted.map_or(r.account.id == settings::DEFAULT_ACCOUNT, |w| r.account.id.eq_ignore_ascii_case(w)))
            .or_else(|| if wanted.is_none() { inner.accounts.first() } else { None })
            .map(|r| r.account.clone())
    }

    /// Where local media may come from (the last settings applied).
    fn media_policy(&self) -> local_media::MediaPolicy {
        self.inner.lock().ok().and_then(|i| i.settings.as_ref().map(|s| s.media.clone())).unwrap_or_default()
    }

    fn health(&self, id: &str) -> Option<Arc<Health>> {
        let inner = self.inner.lock().ok()?;
        inner.accounts.iter().find(|r| r.account.id == id).map(|r| Arc::clone(&r.health))
    }
}

/// Each account with its health now.
fn rows(inner: &Mutex<Inner>) -> Vec<(TelegramAccount, status::HealthState)> {
    match inner.lock() {
        Ok(inner) => inner.accounts.iter().map(|r| (r.account.clone(), r.health.snapshot())).collect(),
        Err(_) => Vec::new(),
    }
}

/// Sends the hub the accounts' `health` summary after each change, until the runtime is gone
/// (or stopped: `stop` aborts it).
async fn report_health(inner: Weak<Mutex<Inner>>, hub: HubHandle, changed: Arc<Notify>) {
    loop {
        changed.notified().await;
        let Some(inner) = inner.upgrade() else { return };
        let summary = status::health_summary(&rows(&inner));
        drop(inner);
        if hub.channels_health(summary).await.is_err() {
            return;
        }
    }
}

/// The gateway's host handler with the channel methods in front: `channels.status`,
/// `channels.start|stop|logout` and `send` go to the runtime (logout edits the config through
/// the configured host), everything else to the configured host.
pub struct ChannelsHost {
    pub runtime: Arc<ChannelRuntime>,
    pub inner: Host,
}

impl HostHandler for ChannelsHost {
    fn handle(&self, request: HostRequest) -> HostFuture {
        match request {
            HostRequest::ChannelsStatus(params) => {
                let runtime = Arc::clone(&self.runtime);
                Box::pin(async move { runtime.status_with(&params).await })
            }
            HostRequest::ChannelsAccount(op, params) => {
                let host = ChannelsHost { runtime: Arc::clone(&self.runtime), inner: self.inner.clone() };
                Box::pin(async move { control::account_op(&host, op, params).await })
            }
            HostRequest::Send(params) => {
                let runtime = Arc::clone(&self.runtime);
                Box::pin(async move { send::send(&runtime, *params).await })
            }
            HostRequest::WebLoginStart(params) => {
                let wa = Arc::clone(&self.runtime.whatsapp);
                Box::pin(async move {
                    web_channel(params.channel.as_deref())?;
                    wa_login::start(&wa, params.account_id.as_deref(), params.force.unwrap_or(false), params.timeout_ms)
                        .await
                        .map_err(|e| ErrorShape::new(ErrorCode::Unavailable, e))
                })
            }
            HostRequest::WebLoginWait(params) => {
                let wa = Arc::clone(&self.runtime.whatsapp);
                Box::pin(async move {
                    web_channel(params.channel.as_deref())?;
                    wa_login::wait(&wa, params.account_id.as_deref(), params.timeout_ms, params.current_qr_data_url.as_deref())
                        .await
                        .map_err(|e| ErrorShape::new(ErrorCode::Unavailable, e))
                })
            }
            other => match self.inner.0.clone() {
                Some(handler) => handler.handle(other),
                None => {
                    let error = ErrorShape::new(ErrorCode::Unavailable, format!("{} is not available in this gateway", other.method_name()));
                    Box::pin(async move { Err(error) })
                }
            },
        }
    }
}

/// `web.login.*` serve WhatsApp, the one channel with a QR login.
fn web_channel(channel: Option<&str>) -> Result<(), ErrorShape> {
    match channel.map(|c| c.trim().to_ascii_lowercase()) {
        None => Ok(()),
        Some(c) if c == "whatsapp" => Ok(()),
        Some(c) => Err(ErrorShape::new(ErrorCode::InvalidRequest, format!("web login is not supported by provider {c}"))),
    }
}
