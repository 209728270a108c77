//! One Telegram account at run time: the polling loop ([`openclaw_channels::telegram::account`])
//! with this module as its [`Sink`], and a worker that answers the inbox.
//!
//! Durability: each received update is written to the inbox (`channel_ingress_events`) and the
//! offset advanced in ONE transaction ([`store::record_update`]), so a restart neither replays
//! nor loses an update. The worker then answers the inbox in order: DM/group policy, pairing
//! replies, or an agent run through the hub as a [`Caller::Channel`] (idempotency key
//! `telegram:<account>:<bot>:<update>`, so a run finished before a crash is replayed, not
//! redone), the reply sent in chunks with each delivered chunk recorded, and the entry closed.
//! `kill -9` at any point: the entry is still pending after restart and is answered once (only
//! a crash between Telegram's answer to a `sendMessage` and the next commit repeats one chunk).

use std::sync::Arc;
use std::time::Duration;

use openclaw_channels::pairing::Upsert;
use openclaw_channels::route::{session_key, Peer, RouteInput};
use openclaw_channels::telegram::account::{self, Event, LoopConfig, Sink};
use openclaw_channels::telegram::bot::{BotApi, BotInfo, CallError, Transport};
use openclaw_channels::telegram::chunk::{chunk_text, DEFAULT_CHUNK_CHARS};
use openclaw_channels::telegram::update::{ChatKind, Update, UpdateKind};
use openclaw_channels::telegram::{mask_token, pairing_reply};
use openclaw_channels::telegram::policy::DmDecision;
use openclaw_core::auth::scopes::{Scope, ScopeSet};
use openclaw_core::hub::RunOutcome;
use openclaw_core::wire::agent::AgentParams;
use openclaw_core::{Caller, CallerEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::settings::{ChannelSettings, TelegramAccount};
use super::status::Health;
use super::store;
use crate::callers::HubHandle;
use crate::clock;
use crate::outbound::Outbound;
use crate::state_db::StateDb;

/// The Bot API over the gateway's one outbound client.
#[derive(Clone)]
pub struct OutboundTransport(pub Arc<Outbound>);

impl Transport for OutboundTransport {
    async fn post(&self, url: String, content_type: String, body: Vec<u8>) -> Result<(u16, Vec<u8>), String> {
        let mut res = self.0.post(&url, &content_type, &[], body).await.map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        while let Some(chunk) = res.chunk().await {
            out.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        }
        Ok((res.status(), out))
    }
}

/// An inbound message as recorded in the inbox (what answering it needs, decided at receipt).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inbound {
    pub chat_id: i64,
    pub direct: bool,
    pub sender_id: i64,
    #[serde(default)]
    pub sender_name: Option<String>,
    pub text: String,
    /// Forum topic (`message_thread_id` of a forum chat).
    #[serde(default)]
    pub topic: Option<i64>,
    /// The message mentions the bot or replies to it.
    pub addressed: bool,
}

impl Inbound {
    /// What of an update needs an answer: a new text message from a person.
    pub fn of(update: &Update, bot: &BotInfo) -> Option<Inbound> {
        let UpdateKind::Message(m) = &update.kind else { return None };
        let from = m.from.as_ref().filter(|u| !u.is_bot)?;
        if m.chat.kind == ChatKind::Channel {
            return None;
        }
        let text = m.body()?.trim();
        if text.is_empty() {
            return None;
        }
        Some(Inbound {
            chat_id: m.chat.id,
            direct: m.is_direct(),
            sender_id: from.id,
            sender_name: from.username.clone(),
            text: text.to_owned(),
            topic: m.topic(),
            addressed: m.addresses_bot(bot.id, &bot.username),
        })
    }
}

/// Aborts a task when dropped (the worker and typing loops die with their account task).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Everything one account task works with.
pub struct AccountCtx {
    pub account: TelegramAccount,
    pub token: String,
    pub routing: (openclaw_channels::route::DmScope, String),
    pub db: Arc<StateDb>,
    pub hub: HubHandle,
    pub health: Arc<Health>,
    /// Held while a chunk is sent and recorded: stopping the account waits for it, so a
    /// delivered chunk is always recorded (no duplicate after a restart).
    pub delivering: Arc<tokio::sync::Mutex<()>>,
    wake: Notify,
}

