//! The hub's side of nodes (channels-agent-nodes.md §8, errata "Pairing store and methods"):
//! a node socket registered at `connect` with its declared surface, `node.list`,
//! `node.describe`, `node.rename`, `node.pair.list|approve|reject|remove` and the
//! `node.*.update` calls a node host makes. `node.invoke` and `node.event` are in
//! `node_invoke.rs`.

use serde_json::{json, Map, Value};

use super::{Audience, Hub, Req};
use crate::auth::scopes::Scope;
use crate::caller::Caller;
use crate::devices::store::SurfaceState;
use crate::devices::surface::{self, DeclaredSurface, PendingNodeSurface, PlatformId};
use crate::devices::PairedDevice;
use crate::ids::{CloseCode, ConnId, UnixMillis};
use crate::link::{HubToSession, PeerInfo};
use crate::services::nodes::NodeSession;
use crate::wire::codec::EncodedEvent;
use crate::wire::connect::ConnectParams;
use crate::wire::frames::{ErrorCode, ErrorShape};
use crate::wire::nodes::{
    NodeDescribeParams, NodeListParams, NodePairRemoveParams, NodePairRequestParams, NodePairResolved,
    NodePluginToolsUpdateParams, NodeRenameParams, NodeRunnerInventoryParams, NodeSkillsUpdateParams,
};

/// The reference's default wake words (`DEFAULT_TRIGGERS` of its voice-wake store).
const VOICEWAKE_DEFAULT_TRIGGERS: [&str; 3] = ["openclaw", "claude", "computer"];

/// The runner protocol this gateway speaks with node hosts.
const RUNNER_PROTOCOL: &str = "node-worker-supervisor-v6";

impl Hub {
    /// A node socket opened with a paired device: it is registered, and what it declared is
    /// recorded against its approved surface (a new or changed surface waits for an operator,
    /// who hears `node.pair.requested`).
    pub(super) fn node_connected(&mut self, wall: UnixMillis, conn: ConnId, peer: &PeerInfo, params: &ConnectParams, device_id: &str) {
        let c = &params.client;
        let platform = PlatformId::of(Some(&c.platform), c.device_family.as_deref());
        let commands: Vec<String> = params.commands.iter().flatten().map(|s| s.0.clone()).collect();
        let caps: Vec<String> = params.caps.iter().flatten().map(|s| s.0.clone()).collect();
        let declared = DeclaredSurface {
            display_name: c.display_name.clone(),
            platform: Some(c.platform.clone()),
            version: Some(c.version.clone()),
            device_family: c.device_family.clone(),
            model_identifier: c.model_identifier.clone(),
            caps: surface::normalize_caps(&caps),
            commands: surface::filter_declared(platform, &commands, &self.devices.commands),
            silent: peer.is_direct_local(),
        };
        let (state, ops) = self.devices.store.propose_surface(device_id, &declared, wall.0, &mut self.ids);
        self.persist_devices(ops);
        self.nodes.register(NodeSession {
            conn,
            node_id: device_id.to_owned(),
            client_id: c.id.as_str().to_owned(),
            client_mode: c.mode.as_str().to_owned(),
            display_name: c.display_name.clone(),
            platform: c.platform.clone(),
            version: c.version.clone(),
            device_family: c.device_family.clone(),
            model_identifier: c.model_identifier.clone(),
            remote_ip: (!peer.ip.is_loopback()).then(|| peer.ip.to_string()),
            declared,
            path_env: params.path_env.clone(),
            permissions: params.permissions.as_ref().map(|p| json!(p)),
            connected_at_ms: wall.0,
            skills: Vec::new(),
            plugin_tools: Vec::new(),
            host_stats: None,
        });
        self.send_voicewake_snapshot(conn);
        if let SurfaceState::Pending { request, created: true } = state {
            let request = *request;
            if let Some(device) = self.devices.store.paired_device(device_id) {
                let row = pending_row(device, &request);
                let event = EncodedEvent::new("node.pair.requested", &row, None, true);
                self.broadcast(event, Audience::Operators(Scope::Pairing));
            }
        }
    }

