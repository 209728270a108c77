//! A lean protocol-v4 client for load generation: one unsplit WebSocket per connection, no
//! background tasks, so thousands of them cost little. Works against any v4 gateway.

use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::{handshake, FragmentCollector, Frame, OpCode, Payload};
use http_body_util::Empty;
use hyper::header::{CONNECTION, HOST, UPGRADE};
use hyper::upgrade::Upgraded;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

pub type Ws = FragmentCollector<TokioIo<Upgraded>>;

/// Who a load connection claims to be.
#[derive(Clone, Debug)]
pub struct Identity {
    pub token: String,
    pub scopes: Vec<&'static str>,
}

impl Identity {
    /// The local CLI (keeps its scopes on a device-less token connect in both gateways).
    pub fn cli(token: &str, scopes: &[&'static str]) -> Self {
        Self { token: token.to_owned(), scopes: scopes.to_vec() }
    }
}

/// An open, authenticated connection.
pub struct Conn {
    pub ws: Ws,
    next_id: u64,
}

struct Spawner;

impl<Fut> hyper::rt::Executor<Fut> for Spawner
where
    Fut: std::future::Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    fn execute(&self, fut: Fut) {
        tokio::task::spawn(fut);
    }
}

/// Source addresses rotate over 127.0.0.2-201: both gateways cap unauthenticated sockets per
/// client IP (32), and a load generator on one address would hit that cap by design.
fn next_source() -> std::net::Ipv4Addr {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 200;
    std::net::Ipv4Addr::new(127, 0, 0, 2 + n as u8)
}

/// Opens the WebSocket (no protocol frames yet).
pub async fn open(port: u16) -> anyhow::Result<Ws> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind((next_source(), 0).into())?;
    let stream: TcpStream = socket.connect(([127, 0, 0, 1], port).into()).await?;
    stream.set_nodelay(true)?;
    let req = Request::builder()
        .method("GET")
        .uri(format!("http://127.0.0.1:{port}/"))
        .header(HOST, format!("127.0.0.1:{port}"))
        .header(UPGRADE, "websocket")
        .header(CONNECTION, "upgrade")
        .header("Sec-WebSocket-Key", handshake::generate_key())
        .header("Sec-WebSocket-Version", "13")
        .body(Empty::<Bytes>::new())?;
    let (mut ws, _) = handshake::client(&Spawner, req, stream).await?;
    ws.set_auto_pong(true); // keepalive pings are answered whenever the socket is read
    Ok(FragmentCollector::new(ws))
}

impl Conn {
    /// Opens, waits for the challenge, connects; returns after `hello-ok`.
    pub async fn connect(port: u16, who: &Identity) -> anyhow::Result<Conn> {
        let mut ws = open(port).await?;
        let challenge = read_json(&mut ws).await?;
        anyhow::ensure!(challenge["event"] == "connect.challenge", "expected the challenge, got {challenge}");
        let connect = json!({
            "type": "req", "id": "c", "method": "connect",
            "params": {
                "minProtocol": 4, "maxProtocol": 4,
                "client": { "id": "cli", "version": "bench", "platform": "linux", "mode": "cli" },
                "role": "operator", "scopes": who.scopes, "auth": { "token": who.token },
            },
        });
        send_text(&mut ws, connect.to_string()).await?;
        loop {
            let frame = read_json(&mut ws).await?;
            if frame["type"] == "res" && frame["id"] == "c" {
                anyhow::ensure!(frame["ok"] == true, "connect refused: {}", frame["error"]);
                return Ok(Conn { ws, next_id: 0 });
            }
        }
    }

    /// Sends one request; returns its id.
    pub async fn send(&mut self, method: &str, params: &Value) -> anyhow::Result<String> {
        self.next_id += 1;
        let id = self.next_id.to_string();
        let frame = json!({ "type": "req", "id": id, "method": method, "params": params });
        send_text(&mut self.ws, frame.to_string()).await?;
        Ok(id)
    }

    /// Reads frames until the response to `id`; events on the way are skipped.
    pub async fn response(&mut self, id: &str) -> anyhow::Result<Value> {
        loop {
            let frame = read_json(&mut self.ws).await?;
            if frame["type"] == "res" && frame["id"] == id {
                return Ok(frame);
            }
        }
    }

    /// One request, waited for.
    pub async fn call(&mut self, method: &str, params: &Value) -> anyhow::Result<Value> {
        let id = self.send(method, params).await?;
        let res = self.response(&id).await?;
        anyhow::ensure!(res["ok"] == true, "{method} failed: {}", res["error"]);
        Ok(res)
    }

    /// The next text frame as JSON.
    pub async fn next(&mut self) -> anyhow::Result<Value> {
        read_json(&mut self.ws).await
    }

    /// The next event named `name`, or the close it met instead.
    pub async fn next_event(&mut self, name: &str) -> anyhow::Result<Value> {
        loop {
            let frame = read_json(&mut self.ws).await?;
            if frame["type"] == "event" && frame["event"] == name {
                return Ok(frame);
            }
        }
    }
}

pub async fn send_text(ws: &mut Ws, text: String) -> anyhow::Result<()> {
    ws.write_frame(Frame::text(Payload::Owned(text.into_bytes()))).await?;
    Ok(())
}

/// Reads until a text frame; a close frame becomes an error carrying its code and reason.
pub async fn read_json(ws: &mut Ws) -> anyhow::Result<Value> {
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Text | OpCode::Binary => return Ok(serde_json::from_slice(&frame.payload)?),
            OpCode::Close => {
                let (code, reason) = close_parts(&frame.payload);
                anyhow::bail!(Closed { code, reason });
            }
            OpCode::Continuation | OpCode::Ping | OpCode::Pong => {}
        }
    }
}

/// The server closed the socket.
#[derive(Debug, thiserror::Error)]
#[error("closed {code} {reason:?}")]
pub struct Closed {
    pub code: u16,
    pub reason: String,
}

fn close_parts(payload: &[u8]) -> (u16, String) {
    if payload.len() < 2 {
        return (1005, String::new());
    }
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    (code, String::from_utf8_lossy(&payload[2..]).into_owned())
}

/// Bounds an await; a bench step that hangs is a failed step, not a hung run.
pub async fn within<T>(limit: Duration, fut: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::time::timeout(limit, fut).await.map_err(|_| anyhow::anyhow!("timed out after {limit:?}"))?
}
