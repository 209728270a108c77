//! Device identity and pairing through the hub, under virtual time: silent loopback approval,
//! NOT_PAIRED for everyone else, device tokens, forged / replayed / mismatched identities,
//! expiry, scope upgrades.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openclaw_core::devices::StoreOp;
use openclaw_core::testing::device::{nonce, TestDevice};
use openclaw_core::testing::{test_config, Harness};
use openclaw_core::{ConnId, PeerInfo};
use serde_json::{json, Value};

fn remote() -> PeerInfo {
    PeerInfo {
        ip: "192.0.2.50".parse().unwrap(),
        forwarded: false,
        origin: None,
        host_is_local: false,
        scope_cap: None,
        origin_refused: None,
        canvas_url: None,
    }
}

fn harness(auto_approve_local: bool) -> Harness {
    let mut h = Harness::new(test_config());
    h.load_devices(auto_approve_local);
    h
}

type Device = TestDevice;

fn connect_node(h: &mut Harness, d: &Device, peer: PeerInfo, auth: Value) -> ConnId {
    h.connect_node(d, peer, auth)
}

fn response(h: &Harness, c: ConnId, id: &str) -> Value {
    h.frames(c).into_iter().find(|f| f["type"] == "res" && f["id"] == id).unwrap_or_else(|| panic!("no res {id}"))
}

#[test]
fn a_new_loopback_node_is_approved_silently_and_gets_a_device_token() {
    let mut h = harness(true);
    let d = Device::new(1);
    let c = connect_node(&mut h, &d, PeerInfo::loopback(), json!({"token": "test-token"}));
    let hello = response(&h, c, "c1");
    assert_eq!(hello["ok"], true, "{hello}");
    let auth = &hello["payload"]["auth"];
    assert_eq!(auth["role"], "node");
    assert_eq!(auth["scopes"], json!([]));
    let token = auth["deviceToken"].as_str().expect("deviceToken").to_owned();
    assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);
    assert_eq!(auth["issuedAtMs"], json!(h.wall().0));
    // One batch: the request recorded and approved in the same transaction.
    assert_eq!(h.device_ops.len(), 1, "{:?}", h.device_ops);
    let ops = &h.device_ops[0];
    assert!(matches!(&ops[..], [StoreOp::PutPending(_), StoreOp::DropPending(_), StoreOp::PutPaired(p)] if p.approved_via == "silent" && p.device_id == d.id()));

    // Later the device token alone authenticates it (no gateway token).
    let c2 = connect_node(&mut h, &d, PeerInfo::loopback(), json!({"deviceToken": token}));
    let hello = response(&h, c2, "c1");
    assert_eq!(hello["ok"], true, "{hello}");
    assert_eq!(hello["payload"]["auth"]["deviceToken"], json!(token), "the same token until rotated");
    // A wrong device token is refused as the reference refuses it.
    let c3 = connect_node(&mut h, &d, PeerInfo::loopback(), json!({"deviceToken": "nope"}));
    h.advance(Duration::from_secs(5)); // failed credentials are answered after the failure delay
    let err = response(&h, c3, "c1");
    assert_eq!(err["error"]["details"]["code"], "AUTH_DEVICE_TOKEN_MISMATCH", "{err}");
    assert_eq!(h.close_of(c3), Some((1008, "unauthorized: device token mismatch (rotate/reissue device token)".into())));
    // Another device may not use it.
    let other = Device::new(2);
    let c4 = connect_node(&mut h, &other, remote(), json!({"deviceToken": token}));
    h.advance(Duration::from_secs(5));
    assert_eq!(response(&h, c4, "c1")["error"]["details"]["code"], "AUTH_DEVICE_TOKEN_MISMATCH");
}

