//! The HTTP side of the single port: probes, 404, and the WebSocket upgrade with its admission
//! checks (http.md §1, §8; protocol.md §1).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use openclaw_core::{ConnId, Lifecycle};
use serde_json::json;

use crate::admission::{origin_allowed, peer_info};
use crate::server::Shared;
use crate::session_task::{self, SessionStart};

pub(crate) type Body = Full<Bytes>;

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";
const ORIGIN_REFUSED: &str = "origin not allowed (open the Control UI from the gateway host or allow it in gateway.controlUi.allowedOrigins)";

/// Answers one HTTP request; an accepted upgrade spawns the session task.
pub(crate) fn handle(mut req: Request<Incoming>, remote: SocketAddr, shared: &Arc<Shared>) -> Response<Body> {
    if fastwebsockets::upgrade::is_upgrade_request(&req) {
        return upgrade(&mut req, remote, shared);
    }
    let probe = match req.uri().path() {
        "/health" | "/healthz" => Some(Probe::Live),
        "/ready" | "/readyz" => Some(Probe::Ready),
        _ => None,
    };
    let Some(probe) = probe else {
        return respond(StatusCode::NOT_FOUND, TEXT, Bytes::from_static(b"Not Found"));
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut res = respond(StatusCode::METHOD_NOT_ALLOWED, TEXT, Bytes::from_static(b"Method Not Allowed"));
        res.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return res;
    }
    let (status, body) = match probe {
        Probe::Live => (StatusCode::OK, json!({"ok": true, "status": "live"})),
        Probe::Ready => match shared.lifecycle() {
            Lifecycle::Running => (StatusCode::OK, json!({"ok": true, "status": "ready"})),
            Lifecycle::Starting => {
                (StatusCode::SERVICE_UNAVAILABLE, json!({"ok": false, "status": "starting"}))
            }
            Lifecycle::Draining | Lifecycle::Drained => {
                (StatusCode::SERVICE_UNAVAILABLE, json!({"ok": false, "status": "draining"}))
            }
        },
    };
    let body = if req.method() == Method::HEAD { Bytes::new() } else { Bytes::from(body.to_string()) };
    let mut res = respond(status, JSON, body);
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

enum Probe {
    Live,
    Ready,
}

fn upgrade(req: &mut Request<Incoming>, remote: SocketAddr, shared: &Arc<Shared>) -> Response<Body> {
    let config = &shared.config;
    if !matches!(shared.lifecycle(), Lifecycle::Starting | Lifecycle::Running) {
        return respond(StatusCode::SERVICE_UNAVAILABLE, TEXT, Bytes::from_static(b"Gateway restart in progress"));
    }
    if let Some(origin) = req.headers().get("origin") {
        let origin = origin.to_str().unwrap_or("");
        if !origin_allowed(origin, &config.allowed_origins, shared.port) {
            if config.verbose {
                tracing::debug!(%remote, origin, "upgrade refused: origin not allowed");
            }
            let body = json!({"ok": false, "error": {"type": "forbidden", "message": ORIGIN_REFUSED}});
            return respond(StatusCode::FORBIDDEN, JSON, Bytes::from(body.to_string()));
        }
    }
    let peer = peer_info(remote, req.headers());
    let Some(slot) = shared.preauth.try_acquire(peer.ip) else {
        tracing::debug!(%remote, "upgrade refused: pre-auth budget spent");
        return respond(StatusCode::SERVICE_UNAVAILABLE, TEXT, Bytes::from_static(b"Too many unauthenticated sockets"));
    };
    let (response, fut) = match fastwebsockets::upgrade::upgrade(&mut *req) {
        Ok(pair) => pair,
        Err(e) => return respond(StatusCode::BAD_REQUEST, TEXT, Bytes::from(e.to_string())),
    };
    let conn = ConnId(shared.next_conn.fetch_add(1, Ordering::Relaxed));
    if config.verbose {
        tracing::debug!(%conn, %remote, path = req.uri().path(), "websocket upgrade");
    }
    let start = SessionStart {
        conn,
        peer,
        limits: config.limits.clone(),
        hub: shared.hub.clone(),
        slot: Some(slot),
        verbose: config.verbose,
        token: shared.tracker.token(),
    };
    tokio::spawn(session_task::run(start, fut));
    let (parts, _) = response.into_parts();
    Response::from_parts(parts, Full::new(Bytes::new()))
}

/// A response with the baseline headers every gateway response carries (http.md §1.1).
fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("permissions-policy", HeaderValue::from_static("camera=(), geolocation=()"));
    res
}
