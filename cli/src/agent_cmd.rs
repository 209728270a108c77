//! `openclaw agent` (one turn through the gateway, waiting for the final result) and
//! `openclaw sessions list`.

use std::io::IsTerminal;

use serde_json::{json, Value};

use crate::args::{AgentArgs, ClientArgs};
use crate::client_cmd::Target;
use crate::output::{CallFailure, Report};

/// `agent` needs `operator.write`; `/new` and `/reset` need admin, which a local CLI may ask for.
const AGENT_SCOPES: &[&str] = &["operator.admin"];
const READ_SCOPES: &[&str] = &["operator.read"];
/// Connecting (not the run, which has no client-side bound, like the reference's expectFinal).
const CONNECT_TIMEOUT_MS: u64 = 10_000;

pub async fn agent(args: &AgentArgs) -> Result<Report, CallFailure> {
    if args.message.trim().is_empty() {
        return Err(CallFailure::Usage("--message must not be empty".into()));
    }
    // As the reference: the session is chosen explicitly (a gateway given none of these would
    // open a fresh `explicit:` session per run).
    if args.to.is_none() && args.session_key.is_none() && args.session_id.is_none() && args.agent.is_none() {
        return Err(CallFailure::Usage(
            "No target session selected. Use --agent <id>, --session-key <key>, --session-id <id>, or --to <E.164>."
                .into(),
        ));
    }
    let client_args = ClientArgs {
        url: args.url.clone(),
        token: args.token.clone(),
        password: args.password.clone(),
        json: args.json,
        timeout: CONNECT_TIMEOUT_MS,
    };
    let target = Target::resolve(&client_args).map_err(CallFailure::Config)?;
    let idempotency_key = run_key().map_err(|e| CallFailure::Usage(format!("no randomness for a run id: {e}")))?;
    let mut params = json!({ "message": args.message, "idempotencyKey": idempotency_key });
    let optional = [
        ("to", &args.to),
        ("sessionKey", &args.session_key),
        ("sessionId", &args.session_id),
        ("agentId", &args.agent),
        ("model", &args.model),
        ("thinking", &args.thinking),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            params[name] = json!(v);
        }
    }
    if let Some(t) = args.timeout {
        params["timeout"] = json!(t);
    }
    let (mut client, _hello) =
        crate::client_cmd::connect(target.options("cli", AGENT_SCOPES)).await.map_err(CallFailure::Gateway)?;
    let progress = !args.json && std::io::stderr().is_terminal();
    if progress {
        eprint!("waiting for the agent…\r");
    }
    let result = client.call_final("agent", params, None).await;
    if progress {
        eprint!("\x1b[2K\r");
    }
    client.close().await;
    result.map(Report::Agent).map_err(CallFailure::Gateway)
}

pub async fn sessions_list(args: &ClientArgs) -> Result<Report, CallFailure> {
    let target = Target::resolve(args).map_err(CallFailure::Config)?;
    let (mut client, _hello) =
        crate::client_cmd::connect(target.options("cli", READ_SCOPES)).await.map_err(CallFailure::Gateway)?;
    let result = client.call("sessions.list", json!({})).await;
    client.close().await;
    result.map(Report::Sessions).map_err(CallFailure::Gateway)
}

/// The reply texts of a final `agent` payload, one per line.
pub fn reply_text(payload: &Value) -> String {
    let mut out = String::new();
    for p in payload.pointer("/result/payloads").and_then(Value::as_array).into_iter().flatten() {
        if let Some(text) = p.get("text").and_then(Value::as_str) {
            out.push_str(text);
            out.push('\n');
        }
    }
    if out.is_empty() {
        out.push_str("(no reply)\n");
    }
    out
}

/// `sessions.list` as a table: key, age of the last update, tokens, model.
pub fn sessions_text(list: &Value) -> String {
    let rows = list.get("sessions").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut out = format!("Sessions: {} ({})\n", rows.len(), list["path"].as_str().unwrap_or("?"));
    if rows.is_empty() {
        return out;
    }
    let now = list["ts"].as_u64().unwrap_or(0);
    out.push_str(&format!("{:<40} {:>10} {:>8}  {}\n", "KEY", "UPDATED", "TOKENS", "MODEL"));
    for r in rows {
        let age = now.saturating_sub(r["updatedAt"].as_u64().unwrap_or(0)) / 1000;
        let ago = match age {
            0..=59 => format!("{age}s ago"),
            60..=3599 => format!("{}m ago", age / 60),
            3600..=86_399 => format!("{}h ago", age / 3600),
            _ => format!("{}d ago", age / 86_400),
        };
        let model = match (r["modelProvider"].as_str(), r["model"].as_str()) {
            (Some(p), Some(m)) => format!("{p}/{m}"),
            _ => "-".into(),
        };
        let key = r["key"].as_str().unwrap_or("?");
        out.push_str(&format!("{key:<40} {ago:>10} {:>8}  {model}\n", r["totalTokens"].as_u64().unwrap_or(0)));
    }
    out
}

/// A fresh UUID-shaped run id.
pub(crate) fn run_key() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        let p = json!({"result":{"payloads":[{"text":"a"},{"text":"b","mediaUrl":null}]}});
        assert_eq!(reply_text(&p), "a\nb\n");
        let list = json!({"ts": 120_000, "path": "/x", "sessions": [
            {"key":"agent:main:main","updatedAt": 0,"totalTokens": 7,"modelProvider":"p","model":"m"}]});
        let t = sessions_text(&list);
        assert!(t.contains("agent:main:main") && t.contains("2m ago") && t.contains("p/m"), "{t}");
        assert_eq!(run_key().unwrap().len(), 36);
    }
}
