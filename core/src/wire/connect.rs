//! `connect` params (protocol.md §2.2): closed objects and the exact client enums.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `client.id` (closed enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ClientId {
    #[serde(rename = "webchat-ui")]
    WebchatUi,
    #[serde(rename = "openclaw-control-ui")]
    ControlUi,
    #[serde(rename = "openclaw-browser-copilot")]
    BrowserCopilot,
    #[serde(rename = "openclaw-tui")]
    Tui,
    #[serde(rename = "webchat")]
    Webchat,
    #[serde(rename = "cli")]
    Cli,
    #[serde(rename = "gateway-client")]
    GatewayClient,
    #[serde(rename = "openclaw-macos")]
    Macos,
    #[serde(rename = "openclaw-linux")]
    Linux,
    #[serde(rename = "openclaw-ios")]
    Ios,
    #[serde(rename = "openclaw-watchos")]
    Watchos,
    #[serde(rename = "openclaw-android")]
    Android,
    #[serde(rename = "node-host")]
    NodeHost,
    #[serde(rename = "openclaw-worker")]
    Worker,
    #[serde(rename = "test")]
    Test,
    #[serde(rename = "fingerprint")]
    Fingerprint,
    #[serde(rename = "openclaw-probe")]
    Probe,
}

impl ClientId {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WebchatUi => "webchat-ui",
            Self::ControlUi => "openclaw-control-ui",
            Self::BrowserCopilot => "openclaw-browser-copilot",
            Self::Tui => "openclaw-tui",
            Self::Webchat => "webchat",
            Self::Cli => "cli",
            Self::GatewayClient => "gateway-client",
            Self::Macos => "openclaw-macos",
            Self::Linux => "openclaw-linux",
            Self::Ios => "openclaw-ios",
            Self::Watchos => "openclaw-watchos",
            Self::Android => "openclaw-android",
            Self::NodeHost => "node-host",
            Self::Worker => "openclaw-worker",
            Self::Test => "test",
            Self::Fingerprint => "fingerprint",
            Self::Probe => "openclaw-probe",
        }
    }
}

/// `client.mode` (closed enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClientMode {
    Webchat,
    Cli,
    Ui,
    Backend,
    Node,
    Worker,
    Probe,
    Test,
}

impl ClientMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webchat => "webchat",
            Self::Cli => "cli",
            Self::Ui => "ui",
            Self::Backend => "backend",
            Self::Node => "node",
            Self::Worker => "worker",
            Self::Probe => "probe",
            Self::Test => "test",
        }
    }
}

/// `connect.params.client` (closed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientInfo {
    pub id: ClientId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub display_name: Option<String>,
    #[schemars(length(min = 1))]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 96))]
    pub build_id: Option<String>,
    #[schemars(length(min = 1))]
    pub platform: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub device_family: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub model_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: Option<String>,
    pub mode: ClientMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub instance_id: Option<String>,
}

/// `connect.params.device` (closed; all fields required when present).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeviceIdentity {
    #[schemars(length(min = 1))]
    pub id: String,
    #[schemars(length(min = 1))]
    pub public_key: String,
    #[schemars(length(min = 1))]
    pub signature: String,
    pub signed_at: u64,
    #[schemars(length(min = 1))]
    pub nonce: String,
}

/// `connect.params.auth` (closed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectAuth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_runtime_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_runtime_identity_token: Option<String>,
}

/// `connect.params.modelCatalog`: either a session binding or a published short id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ModelCatalogRequest {
    Published(PublishedCatalog),
    Session(SessionCatalog),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PublishedCatalog {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[schemars(length(min = 1))]
    pub short_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug_hint: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionCatalog {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
}

/// `connect` params (closed). Validated against its schema before this type is built.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectParams {
    #[schemars(range(min = 1))]
    pub min_protocol: u32,
    #[schemars(range(min = 1))]
    pub max_protocol: u32,
    pub client: ClientInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<NonEmptyString>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<Vec<NonEmptyString>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<BTreeMap<String, bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<NonEmptyString>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer_use: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_runs: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_catalog: Option<ModelCatalogRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceIdentity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<ConnectAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// A string with at least one character (the reference's `NonEmptyString`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct NonEmptyString(#[schemars(length(min = 1))] pub String);

impl ConnectParams {
    /// Does any field claim the worker identity, which only the worker route may use?
    pub fn claims_worker(&self) -> bool {
        self.role.as_deref() == Some("worker")
            || self.client.id == ClientId::Worker
            || self.client.mode == ClientMode::Worker
    }
}
