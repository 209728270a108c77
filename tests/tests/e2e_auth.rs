//! Shared-secret auth failures and the loopback failure delay (reference-facts.md §1.3, §5).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use openclaw_io::client::{Client, ClientError, ConnectOptions};
use openclaw_tests::e2e::{connect_req, gateway, within, RawWs, TOKEN};

const MISMATCH: &str =
    "unauthorized: gateway token mismatch (use this gateway's gateway.auth.token or pair the device)";

/// A connect with a wrong token: the raw `res` text, the close, and how long the answer took.
async fn wrong_token(addr: SocketAddr) -> (String, u16, String, Duration) {
    let mut ws = RawWs::connect(addr).await;
    ws.challenge().await;
    let sent = Instant::now();
    ws.send_json(&connect_req("r1", Some("WRONG"))).await;
    let (frames, code, reason) = ws.until_close().await;
    let took = sent.elapsed();
    assert_eq!(frames.len(), 1, "{frames:?}");
    (frames[0].to_string(), code, reason, took)
}

#[tokio::test]
async fn wrong_token_gets_the_exact_reply_and_escalating_delay() {
    let gw = gateway(|_| {}).await;
    let addr = gw.local_addr();
    let (res, code, reason, first) = wrong_token(addr).await;
    assert_eq!(
        res,
        format!(
            r#"{{"type":"res","id":"r1","ok":false,"error":{{"code":"INVALID_REQUEST","message":"{MISMATCH}","details":{{"code":"AUTH_TOKEN_MISMATCH","authReason":"token_mismatch","canRetryWithDeviceToken":false,"recommendedNextStep":"update_auth_credentials"}}}}}}"#
        )
    );
    assert_eq!((code, reason.as_str()), (1008, MISMATCH));
    let (_, _, _, second) = wrong_token(addr).await;
    // Loopback is never locked out, only slowed: 250 ms, then 500 ms, …
    assert!(first >= Duration::from_millis(250), "first failure answered after {first:?}");
    assert!(second >= Duration::from_millis(500), "second failure answered after {second:?}");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}

#[tokio::test]
async fn io_client_reports_rejection_with_its_close() {
    let gw = gateway(|_| {}).await;
    let mut opts = ConnectOptions::cli(format!("ws://{}", gw.local_addr()));
    opts.token = Some("WRONG".into());
    match within("connect", Client::connect(opts.clone())).await {
        Err(ClientError::Rejected { error, close }) => {
            assert_eq!(error.message, MISMATCH);
            assert_eq!(close, Some((1008, MISMATCH.to_owned())));
        }
        Err(other) => panic!("expected a rejection, got {other:?}"),
        Ok(_) => panic!("expected a rejection, got hello-ok"),
    }
    opts.token = None;
    match within("connect", Client::connect(opts.clone())).await {
        Err(ClientError::Rejected { error, .. }) => assert_eq!(error.message, "device identity required"),
        Err(other) => panic!("expected a rejection, got {other:?}"),
        Ok(_) => panic!("expected a rejection, got hello-ok"),
    }
    opts.token = Some(TOKEN.into());
    let (client, _) = within("connect", Client::connect(opts)).await.expect("right token connects");
    within("close", client.close()).await;
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}
