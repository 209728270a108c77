//! Who may manage which device, against the reference gateway (openclaw 2026.9.6,
//! `openclaw-peer gateway run`) and ours: the same signed operator devices (Ed25519, v3 proof)
//! connect to each, one by its device token with fewer scopes than it was approved for, and
//! the same `device.pair.list` / `device.token.rotate|revoke` calls are made (and the
//! `node.pending.*` / `node.invoke.progress` refusals). Each outcome
//! (ok, error code and message, the listed device ids, the rotated token's scopes and delivery)
//! must be the same on both. Device ids, tokens and timestamps differ per run and are not
//! compared. The peer must be installed (`scripts/openclaw-peer install`, done by `.ci/run`);
//! without it this test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::net::SocketAddr;

use openclaw_core::testing::device::TestDevice;
use openclaw_tests::e2e::{gateway, within, RawWs, TOKEN};
use openclaw_tests::peer::ReferenceGateway;
use serde_json::{json, Value};

/// `d` connects as an operator (`cli`/`cli`) asking for `scopes` with `auth`, signing this
/// socket's challenge; the socket and the connect answer.
async fn connect_device(addr: SocketAddr, d: &TestDevice, scopes: &[&str], auth: Value) -> (RawWs, Value) {
    let mut ws = RawWs::connect(addr).await;
    let challenge = ws.challenge().await;
    let nonce = challenge["payload"]["nonce"].as_str().unwrap();
    let signed_at = challenge["payload"]["ts"].as_u64().unwrap();
    let mut req = json!({"type": "req", "id": "c1", "method": "connect"});
    req["params"] = d.params("cli", "cli", "operator", scopes, nonce, signed_at, auth);
    ws.send_json(&req).await;
    let res = ws.res("c1").await;
    (ws, res)
}

/// One call on `ws`, its answer.
async fn call(ws: &mut RawWs, id: &str, method: &str, params: Value) -> Value {
    ws.send_json(&json!({"type": "req", "id": id, "method": method, "params": params})).await;
    within(method, ws.res(id)).await
}

/// What is compared of an answer: ok, and the error's code and message.
fn outcome(res: &Value) -> Value {
    if res["ok"] == true {
        json!({"ok": true})
    } else {
        json!({"ok": false, "code": res["error"]["code"], "message": res["error"]["message"]})
    }
}

