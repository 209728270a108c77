//! `node.event` through the hub, under virtual time (channels-agent-nodes.md §8.6, the
//! reference's `server-node-events.ts`): voice transcripts and `agent.request` start agent
//! runs in the reference's sessions, `chat.subscribe` routes a session's `chat`/`agent`
//! events to the node, `exec.*` events of a `system.run` this gateway sent become system
//! events, and every event waits for the node's approved surface.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use openclaw_core::devices::{proof, DevicesLoad, PairingStore};
use openclaw_core::hub::{RunCommand, RunStart};
use openclaw_core::testing::{test_config, Harness};
use openclaw_core::wire::agent::RunReport;
use openclaw_core::{ConnId, HubInput, PeerInfo};
use serde_json::{json, Value};

const COMMANDS: &[&str] = &["system.run", "system.which"];

fn harness(model: bool) -> Harness {
    let mut config = test_config();
    config.session_defaults.model_configured = model;
    let mut h = Harness::new(config);
    let load = DevicesLoad { store: PairingStore::default(), token_seed: [9; 32], auto_approve_local: true };
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_input(now, wall, HubInput::Devices(Box::new(load)));
    h.pump();
    h
}

fn node_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn node_id() -> String {
    proof::device_id_of(&node_key().verifying_key().to_bytes())
}

/// A node host connects (signed v3) declaring `COMMANDS`.
fn connect_node(h: &mut Harness) -> ConnId {
    let key = node_key();
    let c = h.open_with("node", PeerInfo::loopback());
    let (nonce, signed_at) = (format!("nonce-{}", c.0), h.wall().0);
    let text = format!("v3|{}|node-host|node|node||{signed_at}|test-token|{nonce}|linux|linux", node_id());
    let params = json!({
        "minProtocol": 4, "maxProtocol": 4,
        "client": {"id": "node-host", "version": "2026.9.6", "platform": "linux", "deviceFamily": "Linux", "mode": "node"},
        "caps": ["system"], "commands": COMMANDS, "role": "node", "scopes": [], "auth": {"token": "test-token"},
        "device": {"id": node_id(), "publicKey": URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
                   "signature": URL_SAFE_NO_PAD.encode(key.sign(text.as_bytes()).to_bytes()),
                   "signedAt": signed_at, "nonce": nonce},
    });
    h.request(c, "c1", "connect", params);
    assert_eq!(response(h, c, "c1")["ok"], true, "node connects");
    c
}

fn response(h: &Harness, c: ConnId, id: &str) -> Value {
    h.frames(c).into_iter().find(|f| f["type"] == "res" && f["id"] == id).unwrap_or_else(|| panic!("no res {id}"))
}

fn events(h: &Harness, c: ConnId, name: &str) -> Vec<Value> {
    h.frames(c).into_iter().filter(|f| f["type"] == "event" && f["event"] == name).collect()
}

/// A node with its surface approved, and an admin socket.
fn approved(h: &mut Harness) -> (ConnId, ConnId) {
    let admin = h.connect_cli("admin", &["operator.admin"]);
    let n = connect_node(h);
    let request_id = events(h, admin, "node.pair.requested")[0]["payload"]["requestId"].clone();
    h.request(admin, "ap", "node.pair.approve", json!({"requestId": request_id}));
    assert_eq!(response(h, admin, "ap")["ok"], true);
    (n, admin)
}

fn node_event(h: &mut Harness, n: ConnId, id: &str, event: &str, payload: Value) -> Value {
    h.request(n, id, "node.event", json!({"event": event, "payloadJSON": payload.to_string()}));
    response(h, n, id)
}

fn starts(h: &Harness) -> Vec<RunStart> {
    h.run_commands
        .iter()
        .filter_map(|c| match c {
            RunCommand::Start(s) => Some((**s).clone()),
            RunCommand::Abort { .. } => None,
        })
        .collect()
}

