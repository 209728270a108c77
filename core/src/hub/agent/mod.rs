//! Agent runs (protocol.md §5.6-5.7, §6.2-6.3), the hub's side: it admits a run and answers
//! `accepted`, asks the driver to run it with [`RunCommand::Start`], turns the driver's
//! [`RunReport`]s into `agent` and `chat` events, transcript writes and the final `res`,
//! enforces the run timeout (AGENT_TIMEOUT) and answers `agent.wait`. What it keeps about runs
//! (admission and idempotency, runs in flight and their queues, waits, tool-event recipients)
//! is the agent service's state (`crate::services::agent`).

mod end;
mod tools;

use serde_json::{json, Value};

use self::end::{assistant_message, chat_head};
use self::tools::user_message;
pub(super) use self::tools::AbortOrigin;
pub(super) use crate::services::agent::Launch;
use crate::services::agent::runs::MAX_QUEUED_PER_SESSION;
use crate::services::agent::{AgentRun, WaitWaiter};
use super::{Audience, Hub, HubOutput, RunOutcome};
use crate::auth::scopes::Scope;
use crate::caller::Caller;
use crate::ids::{RunId, UnixMillis};
use crate::limits::{CHAT_DELTA_INTERVAL, DEFAULT_AGENT_WAIT, MAX_AGENT_WAITERS};
use crate::methods::Denial;
use crate::time::Instant;
use crate::wire::agent::{
    AgentAccepted, AgentParams, AgentWaitParams, RunFailure, RunReport, Usage,
};
use crate::wire::codec::EncodedEvent;
use crate::wire::frames::{ErrorCode, ErrorShape};

/// What the hub asks the driver to do about a run.
#[derive(Clone, Debug, PartialEq)]
pub enum RunCommand {
    /// Run one agent turn and report with [`HubInput::Run`](crate::hub::HubInput::Run).
    Start(Box<RunStart>),
    /// Stop the run; further reports about it are ignored.
    Abort { run: RunId, reason: AbortReason },
}

/// Why a run is being stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortReason {
    Timeout,
    Shutdown,
    /// `chat.abort` or a stop phrase.
    Requested,
}

/// Everything the driver needs to run one turn.
#[derive(Clone, Debug, PartialEq)]
pub struct RunStart {
    pub run: RunId,
    pub session_key: String,
    pub agent_id: String,
    /// The session's current id (transcripts are kept per session id).
    pub session_id: String,
    /// Already the last message of the session's transcript (the hub appended it before this
    /// command), so reading the transcript gives the whole conversation to send.
    pub message: String,
    /// Per-run override of the configured model (`provider`, `model` params).
    pub provider: Option<String>,
    pub model: Option<String>,
    pub thinking: Option<String>,
    pub extra_system_prompt: Option<String>,
    /// The caller's function tools: offered to the model, never run (a call to one ends the
    /// run with [`RunReport::ClientToolCalls`]).
    pub client_tools: Vec<crate::wire::agent::ClientTool>,
    /// Images sent with `message`, for the model (the transcript keeps the text only).
    pub images: Vec<crate::wire::agent::ImageInput>,
}

/// How a run ended, for the final `res`, the events and `agent.wait`.
enum End {
    Completed { usage: Option<Usage> },
    Failed(RunFailure),
    TimedOut,
    Shutdown,
    /// Stopped on request; the partial text is the reply.
    Aborted(AbortOrigin),
}

impl Hub {
    pub(super) fn handle_agent(
        &mut self,
        now: Instant,
        wall: UnixMillis,
        caller: Caller,
        params: AgentParams,
        admin: bool,
    ) {
        if params.is_reset_command() && !admin {
            return self.respond_err(&caller, &Denial::MissingScope(Scope::Admin).to_error());
        }
        if let Some(error) = self.no_model_error() {
            return self.respond_err(&caller, &error);
        }
        let (session_key, agent_id, named) = match self.resolve_agent_session(&params) {
            Ok(found) => found,
            Err(error) => return self.respond_err(&caller, &error),
        };
        let run = RunId(params.idempotency_key.clone());
        let accepted = AgentAccepted {
            run_id: run.0.clone(),
            session_key: named.then(|| session_key.clone()),
            agent_id: agent_id.clone(),
            status: "accepted".into(),
            accepted_at: wall.0,
        };
        if self.begin_run_for(now, caller, &run, &accepted) != super::Admission::Started {
            return;
        }
        let launch = Launch {
            run,
            session_key,
            agent_id,
            reset: params.is_reset_command(),
            message: params.message,
            timeout: params.timeout.map_or(self.config.agent_timeout, std::time::Duration::from_secs),
            provider: params.provider,
            model: params.model,
            thinking: params.thinking,
            extra_system_prompt: params.extra_system_prompt,
            client_tools: params.client_tools,
            images: params.images,
        };
        self.launch_run(now, wall, launch);
    }

