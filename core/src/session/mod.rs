//! One [`Session`] per socket: the challenge, the first-request-must-be-`connect` rule, pending
//! frames while the hub decides, per-frame validation and authorisation, keepalive, outbound
//! accounting and the close handshake (protocol.md §1.2, §2, §8).
//!
//! Drive it like every machine here: call one `handle_*`, then [`Session::poll_output`] until it
//! returns [`Output::Wait`]; carry out each output in order.

mod liveness;
mod outbox;

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::Value;

use crate::auth::scopes::{Role, ScopeSet};
use crate::error::{effect, PeerError, Stage, Violation, WireEffect};
use crate::ids::{CloseCode, ConnId, Nonce, RequestId, UnixMillis};
use crate::limits::{Limits, MAX_PENDING_HANDSHAKE_FRAMES, MAX_ROLE_VIOLATIONS};
use crate::link::{HubToSession, PeerInfo, SessionEvent};
use crate::methods::{authorize, Denial, Method, MethodCall};
use crate::schema::validators;
use crate::time::{Instant, TimerKind, Timers};
use crate::wire::codec::{
    decode_request, encode_err, encode_err_raw_id, truncate_close_reason, EncodedEvent,
};
use crate::wire::connect::ConnectParams;
use crate::wire::events::{ConnectChallenge, CHALLENGE_CAPABILITIES};
use crate::wire::frames::RequestFrame;

pub use liveness::{Liveness, LivenessAction};
pub use outbox::{Admit, Outbox};

/// Something the driver must do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Write one text frame.
    Send(Vec<u8>),
    /// Write a WebSocket ping.
    Ping,
    /// Write a close frame; keep reading until the peer answers or `Terminate`.
    Close { code: CloseCode, reason: String },
    /// Drop the TCP connection now.
    Terminate,
    /// Deliver to the hub.
    ToHub(SessionEvent),
    /// Nothing more to do until the deadline (or forever when `None`) or the next input.
    Wait(Option<(Instant, SessionTimer)>),
}

/// Why a session wants to wake up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionTimer {
    Handshake,
    Ping,
    CloseGrace,
}

impl TimerKind for SessionTimer {
    const ALL: &'static [Self] = &[Self::Handshake, Self::Ping, Self::CloseGrace];
    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug)]
enum Phase {
    /// Challenge sent; the first frame must be `connect`.
    AwaitingConnect,
    /// `connect` is with the hub; later frames wait here (at most 15).
    Connecting { pending: VecDeque<Vec<u8>> },
    Open(Open),
    /// We sent a close frame at `since`.
    Closing,
    Closed,
}

#[derive(Debug)]
struct Open {
    role: Role,
    scopes: ScopeSet,
    role_violations: u32,
}

/// The per-socket protocol machine.
#[derive(Debug)]
pub struct Session {
    conn: ConnId,
    limits: Limits,
    phase: Phase,
    timers: Timers<SessionTimer>,
    liveness: Liveness,
    outbox: Outbox,
    out: VecDeque<Output>,
}

impl Session {
    /// Opens a session: queues the `connect.challenge` and the `Opened` event for the hub and
    /// arms the handshake timer. `nonce` must be fresh random (a UUID string).
    pub fn new(
        conn: ConnId,
        peer: PeerInfo,
        nonce: Nonce,
        now: Instant,
        wall: UnixMillis,
        limits: Limits,
    ) -> Self {
        let mut timers = Timers::default();
        timers.set(SessionTimer::Handshake, now + limits.handshake_timeout);
        let mut session = Self {
            conn,
            outbox: Outbox::new(limits.max_buffered_bytes),
            limits,
            phase: Phase::AwaitingConnect,
            timers,
            liveness: Liveness::Idle,
            out: VecDeque::new(),
        };
        session.out.push_back(Output::ToHub(SessionEvent::Opened { peer: Box::new(peer), nonce: nonce.clone() }));
        let challenge = ConnectChallenge {
            nonce,
            ts: wall,
            capabilities: CHALLENGE_CAPABILITIES.iter().map(|s| (*s).to_owned()).collect(),
        };
        let event = EncodedEvent::new("connect.challenge", &challenge, None, false);
        session.send(event.frame(None));
        session
    }

