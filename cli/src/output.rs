//! Rendering of client command results: human text by default, stable JSON with `--json`.
//!
//! With `--json`, stdout carries exactly one pretty-printed JSON document: the payload on
//! success, `{"ok":false,"error":{"type","code","message","details","retryable"}}` on failure
//! (the reference CLI's shape, reference-facts.md §8). Human errors go to stderr.

use std::fmt::Write as _;

use openclaw_io::client::ClientError;
use serde_json::{json, Value};

use crate::client_cmd::{ErrorReport, Probe};
use crate::config::ConfigError;

/// A successful client command's result.
#[derive(Debug)]
pub enum Report {
    Call(Value),
    GatewayHealth(Value),
    Health(Value),
    /// The final `agent` payload.
    Agent(Value),
    /// The `sessions.list` result.
    Sessions(Value),
    /// `openclaw status`.
    Overview(Box<crate::status_cmd::Overview>),
    /// A result with its human form (`channels status`, `message send`).
    Text { json: Value, text: String },
    /// A result rendered by its command (`openclaw devices …`).
    Shaped(Shaped),
}

/// A command's own rendering of its result: the `--json` document (none: nothing on stdout),
/// the human text, what goes to stderr either way, and the exit code.
#[derive(Debug)]
pub struct Shaped {
    pub json: Option<Value>,
    pub text: String,
    pub stderr: String,
    pub code: u8,
}

/// Why a client command failed.
#[derive(Debug)]
pub enum CallFailure {
    /// The command line is unusable (e.g. `--params` is not a JSON object).
    Usage(String),
    Config(ConfigError),
    /// The gateway refused, closed, timed out or was unreachable.
    Gateway(ClientError),
}

/// What to print where, and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
}

impl Report {
    pub fn render(&self, json: bool) -> Rendered {
        let stdout = match (self, json) {
            (Self::Call(v) | Self::GatewayHealth(v) | Self::Health(v), true) => pretty(v),
            (Self::Agent(v) | Self::Sessions(v), true) => pretty(v),
            (Self::Agent(v), false) => crate::agent_cmd::reply_text(v),
            (Self::Sessions(v), false) => crate::agent_cmd::sessions_text(v),
            (Self::Call(v), false) => pretty(v),
            (Self::GatewayHealth(v), false) => gateway_health_text(v),
            (Self::Health(v), false) => health_text(v),
            (Self::Overview(overview), true) => pretty(&overview.json()),
            (Self::Overview(overview), false) => overview.text(),
            (Self::Shaped(s), true) => s.json.as_ref().map(pretty).unwrap_or_default(),
            (Self::Shaped(s), false) => s.text.clone(),
            (Self::Text { json, .. }, true) => pretty(json),
            (Self::Text { text, .. }, false) => text.clone(),
        };
        if let Self::Shaped(s) = self {
            return Rendered { stdout, stderr: s.stderr.clone(), code: s.code };
        }
        Rendered {
            stdout,
            stderr: String::new(),
            code: 0,
        }
    }
}

impl CallFailure {
    /// The `{"ok":false,"error":…}` document and the human line of this failure.
    pub fn render(&self, json: bool, command: &str) -> Rendered {
        let report = match self {
            Self::Usage(message) => ErrorReport::local("cli_error", message.clone()),
            Self::Config(e) => ErrorReport::local("config_error", e.to_string()),
            Self::Gateway(e) => ErrorReport::from(e),
        };
        let human = match &report.code {
            Some(code) => format!("{command} failed: {code}: {}", report.message),
            None => format!("{command} failed: {}", report.message),
        };
        let mut stderr = human + "\n";
        let detail = report
            .details
            .as_ref()
            .and_then(|d| d.get("code"))
            .and_then(Value::as_str);
        if let Some(detail) = detail {
            let _ = writeln!(stderr, "  detail: {detail}");
        }
        if matches!(self, Self::Gateway(ClientError::Connect(_))) {
            let cli = crate::service::Names::for_profile(std::env::var("OPENCLAW_PROFILE").ok().as_deref()).cli();
            let _ = writeln!(
                stderr,
                "  Is the gateway running? Start it with `{cli} gateway` (or `{cli} gateway start` \
                 when installed as a service); diagnose with `{cli} gateway status`."
            );
        }
        let stdout = if json {
            pretty(&json!({ "ok": false, "error": error_json(&report) }))
        } else {
            String::new()
        };
        // A command line we cannot use is exit 2, as clap's own errors (README: exit codes).
        let code = if matches!(self, Self::Usage(_)) { 2 } else { 1 };
        Rendered { stdout, stderr, code }
    }
}

