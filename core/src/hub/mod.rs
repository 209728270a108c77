//! The gateway-wide [`Hub`]: the connection registry, the `connect` pipeline, method execution,
//! scope-filtered broadcast, `stateVersion`, presence, `tick`, health, two-stage runs and
//! shutdown (protocol.md §2.5, §3, §5, §6).
//!
//! One task owns the hub. Feed it everything with [`Hub::handle_input`] ([`HubInput`]: session
//! events, non-socket callers' requests, run reports, store and host answers, deadlines,
//! shutdown); drain [`Hub::poll_output`] until [`HubOutput::Wait`]; route each
//! [`HubOutput::ToSession`] to that connection's session and each [`HubOutput::ToCaller`] to
//! whoever waits for that caller.

pub(crate) mod agent;
pub(crate) mod channels;
pub(crate) mod chat;
pub(crate) mod control_ui;
mod connect;
pub(crate) mod device_methods;
mod devices;
pub(crate) mod handlers;
mod http_auth;
mod input;
mod live;
pub(crate) mod node_events;
pub(crate) mod node_invoke;
pub(crate) mod node_pending;
pub(crate) mod nodes;
pub(crate) mod sessions;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Value};

use crate::auth::limiter::{AuthLimiter, RateLimitPolicy};
use crate::auth::scopes::{Role, Scope, ScopeSet};
use crate::auth::AuthMode;
use crate::caller::{Caller, CallerEvent};
use crate::devices::{Devices, StoreOp};
use crate::ids::{CloseCode, ConnId, IdGen, Nonce, RequestId, RunId, UnixMillis};
use crate::limits::Limits;
use crate::link::{HubToSession, PeerInfo, SessionEvent};
use crate::services::agent::AgentService;
use crate::services::chat::Chat;
use crate::services::presence::Presence;
use crate::services::sessions::Sessions;
use crate::services::node_work::NodeWork;
use crate::services::node_events::NodeEvents;
use crate::services::nodes::Nodes;
use crate::session::millis;
use crate::time::{Instant, TimerKind, Timers};
use crate::wire::codec::{encode_err, encode_ok, encode_response, EncodedEvent};
use crate::wire::events::{ShutdownEvent, TickEvent};
use crate::wire::frames::{ErrorCode, ErrorShape, StateVersion};
use crate::wire::host::HostRequest;
use crate::wire::hello::{
    AgentHealth, ConfigReloadHealth, HealthSnapshot, HeartbeatHealth, HotReloadStatus,
    PresenceEntry, SessionDefaults, SessionStoreHealth,
};

pub use agent::{AbortReason, RunCommand, RunStart};
pub use http_auth::HttpAuthRefusal;
pub use input::HubInput;
pub use crate::services::presence::PresenceStore;
pub use crate::services::agent::tracker::{Admission, RunOutcome, RunTracker};
pub use sessions::{HistoryPage, HistoryQuery, StoreCommand};

/// Static facts and policy the hub runs with. What hot reload changes arrives as inputs
/// ([`HubInput::ConfigReload`], [`HubInput::AgentSettings`]).
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// Release string reported as `hello-ok.server.version`.
    pub version: String,
    pub build_id: Option<String>,
    /// Changes on every (re)start; clients use it to notice a restart.
    pub boot_id: String,
    pub auth: AuthMode,
    /// `gateway.auth.rateLimit`: failed shared-secret attempts before a lockout.
    pub auth_rate_limit: RateLimitPolicy,
    /// The gateway's own presence row (its `ts` is stamped on every listing).
    pub own_presence: PresenceEntry,
    pub limits: Limits,
    pub session_defaults: SessionDefaults,
    /// Run timeout of an `agent`/`chat.send` call that names none
    /// (`agents.defaults.timeoutSeconds`, 600 s); zero: no timeout.
    pub agent_timeout: std::time::Duration,
    /// Shown to admins only.
    pub config_path: Option<String>,
    /// Shown to admins only.
    pub state_dir: Option<String>,
    pub hot_reload: HotReloadStatus,
    pub pid: Option<u32>,
    /// Where sessions are stored (reported by `health`).
    pub sessions_path: String,
    /// Seed for connection ids (give fresh randomness in production, a constant in tests).
    pub id_seed: u64,
}

