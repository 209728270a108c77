//! How an agent run ends: the lifecycle and `chat` events, the final `res`, the session's
//! bookkeeping, the persisted result and `agent.wait` (protocol.md §5.6-5.7, §6.2-6.3).

use serde_json::{json, Value};

use super::super::sessions::{SessionRunEnd, StoreCommand};
use super::super::{Hub, HubOutput, RunOutcome};
use super::tools::{aborted_message, AbortOrigin};
use super::End;
use crate::services::agent::AgentRun;
use crate::ids::{RunId, UnixMillis};
use crate::session::millis;
use crate::time::Instant;
use crate::wire::agent::{RunErrorKind, Usage};
use crate::wire::codec::EncodedEvent;
use crate::wire::frames::{ErrorCode, ErrorShape};

impl Hub {
    pub(super) fn end_run(&mut self, now: Instant, wall: UnixMillis, run: &RunId, end: End) {
        let Some(r) = self.agent.runs.active.get(run) else { return };
        // The transcript keeps what the run produced, finished or not (§5.5, §7.3).
        let last_message = match &end {
            End::Completed { usage } => {
                // A run ending in client tool calls keeps them in its last message, as a round
                // that called the gateway's own tools does.
                let mut content = vec![json!({ "type": "text", "text": r.text })];
                content.extend(r.pending_tool_calls.iter().map(|c| {
                    json!({ "type": "toolCall", "id": c.id, "name": c.name, "arguments": c.args })
                }));
                let stop = if r.pending_tool_calls.is_empty() { "stop" } else { "toolUse" };
                let mut m = json!({ "role": "assistant", "content": content,
                    "provider": r.provider, "model": r.model, "stopReason": stop, "timestamp": wall.0 });
                if let Some(u) = usage {
                    m["usage"] = json!({ "input": u.input, "output": u.output, "totalTokens": u.input + u.output });
                }
                Some(m)
            }
            End::Failed(f) => {
                // As the reference records a failed turn: the error is the visible text when
                // nothing was streamed (observed on 2026.9.6).
                let text = if r.text.is_empty() { &f.message } else { &r.text };
                Some(json!({ "role": "assistant", "content": [{ "type": "text", "text": text }],
                    "provider": r.provider, "model": r.model, "stopReason": "error", "errorMessage": f.message,
                    "timestamp": wall.0, "idempotencyKey": format!("{}:terminal-error", run.0) }))
            }
            End::Aborted(origin) => (!r.text.is_empty()).then(|| aborted_message(run, &r.text, *origin, wall)),
            End::TimedOut => (!r.text.is_empty()).then(|| aborted_message(run, &r.text, AbortOrigin::Timeout, wall)),
            End::Shutdown => (!r.text.is_empty()).then(|| aborted_message(run, &r.text, AbortOrigin::Shutdown, wall)),
        };
        if let Some(message) = last_message {
            self.append_message(run, message);
        }
        let Some(r) = self.agent.runs.active.get(run) else { return };
        let (lifecycle, chat, wait, outcome) = match &end {
            End::Completed { usage } => {
                let lifecycle = json!({ "phase": "end", "startedAt": r.started_wall.0, "endedAt": wall.0,
                    "aborted": false, "stopReason": "stop" });
                let mut chat = chat_head(run, r, "final");
                chat["stopReason"] = json!("stop");
                chat["message"] = assistant_message(&r.text, wall);
                let wait = json!({ "runId": run.0, "status": "ok", "startedAt": r.started_wall.0,
                    "endedAt": wall.0, "stopReason": "stop" });
                (lifecycle, chat, wait, RunOutcome::Ok(final_payload(run, r, now, usage.as_ref())))
            }
            End::Failed(f) => {
                let lifecycle = json!({ "phase": "error", "startedAt": r.started_wall.0, "endedAt": wall.0,
                    "aborted": false, "error": f.message, "errorKind": f.kind.as_str() });
                let mut chat = chat_head(run, r, "error");
                chat["errorMessage"] = json!(f.message);
                chat["errorKind"] = json!(f.kind.as_str());
                let mut detail = json!({ "provider": r.provider, "model": r.model });
                if let Some(status) = f.http_status {
                    detail["httpStatus"] = json!(status);
                }
                chat["errorDetail"] = detail;
                let wait = json!({ "runId": run.0, "status": "error", "startedAt": r.started_wall.0,
                    "endedAt": wall.0, "error": f.message });
                let mut details = json!({ "errorKind": f.kind.as_str() });
                if let Some(status) = f.http_status {
                    details["httpStatus"] = json!(status);
                }
                let error = ErrorShape::new(ErrorCode::Unavailable, f.message.clone()).with_details(details);
                let payload = json!({ "runId": run.0, "status": "error", "summary": "failed" });
                (lifecycle, chat, wait, RunOutcome::Failed { payload: Some(payload), error })
            }
            End::Aborted(origin) => {
                // As observed on the reference: `status:"cancelled"`, the stop reason naming who.
                let reason = origin.stop_reason();
                let lifecycle = json!({ "phase": "end", "status": "cancelled", "startedAt": r.started_wall.0,
                    "endedAt": wall.0, "aborted": true, "stopReason": reason });
                let mut chat = chat_head(run, r, "aborted");
                if !r.text.is_empty() {
                    chat["message"] = assistant_message(&r.text, wall);
                }
                chat["stopReason"] = json!(reason);
                let wait = json!({ "runId": run.0, "status": "timeout", "startedAt": r.started_wall.0,
                    "endedAt": wall.0, "stopReason": "aborted" });
                let mut payload = final_payload(run, r, now, None);
                payload["summary"] = json!("aborted");
                payload["result"]["meta"]["aborted"] = json!(true);
                payload["result"]["meta"]["stopReason"] = json!("aborted");
                (lifecycle, chat, wait, RunOutcome::Ok(payload))
            }
            End::TimedOut | End::Shutdown => {
                let (message, status, code) = match end {
                    End::TimedOut => (
                        format!("agent run timed out after {}s", r.timeout_secs),
                        "timeout",
                        ErrorCode::AgentTimeout,
                    ),
                    End::Completed { .. } | End::Failed(_) | End::Shutdown | End::Aborted(_) => {
                        ("gateway is shutting down".to_owned(), "error", ErrorCode::Unavailable)
                    }
                };
                let lifecycle = json!({ "phase": "error", "startedAt": r.started_wall.0, "endedAt": wall.0,
                    "aborted": true, "error": message });
                let mut chat = chat_head(run, r, "error");
                chat["errorMessage"] = json!(message);
                chat["errorKind"] = json!(match end {
                    End::TimedOut => RunErrorKind::Timeout,
                    End::Completed { .. } | End::Failed(_) | End::Shutdown | End::Aborted(_) => {
                        RunErrorKind::Unknown
                    }
                }
                .as_str());
                let wait = json!({ "runId": run.0, "status": status, "startedAt": r.started_wall.0,
                    "endedAt": wall.0, "error": message });
                let mut error = ErrorShape::new(code, message);
                if code == ErrorCode::Unavailable {
                    error = error.retry_after(1000);
                }
                let payload = json!({ "runId": run.0, "status": status, "summary": "aborted" });
                (lifecycle, chat, wait, RunOutcome::Failed { payload: Some(payload), error })
            }
        };
        self.emit_agent(wall, run, "lifecycle", lifecycle);
        let seq = self.agent.runs.active.get(run).map_or(0, |r| r.last_seq);
        let mut chat = chat;
        chat["seq"] = json!(seq);
        let key = chat["sessionKey"].as_str().unwrap_or_default().to_owned();
        self.broadcast_session_event(&key, EncodedEvent::new("chat", &chat, None, false));
        let Some(r) = self.agent.runs.active.remove(run) else { return };
        let usage = match &end {
            End::Completed { usage } => usage.unwrap_or_default(),
            End::Failed(_) | End::TimedOut | End::Shutdown | End::Aborted(_) => Usage::default(),
        };
        let aborted = matches!(end, End::TimedOut | End::Shutdown | End::Aborted(_));
        let facts = SessionRunEnd {
            aborted,
            input_tokens: usage.input,
            output_tokens: usage.output,
            provider: r.provider.clone(),
            model: r.model.clone(),
        };
        self.session_run_ended(&r.session_key, wall, facts);
        let response = match &outcome {
            RunOutcome::Ok(payload) => json!({ "ok": true, "payload": payload }),
            RunOutcome::Failed { payload, error } => json!({ "ok": false, "payload": payload, "error": error }),
        };
        let save = StoreCommand::SaveRunResult { run: run.clone(), response, wait: wait.clone(), finished_at: wall };
        self.out.push_back(HubOutput::Store(save));
        self.record_wait_result(run, wait);
        self.finish_run(now, run, outcome);
        if let Some(next) = self.agent.runs.next_queued(&r.session_key) {
            self.launch_run(now, wall, next);
        }
    }

