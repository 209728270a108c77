//! Device proof of a `connect` (errata "Device identity"): the Ed25519 signature over the v3
//! (or v2) signed string, `id` = lowercase hex SHA-256 of the raw public key, the nonce of this
//! socket's challenge and a `signedAt` within two minutes of the gateway's clock. Pure: the
//! caller passes the nonce and the wall time.
//!
//! The checks run in the reference's order and each failure answers as it does
//! (`INVALID_REQUEST`, `details {code, reason}`, close 1008 with the message).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::ids::UnixMillis;
use crate::wire::connect::{ConnectParams, DeviceIdentity};
use crate::wire::frames::ErrorShape;

/// How far `signedAt` may be from the gateway's clock (the reference's
/// `DEVICE_SIGNATURE_SKEW_MS`).
pub const SIGNATURE_SKEW_MS: u64 = 120_000;

/// The longest base64 input the reference decodes.
const MAX_BASE64_LEN: usize = 4096;

/// Which signed string verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadVersion {
    V2,
    V3,
}

/// A device whose proof verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedDevice {
    /// Lowercase hex SHA-256 of the raw key.
    pub id: String,
    /// The raw key, base64url without padding (canonical form).
    pub public_key: String,
    pub version: PayloadVersion,
}

/// Why a device proof was refused (the reference's `rejectDeviceAuthInvalid` reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofFailure {
    IdMismatch,
    SignatureStale,
    NonceMissing,
    NonceMismatch,
    Signature,
    PublicKey,
}

impl ProofFailure {
    pub fn reason(self) -> &'static str {
        match self {
            Self::IdMismatch => "device-id-mismatch",
            Self::SignatureStale => "device-signature-stale",
            Self::NonceMissing => "device-nonce-missing",
            Self::NonceMismatch => "device-nonce-mismatch",
            Self::Signature => "device-signature",
            Self::PublicKey => "device-public-key",
        }
    }

    /// The error message, also the close reason.
    pub fn message(self) -> &'static str {
        match self {
            Self::IdMismatch => "device identity mismatch",
            Self::SignatureStale => "device signature expired",
            Self::NonceMissing => "device nonce required",
            Self::NonceMismatch => "device nonce mismatch",
            Self::Signature => "device signature invalid",
            Self::PublicKey => "device public key invalid",
        }
    }

    pub fn detail_code(self) -> &'static str {
        match self {
            Self::IdMismatch => "DEVICE_AUTH_DEVICE_ID_MISMATCH",
            Self::SignatureStale => "DEVICE_AUTH_SIGNATURE_EXPIRED",
            Self::NonceMissing => "DEVICE_AUTH_NONCE_REQUIRED",
            Self::NonceMismatch => "DEVICE_AUTH_NONCE_MISMATCH",
            Self::Signature => "DEVICE_AUTH_SIGNATURE_INVALID",
            Self::PublicKey => "DEVICE_AUTH_PUBLIC_KEY_INVALID",
        }
    }

    pub fn to_error(self) -> ErrorShape {
        ErrorShape::invalid_request(self.message())
            .with_details(json!({ "code": self.detail_code(), "reason": self.reason() }))
    }
}

/// Verifies `params.device` for a connect asking for `role`, on a socket whose challenge
/// nonce is `nonce`, at wall time `wall`.
pub fn verify(
    device: &DeviceIdentity,
    params: &ConnectParams,
    role: &str,
    nonce: &str,
    wall: UnixMillis,
) -> Result<VerifiedDevice, ProofFailure> {
    let raw = decode_public_key(&device.public_key);
    match &raw {
        Some(raw) if hex_sha256(raw) == device.id => {}
        _ => return Err(ProofFailure::IdMismatch),
    }
    if wall.0.abs_diff(device.signed_at) > SIGNATURE_SKEW_MS {
        return Err(ProofFailure::SignatureStale);
    }
    let provided = device.nonce.trim();
    if provided.is_empty() {
        return Err(ProofFailure::NonceMissing);
    }
    if provided != nonce {
        return Err(ProofFailure::NonceMismatch);
    }
    let raw = raw.unwrap_or_default();
    let signed = SignedFields::of(device, params, role, provided);
    let version = if verify_signature(&raw, signed.v3().as_bytes(), &device.signature) {
        PayloadVersion::V3
    } else if verify_signature(&raw, signed.v2().as_bytes(), &device.signature) {
        PayloadVersion::V2
    } else {
        return Err(ProofFailure::Signature);
    };
    if raw.is_empty() {
        return Err(ProofFailure::PublicKey);
    }
    Ok(VerifiedDevice { id: device.id.clone(), public_key: URL_SAFE_NO_PAD.encode(&raw), version })
}

