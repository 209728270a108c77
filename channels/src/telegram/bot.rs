//! The Bot API client: calls over an injected [`Transport`] (the gateway's one outbound HTTP
//! client in production), each with a client-side deadline, so a frozen long poll is abandoned
//! (its deadline is the poll timeout plus a grace) instead of stalling the account forever.
//!
//! - [`BotApi::start_up`]: the reference's start-up sequence (`getMe`, `deleteWebhook`,
//!   `deleteMyCommands` + `setMyCommands` for the default and the group scope);
//! - [`BotApi::get_updates`]: one long poll, parsed into a [`Batch`];
//! - [`BotApi::send_text`]: a reply in chunks of at most 4000 characters, HTML parse mode with a
//!   plain-text resend when Telegram cannot parse the entities, `retry_after` honoured on 429.

use std::future::Future;
use std::time::Duration;

use serde_json::{json, Value};

use super::api::{parse_response, ApiError};
use super::chunk::{chunk_text, DEFAULT_CHUNK_CHARS};
use super::update::{parse_batch, Batch};

/// Moves bytes to the Bot API. Implemented over the gateway's outbound client.
pub trait Transport: Send + Sync {
    /// POSTs a JSON body to `url`; the status and the whole response body.
    fn post_json(&self, url: String, body: Vec<u8>) -> impl Future<Output = Result<(u16, Vec<u8>), String>> + Send;
}

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Telegram answered with an error.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// No answer: connection refused, dropped, …
    #[error("Telegram unreachable: {0}")]
    Transport(String),
    /// No answer before the client deadline (a frozen poll).
    #[error("{method}: no answer within {after_ms} ms")]
    Timeout { method: String, after_ms: u64 },
}

impl CallError {
    /// Whether the poll loop backs off and retries (vs. stops with `lastError`).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api(e) => e.is_retryable(),
            Self::Transport(_) | Self::Timeout { .. } => true,
        }
    }
}

/// Who the bot is (`getMe`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotInfo {
    pub id: i64,
    pub username: String,
}

/// The long-poll parameters the reference uses.
pub const POLL_TIMEOUT_S: u64 = 30;
pub const POLL_LIMIT: u64 = 100;
/// `allowed_updates` as the reference sends it.
pub const ALLOWED_UPDATES: [&str; 24] = [
    "message", "edited_message", "channel_post", "edited_channel_post", "business_connection", "business_message",
    "edited_business_message", "deleted_business_messages", "guest_message", "inline_query", "chosen_inline_result",
    "callback_query", "shipping_query", "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer",
    "my_chat_member", "managed_bot", "chat_join_request", "chat_boost", "removed_chat_boost", "subscription",
    "message_reaction",
];
/// The commands registered at start-up: the ones this gateway answers (the reference registers
/// its whole slash-command catalogue).
pub const COMMANDS: [(&str, &str); 5] = [
    ("help", "Show available commands."),
    ("status", "Show current status."),
    ("whoami", "Show your sender id."),
    ("new", "Start a new session."),
    ("reset", "Reset the current session."),
];

/// Deadline for ordinary calls.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// At most this many attempts of one message on 429.
const SEND_ATTEMPTS: u32 = 3;
/// A `retry_after` above this is not waited for (the send fails with the 429).
const MAX_RETRY_AFTER_S: u64 = 60;

/// One bot's API.
pub struct BotApi<T> {
    transport: T,
    root: String,
    token: String,
    /// Added to a long poll's timeout for its client deadline.
    poll_grace: Duration,
}

impl<T: Transport> BotApi<T> {
    /// `root` is `channels.telegram.apiRoot` (default `https://api.telegram.org`).
    pub fn new(transport: T, root: &str, token: &str) -> Self {
        Self { transport, root: root.trim_end_matches('/').to_owned(), token: token.to_owned(), poll_grace: Duration::from_secs(15) }
    }

    /// Sets the grace a long poll gets past its timeout before it is abandoned.
    pub fn with_poll_grace(mut self, grace: Duration) -> Self {
        self.poll_grace = grace;
        self
    }