/// Something the driver must do.
#[derive(Clone, Debug, PartialEq)]
pub enum HubOutput {
    ToSession(ConnId, HubToSession),
    /// An answer or run event for a non-socket caller (HTTP, channel, hook, internal); the
    /// driver hands it to whoever waits for that caller, or drops it if nobody does (then
    /// tells the hub with [`HubInput::CallerGone`]).
    ToCaller(Caller, CallerEvent),
    /// Start or stop an agent run; the driver reports back with [`HubInput::Run`].
    Run(RunCommand),
    /// Persist a session or run-result change (in order).
    Store(StoreCommand),
    /// A request only the host can answer (files: logs, config). The host answers with
    /// [`HubInput::HostReply`] for the same caller; if that caller is gone by then (socket
    /// closed, HTTP client away) the answer goes nowhere.
    Host { caller: Caller, request: HostRequest },
    /// The answer to [`HubInput::HttpAuth`] for the HTTP request `caller` names: `Ok` when the
    /// bearer is the gateway's secret; otherwise why not, and how long to hold the refusal back.
    HttpAuth { caller: Caller, result: Result<(), HttpAuthRefusal> },
    /// Persist these pairing-store changes in ONE transaction before carrying out the
    /// outputs after it (an approval is on disk before anyone hears of it).
    Devices(Vec<StoreOp>),
    /// Nothing more until the deadline (or an input).
    Wait(Option<(Instant, HubTimer)>),
}

/// Why the hub wants to wake up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HubTimer {
    Tick,
    HealthRefresh,
    PresenceExpiry,
    IdempotencyExpiry,
    DelayedReply,
    ShutdownGrace,
    /// An agent run reached its timeout.
    RunTimeout,
    /// An `agent.wait` call reached its `timeoutMs`.
    AgentWait,
    /// A `node.invoke` reached its `timeoutMs`.
    NodeInvoke,
}

impl TimerKind for HubTimer {
    const ALL: &'static [Self] = &[
        Self::Tick,
        Self::HealthRefresh,
        Self::PresenceExpiry,
        Self::IdempotencyExpiry,
        Self::DelayedReply,
        Self::ShutdownGrace,
        Self::RunTimeout,
        Self::AgentWait,
        Self::NodeInvoke,
    ];
    fn index(self) -> usize {
        self as usize
    }
}

/// The gateway's accept/drain cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Listening, but `connect` is refused with 1013 until [`HubInput::Ready`].
    Starting,
    Running,
    /// `shutdown` sent and every socket told to close; waiting for them to go.
    Draining,
    /// Every socket is gone (or the grace ran out): the driver may exit.
    Drained,
}

#[derive(Clone, Debug)]
enum Conn {
    Handshaking { peer: PeerInfo, nonce: Nonce },
    Open(Box<OpenConn>),
}

#[derive(Clone, Debug)]
struct OpenConn {
    role: Role,
    scopes: ScopeSet,
    /// The paired device this socket proved, if any.
    device_id: Option<String>,
    /// It authenticated with that device's token (not the shared secret).
    device_token_auth: bool,
    presence_key: Option<String>,
    /// Advertised `caps: ["tool-events"]`: gets `tool` agent events of the runs it starts.
    tool_events: bool,
}

/// Who may receive a broadcast (`EVENT_SCOPE_GUARDS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Every authenticated socket, nodes included.
    All,
    /// Operators whose scopes satisfy this one.
    Operators(Scope),
}

