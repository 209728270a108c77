//! Telegram webhook mode's listener (channels-agent-nodes.md §3.4), as the reference: its own
//! HTTP server on `webhookHost:webhookPort` (default `127.0.0.1:8787`; a reverse proxy or tunnel
//! forwards the public `webhookUrl` to it). `POST <webhookPath>` with the right
//! `X-Telegram-Bot-Api-Secret-Token` (compared in constant time) and a JSON body of at most
//! 1 MiB is handed to the account's loop and answered `200` once the update is recorded in the
//! state database (so Telegram re-delivers anything not durable); a wrong or missing secret is
//! `401 unauthorized`, a body that is not JSON `400`, a too large body `413`, `GET /healthz`
//! `200 ok`, anything else `404`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use openclaw_channels::telegram::account::Delivery;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use super::settings::{Webhook, WEBHOOK_HEALTH_PATH};

/// The largest update body accepted.
const MAX_BODY: usize = 1024 * 1024;
/// How long a client may take to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Updates waiting for the account's loop (Telegram waits for each answer, so few queue up).
pub const INBOX: usize = 64;

/// Binds the listener (an error names the address: a port in use is a clear `lastError`).
pub async fn bind(webhook: &Webhook) -> Result<TcpListener, String> {
    let addr = format!("{}:{}", webhook.host, webhook.port);
    TcpListener::bind(&addr).await.map_err(|e| format!("webhook listener on {addr}: {e}"))
}

/// Serves the listener until the task is aborted (the account stops).
pub async fn serve(listener: TcpListener, webhook: Arc<Webhook>, inbox: mpsc::Sender<Delivery>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors or the like: do not spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let (webhook, inbox) = (Arc::clone(&webhook), inbox.clone());
        let service = service_fn(move |req| {
            let (webhook, inbox) = (Arc::clone(&webhook), inbox.clone());
            async move { Ok::<_, Infallible>(answer(req, &webhook, &inbox).await) }
        });
        connections.spawn(async move {
            let conn = http1::Builder::new().timer(TokioTimer::new()).header_read_timeout(BODY_TIMEOUT).serve_connection(TokioIo::new(stream), service);
            let _ = conn.await;
        });
        // Reap finished connections so the set stays small.
        while connections.try_join_next().is_some() {}
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *res.status_mut() = status;
    res.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"));
    res
}

async fn answer(req: Request<Incoming>, webhook: &Webhook, inbox: &mpsc::Sender<Delivery>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    if path == WEBHOOK_HEALTH_PATH && req.method() == Method::GET {
        return text(StatusCode::OK, "ok");
    }
    if path != webhook.path || req.method() != Method::POST {
        return text(StatusCode::NOT_FOUND, "");
    }
    let given = req.headers().get("x-telegram-bot-api-secret-token").map(|v| v.as_bytes().to_vec()).unwrap_or_default();
    if !constant_time_eq(&given, webhook.secret.0.as_bytes()) {
        let mut res = text(StatusCode::UNAUTHORIZED, "unauthorized");
        res.headers_mut().insert(hyper::header::CONNECTION, hyper::header::HeaderValue::from_static("close"));
        return res;
    }
    let body = match tokio::time::timeout(BODY_TIMEOUT, Limited::new(req.into_body(), MAX_BODY).collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return text(StatusCode::PAYLOAD_TOO_LARGE, "payload too large"),
        Ok(Err(_)) => return text(StatusCode::BAD_REQUEST, "bad body"),
        Err(_) => return text(StatusCode::REQUEST_TIMEOUT, "request body timeout"),
    };
    let Ok(update) = serde_json::from_slice::<serde_json::Value>(&body) else { return text(StatusCode::BAD_REQUEST, "invalid JSON") };
    if !update.is_object() {
        return text(StatusCode::BAD_REQUEST, "expected an Update object");
    }
    let (done, recorded) = oneshot::channel();
    if inbox.send(Delivery { update, done }).await.is_err() || recorded.await.is_err() {
        // The account is stopping: Telegram retries later.
        return text(StatusCode::SERVICE_UNAVAILABLE, "");
    }
    text(StatusCode::OK, "")
}

/// Equal bytes, in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"", b"abc"));
    }
}
