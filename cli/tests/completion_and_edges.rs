//! `openclaw completion bash|zsh|fish`, and the rough edges a new user hit (issue 17): a broken
//! config does not stop `status`/`health`/`gateway status` from probing, `cannot connect`
//! names the URL and the next step, `gateway status` help and exit codes agree, a bad
//! `--params` exits 2, `--dev setup` puts the workspace at `~/.openclaw/workspace-dev`.

mod common;

use std::fs;
use std::process::Command;

use common::{openclaw, run, Proc};
use serde_json::Value;

#[test]
fn completion_scripts() {
    let home = common::home();
    for shell in ["bash", "zsh", "fish"] {
        let mut cmd = openclaw(home.path());
        cmd.args(["completion", shell]);
        let (status, out, err) = run(cmd);
        assert!(status.success(), "{shell}: {err}");
        assert!(out.len() > 500 && out.contains("openclaw"), "{shell}: {out}");
        assert!(out.contains("install") && out.contains("doctor"), "{shell} knows the commands");
    }
    let mut cmd = openclaw(home.path());
    cmd.args(["completion", "--shell", "bash"]);
    let (status, bash, _) = run(cmd);
    assert!(status.success());
    let file = home.path().join("openclaw.bash");
    fs::write(&file, &bash).unwrap();
    let check = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(check.status.success(), "bash -n: {}", String::from_utf8_lossy(&check.stderr));
    let mut cmd = openclaw(home.path());
    cmd.args(["completion", "tcsh"]);
    assert_eq!(run(cmd).0.code(), Some(2), "an unknown shell is a bad command line");
}

#[test]
fn a_broken_config_does_not_stop_the_probes() {
    let home = common::home();
    // A gateway with its own (valid) config…
    let good = home.path().join("good.json");
    fs::write(&good, "{ gateway: { mode: 'local' } }").unwrap();
    let mut gw = openclaw(home.path());
    gw.env("OPENCLAW_CONFIG_PATH", &good).args(["gateway", "--port", "0", "--token", "edge-token"]);
    let mut gw = Proc::spawn(gw);
    let (_, port) = gw.wait_listening();
    // …and a CLI whose config is broken.
    let state = home.path().join(".openclaw");
    fs::create_dir_all(&state).unwrap();
    fs::write(state.join("openclaw.json"), "{ gateway: { prot: 1 } }").unwrap();
    let client = |args: &[&str]| {
        let mut cmd = openclaw(home.path());
        cmd.env("OPENCLAW_GATEWAY_PORT", port.to_string()).env("OPENCLAW_GATEWAY_TOKEN", "edge-token").args(args);
        run(cmd)
    };
    let (status, out, err) = client(&["status", "--json"]);
    assert!(status.success(), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["gateway"]["reachable"], true, "{v}");
    assert_eq!(v["config"]["valid"], false, "{v}");
    assert!(v["config"]["error"].as_str().unwrap().contains("prot"), "{v}");
    // No phantom canvas port: the canvas is on the gateway port.
    assert_eq!(v["ports"]["canvasHost"], port, "{v}");

    let (status, out, err) = client(&["health"]);
    assert!(status.success(), "{err}");
    assert!(out.contains("Gateway: ok"), "{out}");
    assert!(err.contains("details: openclaw doctor"), "the broken config is still mentioned: {err}");

    let (status, out, err) = client(&["gateway", "status", "--json"]);
    assert!(status.success(), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rpc"]["ok"], true, "{v}");
    assert_eq!(v["config"]["cli"]["valid"], false, "{v}");
    assert!(v["config"]["cli"]["issues"][0]["path"].as_str().unwrap().contains("prot"), "{v}");
    drop(gw);
}

#[test]
fn cannot_connect_names_the_url_and_the_next_step() {
    let home = common::home();
    let mut cmd = openclaw(home.path());
    cmd.args(["health", "--url", "ws://127.0.0.1:9", "--token", "t"]);
    let (status, _, err) = run(cmd);
    assert_eq!(status.code(), Some(1));
    assert!(err.contains("cannot connect to ws://127.0.0.1:9: "), "{err}");
    assert!(err.contains("`openclaw gateway`") && err.contains("`openclaw gateway status`"), "{err}");

    let mut cmd = openclaw(home.path());
    cmd.args(["--profile", "rescue", "gateway", "health", "--url", "ws://127.0.0.1:9", "--token", "t"]);
    let (_, _, err) = run(cmd);
    assert!(err.contains("`openclaw --profile rescue gateway status`"), "{err}");

    // `agent` and `sessions list` say the same (they connect through the same helper).
    for args in [
        &["agent", "--agent", "main", "--message", "hi", "--url", "ws://127.0.0.1:9", "--token", "t"][..],
        &["sessions", "list", "--url", "ws://127.0.0.1:9", "--token", "t"][..],
    ] {
        let mut cmd = openclaw(home.path());
        cmd.args(args);
        let (status, _, err) = run(cmd);
        assert_eq!(status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("cannot connect to ws://127.0.0.1:9: "), "{args:?}: {err}");
        assert!(err.contains("`openclaw gateway status`"), "{args:?}: {err}");
    }
}

#[test]
fn gateway_status_exit_codes_match_its_help() {
    let home = common::home();
    let mut cmd = openclaw(home.path());
    cmd.args(["gateway", "status", "--help"]);
    let (_, help, _) = run(cmd);
    assert!(help.contains("Exits 0 when the") && help.contains("--require-rpc"), "{help}");
    let probe = |extra: &[&str]| {
        let mut cmd = openclaw(home.path());
        cmd.env("PATH", "/usr/bin:/bin").args(["gateway", "status", "--url", "ws://127.0.0.1:9", "--token", "t"]).args(extra);
        run(cmd)
    };
    let (status, out, err) = probe(&[]);
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(out.contains("Connectivity probe: failed") && err.contains("cannot connect to ws://127.0.0.1:9"), "{out}{err}");
    let (status, _, _) = probe(&["--require-rpc"]);
    assert_eq!(status.code(), Some(1));
}

#[test]
fn bad_params_exit_2() {
    let home = common::home();
    for params in ["nope", "[1]"] {
        let mut cmd = openclaw(home.path());
        cmd.args(["gateway", "call", "health", "--params", params, "--url", "ws://127.0.0.1:9", "--token", "t"]);
        let (status, _, err) = run(cmd);
        assert_eq!(status.code(), Some(2), "{params}: {err}");
        assert!(err.contains("--params"), "{err}");
    }
}

#[test]
fn dev_setup_workspace_is_beside_the_main_one() {
    let home = common::home();
    let mut cmd = openclaw(home.path());
    cmd.args(["--dev", "setup"]);
    let (status, out, err) = run(cmd);
    assert!(status.success(), "{err}");
    let ws = home.path().join(".openclaw/workspace-dev");
    assert!(out.contains(&format!("Workspace: {}", ws.display())), "{out}");
    assert!(ws.is_dir());
    let config: Value = serde_json::from_str(&fs::read_to_string(home.path().join(".openclaw-dev/openclaw.json")).unwrap()).unwrap();
    assert_eq!(config["agents"]["defaults"]["workspace"], ws.display().to_string().as_str());
}
