//! The rendered definitions: insta snapshots of the unit (user and system) and the plist for a
//! fixed context, and the checks of the real tools: every unit passes `systemd-analyze verify`
//! with no output, every plist parses with python3's plistlib (on every OS).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;
use crate::config::Paths;

fn ctx(platform: Platform, profile: Option<&str>, binary: &Path, user: &str) -> Context {
    let mut env: Vec<(&str, String)> = vec![
        ("HOME", "/home/alice".into()),
        ("USER", user.into()),
        ("TMPDIR", "/tmp".into()),
        ("NVM_DIR", "/home/alice/.nvm".into()),
    ];
    let (state, config) = match profile {
        Some(p) => {
            env.push(("OPENCLAW_PROFILE", p.into()));
            env.push(("OPENCLAW_STATE_DIR", format!("/home/alice/.openclaw-{p}")));
            env.push(("OPENCLAW_CONFIG_PATH", format!("/home/alice/.openclaw-{p}/openclaw.json")));
            (format!("/home/alice/.openclaw-{p}"), format!("/home/alice/.openclaw-{p}/openclaw.json"))
        }
        None => ("/home/alice/.openclaw".into(), "/home/alice/.openclaw/openclaw.json".into()),
    };
    let paths = Paths { state_dir: state.into(), config_path: config.into() };
    let lookup = move |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| OsString::from(v));
    Context::resolve(platform, &paths, binary.to_path_buf(), lookup).unwrap()
}

const BIN: &str = "/usr/local/bin/openclaw";

#[test]
fn names_per_profile() {
    let main = Names::for_profile(None);
    assert_eq!((main.unit.as_str(), main.label.as_str()), ("openclaw-gateway.service", "ai.openclaw.gateway"));
    assert_eq!(Names::for_profile(Some("default")), main);
    let rescue = Names::for_profile(Some("rescue"));
    assert_eq!(rescue.unit, "openclaw-gateway-rescue.service");
    assert_eq!(rescue.label, "ai.openclaw.rescue");
    assert_eq!(rescue.description, "OpenClaw Gateway (profile: rescue)");
    assert_eq!(Names::for_profile(Some("dev")).cli(), "openclaw --dev");
    assert!(is_legacy_label("bot.molt.gateway") && is_legacy_label("com.openclaw.gateway"));
    assert!(!is_legacy_label("ai.openclaw.gateway"));
}

#[test]
fn user_unit_snapshot() {
    let c = ctx(Platform::Linux, None, Path::new(BIN), "alice");
    let unit = Definition::build(&c, 18789, Scope::User).render(Platform::Linux).unwrap();
    insta::assert_snapshot!("user_unit", unit);
    assert!(!unit.contains("TOKEN"), "no secret in the unit");
    assert_eq!(c.definition_path(Scope::User), PathBuf::from("/home/alice/.config/systemd/user/openclaw-gateway.service"));
}

#[test]
fn profile_system_unit_snapshot() {
    let c = ctx(Platform::Linux, Some("rescue"), Path::new(BIN), "alice");
    let unit = Definition::build(&c, 19789, Scope::System).render(Platform::Linux).unwrap();
    insta::assert_snapshot!("system_unit_rescue", unit);
    assert_eq!(c.definition_path(Scope::System), PathBuf::from("/etc/systemd/system/openclaw-gateway-rescue.service"));
}

#[test]
fn plist_snapshot() {
    let c = ctx(Platform::MacOs, None, Path::new(BIN), "alice");
    let plist = Definition::build(&c, 18789, Scope::User).render(Platform::MacOs).unwrap();
    insta::assert_snapshot!("launch_agent", plist);
    assert_eq!(
        c.definition_path(Scope::User),
        PathBuf::from("/home/alice/Library/LaunchAgents/ai.openclaw.gateway.plist")
    );
    let (label, args) = launchd::parse(&plist);
    assert_eq!(label.as_deref(), Some("ai.openclaw.gateway"));
    assert_eq!(args, [BIN, "gateway", "--port", "18789"]);
}

