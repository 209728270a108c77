//! A tiny forward HTTP proxy for plain `http://` upstreams (no `CONNECT`), on `127.0.0.1:0`:
//! it takes absolute-form requests (`POST http://host:port/path HTTP/1.1`), records the target,
//! and forwards the request in origin form to `127.0.0.1:port` whatever the host is, so a
//! test can name an upstream that only the proxy can reach (`model.test`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// A running proxy; stops when dropped.
pub struct FakeProxy {
    pub addr: SocketAddr,
    targets: Arc<Mutex<Vec<String>>>,
    tasks: Arc<Mutex<JoinSet<()>>>,
}

impl FakeProxy {
    pub async fn start() -> FakeProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake proxy");
        let addr = listener.local_addr().expect("addr");
        let targets = Arc::new(Mutex::new(Vec::new()));
        let tasks = Arc::new(Mutex::new(JoinSet::new()));
        let (t, ts) = (Arc::clone(&targets), Arc::clone(&tasks));
        tasks.lock().expect("lock").spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                ts.lock().expect("lock").spawn(forward(stream, Arc::clone(&t)));
            }
        });
        FakeProxy { addr, targets, tasks }
    }

    /// `http://127.0.0.1:P`, for `HTTP_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The absolute URLs requested through the proxy so far.
    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().expect("lock").clone()
    }
}

impl Drop for FakeProxy {
    fn drop(&mut self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.abort_all();
        }
    }
}

async fn forward(mut client: TcpStream, targets: Arc<Mutex<Vec<String>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(10), client.read(&mut chunk)).await else { return };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let Some((request_line, rest)) = head.split_once("\r\n") else { return };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else { return };
    let Some(after_scheme) = target.strip_prefix("http://") else {
        let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
        return;
    };
    targets.lock().expect("lock").push(target.to_owned());
    let (authority, path) = after_scheme.split_once('/').map_or((after_scheme, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let port: u16 = authority.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap_or(80);
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", port)).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
        return;
    };
    let mut out = format!("{method} {path} {version}\r\n{rest}").into_bytes();
    out.extend_from_slice(&buf[head_end..]);
    if upstream.write_all(&out).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}
