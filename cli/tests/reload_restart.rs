//! Hot reload and in-process restart through the binary (lifecycle.md §5, §6.3): a hot change
//! (made in an `$include`d file) applied with clients connected, an invalid edit kept out and reported by `health`, a
//! restart-class change and SIGUSR1 restarting on the same port with a new `bootId` and the
//! state directory intact, and `commands.restart=false` refusing SIGUSR1. Nothing sleeps:
//! every wait is for a log line or a frame, with a deadline.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use std::path::Path;
use std::time::Duration;

use common::{openclaw, Proc};
use openclaw_io::client::{Client, ClientError, ConnectOptions};
use openclaw_tests::fake_model::{FakeApi, FakeModel};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(30);

/// Writes the config the way editors save: a temp file renamed over the old one.
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn config(token: &str, model: Option<&str>, extra: &str) -> String {
    let agent = match model {
        Some(base) => format!(
            "models: {{ providers: {{ fake: {{ baseUrl: '{base}', api: 'openai-completions' }} }} }},
             agents: {{ defaults: {{ model: 'fake/echo-1' }} }},"
        ),
        None => String::new(),
    };
    format!(
        "// written by the reload test
         {{ gateway: {{ mode: 'local', auth: {{ mode: 'token', token: '{token}' }}, reload: {{ debounceMs: 20 }} }},
           {agent} {extra} }}"
    )
}

async fn connect(port: u16, token: &str) -> Result<(Client, Value), ClientError> {
    let mut opts = ConnectOptions::cli(format!("ws://127.0.0.1:{port}"));
    opts.token = Some(token.to_owned());
    opts.timeout = DEADLINE;
    Client::connect(opts).await
}

async fn agent(client: &mut Client, message: &str, key: &str) -> Result<Value, ClientError> {
    let params = json!({"message": message, "sessionKey": "agent:main:main", "idempotencyKey": key});
    client.call_final("agent", params, Some(DEADLINE)).await
}

/// Waits for the `shutdown` event, then for the socket to close.
async fn expect_restart_notice(client: &mut Client) -> Value {
    let shutdown = tokio::time::timeout(DEADLINE, async {
        loop {
            match client.next_event().await {
                Some(e) if e.event == "shutdown" => return e.payload.unwrap_or_default(),
                Some(_) => {}
                None => panic!("closed before the shutdown event"),
            }
        }
    })
    .await
    .expect("shutdown event in time");
    let closed = tokio::time::timeout(DEADLINE, async { while client.next_event().await.is_some() {} }).await;
    assert!(closed.is_ok(), "the socket closes after the shutdown event");
    shutdown
}

