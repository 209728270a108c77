//! The methods the reference's Control UI calls when it opens, answered from what this
//! gateway has (its UI, served by `gateway.controlUi.root`, then loads without errors):
//! one agent (the default), its default identity, no update machinery, no approval queues, no
//! Control UI plugins.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Hub, Req};
use crate::wire::control_ui::{AgentIdentityParams, ObserverVisibilityParams, UpdateStatusParams};
use crate::wire::frames::ErrorShape;
use crate::wire::host::EmptyParams;

/// `agents.list`: the configured agents — here the default one.
pub(crate) fn agents_list(hub: &mut Hub, rq: Req, _: EmptyParams) {
    let d = &hub.config.session_defaults;
    let answer = json!({
        "defaultId": d.default_agent_id,
        "selectionRequired": false,
        "mainKey": d.main_key,
        "scope": d.scope,
        "agents": [{ "id": d.default_agent_id, "kind": "agent" }],
    });
    hub.respond_ok(&rq.caller, &answer);
}

/// `agent.identity.get`: the agent of `sessionKey`, else `agentId`, else the default; no
/// identity is configurable here, so it is the reference's default (`Assistant`, avatar `A`).
pub(crate) fn agent_identity(hub: &mut Hub, rq: Req, p: AgentIdentityParams) {
    let default = hub.config.session_defaults.default_agent_id.clone();
    let from_key = p
        .session_key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| hub.canonical_key(k))
        .and_then(|k| crate::services::sessions::agent_of(&k));
    let agent = from_key.or_else(|| p.agent_id.as_deref().map(|a| a.trim().to_ascii_lowercase())).unwrap_or(default.clone());
    if agent != default {
        return hub.respond_err(&rq.caller, &ErrorShape::invalid_request(format!("agent \"{agent}\" not found")));
    }
    let answer = json!({ "agentId": agent, "name": "Assistant", "nameSource": "default", "avatar": "A" });
    hub.respond_ok(&rq.caller, &answer);
}

/// `update.status`: no update has run (no sentinel) and none is checked for; the install is
/// not a package or a checkout the reference's updater knows, so none is named.
pub(crate) fn update_status(hub: &mut Hub, rq: Req, _: UpdateStatusParams) {
    let answer = json!({
        "sentinel": null,
        "updateAvailable": null,
        "effectiveChannel": "stable",
        "schedule": { "channel": "stable", "autoEnabled": false },
    });
    hub.respond_ok(&rq.caller, &answer);
}

/// `sessions.observer.visibility`: accepted (nothing here depends on it).
pub(crate) fn observer_visibility(hub: &mut Hub, rq: Req, _: ObserverVisibilityParams) {
    hub.respond_ok(&rq.caller, &json!({ "ok": true }));
}

/// `plugins.controlUi.list`: no plugin adds to the Control UI; the revision is the hash of
/// the (empty) list, so it changes only if the list does.
pub(crate) fn plugins_list(hub: &mut Hub, rq: Req, _: EmptyParams) {
    let plugins: Vec<serde_json::Value> = Vec::new();
    let listed = serde_json::to_string(&plugins).unwrap_or_default();
    let revision = Sha256::digest(listed.as_bytes()).iter().map(|b| format!("{b:02x}")).collect::<String>();
    hub.respond_ok(&rq.caller, &json!({ "revision": revision, "plugins": plugins, "diagnostics": [] }));
}

/// `exec.approval.list`, `plugin.approval.list`, `openclaw.approval.list`: this gateway has
/// no approval queues, so nothing is ever pending.
pub(crate) fn approvals_list(hub: &mut Hub, rq: Req, _: EmptyParams) {
    hub.respond_ok(&rq.caller, &json!([]));
}