#[test]
fn a_remote_device_waits_for_an_operator_with_not_paired() {
    let mut h = harness(true);
    let op = h.connect_cli("op", &["operator.pairing"]);
    let reader = h.connect_cli("reader", &["operator.read"]);
    let d = Device::new(3);
    let c = connect_node(&mut h, &d, remote(), json!({"token": "test-token"}));
    let err = response(&h, c, "c1");
    assert_eq!(err["ok"], false);
    assert_eq!(err["error"]["code"], "NOT_PAIRED");
    assert_eq!(err["error"]["message"], "pairing required: device is not approved yet");
    let details = &err["error"]["details"];
    let request_id = details["requestId"].as_str().expect("requestId").to_owned();
    assert_eq!(
        details,
        &json!({"code": "PAIRING_REQUIRED", "reason": "not-paired", "requestId": request_id,
                "remediationHint": "Approve this device from the pending pairing requests.",
                "deviceId": d.id(), "requestedRole": "node"})
    );
    assert_eq!(
        h.close_of(c),
        Some((1008, format!("pairing required: device is not approved yet (requestId: {request_id})")))
    );
    let requested: Vec<Value> = h.frames(op).into_iter().filter(|f| f["event"] == "device.pair.requested").collect();
    assert_eq!(requested.len(), 1);
    let p = &requested[0]["payload"];
    assert_eq!((p["requestId"].as_str(), p["deviceId"].as_str()), (Some(request_id.as_str()), Some(d.id().as_str())));
    assert_eq!((p["clientId"].as_str(), p["role"].as_str(), p["silent"].as_bool()), (Some("node-host"), Some("node"), Some(false)));
    assert_eq!(p["remoteIp"], "192.0.2.50");
    assert!(h.frames(reader).iter().all(|f| f["event"] != "device.pair.requested"), "pairing scope only");

    // Reconnecting reuses the request (no second event) until it expires after 5 minutes.
    let c2 = connect_node(&mut h, &d, remote(), json!({"token": "test-token"}));
    assert_eq!(response(&h, c2, "c1")["error"]["details"]["requestId"], json!(request_id));
    assert_eq!(h.frames(op).iter().filter(|f| f["event"] == "device.pair.requested").count(), 1);
    h.advance(Duration::from_secs(301));
    assert!(
        h.device_ops.iter().flatten().any(|o| o == &StoreOp::DropPending(request_id.clone())),
        "expired request dropped: {:?}",
        h.device_ops
    );
    let c3 = connect_node(&mut h, &d, remote(), json!({"token": "test-token"}));
    assert_ne!(response(&h, c3, "c1")["error"]["details"]["requestId"], json!(request_id), "a fresh request");
}

#[test]
fn with_auto_approve_local_off_loopback_devices_wait_too() {
    let mut h = harness(false);
    let c = connect_node(&mut h, &Device::new(4), PeerInfo::loopback(), json!({"token": "test-token"}));
    assert_eq!(response(&h, c, "c1")["error"]["code"], "NOT_PAIRED");
}

#[test]
fn forged_replayed_and_mismatched_identities_are_refused_as_the_reference() {
    let mut h = harness(true);
    let d = Device::new(5);
    let auth = json!({"token": "test-token"});
    let expect = |h: &mut Harness, c: ConnId, code: &str, message: &str| {
        let err = response(h, c, "c1");
        assert_eq!(err["error"]["code"], "INVALID_REQUEST", "{err}");
        assert_eq!(err["error"]["message"], message);
        assert_eq!(err["error"]["details"]["code"], code);
        assert_eq!(h.close_of(c), Some((1008, message.to_owned())));
    };
    // Replayed: signed for another socket's challenge.
    let c = h.open("replay");
    let p = d.node_params("nonce-999", h.wall().0, auth.clone());
    h.request(c, "c1", "connect", p);
    expect(&mut h, c, "DEVICE_AUTH_NONCE_MISMATCH", "device nonce mismatch");
    // Forged: the signature does not match the fields (role changed after signing).
    let c = h.open("forged");
    let mut p = d.node_params(&nonce(c), h.wall().0, auth.clone());
    p["client"]["platform"] = json!("darwin");
    h.request(c, "c1", "connect", p);
    expect(&mut h, c, "DEVICE_AUTH_SIGNATURE_INVALID", "device signature invalid");
    // Someone else's id with this key.
    let c = h.open("wrong-id");
    let mut p = d.node_params(&nonce(c), h.wall().0, auth.clone());
    p["device"]["id"] = json!(Device::new(6).id());
    h.request(c, "c1", "connect", p);
    expect(&mut h, c, "DEVICE_AUTH_DEVICE_ID_MISMATCH", "device identity mismatch");
    // Signed three minutes ago.
    let c = h.open("stale");
    let p = d.node_params(&nonce(c), h.wall().0 - 180_000, auth.clone());
    h.request(c, "c1", "connect", p);
    expect(&mut h, c, "DEVICE_AUTH_SIGNATURE_EXPIRED", "device signature expired");
    // The proof is checked before the shared secret (as the reference orders them).
    let c = h.open("proof-first");
    let p = d.node_params("nonce-998", h.wall().0, json!({"token": "wrong"}));
    h.request(c, "c1", "connect", p);
    expect(&mut h, c, "DEVICE_AUTH_NONCE_MISMATCH", "device nonce mismatch");
    assert!(h.device_ops.is_empty(), "nothing was paired: {:?}", h.device_ops);
    // A valid device with a wrong gateway token is still unauthorized.
    let c = h.open("bad-token");
    let p = d.node_params(&nonce(c), h.wall().0, json!({"token": "wrong"}));
    h.request(c, "c1", "connect", p);
    h.advance(Duration::from_secs(5));
    assert_eq!(response(&h, c, "c1")["error"]["details"]["code"], "AUTH_TOKEN_MISMATCH");
}

