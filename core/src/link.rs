//! The typed messages between a [`Session`](crate::Session) and the [`Hub`](crate::Hub)
//! (quinn's `EndpointEvent`/`ConnectionEvent` pair). Neither side calls the other; the driver
//! carries these values between them.

use core::net::IpAddr;
use std::sync::Arc;

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
        }
    }

    /// `direct_local` of §3.2: loopback socket, no proxy headers, local Host, no Origin.
    pub fn is_direct_local(&self) -> bool {
        self.ip.is_loopback() && !self.forwarded && self.host_is_local && self.origin.is_none()
    }
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
    /// `connect` succeeded: send `hello` and open the session with this grant.
    Accept { hello: Vec<u8>, role: Role, scopes: ScopeSet },
    /// `connect` failed: send the error `res`, then close.
    Reject { response: Vec<u8>, code: CloseCode, reason: String },
    /// A rendered `res` frame (never dropped).
    Response(Vec<u8>),
    /// A broadcast; `sequenced` events get the next per-connection `seq`.
    Event { event: Arc<EncodedEvent>, sequenced: bool },
    /// Close the socket (shutdown 1012, …).
    Close { code: CloseCode, reason: String },
}
