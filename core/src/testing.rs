//! A virtual-clock harness that drives one [`Hub`] and several [`Session`]s exactly as the `io`
//! driver does, records a readable transcript and checks the protocol invariants on every step.
//! Used by the transcript snapshots, the proptest model test and the fuzz targets.
//!
//! Transcript lines: `→ a req connect #1`, `← a res #1 ok hello-ok …`, `← a event tick seq=3 …`,
//! `✕ a close 1008 "…"`, `✕ a terminate`, `· +30s` (time moved).

#[cfg(feature = "testing")]
pub mod fuzz;
pub mod device;
pub mod fuzz_config;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};

use crate::auth::limiter::RateLimitPolicy;
use crate::auth::{AuthMode, Secret};
use crate::hub::{Hub, HubConfig, HubOutput};
use crate::ids::{CloseCode, ConnId, Nonce, UnixMillis};
use crate::limits::Limits;
use crate::link::PeerInfo;
use crate::session::{Output, Session};
use crate::time::Instant;
use crate::wire::hello::{HotReloadStatus, PresenceEntry, SessionDefaults};

/// Wall time at the harness epoch (2027-01-15T08:00:00Z); wall moves with the virtual clock.
pub const WALL_EPOCH: u64 = 1_800_000_000_000;
/// The token the default harness gateway accepts.
pub const TOKEN: &str = "test-token";

/// A hub configuration for tests: token auth, fixed ids, production limits.
pub fn test_config() -> HubConfig {
    HubConfig {
        version: "0.0.0-test".into(),
        build_id: None,
        boot_id: "boot-1".into(),
        auth: AuthMode::Token(Some(Secret::new(TOKEN))),
        auth_rate_limit: RateLimitPolicy::default(),
        own_presence: PresenceEntry {
            host: Some("gw".into()),
            ip: Some("192.0.2.1".into()),
            version: Some("0.0.0-test".into()),
            platform: Some("linux test".into()),
            device_family: Some("Linux".into()),
            mode: Some("gateway".into()),
            reason: Some("self".into()),
            instance_id: Some("gw-instance".into()),
            text: Some("Gateway: gw (192.0.2.1) · app 0.0.0-test · mode gateway · reason self".into()),
            ..PresenceEntry::default()
        },
        limits: Limits::default(),
        session_defaults: SessionDefaults::default(),
        agent_timeout: crate::limits::DEFAULT_AGENT_TIMEOUT,
        config_path: Some("/tmp/openclaw.json".into()),
        state_dir: Some("/tmp/state".into()),
        hot_reload: HotReloadStatus::Active,
        pid: Some(4242),
        sessions_path: "/tmp/state/agents/main/sessions.sqlite".into(),
        id_seed: 7,
    }
}

/// What a simulated client has received.
#[derive(Clone, Debug, PartialEq)]
pub enum Received {
    Frame(Value),
    Ping,
    Close { code: CloseCode, reason: String },
    Terminated,
}

/// One simulated socket.
#[derive(Debug)]
pub struct SimConn {
    pub name: String,
    pub session: Session,
    pub received: Vec<Received>,
    /// A stalled client reads nothing: the writer never flushes.
    pub stalled: bool,
    /// The peer answers our pings and close frames (a well-behaved client).
    pub responsive: bool,
    hello_seen: bool,
    last_seq: u64,
    closed_seen: bool,
    gone: bool,
    /// Request ids sent, and how many `res` each got.
    pub answers: BTreeMap<String, u32>,
}

/// A protocol invariant that broke (the proptest and fuzz targets fail on these).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation(pub String);

/// The harness: virtual time, one hub, many sessions.
pub struct Harness {
    pub now: Instant,
    pub hub: Hub,
    pub conns: BTreeMap<ConnId, SimConn>,
    next_conn: u64,
    pub transcript: Vec<String>,
    pub violations: Vec<Violation>,
    /// Requests whose method answers twice (two-stage); counted separately.
    pub two_stage_ids: BTreeSet<String>,
    /// Agent-run commands the hub gave the driver, in order (tests answer them with
    /// [`HubInput::Run`](crate::hub::HubInput::Run)).
    pub run_commands: Vec<crate::hub::RunCommand>,
    /// What the hub asked the driver to persist, in order.
    pub store_commands: Vec<crate::hub::StoreCommand>,
    /// Pairing-store batches the hub asked the driver to persist (one transaction each).
    pub device_ops: Vec<Vec<crate::devices::StoreOp>>,
    /// Requests handed to the host, in order; answer them with
    /// [`HubInput::HostReply`](crate::hub::HubInput::HostReply).
    pub host_requests: Vec<(crate::caller::Caller, crate::wire::host::HostRequest)>,
    /// What non-socket callers received, in order (see [`Harness::call`]).
    pub caller_events: Vec<(crate::caller::Caller, crate::caller::CallerEvent)>,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new(test_config())
    }
}

