//! Shutdown under load through the real binary: SIGTERM to `openclaw gateway` with 1000
//! authenticated clients, each with requests in flight.
//!
//! What "no request gets no answer" means here, per client:
//! * the client sees exactly one `shutdown` event, it is the last text frame, and the close that
//!   follows is 1012 "service restart" (so the socket is never cut without being told);
//! * every `res` answers a request that client sent, at most once, and arrives before `shutdown`;
//! * a request without a `res` was cut by the shutdown, which the client learns from that
//!   `shutdown` event and the 1012 close: never from a silent hang-up or a timeout.
//!
//! The process exits 0. Nothing is slept: every wait has a deadline.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{home, openclaw, Proc};
use openclaw_tests::bench::target::raise_fd_limit;
use openclaw_tests::e2e::{RawWs, TOKEN};
use tokio::sync::{Barrier, Semaphore};

const CLIENTS: usize = 1000;
/// Pipelined `health`/`status` requests per client, written just before the SIGTERM.
const REQUESTS: usize = 4;
/// Concurrent handshakes: below the per-IP budget of 32 unauthenticated sockets.
const HANDSHAKES_AT_ONCE: usize = 16;

/// What one client saw after its requests went out.
struct Seen {
    answered: usize,
    cut: usize,
}

async fn client(
    addr: SocketAddr,
    slots: Arc<Semaphore>,
    written: Arc<Barrier>,
    index: usize,
) -> Seen {
    let permit = slots.acquire_owned().await.expect("semaphore");
    let (mut ws, _) = RawWs::authed(addr).await;
    drop(permit);
    // One round trip, so the socket is registered with the hub before the shutdown.
    ws.send(r#"{"type":"req","id":"warm","method":"health"}"#)
        .await;
    assert_eq!(ws.res("warm").await["ok"], true);
    written.wait().await; // every client is connected
    let mut sent = BTreeSet::new();
    for i in 0..REQUESTS {
        let id = format!("r{index}-{i}");
        let method = if i % 2 == 0 { "health" } else { "status" };
        ws.send(&format!(
            r#"{{"type":"req","id":"{id}","method":"{method}"}}"#
        ))
        .await;
        sent.insert(id);
    }
    written.wait().await; // every request is written: the SIGTERM may go

    let (frames, code, reason) = ws.until_close().await;
    let shutdowns: Vec<usize> = frames
        .iter()
        .enumerate()
        .filter(|(_, f)| f["type"] == "event" && f["event"] == "shutdown")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        shutdowns.len(),
        1,
        "client {index}: one shutdown event, got {frames:?}"
    );
    assert_eq!(
        shutdowns[0],
        frames.len() - 1,
        "client {index}: shutdown is the last frame: {frames:?}"
    );
    assert_eq!(
        (code, reason.as_str()),
        (1012, "service restart"),
        "client {index}"
    );
    let mut answered = BTreeSet::new();
    for f in frames.iter().filter(|f| f["type"] == "res") {
        let id = f["id"].as_str().expect("res id").to_owned();
        assert!(
            sent.contains(&id),
            "client {index}: answer to a request it never sent: {f}"
        );
        assert_eq!(f["ok"], true, "client {index}: {f}");
        assert!(answered.insert(id), "client {index}: answered twice: {f}");
    }
    Seen {
        answered: answered.len(),
        cut: sent.len() - answered.len(),
    }
}

#[test]
fn sigterm_with_1000_clients_and_requests_in_flight() {
    raise_fd_limit(); // 1000 sockets here, 1000 in the child (inherits the limit)
    let home = home();
    let mut cmd = openclaw(home.path());
    cmd.args(["gateway", "--allow-unconfigured", "--port", "0", "--token", TOKEN]);
    let mut gw = Proc::spawn(cmd);
    let (_, port) = gw.wait_listening();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (seen, signal_to_exit_started) = rt.block_on(async {
        let slots = Arc::new(Semaphore::new(HANDSHAKES_AT_ONCE));
        let written = Arc::new(Barrier::new(CLIENTS + 1));
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|i| tokio::spawn(client(addr, Arc::clone(&slots), Arc::clone(&written), i)))
            .collect();
        let connected = tokio::time::timeout(Duration::from_secs(120), written.wait()).await;
        assert!(
            connected.is_ok(),
            "1000 clients did not connect within 120 s"
        );
        tokio::time::timeout(Duration::from_secs(30), written.wait())
            .await
            .expect("requests written");
        let started = Instant::now();
        gw.signal("TERM");
        let mut seen = Vec::with_capacity(CLIENTS);
        for task in tasks {
            let one = tokio::time::timeout(Duration::from_secs(60), task).await;
            seen.push(one.expect("client finished in time").expect("client task"));
        }
        (seen, started)
    });
    let status = gw.wait_exit();
    let took = signal_to_exit_started.elapsed();
    assert_eq!(status.code(), Some(0), "exit code; stderr: {}", gw.stderr());
    let answered: usize = seen.iter().map(|s| s.answered).sum();
    let cut: usize = seen.iter().map(|s| s.cut).sum();
    assert_eq!(answered + cut, CLIENTS * REQUESTS);
    eprintln!(
        "{CLIENTS} clients told shutdown + 1012; {answered} requests answered, {cut} cut by the shutdown; \
         SIGTERM to exit {took:?}"
    );
}
