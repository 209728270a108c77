//! Nodes through the hub, under virtual time: a node's declared command surface waiting for
//! an operator (`node.pair.*`, the `node.*.update` answers of the capture), `node.list` /
//! `node.describe`, and `node.invoke` → `node.invoke.request` → `node.invoke.result`, with its
//! timeout, the node going away mid-invoke and commands outside the approved surface.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use openclaw_core::devices::{proof, DevicesLoad, PairingStore};
use openclaw_core::testing::{test_config, Harness};
use openclaw_core::{ConnId, HubInput, PeerInfo};
use serde_json::{json, Value};

/// What the captured node host declares (21 commands; 13 survive the pairing allowlist).
const DECLARED: &[&str] = &[
    "browser.proxy", "browser.proxy.upload.v1", "desktop.stream", "dir.fetch", "dir.list", "file.create",
    "file.fetch", "file.stat", "file.write", "fs.listDir", "mcp.tools.call.v1", "ollama.chat", "ollama.models",
    "system.execApprovals.get", "system.execApprovals.set", "system.run", "system.run.prepare", "system.which",
    "terminal.upload", "workspace.memory", "workspace.skills",
];
const SURFACE: &[&str] = &[
    "browser.proxy", "browser.proxy.upload.v1", "desktop.stream", "fs.listDir", "mcp.tools.call.v1", "ollama.chat",
    "ollama.models", "system.execApprovals.get", "system.execApprovals.set", "system.run", "system.run.prepare",
    "system.which", "terminal.upload",
];
const CAPS: &[&str] = &["browser", "file", "local-inference", "mcp", "system"];

fn harness() -> Harness {
    let mut h = Harness::new(test_config());
    let load = DevicesLoad { store: PairingStore::default(), token_seed: [9; 32], auto_approve_local: true };
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_input(now, wall, HubInput::Devices(Box::new(load)));
    h.pump();
    h
}

struct Node {
    key: SigningKey,
}

impl Node {
    fn new(seed: u8) -> Self {
        Self { key: SigningKey::from_bytes(&[seed; 32]) }
    }

    fn id(&self) -> String {
        proof::device_id_of(&self.key.verifying_key().to_bytes())
    }

    /// Signed (v3) node-host connect params declaring `commands`.
    fn params(&self, nonce: &str, signed_at: u64, commands: &[&str]) -> Value {
        let raw = self.key.verifying_key().to_bytes();
        let text = format!("v3|{}|node-host|node|node||{signed_at}|test-token|{nonce}|linux|linux", self.id());
        json!({
            "minProtocol": 4, "maxProtocol": 4,
            "client": {"id": "node-host", "displayName": "vm", "version": "2026.9.6", "platform": "linux",
                       "deviceFamily": "Linux", "mode": "node", "instanceId": "i-1"},
            "caps": CAPS, "commands": commands, "pathEnv": "/usr/bin:/bin",
            "role": "node", "scopes": [], "auth": {"token": "test-token"},
            "device": {"id": self.id(), "publicKey": URL_SAFE_NO_PAD.encode(raw),
                       "signature": URL_SAFE_NO_PAD.encode(self.key.sign(text.as_bytes()).to_bytes()),
                       "signedAt": signed_at, "nonce": nonce},
        })
    }

    fn connect(&self, h: &mut Harness, commands: &[&str]) -> ConnId {
        let c = h.open_with("node", PeerInfo::loopback());
        let p = self.params(&format!("nonce-{}", c.0), h.wall().0, commands);
        h.request(c, "c1", "connect", p);
        assert_eq!(response(h, c, "c1")["ok"], true, "node connects");
        c
    }
}

fn response(h: &Harness, c: ConnId, id: &str) -> Value {
    h.frames(c).into_iter().find(|f| f["type"] == "res" && f["id"] == id).unwrap_or_else(|| panic!("no res {id}"))
}

fn events(h: &Harness, c: ConnId, name: &str) -> Vec<Value> {
    h.frames(c).into_iter().filter(|f| f["type"] == "event" && f["event"] == name).collect()
}

fn strs(v: &[&str]) -> Value {
    json!(v)
}

/// Connects a node and approves its surface; returns (node socket, admin socket).
fn approved_node(h: &mut Harness, node: &Node) -> (ConnId, ConnId) {
    let admin = h.connect_cli("admin", &["operator.admin"]);
    let n = node.connect(h, DECLARED);
    let request_id = events(h, admin, "node.pair.requested")[0]["payload"]["requestId"].as_str().unwrap().to_owned();
    h.request(admin, "ap", "node.pair.approve", json!({"requestId": request_id}));
    assert_eq!(response(h, admin, "ap")["ok"], true);
    (n, admin)
}

