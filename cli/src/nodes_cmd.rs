//! `openclaw nodes pending|approve|reject|list|describe|invoke|rename|remove`: the `node.*`
//! methods through the running gateway, with `--json` output shaped like the reference CLI's
//! (`openclaw-2026.9.6-cli-nodes_{pending,approve,invoke}.json`): `pending` prints the pending
//! rows, `approve`, `reject` and `invoke` always print the gateway's answer as JSON, `list`
//! prints `{pending, paired}` with each paired row merged with its live `node.list` row.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::args::{ClientArgs, NodesAction};
use crate::client_cmd::Target;
use crate::output::{CallFailure, Report};

/// `node.pair.approve` of a surface with `system.run` needs `operator.admin`; admin covers
/// every `node.*` method (a local device-less CLI keeps the scopes it asks for).
const NODES_SCOPES: &[&str] = &["operator.admin"];

/// Does this command print JSON on stdout? (`approve`, `reject` and `invoke` always do, as
/// the reference's.)
pub fn wants_json(action: &NodesAction) -> bool {
    match action {
        NodesAction::Approve(_) | NodesAction::Reject(_) | NodesAction::Invoke(_) => true,
        NodesAction::Pending(c) => c.json,
        NodesAction::List(a) => a.client.json,
        NodesAction::Describe(a) | NodesAction::Remove(a) => a.client.json,
        NodesAction::Rename(a) => a.client.json,
    }
}

pub async fn run(action: NodesAction) -> Result<Report, CallFailure> {
    match action {
        NodesAction::Pending(client) => {
            let list = call(&client, "node.pair.list", json!({}), None).await?;
            let pending = list["pending"].clone();
            let text = pending_text(&pending);
            Ok(Report::Text { json: pending, text })
        }
        NodesAction::Approve(a) => {
            let answer = call(&a.client, "node.pair.approve", json!({ "requestId": a.request_id }), None).await?;
            Ok(Report::Text { text: pretty(&answer), json: answer })
        }
        NodesAction::Reject(a) => {
            let answer = call(&a.client, "node.pair.reject", json!({ "requestId": a.request_id }), None).await?;
            Ok(Report::Text { text: pretty(&answer), json: answer })
        }
        NodesAction::List(a) => {
            let (pairing, nodes) = calls2(&a.client, ("node.pair.list", json!({})), ("node.list", json!({}))).await?;
            let merged = merge_list(&pairing, &nodes, a.connected);
            let text = list_text(&merged);
            Ok(Report::Text { json: merged, text })
        }
        NodesAction::Describe(a) => {
            let node_id = resolve_node(&a.client, &a.node).await?;
            let row = call(&a.client, "node.describe", json!({ "nodeId": node_id }), None).await?;
            let text = describe_text(&row);
            Ok(Report::Text { json: row, text })
        }
        NodesAction::Invoke(a) => {
            if a.node.trim().is_empty() || a.command.trim().is_empty() {
                return Err(CallFailure::Usage("--node and --command required".into()));
            }
            let params: Value = serde_json::from_str(&a.params)
                .map_err(|e| CallFailure::Usage(format!("--params is not valid JSON: {e}")))?;
            if !params.is_object() {
                return Err(CallFailure::Usage("--params must be a JSON object".into()));
            }
            if a.invoke_timeout == 0 {
                return Err(CallFailure::Usage("--invoke-timeout must be a positive integer".into()));
            }
            if a.idempotency_key.as_deref() == Some("") {
                return Err(CallFailure::Usage("--idempotency-key must not be empty.".into()));
            }
            let node_id = resolve_node(&a.client, &a.node).await?;
            let key = match a.idempotency_key {
                Some(k) => k,
                None => crate::agent_cmd::run_key().map_err(|e| CallFailure::Usage(format!("no randomness for a key: {e}")))?,
            };
            let invoke = json!({
                "nodeId": node_id, "command": a.command.trim(), "params": params,
                "idempotencyKey": key, "timeoutMs": a.invoke_timeout,
            });
            // The gateway answers within the invoke timeout; wait a little longer than that.
            let wait = Duration::from_millis(a.invoke_timeout) + Duration::from_secs(5);
            let answer = call(&a.client, "node.invoke", invoke, Some(wait)).await?;
            Ok(Report::Text { text: pretty(&answer), json: answer })
        }
        NodesAction::Rename(a) => {
            let name = a.name.trim().to_owned();
            if name.is_empty() {
                return Err(CallFailure::Usage(
                    "--name must not be empty. Run openclaw nodes list to see paired nodes, then rerun with --name <displayName>."
                        .into(),
                ));
            }
            let node_id = resolve_node(&a.client, &a.node).await?;
            let answer = call(&a.client, "node.rename", json!({ "nodeId": node_id, "displayName": name }), None).await?;
            let text = format!("node rename ok: {node_id} -> {name}\n");
            Ok(Report::Text { json: answer, text })
        }
        NodesAction::Remove(a) => {
            let node_id = resolve_node(&a.client, &a.node).await?;
            let answer = call(&a.client, "node.pair.remove", json!({ "nodeId": node_id }), None).await?;
            let text = format!("Removed paired node {node_id}\n");
            Ok(Report::Text { json: answer, text })
        }
    }
}

