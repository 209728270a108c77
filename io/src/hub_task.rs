//! The task that owns the [`Hub`]: it feeds session events, shutdown requests and deadlines in,
//! and routes each `ToSession` to that connection's bounded mailbox without ever blocking.

use std::collections::BTreeMap;
use std::sync::Arc;

use openclaw_core::wire::agent::RunReport;
use openclaw_core::auth::scopes::ScopeSet;
use openclaw_core::hub::StoreCommand;
use openclaw_core::methods::MethodCall;
use openclaw_core::{Caller, CallerEvent, ConnId, Hub, HubOutput, HubToSession, Lifecycle, RunId, SessionEvent};
use openclaw_core::HubInput as CoreInput;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};

use crate::agent::runner::AgentRuntime;
use crate::clock;
use crate::host::Host;
use crate::state_db::StateDb;
use crate::store_queue::StoreOutbox;
use crate::ws::Signals;

/// Hub → session messages waiting per connection; beyond this the socket is a slow consumer.
pub(crate) const MAILBOX_CAPACITY: usize = 1024;
/// Session → hub events waiting (all connections share it; senders wait, which throttles reads).
pub(crate) const HUB_INPUT_CAPACITY: usize = 1024;
/// Outputs carried out before the task yields to the runtime.
const BUDGET: usize = 512;

/// Into the hub task.
#[derive(Debug)]
pub(crate) enum HubInput {
    /// A session task is starting: where to deliver its messages. Sent before any event.
    Attach { conn: ConnId, mailbox: mpsc::Sender<Box<HubToSession>>, signals: Arc<Signals> },
    Session { conn: ConnId, event: SessionEvent },
    /// The listener is up: admit `connect` from now on.
    Ready,
    /// Progress of an agent run the hub started.
    Run { run: RunId, report: RunReport },
    /// The answer to a `StoreCommand::ReadHistory`.
    History {
        caller: Caller,
        session_key: String,
        session_id: String,
        result: Result<openclaw_core::hub::HistoryPage, String>,
    },
    /// Hot reload: agent runs started from now on use this config and default timeout.
    AgentConfig { config: Box<crate::agent::AgentConfig>, timeout: std::time::Duration },
    /// A request from a non-socket caller: its answers go to `events` (see `crate::callers`).
    Call {
        caller: Caller,
        scopes: ScopeSet,
        call: Box<MethodCall>,
        events: mpsc::Sender<CallerEvent>,
    },
    /// Hot reload: `gateway.nodes.pairing` / `gateway.nodes.commands`.
    NodesPolicy(Box<openclaw_core::devices::NodesPolicy>),
    /// Hot reload: `gateway.auth.rateLimit`.
    AuthRateLimit(openclaw_core::auth::limiter::RateLimitPolicy),
    /// The channel runtime's accounts for `health.channels`.
    ChannelsHealth(Box<openclaw_core::wire::channels::ChannelsHealth>),
    /// The config watcher's status for `health.configReload`.
    ConfigReload { status: openclaw_core::wire::hello::HotReloadStatus, last_error: Option<String> },
    /// An HTTP request's `Authorization: Bearer` credential to check against `gateway.auth`
    /// on the hub's failed-attempt limiter (the one `connect` uses).
    HttpAuth {
        caller: Caller,
        ip: std::net::IpAddr,
        bearer: Option<String>,
        reply: AuthReply,
    },
    /// The answer to a `HubOutput::Host` request.
    HostReply {
        caller: Caller,
        reply: Result<serde_json::Value, openclaw_core::wire::frames::ErrorShape>,
    },
}

/// Where the answer to one HTTP auth check goes (the request handler waits on it).
pub(crate) type AuthReply = tokio::sync::oneshot::Sender<Result<(), openclaw_core::hub::HttpAuthRefusal>>;

/// A `Gateway::shutdown` request.
#[derive(Clone, Debug)]
pub(crate) struct ShutdownRequest {
    pub reason: String,
    pub restart_expected_ms: Option<u64>,
}

struct Route {
    /// Boxed: a tokio channel allocates 32 slots up front, and an idle socket should not pay
    /// 32 × `size_of::<HubToSession>()` for them (issue #11 §2).
    mailbox: mpsc::Sender<Box<HubToSession>>,
    signals: Arc<Signals>,
}