#[test]
fn a_new_node_surface_waits_for_an_operator_then_is_approved() {
    let mut h = harness();
    let pairing = h.connect_cli("pairing", &["operator.pairing"]);
    let reader = h.connect_cli("reader", &["operator.read"]);
    let node = Node::new(1);
    let n = node.connect(&mut h, DECLARED);

    // Operators who may pair hear of the request; its surface is filtered as the reference's.
    let requested = events(&h, pairing, "node.pair.requested");
    assert_eq!(requested.len(), 1);
    let row = &requested[0]["payload"];
    let request_id = row["requestId"].as_str().unwrap().to_owned();
    assert_eq!(row["nodeId"], json!(node.id()));
    assert_eq!(row["commands"], strs(SURFACE));
    assert_eq!(row["caps"], strs(CAPS));
    assert_eq!(row["requiredApproveScopes"], json!(["operator.pairing", "operator.admin"]));
    assert_eq!((row["clientId"].as_str(), row["silent"].as_bool()), (Some("node-host"), Some(true)));
    assert!(events(&h, reader, "node.pair.requested").is_empty(), "pairing scope only");

    // The node host's calls, answered as in the capture until the surface is approved.
    h.request(n, "r1", "node.runnerInventory.update", json!({"protocolFeatures": ["node-worker-supervisor-v6"], "workerHost": {"enabled": false}}));
    let r = response(&h, n, "r1");
    assert_eq!(r["error"]["code"], "UNAVAILABLE");
    assert_eq!(
        r["error"]["message"],
        json!(format!("node capability surface is awaiting operator approval; run `openclaw nodes approve {request_id}` (see `openclaw nodes pending`), then this node retries automatically"))
    );
    h.request(n, "r2", "node.skills.update", json!({"skills": []}));
    assert_eq!(response(&h, n, "r2")["payload"], json!({"nodeId": node.id(), "skills": []}));
    h.request(n, "r3", "node.pluginTools.update", json!({"tools": []}));
    assert_eq!(response(&h, n, "r3")["payload"], json!({"nodeId": node.id(), "tools": []}));
    let stats = r#"{"cpuCount":2,"loadAverage":[2.75,1.84,0.79],"memoryTotalBytes":25276182528,"memoryFreeBytes":23402102784}"#;
    h.request(n, "r4", "node.event", json!({"event": "node.host.stats", "payloadJSON": stats}));
    let r = response(&h, n, "r4");
    assert_eq!(r["error"]["message"], "node pairing changed while invocation was active");
    assert_eq!((r["error"]["retryable"].as_bool(), r["error"]["details"]["code"].as_str()), (Some(true), Some("PAIRING_CHANGED")));

    // node.pair.list and node.list as an operator sees them before approval.
    h.request(pairing, "l1", "node.pair.list", json!({}));
    let list = response(&h, pairing, "l1")["payload"].clone();
    assert_eq!(list["paired"], json!([]));
    assert_eq!(list["pending"][0]["requestId"], json!(request_id));
    h.request(reader, "l2", "node.list", json!({}));
    let nodes = response(&h, reader, "l2")["payload"]["nodes"].clone();
    assert_eq!(nodes.as_array().map(Vec::len), Some(1));
    assert_eq!(nodes[0]["approvalState"], "pending-approval");
    assert_eq!((nodes[0]["caps"].clone(), nodes[0]["commands"].clone()), (json!([]), json!([])));
    assert_eq!((nodes[0]["paired"].as_bool(), nodes[0]["connected"].as_bool()), (Some(true), Some(true)));
    assert!(nodes[0].get("pendingRequestId").is_none(), "hidden from callers without operator.pairing");

    // Approving program-running commands needs operator.admin.
    h.request(pairing, "a1", "node.pair.approve", json!({"requestId": request_id}));
    let r = response(&h, pairing, "a1");
    assert_eq!(r["error"]["code"], "FORBIDDEN");
    assert_eq!(r["error"]["details"], json!({"code": "MISSING_SCOPE", "missingScope": "operator.admin", "requiredScopes": ["operator.pairing", "operator.admin"]}));
    let admin = h.connect_cli("admin", &["operator.pairing", "operator.admin"]);
    h.request(admin, "a2", "node.pair.approve", json!({"requestId": request_id}));
    let r = response(&h, admin, "a2");
    assert_eq!(r["payload"]["requestId"], json!(request_id));
    let approved = &r["payload"]["node"];
    assert_eq!((approved["nodeId"].clone(), approved["commands"].clone()), (json!(node.id()), strs(SURFACE)));
    assert_eq!(approved["approvedAtMs"], json!(h.wall().0));
    // The node hears it unsequenced, operators with seq, after node.runnerInventory.changed.
    let to_node = events(&h, n, "node.pair.resolved");
    assert_eq!(to_node.len(), 1);
    assert!(to_node[0].get("seq").is_none());
    assert_eq!(to_node[0]["payload"]["decision"], "approved");
    let admin_events: Vec<String> = h.frames(admin).iter().filter(|f| f["type"] == "event").map(|f| f["event"].as_str().unwrap_or_default().to_owned()).collect();
    let changed = admin_events.iter().position(|e| e == "node.runnerInventory.changed").expect("changed");
    let resolved = admin_events.iter().position(|e| e == "node.pair.resolved").expect("resolved");
    assert!(changed < resolved);

    // Now the node's calls succeed and node.list shows its approved surface, sorted.
    h.request(n, "r5", "node.runnerInventory.update", json!({"protocolFeatures": ["node-worker-supervisor-v6"], "workerHost": {"enabled": false}}));
    assert_eq!(response(&h, n, "r5")["payload"], json!({"nodeId": node.id()}));
    h.request(n, "r6", "node.event", json!({"event": "node.host.stats", "payloadJSON": stats}));
    assert_eq!(response(&h, n, "r6")["payload"], json!({"ok": true, "event": "node.host.stats", "handled": true, "reason": "updated"}));
    h.request(n, "r7", "node.event", json!({"event": "something.else"}));
    assert_eq!(response(&h, n, "r7")["payload"]["reason"], "unsupported_event");
    h.request(reader, "l3", "node.list", json!({}));
    let row = response(&h, reader, "l3")["payload"]["nodes"][0].clone();
    assert_eq!(row["approvalState"], "approved");
    assert_eq!(row["commands"], strs(SURFACE), "already sorted");
    assert_eq!((row["displayName"].as_str(), row["platform"].as_str(), row["deviceFamily"].as_str()), (Some("vm"), Some("linux"), Some("Linux")));
    assert_eq!(row["pathEnv"], "/usr/bin:/bin");
    h.request(reader, "d1", "node.describe", json!({"nodeId": node.id()}));
    let d = response(&h, reader, "d1")["payload"].clone();
    assert_eq!((d["nodeId"].clone(), d["ts"].clone()), (json!(node.id()), json!(h.wall().0)));
    h.request(reader, "d2", "node.describe", json!({"nodeId": "nope"}));
    assert_eq!(response(&h, reader, "d2")["error"]["message"], "unknown nodeId");

    // Reconnecting with the same surface needs no approval; a changed one does again.
    h.disconnect(n);
    let n2 = node.connect(&mut h, DECLARED);
    assert_eq!(events(&h, admin, "node.pair.requested").len(), 0);
    h.request(n2, "r8", "node.runnerInventory.update", json!({"protocolFeatures": ["node-worker-supervisor-v6"]}));
    assert_eq!(response(&h, n2, "r8")["ok"], true);
    h.disconnect(n2);
    let _n3 = node.connect(&mut h, &["system.which"]);
    assert_eq!(events(&h, admin, "node.pair.requested").len(), 1);
    h.request(reader, "l4", "node.list", json!({}));
    let row = response(&h, reader, "l4")["payload"]["nodes"][0].clone();
    assert_eq!(row["approvalState"], "pending-reapproval");
    assert_eq!(row["commands"], strs(SURFACE), "the approved surface still holds until approval");
}

