//! The hub's side of device pairing: the pairing decision of a `connect` that carries a
//! verified device, loading the store, expiring pending requests, the pairing events.

use serde_json::json;

use super::{Audience, Hub, HubOutput};
use crate::auth::scopes::{Role, Scope, ScopeSet};
use crate::devices::{Devices, DevicesLoad, PairingClaim, PendingRequest, StoreOp, VerifiedDevice};
use crate::ids::UnixMillis;
use crate::link::PeerInfo;
use crate::wire::codec::EncodedEvent;
use crate::wire::connect::ConnectParams;
use crate::wire::frames::{ErrorCode, ErrorShape};

/// The device part of an accepted `connect`: its token for `hello-ok.auth`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct DeviceGrant {
    pub device_id: String,
    pub token: String,
    pub issued_at_ms: u64,
}

/// Why a verified device may not connect yet: it waits for an operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PairingRequired {
    pub reason: PairingReason,
    pub request: PendingRequest,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PairingReason {
    NotPaired,
    RoleUpgrade,
    ScopeUpgrade,
}

impl PairingReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::NotPaired => "not-paired",
            Self::RoleUpgrade => "role-upgrade",
            Self::ScopeUpgrade => "scope-upgrade",
        }
    }

    fn requirement(self) -> &'static str {
        match self {
            Self::NotPaired => "device is not approved yet",
            Self::RoleUpgrade => "device is asking for a higher role than currently approved",
            Self::ScopeUpgrade => "device is asking for more scopes than currently approved",
        }
    }

    fn remediation_hint(self) -> &'static str {
        match self {
            Self::NotPaired => "Approve this device from the pending pairing requests.",
            Self::RoleUpgrade => "Review the requested role upgrade, then approve the pending request.",
            Self::ScopeUpgrade => "Review the requested scopes, then approve the pending upgrade.",
        }
    }
}

impl PairingRequired {
    /// `NOT_PAIRED` with the reference's details; the close reason names the request.
    pub fn to_error(&self) -> (ErrorShape, String) {
        let message = format!("pairing required: {}", self.reason.requirement());
        let error = ErrorShape::new(ErrorCode::NotPaired, message.clone()).with_details(json!({
            "code": "PAIRING_REQUIRED",
            "reason": self.reason.as_str(),
            "requestId": self.request.request_id,
            "remediationHint": self.reason.remediation_hint(),
            "deviceId": self.request.device_id,
            "requestedRole": self.request.role,
        }));
        let close = format!("{message} (requestId: {})", self.request.request_id);
        (error, close)
    }
}

impl Hub {
    pub(super) fn load_devices(&mut self, load: DevicesLoad) {
        self.devices = Devices::load(load);
    }

    /// Persists `ops` (one transaction) before any later output.
    pub(super) fn persist_devices(&mut self, ops: Vec<StoreOp>) {
        if !ops.is_empty() {
            self.out.push_back(HubOutput::Devices(ops));
        }
    }

    /// Drops pending requests older than five minutes.
    pub(super) fn expire_pairing(&mut self, wall: UnixMillis) {
        let (_gone, ops) = self.devices.store.expire(wall.0);
        self.persist_devices(ops);
    }

    /// The pairing decision for a verified device (after its credentials passed): a paired
    /// device whose pairing covers the role and scopes connects with its token; a new one on
    /// loopback is approved silently when `autoApproveLocal`; any other waits for an operator.
    pub(super) fn pair_device(
        &mut self,
        wall: UnixMillis,
        peer: &PeerInfo,
        params: &ConnectParams,
        role: Role,
        device: &VerifiedDevice,
        scopes: &[String],
    ) -> Result<DeviceGrant, PairingRequired> {
        self.expire_pairing(wall);
        let role_name = role.as_str();
        let reason = match self.devices.store.paired_device(&device.id) {
            Some(d) if d.allows(&device.public_key, role_name, scopes) => None,
            Some(d) if d.public_key == device.public_key && d.roles.iter().any(|r| r == role_name) => {
                Some(PairingReason::ScopeUpgrade)
            }
            Some(d) if d.public_key == device.public_key => Some(PairingReason::RoleUpgrade),
            Some(_) | None => Some(PairingReason::NotPaired),
        };
        if reason.is_none() {
            if let Some(grant) = self.grant_token(wall, &device.id, role_name) {
                return Ok(grant);
            }
        }
        let reason = reason.unwrap_or(PairingReason::NotPaired);
        let claim = PairingClaim {
            device_id: device.id.clone(),
            public_key: device.public_key.clone(),
            display_name: params.client.display_name.clone(),
            platform: Some(params.client.platform.clone()),
            device_family: params.client.device_family.clone(),
            client_id: Some(params.client.id.as_str().to_owned()),
            client_mode: Some(params.client.mode.as_str().to_owned()),
            role: role_name.to_owned(),
            scopes: scopes.to_vec(),
            remote_ip: (!peer.ip.is_loopback()).then(|| peer.ip.to_string()),
        };
        let id = self.ids.uuid();
        let (request, created, mut ops) = self.devices.store.request(&claim, wall.0, id);
        // Silent on this machine: a direct local client, or the Control UI opened from it.
        let local = peer.is_direct_local() || peer.is_local_browser();
        let silent = reason == PairingReason::NotPaired && self.devices.auto_approve_local && local;
        if silent {
            if let Ok((_, more)) = self.devices.store.approve(&request.request_id, wall.0, "silent", &mut self.devices.tokens) {
                ops.extend(more);
            }
        }
        self.persist_devices(ops);
        if silent {
            if let Some(grant) = self.grant_token(wall, &device.id, role_name) {
                return Ok(grant);
            }
        }
        if created {
            self.broadcast_pair_requested(&request);
        }
        Err(PairingRequired { reason, request })
    }

    /// The device's live token for `role` (issued now if it holds none).
    fn grant_token(&mut self, wall: UnixMillis, device_id: &str, role: &str) -> Option<DeviceGrant> {
        let (token, ops) = self.devices.store.ensure_token(device_id, role, wall.0, &mut self.devices.tokens)?;
        self.persist_devices(ops);
        Some(DeviceGrant { device_id: device_id.to_owned(), token: token.token, issued_at_ms: wall.0 })
    }

    /// `device.pair.requested` to operators who may approve it.
    fn broadcast_pair_requested(&mut self, request: &PendingRequest) {
        let event = EncodedEvent::new("device.pair.requested", request, None, true);
        self.broadcast(event, Audience::Operators(Scope::Pairing));
    }

    /// The scopes a device connect is granted: what it asked for (its pairing covers them),
    /// none for nodes, narrowed by the upgrade's `x-openclaw-scopes` cap.
    pub(super) fn device_scopes(peer: &PeerInfo, role: Role, scopes: &[String]) -> ScopeSet {
        let mut set = match role {
            Role::Node => ScopeSet::empty(),
            Role::Operator => ScopeSet::from_requested(scopes.iter().map(String::as_str)),
        };
        if let Some(cap) = &peer.scope_cap {
            set = set.intersect(cap);
        }
        set
    }
}

