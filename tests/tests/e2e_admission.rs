//! Decisions before the `101`: the per-IP pre-auth budget and the Origin check.

use openclaw_tests::e2e::{connect_req, gateway, upgrade, within, RawWs, TOKEN};

#[tokio::test]
async fn thirty_third_unauthenticated_socket_gets_503() {
    let gw = gateway(|_| {}).await;
    let addr = gw.local_addr();
    let mut held = Vec::new();
    for _ in 0..32 {
        let mut ws = RawWs::connect(addr).await;
        ws.challenge().await;
        held.push(ws);
    }
    let (status, body, _) = upgrade(addr, "").await;
    assert_eq!((status, body.as_str()), (503, "Too many unauthenticated sockets"));
    // Completing hello-ok frees a slot.
    let first = held.first_mut().expect("a socket");
    first.send_json(&connect_req("c1", Some(TOKEN))).await;
    assert_eq!(first.res("c1").await["ok"], true);
    let (status, _, _) = upgrade(addr, "").await;
    assert_eq!(status, 101);
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}

#[tokio::test]
async fn foreign_origin_is_refused_before_the_upgrade() {
    let gw = gateway(|c| c.settings.gateway.control_ui.allowed_origins = vec!["https://ui.example.com".into()]).await;
    let addr = gw.local_addr();
    let (status, body, _) = upgrade(addr, "Origin: https://evil.example\r\n").await;
    assert_eq!(status, 403);
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!(body["ok"], false);
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.starts_with("origin not allowed")));
    let (status, _, _) = upgrade(addr, "Origin: https://ui.example.com\r\n").await;
    assert_eq!(status, 101, "configured origin");
    let own = format!("Origin: http://localhost:{}\r\n", addr.port());
    let (status, _, _) = upgrade(addr, &own).await;
    assert_eq!(status, 101, "the gateway's own loopback origin");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}
