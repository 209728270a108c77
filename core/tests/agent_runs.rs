//! Transcript snapshots of agent runs (protocol.md §5.6-5.7, §6.2-6.3): the two-stage reply and
//! its event order, duplicates, `agent.wait`, the run timeout, shutdown mid-run, and the
//! refusals before acceptance.

use std::time::Duration;

use openclaw_core::HubInput;
use openclaw_core::hub::{AbortReason, RunCommand, StoreCommand};
use openclaw_core::testing::{test_config, Harness};
use openclaw_core::wire::agent::{RunErrorKind, RunFailure, RunReport, Usage};
use openclaw_core::{HubConfig, RunId};
use serde_json::{json, Value};

fn configured() -> HubConfig {
    let mut config = test_config();
    config.session_defaults.model_configured = true;
    config
}

fn report(h: &mut Harness, run: &str, r: RunReport) {
    h.transcript.push(format!("⚙ report {run} {r:?}"));
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_input(now, wall, HubInput::Run { run: RunId(run.into()), report: r });
    h.pump();
}

/// The transcript messages the hub queued for the store, in order.
fn appended(h: &Harness) -> Vec<Value> {
    h.store_commands
        .iter()
        .filter_map(|c| match c {
            StoreCommand::AppendMessage { message, .. } => Some(message.clone()),
            StoreCommand::SaveSession(_)
            | StoreCommand::DeleteSession { .. }
            | StoreCommand::SaveRunResult { .. }
            | StoreCommand::ReadHistory { .. } => None,
        })
        .collect()
}

fn snapshot(name: &str, h: &mut Harness) {
    h.check_final();
    assert!(h.violations.is_empty(), "invariants broken: {:?}\n{}", h.violations, h.transcript());
    insta::assert_snapshot!(name, h.transcript());
}

fn agent(message: &str, key: &str) -> Value {
    json!({ "message": message, "sessionKey": "agent:main:t1", "idempotencyKey": key })
}

fn starts(h: &Harness) -> Vec<String> {
    h.run_commands
        .iter()
        .filter_map(|c| match c {
            RunCommand::Start(s) => Some(s.run.as_str().to_owned()),
            RunCommand::Abort { .. } => None,
        })
        .collect()
}

#[test]
fn agent_two_stage_reply_and_event_order() {
    let mut h = Harness::new(configured());
    let a = h.connect_cli("cli", &["operator.write"]);
    let watcher = h.connect_cli("ui", &["operator.read"]);
    h.two_stage_ids.insert("r1".into());
    h.request(a, "r1", "agent", agent("hi", "k1"));
    assert_eq!(starts(&h), ["k1"]);
    report(&mut h, "k1", RunReport::Model { provider: "fake".into(), model: "echo-1".into() });
    report(&mut h, "k1", RunReport::Delta { text: "Hel".into() });
    h.advance(Duration::from_millis(50));
    report(&mut h, "k1", RunReport::Delta { text: "lo".into() });
    h.advance(Duration::from_millis(150));
    report(&mut h, "k1", RunReport::Delta { text: "!".into() });
    report(&mut h, "k1", RunReport::Completed { text: "Hello!".into(), usage: Some(Usage { input: 3, output: 2 }) });
    let last = h.last_frame(a).unwrap_or_default();
    assert_eq!(last["payload"]["result"]["payloads"][0]["text"], "Hello!");
    assert_eq!(last["payload"]["status"], "ok");
    let seqs: Vec<u64> = h
        .frames(watcher)
        .iter()
        .filter(|f| f["event"] == "agent")
        .filter_map(|f| f["payload"]["seq"].as_u64())
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "per-run seq from 1");
    snapshot("agent_two_stage_reply", &mut h);
}

