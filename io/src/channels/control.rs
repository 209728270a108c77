//! `channels.start`, `channels.stop`, `channels.logout` and the probe of
//! `channels.status {probe: true}` (channels-agent-nodes.md §2.1, §2.3), as the reference
//! answers them:
//! - start: `{channel, accountId, started, outcome: {status: "handed-off"} | {status: "skipped",
//!   reason: "disabled"|"unconfigured"} | {status: "retry", reason: "task-owned"}}`;
//! - stop: `{channel, accountId, stopped}` (the reply chunk in flight is recorded first);
//! - logout: the account stopped and its `botToken` removed from the config file (a merge patch
//!   through the config host, so the hot reload restarts the accounts on the new file):
//!   `{channel, accountId, cleared, envToken, loggedOut}`, and `lastError: "logged out"`;
//! - probe: one `getMe` per enabled, configured account within `timeoutMs` (clamped to
//!   1 000..30 000; 30 000 by default), its answer as `probe`, `lastProbeAt`, and a failed
//!   probe's error as `lastError` when the account has none.
//!
//! A manual stop holds until `channels.start` or a change of `channels.telegram`.
//!
//! For `whatsapp` (when configured) the three go to [`super::whatsapp::WhatsAppRuntime`]:
//! start/stop the account's connection loop, logout unlinks (credentials deleted).

use std::sync::Arc;
use std::time::Duration;

use openclaw_channels::telegram::probe::probe_result;
use openclaw_core::wire::channels::{ChannelsAccountOp, ChannelsAccountParams, ChannelsStatusParams};
use openclaw_core::wire::frames::{ErrorCode, ErrorShape};
use openclaw_core::wire::host::{ConfigPatchParams, HostRequest};
use serde_json::{json, Value};

use super::settings::DEFAULT_ACCOUNT;
use super::telegram::{self, OutboundTransport};
use super::{status, ChannelRuntime, ChannelsHost};
use crate::clock;

/// The only channel this gateway runs.
const TELEGRAM: &str = "telegram";
/// `channels.status` timeouts (the reference's clamp).
const MIN_TIMEOUT_MS: u64 = 1_000;
const MAX_TIMEOUT_MS: u64 = 30_000;

fn invalid(message: impl Into<String>) -> ErrorShape {
    ErrorShape::new(ErrorCode::InvalidRequest, message.into())
}

/// `channel` as one this gateway runs (`telegram`, any case).
fn is_telegram(raw: &str) -> bool {
    raw.trim().eq_ignore_ascii_case(TELEGRAM)
}

impl ChannelRuntime {
    /// The account an operation is for: the one named, else the default account, else the
    /// first, else `default`.
    fn resolve_id(&self, wanted: Option<&str>) -> String {
        if let Some(w) = wanted.map(str::trim).filter(|w| !w.is_empty()) {
            return w.to_owned();
        }
        let Ok(inner) = self.inner.lock() else { return DEFAULT_ACCOUNT.to_owned() };
        let ids: Vec<&str> = inner.accounts.iter().map(|r| r.account.id.as_str()).collect();
        if ids.contains(&DEFAULT_ACCOUNT) { DEFAULT_ACCOUNT } else { ids.first().copied().unwrap_or(DEFAULT_ACCOUNT) }.to_owned()
    }

