//! `openclaw doctor [--fix] [--json]`: the reference's JSON shape; findings for a typo'd key
//! (file, line, key), a world-readable token file and a drifted service unit; `--fix` repairs
//! the last two (with a backup of the unit) and says what it changed.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{openclaw, run};
use serde_json::Value;

/// A `systemctl` double that plays a container (no manager): doctor must not need one.
fn doubles(home: &Path) -> String {
    let bin = home.join("doubles");
    fs::create_dir_all(&bin).unwrap();
    for (name, script) in [
        ("systemctl", "#!/bin/sh\necho offline\nexit 1\n"),
        ("loginctl", "#!/bin/sh\necho Linger=yes\n"),
    ] {
        fs::write(bin.join(name), script).unwrap();
        fs::set_permissions(bin.join(name), fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

fn cmd(home: &Path, args: &[&str]) -> Command {
    let mut cmd = openclaw(home);
    cmd.env("PATH", doubles(home)).env("USER", "alice").env("OPENCLAW_GATEWAY_PORT", "9").args(args);
    cmd
}

fn doctor_json(home: &Path, args: &[&str]) -> Value {
    let (status, out, err) = run(cmd(home, &[&["doctor", "--json"], args].concat()));
    assert!(status.success(), "doctor exits 0 with findings: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn findings<'a>(doc: &'a Value, check: &str) -> Vec<&'a Value> {
    doc["findings"].as_array().unwrap().iter().filter(|f| f["checkId"] == check).collect()
}

#[test]
fn shape_and_a_typo_d_key() {
    let home = common::home();
    let state = home.path().join(".openclaw");
    fs::create_dir_all(&state).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
    let config = state.join("openclaw.json");
    fs::write(&config, "{\n  gateway: { mode: 'local' },\n  agnets: {},\n}\n").unwrap();
    fs::set_permissions(&config, fs::Permissions::from_mode(0o600)).unwrap();
    let doc = doctor_json(home.path(), &[]);
    assert_eq!(doc["schemaVersion"], 1);
    assert_eq!(doc["ok"], false);
    assert!(doc["checksRun"].as_u64().unwrap() >= 6, "{doc}");
    assert!(doc["checksSkipped"].is_u64());
    let typo = findings(&doc, "core/doctor/final-config-validation");
    assert_eq!(typo.len(), 1, "{doc}");
    assert_eq!(typo[0]["severity"], "error");
    assert_eq!(typo[0]["path"], "agnets");
    let message = typo[0]["message"].as_str().unwrap();
    assert!(message.starts_with(&format!("{}:3:", config.display())), "file and line: {message}");
    assert!(message.contains("agnets"), "{message}");
    for f in doc["findings"].as_array().unwrap() {
        for key in ["checkId", "severity", "message", "path"] {
            assert!(f.get(key).is_some(), "{key}: {f}");
        }
    }

    // Human output names the same.
    let (status, out, _) = run(cmd(home.path(), &["doctor"]));
    assert!(status.success());
    assert!(out.contains("✗ error [core/doctor/final-config-validation]") && out.contains("agnets"), "{out}");
}

#[test]
fn fix_repairs_a_world_readable_token_and_a_drifted_unit() {
    let home = common::home();
    let state = home.path().join(".openclaw");
    fs::create_dir_all(&state).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
    let config = state.join("openclaw.json");
    fs::write(&config, "{ gateway: { mode: 'local' } }").unwrap();
    fs::set_permissions(&config, fs::Permissions::from_mode(0o600)).unwrap();
    let token = state.join("gateway.token");
    fs::write(&token, "Zq3vN8xKp2LmR7tYw4HjB6cDf9GsA1eU\n").unwrap();
    fs::set_permissions(&token, fs::Permissions::from_mode(0o644)).unwrap();

    // The unit `install` writes (no manager here), then edited by hand.
    let (status, _, err) = run(cmd(home.path(), &["gateway", "install", "--port", "9"]));
    assert!(status.success(), "{err}");
    let unit = home.path().join(".config/systemd/user/openclaw-gateway.service");
    let written = fs::read_to_string(&unit).unwrap();
    fs::write(&unit, written.replace("Restart=always", "Restart=no")).unwrap();

    let doc = doctor_json(home.path(), &[]);
    let perms = findings(&doc, "core/doctor/state-permissions");
    assert_eq!(perms.len(), 1, "{doc}");
    assert_eq!(perms[0]["severity"], "error", "world-readable secret");
    assert_eq!(perms[0]["path"], token.display().to_string().as_str());
    let drift = findings(&doc, "core/doctor/service-definition");
    assert_eq!(drift.len(), 1, "{doc}");
    assert_eq!(drift[0]["path"], unit.display().to_string().as_str());
    assert!(drift[0]["message"].as_str().unwrap().contains("-Restart=no; +Restart=always"), "{doc}");
    assert!(drift[0]["fixHint"].as_str().unwrap().contains("openclaw doctor --fix"));

    let fixed = doctor_json(home.path(), &["--fix"]);
    let repaired = fixed["repaired"].to_string();
    assert!(repaired.contains(&format!("chmod 600 {}", token.display())), "{fixed}");
    assert!(repaired.contains(&format!("rewrote {}", unit.display())), "{fixed}");
    assert!(findings(&fixed, "core/doctor/state-permissions").is_empty(), "{fixed}");
    assert!(findings(&fixed, "core/doctor/service-definition").is_empty(), "{fixed}");
    assert_eq!(fs::metadata(&token).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(fs::read_to_string(&unit).unwrap(), written, "the unit `install` writes");
    assert!(fs::read_to_string(unit.with_extension("service.bak")).unwrap().contains("Restart=no"), "backup kept");

    // Nothing left to repair: --fix changes nothing.
    let again = doctor_json(home.path(), &["--fix"]);
    assert!(again.get("repaired").is_none(), "{again}");
}

#[test]
fn doctor_runs_with_a_broken_config_and_without_a_state_dir() {
    let home = common::home();
    let doc = doctor_json(home.path(), &[]);
    let missing = findings(&doc, "core/doctor/final-config-validation");
    assert_eq!(missing.len(), 1, "{doc}");
    assert!(missing[0]["message"].as_str().unwrap().starts_with("No config file at "), "{doc}");
    assert!(doc["checksSkipped"].as_u64().unwrap() >= 1, "no state dir: permissions skipped: {doc}");
}
