//! End to end through the binary: `openclaw gateway` start-up, token file, refusals, `--force`,
//! SIGTERM, and the client commands against it. Every child is killed on drop; nothing sleeps.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use common::{openclaw, run, Proc};
use serde_json::Value;

const TOKEN: &str = "test-token-0123";

/// Starts `openclaw gateway --port 0 <extra>` in `home` and waits for its listening line.
fn start(home: &Path, extra: &[&str]) -> (Proc, String, u16) {
    let mut cmd = openclaw(home);
    cmd.args(["gateway", "--allow-unconfigured", "--port", "0"]).args(extra);
    let mut proc = Proc::spawn(cmd);
    let (url, port) = proc.wait_listening();
    (proc, url, port)
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}"))
}

#[test]
fn generates_a_private_token_once_then_reuses_it_and_sigterm_exits_0() {
    let home = common::home();
    let path = common::token_path(home.path());

    let (mut first, url, _) = start(home.path(), &[]);
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
    first.wait_line(&format!("read it with: cat {}", path.display()));
    let token = std::fs::read_to_string(&path)
        .expect("token file")
        .trim()
        .to_owned();
    assert_eq!(token.len(), 43, "32 random bytes, base64url");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "token file mode");
    assert!(
        first.all_stdout().contains("generated a new token"),
        "{}",
        first.all_stdout()
    );

    // The generated token is what clients find by default.
    let mut call = openclaw(home.path());
    call.env("OPENCLAW_GATEWAY_URL", &url)
        .args(["gateway", "call", "health", "--json"]);
    let (status, stdout, stderr) = run(call);
    assert!(
        status.success(),
        "call with the token file failed: {stderr}"
    );
    assert_eq!(json(&stdout)["ok"], true);

    first.signal("TERM");
    assert_eq!(first.wait_exit().code(), Some(0), "SIGTERM exits 0");
    let stderr = first.stderr();
    assert!(
        !first.all_stdout().contains(&token) && !stderr.contains(&token),
        "token leaked"
    );

    let (mut second, _, _) = start(home.path(), &[]);
    second.wait_line("read it with: cat");
    assert!(
        second.all_stdout().contains("using the token saved in"),
        "{}",
        second.all_stdout()
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap().trim(),
        token,
        "token reused"
    );
    second.signal("INT");
    assert_eq!(second.wait_exit().code(), Some(0), "SIGINT exits 0");
}

#[test]
fn refuses_a_lan_bind_without_auth() {
    let home = common::home();
    let mut cmd = openclaw(home.path());
    cmd.args(["gateway", "--allow-unconfigured", "--port", "0", "--bind", "lan", "--auth", "none"]);
    let (status, stdout, stderr) = run(cmd);
    assert_eq!(status.code(), Some(1), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stderr.contains("Refusing to bind gateway to lan without auth."),
        "{stderr}"
    );
    assert!(!stdout.contains("listening"), "{stdout}");
}

#[test]
fn broken_config_names_file_line_and_field() {
    let home = common::home();
    let dir = home.path().join(".openclaw");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("openclaw.json");

    std::fs::write(&config, "{\n  gateway: { port: 1,, }\n}\n").unwrap();
    let mut cmd = openclaw(home.path());
    cmd.args(["gateway", "--allow-unconfigured", "--port", "0"]);
    let (status, _, stderr) = run(cmd);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("Config invalid\nFile: {}\nProblem:\n", config.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("- <root> (line 2, column 22): JSON5 parse failed: invalid character ','"),
        "{stderr}"
    );

    std::fs::write(&config, "{\n  gateway: {\n    bind: 'everywhere' } }\n").unwrap();
    let mut cmd = openclaw(home.path());
    cmd.args(["gateway", "--allow-unconfigured", "--port", "0"]);
    let (status, _, stderr) = run(cmd);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("- gateway.bind (line 3, column 5): expected one of"),
        "{stderr}"
    );
}

#[test]
fn config_file_sets_auth_and_port_env_is_used_by_clients() {
    let home = common::home();
    let config = home.path().join("custom.json5");
    std::fs::write(
        &config,
        "{ gateway: { auth: { mode: 'token', token: 'from-config' } } }",
    )
    .unwrap();
    let mut cmd = openclaw(home.path());
    cmd.env("OPENCLAW_CONFIG_PATH", &config)
        .args(["gateway", "--allow-unconfigured", "--port", "0"]);
    let mut gw = Proc::spawn(cmd);
    let (_, port) = gw.wait_listening();
    gw.wait_line("auth: token (from gateway.auth.token)");
    assert!(
        !common::token_path(home.path()).exists(),
        "no token file with a configured token"
    );

    let mut call = openclaw(home.path());
    call.env("OPENCLAW_CONFIG_PATH", &config)
        .env("OPENCLAW_GATEWAY_PORT", port.to_string())
        .args(["gateway", "call", "status", "--json"]);
    let (status, stdout, stderr) = run(call);
    assert!(status.success(), "{stderr}");
    assert!(json(&stdout).is_object());
}

