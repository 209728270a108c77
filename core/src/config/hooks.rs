//! `hooks`: the webhook endpoints under `hooks.path` (http.md §5.1). Resolved into what the
//! gateway runs on by [`crate::hooks::HooksPolicy::resolve`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `hooks`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HooksConfig {
    /// Serve `/hooks/*` (needs `token`). Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The secret callers send as `Authorization: Bearer` or `X-OpenClaw-Token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Base path (default `/hooks`; a leading `/` is added, trailing ones dropped; `/` refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Agents a hook may target (`"*"`: all; `[]`: none). Absent: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_agent_ids: Option<Vec<String>>,
    /// Session key of hook runs that name none (else `hook:<uuid>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_session_key: Option<String>,
    /// Let callers (and templated mapping keys) choose the session key. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_request_session_key: Option<bool>,
    /// Case-insensitive prefixes a session key must start with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_session_key_prefixes: Option<Vec<String>>,
    /// Built-in mapping sets (`"gmail"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presets: Option<Vec<String>>,
    /// `/hooks/<name>` mappings; the first that matches wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mappings: Option<Vec<HookMappingConfig>>,
    /// Where transform modules live (transforms are not run by this gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transforms_dir: Option<String>,
}

/// One `hooks.mappings[]` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HookMappingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_: Option<HookMatchConfig>,
    /// `agent` (default) or `wake`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<HookActionKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_mode: Option<HookWakeMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Static, or a `{{…}}` template (then `allowedSessionKeyPrefixes` is required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_mode: Option<HookSessionMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_template: Option<String>,
    /// A top-level payload array: one action per item (at most 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_unsafe_external_content: Option<bool>,
}

/// `hooks.mappings[].match`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HookMatchConfig {
    /// The sub-path after the base (`github` for `/hooks/github`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The payload's `source` field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// What a mapping does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HookActionKind {
    Agent,
    Wake,
}

/// `wakeMode` / `mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HookWakeMode {
    Now,
    NextHeartbeat,
}

impl HookWakeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Now => "now",
            Self::NextHeartbeat => "next-heartbeat",
        }
    }
}

/// `sessionMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HookSessionMode {
    Isolated,
    Persistent,
}
