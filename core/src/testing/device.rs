//! A signing device for tests: an Ed25519 key that builds `connect` params with a v3 proof
//! (errata "Device identity"), and the harness call that loads a pairing store.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{json, Value};

use super::Harness;
use crate::devices::{proof, DevicesLoad, PairingStore};
use crate::hub::HubInput;
use crate::ids::ConnId;
use crate::link::PeerInfo;

/// A device: its key and how it signs a connect.
pub struct TestDevice {
    key: SigningKey,
}

impl TestDevice {
    /// The device whose secret key is 32 bytes of `seed`.
    pub fn new(seed: u8) -> Self {
        Self { key: SigningKey::from_bytes(&[seed; 32]) }
    }

    /// Lowercase hex SHA-256 of the raw public key.
    pub fn id(&self) -> String {
        proof::device_id_of(&self.key.verifying_key().to_bytes())
    }

    /// Node-host connect params, signed (v3) for the socket's `nonce` at `signed_at`.
    pub fn node_params(&self, nonce: &str, signed_at: u64, auth: Value) -> Value {
        self.params("node-host", "node", "node", &[], nonce, signed_at, auth)
    }

    /// Connect params for `client`/`mode`/`role`/`scopes`, signed (v3) with the token or
    /// device token of `auth`; platform `linux`, device family `Linux`.
    #[allow(clippy::too_many_arguments)]
    pub fn params(&self, client: &str, mode: &str, role: &str, scopes: &[&str], nonce: &str, signed_at: u64, auth: Value) -> Value {
        let raw = self.key.verifying_key().to_bytes();
        let token = ["token", "deviceToken"].iter().find_map(|k| auth.get(*k).and_then(Value::as_str)).unwrap_or("");
        let text = format!(
            "v3|{}|{client}|{mode}|{role}|{}|{signed_at}|{token}|{nonce}|linux|linux",
            self.id(),
            scopes.join(",")
        );
        json!({
            "minProtocol": 4, "maxProtocol": 4,
            "client": {"id": client, "displayName": "vm", "version": "2026.9.6", "platform": "linux",
                       "deviceFamily": "Linux", "mode": mode},
            "role": role, "scopes": scopes, "auth": auth,
            "device": {"id": self.id(), "publicKey": URL_SAFE_NO_PAD.encode(raw),
                       "signature": URL_SAFE_NO_PAD.encode(self.key.sign(text.as_bytes()).to_bytes()),
                       "signedAt": signed_at, "nonce": nonce},
        })
    }
}

/// The challenge nonce the harness gives socket `conn`.
pub fn nonce(conn: ConnId) -> String {
    format!("nonce-{}", conn.0)
}

impl Harness {
    /// Loads an empty pairing store (token seed fixed) with `autoApproveLocal`.
    pub fn load_devices(&mut self, auto_approve_local: bool) {
        let load = DevicesLoad { store: PairingStore::default(), token_seed: [9; 32], auto_approve_local };
        let (now, wall) = (self.now, self.wall());
        self.hub.handle_input(now, wall, HubInput::Devices(Box::new(load)));
        self.pump();
    }

    /// Opens a socket from `peer` and sends `d`'s signed node-host connect (`c1`) with `auth`.
    pub fn connect_node(&mut self, d: &TestDevice, peer: PeerInfo, auth: Value) -> ConnId {
        let c = self.open_with("node", peer);
        let p = d.node_params(&nonce(c), self.wall().0, auth);
        self.request(c, "c1", "connect", p);
        c
    }
}
