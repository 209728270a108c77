//! What `node.event` remembers between events (the reference's `server-node-events.ts` and the
//! parts of its node registry those events use): the recent voice transcripts per session (a
//! repeat within 1.5 s is dropped), the `system.run` invokes whose `exec.*` events a node may
//! report, the `exec.finished` runs already reported, and which sessions each node socket
//! subscribed to with `chat.subscribe`. Pure state, bounded; `now` comes from the caller.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use crate::ids::ConnId;
use crate::time::Instant;

/// A voice transcript with the same fingerprint within this window is a duplicate.
pub const VOICE_DEDUPE_WINDOW: Duration = Duration::from_millis(1500);
/// At most this many sessions' last transcripts are remembered.
pub const MAX_RECENT_VOICE: usize = 200;
/// A second `exec.finished` for the same run within this window is dropped.
pub const EXEC_FINISHED_WINDOW: Duration = Duration::from_secs(600);
pub const MAX_RECENT_EXEC_FINISHED: usize = 2000;
/// An authorised `system.run` may report events this long past its own timeout.
pub const EXEC_EVENT_GRACE: Duration = Duration::from_secs(300);
/// At most this many `system.run` invokes wait for their events at once (the oldest go).
pub const MAX_EXEC_AUTHORIZATIONS: usize = 1024;
/// At most this many sessions per node socket receive `chat`/`agent` events.
pub const MAX_SUBSCRIPTIONS_PER_CONN: usize = 128;

/// The identity of a voice transcript (`resolveVoiceTranscriptFingerprint`): an event id,
/// else a call id with a sequence number or timestamp, else a timestamp with the text, else
/// the text.
pub fn voice_fingerprint(obj: &serde_json::Map<String, Value>, text: &str) -> String {
    let s = |k: &str| obj.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let int = |k: &str| obj.get(k).and_then(Value::as_f64).filter(|f| f.is_finite()).map(|f| f.trunc() as i64);
    if let Some(id) = s("eventId").or_else(|| s("providerEventId")).or_else(|| s("transcriptId")) {
        return format!("event:{id}");
    }
    let call = s("providerCallId").or_else(|| s("callId"));
    let sequence = int("sequence").or_else(|| int("seq"));
    if let (Some(call), Some(seq)) = (call, sequence) {
        return format!("call-seq:{call}:{seq}");
    }
    let ts = int("timestamp").or_else(|| int("ts")).or_else(|| int("eventTimestamp"));
    match (call, ts) {
        (Some(call), Some(ts)) => format!("call-ts:{call}:{ts}"),
        (None, Some(ts)) => format!("timestamp:{ts}|text:{text}"),
        _ => format!("text:{text}"),
    }
}

/// A `system.run` sent to a node whose `exec.*` events are expected.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ExecAuthorization {
    node_id: String,
    conn: ConnId,
    run_id: String,
    session_key: Option<String>,
    expires: Option<Instant>,
}

/// The state `node.event` keeps.
#[derive(Clone, Debug, Default)]
pub struct NodeEvents {
    voice: BTreeMap<String, (String, Instant)>,
    exec_authorized: Vec<ExecAuthorization>,
    exec_finished: BTreeMap<String, Instant>,
    /// Session key → the node sockets subscribed to it.
    subscribers: BTreeMap<String, BTreeSet<ConnId>>,
}

