//! The session index (channels-agent-nodes.md §7): which sessions exist, their ids and usage.
//! The hub owns it; the driver restores it at start ([`Hub::restore_sessions`]) and persists
//! every change it is told about ([`StoreCommand`]). `sessions.list/reset/delete` read and
//! change it.

use std::collections::BTreeMap;

use serde_json::json;

use super::agent::AbortOrigin;
use super::{Hub, HubOutput};
use crate::caller::Caller;
use crate::ids::{RunId, UnixMillis};
use crate::time::Instant;
use crate::wire::frames::ErrorShape;
use crate::wire::sessions::{SessionEntry, SessionsDeleteParams, SessionsListParams, SessionsResetParams};

/// What the driver must persist.
#[derive(Clone, Debug, PartialEq)]
pub enum StoreCommand {
    /// Insert or replace this session row.
    SaveSession(SessionEntry),
    /// Remove the session; its messages too when `delete_transcript`. With `archive`, first
    /// write the transcript as the reference's JSONL to that path (the reference archives by
    /// renaming to `<file>.deleted.<timestamp>`); if that fails the messages are kept.
    DeleteSession { key: String, session_id: String, delete_transcript: bool, archive: Option<String> },
    /// A finished run's replayable result (idempotency across restarts), `res` as JSON
    /// `{ok, payload?, error?}` plus the `agent.wait` answer.
    SaveRunResult { run: RunId, response: serde_json::Value, wait: serde_json::Value, finished_at: UnixMillis },
    /// Append one message to the transcript of `session_id`: `{role, content, timestamp, …}`
    /// as the reference's JSONL `message` entries (channels-agent-nodes.md §7.3): `user`,
    /// `assistant` (text and `toolCall` parts, `stopReason`, `openclawAbort` when cut short)
    /// and `toolResult`. Applied in order with the other commands.
    AppendMessage { session_key: String, session_id: String, agent_id: String, run: RunId, message: serde_json::Value },
    /// Read a page of the transcript of `session_id` and answer with [`HubInput::History`](super::HubInput::History)
    /// (`Ok` with the page or `Err` with why). Carried out in order, after the writes before it.
    /// The answer goes back to `caller` (any kind: a socket, an HTTP request, …).
    ReadHistory { caller: Caller, session_key: String, session_id: String, query: HistoryQuery },
}

/// Which messages of a transcript to read. Messages are numbered by `seq` from 1 (oldest) in
/// the order they were appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryQuery {
    /// The newest `limit` messages, skipping the newest `offset` ones.
    Tail { limit: u32, offset: u64 },
    /// Up to `limit` messages after `seq`.
    After { seq: u64, limit: u32 },
}

/// A page of a transcript, oldest first. Each message carries `__openclaw.seq`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistoryPage {
    pub messages: Vec<serde_json::Value>,
    /// Messages in the whole transcript.
    pub total: u64,
}

#[derive(Debug, Default)]
pub(super) struct SessionIndex {
    entries: BTreeMap<String, SessionEntry>,
}

impl SessionIndex {
    pub(super) fn session_id(&self, key: &str) -> Option<String> {
        self.entries.get(key).map(|e| e.session_id.clone())
    }

