//! The sessions service (channels-agent-nodes.md §7): the session index — which sessions exist,
//! their ids, usage and models — and the rules over it: canonical keys, creation on first use,
//! reset to a fresh id, the `sessions.list` filters, what a run's end records, where a deleted
//! transcript is archived.
//!
//! Inputs are calls with `wall` passed in (and a fresh id when one may be needed); outputs are
//! the rows to persist and the answers, which the hub turns into
//! [`StoreCommand`](crate::hub::StoreCommand)s and `res` frames. The driver restores the index at
//! start ([`Sessions::restore`]).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::ids::UnixMillis;
use crate::wire::hello::SessionDefaults;
use crate::wire::sessions::{SessionEntry, SessionsListParams};

/// The session index.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    entries: BTreeMap<String, SessionEntry>,
}

/// Token and model facts about a finished run.
#[derive(Debug, Default)]
pub(crate) struct SessionRunEnd {
    pub aborted: bool,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub provider: Option<String>,
    pub model: Option<String>,
}

impl Sessions {
    /// Loads persisted rows (driver start-up).
    pub(crate) fn restore(&mut self, entries: Vec<SessionEntry>) {
        for e in entries {
            self.entries.insert(e.key.clone(), e);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The current id of the session `key`.
    pub(crate) fn session_id(&self, key: &str) -> Option<String> {
        self.entries.get(key).map(|e| e.session_id.clone())
    }

    /// The key of the session whose current id is `session_id`.
    pub(crate) fn key_of_session_id(&self, session_id: &str) -> Option<String> {
        self.entries.values().find(|e| e.session_id == session_id).map(|e| e.key.clone())
    }

    /// The session a run uses, created on first use with the id `new_id` gives (asked only
    /// then); returns the row to persist.
    pub(crate) fn touch(&mut self, key: &str, agent_id: &str, wall: UnixMillis, new_id: impl FnOnce() -> String) -> SessionEntry {
        match self.entries.get_mut(key) {
            Some(e) => {
                e.updated_at = wall;
                e.clone()
            }
            None => {
                let e = fresh_entry(key, new_id(), agent_id, wall);
                self.entries.insert(key.to_owned(), e.clone());
                e
            }
        }
    }

    /// Records the end of a run in its session; the row to persist (`None`: no such session).
    pub(crate) fn run_ended(&mut self, key: &str, wall: UnixMillis, end: SessionRunEnd) -> Option<SessionEntry> {
        let e = self.entries.get_mut(key)?;
        e.updated_at = wall;
        e.aborted_last_run = end.aborted;
        e.input_tokens += end.input_tokens;
        e.output_tokens += end.output_tokens;
        if end.provider.is_some() {
            e.model_provider = end.provider;
            e.model = end.model;
        }
        Some(e.clone())
    }

    /// Gives `key` the fresh id `session_id` (`/new`, `/reset`, `sessions.reset`): usage and
    /// the abort flag start over, the rest is kept. Returns the row to persist.
    pub(crate) fn reset(&mut self, key: &str, agent_id: &str, wall: UnixMillis, session_id: String) -> SessionEntry {
        let entry = match self.entries.get(key) {
            Some(old) => SessionEntry {
                session_id,
                updated_at: wall,
                aborted_last_run: false,
                input_tokens: 0,
                output_tokens: 0,
                ..old.clone()
            },
            None => fresh_entry(key, session_id, agent_id, wall),
        };
        self.entries.insert(key.to_owned(), entry.clone());
        entry
    }

    /// Removes the session `key`; its last row, if it existed.
    pub(crate) fn remove(&mut self, key: &str) -> Option<SessionEntry> {
        self.entries.remove(key)
    }

    /// The `sessions.list` rows at `wall`: newest first (then by key), filtered by kind,
    /// agent, activity and search text, at most `limit`.
    pub(crate) fn list(&self, wall: UnixMillis, p: &SessionsListParams) -> Vec<Value> {
        let search = p.search.as_deref().map(str::to_lowercase);
        let mut rows: Vec<&SessionEntry> = self
            .entries
            .values()
            .filter(|e| match e.kind() {
                "global" => p.include_global == Some(true),
                "unknown" => p.include_unknown == Some(true),
                _ => true,
            })
            .filter(|e| p.agent_id.as_deref().is_none_or(|a| a == e.agent_id))
            .filter(|e| p.active_minutes.is_none_or(|m| e.updated_at.0 + m * 60_000 >= wall.0))
            .filter(|e| {
                search.as_deref().is_none_or(|s| e.key.contains(s) || e.session_id.to_lowercase().contains(s))
            })
            .collect();
        rows.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then_with(|| a.key.cmp(&b.key)));
        if let Some(limit) = p.limit {
            rows.truncate(limit as usize);
        }
        rows.iter()
            .map(|e| {
                json!({
                    "key": e.key, "kind": e.kind(), "updatedAt": e.updated_at.0, "sessionId": e.session_id,
                    "abortedLastRun": e.aborted_last_run, "inputTokens": e.input_tokens,
                    "outputTokens": e.output_tokens, "totalTokens": e.input_tokens + e.output_tokens,
                    "modelProvider": e.model_provider, "model": e.model,
                })
            })
            .collect()
    }
}

/// The canonical form of a session key, scoping a bare key to `agent`: `agent:<agent>:<key>`;
/// `main` (or the configured main key) is the agent's main session; `agent:…`, `global` and
/// `unknown` stay as they are (lowercased, trimmed).
pub(crate) fn canonical_key(defaults: &SessionDefaults, key: &str, agent: &str) -> String {
    let key = key.trim().to_lowercase();
    if key.starts_with("agent:") || key == "global" || key == "unknown" {
        key
    } else if key == "main" || key == defaults.main_key {
        format!("agent:{agent}:{}", defaults.main_key)
    } else {
        format!("agent:{agent}:{key}")
    }
}

/// `agent:<agentId>:<rest>` → the agent id.
pub(crate) fn agent_of(key: &str) -> Option<String> {
    let mut parts = key.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("agent"), Some(id), Some(_)) if !id.is_empty() => Some(id.to_owned()),
        _ => None,
    }
}