    /// The session of an `agent` call, as the reference resolves it (channels-agent-nodes.md
    /// §7.1, observed on 2026.9.6): an explicit `sessionKey`; a `to` that is itself an agent
    /// key; a known `sessionId`; the agent's main key for `agentId`; for a recipient `to` the
    /// main key (direct chats collapse to it under the `per-sender` scope; `global` scope uses
    /// `global`); otherwise a session of its own, `agent:<id>:explicit:<sessionId or runId>`.
    /// Also returns the agent id and whether the caller named the session (the `accepted`
    /// payload echoes the key only then).
    fn resolve_agent_session(&self, p: &AgentParams) -> Result<(String, String, bool), ErrorShape> {
        let d = &self.config.session_defaults;
        let to = p.to.as_deref().map(str::trim).filter(|t| !t.is_empty());
        let to_key = to.filter(|t| t.to_ascii_lowercase().starts_with("agent:"));
        let named_key = p.session_key.as_deref().or(if p.session_id.is_none() { to_key } else { None });
        let agent_id = p
            .agent_id
            .clone()
            .or_else(|| named_key.and_then(agent_of_key))
            .unwrap_or_else(|| d.default_agent_id.clone());
        if let Some(key) = named_key {
            return Ok((self.canonical_key_for(key, &agent_id), agent_id, true));
        }
        if let Some(key) = p.session_id.as_deref().and_then(|sid| self.sessions.key_of_session_id(sid)) {
            let agent = agent_of_key(&key).unwrap_or(agent_id);
            return Ok((key, agent, true));
        }
        if p.agent_id.is_some() && to.is_none() {
            return Ok((format!("agent:{agent_id}:{}", d.main_key), agent_id, true));
        }
        if let Some(to) = to {
            // Without channel accounts there is no route to a named channel.
            if let Some(channel) = p.channel.as_deref().map(str::trim).filter(|c| !c.is_empty() && *c != "last") {
                return Err(ErrorShape::invalid_request(format!("Unable to resolve a session route for channel \"{channel}\"")));
            }
            let lower = to.to_lowercase();
            let key = if d.scope == "global" {
                "global".to_owned()
            } else if lower.contains(":group:") || lower.contains(":channel:") {
                format!("agent:{agent_id}:{lower}")
            } else {
                format!("agent:{agent_id}:{}", d.main_key)
            };
            return Ok((key, agent_id, p.agent_id.is_some()));
        }
        let own = p.session_id.as_deref().unwrap_or(&p.idempotency_key).trim().to_owned();
        Ok((format!("agent:{agent_id}:explicit:{own}"), agent_id, false))
    }

    /// UNAVAILABLE naming the config key, when no model is configured.
    pub(super) fn no_model_error(&self) -> Option<ErrorShape> {
        (!self.config.session_defaults.model_configured).then(|| {
            ErrorShape::new(
                ErrorCode::Unavailable,
                "no model configured: set agents.defaults.model (\"<provider>/<model>\") and \
                 models.providers.<provider> {baseUrl, apiKey, api} in the config file",
            )
            .with_details(json!({ "configKey": "agents.defaults.model" }))
        })
    }

    /// Starts an admitted run: session bookkeeping, lifecycle `start`, [`RunCommand::Start`].
    pub(super) fn launch_run(&mut self, now: Instant, wall: UnixMillis, l: Launch) {
        // One run per session at a time (the session lane): later ones wait their turn.
        if self.agent.runs.is_running(&l.session_key) {
            if !self.agent.runs.queue_is_full(&l.session_key) {
                return self.agent.runs.enqueue(l);
            }
            let message = format!("session {} is busy ({MAX_QUEUED_PER_SESSION} runs queued)", l.session_key);
            let error = ErrorShape::new(ErrorCode::Unavailable, message.clone()).retry_after(1000);
            let payload = json!({ "runId": l.run.0, "status": "error", "summary": "failed" });
            self.record_wait_result(&l.run, json!({ "runId": l.run.0, "status": "error", "error": message }));
            return self.finish_run(now, &l.run, RunOutcome::Failed { payload: Some(payload), error });
        }
        let mut message = l.message;
        if l.reset {
            self.reset_session(&l.session_key, &l.agent_id, wall);
            message = reset_remainder(&message);
        }
        let session_id = self.touch_session(&l.session_key, &l.agent_id, wall);
        let agent_run = AgentRun {
            session_key: l.session_key.clone(),
            session_id: session_id.clone(),
            agent_id: l.agent_id.clone(),
            started: now,
            started_wall: wall,
            deadline: (!l.timeout.is_zero()).then(|| now + l.timeout),
            timeout_secs: l.timeout.as_secs(),
            text: String::new(),
            chat_sent: 0,
            last_chat: None,
            last_seq: 0,
            provider: None,
            model: None,
            pending_tool_calls: Vec::new(),
        };
        self.agent.runs.active.insert(l.run.clone(), agent_run);
        self.append_message(&l.run, user_message(&l.run, &message, wall));
        self.emit_agent(wall, &l.run, "lifecycle", json!({ "phase": "start", "startedAt": wall.0 }));
        let start = RunStart {
            run: l.run,
            session_key: l.session_key,
            agent_id: l.agent_id,
            session_id,
            message,
            provider: l.provider,
            model: l.model,
            thinking: l.thinking,
            extra_system_prompt: l.extra_system_prompt,
            client_tools: l.client_tools,
            images: l.images,
        };
        self.out.push_back(HubOutput::Run(RunCommand::Start(Box::new(start))));
        self.sync_timers();
    }

