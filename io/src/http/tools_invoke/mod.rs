//! `POST /tools/invoke` (http.md §4, always on): run one tool by name, outside any agent
//! run, with the gateway's auth.
//!
//! Body `{tool (alias name), action?, args?, sessionKey?, dryRun?}`. Answers, as the
//! reference (2026.9.6) does:
//! - `200 {"ok":true,"result":{"content":[{"type":"text","text":…}],"details":…}}`;
//! - `400 {"ok":false,"error":{"type":"invalid_request","message":"tools.invoke requires name"}}`
//!   when `tool` is missing, empty or not a string (also for an empty or non-object body);
//! - `404 {"ok":false,"error":{"type":"not_found","message":"Tool not available: <name>"}}` for
//!   a tool that does not exist or that policy filters ([`policy`]);
//! - `400 {"ok":false,"error":{"type":"tool_error","message":…}}` when the tool refuses its
//!   input;
//! - the router's answers otherwise: `401`/`429` auth, `405` (`Allow: POST`), `413` over 2 MiB,
//!   `408`, and `400` for a body that is not JSON (the OpenAI envelope, as the reference).
//!
//! The tools: `sessions_list`, `sessions_history`, `agents_list` ([`session_tools`]) and,
//! only when `gateway.tools.allow` names them, the workspace tools `read`, `write`, `edit`,
//! `ls`. `action` is merged into `args.action` only for tools whose parameters have an
//! `action` (none of these do); `dryRun` is ignored.

mod policy;
mod session_tools;

use bytes::Bytes;
use hyper::{Method, StatusCode};
use openclaw_core::wire::agent::ToolCall;
use serde_json::{json, Map, Value};

use super::{respond, HandlerResult, HttpRequest, Route, RouteAuth, JSON};
use crate::agent::tools::Tools;

/// `POST /tools/invoke` bodies: 2 MiB (the reference's limit).
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The route (always present).
pub(crate) fn routes() -> Vec<Route> {
    vec![Route::new("/tools/invoke", &[Method::POST], handle).auth(RouteAuth::Gateway).body_limit(BODY_LIMIT)]
}

/// A parsed request.
#[derive(Debug, PartialEq)]
struct Invoke {
    /// Canonical tool name.
    tool: String,
    args: Map<String, Value>,
    /// `sessionKey`; absent or `"main"` means the main session.
    session_key: Option<String>,
}

/// Why the request cannot run a tool; rendered by [`refusal`].
#[derive(Debug, PartialEq)]
enum Refusal {
    /// No usable `tool` name.
    NoName,
    /// Unknown or filtered by policy.
    NotAvailable(String),
    /// The tool refused its input.
    ToolError(String),
}

fn parse(body: &Value) -> Result<Invoke, Refusal> {
    let name = ["tool", "name"].iter().find_map(|k| body.get(*k).and_then(Value::as_str)).map(str::trim);
    let tool = name.filter(|n| !n.is_empty()).map(policy::canonical).ok_or(Refusal::NoName)?;
    let args = body.get("args").and_then(Value::as_object).cloned().unwrap_or_default();
    let session_key = body.get("sessionKey").and_then(Value::as_str).map(str::trim).filter(|k| !k.is_empty());
    Ok(Invoke { tool, args, session_key: session_key.map(str::to_owned) })
}

async fn handle(req: HttpRequest) -> HandlerResult {
    let HttpRequest { body, shared, .. } = req;
    let bytes = body.bytes().await?;
    // An empty body reads as `{}` (the reference answers "requires name", not a parse error).
    let body: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&bytes).map_err(|e| super::HttpError::BadRequest(e.to_string()))?
    };
    let outcome = match parse(&body) {
        Err(r) => Err(r),
        Ok(invoke) => run(&shared, invoke).await?,
    };
    Ok(match outcome {
        Ok(details) => ok(details),
        Err(r) => refusal(&r),
    })
}

/// Runs an allowed tool; the outer error is the gateway's (503 while stopping), the inner
/// one the caller's.
async fn run(shared: &crate::server::Shared, invoke: Invoke) -> Result<Result<Value, Refusal>, super::HttpError> {
    let settings = shared.settings.load_full();
    let not_available = || Refusal::NotAvailable(invoke.tool.clone());
    if !policy::allowed(&invoke.tool, &settings.gateway.http_tools, &settings.agent.tools) {
        return Ok(Err(not_available()));
    }
    let ctx = session_tools::Context { hub: &shared.hub_handle, settings: &settings, session_key: invoke.session_key.as_deref() };
    if let Some(result) = session_tools::run(&ctx, &invoke.tool, &invoke.args).await {
        return result;
    }
    // The workspace tools, when a workspace is configured.
    let tools = Tools::new(settings.agent.workspace.as_deref(), &settings.agent.tools);
    if !tools.specs().iter().any(|s| s.name == invoke.tool) {
        return Ok(Err(not_available()));
    }
    let call = ToolCall { id: format!("http-{}", crate::clock::wall().0), name: invoke.tool, args: Value::Object(invoke.args) };
    let (text, is_error) = tokio::task::spawn_blocking(move || tools.run(&call))
        .await
        .map_err(|e| super::HttpError::Upstream(format!("tool task failed: {e}")))?;
    Ok(if is_error { Err(Refusal::ToolError(text)) } else { Ok(Value::String(text)) })
}

/// `200 {"ok":true,"result":{content,details}}`: the text content is the details as
/// indented JSON (or the text itself when the tool produced text).
fn ok(details: Value) -> hyper::Response<super::Body> {
    let text = details.as_str().map_or_else(|| serde_json::to_string_pretty(&details).unwrap_or_default(), str::to_owned);
    let mut result = json!({ "content": [{ "type": "text", "text": text }] });
    if !details.is_string() {
        result["details"] = details;
    }
    let body = json!({ "ok": true, "result": result });
    respond(StatusCode::OK, JSON, Bytes::from(body.to_string()))
}

fn refusal(r: &Refusal) -> hyper::Response<super::Body> {
    let (status, kind, message) = match r {
        Refusal::NoName => (StatusCode::BAD_REQUEST, "invalid_request", "tools.invoke requires name".to_owned()),
        Refusal::NotAvailable(name) => (StatusCode::NOT_FOUND, "not_found", format!("Tool not available: {name}")),
        Refusal::ToolError(message) => (StatusCode::BAD_REQUEST, "tool_error", message.clone()),
    };
    let body = json!({ "ok": false, "error": { "type": kind, "message": message } });
    respond(status, JSON, Bytes::from(body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tool_name_is_required_and_canonical() {
        assert_eq!(parse(&json!({})), Err(Refusal::NoName));
        assert_eq!(parse(&json!([])), Err(Refusal::NoName));
        assert_eq!(parse(&json!({"tool": 5})), Err(Refusal::NoName));
        assert_eq!(parse(&json!({"tool": "  "})), Err(Refusal::NoName));
        let i = parse(&json!({"name": "Sessions_List", "args": "x", "sessionKey": " main "})).unwrap();
        assert_eq!(i, Invoke { tool: "sessions_list".into(), args: Map::new(), session_key: Some("main".into()) });
        let i = parse(&json!({"tool": "cron", "args": {"a": 1}})).unwrap();
        assert_eq!((i.tool.as_str(), i.args.len()), ("automations", 1));
    }
}
