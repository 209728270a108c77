//! Helpers for the end-to-end tests: a gateway on `127.0.0.1:0`, a raw WebSocket client that
//! shows every frame, close and ping as sent, and raw HTTP over TCP.
//!
//! Nothing here sleeps: every wait is bounded by [`STEP`] and fails the test when it expires.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::{handshake, Frame, OpCode, Payload, WebSocket};
use http_body_util::Empty;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use openclaw_core::auth::{AuthMode, Secret};
use openclaw_io::{Gateway, ServerConfig};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The shared secret of every test gateway.
pub const TOKEN: &str = "T0ken";
/// Upper bound of any single wait; exceeding it fails the test (it is never slept).
pub const STEP: Duration = Duration::from_secs(10);

/// Starts a token-auth gateway on an ephemeral loopback port.
pub async fn gateway(tweak: impl FnOnce(&mut ServerConfig)) -> Gateway {
    let bind: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let mut config = ServerConfig::new(bind, AuthMode::Token(Some(Secret::new(TOKEN))));
    tweak(&mut config);
    Gateway::start(config).await.expect("gateway starts")
}

/// `fut`, or a panic naming `what` after [`STEP`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, fut).await.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A `connect` request frame for cli/cli with `token` (none: no `auth`), admin scopes.
pub fn connect_req(id: &str, token: Option<&str>) -> Value {
    let mut params = json!({
        "minProtocol": 4,
        "maxProtocol": 4,
        "client": {"id": "cli", "version": "1.0.0", "platform": "linux", "mode": "cli"},
        "role": "operator",
        "scopes": ["operator.admin", "operator.read"],
    });
    if let Some(token) = token {
        params["auth"] = json!({"token": token});
    }
    json!({"type": "req", "id": id, "method": "connect", "params": params})
}

/// What the raw client saw next.
#[derive(Debug)]
pub enum Msg {
    Text(Value),
    Ping,
    Pong,
    Close(u16, String),
    /// The TCP connection ended without a close frame (the peer sees 1006).
    Gone,
}

/// A WebSocket client that hides nothing (no auto-pong unless asked).
pub struct RawWs {
    ws: WebSocket<TokioIo<Upgraded>>,
}

impl RawWs {
    /// Upgrades with a loopback `Host`; panics if the server refuses.
    pub async fn connect(addr: SocketAddr) -> RawWs {
        Self::connect_with(addr, &[], None).await.expect("websocket upgrade")
    }

