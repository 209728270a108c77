//! End to end over loopback: the happy handshake, the io client, and the HTTP probes.

use openclaw_io::client::{Client, ConnectOptions};
use openclaw_tests::e2e::{gateway, get, within, RawWs, TOKEN};
use serde_json::json;

#[tokio::test]
async fn hello_ok_has_the_reference_shape() {
    let gw = gateway(|_| {}).await;
    let mut ws = RawWs::connect(gw.local_addr()).await;
    let challenge = ws.challenge().await;
    assert_eq!(challenge["type"], "event");
    assert!(challenge["payload"]["nonce"].as_str().is_some_and(|n| n.len() == 36), "{challenge}");
    assert!(challenge["payload"]["ts"].as_u64().is_some());
    ws.send_json(&openclaw_tests::e2e::connect_req("r1", Some(TOKEN))).await;
    let res = ws.res("r1").await;
    assert_eq!(res["ok"], true, "{res}");
    let hello = &res["payload"];
    assert_eq!(hello["type"], "hello-ok");
    assert_eq!(hello["protocol"], 4);
    assert_eq!(hello["server"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(hello["server"]["connId"].as_str().is_some_and(|s| !s.is_empty()));
    let methods = hello["features"]["methods"].as_array().expect("features.methods");
    assert!(methods.iter().any(|m| m == "health") && methods.iter().any(|m| m == "system-event"));
    assert!(hello["features"]["events"].as_array().is_some_and(|e| e.iter().any(|x| x == "tick")));
    let policy = &hello["policy"];
    assert_eq!(policy["maxPayload"], 26_214_400);
    assert_eq!(policy["maxBufferedBytes"], 52_428_800);
    assert_eq!(policy["tickIntervalMs"], 30_000);
    assert_eq!(hello["auth"]["role"], "operator");
    assert_eq!(hello["auth"]["scopes"], json!(["operator.admin", "operator.read"]));
    let keys: Vec<&str> = hello.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys.first(), Some(&"type"));
    assert_eq!(keys.last(), Some(&"policy"));
    // The socket is usable.
    ws.send(r#"{"type":"req","id":"h1","method":"health"}"#).await;
    let health = ws.res("h1").await;
    assert_eq!(health["ok"], true, "{health}");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}

#[tokio::test]
async fn io_client_connects_and_calls() {
    let gw = gateway(|_| {}).await;
    let mut opts = ConnectOptions::cli(format!("ws://{}", gw.local_addr()));
    opts.token = Some(TOKEN.into());
    let (mut client, hello) = within("connect", Client::connect(opts)).await.expect("connect");
    assert_eq!(hello["type"], "hello-ok");
    let presence = within("system-presence", client.call("system-presence", serde_json::Value::Null))
        .await
        .expect("system-presence");
    let rows = presence.as_array().expect("array");
    let me = rows.iter().find(|r| r["reason"] == "self").expect("own presence row");
    assert_eq!(me["mode"], "gateway");
    assert_eq!(me["deviceFamily"], "Linux");
    assert!(me["text"].as_str().is_some_and(|t| t.starts_with("Gateway: ") && t.ends_with(" · mode gateway · reason self")));
    let ok = within("system-event", client.call("system-event", json!({"text": "hi"}))).await.expect("system-event");
    assert_eq!(ok, json!({"ok": true}));
    let event = within("presence event", client.next_event()).await.expect("an event");
    assert_eq!(event.event, "presence");
    within("close", client.close()).await;
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}

#[tokio::test]
async fn probes_and_not_found() {
    let gw = gateway(|_| {}).await;
    let addr = gw.local_addr();
    for path in ["/health", "/healthz"] {
        let (status, body) = get(addr, path).await;
        assert_eq!((status, body.as_str()), (200, r#"{"ok":true,"status":"live"}"#), "{path}");
    }
    for path in ["/ready", "/readyz"] {
        let (status, body) = get(addr, path).await;
        assert_eq!((status, body.as_str()), (200, r#"{"ok":true,"status":"ready"}"#), "{path}");
    }
    let (status, body) = get(addr, "/nope").await;
    assert_eq!((status, body.as_str()), (404, "Not Found"));
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}

#[tokio::test]
async fn a_request_head_that_never_ends_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = gateway(|c| c.header_read_timeout = std::time::Duration::from_millis(200)).await;
    let mut tcp = tokio::net::TcpStream::connect(gw.local_addr()).await.expect("connect");
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await.expect("write");
    let mut rest = Vec::new();
    // The server ends the connection (hyper may first answer 408); it never waits forever.
    within("the server to hang up", tcp.read_to_end(&mut rest)).await.expect("read");
    assert!(!String::from_utf8_lossy(&rest).contains("\"live\""), "the request was never complete");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}