/// The gateway-wide machine.
#[derive(Debug)]
pub struct Hub {
    config: HubConfig,
    started: Instant,
    lifecycle: Lifecycle,
    conns: BTreeMap<ConnId, Conn>,
    /// The presence service: the rows and the rules that write them.
    presence: Presence,
    state_version: StateVersion,
    health: HealthSnapshot,
    /// The channels part of `health`, as the channel runtime last reported it.
    channels_health: crate::wire::channels::ChannelsHealth,
    limiter: AuthLimiter,
    /// Failed `connect`s from browsers (a socket with an `Origin`): `gateway.auth.rateLimit`
    /// with the loopback exemption off, a loopback socket keyed by its origin (http.md §6.4).
    browser_limiter: AuthLimiter,
    /// The agent service: admission and idempotency, runs in flight, `agent.wait`, tool
    /// event recipients.
    agent: AgentService,
    /// The sessions service: the session index.
    sessions: Sessions,
    /// The chat service: `chat.history` reads in flight.
    chat: Chat,
    /// The latest wall time an input brought (for events emitted from `begin_shutdown`).
    last_wall: UnixMillis,
    /// Replies held back (the loopback auth-failure delay), in due order.
    delayed: BTreeMap<(Instant, u64), (ConnId, HubToSession)>,
    delayed_counter: u64,
    system_events: VecDeque<String>,
    /// Since when the store writer's queue is backed up (`None`: it keeps up).
    store_backed_up: Option<UnixMillis>,
    /// Why the last config reload was not applied (`health.configReload.lastError`).
    reload_error: Option<ReloadError>,
    /// Pairing store, device tokens and pairing policy (`crate::devices`).
    devices: Devices,
    /// Connected nodes and the `node.invoke` calls waiting for them (`crate::services::nodes`).
    nodes: Nodes,
    /// `node.pending.*` work queued per node (in memory, as the reference).
    node_work: NodeWork,
    /// What `node.event` remembers: voice dedupe, expected `exec.*` events, chat subscriptions.
    node_events: NodeEvents,
    timers: Timers<HubTimer>,
    ids: IdGen,
    out: VecDeque<HubOutput>,
}

/// One request being handled: when it came, who asked (the socket and its request id) and
/// whether they hold `operator.admin`. Handlers answer it with [`Hub::respond_ok`] /
/// [`Hub::respond_err`] (now or later).
#[derive(Clone, Debug)]
pub(crate) struct Req {
    pub now: Instant,
    pub wall: UnixMillis,
    pub caller: Caller,
    pub admin: bool,
    /// The caller's granted scopes (the reference's `client.connect.scopes`).
    pub scopes: ScopeSet,
}

/// A config reload that was not applied: the message (file, location, key path) and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReloadError {
    pub message: String,
    pub at: UnixMillis,
}

/// At most this many `system-event` texts are kept for the next agent turn.
const MAX_QUEUED_SYSTEM_EVENTS: usize = 20;

impl Hub {
    pub fn new(config: HubConfig, now: Instant, wall: UnixMillis) -> Self {
        let mut timers = Timers::default();
        timers.set(HubTimer::Tick, now + config.limits.tick_interval);
        timers.set(HubTimer::HealthRefresh, now + config.limits.health_refresh_interval);
        let mut hub = Self {
            presence: Presence::new(config.own_presence.clone()),
            ids: IdGen::new(config.id_seed),
            limiter: AuthLimiter::new(config.auth_rate_limit),
            browser_limiter: AuthLimiter::new(RateLimitPolicy { exempt_loopback: false, ..config.auth_rate_limit }),
            config,
            started: now,
            lifecycle: Lifecycle::Starting,
            conns: BTreeMap::new(),
            state_version: StateVersion { presence: 1, health: 1 },
            health: HealthSnapshot::default(),
            channels_health: crate::wire::channels::ChannelsHealth::default(),
            agent: AgentService::new(),
            sessions: Sessions::default(),
            chat: Chat::default(),
            last_wall: wall,
            delayed: BTreeMap::new(),
            delayed_counter: 0,
            system_events: VecDeque::new(),
            reload_error: None,
            store_backed_up: None,
            devices: Devices::default(),
            nodes: Nodes::default(),
            node_work: NodeWork::default(),
            node_events: NodeEvents::default(),
            timers,
            out: VecDeque::new(),
        };
        hub.health = hub.build_health(wall);
        hub
    }

    /// Startup finished: `connect` is admitted from now on.
    pub(crate) fn set_ready(&mut self) {
        if self.lifecycle == Lifecycle::Starting {
            self.lifecycle = Lifecycle::Running;
        }
    }

    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    /// True once shutdown has finished; the driver may exit.
    pub fn is_drained(&self) -> bool {
        self.lifecycle == Lifecycle::Drained
    }

