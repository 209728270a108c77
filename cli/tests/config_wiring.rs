//! Config keys that change the running gateway, checked end to end through `openclaw gateway`
//! (file → typed config → `ServerConfig` → hub): a key that loads but is not applied fails here.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use std::path::Path;
use std::time::Duration;

use common::{openclaw, Proc};
use openclaw_io::client::{Client, ClientError, ConnectOptions};

const DEADLINE: Duration = Duration::from_secs(30);
const TOKEN: &str = "tok-config-wiring";

/// Starts `openclaw gateway --port 0` on `config` (JSON5 text) and returns it with its port.
fn start(home: &Path, config: &str) -> (Proc, u16) {
    let dir = home.join(".openclaw");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("openclaw.json"), config).unwrap();
    let mut cmd = openclaw(home);
    cmd.args(["gateway", "--port", "0"]);
    let mut gw = Proc::spawn(cmd);
    let (_, port) = gw.wait_listening();
    (gw, port)
}

/// A connect with `token`: the `details.code` of the refusal, or `"ok"`.
async fn attempt(port: u16, token: &str) -> String {
    let mut opts = ConnectOptions::cli(format!("ws://127.0.0.1:{port}"));
    opts.token = Some(token.to_owned());
    opts.timeout = DEADLINE;
    match Client::connect(opts).await {
        Ok(_) => "ok".to_owned(),
        Err(ClientError::Rejected { error, .. }) => {
            let details = error.details.unwrap_or_default();
            details["code"].as_str().unwrap_or("<no code>").to_owned()
        }
        Err(other) => panic!("expected an answer to connect, got {other}"),
    }
}

/// `gateway.auth.rateLimit.maxAttempts: 2` with `exemptLoopback: false`: the third connect from
/// loopback, even with the right token, is locked out (the default would allow ten and never
/// lock loopback out).
#[test]
fn auth_rate_limit_from_the_config_file_reaches_the_hub() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let home = common::home();
    let (_gw, port) = start(
        home.path(),
        &format!(
            "{{ gateway: {{ mode: 'local', reload: {{ mode: 'off' }}, auth: {{ mode: 'token', token: '{TOKEN}',\n\
             rateLimit: {{ maxAttempts: 2, windowMs: 60000, lockoutMs: 300000, exemptLoopback: false }} }} }} }}\n"
        ),
    );
    rt.block_on(async {
        assert_eq!(attempt(port, "WRONG").await, "AUTH_TOKEN_MISMATCH");
        assert_eq!(attempt(port, "WRONG").await, "AUTH_TOKEN_MISMATCH");
        assert_eq!(attempt(port, "WRONG").await, "AUTH_RATE_LIMITED");
        assert_eq!(attempt(port, TOKEN).await, "AUTH_RATE_LIMITED");
    });
}

/// `agents.defaults.timeoutSeconds: 1`: an `agent` call without `timeout` against a provider
/// that never answers ends with AGENT_TIMEOUT after 1 s (the default would wait 600 s, far past
/// the client's bound).
#[test]
fn agents_defaults_timeout_seconds_bounds_agent_runs() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    // Connections complete in the kernel's backlog and are never answered.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let provider = silent.local_addr().unwrap();
    let home = common::home();
    let (_gw, port) = start(
        home.path(),
        &format!(
            "{{ gateway: {{ mode: 'local', reload: {{ mode: 'off' }}, auth: {{ mode: 'token', token: '{TOKEN}' }} }},\n\
             models: {{ providers: {{ p: {{ baseUrl: 'http://{provider}/v1', apiKey: 'k' }} }} }},\n\
             agents: {{ defaults: {{ model: 'p/m', timeoutSeconds: 1 }} }} }}\n"
        ),
    );
    rt.block_on(async {
        let mut opts = ConnectOptions::cli(format!("ws://127.0.0.1:{port}"));
        opts.token = Some(TOKEN.to_owned());
        opts.timeout = DEADLINE;
        let (mut c, _) = Client::connect(opts).await.unwrap();
        let params = serde_json::json!({ "message": "hi", "sessionKey": "agent:main:main", "idempotencyKey": "wiring-1" });
        match c.call_final("agent", params, Some(DEADLINE)).await {
            Err(ClientError::Rejected { error, .. }) => {
                assert_eq!(error.code.as_str(), "AGENT_TIMEOUT", "{}", error.message);
                assert!(error.message.contains("after 1s"), "{}", error.message);
            }
            other => panic!("expected AGENT_TIMEOUT, got {other:?}"),
        }
    });
    drop(silent);
}

/// Tailscale keys the gateway cannot honour yet are named once at start; the Control UI keys
/// are honoured and draw no warning.
#[test]
fn unsupported_keys_are_warned_about_at_start() {
    let home = common::home();
    let (mut gw, _) = start(
        home.path(),
        &format!(
            "{{ gateway: {{ mode: 'local', reload: {{ mode: 'off' }}, controlUi: {{ enabled: true, basePath: '/ui' }},\n\
             auth: {{ mode: 'token', token: '{TOKEN}', allowTailscale: true }} }} }}\n"
        ),
    );
    let needle = "gateway.auth.allowTailscale: Tailscale identity is not supported yet";
    // Logged before or after the listening line, depending on the log writer.
    if !gw.stdout.iter().any(|l| l.contains(needle)) {
        gw.wait_line(needle);
    }
    assert!(!gw.stdout.iter().any(|l| l.contains("controlUi")), "{:?}", gw.stdout);
}

/// `gateway.mode: "remote"`: client commands connect to `gateway.remote.url` with
/// `gateway.remote.token` (not `gateway.auth.token`, which here is wrong for that gateway).
#[test]
fn client_commands_use_gateway_remote_in_remote_mode() {
    let server_home = common::home();
    let (_gw, port) = start(
        server_home.path(),
        &format!("{{ gateway: {{ mode: 'local', reload: {{ mode: 'off' }}, auth: {{ mode: 'token', token: '{TOKEN}' }} }} }}\n"),
    );
    let client_home = common::home();
    let dir = client_home.path().join(".openclaw");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |mode: &str| {
        std::fs::write(
            dir.join("openclaw.json"),
            format!(
                "{{ gateway: {{ mode: '{mode}', port: 9, auth: {{ token: 'not-the-remote-token' }},\n\
                 remote: {{ url: 'ws://127.0.0.1:{port}', token: '{TOKEN}' }} }} }}\n"
            ),
        )
        .unwrap();
    };
    write("remote");
    let mut cmd = openclaw(client_home.path());
    cmd.args(["gateway", "call", "health", "--json"]);
    let (status, stdout, stderr) = common::run(cmd);
    assert!(status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["ok"], true, "{stdout}");
    // Local mode ignores gateway.remote.url: port 9 has no gateway.
    write("local");
    let mut cmd = openclaw(client_home.path());
    cmd.args(["gateway", "call", "health", "--json", "--timeout", "5000"]);
    let (status, stdout, stderr) = common::run(cmd);
    assert!(!status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.contains("Connection refused"), "{stderr}");
}