    /// `channels.start`: starts the account's task unless it runs, is disabled or has no token.
    pub fn start_account(&self, wanted: Option<&str>) -> Value {
        let id = self.resolve_id(wanted);
        let outcome = {
            let Ok(mut inner) = self.inner.lock() else { return json!({}) };
            let settings = inner.settings.clone();
            match (inner.accounts.iter_mut().find(|r| r.account.id.eq_ignore_ascii_case(&id)), settings) {
                (Some(r), Some(settings)) => {
                    if r.task.as_ref().is_some_and(|t| !t.is_finished()) {
                        json!({"status": "retry", "reason": "task-owned"})
                    } else if !r.account.enabled {
                        json!({"status": "skipped", "reason": "disabled"})
                    } else if let Some(token) = r.account.token.clone() {
                        r.health.update(|h| {
                            h.running = true;
                            h.last_error = None;
                            h.last_start_at = Some(clock::wall().0);
                        });
                        let ctx = telegram::AccountCtx::new(r.account.clone(), token.0, &settings, Arc::clone(&self.db), self.hub.clone(), Arc::clone(&r.health), Arc::clone(&r.delivering));
                        let mut config = self.loop_config.clone();
                        config.seed = getrandom::u64().unwrap_or(config.seed);
                        r.task = Some(tokio::spawn(telegram::run(Arc::new(ctx), Arc::clone(&self.outbound), config, self.poll_grace)));
                        json!({"status": "handed-off"})
                    } else {
                        json!({"status": "skipped", "reason": "unconfigured"})
                    }
                }
                _ => json!({"status": "skipped", "reason": "unconfigured"}),
            }
        };
        let started = self.health(&id).is_some_and(|h| h.snapshot().running);
        json!({"channel": TELEGRAM, "accountId": id, "started": started, "outcome": outcome})
    }

    /// `channels.stop`: stops the account's task (after the reply chunk in flight is recorded).
    pub async fn stop_account(&self, wanted: Option<&str>) -> Value {
        let id = self.resolve_id(wanted);
        let found = match self.inner.lock() {
            Ok(mut inner) => inner
                .accounts
                .iter_mut()
                .find(|r| r.account.id.eq_ignore_ascii_case(&id))
                .map(|r| (r.task.take(), Arc::clone(&r.delivering), Arc::clone(&r.health))),
            Err(_) => None,
        };
        if let Some((Some(task), delivering, health)) = found {
            // Wait for the chunk being sent, so it is recorded before the task dies.
            let guard = delivering.lock().await;
            task.abort();
            let _ = task.await;
            drop(guard);
            health.update(|h| {
                h.running = false;
                h.connected = false;
                h.last_stop_at = Some(clock::wall().0);
            });
        }
        let stopped = !self.health(&id).is_some_and(|h| h.snapshot().running);
        json!({"channel": TELEGRAM, "accountId": id, "stopped": stopped})
    }

    /// `channels.status`, with a live `getMe` per account when `probe` is set.
    pub async fn status_with(&self, params: &ChannelsStatusParams) -> Result<Value, ErrorShape> {
        if let Some(raw) = &params.channel {
            if !is_telegram(raw) && !(raw.trim().eq_ignore_ascii_case("whatsapp") && self.whatsapp.configured()) {
                return Err(invalid(format!("unknown channel: {raw}")));
            }
        }
        if params.probe != Some(true) {
            return Ok(self.status());
        }
        let timeout = Duration::from_millis(params.timeout_ms.map_or(MAX_TIMEOUT_MS, |t| t.clamp(MIN_TIMEOUT_MS, MAX_TIMEOUT_MS)));
        let accounts = super::rows(&self.inner);
        let mut probes = tokio::task::JoinSet::new();
        for (account, _) in &accounts {
            let Some(token) = account.token.as_ref().filter(|_| account.enabled) else { continue };
            let url = format!("{}/bot{}/getMe", account.api_root.trim_end_matches('/'), token.0);
            let transport = OutboundTransport(Arc::clone(&self.outbound));
            let (id, token) = (account.id.clone(), token.0.clone());
            probes.spawn(async move {
                let started = clock::now();
                let answer = match tokio::time::timeout(timeout, openclaw_channels::telegram::bot::Transport::post_json(&transport, url, b"{}".to_vec())).await {
                    Ok(Ok(answer)) => Ok(answer),
                    Ok(Err(e)) => Err(e.replace(&token, &openclaw_channels::telegram::mask_token(&token))),
                    Err(_) => Err(format!("probe timed out after {}ms", timeout.as_millis())),
                };
                (id, probe_result(answer, clock::now().duration_since(started).as_millis() as u64), clock::wall().0)
            });
        }
        let probed: Vec<(String, Value, u64)> = probes.join_all().await;
        let mut out = self.status();
        if let Some(rows) = out["channelAccounts"][TELEGRAM].as_array_mut() {
            for row in rows {
                if let Some((_, probe, at)) = probed.iter().find(|(id, _, _)| row["accountId"] == json!(id)) {
                    status::attach_probe(row, probe, *at);
                }
            }
        }
        let default = out["channelDefaultAccountId"][TELEGRAM].clone();
        if let Some((_, probe, at)) = probed.iter().find(|(id, _, _)| default == json!(id)) {
            status::attach_probe(&mut out["channels"][TELEGRAM], probe, *at);
        }
        Ok(out)
    }

