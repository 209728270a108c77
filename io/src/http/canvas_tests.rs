//! The canvas host over real sockets (http.md §7, errata): a gateway on 127.0.0.1:0 with a
//! state dir holding documents, raw HTTP/1.1 requests, so every status and header is what the
//! server sent. Auth, unknown ids, MIME, HEAD, traversal attempts, the switch-off, and live
//! reload seen on `/__openclaw__/ws`. No sleeps: every wait is bounded by
//! [`raw_client::STEP`].

use std::net::SocketAddr;
use std::path::Path;

use openclaw_core::auth::{AuthMode, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::raw_client::{self, stop, within, Answer};
use crate::{Gateway, ServerConfig};

const TOKEN: &str = "canvas-T0ken";

/// A state dir with `documents/doc1/{index.html,app.js,sub/page.htm,link.txt→../../secret.txt}`
/// and `documents/empty/`.
fn state_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("canvas/documents");
    std::fs::create_dir_all(docs.join("doc1/sub")).unwrap();
    std::fs::create_dir_all(docs.join("empty")).unwrap();
    std::fs::write(docs.join("doc1/index.html"), "<html><body><h1>doc one</h1></body></html>").unwrap();
    std::fs::write(docs.join("doc1/app.js"), "console.log(1)").unwrap();
    std::fs::write(docs.join("doc1/sub/page.htm"), "<p>sub").unwrap();
    std::fs::write(docs.join("doc1/data.bin"), [0u8, 1, 2]).unwrap();
    std::fs::write(dir.path().join("secret.txt"), "SECRET").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), docs.join("doc1/link.txt")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path(), docs.join("escape")).unwrap();
    dir
}

async fn gateway(state: &Path, canvas: bool) -> Gateway {
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), AuthMode::Token(Some(Secret::new(TOKEN))));
    config.state_dir = Some(state.display().to_string());
    config.canvas_host = canvas;
    Gateway::start(config).await.expect("gateway starts")
}


/// One request, with the token as a bearer when given.
async fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> Answer {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    raw_client::request(addr, method, path, &auth).await
}

async fn get(addr: SocketAddr, path: &str) -> Answer {
    request(addr, "GET", path, Some(TOKEN)).await
}