    /// Calls `method` with `body`, abandoning it after `deadline`.
    pub async fn call(&self, method: &str, body: &Value, deadline: Duration) -> Result<Value, CallError> {
        let url = format!("{}/bot{}/{method}", self.root, self.token);
        let sent = self.transport.post_json(url, body.to_string().into_bytes());
        let (status, bytes) = tokio::time::timeout(deadline, sent)
            .await
            .map_err(|_| CallError::Timeout { method: method.into(), after_ms: deadline.as_millis() as u64 })?
            // The URL carries the token: never let it into an error text.
            .map_err(|e| CallError::Transport(e.replace(&self.token, &super::mask_token(&self.token))))?;
        Ok(parse_response(status, &bytes)?)
    }

    /// The start-up sequence; `getMe`'s answer. A 401 here means the token is wrong.
    pub async fn start_up(&self) -> Result<BotInfo, CallError> {
        let me = self.call("getMe", &json!({}), CALL_TIMEOUT).await?;
        let info = BotInfo {
            id: me["id"].as_i64().ok_or_else(|| ApiError::Malformed { status: 200, detail: "getMe without id".into() })?,
            username: me["username"].as_str().unwrap_or_default().to_owned(),
        };
        self.call("deleteWebhook", &json!({"drop_pending_updates": false}), CALL_TIMEOUT).await?;
        let commands: Vec<Value> = COMMANDS.iter().map(|(c, d)| json!({"command": c, "description": d})).collect();
        let groups = json!({"type": "all_group_chats"});
        // Commands are a convenience: a failure here does not stop polling.
        let _ = self.call("deleteMyCommands", &json!({}), CALL_TIMEOUT).await;
        let _ = self.call("deleteMyCommands", &json!({"scope": groups}), CALL_TIMEOUT).await;
        let _ = self.call("setMyCommands", &json!({"commands": commands}), CALL_TIMEOUT).await;
        let _ = self.call("setMyCommands", &json!({"commands": commands, "scope": groups}), CALL_TIMEOUT).await;
        Ok(info)
    }

    /// One long poll from `offset` (the last handled update id + 1).
    pub async fn get_updates(&self, offset: Option<i64>, timeout_s: u64) -> Result<Batch, CallError> {
        let mut body = json!({"timeout": timeout_s, "limit": POLL_LIMIT, "allowed_updates": ALLOWED_UPDATES});
        if let Some(o) = offset {
            body["offset"] = json!(o);
        }
        let result = self.call("getUpdates", &body, Duration::from_secs(timeout_s) + self.poll_grace).await?;
        parse_batch(&result).map_err(|e| CallError::Api(ApiError::Malformed { status: 200, detail: e.to_string() }))
    }

    /// Sends `text` (Telegram HTML) to a chat, in chunks; the sent message ids.
    pub async fn send_text(&self, chat_id: impl Into<Value>, text: &str, thread: Option<i64>) -> Result<Vec<i64>, CallError> {
        let chat_id: Value = chat_id.into();
        let mut ids = Vec::new();
        for chunk in chunk_text(text, DEFAULT_CHUNK_CHARS) {
            let mut body = json!({"chat_id": chat_id.clone(), "text": chunk, "parse_mode": "HTML"});
            if let Some(t) = thread {
                body["message_thread_id"] = json!(t);
            }
            let sent = match self.send_with_retry(&body).await {
                Err(CallError::Api(ApiError::BadEntities { .. })) => {
                    if let Some(o) = body.as_object_mut() {
                        o.remove("parse_mode");
                    }
                    self.send_with_retry(&body).await?
                }
                other => other?,
            };
            ids.push(sent["message_id"].as_i64().unwrap_or_default());
        }
        Ok(ids)
    }

    /// Shows "typing…" in a chat (best effort).
    pub async fn typing(&self, chat_id: i64, thread: Option<i64>) -> Result<(), CallError> {
        let mut body = json!({"chat_id": chat_id, "action": "typing"});
        if let Some(t) = thread {
            body["message_thread_id"] = json!(t);
        }
        self.call("sendChatAction", &body, CALL_TIMEOUT).await.map(drop)
    }

    async fn send_with_retry(&self, body: &Value) -> Result<Value, CallError> {
        let mut attempt = 1;
        loop {
            match self.call("sendMessage", body, CALL_TIMEOUT).await {
                Err(CallError::Api(ApiError::RetryAfter { retry_after_s })) if attempt < SEND_ATTEMPTS && retry_after_s <= MAX_RETRY_AFTER_S => {
                    tokio::time::sleep(Duration::from_secs(retry_after_s)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}
