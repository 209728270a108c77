//! The presence service (protocol.md §5.3-5.4, §6, §8, §10.16): the gateway's own permanent
//! entry plus one entry per key — a connection's row (keyed by its hello-ok connId) or what a
//! `system-event` names (device id, instance id, the host or ip of a node line, else the text)
//! — pruned after 5 min and capped at 200, oldest first. [`Presence`] holds the rules (which
//! clients are recorded, what a row says, how `system-event` merges into it, the `disconnect`
//! mark); [`PresenceStore`] the rows. The hub owns `stateVersion.presence` and the broadcast:
//! each call here says whether the listing changed.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::auth::scopes::{Role, ScopeSet};
use crate::ids::UnixMillis;
use crate::limits::{MAX_PRESENCE_ENTRIES, PRESENCE_TTL};
use crate::link::PeerInfo;
use crate::time::Instant;
use crate::wire::connect::{ClientMode, ConnectParams};
use crate::wire::hello::PresenceEntry;
use crate::wire::methods::SystemEventParams;

/// The presence service's state: the rows, and the rules that write them.
#[derive(Clone, Debug)]
pub(crate) struct Presence {
    store: PresenceStore,
}

impl Presence {
    /// A listing that holds only `own`, the gateway's row.
    pub(crate) fn new(own: PresenceEntry) -> Self {
        Self { store: PresenceStore::new(own) }
    }

    /// A client finished `connect`: its row under `key` (its connId), unless it is a client
    /// presence does not record (cli, backend, probe: §10.16). Returns whether a row was written.
    pub(crate) fn connected(
        &mut self,
        now: Instant,
        wall: UnixMillis,
        key: &str,
        client: ClientRow<'_>,
    ) -> bool {
        if !records_presence(client.params) {
            return false;
        }
        self.store.upsert(now, key.to_owned(), client_presence(&client, wall));
        true
    }

    /// The socket whose row is `key` closed: the row stays, marked `disconnect`, until the TTL
    /// removes it, as in the reference. Returns whether a row was marked.
    pub(crate) fn disconnected(&mut self, now: Instant, wall: UnixMillis, key: &str) -> bool {
        self.store.update(now, key, |e| {
            e.reason = Some("disconnect".into());
            e.ts = wall;
        })
    }

    /// `system-event`: upserts the row the event describes (its fields over what the row had,
    /// a node line's fields parsed from the text) and returns the trimmed text, which the hub
    /// queues for the next agent turn. The listing always changes.
    pub(crate) fn system_event(&mut self, now: Instant, wall: UnixMillis, p: SystemEventParams) -> String {
        let text = p.text.trim().to_owned();
        let parsed = parse_node_line(&text);
        let key = p
            .device_id
            .as_deref()
            .or(p.instance_id.as_deref())
            .map(str::to_lowercase)
            .or_else(|| parsed.as_ref().map(|n| n.host.to_lowercase()))
            .or_else(|| parsed.as_ref().map(|n| n.ip.clone()))
            .unwrap_or_else(|| text.chars().take(64).collect());
        let clear_last_input = p.tags.iter().flatten().any(|t| t == "system-presence-clear-last-input");
        let mut entry = self.store.get(&key).cloned().unwrap_or_default();
        if let Some(n) = parsed {
            entry.host = Some(n.host);
            entry.ip = Some(n.ip);
            entry.version = Some(n.version);
            entry.last_input_seconds = Some(n.last_input_seconds);
            entry.mode = Some(n.mode);
            entry.reason = Some(n.reason);
        }
        let set = |slot: &mut Option<String>, v: Option<String>| {
            if v.is_some() {
                *slot = v;
            }
        };
        set(&mut entry.host, p.host);
        set(&mut entry.ip, p.ip);
        set(&mut entry.version, p.version);
        set(&mut entry.platform, p.platform);
        set(&mut entry.device_family, p.device_family);
        set(&mut entry.model_identifier, p.model_identifier);
        set(&mut entry.mode, p.mode);
        set(&mut entry.reason, p.reason);
        set(&mut entry.device_id, p.device_id);
        set(&mut entry.instance_id, p.instance_id);
        if let Some(s) = p.last_input_seconds.filter(|s| s.is_finite() && *s >= 0.0) {
            entry.last_input_seconds = Some(s as u64);
        }
        if clear_last_input {
            entry.last_input_seconds = None;
        }
        if p.roles.is_some() {
            entry.roles = p.roles;
        }
        if p.scopes.is_some() {
            entry.scopes = p.scopes;
        }
        entry.text = Some(text.clone());
        entry.ts = wall;
        self.store.upsert(now, key, entry);
        text
    }

