//! `openclaw --dev gateway` / `gateway --dev` / `--reset` through the binary (lifecycle.md §8.3),
//! each in a temp HOME (HOME and OPENCLAW_HOME), on an ephemeral port. Nothing sleeps.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
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

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", path.display()))
}

const WORKSPACE_FILES: [&str; 5] = ["AGENTS.md", "SOUL.md", "TOOLS.md", "IDENTITY.md", "USER.md"];

#[test]
fn dev_gateway_creates_its_config_and_workspace_once() {
    let home = common::home();
    let state = home.path().join(".openclaw-dev");
    let config = state.join("openclaw.json");
    let workspace = state.join("workspace");

    let mut cmd = openclaw(home.path());
    cmd.args(["--dev", "gateway", "--port", "0"]);
    let mut gw = Proc::spawn(cmd);
    gw.wait_line(&format!("Dev config ready: {}", config.display()));
    gw.wait_line(&format!("Dev workspace ready: {}", workspace.display()));
    let (_, port) = gw.wait_listening();

    let written = read_json(&config);
    assert_eq!(written["gateway"]["mode"], "local");
    assert_eq!(written["gateway"]["bind"], "loopback");
    let ws = workspace.display().to_string();
    assert_eq!(written["agents"]["defaults"]["workspace"], ws.as_str());
    assert_eq!(written["agents"]["defaults"]["skipBootstrap"], true);
    assert_eq!(
        written["agents"]["entries"]["dev"]["identity"]["name"],
        "C3-PO"
    );
    assert_eq!(
        fs::metadata(&config).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        fs::metadata(&state).unwrap().permissions().mode() & 0o777,
        0o700,
        "the new dev state dir is private"
    );
    for name in WORKSPACE_FILES {
        assert!(workspace.join(name).is_file(), "{name} seeded");
    }
    assert!(
        state.join("gateway.token").is_file(),
        "the token lives in the dev state dir"
    );
    assert!(
        !home.path().join(".openclaw").exists(),
        "the main state dir is untouched"
    );

    // The dev clients find this gateway (token from the dev state dir) once pointed at its port.
    let mut health = openclaw(home.path());
    health
        .env("OPENCLAW_GATEWAY_PORT", port.to_string())
        .args(["--dev", "health", "--json"]);
    let (status, stdout, stderr) = run(health);
    assert!(status.success(), "--dev health: {stderr}");
    let health: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(health["ok"], true);
    let sessions = health["sessions"]["path"].as_str().unwrap();
    assert!(
        sessions.starts_with(&state.display().to_string()),
        "{sessions}"
    );
    drop(gw);

    // A second start keeps the (edited) config and workspace.
    fs::write(workspace.join("SOUL.md"), "edited").unwrap();
    let mut edited = written;
    edited["agents"]["defaults"]["skipBootstrap"] = Value::Bool(false);
    fs::write(&config, edited.to_string()).unwrap();
    let mut cmd = openclaw(home.path());
    cmd.args(["--dev", "gateway", "--port", "0"]);
    let mut again = Proc::spawn(cmd);
    again.wait_listening();
    assert!(
        !again.all_stdout().contains("Dev config ready"),
        "{}",
        again.all_stdout()
    );
    assert_eq!(read_json(&config), edited);
    assert_eq!(
        fs::read_to_string(workspace.join("SOUL.md")).unwrap(),
        "edited"
    );
}

#[test]
fn gateway_dev_flag_without_the_profile_uses_a_dev_workspace() {
    let home = common::home();
    let state = home.path().join(".openclaw");
    let mut cmd = openclaw(home.path());
    cmd.args(["gateway", "--dev", "--port", "0"]);
    let mut gw = Proc::spawn(cmd);
    gw.wait_line(&format!(
        "Dev config ready: {}",
        state.join("openclaw.json").display()
    ));
    gw.wait_listening();
    let workspace = state.join("workspace-dev");
    let written = read_json(&state.join("openclaw.json"));
    assert_eq!(
        written["agents"]["defaults"]["workspace"],
        workspace.display().to_string().as_str()
    );
    assert!(workspace.join("AGENTS.md").is_file());
    assert!(
        !state.join("workspace").exists(),
        "the main workspace is not taken over"
    );
}