#[test]
fn invoke_goes_to_the_node_and_its_result_comes_back() {
    let mut h = harness();
    let node = Node::new(2);
    let (n, admin) = approved_node(&mut h, &node);
    let writer = h.connect_cli("writer", &["operator.write"]);
    h.request(writer, "i1", "node.invoke", json!({"nodeId": node.id(), "command": "system.which", "params": {"bins": ["sh"]}, "idempotencyKey": "k1", "timeoutMs": 15000}));
    let req = events(&h, n, "node.invoke.request");
    assert_eq!(req.len(), 1);
    assert!(req[0].get("seq").is_none(), "sent to the node alone, unsequenced");
    let p = req[0]["payload"].clone();
    let id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(p, json!({"id": id, "nodeId": node.id(), "command": "system.which", "paramsJSON": "{\"bins\":[\"sh\"]}", "timeoutMs": 15000, "idempotencyKey": "k1"}));
    assert!(events(&h, admin, "node.invoke.request").is_empty());
    // Nothing until the node answers.
    assert!(h.frames(writer).iter().all(|f| f["id"] != "i1"));
    // Another node id in the result is refused.
    h.request(n, "x1", "node.invoke.result", json!({"id": id, "nodeId": "someone-else", "ok": true}));
    assert_eq!(response(&h, n, "x1")["error"]["message"], "nodeId mismatch");
    h.request(n, "x2", "node.invoke.result", json!({"id": id, "nodeId": node.id(), "ok": true, "payloadJSON": "{\"bins\":{\"sh\":\"/usr/bin/sh\"}}"}));
    assert_eq!(response(&h, n, "x2")["payload"], json!({"ok": true}));
    assert_eq!(
        response(&h, writer, "i1")["payload"],
        json!({"ok": true, "nodeId": node.id(), "command": "system.which", "payload": {"bins": {"sh": "/usr/bin/sh"}}, "payloadJSON": "{\"bins\":{\"sh\":\"/usr/bin/sh\"}}"})
    );
    // A late duplicate is acknowledged and ignored.
    h.request(n, "x3", "node.invoke.result", json!({"id": id, "nodeId": node.id(), "ok": true}));
    assert_eq!(response(&h, n, "x3")["payload"], json!({"ok": true, "ignored": true}));

    // The node's own error comes back as UNAVAILABLE "<code>: <message>".
    h.request(writer, "i2", "node.invoke", json!({"nodeId": node.id(), "command": "system.run", "idempotencyKey": "k2"}));
    let p = events(&h, n, "node.invoke.request")[1]["payload"].clone();
    assert_eq!((p["paramsJSON"].clone(), p["timeoutMs"].clone()), (Value::Null, json!(30000)));
    let error = json!({"code": "SYSTEM_RUN_DENIED", "message": "denied by policy"});
    h.request(n, "x4", "node.invoke.result", json!({"id": p["id"], "nodeId": node.id(), "ok": false, "error": error}));
    let r = response(&h, writer, "i2");
    assert_eq!(r["error"]["code"], "UNAVAILABLE");
    assert_eq!(r["error"]["message"], "SYSTEM_RUN_DENIED: denied by policy");
    assert_eq!(r["error"]["details"], json!({"nodeError": error, "nodeCommandDispatched": true}));
}