    /// Drops rows not refreshed within the TTL. Returns whether anything was dropped.
    pub(crate) fn prune(&mut self, now: Instant) -> bool {
        self.store.prune(now)
    }

    /// When the next row expires.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.store.next_expiry()
    }

    /// The listing (`presence` events, `hello-ok.snapshot.presence`, `system-presence`).
    pub(crate) fn list(&self, wall: UnixMillis) -> Vec<PresenceEntry> {
        self.store.list(wall)
    }

    /// How many rows the listing has, the gateway's own included (`status.presence.count`).
    pub(crate) fn count(&self) -> usize {
        self.store.len() + 1
    }
}

/// Who connected, as the presence row describes it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientRow<'a> {
    pub peer: &'a PeerInfo,
    pub params: &'a ConnectParams,
    pub role: Role,
    pub scopes: &'a ScopeSet,
    /// The paired device it proved, if any (`deviceId` of the row).
    pub device_id: Option<&'a str>,
}

/// cli, backend and probe clients are not recorded in presence (§10.16).
fn records_presence(p: &ConnectParams) -> bool {
    !matches!(p.client.mode, ClientMode::Cli | ClientMode::Backend | ClientMode::Probe)
}

fn client_presence(row: &ClientRow<'_>, wall: UnixMillis) -> PresenceEntry {
    let c = &row.params.client;
    let host = c.display_name.clone().unwrap_or_else(|| c.id.as_str().to_owned());
    let ip = (!row.peer.ip.is_loopback()).then(|| row.peer.ip.to_string());
    let text = format!("Node: {host} · mode {}", c.mode.as_str());
    let scopes: Vec<String> = row.scopes.names().map(str::to_owned).collect();
    PresenceEntry {
        host: Some(host),
        ip,
        version: Some(c.version.clone()),
        platform: Some(c.platform.clone()),
        device_family: c.device_family.clone(),
        model_identifier: c.model_identifier.clone(),
        time_zone: c.time_zone.clone(),
        mode: Some(c.mode.as_str().to_owned()),
        reason: Some("connect".into()),
        client_id: Some(c.id.as_str().to_owned()),
        instance_id: c.instance_id.clone(),
        device_id: row.device_id.map(str::to_owned),
        roles: Some(vec![row.role.as_str().to_owned()]),
        scopes: (!scopes.is_empty()).then_some(scopes),
        text: Some(text),
        online_since: Some(wall),
        ts: wall,
        ..PresenceEntry::default()
    }
}

/// The fields of a node presence line:
/// `Node: <host> (<ip>) · app <version> · last input <n>s ago · mode <mode> · reason <reason>`.
#[derive(Debug, PartialEq)]
struct NodeLine {
    host: String,
    ip: String,
    version: String,
    last_input_seconds: u64,
    mode: String,
    reason: String,
}

