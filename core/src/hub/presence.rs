//! The presence store (protocol.md §6, §8): the gateway's own permanent entry plus one entry
//! per key (instanceId, else connection, or what `system-event` names), pruned after 5 min and
//! capped at 200, oldest first.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::ids::UnixMillis;
use crate::limits::{MAX_PRESENCE_ENTRIES, PRESENCE_TTL};
use crate::time::Instant;
use crate::wire::hello::PresenceEntry;

#[derive(Clone, Debug)]
struct Record {
    entry: PresenceEntry,
    updated: Instant,
    /// Insertion order, so listings are stable.
    order: u64,
}

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
    use super::*;

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
}
