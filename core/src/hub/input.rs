//! The hub's one input type: everything the driver tells it, applied with
//! [`Hub::handle_input`]; then drain [`Hub::poll_output`](super::Hub::poll_output).

use crate::auth::scopes::ScopeSet;
use crate::caller::Caller;
use crate::ids::{ConnId, RunId, UnixMillis};
use crate::link::SessionEvent;
use crate::methods::MethodCall;
use crate::time::Instant;
use crate::wire::agent::RunReport;
use crate::wire::frames::ErrorShape;
use crate::wire::hello::HotReloadStatus;

use super::{HistoryPage, Hub};

/// Something that happened, for the hub.
#[derive(Clone, Debug, PartialEq)]
pub enum HubInput {
    /// A message from the session of `conn`.
    Session { conn: ConnId, event: SessionEvent },
    /// A request from a non-socket caller (HTTP, channel, hook, internal) that the driver has
    /// authenticated as an operator with `scopes`. The answers come out as
    /// [`HubOutput::ToCaller`](super::HubOutput::ToCaller). For an agent run, use
    /// `MethodCall::Agent`: `Response(accepted)`, the run's events, then `Final`.
    Call { caller: Caller, scopes: ScopeSet, call: MethodCall },
    /// Nobody waits for `caller` any more (the HTTP client went away): drop its waits.
    CallerGone(Caller),
    /// Deadlines may have passed (the last `Wait` deadline was reached).
    Timeout,
    /// Start-up finished: `connect` is admitted from now on.
    Ready,
    /// Begin a graceful shutdown: unfinished runs fail, every socket gets `shutdown`, then a
    /// 1012 close; the hub is drained when all are gone or the grace period ends.
    Shutdown { reason: String, restart_expected_ms: Option<u64> },
    /// Progress of an agent run the hub started.
    Run { run: RunId, report: RunReport },
    /// The page a `StoreCommand::ReadHistory` asked for, or why it could not be read.
    History { caller: Caller, session_key: String, session_id: String, result: Result<HistoryPage, String> },
    /// The host's answer to a `HubOutput::Host` request, for the caller it named.
    HostReply { caller: Caller, reply: Result<serde_json::Value, ErrorShape> },
    /// An HTTP request's `Authorization: Bearer` credential (`None`: none sent) from `ip`, to
    /// check against `gateway.auth` on the failed-attempt limiter `connect` uses. Answered
    /// with [`HubOutput::HttpAuth`](super::HubOutput::HttpAuth) for the same `caller`.
    HttpAuth { caller: Caller, ip: core::net::IpAddr, bearer: Option<String> },
    /// The config watcher's status for `health.configReload`.
    ConfigReload { status: HotReloadStatus, last_error: Option<String> },
    /// The store writer's queue filled up (`true`) or caught up (`false`). While backed up,
    /// methods that need the store (table `store: writes`) are refused with a retryable
    /// UNAVAILABLE and `health` shows it.
    StoreBackpressure { backed_up: bool },
    /// Hot reload of the agent settings: whether a default model is configured, and the
    /// default run timeout for runs started from now on.
    AgentSettings { model_configured: bool, timeout: std::time::Duration },
    /// The pairing store as loaded from the state database, the device-token seed and the
    /// pairing policy (sent once at start, before `Ready`).
    Devices(Box<crate::devices::DevicesLoad>),
    /// `gateway.nodes.pairing` / `gateway.nodes.commands`, at start and on each reload.
    NodesPolicy(Box<crate::devices::NodesPolicy>),
    /// `gateway.auth.rateLimit` on a reload: the failed-attempt limiters take the new numbers
    /// (the browser one keeps its loopback exemption off); the addresses' histories are kept,
    /// as the reference's `updateConfig`.
    AuthRateLimit(crate::auth::limiter::RateLimitPolicy),
    /// The channel runtime's summary for `health` (`channels`, `channelOrder`, `channelLabels`);
    /// a change is broadcast as a fresh `health`.
    ChannelsHealth(Box<crate::wire::channels::ChannelsHealth>),
}

impl Hub {
    /// Applies one input at `now` (monotonic) / `wall` (for payloads). Poll after.
    pub fn handle_input(&mut self, now: Instant, wall: UnixMillis, input: HubInput) {
        self.last_wall = wall;
        match input {
            HubInput::Session { conn, event } => self.handle_session(now, wall, conn, event),
            HubInput::Call { caller, scopes, call } => {
                self.handle_call(now, wall, caller, &scopes, call);
                self.sync_timers();
            }
            HubInput::CallerGone(caller) => {
                self.agent.forget_caller(&caller);
                self.chat.forget_caller(&caller);
                self.sync_timers();
            }
            HubInput::Timeout => self.handle_timeout(now, wall),
            HubInput::Ready => self.set_ready(),
            HubInput::Shutdown { reason, restart_expected_ms } => self.begin_shutdown(now, &reason, restart_expected_ms),
            HubInput::Run { run, report } => self.handle_run(now, wall, &run, report),
            HubInput::History { caller, session_key, session_id, result } => match result {
                Ok(page) => self.handle_history(caller, &session_key, &session_id, page),
                Err(message) => self.handle_history_failed(caller, &message),
            },
            HubInput::HostReply { caller, reply } => self.handle_host_reply(&caller, reply),
            HubInput::HttpAuth { caller, ip, bearer } => self.handle_http_auth(now, caller, ip, bearer.as_deref()),
            HubInput::ConfigReload { status, last_error } => self.set_config_reload(wall, status, last_error),
            HubInput::StoreBackpressure { backed_up } => {
                self.store_backed_up = if backed_up { self.store_backed_up.or(Some(wall)) } else { None };
            }
            HubInput::Devices(load) => self.load_devices(*load),
            HubInput::NodesPolicy(policy) => {
                self.devices.auto_approve_local = policy.auto_approve_local;
                self.devices.commands = policy.commands;
            }
            HubInput::AuthRateLimit(policy) => {
                self.limiter.set_policy(policy);
                self.browser_limiter.set_policy(crate::auth::limiter::RateLimitPolicy { exempt_loopback: false, ..policy });
            }
            HubInput::ChannelsHealth(channels) => self.set_channels_health(wall, *channels),
            HubInput::AgentSettings { model_configured, timeout } => {
                self.set_model_configured(model_configured);
                self.set_agent_timeout(timeout);
            }
        }
    }
}
