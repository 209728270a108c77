//! Conformance with the reference client: the reference CLI (`openclaw-peer cli …`, npm
//! `openclaw@2026.9.6`) drives our gateway, and we assert on what it prints.
//!
//! The peer must be installed (`scripts/openclaw-peer install`, done by `.ci/run`). When
//! it is not, these tests FAIL with instructions; they never skip. Each peer run gets a fresh
//! HOME (the reference CLI keeps device identity there) and `OPENCLAW_PEER_HOME` pointing at the
//! installed cache, because with a fresh HOME the wrapper would otherwise reinstall from npm.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use openclaw_core::auth::{AuthMode, Secret};
use openclaw_io::client::{Client, ConnectOptions};
use openclaw_io::{Gateway, ServerConfig};
use openclaw_tests::peer::peer;
use serde_json::Value;

const TOKEN: &str = "T0ken-conformance";
/// Bound on one reference CLI run (Node start-up is 2-3 s; the loopback auth penalty adds more).
const PEER_DEADLINE: Duration = Duration::from_secs(120);

/// What one reference CLI run produced.
#[derive(Debug)]
struct PeerRun {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl PeerRun {
    /// stdout as JSON (the reference prints one pretty document with `--json`).
    fn json(&self) -> Value {
        let text = self.stdout.trim();
        let start = text.find(['{', '[']).unwrap_or(0);
        serde_json::from_str(&text[start..])
            .unwrap_or_else(|e| panic!("reference stdout is not JSON ({e}): {self:#?}"))
    }
}

/// Runs `openclaw-peer cli <args>` with a fresh HOME and the given extra environment.
async fn peer_cli(args: &[&str], env: &[(&str, &str)]) -> PeerRun {
    let home = tempfile::tempdir().unwrap();
    peer_cli_in(home.path(), args, env).await
}

/// Runs `openclaw-peer cli <args>` with HOME at `home` (prepared by the caller).
async fn peer_cli_in(home: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> PeerRun {
    let peer = peer();
    let mut cmd = tokio::process::Command::new(&peer.script);
    cmd.arg("cli")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("OPENCLAW_PEER_HOME", &peer.cache)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().expect("spawn the reference CLI");
    let out = tokio::time::timeout(PEER_DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("reference CLI {args:?} did not finish in {PEER_DEADLINE:?}"))
        .expect("reference CLI output");
    PeerRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Our gateway, in process, on a free loopback port, token auth with [`TOKEN`].
struct Running {
    gateway: Option<Gateway>,
    url: String,
    _state: tempfile::TempDir,
}

impl Running {
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    async fn start_with(tweak: impl FnOnce(&mut ServerConfig)) -> Self {
        let state = tempfile::tempdir().unwrap();
        let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut config = ServerConfig::new(bind, AuthMode::Token(Some(Secret::new(TOKEN))));
        config.state_dir = Some(state.path().display().to_string());
        tweak(&mut config);
        let gateway = Gateway::start(config).await.expect("start our gateway");
        let url = format!("ws://{}", gateway.local_addr());
        Self {
            gateway: Some(gateway),
            url,
            _state: state,
        }
    }

    /// Common flags of `gateway call|health|status`.
    fn target(&self) -> [&str; 4] {
        ["--url", &self.url, "--token", TOKEN]
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(gateway) = self.gateway.take() {
            gateway.shutdown("test over", None);
        }
    }
}

#[tokio::test]
async fn call_health_json() {
    let gw = Running::start().await;
    let run = peer_cli(
        &[
            &["gateway", "call", "health"][..],
            &gw.target(),
            &["--json"],
        ]
        .concat(),
        &[],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    let health = run.json();
    assert_eq!(health["ok"], true, "{health}");
    assert!(health["durationMs"].is_u64(), "{health}");
    assert_eq!(health["defaultAgentId"], "main", "{health}");
    assert!(health["sessions"]["path"].is_string(), "{health}");
}

#[tokio::test]
async fn call_status_json() {
    let gw = Running::start().await;
    let run = peer_cli(
        &[
            &["gateway", "call", "status"][..],
            &gw.target(),
            &["--json"],
        ]
        .concat(),
        &[],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    let status = run.json();
    assert!(status["runtimeVersion"].is_string(), "{status}");
    assert!(status["sessions"].is_object(), "{status}");
    assert!(status["queuedSystemEvents"].is_array(), "{status}");
}

#[tokio::test]
async fn call_system_presence_json() {
    let gw = Running::start().await;
    let run = peer_cli(
        &[
            &["gateway", "call", "system-presence"][..],
            &gw.target(),
            &["--json"],
        ]
        .concat(),
        &[],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    let rows = run.json();
    let rows = rows
        .as_array()
        .unwrap_or_else(|| panic!("presence is a list: {rows}"));
    let own = rows
        .iter()
        .find(|r| r["mode"] == "gateway")
        .expect("the gateway's own row");
    assert_eq!(own["reason"], "self", "{own}");
    assert!(
        own["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Gateway: ")),
        "{own}"
    );
}

#[tokio::test]
async fn system_event_reaches_a_listening_client() {
    let gw = Running::start().await;
    // cli/cli keeps the scopes it asks for (a device-less non-cli client would get none).
    let mut opts = ConnectOptions::cli(gw.url.clone());
    opts.token = Some(TOKEN.into());
    opts.scopes = vec!["operator.read".into()];
    let (mut listener, _hello) = Client::connect(opts).await.expect("listener connects");

    let run = peer_cli(
        &[
            &[
                "gateway",
                "call",
                "system-event",
                "--params",
                r#"{"text":"hi"}"#,
            ][..],
            &gw.target(),
            &["--json"],
        ]
        .concat(),
        &[],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert_eq!(run.json(), serde_json::json!({"ok": true}));

    let seen = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(event) = listener.next_event().await {
            if event.event != "presence" {
                continue;
            }
            let payload = event.payload.unwrap_or_default();
            let rows = payload["presence"].as_array().cloned().unwrap_or_default();
            if rows.iter().any(|r| r["text"] == "hi") {
                return Some((event.seq, event.state_version));
            }
        }
        None
    })
    .await
    .expect("a presence event within 30 s")
    .expect("presence event with the \"hi\" row before the socket closed");
    assert!(seen.0.is_some(), "presence events carry a seq");
    assert!(
        seen.1.is_some_and(|v| v.presence >= 2),
        "stateVersion.presence moved: {:?}",
        seen.1
    );
    listener.close().await;
}

#[tokio::test]
async fn wrong_token_is_reported_as_a_token_mismatch() {
    let gw = Running::start().await;
    let run = peer_cli(
        &[
            "gateway", "call", "health", "--url", &gw.url, "--token", "WRONG", "--json",
        ],
        &[],
    )
    .await;
    assert_ne!(run.code, Some(0), "{run:#?}");
    let doc = run.json();
    assert_eq!(doc["ok"], false, "{doc}");
    assert_eq!(doc["error"]["code"], "INVALID_REQUEST", "{doc}");
    assert_eq!(
        doc["error"]["details"]["code"], "AUTH_TOKEN_MISMATCH",
        "{doc}"
    );
    assert_eq!(
        doc["error"]["details"]["authReason"], "token_mismatch",
        "{doc}"
    );
    let message = doc["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("unauthorized: gateway token mismatch"),
        "{doc}"
    );
    assert!(run.stderr.contains("gateway token mismatch"), "{run:#?}");
}

#[tokio::test]
async fn gateway_health_human() {
    let gw = Running::start().await;
    let run = peer_cli(&[&["gateway", "health"][..], &gw.target()].concat(), &[]).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert!(run.stdout.contains("Gateway Health"), "{run:#?}");
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("OK (") && l.ends_with("ms)")),
        "{run:#?}"
    );
}

#[tokio::test]
async fn gateway_status_probe() {
    let gw = Running::start().await;
    let run = peer_cli(&[&["gateway", "status"][..], &gw.target()].concat(), &[]).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert!(run.stdout.contains("Connectivity probe: ok"), "{run:#?}");
    assert!(
        run.stdout.contains(&format!("Probe target: {}", gw.url)),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains("Capability: connected-no-operator-scope"),
        "{run:#?}"
    );

    let run = peer_cli(
        &[&["gateway", "status"][..], &gw.target(), &["--json"]].concat(),
        &[],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    let rpc = &run.json()["rpc"];
    assert_eq!(rpc["ok"], true, "{rpc}");
    assert_eq!(rpc["capability"], "connected_no_operator_scope", "{rpc}");
    assert_eq!(rpc["server"]["version"], env!("CARGO_PKG_VERSION"), "{rpc}");
}

#[tokio::test]
async fn top_level_health_from_the_environment() {
    let gw = Running::start().await;
    let env = [
        ("OPENCLAW_GATEWAY_URL", gw.url.as_str()),
        ("OPENCLAW_GATEWAY_TOKEN", TOKEN),
    ];
    let run = peer_cli(&["health"], &env).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert!(run.stdout.contains("Agents: main (default)"), "{run:#?}");
    assert!(run.stdout.contains("Session store (main): "), "{run:#?}");

    let run = peer_cli(&["health", "--json"], &env).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    let health = run.json();
    assert_eq!(health["ok"], true, "{health}");
    assert_eq!(health["agents"][0]["agentId"], "main", "{health}");
    assert!(health["sessions"]["count"].is_u64(), "{health}");
}

/// The reference `openclaw agent`, pointed at our gateway by the config file in its fresh HOME,
/// runs a turn against a local fake OpenAI-compatible model and prints the reply.
#[tokio::test]
async fn reference_agent_turn_prints_the_reply() {
    use openclaw_io::agent::{AgentConfig, Api, ModelChoice, ModelRef, ProviderConfig};
    use openclaw_tests::fake_model::{FakeApi, FakeModel};

    let fake = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    let mut agent = AgentConfig::default();
    agent.providers.insert(
        "fake".into(),
        ProviderConfig { base_url: fake.base_url(), api_key: None, api: Api::OpenAiCompletions },
    );
    agent.model = Some(ModelChoice {
        primary: ModelRef { provider: "fake".into(), model: "echo-1".into() },
        fallbacks: Vec::new(),
    });
    let gw = Running::start_with(move |c| c.settings.agent = agent).await;
    let port = gw.url.rsplit(':').next().unwrap().to_owned();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".openclaw")).unwrap();
    let config = serde_json::json!({
        "gateway": { "mode": "local", "port": port.parse::<u16>().unwrap(),
                     "auth": { "mode": "token", "token": TOKEN } },
    });
    std::fs::write(home.path().join(".openclaw/openclaw.json"), config.to_string()).unwrap();
    let run = peer_cli_in(
        home.path(),
        &["agent", "--message", "hi", "--session-key", "agent:main:t1", "--json"],
        &[],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    let out = run.json();
    let text = out["result"]["payloads"][0]["text"].as_str().or_else(|| out["payloads"][0]["text"].as_str());
    assert_eq!(text, Some("echo: hi"), "{out:#}");
    assert_eq!(fake.requests().len(), 1);
}