impl AccountCtx {
    pub fn new(
        account: TelegramAccount,
        token: String,
        settings: &ChannelSettings,
        db: Arc<StateDb>,
        hub: HubHandle,
        health: Arc<Health>,
        delivering: Arc<tokio::sync::Mutex<()>>,
    ) -> Self {
        Self { account, token, routing: (settings.dm_scope, settings.main_key.clone()), db, hub, health, delivering, wake: Notify::new() }
    }

    fn masked(&self, text: &str) -> String {
        text.replace(&self.token, &mask_token(&self.token))
    }

    fn note_error(&self, text: &str) {
        let text = self.masked(text);
        tracing::warn!(account = %self.account.id, "telegram: {text}");
        self.health.update(|h| h.last_error = Some(text));
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&StateDb) -> T + Send + 'static) -> Option<T> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || f(&db)).await.ok()
    }
}

/// Runs the account until its task is aborted, or until Telegram refuses the token (then the
/// account stays stopped with `lastError`: no crash loop).
pub async fn run(ctx: Arc<AccountCtx>, outbound: Arc<Outbound>, config: LoopConfig, poll_grace: Duration) {
    let api = Arc::new(BotApi::new(OutboundTransport(outbound), &ctx.account.api_root, &ctx.token).with_poll_grace(poll_grace));
    let _worker = AbortOnDrop(tokio::spawn(worker(Arc::clone(&ctx), Arc::clone(&api))));
    ctx.health.update(|h| {
        h.running = true;
        h.last_start_at = Some(clock::wall().0);
    });
    let error = match ctx.account.webhook.clone() {
        None => account::run(&api, &*ctx, &config).await.to_string(),
        Some(webhook) => match super::webhook::bind(&webhook).await {
            Err(e) => e,
            Ok(listener) => {
                let (tx, mut inbox) = tokio::sync::mpsc::channel(super::webhook::INBOX);
                let secret = webhook.secret.0.clone();
                let url = webhook.url.clone();
                let _listener = AbortOnDrop(tokio::spawn(super::webhook::serve(listener, Arc::new(webhook), tx)));
                account::run_webhook(&api, &*ctx, &config, &url, &secret, &mut inbox).await.to_string()
            }
        },
    };
    ctx.note_error(&error);
    ctx.health.update(|h| {
        h.running = false;
        h.connected = false;
        h.last_stop_at = Some(clock::wall().0);
    });
}

impl Sink for AccountCtx {
    async fn last_update_id(&self, bot: &BotInfo) -> Option<i64> {
        let (account, token, id) = (self.account.id.clone(), self.token.clone(), bot.id);
        match self.blocking(move |db| store::read_offset(db, &account, id, &token)).await {
            Some(Ok(offset)) => offset,
            Some(Err(e)) => {
                self.note_error(&e.to_string());
                None
            }
            None => None,
        }
    }

    async fn handle(&self, bot: &BotInfo, update_id: i64, update: Option<Update>) {
        let inbound = update.as_ref().and_then(|u| Inbound::of(u, bot));
        let payload = inbound.as_ref().and_then(|i| serde_json::to_value(i).ok());
        let (account, token, bot_id) = (self.account.id.clone(), self.token.clone(), bot.id);
        let now = clock::wall().0;
        let recorded = self.blocking(move |db| store::record_update(db, &account, bot_id, &token, update_id, payload.as_ref(), now)).await;
        if let Some(Err(e)) = recorded {
            self.note_error(&e.to_string());
        }
        if inbound.is_some() {
            self.health.update(|h| h.last_inbound_at = Some(now));
            self.wake.notify_one();
        }
    }

    fn event(&self, event: Event) {
        let now = clock::wall().0;
        match event {
            Event::Started(bot) => {
                let how = if self.account.webhook.is_some() { "receiving updates by webhook" } else { "polling" };
                tracing::info!(account = %self.account.id, "telegram: {how} as @{}", bot.username);
                self.health.update(|h| h.bot_username = Some(bot.username));
            }
            Event::Polled => self.health.update(|h| {
                h.connected = true;
                h.last_connected_at = h.last_connected_at.filter(|_| h.reconnect_attempts == 0).or(Some(now));
                h.last_event_at = Some(now);
                h.reconnect_attempts = 0;
                h.last_error = None;
            }),
            Event::Error { error, retry_in } => {
                self.note_error(&error.to_string());
                self.health.update(|h| {
                    h.connected = false;
                    if retry_in.is_some() {
                        h.reconnect_attempts += 1;
                    }
                });
            }
        }
    }
}

