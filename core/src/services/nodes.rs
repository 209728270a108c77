//! The node registry (channels-agent-nodes.md §8.1, §8.5): the connected nodes and the
//! `node.invoke` calls waiting for their `node.invoke.result`. Pure state with its rules; the
//! hub (`crate::hub::nodes`, `crate::hub::node_invoke`) delivers what it decides.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::caller::Caller;
use crate::devices::surface::DeclaredSurface;
use crate::ids::ConnId;
use crate::time::Instant;

/// At most this many invokes wait at once (a bounded table; more answer UNAVAILABLE).
pub const MAX_PENDING_INVOKES: usize = 1024;

/// `timeoutMs` of a `node.invoke` that names none.
pub const DEFAULT_INVOKE_TIMEOUT_MS: u64 = 30_000;

/// One connected node socket.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSession {
    pub conn: ConnId,
    pub node_id: String,
    pub client_id: String,
    pub client_mode: String,
    pub display_name: Option<String>,
    pub platform: String,
    pub version: String,
    pub device_family: Option<String>,
    pub model_identifier: Option<String>,
    pub remote_ip: Option<String>,
    /// What it declared, filtered to what a pairing may carry.
    pub declared: DeclaredSurface,
    pub path_env: Option<String>,
    pub permissions: Option<Value>,
    pub connected_at_ms: u64,
    pub skills: Vec<Value>,
    pub plugin_tools: Vec<Value>,
    /// The last valid `node.host.stats` payload.
    pub host_stats: Option<Value>,
}

/// A `node.invoke` waiting for the node.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingInvoke {
    pub caller: Caller,
    pub node_conn: ConnId,
    pub node_id: String,
    pub command: String,
    pub deadline: Instant,
    /// The node sent `node.invoke.progress` for it (a later `NODE_NOT_READY` is then a
    /// failure, not a retryable refusal).
    pub received_progress: bool,
}

/// Connected nodes and waiting invokes.
#[derive(Clone, Debug, Default)]
pub struct Nodes {
    sessions: BTreeMap<ConnId, NodeSession>,
    invokes: BTreeMap<String, PendingInvoke>,
}

impl Nodes {
    pub fn register(&mut self, session: NodeSession) {
        self.sessions.insert(session.conn, session);
    }

    pub fn session(&self, conn: ConnId) -> Option<&NodeSession> {
        self.sessions.get(&conn)
    }

    pub fn session_mut(&mut self, conn: ConnId) -> Option<&mut NodeSession> {
        self.sessions.get_mut(&conn)
    }

    /// The newest connection of `node_id`.
    pub fn by_node_id(&self, node_id: &str) -> Option<&NodeSession> {
        self.sessions.values().filter(|s| s.node_id == node_id).max_by_key(|s| (s.connected_at_ms, s.conn))
    }

    /// Every connected node, one row per node id (its newest connection).
    pub fn connected(&self) -> Vec<&NodeSession> {
        let mut by_id: BTreeMap<&str, &NodeSession> = BTreeMap::new();
        for s in self.sessions.values() {
            let newer = by_id.get(s.node_id.as_str()).is_none_or(|o| (s.connected_at_ms, s.conn) > (o.connected_at_ms, o.conn));
            if newer {
                by_id.insert(&s.node_id, s);
            }
        }
        by_id.into_values().collect()
    }

    /// A socket closed: its node session goes, and every invoke it was running is returned
    /// (to be failed with `node disconnected`); invokes it asked for are forgotten.
    pub fn unregister(&mut self, conn: ConnId) -> (Option<NodeSession>, Vec<(String, PendingInvoke)>) {
        let session = self.sessions.remove(&conn);
        self.invokes.retain(|_, inv| !inv.caller.is_on(conn));
        let ids: Vec<String> = self.invokes.iter().filter(|(_, i)| i.node_conn == conn).map(|(id, _)| id.clone()).collect();
        let gone = ids.into_iter().filter_map(|id| self.invokes.remove(&id).map(|i| (id, i))).collect();
        (session, gone)
    }

    /// Records a waiting invoke; false when the table is full.
    pub fn add_invoke(&mut self, id: String, invoke: PendingInvoke) -> bool {
        if self.invokes.len() >= MAX_PENDING_INVOKES {
            return false;
        }
        self.invokes.insert(id, invoke);
        true
    }

    /// The invoke `id` if `node_id` on `conn` is the node it was sent to.
    pub fn take_invoke(&mut self, id: &str, node_id: &str, conn: ConnId) -> Option<PendingInvoke> {
        let matches = self.invokes.get(id).is_some_and(|i| i.node_id == node_id && i.node_conn == conn);
        if matches {
            self.invokes.remove(id)
        } else {
            None
        }
    }

