//! The pre-auth frame cap (issue #11 §1), against a gateway in its own process so that its
//! memory can be read from `/proc/<pid>/status`:
//!
//! * 32 unauthenticated sockets each declare one 20 MB text frame and stream it: every one is
//!   closed 1009 with no reason (as the reference's `ws` does, at the frame header), and the
//!   gateway's peak RSS stays within 16 MiB of what it was before the flood (before the fix the
//!   reader buffered every frame whole: ~640 MiB);
//! * meanwhile a socket trickling one byte a second is cut by the handshake timeout (close 1000,
//!   as for any socket that has not completed `connect` in time).
//!
//! Nothing is slept: the trickle is the attacker's pace, and every wait has a deadline.

use std::process::Stdio;
use std::time::Duration;

use openclaw_tests::e2e::{within, RawWs};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

const FLOOD_SOCKETS: usize = 32;
const FRAME_BYTES: u64 = 20_000_000;
const MAX_GROWTH_KIB: u64 = 16 * 1024;
const HANDSHAKE_TIMEOUT_MS: u64 = 1500;

/// `openclaw-fault-gateway` in its own process; killed on drop.
struct Gw {
    child: Child,
    port: u16,
}

impl Gw {
    async fn start() -> Gw {
        let mut child = Command::new(env!("CARGO_BIN_EXE_openclaw-fault-gateway"))
            .args(["--handshake-timeout-ms", &HANDSHAKE_TIMEOUT_MS.to_string()])
            // The flood and the trickling socket at once, all from 127.0.0.1.
            .args(["--max-preauth-per-ip", &(FLOOD_SOCKETS + 1).to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn openclaw-fault-gateway");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        within("the gateway listening", BufReader::new(stdout).read_line(&mut line))
            .await
            .expect("read stdout");
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Gw { child, port }
    }

    /// A `/proc/<pid>/status` figure in KiB (`VmRSS`, `VmHWM`).
    fn status_kib(&self, field: &str) -> u64 {
        let pid = self.child.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
    }

    /// Closes its stdin (a graceful shutdown) and waits for a clean exit.
    async fn stop(mut self) {
        drop(self.child.stdin.take());
        let status = within("the gateway exit", self.child.wait()).await.expect("wait");
        assert!(status.success(), "gateway exit: {status}");
    }
}

/// A raw WebSocket upgrade; returns the socket and any bytes read past the response head.
async fn upgrade(port: u16) -> (TcpStream, Vec<u8>) {
    let mut tcp = within("tcp connect", TcpStream::connect(("127.0.0.1", port)))
        .await
        .expect("connect");
    let head = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.expect("write head");
    let mut buf = Vec::new();
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let status = String::from_utf8_lossy(&buf[..i]).into_owned();
            assert!(status.starts_with("HTTP/1.1 101"), "upgrade refused: {status}");
            return (tcp, buf.split_off(i + 4));
        }
        let mut chunk = [0u8; 1024];
        let n = within("the upgrade response", tcp.read(&mut chunk)).await.expect("read");
        assert!(n > 0, "closed before the upgrade response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads server frames until a close frame: its code and reason (1006 if the stream ends
/// without one).
async fn until_close(mut rd: OwnedReadHalf, mut buf: Vec<u8>) -> (u16, String) {
    loop {
        // One whole unmasked server frame at the front of `buf`?
        if buf.len() >= 2 {
            let (opcode, len7) = (buf[0] & 0x0f, usize::from(buf[1] & 0x7f));
            let (at, len) = match len7 {
                126 if buf.len() >= 4 => (4, usize::from(u16::from_be_bytes([buf[2], buf[3]]))),
                127 if buf.len() >= 10 => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(&buf[2..10]);
                    (10, usize::try_from(u64::from_be_bytes(be)).expect("length"))
                }
                126 | 127 => (usize::MAX, 0),
                n => (2, n),
            };
            if at != usize::MAX && buf.len() >= at + len {
                let payload: Vec<u8> = buf.drain(..at + len).skip(at).collect();
                if opcode == 0x8 {
                    return match &payload[..] {
                        [a, b, reason @ ..] => (
                            u16::from_be_bytes([*a, *b]),
                            String::from_utf8_lossy(reason).into_owned(),
                        ),
                        _ => (1005, String::new()),
                    };
                }
                continue;
            }
        }
        let mut chunk = [0u8; 4096];
        match rd.read(&mut chunk).await {
            Ok(0) | Err(_) => return (1006, String::new()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// One socket declaring a 20 MB text frame before `connect` and streaming it until the server
/// closes; the close it got.
async fn flood(port: u16) -> (u16, String) {
    let (tcp, rest) = upgrade(port).await;
    let (rd, mut wr) = tcp.into_split();
    let writer = tokio::spawn(async move {
        // FIN + text, masked with a zero key (payload bytes go out as they are).
        let mut head = vec![0x81, 0x80 | 127];
        head.extend_from_slice(&FRAME_BYTES.to_be_bytes());
        head.extend_from_slice(&[0; 4]);
        wr.write_all(&head).await?;
        let chunk = vec![b'a'; 64 * 1024];
        let mut sent = 0u64;
        while sent < FRAME_BYTES {
            let n = chunk.len().min(usize::try_from(FRAME_BYTES - sent).unwrap_or(usize::MAX));
            wr.write_all(&chunk[..n]).await?;
            sent += n as u64;
        }
        Ok::<_, std::io::Error>(wr)
    });
    let close = until_close(rd, rest).await;
    writer.abort();
    close
}

/// One socket trickling a `connect` frame a byte a second: the close it got.
async fn trickle(port: u16) -> (u16, String) {
    let (tcp, rest) = upgrade(port).await;
    let (rd, mut wr) = tcp.into_split();
    let writer = tokio::spawn(async move {
        let body = br#"{"type":"req","id":"c1","method":"connect","params":{}}"#;
        let mut frame = vec![0x81, 0x80 | u8::try_from(body.len()).expect("short")];
        frame.extend_from_slice(&[0; 4]);
        frame.extend_from_slice(body);
        let mut pace = tokio::time::interval(Duration::from_secs(1));
        for byte in frame {
            pace.tick().await;
            if wr.write_all(&[byte]).await.is_err() {
                return;
            }
        }
        panic!("the whole trickled frame was sent before the handshake timeout cut the socket");
    });
    let close = until_close(rd, rest).await;
    writer.abort();
    close
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preauth_floods_are_refused_at_the_frame_header() {
    let gw = Gw::start().await;
    let addr = ([127, 0, 0, 1], gw.port).into();
    // Warm up (runtime threads, the hub, one full session), then the baseline.
    let (ws, hello) = RawWs::authed(addr).await;
    assert_eq!(hello["type"], "hello-ok");
    drop(ws);
    let before = gw.status_kib("VmRSS");

    let slow = tokio::spawn(trickle(gw.port));
    let floods: Vec<_> = (0..FLOOD_SOCKETS).map(|_| tokio::spawn(flood(gw.port))).collect();
    for (i, f) in floods.into_iter().enumerate() {
        let (code, reason) = within("a flooding socket's close", f).await.expect("flood task");
        assert_eq!((code, reason.as_str()), (1009, ""), "socket {i}: close 1009, no reason");
    }
    let peak = gw.status_kib("VmHWM");
    assert!(
        peak.saturating_sub(before) < MAX_GROWTH_KIB,
        "RSS peaked at {peak} KiB, {} KiB above the {before} KiB before the flood",
        peak.saturating_sub(before)
    );
    let (code, _) = within("the trickling socket's close", slow).await.expect("trickle task");
    assert_eq!(code, 1000, "the handshake timeout closes 1000");

    // The gateway still serves.
    let (_ws, hello) = RawWs::authed(addr).await;
    assert_eq!(hello["type"], "hello-ok");
    gw.stop().await;
}