#[test]
fn an_invoke_times_out_under_virtual_time() {
    let mut h = harness();
    let node = Node::new(3);
    let (n, _) = approved_node(&mut h, &node);
    let writer = h.connect_cli("writer", &["operator.write"]);
    h.request(writer, "i1", "node.invoke", json!({"nodeId": node.id(), "command": "system.which", "idempotencyKey": "k", "timeoutMs": 1000}));
    let id = events(&h, n, "node.invoke.request")[0]["payload"]["id"].clone();
    h.advance(Duration::from_millis(999));
    assert!(h.frames(writer).iter().all(|f| f["id"] != "i1"), "not yet");
    h.advance(Duration::from_millis(1));
    let r = response(&h, writer, "i1");
    assert_eq!(r["error"]["code"], "UNAVAILABLE");
    assert_eq!(r["error"]["message"], "TIMEOUT: node invoke timed out");
    assert_eq!(r["error"]["details"]["nodeError"], json!({"code": "TIMEOUT", "message": "node invoke timed out"}));
    // The node's late answer is ignored.
    h.request(n, "x", "node.invoke.result", json!({"id": id, "nodeId": node.id(), "ok": true}));
    assert_eq!(response(&h, n, "x")["payload"]["ignored"], true);
}

#[test]
fn a_node_that_goes_away_mid_invoke_fails_it() {
    let mut h = harness();
    let node = Node::new(4);
    let (n, _) = approved_node(&mut h, &node);
    let writer = h.connect_cli("writer", &["operator.write"]);
    h.request(writer, "i1", "node.invoke", json!({"nodeId": node.id(), "command": "system.which", "idempotencyKey": "k"}));
    assert_eq!(events(&h, n, "node.invoke.request").len(), 1);
    h.disconnect(n);
    let r = response(&h, writer, "i1");
    assert_eq!(r["error"]["code"], "UNAVAILABLE");
    assert_eq!(r["error"]["message"], "DISCONNECTED: node disconnected (system.which)");
    assert_eq!(r["error"]["details"]["nodeCommandDispatched"], true);
    // Now it is not connected at all.
    h.request(writer, "i2", "node.invoke", json!({"nodeId": node.id(), "command": "system.which", "idempotencyKey": "k2"}));
    let r = response(&h, writer, "i2");
    assert_eq!(r["error"]["message"], "node not connected");
    assert_eq!(r["error"]["details"]["code"], "NOT_CONNECTED");
    assert_eq!(r["error"]["details"]["nodeCommandDispatched"], false);
    h.advance(Duration::from_secs(60));
    assert_eq!(h.frames(writer).iter().filter(|f| f["id"] == "i1").count(), 1, "answered once");
}

