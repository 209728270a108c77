//! Conformance with the reference CLI's device commands: `openclaw-peer cli devices
//! list|approve|rename|rotate|revoke|remove|reject --json` (npm `openclaw@2026.9.6`) against OUR
//! gateway with `autoApproveLocal: false`, where a signed test device (Ed25519, the v3 proof)
//! waits with NOT_PAIRED. Each command must succeed and print what our store holds; the store
//! on disk must agree.
//!
//! The peer must be installed (`scripts/openclaw-peer install`, done by `.ci/run`); without it
//! this test FAILS with instructions. Every reference CLI run has its own HOME.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use openclaw_core::auth::{AuthMode, Secret};
use openclaw_core::testing::device::TestDevice;
use openclaw_io::state_db::StateDb;
use openclaw_io::{devices_db, Gateway, ServerConfig};
use openclaw_tests::e2e::{RawWs, TOKEN};
use openclaw_tests::peer::peer;
use serde_json::{json, Value};

/// Bound on one reference CLI run (Node start-up is 2-3 s, more under load).
const CLI_DEADLINE: Duration = Duration::from_secs(120);

async fn gateway(state: &std::path::Path) -> Gateway {
    let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut config = ServerConfig::new(bind, AuthMode::Token(Some(Secret::new(TOKEN))));
    config.state_dir = Some(state.display().to_string());
    config.settings.gateway.auto_approve_local = Some(false);
    Gateway::start(config).await.expect("start our gateway")
}

/// `d` connects as a node host with `auth`, signing this socket's challenge; the answer.
async fn connect_device(addr: SocketAddr, d: &TestDevice, auth: Value) -> Value {
    let mut ws = RawWs::connect(addr).await;
    let challenge = ws.challenge().await;
    let nonce = challenge["payload"]["nonce"].as_str().unwrap();
    let signed_at = challenge["payload"]["ts"].as_u64().unwrap();
    let mut req = json!({"type": "req", "id": "c1", "method": "connect"});
    req["params"] = d.node_params(nonce, signed_at, auth);
    ws.send_json(&req).await;
    ws.res("c1").await
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
        assert_eq!(self.code, Some(0), "{self:#?}");
        assert!(!self.stderr.contains("command failed"), "{self:#?}");
        let text = self.stdout.trim();
        let start = text.find(['{', '[']).unwrap_or(0);
        serde_json::from_str(&text[start..]).unwrap_or_else(|e| panic!("reference stdout is not JSON ({e}): {self:#?}"))
    }
}

/// `openclaw-peer cli devices <args> --json --url ws://addr --token TOKEN` in a fresh HOME.
async fn devices(addr: SocketAddr, args: &[&str]) -> PeerRun {
    let peer = peer();
    let home = tempfile::tempdir().unwrap();
    let url = format!("ws://{addr}");
    let child = tokio::process::Command::new(&peer.script)
        .args(["cli", "devices"])
        .args(args)
        .args(["--json", "--url", &url, "--token", TOKEN])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("OPENCLAW_PEER_HOME", &peer.cache)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the reference CLI");
    let out = tokio::time::timeout(CLI_DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("reference CLI devices {args:?} did not finish in {CLI_DEADLINE:?}"))
        .expect("reference CLI output");
    PeerRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test]
async fn the_reference_devices_commands_manage_our_pairing_store() {
    let state = tempfile::tempdir().unwrap();
    let gw = gateway(state.path()).await;
    let addr = gw.local_addr();
    let d = TestDevice::new(61);
    let refused = connect_device(addr, &d, json!({"token": TOKEN})).await;
    assert_eq!(refused["error"]["details"]["code"], "PAIRING_REQUIRED", "{refused}");
    let request_id = refused["error"]["details"]["requestId"].as_str().unwrap().to_owned();

    let list = devices(addr, &["list"]).await.json();
    assert_eq!(list["paired"], json!([]), "{list}");
    assert_eq!(list["pending"][0]["requestId"], request_id.as_str(), "{list}");
    assert_eq!(list["pending"][0]["deviceId"], d.id());

    let approved = devices(addr, &["approve", &request_id]).await.json();
    assert_eq!(approved["requestId"], request_id.as_str(), "{approved}");
    assert_eq!(approved["device"]["deviceId"], d.id());
    let hello = connect_device(addr, &d, json!({"token": TOKEN})).await;
    let token = hello["payload"]["auth"]["deviceToken"].as_str().unwrap_or_else(|| panic!("{hello}")).to_owned();

    let renamed = devices(addr, &["rename", "--device", &d.id(), "--name", "kitchen"]).await.json();
    assert_eq!(renamed, json!({"deviceId": d.id(), "label": "kitchen"}));

    let rotated = devices(addr, &["rotate", "--device", &d.id(), "--role", "node"]).await.json();
    assert_eq!(rotated["deviceId"], d.id(), "{rotated}");
    assert_eq!(rotated["tokenDelivery"], "withheld-cross-device", "{rotated}");
    let hello = connect_device(addr, &d, json!({"token": TOKEN})).await;
    let fresh = hello["payload"]["auth"]["deviceToken"].as_str().unwrap_or_else(|| panic!("{hello}")).to_owned();
    assert_ne!(fresh, token);
    let old = connect_device(addr, &d, json!({"deviceToken": token})).await;
    assert_eq!(old["error"]["details"]["code"], "AUTH_DEVICE_TOKEN_MISMATCH", "{old}");
    assert_eq!(connect_device(addr, &d, json!({"deviceToken": fresh})).await["ok"], true);

    let revoked = devices(addr, &["revoke", "--device", &d.id(), "--role", "node"]).await.json();
    assert_eq!(revoked["role"], "node", "{revoked}");
    let store = devices_db::load(&StateDb::in_state_dir(state.path())).unwrap();
    let row = store.paired_device(&d.id()).expect("still paired");
    assert!(row.live_token("node").is_none(), "revoked on disk: {row:?}");

    let removed = devices(addr, &["remove", &d.id()]).await.json();
    assert_eq!(removed["deviceId"], d.id(), "{removed}");

    let other = TestDevice::new(62);
    let refused = connect_device(addr, &other, json!({"token": TOKEN})).await;
    let rejected_id = refused["error"]["details"]["requestId"].as_str().unwrap().to_owned();
    let rejected = devices(addr, &["reject", &rejected_id]).await.json();
    assert_eq!(rejected, json!({"requestId": rejected_id, "deviceId": other.id()}));

    let list = devices(addr, &["list"]).await.json();
    assert_eq!(list, json!({"pending": [], "paired": []}));
    let store = devices_db::load(&StateDb::in_state_dir(state.path())).unwrap();
    assert_eq!((store.pending().count(), store.paired().count()), (0, 0));
    gw.shutdown("test over", None);
}