    /// Accepting connections (what `/ready` reports).
    pub fn is_ready(&self) -> bool {
        self.lifecycle == Lifecycle::Running
    }

    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// Number of sockets the hub knows (handshaking and open).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// A message from the session of `conn`. Poll after.
    pub(crate) fn handle_session(&mut self, now: Instant, wall: UnixMillis, conn: ConnId, event: SessionEvent) {
        self.last_wall = wall;
        match event {
            SessionEvent::Opened { peer, nonce } => {
                self.conns.insert(conn, Conn::Handshaking { peer: *peer, nonce });
                if matches!(self.lifecycle, Lifecycle::Draining | Lifecycle::Drained) {
                    self.to(conn, HubToSession::Close {
                        code: CloseCode::SERVICE_RESTART,
                        reason: "service restart".into(),
                    });
                }
            }
            SessionEvent::Connect { id, params } => self.handle_connect(now, wall, conn, id, *params),
            SessionEvent::Request { id, call } => self.handle_request(now, wall, conn, id, call),
            SessionEvent::Closed => self.handle_closed(now, wall, conn),
        }
    }

    /// Deadlines that have passed. Poll after.
    pub(crate) fn handle_timeout(&mut self, now: Instant, wall: UnixMillis) {
        self.last_wall = wall;
        if self.timers.is_due(HubTimer::ShutdownGrace, now) {
            self.timers.stop_all();
            self.lifecycle = Lifecycle::Drained;
            return;
        }
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (conn, msg) = entry.remove();
            self.to(conn, msg);
        }
        if self.timers.is_due(HubTimer::Tick, now) {
            self.timers.set(HubTimer::Tick, now + self.config.limits.tick_interval);
            let tick = EncodedEvent::new("tick", &TickEvent { ts: wall }, None, true);
            self.broadcast(tick, Audience::All);
            self.expire_pairing(wall);
        }
        if self.timers.is_due(HubTimer::HealthRefresh, now) {
            self.timers.set(HubTimer::HealthRefresh, now + self.config.limits.health_refresh_interval);
            self.refresh_health(wall);
        }
        if self.timers.is_due(HubTimer::PresenceExpiry, now) && self.presence.prune(now) {
            self.broadcast_presence(wall);
        }
        self.agent_timeouts(now, wall);
        self.expire_node_invokes(now);
        self.agent.tracker.expire(now);
        self.limiter.prune(now);
        self.browser_limiter.prune(now);
        self.sync_timers();
    }

    /// Starts a graceful shutdown: unfinished runs fail, every socket gets `shutdown`, then a
    /// 1012 close; the hub is drained when all are gone or the grace period ends. Poll after.
    pub(crate) fn begin_shutdown(&mut self, now: Instant, reason: &str, restart_expected_ms: Option<u64>) {
        if matches!(self.lifecycle, Lifecycle::Draining | Lifecycle::Drained) {
            return;
        }
        self.lifecycle = Lifecycle::Draining;
        self.end_agent_runs_for_shutdown(now);
        for run in self.agent.tracker.active_runs() {
            let error = ErrorShape::new(ErrorCode::Unavailable, "gateway is shutting down")
                .retry_after(restart_expected_ms.unwrap_or(1000));
            let payload = json!({ "runId": run.as_str(), "status": "error", "summary": "aborted" });
            self.finish_run(now, &run, RunOutcome::Failed { payload: Some(payload), error });
        }
        let event = ShutdownEvent { reason: reason.to_owned(), restart_expected_ms };
        self.broadcast(EncodedEvent::new("shutdown", &event, None, false), Audience::All);
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.to(conn, HubToSession::Close {
                code: CloseCode::SERVICE_RESTART,
                reason: "service restart".into(),
            });
        }
        // Sessions terminate after their own close grace; allow a little more for the driver.
        let grace = self.config.limits.close_grace * 2;
        self.timers.stop_all();
        self.timers.set(HubTimer::ShutdownGrace, now + grace);
        self.check_drained();
    }

    /// The next output; `Wait` when idle.
    pub fn poll_output(&mut self) -> HubOutput {
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        HubOutput::Wait(self.timers.next())
    }

    /// Admits a two-stage run for `caller` (protocol.md §5.6). A new run is answered with
    /// `accepted` and returns [`Admission::Started`]: the agent service then runs it; its end
    /// reaches every waiter through [`Hub::finish_run`]. A socket caller gets `res` frames, any
    /// other caller the same answers as [`CallerEvent`]s (`Response`, then `Final`).
    pub(crate) fn begin_run_for(
        &mut self,
        now: Instant,
        caller: Caller,
        run: &RunId,
        accepted: &impl Serialize,
    ) -> Admission {
        let wants_tools = self.wants_tool_events(&caller);
        let admission = self.agent.admit(now, run, caller.clone(), wants_tools);
        match &admission {
            Admission::Started => self.respond_ok(&caller, accepted),
            Admission::Joined => {
                let payload = json!({ "runId": run.as_str(), "status": "in_flight" });
                self.respond_ok(&caller, &payload);
            }
            Admission::Cached(outcome) => self.deliver_outcome(&caller, run, outcome),
        }
        self.sync_timers();
        admission
    }

    /// The final answer of `run` to one waiter: a `res` frame on a socket still open, a
    /// [`CallerEvent::Final`] to anyone else.
    fn deliver_outcome(&mut self, caller: &Caller, run: &RunId, outcome: &RunOutcome) {
        match caller.socket() {
            Some((conn, id)) => {
                if self.conns.contains_key(&conn) {
                    self.to(conn, HubToSession::Response(render_outcome(id, outcome)));
                }
            }
            None => {
                let event = CallerEvent::Final { run: run.clone(), outcome: outcome.clone() };
                self.out.push_back(HubOutput::ToCaller(caller.clone(), event));
            }
        }
    }

    /// One `agent` event payload of `run` to each non-socket caller waiting for it (sockets
    /// get the broadcast).
    fn send_to_run_callers(&mut self, run: &RunId, stream: &str, payload: &Value) {
        let callers: Vec<Caller> = self.agent.tracker.waiters(run).iter().filter(|c| c.socket().is_none()).cloned().collect();
        for caller in callers {
            let event = CallerEvent::Run { run: run.clone(), stream: stream.to_owned(), data: payload["data"].clone() };
            self.out.push_back(HubOutput::ToCaller(caller, event));
        }
    }

    /// Ends a run: every waiter still connected gets the final `res` on its request id.
    pub(crate) fn finish_run(&mut self, now: Instant, run: &RunId, outcome: RunOutcome) {
        let waiters = self.agent.tracker.finish(now, run, outcome.clone());
        for w in waiters {
            self.deliver_outcome(&w, run, &outcome);
        }
        self.sync_timers();
    }

    /// Sends `event` to every open socket the audience admits, each with its own `seq`.
    pub(crate) fn broadcast(&mut self, event: EncodedEvent, audience: Audience) {
        let event = Arc::new(event);
        let recipients: Vec<ConnId> = self
            .conns
            .iter()
            .filter_map(|(id, c)| match c {
                Conn::Open(open) if admits(audience, open) => Some(*id),
                Conn::Open(_) | Conn::Handshaking { .. } => None,
            })
            .collect();
        for conn in recipients {
            self.to(conn, HubToSession::Event { event: Arc::clone(&event), sequenced: true });
        }
    }

    fn handle_closed(&mut self, now: Instant, wall: UnixMillis, conn: ConnId) {
        let Some(old) = self.conns.remove(&conn) else { return };
        self.agent.forget_conn(conn);
        self.chat.forget_conn(conn);
        self.node_closed(conn);
        self.delayed.retain(|_, (c, _)| *c != conn);
        if let Conn::Open(open) = old {
            if let Some(key) = &open.presence_key {
                let marked = self.presence.disconnected(now, wall, key);
                if marked && self.lifecycle == Lifecycle::Running {
                    self.broadcast_presence(wall);
                }
            }
        }
        self.check_drained();
        self.sync_timers();
    }

    fn check_drained(&mut self) {
        if self.lifecycle == Lifecycle::Draining && self.conns.is_empty() {
            self.timers.stop_all();
            self.lifecycle = Lifecycle::Drained;
        }
    }

    fn to(&mut self, conn: ConnId, msg: HubToSession) {
        self.out.push_back(HubOutput::ToSession(conn, msg));
    }

    /// Answers `caller`: a rendered `res` frame for a socket, a [`CallerEvent::Response`] for
    /// anyone else.
    fn respond_ok(&mut self, caller: &Caller, payload: &impl Serialize) {
        match caller.socket() {
            Some((conn, id)) => self.to(conn, HubToSession::Response(encode_ok(id, payload))),
            None => {
                let value = serde_json::to_value(payload).unwrap_or(Value::Null);
                self.out.push_back(HubOutput::ToCaller(caller.clone(), CallerEvent::Response(Ok(value))));
            }
        }
    }

    fn respond_err(&mut self, caller: &Caller, error: &ErrorShape) {
        match caller.socket() {
            Some((conn, id)) => self.to(conn, HubToSession::Response(encode_err(id, error))),
            None => self.out.push_back(HubOutput::ToCaller(caller.clone(), CallerEvent::Response(Err(error.clone())))),
        }
    }

    fn broadcast_presence(&mut self, wall: UnixMillis) {
        self.state_version.presence += 1;
        let payload = json!({ "presence": self.presence.list(wall) });
        let event = EncodedEvent::new("presence", &payload, Some(self.state_version), true);
        self.broadcast(event, Audience::Operators(Scope::Read));
    }

    fn build_health(&self, wall: UnixMillis) -> HealthSnapshot {
        let store = SessionStoreHealth {
            path: self.config.sessions_path.clone(),
            count: self.sessions.len() as _,
            recent: Vec::new(),
        };
        HealthSnapshot {
            ok: Some(true),
            ts: Some(wall),
            duration_ms: Some(0),
            config_reload: Some(ConfigReloadHealth { hot_reload_status: self.config.hot_reload }),
            channels: Some(self.channels_health.channels.clone()),
            channel_order: Some(self.channels_health.order.clone()),
            channel_labels: Some(self.channels_health.labels.clone()),
            default_agent_id: Some(self.config.session_defaults.default_agent_id.clone()),
            agents: Some(vec![AgentHealth {
                agent_id: self.config.session_defaults.default_agent_id.clone(),
                is_default: true,
                heartbeat: HeartbeatHealth::disabled(),
                sessions: store.clone(),
            }]),
            sessions: Some(store),
        }
    }


    /// Rebuilds the health snapshot and broadcasts `health` (stateVersion.health + 1).
    pub(crate) fn refresh_health(&mut self, wall: UnixMillis) {
        self.health = self.build_health(wall);
        self.state_version.health += 1;
        let event = EncodedEvent::new("health", &self.health, Some(self.state_version), false);
        self.broadcast(event, Audience::All);
    }

    fn sync_timers(&mut self) {
        if matches!(self.lifecycle, Lifecycle::Draining | Lifecycle::Drained) {
            return;
        }
        match self.presence.next_expiry() {
            Some(at) => self.timers.set(HubTimer::PresenceExpiry, at),
            None => self.timers.stop(HubTimer::PresenceExpiry),
        }
        match self.agent.tracker.next_expiry() {
            Some(at) => self.timers.set(HubTimer::IdempotencyExpiry, at),
            None => self.timers.stop(HubTimer::IdempotencyExpiry),
        }
        match self.agent.runs.next_run_deadline() {
            Some(at) => self.timers.set(HubTimer::RunTimeout, at),
            None => self.timers.stop(HubTimer::RunTimeout),
        }
        match self.agent.runs.next_wait_deadline() {
            Some(at) => self.timers.set(HubTimer::AgentWait, at),
            None => self.timers.stop(HubTimer::AgentWait),
        }
        match self.nodes.next_deadline() {
            Some(at) => self.timers.set(HubTimer::NodeInvoke, at),
            None => self.timers.stop(HubTimer::NodeInvoke),
        }
        match self.delayed.keys().next() {
            Some((at, _)) => self.timers.set(HubTimer::DelayedReply, *at),
            None => self.timers.stop(HubTimer::DelayedReply),
        }
    }

    fn uptime_ms(&self, now: Instant) -> u64 {
        millis(now.duration_since(self.started))
    }

    /// The hub's next deadline with its reason (same as the last `Wait`).
    pub fn next_deadline(&self) -> Option<(Instant, HubTimer)> {
        self.timers.next()
    }
}

fn admits(audience: Audience, open: &OpenConn) -> bool {
    match audience {
        Audience::All => true,
        Audience::Operators(scope) => open.role == Role::Operator && open.scopes.satisfies(scope),
    }
}

fn render_outcome(id: &RequestId, outcome: &RunOutcome) -> Vec<u8> {
    match outcome {
        RunOutcome::Ok(payload) => encode_ok(id, payload),
        RunOutcome::Failed { payload, error } => encode_response(id, false, payload.as_ref(), Some(error)),
    }
}