#[test]
fn a_paired_operator_asking_for_more_scopes_needs_approval_even_on_loopback() {
    let mut h = harness(true);
    let d = Device::new(7);
    let c = h.open("op1");
    let p = d.params("cli", "cli", "operator", &["operator.read"], &nonce(c), h.wall().0, json!({"token": "test-token"}));
    h.request(c, "c1", "connect", p);
    let hello = response(&h, c, "c1");
    assert_eq!(hello["payload"]["auth"]["scopes"], json!(["operator.read"]), "{hello}");
    let c = h.open("op2");
    let p = d.params("cli", "cli", "operator", &["operator.read", "operator.admin"], &nonce(c), h.wall().0, json!({"token": "test-token"}));
    h.request(c, "c1", "connect", p);
    let err = response(&h, c, "c1");
    assert_eq!(err["error"]["code"], "NOT_PAIRED");
    assert_eq!(err["error"]["message"], "pairing required: device is asking for more scopes than currently approved");
    assert_eq!(err["error"]["details"]["reason"], "scope-upgrade");
    // Asking for a role it never had is a role upgrade.
    let c = h.open("node");
    let p = d.node_params(&nonce(c), h.wall().0, json!({"token": "test-token"}));
    h.request(c, "c1", "connect", p);
    assert_eq!(response(&h, c, "c1")["error"]["details"]["reason"], "role-upgrade");
}

#[test]
fn device_less_sockets_keep_the_old_rules() {
    let mut h = harness(true);
    // A node without a device is refused.
    let c = h.open("node");
    h.request(c, "c1", "connect", json!({"minProtocol": 4, "maxProtocol": 4,
        "client": {"id": "node-host", "version": "1", "platform": "linux", "mode": "node"},
        "role": "node", "auth": {"token": "test-token"}}));
    assert_eq!(response(&h, c, "c1")["error"]["details"]["code"], "DEVICE_IDENTITY_REQUIRED");
    // The local CLI keeps its scopes without a device.
    let cli = h.connect_cli("cli", &["operator.admin"]);
    assert_eq!(response(&h, cli, "c1")["payload"]["auth"]["scopes"], json!(["operator.admin"]));
    assert!(response(&h, cli, "c1")["payload"]["auth"].get("deviceToken").is_none());
}

/// The `res` payload of request `id` on `c` (panics on an error answer).
fn ok_payload(h: &Harness, c: ConnId, id: &str) -> Value {
    let r = response(h, c, id);
    assert_eq!(r["ok"], true, "{r}");
    r["payload"].clone()
}

