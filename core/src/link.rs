//! The typed messages between a [`Session`](crate::Session) and the [`Hub`](crate::Hub)
//! (quinn's `EndpointEvent`/`ConnectionEvent` pair). Neither side calls the other; the driver
//! carries these values between them.

use core::net::IpAddr;
use std::sync::Arc;

use crate::auth::origin::OriginRefusal;
use crate::auth::scopes::{Role, ScopeSet};
use crate::ids::{CloseCode, Nonce, RequestId};
use crate::methods::MethodCall;
use crate::wire::codec::EncodedEvent;
use crate::wire::connect::ConnectParams;

/// What the driver knows about the peer from the socket and the HTTP upgrade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    pub ip: IpAddr,
    /// The upgrade carried proxy headers (`x-forwarded-for`, `forwarded`, `x-real-ip`).
    pub forwarded: bool,
    /// The `Origin` header, if any (browsers send it).
    pub origin: Option<String>,
    /// The `Host` header names a loopback host.
    pub host_is_local: bool,
    /// The `x-openclaw-scopes` header narrowed to known scopes; present-but-empty means none.
    pub scope_cap: Option<ScopeSet>,
    /// The `Origin` failed the browser Origin check (http.md §6.4, run by the driver against
    /// its live settings): `connect` is refused with this reason.
    pub origin_refused: Option<OriginRefusal>,
    /// The canvas host's capability-scoped URL the driver minted for this socket
    /// (`http://host:port/__openclaw__/cap/<capability>`); `None` when the canvas host is off.
    /// Offered in `hello-ok.pluginSurfaceUrls.canvas` when the client may have it.
    pub canvas_url: Option<String>,
}

impl PeerInfo {
    /// A plain loopback peer with no proxy or browser headers.
    pub fn loopback() -> Self {
        Self {
            ip: IpAddr::V4(core::net::Ipv4Addr::LOCALHOST),
            forwarded: false,
            origin: None,
            host_is_local: true,
            scope_cap: None,
            origin_refused: None,
            canvas_url: None,
        }
    }

    /// `direct_local` of §3.2: loopback socket, no proxy headers, local Host, no Origin.
    pub fn is_direct_local(&self) -> bool {
        self.ip.is_loopback() && !self.forwarded && self.host_is_local && self.origin.is_none()
    }

    /// A browser on this machine: a loopback socket, no proxy headers, a local Host, and an
    /// `Origin` whose host is loopback (`localhost`, `127.0.0.0/8`, `[::1]`): the Control UI
    /// opened from the gateway host (http.md §6.4 `local-loopback`).
    pub fn is_local_browser(&self) -> bool {
        let Some(origin) = &self.origin else { return false };
        self.ip.is_loopback() && !self.forwarded && self.host_is_local && origin_is_loopback(origin)
    }
}

/// `scheme://host[:port]` whose host is `localhost` (or `*.localhost`) or a loopback address.
fn origin_is_loopback(origin: &str) -> bool {
    let Some((_, rest)) = origin.trim().split_once("://") else { return false };
    let authority = rest.split('/').next().unwrap_or_default().to_ascii_lowercase();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default().to_owned(),
        None => authority.rsplit_once(':').map_or(authority.clone(), |(h, _)| h.to_owned()),
    };
    host == "localhost" || host.ends_with(".localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Session → hub.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionEvent {
    /// The socket opened; sent once, first.
    /// `nonce` is the socket's `connect.challenge` nonce (a device proof must sign it).
    Opened { peer: Box<PeerInfo>, nonce: Nonce },
    /// A schema-valid `connect`; the hub answers with `Accept` or `Reject`.
    Connect { id: RequestId, params: Box<ConnectParams> },
    /// An authorised request with typed params.
    Request { id: RequestId, call: MethodCall },
    /// The socket is gone; sent once, last.
    Closed,
}

/// Hub → session.
#[derive(Clone, Debug, PartialEq)]
pub enum HubToSession {
    /// `connect` succeeded: send `hello` and open the session with this grant. `canvas`: the
    /// hello offered the socket's canvas URL, so the driver honours its capability now.
    Accept { hello: Vec<u8>, role: Role, scopes: ScopeSet, canvas: bool },
    /// `connect` failed: send the error `res`, then close.
    Reject { response: Vec<u8>, code: CloseCode, reason: String },
    /// A rendered `res` frame (never dropped).
    Response(Vec<u8>),
    /// A broadcast; `sequenced` events get the next per-connection `seq`.
    Event { event: Arc<EncodedEvent>, sequenced: bool },
    /// Close the socket (shutdown 1012, …).
    Close { code: CloseCode, reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_browser_has_a_loopback_origin_on_a_direct_loopback_socket() {
        let with = |origin: &str| PeerInfo { origin: Some(origin.into()), ..PeerInfo::loopback() };
        for local in ["http://127.0.0.1:18789", "http://localhost:5173", "http://[::1]:1", "https://app.localhost"] {
            assert!(with(local).is_local_browser(), "{local}");
            assert!(!with(local).is_direct_local(), "{local}: a browser is not a direct local client");
        }
        for far in ["https://example.com", "http://10.0.0.1:18789", "null", ""] {
            assert!(!with(far).is_local_browser(), "{far}");
        }
        assert!(!PeerInfo::loopback().is_local_browser());
        let proxied = PeerInfo { forwarded: true, ..with("http://127.0.0.1:1") };
        assert!(!proxied.is_local_browser());
        let remote = PeerInfo { ip: "10.0.0.2".parse().unwrap(), ..with("http://127.0.0.1:1") };
        assert!(!remote.is_local_browser());
    }
}
