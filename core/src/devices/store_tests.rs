use proptest::prelude::*;

use super::*;

fn claim(device: u8, role: &str, scopes: &[&str]) -> PairingClaim {
    PairingClaim {
        device_id: format!("dev-{device}"),
        public_key: format!("key-{device}"),
        display_name: Some("vm".into()),
        platform: Some("linux".into()),
        device_family: Some("Linux".into()),
        client_id: Some("node-host".into()),
        client_mode: Some("node".into()),
        role: role.into(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        remote_ip: None,
    }
}

/// Replays persisted ops onto plain maps: what the database holds.
#[derive(Default, Debug, PartialEq)]
struct Mirror {
    pending: BTreeMap<String, PendingRequest>,
    paired: BTreeMap<String, PairedDevice>,
}

impl Mirror {
    fn apply(&mut self, ops: Vec<StoreOp>) {
        for op in ops {
            match op {
                StoreOp::PutPending(p) => {
                    self.pending.insert(p.request_id.clone(), p);
                }
                StoreOp::DropPending(id) => {
                    self.pending.remove(&id);
                }
                StoreOp::PutPaired(d) => {
                    self.paired.insert(d.device_id.clone(), *d);
                }
                StoreOp::DropPaired(id) => {
                    self.paired.remove(&id);
                }
            }
        }
    }

    fn reloaded(&self) -> PairingStore {
        PairingStore::from_rows(self.pending.values().cloned().collect(), self.paired.values().cloned().collect())
    }
}

#[test]
fn request_approve_issues_a_token_per_role_and_reapproval_keeps_it() {
    let mut store = PairingStore::default();
    let mut tokens = TokenSource::new([1; 32]);
    let (req, created, _) = store.request(&claim(1, "node", &[]), 1000, "r1".into());
    assert!(created);
    let (again, created, _) = store.request(&claim(1, "operator", &["operator.read"]), 2000, "r2".into());
    assert!(!created, "one pending request per device");
    assert_eq!(again.request_id, req.request_id);
    assert_eq!(again.roles, vec!["node", "operator"]);
    let (device, ops) = store.approve("r1", 3000, "owner", &mut tokens).expect("approve");
    assert_eq!(ops.len(), 2);
    assert_eq!(device.tokens.len(), 2);
    assert_eq!(device.tokens["operator"].scopes, vec!["operator.read"]);
    assert!(device.tokens["node"].scopes.is_empty());
    let node_token = device.tokens["node"].token.clone();
    assert_eq!(URL_SAFE_NO_PAD.decode(&node_token).expect("b64url").len(), 32);
    assert!(store.verify_token("dev-1", &node_token, "node", &[]));
    assert!(!store.verify_token("dev-1", &node_token, "operator", &[]));
    assert!(!store.verify_token("dev-2", &node_token, "node", &[]));
    assert!(store.pending().next().is_none());
    assert_eq!(store.approve("r1", 3000, "owner", &mut tokens), Err(StoreError::UnknownRequest));
    // The public view hides every secret.
    let view = device.public_view().to_string();
    assert!(!view.contains(&node_token));
    assert!(view.contains("\"tokens\":[{"));
}

#[test]
fn rotate_replaces_and_revoke_kills_the_token() {
    let mut store = PairingStore::default();
    let mut tokens = TokenSource::new([2; 32]);
    store.request(&claim(1, "operator", &["operator.read", "operator.write"]), 0, "r".into());
    let (d, _) = store.approve("r", 10, "owner", &mut tokens).expect("approve");
    let old = d.tokens["operator"].token.clone();
    // Never wider than the approved scopes, as the reference (refused, not filtered).
    let wider = ["operator.read".to_owned(), "operator.admin".to_owned()];
    assert_eq!(
        store.rotate("dev-1", "operator", Some(&wider), None, 20, &mut tokens).map(|_| ()),
        Err(StoreError::ScopeOutsideBaseline)
    );
    // Narrower is fine; implied scopes count (operator.write covers operator.talk).
    let narrowed = ["operator.talk".to_owned(), " ".to_owned()];
    let (t, _) = store.rotate("dev-1", "operator", Some(&narrowed), None, 20, &mut tokens).expect("rotate");
    assert_ne!(t.token, old);
    assert_eq!(t.scopes, vec!["operator.talk"]);
    assert!(!store.verify_token("dev-1", &old, "operator", &[]));
    assert!(store.verify_token("dev-1", &t.token, "operator", &["operator.talk".into()]));
    assert!(!store.verify_token("dev-1", &t.token, "operator", &["operator.write".into()]));
    // Without `scopes`, the current token's scopes are kept.
    let (t, _) = store.rotate("dev-1", "operator", None, None, 21, &mut tokens).expect("rotate");
    assert_eq!(t.scopes, vec!["operator.talk"]);
    assert_eq!(store.rotate("dev-1", "node", None, None, 20, &mut tokens).map(|_| ()), Err(StoreError::UnknownRole));
    assert_eq!(store.rotate("dev-9", "operator", None, None, 20, &mut tokens).map(|_| ()), Err(StoreError::UnknownDevice));
    assert_eq!(store.revoke("dev-1", "node", None, 30).map(|_| ()), Err(StoreError::UnknownRole));
    store.revoke("dev-1", "operator", None, 30).expect("revoke");
    assert!(!store.verify_token("dev-1", &t.token, "operator", &[]));
    let (fresh, ops) = store.ensure_token("dev-1", "operator", 40, &mut tokens).expect("paired");
    assert_eq!(ops.len(), 1, "a revoked token is replaced on the next approved connect");
    assert_ne!(fresh.token, t.token);
}

#[test]
fn a_caller_may_not_mint_or_revoke_beyond_its_own_scopes() {
    let mut store = PairingStore::default();
    let mut tokens = TokenSource::new([3; 32]);
    store.request(&claim(1, "operator", &["operator.admin"]), 0, "r".into());
    let (d, _) = store.approve("r", 10, "owner", &mut tokens).expect("approve");
    let before = d.clone();
    let pairing = ["operator.pairing".to_owned()];
    let write = ["operator.write".to_owned()];
    let admin = ["operator.admin".to_owned()];
    // The token asked for (here: the current one, operator.admin) exceeds the caller's scopes.
    assert_eq!(
        store.rotate("dev-1", "operator", None, Some(&pairing), 20, &mut tokens).map(|_| ()),
        Err(StoreError::CallerMissingScope("operator.admin".into()))
    );
    // Normalised as the reference: operator.write brings operator.read, sorted.
    let asked = ["operator.write".to_owned()];
    let (t, _) = store.rotate("dev-1", "operator", Some(&asked), Some(&write), 20, &mut tokens).expect("rotate");
    assert_eq!(t.scopes, vec!["operator.read", "operator.write"]);
    assert_eq!(
        store.revoke("dev-1", "operator", Some(&pairing), 30).map(|_| ()),
        Err(StoreError::CallerMissingScope("operator.read".into()))
    );
    assert!(store.verify_token("dev-1", &t.token, "operator", &[]), "a refused revoke changes nothing");
    store.revoke("dev-1", "operator", Some(&admin), 30).expect("admin revokes");
    assert_ne!(store.paired_device("dev-1"), Some(&before));
}

#[test]
fn approval_token_scopes_merge_the_request_into_the_pairing() {
    let mut store = PairingStore::default();
    let mut tokens = TokenSource::new([4; 32]);
    store.request(&claim(1, "operator", &["operator.read"]), 0, "r1".into());
    assert_eq!(store.approval_token_scopes("r1", "operator"), vec!["operator.read"]);
    store.approve("r1", 10, "owner", &mut tokens).expect("approve");
    store.request(&claim(1, "operator", &["operator.pairing"]), 20, "r2".into());
    assert_eq!(store.approval_token_scopes("r2", "operator"), vec!["operator.read", "operator.pairing"]);
    assert_eq!(store.approval_token_scopes("r2", "node"), Vec::<String>::new());
    assert_eq!(store.approval_token_scopes("nope", "operator"), Vec::<String>::new());
}

#[test]
fn pending_requests_expire_after_five_minutes() {
    let mut store = PairingStore::default();
    store.request(&claim(1, "node", &[]), 1000, "r1".into());
    store.request(&claim(2, "node", &[]), 2000, "r2".into());
    assert_eq!(store.next_expiry(), Some(1000 + PENDING_TTL_MS));
    let (gone, ops) = store.expire(1000 + PENDING_TTL_MS - 1);
    assert!(gone.is_empty() && ops.is_empty());
    let (gone, ops) = store.expire(1000 + PENDING_TTL_MS);
    assert_eq!(gone.iter().map(|p| p.request_id.as_str()).collect::<Vec<_>>(), vec!["r1"]);
    assert_eq!(ops, vec![StoreOp::DropPending("r1".into())]);
    assert_eq!(store.next_expiry(), Some(2000 + PENDING_TTL_MS));
}

#[derive(Clone, Debug)]
enum Op {
    Request(u8, bool),
    Approve(u8),
    Reject(u8),
    Remove(u8),
    Rotate(u8),
    Revoke(u8),
    Rename(u8),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..4, any::<bool>()).prop_map(|(d, n)| Op::Request(d, n)),
        (0u8..8).prop_map(Op::Approve),
        (0u8..8).prop_map(Op::Reject),
        (0u8..4).prop_map(Op::Remove),
        (0u8..4).prop_map(Op::Rotate),
        (0u8..4).prop_map(Op::Revoke),
        (0u8..4).prop_map(Op::Rename),
        (0u64..200_000).prop_map(Op::Advance),
    ]
}