/// Answers the inbox in order; wakes on each recorded update.
async fn worker<T: Transport + 'static>(ctx: Arc<AccountCtx>, api: Arc<BotApi<T>>) {
    loop {
        let notified = ctx.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let account = ctx.account.id.clone();
        let rows = match ctx.blocking(move |db| store::pending(db, "telegram", &account)).await {
            Some(Ok(rows)) => rows,
            Some(Err(e)) => {
                ctx.note_error(&e.to_string());
                Vec::new()
            }
            None => Vec::new(),
        };
        for row in rows {
            let outcome = if row.done { Ok(()) } else { answer(&ctx, &api, &row).await };
            let (account, id, now) = (ctx.account.id.clone(), row.event_id.clone(), clock::wall().0);
            let error = outcome.err();
            if let Some(e) = &error {
                ctx.note_error(&format!("update {id}: {e}"));
            }
            let _ = ctx.blocking(move |db| store::complete(db, "telegram", &account, &id, error.as_deref(), now)).await;
        }
        notified.await;
    }
}

/// Answers one inbox entry; `Err` is recorded as the entry's failure.
async fn answer<T: Transport + 'static>(ctx: &Arc<AccountCtx>, api: &Arc<BotApi<T>>, row: &store::Pending) -> Result<(), String> {
    let inbound: Inbound = serde_json::from_value(row.payload.clone()).map_err(|e| format!("unreadable inbox entry: {e}"))?;
    let account = ctx.account.id.clone();
    let peer = if inbound.direct {
        let approved = ctx.blocking(move |db| store::approved_senders(db, "telegram", &account)).await.and_then(Result::ok).unwrap_or_default();
        match ctx.account.dm.decide(inbound.sender_id, &approved) {
            DmDecision::Drop => return Ok(()),
            DmDecision::Pair => return pair(ctx, api, &inbound, row).await,
            DmDecision::Allow => Peer::Direct(inbound.sender_id.to_string()),
        }
    } else {
        let gated = ctx.account.require_mention(inbound.chat_id) && !inbound.addressed;
        if !ctx.account.group_allows(inbound.chat_id, inbound.sender_id) || gated {
            return Ok(());
        }
        Peer::Group { id: inbound.chat_id.to_string(), topic: inbound.topic }
    };
    // After a restart mid-reply the run's result is replayed by its idempotency key (no new
    // run) and the chunks already delivered are skipped.
    let reply = run_agent(ctx, api, &inbound, &peer, row).await?;
    deliver(ctx, api, &inbound, row, &reply).await
}

async fn pair<T: Transport + 'static>(ctx: &Arc<AccountCtx>, api: &Arc<BotApi<T>>, inbound: &Inbound, row: &store::Pending) -> Result<(), String> {
    let (account, sender, name, now) = (ctx.account.id.clone(), inbound.sender_id.to_string(), inbound.sender_name.clone(), clock::wall().0);
    let upsert = ctx
        .blocking(move |db| store::pairing_upsert(db, "telegram", &account, &sender, name.as_deref(), now))
        .await
        .ok_or("pairing store task failed")?
        .map_err(|e| e.to_string())?;
    match upsert {
        Upsert::Created(code) => deliver(ctx, api, inbound, row, &pairing_reply(inbound.sender_id, &code)).await,
        Upsert::Existing(_) => Ok(()),
    }
}

