//! The methods the reference's Control UI calls when it opens, on our gateway: `agents.list`,
//! `agent.identity.get`, `update.status`, `sessions.observer.visibility`,
//! `plugins.controlUi.list`, the three approval lists, and `sessions.list` with the UI's params
//! (`configuredAgentsOnly`, `ownerFirst`). (`--test e2e_ui` loads the reference's UI itself.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use openclaw_tests::e2e::{gateway, within, RawWs};
use serde_json::{json, Value};

async fn call(ws: &mut RawWs, id: &str, method: &str, params: Value) -> Value {
    ws.send_json(&json!({"type": "req", "id": id, "method": method, "params": params})).await;
    ws.res(id).await
}

#[tokio::test]
async fn the_reference_uis_opening_calls_are_answered() {
    let gw = gateway(|_| {}).await;
    let (mut ws, hello) = RawWs::authed(gw.local_addr()).await;
    let methods: Vec<&str> = hello["features"]["methods"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for m in ["agents.list", "agent.identity.get", "update.status", "sessions.observer.visibility", "plugins.controlUi.list", "exec.approval.list", "plugin.approval.list", "openclaw.approval.list"] {
        assert!(methods.contains(&m), "{m} advertised");
    }

    let agents = call(&mut ws, "1", "agents.list", json!({})).await;
    assert_eq!(agents["payload"]["defaultId"], "main", "{agents}");
    assert_eq!(agents["payload"]["agents"], json!([{"id": "main", "kind": "agent"}]), "{agents}");
    assert_eq!(agents["payload"]["mainKey"], "main");
    let bad = call(&mut ws, "2", "agents.list", json!({"x": 1})).await;
    assert_eq!(bad["error"]["code"], "INVALID_REQUEST", "closed params: {bad}");

    let me = call(&mut ws, "3", "agent.identity.get", json!({"agentId": "main"})).await;
    assert_eq!(me["payload"], json!({"agentId": "main", "name": "Assistant", "nameSource": "default", "avatar": "A"}), "{me}");
    let by_key = call(&mut ws, "4", "agent.identity.get", json!({"sessionKey": "agent:main:x"})).await;
    assert_eq!(by_key["payload"]["agentId"], "main", "{by_key}");
    let other = call(&mut ws, "5", "agent.identity.get", json!({"agentId": "other"})).await;
    assert_eq!(other["error"]["message"], "agent \"other\" not found", "{other}");

    let update = call(&mut ws, "6", "update.status", json!({"refreshCheckout": true})).await;
    assert_eq!(update["payload"]["sentinel"], Value::Null, "{update}");
    assert_eq!(update["payload"]["schedule"]["autoEnabled"], false, "{update}");

    let seen = call(&mut ws, "7", "sessions.observer.visibility", json!({"visible": false})).await;
    assert_eq!(seen["payload"], json!({"ok": true}));
    let missing = call(&mut ws, "8", "sessions.observer.visibility", json!({})).await;
    assert_eq!(missing["error"]["code"], "INVALID_REQUEST", "{missing}");

    let plugins = call(&mut ws, "9", "plugins.controlUi.list", json!({})).await;
    assert_eq!(plugins["payload"]["plugins"], json!([]));
    assert_eq!(plugins["payload"]["revision"].as_str().unwrap().len(), 64, "{plugins}");
    for (i, m) in ["exec.approval.list", "plugin.approval.list", "openclaw.approval.list"].into_iter().enumerate() {
        let list = call(&mut ws, &format!("a{i}"), m, json!({})).await;
        assert_eq!(list["payload"], json!([]), "{m}: {list}");
    }

    // sessions.list with the UI's params; configuredAgentsOnly drops other agents' sessions.
    for (i, key) in ["agent:main:ui", "agent:other:ui"].into_iter().enumerate() {
        let reset = call(&mut ws, &format!("r{i}"), "sessions.reset", json!({"key": key})).await;
        assert_eq!(reset["ok"], true, "{reset}");
    }
    let ui_params = json!({"includeGlobal": true, "includeUnknown": true, "configuredAgentsOnly": true, "limit": 200,
        "includeDerivedTitles": true, "includeLastMessage": true, "ownerFirst": true});
    let listed = call(&mut ws, "s1", "sessions.list", ui_params).await;
    let keys: Vec<&str> = listed["payload"]["sessions"].as_array().unwrap().iter().filter_map(|s| s["key"].as_str()).collect();
    assert!(keys.contains(&"agent:main:ui") && !keys.contains(&"agent:other:ui"), "{keys:?}");
    let all = call(&mut ws, "s2", "sessions.list", json!({})).await;
    let keys: Vec<&str> = all["payload"]["sessions"].as_array().unwrap().iter().filter_map(|s| s["key"].as_str()).collect();
    assert!(keys.contains(&"agent:other:ui"), "{keys:?}");

    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
