//! The config model through the binary: `config get|set|unset|validate`, `setup`, the config
//! guard, the start-up mode gate, and the error messages (insta snapshots, the home directory
//! replaced by `<HOME>`). Nothing here starts a gateway that stays up.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use std::path::{Path, PathBuf};

use common::{openclaw, run};
use serde_json::Value;

/// Runs `openclaw <args>` in `home`; `(exit code, stdout, stderr)` with the home path replaced.
fn oc(home: &Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = openclaw(home);
    cmd.args(args);
    let (status, stdout, stderr) = run(cmd);
    let clean = |s: String| s.replace(&home.display().to_string(), "<HOME>");
    (status.code().unwrap_or(-1), clean(stdout), clean(stderr))
}

fn config_path(home: &Path) -> PathBuf {
    home.join(".openclaw/openclaw.json")
}

fn write_config(home: &Path, text: &str) {
    std::fs::create_dir_all(home.join(".openclaw")).unwrap();
    std::fs::write(config_path(home), text).unwrap();
}

fn read_config(home: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(config_path(home)).unwrap()).unwrap()
}

#[test]
fn error_messages() {
    let home = common::home();
    let h = home.path();
    // Unknown key with a did-you-mean, a wrong enum, a wrong type, a reference-only key.
    write_config(
        h,
        "// my gateway\n{\n  gateway: {\n    mode: 'local',\n    bind: 'everywhere',\n    prot: 18789,\n    \
         port: 'high',\n    tailscale: { mode: 'off' },\n  },\n}\n",
    );
    let (code, stdout, stderr) = oc(h, &["gateway", "--port", "0"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    insta::assert_snapshot!("invalid_values_guard", stderr);
    let (code, _, stderr) = oc(h, &["config", "validate"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("invalid_values_validate", stderr);
    let (code, stdout, _) = oc(h, &["config", "validate", "--json"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("invalid_values_validate_json", stdout);

    // JSON5 syntax error with line and column.
    write_config(h, "{\n  gateway: {\n    mode: 'local',,\n  },\n}\n");
    let (code, _, stderr) = oc(h, &["gateway", "--port", "0"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("syntax_error_guard", stderr);

    // A missing ${VAR} blocks the gateway but is only a warning for the CLI.
    write_config(h, "{ gateway: { mode: 'local', auth: { token: '${OC_TEST_UNSET_TOKEN}' } } }");
    let (code, _, stderr) = oc(h, &["gateway", "--port", "0"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("missing_env_gateway", stderr);
    let (code, stdout, stderr) = oc(h, &["config", "validate"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    insta::assert_snapshot!("missing_env_validate_warning", stdout);
}

#[test]
fn reference_known_keys_warn_once_each() {
    let home = common::home();
    let h = home.path();
    write_config(h, "{ gateway: { mode: 'local', tailscale: { mode: 'off' } }, channels: { discord: {} } }");
    let (code, stdout, stderr) = oc(h, &["config", "validate", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let warnings: Vec<String> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| format!("{}: {}", w["path"].as_str().unwrap(), w["message"].as_str().unwrap()))
        .collect();
    assert_eq!(warnings, ["gateway.tailscale: not supported yet; ignored", "channels.discord: not supported yet; ignored"]);
    assert_eq!(v["valid"], true);
}

#[test]
fn get_set_unset_validate() {
    let home = common::home();
    let h = home.path();
    // No file yet.
    assert_eq!(
        oc(h, &["config", "validate"]),
        (
            1,
            String::new(),
            "Config file not found: ~/.openclaw/openclaw.json\nCreate one with openclaw setup or run openclaw doctor --fix.\n"
                .into()
        )
    );
    let (code, stdout, _) = oc(h, &["config", "validate", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap(),
        serde_json::json!({"ok": false, "error": {"type": "cli_error", "message": "file not found"}, "valid": false,
            "path": "<HOME>/.openclaw/openclaw.json"})
    );
    let (code, _, stderr) = oc(h, &["config", "get", "gateway.port"]);
    assert_eq!(code, 1);
    assert!(stderr.starts_with("Config path is valid but unset: gateway.port."), "{stderr}");
    let (code, _, stderr) = oc(h, &["config", "get", "no.such.key"]);
    assert_eq!((code, stderr.as_str()), (1, "Unknown config path: no.such.key. Run openclaw config schema to inspect valid paths.\n"));

    // set: JSON5 values, strings as fallback.
    assert_eq!(oc(h, &["config", "set", "gateway.port", "19001"]), (0, "Updated gateway.port. Restart the gateway to apply.\n".into(), String::new()));
    assert_eq!(oc(h, &["config", "set", "gateway.mode", "local"]).0, 0);
    assert_eq!(oc(h, &["config", "set", "gateway.auth", "{mode: 'token', token: 'sekret'}"]).0, 0);
    assert_eq!(oc(h, &["config", "set", "gateway.controlUi.allowedOrigins", "['http://a']"]).0, 0);
    let v = read_config(h);
    assert_eq!(v["gateway"]["port"], 19001);
    assert_eq!(v["gateway"]["mode"], "local");
    assert_eq!(v["gateway"]["controlUi"]["allowedOrigins"][0], "http://a");
    assert_eq!(v["meta"]["lastTouchedVersion"], env!("CARGO_PKG_VERSION"));
    assert!(v["meta"]["lastTouchedAt"].as_str().unwrap().ends_with('Z'));
    // Written as 2-space JSON, mode 0600, with backups and an audit line per write.
    let text = std::fs::read_to_string(config_path(h)).unwrap();
    assert!(text.starts_with("{\n  \"gateway\": {\n    \"port\": 19001,"), "{text}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(config_path(h)).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(h.join(".openclaw/openclaw.json.bak").exists() && h.join(".openclaw/openclaw.json.bak.2").exists());
    let audit = std::fs::read_to_string(h.join(".openclaw/logs/config-audit.jsonl")).unwrap();
    assert_eq!(audit.lines().count(), 4);

    // get: strings bare, JSON with --json, secrets redacted.
    assert_eq!(oc(h, &["config", "get", "gateway.mode"]).1, "local\n");
    assert_eq!(oc(h, &["config", "get", "gateway.mode", "--json"]).1, "\"local\"\n");
    assert_eq!(oc(h, &["config", "get", "gateway.port"]).1, "19001\n");
    assert_eq!(oc(h, &["config", "get", "gateway.auth.token"]).1, "__OPENCLAW_REDACTED__\n");
    assert_eq!(
        oc(h, &["config", "get", "gateway.auth", "--json"]).1,
        "{\n  \"mode\": \"token\",\n  \"token\": \"__OPENCLAW_REDACTED__\"\n}\n"
    );
    assert_eq!(oc(h, &["config", "get", "gateway.controlUi.allowedOrigins[0]"]).1, "http://a\n");

    // Invalid values are refused and nothing is written.
    let before = std::fs::read_to_string(config_path(h)).unwrap();
    let (code, _, stderr) = oc(h, &["config", "set", "gateway.bind", "everywhere"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("set_wrong_enum", stderr);
    let (code, _, stderr) = oc(h, &["config", "set", "gateway.prot", "1"]);
    assert_eq!((code, stderr.as_str()), (1, "Config validation failed: gateway.prot: unknown key \"prot\" (did you mean \"port\"?)\n"));
    assert_eq!(std::fs::read_to_string(config_path(h)).unwrap(), before);

    // unset.
    assert_eq!(oc(h, &["config", "unset", "gateway.port"]), (0, "Removed gateway.port. Restart the gateway to apply.\n".into(), String::new()));
    let (code, _, stderr) = oc(h, &["config", "unset", "gateway.port"]);
    assert_eq!(code, 1);
    assert!(stderr.starts_with("Config path not found: gateway.port. Nothing was changed."), "{stderr}");
    assert!(read_config(h)["gateway"].get("port").is_none());

    assert_eq!(oc(h, &["config", "validate"]), (0, "Config valid: ~/.openclaw/openclaw.json\n".into(), String::new()));
    let (code, stdout, _) = oc(h, &["config", "validate", "--json"]);
    assert_eq!((code, stdout.as_str()), (0, "{\"valid\":true,\"path\":\"<HOME>/.openclaw/openclaw.json\",\"warnings\":[]}\n"));
}

#[test]
fn set_keeps_env_references_it_did_not_change() {
    let home = common::home();
    let h = home.path();
    write_config(h, "{ gateway: { mode: 'local' }, models: { providers: { p: { baseUrl: 'http://x', apiKey: '${OC_TEST_KEY}' } } } }");
    let mut cmd = openclaw(h);
    cmd.env("OC_TEST_KEY", "sk-live").args(["config", "set", "gateway.port", "19002"]);
    let (status, _, stderr) = run(cmd);
    assert!(status.success(), "{stderr}");
    let v = read_config(h);
    assert_eq!(v["models"]["providers"]["p"]["apiKey"], "${OC_TEST_KEY}", "the secret is not persisted");
    assert_eq!(v["gateway"]["port"], 19002);
}

#[test]
fn setup_creates_a_working_config_and_never_overwrites() {
    let home = common::home();
    let h = home.path();
    let (code, stdout, stderr) = oc(h, &["setup"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("Wrote <HOME>/.openclaw/openclaw.json\n"), "{stdout}");
    let v = read_config(h);
    assert_eq!(v["gateway"]["mode"], "local");
    assert_eq!(v["gateway"]["auth"]["mode"], "token");
    assert!(v["gateway"]["auth"]["token"].as_str().unwrap().len() >= 32);
    let workspace = v["agents"]["defaults"]["workspace"].as_str().unwrap();
    assert!(Path::new(workspace).is_dir(), "{workspace}");

    let before = std::fs::read_to_string(config_path(h)).unwrap();
    let (code, stdout, _) = oc(h, &["setup"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("Config already exists: <HOME>/.openclaw/openclaw.json (left unchanged)\n"), "{stdout}");
    assert_eq!(std::fs::read_to_string(config_path(h)).unwrap(), before, "not overwritten");
    assert!(!stdout.contains("gateway.mode is not set"), "{stdout}");

    // --model changes only the model keys.
    let (code, _, stderr) = oc(h, &["setup", "--model", "p/m", "--base-url", "http://127.0.0.1:9/v1"]);
    assert_eq!(code, 0, "{stderr}");
    let after = read_config(h);
    assert_eq!(after["gateway"], v["gateway"], "the token is kept");
    assert_eq!(after["agents"]["defaults"]["model"], "p/m");
    assert_eq!(after["models"]["providers"]["p"]["baseUrl"], "http://127.0.0.1:9/v1");

    // A config of someone else's making is left alone, with a hint when it cannot start.
    write_config(h, "{ gateway: { port: 19004 } }");
    let (code, stdout, _) = oc(h, &["setup"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("note: gateway.mode is not set"), "{stdout}");
    assert_eq!(std::fs::read_to_string(config_path(h)).unwrap(), "{ gateway: { port: 19004 } }");
}

#[test]
fn mode_gate_messages_and_exit_code() {
    let home = common::home();
    let h = home.path();
    assert_eq!(
        oc(h, &["gateway", "--port", "0"]),
        (1, String::new(), "Missing config. Run `openclaw setup` or set gateway.mode=local (or pass --allow-unconfigured).\n".into())
    );
    write_config(h, "{ gateway: { port: 19003 } }");
    assert_eq!(
        oc(h, &["gateway", "run", "--port", "0"]),
        (1, String::new(), "Gateway start blocked: set gateway.mode=local (current: unset) or pass --allow-unconfigured.\n".into())
    );
    write_config(h, "{ gateway: { mode: 'remote' } }");
    assert_eq!(
        oc(h, &["gateway", "--port", "0"]),
        (1, String::new(), "Gateway start blocked: set gateway.mode=local (current: remote) or pass --allow-unconfigured.\n".into())
    );
    // Past the gate, the auth checks come next (here: password mode without a password).
    let (code, _, stderr) = oc(h, &["gateway", "--allow-unconfigured", "--port", "0", "--auth", "password"]);
    assert_eq!(code, 1);
    assert!(stderr.starts_with("Gateway auth is set to password, but no password is configured."), "{stderr}");
    write_config(h, "{ gateway: { mode: 'local', bind: 'lan', auth: { mode: 'none' }, remote: { token: 'r' } } }");
    let (code, _, stderr) = oc(h, &["gateway", "--port", "0"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("no_auth_off_loopback_with_hint", stderr);
}

#[test]
fn the_guard_blocks_commands_but_not_the_allow_listed_ones() {
    let home = common::home();
    let h = home.path();
    write_config(h, "{ gatway: {} }");
    let (code, _, stderr) = oc(h, &["config", "get", "gateway"]);
    assert_eq!(code, 1);
    assert!(stderr.starts_with("Config invalid\nFile: <HOME>/.openclaw/openclaw.json\nProblem:\n- gatway (line 1, column 3): unknown key \"gatway\" (did you mean \"gateway\"?)\nRun: openclaw doctor --fix\n"), "{stderr}");
    let (code, _, stderr) = oc(h, &["setup"]);
    assert_eq!(code, 1);
    assert!(stderr.starts_with("Config invalid\n"), "{stderr}");
    // `config file` and `gateway call` (allow-listed) run anyway.
    assert_eq!(oc(h, &["config", "file"]), (0, "<HOME>/.openclaw/openclaw.json\n".into(), String::new()));
    let (_, _, stderr) = oc(h, &["gateway", "call", "health", "--url", "ws://127.0.0.1:9", "--token", "t", "--timeout", "2000"]);
    assert!(!stderr.contains("Config invalid"), "{stderr}");
}

#[test]
fn edits_keep_includes() {
    let home = common::home();
    let h = home.path();
    std::fs::create_dir_all(h.join(".openclaw/parts")).unwrap();
    std::fs::write(h.join(".openclaw/parts/gateway.json5"), "{ mode: 'local', port: 19010, bind: 'loopback' }").unwrap();
    write_config(h, "// main\n{ gateway: { $include: './parts/gateway.json5' } }\n");
    assert_eq!(oc(h, &["config", "get", "gateway.port"]).1, "19010\n", "get reads through the include");
    let (code, _, stderr) = oc(h, &["config", "set", "gateway.port", "19011"]);
    assert_eq!(code, 0, "{stderr}");
    let v = read_config(h);
    assert_eq!(v["gateway"]["$include"], "./parts/gateway.json5", "the include stays");
    assert_eq!(v["gateway"]["port"], 19011, "a sibling overrides the included value");
    assert!(v["gateway"].get("mode").is_none(), "included keys are not copied in");
    assert_eq!(oc(h, &["config", "get", "gateway.port"]).1, "19011\n");
    let (code, _, stderr) = oc(h, &["config", "unset", "gateway.bind"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "Config path gateway.bind comes from an included file (<HOME>/.openclaw/parts/gateway.json5). Nothing was changed; edit that file.\n"
    );
    // Include errors are reported with the resolved path and where the $include is.
    write_config(h, "{\n  gateway: { $include: './parts/nope.json5' },\n}\n");
    let (code, _, stderr) = oc(h, &["config", "validate"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("× openclaw.json:2:14 — gateway.$include: include file not found: <HOME>/.openclaw/parts/nope.json5"),
        "{stderr}"
    );
}