impl Harness {
    /// A ready gateway (startup finished) with `config`.
    pub fn new(config: HubConfig) -> Self {
        let mut h = Self::starting(config);
        h.hub.handle_input(h.now, h.wall(), crate::hub::HubInput::Ready);
        h
    }

    /// A gateway still starting: `connect` is refused with 1013 until [`HubInput::Ready`](crate::hub::HubInput::Ready).
    pub fn starting(config: HubConfig) -> Self {
        let now = Instant::ZERO;
        let hub = Hub::new(config, now, UnixMillis(WALL_EPOCH));
        Self {
            now,
            hub,
            conns: BTreeMap::new(),
            next_conn: 0,
            transcript: Vec::new(),
            violations: Vec::new(),
            two_stage_ids: BTreeSet::new(),
            run_commands: Vec::new(),
            store_commands: Vec::new(),
            device_ops: Vec::new(),
            host_requests: Vec::new(),
            caller_events: Vec::new(),
        }
    }

    pub fn wall(&self) -> UnixMillis {
        UnixMillis(WALL_EPOCH + crate::session::millis(self.now.since_epoch()))
    }

    /// Opens a loopback socket named `name`.
    pub fn open(&mut self, name: &str) -> ConnId {
        self.open_with(name, PeerInfo::loopback())
    }

    pub fn open_with(&mut self, name: &str, peer: PeerInfo) -> ConnId {
        self.next_conn += 1;
        let conn = ConnId(self.next_conn);
        let nonce = Nonce(format!("nonce-{}", self.next_conn));
        let limits = self.hub.config().limits.clone();
        let session = Session::new(conn, peer, nonce, self.now, self.wall(), limits);
        self.conns.insert(
            conn,
            SimConn {
                name: name.to_owned(),
                session,
                received: Vec::new(),
                stalled: false,
                responsive: true,
                hello_seen: false,
                last_seq: 0,
                closed_seen: false,
                gone: false,
                answers: BTreeMap::new(),
            },
        );
        self.log(format!("+ {name} open"));
        self.pump();
        conn
    }

    /// Sends raw text from the client.
    pub fn send_raw(&mut self, conn: ConnId, text: &str) {
        self.deliver(conn, text);
        self.pump();
    }

    /// Sends several frames back to back, before the gateway answers any of them (so frames
    /// after `connect` arrive while it is being decided).
    pub fn send_batch(&mut self, conn: ConnId, frames: &[Value]) {
        for f in frames {
            self.deliver(conn, &f.to_string());
        }
        self.pump();
    }

    fn deliver(&mut self, conn: ConnId, text: &str) {
        let now = self.now;
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if c.gone {
            return;
        }
        let shown = if text.len() > 80 {
            // Cut on a char boundary (found by the session_transcript fuzz target).
            let cut = (0..=60).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            format!("{}… ({} bytes)", &text[..cut], text.len())
        } else {
            text.to_owned()
        };
        let line = match serde_json::from_str::<Value>(text) {
            Ok(v) if v.get("type") == Some(&json!("req")) => {
                let id = v.get("id").map(id_text).unwrap_or_default();
                if let Some(id) = v.get("id").and_then(Value::as_str) {
                    c.answers.entry(id.to_owned()).or_insert(0);
                }
                format!("→ {} req {} #{id}", c.name, v.get("method").and_then(Value::as_str).unwrap_or("?"))
            }
            _ => format!("→ {} raw {shown}", c.name),
        };
        c.session.handle_frame(now, text.as_bytes());
        self.log(line);
    }

    /// Sends a request frame.
    pub fn request(&mut self, conn: ConnId, id: &str, method: &str, params: Value) {
        let frame = json!({ "type": "req", "id": id, "method": method, "params": params });
        self.send_raw(conn, &frame.to_string());
    }

    /// Connect params of the local CLI with `scopes` and the harness token.
    pub fn cli_params(scopes: &[&str]) -> Value {
        json!({
            "minProtocol": 4, "maxProtocol": 4,
            "client": { "id": "cli", "version": "1.0.0", "platform": "linux", "mode": "cli" },
            "role": "operator", "scopes": scopes, "auth": { "token": TOKEN },
        })
    }

