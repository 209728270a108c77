//! Conformance with the reference node host: `openclaw-peer cli node run --host 127.0.0.1
//! --port P --no-tls` (npm `openclaw@2026.9.6`) connects to OUR gateway with its signed device
//! identity, and our pairing store records it.
//!
//! The peer must be installed (`scripts/openclaw-peer install`, done by `.ci/run`); without it
//! these tests FAIL with instructions. Each node host runs in its own HOME and process group,
//! killed (the whole group) when the test ends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use openclaw_core::auth::{AuthMode, Secret};
use openclaw_io::state_db::StateDb;
use openclaw_io::{devices_db, Gateway, ServerConfig};
use openclaw_tests::e2e::{Msg, RawWs};
use openclaw_tests::peer::peer;
use serde_json::Value;

/// The e2e helpers' token (their `RawWs::authed` operator uses it).
use openclaw_tests::e2e::TOKEN;
/// Bound on the node host's start-up and first connect (Node start-up is 2-3 s, more under load).
const NODE_DEADLINE: Duration = Duration::from_secs(120);

/// The reference node host, in its own process group.
struct NodeHost {
    child: tokio::process::Child,
    home: std::sync::Arc<tempfile::TempDir>,
}

impl NodeHost {
    fn spawn(port: u16) -> Self {
        Self::spawn_in(std::sync::Arc::new(tempfile::tempdir().unwrap()), port)
    }