/// The scenario against one gateway; a list of labelled outcomes (device ids replaced by
/// their role in the scenario).
async fn scenario(addr: SocketAddr) -> Vec<(&'static str, Value)> {
    let me = TestDevice::new(71);
    let other = TestDevice::new(72);
    let name = |id: &str| {
        if id == me.id() {
            "me".to_owned()
        } else if id == other.id() {
            "other".to_owned()
        } else {
            id.to_owned()
        }
    };
    let mut out = Vec::new();
    // Both devices pair silently on loopback with the gateway token.
    let (_first, hello) = connect_device(addr, &me, &["operator.pairing", "operator.read"], json!({"token": TOKEN})).await;
    out.push(("me connects", outcome(&hello)));
    let my_token = hello["payload"]["auth"]["deviceToken"].as_str().unwrap_or_else(|| panic!("{hello}")).to_owned();
    let (_second, hello) = connect_device(addr, &other, &["operator.read"], json!({"token": TOKEN})).await;
    out.push(("other connects", outcome(&hello)));

    // By its device token, with operator.pairing only.
    let (mut ws, hello) = connect_device(addr, &me, &["operator.pairing"], json!({"deviceToken": my_token})).await;
    out.push(("me by token", outcome(&hello)));
    let list = call(&mut ws, "l1", "device.pair.list", json!({})).await;
    let mut seen: Vec<String> =
        list["payload"]["paired"].as_array().unwrap().iter().map(|d| name(d["deviceId"].as_str().unwrap())).collect();
    seen.sort();
    out.push(("list by token", json!({"outcome": outcome(&list), "paired": seen})));
    let own = |scopes: Option<&[&str]>| {
        let mut p = json!({"deviceId": me.id(), "role": "operator"});
        if let Some(s) = scopes {
            p["scopes"] = json!(s);
        }
        p
    };
    out.push(("revoke own (has read)", outcome(&call(&mut ws, "v1", "device.token.revoke", own(None)).await)));
    out.push(("rotate own as is", outcome(&call(&mut ws, "r1", "device.token.rotate", own(None)).await)));
    let read: &[&str] = &["operator.read"];
    out.push(("rotate own to read", outcome(&call(&mut ws, "r2", "device.token.rotate", own(Some(read))).await)));
    let admin: &[&str] = &["operator.admin"];
    out.push(("rotate own to admin", outcome(&call(&mut ws, "r3", "device.token.rotate", own(Some(admin))).await)));
    let other_rotate = json!({"deviceId": other.id(), "role": "operator"});
    out.push(("rotate other", outcome(&call(&mut ws, "r4", "device.token.rotate", other_rotate).await)));
    let pairing: &[&str] = &["operator.pairing"];
    let rotated = call(&mut ws, "r5", "device.token.rotate", own(Some(pairing))).await;
    let p = &rotated["payload"];
    out.push((
        "rotate own to pairing",
        json!({"outcome": outcome(&rotated), "scopes": p["scopes"], "tokenDelivery": p["tokenDelivery"],
               "token": p["token"].is_string(), "role": p["role"]}),
    ));

    // The shared secret with admin: everything listed; an unknown device is refused.
    let (mut op, _) = RawWs::authed(addr).await;
    let list = call(&mut op, "l2", "device.pair.list", json!({})).await;
    let mut seen: Vec<String> =
        list["payload"]["paired"].as_array().unwrap().iter().map(|d| name(d["deviceId"].as_str().unwrap())).collect();
    seen.sort();
    out.push(("list by admin", json!({"outcome": outcome(&list), "paired": seen})));
    let unknown = json!({"deviceId": "0".repeat(64), "role": "operator"});
    out.push(("rotate unknown", outcome(&call(&mut op, "r6", "device.token.rotate", unknown.clone()).await)));
    out.push(("revoke unknown", outcome(&call(&mut op, "v2", "device.token.revoke", unknown).await)));
    out.push(("admin widens", outcome(&call(&mut op, "r7", "device.token.rotate", own(Some(admin))).await)));

    // Node work for a device that is no paired node; node-role methods from an operator.
    let enqueue = json!({"nodeId": other.id(), "type": "location.request"});
    out.push(("enqueue for a non-node", outcome(&call(&mut op, "q1", "node.pending.enqueue", enqueue).await)));
    let bad = json!({"nodeId": other.id(), "type": "location.request", "expiresInMs": 10});
    let bad = call(&mut op, "q2", "node.pending.enqueue", bad).await;
    out.push(("enqueue with a bad ttl", json!({"ok": bad["ok"], "code": bad["error"]["code"]})));
    out.push(("drain as an operator", outcome(&call(&mut op, "q3", "node.pending.drain", json!({})).await)));
    let progress = json!({"invokeId": "i", "nodeId": other.id(), "seq": 0, "chunk": "x"});
    out.push(("progress as an operator", outcome(&call(&mut op, "q4", "node.invoke.progress", progress).await)));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_management_by_caller_scope_matches_the_reference() {
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().display().to_string();
    let gw = gateway(move |c| c.state_dir = Some(state_dir)).await;
    let ours = scenario(gw.local_addr()).await;
    // What this gateway answers, spelled out (so a change on both sides is still caught).
    let get = |label: &str| ours.iter().find(|(l, _)| *l == label).map(|(_, v)| v.clone()).unwrap();
    let denied = |m: &str| json!({"ok": false, "code": "INVALID_REQUEST", "message": m});
    assert_eq!(get("list by token"), json!({"outcome": {"ok": true}, "paired": ["me"]}));
    assert_eq!(get("revoke own (has read)"), denied("device token revocation denied"));
    assert_eq!(get("rotate own as is"), denied("device token rotation denied"));
    assert_eq!(get("rotate own to admin"), denied("device token rotation denied"));
    assert_eq!(get("rotate unknown"), denied("device token rotation denied"));
    assert_eq!(
        get("rotate own to pairing"),
        json!({"outcome": {"ok": true}, "scopes": ["operator.pairing"], "tokenDelivery": "in-band", "token": true, "role": "operator"})
    );
    assert_eq!(get("list by admin"), json!({"outcome": {"ok": true}, "paired": ["me", "other"]}));

    let reference = ReferenceGateway::start(None, TOKEN).await;
    let theirs = scenario(reference.addr).await;
    for ((label, a), (_, b)) in ours.iter().zip(&theirs) {
        assert_eq!(a, b, "{label}: ours vs the reference");
    }
    assert_eq!(ours.len(), theirs.len());
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
