//! The WebSocket upgrade on any path, with its admission checks before the `101` (http.md
//! §1.2, protocol.md §1): lifecycle, browser Origin, the per-IP pre-auth budget.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use openclaw_core::{ConnId, Lifecycle};
use serde_json::json;

use super::{empty, respond, Body, JSON, TEXT};
use crate::admission::{origin_allowed, peer_info};
use crate::server::Shared;
use crate::session_task::{self, SessionStart};

const ORIGIN_REFUSED: &str = "origin not allowed (open the Control UI from the gateway host or allow it in gateway.controlUi.allowedOrigins)";

/// Answers an upgrade request; an accepted one spawns the session task.
pub(super) fn upgrade(req: &mut Request<Incoming>, remote: SocketAddr, shared: &Arc<Shared>) -> Response<Body> {
    let config = &shared.config;
    if !matches!(shared.lifecycle(), Lifecycle::Starting | Lifecycle::Running) {
        return respond(StatusCode::SERVICE_UNAVAILABLE, TEXT, Bytes::from_static(b"Gateway restart in progress"));
    }
    if let Some(origin) = req.headers().get("origin") {
        let origin = origin.to_str().unwrap_or("");
        let settings = shared.settings.load();
        if !origin_allowed(origin, &settings.gateway.control_ui.allowed_origins, shared.port) {
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
    Response::from_parts(parts, empty())
}
