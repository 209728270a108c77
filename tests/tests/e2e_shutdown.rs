//! Graceful shutdown with connected clients (reference-facts.md §7).

use openclaw_tests::e2e::{gateway, get, within, RawWs};

#[tokio::test]
async fn clients_see_shutdown_then_1012_and_wait_returns() {
    let gw = gateway(|_| {}).await;
    let addr = gw.local_addr();
    let (mut a, _) = RawWs::authed(addr).await;
    let (mut b, _) = RawWs::authed(addr).await;
    // Both are registered once each answered a request.
    for ws in [&mut a, &mut b] {
        ws.send(r#"{"type":"req","id":"h1","method":"health"}"#).await;
        assert_eq!(ws.res("h1").await["ok"], true);
    }
    gw.shutdown("gateway stopping", Some(1500));
    for ws in [&mut a, &mut b] {
        let (frames, code, reason) = ws.until_close().await;
        let shutdown = frames.iter().find(|f| f["event"] == "shutdown").expect("a shutdown event");
        assert_eq!(shutdown["payload"]["reason"], "gateway stopping");
        assert_eq!(shutdown["payload"]["restartExpectedMs"], 1500);
        assert!(shutdown["seq"].as_u64().is_some());
        assert_eq!(frames.last(), Some(shutdown), "shutdown is the last frame before the close");
        assert_eq!((code, reason.as_str()), (1012, "service restart"));
    }
    within("gateway exit", gw.wait()).await.expect("clean exit");
    // The listener is gone.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "port still accepting");
}

#[tokio::test]
async fn a_client_ignoring_the_close_is_terminated_after_the_grace() {
    let gw = gateway(|_| {}).await;
    let addr = gw.local_addr();
    let (status, _) = get(addr, "/ready").await;
    assert_eq!(status, 200);
    let (_ws, _) = RawWs::authed(addr).await; // never reads, so never answers the close
    let started = std::time::Instant::now();
    gw.shutdown("gateway stopping", None);
    within("gateway exit", gw.wait()).await.expect("stragglers are terminated");
    assert!(started.elapsed() >= std::time::Duration::from_millis(900), "waited for the close grace");
}