    pub fn conn(&self) -> ConnId {
        self.conn
    }

    /// True once the socket is gone and nothing more will be output.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// True after `hello-ok`, until the close starts.
    pub fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Open(_))
    }

    /// Largest inbound frame the driver should read now (64 KiB pre-auth, 25 MiB after).
    pub fn max_frame_len(&self) -> usize {
        match self.phase {
            Phase::Open(_) => self.limits.max_payload,
            Phase::AwaitingConnect | Phase::Connecting { .. } | Phase::Closing | Phase::Closed => {
                self.limits.preauth_max_payload
            }
        }
    }

    /// Unflushed outbound bytes.
    pub fn buffered(&self) -> usize {
        self.outbox.buffered()
    }

    /// One inbound text frame. Poll after.
    pub fn handle_frame(&mut self, now: Instant, bytes: &[u8]) {
        if bytes.len() > self.max_frame_len() {
            return self.handle_oversize(now, bytes.len());
        }
        match &mut self.phase {
            Phase::AwaitingConnect => self.handle_first_frame(now, bytes),
            Phase::Connecting { pending } => {
                if pending.len() >= MAX_PENDING_HANDSHAKE_FRAMES {
                    let err = PeerError::Violation(Violation::TooManyPendingFrames);
                    return self.apply(now, &err, Stage::PreAuth);
                }
                pending.push_back(bytes.to_vec());
            }
            Phase::Open(_) => self.handle_open_frame(now, bytes),
            Phase::Closing | Phase::Closed => {}
        }
    }

    /// The driver refused to read a frame of `len` bytes (over [`Self::max_frame_len`]).
    pub fn handle_oversize(&mut self, now: Instant, len: usize) {
        let stage = self.stage();
        self.apply(now, &PeerError::Oversize { len }, stage);
    }

    /// The peer answered a ping.
    pub fn handle_pong(&mut self, _now: Instant) {
        self.liveness.handle_pong();
    }

    /// The writer flushed `len` bytes of what `Send` produced.
    pub fn handle_flushed(&mut self, len: usize) {
        self.outbox.flushed(len);
    }

    /// The peer closed (close frame or EOF). Poll after: `ToHub(Closed)` follows.
    pub fn handle_peer_closed(&mut self, _now: Instant) {
        self.finish();
    }

    /// A message from the hub. Poll after.
    pub fn handle_hub(&mut self, now: Instant, msg: HubToSession) {
        match msg {
            HubToSession::Accept { hello, role, scopes, canvas: _ } => self.open(now, hello, role, scopes),
            HubToSession::Reject { response, code, reason } => {
                if matches!(self.phase, Phase::Closing | Phase::Closed) {
                    return;
                }
                self.send(response);
                self.begin_close(now, code, &reason);
            }
            HubToSession::Response(frame) => self.send_checked(now, frame, false),
            HubToSession::Event { event, sequenced } => self.send_event(now, &event, sequenced),
            HubToSession::Close { code, reason } => self.begin_close(now, code, &reason),
        }
    }

    /// Deadlines that have passed. Poll after.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timers.is_due(SessionTimer::CloseGrace, now) {
            self.out.push_back(Output::Terminate);
            self.finish();
            return;
        }
        if self.timers.is_due(SessionTimer::Handshake, now) {
            self.timers.stop(SessionTimer::Handshake);
            self.begin_close(now, CloseCode::NORMAL, "");
            return;
        }
        if self.timers.is_due(SessionTimer::Ping, now) {
            match self.liveness.handle_due(now, self.limits.ping_interval) {
                LivenessAction::Ping => self.out.push_back(Output::Ping),
                LivenessAction::Terminate => {
                    self.out.push_back(Output::Terminate);
                    self.finish();
                    return;
                }
            }
            self.sync_ping_timer();
        }
    }

    /// Starts a server close: a close frame now, `Terminate` after the grace period unless the
    /// peer completes the close first. Reasons are cut to 120 bytes.
    pub fn begin_close(&mut self, now: Instant, code: CloseCode, reason: &str) {
        if matches!(self.phase, Phase::Closing | Phase::Closed) {
            return;
        }
        self.phase = Phase::Closing;
        self.timers.stop_all();
        self.liveness = Liveness::Idle;
        self.timers.set(SessionTimer::CloseGrace, now + self.limits.close_grace);
        self.out.push_back(Output::Close { code, reason: truncate_close_reason(reason) });
    }

    /// The next output; `Wait` when there is nothing more until an input or the deadline.
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        Output::Wait(self.timers.next())
    }

    /// The deadline the next `Wait` will carry (outputs drained or not).
    pub fn next_deadline(&self) -> Option<(Instant, SessionTimer)> {
        self.timers.next()
    }

    fn stage(&self) -> Stage {
        match self.phase {
            Phase::Open(_) => Stage::PostAuth,
            Phase::AwaitingConnect | Phase::Connecting { .. } | Phase::Closing | Phase::Closed => {
                Stage::PreAuth
            }
        }
    }

    fn handle_first_frame(&mut self, now: Instant, bytes: &[u8]) {
        match parse_connect(bytes) {
            Ok((id, params)) => {
                self.phase = Phase::Connecting { pending: VecDeque::new() };
                self.out.push_back(Output::ToHub(SessionEvent::Connect { id, params }));
            }
            Err(err) => self.apply(now, &err, Stage::PreAuth),
        }
    }

    fn handle_open_frame(&mut self, now: Instant, bytes: &[u8]) {
        let Phase::Open(open) = &mut self.phase else { return };
        match classify_request(bytes, open) {
            Ok((id, call)) => {
                open.role_violations = 0;
                self.out.push_back(Output::ToHub(SessionEvent::Request { id, call }));
            }
            Err(err) => {
                let violation = matches!(err, PeerError::Denied { denial: Denial::WrongRole(_), .. });
                if violation {
                    open.role_violations += 1;
                } else if !matches!(err, PeerError::Frame(_)) {
                    open.role_violations = 0;
                }
                let too_many = open.role_violations > MAX_ROLE_VIOLATIONS;
                self.apply(now, &err, Stage::PostAuth);
                if too_many {
                    let err = PeerError::Violation(Violation::RepeatedUnauthorizedCalls);
                    self.apply(now, &err, Stage::PostAuth);
                }
            }
        }
    }

    fn apply(&mut self, now: Instant, err: &PeerError, stage: Stage) {
        match effect(err, stage) {
            WireEffect::Ignore => {}
            WireEffect::Respond { id, error } => self.send_checked(now, encode_err(&id, &error), false),
            WireEffect::RespondRawId { id, error } => {
                self.send_checked(now, encode_err_raw_id(&id, &error), false)
            }
            WireEffect::Close { code, reason } => self.begin_close(now, code, &reason),
            WireEffect::RespondAndClose { id, error, code, reason } => {
                self.send(encode_err(&id, &error));
                self.begin_close(now, code, &reason);
            }
        }
    }

    fn open(&mut self, now: Instant, hello: Vec<u8>, role: Role, scopes: ScopeSet) {
        let Phase::Connecting { pending } = &mut self.phase else { return };
        let pending = std::mem::take(pending);
        self.phase = Phase::Open(Open { role, scopes, role_violations: 0 });
        self.timers.stop(SessionTimer::Handshake);
        self.liveness = Liveness::start(now, self.limits.ping_interval);
        self.sync_ping_timer();
        self.send(hello);
        for frame in pending {
            self.handle_frame(now, &frame);
        }
    }

    fn send_event(&mut self, now: Instant, event: &EncodedEvent, sequenced: bool) {
        if !matches!(self.phase, Phase::Open(_)) {
            return; // no event before hello-ok, none after the close began
        }
        let seq = sequenced.then(|| self.outbox.next_seq());
        match self.outbox.admit(event.droppable) {
            Admit::Send => self.send(event.frame(seq)),
            Admit::Drop => {}
            Admit::CloseSlowConsumer => self.begin_close(now, CloseCode::POLICY, "slow consumer"),
        }
    }

    /// Sends a frame that may not be dropped, closing a slow consumer instead.
    fn send_checked(&mut self, now: Instant, frame: Vec<u8>, droppable: bool) {
        if matches!(self.phase, Phase::Closing | Phase::Closed) {
            return;
        }
        match self.outbox.admit(droppable) {
            Admit::Send => self.send(frame),
            Admit::Drop => {}
            Admit::CloseSlowConsumer => self.begin_close(now, CloseCode::POLICY, "slow consumer"),
        }
    }

    fn send(&mut self, frame: Vec<u8>) {
        self.outbox.queued(frame.len());
        self.out.push_back(Output::Send(frame));
    }

    fn sync_ping_timer(&mut self) {
        match self.liveness.deadline() {
            Some(at) => self.timers.set(SessionTimer::Ping, at),
            None => self.timers.stop(SessionTimer::Ping),
        }
    }

    fn finish(&mut self) {
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        self.phase = Phase::Closed;
        self.timers.stop_all();
        self.out.push_back(Output::ToHub(SessionEvent::Closed));
    }
}

