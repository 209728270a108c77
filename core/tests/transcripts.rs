//! Transcript snapshots: scripted sessions against a hub on a virtual clock, one per rule of
//! protocol.md §1.2, per auth failure, per version rule, plus tick, presence, slow consumer,
//! two-stage replies and shutdown. Review changes to `snapshots/` like code.

use std::time::Duration;

use openclaw_core::testing::{test_config, Harness, TOKEN};
use openclaw_core::wire::agent::RunReport;
use openclaw_core::{HubConfig, HubInput, RunId};
use serde_json::json;

fn snapshot(name: &str, h: &mut Harness) {
    h.check_final();
    assert!(h.violations.is_empty(), "invariants broken: {:?}\n{}", h.violations, h.transcript());
    insta::assert_snapshot!(name, h.transcript());
}

#[test]
fn handshake_ok_then_requests() {
    let mut h = Harness::default();
    let c = h.connect_cli("cli", &["operator.read"]);
    h.request(c, "2", "health", json!({}));
    h.request(c, "3", "system-presence", json!({}));
    snapshot("handshake_ok_then_requests", &mut h);
}

#[test]
fn preauth_bad_json_closes_1000() {
    let mut h = Harness::default();
    let c = h.open("a");
    h.send_raw(c, "{not json");
    assert_eq!(h.close_of(c), Some((1000, String::new())));
    snapshot("preauth_bad_json", &mut h);
}