#[tokio::test]
async fn documents_need_the_token_and_a_known_id() {
    let state = state_dir();
    let gw = gateway(state.path(), true).await;
    let addr = gw.local_addr();

    let anonymous = request(addr, "GET", "/__openclaw__/canvas/doc1/", None).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.text(), r#"{"error":{"message":"Unauthorized","type":"unauthorized"}}"#);
    assert_eq!(request(addr, "GET", "/__openclaw__/canvas/doc1/", Some("wrong")).await.status, 401);
    // Unknown ids are 404 only for callers with the token.
    assert_eq!(request(addr, "GET", "/__openclaw__/canvas/nope/", None).await.status, 401);
    let unknown = get(addr, "/__openclaw__/canvas/nope/index.html").await;
    assert_eq!((unknown.status, unknown.text().as_str()), (404, "not found"));

    let page = get(addr, "/__openclaw__/canvas/doc1/").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let html = page.text();
    assert!(html.starts_with("<html><body><h1>doc one</h1><script>"), "{html}");
    assert!(html.contains("/__openclaw__/ws") && html.ends_with("</script></body></html>"), "{html}");
    assert_eq!(page.header("content-length"), Some(html.len().to_string().as_str()));
    // Without the trailing slash, and the index by name, are the same page.
    assert_eq!(get(addr, "/__openclaw__/canvas/doc1").await.text(), html);
    assert_eq!(get(addr, "/__openclaw__/canvas/doc1/index.html").await.text(), html);

    let js = get(addr, "/__openclaw__/canvas/doc1/app.js").await;
    assert_eq!((js.status, js.header("content-type")), (200, Some("application/javascript; charset=utf-8")));
    assert_eq!(js.text(), "console.log(1)");
    let htm = get(addr, "/__openclaw__/canvas/doc1/sub/page.htm").await;
    assert_eq!(htm.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(htm.text().starts_with("<p>sub<script>"));
    let bin = get(addr, "/__openclaw__/canvas/doc1/data.bin").await;
    assert_eq!((bin.header("content-type"), bin.body.as_slice()), (Some("application/octet-stream"), &[0u8, 1, 2][..]));

    let head = request(addr, "HEAD", "/__openclaw__/canvas/doc1/app.js", Some(TOKEN)).await;
    assert_eq!((head.status, head.header("content-length")), (200, Some("14")));
    assert!(head.body.is_empty());
    let post = request(addr, "POST", "/__openclaw__/canvas/doc1/app.js", Some(TOKEN)).await;
    assert_eq!(post.status, 405);

    let missing_index = get(addr, "/__openclaw__/canvas/empty/").await;
    assert_eq!(missing_index.status, 404);
    assert!(missing_index.text().contains("<title>OpenClaw Canvas</title><pre>Missing file."), "{}", missing_index.text());
    assert_eq!(get(addr, "/__openclaw__/canvas/doc1/nope.js").await.status, 404);
    stop(gw).await;
}

#[tokio::test]
async fn no_path_leaves_the_document_folder() {
    let state = state_dir();
    let gw = gateway(state.path(), true).await;
    let addr = gw.local_addr();
    for path in [
        "/__openclaw__/canvas/doc1/../../secret.txt",
        "/__openclaw__/canvas/doc1/..%2f..%2fsecret.txt",
        "/__openclaw__/canvas/doc1/%2e%2e/%2e%2e/secret.txt",
        "/__openclaw__/canvas/doc1/%2E%2E%2F%2E%2E%2Fsecret.txt",
        "/__openclaw__/canvas/..%2F..%2F/secret.txt",
        "/__openclaw__/canvas/%2e%2e/secret.txt",
        "/__openclaw__/canvas/doc1/link.txt",
        "/__openclaw__/canvas/escape/secret.txt",
        "/__openclaw__/canvas/doc1/%2F..%2Fsecret.txt",
        "/__openclaw__/canvas/doc1/%2Fetc%2Fpasswd",
        "/__openclaw__/canvas/doc1/app.js%00.png",
        "/__openclaw__/canvas/doc1/..%5C..%5Csecret.txt",
    ] {
        let answer = get(addr, path).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.text());
        assert!(!answer.text().contains("SECRET"), "{path}");
    }
    stop(gw).await;
}

#[tokio::test]
async fn skip_env_switch_turns_the_canvas_host_off() {
    let state = state_dir();
    let gw = gateway(state.path(), false).await;
    let answer = get(gw.local_addr(), "/__openclaw__/canvas/doc1/").await;
    assert_eq!((answer.status, answer.text().as_str()), (404, "Not Found"));
    assert_eq!(get(gw.local_addr(), "/__openclaw__/ws").await.status, 404);
    stop(gw).await;
}

/// Reads one unmasked server frame: (opcode, payload).
async fn read_frame(tcp: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    within("frame head", tcp.read_exact(&mut head)).await.unwrap();
    let len = usize::from(head[1] & 0x7f);
    assert!(len < 126, "short frames only");
    let mut payload = vec![0u8; len];
    within("frame payload", tcp.read_exact(&mut payload)).await.unwrap();
    (head[0] & 0x0f, payload)
}

#[tokio::test]
async fn a_changed_file_sends_reload_on_the_live_reload_socket() {
    let state = state_dir();
    let gw = gateway(state.path(), true).await;
    let addr = gw.local_addr();
    let plain = get(addr, "/__openclaw__/ws").await;
    assert_eq!((plain.status, plain.text().as_str()), (426, "upgrade required"));

    let mut tcp = within("connect", TcpStream::connect(addr)).await.unwrap();
    let upgrade = "GET /__openclaw__/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    within("write", tcp.write_all(upgrade.as_bytes())).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        within("101", tcp.read_exact(&mut b)).await.unwrap();
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));

    // The first listener takes the baseline before its 101, so one write is seen.
    let page = state.path().join("canvas/documents/doc1/index.html");
    std::fs::write(&page, "<body>v2</body>").unwrap();
    let frame = read_frame(&mut tcp).await;
    assert_eq!(frame, (0x1, b"reload".to_vec()));
    stop(gw).await;
}
