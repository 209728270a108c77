//! The Control UI and the canvas host in a real browser: Debian's `chromium`, driven over the
//! DevTools protocol by `tests/ui_browser/drive.py` (the `websockets` package; nothing
//! downloads a browser), against our gateway with the embedded UI. Screenshots of every page
//! land in `target/ui-screenshots/`. Fails (saying what to install) without chromium.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::process::Stdio;
use std::time::Duration;

use openclaw_tests::e2e::{gateway, within, TOKEN};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn chromium() -> String {
    let found = ["chromium", "chromium-browser"].into_iter().find(|name| {
        std::process::Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success())
    });
    found.expect("the browser tests need Debian's chromium (`apt-get install -y chromium`, as .ci/run does)").to_owned()
}

/// `ui-screenshots/` under `CARGO_TARGET_DIR` when it is set for the run, else under the
/// workspace's `target/`.
fn shots_dir() -> String {
    let target = std::env::var("CARGO_TARGET_DIR")
        .ok()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| format!("{}/../target", env!("CARGO_MANIFEST_DIR")));
    format!("{target}/ui-screenshots")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_ui_connects_in_chromium_and_canvas_reloads() {
    let browser = chromium();
    let state = tempfile::tempdir().unwrap();
    let doc = state.path().join("canvas/documents/demo");
    std::fs::create_dir_all(&doc).unwrap();
    std::fs::write(doc.join("index.html"), "<html><body><h1>version 1</h1></body></html>").unwrap();
    let state_dir = state.path().display().to_string();
    let gw = gateway(move |c| {
        c.state_dir = Some(state_dir);
        c.settings.gateway.control_ui.enabled = true;
    })
    .await;
    let shots = shots_dir();
    let script = format!("{}/ui_browser/drive.py", env!("CARGO_MANIFEST_DIR"));
    let url = format!("http://{}", gw.local_addr());
    let mut child = Command::new("python3")
        .args([script.as_str(), "--url", &url, "--token", TOKEN, "--chromium", &browser, "--shots", &shots, "--canvas-doc", "demo"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn python3");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let long = Duration::from_secs(120);
    let mut seen = Value::Null;
    while let Some(line) = tokio::time::timeout(long, lines.next_line()).await.expect("the driver answered in time").unwrap() {
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if v["canvas_ready"] == true {
            // The page is open with its live-reload socket: change the document.
            std::fs::write(doc.join("index.html"), "<html><body><h1>version 2</h1></body></html>").unwrap();
        } else {
            seen = v;
        }
    }
    let status = tokio::time::timeout(long, child.wait()).await.expect("driver exit").unwrap();
    assert!(status.success() && seen.get("error").is_none(), "the browser run failed: {seen:#}");

    assert_eq!(seen["badge"], "Connected", "{seen:#}");
    assert_eq!(seen["version"], env!("CARGO_PKG_VERSION"), "{seen:#}");
    assert!(seen["auth"].as_str().unwrap().contains("role operator"), "{seen:#}");
    assert_eq!(seen["token_kept"], TOKEN, "the #token= fragment is kept in localStorage");
    assert_eq!(seen["hash_after"], "#/overview", "the token leaves the address bar");
    let device = seen["device_id"].as_str().expect("a WebCrypto Ed25519 device id");
    assert!(device.len() == 64 && device.chars().all(|c| c.is_ascii_hexdigit()), "{device}");
    for page in ["sessions", "chat", "logs", "devices", "channels", "config"] {
        assert!(seen["pages"][page].is_string(), "page {page} rendered: {seen:#}");
    }
    assert_eq!(seen["phone_overflow"], false, "no sideways scrolling on a phone");
    assert_eq!(seen["wrong_badge"], "Auth error", "{seen:#}");
    assert!(seen["wrong_error"].as_str().unwrap().contains("unauthorized: gateway token mismatch"), "{seen:#}");
    assert_eq!(seen["wrong_form_visible"], true);
    assert_eq!(seen["typed_token_badge"], "Connected");
    assert_eq!(seen["canvas_before"], "version 1");
    assert_eq!(seen["canvas_after"], "version 2", "live reload seen by the browser");
    for shot in ["overview", "sessions", "chat", "logs", "devices", "channels", "config", "overview-phone", "wrong-token", "canvas"] {
        let path = format!("{shots}/{shot}.png");
        let png = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(png.starts_with(b"\x89PNG"), "{path}");
    }
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

/// Runs the driver in `--reference` mode against `url`; its JSON answer.
async fn drive_reference(url: &str, shots: &str) -> Value {
    let script = format!("{}/ui_browser/drive.py", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .args([script.as_str(), "--url", url, "--token", TOKEN, "--chromium", &chromium(), "--shots", shots, "--reference"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), out).await.expect("driver finished").unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The reference's built Control UI, served by our gateway from `gateway.controlUi.root`,
/// loads and connects; the methods it calls that we answer with an error are written to
/// `target/ui-screenshots/reference-ui-calls.json` for the record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_control_ui_connects_to_our_gateway() {
    let root = openclaw_tests::peer::peer().cache.join("openclaw/node_modules/openclaw/dist/control-ui");
    assert!(root.join("index.html").exists(), "the reference's built Control UI is at {}", root.display());
    let gw = gateway(move |c| {
        c.settings.gateway.control_ui.enabled = true;
        c.settings.gateway.control_ui.root = Some(root);
    })
    .await;
    let shots = shots_dir();
    let seen = drive_reference(&format!("http://{}", gw.local_addr()), &shots).await;
    std::fs::write(format!("{shots}/reference-ui-calls.json"), serde_json::to_string_pretty(&seen).unwrap()).unwrap();
    assert!(seen.get("error").is_none(), "the browser run failed: {seen:#}");
    assert_eq!(seen["connect_error"], Value::Null, "{seen:#}");
    assert_eq!(seen["hello_ok"], true, "the reference UI got hello-ok from our gateway: {seen:#}");
    assert_eq!(seen["calls"]["connect"], "ok", "{seen:#}");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
