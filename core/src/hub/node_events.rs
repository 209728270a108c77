//! `node.event` (channels-agent-nodes.md §8.6; the reference's `nodes.event.ts` and
//! `server-node-events.ts`): a node reports something and the gateway acts on it.
//!
//! - `voice.transcript`: an agent run in the given session (else the main one), `thinking:
//!   "low"`, no delivery; a repeat within 1.5 s is dropped.
//! - `agent.request`: an agent run in the given session (else `node-<nodeId>`).
//! - `chat.subscribe` / `chat.unsubscribe`: the node socket receives (or stops receiving) the
//!   session's `chat` and `agent` events, unsequenced.
//! - `exec.started` / `exec.finished` / `exec.denied`: for a `system.run` this gateway sent the
//!   node, a system event text for the next agent turn (`unmatched_exec_event` otherwise).
//! - `node.host.stats`: recorded with the node's session and broadcast as `node.hostStats`.
//!
//! Every event first needs the caller to be the current connection of a node whose surface
//! is approved (else PAIRING_CHANGED, as captured). Events that are handled without a verdict
//! answer `{ok:true}`; unknown ones `{ok, event, handled:false, reason:"unsupported_event"}`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::agent::Launch;
use super::nodes::surface_approved;
use super::{Admission, Audience, Hub, Req};
use crate::auth::scopes::Scope;
use crate::ids::{ConnId, RunId};
use crate::link::HubToSession;
use crate::services::node_events::{compact_text, voice_fingerprint};
use crate::wire::codec::EncodedEvent;
use crate::wire::frames::{ErrorCode, ErrorShape};
use crate::wire::nodes::NodeEventParams;

/// Longest voice transcript or `agent.request` message, in characters.
const MAX_MESSAGE_CHARS: usize = 20_000;
/// `MAX_EXEC_EVENT_OUTPUT_CHARS`.
const MAX_EXEC_OUTPUT_CHARS: usize = 180;

/// `respondPairingChanged`.
pub(super) fn pairing_changed() -> ErrorShape {
    let mut e = ErrorShape::new(ErrorCode::Unavailable, "node pairing changed while invocation was active")
        .with_details(json!({ "code": "PAIRING_CHANGED" }));
    e.retryable = Some(true);
    e
}

/// `parsePayloadObject`: the payload text as a JSON object (arrays count, as in JavaScript,
/// but carry no fields).
fn payload_object(text: Option<&str>) -> Option<Map<String, Value>> {
    match serde_json::from_str::<Value>(text?).ok()? {
        Value::Object(o) => Some(o),
        Value::Array(_) => Some(Map::new()),
        _ => None,
    }
}

/// A trimmed, non-empty string field.
fn text_field<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

fn verdict(event: &str, handled: bool, reason: &str) -> Value {
    json!({ "ok": true, "event": event, "handled": handled, "reason": reason })
}

impl Hub {
    /// Sends a session's `chat`/`agent` event, unsequenced, to the node sockets subscribed to
    /// that session (`nodeSendToSession`).
    pub(super) fn send_to_session_nodes(&mut self, session_key: &str, event: &EncodedEvent) {
        let subscribers = self.node_events.subscribers(session_key);
        if subscribers.is_empty() {
            return;
        }
        let event = Arc::new(event.clone());
        for conn in subscribers {
            self.to(conn, HubToSession::Event { event: Arc::clone(&event), sequenced: false });
        }
    }

    /// Starts a run for a node event, with no caller waiting (`agentCommandFromIngress`).
    /// Nothing starts without a model (the reference's run would fail and only log).
    fn node_run(&mut self, rq: &Req, run: RunId, session_key: String, message: String, thinking: Option<String>, timeout: Option<Duration>) {
        if self.no_model_error().is_some() {
            return;
        }
        let mut run = run;
        if self.agent.tracker.admit_detached(rq.now, &run) != Admission::Started {
            run = RunId(self.ids.uuid());
            if self.agent.tracker.admit_detached(rq.now, &run) != Admission::Started {
                return;
            }
        }
        let agent_id = self.config.session_defaults.default_agent_id.clone();
        let launch = Launch {
            run,
            session_key,
            agent_id,
            reset: false,
            message,
            timeout: timeout.unwrap_or(self.config.agent_timeout),
            provider: None,
            model: None,
            thinking,
            extra_system_prompt: None,
            client_tools: Vec::new(),
            images: Vec::new(),
        };
        self.launch_run(rq.now, rq.wall, launch);
    }