/// The gateway broadcasts `health` when the reload state changes.
async fn next_health_event(client: &mut Client) {
    let seen = tokio::time::timeout(DEADLINE, async {
        while let Some(e) = client.next_event().await {
            if e.event == "health" {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(seen.ok(), Some(true), "a health event after the reload");
}

fn boot_id(hello: &Value) -> String {
    hello["server"]["bootId"].as_str().unwrap().to_owned()
}

#[test]
fn hot_reload_restart_and_sigusr1() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let fake = rt.block_on(FakeModel::start(FakeApi::OpenAi, vec![]));
    let home = common::home();
    let state = home.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let path = state.join("openclaw.json");
    // The first config takes its model settings from an included file (empty for now).
    let extra = state.join("extra.json5");
    save(&extra, "{}");
    save(&path, &config("tok-1", None, "$include: './extra.json5',"));
    let mut cmd = openclaw(home.path());
    cmd.env("OPENCLAW_STATE_DIR", &state).args(["gateway", "--port", "0", "--allow-unconfigured"]);
    let mut gw = Proc::spawn(cmd);
    let (_, port) = gw.wait_listening();

    rt.block_on(async {
        let (mut c1, hello1) = connect(port, "tok-1").await.unwrap();
        let err = agent(&mut c1, "hi", "k0").await.unwrap_err();
        assert!(err.to_string().contains("no model configured"), "{err}");
        // Hot: models/agents are applied live, on the same connection; the edit is in an
        // included file, which is watched too.
        let agent_settings = format!(
            "{{ models: {{ providers: {{ fake: {{ baseUrl: '{}', api: 'openai-completions' }} }} }},
               agents: {{ defaults: {{ model: 'fake/echo-1' }} }} }}",
            fake.base_url()
        );
        save(&extra, &agent_settings);
        gw.wait_line("config hot reload applied (agents.defaults.model, models)");
        let fin = agent(&mut c1, "hi", "k1").await.unwrap();
        assert_eq!(fin["result"]["payloads"][0]["text"], "echo: hi", "{fin}");

        // Invalid: not applied, reported by health with the file and the key.
        let bad = config("tok-1", Some(&fake.base_url()), "").replace("mode: 'local',", "mode: 'local', bind: 'nope',");
        save(&path, &bad);
        gw.wait_line("config reload skipped (invalid config)");
        next_health_event(&mut c1).await;
        let health = c1.call("health", json!({})).await.unwrap();
        let message = health["configReload"]["lastError"]["message"].as_str().unwrap_or_default().to_owned();
        assert!(message.contains("openclaw.json") && message.contains("gateway.bind"), "{health}");
        assert_eq!(health["configReload"]["hotReloadStatus"], "active");
        let fin = agent(&mut c1, "still", "k2").await.unwrap();
        assert_eq!(fin["result"]["payloads"][0]["text"], "echo: still", "the last good config keeps running");

        // Restart class (gateway.auth.token): clients are told, closed, and come back on the
        // same port to a new boot; the new token is in force and the sessions survived.
        save(&path, &config("tok-2", Some(&fake.base_url()), ""));
        let notice = expect_restart_notice(&mut c1).await;
        assert_eq!(notice["restartExpectedMs"], 1500, "{notice}");
        let listening = gw.wait_line("listening on ws://");
        assert!(listening.ends_with(&format!(":{port}")), "same port: {listening}");
        assert!(connect(port, "tok-1").await.is_err(), "the old token is gone");
        let (mut c2, hello2) = connect(port, "tok-2").await.unwrap();
        assert_ne!(boot_id(&hello1), boot_id(&hello2));
        let health = c2.call("health", json!({})).await.unwrap();
        assert!(health["configReload"].get("lastError").is_none(), "{health}");
        let sessions = c2.call("sessions.list", json!({})).await.unwrap();
        assert_eq!(sessions["sessions"][0]["key"], "agent:main:main", "{sessions}");
        let fin = agent(&mut c2, "hi", "k1").await.unwrap();
        assert_eq!(fin["result"]["payloads"][0]["text"], "echo: hi", "idempotency results survive");
        assert_eq!(fake.requests().len(), 2, "the duplicate was answered from the store");

        // SIGUSR1 (commands.restart defaults to true).
        gw.signal("USR1");
        expect_restart_notice(&mut c2).await;
        gw.wait_line("listening on ws://");
        let (mut c3, hello3) = connect(port, "tok-2").await.unwrap();
        assert_ne!(boot_id(&hello2), boot_id(&hello3));

        // config.apply with restartDelayMs 0: the caller still gets its answer before the
        // restart closes the socket.
        let current = c3.call("config.get", json!({})).await.unwrap();
        let hash = current["hash"].as_str().unwrap().to_owned();
        let raw = config("tok-2", Some(&fake.base_url()), "");
        let applied = c3
            .call("config.apply", json!({"raw": raw, "baseHash": hash, "restartDelayMs": 0}))
            .await
            .unwrap();
        assert_eq!(applied["ok"], true, "{applied}");
        expect_restart_notice(&mut c3).await;
        gw.wait_line("listening on ws://");
        let (mut c3, hello3b) = connect(port, "tok-2").await.unwrap();
        assert_ne!(boot_id(&hello3), boot_id(&hello3b));

        // commands.restart=false: a restart-class change restarts once, then SIGUSR1 is refused.
        save(&path, &config("tok-2", Some(&fake.base_url()), "commands: { restart: false },"));
        expect_restart_notice(&mut c3).await;
        gw.wait_line("listening on ws://");
        let (mut c4, _) = connect(port, "tok-2").await.unwrap();
        gw.signal("USR1");
        gw.wait_line("SIGUSR1 restart ignored");
        let health = c4.call("health", json!({})).await.unwrap();
        assert_eq!(health["ok"], true, "still the same connection");

        // reload.mode=off: visible in health, and edits are no longer followed.
        let off = |token: &str| {
            config(token, Some(&fake.base_url()), "commands: { restart: false },")
                .replace("debounceMs: 20", "debounceMs: 20, mode: 'off'")
        };
        save(&path, &off("tok-2"));
        gw.wait_line("config reload disabled (gateway.reload.mode=off)");
        next_health_event(&mut c4).await;
        let health = c4.call("health", json!({})).await.unwrap();
        assert_eq!(health["configReload"]["hotReloadStatus"], "disabled", "{health}");
        save(&path, &off("tok-3"));
        gw.wait_line("config reload disabled (gateway.reload.mode=off)");
        assert!(connect(port, "tok-2").await.is_ok(), "the running config is unchanged");
    });
    gw.signal("TERM");
    assert!(gw.wait_exit().success());
}

/// `agents.defaults.timeoutSeconds` is hot: a run started after the edit uses the new default.
#[test]
fn run_timeout_default_is_applied_live() {
    use openclaw_tests::fake_model::Script;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let fake = rt.block_on(FakeModel::start(FakeApi::OpenAi, vec![Script::Stall]));
    let home = common::home();
    let state = home.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let path = state.join("openclaw.json");
    save(&path, &config("tok-1", Some(&fake.base_url()), ""));
    let mut cmd = openclaw(home.path());
    cmd.env("OPENCLAW_STATE_DIR", &state).args(["gateway", "--port", "0"]);
    let mut gw = Proc::spawn(cmd);
    let (_, port) = gw.wait_listening();
    rt.block_on(async {
        let (mut c, _) = connect(port, "tok-1").await.unwrap();
        let timed = config("tok-1", Some(&fake.base_url()), "")
            .replace("agents: { defaults: { model: 'fake/echo-1' } }", "agents: { defaults: { model: 'fake/echo-1', timeoutSeconds: 1 } }");
        assert_ne!(timed, config("tok-1", Some(&fake.base_url()), ""), "the edit must change the file");
        save(&path, &timed);
        gw.wait_line("config hot reload applied (agents.defaults.timeoutSeconds)");
        // The fake stalls: without the new default this would wait for 600 s (and the call's
        // own bound of 30 s would fail the test first).
        let err = agent(&mut c, "hi", "k1").await.unwrap_err();
        let code = if let ClientError::Rejected { error, .. } = &err { Some(error.code) } else { None };
        assert_eq!(code, Some(openclaw_core::wire::frames::ErrorCode::AgentTimeout), "{err}");
    });
    gw.signal("TERM");
    assert!(gw.wait_exit().success());
}

/// A first start on a fresh machine: the state folder (where the config goes) does not exist
/// until the gateway creates it, and a config written afterwards is still followed.
#[test]
fn a_config_created_after_the_first_start_is_followed() {
    let home = common::home();
    let state = home.path().join("fresh-state");
    let mut cmd = openclaw(home.path());
    cmd.env("OPENCLAW_STATE_DIR", &state).args(["gateway", "--port", "0", "--allow-unconfigured"]);
    let mut gw = Proc::spawn(cmd);
    gw.wait_listening();
    assert!(state.is_dir(), "starting created the state folder");
    save(&state.join("openclaw.json"), "{ logging: { level: 'debug' } }");
    gw.wait_line("config hot reload applied (logging)");
    assert!(!gw.all_stdout().contains("config watcher error"), "{}", gw.all_stdout());
    gw.signal("TERM");
    assert!(gw.wait_exit().success());
}

/// A `gateway` block with `auth_extra` inside `auth` and `extra` beside it.
fn gateway_config(auth_extra: &str, extra: &str) -> String {
    format!(
        "{{ gateway: {{ mode: 'local', auth: {{ mode: 'token', token: 'tok-1' {auth_extra} }},
                        reload: {{ debounceMs: 20 }}, {extra} }} }}"
    )
}

