//! The logic of the fuzz targets (`fuzz/fuzz_targets/*.rs`), kept here so that the committed
//! corpus is replayed by an ordinary test (`core/tests/fuzz_corpus.rs`) without libFuzzer.
//!
//! Both entry points take raw fuzzer bytes and panic on a broken invariant; that panic is the
//! finding. Neither reads a clock or sleeps: all time is the harness's virtual clock.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{json, Map, Value};

use super::{Harness, TOKEN};
use crate::hub::HubInput;
use crate::ids::{ConnId, Nonce, RunId, UnixMillis};
use crate::limits::{Limits, MAX_CLOSE_REASON_BYTES};
use crate::link::PeerInfo;
use crate::session::{Output, Session};
use crate::time::Instant;
use crate::wire::agent::{RunErrorKind, RunFailure, RunReport};
use crate::wire::codec::decode_request;

/// Most outputs a session may produce for one input before we call it a live-lock.
const MAX_OUTPUTS_PER_INPUT: usize = 10_000;

/// `decode_frame`: `data` is one inbound text frame. Decoding must not panic and must round-trip;
/// a fresh session must survive it pre-auth, while `connect` is pending, and post-auth.
pub fn decode_frame(data: &[u8]) {
    if let Ok(frame) = decode_request(data) {
        let again = serde_json::to_vec(&frame).map(|b| decode_request(&b));
        assert!(matches!(&again, Ok(Ok(f)) if *f == frame), "re-encoded frame differs: {again:?}");
    }

    // Pre-auth: the first frame a socket sends.
    let mut s = Session::new(
        ConnId(1),
        PeerInfo::loopback(),
        Nonce("n".into()),
        Instant::ZERO,
        UnixMillis(super::WALL_EPOCH),
        Limits::default(),
    );
    drain_checked(&mut s);
    s.handle_frame(Instant::ZERO, data);
    drain_checked(&mut s);

    // While `connect` is with the hub (the frame waits in the pending buffer), then post-auth
    // with a scope set chosen by the first byte.
    let scopes: &[&str] = match data.first().map_or(0, |b| b % 3) {
        0 => &["operator.admin"],
        1 => &["operator.read"],
        _ => &[],
    };
    let mut h = Harness::default();
    let c = h.open("pending");
    let connect = json!({ "type": "req", "id": "c1", "method": "connect",
                          "params": Harness::cli_params(scopes) })
    .to_string();
    let now = h.now;
    if let Some(conn) = h.conns.get_mut(&c) {
        conn.session.handle_frame(now, connect.as_bytes());
        conn.session.handle_frame(now, data);
    }
    h.pump();
    assert_clean(&h);

    let c = h.connect_cli("open", scopes);
    assert!(h.conns[&c].session.is_open(), "harness connect failed:\n{}", h.transcript());
    let now = h.now;
    if let Some(conn) = h.conns.get_mut(&c) {
        conn.session.handle_frame(now, data);
    }
    h.pump();
    assert_clean(&h);
    h.advance(Duration::from_secs(31));
    assert_clean(&h);
}

/// Drains a lone session (no hub) and checks what it emits.
fn drain_checked(s: &mut Session) {
    for _ in 0..MAX_OUTPUTS_PER_INPUT {
        match s.poll_output() {
            Output::Wait(_) => return,
            Output::Send(bytes) => {
                let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                    panic!("session sent non-JSON ({e}): {}", String::from_utf8_lossy(&bytes))
                });
                assert!(v.is_object(), "session sent a non-object frame: {v}");
            }
            Output::Close { code, reason } => {
                assert!(reason.len() <= MAX_CLOSE_REASON_BYTES, "close reason too long: {reason:?}");
                assert!((1000..5000).contains(&code.0), "bad close code {}", code.0);
            }
            Output::Ping | Output::Terminate | Output::ToHub(_) => {}
        }
    }
    panic!("session never reached Wait");
}

fn assert_clean(h: &Harness) {
    assert!(h.violations.is_empty(), "invariants broken: {:?}\n{}", h.violations, h.transcript());
}