    /// Replays a result persisted before a restart: duplicates of `run` get it until the
    /// idempotency TTL (counted from `finished_at`) runs out, and `agent.wait` answers with
    /// `wait`. `response` is `{ok, payload?, error?}` as in [`StoreCommand::SaveRunResult`].
    pub fn restore_run_result(
        &mut self,
        now: Instant,
        wall: UnixMillis,
        run: RunId,
        response: &Value,
        wait: Value,
        finished_at: UnixMillis,
    ) {
        let age = std::time::Duration::from_millis(wall.0.saturating_sub(finished_at.0));
        let outcome = if response["ok"] == json!(true) {
            RunOutcome::Ok(response.get("payload").cloned().unwrap_or(Value::Null))
        } else {
            let Ok(error) = serde_json::from_value::<ErrorShape>(response["error"].clone()) else { return };
            let payload = response.get("payload").filter(|p| !p.is_null()).cloned();
            RunOutcome::Failed { payload, error }
        };
        if self.agent.tracker.restore(now, &run, outcome, age) {
            self.record_wait_result(&run, wait);
        }
        self.sync_timers();
    }

    /// Records `run`'s `agent.wait` answer; the calls waiting for it get it now.
    pub(super) fn record_wait_result(&mut self, run: &RunId, result: Value) {
        for caller in self.agent.runs.record_wait_result(run, result.clone()) {
            self.respond_ok(&caller, &result);
        }
    }
}

