//! protocol.md §1.2 as corrected by reference-facts.md §1.3, seen from a raw client.

use std::net::SocketAddr;
use std::time::Duration;

use openclaw_core::Limits;
use openclaw_tests::e2e::{connect_req, gateway, within, Msg, RawWs};
use serde_json::json;

/// Sends `frame` as the first frame; returns the text frames that follow and the close.
async fn first_frame(addr: SocketAddr, frame: &str) -> (Vec<serde_json::Value>, u16, String) {
    let mut ws = RawWs::connect(addr).await;
    ws.challenge().await;
    ws.send(frame).await;
    ws.until_close().await
}

#[tokio::test]
async fn pre_auth_rules() {
    let gw = gateway(|_| {}).await;
    let addr = gw.local_addr();

    let (frames, code, reason) = first_frame(addr, "{not json").await;
    assert_eq!((frames.len(), code, reason.as_str()), (0, 1000, ""), "bad JSON: {frames:?}");

    for bad in [r#"{"type":"foo","id":"x"}"#, r#"{"type":"res","id":"r9","ok":true}"#, r#"{"type":"req","id":"x"}"#] {
        let (frames, code, reason) = first_frame(addr, bad).await;
        assert_eq!((frames.len(), code, reason.as_str()), (0, 1008, "invalid request frame"), "{bad}");
    }

    let (frames, code, reason) = first_frame(addr, r#"{"type":"req","id":"r1","method":"health"}"#).await;
    let msg = "invalid handshake: first request must be connect";
    assert_eq!(
        frames,
        vec![json!({"type":"res","id":"r1","ok":false,"error":{"code":"INVALID_REQUEST","message":msg}})]
    );
    assert_eq!((code, reason.as_str()), (1008, msg));

    let mut connect = connect_req("r1", Some("x"));
    connect["params"]["bogus"] = json!(1);
    let (frames, code, reason) = first_frame(addr, &connect.to_string()).await;
    let msg = "invalid connect params: at root: unexpected property 'bogus'";
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0]["error"], json!({"code": "INVALID_REQUEST", "message": msg}));
    assert_eq!((code, reason.as_str()), (1008, msg));

    let mut connect = connect_req("r1", Some("x"));
    connect["params"]["minProtocol"] = json!(5);
    connect["params"]["maxProtocol"] = json!(5);
    let (frames, code, reason) = first_frame(addr, &connect.to_string()).await;
    assert_eq!(frames[0]["error"]["message"], "protocol mismatch");
    assert_eq!(frames[0]["error"]["details"]["code"], "PROTOCOL_MISMATCH");
    assert_eq!(frames[0]["error"]["details"]["expectedProtocol"], 4);
    assert_eq!((code, reason.as_str()), (1002, "protocol mismatch"));

    let big = format!(r#"{{"type":"req","id":"r1","method":"connect","params":{{"x":"{}"}}}}"#, "a".repeat(70_000));
    let (frames, code, reason) = first_frame(addr, &big).await;
    assert_eq!((frames.len(), code, reason.as_str()), (0, 1009, ""), "pre-auth oversize");

    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}

#[tokio::test]
async fn post_auth_bad_frames_keep_the_socket() {
    let gw = gateway(|_| {}).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    ws.send("{not json").await;
    ws.send(r#"{"type":"req","id":"bad1","method":"health","extra":1}"#).await;
    let res = ws.res("bad1").await;
    assert_eq!(
        res,
        json!({"type":"res","id":"bad1","ok":false,"error":{"code":"INVALID_REQUEST","message":"invalid request frame: at root: unexpected property 'extra'"}})
    );
    ws.send(r#"{"type":"req","method":"health"}"#).await;
    let res = ws.res("invalid").await;
    assert_eq!(res["error"]["message"], "invalid request frame: must have required property 'id'");
    ws.send(r#"{"type":"req","id":"h1","method":"health"}"#).await;
    assert_eq!(ws.res("h1").await["ok"], true, "still open and answering");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}

#[tokio::test]
async fn sixteen_pending_frames_close_but_fifteen_do_not() {
    let gw = gateway(|_| {}).await;
    let addr = gw.local_addr();
    // A wrong token keeps the connect pending (the loopback failure delay), so the pipelined
    // frames queue up behind it.
    for (extra, expect_reason) in [
        (16, "too many pending handshake frames"),
        (15, "unauthorized: gateway token mismatch (use this gateway's gateway.auth.token or pair the device)"),
    ] {
        let mut ws = RawWs::connect(addr).await;
        ws.challenge().await;
        ws.send_json(&connect_req("c1", Some("wrong"))).await;
        for i in 0..extra {
            ws.send(&format!(r#"{{"type":"req","id":"p{i}","method":"health"}}"#)).await;
        }
        let (_, code, reason) = ws.until_close().await;
        assert_eq!((code, reason.as_str()), (1008, expect_reason), "{extra} pipelined frames");
    }
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}

#[tokio::test]
async fn silent_socket_closes_after_the_handshake_timeout() {
    let gw = gateway(|c| c.limits = Limits { handshake_timeout: Duration::from_millis(200), ..Limits::default() }).await;
    let mut ws = RawWs::connect(gw.local_addr()).await;
    ws.challenge().await;
    let started = std::time::Instant::now();
    match ws.recv().await {
        Msg::Close(code, reason) => assert_eq!((code, reason.as_str()), (1000, "")),
        other @ (Msg::Text(_) | Msg::Ping | Msg::Pong | Msg::Gone) => panic!("expected a close, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(150));
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}

#[tokio::test]
async fn post_auth_frame_over_max_payload_closes_1009() {
    let gw = gateway(|c| c.limits = Limits { max_payload: 100 * 1024, ..Limits::default() }).await;
    let (mut ws, _) = RawWs::authed(gw.local_addr()).await;
    // Just under the limit is read (and answered: bad params are not fatal).
    let fits = format!(r#"{{"type":"req","id":"f1","method":"health","params":{{"x":"{}"}}}}"#, "a".repeat(90 * 1024));
    ws.send(&fits).await;
    assert_eq!(ws.res("f1").await["ok"], true);
    ws.send(&"a".repeat(200 * 1024)).await;
    let (_, code, _) = ws.until_close().await;
    assert_eq!(code, 1009);
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}
