//! End-to-end agent turns over loopback: our gateway, a raw WebSocket client and local fake
//! model servers (OpenAI-compatible and Anthropic SSE): streaming, history, retries honouring
//! `retry-after`, fallbacks, error kinds, the run timeout aborting a stalled stream, no model
//! configured, and the transcript surviving a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::{Duration, Instant};

use openclaw_io::agent::{AgentConfig, Api, ModelChoice, ModelRef, ProviderConfig};
use openclaw_io::ServerConfig;
use openclaw_tests::e2e::{gateway, within, RawWs};
use openclaw_tests::fake_model::{FakeApi, FakeModel, Script};
use serde_json::{json, Value};

fn provider(fake: &FakeModel) -> ProviderConfig {
    let api = match fake.api {
        FakeApi::OpenAi => Api::OpenAiCompletions,
        FakeApi::Anthropic => Api::AnthropicMessages,
    };
    ProviderConfig { base_url: fake.base_url(), api_key: Some("sk-test".into()), api }
}

/// Agent config: `primary` first, then `fallbacks`, all named by their fake's index.
fn agent_config(fakes: &[&FakeModel]) -> AgentConfig {
    let mut config = AgentConfig::default();
    let mut refs = Vec::new();
    for (i, fake) in fakes.iter().enumerate() {
        let name = format!("fake{i}");
        config.providers.insert(name.clone(), provider(fake));
        refs.push(ModelRef { provider: name, model: "echo-1".into() });
    }
    let primary = refs.remove(0);
    config.model = Some(ModelChoice { primary, fallbacks: refs });
    config.retry.base_delay = Duration::from_millis(10);
    config.system_prompt = Some("You are a test.".into());
    config
}

fn with_agent(agent: AgentConfig) -> impl FnOnce(&mut ServerConfig) {
    move |c: &mut ServerConfig| c.settings.agent = agent
}

/// Sends `agent` and returns (every frame up to the final `res`, the final `res`).
async fn agent_turn(ws: &mut RawWs, id: &str, params: Value) -> (Vec<Value>, Value) {
    ws.send_json(&json!({"type":"req","id":id,"method":"agent","params":params})).await;
    let mut frames = Vec::new();
    let mut answers = 0;
    loop {
        let frame = within("agent frames", ws.recv_json()).await;
        if frame["type"] == "res" && frame["id"] == id {
            answers += 1;
            let accepted = frame["payload"]["status"] == "accepted";
            if !accepted || answers == 2 {
                return (frames, frame);
            }
        }
        frames.push(frame);
    }
}

fn params(message: &str, key: &str) -> Value {
    json!({"message": message, "sessionKey": "agent:main:t1", "idempotencyKey": key})
}

fn streams(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["event"] == "agent")
        .map(|f| {
            let p = &f["payload"];
            match p["data"]["phase"].as_str() {
                Some(phase) => format!("{}:{phase}", p["stream"].as_str().unwrap_or("")),
                None => p["stream"].as_str().unwrap_or("").to_owned(),
            }
        })
        .collect()
}

