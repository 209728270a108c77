//! End-to-end tool calling over loopback: the fake model streams tool calls (OpenAI
//! `tool_calls` deltas, Anthropic `tool_use` blocks with `input_json_delta`), the gateway runs
//! the workspace tools and loops until the model answers; the `tool` stream, the transcript,
//! the history sent back to the model, a path escape refused as a tool error, the round limit.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use openclaw_io::agent::{AgentConfig, Api, ModelChoice, ModelRef, ProviderConfig};
use openclaw_tests::e2e::{gateway, within, RawWs};
use openclaw_tests::fake_model::{FakeApi, FakeCall, FakeModel, Script};
use serde_json::{json, Value};

fn agent_config(fake: &FakeModel, workspace: &std::path::Path) -> AgentConfig {
    let api = match fake.api {
        FakeApi::OpenAi => Api::OpenAiCompletions,
        FakeApi::Anthropic => Api::AnthropicMessages,
    };
    let mut config = AgentConfig::default();
    config.providers.insert("fake".into(), ProviderConfig { base_url: fake.base_url(), api_key: None, api });
    let primary = ModelRef { provider: "fake".into(), model: "echo-1".into() };
    config.model = Some(ModelChoice { primary, fallbacks: vec![] });
    config.retry.base_delay = Duration::from_millis(10);
    config.workspace = Some(workspace.to_path_buf());
    config
}

/// Sends `agent` and returns (every frame up to the final `res`, the final `res`).
async fn agent_turn(ws: &mut RawWs, id: &str, message: &str, key: &str) -> (Vec<Value>, Value) {
    let params = json!({"message": message, "sessionKey": "agent:main:tools", "idempotencyKey": key});
    ws.send_json(&json!({"type":"req","id":id,"method":"agent","params":params})).await;
    let mut frames = Vec::new();
    loop {
        let frame = within("agent frames", ws.recv_json()).await;
        if frame["type"] == "res" && frame["id"] == id && frame["payload"]["status"] != "accepted" {
            return (frames, frame);
        }
        frames.push(frame);
    }
}

/// The run's `agent` events as `(seq, stream, data)`.
fn agent_events(frames: &[Value]) -> Vec<(u64, String, Value)> {
    frames
        .iter()
        .filter(|f| f["event"] == "agent")
        .map(|f| {
            let p = &f["payload"];
            (p["seq"].as_u64().unwrap(), p["stream"].as_str().unwrap().to_owned(), p["data"].clone())
        })
        .collect()
}

