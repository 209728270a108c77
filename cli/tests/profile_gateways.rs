//! Profiles through the binary (lifecycle.md §4.3, §8): root flag errors, env precedence, two
//! gateways side by side with their own state, a busy port naming its holder, and the derived
//! ports in `gateway status` / `status`. Temp HOMEs, ephemeral ports, nothing sleeps.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{run, Proc};
use serde_json::Value;

/// `openclaw` in `home` with OPENCLAW_HOME pointing there too.
fn openclaw(home: &Path) -> Command {
    let mut cmd = common::openclaw(home);
    cmd.env("OPENCLAW_HOME", home);
    cmd
}

/// A port nobody listens on right now (bound on 127.0.0.1:0, then released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `openclaw --profile <name> gateway --port 0 --allow-unconfigured`, listening.
fn start(home: &Path, profile: &str) -> (Proc, u16) {
    let mut cmd = openclaw(home);
    cmd.args([
        "--profile",
        profile,
        "gateway",
        "--port",
        "0",
        "--allow-unconfigured",
    ]);
    let mut proc = Proc::spawn(cmd);
    let (_, port) = proc.wait_listening();
    (proc, port)
}

/// Runs a client command of `profile` against `port`; returns (exit code, stdout JSON, stderr).
fn client(home: &Path, profile: &str, port: u16, args: &[&str]) -> (Option<i32>, Value, String) {
    let mut cmd = openclaw(home);
    cmd.env("OPENCLAW_GATEWAY_PORT", port.to_string())
        .args(["--profile", profile])
        .args(args);
    let (status, stdout, stderr) = run(cmd);
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (status.code(), json, stderr)
}

#[test]
fn root_flag_errors_exit_1_with_the_spec_messages() {
    let home = common::home();
    let cases: [(&[&str], &str); 4] = [
        (
            &["--dev", "--profile", "x", "status"],
            "Cannot combine --dev with --profile\n",
        ),
        (&["--profile"], "--profile requires a value\n"),
        (&["--profile=", "status"], "--profile requires a value\n"),
        (
            &["--profile", "a/b", "status"],
            "Invalid --profile (use letters, numbers, \"_\", \"-\" only)\n",
        ),
    ];
    for (args, message) in cases {
        let mut cmd = openclaw(home.path());
        cmd.args(args);
        let (status, stdout, stderr) = run(cmd);
        assert_eq!(status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr, message, "{args:?}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
    }
}

#[test]
fn profile_fills_env_defaults_and_explicit_env_wins() {
    let home = common::home();
    let port = free_port();
    let (code, status, stderr) = client(home.path(), "ops", port, &["status", "--json"]);
    assert_eq!(
        code,
        Some(0),
        "an unreachable gateway is reported, not a failure: {stderr}"
    );
    let state = home.path().join(".openclaw-ops");
    assert_eq!(status["profile"], "ops");
    assert_eq!(status["stateDir"], state.display().to_string().as_str());
    assert_eq!(
        status["config"]["path"],
        state.join("openclaw.json").display().to_string().as_str()
    );
    assert_eq!(status["gateway"]["reachable"], false);
    assert_eq!(
        status["ports"]["gateway"], port,
        "OPENCLAW_GATEWAY_PORT wins"
    );

    let elsewhere = home.path().join("elsewhere");
    let mut cmd = openclaw(home.path());
    cmd.env("OPENCLAW_STATE_DIR", &elsewhere)
        .env("OPENCLAW_GATEWAY_PORT", port.to_string())
        .args(["--dev", "status", "--json"]);
    let (_, stdout, stderr) = run(cmd);
    let status: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(status["profile"], "dev");
    assert_eq!(status["stateDir"], elsewhere.display().to_string().as_str());
    assert_eq!(
        status["config"]["path"],
        elsewhere
            .join("openclaw.json")
            .display()
            .to_string()
            .as_str(),
        "the config follows an explicit state dir"
    );
    assert_eq!(
        status["ports"]["gateway"], port,
        "explicit port beats the dev default"
    );
}

#[test]
fn two_profiles_run_side_by_side_with_their_own_state() {
    let home = common::home();
    let (a, port_a) = start(home.path(), "alpha");
    let (b, port_b) = start(home.path(), "beta");
    assert_ne!(port_a, port_b);

    let state_a = home.path().join(".openclaw-alpha");
    let state_b = home.path().join(".openclaw-beta");
    let token_a = fs::read_to_string(state_a.join("gateway.token")).unwrap();
    let token_b = fs::read_to_string(state_b.join("gateway.token")).unwrap();
    assert_ne!(token_a, token_b, "each profile generated its own token");
    assert!(
        !home.path().join(".openclaw").exists(),
        "the default state dir is untouched"
    );

    for (profile, port, state, pid) in [
        ("alpha", port_a, &state_a, a.pid()),
        ("beta", port_b, &state_b, b.pid()),
    ] {
        let (code, health, stderr) = client(home.path(), profile, port, &["health", "--json"]);
        assert_eq!(code, Some(0), "{profile} health: {stderr}");
        assert_eq!(health["ok"], true);
        let store = health["sessions"]["path"].as_str().unwrap();
        assert!(
            store.starts_with(&state.display().to_string()),
            "{profile}: {store}"
        );
        assert!(
            state.join("agents/main/sessions.sqlite").exists(),
            "{profile} store"
        );

        let (code, status, stderr) = client(home.path(), profile, port, &["status", "--json"]);
        assert_eq!(code, Some(0), "{profile} status: {stderr}");
        assert_eq!(status["gateway"]["reachable"], true, "{status}");
        assert_eq!(
            status["gateway"]["stateDir"],
            state.display().to_string().as_str()
        );
        assert_eq!(status["gateway"]["pid"], pid);
    }

    // Each profile's token only opens its own gateway.
    let (code, _, stderr) = client(home.path(), "alpha", port_b, &["health", "--json"]);
    assert_eq!(code, Some(1), "alpha's token must not open beta: {stderr}");
}

#[test]
fn a_busy_port_fails_fast_and_names_its_holder() {
    let home = common::home();
    let (holder, port) = start(home.path(), "first");

    let mut cmd = openclaw(home.path());
    cmd.args([
        "--profile",
        "second",
        "gateway",
        "--allow-unconfigured",
        "--port",
        &port.to_string(),
    ]);
    let (status, stdout, stderr) = run(cmd);
    assert_eq!(status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "Gateway failed to start: another gateway instance is already listening on ws://127.0.0.1:{port}"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("If the gateway is supervised, stop it with: openclaw gateway stop"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("Port {port} is already in use.")),
        "{stderr}"
    );
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&format!("- pid {}: ", holder.pid())))
        .unwrap_or_else(|| panic!("holder pid {} not named: {stderr}", holder.pid()));
    assert!(
        line.contains("openclaw") && line.contains("--profile first"),
        "{line}"
    );
    assert!(
        stderr.contains("Gateway already running locally."),
        "{stderr}"
    );
    assert!(!stdout.contains("listening on"), "{stdout}");
}

