//! Telegram over the Bot API: the pure parts, and the client.
//! - [`update`]: `getUpdates` results parsed into typed updates;
//! - [`account`]: one account's polling loop (offsets via a durable sink, backoff, stop on 401);
//! - [`bot`]: the Bot API client (start-up, long polls, replies) over an injected transport;
//! - [`api`]: the response envelope (`{ok, result}` / `{ok:false, error_code, description,
//!   parameters.retry_after}`) and what each error means for the caller;
//! - [`policy`]: `dmPolicy` and `allowFrom`, the decision for an inbound DM;
//! - [`probe`]: the `getMe` probe of `channels.status {probe: true}`;
//! - [`chunk`]: splitting a reply into messages of at most 4096 characters;
//! - [`media`]: which send method a file goes to, the caption limit, multipart uploads;
//! - [`pairing_reply`]: the text an unknown sender gets under `dmPolicy: "pairing"`.

pub mod account;
pub mod api;
pub mod bot;
pub mod chunk;
pub mod media;
pub mod policy;
pub mod probe;
pub mod update;

use crate::pairing::PairingCode;

/// The reply to an unknown DM under `dmPolicy: "pairing"` (HTML parse mode), as the reference
/// sends it.
pub fn pairing_reply(user_id: i64, code: &PairingCode) -> String {
    format!(
        "OpenClaw: access not configured.\n\nYour Telegram user id: {user_id}\nPairing code:\n\n<pre><code>{code}\n</code></pre>\nAsk the bot owner to approve with:\n\n<pre><code>openclaw pairing approve telegram {code}\n</code></pre>"
    )
}

/// The bot id: the numeric prefix of the token before `:` (`None` for a malformed token).
pub fn bot_id_of_token(token: &str) -> Option<i64> {
    let (id, secret) = token.trim().split_once(':')?;
    (!secret.is_empty()).then_some(())?;
    id.parse().ok().filter(|id| *id > 0)
}

/// A token for logs: the bot id and the secret's length, never the secret.
pub fn mask_token(token: &str) -> String {
    match token.split_once(':') {
        Some((id, secret)) => format!("{id}:***({} chars)", secret.len()),
        None => format!("***({} chars)", token.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pairing_reply_is_the_captured_text() {
        let code = PairingCode::parse("7TD7KYQQ").expect("code");
        // From openclaw-2026.9.6-telegram-botapi-requests.jsonl.
        let captured = "OpenClaw: access not configured.\n\nYour Telegram user id: 111\nPairing code:\n\n<pre><code>7TD7KYQQ\n</code></pre>\nAsk the bot owner to approve with:\n\n<pre><code>openclaw pairing approve telegram 7TD7KYQQ\n</code></pre>";
        assert_eq!(pairing_reply(111, &code), captured);
    }

    #[test]
    fn bot_ids_come_from_the_token_prefix() {
        assert_eq!(bot_id_of_token("123456:AAFakeTokenForLoopbackTestsOnly0000"), Some(123456));
        assert_eq!(bot_id_of_token("abc:def"), None);
        assert_eq!(bot_id_of_token("123456"), None);
        assert_eq!(bot_id_of_token("123456:"), None);
        assert_eq!(bot_id_of_token("-5:x"), None);
    }

    #[test]
    fn masked_tokens_keep_no_secret() {
        let masked = mask_token("123456:AAFakeTokenForLoopbackTestsOnly0000");
        assert_eq!(masked, "123456:***(35 chars)");
        assert!(!mask_token("justasecret").contains("secret"));
    }
}