    /// The voice-wake settings a node gets right after `hello-ok`, unsequenced, as the
    /// reference sends them (`voicewake.changed`, `voicewake.routing.changed`). This gateway
    /// has no `voicewake.set|routing.set` yet, so they are the reference's defaults (what it
    /// sends while nothing is stored, as captured).
    fn send_voicewake_snapshot(&mut self, conn: ConnId) {
        let triggers = json!({ "triggers": VOICEWAKE_DEFAULT_TRIGGERS });
        let routing = json!({ "config": { "version": 1, "defaultTarget": { "mode": "current" }, "routes": [], "updatedAtMs": 0 } });
        for (name, payload) in [("voicewake.changed", triggers), ("voicewake.routing.changed", routing)] {
            let event = EncodedEvent::new(name, &payload, None, false);
            self.to(conn, HubToSession::Event { event: std::sync::Arc::new(event), sequenced: false });
        }
    }

    /// May the caller of `rq` act with `scope`?
    fn caller_has(&self, rq: &Req, scope: Scope) -> bool {
        rq.scopes.satisfies(scope)
    }

    /// The node session behind a node-role request.
    pub(super) fn node_of(&self, caller: &Caller) -> Option<&NodeSession> {
        caller.socket().and_then(|(conn, _)| self.nodes.session(conn))
    }

    /// Every known node (paired with the node role, or connected), as `node.list` rows in the
    /// reference's order: connected first, then by display name, then by id.
    fn node_rows(&self, with_pending: bool) -> Vec<Value> {
        let mut ids: Vec<String> = self.devices.store.nodes().map(|d| d.device_id.clone()).collect();
        for s in self.nodes.connected() {
            if !ids.contains(&s.node_id) {
                ids.push(s.node_id.clone());
            }
        }
        let mut rows: Vec<Value> = ids.iter().filter_map(|id| self.node_row(id, with_pending)).collect();
        rows.sort_by(|a, b| {
            let key = |v: &Value| {
                let name = v["displayName"].as_str().or(v["nodeId"].as_str()).unwrap_or_default().to_lowercase();
                (!v["connected"].as_bool().unwrap_or(false), name, v["nodeId"].as_str().unwrap_or_default().to_owned())
            };
            key(a).cmp(&key(b))
        });
        rows
    }