    /// Opens a socket and completes `connect` as the local CLI with `scopes`.
    pub fn connect_cli(&mut self, name: &str, scopes: &[&str]) -> ConnId {
        let conn = self.open(name);
        self.request(conn, "c1", "connect", Self::cli_params(scopes));
        conn
    }

    /// Like [`Harness::connect_cli`], advertising `caps` (e.g. `"tool-events"`).
    pub fn connect_cli_with_caps(&mut self, name: &str, scopes: &[&str], caps: &[&str]) -> ConnId {
        let conn = self.open(name);
        let mut params = Self::cli_params(scopes);
        params["caps"] = json!(caps);
        self.request(conn, "c1", "connect", params);
        conn
    }

    /// Makes the client stop reading (its writer never flushes again).
    pub fn stall(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stalled = true;
            let line = format!("~ {} stalls", c.name);
            self.log(line);
        }
    }

    /// Makes the client ignore pings and close frames.
    pub fn unresponsive(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.responsive = false;
        }
    }

    /// The client drops the connection.
    pub fn disconnect(&mut self, conn: ConnId) {
        let now = self.now;
        if let Some(c) = self.conns.get_mut(&conn) {
            if !c.gone {
                c.session.handle_peer_closed(now);
                let line = format!("- {} disconnects", c.name);
                self.log(line);
            }
        }
        self.pump();
    }

    /// Moves virtual time forward by `d`, firing every deadline on the way in order.
    pub fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        self.log(format!("· +{}", fmt_duration(d)));
        loop {
            let next = self.next_deadline().filter(|at| *at <= target);
            let Some(at) = next else { break };
            self.now = self.now.max(at);
            self.fire_due();
        }
        self.now = target;
        self.fire_due();
    }

    /// Starts the gateway's shutdown.
    pub fn shutdown(&mut self, reason: &str, restart_expected_ms: Option<u64>) {
        self.log(format!("! shutdown {reason:?}"));
        let (now, wall) = (self.now, self.wall());
        let input = crate::hub::HubInput::Shutdown { reason: reason.to_owned(), restart_expected_ms };
        self.hub.handle_input(now, wall, input);
        self.pump();
    }

    /// The earliest deadline of the hub and every live session.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let hub = self.hub.next_deadline().map(|(at, _)| at);
        let sessions = self
            .conns
            .values()
            .filter(|c| !c.gone)
            .filter_map(|c| c.session_deadline());
        hub.into_iter().chain(sessions).min()
    }

    fn fire_due(&mut self) {
        let (now, wall) = (self.now, self.wall());
        if self.hub.next_deadline().is_some_and(|(at, _)| at <= now) {
            self.hub.handle_input(now, wall, crate::hub::HubInput::Timeout);
        }
        let due: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.gone && c.session_deadline().is_some_and(|at| at <= now))
            .map(|(id, _)| *id)
            .collect();
        for conn in due {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session.handle_timeout(now);
            }
        }
        self.pump();
    }

    /// A request from a non-socket `caller` (authenticated by the driver with `scopes`), fed
    /// as io feeds it: params validated and typed by the method table, then
    /// [`HubInput::Call`](crate::hub::HubInput::Call). Returns the parse error, if any.
    pub fn call(
        &mut self,
        caller: crate::caller::Caller,
        scopes: crate::auth::scopes::ScopeSet,
        method: &str,
        params: Value,
    ) -> Result<(), String> {
        let method = crate::methods::Method::parse(method);
        let call = crate::methods::MethodCall::parse(&method, Some(params))?
            .ok_or_else(|| format!("unknown method: {}", method.name()))?;
        self.transcript.push(format!("→ {} call {}", caller.kind(), method.name()));
        let (now, wall) = (self.now, self.wall());
        self.hub.handle_input(now, wall, crate::hub::HubInput::Call { caller, scopes, call });
        self.pump();
        Ok(())
    }

    /// Carries outputs between the machines until all are quiescent.
    pub fn pump(&mut self) {
        for _ in 0..100_000 {
            let mut progressed = false;
            let ids: Vec<ConnId> = self.conns.keys().copied().collect();
            for conn in ids {
                progressed |= self.drain_session(conn);
            }
            loop {
                match self.hub.poll_output() {
                    HubOutput::Wait(_) => break,
                    HubOutput::Store(command) => {
                        progressed = true;
                        self.store_commands.push(command);
                    }
                    HubOutput::Devices(ops) => {
                        progressed = true;
                        self.device_ops.push(ops);
                    }
                    HubOutput::Host { caller, request } => {
                        progressed = true;
                        let who = match caller.socket() {
                            Some((conn, _)) => format!("{conn:?}"),
                            None => caller.kind().to_owned(),
                        };
                        self.transcript.push(format!("-> host {} ({who})", request.method_name()));
                        self.host_requests.push((caller, request));
                    }
                    HubOutput::HttpAuth { caller, result } => {
                        progressed = true;
                        self.transcript.push(format!("-> {} auth {result:?}", caller.kind()));
                    }
                    HubOutput::ToCaller(caller, event) => {
                        progressed = true;
                        self.transcript.push(format!("-> {} {}", caller.kind(), describe_caller_event(&event)));
                        self.caller_events.push((caller, event));
                    }
                    HubOutput::Run(command) => {
                        progressed = true;
                        self.transcript.push(describe_run_command(&command));
                        self.run_commands.push(command);
                    }
                    HubOutput::ToSession(conn, msg) => {
                        progressed = true;
                        let now = self.now;
                        if let Some(c) = self.conns.get_mut(&conn) {
                            if !c.gone {
                                c.session.handle_hub(now, msg);
                            }
                        }
                    }
                }
            }
            if !progressed {
                return;
            }
        }
        self.violations.push(Violation("pump did not settle (live-lock)".into()));
    }

    fn drain_session(&mut self, conn: ConnId) -> bool {
        let mut progressed = false;
        loop {
            let (now, wall) = (self.now, self.wall());
            let Some(c) = self.conns.get_mut(&conn) else { return progressed };
            let out = c.session.poll_output();
            let mut to_hub = None;
            let mut lines = Vec::new();
            match out {
                Output::Wait(_) => return progressed,
                Output::Send(bytes) => {
                    if c.closed_seen || c.gone {
                        lines.push(format!("!! {} frame after close", c.name));
                    }
                    if !c.stalled {
                        c.session.handle_flushed(bytes.len());
                    }
                    match serde_json::from_slice::<Value>(&bytes) {
                        Ok(v) => {
                            lines.push(describe_frame(&c.name, &v));
                            c.check_frame(&v, &mut lines);
                            c.received.push(Received::Frame(v));
                        }
                        Err(_) => lines.push(format!("!! {} sent non-JSON", c.name)),
                    }
                }
                Output::Ping => {
                    lines.push(format!("← {} ping", c.name));
                    c.received.push(Received::Ping);
                    if c.responsive && !c.stalled {
                        c.session.handle_pong(now);
                    }
                }
                Output::Close { code, reason } => {
                    lines.push(format!("✕ {} close {} {:?}", c.name, code.0, reason));
                    c.closed_seen = true;
                    c.received.push(Received::Close { code, reason });
                    if c.responsive && !c.stalled {
                        c.session.handle_peer_closed(now);
                    }
                }
                Output::Terminate => {
                    lines.push(format!("✕ {} terminate", c.name));
                    c.received.push(Received::Terminated);
                }
                Output::ToHub(event) => {
                    if matches!(event, crate::link::SessionEvent::Closed) {
                        c.gone = true;
                    }
                    to_hub = Some(event);
                }
            }
            progressed = true;
            for l in lines {
                self.log(l);
            }
            if let Some(event) = to_hub {
                self.hub.handle_input(now, wall, crate::hub::HubInput::Session { conn, event });
            }
        }
    }

    fn log(&mut self, line: String) {
        if line.starts_with("!!") {
            self.violations.push(Violation(line.clone()));
        }
        self.transcript.push(line);
    }

    /// The transcript so far, one line per step.
    pub fn transcript(&self) -> String {
        let mut s = self.transcript.join("\n");
        s.push('\n');
        s
    }

    /// Frames a client received, as JSON.
    pub fn frames(&self, conn: ConnId) -> Vec<Value> {
        self.conns[&conn]
            .received
            .iter()
            .filter_map(|r| match r {
                Received::Frame(v) => Some(v.clone()),
                Received::Ping | Received::Close { .. } | Received::Terminated => None,
            })
            .collect()
    }

    /// The last frame a client received.
    pub fn last_frame(&self, conn: ConnId) -> Option<Value> {
        self.frames(conn).pop()
    }

    /// The close a client received, if any.
    pub fn close_of(&self, conn: ConnId) -> Option<(u16, String)> {
        self.conns[&conn].received.iter().find_map(|r| match r {
            Received::Close { code, reason } => Some((code.0, reason.clone())),
            Received::Frame(_) | Received::Ping | Received::Terminated => None,
        })
    }

    pub fn is_gone(&self, conn: ConnId) -> bool {
        self.conns[&conn].gone
    }

    /// Checks the end-of-run invariants: every request answered once (twice if two-stage)
    /// on sockets that are still open, and drained after shutdown.
    pub fn check_final(&mut self) {
        let two_stage = self.two_stage_ids.clone();
        for c in self.conns.values() {
            for (id, n) in &c.answers {
                let expected = if two_stage.contains(id) { 2 } else { 1 };
                if *n > expected {
                    self.violations.push(Violation(format!("{}: request {id} answered {n} times", c.name)));
                }
                if !c.closed_seen && !c.gone && c.hello_seen && *n == 0 && !c.stalled {
                    self.violations.push(Violation(format!("{}: request {id} never answered", c.name)));
                }
            }
        }
    }
}

