//! Model-based property test: random operations (connect, requests, broadcasts, stalled readers,
//! time jumps, shutdown) are applied both to the real Hub + Sessions (through the virtual-clock
//! harness) and to a small reference model that predicts what each well-behaved client must see.
//!
//! Invariants checked on every run: no event before hello-ok; per-connection `seq` strictly
//! increasing and, for clients that keep reading, without gaps; exactly one response per request
//! (two for two-stage ones), with the code the scope model predicts; nothing sent after a close;
//! a shutdown always ends drained with every reading client told `shutdown` then 1012.

use std::collections::BTreeMap;
use std::time::Duration;

use openclaw_core::testing::{test_config, Harness, Received, TOKEN};
use openclaw_core::{ConnId, Instant};
use proptest::prelude::*;
use serde_json::{json, Value};

const TICK: Duration = Duration::from_secs(30);
const HEALTH: Duration = Duration::from_secs(60);
const TTL: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Grant {
    Admin,
    Read,
    Write,
    Nothing,
}

impl Grant {
    fn scopes(self) -> &'static [&'static str] {
        match self {
            Self::Admin => &["operator.admin"],
            Self::Read => &["operator.read"],
            Self::Write => &["operator.write"],
            Self::Nothing => &[],
        }
    }

    fn reads(self) -> bool {
        self != Self::Nothing
    }
}

#[derive(Clone, Copy, Debug)]
enum Call {
    Health,
    Status,
    SystemPresence,
    SystemEvent(u8),
    Unknown,
    NodeMethod,
}

#[derive(Clone, Debug)]
enum Op {
    Connect(Grant),
    WrongToken,
    Request(usize, Call),
    Garbage(usize),
    Stall(usize),
    Disconnect(usize),
    Advance(u32),
}

fn op() -> impl Strategy<Value = Op> {
    let grant = prop_oneof![Just(Grant::Admin), Just(Grant::Read), Just(Grant::Write), Just(Grant::Nothing)];
    let call = prop_oneof![
        Just(Call::Health),
        Just(Call::Status),
        Just(Call::SystemPresence),
        (0u8..4).prop_map(Call::SystemEvent),
        Just(Call::Unknown),
        Just(Call::NodeMethod),
    ];
    prop_oneof![
        3 => grant.prop_map(Op::Connect),
        1 => Just(Op::WrongToken),
        8 => (0usize..8, call).prop_map(|(c, m)| Op::Request(c, m)),
        1 => (0usize..8).prop_map(Op::Garbage),
        1 => (0usize..8).prop_map(Op::Stall),
        1 => (0usize..8).prop_map(Op::Disconnect),
        3 => (0u32..200_000).prop_map(Op::Advance),
    ]
}

/// What the model knows of one client socket.
#[derive(Debug)]
struct ModelConn {
    conn: ConnId,
    grant: Option<Grant>,
    opened_at: Instant,
    stalled: bool,
    /// Ended by the client, a role-violation close, a wrong token, or a stall.
    ended: bool,
    violations: u32,
    presence_events: u64,
    expected_codes: BTreeMap<String, &'static str>,
}

struct Model {
    h: Harness,
    conns: Vec<ModelConn>,
    /// system-event presence rows: key → last update.
    rows: BTreeMap<String, Instant>,
    next_id: u32,
}

impl Model {
    fn new() -> Self {
        let mut cfg = test_config();
        cfg.limits.max_buffered_bytes = 4_000;
        Self { h: Harness::new(cfg), conns: Vec::new(), rows: BTreeMap::new(), next_id: 0 }
    }

    fn live(&self, i: usize) -> Option<usize> {
        // A stalled client may be terminated at any ping, so it takes no further part.
        let live: Vec<usize> = (0..self.conns.len())
            .filter(|&k| !self.conns[k].ended && !self.conns[k].stalled && self.conns[k].grant.is_some())
            .collect();
        (!live.is_empty()).then(|| live[i % live.len()])
    }

