//! Payloads of the gateway's own events (protocol.md §2.1, §6).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::hello::PresenceEntry;
use crate::ids::{Nonce, UnixMillis};

/// Capabilities advertised in `connect.challenge`.
pub const CHALLENGE_CAPABILITIES: &[&str] = &["model-catalog-snapshot"];

/// `connect.challenge` payload, sent unsequenced as soon as the socket opens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectChallenge {
    pub nonce: Nonce,
    pub ts: UnixMillis,
    pub capabilities: Vec<String>,
}

/// `presence` payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceEvent {
    pub presence: Vec<PresenceEntry>,
}

/// `tick` payload, every 30 s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TickEvent {
    pub ts: UnixMillis,
}

/// `shutdown` payload; sockets then close 1012.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ShutdownEvent {
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_expected_ms: Option<u64>,
}

/// The events this gateway emits, in `hello-ok.features.events` order.
pub const SERVED_EVENTS: &[&str] = &[
    "connect.challenge",
    "agent",
    "chat",
    "presence",
    "tick",
    "shutdown",
    "health",
    "device.pair.requested",
    "device.pair.resolved",
    "device.pair.changed",
    "node.pair.requested",
    "node.pair.resolved",
    "node.invoke.request",
    "node.runnerInventory.changed",
];
