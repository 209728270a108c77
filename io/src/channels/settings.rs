//! `channels.*` and `session.*` projected into what the channel runtime runs: one
//! [`TelegramAccount`] per configured bot with its token resolved (`botToken`, else
//! `tokenFile`, else `$TELEGRAM_BOT_TOKEN` for the default account) and its policies parsed.
//! Values the schema accepts but that cannot work (`dmPolicy: "open"` without `"*"`, an
//! allowFrom entry that is not a user id) are refused here, naming the key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use openclaw_channels::route::DmScope;
use openclaw_channels::telegram::policy::{parse_allow_entry, AllowEntry, DmAccess, DmPolicy};
use openclaw_core::config::{
    AllowFromEntry, Config, DmPolicySetting, DmScopeSetting, GroupPolicySetting, TelegramAccountConfig,
};

use crate::settings::SettingsError;

/// The default Bot API root.
pub const DEFAULT_API_ROOT: &str = "https://api.telegram.org";
/// The default account id.
pub const DEFAULT_ACCOUNT: &str = "default";

/// Where an account's token came from (`channels.status` `tokenSource`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    Config,
    TokenFile,
    Env,
    None,
}

impl TokenSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::TokenFile => "tokenFile",
            Self::Env => "env",
            Self::None => "none",
        }
    }
}

/// A bot token; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct BotToken(pub String);

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&openclaw_channels::telegram::mask_token(&self.0))
    }
}

/// `groupPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupPolicy {
    Open,
    Allowlist,
    Disabled,
}

/// One Telegram bot account, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct TelegramAccount {
    pub id: String,
    pub enabled: bool,
    pub token: Option<BotToken>,
    pub token_source: TokenSource,
    /// Why the token could not be read (a `tokenFile` that is missing), shown as `lastError`.
    pub token_error: Option<String>,
    pub api_root: String,
    pub dm: DmAccess,
    pub group_policy: GroupPolicy,
    /// Senders allowed in groups under `allowlist` (`groupAllowFrom`, else `allowFrom`).
    pub group_allow: Vec<AllowEntry>,
    /// `groups.<chatId|*>.requireMention`.
    pub groups: BTreeMap<String, bool>,
    /// Webhook mode (`webhookUrl` set); `None`: long polling.
    pub webhook: Option<Webhook>,
}

/// Webhook mode: Telegram posts updates to `url`; a listener on `host:port` serves `path`.
#[derive(Clone, Debug, PartialEq)]
pub struct Webhook {
    pub url: String,
    /// Compared with `X-Telegram-Bot-Api-Secret-Token` (never printed).
    pub secret: BotToken,
    pub path: String,
    pub host: String,
    pub port: u16,
}

/// Webhook defaults, as the reference.
pub const DEFAULT_WEBHOOK_PATH: &str = "/telegram-webhook";
pub const DEFAULT_WEBHOOK_PORT: u16 = 8787;
/// The webhook listener's health path.
pub const WEBHOOK_HEALTH_PATH: &str = "/healthz";

impl TelegramAccount {
    /// Whether the bot answers in `chat` only when mentioned (default true).
    pub fn require_mention(&self, chat: i64) -> bool {
        self.groups.get(&chat.to_string()).or_else(|| self.groups.get("*")).copied().unwrap_or(true)
    }

    /// Whether a group message from `sender` in `chat` may reach the agent (before mention gating).
    pub fn group_allows(&self, chat: i64, sender: i64) -> bool {
        match self.group_policy {
            GroupPolicy::Disabled => false,
            GroupPolicy::Open => true,
            GroupPolicy::Allowlist => {
                self.groups.contains_key(&chat.to_string())
                    || self.group_allow.iter().any(|e| *e == AllowEntry::Anyone || *e == AllowEntry::User(sender))
            }
        }
    }
}

/// Everything the channel runtime runs on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChannelSettings {
    /// Empty when `channels.telegram` is absent.
    pub telegram: Vec<TelegramAccount>,
    /// Empty when `channels.whatsapp` is absent.
    pub whatsapp: Vec<super::whatsapp::WhatsAppAccount>,
    pub dm_scope: DmScope,
    pub main_key: String,
    /// Where `send` may read local media from (set by [`crate::settings::Settings::project`],
    /// which knows the state directory and the workspace).
    pub media: super::local_media::MediaPolicy,
}

impl ChannelSettings {
    /// The same accounts and routing (the media policy aside): nothing to restart.
    pub fn same_accounts(&self, other: &Self) -> bool {
        (&self.telegram, &self.whatsapp, self.dm_scope, &self.main_key) == (&other.telegram, &other.whatsapp, other.dm_scope, &other.main_key)
    }
}

