//! Device identity and pairing (errata 2026.9.6 "Device identity", "Pairing store";
//! channels-agent-nodes.md §8).
//!
//! * [`proof`]: verifies `connect.params.device` (pure Ed25519 / SHA-256 checks).
//! * [`store`]: pending requests, paired devices and their per-role device tokens, with the
//!   [`store::StoreOp`]s that persist each change.
//!
//! The hub owns one [`Devices`]: the store, the token source and the pairing policy. The driver
//! loads it at start ([`HubInput::Devices`](crate::hub::HubInput::Devices)) from the state
//! database and applies every emitted [`HubOutput::Devices`](crate::hub::HubOutput::Devices)
//! batch in one transaction.

pub mod proof;
pub mod store;
pub mod surface;

pub use proof::{verify, PayloadVersion, ProofFailure, VerifiedDevice};
pub use store::{DeviceToken, PairedDevice, PairingClaim, PairingStore, PendingRequest, StoreError, StoreOp, TokenSource};

/// What the driver loads at start.
#[derive(Clone, Debug)]
pub struct DevicesLoad {
    pub store: PairingStore,
    /// Fresh random bytes (the device-token source's secret).
    pub token_seed: [u8; 32],
    /// `gateway.nodes.pairing.autoApproveLocal` (default true): approve loopback devices
    /// without asking an operator.
    pub auto_approve_local: bool,
}

impl PartialEq for DevicesLoad {
    fn eq(&self, other: &Self) -> bool {
        self.store == other.store && self.auto_approve_local == other.auto_approve_local
    }
}

/// The hub's device state.
#[derive(Clone, Debug)]
pub struct Devices {
    pub store: PairingStore,
    pub tokens: TokenSource,
    pub auto_approve_local: bool,
    /// `gateway.nodes.commands` (see [`NodesPolicy`]).
    pub commands: surface::NodeCommandPolicy,
}

/// The live-reloadable node settings (`gateway.nodes.pairing`, `gateway.nodes.commands`):
/// sent after [`DevicesLoad`] at start and again on every config reload, applied at once
/// (the reference reads them from the runtime config on each use).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodesPolicy {
    pub auto_approve_local: bool,
    pub commands: surface::NodeCommandPolicy,
}

impl Default for Devices {
    fn default() -> Self {
        // Until the driver loads the real store and a random seed, tokens come from a zero
        // seed; the driver always sends `HubInput::Devices` before `Ready`.
        Self {
            store: PairingStore::default(),
            tokens: TokenSource::new([0; 32]),
            auto_approve_local: true,
            commands: surface::NodeCommandPolicy::default(),
        }
    }
}

impl Devices {
    pub fn load(load: DevicesLoad) -> Self {
        Self {
            store: load.store,
            tokens: TokenSource::new(load.token_seed),
            auto_approve_local: load.auto_approve_local,
            commands: surface::NodeCommandPolicy::default(),
        }
    }
}
