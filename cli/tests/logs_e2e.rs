//! File logging end to end: the real `openclaw gateway` writes its JSON log at `logging.file`,
//! `openclaw logs` reads it back through `logs.tail`, secrets never reach the file or the
//! console, and `--follow` picks up new lines.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::{openclaw, run, Proc, DEADLINE};
use serde_json::Value;

const TOKEN: &str = "e2e-logs-token-0123456789abcdef";
/// How the redaction masks [`TOKEN`] (first 6, `…`, last 4).
const MASKED: &str = "e2e-lo…cdef";

/// A gateway started with `logging.file` in its temp home and the token in its config.
struct Gateway {
    proc: Proc,
    url: String,
    home: tempfile::TempDir,
    log: PathBuf,
}

fn start(level: &str) -> Gateway {
    let home = common::home();
    let state = home.path().join(".openclaw");
    std::fs::create_dir_all(&state).unwrap();
    let log = home.path().join("logs").join("gateway.log");
    let config = serde_json::json!({
        "gateway": { "auth": { "token": TOKEN } },
        "logging": { "file": log, "level": level },
    });
    std::fs::write(state.join("openclaw.json"), config.to_string()).unwrap();
    let mut cmd = openclaw(home.path());
    cmd.args([
        "gateway",
        "--allow-unconfigured",
        "--port",
        "0",
        "--verbose",
    ]);
    let mut proc = Proc::spawn(cmd);
    let (url, _) = proc.wait_listening();
    Gateway {
        proc,
        url,
        home,
        log,
    }
}

impl Gateway {
    /// `openclaw <args> --url <url> --token <token>` to completion: (exit code, stdout, stderr).
    fn cli(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let mut cmd = openclaw(self.home.path());
        cmd.args(args).args(["--url", &self.url, "--token", TOKEN]);
        let (status, stdout, stderr) = run(cmd);
        (status.code(), stdout, stderr)
    }

    /// Runs `openclaw logs <args>` until its stdout satisfies `done` (bounded; each run is a
    /// fresh read of the file, so this waits on the writer thread without sleeping).
    fn logs_until(&self, args: &[&str], done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let (code, stdout, stderr) = self.cli(&[&["logs"][..], args].concat());
            assert_eq!(code, Some(0), "openclaw logs failed: {stderr}");
            if done(&stdout) {
                return stdout;
            }
            assert!(
                Instant::now() < deadline,
                "openclaw logs never satisfied the test: {stdout}"
            );
        }
    }
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn file_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn logs_json_reads_the_gateway_file_with_secrets_masked() {
    let mut gw = start("debug");
    // An unknown method named after the token: the gateway logs the method name (debug `recv`)
    // and its error answer (debug `send`), so the token would land in the file and on the
    // console unless redaction masks it.
    let method = format!("m-{TOKEN}");
    let (code, _, stderr) = gw.cli(&["gateway", "call", &method]);
    assert_eq!(code, Some(1), "{stderr}");
    let stdout = gw.logs_until(&["--json", "--limit", "500"], |out| {
        out.contains(&format!("m-{MASKED}"))
    });
    let lines = json_lines(&stdout);
    assert_eq!(
        lines[0],
        serde_json::json!({
            "type": "meta", "file": gw.log.display().to_string(), "sourceKind": "file",
            "cursor": lines[0]["cursor"], "size": lines[0]["size"],
        })
    );
    assert!(lines[0]["cursor"].as_u64().unwrap() > 0);
    let logs: Vec<&Value> = lines.iter().filter(|l| l["type"] == "log").collect();
    let listening = logs
        .iter()
        .find(|l| l["message"] == "gateway listening")
        .expect("the start line");
    assert_eq!(listening["level"], "info");
    assert_eq!(listening["subsystem"], "gateway");
    assert!(listening["time"].is_string());
    let recv = logs
        .iter()
        .find(|l| l["message"] == "recv" && l["raw"].as_str().unwrap().contains(MASKED))
        .expect("the debug recv line of the call");
    assert_eq!(recv["subsystem"], "gateway/ws");
    assert_eq!(recv["level"], "debug");

    // The file itself: one tslog object per line, no token anywhere.
    let text = file_text(&gw.log);
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["_meta"]["name"], v["0"], "{line}");
        assert!(v["_meta"]["logLevelName"].is_string(), "{line}");
    }
    assert!(!text.contains(TOKEN), "token in the log file");
    assert!(!stdout.contains(TOKEN));

    // --limit: the newest N lines and the truncation notice.
    let (code, stdout, _) = gw.cli(&["logs", "--json", "--limit", "5"]);
    assert_eq!(code, Some(0));
    let lines = json_lines(&stdout);
    assert_eq!(
        lines.iter().filter(|l| l["type"] == "log").count(),
        5,
        "{stdout}"
    );
    assert_eq!(
        lines.last().unwrap(),
        &serde_json::json!({"type": "notice", "message": "Log tail truncated (increase --limit or --max-bytes)."})
    );

    // Text mode (not a terminal): `Log file:` then `<time> <level> <subsystem> <message>`.
    let (code, stdout, stderr) = gw.cli(&["logs", "--limit", "500"]);
    assert_eq!(code, Some(0), "{stderr}");
    let mut text_lines = stdout.lines();
    assert_eq!(
        text_lines.next().unwrap(),
        format!("Log file: {}", gw.log.display())
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.ends_with(" info gateway gateway listening") && l.starts_with("20")),
        "{stdout}"
    );

    // The console (stdout of the gateway, --verbose) never showed the token either.
    gw.proc.signal("TERM");
    gw.proc.wait_exit();
    let console = gw.proc.all_stdout();
    assert!(console.contains(&format!("m-{MASKED}")), "{console}");
    assert!(!console.contains(TOKEN), "token on the console");
}

