//! `POST /tools/invoke` end to end with raw requests: every error row with the reference's
//! status and body, the session tools over sessions a real chat completion created, and the
//! workspace tools behind `gateway.tools.allow`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::net::SocketAddr;

use openclaw_io::agent::{AgentConfig, Api, ModelChoice, ModelRef, ProviderConfig};
use openclaw_io::settings::{HttpEndpoints, HttpToolPolicy};
use openclaw_tests::e2e::{gateway, http, within, TOKEN};
use openclaw_tests::fake_model::{FakeApi, FakeModel, Script};
use serde_json::{json, Value};

/// A request to `path`; `auth` is the bearer credential, if any.
async fn send(addr: SocketAddr, method: &str, path: &str, auth: Option<&str>, body: &str) -> (u16, String, String) {
    let auth = auth.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut raw_head = String::new();
    let (status, body, _stream) = http(addr, &head).await;
    // The head of the answer, for `Allow` (re-requested: `http` keeps only the body).
    if status == 405 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
        let mut out = Vec::new();
        within("405 head", s.read_to_end(&mut out)).await.unwrap();
        raw_head = String::from_utf8_lossy(&out).to_ascii_lowercase();
    }
    (status, body, raw_head)
}

async fn invoke(addr: SocketAddr, body: Value) -> (u16, Value) {
    let (status, text, _) = send(addr, "POST", "/tools/invoke", Some(TOKEN), &body.to_string()).await;
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}")))
}

fn agent_config(fake: &FakeModel) -> AgentConfig {
    let mut config = AgentConfig::default();
    let provider = ProviderConfig { base_url: fake.base_url(), api_key: Some("sk-test".into()), api: Api::OpenAiCompletions };
    config.providers.insert("fake".into(), provider);
    let primary = ModelRef { provider: "fake".into(), model: "echo-1".into() };
    config.model = Some(ModelChoice { primary, fallbacks: Vec::new() });
    config
}

