//! `openclaw devices …` through the binary against `openclaw gateway` with
//! `gateway.nodes.pairing.autoApproveLocal: false`: a signed device (a test Ed25519 key over a
//! raw WebSocket) waits with NOT_PAIRED, the CLI lists, approves, renames, rotates, revokes,
//! removes and rejects, with the reference's `--json` documents; and `kill -9` of the gateway
//! during approvals leaves the pairing store consistent (each device pending or paired, never
//! half, and a paired one's token works after the restart). Nothing sleeps.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{openclaw, run, Proc};
use openclaw_core::testing::device::TestDevice;
use openclaw_tests::e2e::RawWs;
use serde_json::{json, Value};

const TOKEN: &str = "tok-devices";

fn write_config(home: &Path) {
    let dir = home.join(".openclaw");
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        "{{ gateway: {{ auth: {{ mode: 'token', token: '{TOKEN}' }}, nodes: {{ pairing: {{ autoApproveLocal: false }} }} }} }}"
    );
    std::fs::write(dir.join("openclaw.json"), config).unwrap();
}

fn start(home: &Path, port: u16) -> (Proc, u16) {
    let mut cmd = openclaw(home);
    cmd.args(["gateway", "--allow-unconfigured", "--port", &port.to_string()]);
    let mut gw = Proc::spawn(cmd);
    let (_, port) = gw.wait_listening();
    (gw, port)
}

fn cli(home: &Path, port: u16, args: &[&str]) -> std::process::Command {
    let mut cmd = openclaw(home);
    cmd.env("OPENCLAW_GATEWAY_PORT", port.to_string()).args(args);
    cmd
}

/// Runs `openclaw devices <args>`; (exit code, stdout, stderr).
fn devices(home: &Path, port: u16, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["devices"];
    all.extend_from_slice(args);
    let (status, stdout, stderr) = run(cli(home, port, &all));
    (status.code().unwrap_or(-1), stdout, stderr)
}