impl NodeEvents {
    /// Is this transcript a repeat of the session's last one within the window? If not, it
    /// becomes the session's last one.
    pub fn voice_is_duplicate(&mut self, now: Instant, session_key: &str, fingerprint: &str) -> bool {
        if let Some((last, at)) = self.voice.get(session_key) {
            if last == fingerprint && now.duration_since(*at) <= VOICE_DEDUPE_WINDOW {
                return true;
            }
        }
        self.voice.insert(session_key.to_owned(), (fingerprint.to_owned(), now));
        if self.voice.len() > MAX_RECENT_VOICE {
            self.voice.retain(|_, (_, at)| now.duration_since(*at) <= VOICE_DEDUPE_WINDOW * 2);
            while self.voice.len() > MAX_RECENT_VOICE {
                let oldest = self.voice.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.voice.remove(&k);
                }
            }
        }
        false
    }

    /// A `system.run` with `run_id` went to `node_id` on `conn`: its events are expected until
    /// its timeout plus the grace (forever without a timeout).
    pub fn authorize_exec(&mut self, now: Instant, node_id: &str, conn: ConnId, run_id: &str, session_key: Option<&str>, timeout: Option<Duration>) {
        self.prune_exec(now);
        let auth = ExecAuthorization {
            node_id: node_id.to_owned(),
            conn,
            run_id: run_id.to_owned(),
            session_key: session_key.map(str::to_owned),
            expires: timeout.map(|t| now + t + EXEC_EVENT_GRACE),
        };
        self.exec_authorized.retain(|a| !(a.node_id == auth.node_id && a.conn == conn && a.run_id == auth.run_id && a.session_key == auth.session_key));
        self.exec_authorized.push(auth);
        if self.exec_authorized.len() > MAX_EXEC_AUTHORIZATIONS {
            self.exec_authorized.remove(0);
        }
    }

    /// `authorizeSystemRunEvent`: does an `exec.*` event for `run_id` in `session_key` match a
    /// `system.run` sent to this node socket? A terminal event uses the authorisation up.
    /// (The reference's run-id-less fallback is for its macOS app only.)
    pub fn take_exec(&mut self, now: Instant, node_id: &str, conn: ConnId, run_id: &str, session_key: &str, terminal: bool) -> bool {
        self.prune_exec(now);
        if run_id.is_empty() {
            return false;
        }
        let found = self.exec_authorized.iter().position(|a| {
            a.node_id == node_id && a.conn == conn && a.run_id == run_id && a.session_key.as_deref().is_none_or(|k| k == session_key)
        });
        match found {
            Some(i) => {
                if terminal {
                    self.exec_authorized.remove(i);
                }
                true
            }
            None => false,
        }
    }

    /// An `exec.finished` for this run already reported within the window?
    pub fn exec_finished_is_duplicate(&mut self, now: Instant, session_key: &str, run_id: &str) -> bool {
        let key = format!("{session_key}::{run_id}");
        if self.exec_finished.get(&key).is_some_and(|at| now.duration_since(*at) <= EXEC_FINISHED_WINDOW) {
            return true;
        }
        self.exec_finished.insert(key, now);
        if self.exec_finished.len() > MAX_RECENT_EXEC_FINISHED {
            self.exec_finished.retain(|_, at| now.duration_since(*at) <= EXEC_FINISHED_WINDOW);
            while self.exec_finished.len() > MAX_RECENT_EXEC_FINISHED {
                let oldest = self.exec_finished.iter().min_by_key(|(_, at)| **at).map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.exec_finished.remove(&k);
                }
            }
        }
        false
    }

    fn prune_exec(&mut self, now: Instant) {
        self.exec_authorized.retain(|a| a.expires.is_none_or(|at| at > now));
    }

    /// `chat.subscribe`: `conn` receives the session's `chat` and `agent` events. False when
    /// that socket already has its maximum.
    pub fn subscribe(&mut self, conn: ConnId, session_key: &str) -> bool {
        let held = self.subscribers.values().filter(|s| s.contains(&conn)).count();
        let already = self.subscribers.get(session_key).is_some_and(|s| s.contains(&conn));
        if !already && held >= MAX_SUBSCRIPTIONS_PER_CONN {
            return false;
        }
        self.subscribers.entry(session_key.to_owned()).or_default().insert(conn);
        true
    }

    pub fn unsubscribe(&mut self, conn: ConnId, session_key: &str) {
        if let Some(set) = self.subscribers.get_mut(session_key) {
            set.remove(&conn);
            if set.is_empty() {
                self.subscribers.remove(session_key);
            }
        }
    }

    /// The node sockets subscribed to `session_key`.
    pub fn subscribers(&self, session_key: &str) -> Vec<ConnId> {
        self.subscribers.get(session_key).map(|s| s.iter().copied().collect()).unwrap_or_default()
    }

    /// A socket closed: its subscriptions and expected exec events go.
    pub fn forget_conn(&mut self, conn: ConnId) {
        self.subscribers.retain(|_, set| {
            set.remove(&conn);
            !set.is_empty()
        });
        self.exec_authorized.retain(|a| a.conn != conn);
    }
}

