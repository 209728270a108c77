//! Params of the methods the reference's Control UI calls when it opens (recorded by
//! `tests/tests/e2e_ui.rs` serving the reference's UI from `gateway.controlUi.root`):
//! `agents.list`, `agent.identity.get`, `update.status`, `sessions.observer.visibility`,
//! `plugins.controlUi.list` and the three approval lists (their params are `{}`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `update.status` params (closed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateStatusParams {
    /// Re-read the install before answering (nothing to re-read here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_checkout: Option<bool>,
}

/// `agent.identity.get` params (closed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentIdentityParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
}

/// `sessions.observer.visibility` params (closed): whether the UI's tab is visible.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObserverVisibilityParams {
    pub visible: bool,
}
