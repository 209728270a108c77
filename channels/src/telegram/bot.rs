//! The Bot API client: calls over an injected [`Transport`] (the gateway's one outbound HTTP
//! client in production), each with a client-side deadline, so a frozen long poll is abandoned
//! (its deadline is the poll timeout plus a grace) instead of stalling the account forever.
//!
//! - [`BotApi::start_up`]: the reference's start-up sequence (`getMe`, `deleteWebhook`,
//!   `deleteMyCommands` + `setMyCommands` for the default and the group scope);
//! - [`BotApi::get_updates`]: one long poll, parsed into a [`Batch`];
//! - [`BotApi::send_text`]: a reply in chunks of at most 4000 characters, HTML parse mode with a
//!   plain-text resend when Telegram cannot parse the entities, `retry_after` honoured on 429;
//! - [`BotApi::send_with_media`]: photos, documents, … by URL or as a multipart upload, the text
//!   as the caption when it fits 1024 characters, else after the media.

use std::future::Future;
use std::time::Duration;

use serde_json::{json, Value};

use super::api::{parse_response, ApiError};
use super::chunk::{chunk_text, DEFAULT_CHUNK_CHARS};
use super::media::{fits_caption, multipart, Media, MediaSource};
use super::update::{parse_batch, Batch};

/// Moves bytes to the Bot API. Implemented over the gateway's outbound client.
pub trait Transport: Send + Sync {
    /// POSTs `body` of `content_type` to `url`; the status and the whole response body.
    fn post(&self, url: String, content_type: String, body: Vec<u8>) -> impl Future<Output = Result<(u16, Vec<u8>), String>> + Send;

