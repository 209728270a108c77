//! The Control UI over real sockets (http.md §6): the embedded build at the root and under a
//! base path, and a `root` folder. Raw HTTP/1.1, every status and header as sent.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

use openclaw_core::auth::{AuthMode, Secret};

use super::ui::assets;
use super::raw_client::{request, stop, Answer};
use crate::{Gateway, ServerConfig};

const TOKEN: &str = "ui-T0ken";

async fn gateway(base: &str, root: Option<PathBuf>) -> Gateway {
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), AuthMode::Token(Some(Secret::new(TOKEN))));
    let ui = &mut config.settings.gateway.control_ui;
    ui.enabled = true;
    ui.base_path = super::normalize_base_path(base);
    ui.root = root;
    Gateway::start(config).await.expect("gateway starts")
}

async fn get(addr: SocketAddr, path: &str) -> Answer {
    request(addr, "GET", path, "").await
}

fn index() -> &'static [u8] {
    assets::get("index.html").unwrap().raw
}

#[tokio::test]
async fn the_embedded_ui_at_the_root() {
    let gw = gateway("", None).await;
    let addr = gw.local_addr();
    let page = get(addr, "/").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(page.body, index());
    assert_eq!(page.header("x-frame-options"), Some("deny"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(csp.starts_with("default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none';"), "{csp}");
    assert!(csp.contains("script-src 'self';") && csp.contains("connect-src 'self' ws: wss:"), "{csp}");
    assert!(!csp.contains("googleapis") && !csp.contains("gstatic") && !csp.contains("openai"), "{csp}");
    let etag = page.header("etag").expect("an etag").to_owned();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");

    // SPA fallback: an unknown page is index.html; a missing static file is 404.
    let deep = get(addr, "/sessions/agent:main:main").await;
    assert_eq!((deep.status, deep.body.as_slice()), (200, index()));
    assert_eq!(deep.header("etag"), Some(etag.as_str()));
    for path in ["/missing.js", "/x/y.css", "/logo.png", "/ui", "/ui/app.js", "/api/x", "/plugins/x", "/__openclaw__/canvas/x/"] {
        let answer = get(addr, path).await;
        assert_eq!((answer.status, answer.text().as_str()), (404, "Not Found"), "{path}");
    }
    let post = request(addr, "POST", "/", "Content-Length: 0\r\n").await;
    assert_eq!(post.status, 404);
    // Routes still win over the UI.
    let health = get(addr, "/health").await;
    assert_eq!((health.status, health.text().as_str()), (200, r#"{"ok":true,"status":"live"}"#));

    // 304 on a matching If-None-Match; HEAD has the length and no body.
    let again = request(addr, "GET", "/", &format!("If-None-Match: {etag}\r\n")).await;
    assert_eq!((again.status, again.body.len()), (304, 0));
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    let other = request(addr, "GET", "/", "If-None-Match: \"nope\"\r\n").await;
    assert_eq!(other.status, 200);
    let head = request(addr, "HEAD", "/", "").await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(index().len().to_string().as_str()));
    assert!(head.body.is_empty());

    // Precompressed bodies by Accept-Encoding, each with its own strong ETag.
    let raw = assets::get("app.js").unwrap().raw;
    let br = request(addr, "GET", "/app.js", "Accept-Encoding: gzip, deflate, br\r\n").await;
    assert_eq!((br.status, br.header("content-encoding")), (200, Some("br")));
    assert_eq!(br.header("content-type"), Some("application/javascript; charset=utf-8"));
    assert_eq!(br.header("vary"), Some("accept-encoding"));
    let mut decoded = Vec::new();
    brotli::Decompressor::new(br.body.as_slice(), 4096).read_to_end(&mut decoded).unwrap();
    assert_eq!(decoded, raw);
    assert!(br.body.len() < raw.len());
    let gz = request(addr, "GET", "/app.js", "Accept-Encoding: gzip\r\n").await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(gz.body.as_slice()).read_to_end(&mut decoded).unwrap();
    assert_eq!(decoded, raw);
    assert_ne!(gz.header("etag"), br.header("etag"));
    let plain = get(addr, "/app.js").await;
    assert_eq!((plain.header("content-encoding"), plain.body.as_slice()), (None, raw));
    stop(gw).await;
}

#[tokio::test]
async fn bootstrap_config_needs_the_secret() {
    let gw = gateway("", None).await;
    let addr = gw.local_addr();
    let anonymous = get(addr, "/__openclaw/control-ui-config.json").await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.text(), r#"{"error":{"message":"Unauthorized","type":"unauthorized"}}"#);
    let ok = request(addr, "GET", "/__openclaw/control-ui-config.json", &format!("Authorization: Bearer {TOKEN}\r\n")).await;
    assert_eq!(ok.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&ok.body).unwrap();
    assert_eq!(body["basePath"], "");
    assert_eq!(body["serverVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["assistantAgentId"], "main");
    stop(gw).await;
}

#[tokio::test]
async fn a_base_path_redirects_and_scopes_the_ui() {
    let gw = gateway("openclaw/", None).await;
    let addr = gw.local_addr();
    for (path, location) in [("/", "/openclaw/"), ("/?x=1", "/openclaw/?x=1"), ("/openclaw", "/openclaw/"), ("/openclaw?t=2", "/openclaw/?t=2")] {
        let answer = get(addr, path).await;
        assert_eq!((answer.status, answer.header("location")), (302, Some(location)), "{path}");
    }
    let page = get(addr, "/openclaw/").await;
    assert_eq!((page.status, page.body.as_slice()), (200, index()));
    assert_eq!(get(addr, "/openclaw/chat").await.body, index());
    assert_eq!(get(addr, "/openclaw/app.js").await.status, 200);
    assert_eq!(get(addr, "/elsewhere").await.status, 404);
    assert_eq!(get(addr, "/openclawx").await.status, 404);
    assert_eq!(get(addr, "/openclaw/__openclaw/control-ui-config.json").await.status, 401);
    stop(gw).await;
}

#[tokio::test]
async fn a_root_folder_is_served_instead() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("control-ui");
    std::fs::create_dir_all(root.join("assets")).unwrap();
    std::fs::write(root.join("index.html"), "<html><script>boot()</script><script src=\"./assets/a.js\"></script></html>").unwrap();
    std::fs::write(root.join("assets/a.js"), "export {}").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "SECRET").unwrap();
    let gw = gateway("", Some(root.clone())).await;
    let addr = gw.local_addr();
    let page = get(addr, "/").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("boot()"));
    let csp = page.header("content-security-policy").unwrap();
    // sha256("boot()") in base64.
    assert!(csp.contains("script-src 'self' 'sha256-"), "{csp}");
    assert!(get(addr, "/chat").await.text().contains("boot()"), "SPA fallback from the folder");
    let js = get(addr, "/assets/a.js").await;
    assert_eq!((js.status, js.text().as_str()), (200, "export {}"));
    assert_eq!(get(addr, "/chat/assets/a.js").await.text(), "export {}");
    assert_eq!(get(addr, "/assets/b.js").await.status, 404);
    let escape = get(addr, "/..%2fsecret.txt").await;
    assert!(escape.status == 404 && !escape.text().contains("SECRET"));
    let etag = js.header("etag").unwrap().to_owned();
    assert_eq!(request(addr, "GET", "/assets/a.js", &format!("If-None-Match: {etag}\r\n")).await.status, 304);
    stop(gw).await;

    let missing = dir.path().join("nope");
    let gw = gateway("", Some(missing.clone())).await;
    let answer = get(gw.local_addr(), "/").await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.text(), format!("Control UI assets not found at {} (gateway.controlUi.root)", missing.display()));
    stop(gw).await;
}