#[test]
fn an_operator_approves_a_remote_node_then_rotates_revokes_and_removes_it() {
    let mut h = harness(true);
    let pairing_only = h.connect_cli("pairing", &["operator.pairing"]);
    let admin = h.connect_cli("admin", &["operator.admin"]);
    let d = Device::new(8);
    let c = connect_node(&mut h, &d, remote(), json!({"token": "test-token"}));
    let request_id = response(&h, c, "c1")["error"]["details"]["requestId"].as_str().unwrap().to_owned();

    h.request(pairing_only, "l1", "device.pair.list", json!({}));
    let list = ok_payload(&h, pairing_only, "l1");
    assert_eq!(list["paired"], json!([]));
    assert_eq!(list["pending"][0]["requestId"], json!(request_id));
    assert_eq!(list["pending"][0]["roles"], json!(["node"]));
    // A node role needs an admin to approve (as captured).
    h.request(pairing_only, "a1", "device.pair.approve", json!({"requestId": request_id}));
    let denied = response(&h, pairing_only, "a1");
    assert_eq!(denied["error"], json!({"code": "INVALID_REQUEST", "message": "device pairing approval denied"}));
    h.request(admin, "a1", "device.pair.approve", json!({"requestId": "nope"}));
    assert_eq!(response(&h, admin, "a1")["error"]["message"], "unknown requestId");
    h.request(admin, "a2", "device.pair.approve", json!({"requestId": request_id}));
    let approved = ok_payload(&h, admin, "a2");
    assert_eq!(approved["requestId"], json!(request_id));
    let device = &approved["device"];
    assert_eq!(device["deviceId"], json!(d.id()));
    assert_eq!(device["approvedVia"], "owner");
    assert_eq!(device["tokens"][0]["role"], "node");
    assert!(device["tokens"][0].get("token").is_none(), "no secrets: {device}");
    let resolved: Vec<Value> = h.frames(pairing_only).into_iter().filter(|f| f["event"] == "device.pair.resolved").collect();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0]["payload"]["decision"], "approved");
    assert_eq!(resolved[0]["payload"]["deviceId"], json!(d.id()));
    // The approval was persisted as one batch before the answer.
    assert!(matches!(&h.device_ops.last().unwrap()[..], [StoreOp::DropPending(id), StoreOp::PutPaired(_)] if *id == request_id));

    // Now the node connects (from afar too) and shows as connected.
    let node = connect_node(&mut h, &d, remote(), json!({"token": "test-token"}));
    let token = ok_payload(&h, node, "c1")["auth"]["deviceToken"].as_str().unwrap().to_owned();
    h.request(admin, "l2", "device.pair.list", json!({}));
    let list = ok_payload(&h, admin, "l2");
    assert_eq!(list["pending"], json!([]));
    assert_eq!(list["paired"][0]["connected"], true);

    // Rotation hands out a new token and closes the node's socket; the old token is dead.
    h.request(admin, "r1", "device.token.rotate", json!({"deviceId": d.id(), "role": "node"}));
    let rotated = ok_payload(&h, admin, "r1");
    // Another caller than the device itself does not get the token (as the reference).
    assert!(rotated.get("token").is_none(), "{rotated}");
    assert_eq!(rotated["tokenDelivery"], "withheld-cross-device");
    assert_eq!(h.close_of(node), Some((4001, "device removed".into())));
    let old = connect_node(&mut h, &d, remote(), json!({"deviceToken": token}));
    h.advance(Duration::from_secs(5));
    assert_eq!(response(&h, old, "c1")["error"]["details"]["code"], "AUTH_DEVICE_TOKEN_MISMATCH");
    // The device gets the new one on its next connect with the gateway token.
    let renewed = connect_node(&mut h, &d, remote(), json!({"token": "test-token"}));
    let fresh = ok_payload(&h, renewed, "c1")["auth"]["deviceToken"].as_str().unwrap().to_owned();
    assert_ne!(fresh, token);
    let again = connect_node(&mut h, &d, remote(), json!({"deviceToken": fresh}));
    assert_eq!(ok_payload(&h, again, "c1")["auth"]["deviceToken"], json!(fresh));

    // Rename broadcasts device.pair.changed.
    h.request(admin, "n1", "device.pair.rename", json!({"deviceId": d.id(), "label": " kitchen "}));
    assert_eq!(ok_payload(&h, admin, "n1"), json!({"deviceId": d.id(), "label": "kitchen"}));
    assert!(h.frames(pairing_only).iter().any(|f| f["event"] == "device.pair.changed"));

    // Revoke: the device token no longer works, the socket closes.
    h.request(admin, "v1", "device.token.revoke", json!({"deviceId": d.id(), "role": "node"}));
    assert_eq!(ok_payload(&h, admin, "v1")["role"], "node");
    assert_eq!(h.close_of(again), Some((4001, "device removed".into())));
    let revoked = connect_node(&mut h, &d, remote(), json!({"deviceToken": fresh}));
    h.advance(Duration::from_secs(5));
    assert_eq!(response(&h, revoked, "c1")["error"]["details"]["code"], "AUTH_DEVICE_TOKEN_MISMATCH");

    // Remove: unpaired; with the gateway token it must pair again.
    let back = connect_node(&mut h, &d, remote(), json!({"token": "test-token"}));
    ok_payload(&h, back, "c1");
    h.request(admin, "x1", "device.pair.remove", json!({"deviceId": d.id()}));
    assert_eq!(ok_payload(&h, admin, "x1")["deviceId"], json!(d.id()));
    assert_eq!(h.close_of(back), Some((4001, "device removed".into())));
    h.request(admin, "x2", "device.pair.remove", json!({"deviceId": d.id()}));
    assert_eq!(response(&h, admin, "x2")["error"]["message"], "unknown deviceId");
    let unpaired = connect_node(&mut h, &d, remote(), json!({"token": "test-token"}));
    assert_eq!(response(&h, unpaired, "c1")["error"]["code"], "NOT_PAIRED");
}

