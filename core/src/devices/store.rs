//! The pairing store: pending requests and paired devices with their per-role device tokens
//! (errata "Pairing store"; rows of `device_pairing_pending` / `device_pairing_paired`).
//!
//! Pure data and rules. Every change returns the [`StoreOp`]s that persist it; the hub emits
//! them as one [`HubOutput::Devices`](crate::hub::HubOutput::Devices) batch, which the driver
//! applies in ONE transaction before it carries out the outputs after it, so an answer never
//! reports a change the file does not hold.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::surface::{NodeSurface, PendingNodeSurface};
use crate::auth::scopes::missing_requested_scope;

/// Pending requests expire after five minutes (`PENDING_TTL_MS` of the reference).
pub const PENDING_TTL_MS: u64 = 300_000;

/// A request to pair, waiting for an operator (a `device_pairing_pending` row).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingRequest {
    pub request_id: String,
    pub device_id: String,
    pub public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_mode: Option<String>,
    pub role: String,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    pub silent: bool,
    pub is_repair: bool,
    pub ts: u64,
}

/// One device token (per device and role). `token` is the secret; listings omit it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceToken {
    pub token: String,
    pub role: String,
    pub scopes: Vec<String>,
    pub created_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at_ms: Option<u64>,
}

/// An approved device (a `device_pairing_paired` row).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairedDevice {
    pub device_id: String,
    pub public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_mode: Option<String>,
    pub role: String,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    /// Per role.
    pub tokens: BTreeMap<String, DeviceToken>,
    pub approved_via: String,
    /// The node's approved command surface (role `node` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_surface: Option<NodeSurface>,
    /// A node surface waiting for `node.pair.approve`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_node_surface: Option<PendingNodeSurface>,
    pub created_at_ms: u64,
    pub approved_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at_ms: Option<u64>,
}

impl PairedDevice {
    /// The listing shape: no token secrets, tokens as a list.
    pub fn public_view(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        let tokens: Vec<serde_json::Value> = self
            .tokens
            .values()
            .map(|t| {
                let mut t = serde_json::to_value(t).unwrap_or_default();
                if let Some(o) = t.as_object_mut() {
                    o.remove("token");
                }
                t
            })
            .collect();
        v["tokens"] = serde_json::Value::Array(tokens);
        v
    }

    /// Does this pairing grant `role` with every one of `scopes`?
    pub fn allows(&self, public_key: &str, role: &str, scopes: &[String]) -> bool {
        self.public_key == public_key
            && self.roles.iter().any(|r| r == role)
            && scopes.iter().all(|s| self.scopes.contains(s))
    }

    /// The live (not revoked) token of `role`.
    pub fn live_token(&self, role: &str) -> Option<&DeviceToken> {
        self.tokens.get(role).filter(|t| t.revoked_at_ms.is_none())
    }
}

/// One persisted change; a batch is applied in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreOp {
    PutPending(PendingRequest),
    DropPending(String),
    PutPaired(Box<PairedDevice>),
    DropPaired(String),
}

/// Who is asking to pair: the verified device and what its `connect` claimed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairingClaim {
    pub device_id: String,
    pub public_key: String,
    pub display_name: Option<String>,
    pub platform: Option<String>,
    pub device_family: Option<String>,
    pub client_id: Option<String>,
    pub client_mode: Option<String>,
    pub role: String,
    pub scopes: Vec<String>,
    pub remote_ip: Option<String>,
}

/// Device tokens: 32 bytes, base64url. Drawn from SHA-256 over a secret seed (random bytes
/// from the driver at start) and a counter, so core needs no OS randomness.
#[derive(Clone, Debug)]
pub struct TokenSource {
    seed: [u8; 32],
    counter: u64,
}

impl TokenSource {
    pub fn new(seed: [u8; 32]) -> Self {
        Self { seed, counter: 0 }
    }

    pub fn next_token(&mut self) -> String {
        self.counter += 1;
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(self.counter.to_le_bytes());
        URL_SAFE_NO_PAD.encode(h.finalize())
    }
}

/// Why a store operation did not apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    UnknownRequest,
    UnknownDevice,
    UnknownRole,
    /// A token's scopes would exceed what the device was approved for.
    ScopeOutsideBaseline,
    /// The caller lacks this scope of the token it would mint or revoke.
    CallerMissingScope(String),
}

/// Pending requests and paired devices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PairingStore {
    pending: BTreeMap<String, PendingRequest>,
    paired: BTreeMap<String, PairedDevice>,
}

