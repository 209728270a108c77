//! Decisions taken on the HTTP upgrade, before the `101`: the per-IP pre-auth socket budget,
//! the browser Origin check, and the [`PeerInfo`] core needs for locality and scope caps.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use hyper::HeaderMap;
use openclaw_core::auth::origin::{check_browser_origin, OriginInput, OriginRefusal};
use openclaw_core::auth::scopes::ScopeSet;
use openclaw_core::PeerInfo;

use crate::settings::ControlUiSettings;

/// At most `max` sockets per client IP that have not completed `hello-ok`.
#[derive(Debug)]
pub(crate) struct PreauthBudget {
    max: usize,
    // A std mutex: held only for a map update, never across an await.
    counts: Mutex<BTreeMap<IpAddr, usize>>,
}

/// One pre-auth slot; released on drop (hello-ok reached, or the socket ended).
#[derive(Debug)]
pub(crate) struct PreauthSlot {
    budget: Arc<PreauthBudget>,
    ip: IpAddr,
}

impl PreauthBudget {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self { max, counts: Mutex::new(BTreeMap::new()) })
    }

    /// Takes a slot for `ip`, or `None` when its budget is spent.
    pub(crate) fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<PreauthSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let n = counts.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(PreauthSlot { budget: Arc::clone(self), ip })
    }
}

impl Drop for PreauthSlot {
    fn drop(&mut self) {
        let mut counts = self.budget.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// The browser Origin check (http.md §6.4) of an upgrade carrying an `Origin`, against the
/// live Control UI settings; `None` when it passes or there is no `Origin`.
pub(crate) fn origin_refused(remote: SocketAddr, headers: &HeaderMap, ui: &ControlUiSettings) -> Option<OriginRefusal> {
    let origin = header(headers, "origin").filter(|o| !o.trim().is_empty())?;
    let input = OriginInput {
        origin,
        host: header(headers, "host"),
        local_client: local_direct(remote, headers),
        allowed: &ui.allowed_origins,
        host_header_fallback: ui.host_header_origin_fallback,
    };
    check_browser_origin(&input).err()
}

/// The reference's `isLocalDirectRequest`: a loopback socket and no `Forwarded`, `X-Real-IP`
/// or `X-Forwarded-*` header.
fn local_direct(remote: SocketAddr, headers: &HeaderMap) -> bool {
    let proxied = headers.keys().any(|k| {
        let k = k.as_str();
        k == "forwarded" || k == "x-real-ip" || k.starts_with("x-forwarded-")
    });
    remote.ip().to_canonical().is_loopback() && !proxied
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Does the `Host` header name a loopback host?
fn host_is_local(host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    let host = host.trim().to_ascii_lowercase();
    let name = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default().to_owned()
    } else {
        host.rsplit_once(':').map_or(host.clone(), |(h, _)| h.to_owned())
    };
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// What core needs to know about the peer, from the socket and the upgrade request.
pub(crate) fn peer_info(remote: SocketAddr, headers: &HeaderMap) -> PeerInfo {
    let forwarded = ["x-forwarded-for", "forwarded", "x-real-ip"]
        .iter()
        .any(|h| headers.contains_key(*h));
    let scope_cap = header(headers, "x-openclaw-scopes").map(|v| {
        ScopeSet::from_requested(v.split(',').map(str::trim).filter(|s| !s.is_empty()))
    });
    PeerInfo {
        ip: remote.ip().to_canonical(),
        forwarded,
        origin: header(headers, "origin").filter(|o| !o.trim().is_empty()).map(str::to_owned),
        host_is_local: host_is_local(header(headers, "host")),
        scope_cap,
        origin_refused: None,
        canvas_url: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_counts_per_ip_and_releases_on_drop() {
        let b = PreauthBudget::new(2);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let s1 = b.try_acquire(ip);
        let s2 = b.try_acquire(ip);
        assert!(s1.is_some() && s2.is_some());
        assert!(b.try_acquire(ip).is_none());
        assert!(b.try_acquire("10.0.0.1".parse().unwrap()).is_some());
        drop(s1);
        assert!(b.try_acquire(ip).is_some());
    }

    #[test]
    fn origins_on_the_upgrade() {
        let ui = ControlUiSettings { allowed_origins: vec!["https://ui.example.com".into()], ..ControlUiSettings::default() };
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().unwrap());
            }
            h
        };
        assert_eq!(origin_refused(local, &headers(&[]), &ui), None, "no Origin: not a browser");
        assert_eq!(origin_refused(local, &headers(&[("origin", " ")]), &ui), None, "a blank Origin is none");
        assert_eq!(origin_refused(local, &headers(&[("origin", "http://localhost:9")]), &ui), None);
        let proxied = headers(&[("origin", "http://localhost:9"), ("x-forwarded-proto", "https")]);
        assert_eq!(origin_refused(local, &proxied, &ui), Some(OriginRefusal::NotAllowed), "proxied is not local");
        assert_eq!(origin_refused(local, &headers(&[("origin", "null")]), &ui), Some(OriginRefusal::MissingOrInvalid));
        assert_eq!(origin_refused(local, &headers(&[("origin", "https://ui.example.com")]), &ui), None);
    }

    #[test]
    fn host_locality() {
        assert!(host_is_local(Some("127.0.0.1:18789")));
        assert!(host_is_local(Some("localhost")));
        assert!(host_is_local(Some("[::1]:80")));
        assert!(!host_is_local(Some("example.com:80")));
        assert!(!host_is_local(None));
    }
}
