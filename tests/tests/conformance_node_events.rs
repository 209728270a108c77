//! `node.event` against the reference gateway (openclaw 2026.9.6, `openclaw-peer gateway run`)
//! and ours: the same signed node (Ed25519, v3 proof) connects to each, reports events before
//! and after an operator approves its surface, runs a `system.run` and reports its `exec.*`
//! events; every answer (ok, the payload or the error's code, message and `details.code`) must
//! be the same on both. Neither gateway has a model, so the runs that voice transcripts and
//! `agent.request` start are not compared. The peer must be installed (`scripts/openclaw-peer
//! install`, done by `.ci/run`); without it this test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::net::SocketAddr;

use openclaw_core::testing::device::TestDevice;
use openclaw_tests::e2e::{gateway, within, RawWs, TOKEN};
use openclaw_tests::peer::ReferenceGateway;
use serde_json::{json, Value};

/// The node connects (node-host, signed for this socket's challenge) declaring `system.run`
/// and `system.which`.
async fn connect_node(addr: SocketAddr, d: &TestDevice) -> RawWs {
    let mut ws = RawWs::connect(addr).await;
    let challenge = ws.challenge().await;
    let nonce = challenge["payload"]["nonce"].as_str().unwrap();
    let signed_at = challenge["payload"]["ts"].as_u64().unwrap();
    let mut params = d.node_params(nonce, signed_at, json!({"token": TOKEN}));
    params["caps"] = json!(["system"]);
    params["commands"] = json!(["system.run", "system.which"]);
    ws.send_json(&json!({"type": "req", "id": "c1", "method": "connect", "params": params})).await;
    let res = within("node connect", ws.res("c1")).await;
    assert_eq!(res["ok"], true, "node connect: {res}");
    ws
}

/// One call on `ws`, its answer.
async fn call(ws: &mut RawWs, id: &str, method: &str, params: Value) -> Value {
    ws.send_json(&json!({"type": "req", "id": id, "method": method, "params": params})).await;
    within(method, ws.res(id)).await
}

/// What is compared of an answer: the payload, or the error's code, message and details code.
fn outcome(res: &Value) -> Value {
    if res["ok"] == true {
        json!({"ok": true, "payload": res["payload"]})
    } else {
        let e = &res["error"];
        json!({"ok": false, "code": e["code"], "message": e["message"], "detailsCode": e["details"]["code"]})
    }
}

async fn event(ws: &mut RawWs, id: &str, name: &str, payload: Value) -> Value {
    outcome(&call(ws, id, "node.event", json!({"event": name, "payloadJSON": payload.to_string()})).await)
}

/// Waits for the `node.invoke.request` on the node's socket (skipping other frames).
async fn invoke_request(ws: &mut RawWs) -> Value {
    within("node.invoke.request", async {
        loop {
            let f = ws.recv_json().await;
            if f["type"] == "event" && f["event"] == "node.invoke.request" {
                return f["payload"].clone();
            }
        }
    })
    .await
}

