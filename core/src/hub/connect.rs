//! The `connect` pipeline (protocol.md §2.5), in the reference's order: startup/restart
//! admission, protocol version, role, rate limit, shared secret, device-less policy, scopes,
//! registration, `hello-ok`, presence.

use serde_json::json;

use super::devices::DeviceGrant;
use super::{Conn, Hub, Lifecycle, OpenConn};
use crate::auth::limiter::{AuthLimiter, LimitKey};
use crate::auth::origin::{normalize_origin, OriginRefusal};
use crate::auth::scopes::{Role, ScopeSet};
use crate::auth::{authenticate, AuthFailure, FailureContext};
use crate::ids::{CloseCode, ConnId, Nonce, RequestId, UnixMillis};
use crate::limits::{MIN_NODE_PROTOCOL, MIN_PROBE_PROTOCOL, PROTOCOL_VERSION};
use crate::link::{HubToSession, PeerInfo};
use crate::services::presence::ClientRow;
use crate::session::millis;
use crate::time::Instant;
use crate::wire::codec::{encode_err, encode_ok};
use crate::wire::connect::{ClientId, ClientMode, ConnectParams, DeviceIdentity};
use crate::wire::events::SERVED_EVENTS;
use crate::wire::frames::{ErrorCode, ErrorShape};
use crate::wire::hello::{
    Features, HelloAuth, HelloOk, HelloOkTag, Policy, ServerInfo, Snapshot,
    Suspension, SuspensionPhase,
};
use crate::methods::SERVED_METHODS;

/// The bucket the reference gives a loopback browser whose `Origin` does not parse.
const BROWSER_ORIGIN_FALLBACK_IP: core::net::IpAddr = core::net::IpAddr::V4(core::net::Ipv4Addr::new(198, 18, 0, 1));

/// What an accepted `connect` was granted.
struct Grant {
    role: Role,
    scopes: ScopeSet,
    /// The paired device and its token, for a socket that proved a device identity.
    device: Option<DeviceGrant>,
    /// Authenticated by its device token (not the shared secret): the reference then treats
    /// the socket as that device when it manages devices.
    by_device_token: bool,
}

/// A refused `connect`: the error `res` and the close that follows it.
struct Refusal {
    error: ErrorShape,
    code: CloseCode,
    reason: String,
}

impl Refusal {
    fn policy(error: ErrorShape) -> Self {
        let reason = error.message.clone();
        Self { error, code: CloseCode::POLICY, reason }
    }
}

impl Hub {
    pub(super) fn handle_connect(
        &mut self,
        now: Instant,
        wall: UnixMillis,
        conn: ConnId,
        id: RequestId,
        params: ConnectParams,
    ) {
        let Some(Conn::Handshaking { peer, nonce }) = self.conns.get(&conn) else { return };
        let (peer, nonce) = (peer.clone(), nonce.clone());
        match self.admit_connect(now, wall, &peer, &nonce, &params) {
            Ok(grant) => self.open_conn(now, wall, conn, id, peer, params, grant),
            Err(refused) => {
                let (refusal, delay) = *refused;
                let msg = HubToSession::Reject {
                    response: encode_err(&id, &refusal.error),
                    code: refusal.code,
                    reason: refusal.reason,
                };
                if delay.is_zero() {
                    self.to(conn, msg);
                } else {
                    self.delayed_counter += 1;
                    self.delayed.insert((now + delay, self.delayed_counter), (conn, msg));
                    self.sync_timers();
                }
            }
        }
    }

