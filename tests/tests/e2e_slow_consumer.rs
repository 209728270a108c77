//! Backpressure (protocol.md §8): a socket that stops reading while the server broadcasts is
//! closed 1008 "slow consumer", and the server does not buffer without bound meanwhile.

use std::time::Duration;

use openclaw_core::Limits;
use openclaw_tests::e2e::{connect_req, gateway, rss_kib, within, RawWs, TOKEN};
use serde_json::json;

/// Presence bytes pumped past the stalled reader before we look: far more than the kernel
/// buffers on both ends of a loopback connection (tcp_wmem max is 4 MiB here).
const PUMP_BYTES: usize = 16 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_reader_is_closed_as_slow_consumer() {
    let gw = gateway(|c| {
        c.limits = Limits {
            // Several presence frames (≤ ~250 KB each) fit, so the reading admin never trips it.
            max_buffered_bytes: 1 << 20,
            // `health` broadcasts cannot be dropped, so one reaching a stalled socket closes it.
            health_refresh_interval: Duration::from_millis(50),
            // The close frame queues behind megabytes the stalled reader has not taken yet; give
            // it time to read them before the terminate (which it would see as 1006).
            close_grace: Duration::from_secs(30),
            ..Limits::default()
        }
    })
    .await;
    let addr = gw.local_addr();
    let rss_before = rss_kib();

    let mut slow = RawWs::connect_with(addr, &[], Some(16 * 1024)).await.expect("upgrade");
    slow.challenge().await;
    slow.send_json(&connect_req("s1", Some(TOKEN))).await;
    assert_eq!(slow.res("s1").await["ok"], true);
    // From here on `slow` reads nothing until the end.

    let (mut admin, _) = RawWs::authed(addr).await;
    let filler = "x".repeat(1000);
    let (mut pumped, mut health_after, mut i) = (0usize, 0u32, 0u32);
    while health_after < 3 {
        i += 1;
        assert!(i < 5000, "never saw health after pumping {pumped} bytes");
        let id = format!("e{i}");
        let req = json!({"type": "req", "id": id, "method": "system-event", "params": {"text": format!("{i} {filler}")}});
        admin.send_json(&req).await;
        loop {
            let frame = admin.recv_json().await;
            if frame["type"] == "res" && frame["id"] == id.as_str() {
                assert_eq!(frame["ok"], true, "{frame}");
                break;
            }
            match frame["event"].as_str() {
                Some("presence") => pumped += frame.to_string().len(),
                Some("health") if pumped > PUMP_BYTES => health_after += 1,
                _ => {}
            }
        }
    }

    let (_, code, reason) = within("slow consumer close", slow.until_close()).await;
    assert_eq!((code, reason.as_str()), (1008, "slow consumer"));
    // The admin socket, which kept reading, is fine.
    admin.send(r#"{"type":"req","id":"h1","method":"health"}"#).await;
    assert_eq!(admin.res("h1").await["ok"], true);

    let grown_mib = rss_kib().saturating_sub(rss_before) / 1024;
    assert!(grown_mib < 64, "RSS grew {grown_mib} MiB while pumping {} MiB", pumped >> 20);
    // Closed sockets end their sessions at once (the long close grace would hold the drain).
    drop((slow, admin));
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}