impl PairingStore {
    /// The store as read from the database at start.
    pub fn from_rows(pending: Vec<PendingRequest>, paired: Vec<PairedDevice>) -> Self {
        Self {
            pending: pending.into_iter().map(|p| (p.request_id.clone(), p)).collect(),
            paired: paired.into_iter().map(|p| (p.device_id.clone(), p)).collect(),
        }
    }

    pub fn pending(&self) -> impl Iterator<Item = &PendingRequest> {
        self.pending.values()
    }

    pub fn paired(&self) -> impl Iterator<Item = &PairedDevice> {
        self.paired.values()
    }

    pub fn paired_device(&self, device_id: &str) -> Option<&PairedDevice> {
        self.paired.get(device_id)
    }

    pub fn pending_request(&self, request_id: &str) -> Option<&PendingRequest> {
        self.pending.get(request_id)
    }

    /// When the oldest pending request expires.
    pub fn next_expiry(&self) -> Option<u64> {
        self.pending.values().map(|p| p.ts + PENDING_TTL_MS).min()
    }

    /// Drops pending requests older than the TTL at wall time `now`.
    pub fn expire(&mut self, now: u64) -> (Vec<PendingRequest>, Vec<StoreOp>) {
        let gone: Vec<String> =
            self.pending.values().filter(|p| p.ts + PENDING_TTL_MS <= now).map(|p| p.request_id.clone()).collect();
        let mut dropped = Vec::new();
        let mut ops = Vec::new();
        for id in gone {
            if let Some(p) = self.pending.remove(&id) {
                ops.push(StoreOp::DropPending(id));
                dropped.push(p);
            }
        }
        (dropped, ops)
    }

    /// Records (or refreshes) the pending request of `claim`'s device. A device has at most
    /// one pending request: a new role or scope joins it, keeping its id. Returns the request
    /// and whether it is new (operators are told of new ones).
    pub fn request(&mut self, claim: &PairingClaim, now: u64, new_id: String) -> (PendingRequest, bool, Vec<StoreOp>) {
        let is_repair = self.paired.contains_key(&claim.device_id);
        let existing = self.pending.values().find(|p| p.device_id == claim.device_id).map(|p| p.request_id.clone());
        let (req, created) = match existing.and_then(|id| self.pending.remove(&id)) {
            Some(mut p) => {
                if !p.roles.contains(&claim.role) {
                    p.roles.push(claim.role.clone());
                }
                for s in &claim.scopes {
                    if !p.scopes.contains(s) {
                        p.scopes.push(s.clone());
                    }
                }
                p.role = claim.role.clone();
                p.public_key = claim.public_key.clone();
                p.ts = now;
                (p, false)
            }
            None => (
                PendingRequest {
                    request_id: new_id,
                    device_id: claim.device_id.clone(),
                    public_key: claim.public_key.clone(),
                    display_name: claim.display_name.clone(),
                    platform: claim.platform.clone(),
                    device_family: claim.device_family.clone(),
                    client_id: claim.client_id.clone(),
                    client_mode: claim.client_mode.clone(),
                    role: claim.role.clone(),
                    roles: vec![claim.role.clone()],
                    scopes: claim.scopes.clone(),
                    remote_ip: claim.remote_ip.clone(),
                    silent: false,
                    is_repair,
                    ts: now,
                },
                true,
            ),
        };
        self.pending.insert(req.request_id.clone(), req.clone());
        (req.clone(), created, vec![StoreOp::PutPending(req)])
    }