    fn readers_get_presence(&mut self) {
        for c in &mut self.conns {
            if !c.ended && !c.stalled && c.grant.is_some_and(Grant::reads) {
                c.presence_events += 1;
            }
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Connect(grant) => {
                let name = format!("c{}", self.conns.len());
                let conn = self.h.connect_cli(&name, grant.scopes());
                self.conns.push(ModelConn {
                    conn,
                    grant: Some(grant),
                    opened_at: self.h.now,
                    stalled: false,
                    ended: false,
                    violations: 0,
                    presence_events: 0,
                    expected_codes: BTreeMap::new(),
                });
            }
            Op::WrongToken => {
                let conn = self.h.open(&format!("w{}", self.conns.len()));
                let mut p = Harness::cli_params(&[]);
                p["auth"] = json!({ "token": format!("not-{TOKEN}") });
                self.h.request(conn, "c1", "connect", p);
                self.conns.push(ModelConn {
                    conn,
                    grant: None,
                    opened_at: self.h.now,
                    stalled: false,
                    ended: true,
                    violations: 0,
                    presence_events: 0,
                    expected_codes: BTreeMap::new(),
                });
            }
            Op::Request(i, call) => {
                let Some(k) = self.live(i) else { return };
                self.next_id += 1;
                let id = format!("r{}", self.next_id);
                let grant = self.conns[k].grant.unwrap_or(Grant::Nothing);
                let (method, params, code) = match call {
                    Call::Health => ("health", json!({}), "ok"),
                    Call::Status => ("status", json!({}), if grant.reads() { "ok" } else { "FORBIDDEN" }),
                    Call::SystemPresence => {
                        ("system-presence", json!({}), if grant.reads() { "ok" } else { "FORBIDDEN" })
                    }
                    Call::SystemEvent(n) => (
                        "system-event",
                        json!({ "text": format!("event {n}") }),
                        if grant == Grant::Admin { "ok" } else { "FORBIDDEN" },
                    ),
                    Call::Unknown => (
                        "no.such.method",
                        json!({}),
                        if grant == Grant::Admin { "INVALID_REQUEST" } else { "FORBIDDEN" },
                    ),
                    Call::NodeMethod => ("node.event", json!({}), "INVALID_REQUEST"),
                };
                let conn = self.conns[k].conn;
                if !self.conns[k].stalled {
                    self.conns[k].expected_codes.insert(id.clone(), code);
                }
                if matches!(call, Call::NodeMethod) {
                    self.conns[k].violations += 1;
                } else {
                    self.conns[k].violations = 0;
                }
                let closes = self.conns[k].violations > 10;
                if let (Call::SystemEvent(n), true) = (call, code == "ok") {
                    self.rows.insert(format!("event {n}"), self.h.now);
                    self.readers_get_presence();
                }
                self.h.request(conn, &id, method, params);
                if closes {
                    self.conns[k].ended = true;
                }
            }
            Op::Garbage(i) => {
                let Some(k) = self.live(i) else { return };
                let conn = self.conns[k].conn;
                self.h.send_raw(conn, "{definitely not json");
            }
            Op::Stall(i) => {
                let Some(k) = self.live(i) else { return };
                self.conns[k].stalled = true;
                let conn = self.conns[k].conn;
                self.h.stall(conn);
            }
            Op::Disconnect(i) => {
                let Some(k) = self.live(i) else { return };
                self.conns[k].ended = true;
                let conn = self.conns[k].conn;
                self.h.disconnect(conn);
            }
            Op::Advance(ms) => {
                let target = self.h.now + Duration::from_millis(u64::from(ms));
                // Presence rows expire 5 min after their last update; each distinct expiry
                // instant on the way is one `presence` broadcast.
                let mut expiries: Vec<Instant> = Vec::new();
                loop {
                    let next = self.rows.values().map(|u| *u + TTL).filter(|at| *at <= target).min();
                    let Some(at) = next else { break };
                    self.rows.retain(|_, u| *u + TTL > at);
                    expiries.push(at);
                }
                for _ in &expiries {
                    self.readers_get_presence();
                }
                self.h.advance(Duration::from_millis(u64::from(ms)));
            }
        }
        assert!(self.h.violations.is_empty(), "{:?}\n{}", self.h.violations, self.h.transcript());
    }

    /// Every expectation about clients that kept reading.
    fn check(&mut self) {
        self.h.check_final();
        assert!(self.h.violations.is_empty(), "{:?}\n{}", self.h.violations, self.h.transcript());
        let now = self.h.now;
        for c in &self.conns {
            let Some(grant) = c.grant else {
                assert!(
                    !self.h.frames(c.conn).iter().any(|f| f["payload"]["type"] == "hello-ok"),
                    "a wrong token never gets hello-ok"
                );
                continue;
            };
            let frames = self.h.frames(c.conn);
            let responses: BTreeMap<String, Value> = frames
                .iter()
                .filter(|f| f["type"] == "res")
                .filter_map(|f| f["id"].as_str().map(|id| (id.to_owned(), f.clone())))
                .collect();
            for (id, code) in &c.expected_codes {
                let Some(res) = responses.get(id) else {
                    assert!(c.ended, "{id} unanswered on a live socket");
                    continue;
                };
                let got = if res["ok"] == json!(true) { "ok" } else { res["error"]["code"].as_str().unwrap_or("?") };
                assert_eq!(got, *code, "{id} on {:?}: {res}", grant);
            }
            if c.stalled || c.ended {
                continue;
            }
            let seqs: Vec<u64> = frames.iter().filter_map(|f| f["seq"].as_u64()).collect();
            let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
            assert_eq!(seqs, expected, "a reading client sees no gaps");
            let count = |name: &str| frames.iter().filter(|f| f["event"] == name).count() as u64;
            let periodic = |period: Duration| {
                let p = period.as_millis();
                let opened = c.opened_at.since_epoch().as_millis();
                (now.since_epoch().as_millis() / p - opened / p) as u64
            };
            assert_eq!(count("tick"), periodic(TICK), "ticks for {:?}", c.conn);
            assert_eq!(count("health"), periodic(HEALTH), "health events for {:?}", c.conn);
            assert_eq!(count("presence"), c.presence_events, "presence events for {:?}", c.conn);
        }
    }

    fn shutdown_and_check(&mut self) {
        self.h.shutdown("gateway stopping", None);
        self.h.advance(Duration::from_secs(3));
        assert!(self.h.hub.is_drained(), "{}", self.h.transcript());
        for c in &self.conns {
            if c.ended || c.stalled || c.grant.is_none() {
                continue;
            }
            let received = &self.h.conns[&c.conn].received;
            let close_at = received.iter().position(|r| matches!(r, Received::Close { .. }));
            let close_at = close_at.expect("every reading client is closed");
            let Received::Close { code, reason } = &received[close_at] else { unreachable!() };
            assert_eq!((code.0, reason.as_str()), (1012, "service restart"));
            let Received::Frame(f) = &received[close_at - 1] else {
                panic!("expected the shutdown event before the close, got {:?}", received[close_at - 1]);
            };
            assert_eq!(f["event"], "shutdown", "shutdown precedes the close");
        }
        assert!(self.h.violations.is_empty(), "{:?}", self.h.violations);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, max_shrink_iters: 2_000, .. ProptestConfig::default() })]

    #[test]
    fn hub_and_sessions_follow_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let mut m = Model::new();
        for op in &ops {
            m.apply(op);
        }
        m.check();
        m.shutdown_and_check();
    }
}