pub(super) fn chat_head(run: &RunId, r: &AgentRun, state: &str) -> Value {
    json!({ "runId": run.0, "sessionKey": r.session_key, "agentId": r.agent_id, "seq": r.last_seq,
        "state": state })
}

pub(super) fn assistant_message(text: &str, wall: UnixMillis) -> Value {
    json!({ "role": "assistant", "content": [{ "type": "text", "text": text }], "timestamp": wall.0 })
}

/// The second-stage payload; the reference CLI prints `result.payloads[].text`.
fn final_payload(run: &RunId, r: &AgentRun, now: Instant, usage: Option<&Usage>) -> Value {
    let usage = usage.map(|u| json!({ "input": u.input, "output": u.output, "total": u.input + u.output }));
    let mut payload = json!({
        "runId": run.0,
        "status": "ok",
        "summary": "completed",
        "result": {
            "payloads": [{ "text": r.text, "mediaUrl": null }],
            "meta": {
                "durationMs": millis(now.duration_since(r.started)),
                "agentMeta": {
                    "sessionId": r.session_id,
                    "sessionKey": r.session_key,
                    "provider": r.provider,
                    "model": r.model,
                    "usage": usage,
                },
                "aborted": false,
                "stopReason": "stop",
            },
        },
    });
    // What an HTTP caller with client tools reads (the reference's `meta.pendingToolCalls`,
    // arguments as a JSON string).
    if !r.pending_tool_calls.is_empty() {
        let meta = &mut payload["result"]["meta"];
        meta["stopReason"] = json!("tool_calls");
        meta["pendingToolCalls"] = r
            .pending_tool_calls
            .iter()
            .map(|c| json!({ "id": c.id, "name": c.name, "arguments": c.args.to_string() }))
            .collect();
    }
    payload
}
