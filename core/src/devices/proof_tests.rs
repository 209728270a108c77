use ed25519_dalek::{Signer as _, SigningKey};

use super::*;
use crate::wire::connect::ConnectParams;

/// The reference node host's `connect` params from the 2026.9.6 capture
/// (`openclaw-2026.9.6-node-host-session.jsonl`, token `T0K`).
fn captured() -> ConnectParams {
    serde_json::from_str(include_str!("testdata/node-host-connect.json")).expect("captured connect")
}

const CAPTURED_NONCE: &str = "93c733dc-e198-41af-864a-aefc4c544214";
const CAPTURED_SIGNED_AT: u64 = 1_796_531_253_621;

#[test]
fn the_captured_node_host_connect_verifies_as_v3() {
    let p = captured();
    let device = p.device.clone().expect("device");
    let v = verify(&device, &p, "node", CAPTURED_NONCE, UnixMillis(CAPTURED_SIGNED_AT + 800)).expect("verifies");
    assert_eq!(v.version, PayloadVersion::V3);
    assert_eq!(v.id, "5afe14fba4e6aa7d40a03e223aaee826f864c70532d8f18b9d3fd2ec582b6ba1");
    assert_eq!(v.public_key, device.public_key);
}

#[test]
fn each_tampered_field_of_the_captured_connect_fails_as_the_reference() {
    let wall = UnixMillis(CAPTURED_SIGNED_AT);
    let base = captured();
    let check = |p: &ConnectParams, role: &str, nonce: &str, wall: UnixMillis| {
        verify(p.device.as_ref().expect("device"), p, role, nonce, wall).map(|_| ())
    };
    // A signature from someone else's key over the same fields.
    let mut p = base.clone();
    p.client.display_name = Some("renamed".into()); // not signed: still fine
    assert_eq!(check(&p, "node", CAPTURED_NONCE, wall), Ok(()));
    let mut p = base.clone();
    p.client.platform = "darwin".into();
    assert_eq!(check(&p, "node", CAPTURED_NONCE, wall), Err(ProofFailure::Signature));
    assert_eq!(check(&base, "operator", CAPTURED_NONCE, wall), Err(ProofFailure::Signature));
    let mut p = base.clone();
    p.auth.as_mut().expect("auth").token = Some("other".into());
    assert_eq!(check(&p, "node", CAPTURED_NONCE, wall), Err(ProofFailure::Signature));
    // Replayed on another socket: the nonce is that socket's challenge.
    assert_eq!(check(&base, "node", "another-nonce", wall), Err(ProofFailure::NonceMismatch));
    // Replayed later: the signature has expired (skew is two minutes either way).
    assert_eq!(check(&base, "node", CAPTURED_NONCE, UnixMillis(CAPTURED_SIGNED_AT + 120_000)), Ok(()));
    assert_eq!(
        check(&base, "node", CAPTURED_NONCE, UnixMillis(CAPTURED_SIGNED_AT + 120_001)),
        Err(ProofFailure::SignatureStale)
    );
    assert_eq!(
        check(&base, "node", CAPTURED_NONCE, UnixMillis(CAPTURED_SIGNED_AT - 120_001)),
        Err(ProofFailure::SignatureStale)
    );
    // Claiming another device's id.
    let mut p = base.clone();
    p.device.as_mut().expect("device").id = "0".repeat(64);
    assert_eq!(check(&p, "node", CAPTURED_NONCE, wall), Err(ProofFailure::IdMismatch));
    let mut p = base.clone();
    p.device.as_mut().expect("device").nonce = "  ".into();
    assert_eq!(check(&p, "node", "  ", wall), Err(ProofFailure::NonceMissing));
}

fn signed_connect(key: &SigningKey, version: &str, nonce: &str, signed_at: u64) -> ConnectParams {
    let raw = key.verifying_key().to_bytes();
    let mut p: ConnectParams = serde_json::from_value(serde_json::json!({
        "minProtocol": 4, "maxProtocol": 4,
        "client": {"id": "cli", "version": "1", "platform": " Linux ", "mode": "cli"},
        "role": "operator", "scopes": ["operator.read", "operator.write"],
        "auth": {"deviceToken": "dt"},
        "device": {"id": device_id_of(&raw), "publicKey": URL_SAFE_NO_PAD.encode(raw),
                   "signature": "x", "signedAt": signed_at, "nonce": nonce},
    }))
    .expect("params");
    let device = p.device.clone().expect("device");
    let fields = SignedFields::of(&device, &p, "operator", nonce);
    let text = if version == "v3" { fields.v3() } else { fields.v2() };
    if version == "v3" {
        assert_eq!(
            text,
            format!("v3|{}|cli|cli|operator|operator.read,operator.write|{signed_at}|dt|{nonce}|linux|", device.id)
        );
    }
    p.device.as_mut().expect("device").signature = URL_SAFE_NO_PAD.encode(key.sign(text.as_bytes()).to_bytes());
    p
}

#[test]
fn v2_and_v3_signed_strings_both_verify_and_a_flipped_bit_does_not() {
    let key = SigningKey::from_bytes(&[7; 32]);
    for (version, expected) in [("v3", PayloadVersion::V3), ("v2", PayloadVersion::V2)] {
        let p = signed_connect(&key, version, "n-1", 1000);
        let d = p.device.clone().expect("device");
        assert_eq!(verify(&d, &p, "operator", "n-1", UnixMillis(2000)).map(|v| v.version), Ok(expected));
        let mut bad = d.clone();
        let mut sig = URL_SAFE_NO_PAD.decode(&bad.signature).expect("b64");
        sig[5] ^= 1;
        bad.signature = URL_SAFE_NO_PAD.encode(sig);
        assert_eq!(verify(&bad, &p, "operator", "n-1", UnixMillis(2000)), Err(ProofFailure::Signature));
    }
}

#[test]
fn a_key_that_is_not_32_bytes_or_not_base64_is_an_identity_mismatch_or_bad_signature() {
    let p = signed_connect(&SigningKey::from_bytes(&[9; 32]), "v3", "n", 10);
    let mut d = p.device.clone().expect("device");
    d.public_key = "!!!".into();
    assert_eq!(verify(&d, &p, "operator", "n", UnixMillis(10)), Err(ProofFailure::IdMismatch));
    // A 16-byte key whose id matches: its signature cannot verify.
    let short = [1u8; 16];
    d.public_key = URL_SAFE_NO_PAD.encode(short);
    d.id = device_id_of(&short);
    assert_eq!(verify(&d, &p, "operator", "n", UnixMillis(10)), Err(ProofFailure::Signature));
}

#[test]
fn failures_answer_with_the_reference_codes() {
    let e = ProofFailure::NonceMismatch.to_error();
    let v = serde_json::to_value(&e).expect("json");
    assert_eq!(v["code"], "INVALID_REQUEST");
    assert_eq!(v["message"], "device nonce mismatch");
    assert_eq!(v["details"], serde_json::json!({"code": "DEVICE_AUTH_NONCE_MISMATCH", "reason": "device-nonce-mismatch"}));
}