#[test]
fn a_rejected_request_is_gone_and_the_device_asks_again() {
    let mut h = harness(true);
    let admin = h.connect_cli("admin", &["operator.admin"]);
    let d = Device::new(9);
    let c = connect_node(&mut h, &d, remote(), json!({"token": "test-token"}));
    let request_id = response(&h, c, "c1")["error"]["details"]["requestId"].as_str().unwrap().to_owned();
    h.request(admin, "j1", "device.pair.reject", json!({"requestId": request_id}));
    assert_eq!(ok_payload(&h, admin, "j1"), json!({"requestId": request_id, "deviceId": d.id()}));
    let resolved = h.frames(admin).into_iter().find(|f| f["event"] == "device.pair.resolved").unwrap();
    assert_eq!(resolved["payload"]["decision"], "rejected");
    h.request(admin, "j2", "device.pair.reject", json!({"requestId": request_id}));
    assert_eq!(response(&h, admin, "j2")["error"]["message"], "unknown requestId");
    h.request(admin, "l1", "device.pair.list", json!({}));
    assert_eq!(ok_payload(&h, admin, "l1"), json!({"pending": [], "paired": []}));
    // Bad params get the schema's answer.
    h.request(admin, "b1", "device.pair.approve", json!({"requestId": ""}));
    assert_eq!(response(&h, admin, "b1")["error"]["code"], "INVALID_REQUEST");
    // Without the pairing scope: refused.
    let reader = h.connect_cli("reader", &["operator.read"]);
    h.request(reader, "l1", "device.pair.list", json!({}));
    assert_eq!(response(&h, reader, "l1")["error"]["details"]["missingScope"], "operator.pairing");
}

/// An operator device connected with `auth` (its proof signed for this socket's nonce).
fn connect_operator(h: &mut Harness, d: &Device, scopes: &[&str], auth: Value) -> ConnId {
    let c = h.open_with("op-device", PeerInfo::loopback());
    let p = d.params("cli", "cli", "operator", scopes, &nonce(c), h.wall().0, auth);
    h.request(c, "c1", "connect", p);
    c
}