/// `compactNodeEventText`: whitespace runs become one space; longer than `max` characters
/// (UTF-16 units in the reference; characters here) ends in `…` within `max`.
pub fn compact_text(raw: &str, max: usize) -> String {
    let normalized = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if normalized.chars().count() <= max {
        return normalized;
    }
    let keep = max.saturating_sub(1).max(1);
    let mut out: String = normalized.chars().take(keep).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn fingerprints_prefer_event_ids_then_call_sequence_then_timestamps() {
        assert_eq!(voice_fingerprint(&obj(json!({"eventId": " e1 ", "callId": "c"})), "hi"), "event:e1");
        assert_eq!(voice_fingerprint(&obj(json!({"callId": "c", "seq": 3.7})), "hi"), "call-seq:c:3");
        assert_eq!(voice_fingerprint(&obj(json!({"callId": "c", "timestamp": 5})), "hi"), "call-ts:c:5");
        assert_eq!(voice_fingerprint(&obj(json!({"ts": 5})), "hi"), "timestamp:5|text:hi");
        assert_eq!(voice_fingerprint(&obj(json!({})), "hi"), "text:hi");
    }

    #[test]
    fn a_repeat_within_the_window_is_dropped_per_session() {
        let t0 = Instant::default();
        let mut e = NodeEvents::default();
        assert!(!e.voice_is_duplicate(t0, "s", "text:a"));
        assert!(e.voice_is_duplicate(t0 + Duration::from_millis(1500), "s", "text:a"));
        assert!(!e.voice_is_duplicate(t0, "other", "text:a"), "another session");
        assert!(!e.voice_is_duplicate(t0 + Duration::from_millis(3100), "s", "text:a"), "window passed");
        assert!(!e.voice_is_duplicate(t0 + Duration::from_millis(3200), "s", "text:b"));
        for i in 0..(MAX_RECENT_VOICE + 50) {
            e.voice_is_duplicate(t0 + Duration::from_secs(10), &format!("k{i}"), "x");
        }
        assert!(e.voice.len() <= MAX_RECENT_VOICE);
    }

    #[test]
    fn exec_events_need_a_matching_system_run_and_terminal_ones_use_it_up() {
        let t0 = Instant::default();
        let mut e = NodeEvents::default();
        let (n, c) = ("node", ConnId(4));
        assert!(!e.take_exec(t0, n, c, "r1", "s", false), "nothing sent");
        e.authorize_exec(t0, n, c, "r1", Some("s"), Some(Duration::from_secs(10)));
        assert!(!e.take_exec(t0, n, c, "r1", "other", false), "another session");
        assert!(!e.take_exec(t0, n, ConnId(5), "r1", "s", false), "another socket");
        assert!(!e.take_exec(t0, n, c, "", "s", false), "no run id");
        assert!(e.take_exec(t0, n, c, "r1", "s", false));
        assert!(e.take_exec(t0, n, c, "r1", "s", true));
        assert!(!e.take_exec(t0, n, c, "r1", "s", true), "used up");
        e.authorize_exec(t0, n, c, "r2", None, Some(Duration::from_secs(10)));
        assert!(e.take_exec(t0, n, c, "r2", "any", false), "no session named: any matches");
        assert!(!e.take_exec(t0 + Duration::from_secs(310), n, c, "r2", "any", false), "expired");
        e.authorize_exec(t0, n, c, "r3", None, None);
        e.forget_conn(c);
        assert!(!e.take_exec(t0, n, c, "r3", "any", false), "socket gone");
    }

    #[test]
    fn subscriptions_are_per_socket_and_bounded() {
        let mut e = NodeEvents::default();
        assert!(e.subscribe(ConnId(1), "a"));
        assert!(e.subscribe(ConnId(2), "a"));
        assert_eq!(e.subscribers("a"), [ConnId(1), ConnId(2)]);
        e.unsubscribe(ConnId(1), "a");
        assert_eq!(e.subscribers("a"), [ConnId(2)]);
        e.forget_conn(ConnId(2));
        assert!(e.subscribers("a").is_empty());
        for i in 0..MAX_SUBSCRIPTIONS_PER_CONN {
            assert!(e.subscribe(ConnId(3), &format!("s{i}")));
        }
        assert!(!e.subscribe(ConnId(3), "one-more"));
        assert!(e.subscribe(ConnId(3), "s0"), "already held");
    }

    #[test]
    fn texts_are_compacted() {
        assert_eq!(compact_text("  a \n\t b  ", 180), "a b");
        assert_eq!(compact_text("abcdef", 4), "abc…");
    }
}