    /// The session key a node event names, canonical (`loadGatewaySessionEntry`).
    fn node_session_key(&self, key: &str) -> String {
        let agent = self.config.session_defaults.default_agent_id.clone();
        self.canonical_key_for(key, &agent)
    }

    fn voice_transcript(&mut self, rq: &Req, obj: &Map<String, Value>) {
        let Some(text) = text_field(obj, "text") else { return };
        if text.chars().count() > MAX_MESSAGE_CHARS {
            return;
        }
        let main = self.config.session_defaults.main_key.clone();
        let key = self.node_session_key(text_field(obj, "sessionKey").unwrap_or(&main));
        let fingerprint = voice_fingerprint(obj, text);
        if self.node_events.voice_is_duplicate(rq.now, &key, &fingerprint) {
            return;
        }
        let run = RunId(self.ids.uuid());
        self.node_run(rq, run, key, text.to_owned(), Some("low".to_owned()), None);
    }

    fn agent_request(&mut self, rq: &Req, node_id: &str, obj: &Map<String, Value>) {
        let own = format!("node-{node_id}");
        let key = self.node_session_key(text_field(obj, "sessionKey").unwrap_or(&own));
        let message = obj.get("message").and_then(Value::as_str).unwrap_or_default().trim();
        if message.is_empty() || message.chars().count() > MAX_MESSAGE_CHARS {
            return;
        }
        let thinking = obj.get("thinking").and_then(Value::as_str).map(str::to_owned);
        let timeout = obj.get("timeoutSeconds").and_then(Value::as_f64).filter(|t| t.is_finite() && *t >= 0.0).map(Duration::from_secs_f64);
        // The reference's run id is the session's id.
        let agent = self.config.session_defaults.default_agent_id.clone();
        let session_id = self.touch_session(&key, &agent, rq.wall);
        self.node_run(rq, RunId(session_id), key, message.to_owned(), thinking, timeout);
    }

    fn exec_event(&mut self, rq: &Req, conn: ConnId, node_id: &str, event: &str, obj: &Map<String, Value>) -> Option<Value> {
        let raw_key = text_field(obj, "sessionKey").map_or_else(|| format!("node-{node_id}"), str::to_owned);
        let run_id = text_field(obj, "runId").unwrap_or_default().to_owned();
        let terminal = event != "exec.started";
        if !self.node_events.take_exec(rq.now, node_id, conn, &run_id, &raw_key, terminal) {
            return Some(verdict(event, false, "unmatched_exec_event"));
        }
        if obj.get("suppressNotifyOnExit") == Some(&Value::Bool(true)) || event == "exec.denied" {
            return None;
        }
        let key = self.node_session_key(&raw_key);
        let id = if run_id.is_empty() { String::new() } else { format!(" id={run_id}") };
        let text = if event == "exec.started" {
            let mut text = format!("Exec started (node={node_id}{id})");
            if let Some(command) = text_field(obj, "command") {
                text.push_str(&format!(": {command}"));
            }
            text
        } else {
            let timed_out = obj.get("timedOut") == Some(&Value::Bool(true));
            let exit = obj.get("exitCode").and_then(Value::as_f64).filter(|f| f.is_finite());
            let output = compact_text(text_field(obj, "output").unwrap_or_default(), MAX_EXEC_OUTPUT_CHARS);
            if !(timed_out || exit != Some(0.0) || !output.is_empty()) {
                return None;
            }
            if !run_id.is_empty() && self.node_events.exec_finished_is_duplicate(rq.now, &key, &run_id) {
                return None;
            }
            let label = match exit {
                _ if timed_out => "timeout".to_owned(),
                Some(code) => format!("code {}", js_number(code)),
                None => "code ?".to_owned(),
            };
            let mut text = format!("Exec finished (node={node_id}{id}, {label})");
            if !output.is_empty() {
                text.push('\n');
                text.push_str(&output);
            }
            text
        };
        self.queue_system_event(&text);
        None
    }