/// `python3 -c plistlib.load(...)`: the plist is well-formed and has the keys launchd needs.
#[test]
fn plists_parse_with_plistlib() {
    let dir = tempfile::tempdir().unwrap();
    for profile in [None, Some("we&ird'<name>")] {
        let mut c = ctx(Platform::MacOs, None, Path::new("/Applications/Open Claw/openclaw"), "alice");
        if let Some(p) = profile {
            c.names = Names::for_profile(Some(p));
        }
        let plist = Definition::build(&c, 18789, Scope::User).render(Platform::MacOs).unwrap();
        let file = dir.path().join("agent.plist");
        std::fs::write(&file, &plist).unwrap();
        let script = "import plistlib, sys, json\n\
                      d = plistlib.load(open(sys.argv[1], 'rb'))\n\
                      assert d['KeepAlive'] is True and d['RunAtLoad'] is True, d\n\
                      print(json.dumps([d['Label'], d['ProgramArguments'], d['EnvironmentVariables']['OPENCLAW_SERVICE_MARKER'], d['StandardOutPath']]))";
        let out = Command::new("python3").args(["-c", script]).arg(&file).output().expect("python3");
        assert!(out.status.success(), "plistlib: {}\n{plist}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v[0], c.names.label.as_str());
        assert_eq!(v[1][0], "/Applications/Open Claw/openclaw");
        assert_eq!(v[2], "openclaw");
        assert_eq!(v[3], "/home/alice/.openclaw/logs/gateway.log");
    }
}

/// `systemd-analyze verify` on the written file, in user mode for user units (needs a runtime
/// dir) and system mode for system units; ExecStart is this test binary (an existing
/// executable). Passing means: exit 0 and no output at all.
pub(crate) fn verify_unit(file: &Path, scope: Scope) {
    let runtime = tempfile::tempdir().unwrap();
    std::fs::set_permissions(runtime.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let mut cmd = Command::new("systemd-analyze");
    if scope == Scope::User {
        cmd.arg("--user");
    }
    let out = cmd
        .arg("verify")
        .arg(file)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env("SYSTEMD_LOG_LEVEL", "info")
        .output()
        .expect("systemd-analyze (Debian package systemd; .ci/run installs it)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.trim().is_empty(), "systemd-analyze verify {}:\n{text}\n---\n{}", file.display(), std::fs::read_to_string(file).unwrap());
}

#[test]
fn every_unit_passes_systemd_analyze_verify() {
    let exe = std::env::current_exe().unwrap();
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let dir = tempfile::tempdir().unwrap();
    for (profile, scope) in [(None, Scope::User), (Some("rescue"), Scope::User), (None, Scope::System), (Some("dev"), Scope::System)] {
        let c = ctx(Platform::Linux, profile, &exe, &user);
        let text = Definition::build(&c, 18789, scope).render(Platform::Linux).unwrap();
        let file = dir.path().join(&c.names.unit);
        std::fs::write(&file, text).unwrap();
        verify_unit(&file, scope);
    }
}

#[test]
fn verify_catches_a_broken_unit() {
    // The check above can fail: a bad directive is reported.
    let exe = std::env::current_exe().unwrap();
    let c = ctx(Platform::Linux, None, &exe, "root");
    let text = Definition::build(&c, 18789, Scope::User).render(Platform::Linux).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openclaw-gateway.service");
    std::fs::write(&file, text.replace("Restart=always", "Restart=alwayz")).unwrap();
    let result = std::panic::catch_unwind(|| verify_unit(&file, Scope::User));
    assert!(result.is_err(), "systemd-analyze must complain about Restart=alwayz");
}

#[test]
fn installed_unit_reads_back() {
    let c = ctx(Platform::Linux, Some("rescue"), Path::new("/opt/Open Claw/openclaw"), "alice");
    let text = Definition::build(&c, 19789, Scope::User).render(Platform::Linux).unwrap();
    let parsed = systemd::parse(&text);
    assert_eq!(parsed.exec_start, ["/opt/Open Claw/openclaw", "--profile", "rescue", "gateway", "--port", "19789"]);
    assert_eq!(parsed.port_arg(), Some(19789));
    assert_eq!(parsed.env("OPENCLAW_SYSTEMD_UNIT"), Some("openclaw-gateway-rescue.service"));
    assert_eq!(parsed.env("OPENCLAW_SERVICE_MARKER"), Some("openclaw"));
}