#[tokio::test]
async fn openai_turn_streams_and_keeps_history() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    let gw = gateway(with_agent(agent_config(&[&fake]))).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    let (frames, fin) = agent_turn(&mut ws, "a1", params("hi", "k1")).await;
    assert_eq!(fin["ok"], true, "{fin}");
    assert_eq!(fin["payload"]["result"]["payloads"][0]["text"], "echo: hi", "{fin}");
    assert_eq!(fin["payload"]["result"]["meta"]["agentMeta"]["usage"]["output"], 3, "{fin}");
    let order = streams(&frames);
    assert_eq!(order.first().map(String::as_str), Some("lifecycle:start"), "{order:?}");
    assert_eq!(order.get(1).map(String::as_str), Some("lifecycle:model"), "{order:?}");
    assert_eq!(order.last().map(String::as_str), Some("lifecycle:end"), "{order:?}");
    assert!(order.iter().any(|s| s == "assistant"), "{order:?}");
    let chat_final = frames.iter().find(|f| f["event"] == "chat" && f["payload"]["state"] == "final").unwrap();
    assert_eq!(chat_final["payload"]["message"]["content"][0]["text"], "echo: hi");

    let (_, fin2) = agent_turn(&mut ws, "a2", params("again", "k2")).await;
    assert_eq!(fin2["payload"]["result"]["payloads"][0]["text"], "echo: again");
    let second = &fake.requests()[1];
    let roles: Vec<&str> = second["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"], "{second}");
    assert_eq!(second["messages"][0]["content"], "You are a test.");
    assert_eq!(second["messages"][2]["content"], "echo: hi");
    assert_eq!(second["stream"], true);

    // A duplicate idempotency key replays the recorded result without a new model call.
    let (_, dup) = agent_turn(&mut ws, "a3", params("hi", "k1")).await;
    assert_eq!(dup["payload"]["result"]["payloads"][0]["text"], "echo: hi", "{dup}");
    assert_eq!(fake.requests().len(), 2);
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn anthropic_turn_streams() {
    let fake = FakeModel::start(FakeApi::Anthropic, vec![Script::Reply(vec!["Hel".into(), "lo".into()])]).await;
    let gw = gateway(with_agent(agent_config(&[&fake]))).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    let (_, fin) = agent_turn(&mut ws, "a1", params("hi", "k1")).await;
    assert_eq!(fin["payload"]["result"]["payloads"][0]["text"], "Hello", "{fin}");
    let req = &fake.requests()[0];
    assert_eq!(req["system"], "You are a test.");
    assert_eq!(req["messages"], json!([{"role":"user","content":"hi"}]));
    assert_eq!(req["max_tokens"], 4096);
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn rate_limit_is_retried_after_retry_after() {
    let limited = Script::Status {
        status: 429,
        retry_after: Some("1".into()),
        body: r#"{"error":{"message":"slow down","type":"rate_limit_exceeded"}}"#.into(),
    };
    let fake = FakeModel::start(FakeApi::OpenAi, vec![limited]).await;
    let gw = gateway(with_agent(agent_config(&[&fake]))).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    let started = Instant::now();
    let (_, fin) = agent_turn(&mut ws, "a1", params("hi", "k1")).await;
    assert_eq!(fin["payload"]["result"]["payloads"][0]["text"], "echo: hi", "{fin}");
    assert!(started.elapsed() >= Duration::from_secs(1), "retry-after honoured");
    assert_eq!(fake.requests().len(), 2);
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn server_errors_fall_back_to_the_next_model() {
    let boom = || Script::Status { status: 500, retry_after: None, body: r#"{"error":{"message":"boom"}}"#.into() };
    let primary = FakeModel::start(FakeApi::OpenAi, vec![boom(), boom(), boom()]).await;
    let fallback = FakeModel::start(FakeApi::Anthropic, vec![]).await;
    let gw = gateway(with_agent(agent_config(&[&primary, &fallback]))).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    let (frames, fin) = agent_turn(&mut ws, "a1", params("hi", "k1")).await;
    assert_eq!(fin["payload"]["result"]["payloads"][0]["text"], "echo: hi", "{fin}");
    assert_eq!(fin["payload"]["result"]["meta"]["agentMeta"]["provider"], "fake1", "{fin}");
    assert_eq!(primary.requests().len(), 3, "three attempts on the primary");
    let models = streams(&frames).iter().filter(|s| *s == "lifecycle:model").count();
    assert_eq!(models, 2);
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn context_length_error_is_final_with_its_kind() {
    let err = Script::Status {
        status: 400,
        retry_after: None,
        body: r#"{"error":{"message":"This model's maximum context length is 8 tokens","code":"context_length_exceeded"}}"#.into(),
    };
    let fake = FakeModel::start(FakeApi::OpenAi, vec![err]).await;
    let gw = gateway(with_agent(agent_config(&[&fake]))).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    let (frames, fin) = agent_turn(&mut ws, "a1", params("hi", "k1")).await;
    assert_eq!(fin["ok"], false, "{fin}");
    assert_eq!(fin["error"]["code"], "UNAVAILABLE", "{fin}");
    assert_eq!(fin["error"]["details"]["errorKind"], "context_length", "{fin}");
    assert_eq!(fin["payload"]["status"], "error", "{fin}");
    let chat = frames.iter().find(|f| f["event"] == "chat" && f["payload"]["state"] == "error").unwrap();
    assert_eq!(chat["payload"]["errorKind"], "context_length");
    assert_eq!(fake.requests().len(), 1, "a 400 is not retried");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn run_timeout_aborts_a_stalled_stream() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![Script::Stall]).await;
    let gw = gateway(with_agent(agent_config(&[&fake]))).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    let mut p = params("hi", "k1");
    p["timeout"] = json!(1);
    let (_, fin) = agent_turn(&mut ws, "a1", p).await;
    assert_eq!(fin["ok"], false, "{fin}");
    assert_eq!(fin["error"]["code"], "AGENT_TIMEOUT", "{fin}");
    assert_eq!(fin["payload"]["status"], "timeout", "{fin}");
    // The aborted run dropped its provider connection.
    within("provider hang-up", async {
        while fake.hangups() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    ws.send_json(&json!({"type":"req","id":"w","method":"agent.wait","params":{"runId":"k1"}})).await;
    let wait = within("agent.wait", ws.res("w")).await;
    assert_eq!(wait["payload"]["status"], "timeout", "{wait}");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn shutdown_mid_run_answers_with_an_error() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![Script::Stall]).await;
    let gw = gateway(with_agent(agent_config(&[&fake]))).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    ws.send_json(&json!({"type":"req","id":"a1","method":"agent","params":params("hi","k1")})).await;
    let accepted = within("accepted", ws.res("a1")).await;
    assert_eq!(accepted["payload"]["status"], "accepted");
    // Wait until the stalled delta arrived: the run is streaming.
    loop {
        let f = within("delta", ws.recv_json()).await;
        if f["event"] == "agent" && f["payload"]["stream"] == "assistant" {
            break;
        }
    }
    gw.shutdown("test over", None);
    let fin = within("final", ws.res("a1")).await;
    assert_eq!(fin["ok"], false, "{fin}");
    assert_eq!(fin["error"]["code"], "UNAVAILABLE", "{fin}");
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn shutdown_mid_run_keeps_the_partial_reply_across_a_restart() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![Script::Stall]).await;
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().display().to_string();
    let start = |d: String, agent: AgentConfig| {
        gateway(move |c| {
            c.settings.agent = agent;
            c.state_dir = Some(d);
        })
    };
    let gw = start(dir.clone(), agent_config(&[&fake])).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    ws.send_json(&json!({"type":"req","id":"a1","method":"agent","params":params("hi","k1")})).await;
    loop {
        let f = within("delta", ws.recv_json()).await;
        if f["event"] == "agent" && f["payload"]["stream"] == "assistant" {
            break;
        }
    }
    gw.shutdown("restart", None);
    let fin = within("final", ws.res("a1")).await;
    assert_eq!(fin["ok"], false, "{fin}");
    within("gateway exit", gw.wait()).await.unwrap();

    let gw = start(dir, agent_config(&[&fake])).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    ws.send_json(&json!({"type":"req","id":"h","method":"chat.history","params":{"sessionKey":"agent:main:t1"}})).await;
    let history = within("history", ws.res("h")).await;
    let messages = history["payload"]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{history}");
    assert_eq!(messages[0]["content"][0]["text"], "hi");
    assert_eq!(messages[1]["content"][0]["text"], "thinking…");
    assert_eq!(messages[1]["openclawAbort"]["origin"], "shutdown", "{history}");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn no_model_configured_is_unavailable() {
    let gw = gateway(|_| {}).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    let (_, fin) = agent_turn(&mut ws, "a1", params("hi", "k1")).await;
    assert_eq!(fin["ok"], false, "{fin}");
    assert_eq!(fin["error"]["code"], "UNAVAILABLE", "{fin}");
    assert!(fin["error"]["message"].as_str().unwrap().contains("agents.defaults.model"), "{fin}");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn transcript_survives_a_restart() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().display().to_string();
    for (i, word) in ["one", "two"].iter().enumerate() {
        let agent = agent_config(&[&fake]);
        let d = dir.clone();
        let gw = gateway(move |c| {
            c.settings.agent = agent;
            c.state_dir = Some(d);
        })
        .await;
        let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
        let (_, fin) = agent_turn(&mut ws, "a", params(word, &format!("k{i}"))).await;
        assert_eq!(fin["ok"], true, "{fin}");
        gw.shutdown("restart", None);
        within("gateway exit", gw.wait()).await.unwrap();
    }
    let second = &fake.requests()[1];
    let texts: Vec<&str> = second["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(texts, ["You are a test.", "one", "echo: one", "two"]);
    assert!(state.path().join("agents/main/sessions.sqlite").exists());
}

#[tokio::test]
async fn duplicates_are_detected_across_a_restart_and_sessions_are_listed() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().display().to_string();
    let start = |agent: AgentConfig, d: String| {
        gateway(move |c| {
            c.settings.agent = agent;
            c.state_dir = Some(d);
        })
    };
    let gw = start(agent_config(&[&fake]), dir.clone()).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    let (_, first) = agent_turn(&mut ws, "a", params("hi", "k1")).await;
    assert_eq!(first["ok"], true, "{first}");
    gw.shutdown("restart", None);
    within("gateway exit", gw.wait()).await.unwrap();

    let gw = start(agent_config(&[&fake]), dir.clone()).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    let (_, dup) = agent_turn(&mut ws, "b", params("hi", "k1")).await;
    assert_eq!(dup["payload"], first["payload"], "the recorded result is replayed");
    assert_eq!(fake.requests().len(), 1, "no second model call");
    ws.send_json(&json!({"type":"req","id":"w","method":"agent.wait","params":{"runId":"k1"}})).await;
    assert_eq!(within("wait", ws.res("w")).await["payload"]["status"], "ok");
    ws.send_json(&json!({"type":"req","id":"l","method":"sessions.list","params":{}})).await;
    let list = within("list", ws.res("l")).await;
    assert_eq!(list["payload"]["count"], 1, "{list}");
    let row = &list["payload"]["sessions"][0];
    assert_eq!(row["key"], "agent:main:t1", "{list}");
    assert_eq!(row["modelProvider"], "fake0", "{list}");
    assert_eq!(row["totalTokens"], 8, "{list}");
    // A reset starts a fresh transcript: the next turn sends no history.
    ws.send_json(&json!({"type":"req","id":"r","method":"sessions.reset","params":{"key":"agent:main:t1"}})).await;
    assert_eq!(within("reset", ws.res("r")).await["ok"], true);
    let (_, fin) = agent_turn(&mut ws, "c", params("fresh", "k2")).await;
    assert_eq!(fin["ok"], true, "{fin}");
    let last = fake.requests().pop().unwrap();
    assert_eq!(last["messages"].as_array().unwrap().len(), 2, "system + user only: {last}");
    // Deleting the session archives its transcript on disk before the rows go.
    ws.send_json(&json!({"type":"req","id":"d","method":"sessions.delete","params":{"key":"agent:main:t1"}})).await;
    let deleted = within("delete", ws.res("d")).await;
    let archive = deleted["payload"]["archived"][0].as_str().unwrap().to_owned();
    assert!(archive.starts_with(&format!("{dir}/agents/main/sessions/")), "{deleted}");
    ws.send_json(&json!({"type":"req","id":"l2","method":"sessions.list","params":{}})).await;
    assert_eq!(within("list", ws.res("l2")).await["payload"]["count"], 0);
    gw.shutdown("test over", None);
    // The gateway ends only after its store writer carried out every queued change.
    within("gateway exit", gw.wait()).await.unwrap();
    let text = std::fs::read_to_string(&archive).unwrap_or_else(|e| panic!("{archive}: {e}"));
    assert!(text.contains("fresh") && text.contains("echo: fresh"), "{text}");
}

#[tokio::test]
async fn chat_send_streams_history_reads_and_abort_stops_the_provider() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![Script::Echo, Script::Stall]).await;
    let gw = gateway(with_agent(agent_config(&[&fake]))).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    let send = |id: &str, msg: &str, key: &str| {
        json!({"type":"req","id":id,"method":"chat.send","params":{"sessionKey":"main","message":msg,"idempotencyKey":key}})
    };
    ws.send_json(&send("s1", "hi", "c1")).await;
    assert_eq!(within("started", ws.res("s1")).await["payload"]["status"], "started");
    loop {
        let f = within("chat final", ws.recv_json()).await;
        if f["event"] == "chat" && f["payload"]["state"] == "final" {
            assert_eq!(f["payload"]["message"]["content"][0]["text"], "echo: hi");
            break;
        }
    }
    ws.send_json(&json!({"type":"req","id":"h","method":"chat.history","params":{"sessionKey":"main"}})).await;
    let history = within("history", ws.res("h")).await;
    let texts: Vec<&str> = history["payload"]["messages"].as_array().unwrap().iter()
        .map(|m| m["content"][0]["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["hi", "echo: hi"], "{history}");
    assert_eq!(history["payload"]["totalMessages"], 2, "{history}");
    let cursor = history["payload"]["deltaCursor"].as_str().unwrap().to_owned();

    ws.send_json(&send("s2", "long", "c2")).await;
    assert_eq!(within("started", ws.res("s2")).await["payload"]["status"], "started");
    loop {
        let f = within("delta", ws.recv_json()).await;
        if f["event"] == "chat" && f["payload"]["state"] == "delta" {
            break;
        }
    }
    ws.send_json(&json!({"type":"req","id":"a","method":"chat.abort","params":{"sessionKey":"main"}})).await;
    let abort = within("abort", ws.res("a")).await;
    assert_eq!(abort["payload"]["runIds"], json!(["c2"]), "{abort}");
    within("provider hang-up", async {
        while fake.hangups() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    // What was streamed before the abort is in the history, marked as the reference marks it.
    ws.send_json(&json!({"type":"req","id":"h2","method":"chat.history","params":{"sessionKey":"main"}})).await;
    let history = within("history", ws.res("h2")).await;
    let messages = history["payload"]["messages"].as_array().unwrap();
    let texts: Vec<&str> = messages.iter().map(|m| m["content"][0]["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["hi", "echo: hi", "long", "thinking…"], "{history}");
    let partial = messages.last().unwrap();
    assert_eq!(partial["model"], "gateway-injected", "{partial}");
    assert_eq!(partial["openclawAbort"], json!({"aborted": true, "origin": "rpc", "runId": "c2"}), "{partial}");
    // Paging back from the newest, and following the earlier cursor.
    let page = json!({"sessionKey":"main","limit":1,"offset":1});
    ws.send_json(&json!({"type":"req","id":"h3","method":"chat.history","params":page})).await;
    let older = within("older page", ws.res("h3")).await;
    assert_eq!(older["payload"]["messages"][0]["content"][0]["text"], "long", "{older}");
    assert_eq!(older["payload"]["nextOffset"], 2, "{older}");
    assert_eq!(older["payload"]["messages"][0]["__openclaw"]["seq"], 3, "{older}");
    ws.send_json(&json!({"type":"req","id":"h4","method":"chat.history","params":{"sessionKey":"main","cursor":cursor}})).await;
    let delta = within("delta page", ws.res("h4")).await;
    assert_eq!(delta["payload"]["kind"], "delta", "{delta}");
    let texts: Vec<&str> =
        delta["payload"]["messages"].as_array().unwrap().iter().map(|m| m["content"][0]["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["long", "thinking…"], "{delta}");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn system_prompt_joins_config_agents_md_and_extra() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(workspace.path().join("AGENTS.md"), "Be brief.").unwrap();
    let mut agent = agent_config(&[&fake]);
    agent.workspace = Some(workspace.path().to_owned());
    let gw = gateway(with_agent(agent)).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    let mut p = params("hi", "k1");
    p["extraSystemPrompt"] = json!("Reply in French.");
    let (_, fin) = agent_turn(&mut ws, "a1", p).await;
    assert_eq!(fin["ok"], true, "{fin}");
    let req = &fake.requests()[0];
    assert_eq!(req["messages"][0]["content"], "You are a test.\n\nBe brief.\n\nReply in French.", "{req}");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn https_provider_over_tls() {
    let fake = FakeModel::start_tls(FakeApi::Anthropic, vec![]).await;
    let mut agent = agent_config(&[&fake]);
    agent.extra_root_certs = vec![fake.cert_der.clone().unwrap()];
    let gw = gateway(with_agent(agent)).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    let (_, fin) = agent_turn(&mut ws, "a1", params("secure", "k1")).await;
    assert_eq!(fin["payload"]["result"]["payloads"][0]["text"], "echo: secure", "{fin}");

    // An untrusted certificate is a clear, non-retried failure.
    let gw2 = gateway(with_agent(agent_config(&[&fake]))).await;
    let (mut ws2, _) = RawWs::authed(gw2.local_addr()).await;
    let (_, fin2) = agent_turn(&mut ws2, "a1", params("secure", "k2")).await;
    assert_eq!(fin2["ok"], false, "{fin2}");
    assert!(fin2["error"]["message"].as_str().unwrap().contains("TLS"), "{fin2}");
    assert_eq!(fake.requests().len(), 1, "no request got through the untrusted handshake");
    for gw in [gw, gw2] {
        gw.shutdown("test over", None);
        within("gateway exit", gw.wait()).await.unwrap();
    }
}