#[test]
fn agent_duplicates_share_one_run() {
    let mut h = Harness::new(configured());
    let a = h.connect_cli("a", &["operator.write"]);
    let b = h.connect_cli("b", &["operator.write"]);
    h.two_stage_ids.extend(["r1".to_owned(), "r2".to_owned()]);
    h.request(a, "r1", "agent", agent("hi", "k1"));
    h.request(b, "r2", "agent", agent("hi", "k1"));
    report(&mut h, "k1", RunReport::Completed { text: "yo".into(), usage: None });
    h.request(a, "r3", "agent", agent("hi", "k1"));
    assert_eq!(starts(&h), ["k1"], "one run for three requests");
    assert_eq!(h.last_frame(a).unwrap_or_default()["payload"]["result"]["payloads"][0]["text"], "yo");
    snapshot("agent_duplicates", &mut h);
}

#[test]
fn agent_wait_answers_on_end_or_timeout() {
    let mut h = Harness::new(configured());
    let a = h.connect_cli("a", &["operator.write"]);
    h.two_stage_ids.insert("r1".into());
    h.request(a, "w0", "agent.wait", json!({ "runId": "nope", "timeoutMs": 1000 }));
    h.request(a, "r1", "agent", agent("hi", "k1"));
    h.request(a, "w1", "agent.wait", json!({ "runId": "k1" }));
    h.advance(Duration::from_secs(1));
    assert_eq!(h.last_frame(a).unwrap_or_default()["payload"], json!({"runId":"nope","status":"timeout"}));
    report(&mut h, "k1", RunReport::Completed { text: "done".into(), usage: None });
    h.request(a, "w2", "agent.wait", json!({ "runId": "k1", "timeoutMs": 0 }));
    assert_eq!(h.last_frame(a).unwrap_or_default()["payload"]["status"], "ok");
    h.request(a, "w3", "agent.wait", json!({}));
    snapshot("agent_wait", &mut h);
}

#[test]
fn agent_run_times_out_with_agent_timeout() {
    let mut h = Harness::new(configured());
    let a = h.connect_cli("a", &["operator.write"]);
    h.two_stage_ids.insert("r1".into());
    let mut params = agent("slow", "k1");
    params["timeout"] = json!(5);
    h.request(a, "r1", "agent", params);
    h.request(a, "w1", "agent.wait", json!({ "runId": "k1", "timeoutMs": 60000 }));
    report(&mut h, "k1", RunReport::Delta { text: "par".into() });
    h.advance(Duration::from_secs(5));
    assert!(h.run_commands.contains(&RunCommand::Abort { run: RunId("k1".into()), reason: AbortReason::Timeout }));
    // A late report of the aborted run changes nothing.
    report(&mut h, "k1", RunReport::Completed { text: "late".into(), usage: None });
    let res: Vec<Value> = h.frames(a).into_iter().filter(|f| f["id"] == "r1").collect();
    assert_eq!(res.len(), 2);
    assert_eq!(res[1]["error"]["code"], "AGENT_TIMEOUT");
    let kept = appended(&h);
    assert_eq!(kept.len(), 2, "the prompt and the partial reply: {kept:?}");
    assert_eq!(kept[1]["content"][0]["text"], "par");
    assert_eq!(kept[1]["openclawAbort"]["origin"], "timeout");
    snapshot("agent_timeout", &mut h);
}

#[test]
fn agent_provider_failure_is_a_final_error() {
    let mut h = Harness::new(configured());
    let a = h.connect_cli("a", &["operator.write"]);
    h.two_stage_ids.insert("r1".into());
    h.request(a, "r1", "agent", agent("hi", "k1"));
    let failure = RunFailure {
        kind: RunErrorKind::RateLimit,
        message: "rate limited by fake (429)".into(),
        http_status: Some(429),
    };
    report(&mut h, "k1", RunReport::Failed(failure));
    let kept = appended(&h);
    assert_eq!(kept[1]["stopReason"], "error", "{kept:?}");
    assert_eq!(kept[1]["errorMessage"], "rate limited by fake (429)");
    assert_eq!(kept[1]["content"][0]["text"], "rate limited by fake (429)", "nothing streamed: the error is the text");
    assert_eq!(kept[1]["idempotencyKey"], "k1:terminal-error");
    snapshot("agent_failure", &mut h);
}

