//! Limits over real sockets (protocol.md §8, reference-facts.md §5), beyond e2e_auth (which
//! checks the first two loopback delays): a flood of wrong tokens from loopback is slowed up to
//! the 5 s cap but never locked out; from a non-loopback address the tenth failure locks the
//! address out for 5 min (`AUTH_RATE_LIMITED` with `retryAfterMs`), even for the right token.
//!
//! The non-loopback source is a network namespace this test creates (`ip netns` + a veth pair on
//! a private /30) and deletes in a Drop guard; its client is `ws_conformance/auth_attempts.py`
//! run with `ip netns exec`. Needs root and iproute2, as CI has: without them the test fails.
//!
//! A slowloris client trickling its request head is cut at the header-read timeout.
//!
//! Already covered elsewhere: the handshake timeout (e2e_bad_frames), a request head that stops
//! (e2e_handshake), the 33rd pre-auth socket (e2e_admission).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use openclaw_tests::e2e::{connect_req, gateway, within, RawWs, TOKEN};
use serde_json::Value;

const CAP: Duration = Duration::from_millis(5000);
/// Scheduling slack on a loaded 2-core machine.
const SLACK: Duration = Duration::from_millis(1500);

/// One wrong-token connect from loopback: the `res` and the time from connect to answer.
async fn wrong_token(addr: SocketAddr) -> (Value, Duration) {
    let mut ws = RawWs::connect(addr).await;
    ws.challenge().await;
    let sent = Instant::now();
    ws.send_json(&connect_req("r1", Some("WRONG"))).await;
    let res = ws.res("r1").await;
    let took = sent.elapsed();
    let (_, code, _) = ws.until_close().await;
    assert_eq!(code, 1008, "{res}");
    (res, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_flood_from_loopback_is_slowed_never_locked_out() {
    let gw = gateway(|_| {}).await;
    let addr = gw.local_addr();
    // Twelve at once: more than the ten that lock a remote address out.
    let flood: Vec<_> = (0..12).map(|_| tokio::spawn(wrong_token(addr))).collect();
    let mut took = Vec::new();
    for attempt in flood {
        let (res, t) = within("a flooded attempt", attempt).await.expect("attempt");
        assert_eq!(
            res["error"]["details"]["code"], "AUTH_TOKEN_MISMATCH",
            "never rate limited: {res}"
        );
        assert!(res["error"].get("retryAfterMs").is_none(), "{res}");
        took.push(t);
    }
    took.sort();
    assert!(
        took[0] >= Duration::from_millis(250),
        "every failure is delayed: {took:?}"
    );
    assert!(
        *took.last().expect("12") <= CAP + SLACK,
        "the delay is capped at 5 s: {took:?}"
    );
    // With six failures inside the window the next one waits the full cap, and is still only a
    // mismatch.
    let (res, t) = wrong_token(addr).await;
    assert_eq!(
        res["error"]["details"]["code"], "AUTH_TOKEN_MISMATCH",
        "{res}"
    );
    assert!(
        t >= CAP - Duration::from_millis(50) && t <= CAP + SLACK,
        "capped delay, got {t:?}"
    );
    // The right token is let in at once: loopback is never locked out (a penalty would be the
    // 5 s cap by now; the bound leaves room for a loaded machine).
    let started = Instant::now();
    let (_ws, hello) = RawWs::authed(addr).await;
    assert_eq!(hello["type"], "hello-ok");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "success is not delayed: {:?}",
        started.elapsed()
    );
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}

/// A network namespace joined to this one by a veth pair: `host` here, `peer` inside.
struct Netns {
    name: String,
    host_if: String,
    host: Ipv4Addr,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("`ip` (iproute2) is required for the remote-lockout test: {e}"));
    assert!(
        out.status.success(),
        "ip {}: {} (the remote-lockout test needs root and iproute2)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    fn create() -> Netns {
        let id = std::process::id();
        let name = format!("openclaw-fault-{id}");
        let (host_if, peer_if) = (
            format!("ocf{}h", id % 100_000),
            format!("ocf{}p", id % 100_000),
        );
        // A private /30 chosen by pid, away from common ranges.
        let third = u8::try_from(id % 200).expect("< 200") + 20;
        let host = Ipv4Addr::new(10, 213, third, 1);
        let peer = Ipv4Addr::new(10, 213, third, 2);
        ip(&["netns", "add", &name]);
        let ns = Netns {
            name,
            host_if,
            host,
        }; // from here on, Drop cleans up
        ip(&[
            "link",
            "add",
            &ns.host_if,
            "type",
            "veth",
            "peer",
            "name",
            &peer_if,
        ]);
        ip(&["link", "set", &peer_if, "netns", &ns.name]);
        ip(&["addr", "add", &format!("{host}/30"), "dev", &ns.host_if]);
        ip(&["link", "set", &ns.host_if, "up"]);
        ip(&[
            "netns",
            "exec",
            &ns.name,
            "ip",
            "addr",
            "add",
            &format!("{peer}/30"),
            "dev",
            &peer_if,
        ]);
        ip(&[
            "netns", "exec", &ns.name, "ip", "link", "set", &peer_if, "up",
        ]);
        ip(&["netns", "exec", &ns.name, "ip", "link", "set", "lo", "up"]);
        ns
    }

    /// `auth_attempts.py` inside the namespace, one connect per token, in order.
    async fn attempts(&self, port: u16, tokens: &[&str]) -> Vec<Value> {
        let script = format!(
            "{}/ws_conformance/auth_attempts.py",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut cmd = tokio::process::Command::new("ip");
        cmd.args(["netns", "exec", &self.name, "python3", &script, "--host"])
            .arg(self.host.to_string())
            .args(["--port", &port.to_string()])
            .env("PYTHONDONTWRITEBYTECODE", "1") // no __pycache__ in the source tree
            .kill_on_drop(true);
        for token in tokens {
            cmd.args(["--token", token]);
        }
        let out = within("the attempts inside the namespace", cmd.output())
            .await
            .expect("run ip netns exec");
        assert!(
            out.status.success(),
            "auth_attempts.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON from auth_attempts.py")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth end inside it, and with it the pair; the host
        // end is deleted by hand only if the namespace could not be.
        let run = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !run(&["netns", "del", &self.name]) {
            run(&["link", "del", &self.host_if]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_wrong_tokens_lock_the_address_out_after_ten() {
    let ns = Netns::create();
    let gw = gateway(|c| c.bind = SocketAddr::new(IpAddr::V4(ns.host), 0)).await;
    let port = gw.local_addr().port();

    let mut tokens = vec!["WRONG"; 10];
    tokens.push("WRONG"); // the eleventh: locked out
    tokens.push(TOKEN); // even the right token, while locked out
    let seen = ns.attempts(port, &tokens).await;
    for (i, attempt) in seen.iter().take(10).enumerate() {
        let res = &attempt["res"];
        assert_eq!(
            res["error"]["details"]["code"],
            "AUTH_TOKEN_MISMATCH",
            "attempt {}: {attempt}",
            i + 1
        );
        assert!(
            attempt["ms"].as_u64().is_some_and(|ms| ms < 1000),
            "remote failures are not delayed: {attempt}"
        );
    }
    for attempt in &seen[10..] {
        let error = &attempt["res"]["error"];
        assert_eq!(error["code"], "INVALID_REQUEST", "{attempt}");
        assert_eq!(
            error["message"],
            "unauthorized: too many failed authentication attempts (retry later)"
        );
        assert_eq!(error["retryable"], true, "{attempt}");
        let retry = error["retryAfterMs"].as_u64().expect("retryAfterMs");
        assert!(
            (290_000..=300_000).contains(&retry),
            "locked for 5 min: retryAfterMs {retry}"
        );
        assert_eq!(error["details"]["code"], "AUTH_RATE_LIMITED", "{attempt}");
        assert_eq!(
            error["details"]["recommendedNextStep"], "wait_then_retry",
            "{attempt}"
        );
        assert_eq!(attempt["close"][0], 1008, "{attempt}");
        assert_eq!(attempt["close"][1], error["message"], "{attempt}");
    }
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}

/// Slowloris: a request head trickled a few bytes at a time, each well inside any idle timeout,
/// is still cut when the whole head has not arrived by the header-read timeout (e2e_handshake
/// covers a head that simply stops).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_request_head_is_cut_at_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let timeout = Duration::from_millis(400);
    let gw = gateway(|c| c.header_read_timeout = timeout).await;
    let addr = gw.local_addr();
    // Before the connect: the server's header timer starts at accept, never earlier.
    let started = Instant::now();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = tcp.split();
    let head = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{}",
        addr.port(),
        "X-Pad: slowloris\r\n".repeat(100)
    );
    // Three bytes every 20 ms: the head would take ~1.5 s; the final CRLF is never sent.
    let mut ticks = tokio::time::interval(Duration::from_millis(20));
    let mut chunks = head.as_bytes().chunks(3);
    let mut answer = Vec::new();
    let cut = loop {
        let mut buf = [0u8; 1024];
        tokio::select! {
            read = rd.read(&mut buf) => match read {
                Ok(0) | Err(_) => break started.elapsed(),
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            },
            _ = ticks.tick() => match chunks.next() {
                Some(chunk) => {
                    if wr.write_all(chunk).await.is_err() {
                        break started.elapsed();
                    }
                }
                None => panic!("the whole trickled head was accepted without a cut"),
            },
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never cut");
    };
    assert!(cut >= timeout, "cut before the timeout: {cut:?}");
    assert!(
        cut < timeout + SLACK,
        "cut {cut:?} after a {timeout:?} header timeout"
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        !answer.contains(" 101 "),
        "no upgrade for an unfinished head: {answer}"
    );
    // The listener is unaffected.
    let (_ws, hello) = RawWs::authed(addr).await;
    assert_eq!(hello["type"], "hello-ok");
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}
