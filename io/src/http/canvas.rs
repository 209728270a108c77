//! The canvas host on the main port (http.md §7, errata "Control UI and canvas"):
//! `/__openclaw__/canvas/<id>/<path>` serves `<state>/canvas/documents/<id>/<path>` to callers
//! with the gateway's secret (`401` without, `404` for an unknown document id), GET/HEAD only,
//! `Cache-Control: no-store`, a directory gives its `index.html`, and HTML gets the live-reload
//! script injected before its last `</body>`. Paths never leave the document's folder
//! ([`super::files`]). `OPENCLAW_SKIP_CANVAS_HOST=1` (read by the CLI) turns it all off.
//!
//! Live reload: a plain `GET /__openclaw__/ws` answers `426`; the upgrade is taken by
//! [`crate::canvas_reload`], which sends the text frame `reload` when a file under the
//! documents folder changes.

use std::path::PathBuf;

use bytes::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL};
use hyper::{Method, StatusCode};

use super::files::{self, Found, RelPath};
use super::{respond, HandlerResult, HttpRequest, Route, RouteAuth, TEXT};

/// The live-reload socket's path.
pub(crate) const RELOAD_PATH: &str = "/__openclaw__/ws";

/// Injected into every served HTML page: reloads it when the gateway says a file changed.
/// A page opened by its capability-scoped URL keeps the `/__openclaw__/cap/<cap>` prefix.
const RELOAD_SCRIPT: &str = r#"<script>(()=>{try{const p=location.protocol==="https:"?"wss":"ws";const c=location.pathname.match(/^\/__openclaw__\/cap\/[^/]+/);const ws=new WebSocket(p+"://"+location.host+(c?c[0]:"")+"/__openclaw__/ws");ws.onmessage=(e)=>{if(String(e.data||"")==="reload")location.reload()};globalThis.__openclawCanvasReload=ws}catch(e){}})();</script>"#;

/// The canvas routes for documents under `root` (`<state>/canvas/documents`).
pub(super) fn routes(root: PathBuf) -> Vec<Route> {
    let get = [Method::GET, Method::HEAD];
    let doc = |path: &str| {
        let root = root.clone();
        Route::new(path, &get, move |req| serve(req, root.clone())).auth(RouteAuth::GatewayOrCanvasCap)
    };
    vec![
        doc("/__openclaw__/canvas/{id}"),
        doc("/__openclaw__/canvas/{id}/"),
        doc("/__openclaw__/canvas/{id}/{*rest}"),
        Route::new(RELOAD_PATH, &get, |_req| async {
            Ok(respond(StatusCode::UPGRADE_REQUIRED, TEXT, Bytes::from_static(b"upgrade required")))
        }),
    ]
}

fn not_found() -> HandlerResult {
    Ok(no_store(respond(StatusCode::NOT_FOUND, TEXT, Bytes::from_static(b"not found"))))
}

fn no_store(mut res: hyper::Response<super::Body>) -> hyper::Response<super::Body> {
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn serve(req: HttpRequest, root: PathBuf) -> HandlerResult {
    let Some(id) = RelPath::parse(&req.params["id"]).filter(|p| p.segments.len() == 1 && !p.dir) else {
        return not_found();
    };
    let rest = req.params.get("rest").map_or("", String::as_str);
    let Some(mut rel) = RelPath::parse(rest) else { return not_found() };
    rel.dir |= !req.params.contains_key("rest");
    let doc_dir = root.join(&id.segments[0]);
    // An unknown id (or one that is a symlink or a file) is a 404 before anything else.
    if !std::fs::symlink_metadata(&doc_dir).is_ok_and(|m| m.is_dir()) {
        return not_found();
    }
    let (path, bytes) = match files::lookup(doc_dir, rel).await {
        Found::File { path, bytes } => (path, bytes),
        Found::MissingIndex => {
            let body = format!(
                "<!doctype html><meta charset=\"utf-8\" /><title>OpenClaw Canvas</title><pre>Missing file.\nCreate {}/index.html</pre>",
                id.segments[0]
            );
            return Ok(no_store(respond(StatusCode::NOT_FOUND, "text/html; charset=utf-8", Bytes::from(body))));
        }
        Found::NotFound => return not_found(),
    };
    let mime = files::mime_of_path(&path);
    let body = if mime.starts_with("text/html") { inject_reload(&bytes) } else { bytes };
    let len = body.len();
    let body = if req.parts.method == Method::HEAD { Bytes::new() } else { body };
    let mut res = no_store(respond(StatusCode::OK, mime, body));
    res.headers_mut().insert(hyper::header::CONTENT_LENGTH, HeaderValue::from(len));
    Ok(res)
}

/// The live-reload upgrade: local-direct callers (loopback, no proxy headers), a live canvas
/// capability (`cap`, from a scoped URL), or the gateway's bearer secret; anything else gets
/// `401` with `Connection: close`.
pub(super) async fn upgrade(
    req: &mut hyper::Request<hyper::body::Incoming>,
    remote: std::net::SocketAddr,
    shared: &std::sync::Arc<crate::server::Shared>,
    cap: Option<&str>,
) -> hyper::Response<super::Body> {
    let Some(host) = shared.canvas.as_ref() else { return super::upgrade::upgrade(req, remote, shared) };
    let peer = crate::admission::peer_info(remote, req.headers());
    let local_direct = peer.ip.is_loopback() && !peer.forwarded;
    let by_cap = super::canvas_cap_ok(shared, cap);
    if !local_direct && !by_cap && super::auth::check(shared, &peer, req.headers()).await.is_err() {
        let mut res = respond(StatusCode::UNAUTHORIZED, TEXT, Bytes::new());
        res.headers_mut().insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
        return res;
    }
    let (response, fut) = match fastwebsockets::upgrade::upgrade(&mut *req) {
        Ok(pair) => pair,
        Err(e) => return respond(StatusCode::BAD_REQUEST, TEXT, Bytes::from(e.to_string())),
    };
    tokio::spawn(crate::canvas_reload::serve(fut, host.subscribe(), shared.shutdown.clone(), shared.tracker.token()));
    let (parts, _) = response.into_parts();
    hyper::Response::from_parts(parts, super::empty())
}

/// The page with [`RELOAD_SCRIPT`] before its last `</body>` (case-insensitive), or appended.
fn inject_reload(html: &[u8]) -> Bytes {
    let lower = html.to_ascii_lowercase();
    let at = lower.windows(7).rposition(|w| w == b"</body>").unwrap_or(html.len());
    let mut out = Vec::with_capacity(html.len() + RELOAD_SCRIPT.len());
    out.extend_from_slice(&html[..at]);
    out.extend_from_slice(RELOAD_SCRIPT.as_bytes());
    out.extend_from_slice(&html[at..]);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_script_goes_before_the_last_body_close() {
        let page = inject_reload(b"<html><body>x</body><!-- </BODY> --></html>");
        let text = std::str::from_utf8(&page).unwrap();
        assert!(text.starts_with("<html><body>x</body><!-- <script>"), "{text}");
        assert!(text.ends_with("</script></BODY> --></html>"), "{text}");
        let bare = inject_reload(b"<p>hi");
        assert!(std::str::from_utf8(&bare).unwrap().starts_with("<p>hi<script>"));
    }
}