#[test]
fn shutdown_mid_run_ends_it_with_an_error() {
    let mut h = Harness::new(configured());
    let a = h.connect_cli("a", &["operator.admin"]);
    h.two_stage_ids.insert("r1".into());
    h.request(a, "r1", "agent", agent("hi", "k1"));
    report(&mut h, "k1", RunReport::Delta { text: "x".into() });
    h.shutdown("gateway stopping", None);
    assert!(h.run_commands.contains(&RunCommand::Abort { run: RunId("k1".into()), reason: AbortReason::Shutdown }));
    let kept = appended(&h);
    assert_eq!(kept.last().map(|m| m["openclawAbort"]["origin"].clone()), Some(json!("shutdown")), "{kept:?}");
    snapshot("agent_shutdown", &mut h);
}

#[test]
fn refusals_before_acceptance() {
    let mut h = Harness::default();
    let a = h.connect_cli("a", &["operator.write"]);
    let r = h.connect_cli("r", &["operator.read"]);
    h.request(a, "e1", "agent", json!({}));
    h.request(a, "e2", "agent", json!({ "message": "hi", "idempotencyKey": "k", "bogus": 1 }));
    h.request(a, "e3", "agent", agent("hi", "k1"));
    h.request(a, "e4", "agent", agent("/reset", "k2"));
    h.request(r, "e5", "agent", agent("hi", "k3"));
    assert!(h.run_commands.is_empty());
    snapshot("agent_refusals", &mut h);
}

#[test]
fn one_run_per_session_at_a_time() {
    let mut h = Harness::new(configured());
    let a = h.connect_cli("a", &["operator.admin"]);
    h.two_stage_ids.extend(["r1", "r2", "r3", "r4"].map(str::to_owned));
    h.request(a, "r1", "agent", agent("first", "k1"));
    h.request(a, "r2", "agent", agent("second", "k2"));
    h.request(a, "r3", "agent", agent("third", "k3"));
    h.request(a, "r4", "agent", json!({"message":"elsewhere","sessionKey":"agent:main:t2","idempotencyKey":"k4"}));
    assert_eq!(starts(&h), ["k1", "k4"], "k2 and k3 wait behind k1; another session runs at once");
    h.request(a, "w2", "agent.wait", json!({ "runId": "k2", "timeoutMs": 10 }));
    h.advance(std::time::Duration::from_millis(10));
    let w2 = h.frames(a).into_iter().rev().find(|f| f["id"] == "w2").unwrap_or_default();
    assert_eq!(w2["payload"]["status"], "pending", "{w2}");
    h.request(a, "w3", "agent.wait", json!({ "runId": "k3", "timeoutMs": 60000 }));
    h.request(a, "x", "chat.abort", json!({ "sessionKey": "agent:main:t1", "runId": "k3" }));
    report(&mut h, "k1", RunReport::Completed { text: "one".into(), usage: None });
    assert_eq!(starts(&h), ["k1", "k4", "k2"], "k2 starts when k1 ends; k3 was aborted while queued");
    let r3: Vec<Value> = h.frames(a).into_iter().filter(|f| f["id"] == "r3").collect();
    assert_eq!(r3[1]["payload"]["summary"], "aborted");
    h.request(a, "r5", "agent", agent("fifth", "k5"));
    h.two_stage_ids.insert("r5".into());
    h.shutdown("gateway stopping", None);
    let r5: Vec<Value> = h.frames(a).into_iter().filter(|f| f["id"] == "r5").collect();
    assert_eq!(r5.len(), 2, "a queued run still gets its final answer at shutdown");
    assert_eq!(r5[1]["error"]["code"], "UNAVAILABLE");
    snapshot("agent_session_lane", &mut h);
}
