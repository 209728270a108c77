//! Pending node work (`node.pending.enqueue` / `node.pending.drain`, the reference's
//! `node-pending-work.ts`): per node, at most one queued item of each type (a second enqueue
//! of a type returns the first), each with a TTL; a drain hands out the highest-priority,
//! oldest items and removes them, adding the baseline `status.request` when none is queued.
//! Pure state: ids and `now` (wall ms) come from the caller. Bounded: two types per paired node.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::wire::nodes::{NodeWorkPriority, NodeWorkType};

/// Queued work lives this long unless the caller says otherwise.
pub const DEFAULT_TTL_MS: u64 = 86_400_000;
/// A drain hands out this many items unless asked for another number (1..=10).
pub const DEFAULT_MAX_ITEMS: usize = 4;
pub const MAX_ITEMS: usize = 10;
/// The id of the status request every drain offers when none is queued.
pub const BASELINE_STATUS_ID: &str = "baseline-status";

/// One item as the methods show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkItem {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: NodeWorkType,
    /// `default` (the baseline item), `normal` or `high`.
    pub priority: &'static str,
    pub created_at_ms: u64,
    /// `null` for the baseline item.
    pub expires_at_ms: Option<u64>,
}

fn rank(priority: &str) -> u8 {
    match priority {
        "high" => 3,
        "normal" => 2,
        _ => 1,
    }
}

#[derive(Clone, Debug, Default)]
struct Queue {
    revision: u64,
    items: BTreeMap<String, WorkItem>,
}

impl Queue {
    fn prune(&mut self, now: u64) {
        let before = self.items.len();
        self.items.retain(|_, i| i.expires_at_ms.is_none_or(|at| at > now));
        if self.items.len() != before {
            self.revision += 1;
        }
    }
}

/// What an enqueue did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enqueued {
    pub revision: u64,
    pub item: WorkItem,
    /// An item of this type was already queued (it is returned; nothing was added).
    pub deduped: bool,
}

/// What a drain hands out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drained {
    pub revision: u64,
    pub items: Vec<WorkItem>,
    pub has_more: bool,
}

/// Every node's queue.
#[derive(Clone, Debug, Default)]
pub struct NodeWork {
    queues: BTreeMap<String, Queue>,
}

impl NodeWork {
    /// Queues `kind` for `node_id` (or returns the item of that type already queued); `id` is
    /// the new item's id.
    pub fn enqueue(
        &mut self,
        node_id: &str,
        kind: NodeWorkType,
        priority: Option<NodeWorkPriority>,
        expires_in_ms: Option<u64>,
        now: u64,
        id: String,
    ) -> Enqueued {
        let queue = self.queues.entry(node_id.to_owned()).or_default();
        queue.prune(now);
        if let Some(existing) = queue.items.values().find(|i| i.kind == kind) {
            return Enqueued { revision: queue.revision, item: existing.clone(), deduped: true };
        }
        let priority = match priority {
            Some(NodeWorkPriority::High) => "high",
            Some(NodeWorkPriority::Normal) | None => "normal",
        };
        let ttl = expires_in_ms.map_or(DEFAULT_TTL_MS, |ms| ms.max(1000));
        let item = WorkItem { id: id.clone(), kind, priority, created_at_ms: now, expires_at_ms: Some(now + ttl) };
        queue.items.insert(id, item.clone());
        queue.revision += 1;
        Enqueued { revision: queue.revision, item, deduped: false }
    }

