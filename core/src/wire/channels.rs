//! Params of the channel methods the hub hands to the channel runtime in the driver:
//! `channels.status`, `channels.start|stop|logout` and `send` (channels-agent-nodes.md §1-2). Closed objects, as the
//! reference's schemas.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What `health` shows of the channels (the channel runtime reports it when an account's state
/// changes): `channels.<id>` summaries, `channelOrder`, `channelLabels`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChannelsHealth {
    pub channels: BTreeMap<String, Value>,
    pub order: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// `channels.status` params (closed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChannelsStatusParams {
    /// Probe each account (accepted; the status is always the live one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub timeout_ms: Option<u64>,
    /// Only this channel (`unknown channel: …` for one this gateway does not have).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub channel: Option<String>,
}

/// `channels.start`, `channels.stop`, `channels.logout` params (closed; the reference's three
/// schemas are the same).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChannelsAccountParams {
    #[schemars(length(min = 1))]
    pub channel: String,
    /// The account (default: the channel's default account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// Which of the account methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelsAccountOp {
    Start,
    Stop,
    Logout,
}

impl ChannelsAccountOp {
    pub fn method_name(self) -> &'static str {
        match self {
            Self::Start => "channels.start",
            Self::Stop => "channels.stop",
            Self::Logout => "channels.logout",
        }
    }
}

/// `send` params (closed; §1.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SendParams {
    /// The target (Telegram: a chat id, `@name`, `<chat>:topic:<n>`, `tg:`/`telegram:` prefixes).
    #[schemars(length(min = 1))]
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gif_playback: Option<bool>,
    /// Send images and videos as documents (no recompression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_document: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// The dedupe key, returned as `runId`.
    #[schemars(length(min = 1))]
    pub idempotency_key: String,
}

/// `web.login.start` params (closed; channels-agent-nodes.md §4.2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebLoginStartParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub channel: Option<String>,
    /// Unlink first and start over with a new QR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// How long to wait for the first QR (default 30 000, at least 5 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbose: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// `web.login.wait` params (closed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebLoginWaitParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub session_key: Option<String>,
    /// How long to wait for the scan (default 120 000, at least 1 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The QR the caller shows: a newer one is answered at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16384), regex(pattern = r"^data:image/png;base64,"))]
    pub current_qr_data_url: Option<String>,
}