fn json_of(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// `d` connects as a node host with `auth`, signing this socket's challenge; the `connect`
/// answer.
async fn connect_device(port: u16, d: &TestDevice, auth: Value) -> Value {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut ws = RawWs::connect(addr).await;
    let challenge = ws.challenge().await;
    let nonce = challenge["payload"]["nonce"].as_str().unwrap();
    let signed_at = challenge["payload"]["ts"].as_u64().unwrap();
    let mut req = json!({"type": "req", "id": "c1", "method": "connect"});
    req["params"] = d.node_params(nonce, signed_at, auth);
    ws.send_json(&req).await;
    ws.res("c1").await
}

/// As [`connect_device`], declaring `commands` (and the `system` cap): the node's surface.
async fn connect_node_declaring(port: u16, d: &TestDevice, commands: &[&str]) -> Value {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut ws = RawWs::connect(addr).await;
    let challenge = ws.challenge().await;
    let nonce = challenge["payload"]["nonce"].as_str().unwrap();
    let signed_at = challenge["payload"]["ts"].as_u64().unwrap();
    let mut req = json!({"type": "req", "id": "c1", "method": "connect"});
    req["params"] = d.node_params(nonce, signed_at, json!({"token": TOKEN}));
    req["params"]["commands"] = json!(commands);
    req["params"]["caps"] = json!(["system"]);
    ws.send_json(&req).await;
    ws.res("c1").await
}

/// Runs `openclaw nodes <args>`; (exit code, stdout, stderr).
fn nodes(home: &Path, port: u16, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["nodes"];
    all.extend_from_slice(args);
    let (status, stdout, stderr) = run(cli(home, port, &all));
    (status.code().unwrap_or(-1), stdout, stderr)
}

fn request_id_of(refused: &Value) -> String {
    assert_eq!(refused["error"]["code"], "NOT_PAIRED", "{refused}");
    refused["error"]["details"]["requestId"].as_str().unwrap().to_owned()
}

#[test]
fn the_devices_cli_lists_approves_renames_rotates_revokes_removes_and_rejects() {
    let rt = runtime();
    let home = common::home();
    write_config(home.path());
    let (_gw, port) = start(home.path(), 0);
    let h = home.path();

    let (code, stdout, _) = devices(h, port, &["list"]);
    assert_eq!((code, stdout.as_str()), (0, "No device pairing entries.\n"));

    let d = TestDevice::new(21);
    let request_id = request_id_of(&rt.block_on(connect_device(port, &d, json!({"token": TOKEN}))));
    let (code, stdout, stderr) = devices(h, port, &["list", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let list = json_of(&stdout);
    assert_eq!(list["paired"], json!([]));
    assert_eq!(list["pending"][0]["requestId"], request_id.as_str());
    assert_eq!(list["pending"][0]["deviceId"], d.id());
    assert_eq!(list["pending"][0]["clientId"], "node-host");
    let (_, stdout, _) = devices(h, port, &["list"]);
    assert!(stdout.contains("Pending (1)") && stdout.contains(&request_id), "{stdout}");

    // Without an id: the latest request and the exact command, exit 1 (as the reference).
    let (code, stdout, stderr) = devices(h, port, &["approve"]);
    assert_eq!(code, 1);
    assert!(stdout.contains(&format!("Selected pending device request {request_id}")), "{stdout}");
    assert!(stderr.contains(&format!("Approve this exact request with: openclaw devices approve {request_id}")), "{stderr}");
    let (code, stdout, _) = devices(h, port, &["approve", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(json_of(&stdout)["selected"]["requestId"], request_id.as_str());

    // An unknown id: the gateway's error, exit 1.
    let (code, stdout, _) = devices(h, port, &["approve", "nope", "--json"]);
    assert_eq!(code, 1);
    let err = json_of(&stdout);
    assert_eq!(err["ok"], false);
    assert_eq!(err["error"]["message"], "unknown requestId", "{err}");

    let (code, stdout, stderr) = devices(h, port, &["approve", &request_id, "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let approved = json_of(&stdout);
    assert_eq!(approved["requestId"], request_id.as_str());
    assert_eq!(approved["device"]["deviceId"], d.id());
    assert_eq!(approved["device"]["approvedVia"], "owner");
    assert!(approved["device"]["tokens"][0].get("token").is_none(), "{approved}");

    // Paired now: the gateway token gets a device token, which then works alone.
    let hello = rt.block_on(connect_device(port, &d, json!({"token": TOKEN})));
    let token = hello["payload"]["auth"]["deviceToken"].as_str().unwrap_or_else(|| panic!("{hello}")).to_owned();
    assert_eq!(rt.block_on(connect_device(port, &d, json!({"deviceToken": token})))["ok"], true);
    let (_, stdout, _) = devices(h, port, &["list"]);
    assert!(stdout.contains("Paired (1)") && stdout.contains(&d.id()), "{stdout}");

    let (code, stdout, _) = devices(h, port, &["rename", "--device", &d.id(), "--name", "kitchen", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json_of(&stdout), json!({"deviceId": d.id(), "label": "kitchen"}));
    let (_, stdout, _) = devices(h, port, &["rename", "--device", &d.id(), "--name", "attic"]);
    assert_eq!(stdout, format!("Renamed {} → attic\n", d.id()));

    // Rotate prints JSON with or without --json (the token itself only goes to the device);
    // the old token is dead, the device gets the new one on its next connect.
    let (code, stdout, stderr) = devices(h, port, &["rotate", "--device", &d.id(), "--role", "node"]);
    assert_eq!(code, 0, "{stderr}");
    let rotated = json_of(&stdout);
    assert_eq!(rotated["role"], "node");
    assert_eq!(rotated["tokenDelivery"], "withheld-cross-device", "{rotated}");
    assert!(rotated.get("token").is_none(), "{rotated}");
    let old = rt.block_on(connect_device(port, &d, json!({"deviceToken": token})));
    assert_eq!(old["error"]["details"]["code"], "AUTH_DEVICE_TOKEN_MISMATCH", "{old}");
    let hello = rt.block_on(connect_device(port, &d, json!({"token": TOKEN})));
    let fresh = hello["payload"]["auth"]["deviceToken"].as_str().unwrap_or_else(|| panic!("{hello}")).to_owned();
    assert_ne!(fresh, token);
    assert_eq!(rt.block_on(connect_device(port, &d, json!({"deviceToken": fresh})))["ok"], true);

    let (code, stdout, _) = devices(h, port, &["revoke", "--device", &d.id(), "--role", "node"]);
    assert_eq!(code, 0);
    assert_eq!(json_of(&stdout)["role"], "node");
    let revoked = rt.block_on(connect_device(port, &d, json!({"deviceToken": fresh})));
    assert_eq!(revoked["error"]["details"]["code"], "AUTH_DEVICE_TOKEN_MISMATCH", "{revoked}");

    let (code, stdout, _) = devices(h, port, &["remove", &d.id()]);
    assert_eq!((code, stdout), (0, format!("Removed {}\n", d.id())));
    let (code, _, stderr) = devices(h, port, &["remove", &d.id()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("unknown deviceId"), "{stderr}");

    // A second device is rejected: gone from the list.
    let other = TestDevice::new(22);
    let rejected_id = request_id_of(&rt.block_on(connect_device(port, &other, json!({"token": TOKEN}))));
    let (code, stdout, _) = devices(h, port, &["reject", &rejected_id, "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json_of(&stdout), json!({"requestId": rejected_id, "deviceId": other.id()}));
    let (_, stdout, _) = devices(h, port, &["list", "--json"]);
    assert_eq!(json_of(&stdout), json!({"pending": [], "paired": []}));

    // Usage errors before any connection.
    let (code, _, stderr) = devices(h, port, &["rotate", "--device", &d.id()]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn devices_clear_removes_every_pairing_and_with_pending_rejects_the_requests() {
    let rt = runtime();
    let home = common::home();
    write_config(home.path());
    let h = home.path();
    let (_gw, port) = start(h, 0);
    let (a, b, c) = (TestDevice::new(61), TestDevice::new(62), TestDevice::new(63));
    for d in [&a, &b] {
        let id = request_id_of(&rt.block_on(connect_device(port, d, json!({"token": TOKEN}))));
        assert_eq!(devices(h, port, &["approve", &id]).0, 0);
    }
    let waiting = request_id_of(&rt.block_on(connect_device(port, &c, json!({"token": TOKEN}))));

    // Destructive: refused without --yes (nothing changes).
    let (code, stdout, stderr) = devices(h, port, &["clear"]);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(stderr.contains("Refusing to clear pairing table without --yes"), "{stderr}");
    assert_eq!(json_of(&devices(h, port, &["list", "--json"]).1)["paired"].as_array().map(Vec::len), Some(2));

    // Without --pending the pending request stays.
    let (code, stdout, _) = devices(h, port, &["clear", "--yes", "--json"]);
    assert_eq!(code, 0);
    let doc = json_of(&stdout);
    let mut removed: Vec<&str> = doc["removedDevices"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    removed.sort_unstable();
    let mut expected = [a.id(), b.id()];
    expected.sort();
    assert_eq!(removed, expected.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(doc["rejectedPending"], json!([]));
    let list = json_of(&devices(h, port, &["list", "--json"]).1);
    assert_eq!(list["paired"], json!([]));
    assert_eq!(list["pending"][0]["requestId"], json!(waiting));
    // The removed devices must pair again.
    assert_eq!(rt.block_on(connect_device(port, &a, json!({"token": TOKEN})))["error"]["code"], "NOT_PAIRED");

    // With --pending (human output): every pending request is rejected too.
    let (code, stdout, stderr) = devices(h, port, &["clear", "--yes", "--pending"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "Cleared 0 paired devices\nRejected 2 pending requests\n");
    assert_eq!(json_of(&devices(h, port, &["list", "--json"]).1), json!({"pending": [], "paired": []}));
}

/// Kills the gateway (SIGKILL) at a point of round `i` while `openclaw devices approve` runs.
fn kill_during_approval(gw: &mut Proc, approve: &mut Proc, i: usize) {
    match i % 3 {
        // As soon as the approval command is running.
        0 => {}
        // A spin of a few hundred microseconds to a few milliseconds.
        1 => {
            let until = Instant::now() + Duration::from_micros(300 + (i as u64 * 1_237) % 6_000);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
        }
        // Once the approval was answered (the command printed its result).
        _ => {
            approve.wait_line("requestId");
        }
    }
    gw.signal("KILL");
    gw.wait_exit();
}

#[test]
fn kill_9_during_approval_leaves_each_device_pending_or_paired_with_a_working_token() {
    const ROUNDS: usize = 9;
    let rt = runtime();
    let home = common::home();
    write_config(home.path());
    let h = home.path();
    let (mut gw, port) = start(h, 0);
    let (mut paired_rounds, mut pending_rounds) = (0, 0);
    for i in 0..ROUNDS {
        let d = TestDevice::new(40 + i as u8);
        let request_id = request_id_of(&rt.block_on(connect_device(port, &d, json!({"token": TOKEN}))));
        let mut approve = Proc::spawn(cli(h, port, &["devices", "approve", &request_id, "--json"]));
        kill_during_approval(&mut gw, &mut approve, i);
        approve.wait_exit();

        // Restart on the same port; the store must hold the device whole in one place.
        (gw, _) = start(h, port);
        let (code, stdout, stderr) = devices(h, port, &["list", "--json"]);
        assert_eq!(code, 0, "round {i}: {stderr}");
        let list = json_of(&stdout);
        let pending = list["pending"].as_array().unwrap().iter().filter(|r| r["deviceId"] == d.id()).count();
        let paired: Vec<&Value> = list["paired"].as_array().unwrap().iter().filter(|r| r["deviceId"] == d.id()).collect();
        assert_eq!(pending + paired.len(), 1, "round {i}: the device is not in exactly one place: {list:#}");
        if pending == 1 {
            pending_rounds += 1;
            // Still approvable after the restart.
            let (code, _, stderr) = devices(h, port, &["approve", &request_id]);
            assert_eq!(code, 0, "round {i}: {stderr}");
        } else {
            paired_rounds += 1;
            let row = paired[0];
            assert_eq!(row["roles"], json!(["node"]), "round {i}: {row}");
            assert_eq!(row["tokens"].as_array().map(Vec::len), Some(1), "round {i}: a pairing without its token: {row}");
        }
        // Either way the device is admitted now and its device token works alone.
        let hello = rt.block_on(connect_device(port, &d, json!({"token": TOKEN})));
        let token = hello["payload"]["auth"]["deviceToken"].as_str().unwrap_or_else(|| panic!("round {i}: {hello}")).to_owned();
        let again = rt.block_on(connect_device(port, &d, json!({"deviceToken": token})));
        assert_eq!(again["ok"], true, "round {i}: {again}");
    }
    eprintln!("after kill -9: {paired_rounds} rounds paired, {pending_rounds} pending");
    // The answered-then-killed rounds are always paired.
    assert!(paired_rounds >= ROUNDS / 3, "paired {paired_rounds}, pending {pending_rounds}");
}

#[test]
fn kill_9_during_node_surface_approval_leaves_the_surface_pending_or_approved_whole() {
    const ROUNDS: usize = 6;
    const COMMANDS: &[&str] = &["system.which", "system.run"];
    let rt = runtime();
    let home = common::home();
    write_config(home.path());
    let h = home.path();
    let (mut gw, port) = start(h, 0);
    let (mut approved_rounds, mut pending_rounds) = (0, 0);
    for i in 0..ROUNDS {
        // A paired node device whose declared surface waits for an operator.
        let d = TestDevice::new(90 + i as u8);
        let pairing = request_id_of(&rt.block_on(connect_device(port, &d, json!({"token": TOKEN}))));
        assert_eq!(devices(h, port, &["approve", &pairing]).0, 0, "round {i}");
        assert_eq!(rt.block_on(connect_node_declaring(port, &d, COMMANDS))["ok"], true, "round {i}");
        let (code, stdout, stderr) = nodes(h, port, &["pending", "--json"]);
        assert_eq!(code, 0, "round {i}: {stderr}");
        let pending = json_of(&stdout);
        let row = pending.as_array().unwrap().iter().find(|r| r["nodeId"] == d.id()).cloned();
        let request_id = row.unwrap_or_else(|| panic!("round {i}: no pending surface: {pending}"))["requestId"]
            .as_str()
            .unwrap()
            .to_owned();

        let mut approve = Proc::spawn(cli(h, port, &["nodes", "approve", &request_id]));
        kill_during_approval(&mut gw, &mut approve, i);
        approve.wait_exit();
        (gw, _) = start(h, port);

        // The surface is in exactly one state: still pending under its id (nothing approved),
        // or approved whole (no request left).
        let (code, stdout, stderr) = nodes(h, port, &["list", "--json"]);
        assert_eq!(code, 0, "round {i}: {stderr}");
        let list = json_of(&stdout);
        let pending: Vec<&Value> = list["pending"].as_array().unwrap().iter().filter(|r| r["nodeId"] == d.id()).collect();
        let paired: Vec<&Value> = list["paired"].as_array().unwrap().iter().filter(|r| r["nodeId"] == d.id()).collect();
        assert_eq!(paired.len(), 1, "round {i}: the node's pairing row: {list:#}");
        let row = paired[0];
        if let Some(p) = pending.first() {
            pending_rounds += 1;
            assert_eq!(pending.len(), 1, "round {i}: {list:#}");
            assert_eq!(p["requestId"], json!(request_id), "round {i}");
            assert_eq!(p["commands"], json!(COMMANDS), "round {i}");
            assert_eq!(row["approvalState"], "pending-approval", "round {i}: {row}");
            assert_eq!(row["pendingRequestId"], json!(request_id), "round {i}: {row}");
            assert_eq!(row["commands"], json!([]), "round {i}: half approved: {row}");
            let (code, _, stderr) = nodes(h, port, &["approve", &request_id]);
            assert_eq!(code, 0, "round {i}: still approvable after the restart: {stderr}");
        } else {
            approved_rounds += 1;
            assert_eq!(row["approvalState"], "approved", "round {i}: {row}");
            let mut commands: Vec<&str> = row["commands"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
            commands.sort_unstable();
            let mut expected = COMMANDS.to_vec();
            expected.sort_unstable();
            assert_eq!(commands, expected, "round {i}: {row}");
            assert!(row.get("pendingRequestId").is_none(), "round {i}: {row}");
        }
        // Either way the node's declared surface is now the approved one: connecting with it
        // opens no new request.
        assert_eq!(rt.block_on(connect_node_declaring(port, &d, COMMANDS))["ok"], true, "round {i}");
        let (_, stdout, _) = nodes(h, port, &["pending", "--json"]);
        let left = json_of(&stdout);
        assert!(left.as_array().unwrap().iter().all(|r| r["nodeId"] != d.id()), "round {i}: {left}");
    }
    eprintln!("after kill -9: {approved_rounds} surfaces approved, {pending_rounds} pending");
    assert!(approved_rounds >= ROUNDS / 3, "approved {approved_rounds}, pending {pending_rounds}");
}