#[test]
fn gateway_status_shows_bind_port_and_derived_ports() {
    let home = common::home();
    let (gw, port) = start(home.path(), "ports");
    assert!(port < 65_000, "ephemeral ports leave room for +108: {port}");

    let (code, status, stderr) =
        client(home.path(), "ports", port, &["gateway", "status", "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let gateway = &status["gateway"];
    assert_eq!(gateway["bindMode"], "loopback");
    assert_eq!(gateway["bindHost"], "127.0.0.1");
    assert_eq!(gateway["port"], port);
    assert_eq!(
        gateway["probeUrl"],
        format!("ws://127.0.0.1:{port}").as_str()
    );
    assert_eq!(gateway["derivedPorts"]["browserControl"], port + 2);
    assert_eq!(gateway["derivedPorts"]["canvasHost"], port + 4);
    assert_eq!(
        gateway["derivedPorts"]["browserCdpRange"]["start"],
        port + 11
    );
    assert_eq!(
        gateway["derivedPorts"]["browserCdpRange"]["end"],
        port + 110
    );
    assert_eq!(status["port"]["status"], "busy");
    assert_eq!(status["port"]["listeners"][0]["pid"], gw.pid());
    assert_eq!(status["port"]["listeners"][0]["command"], "openclaw");
    assert_eq!(status["rpc"]["ok"], true);

    let mut cmd = openclaw(home.path());
    cmd.env("OPENCLAW_GATEWAY_PORT", port.to_string()).args([
        "--profile",
        "ports",
        "gateway",
        "status",
    ]);
    let (status, stdout, stderr) = run(cmd);
    assert!(status.success(), "{stderr}");
    assert!(
        stdout.contains(&format!(
            "Derived ports: browser control {}, canvas {}, browser CDP {}-{}",
            port + 2,
            port + 4,
            port + 11,
            port + 110
        )),
        "{stdout}"
    );
}

/// The runbook's multi-gateway form without profiles: each gateway gets its own
/// `OPENCLAW_CONFIG_PATH`, `OPENCLAW_STATE_DIR` and `--port` (free ports here instead of
/// 19001/19002), after `openclaw setup` wrote each config.
#[test]
fn runbook_env_isolated_gateways() {
    let home = common::home();
    let root = home.path().to_owned();
    let instance = |name: &str| {
        let root = root.clone();
        let config = root.join(format!(".openclaw/{name}.json"));
        let state = root.join(format!(".openclaw-{name}"));
        move |args: &[&str]| {
            let mut cmd = openclaw(&root);
            cmd.env("OPENCLAW_CONFIG_PATH", &config)
                .env("OPENCLAW_STATE_DIR", &state)
                .args(args);
            cmd
        }
    };
    let (a, b) = (instance("a"), instance("b"));
    for (name, cmd) in [("a", &a), ("b", &b)] {
        let (status, stdout, stderr) = run(cmd(&["setup"]));
        assert!(status.success(), "setup {name}: {stdout}{stderr}");
    }
    let (port_a, port_b) = (free_port(), free_port());
    let mut gw_a = Proc::spawn(a(&["gateway", "--port", &port_a.to_string()]));
    let mut gw_b = Proc::spawn(b(&["gateway", "--port", &port_b.to_string()]));
    assert_eq!(gw_a.wait_listening().1, port_a);
    assert_eq!(gw_b.wait_listening().1, port_b);

    for (name, cmd, port) in [("a", &a, port_a), ("b", &b, port_b)] {
        let mut status = cmd(&["status", "--json"]);
        status.env("OPENCLAW_GATEWAY_PORT", port.to_string());
        let (code, stdout, stderr) = run(status);
        assert!(code.success(), "status {name}: {stderr}");
        let status: Value = serde_json::from_str(&stdout).unwrap();
        let state = home.path().join(format!(".openclaw-{name}"));
        let config = home.path().join(format!(".openclaw/{name}.json"));
        assert_eq!(status["gateway"]["reachable"], true, "{name}: {status}");
        assert_eq!(
            status["gateway"]["stateDir"],
            state.display().to_string().as_str()
        );
        assert_eq!(
            status["gateway"]["configPath"],
            config.display().to_string().as_str()
        );
    }
    assert!(!home.path().join(".openclaw/openclaw.json").exists());
}
