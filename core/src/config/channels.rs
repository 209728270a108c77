//! `channels.*` and `session.*`: the chat channels this gateway runs (Telegram, WhatsApp) and how
//! their direct messages map to sessions. Other channels the reference knows (`channels.discord`,
//! …) and the WhatsApp keys not typed here are reference-only keys: accepted with a "not
//! supported yet; ignored" warning.
//!
//! `botToken` is a secret: never in `Debug`, redacted by `config.get` (its key ends in `token`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `channels`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChannelsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telegram: Option<TelegramConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<WhatsAppConfig>,
}

/// `channels.telegram`: the default account's settings, plus `accounts.<id>` overriding them
/// per account (an account inherits every key it does not set).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TelegramConfig {
    /// Default true (an account with a token runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The BotFather token (`<bot id>:<secret>`); usually `"${TELEGRAM_BOT_TOKEN}"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_token: Option<String>,
    /// A file holding the token (used when `botToken` is not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
    /// The Bot API root (default `https://api.telegram.org`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_root: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dm_policy: Option<DmPolicySetting>,
    /// Telegram user ids allowed to DM (`"*"`: anyone; `tg:`/`telegram:` prefixes accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_from: Option<Vec<AllowFromEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_policy: Option<GroupPolicySetting>,
    /// Sender ids allowed in groups under `groupPolicy: "allowlist"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_allow_from: Option<Vec<AllowFromEntry>>,
    /// Per group chat id (or `"*"`): whether the bot answers only when mentioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<BTreeMap<String, TelegramGroupConfig>>,
    /// Webhook mode: the public HTTPS URL Telegram posts updates to (`setWebhook`); needs
    /// `webhookSecret`. Unset: long polling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// The secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token` (1-256 of `A-Za-z0-9_-`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    /// The local listener's path (default `/telegram-webhook`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_path: Option<String>,
    /// The local listener's address (default `127.0.0.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_host: Option<String>,
    /// The local listener's port (default 8787).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_port: Option<u16>,
    /// More bots, by account id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts: Option<BTreeMap<String, TelegramAccountConfig>>,
}

impl TelegramConfig {
    /// The top-level keys as an account (the default account, and what accounts inherit).
    pub fn base(&self) -> TelegramAccountConfig {
        TelegramAccountConfig {
            enabled: self.enabled,
            bot_token: self.bot_token.clone(),
            token_file: self.token_file.clone(),
            api_root: self.api_root.clone(),
            dm_policy: self.dm_policy,
            allow_from: self.allow_from.clone(),
            group_policy: self.group_policy,
            group_allow_from: self.group_allow_from.clone(),
            groups: self.groups.clone(),
            webhook_url: self.webhook_url.clone(),
            webhook_secret: self.webhook_secret.clone(),
            webhook_path: self.webhook_path.clone(),
            webhook_host: self.webhook_host.clone(),
            webhook_port: self.webhook_port,
        }
    }
}

impl std::fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramConfig").field("base", &self.base()).field("accounts", &self.accounts).finish()
    }
}

/// The settings of one Telegram bot account.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TelegramAccountConfig {
    /// Default true (an account with a token runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The BotFather token (`<bot id>:<secret>`); usually `"${TELEGRAM_BOT_TOKEN}"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_token: Option<String>,
    /// A file holding the token (used when `botToken` is not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
    /// The Bot API root (default `https://api.telegram.org`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_root: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dm_policy: Option<DmPolicySetting>,
    /// Telegram user ids allowed to DM (`"*"`: anyone; `tg:`/`telegram:` prefixes accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_from: Option<Vec<AllowFromEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_policy: Option<GroupPolicySetting>,
    /// Sender ids allowed in groups under `groupPolicy: "allowlist"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_allow_from: Option<Vec<AllowFromEntry>>,
    /// Per group chat id (or `"*"`): whether the bot answers only when mentioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<BTreeMap<String, TelegramGroupConfig>>,
    /// Webhook mode: the public HTTPS URL Telegram posts updates to (`setWebhook`); needs
    /// `webhookSecret`. Unset: long polling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// The secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token` (1-256 of `A-Za-z0-9_-`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    /// The local listener's path (default `/telegram-webhook`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_path: Option<String>,
    /// The local listener's address (default `127.0.0.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_host: Option<String>,
    /// The local listener's port (default 8787).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_port: Option<u16>,
}

