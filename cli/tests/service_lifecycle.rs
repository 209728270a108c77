//! `gateway install|uninstall|start|stop|restart` and `gateway status` against recording
//! doubles of `systemctl`, `loginctl` and `launchctl` put first on PATH (no systemd runs as
//! PID 1 here): the files written, the manager calls made, the no-op and `--force` paths, the
//! container path (no reachable manager), and the macOS flow (forced with
//! `OPENCLAW_SERVICE_PLATFORM=macos`). Every unit written passes `systemd-analyze verify`.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{openclaw, run};
use serde_json::Value;

/// The doubles: each appends `<tool> <args>` to `$OPS_CALLS`; their state lives in
/// `$OPS_STATE` (enabled/loaded markers); `OPS_MANAGER=down` plays a container.
const SYSTEMCTL: &str = r#"#!/bin/sh
echo "systemctl $*" >> "$OPS_CALLS"
case "$*" in
  *is-system-running*)
    if [ "$OPS_MANAGER" = down ]; then
      echo offline
      echo "System has not been booted with systemd as init system (PID 1). Can't operate." >&2
      exit 1
    fi
    echo running ;;
  *is-enabled*) if [ -f "$OPS_STATE/enabled" ]; then echo enabled; else echo disabled; exit 1; fi ;;
  *"enable --now"*) touch "$OPS_STATE/enabled" "$OPS_STATE/active" ;;
  *"disable --now"*) rm -f "$OPS_STATE/enabled" "$OPS_STATE/active" ;;
  *" stop "*) rm -f "$OPS_STATE/active" ;;
  *" start "*|*" restart "*) touch "$OPS_STATE/active" ;;
  *" show "*)
    if [ -f "$OPS_STATE/active" ]; then
      printf 'LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=4242\nExecMainStatus=0\nExecMainCode=0\nActiveEnterTimestamp=Sun 2026-12-06 20:00:00 UTC\n'
    else
      printf 'LoadState=loaded\nActiveState=inactive\nSubState=dead\nMainPID=0\nExecMainStatus=143\nExecMainCode=1\nActiveEnterTimestamp=\n'
    fi ;;
esac
exit 0
"#;

const LOGINCTL: &str = r#"#!/bin/sh
echo "loginctl $*" >> "$OPS_CALLS"
echo "Linger=no"
"#;

const LAUNCHCTL: &str = r#"#!/bin/sh
echo "launchctl $*" >> "$OPS_CALLS"
case "$1" in
  print) [ -f "$OPS_STATE/loaded" ] || exit 113; echo "state = running"; echo "pid = 777" ;;
  bootstrap) touch "$OPS_STATE/loaded" ;;
  bootout) rm -f "$OPS_STATE/loaded" ;;
esac
exit 0
"#;

struct Env {
    home: tempfile::TempDir,
    bin: PathBuf,
    state: PathBuf,
    calls: PathBuf,
}

impl Env {
    fn new() -> Self {
        let home = common::home();
        let bin = home.path().join("doubles");
        let state = home.path().join("double-state");
        fs::create_dir_all(&bin).unwrap();
        fs::create_dir_all(&state).unwrap();
        for (name, script) in [("systemctl", SYSTEMCTL), ("loginctl", LOGINCTL), ("launchctl", LAUNCHCTL)] {
            let path = bin.join(name);
            fs::write(&path, script).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let calls = home.path().join("calls.log");
        Self { home, bin, state, calls }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = openclaw(self.home.path());
        let path = format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap_or_default());
        cmd.env("PATH", path)
            .env("USER", "alice")
            .env("OPS_CALLS", &self.calls)
            .env("OPS_STATE", &self.state)
            // No gateway runs on this port: probes fail fast.
            .env("OPENCLAW_GATEWAY_PORT", "9")
            .args(args);
        cmd
    }

