//! Client function tools through `/v1/chat/completions` and `/v1/responses` end to end: the
//! model (a local fake) is offered the caller's tools beside the gateway's; a call to one ends
//! the run and the answer carries it (`tool_calls` + `finish_reason:"tool_calls"`, or a
//! `function_call` item); the tool result sent back continues the conversation. Driven with the
//! official OpenAI Python SDK and with raw requests for the wire details (streamed argument
//! pieces, `tool_choice`, name conflicts).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use openclaw_io::agent::{AgentConfig, Api, ModelChoice, ModelRef, ProviderConfig};
use openclaw_io::settings::HttpEndpoints;
use openclaw_io::ServerConfig;
use openclaw_tests::e2e::{gateway, http, within, TOKEN};
use openclaw_tests::fake_model::{FakeApi, FakeCall, FakeModel, Script};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

fn agent_config(fake: &FakeModel) -> AgentConfig {
    let mut config = AgentConfig::default();
    let provider = ProviderConfig { base_url: fake.base_url(), api_key: Some("sk-test".into()), api: Api::OpenAiCompletions };
    config.providers.insert("fake".into(), provider);
    let primary = ModelRef { provider: "fake".into(), model: "echo-1".into() };
    config.model = Some(ModelChoice { primary, fallbacks: Vec::new() });
    config
}

fn enabled(agent: AgentConfig) -> impl FnOnce(&mut ServerConfig) {
    move |c| {
        c.settings.agent = agent;
        c.settings.gateway.http = HttpEndpoints { chat_completions: true, responses: true };
    }
}

fn weather_call(id: &str) -> Script {
    Script::Tools { text: vec!["Let me ".into(), "check.".into()], calls: vec![FakeCall::new(id, "get_weather", json!({"city": "Oslo"}))] }
}

async fn post(addr: SocketAddr, path: &str, body: &Value) -> (u16, String) {
    let body = body.to_string();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (status, text, _) = http(addr, &head).await;
    (status, text)
}

async fn post_json(addr: SocketAddr, path: &str, body: &Value) -> (u16, Value) {
    let (status, text) = post(addr, path, body).await;
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}")))
}

/// A streaming POST read until `data: [DONE]`: the status and the raw answer.
async fn post_stream(addr: SocketAddr, path: &str, body: &Value) -> (u16, String) {
    let body = body.to_string();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = within("connect", TcpStream::connect(addr)).await.unwrap();
    within("write", stream.write_all(head.as_bytes())).await.unwrap();
    let mut raw = Vec::new();
    while !String::from_utf8_lossy(&raw).contains("data: [DONE]") {
        let mut buf = [0u8; 4096];
        let n = within("event stream", stream.read(&mut buf)).await.unwrap();
        assert!(n > 0, "stream closed before [DONE]: {}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&buf[..n]);
    }
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let status = raw.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, raw)
}

/// The `data:` payloads of a whole event stream (chunked framing skipped: payload lines start
/// with `data: `).
fn data_lines(raw: &str) -> Vec<String> {
    raw.lines().filter_map(|l| l.strip_prefix("data: ")).map(str::to_owned).collect()
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "Current weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}})
}

