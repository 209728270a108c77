//! `chat.send`, `chat.abort` and `chat.history` (protocol.md §5.8): the WebChat surface over the
//! same runs as `agent`. `chat.send` is answered once (`started`); its output is the `chat`
//! events. History is read by the driver from the store, in order with the writes before it.
//! The rules and the reads in flight are the chat service's (`crate::services::chat`); these
//! handlers route to it and to the agent service.

use serde_json::{json, Value};

use super::agent::{AbortOrigin, Launch};
use super::sessions::HistoryPage;
use super::{Admission, Hub, HubOutput, RunOutcome};
use crate::caller::Caller;
use crate::ids::{RunId, UnixMillis};
use crate::services::chat::{check_send, HistoryStep, SendMessage};
use crate::time::Instant;
use crate::wire::chat::{ChatAbortParams, ChatHistoryParams, ChatSendParams};
use crate::wire::frames::ErrorShape;

impl Hub {
    pub(super) fn handle_chat_send(&mut self, now: Instant, wall: UnixMillis, caller: Caller, p: ChatSendParams) {
        let checked = match check_send(&p) {
            Ok(checked) => checked,
            Err(error) => return self.respond_err(&caller, &error),
        };
        let agent_id = p.agent_id.clone().unwrap_or_else(|| self.config.session_defaults.default_agent_id.clone());
        let session_key = self.canonical_key_for(&p.session_key, &agent_id);
        let message = match checked {
            SendMessage::Run(message) => message,
            SendMessage::Stop => {
                let runs = self.agent.runs.runs_of(&session_key);
                for run in runs.iter().rev() {
                    self.abort_run(now, wall, run, AbortOrigin::StopCommand);
                }
                let ids: Vec<&str> = runs.iter().map(RunId::as_str).collect();
                return self.respond_ok(&caller, &json!({ "ok": true, "aborted": !runs.is_empty(), "runIds": ids }));
            }
        };
        if let Some(error) = self.no_model_error() {
            return self.respond_err(&caller, &error);
        }
        let run = RunId(p.idempotency_key.clone());
        match self.agent.tracker.admit_detached(now, &run) {
            Admission::Started => {}
            Admission::Joined => {
                return self.respond_ok(&caller, &json!({ "runId": run.0, "status": "in_flight" }));
            }
            Admission::Cached(outcome) => {
                let status = match &outcome {
                    RunOutcome::Ok(payload) | RunOutcome::Failed { payload: Some(payload), .. } => {
                        payload.get("status").and_then(Value::as_str).unwrap_or("ok").to_owned()
                    }
                    RunOutcome::Failed { payload: None, .. } => "error".to_owned(),
                };
                return self.respond_ok(&caller, &json!({ "runId": run.0, "status": status }));
            }
        }
        self.respond_ok(&caller, &json!({ "runId": run.0, "status": "started" }));
        self.register_tool_recipient(&run, &caller);
        let timeout = p.timeout_ms.map_or(self.config.agent_timeout, std::time::Duration::from_millis);
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
            client_tools: Vec::new(),
            images: Vec::new(),
        };
        self.launch_run(now, wall, launch);
    }

    pub(super) fn handle_chat_abort(&mut self, now: Instant, wall: UnixMillis, caller: Caller, p: ChatAbortParams) {
        let agent_id = p.agent_id.clone().unwrap_or_else(|| self.config.session_defaults.default_agent_id.clone());
        let session_key = self.canonical_key_for(&p.session_key, &agent_id);
        let runs = match &p.run_id {
            Some(run_id) => {
                let run = RunId(run_id.clone());
                match self.agent.runs.session_of(&run) {
                    Some(key) if key != session_key => {
                        let error = ErrorShape::invalid_request("runId does not match sessionKey");
                        return self.respond_err(&caller, &error);
                    }
                    Some(_) => vec![run],
                    None => Vec::new(),
                }
            }
            None => self.agent.runs.runs_of(&session_key),
        };
        for run in runs.iter().rev() {
            self.abort_run(now, wall, run, AbortOrigin::Rpc);
        }
        let ids: Vec<&str> = runs.iter().map(RunId::as_str).collect();
        self.respond_ok(&caller, &json!({ "ok": true, "aborted": !runs.is_empty(), "runIds": ids }));
    }

    /// `chat.history`: the chat service decides; a read goes to the store and its page comes
    /// back as [`HubInput::History`](super::HubInput::History).
    pub(super) fn handle_chat_history(&mut self, caller: Caller, p: ChatHistoryParams) {
        let agent_id = p.agent_id.clone().unwrap_or_else(|| self.config.session_defaults.default_agent_id.clone());
        let session_key = self.canonical_key_for(&p.session_key, &agent_id);
        let session_id = self.sessions.session_id(&session_key);
        match self.chat.begin_history(caller.clone(), session_key, session_id, agent_id, &p) {
            HistoryStep::Answer(result) => self.respond_ok(&caller, &result),
            HistoryStep::Refuse(error) => self.respond_err(&caller, &error),
            HistoryStep::Read(read) => self.out.push_back(HubOutput::Store(read)),
        }
    }

    /// The driver read the page a [`StoreCommand::ReadHistory`](super::StoreCommand::ReadHistory)
    /// asked for. Poll after.
    pub(crate) fn handle_history(&mut self, caller: Caller, session_key: &str, session_id: &str, page: HistoryPage) {
        if let Some(result) = self.chat.page_read(&caller, session_key, session_id, page) {
            self.respond_ok(&caller, &result);
        }
    }

    /// Reading the history failed in the driver.
    pub(crate) fn handle_history_failed(&mut self, caller: Caller, message: &str) {
        if let Some(error) = self.chat.read_failed(&caller, message) {
            self.respond_err(&caller, &error);
        }
    }
}

/// The `chat.send` method.
pub(crate) fn send(hub: &mut Hub, rq: super::Req, params: Box<ChatSendParams>) {
    hub.handle_chat_send(rq.now, rq.wall, rq.caller, *params);
}

/// The `chat.abort` method.
pub(crate) fn abort(hub: &mut Hub, rq: super::Req, params: ChatAbortParams) {
    hub.handle_chat_abort(rq.now, rq.wall, rq.caller, params);
}

/// The `chat.history` method.
pub(crate) fn history(hub: &mut Hub, rq: super::Req, params: Box<ChatHistoryParams>) {
    hub.handle_chat_history(rq.caller, *params);
}
