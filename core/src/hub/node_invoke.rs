//! `node.invoke` (→ event `node.invoke.request` to the node, unsequenced; the node answers
//! with `node.invoke.result`), its timeout and the node going away mid-invoke
//! (channels-agent-nodes.md §8.5, `nodes.ts` of the reference). `node.event` is in
//! `node_events.rs`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::node_events::pairing_changed;
use super::{Hub, Req};
use crate::devices::surface::{self, PlatformId};
use crate::ids::ConnId;
use crate::link::HubToSession;
use crate::services::nodes::{PendingInvoke, DEFAULT_INVOKE_TIMEOUT_MS};
use crate::time::Instant;
use crate::wire::codec::EncodedEvent;
use crate::wire::frames::{ErrorCode, ErrorShape};
use crate::wire::nodes::{
    NodeInvokeParams, NodeInvokeProgressParams, NodeInvokeRequest, NodeInvokeResultParams,
};


/// `respondUnavailableOnNodeInvokeErrorWithProvenance`: the node's error as UNAVAILABLE.
fn node_error(error: Option<&Value>, dispatched: bool) -> ErrorShape {
    let error = error.filter(|e| e.is_object());
    let text = |k: &str| error.and_then(|e| e[k].as_str()).map(str::trim).filter(|s| !s.is_empty());
    let message = text("message").unwrap_or("node invoke failed");
    let message = match text("code") {
        Some(code) => format!("{code}: {message}"),
        None => message.to_owned(),
    };
    ErrorShape::new(ErrorCode::Unavailable, message)
        .with_details(json!({ "nodeError": error.cloned().unwrap_or(Value::Null), "nodeCommandDispatched": dispatched }))
}

impl Hub {
    /// Invokes whose time ran out answer `TIMEOUT`.
    pub(super) fn expire_node_invokes(&mut self, now: Instant) {
        for (_, invoke) in self.nodes.expire(now) {
            let error = json!({ "code": "TIMEOUT", "message": "node invoke timed out" });
            self.respond_err(&invoke.caller, &node_error(Some(&error), true));
        }
    }

    /// A socket closed: if it was a node, every invoke it was running fails.
    pub(super) fn node_closed(&mut self, conn: ConnId) {
        self.node_events.forget_conn(conn);
        let (_, gone) = self.nodes.unregister(conn);
        for (_, invoke) in gone {
            let error = if invoke.command == "mcp.tools.call.v1" {
                json!({ "code": "MCP_SERVER_UNAVAILABLE", "message": "node host disconnected during MCP tool call" })
            } else {
                json!({ "code": "DISCONNECTED", "message": format!("node disconnected ({})", invoke.command) })
            };
            self.respond_err(&invoke.caller, &node_error(Some(&error), true));
        }
    }
}

/// `node.invoke`: checks in the reference's order, then the request goes to the node and the
/// caller waits for its result, its timeout, or its disconnect.
pub(crate) fn invoke(hub: &mut Hub, rq: Req, p: Box<NodeInvokeParams>) {
    let node_id = p.node_id.trim().to_owned();
    let command = p.command.trim().to_owned();
    let refuse = |hub: &mut Hub, e: ErrorShape| hub.respond_err(&rq.caller, &e);
    if node_id.is_empty() || command.is_empty() {
        return refuse(hub, ErrorShape::invalid_request("nodeId and command required"));
    }
    if surface::is_private(&command) {
        let e = ErrorShape::invalid_request("node.invoke does not allow private node controls").with_details(json!({ "command": command }));
        return refuse(hub, e);
    }
    if surface::is_exec_approvals(&command) {
        let e = ErrorShape::invalid_request("node.invoke does not allow system.execApprovals.*; use exec.approvals.node.*")
            .with_details(json!({ "command": command }));
        return refuse(hub, e);
    }
    if surface::is_admin_only_invoke(&command) && !rq.admin {
        let e = ErrorShape::new(ErrorCode::Forbidden, "missing scope: operator.admin").with_details(json!({
            "code": "MISSING_SCOPE", "missingScope": "operator.admin", "requiredScopes": ["operator.admin"],
        }));
        return refuse(hub, e);
    }
    let Some(device) = hub.devices.store.paired_device(&node_id).filter(|d| d.roles.iter().any(|r| r == "node")) else {
        return refuse(hub, pairing_changed());
    };
    let approved: Vec<String> = device.node_surface.as_ref().map(|s| s.commands.clone()).unwrap_or_default();
    let Some(session) = hub.nodes.by_node_id(&node_id) else {
        let e = ErrorShape::new(ErrorCode::Unavailable, "node not connected").with_details(json!({
            "code": "NOT_CONNECTED",
            "nodeError": { "code": "NOT_CONNECTED", "message": "node not connected" },
            "nodeCommandDispatched": false,
        }));
        return refuse(hub, e);
    };
    let platform = PlatformId::of(Some(&session.platform), session.device_family.as_deref());
    if let Err(refusal) = surface::invoke_allowed(platform, &approved, &command, &hub.devices.commands) {
        let declares = session.declared.commands.contains(&command);
        let hint = refusal.hint(&command, Some(&session.platform), declares, &hub.devices.commands);
        let e = ErrorShape::invalid_request(hint).with_details(json!({ "reason": refusal.reason(), "command": command }));
        return refuse(hub, e);
    }
    let node_conn = session.conn;
    let timeout_ms = p.timeout_ms.filter(|t| *t > 0).unwrap_or(DEFAULT_INVOKE_TIMEOUT_MS);
    let id = hub.ids.uuid();
    let pending = PendingInvoke {
        caller: rq.caller.clone(),
        node_conn,
        node_id: node_id.clone(),
        command: command.clone(),
        deadline: rq.now + Duration::from_millis(timeout_ms),
        received_progress: false,
    };
    if !hub.nodes.add_invoke(id.clone(), pending) {
        return refuse(hub, ErrorShape::new(ErrorCode::Unavailable, "failed to send invoke to node"));
    }
    let mut params = p.params;
    if command == "system.run" {
        if let Some(obj) = params.as_mut().and_then(Value::as_object_mut) {
            // `normalizeSystemRunInvokeParams`: every run has an id, and its exec.* events
            // are expected from this node socket (`rememberAuthorizedSystemRunEvent`).
            let run_id = obj.get("runId").and_then(Value::as_str).map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
            let run_id = run_id.unwrap_or_else(|| hub.ids.uuid());
            obj.insert("runId".into(), json!(run_id));
            let timeout = obj.get("timeoutMs").and_then(Value::as_f64).filter(|t| t.is_finite()).map(f64::trunc);
            match timeout {
                Some(t) if t > 0.0 => {}
                Some(_) => {
                    obj.insert("timeoutMs".into(), Value::Null);
                }
                None => {
                    obj.remove("timeoutMs");
                }
            }
            let session_key = obj.get("sessionKey").and_then(Value::as_str).map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned);
            let expires = timeout.filter(|t| *t > 0.0).map(|t| Duration::from_millis(t as u64));
            hub.node_events.authorize_exec(rq.now, &node_id, node_conn, &run_id, session_key.as_deref(), expires);
        }
    }
    let request = NodeInvokeRequest {
        id,
        node_id,
        command,
        params_json: params.as_ref().map(Value::to_string),
        timeout_ms,
        idempotency_key: p.idempotency_key,
    };
    let event = EncodedEvent::new("node.invoke.request", &request, None, false);
    hub.to(node_conn, HubToSession::Event { event: Arc::new(event), sequenced: false });
    hub.sync_timers();
}