    pub(super) fn handle_agent_wait(&mut self, now: Instant, caller: Caller, p: AgentWaitParams) {
        let run = RunId(p.run_id);
        if let Some(result) = self.agent.runs.wait_result(&run).cloned() {
            return self.respond_ok(&caller, &result);
        }
        let timeout = p.timeout_ms.map_or(DEFAULT_AGENT_WAIT, std::time::Duration::from_millis);
        if timeout.is_zero() {
            return self.respond_ok(&caller, &json!({ "runId": run.0, "status": "timeout" }));
        }
        if self.agent.runs.waiter_count() >= MAX_AGENT_WAITERS {
            let error = ErrorShape::new(ErrorCode::Unavailable, "too many pending agent.wait calls")
                .retry_after(1000);
            return self.respond_err(&caller, &error);
        }
        self.agent.runs.add_waiter(WaitWaiter { caller, run, deadline: now + timeout });
        self.sync_timers();
    }

    /// Progress of a run started with [`RunCommand::Start`]. Reports about runs that already
    /// ended (timed out, aborted) are ignored. Poll after.
    pub(crate) fn handle_run(&mut self, now: Instant, wall: UnixMillis, run: &RunId, report: RunReport) {
        self.last_wall = wall;
        let Some(active) = self.agent.runs.active.get_mut(run) else { return };
        match report {
            RunReport::Model { provider, model } => {
                active.provider = Some(provider.clone());
                active.model = Some(model.clone());
                let data = json!({ "phase": "model", "provider": provider, "model": model });
                self.emit_agent(wall, run, "lifecycle", data);
            }
            RunReport::Delta { text } => {
                if text.is_empty() {
                    return;
                }
                active.text.push_str(&text);
                let data = json!({ "text": active.text, "delta": text });
                self.emit_agent(wall, run, "assistant", data);
                self.maybe_chat_delta(now, wall, run);
            }
            RunReport::ToolCalls { calls } => self.handle_tool_calls(now, wall, run, &calls),
            RunReport::ClientToolCalls { calls } => active.pending_tool_calls = calls,
            RunReport::ToolStart { call } => self.handle_tool_start(wall, run, call),
            RunReport::ToolResult(outcome) => self.handle_tool_result(wall, run, outcome),
            RunReport::Completed { text, usage } => {
                active.text = text;
                self.end_run(now, wall, run, End::Completed { usage });
            }
            RunReport::Failed(failure) => self.end_run(now, wall, run, End::Failed(failure)),
        }
        self.sync_timers();
    }