/// One step of the `session_transcript` target.
#[derive(Arbitrary, Debug)]
pub enum Op {
    /// A new socket, from loopback or from a remote address.
    Open { remote: bool },
    /// A `connect` request, possibly with frames pipelined behind it before the hub answers.
    Connect { conn: u8, params: ConnectSpec, pipelined: u8 },
    /// A request with a fresh id.
    Request { conn: u8, method: MethodName, params: ParamsSpec },
    /// Raw text (fuzzer bytes, lossily made UTF-8 as a WebSocket text frame must be).
    Raw { conn: u8, text: Vec<u8> },
    /// A frame of `kib` KiB (crosses the 64 KiB pre-auth limit).
    Big { conn: u8, kib: u8 },
    /// The client stops reading.
    Stall { conn: u8 },
    /// The client stops answering pings and close frames.
    Unresponsive { conn: u8 },
    Disconnect { conn: u8 },
    /// Virtual time moves by up to ~4.5 minutes.
    Advance { millis: u16, scale: Scale },
    /// A two-stage run on an open socket (as the driver does for `agent`).
    BeginRun { conn: u8, run: u8 },
    RunEvent { run: u8 },
    FinishRun { run: u8, ok: bool },
    Shutdown { restart_ms: Option<u16> },
}

#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Scale {
    Millis,
    /// × 256 ms.
    Coarse,
}

/// `connect` params built from a few choices that matter to the pipeline.
#[derive(Arbitrary, Debug)]
pub struct ConnectSpec {
    pub min: u8,
    pub max: u8,
    pub client: ClientChoice,
    pub mode: ModeChoice,
    pub role: Option<RoleChoice>,
    pub scopes: Vec<ScopeChoice>,
    pub auth: AuthChoice,
    pub device: bool,
    pub extra_field: bool,
    pub display_name: Option<String>,
}

#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum ClientChoice {
    Cli,
    Test,
    Webchat,
    GatewayClient,
    NodeHost,
    ControlUi,
    Probe,
    Worker,
    Bogus,
}

#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum ModeChoice {
    Cli,
    Test,
    Webchat,
    Ui,
    Backend,
    Node,
    Probe,
    Worker,
    Bogus,
}

#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum RoleChoice {
    Operator,
    Node,
    Worker,
    Empty,
    Bogus,
}

#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum ScopeChoice {
    Admin,
    Read,
    Write,
    Approvals,
    Pairing,
    Talk,
    Empty,
    Bogus,
}

#[derive(Arbitrary, Debug)]
pub enum AuthChoice {
    RightToken,
    WrongToken(String),
    EmptyToken,
    Password(String),
    NoAuth,
    NotAnObject,
}

#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum MethodName {
    Connect,
    Health,
    Status,
    SystemPresence,
    SystemEvent,
    ChatSend,
    Agent,
    NodeInvokeResult,
    LogsTail,
    Unknown,
    Empty,
}

#[derive(Arbitrary, Debug)]
pub enum ParamsSpec {
    Absent,
    Null,
    EmptyObject,
    SystemEvent { text: String, device_id: Option<String>, roles: Option<Vec<String>> },
    Probe { probe: bool },
    Json(FuzzJson),
}

/// A small arbitrary JSON value (depth-limited).
#[derive(Debug)]
pub struct FuzzJson(pub Value);

impl<'a> Arbitrary<'a> for FuzzJson {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        json_value(u, 3).map(FuzzJson)
    }
}

fn json_value(u: &mut Unstructured<'_>, depth: u8) -> arbitrary::Result<Value> {
    let pick = if depth == 0 { u.int_in_range(0..=4)? } else { u.int_in_range(0..=6)? };
    Ok(match pick {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => json!(u.arbitrary::<i64>()?),
        3 => json!(u.arbitrary::<f64>()?), // NaN/inf become null
        4 => Value::String(u.arbitrary()?),
        5 => {
            let n = u.int_in_range(0..=4)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(json_value(u, depth - 1)?);
            }
            Value::Array(items)
        }
        _ => {
            let n = u.int_in_range(0..=4)?;
            let mut map = Map::new();
            for _ in 0..n {
                map.insert(u.arbitrary()?, json_value(u, depth - 1)?);
            }
            Value::Object(map)
        }
    })
}