/// Drives `hub` until it has drained; publishes its lifecycle on `status`.
pub(crate) async fn run(
    mut hub: Hub,
    mut runtime: AgentRuntime,
    host: Host,
    hub_tx: mpsc::Sender<HubInput>,
    mut inputs: mpsc::Receiver<HubInput>,
    mut shutdown: watch::Receiver<Option<ShutdownRequest>>,
    status: watch::Sender<Lifecycle>,
    state_db: Arc<StateDb>,
) {
    let mut routes: BTreeMap<ConnId, Route> = BTreeMap::new();
    let mut callers: BTreeMap<Caller, mpsc::Sender<CallerEvent>> = BTreeMap::new();
    let mut auths: BTreeMap<Caller, AuthReply> = BTreeMap::new();
    let mut store = runtime.store_outbox();
    let mut store_reported = false;
    let mut shutdown_open = true;
    loop {
        let mut wait = drain(&mut hub, &routes, &mut callers, &mut auths, &mut runtime, &mut store, &host, &hub_tx, &state_db).await;
        // The store queue filled up or caught up: the hub refuses or admits store work.
        while store.is_backed_up() != store_reported {
            store_reported = store.is_backed_up();
            let input = CoreInput::StoreBackpressure { backed_up: store_reported };
            hub.handle_input(clock::now(), clock::wall(), input);
            wait = drain(&mut hub, &routes, &mut callers, &mut auths, &mut runtime, &mut store, &host, &hub_tx, &state_db).await;
        }
        // Callers nobody listens to any more (dropped streams, overflow): the hub forgets them.
        let gone: Vec<Caller> = callers.iter().filter(|(_, tx)| tx.is_closed()).map(|(c, _)| c.clone()).collect();
        for caller in gone {
            callers.remove(&caller);
            hub.handle_input(clock::now(), clock::wall(), CoreInput::CallerGone(caller));
            wait = drain(&mut hub, &routes, &mut callers, &mut auths, &mut runtime, &mut store, &host, &hub_tx, &state_db).await;
        }
        let lifecycle = hub.lifecycle();
        status.send_if_modified(|l| std::mem::replace(l, lifecycle) != lifecycle);
        if hub.is_drained() {
            break;
        }
        let deadline = wait.map(|(at, _)| at);
        let sleep_at = clock::to_tokio(deadline.unwrap_or_default());
        let backed_up = store.is_backed_up();
        let store_room = store.room();
        tokio::select! {
            biased;
            slot = store_room, if backed_up => store.refill(slot),
            changed = shutdown.changed(), if shutdown_open => match changed {
                Ok(()) => {
                    let request = shutdown.borrow_and_update().clone();
                    if let Some(r) = request {
                        tracing::info!(reason = %r.reason, "gateway shutting down");
                        let input = CoreInput::Shutdown { reason: r.reason, restart_expected_ms: r.restart_expected_ms };
                        hub.handle_input(clock::now(), clock::wall(), input);
                    }
                }
                Err(_) => shutdown_open = false,
            },
            input = inputs.recv() => match input {
                Some(HubInput::Attach { conn, mailbox, signals }) => {
                    routes.insert(conn, Route { mailbox, signals });
                }
                Some(HubInput::Session { conn, event }) => {
                    if matches!(event, SessionEvent::Closed) {
                        routes.remove(&conn);
                    }
                    hub.handle_input(clock::now(), clock::wall(), CoreInput::Session { conn, event });
                }
                Some(HubInput::Ready) => hub.handle_input(clock::now(), clock::wall(), CoreInput::Ready),
                Some(HubInput::Call { caller, scopes, call, events }) => {
                    callers.insert(caller.clone(), events);
                    hub.handle_input(clock::now(), clock::wall(), CoreInput::Call { caller, scopes, call: *call });
                }
                Some(HubInput::Run { run, report }) => {
                    hub.handle_input(clock::now(), clock::wall(), CoreInput::Run { run, report });
                }
                Some(HubInput::History { caller, session_key, session_id, result }) => {
                    let input = CoreInput::History { caller, session_key, session_id, result };
                    hub.handle_input(clock::now(), clock::wall(), input);
                }
                Some(HubInput::HostReply { caller, reply }) => {
                    hub.handle_input(clock::now(), clock::wall(), CoreInput::HostReply { caller, reply });
                }
                Some(HubInput::HttpAuth { caller, ip, bearer, reply }) => {
                    auths.insert(caller.clone(), reply);
                    hub.handle_input(clock::now(), clock::wall(), CoreInput::HttpAuth { caller, ip, bearer });
                }
                Some(HubInput::AgentConfig { config, timeout }) => {
                    let settings = CoreInput::AgentSettings { model_configured: config.model.is_some(), timeout };
                    hub.handle_input(clock::now(), clock::wall(), settings);
                    if let Err(e) = runtime.set_config(*config) {
                        tracing::warn!("config reload failed: agent settings not applied: {e}");
                    }
                }
                Some(HubInput::NodesPolicy(policy)) => {
                    hub.handle_input(clock::now(), clock::wall(), CoreInput::NodesPolicy(policy));
                }
                Some(HubInput::AuthRateLimit(policy)) => {
                    hub.handle_input(clock::now(), clock::wall(), CoreInput::AuthRateLimit(policy));
                }
                Some(HubInput::ChannelsHealth(channels)) => {
                    hub.handle_input(clock::now(), clock::wall(), CoreInput::ChannelsHealth(channels));
                }
                Some(HubInput::ConfigReload { status, last_error }) => {
                    hub.handle_input(clock::now(), clock::wall(), CoreInput::ConfigReload { status, last_error });
                }
                None => break,
            },
            () = tokio::time::sleep_until(sleep_at), if deadline.is_some() => {
                // Trust the clock, not the timer (quinn `drive_timer`).
                let now = clock::now();
                if deadline.is_some_and(|at| now >= at) {
                    hub.handle_input(now, clock::wall(), CoreInput::Timeout);
                }
            }
        }
    }
    status.send_replace(Lifecycle::Drained);
}

