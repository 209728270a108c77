//! What our core emits, held against the reference implementation's own JSON Schemas.
//!
//! The schemas are read at test time from `openclaw-peer schemas` (the reference protocol's
//! TypeBox output; `scripts/openclaw-peer` in the repository, or `$OPENCLAW_PEER`),
//! cached under `target/tmp` keyed by the peer script's contents. If the peer is not installed or
//! the command fails, every test here FAILS: a compatibility test that skips proves nothing.
//!
//! Frames come from harness runs (admin, read-only, scope-less, node and failing clients; tick,
//! presence, health and shutdown events; error responses of every kind we produce).

// Test code reads fixtures and caches; the IO ban in core/clippy.toml is for the library.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use openclaw_core::testing::device::TestDevice;
use openclaw_core::testing::{Harness, TOKEN};
use openclaw_core::PeerInfo;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// The reference schemas.

struct Reference {
    defs: BTreeMap<String, Value>,
}

fn peer_command() -> PathBuf {
    match std::env::var_os("OPENCLAW_PEER") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/openclaw-peer"),
    }
}

fn reference() -> &'static Reference {
    static CELL: OnceLock<Reference> = OnceLock::new();
    CELL.get_or_init(load_reference)
}

fn load_reference() -> Reference {
    let peer = peer_command();
    let script = std::fs::read(&peer).unwrap_or_else(|e| {
        panic!(
            "reference schemas unavailable: cannot read the peer script {} ({e}).\n\
             Install the reference peer (`{} install`, as .ci/run does) or set OPENCLAW_PEER.",
            peer.display(),
            peer.display()
        )
    });
    // The cache must not hide a peer that is gone: `where` is cheap (no Node.js start).
    let root = std::process::Command::new(&peer)
        .arg("where")
        .output()
        .unwrap_or_else(|e| panic!("reference schemas unavailable: `{} where` did not run: {e}", peer.display()));
    let root = String::from_utf8_lossy(&root.stdout).trim().to_owned();
    let entry = Path::new(&root).join("openclaw/node_modules/openclaw/openclaw.mjs");
    assert!(
        entry.is_file(),
        "reference schemas unavailable: the peer is not installed ({} missing).\n\
         Run `{} install` (.ci/run does) or set OPENCLAW_PEER.",
        entry.display(),
        peer.display()
    );
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    script.hash(&mut hasher);
    root.hash(&mut hasher);
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ref-schemas-{:016x}.json", hasher.finish()));
    let text = match std::fs::read_to_string(&cache) {
        Ok(text) => text,
        Err(_) => {
            let out = std::process::Command::new(&peer).arg("schemas").output().unwrap_or_else(|e| {
                panic!("reference schemas unavailable: `{} schemas` did not run: {e}", peer.display())
            });
            assert!(
                out.status.success(),
                "reference schemas unavailable: `{} schemas` failed ({}):\n{}",
                peer.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8(out.stdout).expect("peer prints UTF-8");
            // Write-then-rename so that parallel test binaries never read a partial cache.
            let tmp = cache.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::write(&tmp, &text).is_ok() {
                let _ = std::fs::rename(&tmp, &cache);
            }
            text
        }
    };
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("`openclaw-peer schemas` printed invalid JSON ({e}); cache {}", cache.display()));
    assert_eq!(doc["protocolVersion"], 4, "the reference peer speaks another protocol version");
    let defs = doc["definitions"].as_object().expect("definitions object").clone();
    assert!(defs.len() > 50, "suspiciously few reference schemas: {}", defs.len());
    Reference { defs: defs.into_iter().collect() }
}

impl Reference {
    fn schema(&self, name: &str) -> &Value {
        self.defs.get(name).unwrap_or_else(|| panic!("the reference has no {name}"))
    }

    /// A sub-schema by JSON pointer, e.g. (`SnapshotSchema`, `/properties/health`).
    fn sub(&self, name: &str, pointer: &str) -> &Value {
        self.schema(name).pointer(pointer).unwrap_or_else(|| panic!("{name} has no {pointer}"))
    }
}

/// Resolves `$ref`s the TypeBox output may carry (`#/definitions/X`, or a bare `$id` name) by
/// inlining them; the current dump has none, but a newer one might.
fn inline_refs(schema: &Value, defs: &BTreeMap<String, Value>, depth: u32) -> Value {
    assert!(depth < 32, "reference schema $ref cycle");
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                let name = target.rsplit('/').next().unwrap_or(target);
                let found = defs
                    .get(name)
                    .or_else(|| defs.values().find(|d| d.get("$id") == Some(&json!(target))))
                    .unwrap_or_else(|| panic!("unresolvable $ref {target}"));
                return inline_refs(found, defs, depth + 1);
            }
            Value::Object(map.iter().map(|(k, v)| (k.clone(), inline_refs(v, defs, depth))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| inline_refs(v, defs, depth)).collect()),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => schema.clone(),
    }
}

/// Violations of `instance` against a reference schema: `field: our value — constraint`.
fn violations(schema: &Value, instance: &Value) -> Vec<String> {
    let mut schema = inline_refs(schema, &reference().defs, 0);
    if let Value::Object(map) = &mut schema {
        map.remove("$id"); // TypeBox ids are names, not URIs
    }
    let validator = jsonschema::draft7::new(&schema).expect("reference schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| {
            let path = e.instance_path().to_string();
            let value = instance.pointer(&path).map(short).unwrap_or_default();
            format!("{}: ours = {value} — reference {} ({e})", if path.is_empty() { "/" } else { &path }, e.schema_path())
        })
        .collect()
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 160 {
        let mut end = 150;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    } else {
        s
    }
}

/// Collects failures instead of stopping at the first, so one run lists every mismatch.
#[derive(Default)]
struct Report(Vec<String>);

impl Report {
    fn check(&mut self, what: &str, schema_name: &str, schema: &Value, instance: &Value) {
        for v in violations(schema, instance) {
            self.0.push(format!("{what} vs {schema_name}: {v}"));
        }
    }