impl std::fmt::Debug for TelegramAccountConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramAccountConfig")
            .field("enabled", &self.enabled)
            .field("bot_token", &self.bot_token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("api_root", &self.api_root)
            .field("dm_policy", &self.dm_policy)
            .field("allow_from", &self.allow_from)
            .field("group_policy", &self.group_policy)
            .field("group_allow_from", &self.group_allow_from)
            .field("groups", &self.groups)
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &self.webhook_secret.as_ref().map(|_| "<redacted>"))
            .field("webhook_path", &self.webhook_path)
            .field("webhook_host", &self.webhook_host)
            .field("webhook_port", &self.webhook_port)
            .finish()
    }
}

/// `dmPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DmPolicySetting {
    Pairing,
    Allowlist,
    Open,
    Disabled,
}

/// `groupPolicy` (default `allowlist`, as the reference).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupPolicySetting {
    Open,
    Allowlist,
    Disabled,
}

/// An `allowFrom` entry: a user id as a number or a string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum AllowFromEntry {
    Id(i64),
    Text(String),
}

impl AllowFromEntry {
    pub fn as_text(&self) -> String {
        match self {
            Self::Id(n) => n.to_string(),
            Self::Text(s) => s.clone(),
        }
    }
}

/// `channels.telegram.groups.<chatId>`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TelegramGroupConfig {
    /// Default true: in groups the bot answers only messages that mention it (or reply to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_mention: Option<bool>,
}

/// `channels.whatsapp`: the default account's settings, plus `accounts.<id>` overriding them
/// per account (an account inherits every key it does not set). An account runs once linked
/// (`openclaw channels login --channel whatsapp`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WhatsAppConfig {
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dm_policy: Option<DmPolicySetting>,
    /// Phone numbers (E.164, any punctuation; `whatsapp:` prefix accepted) allowed to DM;
    /// `"*"`: anyone. Unset: only the linked number itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_from: Option<Vec<AllowFromEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_policy: Option<GroupPolicySetting>,
    /// Senders allowed in groups under `groupPolicy: "allowlist"` (unset: `allowFrom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_allow_from: Option<Vec<AllowFromEntry>>,
    /// Per group JID (`…@g.us`, or `"*"`): whether the bot answers only when mentioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<BTreeMap<String, TelegramGroupConfig>>,
    /// Blue ticks on the messages the agent answers (default true; never in the self-chat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_read_receipts: Option<bool>,
    /// More linked numbers, by account id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts: Option<BTreeMap<String, WhatsAppAccountConfig>>,
}

impl WhatsAppConfig {
    /// The top-level keys as an account (the default account, and what accounts inherit).
    pub fn base(&self) -> WhatsAppAccountConfig {
        WhatsAppAccountConfig {
            enabled: self.enabled,
            dm_policy: self.dm_policy,
            allow_from: self.allow_from.clone(),
            group_policy: self.group_policy,
            group_allow_from: self.group_allow_from.clone(),
            groups: self.groups.clone(),
            send_read_receipts: self.send_read_receipts,
        }
    }
}

/// The settings of one WhatsApp account (`channels.whatsapp.accounts.<id>`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WhatsAppAccountConfig {
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dm_policy: Option<DmPolicySetting>,
    /// Phone numbers allowed to DM (`"*"`: anyone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_from: Option<Vec<AllowFromEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_policy: Option<GroupPolicySetting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_allow_from: Option<Vec<AllowFromEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<BTreeMap<String, TelegramGroupConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_read_receipts: Option<bool>,
}

/// `session`: how inbound channel messages map to session keys.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionConfig {
    /// Default `main`: every DM shares the agent's main session (the reference's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dm_scope: Option<DmScopeSetting>,
    /// The main session's key (default `main`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_key: Option<String>,
}

/// `session.dmScope`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DmScopeSetting {
    Main,
    PerPeer,
    PerChannelPeer,
    PerAccountChannelPeer,
}
