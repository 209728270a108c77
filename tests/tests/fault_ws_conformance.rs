//! WebSocket conformance (Autobahn sections 1-7 and 10 in spirit) from an independent client:
//! `tests/ws_conformance/conformance.py` (raw RFC 6455 over sockets, plus the `websockets`
//! package) against an in-process gateway. The script decides each case against RFC 6455 and
//! prints a JSON verdict; this test fails naming every failed case.
//!
//! Python 3 and `websockets` are required (`.ci/run` installs them): when either is missing the
//! test fails with instructions, it never skips.

use std::process::Stdio;
use std::time::Duration;

use openclaw_tests::e2e::{gateway, within, TOKEN};
use serde_json::Value;
use tokio::process::Command;

/// The whole script; each of its waits is bounded at 10 s, so this only catches a hang.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(300);
const WEBSOCKETS_VERSION: &str = "15.0.1";

fn script() -> String {
    format!(
        "{}/ws_conformance/conformance.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Fails (with what to install) unless `python3` can import `websockets`.
async fn require_python() {
    let out = Command::new("python3")
        .args(["-c", "import websockets; print(websockets.__version__)"])
        .kill_on_drop(true)
        .output()
        .await;
    match out {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if version != WEBSOCKETS_VERSION {
                eprintln!("note: websockets {version} installed; CI pins {WEBSOCKETS_VERSION}");
            }
        }
        Ok(out) => panic!(
            "python3 cannot import `websockets` (run `pip install websockets=={WEBSOCKETS_VERSION}`, as .ci/run does): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("python3 is required for the WebSocket conformance suite: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc6455_conformance_from_an_independent_client() {
    require_python().await;
    let gw = gateway(|_| {}).await;
    let port = gw.local_addr().port().to_string();
    // kill_on_drop: a panicking test leaves no python behind.
    let child = Command::new("python3")
        .args([script().as_str(), "--port", port.as_str(), "--token", TOKEN])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("PYTHONDONTWRITEBYTECODE", "1") // no __pycache__ in the source tree
        .kill_on_drop(true)
        .spawn()
        .expect("spawn python3");
    let out = tokio::time::timeout(SCRIPT_DEADLINE, child.wait_with_output())
        .await
        .expect("the conformance script finished in time")
        .expect("conformance script output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "conformance.py failed ({}):\n{stderr}",
        out.status
    );
    let verdict: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verdict is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let cases = verdict["cases"].as_array().expect("cases");

    // Every section is present (a script edit cannot silently drop one).
    for prefix in ["1.", "2.", "3.", "4.", "5.", "6.", "7.", "10.", "L."] {
        assert!(
            cases
                .iter()
                .any(|c| c["id"].as_str().is_some_and(|id| id.starts_with(prefix))),
            "no case of section {prefix}"
        );
    }
    assert!(cases.len() >= 90, "only {} cases ran", cases.len());
    let failed: Vec<String> = cases
        .iter()
        .filter(|c| c["ok"] != true)
        .map(|c| {
            format!(
                "{} {}: expected {}, observed {}",
                c["id"], c["title"], c["expected"], c["observed"]
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );

    // The gateway survived all of it and still serves a fresh client.
    let (mut ws, _) = openclaw_tests::e2e::RawWs::authed(gw.local_addr()).await;
    ws.send(r#"{"type":"req","id":"h","method":"health"}"#)
        .await;
    assert_eq!(ws.res("h").await["ok"], true);
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}