#[tokio::test]
async fn chat_completions_hand_client_tool_calls_to_the_caller() {
    let long_args = json!({"city": "Oslo", "note": "x".repeat(300)});
    let fake = FakeModel::start(FakeApi::OpenAi, vec![
        weather_call("call_1"),
        Script::Echo,
        Script::Tools { text: vec![], calls: vec![FakeCall::new("call_2", "get_weather", long_args.clone())] },
        Script::Echo,
    ])
    .await;
    let gw = gateway(enabled(agent_config(&fake))).await;
    let addr = gw.local_addr();
    let question = json!({"role": "user", "content": "Weather in Oslo?"});

    let (status, body) = post_json(addr, "/v1/chat/completions", &json!({"messages": [question], "tools": [weather_tool()]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"], json!([{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant",
        "content": "Let me check.", "tool_calls": [{"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]}}]));
    // The model was offered the tool as the caller described it.
    let offered = &fake.requests()[0]["tools"];
    assert_eq!(offered, &json!([{"type": "function", "function": {"name": "get_weather", "description": "Current weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]), "{offered}");

    // The tool result continues the conversation, rendered into the turn as the reference does.
    let assistant = body["choices"][0]["message"].clone();
    let follow = json!({"messages": [question, assistant, {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}],
        "tools": [weather_tool()]});
    let (status, body) = post_json(addr, "/v1/chat/completions", &follow).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "echo: [Chat messages since your last reply - for context]\nUser: Weather in Oslo?\n\
         Assistant: Let me check.\ntool_call id=call_1 name=get_weather arguments={\"city\":\"Oslo\"}\n\n\
         [Current message - respond to this]\nTool:call_1: sunny"
    );

    // Streamed: a head chunk per call, its arguments in pieces of at most 256 characters, then
    // the finish chunk `tool_calls`.
    let stream = json!({"stream": true, "messages": [question], "tools": [weather_tool()]});
    let (status, raw) = post_stream(addr, "/v1/chat/completions", &stream).await;
    assert_eq!(status, 200, "{raw}");
    let events = data_lines(&raw);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    let deltas: Vec<&Value> = chunks.iter().map(|c| &c["choices"][0]["delta"]).collect();
    assert_eq!(deltas[0], &json!({"role": "assistant"}));
    assert_eq!(deltas[1], &json!({"tool_calls": [{"index": 0, "id": "call_2", "type": "function",
        "function": {"name": "get_weather", "arguments": ""}}]}));
    let pieces: Vec<&str> = deltas[2..deltas.len() - 1]
        .iter()
        .map(|d| d["tool_calls"][0]["function"]["arguments"].as_str().unwrap())
        .collect();
    assert!(pieces.iter().all(|p| p.len() <= 256) && pieces.len() == 2, "{pieces:?}");
    assert_eq!(pieces.concat(), long_args.to_string());
    assert_eq!(chunks.last().unwrap()["choices"], json!([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]));

    // A pinned tool_choice offers only that tool and says so; a model that ignores it is a 502.
    let pinned = json!({"messages": [question], "tools": [weather_tool(), {"type": "function", "function": {"name": "other"}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}}});
    let (status, body) = post_json(addr, "/v1/chat/completions", &pinned).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body, json!({"error": {"message": "tool_choice required a get_weather tool call, but the agent did not produce one", "type": "api_error"}}));
    let request = fake.requests().pop().unwrap();
    let names: Vec<&str> = request["tools"].as_array().unwrap().iter().map(|t| t["function"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["get_weather"]);
    assert!(request["messages"][0]["content"].as_str().unwrap().contains("You must call the get_weather tool before responding."), "{request}");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn responses_answer_function_call_items_and_continue_with_their_output() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![weather_call("call_7"), Script::Echo, weather_call("call_8")]).await;
    let gw = gateway(enabled(agent_config(&fake))).await;
    let addr = gw.local_addr();
    let tool = json!({"type": "function", "name": "get_weather", "parameters": {"type": "object"}});

    let (status, body) = post_json(addr, "/v1/responses", &json!({"model": "openclaw", "input": "Weather?", "tools": [tool]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "completed");
    let output = body["output"].as_array().unwrap();
    assert_eq!(output.len(), 2, "{body}");
    assert_eq!(output[0]["phase"], "commentary");
    assert_eq!(output[0]["content"][0]["text"], "Let me check.");
    assert_eq!(output[1]["type"], "function_call");
    assert!(output[1]["id"].as_str().unwrap().starts_with("call_"), "{body}");
    assert_eq!((&output[1]["call_id"], &output[1]["name"], &output[1]["arguments"]), (&json!("call_7"), &json!("get_weather"), &json!("{\"city\":\"Oslo\"}")));
    assert!(output[1].get("status").is_none(), "{body}");

    // The output goes back with previous_response_id: the same session, the output as the turn.
    let follow = json!({"model": "openclaw", "previous_response_id": body["id"], "tools": [tool],
        "input": [{"type": "function_call_output", "call_id": "call_7", "output": "sunny"}]});
    let (status, body) = post_json(addr, "/v1/responses", &follow).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"][0]["content"][0]["text"], "echo: Tool:call_7: sunny");
    let request = fake.requests().pop().unwrap();
    let roles: Vec<&str> = request["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "tool", "user"], "the earlier turn is in the session: {request}");

    // Streamed: the message item (commentary), then the call as its own item.
    let stream = json!({"model": "openclaw", "input": "Weather?", "tools": [tool], "stream": true});
    let (status, raw) = post_stream(addr, "/v1/responses", &stream).await;
    assert_eq!(status, 200, "{raw}");
    let kinds: Vec<&str> = raw.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(kinds, ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta", "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.output_item.added", "response.output_item.done", "response.completed"]);
    let events: Vec<Value> = data_lines(&raw).iter().filter(|d| *d != "[DONE]").map(|d| serde_json::from_str(d).unwrap()).collect();
    assert_eq!(events[9]["output_index"], 1);
    assert_eq!(events[10]["item"]["status"], "completed");
    assert_eq!(events[10]["item"]["call_id"], "call_8");
    let completed = &events[11]["response"];
    assert_eq!(completed["output"].as_array().unwrap().len(), 2, "{completed}");
    assert_eq!(completed["output"][0]["phase"], "commentary");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn a_client_tool_named_as_a_gateway_tool_is_refused() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    let workspace = tempfile::tempdir().unwrap();
    let mut agent = agent_config(&fake);
    agent.workspace = Some(workspace.path().to_path_buf());
    let gw = gateway(enabled(agent)).await;
    let addr = gw.local_addr();
    let read = json!({"type": "function", "function": {"name": "read"}});
    let (status, body) = post_json(addr, "/v1/chat/completions", &json!({"messages": [{"role": "user", "content": "x"}], "tools": [read]})).await;
    assert_eq!((status, body), (400, json!({"error": {"message": "invalid tool configuration", "type": "invalid_request_error"}})));
    let flat = json!({"type": "function", "name": "read"});
    let (status, body) = post_json(addr, "/v1/responses", &json!({"model": "openclaw", "input": "x", "tools": [flat]})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!((&body["status"], &body["error"]), (&json!("failed"), &json!({"code": "invalid_request_error", "message": "invalid tool configuration"})));
    assert!(fake.requests().is_empty(), "no run started");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_openai_sdk_uses_client_tools() {
    let out = Command::new("python3").args(["-c", "import openai"]).kill_on_drop(true).output().await.expect("python3");
    assert!(out.status.success(), "python3 cannot import `openai` (.ci/run installs it): {}", String::from_utf8_lossy(&out.stderr));
    let fake = FakeModel::start(FakeApi::OpenAi, vec![
        weather_call("call_a"),
        Script::Echo,
        weather_call("call_b"),
        weather_call("call_c"),
        Script::Echo,
        weather_call("call_d"),
    ])
    .await;
    let gw = gateway(enabled(agent_config(&fake))).await;
    let script = format!("{}/openai_sdk/tools.py", env!("CARGO_MANIFEST_DIR"));
    let base = format!("http://{}/v1", gw.local_addr());
    let child = Command::new("python3")
        .args([script.as_str(), "--base-url", base.as_str(), "--key", TOKEN])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn python3");
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the SDK script finished in time")
        .expect("SDK script output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tools.py failed:\n{stderr}");
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));

    let call = json!({"id": "call_a", "type": "function", "name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"});
    assert_eq!(seen["chat_call"], json!({"finish_reason": "tool_calls", "content": "Let me check.", "tool_calls": [call]}), "{seen}");
    assert_eq!(seen["chat_answer"]["finish_reason"], "stop", "{seen}");
    let answer = seen["chat_answer"]["content"].as_str().unwrap();
    assert!(answer.ends_with("[Current message - respond to this]\nTool:call_a: sunny, 21 C"), "{answer}");
    assert_eq!(seen["chat_stream"]["finish_reasons"], json!(["tool_calls"]), "{seen}");
    assert_eq!(seen["chat_stream"]["tool_calls"], json!([{"id": "call_b", "name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}]));

    let output = seen["responses_call"]["output"].as_array().unwrap();
    assert_eq!(seen["responses_call"]["status"], "completed", "{seen}");
    assert_eq!(output[0]["type"], "message");
    assert_eq!((&output[1]["type"], &output[1]["call_id"], &output[1]["name"]), (&json!("function_call"), &json!("call_c"), &json!("get_weather")));
    assert_eq!(seen["responses_answer"], json!({"status": "completed", "output_text": "echo: Tool:call_c: sunny, 21 C"}), "{seen}");
    let types = seen["responses_stream"]["types"].as_array().unwrap();
    assert_eq!(types.last().unwrap(), "response.completed", "{seen}");
    let final_output = seen["responses_stream"]["final_output"].as_array().unwrap();
    assert_eq!(final_output[1]["call_id"], "call_d", "{seen}");

    assert_eq!(seen["unmet"]["status"], 502, "{seen}");
    assert_eq!(seen["unmet"]["class"], "InternalServerError", "{seen}");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