    /// POSTs a JSON body to `url`.
    fn post_json(&self, url: String, body: Vec<u8>) -> impl Future<Output = Result<(u16, Vec<u8>), String>> + Send {
        self.post(url, "application/json".to_owned(), body)
    }
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
/// Deadline for a media send (an upload of up to 50 MB).
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);
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
        self.call_raw(method, "application/json".to_owned(), body.to_string().into_bytes(), deadline).await
    }

    /// Calls `method` with a body of any content type (a multipart upload).
    async fn call_raw(&self, method: &str, content_type: String, body: Vec<u8>, deadline: Duration) -> Result<Value, CallError> {
        let url = format!("{}/bot{}/{method}", self.root, self.token);
        let sent = self.transport.post(url, content_type, body);
        let (status, bytes) = tokio::time::timeout(deadline, sent)
            .await
            .map_err(|_| CallError::Timeout { method: method.into(), after_ms: deadline.as_millis() as u64 })?
            // The URL carries the token: never let it into an error text.
            .map_err(|e| CallError::Transport(e.replace(&self.token, &super::mask_token(&self.token))))?;
        Ok(parse_response(status, &bytes)?)
    }

    /// The start-up sequence; `getMe`'s answer. A 401 here means the token is wrong.
    pub async fn start_up(&self) -> Result<BotInfo, CallError> {
        let info = self.get_me().await?;
        self.call("deleteWebhook", &json!({"drop_pending_updates": false}), CALL_TIMEOUT).await?;
        self.register_commands().await;
        Ok(info)
    }

    /// The start-up sequence of webhook mode: `getMe`, the commands, then `setWebhook` with
    /// the secret Telegram will send back in `X-Telegram-Bot-Api-Secret-Token`.
    pub async fn start_up_webhook(&self, url: &str, secret: &str) -> Result<BotInfo, CallError> {
        let info = self.get_me().await?;
        self.register_commands().await;
        let body = json!({"url": url, "secret_token": secret, "allowed_updates": ALLOWED_UPDATES});
        self.call("setWebhook", &body, CALL_TIMEOUT).await.map_err(|e| match e {
            // The secret never goes into an error text.
            CallError::Transport(t) => CallError::Transport(t.replace(secret, "***")),
            other @ (CallError::Api(_) | CallError::Timeout { .. }) => other,
        })?;
        Ok(info)
    }

    async fn get_me(&self) -> Result<BotInfo, CallError> {
        let me = self.call("getMe", &json!({}), CALL_TIMEOUT).await?;
        Ok(BotInfo {
            id: me["id"].as_i64().ok_or_else(|| ApiError::Malformed { status: 200, detail: "getMe without id".into() })?,
            username: me["username"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Commands are a convenience: a failure here does not stop the account.
    async fn register_commands(&self) {
        let commands: Vec<Value> = COMMANDS.iter().map(|(c, d)| json!({"command": c, "description": d})).collect();
        let groups = json!({"type": "all_group_chats"});
        let _ = self.call("deleteMyCommands", &json!({}), CALL_TIMEOUT).await;
        let _ = self.call("deleteMyCommands", &json!({"scope": groups}), CALL_TIMEOUT).await;
        let _ = self.call("setMyCommands", &json!({"commands": commands}), CALL_TIMEOUT).await;
        let _ = self.call("setMyCommands", &json!({"commands": commands, "scope": groups}), CALL_TIMEOUT).await;
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

    /// Sends `text` with `media` to a chat: each media item in order, `text` as the first
    /// one's caption when it fits the 1024-character limit, else as its own message(s) after
    /// the media. The sent message ids, the text's last.
    pub async fn send_with_media(&self, chat_id: impl Into<Value>, text: &str, media: &[Media], thread: Option<i64>) -> Result<Vec<i64>, CallError> {
        let chat_id: Value = chat_id.into();
        if media.is_empty() {
            return self.send_text(chat_id, text, thread).await;
        }
        let captioned = fits_caption(text);
        let mut ids = Vec::new();
        for (i, item) in media.iter().enumerate() {
            let caption = (i == 0 && captioned).then_some(text);
            ids.push(self.send_media(chat_id.clone(), item, caption, thread).await?);
        }
        if !captioned && !text.trim().is_empty() {
            ids.extend(self.send_text(chat_id, text, thread).await?);
        }
        Ok(ids)
    }

    /// One media item (a URL Telegram fetches, or an upload), with an HTML caption that is
    /// resent as plain text when Telegram cannot parse it; the message id.
    pub async fn send_media(&self, chat_id: Value, media: &Media, caption: Option<&str>, thread: Option<i64>) -> Result<i64, CallError> {
        let (method, field) = media.kind.method();
        let mut fields = json!({"chat_id": chat_id});
        if let Some(c) = caption {
            fields["caption"] = json!(c);
            fields["parse_mode"] = json!("HTML");
        }
        if let Some(t) = thread {
            fields["message_thread_id"] = json!(t);
        }
        let sent = match self.send_media_with_retry(method, field, &fields, &media.source).await {
            Err(CallError::Api(ApiError::BadEntities { .. })) if caption.is_some() => {
                if let Some(o) = fields.as_object_mut() {
                    o.remove("parse_mode");
                }
                self.send_media_with_retry(method, field, &fields, &media.source).await?
            }
            other => other?,
        };
        Ok(sent["message_id"].as_i64().unwrap_or_default())
    }

    async fn send_media_with_retry(&self, method: &str, field: &str, fields: &Value, source: &MediaSource) -> Result<Value, CallError> {
        let mut attempt = 1;
        loop {
            let sent = match source {
                MediaSource::Url(url) => {
                    let mut body = fields.clone();
                    body[field] = json!(url);
                    self.call(method, &body, UPLOAD_TIMEOUT).await
                }
                MediaSource::Upload { file_name, content_type, bytes } => {
                    let (ct, body) = multipart(fields, field, file_name, content_type, bytes, &boundary_for(bytes));
                    self.call_raw(method, ct, body, UPLOAD_TIMEOUT).await
                }
            };
            match sent {
                Err(CallError::Api(ApiError::RetryAfter { retry_after_s })) if attempt < SEND_ATTEMPTS && retry_after_s <= MAX_RETRY_AFTER_S => {
                    tokio::time::sleep(Duration::from_secs(retry_after_s)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
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

/// A multipart boundary that does not occur in `bytes` (derived from them: no randomness).
fn boundary_for(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes.iter().take(1 << 16) {
        hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut n = 0u32;
    loop {
        let candidate = format!("openclaw-{hash:016x}-{n}");
        if !bytes.windows(candidate.len()).any(|w| w == candidate.as_bytes()) {
            return candidate;
        }
        n += 1;
    }
}