/// Carries out outputs until `Wait`, yielding every [`BUDGET`] outputs.
#[allow(clippy::too_many_arguments)]
async fn drain<J: From<StoreCommand> + Send + 'static>(
    hub: &mut Hub,
    routes: &BTreeMap<ConnId, Route>,
    callers: &mut BTreeMap<Caller, mpsc::Sender<CallerEvent>>,
    auths: &mut BTreeMap<Caller, AuthReply>,
    runtime: &mut AgentRuntime,
    store: &mut StoreOutbox<J>,
    host: &Host,
    hub_tx: &mpsc::Sender<HubInput>,
    state_db: &StateDb,
) -> Option<(openclaw_core::Instant, openclaw_core::HubTimer)> {
    let mut budget = BUDGET;
    loop {
        match hub.poll_output() {
            HubOutput::ToSession(conn, msg) => deliver(routes, conn, msg),
            HubOutput::ToCaller(caller, event) => deliver_to_caller(callers, caller, event),
            HubOutput::Run(command) => runtime.handle(command),
            // Never waits: a full store queue is a state the hub is told about, not a stall.
            HubOutput::Store(command) => store.push(command),
            HubOutput::Host { caller, request } => host.dispatch(caller, request, hub_tx.clone()),
            HubOutput::HttpAuth { caller, result } => {
                if let Some(reply) = auths.remove(&caller) {
                    let _ = reply.send(result);
                }
            }
            // Written before the outputs after it (an approval is on disk before it is
            // answered); one short SQLite transaction.
            HubOutput::Devices(ops) => {
                if let Err(e) = crate::devices_db::apply(state_db, &ops) {
                    tracing::error!("pairing store not saved: {e}");
                }
            }
            HubOutput::Wait(wait) => return wait,
        }
        budget -= 1;
        if budget == 0 {
            budget = BUDGET;
            tokio::task::yield_now().await;
        }
    }
}

/// Hands `event` to the caller's stream without waiting. A caller that fell
/// [`CALLER_CAPACITY`](crate::callers::CALLER_CAPACITY) events behind is dropped (its stream
/// ends early; the hub is told it is gone on the next turn).
fn deliver_to_caller(callers: &mut BTreeMap<Caller, mpsc::Sender<CallerEvent>>, caller: Caller, event: CallerEvent) {
    let Some(tx) = callers.get(&caller) else { return };
    let last = event.is_last();
    match tx.try_send(event) {
        Ok(()) if last => {
            callers.remove(&caller);
        }
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            tracing::debug!(caller = caller.kind(), "caller stream full; dropping the caller");
            // Replacing the sender with a closed one makes the next turn report it gone.
            let (closed, _) = mpsc::channel(1);
            callers.insert(caller, closed);
        }
        Err(TrySendError::Closed(_)) => {}
    }
}

fn deliver(routes: &BTreeMap<ConnId, Route>, conn: ConnId, msg: HubToSession) {
    let Some(route) = routes.get(&conn) else { return };
    match route.mailbox.try_send(Box::new(msg)) {
        Ok(()) => {}
        // Blocking here would stall every other socket: close this one instead.
        Err(TrySendError::Full(_)) => {
            tracing::debug!(%conn, "session mailbox full; closing as slow consumer");
            route.signals.raise(&route.signals.hub_overflow);
        }
        Err(TrySendError::Closed(_)) => {}
    }
}