/// The device id of a raw public key: lowercase hex SHA-256.
pub fn device_id_of(raw_public_key: &[u8]) -> String {
    hex_sha256(raw_public_key)
}

/// The fields of the signed string.
pub struct SignedFields<'a> {
    pub device_id: &'a str,
    pub client_id: &'a str,
    pub client_mode: &'a str,
    pub role: &'a str,
    pub scopes: Vec<&'a str>,
    pub signed_at: u64,
    /// `auth.token`, else `auth.deviceToken`, else `auth.bootstrapToken`, else empty.
    pub token: &'a str,
    pub nonce: &'a str,
    pub platform: &'a str,
    pub device_family: Option<&'a str>,
}

impl<'a> SignedFields<'a> {
    pub fn of(device: &'a DeviceIdentity, params: &'a ConnectParams, role: &'a str, nonce: &'a str) -> Self {
        let auth = params.auth.as_ref();
        let token = auth
            .and_then(|a| a.token.as_deref().or(a.device_token.as_deref()).or(a.bootstrap_token.as_deref()))
            .unwrap_or("");
        Self {
            device_id: &device.id,
            client_id: params.client.id.as_str(),
            client_mode: params.client.mode.as_str(),
            role,
            scopes: params.scopes.iter().flatten().map(|s| s.0.as_str()).collect(),
            signed_at: device.signed_at,
            token,
            nonce,
            platform: &params.client.platform,
            device_family: params.client.device_family.as_deref(),
        }
    }

    /// `v2|id|client|mode|role|scopes|signedAt|token|nonce`
    pub fn v2(&self) -> String {
        format!(
            "v2|{}|{}|{}|{}|{}|{}|{}|{}",
            self.device_id,
            self.client_id,
            self.client_mode,
            self.role,
            self.scopes.join(","),
            self.signed_at,
            self.token,
            self.nonce
        )
    }

    /// v2's fields with `v3`, then platform and device family, trimmed and ASCII-lowercased.
    pub fn v3(&self) -> String {
        format!(
            "v3|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
            self.device_id,
            self.client_id,
            self.client_mode,
            self.role,
            self.scopes.join(","),
            self.signed_at,
            self.token,
            self.nonce,
            normalize_metadata(Some(self.platform)),
            normalize_metadata(self.device_family)
        )
    }
}

/// The reference's `normalizeDeviceMetadataForAuth`: trimmed, A-Z lowercased.
fn normalize_metadata(value: Option<&str>) -> String {
    value.map(|v| v.trim().to_ascii_lowercase()).unwrap_or_default()
}

/// The reference's permissive base64url decoding (`-`/`_` or `+`/`/`, padding optional).
fn decode_permissive(input: &str) -> Option<Vec<u8>> {
    if input.is_empty() || input.len() > MAX_BASE64_LEN {
        return None;
    }
    let normalized: String = input
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    let pad = (4 - normalized.len() % 4) % 4;
    let padded = format!("{normalized}{}", "=".repeat(pad));
    base64::engine::general_purpose::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    )
    .decode(padded)
    .or_else(|_| STANDARD.decode(input))
    .ok()
}

/// A raw 32-byte Ed25519 key from its base64/base64url form (PEM keys are not accepted here:
/// clients send the raw key).
fn decode_public_key(input: &str) -> Option<Vec<u8>> {
    decode_permissive(input).filter(|raw| !raw.is_empty())
}

fn verify_signature(raw_key: &[u8], payload: &[u8], signature: &str) -> bool {
    let Ok(key_bytes) = <[u8; 32]>::try_from(raw_key) else { return false };
    let Ok(key) = VerifyingKey::from_bytes(&key_bytes) else { return false };
    let Some(sig) = decode_permissive(signature) else { return false };
    let Ok(sig) = Signature::from_slice(&sig) else { return false };
    key.verify(payload, &sig).is_ok()
}

fn hex_sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "proof_tests.rs"]
mod tests;