/// Pre-auth: the first frame must be a schema-valid `connect`.
fn parse_connect(bytes: &[u8]) -> Result<(RequestId, Box<ConnectParams>), PeerError> {
    let frame: RequestFrame = decode_request(bytes)?;
    if frame.method != "connect" {
        return Err(PeerError::Violation(Violation::FirstRequestNotConnect { id: frame.id }));
    }
    let params = frame.params.unwrap_or_else(|| Value::Object(Default::default()));
    if claims_worker(&params) {
        return Err(PeerError::Violation(Violation::WorkerIdentityClaimed));
    }
    if let Err(message) = validators().connect_params.check(&params) {
        return Err(PeerError::InvalidConnect { id: frame.id, message });
    }
    let params: ConnectParams = serde_json::from_value(params)
        .map_err(|e| PeerError::InvalidConnect { id: frame.id.clone(), message: e.to_string() })?;
    Ok((frame.id, Box::new(params)))
}

/// The worker identity belongs to the worker route only (checked on the raw params so that it
/// wins over schema errors, as in the reference).
fn claims_worker(params: &Value) -> bool {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    s(params.get("role")).as_deref() == Some("worker")
        || s(params.pointer("/client/id")).as_deref() == Some("openclaw-worker")
        || s(params.pointer("/client/mode")).as_deref() == Some("worker")
}

/// Post-auth: decode, authorise, type the params.
fn classify_request(bytes: &[u8], open: &Open) -> Result<(RequestId, MethodCall), PeerError> {
    let frame = decode_request(bytes)?;
    let method = Method::parse(&frame.method);
    let id = frame.id;
    if let Err(denial) = authorize(&method, open.role, &open.scopes) {
        return Err(PeerError::Denied { id, denial });
    }
    if method == Method::Connect {
        return Err(PeerError::ConnectAgain { id });
    }
    match MethodCall::parse(&method, frame.params) {
        Ok(Some(call)) => Ok((id, call)),
        Ok(None) => Err(PeerError::UnknownMethod { id, method }),
        Err(message) => Err(PeerError::InvalidParams { id, method, message }),
    }
}

/// Convenience for tests and drivers: a duration as whole milliseconds.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
