//! `sessions.list/reset/delete` and the store commands (channels-agent-nodes.md §7). The
//! session index and its rules are the sessions service's (`crate::services::sessions`); the
//! hub routes to it, persists every row it returns ([`StoreCommand`]) and the driver restores
//! it at start ([`Hub::restore_sessions`]).

use serde_json::json;

use super::agent::AbortOrigin;
use super::{Hub, HubOutput};
use crate::caller::Caller;
pub(super) use crate::services::sessions::SessionRunEnd;
use crate::services::sessions::{agent_of, archive_path, canonical_key};
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

impl Hub {
    /// Loads the persisted sessions (driver start-up, before any input).
    pub fn restore_sessions(&mut self, entries: Vec<SessionEntry>) {
        self.sessions.restore(entries);
        // The health snapshot reports the session count.
        self.health = self.build_health(self.last_wall);
    }

    /// `agent:<default>:<key>` for a bare key; `main` is the default agent's main session.
    pub(super) fn canonical_key(&self, key: &str) -> String {
        self.canonical_key_for(key, &self.config.session_defaults.default_agent_id)
    }

    /// As [`Hub::canonical_key`], scoping a bare key to `agent`.
    pub(super) fn canonical_key_for(&self, key: &str, agent: &str) -> String {
        canonical_key(&self.config.session_defaults, key, agent)
    }

    /// The session a run uses, created on first use; returns its id.
    pub(super) fn touch_session(&mut self, key: &str, agent_id: &str, wall: UnixMillis) -> String {
        let ids = &mut self.ids;
        let entry = self.sessions.touch(key, agent_id, wall, || ids.uuid());
        let id = entry.session_id.clone();
        self.out.push_back(HubOutput::Store(StoreCommand::SaveSession(entry)));
        id
    }

    /// Records the end of a run in its session.
    pub(super) fn session_run_ended(&mut self, key: &str, wall: UnixMillis, end: SessionRunEnd) {
        if let Some(saved) = self.sessions.run_ended(key, wall, end) {
            self.out.push_back(HubOutput::Store(StoreCommand::SaveSession(saved)));
        }
    }

    /// A fresh session id for `key` (`/new`, `/reset`, `sessions.reset`).
    pub(super) fn reset_session(&mut self, key: &str, agent_id: &str, wall: UnixMillis) -> SessionEntry {
        let session_id = self.ids.uuid();
        let entry = self.sessions.reset(key, agent_id, wall, session_id);
        self.out.push_back(HubOutput::Store(StoreCommand::SaveSession(entry.clone())));
        entry
    }

    pub(super) fn handle_sessions_list(&mut self, wall: UnixMillis, caller: Caller, p: SessionsListParams) {
        let mut sessions = self.sessions.list(wall, &p);
        if p.configured_agents_only == Some(true) {
            // One agent is configured here: the default.
            let agent = &self.config.session_defaults.default_agent_id;
            sessions.retain(|e| e["key"].as_str().and_then(agent_of).is_none_or(|a| &a == agent));
        }
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
        for run in self.agent.runs.runs_of(&key).iter().rev() {
            self.abort_run(now, wall, run, AbortOrigin::SessionDelete);
        }
        let mut archived = Vec::new();
        let deleted = match self.sessions.remove(&key) {
            Some(e) => {
                let delete_transcript = p.delete_transcript.unwrap_or(true);
                let state_dir = self.config.state_dir.as_deref();
                let archive = delete_transcript.then(|| archive_path(state_dir, &e.agent_id, &e.session_id, wall)).flatten();
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