    /// One node's effective row (`buildEffectiveKnownNode`): live values win over stored ones.
    fn node_row(&self, node_id: &str, with_pending: bool) -> Option<Value> {
        let device = self.devices.store.paired_device(node_id).filter(|d| d.roles.iter().any(|r| r == "node"));
        let live = self.nodes.by_node_id(node_id);
        if device.is_none() && live.is_none() {
            return None;
        }
        let approved = device.and_then(|d| d.node_surface.as_ref());
        let pending = device.and_then(|d| d.pending_node_surface.as_ref());
        let first = |vals: [Option<&String>; 4]| vals.into_iter().flatten().find(|s| !s.trim().is_empty()).cloned();
        let mut row = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                row.insert(k.to_owned(), v);
            }
        };
        put("nodeId", Some(json!(node_id)));
        let display = first([
            approved.and_then(|s| s.display_name.as_ref()),
            live.and_then(|l| l.display_name.as_ref()),
            device.and_then(|d| d.display_name.as_ref()),
            pending.and_then(|p| p.display_name.as_ref()),
        ]);
        put("displayName", display.map(Value::from));
        let platform = first([live.map(|l| &l.platform), device.and_then(|d| d.platform.as_ref()), pending.and_then(|p| p.platform.as_ref()), None]);
        put("platform", platform.map(Value::from));
        let version = first([live.map(|l| &l.version), approved.and_then(|s| s.version.as_ref()), pending.and_then(|p| p.version.as_ref()), None]);
        put("version", version.map(Value::from));
        put("clientId", first([live.map(|l| &l.client_id), device.and_then(|d| d.client_id.as_ref()), None, None]).map(Value::from));
        put("clientMode", first([live.map(|l| &l.client_mode), device.and_then(|d| d.client_mode.as_ref()), None, None]).map(Value::from));
        let family = first([live.and_then(|l| l.device_family.as_ref()), device.and_then(|d| d.device_family.as_ref()), pending.and_then(|p| p.device_family.as_ref()), None]);
        put("deviceFamily", family.map(Value::from));
        let model = first([live.and_then(|l| l.model_identifier.as_ref()), approved.and_then(|s| s.model_identifier.as_ref()), pending.and_then(|p| p.model_identifier.as_ref()), None]);
        put("modelIdentifier", model.map(Value::from));
        put("remoteIp", first([live.and_then(|l| l.remote_ip.as_ref()), device.and_then(|d| d.remote_ip.as_ref()), None, None]).map(Value::from));
        put("caps", Some(json!(sorted(approved.map(|s| s.caps.as_slice()).unwrap_or_default()))));
        let commands: Vec<String> = sorted(approved.map(|s| s.commands.as_slice()).unwrap_or_default())
            .into_iter()
            .filter(|c| !surface::is_private(c))
            .collect();
        put("commands", Some(json!(commands)));
        put("sessionHost", Some(json!(false)));
        put("nodePluginTools", live.map(|l| json!(l.plugin_tools)));
        put("pathEnv", live.and_then(|l| l.path_env.clone()).map(Value::from));
        put("permissions", live.and_then(|l| l.permissions.clone()));
        let state = match (pending, approved) {
            (Some(_), Some(_)) => "pending-reapproval",
            (Some(_), None) => "pending-approval",
            (None, Some(_)) => "approved",
            (None, None) => "unapproved",
        };
        put("approvalState", Some(json!(state)));
        if with_pending {
            put("pendingRequestId", pending.map(|p| json!(p.request_id)));
            put("pendingDeclaredCaps", pending.map(|p| json!(p.caps)));
            put("pendingDeclaredCommands", pending.map(|p| json!(p.commands)));
        }
        put("connectedAtMs", live.map(|l| json!(l.connected_at_ms)));
        let last_connected = [approved.and_then(|s| s.last_connected_at_ms), live.map(|l| l.connected_at_ms)].into_iter().flatten().max();
        put("lastConnectedAtMs", last_connected.map(Value::from));
        let seen = live.map(|l| l.connected_at_ms).or(device.and_then(|d| d.last_seen_at_ms));
        put("lastSeenAtMs", seen.map(Value::from));
        put("lastSeenReason", seen.map(|_| json!("connect")));
        put("approvedAtMs", approved.map(|s| s.approved_at_ms).or(device.map(|d| d.approved_at_ms)).map(Value::from));
        put("paired", Some(json!(device.is_some())));
        put("connected", Some(json!(live.is_some())));
        Some(Value::Object(row))
    }

    /// Tells operators (and the node itself, unsequenced) how its surface request ended.
    fn node_pair_resolved(&mut self, request_id: &str, node_id: &str, decision: &str, wall: UnixMillis, to_node: bool) {
        let payload = NodePairResolved {
            request_id: request_id.to_owned(),
            node_id: node_id.to_owned(),
            decision: decision.to_owned(),
            ts: wall.0,
        };
        if to_node {
            if let Some(conn) = self.nodes.by_node_id(node_id).map(|s| s.conn) {
                let event = EncodedEvent::new("node.pair.resolved", &payload, None, true);
                self.to(conn, HubToSession::Event { event: std::sync::Arc::new(event), sequenced: false });
            }
        }
        self.broadcast(EncodedEvent::new("node.pair.resolved", &payload, None, true), Audience::Operators(Scope::Pairing));
    }
}