    /// Decides a `connect`; on refusal also says how long to hold the answer back.
    fn admit_connect(
        &mut self,
        now: Instant,
        wall: UnixMillis,
        peer: &PeerInfo,
        nonce: &Nonce,
        params: &ConnectParams,
    ) -> Result<Grant, Box<(Refusal, std::time::Duration)>> {
        let refuse = |r: Refusal| Box::new((r, std::time::Duration::ZERO));
        let is_node = params.role.as_deref() == Some("node") && params.client.mode == ClientMode::Node;
        match self.lifecycle {
            Lifecycle::Starting if !is_node => return Err(refuse(starting())),
            Lifecycle::Draining | Lifecycle::Drained => return Err(refuse(restarting())),
            Lifecycle::Starting | Lifecycle::Running => {}
        }
        if !protocol_accepted(params, is_node) {
            return Err(refuse(protocol_mismatch(params)));
        }
        let Some(role) = Role::parse(params.role.as_deref()) else {
            return Err(refuse(Refusal::policy(ErrorShape::invalid_request("invalid role"))));
        };
        if let Some(refusal) = ui_origin_refused(peer, params) {
            return Err(refuse(refusal));
        }
        let ctx = FailureContext { client: params.client.id, is_local: hint_local(peer) };
        let (limiter, key) = self.auth_limiter(peer);
        if let Err(remaining) = limiter.check(now, key) {
            let failure = AuthFailure::RateLimited { retry_after_ms: millis(remaining) };
            return Err(refuse(Refusal::policy(failure.to_error(ctx))));
        }
        let shared = authenticate(&self.config.auth, params.auth.as_ref());
        if let Some(device) = &params.device {
            return self.admit_device(now, wall, peer, nonce, params, role, device, shared);
        }
        if let Err(failure) = shared {
            // No secret offered and no device identity: the reference answers that a device
            // identity is required (observed), not AUTH_TOKEN_MISSING.
            if matches!(failure, AuthFailure::TokenMissing | AuthFailure::PasswordMissing)
                && params.device.is_none()
            {
                return Err(refuse(device_required()));
            }
            let delay = if failure.counts_as_attempt() {
                let (limiter, key) = self.auth_limiter(peer);
                limiter.record_failure(now, key)
            } else {
                std::time::Duration::ZERO
            };
            return Err(Box::new((Refusal::policy(failure.to_error(ctx)), delay)));
        }
        let (limiter, key) = self.auth_limiter(peer);
        limiter.record_success(key);
        // A device-less socket: nodes must sign (§3.4).
        if role == Role::Node {
            return Err(refuse(device_required()));
        }
        let requested = params.scopes.iter().flatten().map(|s| s.0.as_str());
        let mut scopes = ScopeSet::from_requested(requested);
        if !keeps_scopes_without_device(peer, params) {
            scopes = ScopeSet::empty();
        }
        if let Some(cap) = &peer.scope_cap {
            scopes = scopes.intersect(cap);
        }
        Ok(Grant { role, scopes, device: None, by_device_token: false })
    }

    /// A `connect` with `device`: its proof first (each failure as the reference answers
    /// it), then its credentials (the shared secret, or the device token of its pairing),
    /// then the pairing decision.
    #[allow(clippy::too_many_arguments)]
    fn admit_device(
        &mut self,
        now: Instant,
        wall: UnixMillis,
        peer: &PeerInfo,
        nonce: &Nonce,
        params: &ConnectParams,
        role: Role,
        device: &DeviceIdentity,
        shared: Result<(), AuthFailure>,
    ) -> Result<Grant, Box<(Refusal, std::time::Duration)>> {
        let refuse = |r: Refusal| Box::new((r, std::time::Duration::ZERO));
        let verified = crate::devices::verify(device, params, role.as_str(), &nonce.0, wall)
            .map_err(|failure| refuse(Refusal::policy(failure.to_error())))?;
        let scopes: Vec<String> = match role {
            Role::Node => Vec::new(),
            Role::Operator => params.scopes.iter().flatten().map(|s| s.0.clone()).collect(),
        };
        let by_device_token = shared.is_err();
        if let Err(failure) = shared {
            let auth = params.auth.as_ref();
            let offered = auth.and_then(|a| a.device_token.as_deref());
            let candidate = offered.or_else(|| auth.and_then(|a| a.token.as_deref()));
            let valid = candidate
                .is_some_and(|t| self.devices.store.verify_token(&verified.id, t, role.as_str(), &scopes));
            if !valid {
                let failure = if offered.is_some() { AuthFailure::DeviceTokenMismatch } else { failure };
                let delay = if failure.counts_as_attempt() {
                    let (limiter, key) = self.auth_limiter(peer);
                    limiter.record_failure(now, key)
                } else {
                    std::time::Duration::ZERO
                };
                let ctx = FailureContext { client: params.client.id, is_local: hint_local(peer) };
                return Err(Box::new((Refusal::policy(failure.to_error(ctx)), delay)));
            }
        }
        let (limiter, key) = self.auth_limiter(peer);
        limiter.record_success(key);
        match self.pair_device(wall, peer, params, role, &verified, &scopes) {
            Ok(device) => {
                Ok(Grant { role, scopes: Hub::device_scopes(peer, role, &scopes), device: Some(device), by_device_token })
            }
            Err(required) => {
                let (error, reason) = required.to_error();
                Err(refuse(Refusal { error, code: CloseCode::POLICY, reason }))
            }
        }
    }