fn pretty(value: &Value) -> String {
    // Serialising a `Value` cannot fail.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// "Gateway Health" / "OK (Nms)" / one line per channel (reference-facts §4.3).
fn gateway_health_text(health: &Value) -> String {
    let ok = health.get("ok").and_then(Value::as_bool).unwrap_or(false);
    let mut out = String::from("Gateway Health\n");
    let status = if ok { "OK" } else { "DEGRADED" };
    match health.get("durationMs").and_then(Value::as_u64) {
        Some(ms) => {
            let _ = writeln!(out, "{status} ({ms}ms)");
        }
        None => {
            let _ = writeln!(out, "{status}");
        }
    }
    if let Some(channels) = health.get("channels").and_then(Value::as_object) {
        for (name, channel) in channels {
            let state = channel
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("configured");
            let _ = writeln!(out, "{name}: {state}");
        }
    }
    out
}

/// The `openclaw health` summary: probe duration, agents, heartbeat, session stores.
fn health_text(health: &Value) -> String {
    let mut out = String::new();
    let ok = health.get("ok").and_then(Value::as_bool).unwrap_or(false);
    let _ = writeln!(out, "Gateway: {}", if ok { "ok" } else { "degraded" });
    if let Some(ms) = health.get("durationMs").and_then(Value::as_u64) {
        let _ = writeln!(out, "Gateway probe duration: {ms}ms");
    }
    let agents = health
        .get("agents")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !agents.is_empty() {
        let names: Vec<String> = agents
            .iter()
            .map(|a| {
                let id = a.get("agentId").and_then(Value::as_str).unwrap_or("?");
                let default = a.get("isDefault").and_then(Value::as_bool).unwrap_or(false);
                if default {
                    format!("{id} (default)")
                } else {
                    id.to_owned()
                }
            })
            .collect();
        let _ = writeln!(out, "Agents: {}", names.join(", "));
    }
    for agent in &agents {
        let id = agent.get("agentId").and_then(Value::as_str).unwrap_or("?");
        let every = agent
            .pointer("/heartbeat/every")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let _ = writeln!(out, "Heartbeat interval: {every} ({id})");
    }
    for agent in &agents {
        let id = agent.get("agentId").and_then(Value::as_str).unwrap_or("?");
        if let Some(sessions) = agent.get("sessions") {
            let _ = writeln!(out, "Session store ({id}): {}", store_line(sessions));
        }
    }
    if agents.is_empty() {
        if let Some(sessions) = health.get("sessions") {
            let _ = writeln!(out, "Session store: {}", store_line(sessions));
        }
    }
    out
}

fn store_line(sessions: &Value) -> String {
    let path = sessions.get("path").and_then(Value::as_str).unwrap_or("?");
    let count = sessions.get("count").and_then(Value::as_u64).unwrap_or(0);
    format!("{path} ({count} entries)")
}

/// `{ok, kind, capability, url, auth?, server?, version?}` of a probe.
pub(crate) fn probe_rpc_json(probe: &Probe, error: Option<&str>) -> Value {
    let mut rpc = json!({
        "ok": error.is_none(),
        "kind": "connect",
        "capability": probe.capability(),
        "url": probe.url,
    });
    if let Some(role) = &probe.role {
        rpc["auth"] =
            json!({ "role": role, "scopes": probe.scopes, "capability": probe.capability() });
    }
    if let Some(version) = &probe.version {
        rpc["server"] = json!({ "version": version, "connId": probe.conn_id });
        rpc["version"] = json!(version);
    }
    rpc
}

/// `{"type","code","message"[,"details"],"retryable"}`, in the reference's key order.
pub(crate) fn error_json(report: &ErrorReport) -> Value {
    let mut error = json!({ "type": report.kind, "code": report.code, "message": report.message });
    if let Some(details) = &report.details {
        error["details"] = details.clone();
    }
    error["retryable"] = json!(report.retryable);
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_health_text_matches_the_reference_layout() {
        let text = gateway_health_text(&json!({"ok": true, "durationMs": 8, "channels": {}}));
        assert_eq!(text, "Gateway Health\nOK (8ms)\n");
    }

    #[test]
    fn health_summary_lists_agents_and_stores() {
        let health = json!({
            "ok": true, "durationMs": 3,
            "agents": [{"agentId": "main", "isDefault": true,
                        "heartbeat": {"every": "30m"},
                        "sessions": {"path": "/s.sqlite", "count": 2, "recent": []}}],
            "sessions": {"path": "/s.sqlite", "count": 2, "recent": []}
        });
        assert_eq!(
            health_text(&health),
            "Gateway: ok\nGateway probe duration: 3ms\nAgents: main (default)\n\
             Heartbeat interval: 30m (main)\nSession store (main): /s.sqlite (2 entries)\n"
        );
    }

    #[test]
    fn usage_failure_as_json() {
        let r = CallFailure::Usage("bad".into()).render(true, "Gateway call");
        assert_eq!(r.code, 2, "a bad command line is exit 2");
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(
            v,
            json!({"ok": false, "error": {"type": "cli_error", "code": null, "message": "bad", "retryable": false}})
        );
        assert_eq!(r.stderr, "Gateway call failed: bad\n");
    }
}
