//! A small gateway client (the CLI's and the tests'): the connect handshake, `call` and events.
//!
//! Socket reads live in their own task (fastwebsockets `read_frame` is not cancel-safe), so
//! every timeout here only cancels a channel `recv`. The reader answers the server's pings.

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::{handshake, FragmentCollectorRead, Frame, OpCode, Payload, WebSocketError};
use http_body_util::Empty;
use hyper::header::{CONNECTION, HOST, UPGRADE};
use hyper::Request;
use openclaw_core::wire::frames::{ErrorShape, EventFrame, ServerFrame};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::identity::random_uuid;

/// Frames from the server kept while waiting; beyond this the oldest events are dropped.
const MAX_BUFFERED_EVENTS: usize = 4096;
const CHANNEL_CAPACITY: usize = 64;

/// How to connect and who to be.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// `ws://127.0.0.1:PORT` (a path is allowed; `wss` is not supported).
    pub url: String,
    pub token: Option<String>,
    pub password: Option<String>,
    /// `client.id`, e.g. "cli".
    pub client_id: &'static str,
    /// `client.mode`: "cli", "probe", "test", "backend", …
    pub client_mode: &'static str,
    /// "operator".
    pub role: &'static str,
    pub scopes: Vec<String>,
    /// Bounds the connect and each call.
    pub timeout: Duration,
    pub min_protocol: u32,
    pub max_protocol: u32,
}

impl ConnectOptions {
    /// The CLI's identity: cli/cli, operator with the CLI's default scopes, protocol 4, 30 s.
    pub fn cli(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token: None,
            password: None,
            client_id: "cli",
            client_mode: "cli",
            role: "operator",
            scopes: ["operator.admin", "operator.read", "operator.write", "operator.approvals", "operator.pairing"]
                .map(String::from)
                .to_vec(),
            timeout: Duration::from_secs(30),
            min_protocol: 4,
            max_protocol: 4,
        }
    }
}

/// Why a connect or a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// TCP, WebSocket or upgrade failure (an HTTP status instead of `101` included).
    #[error("connect failed: {0}")]
    Connect(String),
    /// The server answered `ok:false`; for `connect`, `close` is the close that followed.
    #[error("{}", error.message)]
    Rejected { error: ErrorShape, close: Option<(u16, String)> },
    /// The socket closed before the answer.
    #[error("gateway closed ({code}): {reason}")]
    Closed { code: u16, reason: String },
    #[error("timed out")]
    Timeout,
    /// The server sent something unexpected.
    #[error("protocol error: {0}")]
    Protocol(String),
}

enum Inbound {
    Frame(ServerFrame),
    Closed { code: u16, reason: String },
}

enum Outbound {
    Text(String),
    Pong(Vec<u8>),
    Close,
}