#[test]
fn commands_outside_the_approved_surface_are_refused_as_the_reference() {
    let mut h = harness();
    let writer = h.connect_cli("writer", &["operator.write"]);
    let node = Node::new(5);
    // Before approval the node's host commands are not allowlisted yet.
    let admin = h.connect_cli("admin", &["operator.admin"]);
    let n = node.connect(&mut h, DECLARED);
    let invoke = |h: &mut Harness, id: &str, command: &str| {
        h.request(writer, id, "node.invoke", json!({"nodeId": node.id(), "command": command, "idempotencyKey": id}));
        response(h, writer, id)["error"].clone()
    };
    let e = invoke(&mut h, "b1", "system.which");
    assert_eq!(e["code"], "INVALID_REQUEST");
    assert_eq!(e["message"], "node command not allowed: \"system.which\" is not in the allowlist for platform \"linux\"");
    assert_eq!(e["details"], json!({"reason": "command not allowlisted", "command": "system.which"}));
    let e = invoke(&mut h, "b2", "computer.act");
    assert_eq!(e["details"]["reason"], "node did not declare commands");
    let request_id = events(&h, admin, "node.pair.requested")[0]["payload"]["requestId"].clone();
    h.request(admin, "ap", "node.pair.approve", json!({"requestId": request_id}));
    // After approval: a command the node did not declare, a dangerous one, exec approvals,
    // admin-only commands, blanks and unknown nodes.
    let e = invoke(&mut h, "k1", "computer.act");
    assert_eq!(e["message"], "node command not allowed: the node (platform: linux) does not support \"computer.act\"");
    assert_eq!(e["details"]["reason"], "command not declared by node");
    let e = invoke(&mut h, "k2", "camera.snap");
    assert_eq!(e["message"], "node command not allowed: \"camera.snap\" requires explicit gateway.nodes.commands.allow opt-in");
    let e = invoke(&mut h, "k3", "system.execApprovals.get");
    assert_eq!(e["message"], "node.invoke does not allow system.execApprovals.*; use exec.approvals.node.*");
    let e = invoke(&mut h, "k4", "browser.proxy");
    assert_eq!((e["code"].as_str(), e["details"]["missingScope"].as_str()), (Some("FORBIDDEN"), Some("operator.admin")));
    h.request(writer, "k5", "node.invoke", json!({"nodeId": " ", "command": "system.which", "idempotencyKey": "x"}));
    assert_eq!(response(&h, writer, "k5")["error"]["message"], "nodeId and command required");
    h.request(writer, "k6", "node.invoke", json!({"nodeId": "unknown", "command": "system.which", "idempotencyKey": "x"}));
    assert_eq!(response(&h, writer, "k6")["error"]["details"]["code"], "PAIRING_CHANGED");
    assert!(events(&h, n, "node.invoke.request").is_empty(), "nothing reached the node");
}

#[test]
fn reject_rename_and_remove() {
    let mut h = harness();
    let admin = h.connect_cli("admin", &["operator.admin"]);
    let node = Node::new(6);
    let n = node.connect(&mut h, DECLARED);
    let request_id = events(&h, admin, "node.pair.requested")[0]["payload"]["requestId"].clone();
    h.request(admin, "r1", "node.pair.reject", json!({"requestId": request_id}));
    assert_eq!(response(&h, admin, "r1")["payload"], json!({"requestId": request_id, "nodeId": node.id()}));
    assert_eq!(events(&h, admin, "node.pair.resolved")[0]["payload"]["decision"], "rejected");
    h.request(admin, "r2", "node.pair.reject", json!({"requestId": request_id}));
    assert_eq!(response(&h, admin, "r2")["error"]["message"], "unknown requestId");
    h.request(admin, "r3", "node.pair.approve", json!({"requestId": "nope"}));
    assert_eq!(response(&h, admin, "r3")["error"]["message"], "unknown requestId");

    h.request(admin, "n1", "node.rename", json!({"nodeId": node.id(), "displayName": "  kitchen "}));
    assert_eq!(response(&h, admin, "n1")["payload"], json!({"nodeId": node.id(), "displayName": "kitchen"}));
    h.request(admin, "n2", "node.rename", json!({"nodeId": node.id(), "displayName": " "}));
    assert_eq!(response(&h, admin, "n2")["error"]["message"], "displayName required");
    h.request(admin, "n3", "node.rename", json!({"nodeId": "nope", "displayName": "x"}));
    assert_eq!(response(&h, admin, "n3")["error"]["message"], "unknown nodeId");

    h.request(admin, "m1", "node.pair.remove", json!({"nodeId": node.id()}));
    assert_eq!(response(&h, admin, "m1")["payload"], json!({"nodeId": node.id()}));
    let removed = events(&h, admin, "node.pair.resolved");
    assert_eq!(removed.last().unwrap()["payload"]["decision"], "removed");
    assert_eq!(h.close_of(n).map(|c| c.0), Some(1008), "its node socket is closed");
    h.request(admin, "m2", "node.pair.remove", json!({"nodeId": node.id()}));
    assert_eq!(response(&h, admin, "m2")["error"]["message"], "unknown nodeId");
    h.request(admin, "l", "node.list", json!({}));
    assert_eq!(response(&h, admin, "l")["payload"]["nodes"], json!([]));
}

