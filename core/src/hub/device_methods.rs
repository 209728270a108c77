//! `device.pair.list|approve|reject|remove|rename` and `device.token.rotate|revoke`
//! (errata "Pairing store and methods"), answered from the hub's pairing store; each change is
//! persisted (one transaction) before its answer and events.

use serde_json::json;

use super::{Audience, Conn, Hub, HubToSession, Req};
use crate::caller::Caller;
use crate::auth::scopes::{Role, Scope};
use crate::auth::scopes::missing_requested_scope;
use crate::ids::CloseCode;
use crate::wire::codec::EncodedEvent;
use crate::wire::devices::{
    DeviceIdParams, DevicePairRenameParams, DeviceTokenRevokeParams, DeviceTokenRotateParams, PairRequestParams,
};
use crate::wire::frames::ErrorShape;
use crate::wire::host::EmptyParams;

const APPROVAL_DENIED: &str = "device pairing approval denied";

pub(crate) fn list(hub: &mut Hub, rq: Req, _params: EmptyParams) {
    hub.expire_pairing(rq.wall);
    // A device (by its token) without admin sees only its own rows, as the reference.
    let only = if rq.admin { None } else { hub.caller_device(&rq) };
    let visible = |id: &str| only.as_deref().is_none_or(|o| o == id);
    let pending: Vec<serde_json::Value> = hub
        .devices
        .store
        .pending()
        .filter(|p| visible(&p.device_id))
        .map(|p| serde_json::to_value(p).unwrap_or_default())
        .collect();
    let paired: Vec<serde_json::Value> = hub
        .devices
        .store
        .paired()
        .filter(|d| visible(&d.device_id))
        .map(|d| {
            let mut v = d.public_view();
            v["connected"] = json!(hub.device_connected(&d.device_id, None));
            v
        })
        .collect();
    hub.respond_ok(&rq.caller, &json!({ "pending": pending, "paired": paired }));
}

pub(crate) fn approve(hub: &mut Hub, rq: Req, params: PairRequestParams) {
    hub.expire_pairing(rq.wall);
    let request_id = params.request_id.trim();
    if !rq.admin {
        // Without admin: only an existing request, of this caller's own device if it is one,
        // for the operator role only.
        let caller = hub.caller_device(&rq);
        let allowed = hub.devices.store.pending_request(request_id).is_some_and(|p| {
            caller.as_deref().is_none_or(|c| c == p.device_id) && p.roles.iter().all(|r| r == "operator")
        });
        if !allowed {
            hub.respond_err(&rq.caller, &ErrorShape::invalid_request(APPROVAL_DENIED));
            return;
        }
    }
    // The approver must hold every operator scope the new token would carry (the
    // reference's `callerScopes` check: nobody grants beyond their own scopes).
    let pending_roles = hub.devices.store.pending_request(request_id).map(|p| p.roles.clone()).unwrap_or_default();
    if pending_roles.iter().any(|r| r == "operator") {
        let needed = hub.devices.store.approval_token_scopes(request_id, "operator");
        let caller: Vec<String> = rq.scopes.names().map(str::to_owned).collect();
        if let Some(missing) = missing_requested_scope("operator", &needed, &caller) {
            hub.respond_err(&rq.caller, &ErrorShape::invalid_request(format!("missing scope: {missing}")));
            return;
        }
    }
    let tokens = &mut hub.devices.tokens;
    match hub.devices.store.approve(request_id, rq.wall.0, "owner", tokens) {
        Ok((device, ops)) => {
            hub.persist_devices(ops);
            let event = json!({ "requestId": request_id, "deviceId": device.device_id, "decision": "approved", "ts": rq.wall.0 });
            hub.broadcast(EncodedEvent::new("device.pair.resolved", &event, None, true), Audience::Operators(Scope::Pairing));
            hub.respond_ok(&rq.caller, &json!({ "requestId": request_id, "device": device.public_view() }));
        }
        Err(_) => hub.respond_err(&rq.caller, &ErrorShape::invalid_request("unknown requestId")),
    }
}

