//! `chat.send`, `chat.abort` and `chat.history` (protocol.md §5.8) on the virtual clock.

use openclaw_core::HubInput;
use openclaw_core::hub::{AbortReason, HistoryPage, HistoryQuery, RunCommand, StoreCommand};
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
    h.hub.handle_input(now, wall, HubInput::Run { run: RunId(run.into()), report: r });
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

/// The last `ReadHistory` the hub asked the driver for.
fn last_read(h: &Harness) -> (openclaw_core::Caller, String, String, HistoryQuery) {
    let read = h.store_commands.iter().rev().find_map(|c| match c {
        StoreCommand::ReadHistory { caller, session_key, session_id, query } => {
            Some((caller.clone(), session_key.clone(), session_id.clone(), *query))
        }
        StoreCommand::SaveSession(_)
        | StoreCommand::DeleteSession { .. }
        | StoreCommand::SaveRunResult { .. }
        | StoreCommand::AppendMessage { .. } => None,
    });
    read.expect("a history read")
}

/// `n` stored messages numbered as the store numbers them, `seq` `from..from+n`.
fn stored(from: u64, n: u64) -> Vec<Value> {
    (from..from + n)
        .map(|seq| json!({"role":"user","content":[{"type":"text","text":format!("m{seq}")}],"timestamp":seq,
            "__openclaw":{"id":seq.to_string(),"seq":seq}}))
        .collect()
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
    let (caller, key, sid, query) = last_read(&h);
    assert_eq!((key.as_str(), query), ("agent:main:main", HistoryQuery::Tail { limit: 10, offset: 0 }));
    h.hub.handle_input(h.now, h.wall(), HubInput::History { caller, session_key: key, session_id: sid, result: Ok(HistoryPage { messages: stored(1, 2), total: 2 }) });
    h.pump();
    let page = res(&h, ui, "h1");
    assert_eq!(page["messages"][0]["content"][0]["text"], "m1");
    assert_eq!((page["hasMore"].clone(), page["totalMessages"].clone()), (json!(false), json!(2)));
    assert!(page.get("nextOffset").is_none() && page.get("offset").is_none(), "{page}");
    h.request(ui, "h2", "chat.history", json!({"sessionKey":"main","limit":0}));
    snapshot("chat_history", &mut h);
}

#[test]
fn history_pages_by_offset_and_follows_a_cursor() {
    let mut h = Harness::new(configured());
    let ui = h.connect_cli("ui", &["operator.admin"]);
    h.request(ui, "s1", "chat.send", json!({"sessionKey":"main","message":"hi","idempotencyKey":"c1"}));
    report(&mut h, "c1", RunReport::Completed { text: "yo".into(), usage: None });

    // The newest two of nine, then the two before them.
    h.request(ui, "p1", "chat.history", json!({"sessionKey":"main","limit":2}));
    let (caller, key, sid, _) = last_read(&h);
    h.hub.handle_input(h.now, h.wall(), HubInput::History { caller, session_key: key, session_id: sid, result: Ok(HistoryPage { messages: stored(8, 2), total: 9 }) });
    h.pump();
    let p1 = res(&h, ui, "p1");
    assert_eq!((p1["nextOffset"].clone(), p1["hasMore"].clone(), p1["totalMessages"].clone()), (json!(2), json!(true), json!(9)));
    h.request(ui, "p2", "chat.history", json!({"sessionKey":"main","limit":2,"offset":2}));
    let (caller, key, sid, query) = last_read(&h);
    assert_eq!(query, HistoryQuery::Tail { limit: 2, offset: 2 });
    h.hub.handle_input(h.now, h.wall(), HubInput::History { caller, session_key: key, session_id: sid, result: Ok(HistoryPage { messages: stored(6, 2), total: 9 }) });
    h.pump();
    let p2 = res(&h, ui, "p2");
    assert_eq!((p2["offset"].clone(), p2["nextOffset"].clone()), (json!(2), json!(4)));
    h.request(ui, "p3", "chat.history", json!({"sessionKey":"main","limit":2,"offset":8}));
    let (caller, key, sid, _) = last_read(&h);
    h.hub.handle_input(h.now, h.wall(), HubInput::History { caller, session_key: key, session_id: sid, result: Ok(HistoryPage { messages: stored(1, 1), total: 9 }) });
    h.pump();
    let p3 = res(&h, ui, "p3");
    assert_eq!(p3["hasMore"], false);
    assert!(p3.get("nextOffset").is_none(), "{p3}");

    // The cursor of the first page asks for what came after message 9.
    let cursor = p1["deltaCursor"].as_str().expect("a cursor").to_owned();
    h.request(ui, "d1", "chat.history", json!({"sessionKey":"main","cursor":cursor}));
    let (caller, key, sid, query) = last_read(&h);
    assert_eq!(query, HistoryQuery::After { seq: 9, limit: 201 });
    h.hub.handle_input(h.now, h.wall(), HubInput::History { caller, session_key: key, session_id: sid, result: Ok(HistoryPage { messages: stored(10, 1), total: 10 }) });
    h.pump();
    let d1 = res(&h, ui, "d1");
    assert_eq!(d1["kind"], "delta");
    assert_eq!(d1["messages"][0]["content"][0]["text"], "m10");
    assert_ne!(d1["deltaCursor"], json!(cursor), "the next cursor is past message 10");
    // Too many new messages, a junk cursor, or a cursor of a session since reset: start over.
    h.request(ui, "d2", "chat.history", json!({"sessionKey":"main","cursor":cursor}));
    let (caller, key, sid, _) = last_read(&h);
    h.hub.handle_input(h.now, h.wall(), HubInput::History { caller, session_key: key, session_id: sid, result: Ok(HistoryPage { messages: stored(10, 201), total: 210 }) });
    h.pump();
    assert_eq!(res(&h, ui, "d2"), json!({"kind":"reset"}));
    h.request(ui, "d3", "chat.history", json!({"sessionKey":"main","cursor":"abc"}));
    assert_eq!(res(&h, ui, "d3"), json!({"kind":"reset"}));
    h.request(ui, "r", "sessions.reset", json!({"key":"main"}));
    h.request(ui, "d4", "chat.history", json!({"sessionKey":"main","cursor":cursor}));
    assert_eq!(res(&h, ui, "d4"), json!({"kind":"reset"}));
}
