//! Config-driven policy in the hub: `gateway.auth.rateLimit` ([`RateLimitPolicy`] in
//! `HubConfig`) and `agents.defaults.timeoutSeconds` (the default run timeout). Virtual time.

use std::time::Duration;

use openclaw_core::auth::limiter::RateLimitPolicy;
use openclaw_core::testing::{test_config, Harness, TOKEN};
use openclaw_core::PeerInfo;
use serde_json::json;

fn remote() -> PeerInfo {
    PeerInfo {
        ip: "192.0.2.50".parse().unwrap(),
        forwarded: false,
        origin: None,
        host_is_local: false,
        scope_cap: None,
    }
}

/// One connect from `peer` with `token`: the refusal's `details.code`, or `"ok"`.
fn connect_code(h: &mut Harness, name: &str, peer: PeerInfo, token: &str) -> String {
    let c = h.open_with(name, peer);
    let mut p = Harness::cli_params(&[]);
    p["auth"] = json!({ "token": token });
    h.request(c, "c1", "connect", p);
    let res = h.last_frame(c).unwrap();
    if res["ok"] == true {
        return "ok".into();
    }
    res["error"]["details"]["code"].as_str().unwrap().to_owned()
}

#[test]
fn configured_max_attempts_and_lockout_apply() {
    let mut config = test_config();
    config.auth_rate_limit = RateLimitPolicy {
        max_attempts: 2,
        window: Duration::from_secs(60),
        lockout: Duration::from_secs(10),
        exempt_loopback: true,
    };
    let mut h = Harness::new(config);
    assert_eq!(connect_code(&mut h, "r1", remote(), "nope"), "AUTH_TOKEN_MISMATCH");
    assert_eq!(connect_code(&mut h, "r2", remote(), "nope"), "AUTH_TOKEN_MISMATCH");
    let c = h.open_with("locked", remote());
    let mut p = Harness::cli_params(&[]);
    p["auth"] = json!({ "token": TOKEN });
    h.request(c, "c1", "connect", p);
    let error = &h.last_frame(c).unwrap()["error"];
    assert_eq!(error["details"]["code"], "AUTH_RATE_LIMITED");
    assert_eq!(error["retryAfterMs"], 10_000);
    // The configured lockout (10 s), not the default 5 min.
    h.advance(Duration::from_secs(10));
    assert_eq!(connect_code(&mut h, "after", remote(), TOKEN), "ok");
}

#[test]
fn loopback_is_locked_out_when_not_exempt() {
    let mut config = test_config();
    config.auth_rate_limit = RateLimitPolicy { max_attempts: 2, exempt_loopback: false, ..RateLimitPolicy::default() };
    let mut h = Harness::new(config);
    // Not exempt: no escalating delay, the answer comes at once.
    assert_eq!(connect_code(&mut h, "l1", PeerInfo::loopback(), "nope"), "AUTH_TOKEN_MISMATCH");
    assert_eq!(connect_code(&mut h, "l2", PeerInfo::loopback(), "nope"), "AUTH_TOKEN_MISMATCH");
    assert_eq!(connect_code(&mut h, "l3", PeerInfo::loopback(), TOKEN), "AUTH_RATE_LIMITED");
}
