//! `POST /v1/responses` end to end: the response resource, the named event stream in the
//! spec's order, every error row, `previous_response_id`, `input_file` parts (base64, and URLs
//! behind the SSRF guard), a client that hangs up mid-stream, and the official OpenAI Python
//! SDK's `client.responses.create` against it (a local fake model behind the gateway).
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
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;

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
        c.settings.gateway.http = HttpEndpoints { chat_completions: false, responses: true };
    }
}

/// A POST with a JSON (or any) body and extra header lines; `auth` is the bearer, if any.
async fn post(addr: SocketAddr, auth: Option<&str>, extra: &str, body: &str) -> (u16, String) {
    let auth = auth.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (status, body, _) = http(addr, &head).await;
    (status, body)
}

async fn create(addr: SocketAddr, body: &Value) -> (u16, Value) {
    let (status, text) = post(addr, Some(TOKEN), "", &body.to_string()).await;
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}")))
}

/// Sends a streaming request and reads until `until` appears: the status line, the events as
/// `(event name, data JSON or text)`, and the open socket.
async fn post_stream(addr: SocketAddr, body: &str, until: &str) -> (String, Vec<(String, String)>, TcpStream) {
    let head = format!(
        "POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
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
    let mut events = Vec::new();
    let mut name = String::new();
    for line in raw.lines() {
        if let Some(n) = line.strip_prefix("event: ") {
            name = n.to_owned();
        } else if let Some(data) = line.strip_prefix("data: ") {
            events.push((std::mem::take(&mut name), data.to_owned()));
        }
    }
    (status, events, stream)
}

#[tokio::test]
async fn disabled_by_default_is_a_bare_404() {
    let gw = gateway(|_| {}).await;
    let (status, text) = post(gw.local_addr(), Some(TOKEN), "", r#"{"model":"openclaw","input":"hi"}"#).await;
    assert_eq!((status, text.as_str()), (404, "Not Found"));
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn a_response_as_json_and_as_events_in_the_specs_order() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![Script::Reply(vec!["Hel".into(), "lo".into()])]).await;
    let gw = gateway(enabled(&fake)).await;
    let addr = gw.local_addr();
    let (status, body) = create(
        addr,
        &json!({"model":"openclaw/default","instructions":"be brief","input":[
            {"type":"message","role":"developer","content":"no lists"},
            {"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id"].as_str().unwrap().starts_with("resp_"), "{body}");
    assert_eq!((body["object"].as_str(), body["status"].as_str(), body["model"].as_str()), (Some("response"), Some("completed"), Some("openclaw/default")));
    assert!(body["created_at"].as_u64().unwrap() > 1_600_000_000, "{body}");
    let item = &body["output"][0];
    assert!(item["id"].as_str().unwrap().starts_with("msg_"), "{body}");
    assert_eq!(body["output"].as_array().unwrap().len(), 1);
    assert_eq!(
        (item["type"].as_str(), item["role"].as_str(), item["phase"].as_str(), item["status"].as_str()),
        (Some("message"), Some("assistant"), Some("final_answer"), Some("completed"))
    );
    assert_eq!(item["content"], json!([{"type":"output_text","text":"Hello"}]));
    assert_eq!(
        body["usage"],
        json!({"input_tokens":5,"input_tokens_details":{"cached_tokens":0,"cache_write_tokens":0},
               "output_tokens":3,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":8})
    );
    assert!(body.get("error").is_none(), "{body}");
    // Instructions and system/developer messages reach the model's system prompt.
    let request = fake.requests().pop().unwrap();
    let system = request["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("be brief\n\nno lists"), "{request}");
    assert_eq!(request["messages"].as_array().unwrap().last().unwrap()["content"], "hi");

    // Streaming: the echo model says the turn back.
    let body = json!({"model":"openclaw","stream":true,"input":"streamed"}).to_string();
    let (status, events, _) = post_stream(addr, &body, "data: [DONE]").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let deltas = names.iter().filter(|n| **n == "response.output_text.delta").count();
    assert!(deltas >= 1, "{names:?}");
    let mut expected = vec!["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"];
    expected.extend(std::iter::repeat_n("response.output_text.delta", deltas));
    expected.extend(["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed", ""]);
    assert_eq!(names, expected);
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let data: Vec<Value> = events[..events.len() - 1].iter().map(|(_, d)| serde_json::from_str(d).unwrap()).collect();
    for (event, (name, _)) in data.iter().zip(&events) {
        assert_eq!(event["type"].as_str(), Some(name.as_str()), "the type field names the event");
    }
    assert_eq!(data[0]["response"]["status"], "in_progress");
    assert_eq!(data[0]["response"]["output"], json!([]));
    assert_eq!(data[2]["item"]["content"], json!([]));
    assert_eq!(data[3]["part"], json!({"type":"output_text","text":""}));
    let text: String = data.iter().filter_map(|e| e["delta"].as_str()).collect();
    assert_eq!(text, "echo: streamed");
    let n = data.len();
    assert_eq!(data[n - 4]["text"], "echo: streamed");
    assert_eq!(data[n - 3]["part"]["text"], "echo: streamed");
    assert_eq!(data[n - 2]["item"]["status"], "completed");
    let done = &data[n - 1]["response"];
    assert_eq!((done["status"].as_str(), done["id"].as_str()), (Some("completed"), data[0]["response"]["id"].as_str()));
    assert_eq!(done["output"][0]["content"][0]["text"], "echo: streamed");
    assert_eq!(done["usage"]["total_tokens"], 8);
    let item_ids: Vec<&str> = data.iter().filter_map(|e| e["item_id"].as_str()).collect();
    assert!(item_ids.iter().all(|id| *id == done["output"][0]["id"].as_str().unwrap()), "{item_ids:?}");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn every_error_row_answers_json() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    let gw = gateway(enabled(&fake)).await;
    let addr = gw.local_addr();
    let ok = r#"{"model":"openclaw","input":"hi"}"#;
    for auth in [None, Some("wrong")] {
        let (status, text) = post(addr, auth, "", ok).await;
        assert_eq!(status, 401);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), json!({"error":{"message":"Unauthorized","type":"unauthorized"}}));
    }
    let rows: [(&str, &str); 10] = [
        ("{bad", "key must be a string at line 1 column 2"),
        (r#"{"model":"openclaw","input":"hi","foo":1}"#, ": Unrecognized key: \"foo\""),
        (r#"{"input":"hi"}"#, "model: Invalid input: expected string, received undefined"),
        (r#"{"model":"openclaw","input":5}"#, "input: Invalid input"),
        (r#"{"model":"openclaw","input":""}"#, "Missing user message in `input`."),
        (r#"{"model":"openclaw","input":[{"type":"message","role":"system","content":"x"}]}"#, "Missing user message in `input`."),
        (r#"{"model":"gpt-4","input":"x"}"#, "Invalid `model`. Use `openclaw` or `openclaw/<agentId>`."),
        (r#"{"model":"openclaw/nope","input":"x"}"#, "Unknown agent 'nope'."),
        (r#"{"model":"openclaw","input":"x","tool_choice":"required"}"#, "invalid tool configuration"),
        (
            r#"{"model":"openclaw","input":[{"type":"message","role":"user","content":[{"type":"input_image","source":{"type":"url","url":"http://127.0.0.1:9/x.png"}}]}]}"#,
            "invalid request",
        ),
    ];
    for (body, message) in rows {
        let (status, text) = post(addr, Some(TOKEN), "", body).await;
        assert_eq!(status, 400, "{body}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v, json!({"error":{"message":message,"type":"invalid_request_error"}}), "{body}");
    }
    let (status, text) = post(addr, Some(TOKEN), "x-openclaw-session-key: cron:nightly\r\n", ok).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("reserved internal session namespaces"), "{text}");
    let head = "GET /v1/responses HTTP/1.1\r\nHost: x\r\n\r\n";
    let (status, text, _) = http(addr, head).await;
    assert_eq!((status, text.as_str()), (405, "Method Not Allowed"));
    // A pinned tool_choice the model cannot meet (client tools are not offered to it): a
    // failed response resource, not the error envelope.
    let (status, body) = create(
        addr,
        &json!({"model":"openclaw","input":"x","tools":[{"type":"function","name":"lookup"}],
                "tool_choice":{"type":"function","name":"lookup"}}),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!((body["object"].as_str(), body["status"].as_str()), (Some("response"), Some("failed")));
    assert_eq!(
        body["error"],
        json!({"code":"api_error","message":"tool_choice required a lookup tool call, but the agent did not produce one"})
    );
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn previous_response_id_continues_the_session_for_the_same_caller() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    let gw = gateway(enabled(&fake)).await;
    let addr = gw.local_addr();
    let (status, first) = create(addr, &json!({"model":"openclaw","input":"remember 42"})).await;
    assert_eq!(status, 200, "{first}");
    let (status, _) = create(addr, &json!({"model":"openclaw","input":"what number","previous_response_id":first["id"]})).await;
    assert_eq!(status, 200);
    // The second turn ran in the first one's session: the model saw the earlier exchange.
    let seen = fake.requests().pop().unwrap().to_string();
    assert!(seen.contains("remember 42") && seen.contains("what number"), "{seen}");
    // An unknown id (or another caller's) falls back to a fresh session.
    let (status, _) = create(addr, &json!({"model":"openclaw","input":"fresh","previous_response_id":"resp_unknown"})).await;
    assert_eq!(status, 200);
    let seen = fake.requests().pop().unwrap().to_string();
    assert!(!seen.contains("remember 42") && seen.contains("fresh"), "{seen}");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

/// One local HTTP server answering every request with `body` as `text/plain`.
async fn text_server(body: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let head = format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(body.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn input_files_reach_the_system_prompt_and_urls_pass_the_ssrf_guard() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    let files = text_server("fetched over http").await;
    let file_part = |source: Value| json!({"model":"openclaw","input":[{"type":"message","role":"user","content":[
        {"type":"input_text","text":"summarise"},{"type":"input_file","source":source}]}]});
    // Loopback is refused by default…
    let gw = gateway(enabled(&fake)).await;
    let url = format!("http://{files}/notes.txt");
    let (status, body) = create(gw.local_addr(), &file_part(json!({"type":"url","url":url}))).await;
    assert_eq!((status, body["error"]["message"].as_str()), (400, Some("invalid request")), "{body}");
    // …while a base64 file is read and wrapped as external content.
    let data = "bm90ZXMgZnJvbSBiYXNlNjQ="; // "notes from base64"
    let source = json!({"type":"base64","media_type":"text/plain","data":data,"filename":"a.txt"});
    let (status, body) = create(gw.local_addr(), &file_part(source)).await;
    assert_eq!(status, 200, "{body}");
    let system = fake.requests().pop().unwrap()["messages"][0]["content"].as_str().unwrap().to_owned();
    assert!(system.contains("<file name=\"a.txt\">\n\n<<<EXTERNAL_UNTRUSTED_CONTENT id=\""), "{system}");
    assert!(system.contains("Source: External\n---\nnotes from base64\n<<<END_EXTERNAL_UNTRUSTED_CONTENT"), "{system}");
    let pdf = json!({"type":"base64","media_type":"application/x-sh","data":data});
    let (status, _) = create(gw.local_addr(), &file_part(pdf)).await;
    assert_eq!(status, 400, "a MIME type outside the allowlist");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();

    // With private targets allowed (a test-only switch), the same URL is fetched.
    let agent = agent_config(&fake);
    let gw = gateway(move |c| {
        c.settings.agent = agent;
        c.settings.gateway.http = HttpEndpoints { chat_completions: false, responses: true };
        c.settings.gateway.responses_inputs.allow_private_network = true;
    })
    .await;
    let (status, body) = create(gw.local_addr(), &file_part(json!({"type":"url","url":url}))).await;
    assert_eq!(status, 200, "{body}");
    let system = fake.requests().pop().unwrap()["messages"][0]["content"].as_str().unwrap().to_owned();
    assert!(system.contains("<file name=\"file\">") && system.contains("fetched over http"), "{system}");
    // maxUrlParts still counts URL sources.
    let many: Vec<Value> = (0..9).map(|_| json!({"type":"input_file","source":{"type":"url","url":url}})).collect();
    let (status, _) = create(gw.local_addr(), &json!({"model":"openclaw","input":[{"type":"message","role":"user","content":many}]})).await;
    assert_eq!(status, 400);
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_stream_aborts_the_run() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![Script::Stall]).await;
    let gw = gateway(enabled(&fake)).await;
    let body = json!({"model":"openclaw","stream":true,"input":"long"}).to_string();
    let (status, events, stream) = post_stream(gw.local_addr(), &body, "response.output_text.delta").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(events[0].0, "response.created");
    drop(stream);
    within("provider hang-up", async {
        while fake.hangups() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_openai_sdk_creates_responses() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    let gw = gateway(enabled(&fake)).await;
    let script = format!("{}/openai_sdk/responses.py", env!("CARGO_MANIFEST_DIR"));
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
        .expect("spawn python3 (with `openai` installed, as .ci/run does)");
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the SDK script finished in time")
        .expect("SDK script output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "responses.py failed:\n{stderr}");
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let plain = &seen["plain"];
    assert_eq!((plain["object"].as_str(), plain["status"].as_str()), (Some("response"), Some("completed")), "{seen}");
    assert_eq!(plain["output_text"], "echo: plain");
    assert_eq!(plain["model"], "openclaw");
    assert_eq!(plain["usage"]["total_tokens"], 8, "{seen}");
    let stream = &seen["stream"];
    let types: Vec<&str> = stream["types"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    let mut collapsed: Vec<&str> = Vec::new();
    for t in &types {
        if collapsed.last() != Some(t) {
            collapsed.push(t);
        }
    }
    assert_eq!(
        collapsed,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ],
        "{seen}"
    );
    assert_eq!(stream["text"], "echo: streamed");
    assert_eq!(stream["final_text"], "echo: streamed");
    assert_eq!(seen["wrong_key"]["class"], "AuthenticationError", "{seen}");
    assert_eq!(seen["wrong_key"]["status"], 401);
    assert_eq!(seen["bad_body"]["class"], "BadRequestError", "{seen}");
    assert_eq!(seen["bad_body"]["status"], 400);
    assert_eq!(seen["bad_body"]["body"]["message"], ": Unrecognized key: \"surprise\"", "{seen}");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn input_images_reach_the_model() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    let gw = gateway(enabled(&fake)).await;
    let png = "iVBORw0KGgoAAAANSUhEUg==";
    let body = json!({"model":"openclaw","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"look"},
        {"type":"input_image","source":{"type":"base64","media_type":"image/png","data":png}}]}]});
    let (status, answer) = create(gw.local_addr(), &body).await;
    assert_eq!(status, 200, "{answer}");
    let request = fake.requests().pop().unwrap();
    let last = request["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["content"][1], json!({"type":"image_url","image_url":{"url":format!("data:image/png;base64,{png}")}}), "{last}");
    assert_eq!(last["content"][0]["type"], "text");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
