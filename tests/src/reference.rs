//! The reference gateway (openclaw 2026.9.6, `openclaw-peer gateway run`) as the conformance
//! tests start it: a fresh HOME with `~/.openclaw/openclaw.json`, token auth on a free loopback
//! port, killed when dropped; its methods called through its own CLI (`gateway call … --json`).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // test support: setup errors panic

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::bench::target::free_port;
use crate::e2e::TOKEN;

/// Node start-up and the reference's plugin loading take a while on a loaded machine.
pub const PEER_START: Duration = Duration::from_secs(180);
/// One step of the reference (a Bot API call, a CLI run).
pub const PEER_STEP: Duration = Duration::from_secs(120);

/// The reference gateway, killed when dropped.
pub struct Reference {
    pub port: u16,
    _child: Child,
    home: tempfile::TempDir,
}

impl Reference {
    /// Starts the reference with `config` as its `openclaw.json` (in `$HOME/.openclaw`).
    pub async fn start(config: &Value) -> Self {
        let peer = crate::peer::peer();
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".openclaw");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("openclaw.json"), config.to_string()).unwrap();
        let port = free_port().unwrap();
        let mut cmd = Command::new(&peer.script);
        cmd.args(["gateway", "run", "--allow-unconfigured", "--bind", "loopback", "--port", &port.to_string()])
            .args(["--auth", "token", "--token", TOKEN])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("OPENCLAW_PEER_HOME", &peer.cache)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn the reference gateway (scripts/openclaw-peer install first)");
        // Keep draining its stdout so a full pipe never blocks it.
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { port, _child: child, home }
    }

    /// Its state directory (`$HOME/.openclaw`).
    pub fn state_dir(&self) -> PathBuf {
        self.home.path().join(".openclaw")
    }

    /// One method as the reference CLI prints its result (`gateway call <method> --json`).
    pub async fn call(&self, method: &str) -> Value {
        self.call_with(method, &serde_json::json!({})).await.unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// One method with params: the result, or the CLI's error output.
    pub async fn call_with(&self, method: &str, params: &Value) -> Result<Value, String> {
        let peer = crate::peer::peer();
        let url = format!("ws://127.0.0.1:{}", self.port);
        let mut cmd = Command::new(&peer.script);
        cmd.args(["cli", "gateway", "call", method, "--url", &url, "--token", TOKEN, "--json", "--params", &params.to_string()])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("OPENCLAW_PEER_HOME", &peer.cache)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let out = tokio::time::timeout(PEER_STEP, cmd.spawn().expect("spawn the reference CLI").wait_with_output())
            .await
            .expect("the reference CLI finishes")
            .expect("reference CLI output");
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
        }
        let start = stdout.find('{').unwrap_or(0);
        Ok(serde_json::from_str(&stdout[start..]).unwrap_or_else(|e| panic!("reference stdout is not JSON ({e}): {stdout}")))
    }
}
