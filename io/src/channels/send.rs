//! The `send` RPC (channels-agent-nodes.md §1): direct outbound delivery, in the spec's
//! validation order (schema → cached answer → text or media required → channel → account →
//! target → media readable), text and media (`mediaUrl`/`mediaUrls`: URLs or local files
//! confined by [`super::local_media`]),
//! the answer `{runId, messageId, channel, chatId}` cached by `idempotencyKey` in the state
//! database (so a retry after a restart gets the same answer and sends nothing), delivery
//! failures answered (and cached) as UNAVAILABLE.

use std::sync::Arc;

use openclaw_channels::telegram::bot::BotApi;
use openclaw_channels::telegram::media::{Media, MediaKind, MediaSource};
use openclaw_channels::whatsapp::account::{SendError, SendRequest};
use openclaw_channels::whatsapp::target::normalize_target;
use openclaw_core::limits::IDEMPOTENCY_TTL;
use openclaw_core::wire::channels::SendParams;
use openclaw_core::wire::frames::{ErrorCode, ErrorShape};
use serde_json::{json, Value};

use super::telegram::OutboundTransport;
use super::local_media::{self, MediaPolicy};
use super::{store, ChannelRuntime};
use crate::clock;

/// A Telegram target: the chat (`-?\d+` or `@name`) and an optional topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub chat: Value,
    pub thread: Option<i64>,
}

/// Parses a Telegram target (§1.4).
pub fn parse_target(raw: &str) -> Result<Target, String> {
    let mut s = raw.trim();
    if s.starts_with('/') || s.starts_with("./") || s.starts_with("../") {
        return Err(format!("Telegram target {raw:?} looks like a file-system path, not a chat"));
    }
    loop {
        let lower = s.to_ascii_lowercase();
        let Some(rest) = ["telegram:", "tg:"].iter().find_map(|p| lower.starts_with(p).then(|| &s[p.len()..])) else { break };
        s = rest.trim();
        if s.to_ascii_lowercase().starts_with("group:") {
            s = s[6..].trim();
        }
    }
    let (chat, thread) = match s.split_once(":topic:") {
        Some((c, t)) => (c, Some(t)),
        None => match s.rsplit_once(':') {
            Some((c, t)) if t.parse::<i64>().is_ok() && !c.contains("//") => (c, Some(t)),
            _ => (s, None),
        },
    };
    let thread = thread.map(|t| t.trim().parse::<i64>().map_err(|_| format!("Telegram target {raw:?}: bad topic id {t:?}"))).transpose()?;
    let chat = chat.trim();
    let name = chat.strip_prefix("https://").unwrap_or(chat);
    let name = name.strip_prefix("t.me/").map(|n| format!("@{n}"));
    let chat = match name {
        Some(n) => Value::String(n),
        None if chat.parse::<i64>().is_ok() => json!(chat.parse::<i64>().unwrap_or_default()),
        None if chat.starts_with('@') && chat.len() > 1 => Value::String(chat.to_owned()),
        None if chat.len() >= 5 && chat.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => Value::String(format!("@{chat}")),
        None => return Err(format!("invalid Telegram target {raw:?}: expected a chat id, @username or t.me link")),
    };
    // The general topic (1) is sent without message_thread_id: Telegram refuses it.
    Ok(Target { chat, thread: thread.filter(|t| *t != 1) })
}

/// A media item of `send`: an `http(s)` URL (Telegram fetches it) or a local file read under
/// `policy` ([`local_media`]: the allowed roots, symlinks resolved, the host-read check, at
/// most 50 MB), uploaded. `Err` is the refusal's text.
pub async fn load_media(raw: &str, force_document: bool, policy: &MediaPolicy) -> Result<Media, String> {
    let lower = raw.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(Media { kind: MediaKind::of(raw, None, force_document), source: MediaSource::Url(raw.to_owned()) });
    }
    let (raw, policy) = (raw.to_owned(), policy.clone());
    tokio::task::spawn_blocking(move || local_media::load(&raw, &policy, force_document)).await.map_err(|e| format!("media: {e}"))?
}

fn invalid(message: String) -> ErrorShape {
    ErrorShape::new(ErrorCode::InvalidRequest, message)
}

/// Caches a `send` answer (success or delivery failure) under its idempotency key.
async fn cache(runtime: &ChannelRuntime, key: String, answer: &Result<Value, String>) {
    let cached = match answer {
        Ok(payload) => json!({"ok": true, "payload": payload}),
        Err(message) => json!({"ok": false, "error": message}),
    };
    let db = Arc::clone(&runtime.db);
    let ttl = u64::try_from(IDEMPOTENCY_TTL.as_millis()).unwrap_or(u64::MAX);
    let now = clock::wall().0;
    let _ = tokio::task::spawn_blocking(move || store::send_store(&db, &key, &cached, now, now.saturating_add(ttl))).await;
}

/// The WhatsApp half of `send`: the account's ledger makes it idempotent across restarts;
/// no open connection → NOT_LINKED with the reference's text (not cached: the same key sends
/// once the account is linked).
async fn send_whatsapp(runtime: &Arc<ChannelRuntime>, params: &SendParams, key: String, text: String) -> Result<Value, ErrorShape> {
    let Some(account) = runtime.whatsapp.account(params.account_id.as_deref()) else {
        let which = params.account_id.as_deref().unwrap_or("default");
        return Err(invalid(format!("unknown whatsapp account: {which}")));
    };
    let target = normalize_target(&params.to).map_err(|e| invalid(e.to_string()))?;
    let req = SendRequest { idempotency_key: key.clone(), target, text };
    let answer = match runtime.whatsapp.send(&account.id, req).await {
        Ok(sent) => Ok(json!({"runId": key, "messageId": sent.message_id, "channel": "whatsapp", "toJid": sent.to_jid})),
        Err(SendError::NotLinked(message)) => return Err(ErrorShape::new(ErrorCode::NotLinked, message)),
        Err(SendError::Failed(message)) => Err(message),
    };
    cache(runtime, key, &answer).await;
    answer.map_err(|m| ErrorShape::new(ErrorCode::Unavailable, m))
}

