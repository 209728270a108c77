//! `chat.send`, `chat.abort` and `chat.history` (protocol.md §5.8) on the virtual clock.

use openclaw_core::hub::{AbortReason, RunCommand, StoreCommand};
use openclaw_core::testing::{test_config, Harness};
use openclaw_core::wire::agent::RunReport;
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

fn report(h: &mut Harness, run: &str, r: RunReport) {
    h.transcript.push(format!("⚙ report {run} {r:?}"));
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_run(now, wall, &RunId(run.into()), r);
    h.pump();
}

/// The payload of the last `res` to request `id`.
fn res(h: &Harness, conn: openclaw_core::ConnId, id: &str) -> Value {
    let frames = h.frames(conn);
    let found = frames.iter().rev().find(|f| f["type"] == "res" && f["id"] == id);
    found.map(|f| f["payload"].clone()).unwrap_or_default()
}

#[test]
fn send_streams_chat_events_then_abort_and_stop() {
    let mut h = Harness::new(configured());
    let ui = h.connect_cli("ui", &["operator.write"]);
    h.request(ui, "s1", "chat.send", json!({"sessionKey":"main","message":"hi","idempotencyKey":"c1"}));
    assert_eq!(res(&h, ui, "s1"), json!({"runId":"c1","status":"started"}));
    h.request(ui, "s2", "chat.send", json!({"sessionKey":"main","message":"hi","idempotencyKey":"c1"}));
    assert_eq!(res(&h, ui, "s2")["status"], "in_flight");
    report(&mut h, "c1", RunReport::Delta { text: "Hello".into() });
    report(&mut h, "c1", RunReport::Completed { text: "Hello".into(), usage: None });
    h.request(ui, "s3", "chat.send", json!({"sessionKey":"main","message":"again","idempotencyKey":"c1"}));
    assert_eq!(res(&h, ui, "s3")["status"], "ok", "cached terminal status");

    h.request(ui, "s4", "chat.send", json!({"sessionKey":"main","message":"long","idempotencyKey":"c2"}));
    report(&mut h, "c2", RunReport::Delta { text: "par".into() });
    h.request(ui, "a0", "chat.abort", json!({"sessionKey":"agent:main:other","runId":"c2"}));
    h.request(ui, "a1", "chat.abort", json!({"sessionKey":"main","runId":"c2"}));
    assert_eq!(res(&h, ui, "a1"), json!({"ok":true,"aborted":true,"runIds":["c2"]}));
    assert!(h.run_commands.contains(&RunCommand::Abort { run: RunId("c2".into()), reason: AbortReason::Requested }));

    h.request(ui, "s5", "chat.send", json!({"sessionKey":"main","message":"more","idempotencyKey":"c3"}));
    h.request(ui, "s6", "chat.send", json!({"sessionKey":"main","message":"/stop","idempotencyKey":"c4"}));
    assert_eq!(res(&h, ui, "s6"), json!({"ok":true,"aborted":true,"runIds":["c3"]}));
    h.request(ui, "s7", "chat.send", json!({"sessionKey":"main","message":"  ","idempotencyKey":"c5"}));
    h.request(ui, "a2", "chat.abort", json!({"sessionKey":"main"}));
    assert_eq!(res(&h, ui, "a2"), json!({"ok":true,"aborted":false,"runIds":[]}));
    snapshot("chat_send_abort_stop", &mut h);
}

#[test]
fn history_is_read_by_the_driver() {
    let mut h = Harness::new(configured());
    let ui = h.connect_cli("ui", &["operator.write"]);
    h.request(ui, "h0", "chat.history", json!({"sessionKey":"main"}));
    assert_eq!(res(&h, ui, "h0")["messages"], json!([]));
    h.request(ui, "s1", "chat.send", json!({"sessionKey":"main","message":"hi","idempotencyKey":"c1"}));
    report(&mut h, "c1", RunReport::Completed { text: "yo".into(), usage: None });
    h.request(ui, "h1", "chat.history", json!({"sessionKey":"main","limit":10}));
    let read = h.store_commands.iter().rev().find_map(|c| match c {
        StoreCommand::ReadHistory { conn, id, session_key, session_id, limit } => {
            Some((*conn, id.clone(), session_key.clone(), session_id.clone(), *limit))
        }
        StoreCommand::SaveSession(_)
        | StoreCommand::DeleteSession { .. }
        | StoreCommand::SaveRunResult { .. }
        | StoreCommand::AppendMessage { .. } => None,
    });
    let (conn, id, key, sid, limit) = read.expect("a history read");
    assert_eq!((key.as_str(), limit), ("agent:main:main", 10));
    let msgs = vec![json!({"role":"user","content":[{"type":"text","text":"hi"}],"timestamp":1})];
    h.hub.handle_history(conn, id, &key, &sid, msgs);
    h.pump();
    assert_eq!(res(&h, ui, "h1")["messages"][0]["role"], "user");
    h.request(ui, "h2", "chat.history", json!({"sessionKey":"main","limit":0}));
    snapshot("chat_history", &mut h);
}
