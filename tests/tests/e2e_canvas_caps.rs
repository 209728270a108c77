//! Capability-scoped canvas URLs (http.md §7.4, errata "Control UI and canvas"): a node whose
//! approved caps hold `canvas` gets `hello-ok.pluginSurfaceUrls.canvas`
//! (`http://host:port/__openclaw__/cap/<capability>`, as the reference gives it); under that
//! URL the canvas is served without the gateway's secret while the node is connected; a wrong
//! or released capability, or a malformed scoped path, is `401`. Operators get a URL too (as
//! the reference); a node that did not declare `canvas`, or whose surface is not approved yet,
//! gets none.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::net::SocketAddr;

use openclaw_core::testing::device::TestDevice;
use openclaw_tests::e2e::{get, http, within, RawWs, TOKEN};
use serde_json::{json, Value};

/// `d` connects as a node host declaring `caps`; the socket and the `connect` answer.
async fn node(addr: SocketAddr, d: &TestDevice, caps: &[&str]) -> (RawWs, Value) {
    let mut ws = RawWs::connect(addr).await;
    let challenge = ws.challenge().await;
    let nonce = challenge["payload"]["nonce"].as_str().unwrap();
    let signed_at = challenge["payload"]["ts"].as_u64().unwrap();
    let mut req = json!({"type": "req", "id": "n1", "method": "connect"});
    req["params"] = d.node_params(nonce, signed_at, json!({"token": TOKEN}));
    req["params"]["caps"] = json!(caps);
    ws.send_json(&req).await;
    let res = ws.res("n1").await;
    (ws, res)
}

async fn call(ws: &mut RawWs, id: &str, method: &str, params: Value) -> Value {
    ws.send_json(&json!({"type": "req", "id": id, "method": method, "params": params})).await;
    let res = ws.res(id).await;
    assert_eq!(res["ok"], true, "{method}: {res}");
    res["payload"].clone()
}

/// The path of `url` (`http://127.0.0.1:port/…`).
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    format!("/{}", rest.split_once('/').unwrap().1)
}

#[tokio::test]
async fn an_approved_canvas_node_reaches_the_canvas_by_its_capability_url() {
    let state = tempfile::tempdir().unwrap();
    let doc = state.path().join("canvas/documents/demo");
    std::fs::create_dir_all(&doc).unwrap();
    std::fs::write(doc.join("index.html"), "<html><body><h1>canvas demo</h1></body></html>").unwrap();
    let state_dir = state.path().display().to_string();
    let gw = openclaw_tests::e2e::gateway(move |c| c.state_dir = Some(state_dir)).await;
    let addr = gw.local_addr();

    // First connect: the device pairs (loopback), its `canvas` cap waits for an operator.
    let d = TestDevice::new(91);
    let (first, hello) = node(addr, &d, &["canvas"]).await;
    assert_eq!(hello["ok"], true, "{hello}");
    assert!(hello["payload"].get("pluginSurfaceUrls").is_none(), "not approved yet: {hello}");
    drop(first);

    // An operator gets a canvas URL of its own, and approves the node's surface.
    let (mut op, op_hello) = RawWs::authed(addr).await;
    let op_url = op_hello["pluginSurfaceUrls"]["canvas"].as_str().expect("an operator's canvas URL").to_owned();
    let pending = call(&mut op, "l1", "node.pair.list", json!({})).await;
    let request = pending["pending"].as_array().unwrap().iter().find(|p| p["nodeId"] == d.id().as_str()).expect("the node's request");
    call(&mut op, "a1", "node.pair.approve", json!({"requestId": request["requestId"]})).await;

    // Reconnected: the capability URL, as the reference shapes it.
    let (node_ws, hello) = node(addr, &d, &["canvas"]).await;
    assert_eq!(hello["ok"], true, "{hello}");
    let url = hello["payload"]["pluginSurfaceUrls"]["canvas"].as_str().expect("pluginSurfaceUrls.canvas").to_owned();
    let prefix = format!("http://127.0.0.1:{}/__openclaw__/cap/", addr.port());
    let cap = url.strip_prefix(&prefix).unwrap_or_else(|| panic!("{url}"));
    assert!(cap.len() == 24 && cap.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{cap}");
    assert_ne!(url, op_url, "one capability per socket");

    // By the capability: served without the token; HTML gets the live-reload script.
    let base = path_of(&url);
    let (status, body) = get(addr, &format!("{base}/__openclaw__/canvas/demo/")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<h1>canvas demo</h1>") && body.contains("__openclaw__/ws"), "{body}");
    let (status, _) = get(addr, &format!("/__openclaw__/canvas/demo/?oc_cap={cap}")).await;
    assert_eq!(status, 200, "the query form");
    let (status, _) = get(addr, &format!("{}/__openclaw__/canvas/demo/", path_of(&op_url))).await;
    assert_eq!(status, 200, "the operator's capability");
    // The live-reload socket by the capability path, from a non-local caller (proxied).
    let reload = format!(
        "GET {base}/__openclaw__/ws HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Forwarded-For: 203.0.113.5\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        addr.port()
    );
    assert_eq!(http(addr, &reload).await.0, 101, "live reload by the capability");
    let refused = reload.replace(&base, "/__openclaw__/cap/not-the-cap");
    assert_eq!(http(addr, &refused).await.0, 401, "live reload with a wrong capability");

    // Refused: no token and no capability, a wrong one, a malformed scoped path.
    let (status, _) = get(addr, "/__openclaw__/canvas/demo/").await;
    assert_eq!(status, 401);
    let (status, _) = get(addr, "/__openclaw__/cap/not-the-cap/__openclaw__/canvas/demo/").await;
    assert_eq!(status, 401, "a wrong capability");
    let (status, body) = get(addr, &format!("/__openclaw__/cap/{cap}")).await;
    assert_eq!((status, body.as_str()), (401, r#"{"error":{"message":"Unauthorized","type":"unauthorized"}}"#), "malformed");
    let (status, _) = get(addr, &format!("{base}/__openclaw__/canvas/nope/")).await;
    assert_eq!(status, 404, "an unknown document by the capability");
    let (status, _) = get(addr, &format!("{base}/__openclaw__/canvas/demo/%2e%2e/%2e%2e/openclaw.json")).await;
    assert_eq!(status, 404, "no escaping the document by the capability");

    // A node without the `canvas` cap gets no URL.
    let (other, hello) = node(addr, &TestDevice::new(92), &[]).await;
    assert_eq!(hello["ok"], true, "{hello}");
    assert!(hello["payload"].get("pluginSurfaceUrls").is_none(), "{hello}");
    drop(other);

    // The node leaves: its capability goes with it (the socket's task ends after the close).
    drop(node_ws);
    let path = format!("{base}/__openclaw__/canvas/demo/");
    within("the capability released", async {
        while get(addr, &path).await.0 != 401 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