/// One call on its own connection.
async fn call(args: &ClientArgs, method: &str, params: Value, wait: Option<Duration>) -> Result<Value, CallFailure> {
    let mut target = Target::resolve(args).map_err(CallFailure::Config)?;
    if let Some(wait) = wait {
        target.timeout = target.timeout.max(wait);
    }
    let (mut client, _hello) =
        crate::client_cmd::connect(target.options("cli", NODES_SCOPES)).await.map_err(CallFailure::Gateway)?;
    let result = client.call(method, params).await;
    client.close().await;
    result.map_err(CallFailure::Gateway)
}

/// Two calls on one connection.
async fn calls2(args: &ClientArgs, a: (&str, Value), b: (&str, Value)) -> Result<(Value, Value), CallFailure> {
    let target = Target::resolve(args).map_err(CallFailure::Config)?;
    let (mut client, _hello) =
        crate::client_cmd::connect(target.options("cli", NODES_SCOPES)).await.map_err(CallFailure::Gateway)?;
    let first = client.call(a.0, a.1).await;
    let second = match &first {
        Ok(_) => client.call(b.0, b.1).await,
        Err(_) => Ok(Value::Null),
    };
    client.close().await;
    Ok((first.map_err(CallFailure::Gateway)?, second.map_err(CallFailure::Gateway)?))
}

/// A node id from an id, a display name or an IP (`resolveCliNodeId`), through `node.list`.
async fn resolve_node(args: &ClientArgs, query: &str) -> Result<String, CallFailure> {
    let query = query.trim();
    if query.is_empty() {
        return Err(CallFailure::Usage("--node must not be empty".into()));
    }
    let list = call(args, "node.list", json!({}), None).await?;
    pick_node(&list, query).map_err(CallFailure::Usage)
}

/// The node `query` names in a `node.list` result.
fn pick_node(list: &Value, query: &str) -> Result<String, String> {
    let nodes = list["nodes"].as_array().cloned().unwrap_or_default();
    let id = |n: &Value| n["nodeId"].as_str().unwrap_or_default().to_owned();
    if let Some(n) = nodes.iter().find(|n| n["nodeId"] == query) {
        return Ok(id(n));
    }
    let q = query.to_lowercase();
    let by = |field: &str| -> Vec<String> {
        nodes.iter().filter(|n| n[field].as_str().is_some_and(|v| v.to_lowercase() == q)).map(id).collect()
    };
    for field in ["displayName", "remoteIp"] {
        match by(field).as_slice() {
            [one] => return Ok(one.clone()),
            [] => {}
            many => return Err(format!("node \"{query}\" is ambiguous: {}", many.join(", "))),
        }
    }
    let prefixed: Vec<String> = nodes.iter().map(id).filter(|i| q.len() >= 6 && i.starts_with(&q)).collect();
    match prefixed.as_slice() {
        [one] => Ok(one.clone()),
        [] if nodes.is_empty() => Ok(query.to_owned()),
        [] => Err(format!("unknown node: {query} (see openclaw nodes list)")),
        many => Err(format!("node \"{query}\" is ambiguous: {}", many.join(", "))),
    }
}

/// `nodes list --json`: pending rows, and paired rows merged with their live view
/// (`mergePairedNodesWithEffectiveNodes`).
fn merge_list(pairing: &Value, nodes: &Value, connected_only: bool) -> Value {
    let paired = pairing["paired"].as_array().cloned().unwrap_or_default();
    let live = nodes["nodes"].as_array().cloned().unwrap_or_default();
    let mut rows = Vec::new();
    let mut seen = Vec::new();
    for effective in &live {
        let node_id = effective["nodeId"].clone();
        let stored = paired.iter().find(|p| p["nodeId"] == node_id);
        if stored.is_none() && effective["paired"] != true {
            continue;
        }
        seen.push(node_id);
        let mut row: Map<String, Value> = stored.and_then(Value::as_object).cloned().unwrap_or_default();
        for (k, v) in effective.as_object().into_iter().flatten() {
            row.insert(k.clone(), v.clone());
        }
        let created = stored.map(|s| s["createdAtMs"].clone()).filter(|v| !v.is_null());
        match created {
            Some(c) => row.insert("createdAtMs".into(), c),
            None => row.remove("createdAtMs"),
        };
        let last = [&effective["lastConnectedAtMs"], stored.map_or(&Value::Null, |s| &s["lastConnectedAtMs"]), &effective["connectedAtMs"]]
            .into_iter()
            .find(|v| !v.is_null())
            .cloned();
        if let Some(last) = last {
            row.insert("lastConnectedAtMs".into(), last);
        }
        row.remove("token");
        rows.push(Value::Object(row));
    }
    for p in paired {
        if !seen.contains(&p["nodeId"]) {
            rows.push(p);
        }
    }
    if connected_only {
        rows.retain(|r| r["connected"] == true);
    }
    json!({ "pending": pairing["pending"].clone(), "paired": rows })
}