    /// The limiter and key a `connect`'s failures count against (http.md §6.4, the reference's
    /// `resolveHandshakeBrowserSecurityContext`): a socket with an `Origin` is a browser, on
    /// the browser limiter (no loopback exemption), keyed by its address, or on a loopback
    /// socket by its normalised origin (`browser-origin:<origin>`; an origin that does not
    /// parse shares the reference's fixed bucket); any other socket by its address.
    fn auth_limiter(&mut self, peer: &PeerInfo) -> (&mut AuthLimiter, LimitKey) {
        let Some(origin) = peer.origin.as_deref().filter(|o| !o.trim().is_empty()) else {
            return (&mut self.limiter, LimitKey::Ip(peer.ip));
        };
        let key = if peer.ip.is_loopback() {
            normalize_origin(origin).map_or(LimitKey::Ip(BROWSER_ORIGIN_FALLBACK_IP), LimitKey::BrowserOrigin)
        } else {
            LimitKey::Ip(peer.ip)
        };
        (&mut self.browser_limiter, key)
    }

    #[allow(clippy::too_many_arguments)]
    fn open_conn(
        &mut self,
        now: Instant,
        wall: UnixMillis,
        conn: ConnId,
        id: RequestId,
        peer: PeerInfo,
        params: ConnectParams,
        grant: Grant,
    ) {
        let Grant { role, scopes, device, by_device_token } = grant;
        // Operator rows are keyed by the connection (its hello-ok connId), so one client
        // instance with two sockets shows twice, as in the reference.
        let conn_uuid = self.ids.uuid();
        let device_id = device.as_ref().map(|d| d.device_id.as_str());
        let row = ClientRow { peer: &peer, params: &params, role, scopes: &scopes, device_id };
        let presence_key = self.presence.connected(now, wall, &conn_uuid, row).then(|| conn_uuid.clone());
        let mut hello = self.hello(now, wall, conn_uuid, role, &scopes);
        if let Some(d) = &device {
            hello.auth.device_token = Some(d.token.clone());
            hello.auth.issued_at_ms = Some(d.issued_at_ms);
        }
        let canvas = peer.canvas_url.clone().filter(|_| self.may_have_canvas(role, &params, device_id));
        hello.plugin_surface_urls = canvas.clone().map(|url| std::collections::BTreeMap::from([("canvas".to_owned(), url)]));
        let frame = encode_ok(&id, &hello);
        self.conns.insert(
            conn,
            Conn::Open(Box::new(OpenConn {
                role,
                scopes: scopes.clone(),
                device_id: device.as_ref().map(|d| d.device_id.clone()),
                device_token_auth: by_device_token,
                presence_key: presence_key.clone(),
                tool_events: wants_tool_events(&params),
            })),
        );
        self.to(conn, HubToSession::Accept { hello: frame, role, scopes, canvas: canvas.is_some() });
        if let (Role::Node, Some(d)) = (role, &device) {
            self.node_connected(wall, conn, &peer, &params, &d.device_id);
        }
        if presence_key.is_some() {
            self.broadcast_presence(wall);
        }
        self.sync_timers();
    }

    /// Operators get the canvas URL (as the reference); a node only when it declared the
    /// `canvas` cap and its approved surface holds it.
    fn may_have_canvas(&self, role: Role, params: &ConnectParams, device_id: Option<&str>) -> bool {
        if role != Role::Node {
            return true;
        }
        let declared = params.caps.iter().flatten().any(|c| c.0 == "canvas");
        let approved = device_id
            .and_then(|id| self.devices.store.paired_device(id))
            .and_then(|d| d.node_surface.as_ref())
            .is_some_and(|s| s.caps.iter().any(|c| c == "canvas"));
        declared && approved
    }

    fn hello(
        &mut self,
        now: Instant,
        wall: UnixMillis,
        conn_id: String,
        role: Role,
        scopes: &ScopeSet,
    ) -> HelloOk {
        let admin = scopes.contains(crate::auth::scopes::Scope::Admin);
        let limits = &self.config.limits;
        HelloOk {
            kind: HelloOkTag::HelloOk,
            protocol: PROTOCOL_VERSION,
            server: ServerInfo {
                version: self.config.version.clone(),
                build_id: self.config.build_id.clone(),
                boot_id: Some(self.config.boot_id.clone()),
                conn_id,
            },
            features: Features {
                methods: SERVED_METHODS.iter().map(|s| (*s).to_owned()).collect(),
                events: SERVED_EVENTS.iter().map(|s| (*s).to_owned()).collect(),
                capabilities: None,
            },
            snapshot: Snapshot {
                suspension: Suspension { phase: SuspensionPhase::Accepting },
                presence: self.presence.list(wall),
                health: self.health.clone(),
                state_version: self.state_version,
                uptime_ms: self.uptime_ms(now),
                session_defaults: self.config.session_defaults.clone(),
                config_path: self.config.config_path.clone().filter(|_| admin),
                state_dir: self.config.state_dir.clone().filter(|_| admin),
                auth_mode: admin.then(|| self.config.auth.name()),
            },
            auth: HelloAuth {
                method: self.config.auth.name(),
                role: role.as_str().to_owned(),
                scopes: scopes.names().map(str::to_owned).collect(),
                device_token: None,
                issued_at_ms: None,
            },
            policy: Policy {
                max_payload: limits.max_payload as u64,
                max_buffered_bytes: limits.max_buffered_bytes as u64,
                tick_interval_ms: millis(limits.tick_interval),
            },
            plugin_surface_urls: None,
        }
    }
}