/// `toPublicPendingRequest`: a pending surface as `node.pair.list` shows it.
pub(super) fn pending_row(device: &PairedDevice, p: &PendingNodeSurface) -> Value {
    let mut row = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            row.insert(k.to_owned(), v);
        }
    };
    put("requestId", Some(json!(p.request_id)));
    put("nodeId", Some(json!(device.device_id)));
    put("clientId", device.client_id.clone().map(Value::from));
    put("clientMode", device.client_mode.clone().map(Value::from));
    put("displayName", p.display_name.clone().or(device.display_name.clone()).map(Value::from));
    put("platform", p.platform.clone().or(device.platform.clone()).map(Value::from));
    put("version", p.version.clone().map(Value::from));
    put("deviceFamily", p.device_family.clone().or(device.device_family.clone()).map(Value::from));
    put("modelIdentifier", p.model_identifier.clone().map(Value::from));
    put("caps", Some(json!(p.caps)));
    put("commands", Some(json!(p.commands)));
    put("requiredApproveScopes", Some(json!(surface::required_approve_scopes(&p.commands))));
    put("remoteIp", device.remote_ip.clone().map(Value::from));
    put("silent", Some(json!(p.silent)));
    put("ts", Some(json!(p.ts)));
    Value::Object(row)
}

/// `toPairedNode`: an approved node as `node.pair.list` and `node.pair.approve` show it.
fn paired_row(device: &PairedDevice) -> Option<Value> {
    let s = device.node_surface.as_ref()?;
    let mut row = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            row.insert(k.to_owned(), v);
        }
    };
    put("nodeId", Some(json!(device.device_id)));
    put("clientId", device.client_id.clone().map(Value::from));
    put("clientMode", device.client_mode.clone().map(Value::from));
    put("displayName", s.display_name.clone().or(device.display_name.clone()).map(Value::from));
    put("platform", device.platform.clone().map(Value::from));
    put("version", s.version.clone().map(Value::from));
    put("deviceFamily", device.device_family.clone().map(Value::from));
    put("modelIdentifier", s.model_identifier.clone().map(Value::from));
    put("caps", Some(json!(s.caps)));
    put("commands", Some(json!(s.commands)));
    put("remoteIp", device.remote_ip.clone().map(Value::from));
    put("createdAtMs", Some(json!(s.created_at_ms)));
    put("approvedAtMs", Some(json!(s.approved_at_ms)));
    put("lastConnectedAtMs", s.last_connected_at_ms.map(Value::from));
    put("lastSeenAtMs", device.last_seen_at_ms.map(Value::from));
    put("lastSeenReason", device.last_seen_at_ms.map(|_| json!("connect")));
    Some(Value::Object(row))
}

fn sorted(v: &[String]) -> Vec<String> {
    let set: std::collections::BTreeSet<&String> = v.iter().collect();
    set.into_iter().cloned().collect()
}

fn unknown_node() -> ErrorShape {
    ErrorShape::invalid_request("unknown nodeId")
}

/// `node.list`.
pub(crate) fn list(hub: &mut Hub, rq: Req, _p: NodeListParams) {
    let with_pending = hub.caller_has(&rq, Scope::Pairing);
    let nodes = hub.node_rows(with_pending);
    hub.respond_ok(&rq.caller, &json!({ "ts": rq.wall.0, "nodes": nodes }));
}

/// `node.describe`.
pub(crate) fn describe(hub: &mut Hub, rq: Req, p: NodeDescribeParams) {
    let id = p.node_id.trim();
    if id.is_empty() {
        return hub.respond_err(&rq.caller, &ErrorShape::invalid_request("nodeId required"));
    }
    let with_pending = hub.caller_has(&rq, Scope::Pairing);
    match hub.node_row(id, with_pending) {
        Some(Value::Object(row)) => {
            let mut out = Map::new();
            out.insert("ts".into(), json!(rq.wall.0));
            out.extend(row);
            hub.respond_ok(&rq.caller, &Value::Object(out));
        }
        _ => hub.respond_err(&rq.caller, &unknown_node()),
    }
}

/// `node.rename`.
pub(crate) fn rename(hub: &mut Hub, rq: Req, p: NodeRenameParams) {
    let name = p.display_name.trim();
    if name.is_empty() {
        return hub.respond_err(&rq.caller, &ErrorShape::invalid_request("displayName required"));
    }
    match hub.devices.store.rename_node(&p.node_id, name) {
        Ok((device, ops)) => {
            hub.persist_devices(ops);
            let payload = json!({ "nodeId": device.device_id, "displayName": name });
            hub.respond_ok(&rq.caller, &payload);
        }
        Err(_) => hub.respond_err(&rq.caller, &unknown_node()),
    }
}