#[test]
fn nodes_show_in_presence_with_their_device() {
    let mut h = harness();
    let reader = h.connect_cli("reader", &["operator.read"]);
    let node = Node::new(7);
    node.connect(&mut h, DECLARED);
    h.request(reader, "p", "system-presence", json!({}));
    let list = response(&h, reader, "p")["payload"].clone();
    let row = list.as_array().unwrap().iter().find(|r| r["mode"] == "node").cloned().expect("node row");
    assert_eq!((row["deviceId"].clone(), row["deviceFamily"].clone(), row["platform"].clone()), (json!(node.id()), json!("Linux"), json!("linux")));
    assert_eq!(row["roles"], json!(["node"]));
}

#[test]
fn node_pair_list_shows_a_device_by_its_token_only_its_own_rows() {
    use openclaw_core::testing::device::{nonce, TestDevice};
    let mut h = harness();
    let node = Node::new(41);
    node.connect(&mut h, DECLARED);
    let admin = h.connect_cli("admin", &["operator.admin"]);
    h.request(admin, "l1", "node.pair.list", json!({}));
    assert_eq!(ok(&h, admin, "l1")["pending"][0]["nodeId"], json!(node.id()));

    // An operator device, paired silently on loopback, then by its own token.
    let me = TestDevice::new(42);
    let c = h.open_with("op-device", PeerInfo::loopback());
    let p = me.params("cli", "cli", "operator", &["operator.pairing"], &nonce(c), h.wall().0, json!({"token": "test-token"}));
    h.request(c, "c1", "connect", p);
    let token = ok(&h, c, "c1")["auth"]["deviceToken"].as_str().unwrap().to_owned();
    let by_token = h.open_with("op-device", PeerInfo::loopback());
    let p = me.params("cli", "cli", "operator", &["operator.pairing"], &nonce(by_token), h.wall().0, json!({"deviceToken": token}));
    h.request(by_token, "c1", "connect", p);
    ok(&h, by_token, "c1");
    h.request(by_token, "l1", "node.pair.list", json!({}));
    assert_eq!(ok(&h, by_token, "l1"), json!({"pending": [], "paired": []}));
    // By the shared secret (the same scopes) every row shows, as the reference.
    let pairing = h.connect_cli("pairing", &["operator.pairing"]);
    h.request(pairing, "l1", "node.pair.list", json!({}));
    assert_eq!(ok(&h, pairing, "l1")["pending"].as_array().map(Vec::len), Some(1));
}

/// The `res` payload of request `id` on `c` (panics on an error answer).
fn ok(h: &Harness, c: ConnId, id: &str) -> Value {
    let r = response(h, c, id);
    assert_eq!(r["ok"], true, "{r}");
    r["payload"].clone()
}

fn set_policy(h: &mut Harness, allow: &[&str], deny: &[&str]) {
    use openclaw_core::devices::surface::NodeCommandPolicy;
    use openclaw_core::devices::NodesPolicy;
    let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
    let policy = NodesPolicy { auto_approve_local: true, commands: NodeCommandPolicy { allow: own(allow), deny: own(deny) } };
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_input(now, wall, HubInput::NodesPolicy(Box::new(policy)));
    h.pump();
}