    /// Approves a pending request: the device is paired (merged into an existing pairing),
    /// with a fresh token for every role it asked for.
    pub fn approve(
        &mut self,
        request_id: &str,
        now: u64,
        via: &str,
        tokens: &mut TokenSource,
    ) -> Result<(PairedDevice, Vec<StoreOp>), StoreError> {
        let req = self.pending.remove(request_id).ok_or(StoreError::UnknownRequest)?;
        let mut device = match self.paired.remove(&req.device_id) {
            Some(mut d) if d.public_key == req.public_key => {
                for r in &req.roles {
                    if !d.roles.contains(r) {
                        d.roles.push(r.clone());
                    }
                }
                for s in &req.scopes {
                    if !d.scopes.contains(s) {
                        d.scopes.push(s.clone());
                    }
                }
                d.role = req.role.clone();
                d.approved_at_ms = now;
                d.approved_via = via.to_owned();
                d
            }
            _ => PairedDevice {
                device_id: req.device_id.clone(),
                public_key: req.public_key.clone(),
                display_name: req.display_name.clone(),
                operator_label: None,
                platform: req.platform.clone(),
                device_family: req.device_family.clone(),
                client_id: req.client_id.clone(),
                client_mode: req.client_mode.clone(),
                role: req.role.clone(),
                roles: req.roles.clone(),
                scopes: req.scopes.clone(),
                remote_ip: req.remote_ip.clone(),
                tokens: BTreeMap::new(),
                approved_via: via.to_owned(),
                node_surface: None,
                pending_node_surface: None,
                created_at_ms: now,
                approved_at_ms: now,
                last_seen_at_ms: None,
            },
        };
        for role in &req.roles {
            let scopes = role_scopes(role, &device.scopes);
            let current = device.tokens.get(role).filter(|t| t.revoked_at_ms.is_none() && t.scopes == scopes);
            if current.is_none() {
                device.tokens.insert(role.clone(), DeviceToken {
                    token: tokens.next_token(),
                    role: role.clone(),
                    scopes,
                    created_at_ms: now,
                    rotated_at_ms: None,
                    revoked_at_ms: None,
                    last_used_at_ms: None,
                });
            }
        }
        self.paired.insert(device.device_id.clone(), device.clone());
        let ops = vec![StoreOp::DropPending(request_id.to_owned()), StoreOp::PutPaired(Box::new(device.clone()))];
        Ok((device, ops))
    }

    pub fn reject(&mut self, request_id: &str) -> Result<(PendingRequest, Vec<StoreOp>), StoreError> {
        let req = self.pending.remove(request_id).ok_or(StoreError::UnknownRequest)?;
        Ok((req, vec![StoreOp::DropPending(request_id.to_owned())]))
    }

    /// Unpairs a device (its pending requests go too).
    pub fn remove(&mut self, device_id: &str) -> Result<(PairedDevice, Vec<StoreOp>), StoreError> {
        let device = self.paired.remove(device_id).ok_or(StoreError::UnknownDevice)?;
        let mut ops = vec![StoreOp::DropPaired(device_id.to_owned())];
        let stale: Vec<String> =
            self.pending.values().filter(|p| p.device_id == device_id).map(|p| p.request_id.clone()).collect();
        for id in stale {
            self.pending.remove(&id);
            ops.push(StoreOp::DropPending(id));
        }
        Ok((device, ops))
    }

    pub fn rename(&mut self, device_id: &str, label: &str) -> Result<(PairedDevice, Vec<StoreOp>), StoreError> {
        let device = self.paired.get_mut(device_id).ok_or(StoreError::UnknownDevice)?;
        device.operator_label = Some(label.to_owned());
        let device = device.clone();
        Ok((device.clone(), vec![StoreOp::PutPaired(Box::new(device))]))
    }

    /// A new token for (device, role), as the reference's `rotateDeviceTokenInWorker`: the
    /// scopes asked for (else the current token's, else the device's) must lie within the
    /// approved scopes (never widened), and, when `caller_scopes` is given, within those too
    /// (a caller may not mint beyond its own scopes).
    pub fn rotate(
        &mut self,
        device_id: &str,
        role: &str,
        scopes: Option<&[String]>,
        caller_scopes: Option<&[String]>,
        now: u64,
        tokens: &mut TokenSource,
    ) -> Result<(DeviceToken, Vec<StoreOp>), StoreError> {
        let device = self.paired.get_mut(device_id).ok_or(StoreError::UnknownDevice)?;
        if !device.roles.iter().any(|r| r == role) {
            return Err(StoreError::UnknownRole);
        }
        let existing = device.tokens.get(role);
        let requested = normalize_scopes(scopes.or(existing.map(|t| t.scopes.as_slice())).unwrap_or(&device.scopes));
        if missing_requested_scope(role, &requested, &device.scopes).is_some() {
            return Err(StoreError::ScopeOutsideBaseline);
        }
        if let Some(missing) = caller_scopes.and_then(|c| missing_requested_scope(role, &requested, c)) {
            return Err(StoreError::CallerMissingScope(missing.to_owned()));
        }
        let created = existing.map_or(now, |t| t.created_at_ms);
        let token = DeviceToken {
            token: tokens.next_token(),
            role: role.to_owned(),
            scopes: requested,
            created_at_ms: created,
            rotated_at_ms: Some(now),
            revoked_at_ms: None,
            last_used_at_ms: None,
        };
        device.tokens.insert(role.to_owned(), token.clone());
        let device = device.clone();
        Ok((token, vec![StoreOp::PutPaired(Box::new(device))]))
    }