/// Most sockets one transcript opens; most operations it applies.
const MAX_CONNS: u64 = 8;
const MAX_OPS: usize = 64;

/// `session_transcript`: `data` is an arbitrary list of [`Op`]s applied to a [`Harness`]. After
/// every op the harness invariants must hold; at the end every request is answered, and after a
/// shutdown plus 2 s the hub is drained.
pub fn session_transcript(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut ops = Vec::new();
    while ops.len() < MAX_OPS && !u.is_empty() {
        match u.arbitrary::<Op>() {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    run_ops(&ops);
}

/// Applies `ops` and checks every invariant (exposed so that tests can script transcripts).
pub fn run_ops(ops: &[Op]) {
    let mut d = Driver::default();
    for op in ops {
        d.apply(op);
        d.answer_host_requests();
        assert_clean(&d.h);
        if let Some(at) = d.shutdown_at {
            if d.h.now >= at + Duration::from_secs(2) {
                assert!(d.h.hub.is_drained(), "not drained 2 s after shutdown:\n{}", d.h.transcript());
            }
        }
    }
    d.h.check_final();
    assert_clean(&d.h);
    d.h.shutdown("fuzz end", None);
    d.h.advance(Duration::from_secs(2));
    assert_clean(&d.h);
    assert!(d.h.hub.is_drained(), "not drained 2 s after shutdown:\n{}", d.h.transcript());
    for (id, c) in &d.h.conns {
        assert!(c.session.is_closed(), "conn {} not closed after drain:\n{}", id.0, d.h.transcript());
    }
}

struct Driver {
    h: Harness,
    opened: u64,
    next_id: u64,
    /// String request ids each socket used (the harness counts answers per id, so a repeated id
    /// would look like a double answer).
    used_ids: BTreeMap<ConnId, BTreeSet<String>>,
    shutdown_at: Option<Instant>,
}

impl Default for Driver {
    /// A hub with a default model, so that `agent` requests start runs.
    fn default() -> Self {
        let mut config = super::test_config();
        config.session_defaults.model_configured = true;
        Self {
            h: Harness::new(config),
            opened: 0,
            next_id: 0,
            used_ids: BTreeMap::new(),
            shutdown_at: None,
        }
    }
}

impl Driver {
    fn conn(&self, pick: u8) -> Option<ConnId> {
        (self.opened > 0).then(|| ConnId(1 + u64::from(pick) % self.opened))
    }

    fn fresh_id(&mut self) -> String {
        self.next_id += 1;
        format!("f{}", self.next_id)
    }

    /// Sends `frames` back to back unless one repeats a request id on this socket.
    fn send(&mut self, conn: ConnId, frames: &[String]) {
        let used = self.used_ids.entry(conn).or_default();
        let mut batch = BTreeSet::new();
        for f in frames {
            if let Ok(v) = serde_json::from_str::<Value>(f) {
                if v.get("type") == Some(&json!("req")) {
                    if let Some(id) = v.get("id").and_then(Value::as_str) {
                        if used.contains(id) || !batch.insert(id.to_owned()) {
                            return;
                        }
                    }
                }
            }
        }
        used.extend(batch);
        if let [one] = frames {
            self.h.send_raw(conn, one);
        } else {
            let values: Vec<Value> = frames.iter().filter_map(|f| serde_json::from_str(f).ok()).collect();
            self.h.send_batch(conn, &values);
        }
    }

    /// What the agent runner reports about `run`, as io hands it to the hub (ignored for a run
    /// that is not active).
    fn report(&mut self, run: &RunId, report: RunReport) {
        let (now, wall) = (self.h.now, self.h.wall());
        self.h.hub.handle_input(now, wall, HubInput::Run { run: run.clone(), report });
        self.h.pump();
    }

    /// Answers what the hub handed to the host (`logs.tail`, `config.*`, …) as io does, with an
    /// empty payload: the answer must reach its caller once (found by the `session_transcript`
    /// target: a `logs.tail` left waiting looked like a request never answered).
    fn answer_host_requests(&mut self) {
        for (caller, _request) in std::mem::take(&mut self.h.host_requests) {
            let (now, wall) = (self.h.now, self.h.wall());
            self.h.hub.handle_input(now, wall, HubInput::HostReply { caller, reply: Ok(json!({})) });
        }
        self.h.pump();
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Open { remote } => {
                if self.opened >= MAX_CONNS {
                    return;
                }
                self.opened += 1;
                let name = format!("c{}", self.opened);
                if *remote {
                    let peer = PeerInfo {
                        ip: core::net::IpAddr::from([192, 0, 2, 50]),
                        forwarded: false,
                        origin: None,
                        host_is_local: false,
                        scope_cap: None,
                        origin_refused: None,
                        canvas_url: None,
                    };
                    self.h.open_with(&name, peer);
                } else {
                    self.h.open(&name);
                }
            }
            Op::Connect { conn, params, pipelined } => {
                let Some(conn) = self.conn(*conn) else { return };
                let id = self.fresh_id();
                let mut frames = vec![request_text(&id, "connect", Some(params.to_json()))];
                for _ in 0..(*pipelined % 20) {
                    let id = self.fresh_id();
                    frames.push(request_text(&id, "health", None));
                }
                self.send(conn, &frames);
            }
            Op::Request { conn, method, params } => {
                let Some(conn) = self.conn(*conn) else { return };
                let id = self.fresh_id();
                if matches!(method, MethodName::Agent) {
                    self.h.two_stage_ids.insert(id.clone()); // an accepted run answers twice
                }
                self.send(conn, &[request_text(&id, method.name(), params.to_json())]);
            }
            Op::Raw { conn, text } => {
                let Some(conn) = self.conn(*conn) else { return };
                let text = String::from_utf8_lossy(text).into_owned();
                self.send(conn, &[text]);
            }
            Op::Big { conn, kib } => {
                let Some(conn) = self.conn(*conn) else { return };
                let pad = "x".repeat(usize::from(*kib) * 1024);
                let id = self.fresh_id();
                let params = json!({ "text": pad });
                self.send(conn, &[request_text(&id, "system-event", Some(params))]);
            }
            Op::Stall { conn } => {
                if let Some(conn) = self.conn(*conn) {
                    self.h.stall(conn);
                }
            }
            Op::Unresponsive { conn } => {
                if let Some(conn) = self.conn(*conn) {
                    self.h.unresponsive(conn);
                }
            }
            Op::Disconnect { conn } => {
                if let Some(conn) = self.conn(*conn) {
                    self.h.disconnect(conn);
                }
            }
            Op::Advance { millis, scale } => {
                let ms = match scale {
                    Scale::Millis => u64::from(*millis),
                    Scale::Coarse => u64::from(*millis % 1024) * 256,
                };
                self.h.advance(Duration::from_millis(ms));
            }
            Op::BeginRun { conn, run } => {
                let Some(conn) = self.conn(*conn) else { return };
                // Runs start as io starts them: an `agent` request on the socket (answered
                // twice when accepted), each run in its own session lane.
                let id = self.fresh_id();
                let run = run_id(*run);
                let params = json!({
                    "message": "hi",
                    "sessionKey": format!("agent:main:{}", run.as_str()),
                    "idempotencyKey": run.as_str(),
                });
                self.h.two_stage_ids.insert(id.clone());
                self.send(conn, &[request_text(&id, "agent", Some(params))]);
            }
            Op::RunEvent { run } => {
                self.report(&run_id(*run), RunReport::Delta { text: "hi".into() });
            }
            Op::FinishRun { run, ok } => {
                let report = if *ok {
                    RunReport::Completed { text: "hi".into(), usage: None }
                } else {
                    RunReport::Failed(RunFailure {
                        kind: RunErrorKind::Unknown,
                        message: "run failed".into(),
                        http_status: None,
                    })
                };
                self.report(&run_id(*run), report);
            }
            Op::Shutdown { restart_ms } => {
                self.shutdown_at.get_or_insert(self.h.now);
                self.h.shutdown("fuzz shutdown", restart_ms.map(u64::from));
            }
        }
    }
}

fn run_id(n: u8) -> RunId {
    RunId(format!("run-{}", n % 4))
}

fn request_text(id: &str, method: &str, params: Option<Value>) -> String {
    let mut frame = json!({ "type": "req", "id": id, "method": method });
    if let Some(p) = params {
        frame["params"] = p;
    }
    frame.to_string()
}

impl MethodName {
    fn name(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Health => "health",
            Self::Status => "status",
            Self::SystemPresence => "system-presence",
            Self::SystemEvent => "system-event",
            Self::ChatSend => "chat.send",
            Self::Agent => "agent",
            Self::NodeInvokeResult => "node.invoke.result",
            Self::LogsTail => "logs.tail",
            Self::Unknown => "no.such.method",
            Self::Empty => "",
        }
    }
}