pub(crate) fn reject(hub: &mut Hub, rq: Req, params: PairRequestParams) {
    hub.expire_pairing(rq.wall);
    let request_id = params.request_id.trim();
    if let (Some(caller), false) = (hub.caller_device(&rq), rq.admin) {
        // A device (by its token) without admin may reject only its own request.
        if !hub.devices.store.pending_request(request_id).is_some_and(|p| p.device_id == caller) {
            hub.respond_err(&rq.caller, &ErrorShape::invalid_request("device pairing rejection denied"));
            return;
        }
    }
    match hub.devices.store.reject(request_id) {
        Ok((req, ops)) => {
            hub.persist_devices(ops);
            let event = json!({ "requestId": request_id, "deviceId": req.device_id, "decision": "rejected", "ts": rq.wall.0 });
            hub.broadcast(EncodedEvent::new("device.pair.resolved", &event, None, true), Audience::Operators(Scope::Pairing));
            hub.respond_ok(&rq.caller, &json!({ "requestId": request_id, "deviceId": req.device_id }));
        }
        Err(_) => hub.respond_err(&rq.caller, &ErrorShape::invalid_request("unknown requestId")),
    }
}

pub(crate) fn remove(hub: &mut Hub, rq: Req, params: DeviceIdParams) {
    let device_id = params.device_id.trim();
    if hub.denies_device_management(&rq, device_id) {
        hub.respond_err(&rq.caller, &ErrorShape::invalid_request("device pairing removal denied"));
        return;
    }
    match hub.devices.store.remove(device_id) {
        Ok((device, ops)) => {
            hub.persist_devices(ops);
            hub.respond_ok(&rq.caller, &json!({ "deviceId": device.device_id, "removedAtMs": rq.wall.0 }));
            hub.node_work.clear(&device.device_id);
            hub.disconnect_device(&device.device_id, None);
        }
        Err(_) => hub.respond_err(&rq.caller, &ErrorShape::invalid_request("unknown deviceId")),
    }
}

pub(crate) fn rename(hub: &mut Hub, rq: Req, params: DevicePairRenameParams) {
    let label = params.label.trim();
    if label.is_empty() {
        hub.respond_err(&rq.caller, &ErrorShape::invalid_request("label required"));
        return;
    }
    let device_id = params.device_id.trim();
    if hub.denies_device_management(&rq, device_id) {
        hub.respond_err(&rq.caller, &ErrorShape::invalid_request("device pairing rename denied"));
        return;
    }
    match hub.devices.store.rename(device_id, label) {
        Ok((_, ops)) => {
            hub.persist_devices(ops);
            hub.broadcast(EncodedEvent::new("device.pair.changed", &json!({}), None, true), Audience::Operators(Scope::Pairing));
            hub.respond_ok(&rq.caller, &json!({ "deviceId": device_id, "label": label }));
        }
        Err(_) => hub.respond_err(&rq.caller, &ErrorShape::invalid_request("unknown deviceId")),
    }
}

pub(crate) fn token_rotate(hub: &mut Hub, rq: Req, params: DeviceTokenRotateParams) {
    let (device_id, role) = (params.device_id.trim(), params.role.trim());
    if hub.denies_cross_device(&rq, device_id) || (!rq.admin && role != "operator") {
        hub.respond_err(&rq.caller, &ErrorShape::invalid_request("device token rotation denied"));
        return;
    }
    // The new token goes back in band only to the device itself (authenticated by its token).
    let in_band = hub.caller_device(&rq).as_deref() == Some(device_id);
    let scopes: Option<Vec<String>> = params.scopes.map(|s| s.into_iter().map(|s| s.0).collect());
    let caller_scopes = operator_caller_scopes(&rq, role);
    let tokens = &mut hub.devices.tokens;
    match hub.devices.store.rotate(device_id, role, scopes.as_deref(), caller_scopes.as_deref(), rq.wall.0, tokens) {
        Ok((token, ops)) => {
            hub.persist_devices(ops);
            let mut result = json!({ "deviceId": device_id, "role": token.role });
            if in_band {
                result["token"] = json!(token.token);
            }
            result["scopes"] = json!(token.scopes);
            result["rotatedAtMs"] = json!(token.rotated_at_ms.unwrap_or(token.created_at_ms));
            result["tokenDelivery"] = json!(if in_band { "in-band" } else { "withheld-cross-device" });
            hub.respond_ok(&rq.caller, &result);
            hub.disconnect_device(device_id, Some(role));
        }
        Err(_) => hub.respond_err(&rq.caller, &ErrorShape::invalid_request("device token rotation denied")),
    }
}

