//! The WebSocket upgrade on any path, with its admission checks before the `101` (http.md
//! §1.2, protocol.md §1): lifecycle, the per-IP pre-auth budget; the browser Origin verdict
//! for `connect`.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use openclaw_core::{ConnId, Lifecycle};

use super::{empty, respond, Body, TEXT};
use crate::admission::{origin_refused, peer_info};
use crate::canvas_caps::{surface_base, CanvasCaps, CAP_PREFIX};
use crate::server::Shared;
use crate::session_task::{self, SessionStart};

/// Answers an upgrade request; an accepted one spawns the session task.
pub(super) fn upgrade(req: &mut Request<Incoming>, remote: SocketAddr, shared: &Arc<Shared>) -> Response<Body> {
    let config = &shared.config;
    if !matches!(shared.lifecycle(), Lifecycle::Starting | Lifecycle::Running) {
        return respond(StatusCode::SERVICE_UNAVAILABLE, TEXT, Bytes::from_static(b"Gateway restart in progress"));
    }
    // The browser Origin check runs here against the live settings; as the reference, a
    // refused origin still upgrades and its `connect` is answered with the refusal.
    let mut peer = peer_info(remote, req.headers());
    peer.origin_refused = origin_refused(remote, req.headers(), &shared.settings.load().gateway.control_ui);
    if config.verbose {
        if let Some(refusal) = peer.origin_refused {
            tracing::debug!(%remote, reason = refusal.reason(), "browser origin refused; connect will be answered with the refusal");
        }
    }
    // A capability for the canvas host, offered in `hello-ok` when core lets the client have it.
    let canvas = shared.canvas.as_ref().map(|host| {
        let cap = CanvasCaps::mint();
        let local = SocketAddr::new(config.bind.ip(), shared.port);
        peer.canvas_url = Some(format!("{}{CAP_PREFIX}{cap}", surface_base(req.headers(), local)));
        (Arc::clone(&host.caps), cap)
    });
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
        canvas,
    };
    tokio::spawn(session_task::run(start, fut));
    let (parts, _) = response.into_parts();
    Response::from_parts(parts, empty())
}