#[test]
fn a_device_by_its_token_manages_only_itself_and_gets_its_rotated_token_in_band() {
    let mut h = harness(true);
    let me = Device::new(11);
    let first = connect_operator(&mut h, &me, &["operator.pairing"], json!({"token": "test-token"}));
    let my_token = ok_payload(&h, first, "c1")["auth"]["deviceToken"].as_str().unwrap().to_owned();
    let node = Device::new(12);
    let n = connect_node(&mut h, &node, PeerInfo::loopback(), json!({"token": "test-token"}));
    ok_payload(&h, n, "c1");

    // By the shared secret, a pairing-scoped client may rename and remove a node's pairing
    // (the reference CLI does so without a device).
    let cli = h.connect_cli("cli", &["operator.pairing"]);
    h.request(cli, "n1", "device.pair.rename", json!({"deviceId": node.id(), "label": "shed"}));
    ok_payload(&h, cli, "n1");

    // By its device token, the operator device may not touch another device...
    let me_by_token = connect_operator(&mut h, &me, &["operator.pairing"], json!({"deviceToken": my_token}));
    ok_payload(&h, me_by_token, "c1");
    h.request(me_by_token, "x1", "device.pair.remove", json!({"deviceId": node.id()}));
    assert_eq!(response(&h, me_by_token, "x1")["error"]["message"], "device pairing removal denied");
    h.request(me_by_token, "n2", "device.pair.rename", json!({"deviceId": node.id(), "label": "x"}));
    assert_eq!(response(&h, me_by_token, "n2")["error"]["message"], "device pairing rename denied");
    h.request(me_by_token, "r1", "device.token.rotate", json!({"deviceId": node.id(), "role": "operator"}));
    assert_eq!(response(&h, me_by_token, "r1")["error"]["message"], "device token rotation denied");
    h.request(me_by_token, "v1", "device.token.revoke", json!({"deviceId": node.id(), "role": "node"}));
    assert_eq!(response(&h, me_by_token, "v1")["error"]["message"], "device token revocation denied");

    // ...but rotates its own operator token and gets it back in band.
    h.request(me_by_token, "r2", "device.token.rotate", json!({"deviceId": me.id(), "role": "operator"}));
    let rotated = ok_payload(&h, me_by_token, "r2");
    assert_eq!(rotated["tokenDelivery"], "in-band");
    let fresh = rotated["token"].as_str().unwrap().to_owned();
    assert_ne!(fresh, my_token);
    assert_eq!(h.close_of(me_by_token), Some((4001, "device removed".into())));
    let again = connect_operator(&mut h, &me, &["operator.pairing"], json!({"deviceToken": fresh}));
    ok_payload(&h, again, "c1");
}

