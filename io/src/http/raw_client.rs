//! A raw HTTP/1.1 client for the router's socket tests (Control UI, canvas): one request with
//! `Connection: close`, the answer read to EOF, so every status and header is what the server
//! sent. Every wait is bounded by [`STEP`]; nothing sleeps.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Gateway;

pub(super) const STEP: Duration = Duration::from_secs(10);

pub(super) async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(STEP, fut).await.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

pub(super) async fn stop(gw: Gateway) {
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.expect("clean exit");
}

pub(super) struct Answer {
    pub status: u16,
    /// Lower-cased head.
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::trim)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request (extra header lines, each ending in `\r\n`, in `headers`).
pub(super) async fn request(addr: SocketAddr, method: &str, path: &str, headers: &str) -> Answer {
    let raw = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n");
    let mut tcp = within("connect", TcpStream::connect(addr)).await.unwrap();
    within("write", tcp.write_all(raw.as_bytes())).await.unwrap();
    let mut all = Vec::new();
    within("answer", tcp.read_to_end(&mut all)).await.unwrap();
    let end = all.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
    let head = String::from_utf8_lossy(&all[..end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
    Answer { status, head, body: all[end..].to_vec() }
}