impl ParamsSpec {
    fn to_json(&self) -> Option<Value> {
        match self {
            Self::Absent => None,
            Self::Null => Some(Value::Null),
            Self::EmptyObject => Some(json!({})),
            Self::SystemEvent { text, device_id, roles } => {
                let mut p = json!({ "text": text });
                if let Some(d) = device_id {
                    p["deviceId"] = json!(d);
                }
                if let Some(r) = roles {
                    p["roles"] = json!(r);
                }
                Some(p)
            }
            Self::Probe { probe } => Some(json!({ "probe": probe })),
            Self::Json(FuzzJson(v)) => Some(v.clone()),
        }
    }
}

impl ConnectSpec {
    fn to_json(&self) -> Value {
        let client_id = match self.client {
            ClientChoice::Cli => "cli",
            ClientChoice::Test => "test",
            ClientChoice::Webchat => "webchat",
            ClientChoice::GatewayClient => "gateway-client",
            ClientChoice::NodeHost => "node-host",
            ClientChoice::ControlUi => "openclaw-control-ui",
            ClientChoice::Probe => "openclaw-probe",
            ClientChoice::Worker => "openclaw-worker",
            ClientChoice::Bogus => "bogus",
        };
        let mode = match self.mode {
            ModeChoice::Cli => "cli",
            ModeChoice::Test => "test",
            ModeChoice::Webchat => "webchat",
            ModeChoice::Ui => "ui",
            ModeChoice::Backend => "backend",
            ModeChoice::Node => "node",
            ModeChoice::Probe => "probe",
            ModeChoice::Worker => "worker",
            ModeChoice::Bogus => "bogus",
        };
        let mut client = json!({ "id": client_id, "version": "1.0.0", "platform": "linux", "mode": mode });
        if let Some(name) = &self.display_name {
            client["displayName"] = json!(name);
        }
        let mut p = json!({
            "minProtocol": self.min % 7,
            "maxProtocol": self.max % 7,
            "client": client,
        });
        if let Some(role) = self.role {
            p["role"] = json!(match role {
                RoleChoice::Operator => "operator",
                RoleChoice::Node => "node",
                RoleChoice::Worker => "worker",
                RoleChoice::Empty => "",
                RoleChoice::Bogus => "bogus",
            });
        }
        if !self.scopes.is_empty() {
            let scopes: Vec<&str> = self
                .scopes
                .iter()
                .map(|s| match s {
                    ScopeChoice::Admin => "operator.admin",
                    ScopeChoice::Read => "operator.read",
                    ScopeChoice::Write => "operator.write",
                    ScopeChoice::Approvals => "operator.approvals",
                    ScopeChoice::Pairing => "operator.pairing",
                    ScopeChoice::Talk => "operator.talk",
                    ScopeChoice::Empty => "",
                    ScopeChoice::Bogus => "bogus.scope",
                })
                .collect();
            p["scopes"] = json!(scopes);
        }
        match &self.auth {
            AuthChoice::RightToken => p["auth"] = json!({ "token": TOKEN }),
            AuthChoice::WrongToken(t) => p["auth"] = json!({ "token": t }),
            AuthChoice::EmptyToken => p["auth"] = json!({ "token": "" }),
            AuthChoice::Password(pw) => p["auth"] = json!({ "password": pw }),
            AuthChoice::NoAuth => {}
            AuthChoice::NotAnObject => p["auth"] = json!("token"),
        }
        if self.device {
            p["device"] = json!({
                "id": "dev-1", "publicKey": "pk", "signature": "sig", "signedAt": 1, "nonce": "nonce-1",
            });
        }
        if self.extra_field {
            p["extra"] = json!(true);
        }
        p
    }
}
