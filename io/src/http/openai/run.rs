//! One agent run on behalf of an HTTP request: started through the hub's caller interface
//! ([`HubHandle::start_run`]), read as a stream of [`RunEvent`]s, and aborted (`chat.abort`)
//! if the request goes away before the run ends ([`AgentRun`] is an abort-on-drop guard).

use openclaw_core::auth::scopes::{Scope, ScopeSet};
use openclaw_core::hub::RunOutcome;
use openclaw_core::methods::MethodCall;
use openclaw_core::wire::agent::{AgentParams, ImageInput};
use openclaw_core::wire::chat::ChatAbortParams;
use openclaw_core::wire::frames::{ErrorCode, ErrorShape};
use openclaw_core::CallerEvent;
use serde_json::Value;

use super::request::Turn;
use super::tools::{ClientTool, PendingCall};
use crate::callers::{CallerStream, HubHandle};
use crate::http::HttpError;

/// What a shared-secret HTTP caller may do: the default operator set (http.md §1.4; the
/// `x-openclaw-scopes` header is ignored for shared-secret auth).
pub(crate) fn operator_scopes() -> ScopeSet {
    [Scope::Admin, Scope::Read, Scope::Write, Scope::Approvals, Scope::Pairing, Scope::TalkSecrets].into_iter().collect()
}

/// What to run.
#[derive(Clone, Debug)]
pub(crate) struct RunRequest {
    pub agent: String,
    pub session_key: String,
    /// Also the idempotency key: one run per request.
    pub run_id: String,
    pub turn: Turn,
    /// Function tools offered to the model for the caller (never run by the gateway).
    pub client_tools: Vec<ClientTool>,
    /// Images of the turn, for the model.
    pub images: Vec<ImageInput>,
}

/// Token counts of a finished run (zeros when the provider reported none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub prompt: u64,
    pub completion: u64,
    pub total: u64,
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RunEvent {
    /// More assistant text.
    Delta(String),
    /// The run finished: its reply text (payload texts joined with a blank line), usage, and
    /// the client tool calls it ended with (then the text is the commentary).
    Done { text: String, usage: Usage, tool_calls: Vec<PendingCall> },
    /// The run failed (or was aborted, timed out, or the gateway stopped).
    Failed(String),
}

/// A started run. Dropping it before its end aborts the run.
pub(crate) struct AgentRun {
    stream: CallerStream,
    guard: AbortGuard,
}

impl AgentRun {
    /// Starts the run; a refusal (bad params, no model configured, …) is the error.
    pub(crate) async fn start(hub: &HubHandle, req: RunRequest) -> Result<Self, HttpError> {
        let params = AgentParams {
            message: req.turn.message,
            idempotency_key: req.run_id.clone(),
            agent_id: Some(req.agent.clone()),
            session_key: Some(req.session_key.clone()),
            deliver: Some(false),
            extra_system_prompt: req.turn.extra_system_prompt,
            client_tools: req.client_tools,
            images: req.images,
            ..AgentParams::default()
        };
        let mut stream = hub.start_run(hub.http_caller(), operator_scopes(), params).await.map_err(|_| HttpError::Unavailable)?;
        match stream.next().await {
            Some(CallerEvent::Response(Ok(_))) => {}
            Some(CallerEvent::Response(Err(e))) => return Err(refused(&e)),
            Some(CallerEvent::Run { .. } | CallerEvent::Final { .. }) => {
                return Err(HttpError::Upstream("unexpected run state".into()));
            }
            None => return Err(HttpError::Unavailable),
        }
        let guard = AbortGuard { hub: Some(hub.clone()), agent: req.agent, session_key: req.session_key, run_id: req.run_id };
        Ok(Self { stream, guard })
    }

    /// The next thing the run produced; after `Done`/`Failed` there is nothing more. A stream
    /// that ends early (the gateway stopped, the caller fell behind) reads as `Failed`.
    pub(crate) async fn next(&mut self) -> Option<RunEvent> {
        self.guard.hub.as_ref()?;
        loop {
            let event = match self.stream.next().await {
                Some(event) => event,
                None => {
                    // Nothing more will come; the run (if still going) is aborted by the guard.
                    drop(self.guard.take());
                    return Some(RunEvent::Failed("run ended without a result".into()));
                }
            };
            match event {
                CallerEvent::Run { stream, data, .. } if stream == "assistant" => {
                    if let Some(delta) = data.get("delta").and_then(Value::as_str).filter(|d| !d.is_empty()) {
                        return Some(RunEvent::Delta(delta.to_owned()));
                    }
                }
                CallerEvent::Run { .. } | CallerEvent::Response(Ok(_)) => {}
                CallerEvent::Response(Err(e)) => {
                    self.guard.disarm();
                    return Some(RunEvent::Failed(e.message));
                }
                CallerEvent::Final { outcome, .. } => {
                    self.guard.disarm();
                    return Some(match outcome {
                        RunOutcome::Ok(payload) => done(&payload),
                        RunOutcome::Failed { error, .. } => RunEvent::Failed(error.message),
                    });
                }
            }
        }
    }
}

