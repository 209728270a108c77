//! `hello-ok` (protocol.md §2.6), presence entries and the health snapshot.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::frames::StateVersion;
use crate::ids::UnixMillis;

/// The `type:"hello-ok"` literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum HelloOkTag {
    #[serde(rename = "hello-ok")]
    HelloOk,
}

/// `res.payload` of a successful `connect` (closed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HelloOk {
    #[serde(rename = "type")]
    pub kind: HelloOkTag,
    #[schemars(range(min = 1))]
    pub protocol: u32,
    pub server: ServerInfo,
    pub features: Features,
    pub snapshot: Snapshot,
    pub auth: HelloAuth,
    pub policy: Policy,
    /// Capability-scoped URLs of hosted surfaces (`canvas`:
    /// `http://host:port/__openclaw__/cap/<capability>`), for operators and for nodes whose
    /// approved caps include the surface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_surface_urls: Option<std::collections::BTreeMap<String, String>>,
}

/// `hello-ok.server` (closed). v4 has no `host`/`commit`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerInfo {
    #[schemars(length(min = 1))]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 96))]
    pub build_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 96))]
    pub boot_id: Option<String>,
    #[schemars(length(min = 1))]
    pub conn_id: String,
}

/// `hello-ok.features` (closed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Features {
    pub methods: Vec<String>,
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
}

/// Where the gateway is in its accept/drain cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SuspensionPhase {
    Accepting,
    Draining,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Suspension {
    pub phase: SuspensionPhase,
}

/// `hello-ok.snapshot` (closed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Snapshot {
    pub suspension: Suspension,
    pub presence: Vec<PresenceEntry>,
    pub health: HealthSnapshot,
    pub state_version: StateVersion,
    pub uptime_ms: u64,
    pub session_defaults: SessionDefaults,
    /// Admin-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
    /// Admin-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<String>,
    /// Admin-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_mode: Option<AuthModeName>,
}

/// `snapshot.sessionDefaults`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionDefaults {
    pub default_agent_id: String,
    pub model_configured: bool,
    pub main_key: String,
    pub main_session_key: String,
    pub scope: String,
}

impl Default for SessionDefaults {
    fn default() -> Self {
        Self {
            default_agent_id: "main".into(),
            model_configured: false,
            main_key: "main".into(),
            main_session_key: "agent:main:main".into(),
            scope: "per-sender".into(),
        }
    }
}

/// Gateway auth mode as reported to admins and in `hello-ok.auth.method`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthModeName {
    None,
    Token,
    Password,
}

/// `hello-ok.auth` (closed): the live, enforced grant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HelloAuth {
    pub method: AuthModeName,
    pub role: String,
    pub scopes: Vec<String>,
    /// A paired device's token for this role (send it as `auth.deviceToken` next time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at_ms: Option<u64>,
}

/// `hello-ok.policy` (closed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Policy {
    #[schemars(range(min = 1))]
    pub max_payload: u64,
    #[schemars(range(min = 1))]
    pub max_buffered_bytes: u64,
    #[schemars(range(min = 1))]
    pub tick_interval_ms: u64,
}

/// One row of the presence list (closed). `ts` is freshness, not activity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PresenceEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_input_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_since: Option<UnixMillis>,
    pub ts: UnixMillis,
}

/// `configReload` inside the health snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigReloadHealth {
    pub hot_reload_status: HotReloadStatus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HotReloadStatus {
    Active,
    Disabled,
}

/// The health snapshot (closed, every field optional; `{}` before the first refresh).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HealthSnapshot {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<UnixMillis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_reload: Option<ConfigReloadHealth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_order: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<AgentHealth>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<SessionStoreHealth>,
}

/// One agent in the health snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentHealth {
    pub agent_id: String,
    pub is_default: bool,
    pub heartbeat: HeartbeatHealth,
    pub sessions: SessionStoreHealth,
}

/// An agent's heartbeat schedule (`everyMs: null` when disabled).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HeartbeatHealth {
    pub enabled: bool,
    pub every: String,
    pub every_ms: Option<u64>,
    pub prompt: String,
    pub target: String,
    pub ack_max_chars: u64,
}

impl HeartbeatHealth {
    /// No heartbeat runs (this gateway has no heartbeat scheduler yet).
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            every: "disabled".into(),
            every_ms: None,
            prompt: String::new(),
            target: "none".into(),
            ack_max_chars: 300,
        }
    }
}

/// A session store: where it lives, how many sessions, the most recent ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionStoreHealth {
    pub path: String,
    pub count: u64,
    pub recent: Vec<RecentSession>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RecentSession {
    pub key: String,
    pub updated_at: Option<u64>,
    pub age: Option<u64>,
}