#[test]
fn preauth_invalid_frame_closes_1008() {
    let mut h = Harness::default();
    let c = h.open("a");
    h.send_raw(c, r#"{"type":"res","id":"r9","ok":true}"#);
    assert_eq!(h.close_of(c), Some((1008, "invalid request frame".into())));
    snapshot("preauth_invalid_frame", &mut h);
}

#[test]
fn first_request_not_connect() {
    let mut h = Harness::default();
    let c = h.open("a");
    h.request(c, "r1", "health", json!({}));
    assert_eq!(h.close_of(c), Some((1008, "invalid handshake: first request must be connect".into())));
    snapshot("first_request_not_connect", &mut h);
}

#[test]
fn invalid_connect_params() {
    let mut h = Harness::default();
    let c = h.open("a");
    let mut p = Harness::cli_params(&[]);
    p["extra"] = json!(1);
    p["minProtocol"] = json!("4");
    p["client"].as_object_mut().unwrap().remove("version");
    p["client"]["id"] = json!("bogus");
    h.request(c, "r1", "connect", p);
    let res = h.frames(c)[1].clone();
    assert_eq!(
        res["error"]["message"],
        "invalid connect params: at root: unexpected property 'extra'; at /minProtocol: must be integer; at /client: must have required property 'version'; at /client/id: must be equal to one of the allowed values"
    );
    snapshot("invalid_connect_params", &mut h);
}

#[test]
fn worker_identity_is_refused_without_response() {
    let mut h = Harness::default();
    let c = h.open("a");
    let mut p = Harness::cli_params(&[]);
    p["role"] = json!("worker");
    h.request(c, "r1", "connect", p);
    assert_eq!(h.close_of(c), Some((1008, "invalid-handshake".into())));
    assert_eq!(h.frames(c).len(), 1, "only the challenge");
    snapshot("worker_identity", &mut h);
}

#[test]
fn preauth_oversize_closes_1009() {
    let mut h = Harness::default();
    let c = h.open("a");
    let big = format!(r#"{{"type":"req","id":"x","method":"connect","params":{{"pad":"{}"}}}}"#, "a".repeat(70_000));
    h.send_raw(c, &big);
    assert_eq!(h.close_of(c), Some((1009, String::new())));
    snapshot("preauth_oversize", &mut h);
}

#[test]
fn pending_frames_are_replayed_after_hello() {
    let mut h = Harness::default();
    let c = h.open("a");
    let frames = [
        json!({"type":"req","id":"c1","method":"connect","params": Harness::cli_params(&["operator.read"])}),
        json!({"type":"req","id":"2","method":"health"}),
        json!({"type":"req","id":"3","method":"system-presence"}),
    ];
    h.send_batch(c, &frames);
    snapshot("pending_frames_replayed", &mut h);
}

#[test]
fn sixteenth_pending_frame_closes() {
    let mut h = Harness::default();
    let c = h.open("a");
    let mut frames = vec![json!({"type":"req","id":"c1","method":"connect","params": Harness::cli_params(&[])})];
    for i in 0..16 {
        frames.push(json!({"type":"req","id": format!("p{i}"),"method":"health"}));
    }
    h.send_batch(c, &frames);
    assert_eq!(h.close_of(c), Some((1008, "too many pending handshake frames".into())));
    snapshot("sixteenth_pending_frame", &mut h);
}

#[test]
fn fifteen_pending_frames_are_fine() {
    let mut h = Harness::default();
    let c = h.open("a");
    let mut frames = vec![json!({"type":"req","id":"c1","method":"connect","params": Harness::cli_params(&[])})];
    for i in 0..15 {
        frames.push(json!({"type":"req","id": format!("p{i}"),"method":"health"}));
    }
    h.send_batch(c, &frames);
    assert_eq!(h.close_of(c), None);
    assert_eq!(h.frames(c).len(), 1 + 1 + 15);
}

#[test]
fn postauth_bad_frames() {
    let mut h = Harness::default();
    let c = h.connect_cli("cli", &["operator.admin"]);
    h.send_raw(c, "{not json");
    h.send_raw(c, r#"{"type":"req","id":"bad1","method":"health","extra":1}"#);
    h.send_raw(c, r#"{"type":"req","method":"health"}"#);
    h.send_raw(c, r#"{"type":"req","id":7,"method":"health"}"#);
    h.send_raw(c, "[1,2]");
    h.request(c, "u1", "no.such.method", json!({}));
    h.request(c, "c2", "connect", Harness::cli_params(&[]));
    h.request(c, "n1", "node.invoke.result", json!({}));
    h.request(c, "se", "system-event", json!({"text": 5, "bogus": 1}));
    h.request(c, "ok", "health", json!({}));
    assert_eq!(h.close_of(c), None, "post-auth bad input never closes");
    snapshot("postauth_bad_frames", &mut h);
}

#[test]
fn postauth_oversize_closes_1009() {
    let mut cfg = openclaw_core::testing::test_config();
    cfg.limits.max_payload = 100_000;
    let mut h = Harness::new(cfg);
    let c = h.connect_cli("cli", &["operator.read"]);
    let big = format!(r#"{{"type":"req","id":"x","method":"health","params":{{"pad":"{}"}}}}"#, "a".repeat(100_001));
    h.send_raw(c, &big);
    assert_eq!(h.close_of(c), Some((1009, "Max payload size exceeded".into())));
}

#[test]
fn scopes_and_roles_for_read_only_operator() {
    let mut h = Harness::default();
    let c = h.connect_cli("reader", &["operator.read"]);
    h.request(c, "u1", "no.such.method", json!({}));
    h.request(c, "c2", "connect", Harness::cli_params(&[]));
    h.request(c, "se", "system-event", json!({"text": "hi"}));
    h.request(c, "cs", "chat.send", json!({}));
    h.request(c, "st", "status", json!({}));
    snapshot("read_only_operator", &mut h);
}

#[test]
fn eleven_role_violations_close() {
    let mut h = Harness::default();
    let c = h.connect_cli("cli", &["operator.admin"]);
    for i in 0..12 {
        h.request(c, &format!("f{i}"), "node.invoke.result", json!({}));
    }
    assert_eq!(h.close_of(c), Some((1008, "repeated unauthorized calls".into())));
    let errors = h.frames(c).iter().filter(|f| f["ok"] == json!(false)).count();
    assert_eq!(errors, 11, "eleven answers, then the close; the twelfth is not answered");
    snapshot("eleven_role_violations", &mut h);
}

#[test]
fn role_violation_counter_resets_on_other_responses() {
    let mut h = Harness::default();
    let c = h.connect_cli("cli", &["operator.admin"]);
    for round in 0..3 {
        for i in 0..10 {
            h.request(c, &format!("f{round}-{i}"), "node.invoke.result", json!({}));
        }
        h.request(c, &format!("h{round}"), "health", json!({}));
    }
    assert_eq!(h.close_of(c), None);
}

#[test]
fn auth_failures() {
    let mut h = Harness::default();
    let wrong = h.open("wrong");
    let mut p = Harness::cli_params(&[]);
    p["auth"] = json!({"token": "nope"});
    h.request(wrong, "c1", "connect", p);
    h.advance(Duration::from_millis(250));
    assert_eq!(h.close_of(wrong).map(|c| c.0), Some(1008));

    let missing = h.open("missing");
    let mut p = Harness::cli_params(&[]);
    p.as_object_mut().unwrap().remove("auth");
    h.request(missing, "c1", "connect", p);
    assert_eq!(h.close_of(missing), Some((1008, "device identity required".into())));

    let test_client = h.open("test-client");
    let p = json!({"minProtocol":4,"maxProtocol":4,"client":{"id":"test","version":"1","platform":"linux","mode":"test"},"auth":{"token":"bad"}});
    h.request(test_client, "c1", "connect", p);
    h.advance(Duration::from_millis(500));
    snapshot("auth_failures", &mut h);
}

#[test]
fn loopback_failures_are_delayed_escalating() {
    let mut h = Harness::default();
    let mut delays = Vec::new();
    for i in 0..4 {
        let c = h.open(&format!("w{i}"));
        let mut p = Harness::cli_params(&[]);
        p["auth"] = json!({"token": "nope"});
        h.request(c, "c1", "connect", p);
        let start = h.now;
        let mut waited = Duration::ZERO;
        while h.close_of(c).is_none() {
            h.advance(Duration::from_millis(50));
            waited += Duration::from_millis(50);
            assert!(waited < Duration::from_secs(10));
        }
        delays.push(h.now.duration_since(start).as_millis());
    }
    assert_eq!(delays, [250, 500, 1000, 2000]);
    // A success resets the escalation.
    h.connect_cli("good", &[]);
    let c = h.open("w-after");
    let mut p = Harness::cli_params(&[]);
    p["auth"] = json!({"token": "nope"});
    h.request(c, "c1", "connect", p);
    h.advance(Duration::from_millis(249));
    assert_eq!(h.close_of(c), None);
    h.advance(Duration::from_millis(1));
    assert!(h.close_of(c).is_some());
}

#[test]
fn remote_lockout_after_ten_failures() {
    let mut h = Harness::default();
    let remote = openclaw_core::PeerInfo {
        ip: "192.0.2.50".parse().unwrap(),
        forwarded: false,
        origin: None,
        host_is_local: false,
        scope_cap: None,
        origin_refused: None,
        canvas_url: None,
    };
    for i in 0..10 {
        let c = h.open_with(&format!("r{i}"), remote.clone());
        let mut p = Harness::cli_params(&[]);
        p["auth"] = json!({"token": "nope"});
        h.request(c, "c1", "connect", p);
        assert_eq!(h.last_frame(c).unwrap()["error"]["details"]["code"], "AUTH_TOKEN_MISMATCH");
    }
    let c = h.open_with("locked", remote.clone());
    let mut p = Harness::cli_params(&[]);
    p["auth"] = json!({"token": TOKEN});
    h.request(c, "c1", "connect", p);
    let res = h.last_frame(c).unwrap();
    assert_eq!(res["error"]["details"]["code"], "AUTH_RATE_LIMITED");
    assert_eq!(res["error"]["retryAfterMs"], 300_000);
    h.advance(Duration::from_secs(300));
    let c = h.open_with("after", remote);
    let mut p = Harness::cli_params(&[]);
    p["auth"] = json!({"token": TOKEN});
    h.request(c, "c1", "connect", p);
    assert_eq!(h.last_frame(c).unwrap()["payload"]["type"], "hello-ok");
}

#[test]
fn version_rules() {
    let mut h = Harness::default();
    let cases: [(&str, u32, u32, &str, Option<&str>); 6] = [
        ("v5", 5, 5, "cli", None),
        ("v1-3", 1, 3, "cli", None),
        ("probe3-4", 3, 4, "probe", None),
        ("probe3-3", 3, 3, "probe", None),
        ("v4-6", 4, 6, "cli", None),
        ("node3", 3, 3, "node", Some("node")),
    ];
    for (name, min, max, mode, role) in cases {
        let c = h.open(name);
        let mut p = Harness::cli_params(&[]);
        p["minProtocol"] = json!(min);
        p["maxProtocol"] = json!(max);
        p["client"]["mode"] = json!(mode);
        if let Some(r) = role {
            p["role"] = json!(r);
            p["client"]["id"] = json!("node-host");
        }
        h.request(c, "c1", "connect", p);
    }
    snapshot("version_rules", &mut h);
}

#[test]
fn starting_gateway_refuses_connect_1013() {
    let mut h = Harness::starting(openclaw_core::testing::test_config());
    let c = h.connect_cli("early", &[]);
    assert_eq!(h.close_of(c), Some((1013, "gateway starting".into())));
    h.hub.handle_input(h.now, h.wall(), openclaw_core::HubInput::Ready);
    let c = h.connect_cli("later", &[]);
    assert_eq!(h.close_of(c), None);
    snapshot("starting_gateway", &mut h);
}

#[test]
fn device_less_scopes() {
    let mut h = Harness::default();
    h.connect_cli("cli", &["operator.admin", "bogus.scope"]);
    let t = h.open("test");
    h.request(t, "c1", "connect", json!({"minProtocol":4,"maxProtocol":4,"client":{"id":"test","version":"1","platform":"linux","mode":"test","displayName":"Bee"},"scopes":["operator.admin"],"auth":{"token":TOKEN}}));
    let b = h.open("backend");
    h.request(b, "c1", "connect", json!({"minProtocol":4,"maxProtocol":4,"client":{"id":"gateway-client","version":"1","platform":"linux","mode":"backend"},"scopes":["operator.read"],"auth":{"token":TOKEN}}));
    let mut remote_peer = openclaw_core::PeerInfo::loopback();
    remote_peer.forwarded = true;
    let r = h.open_with("proxied-cli", remote_peer);
    h.request(r, "c1", "connect", Harness::cli_params(&["operator.admin"]));
    let mut capped = openclaw_core::PeerInfo::loopback();
    capped.scope_cap = Some(openclaw_core::auth::scopes::ScopeSet::from_requested(["operator.read"]));
    let k = h.open_with("capped-cli", capped);
    h.request(k, "c1", "connect", Harness::cli_params(&["operator.admin", "operator.read"]));
    let w = h.open("webchat");
    h.request(w, "c1", "connect", json!({"minProtocol":4,"maxProtocol":4,"client":{"id":"webchat","version":"1","platform":"web","mode":"webchat"},"auth":{"token":TOKEN}}));
    snapshot("device_less_scopes", &mut h);
}

#[test]
fn tick_every_30s_to_every_socket() {
    let mut h = Harness::default();
    let a = h.connect_cli("admin", &["operator.admin"]);
    let n = h.open("noscope");
    h.request(n, "c1", "connect", json!({"minProtocol":4,"maxProtocol":4,"client":{"id":"test","version":"1","platform":"linux","mode":"test"},"auth":{"token":TOKEN}}));
    h.advance(Duration::from_secs(60));
    let ticks = |h: &Harness, c| h.frames(c).iter().filter(|f| f["event"] == "tick").count();
    assert_eq!(ticks(&h, a), 2);
    assert_eq!(ticks(&h, n), 2);
    snapshot("tick", &mut h);
}

#[test]
fn presence_lifecycle_and_ttl() {
    let mut h = Harness::default();
    let watcher = h.connect_cli("watcher", &["operator.read"]);
    let t = h.open("ui");
    h.request(t, "c1", "connect", json!({"minProtocol":4,"maxProtocol":4,"client":{"id":"gateway-client","version":"1.2.3","platform":"darwin","mode":"ui","deviceFamily":"Mac"},"auth":{"token":TOKEN}}));
    h.disconnect(t);
    h.request(watcher, "p1", "system-presence", json!({}));
    h.advance(Duration::from_secs(5 * 60));
    h.request(watcher, "p2", "system-presence", json!({}));
    let list = h.last_frame(watcher).unwrap()["payload"].as_array().unwrap().len();
    assert_eq!(list, 1, "only the gateway's own entry survives the TTL");
    snapshot("presence_ttl", &mut h);
}

#[test]
fn system_event_updates_presence_and_broadcasts() {
    let mut h = Harness::default();
    let admin = h.connect_cli("admin", &["operator.admin"]);
    let reader = h.connect_cli("reader", &["operator.read"]);
    let blind = h.open("noscope");
    h.request(blind, "c1", "connect", json!({"minProtocol":4,"maxProtocol":4,"client":{"id":"test","version":"1","platform":"linux","mode":"test"},"auth":{"token":TOKEN}}));
    h.request(admin, "e1", "system-event", json!({"text": "hi"}));
    h.request(admin, "e2", "system-event", json!({"text": "Node: box (10.0.0.5) · app 1.0 · last input 12s ago · mode ui · reason periodic", "deviceId": "Dev-1", "roles": ["operator"]}));
    h.request(admin, "e3", "system-event", json!({"text": "   "}));
    h.request(reader, "s1", "status", json!({}));
    let got_presence = |h: &Harness, c| h.frames(c).iter().any(|f| f["event"] == "presence");
    assert!(got_presence(&h, reader));
    assert!(!got_presence(&h, blind), "presence needs operator.read");
    snapshot("system_event", &mut h);
}

#[test]
fn slow_consumer_drops_droppable_then_closes() {
    let mut cfg = openclaw_core::testing::test_config();
    cfg.limits.max_buffered_bytes = 2_000;
    let mut h = Harness::new(cfg);
    let admin = h.connect_cli("admin", &["operator.admin"]);
    let slow = h.connect_cli("slow", &["operator.read"]);
    h.stall(slow);
    for i in 0..6 {
        h.request(admin, &format!("e{i}"), "system-event", json!({"text": format!("event {i} {}", "x".repeat(200))}));
    }
    h.advance(Duration::from_secs(20)); // no tick yet; nothing flushed
    h.request(slow, "s1", "health", json!({})); // a response is never dropped → close
    assert_eq!(h.close_of(slow), Some((1008, "slow consumer".into())));
    // seq has gaps where droppable events were skipped
    let seqs: Vec<u64> = h.frames(slow).iter().filter_map(|f| f["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    snapshot("slow_consumer", &mut h);
}

#[test]
fn ping_and_pong_deadline() {
    let mut h = Harness::default();
    let good = h.connect_cli("good", &[]);
    let dead = h.connect_cli("dead", &[]);
    h.unresponsive(dead);
    h.advance(Duration::from_secs(50));
    assert!(h.is_gone(dead), "no pong within 25 s → terminated");
    assert!(!h.is_gone(good));
    snapshot("ping_pong", &mut h);
}

#[test]
fn handshake_timeout_closes_1000() {
    let mut h = Harness::default();
    let c = h.open("silent");
    h.advance(Duration::from_millis(14_999));
    assert_eq!(h.close_of(c), None);
    h.advance(Duration::from_millis(1));
    assert_eq!(h.close_of(c), Some((1000, String::new())));
    snapshot("handshake_timeout", &mut h);
}

#[test]
fn close_grace_then_terminate() {
    let mut h = Harness::default();
    let c = h.open("deaf");
    h.unresponsive(c);
    h.send_raw(c, "{not json");
    h.advance(Duration::from_millis(999));
    assert!(!h.is_gone(c));
    h.advance(Duration::from_millis(1));
    assert!(h.is_gone(c));
    snapshot("close_grace", &mut h);
}

#[test]
fn shutdown_with_deaf_clients_drains_after_grace() {
    let mut h = Harness::default();
    let a = h.connect_cli("deaf", &[]);
    h.unresponsive(a);
    h.shutdown("restart", Some(1500));
    assert!(!h.hub.is_drained());
    h.advance(Duration::from_secs(1));
    assert!(h.hub.is_drained(), "terminated after the 1 s close grace");
}

/// A hub with a default model, so that `agent` starts runs.
fn configured() -> HubConfig {
    let mut config = test_config();
    config.session_defaults.model_configured = true;
    config
}

/// What the agent runner reports about `run`, as io hands it to the hub.
fn report(h: &mut Harness, run: &str, r: RunReport) {
    h.transcript.push(format!("⚙ report {run} {r:?}"));
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_input(now, wall, HubInput::Run { run: RunId(run.into()), report: r });
    h.pump();
}

/// The two-stage reply (protocol.md §5.6) as sockets see it: the first request is accepted,
/// a second with the same idempotency key joins (`in_flight`); both get the run's events with
/// their per-run `seq` and the final `res` on their own request id; a duplicate after the end
/// gets the cached result once.
#[test]
fn two_stage_reply() {
    let mut h = Harness::new(configured());
    let a = h.connect_cli("a", &["operator.write"]);
    let b = h.connect_cli("b", &["operator.write"]);
    h.two_stage_ids.extend(["r1".to_owned(), "r2".to_owned()]);
    let params = json!({ "message": "hi", "sessionKey": "agent:main:main", "idempotencyKey": "run-1" });
    h.request(a, "r1", "agent", params.clone());
    h.request(b, "r2", "agent", params.clone());
    report(&mut h, "run-1", RunReport::Delta { text: "hi".into() });
    report(&mut h, "run-1", RunReport::Completed { text: "hi".into(), usage: None });
    assert_eq!(h.last_frame(a).unwrap_or_default()["payload"]["status"], "ok");
    assert_eq!(h.last_frame(b).unwrap_or_default()["payload"]["status"], "ok");
    // A duplicate after the end replays the cached result once.
    h.request(a, "r3", "agent", params);
    snapshot("two_stage_reply", &mut h);
}

/// Graceful shutdown (protocol.md §8): an unfinished run fails with a retryable UNAVAILABLE on
/// its request, every socket (connected or not) gets `shutdown` where it may, then 1012, and
/// the hub is drained.
#[test]
fn shutdown_tells_everyone_then_1012_and_drains() {
    let mut h = Harness::new(configured());
    let a = h.connect_cli("admin", &["operator.admin"]);
    let n = h.open("noscope");
    h.request(n, "c1", "connect", json!({"minProtocol":4,"maxProtocol":4,"client":{"id":"test","version":"1","platform":"linux","mode":"test"},"auth":{"token":TOKEN}}));
    let pending = h.open("pending");
    h.two_stage_ids.insert("r1".into());
    h.request(a, "r1", "agent", json!({ "message": "hi", "sessionKey": "agent:main:main", "idempotencyKey": "run-x" }));
    h.shutdown("gateway stopping", None);
    assert_eq!(h.close_of(a), Some((1012, "service restart".into())));
    assert_eq!(h.close_of(pending), Some((1012, "service restart".into())));
    assert!(h.hub.is_drained());
    snapshot("shutdown", &mut h);
}
