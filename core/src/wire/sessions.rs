//! Params and rows of `sessions.list`, `sessions.reset` and `sessions.delete`
//! (channels-agent-nodes.md §7.4).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::UnixMillis;

/// `sessions.list` params (closed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionsListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub active_minutes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_global: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_unknown: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_derived_titles: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_last_message: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spawned_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    /// Only sessions of configured agents (here: the default agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configured_agents_only: Option<bool>,
    /// The caller's own sessions first (sessions have no owners here: no effect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_first: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResetReason {
    New,
    Reset,
}

/// `sessions.reset` params (closed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionsResetParams {
    #[schemars(length(min = 1))]
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ResetReason>,
}

/// `sessions.delete` params (closed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionsDeleteParams {
    #[schemars(length(min = 1))]
    pub key: String,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_transcript: Option<bool>,
}

/// One session as the hub knows it (and the store persists it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionEntry {
    pub key: String,
    pub session_id: String,
    pub agent_id: String,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    #[serde(default)]
    pub aborted_last_run: bool,
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl SessionEntry {
    /// `direct`, `group`, `global` or `unknown`, from the key's shape.
    pub fn kind(&self) -> &'static str {
        match self.key.as_str() {
            "global" => "global",
            "unknown" => "unknown",
            k if k.contains(":group:") || k.contains(":channel:") => "group",
            _ => "direct",
        }
    }
}
