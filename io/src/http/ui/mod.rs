//! The Control UI on the gateway port (http.md §6, errata "Control UI and canvas"): a
//! single-page app served at `gateway.controlUi.basePath` (root by default) for GET/HEAD when
//! no route took the path. The embedded build (`io/ui/`, see [`assets`]) or a folder
//! (`gateway.controlUi.root`, e.g. the reference's `dist/control-ui`).
//!
//! Routing ([`classify`], §6.2): root-mounted, `/ui` and `/ui/*` are `404` and `/plugins*`,
//! `/api*` and the canvas paths are not the UI's; under a base path `B`, `GET /` and `GET B`
//! redirect `302` to `B/` (query kept) and only `B/*` is the UI's. `B/__openclaw/control-ui-config.json`
//! is the bootstrap JSON (gateway auth). A file that is not there gets `index.html` (SPA
//! fallback) unless its extension is a known static one (`.js`, `.css`, `.png`, …: `404`).
//!
//! Every answer carries the security headers of §6.3 (`X-Frame-Options: DENY`, a CSP with no
//! external hosts, `nosniff`, `no-referrer`). Files have `Cache-Control: no-cache` and a strong
//! ETag (`If-None-Match` → `304`); embedded files are sent brotli or gzip precompressed when
//! the client accepts it. A configured `root` that is not a folder with an `index.html` is
//! `503` naming the path.

pub(crate) mod assets;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, ETAG, IF_NONE_MATCH, LOCATION, VARY};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use super::files::{self, Found, RelPath};
use super::{empty, respond, Body, JSON, TEXT};
use crate::admission::peer_info;
use crate::server::Shared;
use assets::Encoding;

/// Where the UI comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The build embedded in the binary.
    Embedded,
    /// `gateway.controlUi.root`.
    Dir(PathBuf),
}

/// The Control UI as configured (`gateway.controlUi.{basePath,root}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ControlUi {
    /// Normalised: `""` (root) or `/x[/y]` without a trailing slash.
    pub base: String,
    pub source: Source,
}

/// `basePath` normalised (§6.1): `\` → `/`, a leading `/`, `//` collapsed, no trailing `/`,
/// `/` alone is the root (`""`).
pub(crate) fn normalize_base(raw: &str) -> String {
    let segments: Vec<&str> = raw.trim().split(['/', '\\']).filter(|s| !s.is_empty()).collect();
    if segments.is_empty() {
        String::new()
    } else {
        format!("/{}", segments.join("/"))
    }
}

/// What a request under the UI is.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// Not the UI's path: the router's `404`.
    NotUi,
    /// A path the UI refuses (`/ui` at the root).
    NotFound,
    /// `302` to this location.
    Redirect(String),
    /// The bootstrap JSON.
    Config,
    /// A file, relative to the UI's root (still percent-encoded).
    File(String),
}

/// Paths of other surfaces that the root-mounted UI never answers for.
const NOT_UI_PREFIXES: &[&str] = &["/plugins", "/api", "/__openclaw__/canvas", "/__openclaw__/a2ui", "/__openclaw__/ws", "/__openclaw__/cap"];

fn classify(method: &Method, path: &str, query: Option<&str>, base: &str) -> Target {
    if method != Method::GET && method != Method::HEAD {
        return Target::NotUi;
    }
    let rel = if base.is_empty() {
        if path == "/ui" || path.starts_with("/ui/") {
            return Target::NotFound;
        }
        if NOT_UI_PREFIXES.iter().any(|p| path == *p || path.starts_with(&format!("{p}/")) || (!p.starts_with("/__") && path.starts_with(p))) {
            return Target::NotUi;
        }
        &path[1..]
    } else if path == "/" || path == base {
        let search = query.map(|q| format!("?{q}")).unwrap_or_default();
        return Target::Redirect(format!("{base}/{search}"));
    } else if let Some(rest) = path.strip_prefix(base).and_then(|r| r.strip_prefix('/')) {
        rest
    } else {
        return Target::NotUi;
    };
    if rel == "__openclaw/control-ui-config.json" {
        return Target::Config;
    }
    // Asset URLs relative to a deep SPA path (`/chat/assets/x.js`) map to `assets/…`.
    match rel.find("/assets/") {
        Some(i) => Target::File(rel[i + 1..].to_owned()),
        None => Target::File(rel.to_owned()),
    }
}

/// Extensions of http.md §6.3 that never fall back to `index.html`.
const STATIC_EXTENSIONS: &[&str] = &["js", "css", "json", "map", "svg", "png", "jpg", "jpeg", "gif", "webp", "ico", "txt", "webmanifest"];