fn queued_system_events(h: &mut Harness, admin: ConnId, id: &str) -> Value {
    h.request(admin, id, "status", json!({}));
    response(h, admin, id)["payload"]["queuedSystemEvents"].clone()
}

#[test]
fn events_wait_for_the_approved_surface() {
    let mut h = harness(true);
    let n = connect_node(&mut h);
    for (i, event) in ["voice.transcript", "agent.request", "chat.subscribe", "exec.started", "whatever"].iter().enumerate() {
        let r = node_event(&mut h, n, &format!("e{i}"), event, json!({"text": "hi", "message": "hi", "sessionKey": "main"}));
        assert_eq!(r["error"]["details"]["code"], "PAIRING_CHANGED", "{event}");
        assert_eq!(r["error"]["retryable"], true);
    }
    assert!(starts(&h).is_empty());
    // An operator is no node.
    let admin = h.connect_cli("admin", &["operator.admin"]);
    h.request(admin, "o1", "node.event", json!({"event": "voice.transcript"}));
    assert_eq!(response(&h, admin, "o1")["ok"], false);
}

#[test]
fn a_voice_transcript_runs_the_agent_in_the_main_session_once() {
    let mut h = harness(true);
    let (n, _) = approved(&mut h);
    assert_eq!(node_event(&mut h, n, "v1", "voice.transcript", json!({"text": "  turn on the lights "}))["payload"], json!({"ok": true}));
    let s = starts(&h);
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].session_key.as_str(), s[0].message.as_str()), ("agent:main:main", "turn on the lights"));
    assert_eq!(s[0].thinking.as_deref(), Some("low"));
    // The same transcript again within 1.5 s is dropped; after it, it runs again.
    h.advance(Duration::from_millis(1500));
    node_event(&mut h, n, "v2", "voice.transcript", json!({"text": "turn on the lights"}));
    assert_eq!(starts(&h).len(), 1, "duplicate dropped");
    h.advance(Duration::from_millis(1));
    node_event(&mut h, n, "v3", "voice.transcript", json!({"text": "turn on the lights"}));
    assert_eq!(starts(&h).len(), 1, "the session is busy: queued behind the first run");
    // Another session by key, an id-based fingerprint; empty and oversized texts do nothing.
    node_event(&mut h, n, "v4", "voice.transcript", json!({"text": "x", "sessionKey": "kitchen", "eventId": "e1"}));
    assert_eq!(starts(&h).last().map(|s| s.session_key.clone()), Some("agent:main:kitchen".to_owned()));
    let before = starts(&h).len();
    assert_eq!(node_event(&mut h, n, "v5", "voice.transcript", json!({"text": "   "}))["payload"], json!({"ok": true}));
    node_event(&mut h, n, "v6", "voice.transcript", json!({"text": "a".repeat(20_001)}));
    h.request(n, "v7", "node.event", json!({"event": "voice.transcript", "payloadJSON": "not json"}));
    assert_eq!(response(&h, n, "v7")["payload"], json!({"ok": true}));
    assert_eq!(starts(&h).len(), before);
}

#[test]
fn without_a_model_a_transcript_is_acknowledged_and_nothing_runs() {
    let mut h = harness(false);
    let (n, _) = approved(&mut h);
    assert_eq!(node_event(&mut h, n, "v1", "voice.transcript", json!({"text": "hi"}))["payload"], json!({"ok": true}));
    assert!(starts(&h).is_empty());
}

