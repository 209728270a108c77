//! The `tool` stream and the transcript writes of a run (channels-agent-nodes.md §5.3, §6.3,
//! §7.3): the user message when the run starts, one assistant message per model round (its
//! text and `toolCall` parts), one `toolResult` per executed call, and the last assistant
//! message — complete, failed, or cut short with `openclawAbort`.

use std::sync::Arc;

use serde_json::{json, Value};

use super::super::sessions::StoreCommand;
use super::super::{admits, Audience, Conn, Hub, HubOutput};
use crate::auth::scopes::Scope;
use crate::caller::Caller;
use crate::ids::{ConnId, RunId, UnixMillis};
use crate::link::HubToSession;
use crate::wire::codec::EncodedEvent;
use crate::time::Instant;
use crate::wire::agent::{ToolCall, ToolOutcome};

/// Who cut a run short, as `openclawAbort.origin` records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::hub) enum AbortOrigin {
    /// `chat.abort`.
    Rpc,
    /// `sessions.delete` of a session with a run.
    SessionDelete,
    /// `/stop` sent as a message.
    StopCommand,
    /// The run timeout.
    Timeout,
    /// The gateway stopped.
    Shutdown,
}

impl AbortOrigin {
    /// The `stopReason` of the lifecycle end and the `chat` `aborted` event.
    pub(super) fn stop_reason(self) -> &'static str {
        match self {
            Self::Rpc => "rpc",
            // As the reference's `chat` `aborted` event says it (observed on 2026.9.6).
            Self::SessionDelete => "aborted",
            Self::StopCommand => "stop",
            Self::Timeout => "timeout",
            Self::Shutdown => "shutdown",
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Rpc | Self::SessionDelete => "rpc",
            Self::StopCommand => "stop-command",
            Self::Timeout => "timeout",
            Self::Shutdown => "shutdown",
        }
    }
}

impl Hub {
    /// Queues one transcript message of `run` for the store.
    pub(super) fn append_message(&mut self, run: &RunId, message: Value) {
        let Some(r) = self.agent.runs.active.get(run) else { return };
        self.out.push_back(HubOutput::Store(StoreCommand::AppendMessage {
            session_key: r.session_key.clone(),
            session_id: r.session_id.clone(),
            agent_id: r.agent_id.clone(),
            run: run.clone(),
            message,
        }));
    }

    /// The model ended a round asking for tools: the round's text and calls become one
    /// assistant message, and the next round starts a new text.
    pub(super) fn handle_tool_calls(&mut self, now: Instant, wall: UnixMillis, run: &RunId, calls: &[ToolCall]) {
        // A final flush before the tool events, if the text grew (§5.7).
        self.flush_chat_delta(now, wall, run);
        let Some(r) = self.agent.runs.active.get_mut(run) else { return };
        let mut content: Vec<Value> = Vec::new();
        if !r.text.is_empty() {
            content.push(json!({ "type": "text", "text": r.text }));
        }
        content.extend(calls.iter().map(|c| json!({ "type": "toolCall", "id": c.id, "name": c.name, "arguments": c.args })));
        let message = json!({ "role": "assistant", "content": content, "provider": r.provider, "model": r.model,
            "stopReason": "toolUse", "timestamp": wall.0 });
        r.text.clear();
        r.chat_sent = 0;
        r.last_chat = None;
        self.append_message(run, message);
    }

    pub(super) fn handle_tool_start(&mut self, wall: UnixMillis, run: &RunId, call: ToolCall) {
        let data = json!({ "phase": "start", "name": call.name, "toolCallId": call.id, "args": call.args });
        self.emit_agent(wall, run, "tool", data);
    }

    pub(super) fn handle_tool_result(&mut self, wall: UnixMillis, run: &RunId, outcome: ToolOutcome) {
        let content = json!([{ "type": "text", "text": outcome.text }]);
        // As the reference sends it (observed on 2026.9.6): the file tools run no command.
        let data = json!({ "phase": "result", "name": outcome.name, "toolCallId": outcome.call_id,
            "isError": outcome.is_error, "commandBearing": false, "result": { "content": content } });
        self.emit_agent(wall, run, "tool", data);
        let message = json!({ "role": "toolResult", "toolCallId": outcome.call_id, "toolName": outcome.name,
            "content": content, "isError": outcome.is_error, "timestamp": wall.0 });
        self.append_message(run, message);
    }
}

/// The user message a run starts with.
pub(super) fn user_message(run: &RunId, text: &str, wall: UnixMillis) -> Value {
    json!({ "role": "user", "content": [{ "type": "text", "text": text }], "timestamp": wall.0,
        "idempotencyKey": format!("{}:user", run.0) })
}

/// The text the run streamed before it was cut short, recorded as the reference records it
/// (observed on 2026.9.6): a gateway-injected assistant message (`provider:"openclaw"`,
/// `model:"gateway-injected"`, zero usage, `stopReason:"stop"`) with `openclawAbort` and the
/// idempotency key `<runId>:assistant`.
pub(super) fn aborted_message(run: &RunId, text: &str, origin: AbortOrigin, wall: UnixMillis) -> Value {
    json!({
        "role": "assistant",
        "content": [{ "type": "text", "text": text }],
        "timestamp": wall.0,
        "stopReason": "stop",
        "usage": { "input": 0, "output": 0, "totalTokens": 0, "cacheRead": 0, "cacheWrite": 0 },
        "api": "openai-responses",
        "provider": "openclaw",
        "model": "gateway-injected",
        "idempotencyKey": format!("{}:assistant", run.0),
        "openclawAbort": { "aborted": true, "origin": origin.as_str(), "runId": run.0 },
    })
}

/// Tool events reach only the sockets that started or joined a run and advertised
/// `caps: ["tool-events"]` (channels-agent-nodes.md §5.3).
impl Hub {
    /// `caller` started or joined `run`; if it is a socket that if it advertised `tool-events`, it gets the run's `tool`
    /// events. Entries of runs that are no longer active are dropped here, so the map stays
    /// as small as the set of active runs.
    pub(in crate::hub) fn register_tool_recipient(&mut self, run: &RunId, caller: &Caller) {
        // Other callers get every event of their runs as values (`CallerEvent::Run`).
        let wants = self.wants_tool_events(caller);
        self.agent.add_tool_recipient(run, caller, wants);
    }

    /// `caller` is a request on an open socket that advertised `tool-events`.
    pub(in crate::hub) fn wants_tool_events(&self, caller: &Caller) -> bool {
        caller.socket().is_some_and(|(conn, _)| matches!(self.conns.get(&conn), Some(Conn::Open(open)) if open.tool_events))
    }

    /// Sends a `tool` agent event of `run` to its registered recipients that are still open
    /// operators with read scope (others get nothing: the reference's `session.tool` summary
    /// event is not built yet).
    pub(in crate::hub) fn send_tool_event(&mut self, run: &RunId, event: EncodedEvent) {
        let recipients: Vec<ConnId> = self
            .agent
            .tools
            .of(run)
            .iter()
            .copied()
            .filter(|c| matches!(self.conns.get(c), Some(Conn::Open(open)) if admits(Audience::Operators(Scope::Read), open)))
            .collect();
        let event = Arc::new(event);
        for conn in recipients {
            self.to(conn, HubToSession::Event { event: Arc::clone(&event), sequenced: true });
        }
    }
}
