//! Transcript snapshots of tool rounds (channels-agent-nodes.md §5.3, §6.3, §7.3): the `tool`
//! stream with its per-run `seq`, the chat flush before the tool events, and the transcript
//! writes (user, assistant with `toolCall`, `toolResult`, final assistant) in order.

use openclaw_core::HubInput;
use openclaw_core::hub::StoreCommand;
use openclaw_core::testing::{test_config, Harness};
use openclaw_core::wire::agent::{RunReport, ToolCall, ToolOutcome};
use openclaw_core::{HubConfig, RunId};
use serde_json::{json, Value};

fn configured() -> HubConfig {
    let mut config = test_config();
    config.session_defaults.model_configured = true;
    config
}

/// Logs the transcript writes queued since the last call, then returns them.
fn appended(h: &mut Harness, seen: &mut usize) -> Vec<Value> {
    let new: Vec<Value> = h.store_commands[*seen..]
        .iter()
        .filter_map(|c| match c {
            StoreCommand::AppendMessage { message, .. } => Some(message.clone()),
            StoreCommand::SaveSession(_)
            | StoreCommand::DeleteSession { .. }
            | StoreCommand::SaveRunResult { .. }
            | StoreCommand::ReadHistory { .. } => None,
        })
        .collect();
    *seen = h.store_commands.len();
    for m in &new {
        h.transcript.push(format!("💾 append {m}"));
    }
    new
}

fn report(h: &mut Harness, seen: &mut usize, run: &str, r: RunReport) -> Vec<Value> {
    h.transcript.push(format!("⚙ report {run} {r:?}"));
    let (now, wall) = (h.now, h.wall());
    h.hub.handle_input(now, wall, HubInput::Run { run: RunId(run.into()), report: r });
    h.pump();
    appended(h, seen)
}

#[test]
fn tool_round_events_and_transcript() {
    let mut h = Harness::new(configured());
    let mut seen = 0;
    // The originator asked for tool events; the other operator did not (§5.3).
    let a = h.connect_cli_with_caps("cli", &["operator.write"], &["tool-events"]);
    let ui = h.connect_cli("ui", &["operator.read"]);
    h.two_stage_ids.insert("r1".into());
    h.request(a, "r1", "agent", json!({"message":"what is in notes.txt?","sessionKey":"main","idempotencyKey":"k1"}));
    let user = appended(&mut h, &mut seen);
    assert_eq!(user.len(), 1, "the user message is recorded when the run starts");
    assert_eq!(user[0]["role"], "user");
    report(&mut h, &mut seen, "k1", RunReport::Model { provider: "fake".into(), model: "m".into() });
    report(&mut h, &mut seen, "k1", RunReport::Delta { text: "Let me look.".into() });
    let call = ToolCall { id: "call_1".into(), name: "read".into(), args: json!({"path":"notes.txt"}) };
    let round = report(&mut h, &mut seen, "k1", RunReport::ToolCalls { calls: vec![call.clone()] });
    assert_eq!(round, [json!({"role":"assistant","content":[{"type":"text","text":"Let me look."},
        {"type":"toolCall","id":"call_1","name":"read","arguments":{"path":"notes.txt"}}],
        "provider":"fake","model":"m","stopReason":"toolUse","timestamp": h.wall().0})]);
    report(&mut h, &mut seen, "k1", RunReport::ToolStart { call });
    let outcome = ToolOutcome { call_id: "call_1".into(), name: "read".into(), text: "42".into(), is_error: false };
    let result = report(&mut h, &mut seen, "k1", RunReport::ToolResult(outcome));
    assert_eq!(result[0]["role"], "toolResult");
    assert_eq!(result[0]["toolCallId"], "call_1");
    report(&mut h, &mut seen, "k1", RunReport::Delta { text: "It is 42.".into() });
    let last = report(&mut h, &mut seen, "k1", RunReport::Completed { text: "It is 42.".into(), usage: None });
    assert_eq!(last[0]["content"], json!([{"type":"text","text":"It is 42."}]));
    assert_eq!(last[0]["stopReason"], "stop");

    let ui_events: Vec<Value> = h.frames(ui).into_iter().filter(|f| f["event"] == "agent").map(|f| f["payload"].clone()).collect();
    assert!(ui_events.iter().all(|p| p["stream"] != "tool"), "no tool events without the tool-events cap");
    assert!(ui_events.iter().any(|p| p["stream"] == "assistant"), "the other streams still reach every operator");
    let events: Vec<Value> = h.frames(a).into_iter().filter(|f| f["event"] == "agent").map(|f| f["payload"].clone()).collect();
    let seqs: Vec<u64> = events.iter().filter_map(|p| p["seq"].as_u64()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "per-run seq continues through the tool stream");
    let tool: Vec<&Value> = events.iter().filter(|p| p["stream"] == "tool").map(|p| &p["data"]).collect();
    assert_eq!(*tool[0], json!({"phase":"start","name":"read","toolCallId":"call_1","args":{"path":"notes.txt"}}));
    assert_eq!(*tool[1], json!({"phase":"result","name":"read","toolCallId":"call_1","isError":false,
        "commandBearing":false,"result":{"content":[{"type":"text","text":"42"}]}}));
    // The second round's assistant text starts afresh.
    let texts: Vec<&str> = events.iter().filter(|p| p["stream"] == "assistant").filter_map(|p| p["data"]["text"].as_str()).collect();
    assert_eq!(texts, ["Let me look.", "It is 42."]);
    let fin = h.last_frame(a).unwrap_or_default();
    assert_eq!(fin["payload"]["result"]["payloads"][0]["text"], "It is 42.");
    h.check_final();
    assert!(h.violations.is_empty(), "invariants broken: {:?}\n{}", h.violations, h.transcript());
    insta::assert_snapshot!("tool_round", h.transcript());
}

#[test]
fn tool_errors_and_an_abort_mid_tool_keep_the_transcript() {
    let mut h = Harness::new(configured());
    let mut seen = 0;
    let ui = h.connect_cli_with_caps("ui", &["operator.write"], &["tool-events"]);
    h.request(ui, "s1", "chat.send", json!({"sessionKey":"main","message":"read ../x","idempotencyKey":"c1"}));
    appended(&mut h, &mut seen);
    let call = ToolCall { id: "call_1".into(), name: "read".into(), args: json!({"path":"../x"}) };
    report(&mut h, &mut seen, "c1", RunReport::ToolCalls { calls: vec![call.clone()] });
    report(&mut h, &mut seen, "c1", RunReport::ToolStart { call });
    let outcome = ToolOutcome {
        call_id: "call_1".into(),
        name: "read".into(),
        text: "path \"../x\" is outside the workspace".into(),
        is_error: true,
    };
    let result = report(&mut h, &mut seen, "c1", RunReport::ToolResult(outcome));
    assert_eq!(result[0]["isError"], true);
    report(&mut h, &mut seen, "c1", RunReport::Delta { text: "I cannot".into() });
    h.request(ui, "x", "chat.abort", json!({"sessionKey":"main"}));
    let partial = appended(&mut h, &mut seen);
    assert_eq!(partial.len(), 1, "the streamed text is kept: {partial:?}");
    assert_eq!(partial[0]["content"][0]["text"], "I cannot");
    assert_eq!(partial[0]["openclawAbort"], json!({"aborted":true,"origin":"rpc","runId":"c1"}));
    assert_eq!(partial[0]["idempotencyKey"], "c1:assistant");
    h.check_final();
    assert!(h.violations.is_empty(), "invariants broken: {:?}\n{}", h.violations, h.transcript());
    insta::assert_snapshot!("tool_error_then_abort", h.transcript());
}