impl SimConn {
    fn session_deadline(&self) -> Option<Instant> {
        self.session.next_deadline().map(|(at, _)| at)
    }

    fn check_frame(&mut self, v: &Value, lines: &mut Vec<String>) {
        match v.get("type").and_then(Value::as_str) {
            Some("res") => {
                if let Some(id) = v.get("id").and_then(Value::as_str) {
                    if let Some(n) = self.answers.get_mut(id) {
                        *n += 1;
                    }
                }
                if v.pointer("/payload/type") == Some(&json!("hello-ok")) {
                    self.hello_seen = true;
                }
            }
            Some("event") => {
                let name = v.get("event").and_then(Value::as_str).unwrap_or("");
                if name != "connect.challenge" && !self.hello_seen {
                    lines.push(format!("!! {} event {name} before hello-ok", self.name));
                }
                if let Some(seq) = v.get("seq").and_then(Value::as_u64) {
                    if seq <= self.last_seq {
                        lines.push(format!("!! {} seq {seq} not increasing (last {})", self.name, self.last_seq));
                    }
                    self.last_seq = seq;
                }
            }
            _ => lines.push(format!("!! {} unexpected frame type", self.name)),
        }
    }
}

/// `⚙ start run k1 agent:main:main "hi"` / `⚙ abort run k1 Timeout`.
fn describe_run_command(command: &crate::hub::RunCommand) -> String {
    match command {
        crate::hub::RunCommand::Start(s) => {
            format!("⚙ start run {} {} {:?}", s.run.as_str(), s.session_key, s.message)
        }
        crate::hub::RunCommand::Abort { run, reason } => format!("⚙ abort run {} {reason:?}", run.as_str()),
    }
}

