//! Capability-scoped canvas URLs (http.md §7.4, errata "Control UI and canvas"): each socket
//! the canvas host could serve gets a capability minted on its upgrade (18 random bytes,
//! base64url), offered by core in `hello-ok.pluginSurfaceUrls.canvas` as
//! `http://host:port/__openclaw__/cap/<capability>`. Once the hello went out, a request under
//! that prefix (or with `?oc_cap=<capability>`) reaches the canvas without the gateway's
//! secret, while the socket is connected and for [`TTL`] after its last use (sliding). A
//! wrong, expired or released capability is `401`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use openclaw_core::{ConnId, Instant};

/// The path prefix of a capability-scoped URL.
pub(crate) const CAP_PREFIX: &str = "/__openclaw__/cap/";
/// The query parameter form of the capability.
pub(crate) const CAP_QUERY: &str = "oc_cap";
/// How long a capability lives without use (the reference's 10 minutes).
pub(crate) const TTL: Duration = Duration::from_secs(600);

/// The capabilities held by connected sockets. Bounded by the sockets: one entry each,
/// removed when the socket ends.
#[derive(Debug, Default)]
pub(crate) struct CanvasCaps {
    // A std mutex: held for a map update, never across an await.
    held: Mutex<HashMap<ConnId, (String, Instant)>>,
}

impl CanvasCaps {
    /// A fresh capability: 18 random bytes, base64url without padding.
    pub(crate) fn mint() -> String {
        let mut bytes = [0u8; 18];
        // The OS generator failing leaves zeros: a capability nobody would be granted twice
        // is not needed for correctness, but an all-zero one must not be honoured.
        if getrandom::fill(&mut bytes).is_err() {
            return String::new();
        }
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// `conn`'s hello offered `cap`: honour it from now on.
    pub(crate) fn grant(&self, conn: ConnId, cap: &str, now: Instant) {
        if cap.is_empty() {
            return;
        }
        self.lock().insert(conn, (cap.to_owned(), now + TTL));
    }

    /// `conn` is gone: its capability with it.
    pub(crate) fn release(&self, conn: ConnId) {
        self.lock().remove(&conn);
    }

    /// Whether `cap` is held by a connected socket and not expired; a use extends it.
    pub(crate) fn authorize(&self, cap: &str, now: Instant) -> bool {
        if cap.is_empty() {
            return false;
        }
        let mut held = self.lock();
        let mut found = false;
        // Compared in constant time, each one (as the reference's `safeEqualSecret`).
        for (held_cap, expires) in held.values_mut() {
            if now < *expires && constant_time_eq(held_cap.as_bytes(), cap.as_bytes()) {
                *expires = now + TTL;
                found = true;
            }
        }
        found
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnId, (String, Instant)>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A request path under [`CAP_PREFIX`]: `Some(Ok((capability, real path)))`, or
/// `Some(Err(()))` when malformed (no capability, or nothing after it: `401`); `None` when the
/// path is not capability-scoped.
pub(crate) fn split_scoped(path: &str) -> Option<Result<(String, String), ()>> {
    let rest = path.strip_prefix(CAP_PREFIX)?;
    let Some((cap, real)) = rest.split_once('/') else { return Some(Err(())) };
    let cap = crate::percent::decode_uri_component(cap).filter(|c| !c.trim().is_empty());
    match cap {
        Some(cap) => Some(Ok((cap.trim().to_owned(), format!("/{real}")))),
        None => Some(Err(())),
    }
}

/// The `oc_cap` query parameter, if present.
pub(crate) fn query_cap(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == CAP_QUERY).then(|| crate::percent::decode_uri_component(v)).flatten()
    })
}

/// The advertised base URL of this gateway for a socket upgraded with `headers`
/// (`resolveHostedPluginSurfaceUrl`): `https` when `X-Forwarded-Proto` says so, the host of
/// `X-Forwarded-Host` or `Host` (its port, else the scheme's default), else the local address.
pub(crate) fn surface_base(headers: &hyper::HeaderMap, local: std::net::SocketAddr) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    let https = header("x-forwarded-proto").and_then(|p| p.split(',').next()).is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    let scheme = if https { "https" } else { "http" };
    let advertised = header("x-forwarded-host").and_then(|h| h.split(',').next()).map(str::trim).or_else(|| header("host"));
    let Some(host) = advertised else {
        return format!("{scheme}://{local}");
    };
    let host = host.to_ascii_lowercase();
    let (name, port) = match host.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((addr, after)) => (format!("[{addr}]"), after.strip_prefix(':').map(str::to_owned)),
            None => (host.clone(), None),
        },
        None => match host.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h.to_owned(), Some(p.to_owned())),
            _ => (host.clone(), None),
        },
    };
    let port = port.filter(|p| p.parse::<u16>().is_ok_and(|n| n > 0)).unwrap_or_else(|| if https { "443" } else { "80" }.to_owned());
    format!("{scheme}://{name}:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_paths() {
        assert_eq!(split_scoped("/__openclaw__/cap/abc/__openclaw__/canvas/x/"), Some(Ok(("abc".into(), "/__openclaw__/canvas/x/".into()))));
        assert_eq!(split_scoped("/__openclaw__/cap/a%2Bb/"), Some(Ok(("a+b".into(), "/".into()))));
        assert_eq!(split_scoped("/__openclaw__/cap/abc"), Some(Err(())), "nothing after the capability");
        assert_eq!(split_scoped("/__openclaw__/cap//x"), Some(Err(())), "no capability");
        assert_eq!(split_scoped("/__openclaw__/canvas/x"), None);
        assert_eq!(query_cap(Some("a=1&oc_cap=x%2Dy")), Some("x-y".into()));
        assert_eq!(query_cap(Some("a=1")), None);
    }

    #[test]
    fn grant_use_expire_release() {
        let caps = CanvasCaps::default();
        let t0 = Instant::from_epoch(Duration::from_secs(1000));
        let cap = CanvasCaps::mint();
        assert_eq!(cap.len(), 24);
        assert!(!caps.authorize(&cap, t0), "not before the hello");
        caps.grant(ConnId(1), &cap, t0);
        assert!(caps.authorize(&cap, t0 + TTL / 2));
        assert!(caps.authorize(&cap, t0 + TTL + TTL / 4), "a use slides the expiry");
        assert!(!caps.authorize("other", t0), "a wrong capability");
        assert!(!caps.authorize(&cap, t0 + TTL * 3), "expired");
        let other = CanvasCaps::mint();
        assert_ne!(other, cap);
        caps.grant(ConnId(2), &other, t0);
        assert!(caps.authorize(&other, t0));
        caps.release(ConnId(2));
        assert!(!caps.authorize(&other, t0), "released with its socket");
        assert!(!caps.authorize("", t0));
    }

    #[test]
    fn advertised_base() {
        let local: std::net::SocketAddr = "127.0.0.1:18789".parse().unwrap();
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = hyper::HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, v.parse().unwrap());
            }
            m
        };
        assert_eq!(surface_base(&h(&[("host", "127.0.0.1:18789")]), local), "http://127.0.0.1:18789");
        assert_eq!(surface_base(&h(&[("host", "gw.example")]), local), "http://gw.example:80");
        assert_eq!(surface_base(&h(&[("host", "[::1]:5")]), local), "http://[::1]:5");
        assert_eq!(surface_base(&h(&[("host", "x"), ("x-forwarded-proto", "https"), ("x-forwarded-host", "pub.example")]), local), "https://pub.example:443");
        assert_eq!(surface_base(&h(&[]), local), "http://127.0.0.1:18789");
    }
}
