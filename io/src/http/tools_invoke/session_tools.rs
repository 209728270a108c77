//! The session tools `POST /tools/invoke` serves, answered from the hub's own methods
//! (`sessions.list`, `chat.history`) and shaped as the reference's tool results (2026.9.6):
//! - `sessions_list {limit?, activeMinutes?}` → `{count, sessions:[…], hasMore, limitApplied}`;
//! - `sessions_history {sessionKey, limit?}` → `{sessionKey, messages, truncated}`, or
//!   `{status:"error", error:"Session not found: …"}` for a session the gateway does not have;
//! - `agents_list {}` → `{requester, allowAny, agents:[{id, configured, model}]}`.

use openclaw_core::methods::MethodCall;
use openclaw_core::wire::chat::ChatHistoryParams;
use openclaw_core::wire::frames::ErrorShape;
use openclaw_core::wire::hello::SessionDefaults;
use openclaw_core::wire::sessions::SessionsListParams;
use openclaw_core::CallerEvent;
use serde_json::{json, Map, Value};

use super::Refusal;
use crate::callers::HubHandle;
use crate::http::openai::operator_scopes;
use crate::http::HttpError;
use crate::settings::Settings;

/// `sessions_list` rows when the caller names no `limit` (the reference's `limitApplied`).
const DEFAULT_LIST_LIMIT: u32 = 100;

/// What a tool runs with.
pub(super) struct Context<'a> {
    pub hub: &'a HubHandle,
    pub settings: &'a Settings,
    /// The request's `sessionKey` (absent: the main session).
    pub session_key: Option<&'a str>,
}

type ToolResult = Result<Result<Value, Refusal>, HttpError>;

/// Runs `tool` if it is one of these; `None` for any other name.
pub(super) async fn run(ctx: &Context<'_>, tool: &str, args: &Map<String, Value>) -> Option<ToolResult> {
    Some(match tool {
        "sessions_list" => sessions_list(ctx, args).await,
        "sessions_history" => sessions_history(ctx, args).await,
        "agents_list" => Ok(Ok(agents_list(ctx))),
        _ => return None,
    })
}

/// One method call on the hub, answered in one response.
async fn call(hub: &HubHandle, method: MethodCall) -> Result<Result<Value, ErrorShape>, HttpError> {
    let mut stream = hub.call(hub.http_caller(), operator_scopes(), method).await.map_err(|_| HttpError::Unavailable)?;
    match stream.next().await {
        Some(CallerEvent::Response(answer)) => Ok(answer),
        Some(CallerEvent::Run { .. } | CallerEvent::Final { .. }) | None => Err(HttpError::Unavailable),
    }
}

/// A positive integer argument; present but anything else is the tool's error.
fn positive(args: &Map<String, Value>, name: &str) -> Result<Option<u64>, Refusal> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64().filter(|n| *n > 0) {
            Some(n) => Ok(Some(n)),
            None => Err(Refusal::ToolError(format!("{name} must be a positive integer"))),
        },
    }
}

fn main_key() -> String {
    let d = SessionDefaults::default();
    format!("agent:{}:{}", d.default_agent_id, d.main_key)
}

/// The stored key a caller's key names (as the hub canonicalises: lowercase, `main` is the
/// main session, a bare key belongs to the default agent).
fn canonical_key(raw: &str) -> String {
    let d = SessionDefaults::default();
    let key = raw.trim().to_lowercase();
    if key.starts_with("agent:") || key == "global" || key == "unknown" {
        key
    } else if key == "main" || key == d.main_key {
        main_key()
    } else {
        format!("agent:{}:{key}", d.default_agent_id)
    }
}

fn agent_of(key: &str) -> String {
    let mut parts = key.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("agent"), Some(id), Some(_)) if !id.is_empty() => id.to_owned(),
        _ => SessionDefaults::default().default_agent_id,
    }
}

/// All sessions the hub lists with these params (the `sessions` array of `sessions.list`).
async fn list(hub: &HubHandle, params: SessionsListParams) -> Result<Result<Vec<Value>, Refusal>, HttpError> {
    Ok(match call(hub, MethodCall::SessionsList(params)).await? {
        Ok(v) => Ok(v["sessions"].as_array().cloned().unwrap_or_default()),
        Err(e) => Err(Refusal::ToolError(e.message)),
    })
}