impl ChannelSettings {
    pub fn project(config: &Config, env: &impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let session = config.session.clone().unwrap_or_default();
        let dm_scope = match session.dm_scope {
            None | Some(DmScopeSetting::Main) => DmScope::Main,
            Some(DmScopeSetting::PerPeer) => DmScope::PerPeer,
            Some(DmScopeSetting::PerChannelPeer) => DmScope::PerChannelPeer,
            Some(DmScopeSetting::PerAccountChannelPeer) => DmScope::PerAccountChannelPeer,
        };
        let main_key = session.main_key.filter(|k| !k.trim().is_empty()).unwrap_or_else(|| "main".into());
        let mut telegram = Vec::new();
        if let Some(tg) = config.channels.as_ref().and_then(|c| c.telegram.as_ref()) {
            let base = tg.base();
            let top_enabled = base.enabled.unwrap_or(true);
            let named = tg.accounts.clone().unwrap_or_default();
            let base_has_token = base.bot_token.is_some() || base.token_file.is_some() || env("TELEGRAM_BOT_TOKEN").is_some();
            if named.is_empty() || base_has_token || named.contains_key(DEFAULT_ACCOUNT) {
                let over = named.get(DEFAULT_ACCOUNT).cloned().unwrap_or_default();
                telegram.push(account(DEFAULT_ACCOUNT, &merge(&base, &over), top_enabled, "channels.telegram", env)?);
            }
            for (id, over) in named.iter().filter(|(id, _)| id.as_str() != DEFAULT_ACCOUNT) {
                let key = format!("channels.telegram.accounts.{id}");
                telegram.push(account(id, &merge(&base, over), top_enabled, &key, env)?);
            }
        }
        let whatsapp = super::whatsapp::project(config)?;
        Ok(Self { telegram, whatsapp, dm_scope, main_key, media: super::local_media::MediaPolicy::default() })
    }
}

/// `over` on top of `base`, key by key.
fn merge(base: &TelegramAccountConfig, over: &TelegramAccountConfig) -> TelegramAccountConfig {
    // A token set on the account replaces both token keys of the base.
    let own_token = over.bot_token.is_some() || over.token_file.is_some();
    TelegramAccountConfig {
        enabled: over.enabled.or(base.enabled),
        bot_token: if own_token { over.bot_token.clone() } else { base.bot_token.clone() },
        token_file: if own_token { over.token_file.clone() } else { base.token_file.clone() },
        api_root: over.api_root.clone().or_else(|| base.api_root.clone()),
        dm_policy: over.dm_policy.or(base.dm_policy),
        allow_from: over.allow_from.clone().or_else(|| base.allow_from.clone()),
        group_policy: over.group_policy.or(base.group_policy),
        group_allow_from: over.group_allow_from.clone().or_else(|| base.group_allow_from.clone()),
        groups: over.groups.clone().or_else(|| base.groups.clone()),
        webhook_url: over.webhook_url.clone().or_else(|| base.webhook_url.clone()),
        webhook_secret: over.webhook_secret.clone().or_else(|| base.webhook_secret.clone()),
        webhook_path: over.webhook_path.clone().or_else(|| base.webhook_path.clone()),
        webhook_host: over.webhook_host.clone().or_else(|| base.webhook_host.clone()),
        webhook_port: over.webhook_port.or(base.webhook_port),
    }
}

/// `webhookUrl` & co., checked: a URL, a secret Telegram accepts, a path that is not the
/// listener's health path.
fn webhook(c: &TelegramAccountConfig, key: &str) -> Result<Option<Webhook>, SettingsError> {
    let Some(url) = c.webhook_url.as_ref().map(|u| u.trim()).filter(|u| !u.is_empty()) else { return Ok(None) };
    let bad = |field: &str, message: String| SettingsError { field: format!("{key}.{field}"), message };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(bad("webhookUrl", format!("expected an https URL (got {url:?})")));
    }
    let secret = c.webhook_secret.as_deref().map(str::trim).unwrap_or_default();
    if secret.is_empty() {
        return Err(bad("webhookSecret", "webhook mode requires a non-empty secret token (webhookSecret)".into()));
    }
    if secret.len() > 256 || !secret.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-') {
        return Err(bad("webhookSecret", "1-256 characters of A-Z, a-z, 0-9, _ and - (what Telegram accepts)".into()));
    }
    let path = c.webhook_path.clone().unwrap_or_else(|| DEFAULT_WEBHOOK_PATH.into());
    if !path.starts_with('/') || path == WEBHOOK_HEALTH_PATH {
        return Err(bad("webhookPath", format!("expected a path starting with / other than {WEBHOOK_HEALTH_PATH} (got {path:?})")));
    }
    let host = c.webhook_host.clone().unwrap_or_else(|| "127.0.0.1".into());
    Ok(Some(Webhook { url: url.to_owned(), secret: BotToken(secret.to_owned()), path, host, port: c.webhook_port.unwrap_or(DEFAULT_WEBHOOK_PORT) }))
}