/// `node.pair.list`: pending surfaces newest first, approved nodes latest approval first.
pub(crate) fn pair_list(hub: &mut Hub, rq: Req, _p: NodeListParams) {
    // A device (by its token) without admin sees only its own node rows, as the reference.
    let only = if rq.admin { None } else { hub.caller_device(&rq) };
    let store = &hub.devices.store;
    let mut pending: Vec<(u64, Value)> = store
        .nodes()
        .filter(|d| only.as_deref().is_none_or(|o| o == d.device_id))
        .filter_map(|d| d.pending_node_surface.as_ref().map(|p| (p.ts, pending_row(d, p))))
        .collect();
    pending.sort_by_key(|p| std::cmp::Reverse(p.0));
    let mut paired: Vec<(u64, Value)> = store
        .nodes()
        .filter(|d| only.as_deref().is_none_or(|o| o == d.device_id))
        .filter_map(|d| paired_row(d).map(|r| (d.node_surface.as_ref().map_or(0, |s| s.approved_at_ms), r)))
        .collect();
    paired.sort_by_key(|p| std::cmp::Reverse(p.0));
    let payload = json!({
        "pending": pending.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "paired": paired.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
    });
    hub.respond_ok(&rq.caller, &payload);
}

/// `node.pair.approve`: the pending surface becomes the node's; approving commands that run
/// programs needs `operator.admin`, other commands `operator.write`.
pub(crate) fn pair_approve(hub: &mut Hub, rq: Req, p: NodePairRequestParams) {
    let Some((_, pending)) = hub.devices.store.pending_surface(&p.request_id) else {
        return hub.respond_err(&rq.caller, &ErrorShape::invalid_request("unknown requestId"));
    };
    for name in surface::required_approve_scopes(&pending.commands) {
        let scope = Scope::parse(name).unwrap_or(Scope::Admin);
        if !hub.caller_has(&rq, scope) {
            let required: Vec<&str> = if scope == Scope::Pairing { vec![name] } else { vec!["operator.pairing", name] };
            let error = ErrorShape::new(ErrorCode::Forbidden, format!("missing scope: {name}"))
                .with_details(json!({ "code": "MISSING_SCOPE", "missingScope": name, "requiredScopes": required }));
            return hub.respond_err(&rq.caller, &error);
        }
    }
    let Ok((device, ops)) = hub.devices.store.approve_surface(&p.request_id, rq.wall.0) else {
        return hub.respond_err(&rq.caller, &ErrorShape::invalid_request("unknown requestId"));
    };
    hub.persist_devices(ops);
    let node_id = device.device_id.clone();
    let changed = EncodedEvent::new("node.runnerInventory.changed", &json!({ "nodeId": node_id }), None, true);
    hub.broadcast(changed, Audience::Operators(Scope::Read));
    hub.node_pair_resolved(&p.request_id, &node_id, "approved", rq.wall, true);
    let node = paired_row(&device).unwrap_or(Value::Null);
    hub.respond_ok(&rq.caller, &json!({ "requestId": p.request_id, "node": node }));
}

/// `node.pair.reject`: the pending surface is dropped (the approved one, if any, stays).
pub(crate) fn pair_reject(hub: &mut Hub, rq: Req, p: NodePairRequestParams) {
    match hub.devices.store.reject_surface(&p.request_id) {
        Ok((node_id, ops)) => {
            hub.persist_devices(ops);
            hub.node_pair_resolved(&p.request_id, &node_id, "rejected", rq.wall, false);
            hub.respond_ok(&rq.caller, &json!({ "requestId": p.request_id, "nodeId": node_id }));
        }
        Err(_) => hub.respond_err(&rq.caller, &ErrorShape::invalid_request("unknown requestId")),
    }
}

