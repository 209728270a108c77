//! `/v1/chat/completions` and `/v1/models` end to end: raw requests for every status row, the
//! official OpenAI Python SDK against our gateway (a local fake model behind it), and a client
//! that hangs up mid-stream aborting the run.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use openclaw_io::agent::{AgentConfig, Api, ModelChoice, ModelRef, ProviderConfig};
use openclaw_io::settings::HttpEndpoints;
use openclaw_io::ServerConfig;
use openclaw_tests::e2e::{gateway, http, within, TOKEN};
use openclaw_tests::fake_model::{FakeApi, FakeModel, Script};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

/// The pinned SDK (.ci/run installs it).
const OPENAI_VERSION: &str = "1.109.1";

fn agent_config(fake: &FakeModel) -> AgentConfig {
    let mut config = AgentConfig::default();
    let provider = ProviderConfig { base_url: fake.base_url(), api_key: Some("sk-test".into()), api: Api::OpenAiCompletions };
    config.providers.insert("fake".into(), provider);
    let primary = ModelRef { provider: "fake".into(), model: "echo-1".into() };
    config.model = Some(ModelChoice { primary, fallbacks: Vec::new() });
    config
}

fn enabled(fake: &FakeModel) -> impl FnOnce(&mut ServerConfig) {
    let agent = agent_config(fake);
    move |c| {
        c.settings.agent = agent;
        c.settings.gateway.http = HttpEndpoints { chat_completions: true, responses: false };
    }
}

/// A request with a JSON (or any) body; `auth` is the bearer credential, if any.
async fn post(addr: SocketAddr, path: &str, auth: Option<&str>, body: &str) -> (u16, String) {
    let auth = auth.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (status, body, _) = http(addr, &head).await;
    (status, body)
}

async fn chat(addr: SocketAddr, body: &Value) -> (u16, Value) {
    let (status, text) = post(addr, "/v1/chat/completions", Some(TOKEN), &body.to_string()).await;
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}")))
}