/// §2.3: (a) 4 in range; (b) probes down to 3; (c) legacy v3 nodes.
fn protocol_accepted(p: &ConnectParams, is_node: bool) -> bool {
    let (min, max) = (p.min_protocol, p.max_protocol);
    (min <= PROTOCOL_VERSION && PROTOCOL_VERSION <= max)
        || (p.client.mode == ClientMode::Probe && max >= MIN_PROBE_PROTOCOL && min <= PROTOCOL_VERSION)
        || (is_node && min <= MIN_NODE_PROTOCOL && MIN_NODE_PROTOCOL <= max)
}

fn protocol_mismatch(p: &ConnectParams) -> Refusal {
    let error = ErrorShape::invalid_request("protocol mismatch").with_details(json!({
        "code": "PROTOCOL_MISMATCH",
        "clientMinProtocol": p.min_protocol,
        "clientMaxProtocol": p.max_protocol,
        "expectedProtocol": PROTOCOL_VERSION,
        "minimumProbeProtocol": MIN_PROBE_PROTOCOL,
    }));
    Refusal { error, code: CloseCode::PROTOCOL_ERROR, reason: "protocol mismatch".into() }
}

fn device_required() -> Refusal {
    let error = ErrorShape::new(ErrorCode::NotPaired, "device identity required")
        .with_details(json!({ "code": "DEVICE_IDENTITY_REQUIRED" }));
    Refusal::policy(error)
}

/// The browser Origin check's verdict (http.md §6.4): any socket that sent an `Origin` must
/// have passed it (the driver ran it on the upgrade against the live settings), and the
/// Control UI and webchat clients must have sent one. As the reference: `INVALID_REQUEST`
/// with `CONTROL_UI_ORIGIN_NOT_ALLOWED` and the reason, then close `1008`.
fn ui_origin_refused(peer: &PeerInfo, p: &ConnectParams) -> Option<Refusal> {
    let browser_ui = matches!(p.client.id, ClientId::ControlUi | ClientId::WebchatUi)
        || p.client.mode == ClientMode::Webchat;
    let refusal = match (&peer.origin, peer.origin_refused) {
        (_, Some(refusal)) => refusal,
        (None, None) if browser_ui => OriginRefusal::MissingOrInvalid,
        _ => return None,
    };
    let error = ErrorShape::invalid_request(
        "origin not allowed (open the Control UI from the gateway host or allow it in gateway.controlUi.allowedOrigins)",
    )
    .with_details(json!({ "code": "CONTROL_UI_ORIGIN_NOT_ALLOWED", "reason": refusal.reason() }));
    Some(Refusal::policy(error))
}

fn starting() -> Refusal {
    let error = ErrorShape::new(ErrorCode::Unavailable, "gateway starting; retry shortly")
        .with_details(json!({ "reason": "startup-sidecars" }))
        .retry_after(500);
    Refusal { error, code: CloseCode::TRY_AGAIN_LATER, reason: "gateway starting".into() }
}

fn restarting() -> Refusal {
    let error = ErrorShape::new(ErrorCode::Unavailable, "connect unavailable during gateway restart")
        .with_details(json!({ "method": "connect", "reason": "restart", "phase": "draining" }))
        .retry_after(1000);
    Refusal { error, code: CloseCode::TRY_AGAIN_LATER, reason: "gateway restart in progress".into() }
}

/// Locality for the failure message's hint: a loopback socket with no proxy headers and a
/// local `Host`, with or without a browser `Origin` (the reference gives a CLI on a loopback
/// page the local hint; compared in conformance_origin).
fn hint_local(peer: &PeerInfo) -> bool {
    peer.ip.is_loopback() && !peer.forwarded && peer.host_is_local
}

/// §3.4: a device-less shared-secret operator keeps its scopes only as the local CLI or the
/// local backend client.
fn keeps_scopes_without_device(peer: &PeerInfo, p: &ConnectParams) -> bool {
    let local = peer.is_direct_local();
    let cli = p.client.id == ClientId::Cli && p.client.mode == ClientMode::Cli;
    let backend = p.client.id == ClientId::GatewayClient && p.client.mode == ClientMode::Backend;
    local && (cli || backend)
}

/// Did the client advertise `caps: ["tool-events"]` (channels-agent-nodes.md §5.3)?
fn wants_tool_events(params: &ConnectParams) -> bool {
    params.caps.iter().flatten().any(|c| c.0 == "tool-events")
}
