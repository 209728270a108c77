//! Node surfaces on paired-device rows: proposing what a node declared at `connect`,
//! approving or rejecting it (`node.pair.approve|reject`), removing the node role
//! (`node.pair.remove`) and renaming (`node.rename`). Each change returns the [`StoreOp`]s
//! that persist it, like the rest of the store.

use super::{PairedDevice, PairingStore, StoreError, StoreOp};
use crate::devices::surface::{DeclaredSurface, NodeSurface, PendingNodeSurface};
use crate::ids::IdGen;

/// Where a connecting node's surface stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SurfaceState {
    /// Its approved surface is what it declared (or it declared nothing).
    Approved,
    /// It waits for an operator; `created` when this connect opened the request.
    Pending { request: Box<PendingNodeSurface>, created: bool },
}

impl PairingStore {
    /// Paired devices holding the `node` role.
    pub fn nodes(&self) -> impl Iterator<Item = &PairedDevice> {
        self.paired.values().filter(|d| d.roles.iter().any(|r| r == "node"))
    }

    /// The device whose pending surface is `request_id`.
    pub fn pending_surface(&self, request_id: &str) -> Option<(&PairedDevice, &PendingNodeSurface)> {
        self.paired
            .values()
            .find_map(|d| d.pending_node_surface.as_ref().filter(|p| p.request_id == request_id).map(|p| (d, p)))
    }

    /// Records what a node declared at `connect`: nothing to do when it matches the approved
    /// surface; otherwise its pending surface (kept, or refreshed under the same request id
    /// with a new revision, or opened under a new id from `ids`).
    pub fn propose_surface(
        &mut self,
        device_id: &str,
        declared: &DeclaredSurface,
        now: u64,
        ids: &mut IdGen,
    ) -> (SurfaceState, Vec<StoreOp>) {
        let Some(device) = self.paired.get_mut(device_id) else { return (SurfaceState::Approved, Vec::new()) };
        let approved = device.node_surface.as_ref().is_some_and(|s| declared.same_surface(&s.caps, &s.commands));
        let empty = declared.caps.is_empty() && declared.commands.is_empty() && device.node_surface.is_none();
        if approved || empty {
            let mut ops = Vec::new();
            if let Some(surface) = device.node_surface.as_mut() {
                surface.last_connected_at_ms = Some(now);
                ops.push(StoreOp::PutPaired(Box::new(device.clone())));
            }
            if device.pending_node_surface.take().is_some() && ops.is_empty() {
                ops.push(StoreOp::PutPaired(Box::new(device.clone())));
            }
            return (SurfaceState::Approved, ops);
        }
        if let Some(p) = device.pending_node_surface.as_ref() {
            if declared.same_surface(&p.caps, &p.commands) {
                return (SurfaceState::Pending { request: Box::new(p.clone()), created: false }, Vec::new());
            }
        }
        let (request_id, created) = match device.pending_node_surface.as_ref() {
            Some(p) => (p.request_id.clone(), false),
            None => (ids.uuid(), true),
        };
        let revision = ids.uuid();
        let request = PendingNodeSurface {
            request_id,
            revision,
            display_name: declared.display_name.clone(),
            platform: declared.platform.clone(),
            version: declared.version.clone(),
            device_family: declared.device_family.clone(),
            model_identifier: declared.model_identifier.clone(),
            caps: declared.caps.clone(),
            commands: declared.commands.clone(),
            silent: declared.silent,
            ts: now,
        };
        device.pending_node_surface = Some(request.clone());
        let ops = vec![StoreOp::PutPaired(Box::new(device.clone()))];
        (SurfaceState::Pending { request: Box::new(request), created }, ops)
    }

    /// Approves a pending surface: it becomes the node's surface.
    pub fn approve_surface(&mut self, request_id: &str, now: u64) -> Result<(PairedDevice, Vec<StoreOp>), StoreError> {
        let device = self
            .paired
            .values_mut()
            .find(|d| d.pending_node_surface.as_ref().is_some_and(|p| p.request_id == request_id))
            .ok_or(StoreError::UnknownRequest)?;
        let Some(p) = device.pending_node_surface.take() else { return Err(StoreError::UnknownRequest) };
        let last_connected = device.node_surface.as_ref().and_then(|s| s.last_connected_at_ms);
        device.node_surface = Some(NodeSurface {
            display_name: p.display_name,
            version: p.version,
            model_identifier: p.model_identifier,
            caps: p.caps,
            commands: p.commands,
            created_at_ms: now,
            approved_at_ms: now,
            last_connected_at_ms: last_connected,
        });
        let device = device.clone();
        Ok((device.clone(), vec![StoreOp::PutPaired(Box::new(device))]))
    }

    /// Drops a pending surface; returns the node id.
    pub fn reject_surface(&mut self, request_id: &str) -> Result<(String, Vec<StoreOp>), StoreError> {
        let device = self
            .paired
            .values_mut()
            .find(|d| d.pending_node_surface.as_ref().is_some_and(|p| p.request_id == request_id))
            .ok_or(StoreError::UnknownRequest)?;
        device.pending_node_surface = None;
        let device = device.clone();
        Ok((device.device_id.clone(), vec![StoreOp::PutPaired(Box::new(device))]))
    }

    /// Takes the `node` role (its token and surfaces) from a device; a device left with no
    /// role is unpaired.
    pub fn remove_node_role(&mut self, device_id: &str) -> Result<Vec<StoreOp>, StoreError> {
        let device = self.paired.get_mut(device_id).ok_or(StoreError::UnknownDevice)?;
        if !device.roles.iter().any(|r| r == "node") {
            return Err(StoreError::UnknownDevice);
        }
        device.roles.retain(|r| r != "node");
        if device.roles.is_empty() {
            return self.remove(device_id).map(|(_, ops)| ops);
        }
        device.tokens.remove("node");
        device.node_surface = None;
        device.pending_node_surface = None;
        if device.role == "node" {
            device.role = device.roles[0].clone();
        }
        Ok(vec![StoreOp::PutPaired(Box::new(device.clone()))])
    }

    /// Renames a node (its approved surface's name and the device's).
    pub fn rename_node(&mut self, device_id: &str, name: &str) -> Result<(PairedDevice, Vec<StoreOp>), StoreError> {
        let device = self
            .paired
            .get_mut(device_id)
            .filter(|d| d.roles.iter().any(|r| r == "node"))
            .ok_or(StoreError::UnknownDevice)?;
        device.display_name = Some(name.to_owned());
        if let Some(s) = device.node_surface.as_mut() {
            s.display_name = Some(name.to_owned());
        }
        let device = device.clone();
        Ok((device.clone(), vec![StoreOp::PutPaired(Box::new(device))]))
    }
}