/// Runs the agent for one message and returns the reply text (empty: nothing to send).
async fn run_agent<T: Transport + 'static>(
    ctx: &Arc<AccountCtx>,
    api: &Arc<BotApi<T>>,
    inbound: &Inbound,
    peer: &Peer,
    row: &store::Pending,
) -> Result<String, String> {
    let key = session_key(&RouteInput {
        agent_id: "main",
        main_key: &ctx.routing.1,
        dm_scope: ctx.routing.0,
        channel: "telegram",
        account_id: &ctx.account.id,
        peer,
    });
    let params = AgentParams {
        message: inbound.text.clone(),
        idempotency_key: format!("telegram:{}:{}", ctx.account.id, row.event_id),
        session_key: Some(key),
        channel: Some("telegram".into()),
        account_id: Some(ctx.account.id.clone()),
        to: Some(inbound.chat_id.to_string()),
        ..AgentParams::default()
    };
    let caller = Caller::Channel { channel: "telegram".into(), account: ctx.account.id.clone(), peer: inbound.sender_id.to_string() };
    let mut scopes = ScopeSet::empty();
    scopes.insert(Scope::Write);
    // "typing…" while the agent works (Telegram shows it ~5 s per call).
    let typing = {
        let (api, chat, topic) = (Arc::clone(api), inbound.chat_id, inbound.topic);
        AbortOnDrop(tokio::spawn(async move {
            loop {
                let _ = api.typing(chat, topic).await;
                tokio::time::sleep(Duration::from_secs(4)).await;
            }
        }))
    };
    let mut stream = ctx.hub.start_run(caller, scopes, params).await.map_err(|e| e.to_string())?;
    let mut outcome = None;
    while let Some(event) = stream.next().await {
        match event {
            CallerEvent::Final { outcome: o, .. } => outcome = Some(o),
            CallerEvent::Response(Err(e)) => return Err(format!("agent refused: {}", e.message)),
            CallerEvent::Response(Ok(_)) | CallerEvent::Run { .. } => {}
        }
    }
    drop(typing);
    match outcome.ok_or("the gateway stopped before the run ended")? {
        RunOutcome::Ok(v) => Ok(reply_text(&v)),
        RunOutcome::Failed { error, .. } => Ok(format!("⚠️ {}", error.message)),
    }
}

/// The text of a finished run's payloads, joined by blank lines.
fn reply_text(v: &Value) -> String {
    let payloads = v["result"]["payloads"].as_array().cloned().unwrap_or_default();
    payloads.iter().filter_map(|p| p["text"].as_str()).filter(|t| !t.trim().is_empty()).collect::<Vec<_>>().join("\n\n")
}

/// Sends `text` in chunks, skipping those a previous attempt delivered, recording each.
/// Each chunk's send and record run in a task of their own that outlives an abort of the
/// account (stop waits for it through [`AccountCtx::delivering`]).
async fn deliver<T: Transport + 'static>(ctx: &Arc<AccountCtx>, api: &Arc<BotApi<T>>, inbound: &Inbound, row: &store::Pending, text: &str) -> Result<(), String> {
    let chunks = chunk_text(text, DEFAULT_CHUNK_CHARS);
    let total = chunks.len();
    for (i, chunk) in chunks.into_iter().enumerate().skip(row.sent_chunks) {
        let guard = Arc::clone(&ctx.delivering).lock_owned().await;
        let (ctx, api, chat, topic, id) = (Arc::clone(ctx), Arc::clone(api), inbound.chat_id, inbound.topic, row.event_id.clone());
        let sent = tokio::spawn(async move {
            let _guard = guard;
            send_chunk(&ctx, &api, chat, &chunk, topic).await?;
            let (account, now) = (ctx.account.id.clone(), clock::wall().0);
            ctx.health.update(|h| h.last_outbound_at = Some(now));
            let _ = ctx.blocking(move |db| store::mark_sent(db, "telegram", &account, &id, i + 1, i + 1 == total, now)).await;
            Ok::<(), String>(())
        });
        sent.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

async fn send_chunk<T: Transport>(ctx: &AccountCtx, api: &BotApi<T>, chat: i64, chunk: &str, topic: Option<i64>) -> Result<(), String> {
    let mut attempt = 0u32;
    loop {
        match api.send_text(chat, chunk, topic).await {
            Ok(_) => return Ok(()),
            Err(e @ (CallError::Transport(_) | CallError::Timeout { .. })) if attempt < 2 => {
                attempt += 1;
                ctx.note_error(&e.to_string());
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
            }
            Err(e) => return Err(ctx.masked(&e.to_string())),
        }
    }
}