    fn host_stats(&mut self, rq: &Req, conn: ConnId, node_id: &str, event: &str, obj: Option<Map<String, Value>>) -> Value {
        let Some(mut stats) = obj.map(Value::Object).filter(valid_host_stats) else {
            return verdict(event, false, "invalid_payload");
        };
        stats["updatedAtMs"] = json!(rq.wall.0);
        let Some(session) = self.nodes.session_mut(conn) else { return verdict(event, false, "stale_connection") };
        session.host_stats = Some(stats.clone());
        let payload = json!({ "nodeId": node_id, "hostStats": stats });
        self.broadcast(EncodedEvent::new("node.hostStats", &payload, None, true), Audience::Operators(Scope::Read));
        verdict(event, true, "updated")
    }
}

/// A finite number as JavaScript prints it (`3`, not `3.0`).
fn js_number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}

/// `node.event`.
pub(crate) fn event(hub: &mut Hub, rq: Req, p: NodeEventParams) {
    // The current connection of a node with an approved surface, or PAIRING_CHANGED.
    let session = rq.caller.socket().and_then(|(conn, _)| hub.nodes.session(conn)).map(|s| (s.conn, s.node_id.clone()));
    let current = session.filter(|(conn, node_id)| {
        hub.nodes.by_node_id(node_id).map(|s| s.conn) == Some(*conn) && surface_approved(hub, node_id)
    });
    let Some((conn, node_id)) = current else {
        return hub.respond_err(&rq.caller, &pairing_changed());
    };
    let text = p.payload_json.clone().or_else(|| p.payload.as_ref().map(Value::to_string));
    let obj = payload_object(text.as_deref());
    let event = p.event.as_str();
    let answer = match event {
        "voice.transcript" => {
            if let Some(obj) = &obj {
                hub.voice_transcript(&rq, obj);
            }
            None
        }
        "agent.request" => {
            if let Some(obj) = &obj {
                hub.agent_request(&rq, &node_id, obj);
            }
            None
        }
        "chat.subscribe" | "chat.unsubscribe" => {
            if let Some(key) = obj.as_ref().and_then(|o| text_field(o, "sessionKey")) {
                let key = hub.node_session_key(key);
                if event == "chat.subscribe" {
                    hub.node_events.subscribe(conn, &key);
                } else {
                    hub.node_events.unsubscribe(conn, &key);
                }
            }
            None
        }
        "exec.started" | "exec.finished" | "exec.denied" => match &obj {
            Some(obj) => hub.exec_event(&rq, conn, &node_id, event, obj),
            None => None,
        },
        "node.host.stats" => Some(hub.host_stats(&rq, conn, &node_id, event, obj)),
        _ => Some(verdict(event, false, "unsupported_event")),
    };
    hub.respond_ok(&rq.caller, &answer.unwrap_or_else(|| json!({ "ok": true })));
    hub.sync_timers();
}

/// `NodeHostStatsPayloadSchema`: cpuCount 1..4096, memory totals, optional disk and load.
fn valid_host_stats(v: &Value) -> bool {
    let Some(o) = v.as_object() else { return false };
    let allowed = ["cpuCount", "loadAverage", "memoryTotalBytes", "memoryFreeBytes", "diskTotalBytes", "diskAvailableBytes"];
    let int = |k: &str| o.get(k).is_none_or(|x| x.as_u64().is_some());
    o.keys().all(|k| allowed.contains(&k.as_str()))
        && o.get("cpuCount").and_then(Value::as_u64).is_some_and(|n| (1..=4096).contains(&n))
        && o.get("memoryTotalBytes").is_some_and(Value::is_u64)
        && o.get("memoryFreeBytes").is_some_and(Value::is_u64)
        && int("diskTotalBytes")
        && int("diskAvailableBytes")
        && o.get("loadAverage").is_none_or(|l| l.as_array().is_some_and(|a| a.len() == 3 && a.iter().all(|x| x.as_f64().is_some_and(|f| (0.0..=100_000.0).contains(&f)))))
}