/// Answers `send`.
pub async fn send(runtime: &Arc<ChannelRuntime>, params: SendParams) -> Result<Value, ErrorShape> {
    let key = params.idempotency_key.trim().to_owned();
    let now = clock::wall().0;
    let db = Arc::clone(&runtime.db);
    let k = key.clone();
    if let Ok(Ok(Some(cached))) = tokio::task::spawn_blocking(move || store::send_cached(&db, &k, now)).await {
        return match cached["ok"].as_bool() {
            Some(true) => Ok(cached["payload"].clone()),
            _ => Err(ErrorShape::new(ErrorCode::Unavailable, cached["error"].as_str().unwrap_or("send failed").to_owned())),
        };
    }
    let text = params.message.as_deref().map(str::trim).unwrap_or_default().to_owned();
    let has_media = params.media_url.as_deref().is_some_and(|m| !m.trim().is_empty())
        || params.media_urls.iter().flatten().any(|m| !m.trim().is_empty());
    if text.is_empty() && !has_media {
        return Err(invalid("invalid send params: text or media is required".into()));
    }
    let telegram = runtime.account(None).is_some();
    let whatsapp = runtime.whatsapp.configured();
    let channel = match params.channel.as_deref().map(|c| c.trim().to_ascii_lowercase()).filter(|c| !c.is_empty()) {
        Some(c) if c == "telegram" || (c == "whatsapp" && whatsapp) => c,
        Some(c) if c == "webchat" => return Err(invalid("unsupported channel: webchat (internal-only; use `chat.send` for WebChat sessions)".into())),
        Some(c) => return Err(invalid(format!("unsupported channel: {c}"))),
        None if telegram && whatsapp => return Err(invalid("Channel is required when multiple channels are configured: telegram, whatsapp".into())),
        None if telegram => "telegram".into(),
        None if whatsapp => "whatsapp".into(),
        None => return Err(invalid("no channel is configured to deliver to (set channels.telegram or channels.whatsapp)".into())),
    };
    if channel == "whatsapp" {
        if has_media {
            return Err(invalid("WhatsApp media sends are not supported yet (send text)".into()));
        }
        return send_whatsapp(runtime, &params, key, text).await;
    }
    let Some(account) = runtime.account(params.account_id.as_deref()) else {
        let which = params.account_id.as_deref().unwrap_or("default");
        return Err(invalid(format!("unknown {channel} account: {which}")));
    };
    let mut target = parse_target(&params.to).map_err(invalid)?;
    if let Some(t) = params.thread_id.as_deref().and_then(|t| t.trim().parse::<i64>().ok()) {
        target.thread = Some(t).filter(|t| *t != 1);
    }
    // A refused local file is answered UNAVAILABLE (and cached), as the reference answers it.
    let policy = runtime.media_policy();
    let mut media = Vec::new();
    for raw in params.media_url.iter().chain(params.media_urls.iter().flatten()).map(|m| m.trim()).filter(|m| !m.is_empty()) {
        match load_media(raw, params.force_document == Some(true), &policy).await {
            Ok(m) => media.push(m),
            Err(refused) => {
                let answer = Err(refused);
                cache(runtime, key, &answer).await;
                return answer.map_err(|m| ErrorShape::new(ErrorCode::Unavailable, m));
            }
        }
    }
    let answer = match (&account.token, account.enabled) {
        (Some(token), true) => {
            let api = BotApi::new(OutboundTransport(Arc::clone(&runtime.outbound)), &account.api_root, &token.0);
            match api.send_with_media(target.chat.clone(), &text, &media, target.thread).await {
                Ok(ids) => {
                    if let Some(h) = runtime.health(&account.id) {
                        h.update(|h| h.last_outbound_at = Some(clock::wall().0));
                    }
                    let chat = match &target.chat {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let message_id = ids.last().map(i64::to_string).unwrap_or_default();
                    Ok(json!({"runId": key, "messageId": message_id, "channel": channel, "chatId": chat}))
                }
                Err(e) => Err(e.to_string().replace(&token.0, &openclaw_channels::telegram::mask_token(&token.0))),
            }
        }
        _ => Err(format!("{channel} account {} is not running (no token, or disabled)", account.id)),
    };
    cache(runtime, key, &answer).await;
    answer.map_err(|m| ErrorShape::new(ErrorCode::Unavailable, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_targets_normalise() {
        let t = |s: &str| parse_target(s).map(|t| (t.chat, t.thread));
        assert_eq!(t("111"), Ok((json!(111), None)));
        assert_eq!(t("tg:telegram:-100123"), Ok((json!(-100123), None)));
        assert_eq!(t("telegram:group:-100123:topic:7"), Ok((json!(-100123), Some(7))));
        assert_eq!(t("-100123:9"), Ok((json!(-100123), Some(9))));
        assert_eq!(t("-100123:topic:1"), Ok((json!(-100123), None)), "the general topic is sent without a thread");
        assert_eq!(t("https://t.me/somechannel"), Ok((json!("@somechannel"), None)));
        assert_eq!(t("@ann"), Ok((json!("@ann"), None)));
        assert_eq!(t("ann_bot"), Ok((json!("@ann_bot"), None)));
        assert!(t("/etc/passwd").unwrap_err().contains("file-system path"));
        assert!(t("a b").is_err());
    }
}