/// `node.pair.remove`: the device loses the node role (unpaired if it had no other) and its
/// node sockets are closed.
pub(crate) fn pair_remove(hub: &mut Hub, rq: Req, p: NodePairRemoveParams) {
    let node_id = p.node_id.trim().to_owned();
    let Ok(ops) = hub.devices.store.remove_node_role(&node_id) else {
        return hub.respond_err(&rq.caller, &unknown_node());
    };
    hub.persist_devices(ops);
    hub.node_work.clear(&node_id);
    hub.node_pair_resolved("", &node_id, "removed", rq.wall, false);
    hub.respond_ok(&rq.caller, &json!({ "nodeId": node_id }));
    let conns: Vec<ConnId> = hub.nodes.connected().iter().filter(|s| s.node_id == node_id).map(|s| s.conn).collect();
    for conn in conns {
        hub.to(conn, HubToSession::Close { code: CloseCode::POLICY, reason: "device-pair-removed".into() });
    }
}

/// Is this node's command surface approved (its session bound to an approved pairing)?
pub(super) fn surface_approved(hub: &Hub, node_id: &str) -> bool {
    hub.devices.store.paired_device(node_id).is_some_and(|d| d.node_surface.is_some())
}

/// `node.runnerInventory.update`: accepted once the node's surface is approved; until then
/// UNAVAILABLE naming the request an operator must approve.
pub(crate) fn runner_inventory_update(hub: &mut Hub, rq: Req, p: NodeRunnerInventoryParams) {
    let Some(node_id) = hub.node_of(&rq.caller).map(|s| s.node_id.clone()) else {
        return hub.respond_err(&rq.caller, &unknown_node());
    };
    if p.protocol_features.is_empty() {
        return hub.respond_err(&rq.caller, &ErrorShape::invalid_request("invalid node runner inventory"));
    }
    if p.protocol_features.len() == 1 && p.protocol_features[0] != RUNNER_PROTOCOL {
        let message = format!("node {node_id} must update its runner: this gateway speaks {RUNNER_PROTOCOL}");
        return hub.respond_err(&rq.caller, &ErrorShape::invalid_request(message));
    }
    if !surface_approved(hub, &node_id) {
        let pending = hub.devices.store.paired_device(&node_id).and_then(|d| d.pending_node_surface.as_ref());
        let message = match pending {
            Some(p) => format!(
                "node capability surface is awaiting operator approval; run `openclaw nodes approve {}` (see `openclaw nodes pending`), then this node retries automatically",
                p.request_id
            ),
            None => "node runner inventory publication is not current; retry after pairing completes".to_owned(),
        };
        return hub.respond_err(&rq.caller, &ErrorShape::new(ErrorCode::Unavailable, message));
    }
    hub.respond_ok(&rq.caller, &json!({ "nodeId": node_id }));
}

/// `node.skills.update`: the skills the node offers (kept with its session).
pub(crate) fn skills_update(hub: &mut Hub, rq: Req, p: NodeSkillsUpdateParams) {
    let Some((conn, _)) = rq.caller.socket() else { return hub.respond_err(&rq.caller, &unknown_node()) };
    let Some(session) = hub.nodes.session_mut(conn) else { return hub.respond_err(&rq.caller, &unknown_node()) };
    session.skills = p.skills;
    let payload = json!({ "nodeId": session.node_id, "skills": session.skills });
    hub.respond_ok(&rq.caller, &payload);
}

/// `node.pluginTools.update`: the plugin tools the node offers (kept with its session).
pub(crate) fn plugin_tools_update(hub: &mut Hub, rq: Req, p: NodePluginToolsUpdateParams) {
    let Some((conn, _)) = rq.caller.socket() else { return hub.respond_err(&rq.caller, &unknown_node()) };
    let Some(session) = hub.nodes.session_mut(conn) else { return hub.respond_err(&rq.caller, &unknown_node()) };
    session.plugin_tools = p.tools;
    let payload = json!({ "nodeId": session.node_id, "tools": session.plugin_tools });
    hub.respond_ok(&rq.caller, &payload);
}
