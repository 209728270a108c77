//! `/v1/chat/completions`, `/v1/responses` and `POST /tools/invoke` against the reference gateway (openclaw 2026.9.6, `openclaw-peer
//! gateway run`) and ours, both in front of the same local fake model: the same requests,
//! and the answers compared by shape (keys, value types, `object`, `finish_reason`, the
//! chunk sequence and its `[DONE]` terminator) and, for the error rows, status and body.
//! Ids, timestamps and the model's text are not compared. The peer must be installed
//! (`scripts/openclaw-peer install`, done by `.ci/run`); without it this test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use openclaw_io::agent::{AgentConfig, Api, ModelChoice, ModelRef, ProviderConfig};
use openclaw_io::settings::HttpEndpoints;
use openclaw_tests::bench::target::free_port;
use openclaw_tests::e2e::{gateway, within, TOKEN};
use openclaw_tests::fake_model::{FakeApi, FakeCall, FakeModel, Script};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// Node start-up and the reference's plugin loading take a while on a loaded machine.
const PEER_START: Duration = Duration::from_secs(180);
/// One request to the reference (its first agent turn loads the agent runtime).
const PEER_REQUEST: Duration = Duration::from_secs(120);

/// The reference gateway, killed when dropped.
struct Reference {
    addr: SocketAddr,
    _child: Child,
    _home: tempfile::TempDir,
}

impl Reference {
    async fn start(fake: &FakeModel) -> Self {
        Self::start_with(fake, json!({})).await
    }

    /// As [`Reference::start`], with `extra` top-level config sections added.
    async fn start_with(fake: &FakeModel, extra: Value) -> Self {
        let peer = openclaw_tests::peer::peer();
        let script = &peer.script;
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".openclaw");
        std::fs::create_dir_all(&dir).unwrap();
        let config = json!({
            "gateway": { "http": { "endpoints": { "chatCompletions": { "enabled": true }, "responses": { "enabled": true } } } },
            "models": { "providers": { "fake": { "baseUrl": fake.base_url(), "apiKey": "sk-test",
                "api": "openai-completions", "models": [{ "id": "echo-1", "name": "echo-1" }] } } },
            "agents": { "defaults": { "model": { "primary": "fake/echo-1" } } },
        });
        let mut config = config;
        if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        std::fs::write(dir.join("openclaw.json"), config.to_string()).unwrap();
        let port = free_port().unwrap();
        let mut cmd = Command::new(script);
        cmd.args(["gateway", "run", "--allow-unconfigured", "--bind", "loopback", "--port", &port.to_string()])
            .args(["--auth", "token", "--token", TOKEN])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        cmd.env("OPENCLAW_PEER_HOME", &peer.cache);
        let mut child = cmd.spawn().expect("spawn the reference gateway (scripts/openclaw-peer install first)");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // Wait for the line the reference logs once its HTTP server accepts (an event, not a
        // poll), then keep draining its stdout so a full pipe never blocks it.
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let listening = tokio::time::timeout(PEER_START, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("http server listening") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(listening, Ok(true), "the reference gateway did not log `http server listening` within {PEER_START:?}");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let mut s = TcpStream::connect(addr).await.expect("connect to the reference");
        let head = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let mut out = Vec::new();
        s.write_all(head.as_bytes()).await.unwrap();
        tokio::time::timeout(PEER_REQUEST, s.read_to_end(&mut out)).await.expect("health in time").unwrap();
        assert!(out.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&out));
        Self { addr, _child: child, _home: home }
    }
}

/// One request and its whole answer: status, and the body (chunked framing undone).
async fn request(addr: SocketAddr, method: &str, auth: Option<&str>, body: &str) -> (u16, String) {
    request_to(addr, method, "/v1/chat/completions", auth, body).await
}

/// As [`request`], to `path`.
async fn request_to(addr: SocketAddr, method: &str, path: &str, auth: Option<&str>, body: &str) -> (u16, String) {
    let auth = auth.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    request_with(addr, method, path, &auth, body).await
}