#[test]
fn reset_needs_dev_mode_and_a_confirmation() {
    let home = common::home();
    let mut cmd = openclaw(home.path());
    cmd.args(["gateway", "--reset", "--port", "0"]);
    let (status, _, stderr) = run(cmd);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Use --reset with --dev."), "{stderr}");

    // Dev mode, but stdin is not a terminal and there is no --yes: refused, nothing deleted.
    let state = home.path().join(".openclaw-dev");
    fs::create_dir_all(state.join("credentials")).unwrap();
    fs::write(state.join("openclaw.json"), "{gateway: {mode: 'local'}}").unwrap();
    fs::write(state.join("credentials/creds.json"), "{}").unwrap();
    let mut cmd = openclaw(home.path());
    cmd.args(["--dev", "gateway", "--reset", "--port", "0"]);
    let (status, stdout, stderr) = run(cmd);
    assert_eq!(status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("Pass --yes"), "{stderr}");
    assert!(!stdout.contains("listening on"), "{stdout}");
    assert!(state.join("credentials/creds.json").exists());
    assert_eq!(
        fs::read_to_string(state.join("openclaw.json")).unwrap(),
        "{gateway: {mode: 'local'}}"
    );
}

#[test]
fn reset_with_yes_wipes_the_dev_state_and_nothing_else() {
    let home = common::home();
    let dev = home.path().join(".openclaw-dev");
    let main = home.path().join(".openclaw");
    let put = |path: &Path, text: &str| {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    };
    put(
        &dev.join("openclaw.json"),
        "{gateway: {mode: 'local', port: 1}}",
    );
    put(
        &dev.join("credentials/whatsapp/default/creds.json"),
        "secret",
    );
    put(&dev.join("gateway.token"), "old-dev-token");
    put(&dev.join("agents/main/sessions.sqlite"), "OLD-SESSIONS");
    put(&dev.join("agents/main/sessions/old.jsonl"), "{}");
    put(&dev.join("workspace/notes.md"), "scratch");
    put(&dev.join("keep.txt"), "not ours to delete");
    put(&main.join("openclaw.json"), "{gateway: {mode: 'local'}}");
    put(&main.join("gateway.token"), "main-token");
    put(&main.join("agents/main/sessions.sqlite"), "MAIN-SESSIONS");
    put(&main.join("credentials/creds.json"), "main-secret");

    let mut cmd = openclaw(home.path());
    cmd.args(["--dev", "gateway", "--reset", "--yes", "--port", "0"]);
    let mut gw = Proc::spawn(cmd);
    gw.wait_line("Dev config ready");
    gw.wait_listening();

    let config = read_json(&dev.join("openclaw.json"));
    assert_eq!(config["gateway"]["mode"], "local");
    assert!(
        config["gateway"].get("port").is_none(),
        "the old dev config is gone: {config}"
    );
    assert!(!dev.join("credentials").exists());
    assert!(!dev.join("agents/main/sessions").exists());
    let store = fs::read(dev.join("agents/main/sessions.sqlite")).unwrap_or_default();
    assert!(
        !store.starts_with(b"OLD-SESSIONS"),
        "the session store was replaced"
    );
    let token = fs::read_to_string(dev.join("gateway.token")).unwrap();
    assert_ne!(token.trim(), "old-dev-token", "a fresh token");
    assert!(!dev.join("workspace/notes.md").exists());
    assert!(dev.join("workspace/AGENTS.md").is_file(), "reseeded");
    assert_eq!(
        fs::read_to_string(dev.join("keep.txt")).unwrap(),
        "not ours to delete"
    );

    assert_eq!(
        fs::read_to_string(main.join("openclaw.json")).unwrap(),
        "{gateway: {mode: 'local'}}"
    );
    assert_eq!(
        fs::read_to_string(main.join("gateway.token")).unwrap(),
        "main-token"
    );
    assert_eq!(
        fs::read_to_string(main.join("agents/main/sessions.sqlite")).unwrap(),
        "MAIN-SESSIONS"
    );
    assert_eq!(
        fs::read_to_string(main.join("credentials/creds.json")).unwrap(),
        "main-secret"
    );
}