/// The CSP of §6.3 without the external font and API hosts; `extra_script` adds hashes of a
/// served `index.html`'s inline scripts.
fn csp(extra_script: &str) -> String {
    format!(
        "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; \
         frame-src 'self' blob: http: https:; script-src 'self'{extra_script}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob: https:; media-src 'self' data: blob:; font-src 'self'; worker-src 'self'; \
         connect-src 'self' ws: wss: data: blob:"
    )
}

fn secure(mut res: Response<Body>, extra_script: &str) -> Response<Body> {
    let h = res.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if let Ok(v) = HeaderValue::from_str(&csp(extra_script)) {
        h.insert("content-security-policy", v);
    }
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(self), microphone=*, geolocation=*, clipboard-write=*"),
    );
    res
}

fn not_found() -> Response<Body> {
    respond(StatusCode::NOT_FOUND, TEXT, Bytes::from_static(b"Not Found"))
}

/// Answers a request no route took, when the Control UI is on.
pub(crate) async fn handle(ui: &ControlUi, req: Request<Incoming>, remote: SocketAddr, shared: &Arc<Shared>) -> Response<Body> {
    let target = classify(req.method(), req.uri().path(), req.uri().query(), &ui.base);
    let head = req.method() == Method::HEAD;
    match target {
        Target::NotUi => not_found(),
        Target::NotFound => secure(not_found(), ""),
        Target::Redirect(location) => {
            let mut res = respond(StatusCode::FOUND, TEXT, Bytes::new());
            if let Ok(v) = HeaderValue::from_str(&location) {
                res.headers_mut().insert(LOCATION, v);
            }
            secure(res, "")
        }
        Target::Config => {
            let peer = peer_info(remote, req.headers());
            if let Err(e) = super::auth::check(shared, &peer, req.headers()).await {
                return secure(super::error::openai(&e), "");
            }
            let body = json!({
                "basePath": ui.base,
                "assistantName": "Assistant",
                "assistantAvatar": "A",
                "assistantAvatarSource": null,
                "assistantAvatarStatus": "none",
                "assistantAvatarReason": null,
                "assistantAgentId": "main",
                "serverVersion": env!("CARGO_PKG_VERSION"),
                "localMediaPreviewRoots": [],
                "embedSandbox": "scripts",
                "allowExternalEmbedUrls": false,
                "chatMessageMaxWidth": null,
            });
            let mut res = respond(StatusCode::OK, JSON, Bytes::from(body.to_string()));
            res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            secure(res, "")
        }
        Target::File(rel) => {
            let Some(rel) = RelPath::parse(&rel) else { return secure(not_found(), "") };
            match &ui.source {
                Source::Embedded => embedded(&rel, req.headers(), head),
                Source::Dir(root) => from_dir(root, rel, req.headers(), head).await,
            }
        }
    }
}

/// The embedded file for `rel`, the SPA's `index.html` for an unknown page.
fn embedded(rel: &RelPath, headers: &HeaderMap, head: bool) -> Response<Body> {
    let key = match (rel.segments.join("/"), rel.dir) {
        (k, _) if k.is_empty() => "index.html".to_owned(),
        (k, true) => format!("{k}/index.html"),
        (k, false) => k,
    };
    let asset = match assets::get(&key) {
        Some(a) => a,
        None if rel.extension().is_some_and(|e| STATIC_EXTENSIONS.contains(&e.as_str())) => return secure(not_found(), ""),
        None => match assets::get("index.html") {
            Some(a) => a,
            None => return secure(not_found(), ""),
        },
    };
    let accept = headers.get(ACCEPT_ENCODING).and_then(|v| v.to_str().ok());
    let encoding = Encoding::negotiate(accept);
    let etag = asset.etag(encoding);
    let mime = files::mime_of_path(std::path::Path::new(asset.path));
    let mut res = if matches_etag(headers, &etag) {
        let mut res = Response::new(empty());
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        res
    } else {
        let body = asset.body(encoding);
        let mut res = respond(StatusCode::OK, mime, if head { Bytes::new() } else { Bytes::from_static(body) });
        res.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        if let Some(name) = encoding.name() {
            res.headers_mut().insert(CONTENT_ENCODING, HeaderValue::from_static(name));
        }
        res
    };
    let h = res.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(ETAG, v);
    }
    secure(res, "")
}

/// `If-None-Match` lists `etag` (or is `*`).
fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').map(str::trim).any(|t| t == "*" || t == etag || t.strip_prefix("W/") == Some(etag)))
}

