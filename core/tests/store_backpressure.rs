//! A backed-up store queue is a visible state: methods that need the store are refused with a
//! retryable UNAVAILABLE (sockets and other callers alike), `health` shows it, everything else
//! is served, and work is admitted again once the store has caught up.

use openclaw_core::auth::scopes::{Scope, ScopeSet};
use openclaw_core::testing::{test_config, Harness};
use openclaw_core::wire::frames::ErrorCode;
use openclaw_core::{Caller, CallerEvent, HubConfig, HubInput};
use serde_json::json;

fn configured() -> HubConfig {
    let mut config = test_config();
    config.session_defaults.model_configured = true;
    config
}

fn backpressure(h: &mut Harness, backed_up: bool) {
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_input(now, wall, HubInput::StoreBackpressure { backed_up });
    h.pump();
}

#[test]
fn store_work_is_refused_while_the_store_is_backed_up() {
    let mut h = Harness::new(configured());
    let a = h.connect_cli("a", &["operator.admin"]);
    backpressure(&mut h, true);

    h.request(a, "r1", "agent", json!({ "message": "hi", "sessionKey": "agent:main:s", "idempotencyKey": "k1" }));
    let res = h.last_frame(a).unwrap_or_default();
    assert_eq!(res["ok"], false, "{res}");
    assert_eq!(res["error"]["code"], ErrorCode::Unavailable.as_str());
    assert_eq!(res["error"]["retryable"], true, "{res}");
    assert_eq!(res["error"]["details"]["reason"], "store-backpressure");
    assert!(h.run_commands.is_empty() && h.store_commands.is_empty(), "nothing started, nothing written");

    h.request(a, "r2", "sessions.delete", json!({ "key": "agent:main:s" }));
    assert_eq!(h.last_frame(a).unwrap_or_default()["error"]["details"]["reason"], "store-backpressure");

    // A non-socket caller gets the same refusal as a value.
    let http = Caller::Http { id: 1 };
    let write: ScopeSet = [Scope::Write].into_iter().collect();
    h.call(http, write, "chat.send", json!({ "sessionKey": "main", "message": "hi", "idempotencyKey": "c1" }))
        .expect("valid");
    let Some((_, CallerEvent::Response(Err(e)))) = h.caller_events.last() else { panic!("{:?}", h.caller_events) };
    assert_eq!(e.code, ErrorCode::Unavailable);

    // Methods that do not touch the store are served, and health shows the state.
    h.request(a, "h1", "health", json!({}));
    let health = h.last_frame(a).unwrap_or_default();
    assert_eq!(health["ok"], true);
    assert_eq!(health["payload"]["storeBackpressure"]["backedUp"], true, "{health}");

    backpressure(&mut h, false);
    h.request(a, "h2", "health", json!({}));
    assert!(h.last_frame(a).unwrap_or_default()["payload"].get("storeBackpressure").is_none());
    h.two_stage_ids.insert("r3".into());
    h.request(a, "r3", "agent", json!({ "message": "hi", "sessionKey": "agent:main:s", "idempotencyKey": "k1" }));
    let accepted = h.frames(a).into_iter().find(|f| f["type"] == "res" && f["id"] == "r3").unwrap_or_default();
    assert_eq!(accepted["payload"]["status"], "accepted", "{accepted}");
    assert_eq!(h.run_commands.len(), 1);
}
