//! Newtypes for the identifiers and quantities the protocol passes around.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The gateway's handle for one socket. Assigned by the driver, unique for the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// A request id as the client sent it (`req.id`), echoed on every `res`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct RequestId(#[schemars(length(min = 1))] pub String);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id of a two-stage run; equal to the client's idempotency key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct RunId(pub String);

impl RunId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Per-connection event sequence number (protocol.md §6.1); the first event is 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seq(pub u64);

/// The random per-socket challenge nonce (a UUID string).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Nonce(pub String);

/// Wall-clock time in milliseconds since the Unix epoch. Only ever used for payloads,
/// never for deadlines (those use `Instant`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
    JsonSchema,
)]
#[serde(transparent)]
pub struct UnixMillis(pub u64);

/// A WebSocket close code (RFC 6455 §7.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// Handshake timeout, pre-auth bad JSON.
    pub const NORMAL: Self = Self(1000);
    /// Protocol version mismatch.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// Policy violation: bad frames, failed auth, slow consumer.
    pub const POLICY: Self = Self(1008);
    /// Message too big.
    pub const TOO_BIG: Self = Self(1009);
    /// Gateway shutdown or restart.
    pub const SERVICE_RESTART: Self = Self(1012);
    /// Try again later (gateway starting or restarting).
    pub const TRY_AGAIN_LATER: Self = Self(1013);
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A small deterministic generator (SplitMix64) for ids that must be unique, not secret
/// (`hello-ok.server.connId`). Seeded by the driver, so tests are reproducible.
#[derive(Clone, Debug)]
pub struct IdGen(u64);

impl IdGen {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A version-4-shaped UUID string.
    pub fn uuid(&mut self) -> String {
        uuid_from_bytes(self.next_u64(), self.next_u64())
    }
}

/// Formats 128 random bits as an RFC 4122 version 4 UUID.
pub fn uuid_from_bytes(hi: u64, lo: u64) -> String {
    let hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        let u = IdGen::new(7).uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(IdGen::new(7).uuid(), IdGen::new(8).uuid());
    }
}