/// A file of `gateway.controlUi.root`.
async fn from_dir(root: &std::path::Path, rel: RelPath, headers: &HeaderMap, head: bool) -> Response<Body> {
    let usable = std::fs::metadata(root).is_ok_and(|m| m.is_dir()) && std::fs::metadata(root.join("index.html")).is_ok_and(|m| m.is_file());
    if !usable {
        let body = format!("Control UI assets not found at {} (gateway.controlUi.root)", root.display());
        return secure(respond(StatusCode::SERVICE_UNAVAILABLE, TEXT, Bytes::from(body)), "");
    }
    let is_static = rel.extension().is_some_and(|e| STATIC_EXTENSIONS.contains(&e.as_str()));
    let (path, bytes) = match files::lookup(root.to_path_buf(), rel).await {
        Found::File { path, bytes } => (path, bytes),
        Found::MissingIndex | Found::NotFound if is_static => return secure(not_found(), ""),
        Found::MissingIndex | Found::NotFound => {
            match files::lookup(root.to_path_buf(), RelPath { segments: vec!["index.html".into()], dir: false }).await {
                Found::File { path, bytes } => (path, bytes),
                _ => return secure(not_found(), ""),
            }
        }
    };
    let mime = files::mime_of_path(&path);
    let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
    let etag = format!("\"{}\"", digest.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect::<String>());
    let scripts = if mime.starts_with("text/html") { inline_script_hashes(&bytes) } else { String::new() };
    let mut res = if matches_etag(headers, &etag) {
        let mut res = Response::new(empty());
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        res
    } else {
        let len = bytes.len();
        let mut res = respond(StatusCode::OK, mime, if head { Bytes::new() } else { bytes });
        res.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(len));
        res
    };
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        res.headers_mut().insert(ETAG, v);
    }
    secure(res, &scripts)
}

/// ` 'sha256-…'` for every inline `<script>` (one without `src`) of an HTML page, so a
/// folder's `index.html` keeps working under `script-src 'self'`.
fn inline_script_hashes(html: &[u8]) -> String {
    use base64::Engine as _;
    let lower = html.to_ascii_lowercase();
    let mut out = String::new();
    let mut at = 0;
    while let Some(start) = find(&lower, b"<script", at) {
        let Some(tag_end) = find(&lower, b">", start) else { break };
        let Some(close) = find(&lower, b"</script", tag_end) else { break };
        let tag = &lower[start..tag_end];
        if find(tag, b" src", 0).is_none() {
            let digest = ring::digest::digest(&ring::digest::SHA256, &html[tag_end + 1..close]);
            out.push_str(&format!(" 'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest.as_ref())));
        }
        at = close + 1;
    }
    out
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_are_normalised() {
        for (raw, want) in [("", ""), ("/", ""), ("openclaw", "/openclaw"), ("/openclaw/", "/openclaw"), ("\\a\\\\b//", "/a/b"), ("//x", "/x")] {
            assert_eq!(normalize_base(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn routing_at_the_root_and_under_a_base() {
        let get = Method::GET;
        assert_eq!(classify(&get, "/", None, ""), Target::File(String::new()));
        assert_eq!(classify(&get, "/chat", None, ""), Target::File("chat".into()));
        assert_eq!(classify(&Method::POST, "/chat", None, ""), Target::NotUi);
        assert_eq!(classify(&get, "/ui", None, ""), Target::NotFound);
        assert_eq!(classify(&get, "/ui/x", None, ""), Target::NotFound);
        assert_eq!(classify(&get, "/uix", None, ""), Target::File("uix".into()));
        assert_eq!(classify(&get, "/api/x", None, ""), Target::NotUi);
        assert_eq!(classify(&get, "/plugins", None, ""), Target::NotUi);
        assert_eq!(classify(&get, "/__openclaw__/canvas/x/", None, ""), Target::NotUi);
        assert_eq!(classify(&get, "/__openclaw/control-ui-config.json", None, ""), Target::Config);
        assert_eq!(classify(&get, "/chat/assets/a.js", None, ""), Target::File("assets/a.js".into()));
        assert_eq!(classify(&get, "/", Some("a=1"), "/oc"), Target::Redirect("/oc/?a=1".into()));
        assert_eq!(classify(&get, "/oc", None, "/oc"), Target::Redirect("/oc/".into()));
        assert_eq!(classify(&get, "/oc/", None, "/oc"), Target::File(String::new()));
        assert_eq!(classify(&get, "/oc/app.js", None, "/oc"), Target::File("app.js".into()));
        assert_eq!(classify(&get, "/ocx", None, "/oc"), Target::NotUi);
        assert_eq!(classify(&get, "/other", None, "/oc"), Target::NotUi);
        assert_eq!(classify(&get, "/oc/__openclaw/control-ui-config.json", None, "/oc"), Target::Config);
    }

    #[test]
    fn inline_scripts_are_hashed_and_external_ones_not() {
        let html = b"<html><script type=module src=\"./a.js\"></script><SCRIPT>alert(1)</SCRIPT></html>";
        // sha256("alert(1)") in base64.
        assert_eq!(inline_script_hashes(html), " 'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='");
        assert_eq!(inline_script_hashes(b"<p>none</p>"), "");
    }
}