async fn scenario(addr: SocketAddr) -> Vec<(&'static str, Value)> {
    let node = TestDevice::new(81);
    let mut out = Vec::new();
    let (mut op, _) = RawWs::authed(addr).await;
    let mut n = connect_node(addr, &node).await;

    out.push(("transcript before approval", event(&mut n, "e1", "voice.transcript", json!({"text": "hi"})).await));
    out.push(("unknown before approval", event(&mut n, "e2", "what.ever", json!({})).await));

    let list = call(&mut op, "l1", "node.pair.list", json!({})).await;
    let pending = list["payload"]["pending"].as_array().cloned().unwrap_or_default();
    let request = pending.iter().find(|p| p["nodeId"] == json!(node.id())).unwrap_or_else(|| panic!("no pending surface: {list}"));
    let approve = call(&mut op, "a1", "node.pair.approve", json!({"requestId": request["requestId"]})).await;
    out.push(("approve", json!({"ok": approve["ok"]})));

    out.push(("transcript", event(&mut n, "e3", "voice.transcript", json!({"text": "hello there"})).await));
    out.push(("empty transcript", event(&mut n, "e4", "voice.transcript", json!({"text": " "})).await));
    out.push(("agent request", event(&mut n, "e5", "agent.request", json!({"message": "hi"})).await));
    out.push(("subscribe", event(&mut n, "e6", "chat.subscribe", json!({"sessionKey": "main"})).await));
    out.push(("unsubscribe", event(&mut n, "e7", "chat.unsubscribe", json!({"sessionKey": "main"})).await));
    out.push(("subscribe without key", event(&mut n, "e8", "chat.subscribe", json!({})).await));
    out.push(("exec without a run", event(&mut n, "e9", "exec.started", json!({"runId": "r1", "command": "ls"})).await));
    out.push(("exec without run id", event(&mut n, "e10", "exec.finished", json!({"exitCode": 1})).await));
    out.push(("bad stats", event(&mut n, "e11", "node.host.stats", json!({"cpuCount": 0})).await));
    out.push(("unknown", event(&mut n, "e12", "what.ever", json!({})).await));
    let raw = call(&mut n, "e13", "node.event", json!({"event": "voice.transcript", "payloadJSON": "not json"})).await;
    out.push(("payload not json", outcome(&raw)));

    // A system.run: the node answers it, then reports its exec events.
    let run = json!({"nodeId": node.id(), "command": "system.run", "params": {"command": ["ls"], "runId": "r1"}, "idempotencyKey": "k1"});
    op.send_json(&json!({"type": "req", "id": "i1", "method": "node.invoke", "params": run})).await;
    let request = invoke_request(&mut n).await;
    let params: Value = serde_json::from_str(request["paramsJSON"].as_str().unwrap_or("null")).unwrap();
    out.push(("run id passed", params["runId"].clone()));
    let result = json!({"id": request["id"], "nodeId": node.id(), "ok": true, "payloadJSON": "{\"exitCode\":1}"});
    out.push(("result", outcome(&call(&mut n, "x1", "node.invoke.result", result).await)));
    let invoked = within("invoke answer", op.res("i1")).await;
    out.push(("invoke", json!({"ok": invoked["ok"]})));
    out.push(("exec started", event(&mut n, "e14", "exec.started", json!({"runId": "r1", "command": "ls"})).await));
    out.push(("exec other session", event(&mut n, "e15", "exec.finished", json!({"runId": "r1", "sessionKey": "x", "exitCode": 1})).await));
    out.push(("exec finished", event(&mut n, "e16", "exec.finished", json!({"runId": "r1", "exitCode": 1, "output": "boom"})).await));
    out.push(("exec finished again", event(&mut n, "e17", "exec.finished", json!({"runId": "r1", "exitCode": 1})).await));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_events_match_the_reference() {
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().display().to_string();
    let gw = gateway(move |c| c.state_dir = Some(state_dir)).await;
    let ours = scenario(gw.local_addr()).await;
    let get = |label: &str| ours.iter().find(|(l, _)| *l == label).map(|(_, v)| v.clone()).unwrap();
    // What this gateway answers, spelled out (so a change on both sides is still caught).
    assert_eq!(get("transcript before approval")["detailsCode"], "PAIRING_CHANGED");
    assert_eq!(get("transcript"), json!({"ok": true, "payload": {"ok": true}}));
    assert_eq!(get("exec without a run")["payload"]["reason"], "unmatched_exec_event");
    assert_eq!(get("exec started"), json!({"ok": true, "payload": {"ok": true}}));
    assert_eq!(get("exec finished again")["payload"]["reason"], "unmatched_exec_event");
    assert_eq!(get("unknown")["payload"]["reason"], "unsupported_event");

    let reference = ReferenceGateway::start(None, TOKEN).await;
    let theirs = scenario(reference.addr).await;
    for ((label, a), (_, b)) in ours.iter().zip(&theirs) {
        assert_eq!(a, b, "{label}: ours vs the reference");
    }
    assert_eq!(ours.len(), theirs.len());
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