#[test]
fn an_agent_request_runs_in_the_nodes_own_session_with_its_session_id_as_run_id() {
    let mut h = harness(true);
    let (n, _) = approved(&mut h);
    let r = node_event(&mut h, n, "a1", "agent.request", json!({"message": " summarise ", "thinking": "high", "timeoutSeconds": 30}));
    assert_eq!(r["payload"], json!({"ok": true}));
    let s = starts(&h);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].session_key, format!("agent:main:node-{}", node_id()));
    assert_eq!((s[0].message.as_str(), s[0].thinking.as_deref()), ("summarise", Some("high")));
    assert_eq!(s[0].run.as_str(), s[0].session_id, "the reference uses the session id as run id");
    node_event(&mut h, n, "a2", "agent.request", json!({"message": "", "sessionKey": "other"}));
    // `payload` (not `payloadJSON`) is stringified the same way.
    h.request(n, "a3", "node.event", json!({"event": "agent.request", "payload": {"message": "hi", "sessionKey": "agent:main:ops"}}));
    assert_eq!(response(&h, n, "a3")["payload"], json!({"ok": true}));
    let s = starts(&h);
    assert_eq!(s.len(), 2);
    assert_eq!(s[1].session_key, "agent:main:ops");
}

#[test]
fn a_subscribed_node_receives_that_sessions_chat_and_agent_events_unsequenced() {
    let mut h = harness(true);
    let (n, _) = approved(&mut h);
    assert_eq!(node_event(&mut h, n, "s1", "chat.subscribe", json!({"sessionKey": "main"}))["payload"], json!({"ok": true}));
    node_event(&mut h, n, "v1", "voice.transcript", json!({"text": "hello"}));
    let run = starts(&h)[0].run.clone();
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_input(now, wall, HubInput::Run { run: run.clone(), report: RunReport::Delta { text: "Hi".into() } });
    h.pump();
    let chat = events(&h, n, "chat");
    assert_eq!(chat.len(), 1);
    assert!(chat[0].get("seq").is_none(), "unsequenced");
    assert_eq!((chat[0]["payload"]["sessionKey"].as_str(), chat[0]["payload"]["state"].as_str()), (Some("agent:main:main"), Some("delta")));
    let agent = events(&h, n, "agent");
    assert!(agent.iter().any(|e| e["payload"]["stream"] == "assistant" && e["payload"]["runId"] == json!(run.as_str())));
    assert!(agent.iter().all(|e| e.get("seq").is_none()));
    // Another session's events do not reach it; after unsubscribing, neither do these.
    node_event(&mut h, n, "a1", "agent.request", json!({"message": "elsewhere"}));
    let other = starts(&h)[1].run.clone();
    h.hub.handle_input(now, wall, HubInput::Run { run: other, report: RunReport::Delta { text: "x".into() } });
    h.pump();
    assert!(events(&h, n, "chat").iter().all(|e| e["payload"]["sessionKey"] == "agent:main:main"));
    node_event(&mut h, n, "s2", "chat.unsubscribe", json!({"sessionKey": "agent:main:main"}));
    let before = h.frames(n).len();
    h.hub.handle_input(now, wall, HubInput::Run { run, report: RunReport::Completed { text: "Hi there".into(), usage: None } });
    h.pump();
    assert_eq!(h.frames(n).len(), before, "nothing after chat.unsubscribe");
}