    /// Run deadlines and `agent.wait` deadlines that have passed.
    pub(super) fn agent_timeouts(&mut self, now: Instant, wall: UnixMillis) {
        let due: Vec<RunId> = self
            .agent
            .runs
            .active
            .iter()
            .filter(|(_, r)| r.deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for run in due {
            self.out.push_back(HubOutput::Run(RunCommand::Abort { run: run.clone(), reason: AbortReason::Timeout }));
            self.end_run(now, wall, &run, End::TimedOut);
        }
        for (caller, answer) in self.agent.runs.expire_waits(now) {
            self.respond_ok(&caller, &answer);
        }
    }

    /// Shutdown: every active run ends with a lifecycle error and a final error `res`; pending
    /// `agent.wait` calls are answered UNAVAILABLE.
    pub(super) fn end_agent_runs_for_shutdown(&mut self, now: Instant) {
        let wall = self.last_wall;
        // Queued runs never start; the caller fails every admitted run still without a result.
        self.agent.runs.clear_queued();
        let runs: Vec<RunId> = self.agent.runs.active.keys().cloned().collect();
        for run in runs {
            self.out.push_back(HubOutput::Run(RunCommand::Abort { run: run.clone(), reason: AbortReason::Shutdown }));
            self.end_run(now, wall, &run, End::Shutdown);
        }
        let error = ErrorShape::new(ErrorCode::Unavailable, "gateway is shutting down").retry_after(1000);
        for caller in self.agent.runs.take_waiters() {
            self.respond_err(&caller, &error);
        }
    }

    /// Stops an active or queued run on request (`chat.abort`, a stop phrase, `sessions.delete`).
    pub(super) fn abort_run(&mut self, now: Instant, wall: UnixMillis, run: &RunId, origin: AbortOrigin) {
        if let Some(l) = self.agent.runs.take_queued(run) {
            let payload = json!({ "runId": l.run.0, "status": "ok", "summary": "aborted" });
            self.record_wait_result(run, json!({ "runId": l.run.0, "status": "timeout", "stopReason": "aborted" }));
            return self.finish_run(now, run, RunOutcome::Ok(payload));
        }
        self.out.push_back(HubOutput::Run(RunCommand::Abort { run: run.clone(), reason: AbortReason::Requested }));
        self.end_run(now, wall, run, End::Aborted(origin));
        self.sync_timers();
    }

    fn maybe_chat_delta(&mut self, now: Instant, wall: UnixMillis, run: &RunId) {
        let Some(r) = self.agent.runs.active.get(run) else { return };
        if r.last_chat.is_some_and(|at| now < at + CHAT_DELTA_INTERVAL) {
            return;
        }
        self.flush_chat_delta(now, wall, run);
    }

    /// A `chat` delta with the text not yet sent, if any.
    fn flush_chat_delta(&mut self, now: Instant, wall: UnixMillis, run: &RunId) {
        let Some(r) = self.agent.runs.active.get_mut(run) else { return };
        if r.chat_sent >= r.text.len() {
            return;
        }
        r.last_chat = Some(now);
        let delta = r.text[r.chat_sent..].to_owned();
        r.chat_sent = r.text.len();
        let mut payload = chat_head(run, r, "delta");
        payload["deltaText"] = json!(delta);
        payload["message"] = assistant_message(&r.text, wall);
        let key = r.session_key.clone();
        self.broadcast_session_event(&key, EncodedEvent::new("chat", &payload, None, false));
    }

    /// A session's `chat` or `agent` event: to operators with read scope, and to the node
    /// sockets subscribed to the session.
    pub(super) fn broadcast_session_event(&mut self, session_key: &str, event: EncodedEvent) {
        self.send_to_session_nodes(session_key, &event);
        self.broadcast(event, Audience::Operators(Scope::Read));
    }

    /// One `agent` event of an active run: `{runId, stream, data, sessionKey, agentId, seq, ts}`.
    fn emit_agent(&mut self, wall: UnixMillis, run: &RunId, stream: &str, data: Value) {
        let Some(seq) = self.agent.tracker.next_event_seq(run) else { return };
        let Some(r) = self.agent.runs.active.get_mut(run) else { return };
        r.last_seq = seq;
        let payload = json!({ "runId": run.0, "stream": stream, "data": data,
            "sessionKey": r.session_key, "agentId": r.agent_id, "seq": seq, "ts": wall.0 });
        let key = r.session_key.clone();
        let event = EncodedEvent::new("agent", &payload, None, false);
        self.send_to_run_callers(run, stream, &payload);
        if stream == "tool" {
            // Only to the sockets that asked for tool events of this run (§5.3).
            self.send_tool_event(run, event);
        } else {
            self.broadcast_session_event(&key, event);
        }
    }
}

/// The `agent` method (table entry `Agent`).
pub(crate) fn agent(hub: &mut Hub, rq: super::Req, params: Box<AgentParams>) {
    hub.handle_agent(rq.now, rq.wall, rq.caller, *params, rq.admin);
}

/// The `agent.wait` method.
pub(crate) fn agent_wait(hub: &mut Hub, rq: super::Req, params: AgentWaitParams) {
    hub.handle_agent_wait(rq.now, rq.caller, params);
}

/// What is left of `/new …` or `/reset …`; a greeting when nothing is.
fn reset_remainder(message: &str) -> String {
    let m = message.trim_start();
    let rest = m.strip_prefix("/new").or_else(|| m.strip_prefix("/reset")).unwrap_or(m).trim();
    if rest.is_empty() {
        "A new session was started. Greet the user briefly.".to_owned()
    } else {
        rest.to_owned()
    }
}

/// `agent:<agentId>:<rest>` → the agent id.
fn agent_of_key(key: &str) -> Option<String> {
    let mut parts = key.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("agent"), Some(id), Some(_)) if !id.is_empty() => Some(id.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_ids_come_from_session_keys() {
        assert_eq!(agent_of_key("agent:main:main").as_deref(), Some("main"));
        assert_eq!(agent_of_key("agent:ops:telegram:dm:42").as_deref(), Some("ops"));
        assert_eq!(agent_of_key("main"), None);
        assert_eq!(agent_of_key("agent::x"), None);
    }
}