    fn check_named(&mut self, what: &str, name: &str, instance: &Value) {
        self.check(what, name, reference().schema(name), instance);
    }

    fn finish(self) {
        assert!(self.0.is_empty(), "{} reference-schema violations:\n{}", self.0.len(), self.0.join("\n"));
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios: the frames our core emits.

/// A labelled frame a client received.
struct Seen {
    label: String,
    frame: Value,
}

fn record(h: &Harness, out: &mut Vec<Seen>, scenario: &str) {
    for (id, conn) in &h.conns {
        for frame in h.frames(*id) {
            out.push(Seen { label: format!("{scenario}/{}#{}", conn.name, id.0), frame });
        }
    }
}

fn node_params() -> Value {
    json!({"minProtocol":4,"maxProtocol":4,"role":"node",
           "client":{"id":"node-host","version":"1","platform":"linux","mode":"node"},
           "auth":{"token":TOKEN}})
}

fn test_client(scopes: Option<&[&str]>) -> Value {
    let mut p = json!({"minProtocol":4,"maxProtocol":4,
                       "client":{"id":"test","version":"1","platform":"linux","mode":"test"},
                       "auth":{"token":TOKEN}});
    if let Some(s) = scopes {
        p["scopes"] = json!(s);
    }
    p
}

fn remote() -> PeerInfo {
    PeerInfo {
        ip: "192.0.2.50".parse().expect("ip"),
        forwarded: false,
        origin: None,
        host_is_local: false,
        scope_cap: None,
        origin_refused: None,
        canvas_url: None,
    }
}

const NODE_SEED: [u8; 32] = [11; 32];

fn node_id() -> String {
    let key = ed25519_dalek::SigningKey::from_bytes(&NODE_SEED);
    openclaw_core::devices::proof::device_id_of(&key.verifying_key().to_bytes())
}

/// Connects a node host signing with [`NODE_SEED`] from loopback (paired silently).
fn signed_node(h: &mut Harness) -> openclaw_core::ConnId {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    let key = ed25519_dalek::SigningKey::from_bytes(&NODE_SEED);
    let c = h.open_with("signed-node", PeerInfo::loopback());
    let (nonce, at) = (format!("nonce-{}", c.0), h.wall().0);
    let text = format!("v3|{}|node-host|node|node||{at}|{TOKEN}|{nonce}|linux|linux", node_id());
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    h.request(c, "c1", "connect", json!({"minProtocol":4,"maxProtocol":4,"role":"node","scopes":[],
        "client":{"id":"node-host","version":"1","platform":"linux","deviceFamily":"Linux","mode":"node","displayName":"vm"},
        "caps":["system"],"commands":["system.which","system.run"],"auth":{"token":TOKEN},
        "device":{"id":node_id(),"publicKey":b64.encode(key.verifying_key().to_bytes()),
                  "signature":b64.encode(key.sign(text.as_bytes()).to_bytes()),"signedAt":at,"nonce":nonce}}));
    c
}

/// Every scenario's frames; computed once.
fn all_frames() -> &'static [Seen] {
    static CELL: OnceLock<Vec<Seen>> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut out = Vec::new();

        // Successful handshakes of every kind, requests, presence, ticks, health, shutdown.
        let mut h = Harness::default();
        let admin = h.connect_cli("admin", &["operator.admin"]);
        let read = h.connect_cli("read", &["operator.read"]);
        let none = h.open("noscope");
        h.request(none, "c1", "connect", test_client(None));
        let ui = h.open("ui");
        h.request(ui, "c1", "connect", json!({"minProtocol":4,"maxProtocol":4,
            "client":{"id":"gateway-client","version":"1.2.3","platform":"darwin","mode":"ui",
                      "deviceFamily":"Mac","instanceId":"inst-1"},"auth":{"token":TOKEN}}));
        let node = h.open("node");
        h.request(node, "c1", "connect", node_params());
        for c in [admin, read] {
            h.request(c, "h", "health", json!({}));
            h.request(c, "hp", "health", json!({"probe": true}));
            h.request(c, "s", "status", json!({}));
            h.request(c, "p", "system-presence", json!({}));
        }
        h.request(admin, "e1", "system-event", json!({"text": "hi"}));
        h.request(admin, "e2", "system-event", json!({
            "text": "Node: box (10.0.0.5) · app 1.0 · last input 12s ago · mode ui · reason periodic",
            "deviceId": "Dev-1", "roles": ["operator"]}));
        h.request(admin, "p2", "system-presence", json!({}));
        h.advance(Duration::from_secs(65)); // ticks, health refresh
        h.disconnect(ui); // presence change
        h.advance(Duration::from_secs(300)); // presence TTL
        h.shutdown("gateway stopping", Some(1500));
        h.advance(Duration::from_secs(2));
        record(&h, &mut out, "happy");

        // Post-auth errors of every kind.
        let mut h = Harness::default();
        let a = h.connect_cli("admin", &["operator.admin"]);
        h.send_raw(a, r#"{"type":"req","id":"bad1","method":"health","extra":1}"#);
        h.send_raw(a, r#"{"type":"req","method":"health"}"#);
        h.send_raw(a, r#"{"type":"req","id":7,"method":"health"}"#);
        h.send_raw(a, r#"{"type":"req","id":"","method":"health"}"#);
        h.send_raw(a, r#"{"type":"req","id":"m","method":""}"#);
        h.send_raw(a, "[1,2]");
        h.request(a, "u1", "no.such.method", json!({}));
        h.request(a, "c2", "connect", Harness::cli_params(&[]));
        h.request(a, "n1", "node.invoke.result", json!({}));
        h.request(a, "se", "system-event", json!({"text": 5, "bogus": 1}));
        h.request(a, "hx", "health", json!({"bogus": 1}));
        h.request(a, "hs", "status", json!([]));
        let r = h.connect_cli("read", &["operator.read"]);
        h.request(r, "se", "system-event", json!({"text": "hi"}));
        h.request(r, "cs", "chat.send", json!({}));
        let none = h.open("noscope");
        h.request(none, "c1", "connect", test_client(None));
        h.request(none, "h", "health", json!({}));
        let node = h.open("node");
        h.request(node, "c1", "connect", node_params());
        h.request(node, "h", "health", json!({}));
        for i in 0..12 {
            h.request(a, &format!("f{i}"), "node.invoke.result", json!({}));
        }
        record(&h, &mut out, "postauth-errors");

        // Handshake failures: auth, version, params, lockout, starting gateway.
        let mut h = Harness::default();
        let fail = |h: &mut Harness, name: &str, params: Value| {
            let c = h.open(name);
            h.request(c, "c1", "connect", params);
            h.advance(Duration::from_secs(3));
        };
        let mut p = Harness::cli_params(&[]);
        p["auth"] = json!({"token": "nope"});
        fail(&mut h, "wrong-token", p);
        let mut p = Harness::cli_params(&[]);
        p.as_object_mut().expect("object").remove("auth");
        fail(&mut h, "no-auth", p);
        let mut p = Harness::cli_params(&[]);
        p["auth"] = json!({"password": "pw"});
        fail(&mut h, "password", p);
        let mut p = test_client(None);
        p["auth"] = json!({"token": "bad"});
        fail(&mut h, "test-wrong", p);
        for (name, min, max, mode) in [("v5", 5, 5, "cli"), ("v1-3", 1, 3, "cli"), ("probe3", 3, 3, "probe"), ("v4-6", 4, 6, "cli")] {
            let mut p = Harness::cli_params(&[]);
            p["minProtocol"] = json!(min);
            p["maxProtocol"] = json!(max);
            p["client"]["mode"] = json!(mode);
            fail(&mut h, name, p);
        }
        let mut p = Harness::cli_params(&[]);
        p["extra"] = json!(1);
        p["client"]["id"] = json!("bogus");
        fail(&mut h, "invalid-params", p);
        let mut p = Harness::cli_params(&[]);
        p["device"] = json!({"id":"d","publicKey":"pk","signature":"sig","signedAt":1,"nonce":"wrong"});
        fail(&mut h, "bad-device", p);
        let c = h.open("first-not-connect");
        h.request(c, "r1", "health", json!({}));
        let c = h.open("bad-frame");
        h.send_raw(c, r#"{"type":"res","id":"r9","ok":true}"#);
        for i in 0..11 {
            let c = h.open_with(&format!("remote{i}"), remote());
            let mut p = Harness::cli_params(&[]);
            p["auth"] = json!({"token": if i < 10 { "nope" } else { TOKEN }});
            h.request(c, "c1", "connect", p);
        }
        record(&h, &mut out, "handshake-failures");

        let mut h = Harness::starting(openclaw_core::testing::test_config());
        h.connect_cli("early", &[]);
        record(&h, &mut out, "starting");

        // Device pairing: a remote node waits (NOT_PAIRED, device.pair.requested), is listed,
        // refused to a pairing-only operator, approved by an admin (device.pair.resolved),
        // connects with its device token, is renamed (device.pair.changed), its token rotated
        // and revoked, and it is removed; a second request is rejected; a loopback node is
        // approved silently.
        let mut h = Harness::default();
        h.load_devices(true);
        let pairing = h.connect_cli("pairing", &["operator.pairing"]);
        let admin = h.connect_cli("admin", &["operator.admin"]);
        let d = TestDevice::new(3);
        let n = h.connect_node(&d, remote(), json!({"token": TOKEN}));
        let request_id = h
            .frames(n)
            .into_iter()
            .find_map(|f| f["error"]["details"]["requestId"].as_str().map(str::to_owned))
            .expect("NOT_PAIRED with a requestId");
        h.request(pairing, "dl", "device.pair.list", json!({}));
        h.request(pairing, "da", "device.pair.approve", json!({"requestId": request_id}));
        h.request(admin, "da", "device.pair.approve", json!({"requestId": request_id}));
        let n = h.connect_node(&d, remote(), json!({"token": TOKEN}));
        let token = h
            .frames(n)
            .into_iter()
            .find_map(|f| f["payload"]["auth"]["deviceToken"].as_str().map(str::to_owned))
            .expect("hello-ok with a device token");
        h.connect_node(&d, remote(), json!({"deviceToken": token}));
        h.request(admin, "dl", "device.pair.list", json!({}));
        h.request(admin, "dn", "device.pair.rename", json!({"deviceId": d.id(), "label": "kitchen"}));
        h.request(admin, "dr", "device.token.rotate", json!({"deviceId": d.id(), "role": "node"}));
        h.request(admin, "dv", "device.token.revoke", json!({"deviceId": d.id(), "role": "node"}));
        h.request(admin, "dx", "device.pair.remove", json!({"deviceId": d.id()}));
        h.request(admin, "dx2", "device.pair.remove", json!({"deviceId": d.id()}));
        let other = TestDevice::new(4);
        let n = h.connect_node(&other, remote(), json!({"token": TOKEN}));
        let rejected = h
            .frames(n)
            .into_iter()
            .find_map(|f| f["error"]["details"]["requestId"].as_str().map(str::to_owned))
            .expect("NOT_PAIRED with a requestId");
        h.request(admin, "dj", "device.pair.reject", json!({"requestId": rejected}));
        h.connect_node(&TestDevice::new(5), PeerInfo::loopback(), json!({"token": TOKEN}));
        h.request(admin, "dl", "device.pair.list", json!({}));
        record(&h, &mut out, "devices");

        // A signed node host: its surface waits, is approved; invokes answered, timed out,
        // refused, and cut short by the node going away.
        let mut h = Harness::default();
        let load = openclaw_core::devices::DevicesLoad {
            store: Default::default(),
            token_seed: [3; 32],
            auto_approve_local: true,
        };
        let (now, wall) = (h.now, h.wall());
        h.hub.handle_input(now, wall, openclaw_core::HubInput::Devices(Box::new(load)));
        h.pump();
        let admin = h.connect_cli("admin", &["operator.admin"]);
        let node = signed_node(&mut h);
        h.request(node, "u1", "node.runnerInventory.update", json!({"protocolFeatures": ["node-worker-supervisor-v6"]}));
        h.request(node, "u2", "node.skills.update", json!({"skills": []}));
        h.request(node, "u3", "node.event", json!({"event": "node.host.stats", "payloadJSON": "{\"cpuCount\":2,\"memoryTotalBytes\":1,\"memoryFreeBytes\":1}"}));
        h.request(admin, "pl", "node.pair.list", json!({}));
        h.request(admin, "nl", "node.list", json!({}));
        h.request(admin, "i0", "node.invoke", json!({"nodeId": node_id(), "command": "system.which", "idempotencyKey": "k0"}));
        let request_id = h.frames(admin).iter().find(|f| f["event"] == "node.pair.requested").map(|f| f["payload"]["requestId"].clone());
        h.request(admin, "pa", "node.pair.approve", json!({"requestId": request_id}));
        h.request(admin, "i1", "node.invoke", json!({"nodeId": node_id(), "command": "system.which", "params": {"bins": ["sh"]}, "idempotencyKey": "k1"}));
        let invoke_id = h.frames(node).iter().find(|f| f["event"] == "node.invoke.request").map(|f| f["payload"]["id"].clone());
        h.request(node, "r1", "node.invoke.result", json!({"id": invoke_id, "nodeId": node_id(), "ok": true, "payloadJSON": "{\"bins\":{}}"}));
        h.request(admin, "i2", "node.invoke", json!({"nodeId": node_id(), "command": "system.which", "idempotencyKey": "k2", "timeoutMs": 100}));
        h.advance(Duration::from_millis(200));
        h.request(admin, "i3", "node.invoke", json!({"nodeId": node_id(), "command": "system.run", "idempotencyKey": "k3"}));
        h.disconnect(node);
        h.request(admin, "i4", "node.invoke", json!({"nodeId": node_id(), "command": "system.run", "idempotencyKey": "k4"}));
        record(&h, &mut out, "nodes");

        assert!(out.len() > 50, "too few frames collected: {}", out.len());
        out
    })
}

fn events<'a>(name: &'a str) -> impl Iterator<Item = &'static Seen> + 'a {
    all_frames().iter().filter(move |s| s.frame["type"] == "event" && s.frame["event"] == name)
}

fn responses() -> impl Iterator<Item = &'static Seen> {
    all_frames().iter().filter(|s| s.frame["type"] == "res")
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn every_frame_matches_the_reference_envelopes() {
    let mut report = Report::default();
    for seen in all_frames() {
        match seen.frame["type"].as_str() {
            Some("res") => {
                let mut frame = seen.frame.clone();
                // The reference echoes an invalid request id (`7`, `""`) unchanged in its error
                // response (reference-facts.md §8), although its own ResponseFrameSchema wants a
                // non-empty string; we do the same. Check the rest of such a frame.
                if frame["id"].as_str().is_none_or(str::is_empty) {
                    assert!(frame["ok"] == false, "{}: a success with an invalid id", seen.label);
                    frame["id"] = json!(format!("echoed:{}", frame["id"]));
                }
                report.check_named(&seen.label, "ResponseFrameSchema", &frame);
                report.check_named(&seen.label, "GatewayFrameSchema", &frame);
            }
            Some("event") => {
                report.check_named(&seen.label, "EventFrameSchema", &seen.frame);
                report.check_named(&seen.label, "GatewayFrameSchema", &seen.frame);
            }
            other => report.0.push(format!("{}: frame type {other:?}", seen.label)),
        }
    }
    report.finish();
}

#[test]
fn hello_ok_of_every_client_kind_matches_hello_ok_schema() {
    let mut report = Report::default();
    let mut labels = Vec::new();
    for seen in responses().filter(|s| s.frame["payload"]["type"] == "hello-ok") {
        labels.push(seen.label.clone());
        let payload = &seen.frame["payload"];
        report.check_named(&seen.label, "HelloOkSchema", payload);
        report.check_named(&seen.label, "SnapshotSchema", &payload["snapshot"]);
        report.check_named(&seen.label, "StateVersionSchema", &payload["snapshot"]["stateVersion"]);
        for (i, entry) in payload["snapshot"]["presence"].as_array().into_iter().flatten().enumerate() {
            report.check_named(&format!("{} presence[{i}]", seen.label), "PresenceEntrySchema", entry);
        }
    }
    // (A token-only node is refused without a paired device; its error is checked below.)
    for who in ["happy/admin", "happy/read", "happy/noscope", "happy/ui"] {
        assert!(labels.iter().any(|l| l.starts_with(who)), "no hello-ok for {who}: {labels:?}");
    }
    report.finish();
}

#[test]
fn error_responses_match_error_shape() {
    let mut report = Report::default();
    let mut details_codes = std::collections::BTreeSet::new();
    let mut n = 0;
    for seen in responses().filter(|s| s.frame.get("error").is_some()) {
        n += 1;
        report.check_named(&seen.label, "ErrorShapeSchema", &seen.frame["error"]);
        if let Some(code) = seen.frame["error"]["details"]["code"].as_str() {
            details_codes.insert(code.to_owned());
        }
        if seen.frame["error"]["details"]["code"] == "MISSING_SCOPE" {
            report.check_named(&seen.label, "MissingScopeErrorDetailsSchema", &seen.frame["error"]["details"]);
        }
    }
    assert!(n >= 20, "only {n} error responses collected");
    for code in ["AUTH_TOKEN_MISMATCH", "AUTH_RATE_LIMITED", "MISSING_SCOPE"] {
        assert!(details_codes.contains(code), "no {code} error collected: {details_codes:?}");
    }
    report.finish();
}

#[test]
fn protocol_mismatch_errors_match_error_shape() {
    let mismatches: Vec<&Seen> = responses()
        .filter(|s| ["v5", "v1-3", "probe3", "v4-6"].iter().any(|n| s.label.starts_with(&format!("handshake-failures/{n}#"))))
        .collect();
    assert!(!mismatches.is_empty(), "no protocol-mismatch responses");
    let mut report = Report::default();
    for seen in mismatches {
        report.check_named(&seen.label, "ResponseFrameSchema", &seen.frame);
        if let Some(error) = seen.frame.get("error") {
            report.check_named(&seen.label, "ErrorShapeSchema", error);
        }
    }
    report.finish();
}

#[test]
fn event_payloads_match_their_schemas() {
    let mut report = Report::default();
    let health = reference().sub("SnapshotSchema", "/properties/health");
    let mut counts = BTreeMap::new();
    for seen in all_frames().iter().filter(|s| s.frame["type"] == "event") {
        let name = seen.frame["event"].as_str().unwrap_or("?").to_owned();
        *counts.entry(name.clone()).or_insert(0) += 1;
        let payload = &seen.frame["payload"];
        match name.as_str() {
            "tick" => report.check_named(&seen.label, "TickEventSchema", payload),
            "shutdown" => report.check_named(&seen.label, "ShutdownEventSchema", payload),
            "health" => {
                report.check(&seen.label, "SnapshotSchema.health", health, payload);
                report.check_named(&seen.label, "StateVersionSchema", &seen.frame["stateVersion"]);
            }
            "presence" => {
                report.check_named(&seen.label, "StateVersionSchema", &seen.frame["stateVersion"]);
                let list = payload["presence"].as_array();
                assert!(list.is_some(), "{}: presence payload without a list", seen.label);
                for (i, entry) in list.into_iter().flatten().enumerate() {
                    report.check_named(&format!("{} presence[{i}]", seen.label), "PresenceEntrySchema", entry);
                }
            }
            // The reference has no payload schema for the challenge or the pairing events;
            // they are held against the captured reference frames below.
            "connect.challenge" | "device.pair.requested" | "device.pair.resolved" | "device.pair.changed" => {}
            "node.pair.requested" | "node.pair.resolved" | "node.invoke.request" | "node.runnerInventory.changed" => {}
            // No reference schema either; equal to the captured frames (core/tests/nodes.rs).
            "voicewake.changed" | "voicewake.routing.changed" => {}
            other => report.0.push(format!("{}: unexpected event {other}", seen.label)),
        }
    }
    for name in ["tick", "shutdown", "health", "presence", "connect.challenge"] {
        assert!(counts.get(name).copied().unwrap_or(0) > 0, "no {name} event collected: {counts:?}");
    }
    report.finish();
}

#[test]
fn connect_challenge_has_the_captured_reference_shape() {
    let captured = captures()
        .into_iter()
        .filter(|(dir, _)| *dir == 'S')
        .map(|(_, v)| v)
        .find(|v| v["event"] == "connect.challenge")
        .expect("a captured connect.challenge");
    let keys = |v: &Value| -> Vec<String> { v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default() };
    let ours: Vec<&Seen> = events("connect.challenge").collect();
    assert!(!ours.is_empty());
    for seen in ours {
        assert_eq!(keys(&seen.frame), keys(&captured), "{}: envelope keys", seen.label);
        assert_eq!(keys(&seen.frame["payload"]), keys(&captured["payload"]), "{}: payload keys", seen.label);
        assert!(seen.frame["payload"]["ts"].is_u64() && seen.frame["payload"]["nonce"].is_string());
        assert_eq!(seen.frame["payload"]["capabilities"], captured["payload"]["capabilities"]);
    }
}

#[test]
fn method_results_match_their_schemas() {
    let mut report = Report::default();
    let health = reference().sub("SnapshotSchema", "/properties/health");
    let ok = |label: &str, id: &str| {
        responses()
            .filter(|s| s.label.starts_with(label) && s.frame["id"] == id && s.frame["ok"] == true)
            .collect::<Vec<_>>()
    };
    let mut seen_any = 0;
    for who in ["happy/admin#", "happy/read#"] {
        for seen in ok(who, "p").into_iter().chain(ok(who, "p2")) {
            seen_any += 1;
            let list = seen.frame["payload"].as_array().expect("system-presence returns a list");
            for (i, entry) in list.iter().enumerate() {
                report.check_named(&format!("{} system-presence[{i}]", seen.label), "PresenceEntrySchema", entry);
            }
        }
        for seen in ok(who, "h").into_iter().chain(ok(who, "hp")) {
            seen_any += 1;
            report.check(&seen.label, "SnapshotSchema.health", health, &seen.frame["payload"]);
        }
        // The reference publishes no schema for the `status` result; its envelope is checked
        // above, and here at least that it is an object.
        for seen in ok(who, "s") {
            seen_any += 1;
            assert!(seen.frame["payload"].is_object(), "{}: status result {}", seen.label, seen.frame["payload"]);
        }
    }
    assert!(seen_any >= 8, "method results missing ({seen_any})");
    report.finish();
}

// ---------------------------------------------------------------------------------------------
// Connect params: the captured reference CLI, and agreement of the two schemas.

/// `(direction, frame)` of every JSON line in `core/tests/captures/*.log`.
fn captures() -> Vec<(char, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/captures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("captures missing at {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no capture logs in {}", dir.display());
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("capture is UTF-8");
        for line in text.lines() {
            let (dir, rest) = match line.split_at_checked(3) {
                Some(("C> ", rest)) => ('C', rest),
                Some(("S> ", rest)) => ('S', rest),
                _ => continue,
            };
            let v: Value = serde_json::from_str(rest)
                .unwrap_or_else(|e| panic!("{}: bad JSON line ({e}): {line}", f.display()));
            out.push((dir, v));
        }
    }
    out
}

#[test]
fn our_connect_params_schema_accepts_the_reference_cli() {
    let ours = &openclaw_core::schema::validators().connect_params;
    let mut n = 0;
    for (_, frame) in captures().into_iter().filter(|(d, v)| *d == 'C' && v["method"] == "connect") {
        n += 1;
        let params = &frame["params"];
        if let Err(e) = ours.check(params) {
            panic!("our schema refuses the reference CLI's connect params: {e}\n{params}");
        }
        assert!(violations(reference().schema("ConnectParamsSchema"), params).is_empty());
        let frame_ok = openclaw_core::wire::codec::decode_request(frame.to_string().as_bytes());
        assert!(frame_ok.is_ok(), "{frame_ok:?}");
    }
    assert!(n >= 3, "only {n} captured connect frames");
}

/// Sanity check of the loader and validator setup: the reference's own captured frames satisfy
/// its own schemas.
#[test]
fn captured_reference_frames_satisfy_reference_schemas() {
    let mut report = Report::default();
    for (i, (dir, frame)) in captures().into_iter().enumerate() {
        let label = format!("capture line {i} ({dir}>)");
        report.check_named(&label, "GatewayFrameSchema", &frame);
        if frame["payload"]["type"] == "hello-ok" {
            report.check_named(&label, "HelloOkSchema", &frame["payload"]);
        }
        if frame["event"] == "tick" {
            report.check_named(&label, "TickEventSchema", &frame["payload"]);
        }
    }
    report.finish();
}

#[test]
fn connect_params_schemas_agree() {
    let base = || Harness::cli_params(&["operator.read"]);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut p = base();
        f(&mut p);
        p
    };
    let cases: Vec<(&str, Value)> = vec![
        ("cli", base()),
        ("minimal", json!({"minProtocol":4,"maxProtocol":4,"client":{"id":"cli","version":"1","platform":"linux","mode":"cli"}})),
        ("caps empty", with(&|p| p["caps"] = json!([]))),
        ("caps", with(&|p| p["caps"] = json!(["tool-events"]))),
        ("commands", with(&|p| p["commands"] = json!(["canvas.present"]))),
        ("permissions", with(&|p| p["permissions"] = json!({"screen": true}))),
        ("pathEnv", with(&|p| p["pathEnv"] = json!("/usr/bin"))),
        ("role node", with(&|p| p["role"] = json!("node"))),
        ("role bogus", with(&|p| p["role"] = json!("bogus"))),
        ("device", with(&|p| p["device"] = json!({"id":"d","publicKey":"k","signature":"s","signedAt":1,"nonce":"n"}))),
        ("client optional fields", with(&|p| {
            p["client"]["displayName"] = json!("Bee");
            p["client"]["deviceFamily"] = json!("Linux");
            p["client"]["modelIdentifier"] = json!("x1");
            p["client"]["timeZone"] = json!("Europe/Paris");
            p["client"]["instanceId"] = json!("i-1");
            p["client"]["buildId"] = json!("b");
        })),
        ("auth password", with(&|p| p["auth"] = json!({"password": "pw"}))),
        ("auth empty", with(&|p| p["auth"] = json!({}))),
        ("every client id", json!({"minProtocol":4,"maxProtocol":4,"client":{"id":"openclaw-probe","version":"1","platform":"p","mode":"probe"}})),
        ("unknown field", with(&|p| p["extra"] = json!(1))),
        ("unknown client field", with(&|p| p["client"]["extra"] = json!(1))),
        ("unknown auth field", with(&|p| p["auth"]["extra"] = json!(1))),
        ("unknown device field", with(&|p| p["device"] = json!({"id":"d","publicKey":"k","signature":"s","signedAt":1,"nonce":"n","x":1}))),
        ("bad client id", with(&|p| p["client"]["id"] = json!("bogus"))),
        ("bad mode", with(&|p| p["client"]["mode"] = json!("bogus"))),
        ("missing minProtocol", with(&|p| { p.as_object_mut().map(|m| m.remove("minProtocol")); })),
        ("missing maxProtocol", with(&|p| { p.as_object_mut().map(|m| m.remove("maxProtocol")); })),
        ("missing client", with(&|p| { p.as_object_mut().map(|m| m.remove("client")); })),
        ("missing client version", with(&|p| { p["client"].as_object_mut().map(|m| m.remove("version")); })),
        ("missing client platform", with(&|p| { p["client"].as_object_mut().map(|m| m.remove("platform")); })),
        ("string protocol", with(&|p| p["minProtocol"] = json!("4"))),
        ("float protocol", with(&|p| p["minProtocol"] = json!(4.5))),
        ("protocol 0", with(&|p| p["minProtocol"] = json!(0))),
        ("negative protocol", with(&|p| p["maxProtocol"] = json!(-1))),
        ("empty version", with(&|p| p["client"]["version"] = json!(""))),
        ("empty role", with(&|p| p["role"] = json!(""))),
        ("scopes not array", with(&|p| p["scopes"] = json!("operator.read"))),
        ("empty scope", with(&|p| p["scopes"] = json!([""]))),
        ("auth not object", with(&|p| p["auth"] = json!("tok"))),
        ("token not string", with(&|p| p["auth"] = json!({"token": 5}))),
        ("device missing signature", with(&|p| p["device"] = json!({"id":"d","publicKey":"k","signedAt":1,"nonce":"n"}))),
        ("device negative signedAt", with(&|p| p["device"] = json!({"id":"d","publicKey":"k","signature":"s","signedAt":-1,"nonce":"n"}))),
        ("caps of numbers", with(&|p| p["caps"] = json!([1]))),
        ("long timeZone", with(&|p| p["client"]["timeZone"] = json!("z".repeat(65)))),
        ("long buildId", with(&|p| p["client"]["buildId"] = json!("b".repeat(97)))),
        ("permissions not bool", with(&|p| p["permissions"] = json!({"screen": 1}))),
        ("params not object", json!([])),
        ("null client", with(&|p| p["client"] = Value::Null)),
        ("null optional", with(&|p| p["role"] = Value::Null)),
    ];
    let ours = &openclaw_core::schema::validators().connect_params;
    let theirs = reference().schema("ConnectParamsSchema");
    let mut disagreements = Vec::new();
    for (name, params) in &cases {
        let our_verdict = ours.check(params);
        let their_verdict = violations(theirs, params);
        if our_verdict.is_ok() != their_verdict.is_empty() {
            disagreements.push(format!(
                "{name}: ours {} / reference {}\n  params: {params}",
                our_verdict.err().unwrap_or_else(|| "accepts".into()),
                if their_verdict.is_empty() { "accepts".to_owned() } else { their_verdict.join("; ") },
            ));
        }
    }
    assert!(disagreements.is_empty(), "connect params schemas disagree:\n{}", disagreements.join("\n"));
    // The table must exercise both verdicts.
    assert!(cases.iter().any(|(_, p)| ours.check(p).is_ok()));
    assert!(cases.iter().any(|(_, p)| ours.check(p).is_err()));
}

/// The checks above are not vacuous: the validator set-up rejects what the reference rejects.
#[test]
fn reference_validation_rejects_broken_frames() {
    let hello = responses()
        .find(|s| s.frame["payload"]["type"] == "hello-ok")
        .map(|s| s.frame["payload"].clone())
        .expect("a hello-ok");
    assert!(violations(reference().schema("HelloOkSchema"), &hello).is_empty());
    let mut extra = hello.clone();
    extra["server"]["host"] = json!("gw");
    assert!(!violations(reference().schema("HelloOkSchema"), &extra).is_empty(), "server.host is v3 only");
    let mut zero = hello;
    zero["protocol"] = json!(0);
    assert!(!violations(reference().schema("HelloOkSchema"), &zero).is_empty());
    assert!(!violations(reference().schema("TickEventSchema"), &json!({"ts": -1})).is_empty());
    assert!(!violations(reference().schema("ErrorShapeSchema"), &json!({"code": "X", "message": ""})).is_empty());
    assert!(!violations(reference().schema("PresenceEntrySchema"), &json!({"ts": 1, "host": ""})).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Device pairing: the reference publishes no schemas for these events and results, so they are
// held against its captured frames (`captures/openclaw-2026.9.6-node-pairing-manual.jsonl`,
// `captures/openclaw-2026.9.6-cli-devices_list.json`).

/// The server-to-client frames of the captured manual pairing.
fn pairing_capture() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/captures/openclaw-2026.9.6-node-pairing-manual.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("capture line is JSON"))
        .filter(|l| l["dir"] == "s>c")
        .map(|l| serde_json::from_str(l["d"].as_str().expect("frame text")).expect("frame is JSON"))
        .collect()
}

fn keys(v: &Value) -> std::collections::BTreeSet<String> {
    v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

/// The keys of `v` without `remoteIp`: the reference records it only for a client that is not
/// on loopback, and the captures were made on loopback.
fn keys_but_ip(v: &Value) -> std::collections::BTreeSet<String> {
    let mut k = keys(v);
    k.remove("remoteIp");
    k
}

/// Our successful answers to request `id` in the devices scenario.
fn device_results(id: &str) -> Vec<&'static Seen> {
    responses().filter(|s| s.label.starts_with("devices/") && s.frame["id"] == id && s.frame["ok"] == true).collect()
}

#[test]
fn device_pairing_events_and_results_have_the_captured_shape() {
    let captured = pairing_capture();
    let find = |pred: &dyn Fn(&Value) -> bool| captured.iter().find(|f| pred(f)).cloned().expect("captured frame");
    let not_paired = find(&|f| f["error"]["code"] == "NOT_PAIRED");
    let list = find(&|f| f["payload"]["pending"].as_array().is_some_and(|p| !p.is_empty()));
    let pending_row = &list["payload"]["pending"][0];
    let resolved = find(&|f| f["event"] == "device.pair.resolved");
    let approved = find(&|f| f["payload"]["device"].is_object());
    let cli_list: Value = serde_json::from_str(include_str!("captures/openclaw-2026.9.6-cli-devices_list.json")).expect("JSON");
    let paired_row = &cli_list["paired"][0];

    // NOT_PAIRED: same code, message and detail keys.
    let ours: Vec<&Seen> = responses().filter(|s| s.frame["error"]["details"]["code"] == "PAIRING_REQUIRED").collect();
    assert!(!ours.is_empty(), "no NOT_PAIRED collected");
    for seen in ours {
        assert_eq!(seen.frame["error"]["message"], not_paired["error"]["message"], "{}", seen.label);
        assert_eq!(keys(&seen.frame["error"]["details"]), keys(&not_paired["error"]["details"]), "{}", seen.label);
    }

    // Events: device.pair.requested is the pending row; resolved as captured; changed is `{}`.
    let mut counts = BTreeMap::new();
    for seen in all_frames().iter().filter(|s| s.frame["event"].as_str().is_some_and(|e| e.starts_with("device.pair."))) {
        let payload = &seen.frame["payload"];
        let event = seen.frame["event"].as_str().unwrap_or_default();
        *counts.entry(event).or_insert(0) += 1;
        assert!(seen.frame["seq"].is_u64(), "{}: broadcast without seq", seen.label);
        match event {
            "device.pair.requested" => assert_eq!(keys_but_ip(payload), keys(pending_row), "{}: {payload}", seen.label),
            "device.pair.resolved" => {
                assert_eq!(keys(payload), keys(&resolved["payload"]), "{}: {payload}", seen.label);
                assert!(["approved", "rejected"].contains(&payload["decision"].as_str().unwrap_or_default()));
                assert!(payload["ts"].is_u64());
            }
            "device.pair.changed" => assert_eq!(payload, &json!({}), "{}", seen.label),
            other => panic!("{}: unexpected event {other}", seen.label),
        }
    }
    for name in ["device.pair.requested", "device.pair.resolved", "device.pair.changed"] {
        assert!(counts.get(name).copied().unwrap_or(0) > 0, "no {name} collected: {counts:?}");
    }

    // device.pair.list: pending rows as captured; paired rows use the reference's keys only,
    // with tokens that carry no secret.
    let lists = device_results("dl");
    assert!(lists.len() >= 2, "device.pair.list answers: {}", lists.len());
    let mut paired_seen = 0;
    for seen in lists {
        assert_eq!(keys(&seen.frame["payload"]), keys(&list["payload"]), "{}", seen.label);
        for row in seen.frame["payload"]["pending"].as_array().into_iter().flatten() {
            assert_eq!(keys_but_ip(row), keys(pending_row), "{}: {row}", seen.label);
        }
        for row in seen.frame["payload"]["paired"].as_array().into_iter().flatten() {
            paired_seen += 1;
            let extra: Vec<String> = keys_but_ip(row).difference(&keys(paired_row)).cloned().collect();
            assert!(extra.is_empty(), "{}: keys the reference does not list {extra:?}: {row}", seen.label);
            assert!(row["connected"].is_boolean() && row["deviceId"].is_string(), "{}: {row}", seen.label);
            for t in row["tokens"].as_array().into_iter().flatten() {
                assert!(t.get("token").is_none(), "{}: a token secret listed: {t}", seen.label);
                assert!(t["role"].is_string() && t["scopes"].is_array() && t["createdAtMs"].is_u64());
            }
        }
    }
    assert!(paired_seen > 0, "no paired row listed");

    // device.pair.approve: {requestId, device} with the captured device keys.
    let approvals = device_results("da");
    assert_eq!(approvals.len(), 1);
    let ours = &approvals[0].frame["payload"];
    assert_eq!(keys(ours), keys(&approved["payload"]));
    assert_eq!(keys_but_ip(&ours["device"]), keys(&approved["payload"]["device"]), "{ours}");
    assert_eq!(keys(&ours["device"]["tokens"][0]), keys(&approved["payload"]["device"]["tokens"][0]));

    // The refusal of a pairing-only approver is the captured one.
    let denied = find(&|f| f["error"]["message"] == "device pairing approval denied");
    let ours: Vec<&Seen> =
        responses().filter(|s| s.label.starts_with("devices/pairing#") && s.frame["id"] == "da").collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].frame["error"], denied["error"]);
    for id in ["dn", "dr", "dv", "dx", "dj"] {
        assert_eq!(device_results(id).len(), 1, "no successful {id}");
    }
}