#[test]
fn exec_events_of_a_system_run_become_system_events() {
    let mut h = harness(true);
    let (n, admin) = approved(&mut h);
    let id = node_id();
    // No system.run was sent: the event is not trusted.
    let r = node_event(&mut h, n, "x0", "exec.started", json!({"runId": "r1", "command": "ls"}));
    assert_eq!(r["payload"], json!({"ok": true, "event": "exec.started", "handled": false, "reason": "unmatched_exec_event"}));
    // A system.run with a run id; one without gets an id from the gateway.
    h.request(admin, "i1", "node.invoke", json!({"nodeId": id, "command": "system.run", "params": {"command": ["ls"], "runId": "r1", "timeoutMs": 5000}, "idempotencyKey": "k1"}));
    h.request(admin, "i2", "node.invoke", json!({"nodeId": id, "command": "system.run", "params": {"command": ["true"]}, "idempotencyKey": "k2"}));
    let requests = events(&h, n, "node.invoke.request");
    assert_eq!(requests.len(), 2);
    let p2: Value = serde_json::from_str(requests[1]["payload"]["paramsJSON"].as_str().unwrap()).unwrap();
    let r2 = p2["runId"].as_str().expect("the gateway names the run").to_owned();
    assert!(!r2.is_empty());

    let r = node_event(&mut h, n, "x1", "exec.started", json!({"runId": "r1", "command": "ls  -la"}));
    assert_eq!(r["payload"], json!({"ok": true}));
    let r = node_event(&mut h, n, "x2", "exec.finished", json!({"runId": "r1", "exitCode": 2, "output": "no\n  such   file"}));
    assert_eq!(r["payload"], json!({"ok": true}));
    // Terminal: a second report for the run is not trusted.
    let r = node_event(&mut h, n, "x3", "exec.finished", json!({"runId": "r1", "exitCode": 2}));
    assert_eq!(r["payload"]["reason"], "unmatched_exec_event");
    // A clean exit without output says nothing; a denial says nothing.
    assert_eq!(node_event(&mut h, n, "x4", "exec.finished", json!({"runId": r2, "exitCode": 0}))["payload"], json!({"ok": true}));
    h.request(admin, "i3", "node.invoke", json!({"nodeId": id, "command": "system.run", "params": {"runId": "r3", "sessionKey": "agent:main:ops"}, "idempotencyKey": "k3"}));
    assert_eq!(node_event(&mut h, n, "x5", "exec.denied", json!({"runId": "r3"}))["payload"]["reason"], "unmatched_exec_event", "another session");
    assert_eq!(node_event(&mut h, n, "x6", "exec.denied", json!({"runId": "r3", "sessionKey": "agent:main:ops"}))["payload"], json!({"ok": true}));
    // A timeout is reported even without output.
    h.request(admin, "i4", "node.invoke", json!({"nodeId": id, "command": "system.run", "params": {"runId": "r4"}, "idempotencyKey": "k4"}));
    node_event(&mut h, n, "x7", "exec.finished", json!({"runId": "r4", "timedOut": true}));
    assert_eq!(
        queued_system_events(&mut h, admin, "st"),
        json!([
            format!("Exec started (node={id} id=r1): ls  -la"),
            format!("Exec finished (node={id} id=r1, code 2)\nno such file"),
            format!("Exec finished (node={id} id=r4, timeout)"),
        ])
    );
    // The authorisation belongs to the node socket: a reconnect loses it.
    h.request(admin, "i5", "node.invoke", json!({"nodeId": id, "command": "system.run", "params": {"runId": "r5"}, "idempotencyKey": "k5"}));
    h.disconnect(n);
    let n2 = connect_node(&mut h);
    assert_eq!(node_event(&mut h, n2, "y1", "exec.started", json!({"runId": "r5"}))["payload"]["reason"], "unmatched_exec_event");
}

#[test]
fn host_stats_are_broadcast_and_unknown_events_unsupported() {
    let mut h = harness(false);
    let (n, admin) = approved(&mut h);
    let stats = json!({"cpuCount": 2, "memoryTotalBytes": 10, "memoryFreeBytes": 5});
    assert_eq!(node_event(&mut h, n, "h1", "node.host.stats", stats)["payload"]["reason"], "updated");
    let b = events(&h, admin, "node.hostStats");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0]["payload"], json!({"nodeId": node_id(), "hostStats": {"cpuCount": 2, "memoryTotalBytes": 10, "memoryFreeBytes": 5, "updatedAtMs": h.wall().0}}));
    assert_eq!(node_event(&mut h, n, "h2", "node.host.stats", json!({"cpuCount": 0}))["payload"]["reason"], "invalid_payload");
    assert_eq!(
        node_event(&mut h, n, "u1", "something.else", json!({}))["payload"],
        json!({"ok": true, "event": "something.else", "handled": false, "reason": "unsupported_event"})
    );
}
