//! `node.pending.enqueue` (operators queue work for a paired node) and `node.pending.drain`
//! (the node collects it), as the reference's `nodes.pending-work.ts`; the queue itself is
//! [`crate::services::node_work`]. Nothing here can wake a sleeping node (no push service), so
//! `wakeTriggered` is always false and the work waits for the node's next drain.

use serde_json::json;

use super::{Hub, Req};
use crate::wire::frames::{ErrorCode, ErrorShape};
use crate::wire::nodes::{NodePendingDrainParams, NodePendingEnqueueParams};

/// `respondPairingChanged` of the pending-work handlers.
fn pairing_changed() -> ErrorShape {
    let mut e = ErrorShape::new(ErrorCode::Unavailable, "node pairing changed while pending work was active")
        .with_details(json!({ "code": "PAIRING_CHANGED" }));
    e.retryable = Some(true);
    e
}

impl Hub {
    fn is_paired_node(&self, node_id: &str) -> bool {
        self.devices.store.paired_device(node_id).is_some_and(|d| d.roles.iter().any(|r| r == "node"))
    }
}

/// `node.pending.enqueue`: queue (or find queued) work for a paired node.
pub(crate) fn enqueue(hub: &mut Hub, rq: Req, p: NodePendingEnqueueParams) {
    let node_id = p.node_id.trim();
    if !hub.is_paired_node(node_id) {
        return hub.respond_err(&rq.caller, &pairing_changed());
    }
    let id = hub.ids.uuid();
    let queued = hub.node_work.enqueue(node_id, p.kind, p.priority, p.expires_in_ms, rq.wall.0, id);
    let answer = json!({ "nodeId": node_id, "revision": queued.revision, "queued": queued.item, "wakeTriggered": false });
    hub.respond_ok(&rq.caller, &answer);
}

/// `node.pending.drain`: the calling node takes its queued work (and the baseline status
/// request); only its current connection may.
pub(crate) fn drain(hub: &mut Hub, rq: Req, p: NodePendingDrainParams) {
    let Some((conn, _)) = rq.caller.socket() else {
        return hub.respond_err(&rq.caller, &ErrorShape::invalid_request("node.pending.drain requires a connected device identity"));
    };
    let Some(node_id) = hub.nodes.session(conn).map(|s| s.node_id.clone()) else {
        return hub.respond_err(&rq.caller, &ErrorShape::invalid_request("node.pending.drain requires a connected device identity"));
    };
    let current = hub.nodes.by_node_id(&node_id).map(|s| s.conn) == Some(conn);
    if !hub.is_paired_node(&node_id) || !current {
        return hub.respond_err(&rq.caller, &pairing_changed());
    }
    let drained = hub.node_work.drain(&node_id, p.max_items, rq.wall.0);
    let answer = json!({ "nodeId": node_id, "revision": drained.revision, "items": drained.items, "hasMore": drained.has_more });
    hub.respond_ok(&rq.caller, &answer);
}
