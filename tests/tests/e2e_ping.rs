//! The server's keepalive (protocol.md §8) is a core output: pings every `ping_interval`, and a
//! peer that does not pong before the next one is due is terminated (it sees 1006).

use std::time::Duration;

use openclaw_core::Limits;
use openclaw_tests::e2e::{gateway, within, Msg, RawWs};

#[tokio::test]
async fn silent_peer_is_terminated_and_ponging_peer_stays() {
    let gw = gateway(|c| c.limits = Limits { ping_interval: Duration::from_millis(100), ..Limits::default() }).await;
    let addr = gw.local_addr();
    let (mut mute, _) = RawWs::authed(addr).await;
    let (live, _) = RawWs::authed(addr).await;
    // `live` answers every ping, concurrently with what happens to `mute`.
    let live = tokio::spawn(async move {
        let mut live = live;
        let mut pings = 0;
        while pings < 4 {
            match live.recv().await {
                Msg::Ping => {
                    pings += 1;
                    live.pong().await;
                }
                Msg::Text(_) | Msg::Pong => {}
                other @ (Msg::Close(..) | Msg::Gone) => panic!("ponging peer lost its socket: {other:?}"),
            }
        }
        live.send(r#"{"type":"req","id":"h1","method":"health"}"#).await;
        loop {
            match live.recv().await {
                Msg::Ping => live.pong().await,
                Msg::Text(f) if f["id"] == "h1" => return f,
                Msg::Text(_) | Msg::Pong => {}
                other @ (Msg::Close(..) | Msg::Gone) => panic!("ponging peer lost its socket: {other:?}"),
            }
        }
    });

    // `mute` reads but never pongs: no close frame, the TCP connection just ends.
    let mut pings = 0;
    loop {
        match mute.recv().await {
            Msg::Ping => pings += 1,
            Msg::Text(_) | Msg::Pong => {}
            Msg::Close(code, reason) => panic!("expected termination, got close {code} {reason:?}"),
            Msg::Gone => break,
        }
    }
    assert!(pings >= 1, "a ping came before the termination");

    // Still served after several intervals.
    let res = within("the ponging peer", live).await.expect("live task");
    assert_eq!(res["ok"], true);
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}