    /// Marks an account logged out (`running: false`, `lastError: "logged out"`).
    fn mark_logged_out(&self, id: &str) {
        if let Some(h) = self.health(id) {
            h.update(|h| {
                h.running = false;
                h.connected = false;
                h.last_error = Some("logged out".into());
            });
        }
    }
}

/// `channels.start|stop|logout`.
pub async fn account_op(host: &ChannelsHost, op: ChannelsAccountOp, params: ChannelsAccountParams) -> Result<Value, ErrorShape> {
    if params.channel.trim().eq_ignore_ascii_case("whatsapp") && host.runtime.whatsapp.configured() {
        let wa = &host.runtime.whatsapp;
        let id = params.account_id.as_deref();
        return match op {
            ChannelsAccountOp::Start => Ok(wa.start_account(id)),
            ChannelsAccountOp::Stop => Ok(wa.stop_account(id).await),
            ChannelsAccountOp::Logout => wa.logout(id).await.map_err(|e| ErrorShape::new(ErrorCode::Unavailable, e)),
        };
    }
    if !is_telegram(&params.channel) {
        return Err(invalid(format!("invalid {} channel", op.method_name())));
    }
    let runtime = &host.runtime;
    match op {
        ChannelsAccountOp::Start => Ok(runtime.start_account(params.account_id.as_deref())),
        ChannelsAccountOp::Stop => Ok(runtime.stop_account(params.account_id.as_deref()).await),
        ChannelsAccountOp::Logout => logout(host, params.account_id.as_deref()).await,
    }
}

/// `channels.logout`: stop the account, then remove its `botToken` from the config file.
async fn logout(host: &ChannelsHost, wanted: Option<&str>) -> Result<Value, ErrorShape> {
    let Some(config_host) = host.inner.0.clone() else {
        return Err(ErrorShape::new(ErrorCode::Unavailable, "channels.logout needs the gateway's config file"));
    };
    let current = config_host.handle(HostRequest::ConfigGet).await?;
    if current["valid"] == json!(false) {
        return Err(invalid("config invalid; fix it before logging out"));
    }
    let runtime = &host.runtime;
    let id = runtime.resolve_id(wanted);
    runtime.stop_account(Some(&id)).await;
    let telegram = &current["parsed"]["channels"]["telegram"];
    let own = &telegram["accounts"][&id];
    let default = id == DEFAULT_ACCOUNT;
    // The token fields this account reads, as written in the file.
    let mut patch = json!({});
    if own.get("botToken").is_some() {
        let mut accounts = serde_json::Map::new();
        accounts.insert(id.clone(), json!({"botToken": null}));
        patch["accounts"] = Value::Object(accounts);
    }
    if default && telegram.get("botToken").is_some() {
        patch["botToken"] = Value::Null;
    }
    let cleared = patch.as_object().is_some_and(|p| !p.is_empty());
    if cleared {
        let raw = json!({"channels": {"telegram": patch}}).to_string();
        let base_hash = current["hash"].as_str().map(str::to_owned);
        config_host
            .handle(HostRequest::ConfigPatch(Box::new(ConfigPatchParams { raw, base_hash, ..ConfigPatchParams::default() })))
            .await?;
    }
    let env_token = std::env::var("TELEGRAM_BOT_TOKEN").is_ok_and(|t| !t.trim().is_empty());
    let token_file = own.get("tokenFile").is_some() || (default && telegram.get("tokenFile").is_some());
    let logged_out = !(token_file || (default && env_token));
    if cleared || logged_out {
        runtime.mark_logged_out(&id);
    }
    Ok(json!({"channel": TELEGRAM, "accountId": id, "cleared": cleared, "envToken": env_token, "loggedOut": logged_out}))
}