async fn history(ws: &mut RawWs) -> Vec<Value> {
    ws.send_json(&json!({"type":"req","id":"h","method":"chat.history","params":{"sessionKey":"agent:main:tools"}})).await;
    let h = within("history", ws.res("h")).await;
    h["payload"]["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn openai_tool_calls_run_and_loop_to_the_answer() {
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(workspace.path().join("notes.txt"), "the answer is 42").unwrap();
    let write = FakeCall::new("call_w", "write", json!({"path": "out/hello.txt", "content": "hi there"}));
    let read = FakeCall::new("call_r", "read", json!({"path": "notes.txt"}));
    let fake = FakeModel::start(FakeApi::OpenAi, vec![
        Script::Tools { text: vec!["Let me ".into(), "look.".into()], calls: vec![write, read] },
        Script::Echo,
    ])
    .await;
    let gw = gateway(|c| c.settings.agent = agent_config(&fake, workspace.path())).await;
    let (mut ws, _) = RawWs::authed_with_caps(gw.local_addr(), &["tool-events"]).await;
    let (frames, fin) = agent_turn(&mut ws, "a1", "what is in notes.txt?", "k1").await;
    assert_eq!(fin["ok"], true, "{fin}");
    // The model's last round echoes the last tool result.
    assert_eq!(fin["payload"]["result"]["payloads"][0]["text"], "echo: the answer is 42", "{fin}");
    assert_eq!(std::fs::read_to_string(workspace.path().join("out/hello.txt")).unwrap(), "hi there");

    let events = agent_events(&frames);
    let seqs: Vec<u64> = events.iter().map(|e| e.0).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "one per-run seq across streams");
    let tools: Vec<&Value> = events.iter().filter(|e| e.1 == "tool").map(|e| &e.2).collect();
    assert_eq!(tools.len(), 4, "{tools:?}");
    assert_eq!(*tools[0], json!({"phase":"start","name":"write","toolCallId":"call_w",
        "args":{"path":"out/hello.txt","content":"hi there"}}));
    assert_eq!(tools[1]["phase"], "result");
    assert_eq!(tools[1]["isError"], false);
    assert_eq!(*tools[2], json!({"phase":"start","name":"read","toolCallId":"call_r","args":{"path":"notes.txt"}}));
    assert_eq!(*tools[3], json!({"phase":"result","name":"read","toolCallId":"call_r","isError":false,
        "commandBearing":false,"result":{"content":[{"type":"text","text":"the answer is 42"}]}}));
    // Assistant text of the first round comes before the tool events, the answer after.
    let order: Vec<&str> = events.iter().map(|e| e.1.as_str()).collect();
    let first_tool = order.iter().position(|s| *s == "tool").unwrap();
    assert!(order[..first_tool].contains(&"assistant"), "{order:?}");
    assert!(order[first_tool..].contains(&"assistant"), "{order:?}");

    // The second request carries the round: assistant tool_calls, then one tool message each.
    let second = &fake.requests()[1];
    let msgs = second["messages"].as_array().unwrap();
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "tool", "tool"], "{second}");
    assert_eq!(msgs[1]["content"], "Let me look.");
    assert_eq!(msgs[1]["tool_calls"][1]["function"]["name"], "read");
    let args: Value = serde_json::from_str(msgs[1]["tool_calls"][1]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"path": "notes.txt"}), "fragments reassembled");
    assert_eq!(msgs[3], json!({"role":"tool","tool_call_id":"call_r","content":"the answer is 42"}));
    assert_eq!(second["tools"].as_array().unwrap().len(), 4, "read, write, edit, ls offered");

    // The transcript holds the call and its results, and the next turn replays them.
    let h = history(&mut ws).await;
    let roles: Vec<&str> = h.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "toolResult", "toolResult", "assistant"], "{h:?}");
    assert_eq!(h[1]["content"][1], json!({"type":"toolCall","id":"call_w","name":"write",
        "arguments":{"path":"out/hello.txt","content":"hi there"}}));
    assert_eq!(h[3]["toolCallId"], "call_r");
    let (_, fin) = agent_turn(&mut ws, "a2", "thanks", "k2").await;
    assert_eq!(fin["ok"], true, "{fin}");
    let third = fake.requests().pop().unwrap();
    let roles: Vec<&str> = third["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "tool", "tool", "assistant", "user"], "{third}");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn anthropic_tool_use_blocks_run_and_a_path_escape_is_a_tool_error() {
    let outer = tempfile::tempdir().unwrap();
    let workspace = outer.path().join("ws");
    std::fs::create_dir(&workspace).unwrap();
    std::fs::write(outer.path().join("secret.txt"), "s3cret").unwrap();
    let escape = FakeCall::new("toolu_1", "read", json!({"path": "../secret.txt"}));
    let fake = FakeModel::start(FakeApi::Anthropic, vec![
        Script::Tools { text: vec!["Reading.".into()], calls: vec![escape] },
        Script::Echo,
    ])
    .await;
    let gw = gateway(|c| c.settings.agent = agent_config(&fake, &workspace)).await;
    let (mut ws, _) = RawWs::authed_with_caps(gw.local_addr(), &["tool-events"]).await;
    let (frames, fin) = agent_turn(&mut ws, "a1", "read the secret", "k1").await;
    assert_eq!(fin["ok"], true, "a refused tool call does not fail the run: {fin}");
    let text = fin["payload"]["result"]["payloads"][0]["text"].as_str().unwrap();
    assert!(text.contains("outside the workspace") && !text.contains("s3cret"), "{text}");
    let events = agent_events(&frames);
    let result = events.iter().find(|e| e.1 == "tool" && e.2["phase"] == "result").unwrap();
    assert_eq!(result.2["isError"], true, "{result:?}");
    assert_eq!(result.2["toolCallId"], "toolu_1");

    let second = &fake.requests()[1];
    let msgs = second["messages"].as_array().unwrap();
    assert_eq!(msgs[1]["role"], "assistant");
    assert_eq!(msgs[1]["content"], json!([{"type":"text","text":"Reading."},
        {"type":"tool_use","id":"toolu_1","name":"read","input":{"path":"../secret.txt"}}]));
    assert_eq!(msgs[2]["role"], "user");
    assert_eq!(msgs[2]["content"][0]["type"], "tool_result");
    assert_eq!(msgs[2]["content"][0]["tool_use_id"], "toolu_1");
    assert_eq!(msgs[2]["content"][0]["is_error"], true);
    assert_eq!(second["tools"][0]["name"], "read");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn a_model_that_keeps_calling_tools_is_stopped_at_the_round_limit() {
    let workspace = tempfile::tempdir().unwrap();
    let ls = |i: u32| Script::Tools { text: vec![], calls: vec![FakeCall::new(&format!("call_{i}"), "ls", json!({}))] };
    let fake = FakeModel::start(FakeApi::OpenAi, (0..5).map(ls).collect()).await;
    let mut config = agent_config(&fake, workspace.path());
    config.tools.max_rounds = 2;
    let gw = gateway(|c| c.settings.agent = config).await;
    let (mut ws, _) = RawWs::authed_with_caps(gw.local_addr(), &["tool-events"]).await;
    let (frames, fin) = agent_turn(&mut ws, "a1", "list forever", "k1").await;
    assert_eq!(fin["ok"], false, "{fin}");
    assert!(fin["error"]["message"].as_str().unwrap().contains("still calling tools after 2 rounds"), "{fin}");
    assert_eq!(fake.requests().len(), 3, "two tool rounds, then the third ask is refused");
    let starts = agent_events(&frames).iter().filter(|e| e.1 == "tool" && e.2["phase"] == "start").count();
    assert_eq!(starts, 2);
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn a_model_without_tool_support_is_asked_again_without_tools() {
    let workspace = tempfile::tempdir().unwrap();
    let refused = Script::Status {
        status: 400,
        retry_after: None,
        body: r#"{"error":{"message":"registry.ollama.ai/library/tiny:latest does not support tools"}}"#.into(),
    };
    let fake = FakeModel::start(FakeApi::OpenAi, vec![refused, Script::Echo]).await;
    let gw = gateway(|c| c.settings.agent = agent_config(&fake, workspace.path())).await;
    let (mut ws, _) = RawWs::authed_with_caps(gw.local_addr(), &["tool-events"]).await;
    let (_, fin) = agent_turn(&mut ws, "a1", "hello", "k1").await;
    assert_eq!(fin["ok"], true, "{fin}");
    assert_eq!(fin["payload"]["result"]["payloads"][0]["text"], "echo: hello", "{fin}");
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].get("tools").is_some() && requests[1].get("tools").is_none(), "{requests:?}");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