/// A connected, authenticated client.
pub struct Client {
    out: mpsc::Sender<Outbound>,
    inbound: mpsc::Receiver<Inbound>,
    events: VecDeque<EventFrame>,
    closed: Option<(u16, String)>,
    next_id: u64,
    timeout: Duration,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl Client {
    /// Connects, waits for `connect.challenge`, sends `connect` and returns the `hello-ok`
    /// payload.
    pub async fn connect(opts: ConnectOptions) -> Result<(Client, Value), ClientError> {
        let (host, port, path) = parse_ws_url(&opts.url).map_err(ClientError::Connect)?;
        let socket = tokio::time::timeout(opts.timeout, TcpStream::connect((host.as_str(), port)))
            .await
            .map_err(|_| ClientError::Timeout)?
            .map_err(|e| ClientError::Connect(e.to_string()))?;
        let _ = socket.set_nodelay(true);
        let host_header = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        let req = Request::builder()
            .method("GET")
            .uri(path)
            .header(HOST, host_header)
            .header(UPGRADE, "websocket")
            .header(CONNECTION, "upgrade")
            .header("Sec-WebSocket-Key", handshake::generate_key())
            .header("Sec-WebSocket-Version", "13")
            .body(Empty::<Bytes>::new())
            .map_err(|e| ClientError::Connect(e.to_string()))?;
        let (ws, _) = tokio::time::timeout(opts.timeout, handshake::client(&SpawnExecutor, req, socket))
            .await
            .map_err(|_| ClientError::Timeout)?
            .map_err(|e| {
                if let WebSocketError::InvalidStatusCode(code) = e {
                    ClientError::Connect(format!("HTTP {code}"))
                } else {
                    ClientError::Connect(e.to_string())
                }
            })?;
        let (rd, wr) = ws.split(tokio::io::split);
        let (out_tx, out_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let (in_tx, in_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let reader = tokio::spawn(run_reader(FragmentCollectorRead::new(rd), in_tx, out_tx.clone()));
        let writer = tokio::spawn(run_writer(wr, out_rx));
        let mut client = Client {
            out: out_tx,
            inbound: in_rx,
            events: VecDeque::new(),
            closed: None,
            next_id: 1,
            timeout: opts.timeout,
            reader,
            writer,
        };
        let hello = client.handshake(&opts).await?;
        Ok((client, hello))
    }

    async fn handshake(&mut self, opts: &ConnectOptions) -> Result<Value, ClientError> {
        let challenge = tokio::time::timeout(self.timeout, self.next_event())
            .await
            .map_err(|_| ClientError::Timeout)?;
        match challenge {
            Some(e) if e.event == "connect.challenge" => {}
            Some(e) => return Err(ClientError::Protocol(format!("expected connect.challenge, got {}", e.event))),
            None => return Err(self.closed_error()),
        }
        let mut auth = serde_json::Map::new();
        if let Some(token) = &opts.token {
            auth.insert("token".into(), json!(token));
        }
        if let Some(password) = &opts.password {
            auth.insert("password".into(), json!(password));
        }
        let mut params = json!({
            "minProtocol": opts.min_protocol,
            "maxProtocol": opts.max_protocol,
            "client": {
                "id": opts.client_id,
                "version": env!("CARGO_PKG_VERSION"),
                "platform": "linux",
                "mode": opts.client_mode,
            },
        });
        if !auth.is_empty() {
            params["auth"] = Value::Object(auth);
        }
        params["role"] = json!(opts.role);
        params["scopes"] = json!(opts.scopes);
        match self.call("connect", params).await {
            Err(ClientError::Rejected { error, .. }) => {
                // The server closes right after a refused connect; report how.
                let close = tokio::time::timeout(self.timeout.min(Duration::from_secs(2)), self.wait_closed())
                    .await
                    .ok();
                Err(ClientError::Rejected { error, close })
            }
            other => other,
        }
    }

    /// Sends `{type:"req",id,method,params}` (no `params` key when `params` is null) and returns
    /// the `ok` payload (null when absent). Events arriving meanwhile are kept for
    /// [`Client::next_event`].
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, ClientError> {
        let id = self.send_request(method, params).await?;
        let deadline = Some(crate::clock::deadline_in(self.timeout));
        self.await_response(&id, deadline, false).await
    }

    /// Like [`Client::call`] for two-stage methods (`agent`): a first `res` whose
    /// `payload.status` is `"accepted"` is skipped and the final one returned. `wait` bounds the
    /// whole exchange (`None`: no bound, as the reference's `expectFinal`).
    pub async fn call_final(
        &mut self,
        method: &str,
        params: Value,
        wait: Option<Duration>,
    ) -> Result<Value, ClientError> {
        let id = self.send_request(method, params).await?;
        let deadline = wait.map(crate::clock::deadline_in);
        self.await_response(&id, deadline, true).await
    }

    async fn send_request(&mut self, method: &str, params: Value) -> Result<String, ClientError> {
        let id = format!("{}:{}", self.next_id, random_uuid());
        self.next_id += 1;
        let mut frame = json!({ "type": "req", "id": id, "method": method });
        if !params.is_null() {
            frame["params"] = params;
        }
        if self.out.send(Outbound::Text(frame.to_string())).await.is_err() {
            return Err(self.closed_error());
        }
        Ok(id)
    }

    /// Waits for the `res` to `id` (until `deadline`, if any), keeping events on the way;
    /// with `skip_accepted`, a first `status:"accepted"` answer is not the result.
    async fn await_response(
        &mut self,
        id: &str,
        deadline: Option<tokio::time::Instant>,
        skip_accepted: bool,
    ) -> Result<Value, ClientError> {
        loop {
            let next = match deadline {
                Some(at) => tokio::time::timeout_at(at, self.inbound.recv()).await.map_err(|_| ClientError::Timeout)?,
                None => self.inbound.recv().await,
            };
            match next {
                Some(Inbound::Frame(ServerFrame::Response(res))) if res.id.as_str() == id => {
                    let accepted = res.ok
                        && res.payload.as_ref().and_then(|p| p.get("status")).and_then(Value::as_str)
                            == Some("accepted");
                    if skip_accepted && accepted {
                        continue;
                    }
                    return match (res.ok, res.error) {
                        (true, _) => Ok(res.payload.unwrap_or(Value::Null)),
                        (false, Some(error)) => Err(ClientError::Rejected { error, close: None }),
                        (false, None) => Err(ClientError::Protocol("ok:false without error".into())),
                    };
                }
                Some(Inbound::Frame(ServerFrame::Response(_))) => {}
                Some(Inbound::Frame(ServerFrame::Event(event))) => self.keep_event(event),
                Some(Inbound::Closed { code, reason }) => {
                    self.closed = Some((code, reason));
                    return Err(self.closed_error());
                }
                None => return Err(self.closed_error()),
            }
        }
    }

    /// Next event frame (type:"event"), skipping nothing; None when closed.
    pub async fn next_event(&mut self) -> Option<EventFrame> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        loop {
            match self.inbound.recv().await? {
                Inbound::Frame(ServerFrame::Event(event)) => return Some(event),
                Inbound::Frame(ServerFrame::Response(_)) => {}
                Inbound::Closed { code, reason } => {
                    self.closed = Some((code, reason));
                    return None;
                }
            }
        }
    }

    /// Sends a normal close and waits (bounded) for the server's answer.
    pub async fn close(mut self) {
        let _ = self.out.send(Outbound::Close).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.wait_closed()).await;
        self.reader.abort();
        self.writer.abort();
    }

    async fn wait_closed(&mut self) -> (u16, String) {
        loop {
            match self.inbound.recv().await {
                Some(Inbound::Frame(ServerFrame::Event(event))) => self.keep_event(event),
                Some(Inbound::Frame(ServerFrame::Response(_))) => {}
                Some(Inbound::Closed { code, reason }) => {
                    self.closed = Some((code, reason.clone()));
                    return (code, reason);
                }
                None => return self.closed.clone().unwrap_or((1006, String::new())),
            }
        }
    }

    fn keep_event(&mut self, event: EventFrame) {
        if self.events.len() >= MAX_BUFFERED_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    fn closed_error(&self) -> ClientError {
        let (code, reason) = self.closed.clone().unwrap_or((1006, String::new()));
        ClientError::Closed { code, reason }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

/// `ws://host[:port][/path]` → (host, port, path).
fn parse_ws_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| format!("unsupported url (only ws:// is supported): {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    let bad = || format!("invalid url: {url}");
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, p) = v6.split_once(']').ok_or_else(bad)?;
        (h.to_owned(), p.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| bad())?,
        None => 80,
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host, port, path))
}

async fn run_reader<R: tokio::io::AsyncRead + Unpin>(
    mut ws: FragmentCollectorRead<R>,
    tx: mpsc::Sender<Inbound>,
    out: mpsc::Sender<Outbound>,
) {
    let mut obligated = |frame: Frame<'_>| {
        // Pongs only; our own close echo is not needed (the socket is done either way).
        if frame.opcode == OpCode::Pong {
            let _ = out.try_send(Outbound::Pong(frame.payload.to_vec()));
        }
        std::future::ready(Ok::<(), std::io::Error>(()))
    };
    loop {
        let msg = match ws.read_frame(&mut obligated).await {
            Ok(frame) => match frame.opcode {
                OpCode::Text | OpCode::Binary => match serde_json::from_slice::<ServerFrame>(&frame.payload) {
                    Ok(f) => Inbound::Frame(f),
                    Err(e) => {
                        tracing::debug!(error = %e, "unparsable frame from gateway");
                        continue;
                    }
                },
                OpCode::Close => {
                    let (code, reason) = parse_close(&frame.payload);
                    let _ = tx.send(Inbound::Closed { code, reason }).await;
                    return;
                }
                OpCode::Continuation | OpCode::Ping | OpCode::Pong => continue,
            },
            Err(_) => {
                let _ = tx.send(Inbound::Closed { code: 1006, reason: String::new() }).await;
                return;
            }
        };
        if tx.send(msg).await.is_err() {
            return;
        }
    }
}