    /// Runs and returns (code, stdout, stderr); the recorded calls are taken (and cleared).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let (status, out, err) = run(self.cmd(args));
        (status.code().unwrap_or(-1), out, err)
    }

    fn calls(&self) -> Vec<String> {
        let text = fs::read_to_string(&self.calls).unwrap_or_default();
        let _ = fs::remove_file(&self.calls);
        text.lines().map(str::to_owned).collect()
    }

    fn unit(&self, name: &str) -> PathBuf {
        self.home.path().join(".config/systemd/user").join(name)
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `systemd-analyze verify` in user mode on the written unit: exit 0 and no output.
fn verify(unit: &Path) {
    let runtime = tempfile::tempdir().unwrap();
    fs::set_permissions(runtime.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(unit)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .stdin(Stdio::null())
        .output()
        .expect("systemd-analyze (Debian package systemd; .ci/run installs it)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.trim().is_empty(), "verify {}:\n{text}", unit.display());
}

#[test]
fn install_start_stop_restart_uninstall_through_systemctl() {
    let env = Env::new();
    let unit = env.unit("openclaw-gateway.service");

    let (code, out, err) = env.run(&["gateway", "install", "--port", "18999", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let doc = json(&out);
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["action"], "install");
    assert_eq!(doc["result"], "installed");
    assert_eq!(doc["service"]["label"], "systemd");
    assert_eq!(doc["service"]["loaded"], true);
    assert!(doc["hints"].to_string().contains("sudo loginctl enable-linger alice"), "{doc}");
    assert_eq!(
        env.calls(),
        [
            "systemctl --user is-system-running",
            "systemctl --user is-enabled openclaw-gateway.service",
            "systemctl --user daemon-reload",
            "systemctl --user enable --now openclaw-gateway.service",
            "systemctl --user restart openclaw-gateway.service",
            "loginctl show-user alice -p Linger",
        ]
    );
    let text = fs::read_to_string(&unit).unwrap();
    let bin = fs::canonicalize(common::bin()).unwrap();
    assert!(text.contains(&format!("ExecStart={} gateway --port 18999\n", bin.display())), "{text}");
    assert!(text.contains("Environment=OPENCLAW_SERVICE_MARKER=openclaw\n"), "{text}");
    assert!(text.contains("SuccessExitStatus=0 143\n") && text.contains("WantedBy=default.target\n"), "{text}");
    assert!(!text.contains("TOKEN"), "no secret in the unit: {text}");
    assert_eq!(fs::metadata(&unit).unwrap().permissions().mode() & 0o777, 0o644);
    verify(&unit);

    // Installed and unchanged: a no-op (no reload, no restart).
    let (code, out, _) = env.run(&["gateway", "install", "--port", "18999"]);
    assert_eq!(code, 0);
    assert!(out.contains("Gateway service already enabled."), "{out}");
    assert!(out.contains("Reinstall with: openclaw gateway install --force"), "{out}");
    assert!(!env.calls().iter().any(|c| c.contains("daemon-reload") || c.contains("restart")));

    // --force: rewritten (same text) and restarted.
    let (code, _, err) = env.run(&["gateway", "install", "--port", "18999", "--force"]);
    assert_eq!(code, 0, "{err}");
    let calls = env.calls();
    assert!(calls.contains(&"systemctl --user daemon-reload".to_owned()), "{calls:?}");
    assert!(calls.contains(&"systemctl --user restart openclaw-gateway.service".to_owned()), "{calls:?}");

    // A changed definition is rewritten, the old one kept as .bak.
    let (code, out, err) = env.run(&["gateway", "install", "--port", "19111"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Previous unit backed up to:"), "{out}");
    assert!(fs::read_to_string(unit.with_extension("service.bak")).unwrap().contains("--port 18999"));
    assert!(fs::read_to_string(&unit).unwrap().contains("--port 19111"));
    env.calls();

    // Status: the supervisor's view, separate from the (failing) probe.
    let (code, out, err) = env.run(&["gateway", "status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let status = json(&out);
    assert_eq!(status["service"]["loaded"], true, "{status}");
    assert_eq!(status["service"]["runtime"]["status"], "running", "{status}");
    assert_eq!(status["service"]["runtime"]["pid"], 4242, "{status}");
    assert_eq!(status["service"]["runtime"]["since"], "Sun 2026-12-06 20:00:00 UTC");
    assert_eq!(status["service"]["command"]["programArguments"][3], "19111", "{status}");
    assert_eq!(status["service"]["configAudit"]["ok"], true, "{status}");
    assert_eq!(status["gateway"]["port"], 19111, "the service's port is probed");
    assert_eq!(status["gateway"]["portSource"], "service args");
    assert_eq!(status["rpc"]["ok"], false);
    for key in ["cli", "logFile", "service", "config", "gateway", "port", "rpc", "extraServices"] {
        assert!(status.get(key).is_some(), "{key} missing: {status}");
    }
    // The service is up but its port is closed: the text says so (the runtime line).
    let (_, text, _) = env.run(&["gateway", "status"]);
    assert!(text.contains("Service: systemd (enabled)"), "{text}");
    assert!(text.contains("Runtime: running (running, pid 4242, since Sun 2026-12-06 20:00:00 UTC)"), "{text}");
    assert!(text.contains("RPC probe: failed"), "{text}");
    env.calls();

    for (action, done) in [("stop", "Stopped"), ("start", "Started"), ("restart", "Restarted")] {
        let (code, out, err) = env.run(&["gateway", action]);
        assert_eq!(code, 0, "{action}: {err}");
        assert_eq!(out, format!("{done} systemd service: openclaw-gateway.service\n"));
        let calls = env.calls();
        assert_eq!(calls.last().map(String::as_str), Some(format!("systemctl --user {action} openclaw-gateway.service").as_str()), "{calls:?}");
    }
    let (_, out, _) = env.run(&["gateway", "stop"]);
    assert!(out.starts_with("Stopped"));
    let (_, out, _) = env.run(&["gateway", "status", "--no-probe", "--json"]);
    let status = json(&out);
    assert_eq!(status["service"]["runtime"]["status"], "stopped", "{status}");
    assert_eq!(status["service"]["runtime"]["lastExitStatus"], 143);
    assert!(status.get("rpc").is_none(), "--no-probe: {status}");
    env.calls();

    let (code, out, err) = env.run(&["gateway", "uninstall", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["result"], "uninstalled");
    assert!(!unit.exists());
    assert!(env.calls().contains(&"systemctl --user disable --now openclaw-gateway.service".to_owned()));

    // Nothing installed: start is a no-op with the way forward.
    let (code, out, _) = env.run(&["gateway", "start"]);
    assert_eq!(code, 0);
    assert!(out.contains("Gateway service disabled.") && out.contains("Tip: Start with: openclaw gateway install"), "{out}");
}

#[test]
fn a_profile_gets_its_own_unit() {
    let env = Env::new();
    let (code, _, err) = env.run(&["--profile", "rescue", "gateway", "install", "--port", "19789"]);
    assert_eq!(code, 0, "{err}");
    let unit = env.unit("openclaw-gateway-rescue.service");
    let text = fs::read_to_string(&unit).unwrap();
    assert!(text.contains(" --profile rescue gateway --port 19789\n"), "{text}");
    assert!(text.contains("Environment=OPENCLAW_PROFILE=rescue\n"), "{text}");
    assert!(text.contains("Description=OpenClaw Gateway (profile: rescue)\n"), "{text}");
    verify(&unit);
    assert!(env.calls().contains(&"systemctl --user enable --now openclaw-gateway-rescue.service".to_owned()));

    // The main profile's status lists it as another OpenClaw profile, without a warning.
    let (_, out, _) = env.run(&["gateway", "status", "--no-probe"]);
    assert!(out.contains("Other OpenClaw profiles installed:\n  openclaw-gateway-rescue.service"), "{out}");
    assert!(!out.contains("gateway-like services detected"), "{out}");
}

#[test]
fn secrets_go_to_an_environment_file_not_the_unit() {
    let env = Env::new();
    let mut cmd = env.cmd(&["gateway", "install", "--port", "18999"]);
    cmd.env("OPENCLAW_GATEWAY_TOKEN", "s3cr3t-token-value-abcdefghijkl");
    let (status, _, err) = run(cmd);
    assert!(status.success(), "{err}");
    let unit = fs::read_to_string(env.unit("openclaw-gateway.service")).unwrap();
    assert!(!unit.contains("s3cr3t"), "{unit}");
    let file = env.home.path().join(".openclaw/gateway.systemd.env");
    assert!(unit.contains(&format!("EnvironmentFile=-{}\n", file.display())), "{unit}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "OPENCLAW_GATEWAY_TOKEN=\"s3cr3t-token-value-abcdefghijkl\"\n");
    assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn without_a_service_manager_the_unit_is_written_and_the_commands_printed() {
    let env = Env::new();
    let mut cmd = env.cmd(&["gateway", "install", "--port", "18999"]);
    cmd.env("OPS_MANAGER", "down");
    let (status, out, err) = run(cmd);
    assert!(status.success(), "{out}{err}");
    let unit = env.unit("openclaw-gateway.service");
    assert!(unit.is_file());
    verify(&unit);
    assert!(out.contains(&format!("Installed systemd service: {}", unit.display())), "{out}");
    assert!(
        out.contains("Where systemd runs, start it with:\n  systemctl --user daemon-reload\n  systemctl --user enable --now openclaw-gateway.service\n"),
        "{out}"
    );
    assert!(err.contains("System has not been booted with systemd"), "{err}");
    assert_eq!(env.calls(), ["systemctl --user is-system-running"], "nothing else is tried");

    // start cannot work here: exit 1, with what to run instead.
    let mut cmd = env.cmd(&["gateway", "start"]);
    cmd.env("OPS_MANAGER", "down");
    let (status, _, err) = run(cmd);
    assert_eq!(status.code(), Some(1));
    assert!(err.contains("Gateway start failed:") && err.contains("Tip: Or run it in the foreground: openclaw gateway"), "{err}");
}

#[test]
fn launch_agent_flow_on_macos() {
    let env = Env::new();
    let agents = env.home.path().join("Library/LaunchAgents");
    fs::create_dir_all(&agents).unwrap();
    let legacy = agents.join("bot.molt.gateway.plist");
    fs::write(&legacy, "<plist><dict><key>Label</key><string>bot.molt.gateway</string></dict></plist>").unwrap();
    let uid = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap().trim().to_owned();
    let mac = |args: &[&str]| {
        let mut cmd = env.cmd(args);
        cmd.env("OPENCLAW_SERVICE_PLATFORM", "macos");
        let (s, o, e) = run(cmd);
        (s.code().unwrap_or(-1), o, e)
    };

    let (code, out, err) = mac(&["gateway", "install", "--port", "18999"]);
    assert_eq!(code, 0, "{out}{err}");
    let plist = agents.join("ai.openclaw.gateway.plist");
    assert!(out.contains(&format!("Installed LaunchAgent: {}", plist.display())), "{out}");
    assert!(out.contains("Removed legacy LaunchAgent:"), "{out}");
    assert!(!legacy.exists(), "the runbook's legacy label is cleaned");
    let calls = env.calls();
    let domain = format!("gui/{uid}");
    for want in [
        format!("launchctl bootout {domain}/bot.molt.gateway"),
        format!("launchctl bootstrap {domain} {}", plist.display()),
        format!("launchctl kickstart -k {domain}/ai.openclaw.gateway"),
    ] {
        assert!(calls.contains(&want), "{want} not in {calls:?}");
    }
    let parsed = Command::new("python3")
        .args(["-c", "import plistlib,sys,json; d=plistlib.load(open(sys.argv[1],'rb')); print(json.dumps(d))"])
        .arg(&plist)
        .output()
        .unwrap();
    assert!(parsed.status.success(), "{}", String::from_utf8_lossy(&parsed.stderr));
    let d: Value = serde_json::from_slice(&parsed.stdout).unwrap();
    assert_eq!(d["Label"], "ai.openclaw.gateway");
    assert_eq!(d["KeepAlive"], true);
    assert_eq!(d["ProgramArguments"][2], "--port");

    let (code, out, _) = mac(&["gateway", "install", "--port", "18999"]);
    assert_eq!(code, 0);
    assert!(out.contains("Gateway service already loaded."), "{out}");
    env.calls();

    let (code, out, _) = mac(&["gateway", "restart"]);
    assert_eq!((code, out.as_str()), (0, format!("Restarted LaunchAgent: {domain}/ai.openclaw.gateway\n").as_str()));
    let (code, _, _) = mac(&["gateway", "stop"]);
    assert_eq!(code, 0);
    assert!(env.calls().contains(&format!("launchctl bootout {domain}/ai.openclaw.gateway")));
    let (code, _, _) = mac(&["gateway", "uninstall"]);
    assert_eq!(code, 0);
    assert!(!plist.exists());
}

#[test]
fn status_shows_the_last_error_and_other_gateway_units() {
    let env = Env::new();
    // The gateway's log file (logging.file), with an error as its last error line.
    let log = env.home.path().join("gw.log");
    let state = env.home.path().join(".openclaw");
    fs::create_dir_all(&state).unwrap();
    fs::write(
        state.join("openclaw.json"),
        format!("{{ gateway: {{ mode: 'local' }}, logging: {{ file: '{}' }} }}", log.display()),
    )
    .unwrap();
    let line = |level: &str, msg: &str| {
        format!("{{\"0\":\"{{\\\"subsystem\\\":\\\"gateway\\\"}}\",\"1\":\"{msg}\",\"_meta\":{{\"logLevelName\":\"{level}\"}},\"message\":\"{msg}\"}}\n")
    };
    fs::write(&log, [line("INFO", "starting"), line("ERROR", "bind failed: address in use"), line("INFO", "retrying")].concat()).unwrap();
    // A foreign gateway-like unit (an old clawdbot install) and the installed service.
    let units = env.home.path().join(".config/systemd/user");
    fs::create_dir_all(&units).unwrap();
    fs::write(units.join("clawdbot-gateway.service"), "[Service]\nExecStart=/usr/bin/node /opt/clawdbot/dist/index.js gateway --port 18789\n").unwrap();
    fs::write(units.join("unrelated.service"), "[Service]\nExecStart=/usr/bin/python3 -m http.server\n").unwrap();
    let (code, _, err) = env.run(&["gateway", "install", "--port", "9"]);
    assert_eq!(code, 0, "{err}");

    // Running (per systemctl) but nothing listens on port 9: the last error line is shown.
    let (code, out, _) = env.run(&["gateway", "status", "--json"]);
    assert_eq!(code, 0);
    let status = json(&out);
    assert_eq!(status["logFile"], log.display().to_string().as_str());
    assert_eq!(status["lastError"], "bind failed: address in use", "{status}");
    let extra = status["extraServices"].as_array().unwrap();
    assert_eq!(extra.len(), 1, "{status}");
    assert_eq!(extra[0]["label"], "clawdbot-gateway.service");
    assert_eq!(extra[0]["legacy"], true);
    let (_, text, _) = env.run(&["gateway", "status", "--no-probe"]);
    assert!(text.contains("Last gateway error: bind failed: address in use"), "{text}");
    assert!(text.contains("Other gateway-like services detected (best effort):\n  clawdbot-gateway.service"), "{text}");
    assert!(text.contains("Cleanup: systemctl --user disable --now -- clawdbot-gateway.service"), "{text}");

    // Stopped: no last-error line (it only explains a service that is up with its port closed).
    env.run(&["gateway", "stop"]);
    let (_, out, _) = env.run(&["gateway", "status", "--json", "--no-probe"]);
    assert!(json(&out).get("lastError").is_none(), "{out}");
}
