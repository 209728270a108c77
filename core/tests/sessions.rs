//! Sessions (channels-agent-nodes.md §7): the index agent runs maintain, `sessions.list`,
//! `sessions.reset`, `sessions.delete`, `/reset` through `agent`, what the driver is told to
//! persist, and results restored after a restart replaying to duplicates.

use openclaw_core::HubInput;
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
    h.hub.handle_input(now, wall, HubInput::Run { run: RunId(run.into()), report: RunReport::Model { provider: "fake".into(), model: "m".into() } });
    let usage = Some(Usage { input: 4, output: 2 });
    h.hub.handle_input(now, wall, HubInput::Run { run: RunId(run.into()), report: RunReport::Completed { text: text.into(), usage } });
    h.pump();
}

fn report_done(h: &mut Harness, run: &str) {
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_input(now, wall, HubInput::Run { run: RunId(run.into()), report: RunReport::Completed { text: "ok".into(), usage: None } });
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
    // A recipient `to` is a direct chat: it collapses to the main session (per-sender scope).
    h.request(a, "r1", "agent", json!({"message":"hi","to":"+15551234567","idempotencyKey":"k1"}));
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
    h.request(a, "r1", "agent", json!({"message":"hi","agentId":"main","idempotencyKey":"k1"}));
    finish(&mut h, "k1", "one");
    h.request(a, "r2", "agent", json!({"message":"/reset tell me a joke","agentId":"main","idempotencyKey":"k2"}));
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

/// The session each `agent` call lands in, and whether `accepted` echoes it (as observed on
/// the reference 2026.9.6 with `gateway call agent`).
#[test]
fn agent_session_keys_follow_the_reference() {
    let cases: &[(Value, Option<&str>, &str)] = &[
        (json!({"sessionKey":"Ops"}), Some("agent:main:ops"), "agent:main:ops"),
        (json!({"to":"+15551234567"}), None, "agent:main:main"),
        (json!({"to":"+15551234567","channel":"last"}), None, "agent:main:main"),
        (json!({"to":"+15551234567","agentId":"main"}), Some("agent:main:main"), "agent:main:main"),
        (json!({"to":"agent:main:direct:bob"}), Some("agent:main:direct:bob"), "agent:main:direct:bob"),
        (json!({"agentId":"ops"}), Some("agent:ops:main"), "agent:ops:main"),
        (json!({}), None, "agent:main:explicit:k6"),
        (json!({"sessionId":"nope"}), None, "agent:main:explicit:nope"),
    ];
    let mut h = Harness::new(configured());
    let a = h.connect_cli("admin", &["operator.admin"]);
    for (i, (extra, echoed, key)) in cases.iter().enumerate() {
        let id = format!("r{i}");
        h.two_stage_ids.insert(id.clone());
        let mut params = json!({"message":"hi","idempotencyKey": format!("k{i}")});
        for (k, v) in extra.as_object().into_iter().flatten() {
            params[k] = v.clone();
        }
        h.request(a, &id, "agent", params);
        let frames = h.frames(a);
        let accepted = frames.iter().find(|f| f["type"] == "res" && f["id"] == id.as_str()).map(|f| f["payload"].clone());
        let accepted = accepted.unwrap_or_default();
        assert_eq!(accepted["status"], "accepted", "{extra}: {accepted}");
        assert_eq!(accepted["sessionKey"].as_str(), *echoed, "{extra}: {accepted}");
        match h.run_commands.last() {
            Some(openclaw_core::hub::RunCommand::Start(s)) => assert_eq!(s.session_key, *key, "{extra}"),
            other => panic!("{extra}: expected a start, got {other:?}"),
        }
        finish(&mut h, &format!("k{i}"), "ok");
    }
    h.request(a, "bad", "agent", json!({"message":"hi","to":"+15551234567","channel":"telegram","idempotencyKey":"kx"}));
    let error = h.last_frame(a).unwrap_or_default();
    assert_eq!(error["error"]["code"], "INVALID_REQUEST");
    assert_eq!(error["error"]["message"], "Unable to resolve a session route for channel \"telegram\"");

    let mut config = configured();
    config.session_defaults.scope = "global".into();
    let mut h = Harness::new(config);
    let a = h.connect_cli("admin", &["operator.admin"]);
    h.two_stage_ids.insert("g".into());
    h.request(a, "g", "agent", json!({"message":"hi","to":"+15551234567","idempotencyKey":"kg"}));
    match h.run_commands.last() {
        Some(openclaw_core::hub::RunCommand::Start(s)) => assert_eq!(s.session_key, "global"),
        other => panic!("expected a start, got {other:?}"),
    }
}

/// `sessions.delete` of a session with a run in progress (and one queued) aborts both, keeps
/// the streamed text in the store's order before the delete, then deletes (§7.4).
#[test]
fn delete_aborts_the_running_session_first() {
    let mut h = Harness::new(configured());
    let a = h.connect_cli("admin", &["operator.admin"]);
    h.two_stage_ids.extend(["r1".to_owned(), "r2".to_owned()]);
    h.request(a, "r1", "agent", json!({"message":"long","sessionKey":"agent:main:busy","idempotencyKey":"k1"}));
    h.request(a, "r2", "agent", json!({"message":"next","sessionKey":"agent:main:busy","idempotencyKey":"k2"}));
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_input(now, wall, HubInput::Run { run: RunId("k1".into()), report: RunReport::Delta { text: "partial".into() } });
    h.pump();
    h.request(a, "d1", "sessions.delete", json!({"key":"agent:main:busy"}));
    let frames = h.frames(a);
    let res = |id: &str| frames.iter().rev().find(|f| f["type"] == "res" && f["id"] == id).cloned().unwrap_or_default();
    let done = res("d1")["payload"].clone();
    assert_eq!((done["ok"].clone(), done["deleted"].clone()), (json!(true), json!(true)), "{done}");
    // The transcript is archived as the reference does, then the rows go.
    let archived = done["archived"][0].as_str().unwrap_or_default().to_owned();
    assert!(archived.starts_with("/tmp/state/agents/main/sessions/") && archived.ends_with(".jsonl.deleted.1800000000000"), "{done}");
    let archive = h.store_commands.iter().find_map(|c| {
        if let StoreCommand::DeleteSession { archive, delete_transcript: true, .. } = c {
            archive.clone()
        } else {
            None
        }
    });
    assert_eq!(archive.as_deref(), Some(archived.as_str()));
    assert_eq!(res("r1")["payload"]["summary"], "aborted", "the running run ended");
    assert_eq!(res("r2")["payload"]["summary"], "aborted", "the queued run never started");
    let starts = h.run_commands.iter().filter(|c| matches!(c, openclaw_core::hub::RunCommand::Start(_))).count();
    assert_eq!(starts, 1, "aborting the running run did not start the queued one");
    let order: Vec<&str> = h
        .store_commands
        .iter()
        .filter_map(|c| match c {
            StoreCommand::AppendMessage { message, .. } if message["openclawAbort"]["aborted"] == true => Some("partial"),
            StoreCommand::DeleteSession { .. } => Some("delete"),
            StoreCommand::AppendMessage { .. }
            | StoreCommand::SaveSession(_)
            | StoreCommand::SaveRunResult { .. }
            | StoreCommand::ReadHistory { .. } => None,
        })
        .collect();
    assert_eq!(order, ["partial", "delete"]);
    h.request(a, "l1", "sessions.list", json!({}));
    assert_eq!(payload(&h, a)["count"], 0);
    snapshot("sessions_delete_running", &mut h);
}