#[test]
fn logs_follow_picks_up_new_lines() {
    let gw = start("debug");
    let mut cmd = openclaw(gw.home.path());
    cmd.args([
        "logs",
        "--follow",
        "--json",
        "--interval",
        "50",
        "--url",
        &gw.url,
        "--token",
        TOKEN,
    ]);
    let mut follow = Proc::spawn(cmd);
    follow.wait_line("\"type\":\"meta\"");
    let (code, _, stderr) = gw.cli(&["gateway", "call", "health"]);
    assert_eq!(code, Some(0), "{stderr}");
    // The `recv` debug line of that call, as a `log` object (its raw line escapes quotes).
    let line = follow.wait_line(r#"\"method\":\"health\""#);
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["type"], "log");
    assert_eq!(v["message"], "recv");
    // Only one meta line: the file did not change.
    assert_eq!(
        follow
            .stdout
            .iter()
            .filter(|l| l.contains("\"type\":\"meta\""))
            .count(),
        1
    );
}

#[test]
fn logs_from_an_unreachable_gateway_fail_with_the_reference_text() {
    let home = common::home();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}");
    let mut cmd = openclaw(home.path());
    cmd.args(["logs", "--url", &url, "--token", "x"]);
    let (status, stdout, stderr) = run(cmd);
    assert_eq!(status.code(), Some(1));
    assert_eq!(stdout, "");
    let config = home.path().join(".openclaw").join("openclaw.json");
    let details = format!(
        "Gateway target: {url}\nSource: cli --url\nConfig: {}",
        config.display()
    );
    assert_eq!(
        stderr,
        format!(
            "Gateway not reachable at {url} (ECONNREFUSED).\nStart it with `openclaw gateway run` or check \
             `openclaw gateway status`.\n{details}\n{details}\nHint: run `openclaw doctor`.\n"
        )
    );
    let mut cmd = openclaw(home.path());
    cmd.args(["logs", "--json", "--url", &url, "--token", "x"]);
    let (status, stdout, stderr) = run(cmd);
    assert_eq!(status.code(), Some(1));
    assert_eq!(stdout, "");
    let error: Value = serde_json::from_str(stderr.trim()).unwrap();
    assert_eq!(error["type"], "error");
    assert_eq!(error["details"]["urlSource"], "cli --url");
    assert_eq!(error["hint"], "Hint: run `openclaw doctor`.");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .starts_with("Gateway not reachable at"));
}

