//! Conformance of our log file and `logs.tail` with the reference CLI: `openclaw-peer cli logs
//! --url … --token … --json --limit 5` reads the real `openclaw gateway`'s log, and prints the
//! same as our `openclaw logs`.
//!
//! The peer must be installed (`scripts/openclaw-peer install`, done by `.ci/run`); when
//! it is not, these tests FAIL with instructions. Each peer run gets a fresh HOME and
//! `OPENCLAW_PEER_HOME` pointing at the installed cache (see tests/tests/conformance.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{openclaw, run, Proc, DEADLINE};
use serde_json::Value;

const TOKEN: &str = "conformance-logs-token";

/// The reference wrapper script and its install cache; panics with the fix when missing.
fn peer() -> (PathBuf, PathBuf) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/openclaw-peer");
    assert!(
        script.exists(),
        "reference peer script not found at {}",
        script.display()
    );
    let out = Command::new(&script)
        .arg("where")
        .output()
        .expect("run peer");
    let cache = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let entry = cache.join("openclaw/node_modules/openclaw/openclaw.mjs");
    assert!(
        entry.exists(),
        "the reference peer is not installed in {} (missing {}). Install it first: {} install",
        cache.display(),
        entry.display(),
        script.display()
    );
    (script, cache)
}

/// `openclaw-peer cli <args>` with a fresh HOME: (exit code, stdout, stderr).
fn peer_cli(args: &[&str]) -> (Option<i32>, String, String) {
    let (script, cache) = peer();
    let home = common::home();
    let mut cmd = Command::new(script);
    cmd.arg("cli")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("OPENCLAW_PEER_HOME", cache)
        .stdin(Stdio::null());
    let (status, stdout, stderr) = run(cmd);
    (status.code(), stdout, stderr)
}

struct Gateway {
    _proc: Proc,
    url: String,
    home: tempfile::TempDir,
    log: PathBuf,
}

/// Our gateway at the default level (info): nothing it does while serving `logs.tail` adds a
/// line, so two readers see the same file.
fn start() -> Gateway {
    let home = common::home();
    let state = home.path().join(".openclaw");
    std::fs::create_dir_all(&state).unwrap();
    let log = home.path().join("gateway.log");
    let config = serde_json::json!({ "logging": { "file": log } });
    std::fs::write(state.join("openclaw.json"), config.to_string()).unwrap();
    let mut cmd = openclaw(home.path());
    cmd.args([
        "gateway",
        "--allow-unconfigured",
        "--port",
        "0",
        "--token",
        TOKEN,
    ]);
    let mut proc = Proc::spawn(cmd);
    let (url, _) = proc.wait_listening();
    wait_for_line(&log, "gateway listening");
    Gateway {
        _proc: proc,
        url,
        home,
        log,
    }
}

/// Waits (bounded) until the writer thread has put a line containing `needle` in the file.
fn wait_for_line(log: &Path, needle: &str) {
    let deadline = Instant::now() + DEADLINE;
    while !std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains(needle)
    {
        assert!(
            Instant::now() < deadline,
            "{} never got {needle:?}",
            log.display()
        );
        std::thread::yield_now();
    }
}

#[test]
fn the_reference_cli_reads_our_log_like_our_cli() {
    let gw = start();
    let args = [
        "logs", "--url", &gw.url, "--token", TOKEN, "--json", "--limit", "5",
    ];
    let (code, reference, stderr) = peer_cli(&args);
    assert_eq!(code, Some(0), "reference CLI failed: {stderr}\n{reference}");
    let lines: Vec<Value> = reference
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "meta", "{reference}");
    assert_eq!(lines[0]["file"], gw.log.display().to_string());
    assert_eq!(lines[0]["sourceKind"], "file");
    let listening = lines
        .iter()
        .find(|l| l["type"] == "log" && l["message"] == "gateway listening")
        .unwrap_or_else(|| panic!("no start line in {reference}"));
    assert_eq!(listening["level"], "info");
    assert_eq!(listening["subsystem"], "gateway");
    assert!(listening["time"].as_str().unwrap().starts_with("20"));
    assert!(
        lines.iter().all(|l| l["type"] != "raw"),
        "lines the reference could not parse: {reference}"
    );

    let mut ours = openclaw(gw.home.path());
    ours.args(args);
    let (status, ours, stderr) = run(ours);
    assert!(status.success(), "{stderr}");
    assert_eq!(ours, reference);

    // Text mode, not a terminal: the same lines, plain.
    let text_args = ["logs", "--url", &gw.url, "--token", TOKEN, "--limit", "5"];
    let (code, reference, stderr) = peer_cli(&text_args);
    assert_eq!(code, Some(0), "{stderr}");
    let mut ours = openclaw(gw.home.path());
    ours.args(text_args);
    let (_, ours, _) = run(ours);
    assert_eq!(ours, reference);
    assert!(
        reference.starts_with(&format!("Log file: {}\n", gw.log.display())),
        "{reference}"
    );
}