fn id_text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// One transcript line for a server frame.
pub fn describe_frame(name: &str, v: &Value) -> String {
    let id = v.get("id").map(id_text).unwrap_or_default();
    match v.get("type").and_then(Value::as_str) {
        Some("res") if v.get("ok") == Some(&json!(true)) => {
            let payload = v.get("payload").cloned().unwrap_or(Value::Null);
            if payload.get("type") == Some(&json!("hello-ok")) {
                format!(
                    "← {name} res #{id} ok hello-ok auth={} stateVersion={} presence={}",
                    payload["auth"],
                    payload["snapshot"]["stateVersion"],
                    payload["snapshot"]["presence"].as_array().map_or(0, Vec::len),
                )
            } else {
                format!("← {name} res #{id} ok {payload}")
            }
        }
        Some("res") => {
            let mut line = format!("← {name} res #{id} error {}", v["error"]);
            if let Some(p) = v.get("payload") {
                line.push_str(&format!(" payload={p}"));
            }
            line
        }
        Some("event") => {
            let event = v["event"].as_str().unwrap_or("?");
            let seq = v.get("seq").map(|s| format!(" seq={s}")).unwrap_or_default();
            let sv = v.get("stateVersion").map(|s| format!(" stateVersion={s}")).unwrap_or_default();
            format!("← {name} event {event}{seq}{sv} {}", v.get("payload").cloned().unwrap_or(Value::Null))
        }
        _ => format!("← {name} ?? {v}"),
    }
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn describe_caller_event(event: &crate::caller::CallerEvent) -> String {
    use crate::caller::CallerEvent;
    match event {
        CallerEvent::Response(Ok(v)) => format!("response ok {v}"),
        CallerEvent::Response(Err(e)) => format!("response error {} {:?}", e.code.as_str(), e.message),
        CallerEvent::Run { run, stream, data } => format!("run {} {stream} {data}", run.as_str()),
        CallerEvent::Final { run, outcome } => format!("final {} {outcome:?}", run.as_str()),
    }
}