#[test]
fn force_stops_the_process_holding_the_port() {
    let holder_home = common::home();
    let (mut holder, _, port) = start(holder_home.path(), &["--token", TOKEN]);

    // Without --force: a clear error, exit 1.
    let home = common::home();
    let mut busy = openclaw(home.path());
    busy.args(["gateway", "--allow-unconfigured", "--token", TOKEN, "--port", &port.to_string()]);
    let (status, _, stderr) = run(busy);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already listening"), "{stderr}");
    assert!(
        stderr.contains("--force"),
        "the error says how to fix it: {stderr}"
    );

    let mut cmd = openclaw(home.path());
    cmd.args([
        "gateway",
        "--allow-unconfigured",
        "--force",
        "--token",
        TOKEN,
        "--port",
        &port.to_string(),
    ]);
    let mut gw = Proc::spawn(cmd);
    let line = gw.wait_line("force: killed pid");
    assert!(line.contains(&format!("pid {} (", holder.pid())), "{line}");
    let (_, new_port) = gw.wait_listening();
    assert_eq!(new_port, port);
    let status = holder.wait_exit();
    assert!(
        status.success() || status.signal().is_some(),
        "holder stopped: {status:?}"
    );
}

#[test]
fn client_commands_happy_paths_and_errors() {
    let home = common::home();
    let (_gw, url, port) = start(home.path(), &["--token", TOKEN]);
    let client = |args: &[&str]| {
        let mut cmd = openclaw(home.path());
        cmd.args(args).args(["--url", &url]);
        run(cmd)
    };

    let (status, stdout, stderr) =
        client(&["gateway", "call", "health", "--token", TOKEN, "--json"]);
    assert!(status.success(), "{stderr}");
    let health = json(&stdout);
    assert_eq!(health["ok"], true);
    assert!(health["durationMs"].is_u64(), "{health}");

    let (status, stdout, stderr) = client(&[
        "gateway",
        "call",
        "system-event",
        "--params",
        r#"{"text":"hi"}"#,
        "--token",
        TOKEN,
        "--json",
    ]);
    assert!(status.success(), "{stderr}");
    assert_eq!(json(&stdout), serde_json::json!({"ok": true}));

    let (status, stdout, _) = client(&["gateway", "call", "system-presence", "--token", TOKEN]);
    assert!(status.success());
    let rows = json(&stdout);
    assert!(
        rows.as_array()
            .is_some_and(|r| r.iter().any(|e| e["text"] == "hi")),
        "{rows}"
    );

    let (status, stdout, stderr) = client(&["gateway", "health", "--token", TOKEN]);
    assert!(status.success(), "{stderr}");
    assert!(stdout.starts_with("Gateway Health\nOK ("), "{stdout}");

    let (status, stdout, stderr) = client(&["gateway", "status", "--token", TOKEN]);
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains(&format!("Probe target: {url}")), "{stdout}");
    assert!(stdout.contains("Connectivity probe: ok"), "{stdout}");
    assert!(
        stdout.contains("Capability: connected-no-operator-scope"),
        "{stdout}"
    );

    let (status, stdout, stderr) = client(&["gateway", "status", "--token", TOKEN, "--json"]);
    assert!(status.success(), "{stderr}");
    let probe = json(&stdout);
    assert_eq!(probe["rpc"]["ok"], true, "{probe}");
    assert!(probe["rpc"]["version"].is_string(), "{probe}");

    let (status, stdout, stderr) = client(&["health", "--token", TOKEN]);
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("Gateway: ok"), "{stdout}");

    // Wrong token: exit 1, the reference's error document.
    let (status, stdout, stderr) =
        client(&["gateway", "call", "health", "--token", "WRONG", "--json"]);
    assert_eq!(status.code(), Some(1));
    let err = json(&stdout);
    assert_eq!(err["ok"], false);
    assert_eq!(err["error"]["type"], "gateway_request_error");
    assert_eq!(err["error"]["code"], "INVALID_REQUEST");
    assert_eq!(
        err["error"]["details"]["code"], "AUTH_TOKEN_MISMATCH",
        "{err}"
    );
    assert!(
        stderr.contains("INVALID_REQUEST: unauthorized: gateway token mismatch"),
        "{stderr}"
    );

    // A failed probe is reported, not a failure of `gateway status`: exit 0 as the reference.
    let (status, stdout, stderr) = client(&["gateway", "status", "--token", "WRONG"]);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("Connectivity probe: failed"), "{stdout}");
    assert!(stderr.contains("token mismatch"), "{stderr}");

    // Same without --json: nothing on stdout, code and message on stderr.
    let (status, stdout, stderr) = client(&["gateway", "call", "health", "--token", "WRONG"]);
    assert_eq!(status.code(), Some(1));
    assert_eq!(stdout, "");
    assert!(
        stderr.starts_with("Gateway call failed: INVALID_REQUEST: "),
        "{stderr}"
    );

    let (status, stdout, _) = client(&[
        "gateway",
        "call",
        "no.such.method",
        "--token",
        TOKEN,
        "--json",
    ]);
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        json(&stdout)["error"]["message"],
        "unknown method: no.such.method"
    );

    let (status, stdout, _) = client(&[
        "gateway", "call", "health", "--params", "{nope", "--token", TOKEN, "--json",
    ]);
    // A bad --params is a bad command line: exit 2, as the README says (issue 17).
    assert_eq!(status.code(), Some(2));
    assert_eq!(json(&stdout)["error"]["type"], "cli_error");

    let (status, _, _) = client(&["gateway", "call"]);
    assert_eq!(status.code(), Some(2), "a missing METHOD is a usage error");

    // Nothing listens there any more once this port is closed; use a fresh unbound one.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut cmd = openclaw(home.path());
    cmd.args([
        "gateway",
        "call",
        "health",
        "--token",
        TOKEN,
        "--json",
        "--timeout",
        "5000",
    ])
    .args(["--url", &format!("ws://{closed}")]);
    let (status, stdout, _) = run(cmd);
    assert_eq!(status.code(), Some(1));
    assert_eq!(json(&stdout)["error"]["type"], "gateway_connect_error");
    let _ = port;
}