/// The node frames we emit have the keys of the captured reference frames
/// (`openclaw-2026.9.6-node-host-session.jsonl`; the reference publishes no payload schemas
/// for them), and the error answers the node host sees are the captured ones.
#[test]
fn node_frames_have_the_captured_reference_shapes() {
    let keys = |v: &Value| -> Vec<String> { v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default() };
    let nodes = |pred: &dyn Fn(&Seen) -> bool| -> Vec<&'static Seen> {
        all_frames().iter().filter(|s| s.label.starts_with("nodes/") && pred(s)).collect()
    };
    // node.invoke.request: to the node alone, no seq.
    let captured = json!({"type":"event","event":"node.invoke.request","payload":{"id":"8137c0d1-4794-4c15-9456-e71daa8c380f","nodeId":"5afe","command":"system.which","paramsJSON":"{\"bins\":[\"uname\"]}","timeoutMs":14993,"idempotencyKey":"f9cd"}});
    let ours = nodes(&|s| s.frame["event"] == "node.invoke.request");
    assert!(ours.len() >= 3, "invoke requests: {}", ours.len());
    for seen in &ours {
        assert_eq!(keys(&seen.frame), keys(&captured), "{}", seen.label);
        assert_eq!(keys(&seen.frame["payload"]), keys(&captured["payload"]), "{}", seen.label);
    }
    // node.pair.resolved: unsequenced to the node, sequenced to operators.
    let resolved_keys = ["requestId", "nodeId", "decision", "ts"];
    let ours = nodes(&|s| s.frame["event"] == "node.pair.resolved");
    assert!(ours.iter().any(|s| s.frame.get("seq").is_none()) && ours.iter().any(|s| s.frame.get("seq").is_some()));
    for seen in &ours {
        assert_eq!(keys(&seen.frame["payload"]), resolved_keys, "{}", seen.label);
    }
    // node.pair.list pending rows and the approve answer: the captured keys, in order.
    let pending_keys = ["requestId", "nodeId", "clientId", "clientMode", "displayName", "platform", "version", "deviceFamily", "caps", "commands", "requiredApproveScopes", "silent", "ts"];
    let list = nodes(&|s| s.frame["id"] == "pl" && s.frame["ok"] == true);
    assert_eq!(keys(&list[0].frame["payload"]["pending"][0]), pending_keys);
    let requested = nodes(&|s| s.frame["event"] == "node.pair.requested");
    assert_eq!(keys(&requested[0].frame["payload"]), pending_keys);
    let approved = nodes(&|s| s.frame["id"] == "pa" && s.frame["ok"] == true);
    assert_eq!(
        keys(&approved[0].frame["payload"]["node"]),
        ["nodeId", "clientId", "clientMode", "displayName", "platform", "version", "deviceFamily", "caps", "commands", "createdAtMs", "approvedAtMs"]
    );
    // The invoke answer: the captured result keys.
    let answer = nodes(&|s| s.frame["id"] == "i1" && s.frame["ok"] == true);
    assert_eq!(keys(&answer[0].frame["payload"]), ["ok", "nodeId", "command", "payload", "payloadJSON"]);
    // What the node host hears before approval, as captured.
    let err = |id: &str| nodes(&|s| s.frame["id"] == id && s.label.contains("signed-node"))[0].frame["error"].clone();
    assert_eq!(err("u1")["code"], "UNAVAILABLE");
    assert!(err("u1")["message"].as_str().is_some_and(|m| m.starts_with("node capability surface is awaiting operator approval; run `openclaw nodes approve ")));
    assert_eq!(
        err("u3"),
        json!({"code":"UNAVAILABLE","message":"node pairing changed while invocation was active","retryable":true,"details":{"code":"PAIRING_CHANGED"}})
    );
}
