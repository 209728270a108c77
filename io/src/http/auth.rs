//! The gateway's auth on HTTP (http.md §1.4): `Authorization: Bearer <secret>` checked by the
//! hub against `gateway.auth`, on the same failed-attempt limiter as the socket's `connect`.

use std::time::Duration;

use hyper::header::AUTHORIZATION;
use hyper::HeaderMap;
use openclaw_core::auth::AuthFailure;
use openclaw_core::PeerInfo;
use tokio::sync::oneshot;

use super::HttpError;
use crate::hub_task::HubInput;
use crate::server::Shared;

/// The credential of `Authorization: Bearer …` (scheme case-insensitive, value trimmed).
pub(super) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim_start();
    let scheme = value.get(..7)?;
    scheme.eq_ignore_ascii_case("bearer ").then(|| value[7..].trim().to_owned()).filter(|v| !v.is_empty())
}

/// Ok when the request carries the gateway's secret. A wrong one from loopback is answered
/// after the limiter's escalating delay, as on the socket (loopback is delayed, not locked out).
pub(super) async fn check(shared: &Shared, peer: &PeerInfo, headers: &HeaderMap) -> Result<(), HttpError> {
    let (reply, answer) = oneshot::channel();
    let caller = shared.hub_handle.http_caller();
    let input = HubInput::HttpAuth { caller, ip: peer.ip, bearer: bearer(headers), reply };
    shared.hub.send(input).await.map_err(|_| HttpError::Unavailable)?;
    let refusal = match answer.await.map_err(|_| HttpError::Unavailable)? {
        Ok(()) => return Ok(()),
        Err(refusal) => refusal,
    };
    if let AuthFailure::RateLimited { retry_after_ms } = refusal.failure {
        return Err(HttpError::RateLimited { retry_after: Duration::from_millis(retry_after_ms) });
    }
    if !refusal.delay.is_zero() {
        tokio::time::sleep(refusal.delay).await;
    }
    Err(HttpError::Unauthorized)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_trimmed() {
        assert_eq!(bearer(&headers("Bearer abc")), Some("abc".into()));
        assert_eq!(bearer(&headers("bEaReR   abc  ")), Some("abc".into()));
        assert_eq!(bearer(&headers("Basic abc")), None);
        assert_eq!(bearer(&headers("Bearer ")), None);
        assert_eq!(bearer(&headers("Bearer")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
