//! Sessions (channels-agent-nodes.md §7): the index agent runs maintain, `sessions.list`,
//! `sessions.reset`, `sessions.delete`, `/reset` through `agent`, what the driver is told to
//! persist, and results restored after a restart replaying to duplicates.

use openclaw_core::hub::StoreCommand;
use openclaw_core::testing::{test_config, Harness};
use openclaw_core::wire::agent::{RunReport, Usage};
use openclaw_core::{HubConfig, RunId};
use serde_json::{json, Value};

fn configured() -> HubConfig {
    let mut config = test_config();
    config.session_defaults.model_configured = true;
    config
}

fn snapshot(name: &str, h: &mut Harness) {
    h.check_final();
    assert!(h.violations.is_empty(), "invariants broken: {:?}\n{}", h.violations, h.transcript());
    insta::assert_snapshot!(name, h.transcript());
}

fn finish(h: &mut Harness, run: &str, text: &str) {
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_run(now, wall, &RunId(run.into()), RunReport::Model { provider: "fake".into(), model: "m".into() });
    let usage = Some(Usage { input: 4, output: 2 });
    h.hub.handle_run(now, wall, &RunId(run.into()), RunReport::Completed { text: text.into(), usage });
    h.pump();
}

fn report_done(h: &mut Harness, run: &str) {
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_run(now, wall, &RunId(run.into()), RunReport::Completed { text: "ok".into(), usage: None });
    h.pump();
}

fn payload(h: &Harness, conn: openclaw_core::ConnId) -> Value {
    h.last_frame(conn).unwrap_or_default()["payload"].clone()
}

#[test]
fn list_reset_delete() {
    let mut h = Harness::new(configured());
    let a = h.connect_cli("admin", &["operator.admin"]);
    h.two_stage_ids.extend(["r1".to_owned(), "r2".to_owned()]);
    h.request(a, "r1", "agent", json!({"message":"hi","idempotencyKey":"k1"}));
    finish(&mut h, "k1", "one");
    h.advance(std::time::Duration::from_secs(1));
    h.request(a, "r2", "agent", json!({"message":"yo","sessionKey":"Agent:Main:T1","idempotencyKey":"k2"}));
    finish(&mut h, "k2", "two");
    h.request(a, "l1", "sessions.list", json!({}));
    let list = payload(&h, a);
    assert_eq!(list["count"], 2);
    assert_eq!(list["sessions"][0]["key"], "agent:main:t1", "newest first, key lower-cased");
    assert_eq!(list["sessions"][1]["key"], "agent:main:main");
    assert_eq!(list["sessions"][0]["totalTokens"], 6);
    let old_id = list["sessions"][0]["sessionId"].clone();
    h.request(a, "x1", "sessions.reset", json!({"key":"t1"}));
    let reset = payload(&h, a);
    assert_eq!(reset["key"], "agent:main:t1");
    assert_ne!(reset["entry"]["sessionId"], old_id);
    h.request(a, "d1", "sessions.delete", json!({"key":"main"}));
    h.request(a, "d2", "sessions.delete", json!({"key":"agent:main:t1"}));
    assert_eq!(payload(&h, a)["deleted"], true);
    h.request(a, "l2", "sessions.list", json!({"limit": 5, "search": "T1"}));
    assert_eq!(payload(&h, a)["count"], 0);
    h.request(a, "l3", "sessions.list", json!({"bogus": 1}));
    let deletes = h.store_commands.iter().filter(|c| matches!(c, StoreCommand::DeleteSession { .. })).count();
    assert_eq!(deletes, 1);
    snapshot("sessions_list_reset_delete", &mut h);
}

#[test]
fn reset_command_starts_a_new_session_with_the_rest_of_the_message() {
    let mut h = Harness::new(configured());
    let a = h.connect_cli("admin", &["operator.admin"]);
    h.two_stage_ids.extend(["r1".to_owned(), "r2".to_owned()]);
    h.request(a, "r1", "agent", json!({"message":"hi","idempotencyKey":"k1"}));
    finish(&mut h, "k1", "one");
    h.request(a, "r2", "agent", json!({"message":"/reset tell me a joke","idempotencyKey":"k2"}));
    let starts: Vec<(String, String)> = h
        .run_commands
        .iter()
        .filter_map(|c| match c {
            openclaw_core::hub::RunCommand::Start(s) => Some((s.session_id.clone(), s.message.clone())),
            openclaw_core::hub::RunCommand::Abort { .. } => None,
        })
        .collect();
    assert_eq!(starts.len(), 2);
    assert_ne!(starts[0].0, starts[1].0, "a fresh session id");
    assert_eq!(starts[1].1, "tell me a joke");
    // `sessionId` names the session when no key is given.
    report_done(&mut h, "k2");
    h.two_stage_ids.insert("r3".into());
    h.request(a, "r3", "agent", json!({"message":"hi","sessionId": starts[1].0,"idempotencyKey":"k3"}));
    let last = h.run_commands.last().cloned();
    match last {
        Some(openclaw_core::hub::RunCommand::Start(s)) => {
            assert_eq!((s.session_key.as_str(), s.session_id.as_str()), ("agent:main:main", starts[1].0.as_str()));
        }
        other => panic!("expected a start, got {other:?}"),
    }
}

#[test]
fn restored_results_replay_to_duplicates_and_agent_wait() {
    let mut h = Harness::new(configured());
    let (now, wall) = (h.now, h.wall());
    let response = json!({"ok": true, "payload": {"runId":"k1","status":"ok","summary":"completed",
        "result":{"payloads":[{"text":"from before","mediaUrl":null}]}}});
    let wait = json!({"runId":"k1","status":"ok"});
    let finished = openclaw_core::UnixMillis(wall.0 - 60_000);
    h.hub.restore_run_result(now, wall, RunId("k1".into()), &response, wait, finished);
    // Expired results are not restored.
    let old = openclaw_core::UnixMillis(wall.0 - 6 * 60_000);
    h.hub.restore_run_result(now, wall, RunId("k0".into()), &response, json!({}), old);
    let a = h.connect_cli("a", &["operator.write"]);
    h.request(a, "r1", "agent", json!({"message":"hi","idempotencyKey":"k1"}));
    assert_eq!(payload(&h, a)["result"]["payloads"][0]["text"], "from before");
    h.request(a, "w1", "agent.wait", json!({"runId":"k1","timeoutMs":0}));
    assert_eq!(payload(&h, a)["status"], "ok");
    assert!(h.run_commands.is_empty(), "no new run for a restored key");
    h.two_stage_ids.insert("r2".into());
    h.request(a, "r2", "agent", json!({"message":"hi","idempotencyKey":"k0"}));
    assert_eq!(h.run_commands.len(), 1, "an expired key runs again");
    finish(&mut h, "k0", "again");
    // The replay stays valid for the rest of the 5 min only.
    h.advance(std::time::Duration::from_secs(4 * 60));
    h.request(a, "r3", "agent", json!({"message":"hi","idempotencyKey":"k1"}));
    assert_eq!(h.run_commands.len(), 2);
}