    /// Revokes the token of (device, role), as the reference's `revokeDeviceTokenInWorker`:
    /// the role must be approved and hold a token, and, when `caller_scopes` is given, the
    /// token's scopes must lie within them (a caller may not revoke beyond its own scopes).
    pub fn revoke(
        &mut self,
        device_id: &str,
        role: &str,
        caller_scopes: Option<&[String]>,
        now: u64,
    ) -> Result<(DeviceToken, Vec<StoreOp>), StoreError> {
        let device = self.paired.get_mut(device_id).ok_or(StoreError::UnknownDevice)?;
        if !device.roles.iter().any(|r| r == role) {
            return Err(StoreError::UnknownRole);
        }
        let token = device.tokens.get_mut(role).ok_or(StoreError::UnknownRole)?;
        let target = normalize_scopes(&token.scopes);
        if let Some(missing) = caller_scopes.and_then(|c| missing_requested_scope(role, &target, c)) {
            return Err(StoreError::CallerMissingScope(missing.to_owned()));
        }
        token.revoked_at_ms = Some(now);
        let token = token.clone();
        let device = device.clone();
        Ok((token, vec![StoreOp::PutPaired(Box::new(device))]))
    }

    /// The scopes a token for `role` would carry if `request_id` were approved now, for the
    /// reference's caller check (`callerScopes` must cover them): the request's scopes merged
    /// into the device's approved ones, filtered to the role.
    pub fn approval_token_scopes(&self, request_id: &str, role: &str) -> Vec<String> {
        let Some(req) = self.pending.get(request_id) else { return Vec::new() };
        let mut merged = match self.paired.get(&req.device_id) {
            Some(d) if d.public_key == req.public_key => d.scopes.clone(),
            _ => Vec::new(),
        };
        for s in &req.scopes {
            if !merged.contains(s) {
                merged.push(s.clone());
            }
        }
        role_scopes(role, &merged)
    }

    /// Is `token` the live device token of (device, role), covering `scopes`?
    pub fn verify_token(&self, device_id: &str, token: &str, role: &str, scopes: &[String]) -> bool {
        self.paired
            .get(device_id)
            .and_then(|d| d.live_token(role))
            .is_some_and(|t| constant_time_eq(t.token.as_bytes(), token.as_bytes()) && scopes.iter().all(|s| t.scopes.contains(s)))
    }

    /// The live token of (device, role), issuing one if the pairing grants the role but holds
    /// none (e.g. after a revoke the device re-paired).
    pub fn ensure_token(
        &mut self,
        device_id: &str,
        role: &str,
        now: u64,
        tokens: &mut TokenSource,
    ) -> Option<(DeviceToken, Vec<StoreOp>)> {
        let device = self.paired.get_mut(device_id)?;
        if let Some(t) = device.live_token(role) {
            return Some((t.clone(), Vec::new()));
        }
        let token = DeviceToken {
            token: tokens.next_token(),
            role: role.to_owned(),
            scopes: role_scopes(role, &device.scopes),
            created_at_ms: now,
            rotated_at_ms: None,
            revoked_at_ms: None,
            last_used_at_ms: None,
        };
        device.tokens.insert(role.to_owned(), token.clone());
        let device = device.clone();
        Some((token, vec![StoreOp::PutPaired(Box::new(device))]))
    }
}

/// The reference's `normalizeDeviceAuthScopes`: trimmed, blanks dropped, `operator.admin`
/// adding `operator.read` and `operator.write`, `operator.write` adding `operator.read`, sorted
/// and deduplicated.
fn normalize_scopes(scopes: &[String]) -> Vec<String> {
    let mut out: Vec<String> = scopes.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let has = |out: &[String], s: &str| out.iter().any(|o| o == s);
    if has(&out, "operator.admin") {
        out.extend(["operator.read".to_owned(), "operator.write".to_owned()]);
    } else if has(&out, "operator.write") {
        out.push("operator.read".to_owned());
    }
    out.sort();
    out.dedup();
    out
}

/// The scopes a token of `role` carries: operator scopes for operators, none for nodes.
fn role_scopes(role: &str, scopes: &[String]) -> Vec<String> {
    if role == "operator" {
        scopes.iter().filter(|s| s.starts_with("operator.")).cloned().collect()
    } else {
        Vec::new()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[path = "store_nodes.rs"]
mod nodes;
pub use nodes::SurfaceState;

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
