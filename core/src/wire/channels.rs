//! Params of the channel methods the hub hands to the channel runtime in the driver:
//! `channels.status` and `send` (channels-agent-nodes.md §1). Closed objects, as the
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