/// As [`request_to`], with `headers` (whole `Name: value\r\n` lines) instead of a bearer.
async fn request_with(addr: SocketAddr, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{headers}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(PEER_REQUEST, s.read_to_end(&mut raw)).await.expect("answer in time").unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { unchunk(body) } else { body.to_owned() };
    (status, body)
}

fn unchunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].strip_prefix("\r\n").unwrap_or(&after[n..]);
    }
    out
}

/// Keys and value types; `object`, `finish_reason`, `role` and `type` values are kept.
fn shape(v: &Value, key: &str) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v, k))).collect::<Map<_, _>>()),
        Value::Array(items) => Value::Array(items.iter().map(|i| shape(i, key)).collect()),
        Value::String(_) if matches!(key, "object" | "finish_reason" | "role" | "type") => v.clone(),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

/// As [`shape`], also keeping the `status`, `phase` and `code` values (response resources).
fn response_shape(v: &Value, key: &str) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), response_shape(v, k))).collect::<Map<_, _>>()),
        Value::Array(items) => Value::Array(items.iter().map(|i| response_shape(i, key)).collect()),
        Value::String(_) if matches!(key, "status" | "phase" | "code") => v.clone(),
        other => shape(other, key),
    }
}

/// The `(event, data shape)` pairs of a `/v1/responses` stream, consecutive repeats collapsed.
fn named_stream_shape(body: &str) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    let mut name = String::new();
    for line in body.lines() {
        if let Some(n) = line.strip_prefix("event: ") {
            name = n.to_owned();
        } else if let Some(data) = line.strip_prefix("data: ") {
            let s = serde_json::from_str::<Value>(data).map_or_else(|_| json!(data), |v| response_shape(&v, ""));
            let entry = (std::mem::take(&mut name), s);
            if out.last() != Some(&entry) {
                out.push(entry);
            }
        }
    }
    out
}