/// One HTTP request with `bearer`: status and body.
async fn post(port: u16, path: &str, bearer: &str, body: &str) -> (u16, String) {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {bearer}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, body, _) = openclaw_tests::e2e::http(([127, 0, 0, 1], port).into(), &head).await;
    (status, body)
}

/// A signed node-host `connect` from loopback (TestDevice `seed`): the answer.
async fn connect_device(port: u16, seed: u8) -> Value {
    let d = openclaw_core::testing::device::TestDevice::new(seed);
    let mut ws = openclaw_tests::e2e::RawWs::connect(([127, 0, 0, 1], port).into()).await;
    let challenge = ws.challenge().await;
    let nonce = challenge["payload"]["nonce"].as_str().unwrap();
    let signed_at = challenge["payload"]["ts"].as_u64().unwrap();
    let mut req = json!({"type": "req", "id": "c1", "method": "connect"});
    req["params"] = d.node_params(nonce, signed_at, json!({"token": "tok-1"}));
    ws.send_json(&req).await;
    ws.res("c1").await
}

/// The reference's live `gateway.*` paths (its reload rules): `gateway.http.endpoints`,
/// `gateway.tools`, a whole `gateway.nodes` object added, and `gateway.auth.rateLimit` apply
/// without a restart (the first connection stays up, the gateway listens once) and take effect
/// at once.
#[test]
fn gateway_endpoints_tools_nodes_and_rate_limit_apply_live() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let home = common::home();
    let state = home.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let path = state.join("openclaw.json");
    save(&path, &gateway_config("", ""));
    let mut cmd = openclaw(home.path());
    cmd.env("OPENCLAW_STATE_DIR", &state).args(["gateway", "--port", "0", "--allow-unconfigured"]);
    let mut gw = Proc::spawn(cmd);
    let (_, port) = gw.wait_listening();

    rt.block_on(async {
        let (mut c1, _) = connect(port, "tok-1").await.unwrap();
        let (status, _) = post(port, "/v1/chat/completions", "tok-1", "{}").await;
        assert_eq!(status, 404, "chat completions are off by default");
        let (status, body) = post(port, "/tools/invoke", "tok-1", r#"{"tool":"sessions_list"}"#).await;
        assert_eq!(status, 200, "{body}");
        let device = connect_device(port, 31).await;
        assert_eq!(device["ok"], true, "loopback devices are approved silently by default: {device}");

        // The endpoint on, a tool denied, and a whole `gateway.nodes` object where there was none.
        let live = "http: { endpoints: { chatCompletions: { enabled: true } } },
                    tools: { deny: ['sessions_list'] },
                    nodes: { pairing: { autoApproveLocal: false } },";
        save(&path, &gateway_config("", live));
        gw.wait_line("config hot reload applied (gateway.http.endpoints, gateway.nodes.pairing, gateway.tools)");
        let (status, body) = post(port, "/v1/chat/completions", "tok-1", "{}").await;
        assert_eq!(status, 400, "served now (and the empty body refused): {body}");
        let (status, body) = post(port, "/tools/invoke", "tok-1", r#"{"tool":"sessions_list"}"#).await;
        assert_eq!(status, 404, "gateway.tools.deny in force: {body}");
        assert!(body.contains("Tool not available: sessions_list"), "{body}");
        let device = connect_device(port, 32).await;
        assert_eq!(device["error"]["code"], "NOT_PAIRED", "autoApproveLocal: false in force: {device}");

        // The endpoint off again: a bare 404 as before.
        save(&path, &gateway_config("", "tools: { deny: ['sessions_list'] }, nodes: { pairing: { autoApproveLocal: false } },"));
        gw.wait_line("config hot reload applied (gateway.http.endpoints)");
        let (status, _) = post(port, "/v1/chat/completions", "tok-1", "{}").await;
        assert_eq!(status, 404);

        // `gateway.auth.rateLimit`: loopback no longer exempt, one failure locks out (even the
        // right secret then gets 429).
        let strict = ", rateLimit: { maxAttempts: 1, exemptLoopback: false }";
        save(&path, &gateway_config(strict, "tools: { deny: ['sessions_list'] }, nodes: { pairing: { autoApproveLocal: false } },"));
        gw.wait_line("config hot reload applied (gateway.auth.rateLimit)");
        let (status, _) = post(port, "/tools/invoke", "wrong", r#"{"tool":"agents_list"}"#).await;
        assert_eq!(status, 401);
        let (status, body) = post(port, "/tools/invoke", "tok-1", r#"{"tool":"agents_list"}"#).await;
        assert_eq!(status, 429, "locked out: {body}");

        // None of it restarted: the first connection still answers, on the first boot.
        let health = c1.call("health", json!({})).await.unwrap();
        assert_eq!(health["ok"], true, "{health}");
        assert_eq!(gw.all_stdout().matches("listening on ws://").count(), 1, "{}", gw.all_stdout());
    });
    gw.signal("TERM");
    assert!(gw.wait_exit().success());
}