proptest! {
    /// Whatever happens, (1) the persisted ops rebuild exactly the in-memory store (a restart
    /// loses or invents nothing), (2) a device has at most one pending request, (3) nothing
    /// pending is older than the TTL after an expiry pass, and (4) every paired role holds a
    /// token that verifies unless it was revoked.
    #[test]
    fn the_persisted_ops_rebuild_the_store(ops in proptest::collection::vec(op(), 1..60)) {
        let mut store = PairingStore::default();
        let mut mirror = Mirror::default();
        let mut tokens = TokenSource::new([3; 32]);
        let mut now = 0u64;
        let mut next_id = 0u32;
        let mut revoked: BTreeMap<(String, String), bool> = BTreeMap::new();
        for op in ops {
            let pending_ids: Vec<String> = store.pending().map(|p| p.request_id.clone()).collect();
            let pick = |i: u8| pending_ids.get(usize::from(i) % pending_ids.len().max(1)).cloned();
            let written = match op {
                Op::Request(d, node) => {
                    next_id += 1;
                    let c = if node { claim(d, "node", &[]) } else { claim(d, "operator", &["operator.read"]) };
                    store.request(&c, now, format!("req-{next_id}")).2
                }
                Op::Approve(i) => match pick(i) {
                    Some(id) => {
                        // Approval issues tokens for the roles it asked for; others keep theirs.
                        let asked = store.pending_request(&id).expect("pending").roles.clone();
                        let (d, ops) = store.approve(&id, now, "owner", &mut tokens).expect("pending exists");
                        for r in &asked { revoked.insert((d.device_id.clone(), r.clone()), false); }
                        ops
                    }
                    None => Vec::new(),
                },
                Op::Reject(i) => pick(i).map(|id| store.reject(&id).expect("pending exists").1).unwrap_or_default(),
                Op::Remove(d) => store.remove(&format!("dev-{d}")).map(|(_, ops)| ops).unwrap_or_default(),
                Op::Rotate(d) => {
                    let id = format!("dev-{d}");
                    match store.rotate(&id, "node", None, None, now, &mut tokens) {
                        Ok((_, ops)) => { revoked.insert((id, "node".into()), false); ops }
                        Err(_) => Vec::new(),
                    }
                }
                Op::Revoke(d) => {
                    let id = format!("dev-{d}");
                    match store.revoke(&id, "node", None, now) {
                        Ok((_, ops)) => { revoked.insert((id, "node".into()), true); ops }
                        Err(_) => Vec::new(),
                    }
                }
                Op::Rename(d) => store.rename(&format!("dev-{d}"), "label").map(|(_, ops)| ops).unwrap_or_default(),
                Op::Advance(ms) => {
                    now += ms;
                    let (_, ops) = store.expire(now);
                    prop_assert!(store.pending().all(|p| p.ts + PENDING_TTL_MS > now));
                    ops
                }
            };
            mirror.apply(written);
            prop_assert_eq!(&mirror.reloaded(), &store);
            let mut seen = std::collections::BTreeSet::new();
            for p in store.pending() {
                prop_assert!(seen.insert(p.device_id.clone()), "two pending requests for {}", p.device_id);
            }
            for d in store.paired() {
                for role in &d.roles {
                    let dead = revoked.get(&(d.device_id.clone(), role.clone())).copied().unwrap_or(false);
                    let live = d.live_token(role).is_some_and(|t| store.verify_token(&d.device_id, &t.token, role, &[]));
                    prop_assert_eq!(live, !dead);
                }
            }
        }
    }
}