fn parse_close(payload: &[u8]) -> (u16, String) {
    match payload {
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), String::from_utf8_lossy(rest).into_owned()),
        _ => (1005, String::new()),
    }
}

async fn run_writer<W: tokio::io::AsyncWrite + Unpin>(
    mut ws: fastwebsockets::WebSocketWrite<W>,
    mut rx: mpsc::Receiver<Outbound>,
) {
    while let Some(out) = rx.recv().await {
        let frame = match out {
            Outbound::Text(text) => Frame::text(Payload::Owned(text.into_bytes())),
            Outbound::Pong(payload) => Frame::pong(Payload::Owned(payload)),
            Outbound::Close => Frame::close(1000, b""),
        };
        if ws.write_frame(frame).await.is_err() || ws.flush().await.is_err() {
            return;
        }
    }
}

/// Runs hyper's client connection task on tokio.
struct SpawnExecutor;

impl<Fut> hyper::rt::Executor<Fut> for SpawnExecutor
where
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    fn execute(&self, fut: Fut) {
        tokio::task::spawn(fut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(parse_ws_url("ws://127.0.0.1:18789").unwrap(), ("127.0.0.1".into(), 18789, "/".into()));
        assert_eq!(parse_ws_url("ws://[::1]:5/x").unwrap(), ("::1".into(), 5, "/x".into()));
        assert!(parse_ws_url("wss://h:1").is_err());
        assert!(parse_ws_url("ws://:1").is_err());
    }
}