/// `node.invoke.result`: the node's answer goes to the waiting caller; a late or unknown
/// one is acknowledged and ignored.
pub(crate) fn invoke_result(hub: &mut Hub, rq: Req, p: Box<NodeInvokeResultParams>) {
    let Some((conn, _)) = rq.caller.socket() else {
        return hub.respond_err(&rq.caller, &ErrorShape::invalid_request("nodeId mismatch"));
    };
    let caller_node = hub.nodes.session(conn).map(|s| s.node_id.clone());
    if caller_node.as_deref().is_some_and(|n| n != p.node_id) {
        return hub.respond_err(&rq.caller, &ErrorShape::invalid_request("nodeId mismatch"));
    }
    let Some(invoke) = hub.nodes.take_invoke(&p.id, &p.node_id, conn) else {
        return hub.respond_ok(&rq.caller, &json!({ "ok": true, "ignored": true }));
    };
    hub.respond_ok(&rq.caller, &json!({ "ok": true }));
    answer_invoke(hub, invoke, *p);
    hub.sync_timers();
}

/// Largest `node.invoke.progress` chunk, in UTF-8 bytes.
const MAX_PROGRESS_CHUNK_BYTES: usize = 16_384;

/// `node.invoke.progress`: a chunk of a running invoke's output. Checked as the reference
/// (the caller's node id, the chunk's size) and acknowledged; marks the invoke as having made
/// progress. Nobody here streams chunks to the caller, so every chunk is `ignored` (the
/// reference forwards them only to its plugin runtime).
pub(crate) fn invoke_progress(hub: &mut Hub, rq: Req, p: NodeInvokeProgressParams) {
    let Some((conn, _)) = rq.caller.socket() else {
        return hub.respond_err(&rq.caller, &ErrorShape::invalid_request("nodeId mismatch"));
    };
    let caller_node = hub.nodes.session(conn).map(|s| s.node_id.clone());
    if caller_node.as_deref().is_some_and(|n| n != p.node_id) {
        return hub.respond_err(&rq.caller, &ErrorShape::invalid_request("nodeId mismatch"));
    }
    if p.chunk.len() > MAX_PROGRESS_CHUNK_BYTES {
        return hub.respond_err(&rq.caller, &ErrorShape::invalid_request("progress chunk too large"));
    }
    hub.nodes.note_progress(&p.invoke_id, &p.node_id, conn);
    hub.respond_ok(&rq.caller, &json!({ "ok": true, "ignored": true }));
}

fn answer_invoke(hub: &mut Hub, invoke: PendingInvoke, p: NodeInvokeResultParams) {
    // Normalised as the reference does: a non-string payloadJSON is the payload.
    let (payload, payload_json) = match p.payload_json {
        Some(Value::String(s)) => (p.payload, Some(s)),
        Some(Value::Null) | None => (p.payload, None),
        Some(other) => (Some(other), None),
    };
    if !p.ok {
        let mut error = p.error.filter(|e| !e.is_null());
        // NODE_NOT_READY may only come before any progress (`handleResult` of the reference).
        if invoke.received_progress && error.as_ref().is_some_and(|e| e["code"] == "NODE_NOT_READY") {
            error = Some(json!({ "code": "UNAVAILABLE", "message": "node reported not-ready after invocation progress" }));
        }
        return hub.respond_err(&invoke.caller, &node_error(error.as_ref(), true));
    }
    let payload = match &payload_json {
        Some(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        None => payload.unwrap_or(Value::Null),
    };
    let answer = json!({
        "ok": true,
        "nodeId": invoke.node_id,
        "command": invoke.command,
        "payload": payload,
        "payloadJSON": payload_json,
    });
    hub.respond_ok(&invoke.caller, &answer);
}
