//! Config-driven policy in the hub: `gateway.auth.rateLimit` ([`RateLimitPolicy`] in
//! `HubConfig`) and `agents.defaults.timeoutSeconds` (the default run timeout). Virtual time.
#![allow(clippy::unwrap_used)] // tests may unwrap

use std::time::Duration;

use openclaw_core::auth::limiter::RateLimitPolicy;
use openclaw_core::hub::{AbortReason, RunCommand};
use openclaw_core::testing::{test_config, Harness, TOKEN};
use openclaw_core::{HubConfig, PeerInfo, RunId};
use serde_json::{json, Value};

fn remote() -> PeerInfo {
    PeerInfo {
        ip: "192.0.2.50".parse().unwrap(),
        forwarded: false,
        origin: None,
        host_is_local: false,
        scope_cap: None,
        origin_refused: None,
        canvas_url: None,
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

fn with_agent_timeout(timeout: Duration) -> HubConfig {
    let mut config = test_config();
    config.session_defaults.model_configured = true;
    config.agent_timeout = timeout;
    config
}

fn timed_out(h: &Harness, run: &str) -> bool {
    h.run_commands.contains(&RunCommand::Abort { run: RunId(run.into()), reason: AbortReason::Timeout })
}

/// An `agent` call without `timeout` ends with AGENT_TIMEOUT at the configured default (45 s),
/// not at the built-in 600 s.
#[test]
fn agent_run_without_timeout_uses_the_configured_default() {
    let mut h = Harness::new(with_agent_timeout(Duration::from_secs(45)));
    let a = h.connect_cli("a", &["operator.write"]);
    h.two_stage_ids.insert("r1".into());
    h.request(a, "r1", "agent", json!({ "message": "slow", "sessionKey": "agent:main:t1", "idempotencyKey": "k1" }));
    h.advance(Duration::from_secs(44));
    assert!(!timed_out(&h, "k1"), "still running before the configured timeout");
    h.advance(Duration::from_secs(1));
    assert!(timed_out(&h, "k1"));
    let res: Vec<Value> = h.frames(a).into_iter().filter(|f| f["id"] == "r1").collect();
    assert_eq!(res.len(), 2, "{res:?}");
    assert_eq!(res[1]["error"]["code"], "AGENT_TIMEOUT");
    assert!(res[1]["error"]["message"].as_str().unwrap().contains("45s"), "{}", res[1]);
}

/// `chat.send` without `timeoutMs` takes the same default.
#[test]
fn chat_send_without_timeout_uses_the_configured_default() {
    let mut h = Harness::new(with_agent_timeout(Duration::from_secs(20)));
    let a = h.connect_cli("a", &["operator.write"]);
    h.request(a, "s1", "chat.send", json!({ "sessionKey": "agent:main:t1", "message": "hi", "idempotencyKey": "c1" }));
    h.advance(Duration::from_secs(19));
    assert!(!timed_out(&h, "c1"));
    h.advance(Duration::from_secs(1));
    assert!(timed_out(&h, "c1"));
}

/// `timeoutSeconds: 0` means no timeout: the run is still going long after 600 s.
#[test]
fn zero_default_means_no_timeout() {
    let mut h = Harness::new(with_agent_timeout(Duration::ZERO));
    let a = h.connect_cli("a", &["operator.write"]);
    h.two_stage_ids.insert("r1".into());
    h.request(a, "r1", "agent", json!({ "message": "slow", "sessionKey": "agent:main:t1", "idempotencyKey": "k1" }));
    h.advance(Duration::from_secs(3600));
    assert!(!timed_out(&h, "k1"));
}
