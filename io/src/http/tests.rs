//! The router over real sockets: a gateway on 127.0.0.1:0 with the built-in routes plus two
//! test routes registered through the table API (`/test/echo`: gateway auth, 1 KiB limit,
//! short read timeout; `/test/sse`: a public event stream). Raw HTTP/1.1 on the client side,
//! so every status, header and byte is what the server sent. No sleeps: every wait is a read
//! bounded by [`STEP`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use openclaw_core::auth::limiter::RateLimitPolicy;
use openclaw_core::auth::{AuthMode, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::{sse, HttpError, Route, RouteAuth, Router};
use crate::{Gateway, ServerConfig};

const TOKEN: &str = "T0ken";
const STEP: Duration = Duration::from_secs(10);
const LIMIT: usize = 1024;

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(STEP, fut).await.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A gateway with the test routes; `go` releases the SSE handler's last event.
async fn gateway(go: Arc<Notify>) -> Gateway {
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), AuthMode::Token(Some(Secret::new(TOKEN))));
    // Loopback is not exempt here, so three wrong secrets lock 127.0.0.1 out.
    config.settings.gateway.auth_rate_limit = RateLimitPolicy { max_attempts: 3, exempt_loopback: false, ..RateLimitPolicy::default() };
    let echo = Route::new("/test/echo", &[Method::POST], |req| async move {
        let body = req.body.json().await?;
        let text = body["echo"].as_str().ok_or_else(|| HttpError::BadRequest("echo: expected a string".into()))?;
        Ok(super::respond(hyper::StatusCode::OK, super::TEXT, bytes::Bytes::from(text.to_owned())))
    })
    .auth(RouteAuth::Gateway)
    .body_limit(LIMIT)
    .read_timeout(Duration::from_millis(300));
    let stream = Route::new("/test/sse", &[Method::GET], move |_req| {
        let go = Arc::clone(&go);
        async move {
            let (tx, res) = sse::response(Duration::from_millis(20));
            tokio::spawn(async move {
                tx.data("one").await?;
                tx.event("delta", "two\nlines").await?;
                go.notified().await;
                tx.data("[DONE]").await
            });
            Ok(res)
        }
    });
    let router = Router::builtin().route(echo).route(stream);
    Gateway::start_with_router(config, router).await.expect("gateway starts")
}

async fn stop(gw: Gateway) {
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}

/// One raw HTTP/1.1 connection, read as it arrives.
struct Conn {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr, bytes: &[u8]) -> Self {
        let mut tcp = within("connect", TcpStream::connect(addr)).await.expect("connect");
        within("write", tcp.write_all(bytes)).await.expect("write");
        Self { tcp, buf: Vec::new() }
    }

    async fn write(&mut self, bytes: &[u8]) {
        within("write", self.tcp.write_all(bytes)).await.expect("write");
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = within("server bytes", self.tcp.read(&mut chunk)).await.expect("read");
        assert!(n > 0, "connection closed early; so far: {:?}", String::from_utf8_lossy(&self.buf));
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// Status and the lower-cased head.
    async fn head(&mut self) -> (u16, String) {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await;
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
        self.buf.drain(..end);
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
        (status, head)
    }

    /// A `Content-Length` body.
    async fn body(&mut self, head: &str) -> String {
        let len: usize = header(head, "content-length").and_then(|v| v.parse().ok()).expect("content-length");
        while self.buf.len() < len {
            self.fill().await;
        }
        String::from_utf8(self.buf.drain(..len).collect()).expect("utf-8")
    }

    /// The next chunk of a chunked body; `None` at the last one.
    async fn chunk(&mut self) -> Option<String> {
        let line_end = loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            self.fill().await;
        };
        let size = usize::from_str_radix(String::from_utf8_lossy(&self.buf[..line_end]).trim(), 16).expect("chunk size");
        while self.buf.len() < line_end + 2 + size + 2 {
            self.fill().await;
        }
        let data: Vec<u8> = self.buf.drain(..line_end + 2 + size + 2).skip(line_end + 2).take(size).collect();
        (size > 0).then(|| String::from_utf8(data).expect("utf-8"))
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::trim)
}

async fn exchange(addr: SocketAddr, request: &str) -> (u16, String, String) {
    let mut conn = Conn::open(addr, request.as_bytes()).await;
    let (status, head) = conn.head().await;
    let body = conn.body(&head).await;
    (status, head, body)
}