fn entries(list: &Option<Vec<AllowFromEntry>>) -> Vec<String> {
    list.iter().flatten().map(AllowFromEntry::as_text).collect()
}

fn account(
    id: &str,
    c: &TelegramAccountConfig,
    top_enabled: bool,
    key: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<TelegramAccount, SettingsError> {
    let mut token_error = None;
    let (token, token_source) = if let Some(t) = c.bot_token.as_ref().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        (Some(t.to_owned()), TokenSource::Config)
    } else if let Some(file) = &c.token_file {
        match std::fs::read_to_string(Path::new(file)) {
            Ok(t) if !t.trim().is_empty() => (Some(t.trim().to_owned()), TokenSource::TokenFile),
            Ok(_) => {
                token_error = Some(format!("{key}.tokenFile {file} is empty"));
                (None, TokenSource::TokenFile)
            }
            Err(e) => {
                token_error = Some(format!("{key}.tokenFile {file}: {e}"));
                (None, TokenSource::TokenFile)
            }
        }
    } else if let Some(t) = (id == DEFAULT_ACCOUNT).then(|| env("TELEGRAM_BOT_TOKEN")).flatten().filter(|t| !t.trim().is_empty()) {
        (Some(t.trim().to_owned()), TokenSource::Env)
    } else {
        (None, TokenSource::None)
    };
    let policy = match c.dm_policy {
        None | Some(DmPolicySetting::Pairing) => DmPolicy::Pairing,
        Some(DmPolicySetting::Allowlist) => DmPolicy::Allowlist,
        Some(DmPolicySetting::Open) => DmPolicy::Open,
        Some(DmPolicySetting::Disabled) => DmPolicy::Disabled,
    };
    let dm = DmAccess::new(policy, &entries(&c.allow_from)).map_err(|e| {
        let field = if matches!(e, openclaw_channels::telegram::policy::PolicyError::BadEntry(_)) { "allowFrom" } else { "dmPolicy" };
        SettingsError { field: format!("{key}.{field}"), message: e.to_string() }
    })?;
    let group_list = if c.group_allow_from.is_some() { entries(&c.group_allow_from) } else { entries(&c.allow_from) };
    let group_allow = group_list
        .iter()
        .map(|e| parse_allow_entry(e))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SettingsError { field: format!("{key}.groupAllowFrom"), message: e.to_string() })?;
    let group_policy = match c.group_policy {
        Some(GroupPolicySetting::Open) => GroupPolicy::Open,
        None | Some(GroupPolicySetting::Allowlist) => GroupPolicy::Allowlist,
        Some(GroupPolicySetting::Disabled) => GroupPolicy::Disabled,
    };
    let groups = c.groups.iter().flatten().map(|(k, g)| (k.clone(), g.require_mention.unwrap_or(true))).collect();
    let api_root = c.api_root.clone().unwrap_or_else(|| DEFAULT_API_ROOT.into());
    if !(api_root.starts_with("http://") || api_root.starts_with("https://")) {
        return Err(SettingsError { field: format!("{key}.apiRoot"), message: format!("expected an http(s) URL (got {api_root:?})") });
    }
    let webhook = webhook(c, key)?;
    Ok(TelegramAccount {
        webhook,
        id: id.to_owned(),
        enabled: top_enabled && c.enabled.unwrap_or(true),
        token: token.map(BotToken),
        token_source,
        token_error,
        api_root,
        dm,
        group_policy,
        group_allow,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn project(v: serde_json::Value) -> Result<ChannelSettings, SettingsError> {
        let config: Config = serde_json::from_value(v).unwrap();
        ChannelSettings::project(&config, &|name| (name == "TELEGRAM_BOT_TOKEN").then(|| "9:envtoken".to_owned()))
    }

    #[test]
    fn no_telegram_section_runs_nothing_and_dms_route_to_main() {
        let s = project(json!({})).unwrap();
        assert!(s.telegram.is_empty());
        assert_eq!((s.dm_scope, s.main_key.as_str()), (DmScope::Main, "main"));
    }

    #[test]
    fn tokens_resolve_from_config_file_or_env_and_accounts_inherit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tok");
        std::fs::write(&file, "7:fromfile\n").unwrap();
        let s = project(json!({"channels": {"telegram": {
            "apiRoot": "http://127.0.0.1:9", "dmPolicy": "allowlist", "allowFrom": [111, "tg:222"],
            "accounts": {"work": {"tokenFile": file.display().to_string()}, "off": {"botToken": "8:x", "enabled": false}}
        }}}))
        .unwrap();
        let ids: Vec<_> = s.telegram.iter().map(|a| (a.id.as_str(), a.token_source, a.enabled)).collect();
        assert_eq!(ids, [("default", TokenSource::Env, true), ("off", TokenSource::Config, false), ("work", TokenSource::TokenFile, true)]);
        let work = &s.telegram[2];
        assert_eq!(work.token, Some(BotToken("7:fromfile".into())));
        assert_eq!(work.api_root, "http://127.0.0.1:9");
        assert_eq!(work.dm.policy, DmPolicy::Allowlist);
        assert_eq!(work.dm.allow_from, [AllowEntry::User(111), AllowEntry::User(222)]);
        assert!(!format!("{work:?}").contains("fromfile"), "the token is never printed");
    }

    #[test]
    fn unusable_values_name_their_key() {
        let e = project(json!({"channels": {"telegram": {"botToken": "1:a", "dmPolicy": "open", "allowFrom": ["111"]}}})).unwrap_err();
        assert_eq!(e.field, "channels.telegram.dmPolicy");
        let e = project(json!({"channels": {"telegram": {"accounts": {"w": {"botToken": "1:a", "allowFrom": ["@ann"]}}}}})).unwrap_err();
        assert_eq!(e.field, "channels.telegram.accounts.w.allowFrom");
        let e = project(json!({"channels": {"telegram": {"botToken": "1:a", "apiRoot": "ftp://x"}}})).unwrap_err();
        assert_eq!(e.field, "channels.telegram.apiRoot");
        let s = project(json!({"channels": {"telegram": {"tokenFile": "/nonexistent/tok"}}, "session": {"dmScope": "per-peer"}})).unwrap();
        assert!(s.telegram[0].token.is_none());
        assert!(s.telegram[0].token_error.as_deref().unwrap().contains("channels.telegram.tokenFile"));
        assert_eq!(s.dm_scope, DmScope::PerPeer);
    }

    #[test]
    fn webhook_mode_needs_a_url_and_a_secret() {
        let s = project(json!({"channels": {"telegram": {"botToken": "1:a", "webhookUrl": "https://bot.example/tg", "webhookSecret": "s-3_cret"}}})).unwrap();
        let w = s.telegram[0].webhook.clone().unwrap();
        assert_eq!((w.path.as_str(), w.host.as_str(), w.port), ("/telegram-webhook", "127.0.0.1", 8787));
        assert!(!format!("{w:?}").contains("s-3_cret"), "the secret is never printed");
        let e = project(json!({"channels": {"telegram": {"botToken": "1:a", "webhookUrl": "https://bot.example/tg"}}})).unwrap_err();
        assert_eq!(e.field, "channels.telegram.webhookSecret");
        let e = project(json!({"channels": {"telegram": {"botToken": "1:a", "webhookUrl": "https://x/y", "webhookSecret": "a b"}}})).unwrap_err();
        assert_eq!(e.field, "channels.telegram.webhookSecret");
        let e = project(json!({"channels": {"telegram": {"botToken": "1:a", "webhookUrl": "https://x/y", "webhookSecret": "ab", "webhookPath": "/healthz"}}})).unwrap_err();
        assert_eq!(e.field, "channels.telegram.webhookPath");
        assert!(project(json!({"channels": {"telegram": {"botToken": "1:a"}}})).unwrap().telegram[0].webhook.is_none());
    }

    #[test]
    fn group_policy_and_mention_gating() {
        let s = project(json!({"channels": {"telegram": {"botToken": "1:a", "groupAllowFrom": ["5"], "groups": {"-100": {"requireMention": false}}}}})).unwrap();
        let a = &s.telegram[0];
        assert_eq!(a.group_policy, GroupPolicy::Allowlist);
        assert!(a.group_allows(-100, 1), "a listed group");
        assert!(a.group_allows(-200, 5), "a listed sender");
        assert!(!a.group_allows(-200, 6));
        assert!(!a.require_mention(-100));
        assert!(a.require_mention(-200));
    }
}
