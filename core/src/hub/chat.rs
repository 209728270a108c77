//! `chat.send`, `chat.abort` and `chat.history` (protocol.md §5.8): the WebChat surface over the
//! same runs as `agent`. `chat.send` is answered once (`started`); its output is the `chat`
//! events. History is read by the driver from the store, in order with the writes before it.

use serde_json::{json, Value};

use super::agent::{AbortOrigin, Launch};
use super::sessions::StoreCommand;
use super::{Admission, Hub, HubOutput, RunOutcome};
use crate::ids::{ConnId, RequestId, RunId, UnixMillis};
use crate::limits::DEFAULT_AGENT_TIMEOUT;
use crate::time::Instant;
use crate::wire::chat::{ChatAbortParams, ChatHistoryParams, ChatSendParams};
use crate::wire::frames::ErrorShape;

/// Messages `chat.history` returns when no `limit` is given.
const DEFAULT_HISTORY_LIMIT: u32 = 200;

impl Hub {
    pub(super) fn handle_chat_send(&mut self, now: Instant, wall: UnixMillis, conn: ConnId, id: RequestId, p: ChatSendParams) {
        if p.message.contains('\0') {
            return self.respond_err(conn, &id, &ErrorShape::invalid_request("message must not contain null bytes"));
        }
        // Control characters other than tab, LF and CR are dropped.
        let message: String =
            p.message.chars().filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r')).collect();
        if message.trim().is_empty() && p.attachments.as_ref().is_none_or(Vec::is_empty) {
            return self.respond_err(conn, &id, &ErrorShape::invalid_request("message or attachment required"));
        }
        let agent_id = p.agent_id.clone().unwrap_or_else(|| self.config.session_defaults.default_agent_id.clone());
        let session_key = self.canonical_key_for(&p.session_key, &agent_id);
        if is_stop_phrase(&message) {
            let runs = self.agents.runs_of(&session_key);
            for run in runs.iter().rev() {
                self.abort_run(now, wall, run, AbortOrigin::StopCommand);
            }
            let ids: Vec<&str> = runs.iter().map(RunId::as_str).collect();
            return self.respond_ok(conn, &id, &json!({ "ok": true, "aborted": !runs.is_empty(), "runIds": ids }));
        }
        if let Some(error) = self.no_model_error() {
            return self.respond_err(conn, &id, &error);
        }
        let run = RunId(p.idempotency_key.clone());
        match self.runs.admit_detached(now, &run) {
            Admission::Started => {}
            Admission::Joined => {
                return self.respond_ok(conn, &id, &json!({ "runId": run.0, "status": "in_flight" }));
            }
            Admission::Cached(outcome) => {
                let status = match &outcome {
                    RunOutcome::Ok(payload) | RunOutcome::Failed { payload: Some(payload), .. } => {
                        payload.get("status").and_then(Value::as_str).unwrap_or("ok").to_owned()
                    }
                    RunOutcome::Failed { payload: None, .. } => "error".to_owned(),
                };
                return self.respond_ok(conn, &id, &json!({ "runId": run.0, "status": status }));
            }
        }
        self.respond_ok(conn, &id, &json!({ "runId": run.0, "status": "started" }));
        let timeout = p.timeout_ms.map_or(DEFAULT_AGENT_TIMEOUT, std::time::Duration::from_millis);
        let launch = Launch {
            run,
            session_key,
            agent_id,
            reset: false,
            message,
            timeout,
            provider: None,
            model: None,
            thinking: p.thinking,
            extra_system_prompt: None,
        };
        self.launch_run(now, wall, launch);
    }

    pub(super) fn handle_chat_abort(&mut self, now: Instant, wall: UnixMillis, conn: ConnId, id: RequestId, p: ChatAbortParams) {
        let agent_id = p.agent_id.clone().unwrap_or_else(|| self.config.session_defaults.default_agent_id.clone());
        let session_key = self.canonical_key_for(&p.session_key, &agent_id);
        let runs = match &p.run_id {
            Some(run_id) => {
                let run = RunId(run_id.clone());
                match self.agents.session_of(&run) {
                    Some(key) if key != session_key => {
                        let error = ErrorShape::invalid_request("runId does not match sessionKey");
                        return self.respond_err(conn, &id, &error);
                    }
                    Some(_) => vec![run],
                    None => Vec::new(),
                }
            }
            None => self.agents.runs_of(&session_key),
        };
        for run in runs.iter().rev() {
            self.abort_run(now, wall, run, AbortOrigin::Rpc);
        }
        let ids: Vec<&str> = runs.iter().map(RunId::as_str).collect();
        self.respond_ok(conn, &id, &json!({ "ok": true, "aborted": !runs.is_empty(), "runIds": ids }));
    }

    pub(super) fn handle_chat_history(&mut self, conn: ConnId, id: RequestId, p: ChatHistoryParams) {
        let agent_id = p.agent_id.clone().unwrap_or_else(|| self.config.session_defaults.default_agent_id.clone());
        let session_key = self.canonical_key_for(&p.session_key, &agent_id);
        let limit = p.limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
        match self.sessions.session_id(&session_key) {
            Some(session_id) => {
                let read = StoreCommand::ReadHistory { conn, id, session_key, session_id, limit };
                self.out.push_back(HubOutput::Store(read));
            }
            None => {
                let result = history_result(&session_key, None, Vec::new());
                self.respond_ok(conn, &id, &result);
            }
        }
    }

    /// The driver read the messages a [`StoreCommand::ReadHistory`] asked for (oldest first,
    /// `{role, content, timestamp}` each). Poll after.
    pub fn handle_history(&mut self, conn: ConnId, id: RequestId, session_key: &str, session_id: &str, messages: Vec<Value>) {
        let result = history_result(session_key, Some(session_id), messages);
        self.respond_ok(conn, &id, &result);
    }

    /// Reading the history failed in the driver.
    pub fn handle_history_failed(&mut self, conn: ConnId, id: RequestId, message: &str) {
        let error = ErrorShape::new(crate::wire::frames::ErrorCode::Unavailable, message.to_owned());
        self.respond_err(conn, &id, &error);
    }
}

fn history_result(session_key: &str, session_id: Option<&str>, messages: Vec<Value>) -> Value {
    json!({
        "sessionKey": session_key,
        "sessionId": session_id,
        "messages": messages,
        "thinkingLevel": null,
        "verboseLevel": null,
    })
}

/// `/stop` (and `/abort`) abort the session's runs instead of starting one.
fn is_stop_phrase(message: &str) -> bool {
    matches!(message.trim().to_lowercase().as_str(), "/stop" | "/abort")
}