/// The runbook's quick path, as written, with the dev port moved to a free one through
/// `OPENCLAW_GATEWAY_PORT` (the tests never rely on 19001 being free):
/// `openclaw --dev setup`, `openclaw --dev gateway --allow-unconfigured`, `openclaw --dev
/// status`, `openclaw --dev health`.
#[test]
fn runbook_dev_quick_path() {
    let home = common::home();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dev = |args: &[&str]| {
        let mut cmd = openclaw(home.path());
        cmd.env("OPENCLAW_GATEWAY_PORT", port.to_string())
            .arg("--dev")
            .args(args);
        cmd
    };
    let state = home.path().join(".openclaw-dev");

    let (status, stdout, stderr) = run(dev(&["setup"]));
    assert!(status.success(), "--dev setup: {stdout}{stderr}");
    assert!(
        state.join("openclaw.json").is_file(),
        "setup wrote the dev config"
    );

    let mut gw = Proc::spawn(dev(&["gateway", "--allow-unconfigured"]));
    let (url, bound) = gw.wait_listening();
    assert_eq!(bound, port, "{url}");

    let (status, stdout, stderr) = run(dev(&["status"]));
    assert!(status.success(), "--dev status: {stderr}");
    assert!(stdout.contains("reachable ("), "{stdout}");
    assert!(
        stdout.contains(&format!("State dir    {}", state.display())),
        "{stdout}"
    );
    // The canvas is served on the gateway port (2026.9.6): no phantom canvas port (base+4).
    assert!(
        stdout.contains(&format!(
            "gateway {port} (also canvas), browser control {}",
            port + 2
        )),
        "{stdout}"
    );
    assert!(!stdout.contains(&format!("canvas {}", port + 4)), "{stdout}");

    let (status, stdout, stderr) = run(dev(&["health"]));
    assert!(status.success(), "--dev health: {stderr}");
    assert!(stdout.contains("Gateway: ok"), "{stdout}");
    assert!(
        !home.path().join(".openclaw/openclaw.json").exists(),
        "main config untouched"
    );
}

/// Runs `openclaw <args>` on a pseudo-terminal (python's `pty`), answers `answer` to the
/// `[y/N]` question, stops the gateway with SIGTERM once it listens; returns (exit code, output).
fn on_a_terminal(home: &Path, answer: &str, args: &[&str]) -> (i32, String) {
    const DRIVER: &str = r#"
import os, pty, select, signal, sys, time
answer, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out, sent, deadline = b"", False, time.monotonic() + 30
while time.monotonic() < deadline:
    ready, _, _ = select.select([fd], [], [], 1.0)
    if not ready:
        continue
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    if not sent and b"[y/N]" in out:
        os.write(fd, (answer + "\n").encode())
        sent = True
    if b"listening on" in out:
        os.kill(pid, signal.SIGTERM)
else:
    os.kill(pid, signal.SIGKILL)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.stdout.write("\nEXIT %d\n" % os.waitstatus_to_exitcode(status))
"#;
    let mut cmd = Command::new("python3");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("OPENCLAW_HOME", home)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args(["-c", DRIVER, answer, common::bin()])
        .args(args);
    let (status, stdout, stderr) = run(cmd);
    assert!(status.success(), "pty driver failed: {stderr}");
    let code = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("EXIT "))
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or_else(|| panic!("no exit code: {stdout}"));
    (code, stdout)
}

#[test]
fn reset_asks_on_a_terminal_and_honours_the_answer() {
    let home = common::home();
    let dev = home.path().join(".openclaw-dev");
    fs::create_dir_all(dev.join("credentials")).unwrap();
    fs::write(dev.join("credentials/creds.json"), "secret").unwrap();
    let args = ["--dev", "gateway", "--reset", "--port", "0"];

    let (code, out) = on_a_terminal(home.path(), "n", &args);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--reset will delete:"), "{out}");
    assert!(
        out.contains(&dev.join("credentials").display().to_string()),
        "the list names it: {out}"
    );
    assert!(
        out.contains("Reset cancelled; nothing was deleted."),
        "{out}"
    );
    assert!(dev.join("credentials/creds.json").exists());

    let (_, out) = on_a_terminal(home.path(), "y", &args);
    assert!(out.contains("listening on"), "{out}");
    assert!(!dev.join("credentials").exists(), "{out}");
    assert!(dev.join("openclaw.json").is_file());
}
