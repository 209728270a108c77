//! Protocol constants (protocol.md §1, §8). Durations are the reference's defaults.

use std::time::Duration;

/// Wire protocol version spoken by this gateway.
pub const PROTOCOL_VERSION: u32 = 4;
/// Oldest protocol a probe client may speak (§2.3 b).
pub const MIN_PROBE_PROTOCOL: u32 = 3;
/// Oldest protocol a node client may speak (§2.3 c).
pub const MIN_NODE_PROTOCOL: u32 = 3;

/// Largest inbound frame before `connect` succeeds.
pub const PREAUTH_MAX_PAYLOAD: usize = 64 * 1024;
/// Largest inbound frame after `hello-ok` (advertised as `policy.maxPayload`).
pub const MAX_PAYLOAD: usize = 26_214_400;
/// Unsent outbound bytes per socket before events are dropped or the socket is closed.
pub const MAX_BUFFERED_BYTES: usize = 52_428_800;
/// Frames buffered while `connect` is being decided; one more closes the socket.
pub const MAX_PENDING_HANDSHAKE_FRAMES: usize = 15;
/// Close reasons are cut to this many UTF-8 bytes.
pub const MAX_CLOSE_REASON_BYTES: usize = 120;
/// Consecutive role violations tolerated; the next one closes the socket.
pub const MAX_ROLE_VIOLATIONS: u32 = 10;

pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
pub const PING_INTERVAL: Duration = Duration::from_secs(25);
pub const CLOSE_GRACE: Duration = Duration::from_millis(1000);
pub const TICK_INTERVAL: Duration = Duration::from_secs(30);
pub const HEALTH_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
pub const PRESENCE_TTL: Duration = Duration::from_secs(5 * 60);
pub const MAX_PRESENCE_ENTRIES: usize = 200;
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(5 * 60);
pub const MAX_IDEMPOTENCY_KEYS: usize = 1000;
/// Bytes of finished run results (their JSON text) kept for replay; the oldest are evicted
/// first, before the TTL if need be (the reference bounds keys only; issue #11 §3).
pub const MAX_IDEMPOTENCY_BYTES: usize = 1024 * 1024;
/// An `agent` run without a `timeout` param ends with AGENT_TIMEOUT after this (§5.6).
pub const DEFAULT_AGENT_TIMEOUT: Duration = Duration::from_secs(600);
/// `agent.wait` without `timeoutMs` answers `status:"timeout"` after this (§5.7).
pub const DEFAULT_AGENT_WAIT: Duration = Duration::from_secs(30);
/// `chat` `delta` events of one run are at least this far apart.
pub const CHAT_DELTA_INTERVAL: Duration = Duration::from_millis(150);
/// Pending `agent.wait` calls across all sockets; more are refused with UNAVAILABLE.
pub const MAX_AGENT_WAITERS: usize = 1000;

/// Tunable limits; tests shrink them, production uses [`Limits::default`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub preauth_max_payload: usize,
    pub max_payload: usize,
    pub max_buffered_bytes: usize,
    pub handshake_timeout: Duration,
    pub ping_interval: Duration,
    pub close_grace: Duration,
    pub tick_interval: Duration,
    pub health_refresh_interval: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            preauth_max_payload: PREAUTH_MAX_PAYLOAD,
            max_payload: MAX_PAYLOAD,
            max_buffered_bytes: MAX_BUFFERED_BYTES,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            ping_interval: PING_INTERVAL,
            close_grace: CLOSE_GRACE,
            tick_interval: TICK_INTERVAL,
            health_refresh_interval: HEALTH_REFRESH_INTERVAL,
        }
    }
}