#[test]
fn a_caller_may_not_mint_revoke_or_approve_beyond_its_own_scopes_and_sees_only_itself() {
    let mut h = harness(true);
    let admin = h.connect_cli("admin", &["operator.admin"]);
    let me = Device::new(13);
    let first = connect_operator(&mut h, &me, &["operator.pairing", "operator.read"], json!({"token": "test-token"}));
    let my_token = ok_payload(&h, first, "c1")["auth"]["deviceToken"].as_str().unwrap().to_owned();
    let node = Device::new(14);
    let n = connect_node(&mut h, &node, PeerInfo::loopback(), json!({"token": "test-token"}));
    ok_payload(&h, n, "c1");
    let waiting = Device::new(15);
    let w = connect_operator_from(&mut h, &waiting, remote(), &["operator.write"]);
    let waiting_request = response(&h, w, "c1")["error"]["details"]["requestId"].as_str().unwrap().to_owned();

    // By its token with fewer scopes than it was approved for.
    let me_tok = connect_operator(&mut h, &me, &["operator.pairing"], json!({"deviceToken": my_token}));
    ok_payload(&h, me_tok, "c1");

    // device.pair.list: a device by its token (not admin) sees its own rows only; the admin all.
    h.request(me_tok, "l1", "device.pair.list", json!({}));
    let mine = ok_payload(&h, me_tok, "l1");
    assert_eq!(mine["pending"], json!([]), "{mine}");
    let ids: Vec<&str> = mine["paired"].as_array().unwrap().iter().map(|d| d["deviceId"].as_str().unwrap()).collect();
    assert_eq!(ids, [me.id().as_str()]);
    h.request(admin, "l1", "device.pair.list", json!({}));
    let all = ok_payload(&h, admin, "l1");
    assert_eq!(all["paired"].as_array().unwrap().len(), 2, "{all}");
    assert_eq!(all["pending"][0]["requestId"], json!(waiting_request));

    let denied = |h: &Harness, id: &str, message: &str| {
        let r = response(h, me_tok, id);
        assert_eq!(r["error"], json!({"code": "INVALID_REQUEST", "message": message}), "{id}: {r}");
    };
    // Its own token carries operator.read, which this socket lacks: no revoking it...
    h.request(me_tok, "v1", "device.token.revoke", json!({"deviceId": me.id(), "role": "operator"}));
    denied(&h, "v1", "device token revocation denied");
    // ...nor minting it again (the current scopes are the default), nor minting wider than
    // the pairing ever approved.
    h.request(me_tok, "r1", "device.token.rotate", json!({"deviceId": me.id(), "role": "operator"}));
    denied(&h, "r1", "device token rotation denied");
    h.request(me_tok, "r2", "device.token.rotate", json!({"deviceId": me.id(), "role": "operator", "scopes": ["operator.read"]}));
    denied(&h, "r2", "device token rotation denied");
    h.request(me_tok, "r3", "device.token.rotate", json!({"deviceId": me.id(), "role": "operator", "scopes": ["operator.admin"]}));
    denied(&h, "r3", "device token rotation denied");
    assert_eq!(h.close_of(me_tok), None, "refusals close nothing");
    // The admin may not widen it either (approved scopes are the ceiling); unknown devices and
    // roles are refused with the same message, as the reference.
    for (id, params) in [
        ("r4", json!({"deviceId": me.id(), "role": "operator", "scopes": ["operator.write"]})),
        ("r5", json!({"deviceId": "nope", "role": "operator"})),
        ("r6", json!({"deviceId": me.id(), "role": "node"})),
    ] {
        h.request(admin, id, "device.token.rotate", params);
        assert_eq!(response(&h, admin, id)["error"]["message"], "device token rotation denied", "{id}");
    }
    h.request(admin, "v2", "device.token.revoke", json!({"deviceId": "nope", "role": "operator"}));
    assert_eq!(response(&h, admin, "v2")["error"]["message"], "device token revocation denied");

    // Within its own scopes it rotates (narrowing) and gets the token in band.
    h.request(me_tok, "r7", "device.token.rotate", json!({"deviceId": me.id(), "role": "operator", "scopes": ["operator.pairing"]}));
    let rotated = ok_payload(&h, me_tok, "r7");
    assert_eq!(rotated["scopes"], json!(["operator.pairing"]));
    assert_eq!(rotated["tokenDelivery"], "in-band");
    let narrow = rotated["token"].as_str().unwrap().to_owned();
    let back = connect_operator(&mut h, &me, &["operator.pairing"], json!({"deviceToken": narrow}));
    ok_payload(&h, back, "c1");
    h.request(back, "v3", "device.token.revoke", json!({"deviceId": me.id(), "role": "operator"}));
    assert_eq!(ok_payload(&h, back, "v3")["role"], "operator");

    // Approving: the approver must hold every operator scope the new token would carry.
    let pairing_only = h.connect_cli("pairing", &["operator.pairing"]);
    h.request(pairing_only, "a1", "device.pair.approve", json!({"requestId": waiting_request}));
    let r = response(&h, pairing_only, "a1");
    assert_eq!(r["error"], json!({"code": "INVALID_REQUEST", "message": "missing scope: operator.write"}), "{r}");
    let writer = h.connect_cli("writer", &["operator.pairing", "operator.write"]);
    h.request(writer, "a2", "device.pair.approve", json!({"requestId": waiting_request}));
    assert_eq!(ok_payload(&h, writer, "a2")["device"]["deviceId"], json!(waiting.id()));
}

/// An operator device asking for `scopes` from `peer` with the gateway token.
fn connect_operator_from(h: &mut Harness, d: &Device, peer: PeerInfo, scopes: &[&str]) -> ConnId {
    let c = h.open_with("op-device", peer);
    let p = d.params("cli", "cli", "operator", scopes, &nonce(c), h.wall().0, json!({"token": "test-token"}));
    h.request(c, "c1", "connect", p);
    c
}