/// The shapes of an event stream's `data:` payloads, consecutive repeats collapsed (how many
/// content chunks a reply takes is the model's business).
fn stream_shape(body: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for data in body.lines().filter_map(|l| l.strip_prefix("data: ")) {
        let s = match serde_json::from_str::<Value>(data) {
            Ok(v) => shape(&v, ""),
            Err(_) => json!(data),
        };
        if out.last() != Some(&s) {
            out.push(s);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_completions_match_the_reference() {
    // A fixed reply: with the echo script (which says back the reference's long prompt, with
    // its internal-context block) the reference's stream ended in an `api_error` chunk in a
    // trial run (not investigated further).
    let replies = (0..16).map(|_| Script::Reply(vec!["Hel".into(), "lo".into()])).collect();
    let fake = FakeModel::start(FakeApi::OpenAi, replies).await;
    let reference = Reference::start(&fake).await;
    let mut agent = AgentConfig::default();
    let provider = ProviderConfig { base_url: fake.base_url(), api_key: Some("sk-test".into()), api: Api::OpenAiCompletions };
    agent.providers.insert("fake".into(), provider);
    agent.model = Some(ModelChoice { primary: ModelRef { provider: "fake".into(), model: "echo-1".into() }, fallbacks: Vec::new() });
    let gw = gateway(move |c| {
        c.settings.agent = agent;
        c.settings.gateway.http = HttpEndpoints { chat_completions: true, responses: false };
    })
    .await;
    let targets = [("reference", reference.addr), ("ours", gw.local_addr())];

    let plain = json!({"model":"openclaw","messages":[{"role":"user","content":"hi"}]}).to_string();
    let streamed = json!({"model":"openclaw","stream":true,"stream_options":{"include_usage":true},
        "messages":[{"role":"user","content":"hi"}]})
    .to_string();
    let mut seen = Vec::new();
    for (name, addr) in targets {
        let (status, body) = request(addr, "POST", Some(TOKEN), &plain).await;
        assert_eq!(status, 200, "{name}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(v["id"].as_str().unwrap().starts_with("chatcmpl_"), "{name}: {v}");
        let (status, events) = request(addr, "POST", Some(TOKEN), &streamed).await;
        assert_eq!(status, 200, "{name}: {events}");
        assert!(events.trim_end().ends_with("data: [DONE]"), "{name}: {events}");
        seen.push((name, shape(&v, ""), stream_shape(&events)));
    }
    let (_, ref_plain, ref_stream) = &seen[0];
    let (_, our_plain, our_stream) = &seen[1];
    assert_eq!(our_plain, ref_plain, "non-streaming shape");
    assert_eq!(our_stream, ref_stream, "streaming shape");

    // The error rows: same status, same body (bad JSON: same status and type; the parser's
    // sentence differs between JavaScript and Rust).
    let rows: [(&str, Option<&str>, &str); 7] = [
        ("POST", None, plain.as_str()),
        ("POST", Some("wrong"), plain.as_str()),
        ("POST", Some(TOKEN), r#"{"messages":"x"}"#),
        ("POST", Some(TOKEN), r#"{"messages":[{"role":"system","content":"x"}]}"#),
        ("POST", Some(TOKEN), r#"{"model":"gpt-4","messages":[{"role":"user","content":"x"}]}"#),
        ("POST", Some(TOKEN), r#"{"model":"openclaw/nope","messages":[{"role":"user","content":"x"}]}"#),
        ("GET", Some(TOKEN), ""),
    ];
    for (method, auth, body) in rows {
        let theirs = request(reference.addr, method, auth, body).await;
        let ours = request(gw.local_addr(), method, auth, body).await;
        assert_eq!(ours, theirs, "{method} {auth:?} {body}");
    }
    let theirs = request(reference.addr, "POST", Some(TOKEN), "{bad").await;
    let ours = request(gw.local_addr(), "POST", Some(TOKEN), "{bad").await;
    assert_eq!((ours.0, theirs.0), (400, 400));
    let kind = |b: &str| serde_json::from_str::<Value>(b).unwrap()["error"]["type"].clone();
    assert_eq!(kind(&ours.1), kind(&theirs.1));

    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_match_the_reference() {
    let replies = (0..16).map(|_| Script::Reply(vec!["Hel".into(), "lo".into()])).collect();
    let fake = FakeModel::start(FakeApi::OpenAi, replies).await;
    let reference = Reference::start(&fake).await;
    let mut agent = AgentConfig::default();
    let provider = ProviderConfig { base_url: fake.base_url(), api_key: Some("sk-test".into()), api: Api::OpenAiCompletions };
    agent.providers.insert("fake".into(), provider);
    agent.model = Some(ModelChoice { primary: ModelRef { provider: "fake".into(), model: "echo-1".into() }, fallbacks: Vec::new() });
    let gw = gateway(move |c| {
        c.settings.agent = agent;
        c.settings.gateway.http = HttpEndpoints { chat_completions: true, responses: true };
    })
    .await;
    let targets = [("reference", reference.addr), ("ours", gw.local_addr())];
    let plain = json!({"model":"openclaw","input":[{"type":"message","role":"user","content":"hi"}]}).to_string();
    let streamed = json!({"model":"openclaw","stream":true,"input":"hi"}).to_string();
    let mut seen = Vec::new();
    for (name, addr) in targets {
        let (status, body) = request_to(addr, "POST", "/v1/responses", Some(TOKEN), &plain).await;
        assert_eq!(status, 200, "{name}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(v["id"].as_str().unwrap().starts_with("resp_"), "{name}: {v}");
        let (status, events) = request_to(addr, "POST", "/v1/responses", Some(TOKEN), &streamed).await;
        assert_eq!(status, 200, "{name}: {events}");
        assert!(events.trim_end().ends_with("data: [DONE]"), "{name}: {events}");
        seen.push((name, response_shape(&v, ""), named_stream_shape(&events)));
    }
    let (_, ref_plain, ref_stream) = &seen[0];
    let (_, our_plain, our_stream) = &seen[1];
    assert_eq!(our_plain, ref_plain, "non-streaming shape");
    assert_eq!(our_stream, ref_stream, "streaming events and shapes");

    // The error rows: same status, same body.
    let user_image = |url: &str| {
        json!({"model":"openclaw","input":[{"type":"message","role":"user","content":[
            {"type":"input_text","text":"look"},{"type":"input_image","source":{"type":"url","url":url}}]}]})
        .to_string()
    };
    let loopback = user_image("http://127.0.0.1:9/x.png");
    let private = user_image("http://10.0.0.1/x.png");
    let rows: Vec<(&str, Option<&str>, &str)> = vec![
        ("POST", None, plain.as_str()),
        ("POST", Some("wrong"), plain.as_str()),
        ("GET", Some(TOKEN), ""),
        ("POST", Some(TOKEN), r#"{"model":"openclaw","input":"hi","foo":1}"#),
        ("POST", Some(TOKEN), r#"{"input":"hi"}"#),
        ("POST", Some(TOKEN), r#"{"model":"openclaw","input":5}"#),
        ("POST", Some(TOKEN), r#"{"model":"openclaw","input":""}"#),
        ("POST", Some(TOKEN), r#"{"model":"openclaw","input":[{"type":"message","role":"system","content":"x"}]}"#),
        ("POST", Some(TOKEN), r#"{"model":"openclaw","input":[{"type":"message","role":"user","content":"x","extra":1}]}"#),
        ("POST", Some(TOKEN), r#"{"model":"openclaw","input":"x","stream":"yes"}"#),
        ("POST", Some(TOKEN), r#"{"model":"openclaw","input":"x","tools":[{"type":"function","name":""}]}"#),
        ("POST", Some(TOKEN), r#"{"model":"openclaw","input":"x","tool_choice":"required"}"#),
        ("POST", Some(TOKEN), r#"{"model":"openclaw","input":"x","temperature":3}"#),
        ("POST", Some(TOKEN), r#"{"model":"gpt-4","input":"x"}"#),
        ("POST", Some(TOKEN), r#"{"model":"openclaw/nope","input":"x"}"#),
        ("POST", Some(TOKEN), loopback.as_str()),
        ("POST", Some(TOKEN), private.as_str()),
    ];
    for (method, auth, body) in rows {
        let theirs = request_to(reference.addr, method, "/v1/responses", auth, body).await;
        let ours = request_to(gw.local_addr(), method, "/v1/responses", auth, body).await;
        assert_eq!(ours, theirs, "{method} {auth:?} {body}");
    }
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

/// A model that always calls the client tool `get_weather`. The reference (2026.9.6) offers
/// client tools behind its Tool Search catalog, so its model calls `tool_call {id, args}`; ours
/// offers them directly. No commentary text: the reference does not report the text of a round
/// that called its `tool_call` (ours reports the round's text as the commentary; e2e tests).
async fn tool_calling_model(via_tool_search: bool) -> FakeModel {
    let call = move || {
        let weather = json!({"city": "Oslo"});
        if via_tool_search {
            vec![FakeCall::new("call_1", "tool_call", json!({"id": "get_weather", "args": weather}))]
        } else {
            vec![FakeCall::new("call_1", "get_weather", weather)]
        }
    };
    let scripts = (0..16).map(|_| Script::Tools { text: vec![], calls: call() }).collect();
    FakeModel::start(FakeApi::OpenAi, scripts).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_tool_calls_match_the_reference() {
    // Each gateway has its own model, so each sees the scripted tool call first.
    let theirs_model = tool_calling_model(true).await;
    let ours_model = tool_calling_model(false).await;
    let reference = Reference::start(&theirs_model).await;
    let mut agent = AgentConfig::default();
    let provider = ProviderConfig { base_url: ours_model.base_url(), api_key: Some("sk-test".into()), api: Api::OpenAiCompletions };
    agent.providers.insert("fake".into(), provider);
    agent.model = Some(ModelChoice { primary: ModelRef { provider: "fake".into(), model: "echo-1".into() }, fallbacks: Vec::new() });
    let gw = gateway(move |c| {
        c.settings.agent = agent;
        c.settings.gateway.http = HttpEndpoints { chat_completions: true, responses: true };
    })
    .await;
    let chat_tool = json!({"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}});
    let flat_tool = json!({"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}});
    let chat = json!({"model":"openclaw","messages":[{"role":"user","content":"Weather?"}],"tools":[chat_tool]});
    let mut chat_stream = chat.clone();
    chat_stream["stream"] = json!(true);
    let resp = json!({"model":"openclaw","input":"Weather?","tools":[flat_tool]});
    let mut resp_stream = resp.clone();
    resp_stream["stream"] = json!(true);
    let mut seen = Vec::new();
    for (name, addr) in [("reference", reference.addr), ("ours", gw.local_addr())] {
        let (status, body) = request(addr, "POST", Some(TOKEN), &chat.to_string()).await;
        assert_eq!(status, 200, "{name}: {body}");
        let completion: Value = serde_json::from_str(&body).unwrap();
        let calls = &completion["choices"][0]["message"]["tool_calls"];
        assert_eq!(calls[0]["function"]["arguments"], "{\"city\":\"Oslo\"}", "{name}: {completion}");
        assert_eq!(calls[0]["function"]["name"], "get_weather", "{name}: {completion}");
        let (status, events) = request(addr, "POST", Some(TOKEN), &chat_stream.to_string()).await;
        assert_eq!(status, 200, "{name}: {events}");
        let (status, body) = request_to(addr, "POST", "/v1/responses", Some(TOKEN), &resp.to_string()).await;
        assert_eq!(status, 200, "{name}: {body}");
        let response: Value = serde_json::from_str(&body).unwrap();
        let (status, named) = request_to(addr, "POST", "/v1/responses", Some(TOKEN), &resp_stream.to_string()).await;
        assert_eq!(status, 200, "{name}: {named}");
        seen.push((shape(&completion, ""), stream_shape(&events), response_shape(&response, ""), named_stream_shape(&named)));
    }
    let (theirs, ours) = (&seen[0], &seen[1]);
    assert_eq!(ours.0, theirs.0, "chat completion with tool_calls");
    assert_eq!(ours.1, theirs.1, "streamed tool_calls chunks");
    assert_eq!(ours.2, theirs.2, "response with function_call items");
    assert_eq!(ours.3, theirs.3, "streamed function_call events");
    // Both offered the model the caller's tool.
    for (name, model) in [("reference", &theirs_model), ("ours", &ours_model)] {
        let tool = if name == "reference" { "tool_call" } else { "get_weather" };
        let offered = |r: &Value| r["tools"].as_array().into_iter().flatten().any(|t| t["function"]["name"] == tool);
        assert!(model.requests().iter().any(offered), "{name}: {:?}", model.requests());
    }
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_invoke_matches_the_reference() {
    let fake = FakeModel::start(FakeApi::OpenAi, Vec::new()).await;
    let reference = Reference::start(&fake).await;
    let gw = gateway(|_| {}).await;
    // Status and body, byte for byte: the error rows, the policy-filtered tools, the tool
    // errors, and the session tools on a gateway with no session yet.
    let rows: [(&str, Option<&str>, &str); 17] = [
        ("POST", None, r#"{"tool":"sessions_list"}"#),
        ("POST", Some("wrong"), r#"{"tool":"sessions_list"}"#),
        ("GET", Some(TOKEN), ""),
        ("POST", Some(TOKEN), "{}"),
        ("POST", Some(TOKEN), ""),
        ("POST", Some(TOKEN), "[]"),
        ("POST", Some(TOKEN), r#"{"tool":5}"#),
        ("POST", Some(TOKEN), r#"{"tool":"nope"}"#),
        ("POST", Some(TOKEN), r#"{"tool":"exec"}"#),
        ("POST", Some(TOKEN), r#"{"tool":"cron"}"#),
        ("POST", Some(TOKEN), r#"{"tool":"read","args":{"path":"x"}}"#),
        ("POST", Some(TOKEN), r#"{"tool":"write"}"#),
        ("POST", Some(TOKEN), r#"{"tool":"sessions_list","args":{"limit":"x"}}"#),
        ("POST", Some(TOKEN), r#"{"tool":"sessions_history"}"#),
        ("POST", Some(TOKEN), r#"{"tool":"sessions_list"}"#),
        ("POST", Some(TOKEN), r#"{"name":"sessions_list","args":"x"}"#),
        ("POST", Some(TOKEN), r#"{"tool":"sessions_history","args":{"sessionKey":"nope"}}"#),
    ];
    for (method, auth, body) in rows {
        let theirs = reference_tool_answer(reference.addr, method, auth, body).await;
        let ours = request_to(gw.local_addr(), method, "/tools/invoke", auth, body).await;
        assert_eq!(ours, theirs, "{method} {auth:?} {body}");
    }
    // Bad JSON: same status and envelope type (the parser's sentence differs).
    let theirs = request_to(reference.addr, "POST", "/tools/invoke", Some(TOKEN), "{bad").await;
    let ours = request_to(gw.local_addr(), "POST", "/tools/invoke", Some(TOKEN), "{bad").await;
    assert_eq!((ours.0, theirs.0), (400, 400));
    let kind = |b: &str| serde_json::from_str::<Value>(b).unwrap()["error"]["type"].clone();
    assert_eq!(kind(&ours.1), kind(&theirs.1));
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

/// The reference's answer to a `/tools/invoke` row. Its session tools call back into its own
/// gateway and, on a loaded machine shortly after start, can fail with a sanitised `500 tool
/// execution failed`; that answer is asked again (until [`PEER_REQUEST`] has passed) so the
/// comparison sees the reference's real answer, not its start-up.
async fn reference_tool_answer(addr: SocketAddr, method: &str, auth: Option<&str>, body: &str) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + PEER_REQUEST;
    loop {
        let answer = request_to(addr, method, "/tools/invoke", auth, body).await;
        let warming = answer.0 == 500 && answer.1.contains("tool execution failed");
        if !warming || tokio::time::Instant::now() >= deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_match_the_reference() {
    const HOOK_TOKEN: &str = "hook-secret";
    let fake = FakeModel::start(FakeApi::OpenAi, (0..8).map(|_| Script::Reply(vec!["ok".into()])).collect()).await;
    let reference = Reference::start_with(&fake, json!({"hooks": {"enabled": true, "token": HOOK_TOKEN}})).await;
    let mut agent = AgentConfig::default();
    let provider = ProviderConfig { base_url: fake.base_url(), api_key: Some("sk-test".into()), api: Api::OpenAiCompletions };
    agent.providers.insert("fake".into(), provider);
    agent.model = Some(ModelChoice { primary: ModelRef { provider: "fake".into(), model: "echo-1".into() }, fallbacks: Vec::new() });
    let hooks: openclaw_core::config::HooksConfig = serde_json::from_value(json!({"enabled": true, "token": HOOK_TOKEN})).unwrap();
    let policy = std::sync::Arc::new(openclaw_core::hooks::HooksPolicy::resolve(Some(&hooks)).unwrap().unwrap());
    let gw = gateway(move |c| {
        c.settings.agent = agent;
        c.settings.hooks = Some(policy);
    })
    .await;
    let bearer = format!("Authorization: Bearer {HOOK_TOKEN}\r\n");
    let header = format!("X-OpenClaw-Token: {HOOK_TOKEN}\r\n");
    let big = format!("{{\"text\":\"{}\"}}", "x".repeat(300 * 1024));
    // Status and body, byte for byte: the request pipeline (§5.2) and the validation rows of
    // wake (§5.3) and agent (§5.4).
    let rows: Vec<(&str, &str, &str, &str)> = vec![
        ("POST", "/hooks/wake?token=hook-secret", bearer.as_str(), r#"{"text":"x"}"#),
        ("GET", "/hooks/wake", bearer.as_str(), ""),
        ("POST", "/hooks/wake", "", r#"{"text":"x"}"#),
        ("POST", "/hooks/wake", "Authorization: Bearer wrong\r\n", r#"{"text":"x"}"#),
        ("POST", "/hooks", bearer.as_str(), "{}"),
        ("POST", "/hooks/nope", bearer.as_str(), "{}"),
        ("POST", "/hooks/wake", bearer.as_str(), big.as_str()),
        ("POST", "/hooks/wake", bearer.as_str(), "{}"),
        ("POST", "/hooks/wake", header.as_str(), r#"{"text":"x","mode":"later"}"#),
        ("POST", "/hooks/wake", bearer.as_str(), r#"{"text":"x","agentId":"ops"}"#),
        ("POST", "/hooks/wake", bearer.as_str(), r#"{"text":"x","sessionKey":"hook:a"}"#),
        ("POST", "/hooks/agent", bearer.as_str(), "{}"),
        ("POST", "/hooks/agent", bearer.as_str(), r#"{"message":"m","waitForCompletion":"yes"}"#),
        ("POST", "/hooks/agent", bearer.as_str(), r#"{"message":"m","to":"x"}"#),
        ("POST", "/hooks/agent", bearer.as_str(), r#"{"message":"m","accountId":"a"}"#),
        ("POST", "/hooks/agent", bearer.as_str(), r#"{"message":"m","channel":"last","to":"x"}"#),
        ("POST", "/hooks/agent", bearer.as_str(), r#"{"message":"m","agentId":"ops"}"#),
        ("POST", "/hooks/agent", bearer.as_str(), r#"{"message":"m","sessionKey":"hook:a"}"#),
        ("POST", "/hooks/agent", bearer.as_str(), r#"{"message":"m","sessionMode":"persistent"}"#),
        ("POST", "/hooks/wake", bearer.as_str(), r#"{"text":"first wake"}"#),
    ];
    let mut differ = Vec::new();
    for (method, path, headers, body) in &rows {
        let theirs = request_with(reference.addr, method, path, headers, body).await;
        let ours = request_with(gw.local_addr(), method, path, headers, body).await;
        if ours != theirs {
            differ.push(format!("{method} {path} {headers:?} {}: ours {ours:?}, theirs {theirs:?}", &body[..body.len().min(80)]));
        }
    }
    assert!(differ.is_empty(), "rows that differ:\n{}", differ.join("\n"));
    // Bad JSON: the same status and envelope (the parser's sentence differs).
    let theirs = request_with(reference.addr, "POST", "/hooks/wake", &bearer, "{bad").await;
    let ours = request_with(gw.local_addr(), "POST", "/hooks/wake", &bearer, "{bad").await;
    assert_eq!((ours.0, theirs.0), (400, 400));
    let ok = |b: &str| serde_json::from_str::<Value>(b).unwrap()["ok"].clone();
    assert_eq!(ok(&ours.1), ok(&theirs.1));
    // An accepted agent hook is not compared: in this setup (hooks.enabled + token, the fake
    // model) the reference answers every one `502 hook agent run failed before entering the agent
    // runner` (seen for 120 s of retries), while its chat completions run on the same model;
    // e2e_hooks checks ours.
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
