//! `/health`, `/healthz` (live) and `/ready`, `/readyz` (ready): public, GET/HEAD, JSON with
//! `Cache-Control: no-store`, no body on HEAD (http.md §8).

use bytes::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL};
use hyper::{Method, StatusCode};
use openclaw_core::Lifecycle;
use serde_json::json;

use super::{respond, HandlerResult, HttpRequest, Route, JSON};

#[derive(Clone, Copy)]
enum Probe {
    Live,
    Ready,
}

pub(super) fn routes() -> Vec<Route> {
    let probe = |path: &str, probe: Probe| {
        Route::new(path, &[Method::GET, Method::HEAD], move |req| async move { answer(&req, probe) })
    };
    vec![
        probe("/health", Probe::Live),
        probe("/healthz", Probe::Live),
        probe("/ready", Probe::Ready),
        probe("/readyz", Probe::Ready),
    ]
}

fn answer(req: &HttpRequest, probe: Probe) -> HandlerResult {
    let (status, body) = match probe {
        Probe::Live => (StatusCode::OK, json!({"ok": true, "status": "live"})),
        Probe::Ready => match req.shared.lifecycle() {
            Lifecycle::Running => (StatusCode::OK, json!({"ok": true, "status": "ready"})),
            Lifecycle::Starting => (StatusCode::SERVICE_UNAVAILABLE, json!({"ok": false, "status": "starting"})),
            Lifecycle::Draining | Lifecycle::Drained => {
                (StatusCode::SERVICE_UNAVAILABLE, json!({"ok": false, "status": "draining"}))
            }
        },
    };
    let body = if req.parts.method == Method::HEAD { Bytes::new() } else { Bytes::from(body.to_string()) };
    let mut res = respond(status, JSON, body);
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}