    /// A node host with the HOME (so the device identity) of an earlier one.
    fn spawn_in(home: std::sync::Arc<tempfile::TempDir>, port: u16) -> Self {
        let peer = peer();
        let log = std::fs::File::create(home.path().join("node-host.log")).unwrap();
        let child = tokio::process::Command::new(&peer.script)
            .args(["cli", "node", "run", "--host", "127.0.0.1", "--port", &port.to_string(), "--no-tls"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("OPENCLAW_PEER_HOME", &peer.cache)
            .env("OPENCLAW_GATEWAY_TOKEN", TOKEN)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the reference node host");
        Self { child, home }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("node-host.log")).unwrap_or_default()
    }
}

impl Drop for NodeHost {
    fn drop(&mut self) {
        // The wrapper script runs Node as a child: end the whole group, not just the script.
        if let Some(pid) = self.child.id() {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

async fn gateway(state: &std::path::Path, tweak: impl FnOnce(&mut ServerConfig)) -> Gateway {
    let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut config = ServerConfig::new(bind, AuthMode::Token(Some(Secret::new(TOKEN))));
    config.state_dir = Some(state.display().to_string());
    tweak(&mut config);
    Gateway::start(config).await.expect("start our gateway")
}

/// Waits for an event frame `pred` accepts on `ws` (skipping everything else).
async fn event(ws: &mut RawWs, node: &NodeHost, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let found = tokio::time::timeout(NODE_DEADLINE, async {
        loop {
            match ws.recv_within(NODE_DEADLINE).await {
                Msg::Text(f) if f["type"] == "event" && pred(&f) => return Some(f),
                Msg::Text(_) | Msg::Ping | Msg::Pong => {}
                Msg::Close(..) | Msg::Gone => return None,
            }
        }
    })
    .await;
    match found {
        Ok(Some(f)) => f,
        Ok(None) => panic!("the operator socket closed before {what}; node host log:\n{}", node.log()),
        Err(_) => panic!("no {what} within {NODE_DEADLINE:?}; node host log:\n{}", node.log()),
    }
}

fn lists_node_host(f: &Value) -> bool {
    f["event"] == "presence"
        && f["payload"]["presence"].as_array().is_some_and(|rows| rows.iter().any(|r| r["clientId"] == "node-host"))
}

#[tokio::test]
async fn the_reference_node_host_is_paired_silently_on_loopback_and_the_pairing_is_on_disk() {
    let state = tempfile::tempdir().unwrap();
    let gw = gateway(state.path(), |_| {}).await;
    let (mut op, _) = RawWs::authed(gw.local_addr()).await;
    op.set_auto_pong(true);
    let node = NodeHost::spawn(gw.local_addr().port());
    let presence = event(&mut op, &node, "the node host in presence", lists_node_host).await;
    let row = presence["payload"]["presence"].as_array().unwrap().iter().find(|r| r["clientId"] == "node-host").unwrap().clone();
    assert_eq!(row["roles"], serde_json::json!(["node"]), "{row}");
    assert_eq!(row["mode"], "node");

    // The pairing is in the state database (read through a second handle on the file).
    let store = devices_db::load(&StateDb::in_state_dir(state.path())).unwrap();
    let paired: Vec<_> = store.paired().collect();
    assert_eq!(paired.len(), 1, "{paired:?}");
    let device = paired[0];
    assert_eq!(device.client_id.as_deref(), Some("node-host"));
    assert_eq!(device.approved_via, "silent");
    assert_eq!(device.roles, vec!["node"]);
    assert!(device.live_token("node").is_some(), "a node token was issued: {device:?}");
    assert_eq!(device.device_id.len(), 64);
    drop(node);
    gw.shutdown("test over", None);
}

#[tokio::test]
async fn with_auto_approve_local_off_the_reference_cli_lists_and_approves_the_node_host() {
    let state = tempfile::tempdir().unwrap();
    let gw = gateway(state.path(), |c| c.settings.gateway.auto_approve_local = Some(false)).await;
    let mut op = RawWs::connect(gw.local_addr()).await;
    op.set_auto_pong(true); // this socket waits long: answer the keepalive pings
    op.challenge().await;
    let mut req = openclaw_tests::e2e::connect_req("c1", Some(TOKEN));
    req["params"]["scopes"] = serde_json::json!(["operator.pairing"]);
    op.send_json(&req).await;
    assert_eq!(op.res("c1").await["ok"], true);
    let node = NodeHost::spawn(gw.local_addr().port());
    let requested = event(&mut op, &node, "device.pair.requested", |f| f["event"] == "device.pair.requested").await;
    let p = &requested["payload"];
    assert_eq!(p["clientId"], "node-host", "{p}");
    assert_eq!(p["role"], "node");
    assert_eq!(p["silent"], false);
    let request_id = p["requestId"].as_str().unwrap().to_owned();
    drop(op); // not read while the CLI runs below
    let store = devices_db::load(&StateDb::in_state_dir(state.path())).unwrap();
    assert_eq!(store.paired().count(), 0);
    let pending: Vec<_> = store.pending().collect();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].request_id, request_id);

    // The reference CLI reads our store and approves the request (it retries with admin after
    // the pairing-only attempt is denied, as against the reference).
    let url = format!("ws://{}", gw.local_addr());
    let cli_home = tempfile::tempdir().unwrap();
    let list = peer_cli(cli_home.path(), &["devices", "list", "--json", "--url", &url, "--token", TOKEN]).await;
    assert_eq!(list.code, Some(0), "{list:#?}");
    let listed = list.json();
    let row = listed["pending"].as_array().unwrap().iter().find(|r| r["requestId"] == request_id.as_str());
    let row = row.unwrap_or_else(|| panic!("request {request_id} not listed: {listed}"));
    assert_eq!(row["clientId"], "node-host");
    assert_eq!(row["roles"], serde_json::json!(["node"]));
    let approve =
        peer_cli(cli_home.path(), &["devices", "approve", &request_id, "--json", "--url", &url, "--token", TOKEN]).await;
    assert_eq!(approve.code, Some(0), "{approve:#?}");
    assert!(!approve.stderr.contains("Error"), "{approve:#?}");
    let approved = approve.json();
    assert_eq!(approved["requestId"], request_id.as_str(), "{approved}");
    assert_eq!(approved["device"]["clientId"], "node-host");
    // The node host (same identity, restarted: the reference pauses after PAIRING_REQUIRED)
    // is admitted now.
    let home = std::sync::Arc::clone(&node.home);
    drop(node);
    let (mut op, hello) = RawWs::authed(gw.local_addr()).await;
    op.set_auto_pong(true);
    let node = NodeHost::spawn_in(home, gw.local_addr().port());
    let snapshot = serde_json::json!({"event": "presence", "payload": {"presence": hello["snapshot"]["presence"]}});
    if !lists_node_host(&snapshot) {
        event(&mut op, &node, "the approved node host in presence", lists_node_host).await;
    }
    let store = devices_db::load(&StateDb::in_state_dir(state.path())).unwrap();
    let node_row = store.paired().find(|d| d.client_id.as_deref() == Some("node-host")).expect("node paired");
    assert_eq!(node_row.approved_via, "owner");
    drop(node);
    gw.shutdown("test over", None);
}

/// What one reference CLI run produced.
#[derive(Debug)]
struct PeerRun {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl PeerRun {
    fn json(&self) -> Value {
        let text = self.stdout.trim();
        let start = text.find(['{', '[']).unwrap_or(0);
        serde_json::from_str(&text[start..]).unwrap_or_else(|e| panic!("reference stdout is not JSON ({e}): {self:#?}"))
    }
}

/// Runs `openclaw-peer cli <args>` with HOME at `home`.
async fn peer_cli(home: &std::path::Path, args: &[&str]) -> PeerRun {
    let peer = peer();
    let child = tokio::process::Command::new(&peer.script)
        .arg("cli")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("OPENCLAW_PEER_HOME", &peer.cache)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the reference CLI");
    let out = tokio::time::timeout(NODE_DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("reference CLI {args:?} did not finish in {NODE_DEADLINE:?}"))
        .expect("reference CLI output");
    PeerRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
