//! Conformance of `node.*` with the reference (npm `openclaw@2026.9.6`): the reference node
//! host (`openclaw-peer cli node run --host 127.0.0.1 --port P --no-tls`) connects to OUR
//! gateway (the `openclaw` binary), its command surface is approved with the reference CLI
//! (`nodes approve`), it shows in `nodes list --json`, and `nodes invoke --command system.which`
//! returns its answer — through the reference CLI and through our own `openclaw nodes`.
//!
//! The peer must be installed (`scripts/openclaw-peer install`, done by `.ci/run`); without it
//! this test FAILS with instructions. The node host runs in its own HOME and process group,
//! killed (the whole group) when the test ends; every peer CLI run gets a fresh HOME.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{home, openclaw, run, Proc};
use openclaw_tests::e2e::{Msg, RawWs, TOKEN};
use openclaw_tests::peer::peer;
use serde_json::{json, Value};

/// Bound on the node host's start-up and first connect (Node start-up is 2-3 s, more under load).
const NODE_DEADLINE: Duration = Duration::from_secs(120);

/// The reference node host, in its own process group (killed as a group on drop).
struct NodeHost {
    child: std::process::Child,
    home: tempfile::TempDir,
}

impl NodeHost {
    fn spawn(port: u16) -> Self {
        let peer = peer();
        let home = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(home.path().join("node-host.log")).unwrap();
        let child = Command::new(&peer.script)
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
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.wait();
    }
}