/// `<state>/agents/<agentId>/sessions/<sessionId>.jsonl.deleted.<ms>`; none without a state
/// directory (an in-memory gateway keeps nothing).
pub(crate) fn archive_path(state_dir: Option<&str>, agent_id: &str, session_id: &str, wall: UnixMillis) -> Option<String> {
    let state = state_dir?.trim_end_matches('/');
    // Ids come from clients: keep them to one safe path segment.
    let safe = |s: &str| -> String {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '_' }).collect()
    };
    Some(format!("{state}/agents/{}/sessions/{}.jsonl.deleted.{}", safe(agent_id), safe(session_id), wall.0))
}

/// A session that has had no run yet.
fn fresh_entry(key: &str, session_id: String, agent_id: &str, wall: UnixMillis) -> SessionEntry {
    SessionEntry {
        key: key.to_owned(),
        session_id,
        agent_id: agent_id.to_owned(),
        created_at: wall,
        updated_at: wall,
        aborted_last_run: false,
        input_tokens: 0,
        output_tokens: 0,
        model_provider: None,
        model: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> impl FnOnce() -> String + '_ {
        move || s.to_owned()
    }

    #[test]
    fn keys_are_canonical_and_name_their_agent() {
        let d = SessionDefaults::default();
        assert_eq!(canonical_key(&d, " Main ", "main"), "agent:main:main");
        assert_eq!(canonical_key(&d, "main", "ops"), "agent:ops:main");
        assert_eq!(canonical_key(&d, "Work", "main"), "agent:main:work");
        assert_eq!(canonical_key(&d, "AGENT:ops:x", "main"), "agent:ops:x");
        assert_eq!(canonical_key(&d, "global", "main"), "global");
        let custom = SessionDefaults { main_key: "home".into(), ..SessionDefaults::default() };
        assert_eq!(canonical_key(&custom, "main", "main"), "agent:main:home");
        assert_eq!(canonical_key(&custom, "home", "main"), "agent:main:home");
        assert_eq!(agent_of("agent:ops:telegram:dm:42").as_deref(), Some("ops"));
        assert_eq!(agent_of("agent::x"), None);
        assert_eq!(agent_of("global"), None);
    }

    #[test]
    fn a_session_is_created_once_then_touched_reset_and_counted() {
        let mut s = Sessions::default();
        let first = s.touch("agent:main:main", "main", UnixMillis(10), id("s1"));
        assert_eq!((first.session_id.as_str(), first.created_at, first.updated_at), ("s1", UnixMillis(10), UnixMillis(10)));
        let again = s.touch("agent:main:main", "main", UnixMillis(20), || unreachable!("no new id for a known session"));
        assert_eq!((again.session_id.as_str(), again.created_at, again.updated_at), ("s1", UnixMillis(10), UnixMillis(20)));
        let end = SessionRunEnd { aborted: true, input_tokens: 3, output_tokens: 4, provider: Some("p".into()), model: Some("m".into()) };
        let ended = s.run_ended("agent:main:main", UnixMillis(30), end).unwrap();
        assert_eq!((ended.input_tokens, ended.output_tokens, ended.aborted_last_run), (3, 4, true));
        assert_eq!((ended.model_provider.as_deref(), ended.model.as_deref()), (Some("p"), Some("m")));
        // A run without a model report keeps the model the session had.
        let ended = s.run_ended("agent:main:main", UnixMillis(40), SessionRunEnd { input_tokens: 1, ..SessionRunEnd::default() }).unwrap();
        assert_eq!((ended.input_tokens, ended.model.as_deref(), ended.aborted_last_run), (4, Some("m"), false));
        assert!(s.run_ended("agent:main:gone", UnixMillis(40), SessionRunEnd::default()).is_none());
        let reset = s.reset("agent:main:main", "main", UnixMillis(50), "s2".into());
        assert_eq!((reset.session_id.as_str(), reset.input_tokens, reset.created_at), ("s2", 0, UnixMillis(10)));
        assert_eq!(reset.model.as_deref(), Some("m"));
        assert_eq!(s.session_id("agent:main:main").as_deref(), Some("s2"));
        assert_eq!(s.key_of_session_id("s2").as_deref(), Some("agent:main:main"));
        assert_eq!(s.key_of_session_id("s1"), None);
        assert_eq!(s.len(), 1);
        assert!(s.remove("agent:main:main").is_some());
        assert!(s.remove("agent:main:main").is_none());
        assert_eq!(s.len(), 0);
    }

    fn list_params(v: Value) -> SessionsListParams {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn lists_filter_sort_and_limit() {
        let mut s = Sessions::default();
        s.touch("agent:main:main", "main", UnixMillis(60_000), id("a1"));
        s.touch("agent:ops:work", "ops", UnixMillis(180_000), id("b2"));
        s.touch("agent:main:telegram:group:7", "main", UnixMillis(120_000), id("c3"));
        s.touch("global", "main", UnixMillis(200_000), id("g4"));
        let keys = |rows: Vec<Value>| rows.iter().map(|r| r["key"].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>();
        let wall = UnixMillis(200_000);
        assert_eq!(keys(s.list(wall, &list_params(json!({})))), ["agent:ops:work", "agent:main:telegram:group:7", "agent:main:main"]);
        assert_eq!(keys(s.list(wall, &list_params(json!({"includeGlobal": true, "limit": 2})))), ["global", "agent:ops:work"]);
        assert_eq!(keys(s.list(wall, &list_params(json!({"agentId": "ops"})))), ["agent:ops:work"]);
        assert_eq!(keys(s.list(wall, &list_params(json!({"activeMinutes": 2})))), ["agent:ops:work", "agent:main:telegram:group:7"]);
        assert_eq!(keys(s.list(wall, &list_params(json!({"search": "A1"})))), ["agent:main:main"]);
        let row = &s.list(wall, &list_params(json!({"search": "group"})))[0];
        assert_eq!((row["kind"].clone(), row["totalTokens"].clone()), (json!("group"), json!(0)));
    }

    #[test]
    fn archives_are_one_safe_segment_under_the_state_dir() {
        assert_eq!(archive_path(None, "main", "s1", UnixMillis(5)), None);
        assert_eq!(
            archive_path(Some("/st/"), "ma/in", "../s1", UnixMillis(5)).as_deref(),
            Some("/st/agents/ma_in/sessions/___s1.jsonl.deleted.5")
        );
    }
}