    /// `node.invoke.progress` for invoke `id` from `node_id` on `conn`: marks it as having
    /// made progress; false when no such invoke waits (the chunk is ignored either way: no
    /// caller here streams progress).
    pub fn note_progress(&mut self, id: &str, node_id: &str, conn: ConnId) -> bool {
        match self.invokes.get_mut(id).filter(|i| i.node_id == node_id && i.node_conn == conn) {
            Some(invoke) => {
                invoke.received_progress = true;
                true
            }
            None => false,
        }
    }

    /// Invokes whose deadline passed at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<(String, PendingInvoke)> {
        let ids: Vec<String> = self.invokes.iter().filter(|(_, i)| i.deadline <= now).map(|(id, _)| id.clone()).collect();
        ids.into_iter().filter_map(|id| self.invokes.remove(&id).map(|i| (id, i))).collect()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.invokes.values().map(|i| i.deadline).min()
    }

    #[cfg(test)]
    pub fn pending_invokes(&self) -> usize {
        self.invokes.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ids::RequestId;

    fn session(conn: u64, node: &str, at: u64) -> NodeSession {
        NodeSession {
            conn: ConnId(conn),
            node_id: node.into(),
            client_id: "node-host".into(),
            client_mode: "node".into(),
            display_name: None,
            platform: "linux".into(),
            version: "1".into(),
            device_family: None,
            model_identifier: None,
            remote_ip: None,
            declared: DeclaredSurface::default(),
            path_env: None,
            permissions: None,
            connected_at_ms: at,
            skills: Vec::new(),
            plugin_tools: Vec::new(),
            host_stats: None,
        }
    }

    fn invoke(caller_conn: u64, node_conn: u64, node: &str, deadline: Instant) -> PendingInvoke {
        PendingInvoke {
            caller: Caller::Socket { conn: ConnId(caller_conn), id: RequestId("r".into()) },
            node_conn: ConnId(node_conn),
            node_id: node.into(),
            command: "system.which".into(),
            deadline,
            received_progress: false,
        }
    }

    #[test]
    fn the_newest_connection_of_a_node_wins() {
        let mut nodes = Nodes::default();
        nodes.register(session(1, "a", 10));
        nodes.register(session(2, "a", 20));
        nodes.register(session(3, "b", 5));
        assert_eq!(nodes.by_node_id("a").map(|s| s.conn), Some(ConnId(2)));
        assert_eq!(nodes.connected().len(), 2);
    }

    #[test]
    fn a_closed_node_fails_its_invokes_and_a_closed_caller_forgets_its_own() {
        let t0 = Instant::default();
        let mut nodes = Nodes::default();
        nodes.register(session(1, "a", 10));
        assert!(nodes.add_invoke("i1".into(), invoke(9, 1, "a", t0 + Duration::from_secs(5))));
        assert!(nodes.add_invoke("i2".into(), invoke(8, 1, "a", t0 + Duration::from_secs(5))));
        let (_, gone) = nodes.unregister(ConnId(8));
        assert!(gone.is_empty());
        let (s, gone) = nodes.unregister(ConnId(1));
        assert!(s.is_some());
        assert_eq!(gone.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["i1"]);
        assert_eq!(nodes.pending_invokes(), 0);
    }

    #[test]
    fn results_must_come_from_the_node_they_were_sent_to() {
        let t0 = Instant::default();
        let mut nodes = Nodes::default();
        nodes.add_invoke("i1".into(), invoke(9, 1, "a", t0 + Duration::from_secs(5)));
        assert!(nodes.take_invoke("i1", "b", ConnId(1)).is_none());
        assert!(nodes.take_invoke("i1", "a", ConnId(2)).is_none());
        assert!(nodes.take_invoke("i1", "a", ConnId(1)).is_some());
        assert!(nodes.take_invoke("i1", "a", ConnId(1)).is_none(), "answered once");
    }

    #[test]
    fn invokes_expire_at_their_deadline() {
        let t0 = Instant::default();
        let mut nodes = Nodes::default();
        nodes.add_invoke("i1".into(), invoke(9, 1, "a", t0 + Duration::from_secs(5)));
        nodes.add_invoke("i2".into(), invoke(9, 1, "a", t0 + Duration::from_secs(9)));
        assert_eq!(nodes.next_deadline(), Some(t0 + Duration::from_secs(5)));
        assert!(nodes.expire(t0 + Duration::from_secs(4)).is_empty());
        assert_eq!(nodes.expire(t0 + Duration::from_secs(5)).len(), 1);
        assert_eq!(nodes.next_deadline(), Some(t0 + Duration::from_secs(9)));
    }
}