#[tokio::test]
async fn every_error_row_answers_as_the_reference() {
    let gw = gateway(|_| {}).await;
    let addr = gw.local_addr();
    let unauthorized = r#"{"error":{"message":"Unauthorized","type":"unauthorized"}}"#;
    let (status, body, _) = send(addr, "POST", "/tools/invoke", None, r#"{"tool":"sessions_list"}"#).await;
    assert_eq!((status, body.as_str()), (401, unauthorized));
    let (status, body, _) = send(addr, "POST", "/tools/invoke", Some("wrong"), r#"{"tool":"sessions_list"}"#).await;
    assert_eq!((status, body.as_str()), (401, unauthorized));
    let (status, body, head) = send(addr, "GET", "/tools/invoke", Some(TOKEN), "").await;
    assert_eq!((status, body.as_str()), (405, "Method Not Allowed"));
    assert!(head.contains("\r\nallow: post\r\n"), "{head}");

    let requires_name = json!({"ok":false,"error":{"type":"invalid_request","message":"tools.invoke requires name"}});
    for body in ["{}", "", "[]", r#"{"tool":5}"#, r#"{"tool":"  "}"#, r#"{"args":{}}"#] {
        let (status, text, _) = send(addr, "POST", "/tools/invoke", Some(TOKEN), body).await;
        assert_eq!((status, serde_json::from_str::<Value>(&text).unwrap()), (400, requires_name.clone()), "{body:?}");
    }
    let (status, text, _) = send(addr, "POST", "/tools/invoke", Some(TOKEN), "notjson").await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((status, &v["error"]["type"]), (400, &json!("invalid_request_error")), "{v}");

    for (tool, shown) in [("nope", "nope"), ("exec", "exec"), ("gateway", "gateway"), ("nodes", "nodes"), ("cron", "automations"),
        ("read", "read"), ("write", "write"), ("EXEC", "exec")]
    {
        let (status, v) = invoke(addr, json!({"tool": tool})).await;
        let want = json!({"ok":false,"error":{"type":"not_found","message":format!("Tool not available: {shown}")}});
        assert_eq!((status, v), (404, want), "{tool}");
    }
    let (status, v) = invoke(addr, json!({"tool":"sessions_list","args":{"limit":"x"}})).await;
    assert_eq!((status, v), (400, json!({"ok":false,"error":{"type":"tool_error","message":"limit must be a positive integer"}})));
    let (status, v) = invoke(addr, json!({"tool":"sessions_history"})).await;
    assert_eq!((status, v), (400, json!({"ok":false,"error":{"type":"tool_error","message":"sessionKey required"}})));

    // Over 2 MiB, refused from Content-Length before the body is read.
    let head = format!(
        "POST /tools/invoke HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n",
        2 * 1024 * 1024 + 1
    );
    let (status, text, _) = http(addr, &head).await;
    assert_eq!((status, text.as_str()), (413, r#"{"error":{"message":"Payload too large","type":"invalid_request_error"}}"#));

    // No session yet: an empty list, the reference's envelope.
    let (status, v) = invoke(addr, json!({"name":"sessions_list"})).await;
    assert_eq!(status, 200, "{v}");
    let details = json!({"count":0,"sessions":[],"hasMore":false,"limitApplied":100});
    let text = serde_json::to_string_pretty(&details).unwrap();
    assert_eq!(v, json!({"ok":true,"result":{"content":[{"type":"text","text":text}],"details":details}}));
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn session_tools_see_the_sessions_of_real_runs() {
    let fake = FakeModel::start(FakeApi::OpenAi, vec![Script::Reply(vec!["Hel".into(), "lo".into()])]).await;
    let agent = agent_config(&fake);
    let gw = gateway(move |c| {
        c.settings.agent = agent;
        c.settings.gateway.http = HttpEndpoints { chat_completions: true, responses: false };
    })
    .await;
    let addr = gw.local_addr();
    let chat = json!({"model":"openclaw","user":"ann","messages":[{"role":"user","content":"hi there"}]});
    let (status, text, _) = send(addr, "POST", "/v1/chat/completions", Some(TOKEN), &chat.to_string()).await;
    assert_eq!(status, 200, "{text}");

    let (status, v) = invoke(addr, json!({"tool":"sessions_list"})).await;
    assert_eq!(status, 200, "{v}");
    let details = &v["result"]["details"];
    assert_eq!((details["count"].clone(), details["hasMore"].clone()), (json!(1), json!(false)), "{v}");
    let row = &details["sessions"][0];
    assert_eq!(row["key"], "agent:main:openai-user:ann", "{v}");
    assert_eq!((row["agentId"].as_str(), row["kind"].as_str()), (Some("main"), Some("direct")));
    assert!(row["sessionId"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    // The text content is the details, indented.
    let text = v["result"]["content"][0]["text"].as_str().unwrap();
    assert_eq!(&serde_json::from_str::<Value>(text).unwrap(), details);
    let (_, v) = invoke(addr, json!({"tool":"sessions_list","args":{"limit":1}})).await;
    assert_eq!(v["result"]["details"]["limitApplied"], 1);

    let (status, v) = invoke(addr, json!({"tool":"sessions_history","args":{"sessionKey":"agent:main:openai-user:ann"}})).await;
    assert_eq!(status, 200, "{v}");
    let details = &v["result"]["details"];
    assert_eq!(details["sessionKey"], "agent:main:openai-user:ann");
    let messages = details["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{v}");
    assert_eq!(messages[0]["role"], "user");
    assert!(messages[0].to_string().contains("hi there"), "{v}");
    assert!(messages[1].to_string().contains("Hello"), "{v}");

    let (status, v) = invoke(addr, json!({"tool":"sessions_history","args":{"sessionKey":"nope"}})).await;
    assert_eq!(status, 200, "{v}");
    let error = "Session not found: nope (use the full sessionKey from sessions_list)";
    assert_eq!(v["result"]["details"], json!({"status":"error","error":error}));

    let (status, v) = invoke(addr, json!({"tool":"agents_list"})).await;
    assert_eq!(status, 200, "{v}");
    let want = json!({"requester":"main","allowAny":false,"agents":[{"id":"main","configured":true,"model":"fake/echo-1"}]});
    assert_eq!(v["result"]["details"], want);
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn workspace_tools_need_gateway_tools_allow() {
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(workspace.path().join("notes.txt"), "the answer is 42").unwrap();
    let root = workspace.path().to_path_buf();
    let gw = gateway(move |c| {
        c.settings.agent.workspace = Some(root);
        c.settings.agent.tools.deny = vec!["ls".into()];
        c.settings.gateway.http_tools = HttpToolPolicy { allow: vec!["read".into(), "ls".into()], deny: vec!["edit".into()] };
    })
    .await;
    let addr = gw.local_addr();
    let (status, v) = invoke(addr, json!({"tool":"read","args":{"path":"notes.txt"}})).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["result"]["content"][0]["text"].as_str().unwrap().contains("the answer is 42"), "{v}");
    let (status, v) = invoke(addr, json!({"tool":"read","args":{"path":"../outside"}})).await;
    assert_eq!((status, &v["error"]["type"]), (400, &json!("tool_error")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("outside the workspace"), "{v}");
    // Still denied over HTTP (write: not allowed; edit: gateway.tools.deny), or by the agent's
    // tool policy (ls: tools.deny).
    for tool in ["write", "edit", "ls"] {
        let (status, v) = invoke(addr, json!({"tool": tool,"args":{"path":"x","content":"y"}})).await;
        assert_eq!(status, 404, "{tool}: {v}");
    }
    assert!(!workspace.path().join("x").exists());
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