fn parse_node_line(text: &str) -> Option<NodeLine> {
    let rest = strip_prefix_ci(text, "node:")?.trim_start();
    let host_end = rest.find([' ', '('])?;
    let host = &rest[..host_end];
    let rest = rest[host_end..].trim_start().strip_prefix('(')?;
    let ip_end = rest.find(')')?;
    let ip = &rest[..ip_end];
    let mut parts = rest[ip_end + 1..].split('·').map(str::trim);
    if !parts.next()?.is_empty() {
        return None;
    }
    let version = strip_prefix_ci(parts.next()?, "app")?.trim();
    let last = strip_prefix_ci(parts.next()?, "last input")?.trim();
    let last = last.strip_suffix("s ago")?.trim().parse().ok()?;
    let mode = strip_prefix_ci(parts.next()?, "mode")?.trim();
    let tail: Vec<&str> = parts.collect();
    let first = strip_prefix_ci(tail.first()?, "reason")?.trim();
    let reason = std::iter::once(first).chain(tail[1..].iter().copied()).collect::<Vec<_>>().join(" · ");
    if host.is_empty() || ip.is_empty() || version.is_empty() || mode.is_empty() {
        return None;
    }
    Some(NodeLine {
        host: host.to_owned(),
        ip: ip.to_owned(),
        version: version.to_owned(),
        last_input_seconds: last,
        mode: mode.to_owned(),
        reason,
    })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

#[derive(Clone, Debug)]
struct Record {
    entry: PresenceEntry,
    updated: Instant,
    /// Insertion order, so listings are stable.
    order: u64,
}

/// The rows: one per key, stamped with when they were last refreshed.
#[derive(Clone, Debug)]
pub struct PresenceStore {
    own: PresenceEntry,
    entries: BTreeMap<String, Record>,
    next_order: u64,
    ttl: Duration,
    cap: usize,
}

impl PresenceStore {
    pub fn new(own: PresenceEntry) -> Self {
        Self { own, entries: BTreeMap::new(), next_order: 0, ttl: PRESENCE_TTL, cap: MAX_PRESENCE_ENTRIES }
    }

    /// Inserts or replaces the entry under `key`; replacing keeps its place in the listing.
    pub fn upsert(&mut self, now: Instant, key: String, entry: PresenceEntry) {
        let order = match self.entries.get(&key) {
            Some(r) => r.order,
            None => {
                self.next_order += 1;
                self.next_order
            }
        };
        self.entries.insert(key, Record { entry, updated: now, order });
        while self.entries.len() > self.cap {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, r)| (r.updated, r.order))
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.entries.remove(&k),
                None => break,
            };
        }
    }

    /// Applies `f` to the entry under `key`, if any, refreshing it.
    pub fn update(&mut self, now: Instant, key: &str, f: impl FnOnce(&mut PresenceEntry)) -> bool {
        match self.entries.get_mut(key) {
            Some(r) => {
                f(&mut r.entry);
                r.updated = now;
                true
            }
            None => false,
        }
    }

    pub fn get(&self, key: &str) -> Option<&PresenceEntry> {
        self.entries.get(key).map(|r| &r.entry)
    }

    pub fn remove(&mut self, key: &str) -> bool {
        self.entries.remove(key).is_some()
    }

    /// Drops entries not refreshed within the TTL. Returns whether anything was dropped.
    pub fn prune(&mut self, now: Instant) -> bool {
        let before = self.entries.len();
        let ttl = self.ttl;
        self.entries.retain(|_, r| now.duration_since(r.updated) < ttl);
        before != self.entries.len()
    }

    /// The earliest instant at which an entry expires.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.entries.values().map(|r| r.updated + self.ttl).min()
    }

    /// The listing: the gateway's own entry (stamped `wall`) first, then newest `ts` first
    /// (ties by insertion).
    pub fn list(&self, wall: UnixMillis) -> Vec<PresenceEntry> {
        let mut own = self.own.clone();
        own.ts = wall;
        let mut rows: Vec<&Record> = self.entries.values().collect();
        rows.sort_by_key(|r| (std::cmp::Reverse(r.entry.ts), r.order));
        std::iter::once(own).chain(rows.into_iter().map(|r| r.entry.clone())).collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::auth::scopes::Scope;

    fn entry(text: &str) -> PresenceEntry {
        PresenceEntry { text: Some(text.into()), ..PresenceEntry::default() }
    }

    #[test]
    fn own_entry_is_first_and_permanent() {
        let t0 = Instant::ZERO;
        let mut p = PresenceStore::new(entry("self"));
        p.upsert(t0, "a".into(), entry("a"));
        assert!(p.prune(t0 + PRESENCE_TTL));
        let list = p.list(UnixMillis(9));
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].text.as_deref(), Some("self"));
        assert_eq!(list[0].ts, UnixMillis(9));
    }

    #[test]
    fn ttl_prunes_only_stale_entries() {
        let t0 = Instant::ZERO;
        let mut p = PresenceStore::new(entry("self"));
        p.upsert(t0, "a".into(), entry("a"));
        p.upsert(t0 + Duration::from_secs(60), "b".into(), entry("b"));
        assert_eq!(p.next_expiry(), Some(t0 + PRESENCE_TTL));
        assert!(!p.prune(t0 + PRESENCE_TTL - Duration::from_millis(1)));
        assert!(p.prune(t0 + PRESENCE_TTL));
        let texts: Vec<_> = p.list(UnixMillis(0)).into_iter().filter_map(|e| e.text).collect();
        assert_eq!(texts, ["self", "b"]);
    }

    #[test]
    fn capped_at_200_dropping_the_oldest() {
        let t0 = Instant::ZERO;
        let mut p = PresenceStore::new(entry("self"));
        for i in 0..250u64 {
            p.upsert(t0 + Duration::from_millis(i), format!("k{i}"), entry(&format!("e{i}")));
        }
        assert_eq!(p.len(), MAX_PRESENCE_ENTRIES);
        let list = p.list(UnixMillis(0));
        assert_eq!(list[1].text.as_deref(), Some("e50"));
    }

    #[test]
    fn upsert_keeps_position() {
        let t0 = Instant::ZERO;
        let mut p = PresenceStore::new(entry("self"));
        p.upsert(t0, "a".into(), entry("a1"));
        p.upsert(t0, "b".into(), entry("b"));
        p.upsert(t0, "a".into(), entry("a2"));
        let texts: Vec<_> = p.list(UnixMillis(0)).into_iter().filter_map(|e| e.text).collect();
        assert_eq!(texts, ["self", "a2", "b"]);
    }

    fn connect(mode: &str, name: Option<&str>) -> ConnectParams {
        let mut client = json!({ "id": "test", "version": "1.2", "platform": "linux", "mode": mode });
        if let Some(n) = name {
            client["displayName"] = json!(n);
        }
        serde_json::from_value(json!({ "minProtocol": 4, "maxProtocol": 4, "client": client })).unwrap()
    }

    fn event(v: serde_json::Value) -> SystemEventParams {
        serde_json::from_value(v).unwrap()
    }

    fn rows(p: &Presence) -> Vec<PresenceEntry> {
        p.list(UnixMillis(7)).into_iter().skip(1).collect()
    }

    #[test]
    fn clients_get_a_row_unless_cli_backend_or_probe_and_keep_it_marked_after_disconnect() {
        let (t0, wall) = (Instant::ZERO, UnixMillis(5));
        let mut p = Presence::new(entry("self"));
        let peer = PeerInfo::loopback();
        let scopes: ScopeSet = [Scope::Read].into_iter().collect();
        for mode in ["cli", "backend", "probe"] {
            let params = connect(mode, None);
            let row = ClientRow { peer: &peer, params: &params, role: Role::Operator, scopes: &scopes, device_id: None };
            assert!(!p.connected(t0, wall, mode, row), "{mode} is not recorded");
        }
        let params = connect("ui", Some("Box"));
        let row = ClientRow { peer: &peer, params: &params, role: Role::Operator, scopes: &scopes, device_id: None };
        assert!(p.connected(t0, wall, "conn-1", row));
        assert_eq!(p.count(), 2);
        let r = &rows(&p)[0];
        assert_eq!(r.text.as_deref(), Some("Node: Box · mode ui"));
        assert_eq!((r.reason.as_deref(), r.ip.as_deref(), r.online_since), (Some("connect"), None, Some(wall)));
        assert_eq!(r.scopes.as_deref(), Some(&["operator.read".to_owned()][..]));
        assert!(p.disconnected(t0 + Duration::from_secs(1), UnixMillis(6), "conn-1"));
        assert!(!p.disconnected(t0, wall, "nobody"));
        let r = &rows(&p)[0];
        assert_eq!((r.reason.as_deref(), r.ts), (Some("disconnect"), UnixMillis(6)));
        // The TTL counts from the mark.
        assert_eq!(p.next_expiry(), Some(t0 + Duration::from_secs(1) + PRESENCE_TTL));
        assert!(p.prune(t0 + Duration::from_secs(1) + PRESENCE_TTL));
        assert_eq!(p.count(), 1);
    }

    #[test]
    fn node_lines_parse() {
        let n = parse_node_line("Node: box (10.0.0.5) · app 1.0 · last input 12s ago · mode ui · reason periodic")
            .unwrap();
        assert_eq!(n.host, "box");
        assert_eq!(n.ip, "10.0.0.5");
        assert_eq!(n.version, "1.0");
        assert_eq!(n.last_input_seconds, 12);
        assert_eq!(n.mode, "ui");
        assert_eq!(n.reason, "periodic");
        assert_eq!(parse_node_line("hi"), None);
        assert_eq!(parse_node_line("Node: box · mode ui"), None);
    }

    #[test]
    fn system_events_merge_into_the_row_they_name() {
        let t0 = Instant::ZERO;
        let mut p = Presence::new(entry("self"));
        let line = "Node: Box (10.0.0.5) · app 1.0 · last input 12s ago · mode ui · reason periodic";
        assert_eq!(p.system_event(t0, UnixMillis(1), event(json!({ "text": format!("  {line} ") }))), line);
        // Keyed by the node line's host (lowercased): a later event about it updates the row.
        let later = event(json!({ "text": "Node: box (10.0.0.5) · app 1.1 · last input 0s ago · mode ui · reason x",
                                  "platform": "linux", "tags": ["system-presence-clear-last-input"] }));
        p.system_event(t0, UnixMillis(2), later);
        let r = rows(&p);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].version.as_deref(), r[0].platform.as_deref()), (Some("1.1"), Some("linux")));
        assert_eq!((r[0].last_input_seconds, r[0].ts), (None, UnixMillis(2)));
        // A device id wins over the text; a plain text is its own key.
        p.system_event(t0, UnixMillis(3), event(json!({ "text": "hello", "deviceId": "DEV", "lastInputSeconds": 4.5 })));
        p.system_event(t0, UnixMillis(3), event(json!({ "text": "hello" })));
        let r = rows(&p);
        assert_eq!(r.len(), 3);
        let dev = r.iter().find(|e| e.device_id.as_deref() == Some("DEV")).unwrap();
        assert_eq!(dev.last_input_seconds, Some(4));
    }
}