fn echo(token: &str, body: &str) -> String {
    format!(
        "POST /test/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn unknown_path_is_404_and_a_known_path_with_another_method_405_with_allow() {
    let gw = gateway(Arc::default()).await;
    let addr = gw.local_addr();
    let (status, head, body) = exchange(addr, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!((status, body.as_str()), (404, "Not Found"));
    assert_eq!(header(&head, "content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(header(&head, "x-content-type-options"), Some("nosniff"));
    let (status, head, body) = exchange(addr, "GET /test/echo HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!((status, body.as_str()), (405, "Method Not Allowed"));
    assert_eq!(header(&head, "allow"), Some("post"));
    let (status, head, _) = exchange(addr, "DELETE /readyz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status, 405);
    assert_eq!(header(&head, "allow"), Some("get, head"));
    // No trailing-slash alias (http.md §1.3).
    let (status, _, _) = exchange(addr, "GET /health/ HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status, 404);
    stop(gw).await;
}

#[tokio::test]
async fn gateway_auth_401_json_then_429_after_the_limiter_trips_shared_with_connect() {
    let gw = gateway(Arc::default()).await;
    let addr = gw.local_addr();
    let (status, _, body) = exchange(addr, &echo(TOKEN, r#"{"echo":"hi"}"#)).await;
    assert_eq!((status, body.as_str()), (200, "hi"));
    let no_auth = "POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
    let (status, head, body) = exchange(addr, no_auth).await;
    assert_eq!(status, 401);
    assert_eq!(header(&head, "content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(body, r#"{"error":{"message":"Unauthorized","type":"unauthorized"}}"#);
    // Missing credentials do not count; three wrong ones lock the address out.
    for _ in 0..3 {
        let (status, _, body) = exchange(addr, &echo("wrong", "{}")).await;
        assert_eq!((status, body.as_str()), (401, r#"{"error":{"message":"Unauthorized","type":"unauthorized"}}"#));
    }
    let (status, head, body) = exchange(addr, &echo(TOKEN, r#"{"echo":"hi"}"#)).await;
    assert_eq!(status, 429, "locked out even with the right secret: {body}");
    assert_eq!(header(&head, "retry-after"), Some("300"));
    assert_eq!(
        body,
        r#"{"error":{"message":"Too many failed authentication attempts. Please try again later.","type":"rate_limited"}}"#
    );
    // The same limiter guards the socket's `connect`.
    let mut opts = crate::client::ConnectOptions::cli(format!("ws://{addr}"));
    opts.token = Some(TOKEN.into());
    let refused = within("connect", crate::client::Client::connect(opts)).await;
    let Err(crate::client::ClientError::Rejected { error, .. }) = refused else {
        panic!("connect was not refused: {:?}", refused.map(|(_, hello)| hello));
    };
    assert_eq!(error.details.as_ref().and_then(|d| d["code"].as_str()), Some("AUTH_RATE_LIMITED"), "{error:?}");
    stop(gw).await;
}

#[tokio::test]
async fn oversize_bodies_are_413_as_they_stream_and_slow_ones_408() {
    let gw = gateway(Arc::default()).await;
    let addr = gw.local_addr();
    // Declared too large: refused before any body byte is sent.
    let declared = format!(
        "POST /test/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n",
        LIMIT + 1
    );
    let (status, _, body) = exchange(addr, &declared).await;
    assert_eq!(status, 413);
    assert_eq!(body, r#"{"error":{"message":"Payload too large","type":"invalid_request_error"}}"#);
    // Chunked, no length: two 600-byte chunks and the body is not even finished.
    let head = format!("POST /test/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n");
    let mut conn = Conn::open(addr, head.as_bytes()).await;
    let piece = format!("258\r\n{}\r\n", "x".repeat(600));
    conn.write(piece.as_bytes()).await;
    conn.write(piece.as_bytes()).await;
    let (status, head) = conn.head().await;
    assert_eq!(status, 413);
    assert_eq!(conn.body(&head).await, r#"{"error":{"message":"Payload too large","type":"invalid_request_error"}}"#);
    // Ten of the hundred declared bytes, then silence: the read timeout answers.
    let slow = format!("POST /test/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n0123456789");
    let mut conn = Conn::open(addr, slow.as_bytes()).await;
    let (status, head) = conn.head().await;
    assert_eq!(status, 408);
    assert_eq!(conn.body(&head).await, r#"{"error":{"message":"Request body timeout","type":"invalid_request_error"}}"#);
    // Bad JSON names the parse error.
    let (status, _, body) = exchange(addr, &echo(TOKEN, "{nope")).await;
    assert_eq!(status, 400);
    assert!(body.contains(r#""type":"invalid_request_error""#) && body.contains("key must be a string"), "{body}");
    stop(gw).await;
}

#[tokio::test]
async fn sse_streams_events_keep_alives_and_the_handlers_end() {
    let go = Arc::new(Notify::new());
    let gw = gateway(Arc::clone(&go)).await;
    let mut conn = Conn::open(gw.local_addr(), b"GET /test/sse HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let (status, head) = conn.head().await;
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-type"), Some("text/event-stream; charset=utf-8"));
    assert_eq!(header(&head, "cache-control"), Some("no-cache"));
    assert_eq!(header(&head, "transfer-encoding"), Some("chunked"));
    assert_eq!(header(&head, "x-content-type-options"), Some("nosniff"));
    assert_eq!(conn.chunk().await.as_deref(), Some("data: one\n\n"));
    assert_eq!(conn.chunk().await.as_deref(), Some("event: delta\ndata: two\ndata: lines\n\n"));
    // Idle: the stream stays alive with comments until the handler sends its last event.
    assert_eq!(conn.chunk().await.as_deref(), Some(": keep-alive\n\n"));
    go.notify_one();
    let mut rest = Vec::new();
    while let Some(chunk) = conn.chunk().await {
        rest.push(chunk);
    }
    assert_eq!(rest.last().map(String::as_str), Some("data: [DONE]\n\n"), "{rest:?}");
    assert!(rest[..rest.len() - 1].iter().all(|c| c == ": keep-alive\n\n"), "{rest:?}");
    stop(gw).await;
}