/// The reply text and usage of a final payload (`result.payloads[].text`,
/// `result.meta.agentMeta.usage`).
fn done(payload: &Value) -> RunEvent {
    let result = &payload["result"];
    let texts: Vec<&str> = result["payloads"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["text"].as_str())
        .filter(|t| !t.is_empty())
        .collect();
    let u = &result["meta"]["agentMeta"]["usage"];
    let n = |k: &str| u[k].as_u64().unwrap_or(0);
    let usage = Usage { prompt: n("input"), completion: n("output"), total: n("total") };
    // `meta.pendingToolCalls` counts only when the run stopped for them (the reference's
    // `readOpenAiHttpRunTerminal`); calls without an id or name are dropped.
    let meta = &result["meta"];
    let tool_calls = if meta["stopReason"] == "tool_calls" {
        meta["pendingToolCalls"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let id = c["id"].as_str().map(str::trim).filter(|s| !s.is_empty())?;
                let name = c["name"].as_str().map(str::trim).filter(|s| !s.is_empty())?;
                let arguments = match &c["arguments"] {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                Some(PendingCall { id: id.to_owned(), name: name.to_owned(), arguments })
            })
            .collect()
    } else {
        Vec::new()
    };
    RunEvent::Done { text: texts.join("\n\n"), usage, tool_calls }
}

/// A refused `agent` call as an HTTP error: the caller's fault is a 400, the rest 502.
fn refused(e: &ErrorShape) -> HttpError {
    match e.code {
        ErrorCode::InvalidRequest => HttpError::BadRequest(e.message.clone()),
        ErrorCode::Forbidden
        | ErrorCode::NotPaired
        | ErrorCode::Unavailable
        | ErrorCode::ApprovalNotFound
        | ErrorCode::NotLinked
        | ErrorCode::AgentTimeout => HttpError::Upstream(e.message.clone()),
    }
}

/// Sends `chat.abort` for the run when dropped while armed.
struct AbortGuard {
    /// `None` once the run ended (or the abort was sent).
    hub: Option<HubHandle>,
    agent: String,
    session_key: String,
    run_id: String,
}

impl AbortGuard {
    fn disarm(&mut self) {
        self.hub = None;
    }

    fn take(&mut self) -> AbortGuard {
        AbortGuard {
            hub: self.hub.take(),
            agent: self.agent.clone(),
            session_key: self.session_key.clone(),
            run_id: self.run_id.clone(),
        }
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        let Some(hub) = self.hub.take() else { return };
        let params = ChatAbortParams {
            session_key: std::mem::take(&mut self.session_key),
            agent_id: Some(std::mem::take(&mut self.agent)),
            run_id: Some(std::mem::take(&mut self.run_id)),
            preserve_side_runs: None,
        };
        // Drop cannot wait: the abort goes out on its own task (the runtime outlives requests).
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                tracing::debug!(run = %params.run_id.as_deref().unwrap_or(""), "http client gone; aborting its run");
                if let Ok(mut answer) = hub.call(hub.http_caller(), operator_scopes(), MethodCall::ChatAbort(params)).await {
                    let _ = answer.next().await;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_final_payload_gives_text_and_usage() {
        let payload = json!({"result": {"payloads": [{"text": "a"}, {"text": ""}, {"text": "b"}],
            "meta": {"agentMeta": {"usage": {"input": 5, "output": 2, "total": 7}}}}});
        let usage = Usage { prompt: 5, completion: 2, total: 7 };
        assert_eq!(done(&payload), RunEvent::Done { text: "a\n\nb".into(), usage, tool_calls: vec![] });
        let bare = json!({"result": {"payloads": [], "meta": {"agentMeta": {"usage": null}}}});
        assert_eq!(done(&bare), RunEvent::Done { text: String::new(), usage: Usage::default(), tool_calls: vec![] });
    }

    #[test]
    fn pending_tool_calls_come_from_the_meta_when_the_run_stopped_for_them() {
        let calls = json!([{"id": "c1", "name": "f", "arguments": "{\"x\":1}"}, {"id": "", "name": "g"}, {"id": "c3", "name": "h", "arguments": {"y": 2}}]);
        let payload = json!({"result": {"payloads": [{"text": "hm"}], "meta": {"stopReason": "tool_calls", "pendingToolCalls": calls}}});
        let RunEvent::Done { text, tool_calls, .. } = done(&payload) else { panic!() };
        assert_eq!(text, "hm");
        assert_eq!(tool_calls, vec![
            PendingCall { id: "c1".into(), name: "f".into(), arguments: "{\"x\":1}".into() },
            PendingCall { id: "c3".into(), name: "h".into(), arguments: "{\"y\":2}".into() },
        ]);
        let stopped = json!({"result": {"payloads": [], "meta": {"stopReason": "stop", "pendingToolCalls": calls}}});
        assert!(matches!(done(&stopped), RunEvent::Done { tool_calls, .. } if tool_calls.is_empty()));
    }
}