    /// Upgrades with extra headers (a `Host` among them replaces the loopback one) and
    /// optionally a small receive buffer; `Err` carries the
    /// handshake failure (an HTTP status instead of `101`).
    pub async fn connect_with(
        addr: SocketAddr,
        headers: &[(&str, &str)],
        recv_buffer: Option<u32>,
    ) -> Result<RawWs, String> {
        let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).map_err(|e| e.to_string())?;
        }
        let stream = socket.connect(addr).await.map_err(|e| e.to_string())?;
        let mut req = hyper::Request::builder().method("GET").uri("/");
        // A `Host` among `headers` replaces the loopback one.
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req = req.header("Host", format!("127.0.0.1:{}", addr.port()));
        }
        req = req
            .header("Upgrade", "websocket")
            .header("Connection", "upgrade")
            .header("Sec-WebSocket-Key", handshake::generate_key())
            .header("Sec-WebSocket-Version", "13");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Empty::<Bytes>::new()).map_err(|e| e.to_string())?;
        let (mut ws, _) = within("upgrade", handshake::client(&Spawn, req, stream))
            .await
            .map_err(|e| e.to_string())?;
        ws.set_auto_pong(false);
        ws.set_auto_close(true);
        Ok(RawWs { ws })
    }

    pub fn set_auto_pong(&mut self, on: bool) {
        self.ws.set_auto_pong(on);
    }

    pub async fn send(&mut self, text: &str) {
        self.send_bytes(text.as_bytes().to_vec()).await;
    }

    pub async fn send_json(&mut self, value: &Value) {
        self.send(&value.to_string()).await;
    }

    pub async fn send_bytes(&mut self, bytes: Vec<u8>) {
        within("send", self.ws.write_frame(Frame::text(Payload::Owned(bytes))))
            .await
            .expect("send frame");
    }

    pub async fn pong(&mut self) {
        let pong = Frame::pong(Payload::Owned(Vec::new()));
        within("pong", self.ws.write_frame(pong)).await.expect("send pong");
    }

    /// The next frame, close or end of stream.
    pub async fn recv(&mut self) -> Msg {
        self.recv_within(STEP).await
    }

    /// [`RawWs::recv`] with a longer bound (waiting for a slow peer process to act).
    pub async fn recv_within(&mut self, limit: Duration) -> Msg {
        let frame = tokio::time::timeout(limit, self.ws.read_frame())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for a frame ({limit:?})"));
        let Ok(frame) = frame else { return Msg::Gone };
        match frame.opcode {
            OpCode::Text | OpCode::Binary => {
                Msg::Text(serde_json::from_slice(&frame.payload).expect("server sends JSON"))
            }
            OpCode::Ping => Msg::Ping,
            OpCode::Pong => Msg::Pong,
            OpCode::Close => match &frame.payload[..] {
                [a, b, rest @ ..] => {
                    Msg::Close(u16::from_be_bytes([*a, *b]), String::from_utf8_lossy(rest).into_owned())
                }
                _ => Msg::Close(1005, String::new()),
            },
            OpCode::Continuation => panic!("unexpected continuation frame"),
        }
    }

    /// The next text frame (pings and pongs skipped); panics on a close.
    pub async fn recv_json(&mut self) -> Value {
        loop {
            match self.recv().await {
                Msg::Text(v) => return v,
                Msg::Ping | Msg::Pong => {}
                other @ (Msg::Close(..) | Msg::Gone) => panic!("expected a frame, got {other:?}"),
            }
        }
    }

    /// The `connect.challenge` that opens every socket.
    pub async fn challenge(&mut self) -> Value {
        let frame = self.recv_json().await;
        assert_eq!(frame["event"], "connect.challenge", "first frame: {frame}");
        frame
    }

    /// The `res` with `id`, skipping events.
    pub async fn res(&mut self, id: &str) -> Value {
        loop {
            let frame = self.recv_json().await;
            if frame["type"] == "res" && frame["id"] == id {
                return frame;
            }
            assert_eq!(frame["type"], "event", "unexpected frame: {frame}");
        }
    }

    /// Every text frame up to the close frame, and the close.
    pub async fn until_close(&mut self) -> (Vec<Value>, u16, String) {
        let mut frames = Vec::new();
        loop {
            match self.recv().await {
                Msg::Text(v) => frames.push(v),
                Msg::Ping | Msg::Pong => {}
                Msg::Close(code, reason) => return (frames, code, reason),
                Msg::Gone => return (frames, 1006, String::new()),
            }
        }
    }

    /// Connects and completes the handshake as cli/cli admin; returns the `hello-ok` payload.
    pub async fn authed(addr: SocketAddr) -> (RawWs, Value) {
        Self::authed_with_caps(addr, &[]).await
    }

    /// [`RawWs::authed`] advertising `caps` (e.g. `"tool-events"` to get the `tool` stream of
    /// the runs this socket starts).
    pub async fn authed_with_caps(addr: SocketAddr, caps: &[&str]) -> (RawWs, Value) {
        let mut ws = RawWs::connect(addr).await;
        ws.challenge().await;
        let mut req = connect_req("c1", Some(TOKEN));
        if !caps.is_empty() {
            req["params"]["caps"] = json!(caps);
        }
        ws.send_json(&req).await;
        let res = ws.res("c1").await;
        assert_eq!(res["ok"], true, "connect: {res}");
        (ws, res["payload"].clone())
    }
}

/// One raw HTTP/1.1 exchange: the status, the body (by `Content-Length`) and the socket, which
/// stays open after a `101`.
pub async fn http(addr: SocketAddr, head: &str) -> (u16, String, TcpStream) {
    let mut stream = within("tcp connect", TcpStream::connect(addr)).await.expect("connect");
    within("write", stream.write_all(head.as_bytes())).await.expect("write");
    let mut buf = Vec::new();
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = within("response head", stream.read(&mut chunk)).await.expect("read");
        assert!(n > 0, "connection closed before a response: {:?}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    };
    let head_text = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let status: u16 = head_text.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
    let length: usize = head_text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let mut chunk = [0u8; 4096];
        let n = within("response body", stream.read(&mut chunk)).await.expect("read");
        assert!(n > 0, "body cut short");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[header_end..header_end + length]).into_owned();
    (status, body, stream)
}

/// `GET path`: status and body.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let head = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n", addr.port());
    let (status, body, _) = http(addr, &head).await;
    (status, body)
}

/// A WebSocket upgrade request with extra header lines (`"Origin: …\r\n"`).
pub async fn upgrade(addr: SocketAddr, extra: &str) -> (u16, String, TcpStream) {
    let head = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n",
        addr.port()
    );
    http(addr, &head).await
}

/// This process's resident set size in KiB (`/proc/self/status` `VmRSS`).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

struct Spawn;

impl<Fut> hyper::rt::Executor<Fut> for Spawn
where
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    fn execute(&self, fut: Fut) {
        tokio::spawn(fut);
    }
}
