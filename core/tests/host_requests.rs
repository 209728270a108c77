//! Requests the hub hands to its host (`logs.tail`, `config.*`): params are validated and
//! scopes checked before the host sees them, and the host's answer reaches the caller.

use openclaw_core::HubInput;
use openclaw_core::testing::{test_config, Harness};
use openclaw_core::wire::frames::{ErrorCode, ErrorShape};
use openclaw_core::wire::host::{HostRequest, LogsTailParams};
use serde_json::json;

#[test]
fn host_requests_round_trip_with_scopes_and_validation() {
    let mut h = Harness::new(test_config());
    let reader = h.connect_cli("reader", &["operator.read"]);
    let admin = h.connect_cli("admin", &["operator.admin"]);

    h.request(reader, "t1", "logs.tail", json!({"cursor": 10, "limit": 5}));
    assert_eq!(h.host_requests.len(), 1);
    let (caller, request) = h.host_requests.remove(0);
    assert!(caller.is_on(reader), "{caller:?}");
    assert_eq!(
        request,
        HostRequest::LogsTail(LogsTailParams { cursor: Some(10), limit: Some(5), max_bytes: None })
    );
    h.hub.handle_input(h.now, h.wall(), HubInput::HostReply { caller, reply: Ok(json!({"file": "/tmp/x.log", "cursor": 20, "size": 20, "lines": []})) });
    h.pump();
    let res = h.last_frame(reader).unwrap_or_default();
    assert_eq!(res["id"], "t1");
    assert_eq!(res["ok"], true);
    assert_eq!(res["payload"]["cursor"], 20);

    // Out-of-range params never reach the host.
    h.request(reader, "t2", "logs.tail", json!({"limit": 0}));
    assert!(h.host_requests.is_empty());
    let res = h.last_frame(reader).unwrap_or_default();
    assert_eq!(res["error"]["code"], "INVALID_REQUEST");

    // config.set needs admin; config.get only read.
    h.request(reader, "s1", "config.set", json!({"raw": "{}"}));
    assert!(h.host_requests.is_empty());
    assert_eq!(h.last_frame(reader).unwrap_or_default()["error"]["code"], "FORBIDDEN");
    h.request(reader, "g1", "config.get", json!({}));
    assert_eq!(h.host_requests.len(), 1);
    let (caller, request) = h.host_requests.remove(0);
    assert_eq!(request, HostRequest::ConfigGet);
    h.hub.handle_input(h.now, h.wall(), HubInput::HostReply { caller, reply: Err(ErrorShape::new(ErrorCode::Unavailable, "config read failed")) });
    h.pump();
    let res = h.last_frame(reader).unwrap_or_default();
    assert_eq!(res["ok"], false);
    assert_eq!(res["error"]["message"], "config read failed");

    h.request(admin, "p1", "config.patch", json!({"raw": "{gateway:{}}", "baseHash": "abc"}));
    let (_, request) = h.host_requests.remove(0);
    assert!(matches!(request, HostRequest::ConfigPatch(p) if p.base_hash.as_deref() == Some("abc")));

    // A reply for a connection that went away is dropped quietly.
    h.request(admin, "p2", "config.get", json!({}));
    let (caller, _) = h.host_requests.remove(0);
    h.disconnect(admin);
    h.hub.handle_input(h.now, h.wall(), HubInput::HostReply { caller, reply: Ok(json!({})) });
    h.pump();
    h.check_final();
    assert!(h.violations.is_empty(), "{:?}", h.violations);
}

#[test]
fn config_reload_status_and_last_error_reach_health() {
    use openclaw_core::wire::hello::HotReloadStatus;
    let mut h = Harness::new(test_config());
    let a = h.connect_cli("a", &["operator.read"]);
    h.request(a, "h1", "health", json!({}));
    let health = h.last_frame(a).unwrap_or_default()["payload"].clone();
    assert_eq!(health["configReload"], json!({"hotReloadStatus": "active"}));

    let wall = h.wall();
    let last_error = Some("openclaw.json:3:5: gateway.bind: bad".into());
    h.hub.handle_input(h.now, wall, HubInput::ConfigReload { status: HotReloadStatus::Active, last_error });
    h.pump();
    assert_eq!(h.last_frame(a).unwrap_or_default()["event"], "health", "a new error is announced");
    h.request(a, "h2", "health", json!({}));
    let health = h.last_frame(a).unwrap_or_default()["payload"].clone();
    assert_eq!(health["configReload"]["hotReloadStatus"], "active");
    assert_eq!(health["configReload"]["lastError"]["message"], "openclaw.json:3:5: gateway.bind: bad");

    // Turning reload off is broadcast as a fresh health event; a good reload clears the error.
    h.hub.handle_input(h.now, wall, HubInput::ConfigReload { status: HotReloadStatus::Disabled, last_error: None });
    h.pump();
    let event = h.last_frame(a).unwrap_or_default();
    assert_eq!(event["event"], "health");
    assert_eq!(event["payload"]["configReload"], json!({"hotReloadStatus": "disabled"}));
    h.request(a, "h3", "health", json!({}));
    let health = h.last_frame(a).unwrap_or_default()["payload"].clone();
    assert_eq!(health["configReload"], json!({"hotReloadStatus": "disabled"}));
    assert!(h.violations.is_empty(), "{:?}", h.violations);
}