    /// The key of the session whose current id is `session_id`.
    pub(super) fn key_of_session_id(&self, session_id: &str) -> Option<String> {
        self.entries.values().find(|e| e.session_id == session_id).map(|e| e.key.clone())
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

impl Hub {
    /// Loads the persisted sessions (driver start-up, before any input).
    pub fn restore_sessions(&mut self, entries: Vec<SessionEntry>) {
        for e in entries {
            self.sessions.entries.insert(e.key.clone(), e);
        }
        // The health snapshot reports the session count.
        self.health = self.build_health(self.last_wall);
    }

    /// `agent:<default>:<key>` for a bare key; `main` is the default agent's main session.
    pub(super) fn canonical_key(&self, key: &str) -> String {
        self.canonical_key_for(key, &self.config.session_defaults.default_agent_id)
    }

    /// As [`Hub::canonical_key`], scoping a bare key to `agent`.
    pub(super) fn canonical_key_for(&self, key: &str, agent: &str) -> String {
        let d = &self.config.session_defaults;
        let key = key.trim().to_lowercase();
        if key.starts_with("agent:") || key == "global" || key == "unknown" {
            key
        } else if key == "main" || key == d.main_key {
            format!("agent:{agent}:{}", d.main_key)
        } else {
            format!("agent:{agent}:{key}")
        }
    }

    /// The session a run uses, created on first use; returns its id.
    pub(super) fn touch_session(&mut self, key: &str, agent_id: &str, wall: UnixMillis) -> String {
        let entry = match self.sessions.entries.get_mut(key) {
            Some(e) => {
                e.updated_at = wall;
                e.clone()
            }
            None => {
                let e = fresh_entry(key, self.ids.uuid(), agent_id, wall);
                self.sessions.entries.insert(key.to_owned(), e.clone());
                e
            }
        };
        let id = entry.session_id.clone();
        self.out.push_back(HubOutput::Store(StoreCommand::SaveSession(entry)));
        id
    }

    /// Records the end of a run in its session.
    pub(super) fn session_run_ended(&mut self, key: &str, wall: UnixMillis, end: SessionRunEnd) {
        let Some(e) = self.sessions.entries.get_mut(key) else { return };
        e.updated_at = wall;
        e.aborted_last_run = end.aborted;
        e.input_tokens += end.input_tokens;
        e.output_tokens += end.output_tokens;
        if end.provider.is_some() {
            e.model_provider = end.provider;
            e.model = end.model;
        }
        let saved = e.clone();
        self.out.push_back(HubOutput::Store(StoreCommand::SaveSession(saved)));
    }

    /// A fresh session id for `key` (`/new`, `/reset`, `sessions.reset`).
    pub(super) fn reset_session(&mut self, key: &str, agent_id: &str, wall: UnixMillis) -> SessionEntry {
        let session_id = self.ids.uuid();
        let entry = match self.sessions.entries.get(key) {
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
        self.sessions.entries.insert(key.to_owned(), entry.clone());
        self.out.push_back(HubOutput::Store(StoreCommand::SaveSession(entry.clone())));
        entry
    }

    pub(super) fn handle_sessions_list(&mut self, wall: UnixMillis, caller: Caller, p: SessionsListParams) {
        let search = p.search.as_deref().map(str::to_lowercase);
        let mut rows: Vec<&SessionEntry> = self
            .sessions
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
        let sessions: Vec<serde_json::Value> = rows
            .iter()
            .map(|e| {
                json!({
                    "key": e.key, "kind": e.kind(), "updatedAt": e.updated_at.0, "sessionId": e.session_id,
                    "abortedLastRun": e.aborted_last_run, "inputTokens": e.input_tokens,
                    "outputTokens": e.output_tokens, "totalTokens": e.input_tokens + e.output_tokens,
                    "modelProvider": e.model_provider, "model": e.model,
                })
            })
            .collect();
        let result = json!({
            "ts": wall.0,
            "path": self.config.sessions_path,
            "count": sessions.len(),
            "defaults": { "modelProvider": null, "model": null, "contextTokens": null },
            "sessions": sessions,
        });
        self.respond_ok(&caller, &result);
    }

    pub(super) fn handle_sessions_reset(&mut self, wall: UnixMillis, caller: Caller, p: SessionsResetParams) {
        let key = self.canonical_key(&p.key);
        let agent = agent_of(&key).unwrap_or_else(|| self.config.session_defaults.default_agent_id.clone());
        let entry = self.reset_session(&key, &agent, wall);
        self.respond_ok(&caller, &json!({ "ok": true, "key": key, "entry": entry }));
    }

    pub(super) fn handle_sessions_delete(
        &mut self,
        now: Instant,
        wall: UnixMillis,
        caller: Caller,
        p: SessionsDeleteParams,
    ) {
        let key = self.canonical_key(&p.key);
        let d = &self.config.session_defaults;
        let main = format!("agent:{}:{}", d.default_agent_id, d.main_key);
        if key == main {
            let error = ErrorShape::invalid_request(format!("Cannot delete the main session ({main})."));
            return self.respond_err(&caller, &error);
        }
        // Runs of the session are aborted first (§7.4). Here an abort takes effect at once
        // (the run ends, its partial text is queued for the store before the delete), so the
        // reference's wait for the run to stop and its "still active" refusal never apply.
        // Queued runs first: ending the active one would start the next.
        for run in self.agents.runs_of(&key).iter().rev() {
            self.abort_run(now, wall, run, AbortOrigin::SessionDelete);
        }
        let mut archived = Vec::new();
        let deleted = match self.sessions.entries.remove(&key) {
            Some(e) => {
                let delete_transcript = p.delete_transcript.unwrap_or(true);
                let archive = delete_transcript.then(|| self.archive_path(&e.agent_id, &e.session_id, wall)).flatten();
                archived.extend(archive.clone());
                self.out.push_back(HubOutput::Store(StoreCommand::DeleteSession {
                    key: key.clone(),
                    session_id: e.session_id,
                    delete_transcript,
                    archive,
                }));
                true
            }
            None => false,
        };
        self.respond_ok(&caller, &json!({ "ok": true, "key": key, "deleted": deleted, "archived": archived }));
    }

    /// `<state>/agents/<agentId>/sessions/<sessionId>.jsonl.deleted.<ms>`; none without a
    /// state directory (an in-memory gateway keeps nothing).
    fn archive_path(&self, agent_id: &str, session_id: &str, wall: UnixMillis) -> Option<String> {
        let state = self.config.state_dir.as_deref()?.trim_end_matches('/');
        // Ids come from clients: keep them to one safe path segment.
        let safe = |s: &str| -> String {
            s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '_' }).collect()
        };
        Some(format!("{state}/agents/{}/sessions/{}.jsonl.deleted.{}", safe(agent_id), safe(session_id), wall.0))
    }
}

/// The `sessions.list` method.
pub(crate) fn list(hub: &mut Hub, rq: super::Req, params: SessionsListParams) {
    hub.handle_sessions_list(rq.wall, rq.caller, params);
}

/// The `sessions.reset` method.
pub(crate) fn reset(hub: &mut Hub, rq: super::Req, params: SessionsResetParams) {
    hub.handle_sessions_reset(rq.wall, rq.caller, params);
}

/// The `sessions.delete` method.
pub(crate) fn delete(hub: &mut Hub, rq: super::Req, params: SessionsDeleteParams) {
    hub.handle_sessions_delete(rq.now, rq.wall, rq.caller, params);
}

/// Token and model facts about a finished run.
pub(super) struct SessionRunEnd {
    pub aborted: bool,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub provider: Option<String>,
    pub model: Option<String>,
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

fn agent_of(key: &str) -> Option<String> {
    let mut parts = key.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("agent"), Some(id), Some(_)) if !id.is_empty() => Some(id.to_owned()),
        _ => None,
    }
}