pub(crate) fn token_revoke(hub: &mut Hub, rq: Req, params: DeviceTokenRevokeParams) {
    let (device_id, role) = (params.device_id.trim(), params.role.trim());
    if hub.denies_cross_device(&rq, device_id) || (!rq.admin && role != "operator") {
        hub.respond_err(&rq.caller, &ErrorShape::invalid_request("device token revocation denied"));
        return;
    }
    let caller_scopes = operator_caller_scopes(&rq, role);
    match hub.devices.store.revoke(device_id, role, caller_scopes.as_deref(), rq.wall.0) {
        Ok((token, ops)) => {
            hub.persist_devices(ops);
            let revoked_at = token.revoked_at_ms.unwrap_or(rq.wall.0);
            hub.respond_ok(&rq.caller, &json!({ "deviceId": device_id, "role": token.role, "revokedAtMs": revoked_at }));
            hub.disconnect_device(device_id, Some(role));
        }
        Err(_) => hub.respond_err(&rq.caller, &ErrorShape::invalid_request("device token revocation denied")),
    }
}

/// The caller's scopes, checked against an operator token it mints or revokes (the reference
/// passes `callerScopes` only for the operator role; node tokens carry no scopes). Every
/// refusal of a rotation or revocation, an unknown device or role included, answers
/// "device token rotation|revocation denied" as the reference does.
fn operator_caller_scopes(rq: &Req, role: &str) -> Option<Vec<String>> {
    (role == "operator").then(|| rq.scopes.names().map(str::to_owned).collect())
}

impl Hub {
    /// The device a request comes from, when its socket authenticated with that device's
    /// token (the reference's `callerDeviceId`); `None` for the shared secret and non-sockets.
    pub(super) fn caller_device(&self, rq: &Req) -> Option<String> {
        let Caller::Socket { conn, .. } = &rq.caller else { return None };
        match self.conns.get(conn) {
            Some(Conn::Open(open)) if open.device_token_auth => open.device_id.clone(),
            Some(Conn::Open(_) | Conn::Handshaking { .. }) | None => None,
        }
    }

    /// A device (by its token) without admin may manage only itself.
    fn denies_cross_device(&self, rq: &Req, target: &str) -> bool {
        !rq.admin && self.caller_device(rq).is_some_and(|c| c != target)
    }

    /// `device.pair.remove|rename`: cross-device management, or a device (by its token)
    /// without admin touching a pairing with a role other than operator.
    fn denies_device_management(&self, rq: &Req, target: &str) -> bool {
        self.denies_cross_device(rq, target)
            || (!rq.admin
                && self.caller_device(rq).is_some()
                && self.devices.store.paired_device(target).is_some_and(|d| d.roles.iter().any(|r| r != "operator")))
    }

    /// Is a socket of `device_id` (with `role`, if given) open now?
    pub(super) fn device_connected(&self, device_id: &str, role: Option<Role>) -> bool {
        self.conns.values().any(|c| match c {
            Conn::Open(open) => open.device_id.as_deref() == Some(device_id) && role.is_none_or(|r| open.role == r),
            Conn::Handshaking { .. } => false,
        })
    }

    /// Closes every socket of `device_id` (with `role`, if given): 4001 `device removed`, as
    /// the reference does after a removal, rotation or revocation.
    pub(super) fn disconnect_device(&mut self, device_id: &str, role: Option<&str>) {
        let targets: Vec<_> = self
            .conns
            .iter()
            .filter_map(|(id, c)| match c {
                Conn::Open(open)
                    if open.device_id.as_deref() == Some(device_id) && role.is_none_or(|r| open.role.as_str() == r) =>
                {
                    Some(*id)
                }
                Conn::Open(_) | Conn::Handshaking { .. } => None,
            })
            .collect();
        for conn in targets {
            self.to(conn, HubToSession::Close { code: CloseCode(4001), reason: "device removed".into() });
        }
    }
}
