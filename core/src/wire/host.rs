//! Params of the methods the hub hands to its host (the IO driver) because answering them needs
//! files: `logs.tail` (protocol.md §5.11) and the `config.*` family (§5.12). Shapes follow the
//! reference's TypeBox schemas (closed objects).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `logs.tail` params (closed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LogsTailParams {
    /// Byte offset returned by the previous call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// Lines wanted, default 500.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 5000))]
    pub limit: Option<u32>,
    /// Bytes read at most, default 250000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1_000_000))]
    pub max_bytes: Option<u32>,
}

impl LogsTailParams {
    pub const DEFAULT_LIMIT: u32 = 500;
    pub const DEFAULT_MAX_BYTES: u32 = 250_000;
}

/// `config.get` and `config.schema` params: the empty closed object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyParams {}

/// `config.set` params (closed): replace the whole file with `raw` (JSON5 text).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigSetParams {
    #[schemars(length(min = 1))]
    pub raw: String,
    /// The `hash` of the `config.get` this edit is based on (conflict guard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub base_hash: Option<String>,
}

/// Where the post-restart notice goes (`config.apply`/`config.patch`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeliveryContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<ThreadId>,
}

/// A thread id is a string or a number in the reference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ThreadId {
    Text(String),
    Number(f64),
}

/// `config.apply` params (closed): replace the file with `raw`, then restart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigApplyParams {
    #[schemars(length(min = 1))]
    pub raw: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub base_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_context: Option<DeliveryContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Delay before the restart, default 2000 ms (clamped to 60 s by the host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_delay_ms: Option<u64>,
}

/// `config.patch` params (closed): JSON merge-patch `raw` into the file, then restart if needed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigPatchParams {
    #[schemars(length(min = 1))]
    pub raw: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub base_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_context: Option<DeliveryContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_delay_ms: Option<u64>,
    /// Paths whose arrays are replaced rather than refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub replace_paths: Option<Vec<String>>,
}

/// A request the hub cannot answer alone: the host does the IO and answers with
/// `HubInput::HostReply` on the same `(conn, id)`.
#[derive(Clone, Debug, PartialEq)]
pub enum HostRequest {
    LogsTail(LogsTailParams),
    ConfigGet,
    ConfigSchema,
    ConfigSet(ConfigSetParams),
    ConfigApply(Box<ConfigApplyParams>),
    ConfigPatch(Box<ConfigPatchParams>),
    /// `channels.status`: answered by the channel runtime.
    ChannelsStatus(super::channels::ChannelsStatusParams),
    /// `send`: answered by the channel runtime.
    Send(Box<super::channels::SendParams>),
    /// `channels.start|stop|logout`: answered by the channel runtime.
    ChannelsAccount(super::channels::ChannelsAccountOp, super::channels::ChannelsAccountParams),
    /// `web.login.start` / `web.login.wait`: the WhatsApp QR login (channel runtime).
    WebLoginStart(super::channels::WebLoginStartParams),
    WebLoginWait(Box<super::channels::WebLoginWaitParams>),
}

impl HostRequest {
    pub fn method_name(&self) -> &'static str {
        match self {
            Self::LogsTail(_) => "logs.tail",
            Self::ConfigGet => "config.get",
            Self::ConfigSchema => "config.schema",
            Self::ConfigSet(_) => "config.set",
            Self::ConfigApply(_) => "config.apply",
            Self::ConfigPatch(_) => "config.patch",
            Self::ChannelsStatus(_) => "channels.status",
            Self::Send(_) => "send",
            Self::ChannelsAccount(op, _) => op.method_name(),
            Self::WebLoginStart(_) => "web.login.start",
            Self::WebLoginWait(_) => "web.login.wait",
        }
    }
}