async fn sessions_list(ctx: &Context<'_>, args: &Map<String, Value>) -> ToolResult {
    let (limit, active) = match (positive(args, "limit"), positive(args, "activeMinutes")) {
        (Ok(l), Ok(a)) => (l.map_or(DEFAULT_LIST_LIMIT, |l| l.min(u64::from(u32::MAX - 1)) as u32), a),
        (Err(r), _) | (_, Err(r)) => return Ok(Err(r)),
    };
    // One more than asked tells whether there are more.
    let params = SessionsListParams { limit: Some(limit + 1), active_minutes: active, ..SessionsListParams::default() };
    let mut rows = match list(ctx.hub, params).await? {
        Ok(rows) => rows,
        Err(r) => return Ok(Err(r)),
    };
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let main = main_key();
    let sessions: Vec<Value> = rows
        .iter()
        .map(|row| {
            let key = row["key"].as_str().unwrap_or_default();
            let kind = if key == main { "main" } else { row["kind"].as_str().unwrap_or("direct") };
            json!({
                "key": key, "sessionId": row["sessionId"], "agentId": agent_of(key), "kind": kind,
                "channel": "unknown", "archived": false, "pinned": false, "updatedAt": row["updatedAt"],
                "model": row["model"], "totalTokens": row["totalTokens"], "abortedLastRun": row["abortedLastRun"],
            })
        })
        .collect();
    Ok(Ok(json!({ "count": sessions.len(), "sessions": sessions, "hasMore": has_more, "limitApplied": limit })))
}

async fn sessions_history(ctx: &Context<'_>, args: &Map<String, Value>) -> ToolResult {
    let Some(raw) = args.get("sessionKey").and_then(Value::as_str).map(str::trim).filter(|k| !k.is_empty()) else {
        return Ok(Err(Refusal::ToolError("sessionKey required".into())));
    };
    let limit = match positive(args, "limit") {
        Ok(l) => l.map(|l| l.min(1000) as u32),
        Err(r) => return Ok(Err(r)),
    };
    let key = canonical_key(raw);
    if key != main_key() {
        let params = SessionsListParams {
            search: Some(key.clone()),
            include_global: Some(true),
            include_unknown: Some(true),
            ..SessionsListParams::default()
        };
        let rows = match list(ctx.hub, params).await? {
            Ok(rows) => rows,
            Err(r) => return Ok(Err(r)),
        };
        if !rows.iter().any(|r| r["key"] == key.as_str()) {
            let error = format!("Session not found: {raw} (use the full sessionKey from sessions_list)");
            return Ok(Ok(json!({ "status": "error", "error": error })));
        }
    }
    let params = ChatHistoryParams { session_key: key, limit, ..ChatHistoryParams::default() };
    Ok(match call(ctx.hub, MethodCall::ChatHistory(Box::new(params))).await? {
        Ok(v) => Ok(json!({ "sessionKey": raw, "messages": v["messages"].clone(), "truncated": false })),
        Err(e) => Err(Refusal::ToolError(e.message)),
    })
}

fn agents_list(ctx: &Context<'_>) -> Value {
    let requester = agent_of(&canonical_key(ctx.session_key.unwrap_or("main")));
    let model = ctx.settings.agent.model.as_ref().map(|m| format!("{}/{}", m.primary.provider, m.primary.model));
    let agents: Vec<Value> = crate::http::openai::agents()
        .into_iter()
        .map(|id| {
            let mut agent = json!({ "id": id, "configured": true });
            if let Some(model) = &model {
                agent["model"] = json!(model);
            }
            agent
        })
        .collect();
    json!({ "requester": requester, "allowAny": false, "agents": agents })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_canonical_as_the_hub_stores_them() {
        assert_eq!(canonical_key("main"), "agent:main:main");
        assert_eq!(canonical_key(" Foo "), "agent:main:foo");
        assert_eq!(canonical_key("agent:ops:x"), "agent:ops:x");
        assert_eq!(agent_of("agent:ops:x"), "ops");
        assert_eq!(agent_of("global"), "main");
    }

    #[test]
    fn integer_arguments_must_be_positive() {
        let args = |v: Value| v.as_object().cloned().unwrap();
        assert_eq!(positive(&args(json!({})), "limit"), Ok(None));
        assert_eq!(positive(&args(json!({"limit": 3})), "limit"), Ok(Some(3)));
        for bad in [json!({"limit": 0}), json!({"limit": "x"}), json!({"limit": -1}), json!({"limit": 1.5})] {
            assert_eq!(positive(&args(bad), "limit"), Err(Refusal::ToolError("limit must be a positive integer".into())));
        }
    }
}