#[test]
fn logs_tail_rpc_cursor_semantics() {
    let gw = start("info");
    gw.logs_until(&["--json"], |out| out.contains("gateway listening"));
    let tail = |params: Value| -> Value {
        let (code, stdout, stderr) = gw.cli(&[
            "gateway",
            "call",
            "logs.tail",
            "--json",
            "--params",
            &params.to_string(),
        ]);
        assert_eq!(code, Some(0), "{stderr}");
        serde_json::from_str(&stdout).unwrap()
    };
    let first = tail(serde_json::json!({}));
    let size = first["size"].as_u64().unwrap();
    assert_eq!(first["file"], gw.log.display().to_string());
    assert_eq!(first["cursor"], size);
    assert_eq!(
        (first["truncated"].clone(), first["reset"].clone()),
        (false.into(), false.into())
    );
    let lines = first["lines"].as_array().unwrap().len();
    assert!(lines >= 1, "{first}");

    // At the end: nothing new, same cursor.
    let at_end = tail(serde_json::json!({ "cursor": size }));
    assert_eq!(at_end["lines"], serde_json::json!([]));
    assert_eq!(at_end["cursor"], size);
    assert_eq!(at_end["reset"], false);

    // A cursor past the end (rotation): reset, read again from the start.
    let past = tail(serde_json::json!({ "cursor": size + 1000 }));
    assert_eq!(past["reset"], true);
    assert_eq!(past["lines"].as_array().unwrap().len(), lines);

    // maxBytes smaller than the last line: the partial line is not returned.
    let small = tail(serde_json::json!({ "maxBytes": 10 }));
    assert_eq!(small["truncated"], true);
    assert_eq!(small["lines"], serde_json::json!([]));

    // A partial last line waits until its newline arrives.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&gw.log)
        .unwrap();
    std::io::Write::write_all(&mut file, b"{\"x\":1").unwrap();
    let partial = tail(serde_json::json!({ "cursor": size }));
    assert_eq!(partial["lines"], serde_json::json!([]));
    assert_eq!(partial["cursor"], size);
    std::io::Write::write_all(&mut file, b"}\n").unwrap();
    let whole = tail(serde_json::json!({ "cursor": size, "limit": 1 }));
    assert_eq!(whole["lines"], serde_json::json!(["{\"x\":1}"]));
    assert_eq!(whole["cursor"], size + 8);

    // Lines read back are redacted too (written by something that did not mask them).
    let leaked =
        b"{\"1\":\"leaked OPENAI_API_KEY=abcdefghijklmnopqrstuvwxyz\",\"token\":\"abc\"}\n";
    std::io::Write::write_all(&mut file, leaked).unwrap();
    let masked = tail(serde_json::json!({ "cursor": size + 8 }));
    assert_eq!(
        masked["lines"],
        serde_json::json!(["{\"1\":\"leaked OPENAI_API_KEY=abcdef…wxyz\",\"token\":\"***\"}"])
    );

    // Truncated file: the old cursor is past the end.
    std::fs::write(&gw.log, "").unwrap();
    let truncated = tail(serde_json::json!({ "cursor": size }));
    assert_eq!(truncated["reset"], true);
    assert_eq!(truncated["size"], 0);
}

#[test]
fn a_logging_level_edit_applies_without_a_restart() {
    let gw = start("info");
    gw.logs_until(&["--json"], |out| out.contains("gateway listening"));
    let config_path = gw.home.path().join(".openclaw").join("openclaw.json");
    let config = serde_json::json!({
        "gateway": { "auth": { "token": TOKEN } },
        "logging": { "file": gw.log, "level": "debug" },
    });
    std::fs::write(&config_path, config.to_string()).unwrap();
    // Once the reload is in, every call leaves a debug `recv` line; a restart would have
    // logged a second start line.
    let out = gw.logs_until(&["--json", "--limit", "500"], |out| {
        out.contains(r#"\"2\":\"recv\""#)
    });
    let starts = json_lines(&out)
        .iter()
        .filter(|l| l["message"] == "gateway listening")
        .count();
    assert_eq!(
        starts, 1,
        "the gateway restarted instead of hot-applying: {out}"
    );
}

#[test]
fn an_unusable_log_file_is_reported_once_and_logs_tail_fails_unavailable() {
    let home = common::home();
    let state = home.path().join(".openclaw");
    let log = home.path().join("a-directory.log");
    std::fs::create_dir_all(&log).unwrap();
    std::fs::create_dir_all(&state).unwrap();
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
    let mut call = openclaw(home.path());
    call.args([
        "gateway",
        "call",
        "logs.tail",
        "--url",
        &url,
        "--token",
        TOKEN,
    ]);
    let (status, _, stderr) = run(call);
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.contains("UNAVAILABLE: log read failed: Log path is not a regular file"),
        "{stderr}"
    );
    // The gateway keeps running and logging to the console; the file failures cost one
    // warning on stderr, however many lines failed (start, signal, stop).
    proc.signal("TERM");
    assert!(proc.wait_exit().success());
    assert!(proc.all_stdout().contains("gateway listening"));
    let stderr = proc.stderr();
    assert_eq!(
        stderr.matches("cannot write the log file").count(),
        1,
        "{stderr}"
    );
}
