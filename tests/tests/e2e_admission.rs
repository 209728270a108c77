//! Decisions before the `101`: the per-IP pre-auth budget. (The browser Origin check answers
//! the `connect` instead: `conformance_origin`.)

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