/// `openclaw-peer cli <args>` against our gateway, with a fresh HOME: its stdout as JSON.
fn peer_cli(args: &[&str], url: &str) -> Value {
    let peer = peer();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(&peer.script);
    cmd.arg("cli")
        .args(args)
        .args(["--url", url, "--token", TOKEN])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("OPENCLAW_PEER_HOME", &peer.cache)
        .stdin(Stdio::null());
    let (status, stdout, stderr) = run(cmd);
    assert!(status.success(), "openclaw-peer cli {args:?} failed ({status}):\n{stdout}\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("openclaw-peer cli {args:?}: not JSON ({e}):\n{stdout}\n{stderr}"))
}

/// Our `openclaw <args>` against our gateway: its stdout as JSON.
fn our_cli(home: &Path, args: &[&str], url: &str) -> Value {
    let mut cmd = openclaw(home);
    cmd.args(args).args(["--url", url, "--token", TOKEN]);
    let (status, stdout, stderr) = run(cmd);
    assert!(status.success(), "openclaw {args:?} failed ({status}):\n{stdout}\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("openclaw {args:?}: not JSON ({e}):\n{stdout}\n{stderr}"))
}

fn start_gateway(home: &Path) -> (Proc, u16) {
    let dir = home.join(".openclaw");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("openclaw.json"), config_with_deny(&[])).unwrap();
    let mut cmd = openclaw(home);
    cmd.args(["gateway", "--allow-unconfigured", "--port", "0"]);
    let mut gw = Proc::spawn(cmd);
    let (_, port) = gw.wait_listening();
    (gw, port)
}

/// The gateway's config with `gateway.nodes.commands.deny` = `deny`.
fn config_with_deny(deny: &[&str]) -> String {
    let deny = serde_json::to_string(deny).unwrap();
    format!("{{ gateway: {{ auth: {{ mode: 'token', token: '{TOKEN}' }}, nodes: {{ commands: {{ deny: {deny} }} }} }} }}")
}

/// `node.invoke system.which` on `ws`; its answer.
async fn invoke_which(ws: &mut RawWs, id: &str, node_id: &str) -> Value {
    let params = json!({"nodeId": node_id, "command": "system.which", "params": {"bins": ["sh"]}, "idempotencyKey": id});
    ws.send_json(&json!({"type": "req", "id": id, "method": "node.invoke", "params": params})).await;
    tokio::time::timeout(NODE_DEADLINE, ws.res(id)).await.expect("node.invoke answered")
}

/// Starts the node host with an operator socket already listening, and waits there for its
/// `node.pair.requested`; the node host and the event's payload.
async fn node_with_pair_request(port: u16) -> (NodeHost, Value) {
    let (mut op, _) = RawWs::authed(([127, 0, 0, 1], port).into()).await;
    let node = NodeHost::spawn(port);
    let found = tokio::time::timeout(NODE_DEADLINE, async {
        loop {
            match op.recv_within(NODE_DEADLINE).await {
                Msg::Text(f) if f["type"] == "event" && f["event"] == "node.pair.requested" => return Some(f),
                Msg::Text(_) | Msg::Ping | Msg::Pong => {}
                Msg::Close(..) | Msg::Gone => return None,
            }
        }
    })
    .await;
    match found {
        Ok(Some(f)) => (node, f["payload"].clone()),
        Ok(None) => panic!("the operator socket closed first; node host log:\n{}", node.log()),
        Err(_) => panic!("no node.pair.requested within {NODE_DEADLINE:?}; node host log:\n{}", node.log()),
    }
}

fn assert_which_answer(answer: &Value, node_id: &str, who: &str) {
    assert_eq!(answer["ok"], true, "{who}: {answer}");
    assert_eq!(answer["nodeId"], json!(node_id), "{who}: {answer}");
    assert_eq!(answer["command"], "system.which", "{who}: {answer}");
    let sh = answer["payload"]["bins"]["sh"].as_str().unwrap_or_else(|| panic!("{who}: no path for sh: {answer}"));
    assert!(sh.ends_with("/sh"), "{who}: {answer}");
    let echoed: Value = serde_json::from_str(answer["payloadJSON"].as_str().expect("payloadJSON")).unwrap();
    assert_eq!(echoed, answer["payload"], "{who}: payload is payloadJSON parsed");
}

#[test]
fn the_reference_node_host_is_approved_listed_and_invoked_through_both_clis() {
    let home = home();
    let (mut gw, port) = start_gateway(home.path());
    let url = format!("ws://127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (node, requested) = rt.block_on(node_with_pair_request(port));
    let request_id = requested["requestId"].as_str().expect("requestId").to_owned();
    let node_id = requested["nodeId"].as_str().expect("nodeId").to_owned();
    assert_eq!(requested["clientId"], "node-host");

    // The reference CLI sees the pending surface, with its filtered commands.
    let pending = peer_cli(&["nodes", "pending", "--json"], &url);
    let row = pending.as_array().and_then(|rows| rows.iter().find(|r| r["requestId"] == json!(request_id))).cloned();
    let row = row.unwrap_or_else(|| panic!("request {request_id} not pending: {pending}"));
    assert!(row["commands"].as_array().is_some_and(|c| c.contains(&json!("system.which"))), "{row}");
    assert_eq!(row["requiredApproveScopes"], json!(["operator.pairing", "operator.admin"]));

    // Approved by the reference CLI.
    let approved = peer_cli(&["nodes", "approve", &request_id], &url);
    assert_eq!(approved["requestId"], json!(request_id), "{approved}");
    assert_eq!(approved["node"]["nodeId"], json!(node_id), "{approved}");

    // Listed, paired and connected, by both CLIs.
    let listed = peer_cli(&["nodes", "list", "--json"], &url);
    let ours = our_cli(home.path(), &["nodes", "list", "--json"], &url);
    for (who, list) in [("reference", &listed), ("ours", &ours)] {
        assert_eq!(list["pending"], json!([]), "{who}: {list}");
        let row = list["paired"].as_array().and_then(|r| r.iter().find(|r| r["nodeId"] == json!(node_id))).cloned();
        let row = row.unwrap_or_else(|| panic!("{who}: node not listed: {list}"));
        assert_eq!((row["paired"].as_bool(), row["connected"].as_bool()), (Some(true), Some(true)), "{who}: {row}");
        assert_eq!(row["approvalState"], "approved", "{who}: {row}");
    }

    // Invoked: the node host runs system.which and its answer comes back.
    let params = r#"{"bins":["sh"]}"#;
    let args = ["nodes", "invoke", "--node", node_id.as_str(), "--command", "system.which", "--params", params];
    assert_which_answer(&peer_cli(&args, &url), &node_id, "reference CLI");
    let answer = our_cli(home.path(), &args, &url);
    assert_which_answer(&answer, &node_id, "our CLI");
    let keys: Vec<&String> = answer.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["ok", "nodeId", "command", "payload", "payloadJSON"], "the reference's --json shape");

    // Hot reload: denying the command takes effect without a restart (this operator socket
    // stays open throughout), and lifting the deny brings it back.
    let (mut op, _) = rt.block_on(RawWs::authed(([127, 0, 0, 1], port).into()));
    let config = home.path().join(".openclaw/openclaw.json");
    std::fs::write(&config, config_with_deny(&["system.which"])).unwrap();
    gw.wait_line("config hot reload applied (gateway.nodes.commands.deny)");
    let denied = rt.block_on(invoke_which(&mut op, "d1", &node_id));
    assert_eq!(denied["error"]["code"], "INVALID_REQUEST", "{denied}");
    assert_eq!(
        denied["error"]["message"],
        "node command not allowed: \"system.which\" is blocked by gateway.nodes.commands.deny"
    );
    std::fs::write(&config, config_with_deny(&[])).unwrap();
    gw.wait_line("config hot reload applied (gateway.nodes.commands.deny)");
    let again = rt.block_on(invoke_which(&mut op, "d2", &node_id));
    assert_eq!(again["ok"], true, "{again}");
    assert_which_answer(&again["payload"], &node_id, "after the deny is lifted");
    drop(node);
}