    /// Hands out up to `max_items` (default 4, at most 10) and removes them; the baseline
    /// status request fills a free slot when no status request is queued.
    pub fn drain(&mut self, node_id: &str, max_items: Option<u64>, now: u64) -> Drained {
        let max = max_items.map_or(DEFAULT_MAX_ITEMS, |m| usize::try_from(m).unwrap_or(MAX_ITEMS).clamp(1, MAX_ITEMS));
        let mut queued: Vec<WorkItem> = match self.queues.get_mut(node_id) {
            Some(q) => {
                q.prune(now);
                q.items.values().cloned().collect()
            }
            None => Vec::new(),
        };
        queued.sort_by(|a, b| {
            rank(b.priority).cmp(&rank(a.priority)).then(a.created_at_ms.cmp(&b.created_at_ms)).then(a.id.cmp(&b.id))
        });
        let has_status = queued.iter().any(|i| i.kind == NodeWorkType::StatusRequest);
        let total = queued.len();
        let mut items: Vec<WorkItem> = queued.into_iter().take(max).collect();
        let explicit = items.len();
        let baseline = !has_status && items.len() < max;
        if baseline {
            items.push(WorkItem {
                id: BASELINE_STATUS_ID.to_owned(),
                kind: NodeWorkType::StatusRequest,
                priority: "default",
                created_at_ms: now,
                expires_at_ms: None,
            });
        }
        let mut revision = 0;
        if let Some(q) = self.queues.get_mut(node_id) {
            if explicit > 0 {
                for i in &items[..explicit] {
                    q.items.remove(&i.id);
                }
                q.revision += 1;
            }
            revision = q.revision;
            if q.items.is_empty() {
                self.queues.remove(node_id);
            }
        }
        Drained { revision, items, has_more: total > explicit || (!has_status && !baseline) }
    }

    /// The node's pairing went away: its queued work goes too.
    pub fn clear(&mut self, node_id: &str) {
        self.queues.remove(node_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_item_per_type_highest_priority_first_then_the_baseline() {
        let mut w = NodeWork::default();
        let a = w.enqueue("n", NodeWorkType::LocationRequest, None, None, 1000, "a".into());
        assert_eq!((a.revision, a.deduped, a.item.priority, a.item.expires_at_ms), (1, false, "normal", Some(1000 + DEFAULT_TTL_MS)));
        let again = w.enqueue("n", NodeWorkType::LocationRequest, Some(NodeWorkPriority::High), None, 1001, "x".into());
        assert_eq!((again.deduped, again.item.id.as_str(), again.revision), (true, "a", 1));
        let d = w.drain("n", None, 2000);
        assert_eq!(d.items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["a", BASELINE_STATUS_ID]);
        assert_eq!((d.revision, d.has_more), (2, false));
        assert_eq!(d.items[1].expires_at_ms, None);
        // Drained items are gone; the baseline is always offered.
        let d = w.drain("n", Some(1), 3000);
        assert_eq!(d.items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [BASELINE_STATUS_ID]);
        assert_eq!((d.revision, d.has_more), (0, false));
    }

    #[test]
    fn an_explicit_status_request_replaces_the_baseline_and_items_expire() {
        let mut w = NodeWork::default();
        w.enqueue("n", NodeWorkType::LocationRequest, None, Some(5000), 0, "loc".into());
        w.enqueue("n", NodeWorkType::StatusRequest, Some(NodeWorkPriority::High), None, 10, "st".into());
        let d = w.drain("n", Some(1), 20);
        assert_eq!(d.items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["st"]);
        assert!(d.has_more, "the location request is still queued");
        // The location request outlived its TTL: only the baseline is left.
        let d = w.drain("n", None, 5000);
        assert_eq!(d.items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [BASELINE_STATUS_ID]);
        // A full drain without room for the baseline says there is more.
        let mut w = NodeWork::default();
        w.enqueue("n", NodeWorkType::LocationRequest, None, None, 0, "loc".into());
        let d = w.drain("n", Some(1), 1);
        assert_eq!((d.items.len(), d.has_more), (1, true));
        w.enqueue("n", NodeWorkType::LocationRequest, None, None, 2, "loc2".into());
        w.clear("n");
        assert_eq!(w.drain("n", None, 3).items.len(), 1, "cleared: the baseline only");
    }
}