/// Sends a streaming request and reads the raw answer until `data: [DONE]` (or, with
/// `until`, until that text): the status line and the `data:` payloads (chunked transfer
/// framing is skipped: every payload line starts with `data: `), and the open socket.
async fn post_stream(addr: SocketAddr, body: &str, until: &str) -> (String, Vec<String>, TcpStream) {
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = within("connect", TcpStream::connect(addr)).await.unwrap();
    within("write", stream.write_all(head.as_bytes())).await.unwrap();
    let mut raw = String::new();
    while !raw.contains(until) {
        let mut buf = [0u8; 4096];
        let n = within("event stream", stream.read(&mut buf)).await.unwrap();
        assert!(n > 0, "stream closed before {until:?}: {raw}");
        raw.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let status = raw.lines().next().unwrap_or_default().to_owned();
    let events = raw.lines().filter_map(|l| l.strip_prefix("data: ")).map(str::to_owned).collect();
    (status, events, stream)
}

#[tokio::test]
async fn disabled_by_default_is_a_bare_404() {
    let gw = gateway(|_| {}).await;
    let body = json!({"model":"openclaw","messages":[{"role":"user","content":"hi"}]}).to_string();
    let (status, text) = post(gw.local_addr(), "/v1/chat/completions", Some(TOKEN), &body).await;
    assert_eq!((status, text.as_str()), (404, "Not Found"));
    let (status, text) = post(gw.local_addr(), "/v1/models", Some(TOKEN), "").await;
    assert_eq!((status, text.as_str()), (404, "Not Found"));
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn a_completion_as_json_and_as_events() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![Script::Reply(vec!["Hel".into(), "lo".into()])]).await;
    let gw = gateway(enabled(&fake)).await;
    let addr = gw.local_addr();
    let (status, body) = chat(addr, &json!({"model":"openclaw/default","user":"ann","messages":[
        {"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}))
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl_"), "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "openclaw/default");
    assert!(body["created"].as_u64().unwrap() > 1_600_000_000, "{body}");
    assert_eq!(body["choices"], json!([{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}]));
    assert_eq!(body["usage"], json!({"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}));
    // The model got the turn, with the system message in its system prompt.
    let request = fake.requests().pop().unwrap();
    let messages = request["messages"].as_array().unwrap();
    assert!(messages[0]["content"].as_str().unwrap().contains("be brief"), "{request}");
    assert_eq!(messages.last().unwrap()["content"], "hi", "{request}");

    // Streaming, with history rendered into the turn; the echo model says it back.
    let body = json!({"model":"openclaw","stream":true,"stream_options":{"include_usage":true},"messages":[
        {"role":"user","content":"q1"},{"role":"assistant","content":"a1"},{"role":"user","content":"q2"}]});
    let (status, events, _) = post_stream(addr, &body.to_string(), "data: [DONE]").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    let id = &chunks[0]["id"];
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk" && &c["id"] == id && c["model"] == "openclaw"));
    assert_eq!(chunks[0]["choices"], json!([{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]));
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(
        text,
        "echo: [Chat messages since your last reply - for context]\nUser: q1\nAssistant: a1\n\n\
         [Current message - respond to this]\nUser: q2"
    );
    let n = chunks.len();
    assert_eq!(chunks[n - 2]["choices"], json!([{"index":0,"delta":{},"finish_reason":"stop"}]));
    assert_eq!(chunks[n - 1]["choices"], json!([]));
    assert_eq!(chunks[n - 1]["usage"], json!({"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}));
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn every_error_row_answers_json() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    let gw = gateway(enabled(&fake)).await;
    let addr = gw.local_addr();
    let ok = json!({"model":"openclaw","messages":[{"role":"user","content":"hi"}]}).to_string();
    let unauthorized = json!({"error":{"message":"Unauthorized","type":"unauthorized"}});
    for auth in [None, Some("wrong")] {
        let (status, text) = post(addr, "/v1/chat/completions", auth, &ok).await;
        assert_eq!(status, 401);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), unauthorized);
    }
    let rows: [(&str, &str); 7] = [
        ("{bad", "key must be a string at line 1 column 2"),
        ("[1]", ": Invalid input: expected object, received array"),
        (r#"{"messages":"x"}"#, "messages: Invalid input: expected array, received string"),
        (r#"{"messages":[{"role":"system","content":"x"}]}"#, "Missing user message in `messages`."),
        (r#"{"model":"gpt-4","messages":[{"role":"user","content":"x"}]}"#, "Invalid `model`. Use `openclaw` or `openclaw/<agentId>`."),
        (r#"{"model":"openclaw/nope","messages":[{"role":"user","content":"x"}]}"#, "Unknown agent 'nope'."),
        (r#"{"messages":[{"role":"user","content":"x"}],"stream":"yes"}"#, "stream: Invalid input: expected boolean, received string"),
    ];
    for (body, message) in rows {
        let (status, text) = post(addr, "/v1/chat/completions", Some(TOKEN), body).await;
        assert_eq!(status, 400, "{body}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v, json!({"error":{"message":message,"type":"invalid_request_error"}}), "{body}");
    }
    // Other methods: 405 before auth, as the reference.
    let head = "GET /v1/chat/completions HTTP/1.1\r\nHost: x\r\n\r\n";
    let (status, text, _) = http(addr, head).await;
    assert_eq!((status, text.as_str()), (405, "Method Not Allowed"));
    // The models list, and one model by its encoded id.
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
    let (status, text, _) = http(addr, &get("/v1/models")).await;
    assert_eq!(status, 200);
    let list: Value = serde_json::from_str(&text).unwrap();
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!((list["object"].as_str(), ids), (Some("list"), vec!["openclaw", "openclaw/default", "openclaw/main"]));
    let (status, text, _) = http(addr, &get("/v1/models/openclaw%2Fmain")).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"id":"openclaw/main","object":"model","created":0,"owned_by":"openclaw","permission":[]})
    );
    let (status, text, _) = http(addr, &get("/v1/models/gpt-4")).await;
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"error":{"message":"Model 'gpt-4' not found.","type":"invalid_request_error"}})
    );
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_stream_aborts_the_run() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![Script::Stall]).await;
    let gw = gateway(enabled(&fake)).await;
    let body = json!({"model":"openclaw","stream":true,"messages":[{"role":"user","content":"long"}]}).to_string();
    // The first model chunk arrives, then the model stalls; the client goes away.
    let (status, events, stream) = post_stream(gw.local_addr(), &body, "\"content\"").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(events[0].contains("\"role\":\"assistant\""), "{events:?}");
    drop(stream);
    // The run is aborted: the gateway hangs up on the model.
    within("provider hang-up", async {
        while fake.hangups() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

/// Fails (with what to install) unless `python3` can import `openai`.
async fn require_sdk() {
    let out = Command::new("python3")
        .args(["-c", "import openai; print(openai.__version__)"])
        .kill_on_drop(true)
        .output()
        .await
        .expect("python3 is required for the OpenAI SDK test");
    assert!(
        out.status.success(),
        "python3 cannot import `openai` (run `python3 -m pip install openai=={OPENAI_VERSION}`, as .ci/run does): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if version != OPENAI_VERSION {
        eprintln!("note: openai {version} installed; CI pins {OPENAI_VERSION}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_openai_sdk_talks_to_the_gateway() {
    require_sdk().await;
    let fake = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    let gw = gateway(enabled(&fake)).await;
    let script = format!("{}/openai_sdk/chat.py", env!("CARGO_MANIFEST_DIR"));
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
    assert!(out.status.success(), "chat.py failed:\n{stderr}");
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let plain = &seen["plain"];
    assert_eq!(plain["object"], "chat.completion", "{seen}");
    assert_eq!(plain["model"], "openclaw");
    assert_eq!(plain["content"], "echo: plain");
    assert_eq!(plain["role"], "assistant");
    assert_eq!(plain["finish_reason"], "stop");
    assert_eq!(plain["usage"]["total_tokens"], 8, "{seen}");
    let stream = &seen["stream"];
    assert_eq!(stream["objects"], json!(["chat.completion.chunk"]), "{seen}");
    assert_eq!(stream["ids"].as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(stream["role"], "assistant");
    assert_eq!(stream["text"], "echo: streamed");
    assert_eq!(stream["finish_reasons"].as_array().unwrap().last().unwrap(), "stop", "{seen}");
    assert_eq!(stream["usage"]["prompt_tokens"], 5, "{seen}");
    assert_eq!(seen["wrong_key"]["class"], "AuthenticationError", "{seen}");
    assert_eq!(seen["wrong_key"]["status"], 401);
    assert_eq!(seen["bad_body"]["class"], "BadRequestError", "{seen}");
    assert_eq!(seen["bad_body"]["status"], 400);
    assert_eq!(seen["bad_body"]["body"]["message"], "messages: Invalid input: expected array, received string", "{seen}");
    assert_eq!(seen["models"], json!(["openclaw", "openclaw/default", "openclaw/main"]));
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

/// A PNG's first bytes (enough for the type to be sniffed), base64.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUg==";

#[tokio::test]
async fn images_of_the_turn_reach_the_model() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    let gw = gateway(enabled(&fake)).await;
    let addr = gw.local_addr();
    let url = format!("data:image/png;base64,{PNG}");
    let body = json!({"messages":[{"role":"user","content":[{"type":"text","text":"what is this?"},
        {"type":"image_url","image_url":{"url":url}}]}]});
    let (status, answer) = chat(addr, &body).await;
    assert_eq!(status, 200, "{answer}");
    let request = fake.requests().pop().unwrap();
    let last = request["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last, json!({"role":"user","content":[{"type":"text","text":"what is this?"},
        {"type":"image_url","image_url":{"url":url}}]}));
    // An image of a type not on the list, and a URL (images.allowUrl is off), are refused.
    for bad in ["data:text/plain;base64,aGVsbG8=", "https://example.com/x.png"] {
        let body = json!({"messages":[{"role":"user","content":[{"type":"image_url","image_url":bad}]}]});
        let (status, answer) = chat(addr, &body).await;
        assert_eq!(status, 400, "{bad}: {answer}");
        assert_eq!(answer, json!({"error":{"message":"Invalid image_url content in `messages`.","type":"invalid_request_error"}}));
    }
    assert_eq!(fake.requests().len(), 1, "no run for a refused image");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