fn pending_text(pending: &Value) -> String {
    let rows = pending.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        return "No pending pairing requests.\n".into();
    }
    let mut out = format!("Pending: {}\n", rows.len());
    for r in rows {
        let _ = writeln!(
            out,
            "  {}  {} ({})  commands: {}  needs: {}",
            r["requestId"].as_str().unwrap_or("?"),
            r["displayName"].as_str().unwrap_or("-"),
            short_id(r["nodeId"].as_str().unwrap_or("?")),
            list_of(&r["commands"]),
            list_of(&r["requiredApproveScopes"]),
        );
    }
    out.push_str("Approve with: openclaw nodes approve <requestId>\n");
    out
}

fn list_text(merged: &Value) -> String {
    let pending = merged["pending"].as_array().cloned().unwrap_or_default();
    let paired = merged["paired"].as_array().cloned().unwrap_or_default();
    let mut out = format!("Pending: {} · Paired: {}\n", pending.len(), paired.len());
    for r in pending {
        let _ = writeln!(out, "  pending  {}  {}", r["requestId"].as_str().unwrap_or("?"), r["displayName"].as_str().unwrap_or("-"));
    }
    for r in paired {
        let state = if r["connected"] == true { "connected" } else { "offline" };
        let _ = writeln!(
            out,
            "  {:<9}  {}  {}  {}  caps: {}",
            state,
            short_id(r["nodeId"].as_str().unwrap_or("?")),
            r["displayName"].as_str().unwrap_or("-"),
            r["platform"].as_str().unwrap_or("-"),
            list_of(&r["caps"]),
        );
    }
    out
}

fn describe_text(row: &Value) -> String {
    let mut out = String::new();
    let field = |k: &str| row[k].as_str().map(str::to_owned).unwrap_or_else(|| "-".into());
    let _ = writeln!(out, "Node: {} ({})", field("displayName"), field("nodeId"));
    let _ = writeln!(out, "Platform: {}  Family: {}  Version: {}", field("platform"), field("deviceFamily"), field("version"));
    let _ = writeln!(out, "Connected: {}  Paired: {}  Approval: {}", row["connected"], row["paired"], field("approvalState"));
    let _ = writeln!(out, "Caps: {}", list_of(&row["caps"]));
    let _ = writeln!(out, "Commands: {}", list_of(&row["commands"]));
    out
}

fn list_of(v: &Value) -> String {
    let items: Vec<&str> = v.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

fn pretty(v: &Value) -> String {
    let mut text = serde_json::to_string_pretty(v).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> Value {
        json!({"ts": 1, "nodes": [
            {"nodeId": "5afe14fba4e6aa7d", "displayName": "vm", "remoteIp": "10.0.0.2", "paired": true, "connected": true,
             "caps": ["system"], "commands": ["system.which"], "connectedAtMs": 50, "approvedAtMs": 60},
            {"nodeId": "77aa00bb11cc22dd", "displayName": "Kitchen", "paired": true, "connected": false},
        ]})
    }

    #[test]
    fn nodes_are_found_by_id_name_ip_or_id_prefix() {
        assert_eq!(pick_node(&list(), "5afe14fba4e6aa7d"), Ok("5afe14fba4e6aa7d".into()));
        assert_eq!(pick_node(&list(), "kitchen"), Ok("77aa00bb11cc22dd".into()));
        assert_eq!(pick_node(&list(), "10.0.0.2"), Ok("5afe14fba4e6aa7d".into()));
        assert_eq!(pick_node(&list(), "77aa00"), Ok("77aa00bb11cc22dd".into()));
        assert!(pick_node(&list(), "nope").is_err_and(|e| e.contains("unknown node")));
    }

    #[test]
    fn list_json_merges_paired_rows_with_their_live_view() {
        let pairing = json!({"pending": [{"requestId": "r1"}], "paired": [
            {"nodeId": "5afe14fba4e6aa7d", "createdAtMs": 40, "approvedAtMs": 60, "displayName": "old"},
        ]});
        let merged = merge_list(&pairing, &list(), false);
        assert_eq!(merged["pending"], json!([{"requestId": "r1"}]));
        let rows = merged["paired"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0]["displayName"].clone(), rows[0]["createdAtMs"].clone()), (json!("vm"), json!(40)));
        assert_eq!(rows[0]["lastConnectedAtMs"], json!(50));
        assert_eq!(merge_list(&pairing, &list(), true)["paired"].as_array().map(Vec::len), Some(1));
    }
}