#[test]
fn gateway_nodes_commands_allow_and_deny_apply_to_new_surfaces_and_at_once_to_invokes() {
    let mut h = harness();
    // `allow` lets a dangerous command into the surface a node declares; `deny` keeps others out.
    set_policy(&mut h, &["camera.snap"], &["ollama.chat"]);
    let node = Node::new(43);
    let mut declared = DECLARED.to_vec();
    declared.push("camera.snap");
    let admin = h.connect_cli("admin", &["operator.admin"]);
    let n = node.connect(&mut h, &declared);
    let pending = events(&h, admin, "node.pair.requested")[0]["payload"].clone();
    let commands: Vec<&str> = pending["commands"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(commands.contains(&"camera.snap"), "{pending}");
    assert!(!commands.contains(&"ollama.chat"), "{pending}");
    h.request(admin, "ap", "node.pair.approve", json!({"requestId": pending["requestId"]}));
    ok(&h, admin, "ap");

    let writer = h.connect_cli("writer", &["operator.write"]);
    let invoke = |h: &mut Harness, id: &str, command: &str| {
        h.request(writer, id, "node.invoke", json!({"nodeId": node.id(), "command": command, "idempotencyKey": id}));
    };
    invoke(&mut h, "i1", "camera.snap");
    assert_eq!(events(&h, n, "node.invoke.request").len(), 1, "allowed: it reaches the node");
    // A reload denying it applies to the next invoke, without touching the node's socket.
    set_policy(&mut h, &["camera.snap"], &["camera.snap", "system.which"]);
    for (id, command) in [("i2", "camera.snap"), ("i3", "system.which")] {
        invoke(&mut h, id, command);
        let e = response(&h, writer, id)["error"].clone();
        assert_eq!(e["message"], format!("node command not allowed: \"{command}\" is blocked by gateway.nodes.commands.deny"));
        assert_eq!(e["details"], json!({"reason": "command not allowlisted", "command": command}));
    }
    assert_eq!(h.close_of(n), None);
    // Dropping both keys: camera.snap needs the opt-in again, system.which is back.
    set_policy(&mut h, &[], &[]);
    invoke(&mut h, "i4", "camera.snap");
    let e = response(&h, writer, "i4")["error"].clone();
    assert_eq!(e["message"], "node command not allowed: \"camera.snap\" requires explicit gateway.nodes.commands.allow opt-in");
    invoke(&mut h, "i5", "system.which");
    assert_eq!(events(&h, n, "node.invoke.request").len(), 2);
}

#[test]
fn invoke_progress_is_checked_acknowledged_and_turns_a_late_not_ready_into_a_failure() {
    let mut h = harness();
    let node = Node::new(44);
    let (n, admin) = approved_node(&mut h, &node);
    let writer = h.connect_cli("writer", &["operator.write"]);
    h.request(writer, "i1", "node.invoke", json!({"nodeId": node.id(), "command": "system.which", "idempotencyKey": "k1"}));
    let id = events(&h, n, "node.invoke.request")[0]["payload"]["id"].as_str().unwrap().to_owned();
    let progress = |h: &mut Harness, rid: &str, invoke: &str, node_id: &str, chunk: &str| {
        h.request(n, rid, "node.invoke.progress", json!({"invokeId": invoke, "nodeId": node_id, "seq": 0, "chunk": chunk}));
        response(h, n, rid)
    };
    assert_eq!(progress(&mut h, "p1", &id, "someone-else", "x")["error"]["message"], "nodeId mismatch");
    // 9000 characters pass the schema's maxLength but are 18000 bytes.
    let wide = "é".repeat(9000);
    assert_eq!(progress(&mut h, "p2", &id, &node.id(), &wide)["error"]["message"], "progress chunk too large");
    h.request(n, "p3", "node.invoke.progress", json!({"invokeId": id, "nodeId": node.id(), "seq": -1, "chunk": ""}));
    assert_eq!(response(&h, n, "p3")["error"]["code"], "INVALID_REQUEST", "the schema's seq minimum");
    // Accepted (nobody here streams chunks: ignored), for a waiting invoke or not.
    assert_eq!(progress(&mut h, "p4", "no-such-invoke", &node.id(), "x")["payload"], json!({"ok": true, "ignored": true}));
    assert_eq!(progress(&mut h, "p5", &id, &node.id(), "line 1\n")["payload"], json!({"ok": true, "ignored": true}));
    // Operators may not call it.
    h.request(admin, "p6", "node.invoke.progress", json!({"invokeId": id, "nodeId": node.id(), "seq": 1, "chunk": "x"}));
    assert_eq!(response(&h, admin, "p6")["ok"], false);
    // After progress, NODE_NOT_READY is a failure of the invoke, not the node's refusal.
    let not_ready = json!({"code": "NODE_NOT_READY", "message": "handler not ready"});
    h.request(n, "r1", "node.invoke.result", json!({"id": id, "nodeId": node.id(), "ok": false, "error": not_ready}));
    let e = response(&h, writer, "i1")["error"].clone();
    assert_eq!(e["message"], "UNAVAILABLE: node reported not-ready after invocation progress", "{e}");
    // Without progress it passes through.
    h.request(writer, "i2", "node.invoke", json!({"nodeId": node.id(), "command": "system.which", "idempotencyKey": "k2"}));
    let id2 = events(&h, n, "node.invoke.request")[1]["payload"]["id"].clone();
    h.request(n, "r2", "node.invoke.result", json!({"id": id2, "nodeId": node.id(), "ok": false, "error": not_ready}));
    assert_eq!(response(&h, writer, "i2")["error"]["message"], "NODE_NOT_READY: handler not ready");
}

#[test]
fn pending_work_is_queued_for_a_paired_node_and_drained_by_it() {
    let mut h = harness();
    let node = Node::new(45);
    let (n, admin) = approved_node(&mut h, &node);
    let writer = h.connect_cli("writer", &["operator.write"]);
    let reader = h.connect_cli("reader", &["operator.read"]);
    h.request(reader, "e0", "node.pending.enqueue", json!({"nodeId": node.id(), "type": "location.request"}));
    assert_eq!(response(&h, reader, "e0")["error"]["details"]["missingScope"], "operator.write");
    h.request(writer, "e1", "node.pending.enqueue", json!({"nodeId": "nobody", "type": "location.request"}));
    let e = response(&h, writer, "e1")["error"].clone();
    assert_eq!((e["code"].as_str(), e["details"]["code"].as_str()), (Some("UNAVAILABLE"), Some("PAIRING_CHANGED")), "{e}");
    assert_eq!(e["message"], "node pairing changed while pending work was active");
    h.request(writer, "e2", "node.pending.enqueue", json!({"nodeId": node.id(), "type": "bogus"}));
    assert_eq!(response(&h, writer, "e2")["error"]["code"], "INVALID_REQUEST");

    let wall = h.wall().0;
    h.request(writer, "e3", "node.pending.enqueue", json!({"nodeId": node.id(), "type": "location.request", "priority": "high", "expiresInMs": 60000}));
    let queued = ok(&h, writer, "e3");
    let item_id = queued["queued"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        queued,
        json!({"nodeId": node.id(), "revision": 1, "wakeTriggered": false,
               "queued": {"id": item_id, "type": "location.request", "priority": "high", "createdAtMs": wall, "expiresAtMs": wall + 60000}})
    );
    h.request(writer, "e4", "node.pending.enqueue", json!({"nodeId": node.id(), "type": "location.request"}));
    assert_eq!(ok(&h, writer, "e4")["queued"]["id"], json!(item_id), "one item per type");

    // Operators may not drain; the node does, and gets the baseline status request too.
    h.request(admin, "d0", "node.pending.drain", json!({}));
    assert_eq!(response(&h, admin, "d0")["ok"], false);
    h.request(n, "d1", "node.pending.drain", json!({"maxItems": 11}));
    assert_eq!(response(&h, n, "d1")["error"]["code"], "INVALID_REQUEST");
    h.request(n, "d2", "node.pending.drain", json!({}));
    let drained = ok(&h, n, "d2");
    assert_eq!(drained["nodeId"], json!(node.id()));
    assert_eq!(drained["revision"], 2);
    assert_eq!(drained["hasMore"], false);
    let items = drained["items"].as_array().unwrap();
    assert_eq!(items[0]["id"], json!(item_id));
    assert_eq!(items[1], json!({"id": "baseline-status", "type": "status.request", "priority": "default", "createdAtMs": wall, "expiresAtMs": null}));
    h.request(n, "d3", "node.pending.drain", json!({}));
    assert_eq!(ok(&h, n, "d3")["items"].as_array().map(Vec::len), Some(1), "drained work is gone");

    // Removing the node's pairing drops what was queued for it.
    h.request(writer, "e5", "node.pending.enqueue", json!({"nodeId": node.id(), "type": "location.request"}));
    ok(&h, writer, "e5");
    h.request(admin, "x", "node.pair.remove", json!({"nodeId": node.id()}));
    ok(&h, admin, "x");
    h.request(writer, "e6", "node.pending.enqueue", json!({"nodeId": node.id(), "type": "location.request"}));
    assert_eq!(response(&h, writer, "e6")["error"]["details"]["code"], "PAIRING_CHANGED");
}

#[test]
fn a_node_gets_the_voicewake_snapshot_right_after_hello_ok_unsequenced() {
    let mut h = harness();
    let op = h.connect_cli("op", &["operator.admin"]);
    let node = Node::new(46);
    let n = node.connect(&mut h, DECLARED);
    let frames = h.frames(n);
    let hello = frames.iter().position(|f| f["type"] == "res" && f["id"] == "c1").unwrap();
    let at = |name: &str| frames.iter().position(|f| f["event"] == name).unwrap_or_else(|| panic!("no {name}"));
    let (wake, routing) = (at("voicewake.changed"), at("voicewake.routing.changed"));
    assert!(hello < wake && wake < routing, "after hello-ok, in the reference's order");
    // As captured (openclaw-2026.9.6-node-host-session.jsonl): the defaults, no seq.
    assert_eq!(frames[wake], json!({"type": "event", "event": "voicewake.changed", "payload": {"triggers": ["openclaw", "claude", "computer"]}}));
    assert_eq!(
        frames[routing],
        json!({"type": "event", "event": "voicewake.routing.changed",
               "payload": {"config": {"version": 1, "defaultTarget": {"mode": "current"}, "routes": [], "updatedAtMs": 0}}})
    );
    assert!(events(&h, op, "voicewake.changed").is_empty(), "nodes only");
}
