//! [`Gateway`]: binds the port, starts the hub and accept tasks, and shuts them down.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use openclaw_core::{Hub, Lifecycle};
use arc_swap::ArcSwap;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::admission::PreauthBudget;
use crate::agent::runner::AgentRuntime;
use crate::agent::Store;
use crate::canvas_reload::CanvasHost;
use crate::clock;
use crate::config::ServerConfig;
use crate::channels::{ChannelRuntime, ChannelsHost};
use crate::state_db::StateDb;
use crate::error::IoError;
use crate::settings::Settings;
use crate::host::{FileHost, Host};
use crate::http;
use crate::callers::HubHandle;
use crate::hub_task::{self, HubInput, ShutdownRequest, HUB_INPUT_CAPACITY};
use crate::identity::hub_config;

/// Pause after a failed `accept` (out of file descriptors, …) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Held by every connection task; [`Tracker::all_done`] resolves when none is left.
#[derive(Debug)]
pub(crate) struct TaskToken(#[allow(dead_code)] watch::Receiver<()>);

/// Counts live connection tasks (a watch channel's receiver count, so no lock).
#[derive(Debug)]
pub(crate) struct Tracker(watch::Sender<()>);

impl Tracker {
    pub(crate) fn token(&self) -> TaskToken {
        TaskToken(self.0.subscribe())
    }

    async fn all_done(&self) {
        self.0.closed().await;
    }
}

/// What the accept loop and every HTTP connection share. Immutable but for atomics and
/// channels.
pub(crate) struct Shared {
    pub config: ServerConfig,
    pub port: u16,
    pub status: watch::Receiver<Lifecycle>,
    pub shutdown: watch::Receiver<Option<ShutdownRequest>>,
    pub preauth: Arc<PreauthBudget>,
    pub hub: mpsc::Sender<HubInput>,
    pub next_conn: AtomicU64,
    pub tracker: Tracker,
    /// The HTTP route table (built once at start).
    pub router: http::Router,
    /// The live settings snapshot: `config.settings` at start, replaced by
    /// [`Gateway::apply_settings`]. Readers `load()` it per request and never hold it.
    pub settings: ArcSwap<Settings>,
    /// The way into the hub for HTTP handlers (the same one [`Gateway::hub_handle`] gives).
    pub hub_handle: HubHandle,
    /// The state database (`<state>/state/openclaw.sqlite`, in memory without a state dir);
    /// opened on first use.
    pub state_db: Arc<StateDb>,
    /// The canvas host, when on (a state dir and not `OPENCLAW_SKIP_CANVAS_HOST`).
    pub canvas: Option<CanvasHost>,
    /// The hooks' failed-token limiter and idempotency replay cache.
    pub hooks: http::HookState,
    /// The channel accounts, for hooks that deliver a reply to a chat.
    pub channels: Arc<ChannelRuntime>,
}

impl Shared {
    /// The hub's lifecycle, counting a requested-but-unprocessed shutdown as draining.
    pub(crate) fn lifecycle(&self) -> Lifecycle {
        if self.shutdown.borrow().is_some() {
            return Lifecycle::Draining;
        }
        *self.status.borrow()
    }
}

/// A running gateway. Binding happens in [`Gateway::start`], so [`Gateway::local_addr`] is
/// known at once.
pub struct Gateway {
    local_addr: SocketAddr,
    shutdown: watch::Sender<Option<ShutdownRequest>>,
    hub_task: JoinHandle<()>,
    accept_task: JoinHandle<()>,
    /// Ends after the hub, once every queued store change is written.
    store_writer: JoinHandle<()>,
    shared: Arc<Shared>,
    handle: HubHandle,
    /// The channel accounts (Telegram bots): started after listening, stopped before the hub.
    channels: Arc<ChannelRuntime>,
}

impl Gateway {
    /// Binds, starts the hub and the accept loop, and returns once `connect` is admitted.
    pub async fn start(config: ServerConfig) -> Result<Gateway, IoError> {
        let router = http::Router::builtin()
            .with_control_ui(&config.settings.gateway.control_ui);
        Self::start_with_router(config, router).await
    }

    /// [`Gateway::start`] with a route table of the caller's (tests add routes to the built-in
    /// ones).
    pub(crate) async fn start_with_router(config: ServerConfig, router: http::Router) -> Result<Gateway, IoError> {
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| IoError::Bind { addr: config.bind, source })?;
        let local_addr = listener.local_addr()?;
        let hub_cfg = hub_config(&config, clock::wall());
        let store = open_store(config.state_dir.is_some().then(|| hub_cfg.sessions_path.clone())).await?;
        let mut hub = Hub::new(hub_cfg, clock::now(), clock::wall());
        let (store, created_later) = match store {
            Opened::Now(store) => (Arc::new(store), false),
            Opened::Later(store) => (Arc::new(store), true),
        };
        if !created_later {
            restore(&mut hub, &store).await?;
        }
        let state_db = Arc::new(match &config.state_dir {
            Some(dir) => StateDb::in_state_dir(std::path::Path::new(dir)),
            None => StateDb::in_memory(),
        });
        load_devices(&mut hub, &state_db, config.settings.gateway.nodes_policy()).await?;
        let (status_tx, mut status_rx) = watch::channel(hub.lifecycle());
        let (shutdown_tx, shutdown_rx) = watch::channel(None);
        let (hub_tx, hub_rx) = mpsc::channel(HUB_INPUT_CAPACITY);
        let (runtime, store_writer) = AgentRuntime::new(config.settings.agent.clone(), Arc::clone(&store), hub_tx.clone())
            .map_err(|e| IoError::Agent(e.to_string()))?;
        let hub_handle = HubHandle::new(hub_tx.clone());
        let channels = Arc::new(
            ChannelRuntime::new(
                Arc::clone(&state_db),
                hub_handle.clone(),
                config.channel_loop.clone(),
                config.channel_poll_grace,
                config.state_dir.as_ref().map(PathBuf::from),
                config.whatsapp_link.clone(),
            )
                .map_err(|e| IoError::Task(format!("channel runtime: {e}")))?,
        );
        let host = Host::new(ChannelsHost { runtime: Arc::clone(&channels), inner: host_for(&config) });
        let hub_task = tokio::spawn(hub_task::run(
            hub,
            runtime,
            host,
            hub_tx.clone(),
            hub_rx,
            shutdown_rx.clone(),
            status_tx,
            Arc::clone(&state_db),
        ));
        let canvas = match (&config.state_dir, config.canvas_host) {
            (Some(dir), true) => Some(CanvasHost::start(PathBuf::from(dir).join("canvas").join("documents"))),
            _ => None,
        };
        let router = match &canvas {
            Some(host) => router.with_canvas(host.root.clone()),
            None => router,
        };
        let shared = Arc::new(Shared {
            canvas,
            hooks: http::HookState::default(),
            settings: ArcSwap::from_pointee(config.settings.clone()),
            port: local_addr.port(),
            preauth: PreauthBudget::new(config.max_preauth_per_ip),
            config,
            status: status_rx.clone(),
            shutdown: shutdown_rx,
            hub: hub_tx.clone(),
            next_conn: AtomicU64::new(1),
            tracker: Tracker(watch::channel(()).0),
            router,
            hub_handle,
            state_db,
            channels: Arc::clone(&channels),
        });
        let accept_task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        if created_later {
            // Create the new file now, beside the accept loop rather than before it; a failure
            // is logged here and reported again by the first write that needs the file.
            let store = Arc::clone(&store);
            drop(tokio::task::spawn_blocking(move || {
                if let Err(e) = store.ensure_open() {
                    tracing::warn!("{e}");
                }
            }));
        }
        // Listening: startup is over (protocol.md §2.5 step 1).
        hub_tx.send(HubInput::Ready).await.map_err(|_| IoError::Task("hub task ended".into()))?;
        status_rx
            .wait_for(|l| *l != Lifecycle::Starting)
            .await
            .map_err(|_| IoError::Task("hub task ended".into()))?;
        tracing::info!(addr = %local_addr, "gateway listening");
        // The channel accounts start once the gateway serves.
        channels.apply(&shared.settings.load().channels);
        let handle = shared.hub_handle.clone();
        drop(hub_tx);
        Ok(Gateway { local_addr, shutdown: shutdown_tx, hub_task, accept_task, store_writer, shared, handle, channels })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The way in for non-socket callers (HTTP handlers, channels, hooks): see
    /// [`crate::callers`].
    pub fn hub_handle(&self) -> HubHandle {
        self.handle.clone()
    }

    /// The state database (paired devices, channel offsets and pairing codes).
    pub fn state_db(&self) -> Arc<StateDb> {
        Arc::clone(&self.shared.state_db)
    }

    /// Hot reload (the running half of the one projection, [`Settings`]): runs started from
    /// now on use its agent settings and default run timeout (`models.*`, `agents.*`,
    /// `tools.*`); runs in flight finish on the settings they started with; HTTP handlers read
    /// the new snapshot on their next request (`gateway.http.endpoints`, `gateway.tools`,
    /// hooks); the hub takes `gateway.nodes.*` and `gateway.auth.rateLimit`. Never drops a
    /// connection. (Other `gateway.*` changes restart the gateway; see
    /// `openclaw_core::reload`.)
    pub async fn apply_settings(&self, settings: &Settings) {
        self.shared.settings.store(Arc::new(settings.clone()));
        // Restarts the channel accounts when `channels.*`/`session.*` changed.
        self.channels.apply(&settings.channels);
        let input = HubInput::AgentConfig { config: Box::new(settings.agent.clone()), timeout: settings.agent_timeout };
        let _ = self.shared.hub.send(input).await;
        // `gateway.nodes.pairing` / `.commands` apply at once (the reference's hot paths).
        let _ = self.shared.hub.send(HubInput::NodesPolicy(Box::new(settings.gateway.nodes_policy()))).await;
        let _ = self.shared.hub.send(HubInput::AuthRateLimit(settings.gateway.auth_rate_limit)).await;
    }

    /// Reports the config watcher's state: hot reload on or off, and why the last reload was
    /// not applied (shown by `health` as `configReload.lastError`).
    pub async fn set_config_reload(&self, hot_reload: bool, last_error: Option<String>) {
        use openclaw_core::wire::hello::HotReloadStatus;
        let status = if hot_reload { HotReloadStatus::Active } else { HotReloadStatus::Disabled };
        let _ = self.shared.hub.send(HubInput::ConfigReload { status, last_error }).await;
    }

    /// Begins graceful shutdown: the listener closes, every socket gets the `shutdown` event
    /// and a 1012 close, stragglers are terminated after the grace period. Idempotent.
    pub fn shutdown(&self, reason: &str, restart_expected_ms: Option<u64>) {
        self.shutdown.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(ShutdownRequest { reason: reason.to_owned(), restart_expected_ms });
            true
        });
    }

    /// Resolves when the hub has drained and every connection task has ended.
    pub async fn wait(self) -> Result<(), IoError> {
        let Gateway { hub_task, accept_task, store_writer, shared, shutdown, channels, .. } = self;
        // Channel accounts stop as soon as shutdown is requested (no new inbound while the hub
        // drains; no task outlives the gateway).
        let mut requested = shutdown.subscribe();
        let mut hub_task = hub_task;
        let hub_result = tokio::select! {
            r = &mut hub_task => {
                channels.stop().await;
                r
            }
            () = shutdown_requested(&mut requested) => {
                channels.stop().await;
                hub_task.await
            }
        };
        // A hub that ended on its own (it cannot, short of a panic) still stops the listener.
        shutdown.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(ShutdownRequest { reason: "gateway stopping".into(), restart_expected_ms: None });
            true
        });
        let accept_result = accept_task.await;
        shared.tracker.all_done().await;
        store_writer.await.map_err(|e| IoError::Task(e.to_string()))?;
        hub_result.map_err(|e| IoError::Task(e.to_string()))?;
        accept_result.map_err(|e| IoError::Task(e.to_string()))
    }
}

/// The configured host handler; without one, a [`FileHost`] on the config file when there is
/// one (so `config.*` and `logs.tail` work in any embedding), else none (UNAVAILABLE).
fn host_for(config: &ServerConfig) -> Host {
    match (&config.host.0, &config.config_path) {
        (None, Some(path)) => {
            Host::new(FileHost::new(PathBuf::from(path), config.state_dir.as_ref().map(PathBuf::from)))
        }
        _ => config.host.clone(),
    }
}

/// The session store, opened now (there are sessions to restore) or created later.
enum Opened {
    Now(Store),
    /// The file does not exist yet: nothing to restore, and creating it (the journal switch
    /// and its `fsync`s) need not delay the first `hello-ok`.
    Later(Store),
}

/// The session database under the state dir, or a private in-memory one without a state dir.
async fn open_store(path: Option<String>) -> Result<Opened, IoError> {
    let opened = tokio::task::spawn_blocking(move || match path {
        Some(p) => {
            let p = std::path::Path::new(&p);
            if p.exists() {
                Store::open(p).map(Opened::Now)
            } else {
                // Its folder now (no `fsync`; the state dir exists from here on, as before, and
                // a folder that cannot be made still stops the start).
                Store::deferred(p).with_folder().map(Opened::Later)
            }
        }
        None => Store::in_memory().map(Opened::Now),
    })
    .await
    .map_err(|e| IoError::Task(e.to_string()))?;
    Ok(opened?)
}

/// Gives the hub the persisted sessions and the run results still inside the idempotency TTL.
async fn restore(hub: &mut Hub, store: &Arc<Store>) -> Result<(), IoError> {
    let ttl = u64::try_from(openclaw_core::limits::IDEMPOTENCY_TTL.as_millis()).unwrap_or(u64::MAX);
    let since = openclaw_core::UnixMillis(clock::wall().0.saturating_sub(ttl));
    let s = Arc::clone(store);
    let (sessions, results) = tokio::task::spawn_blocking(move || Ok::<_, crate::agent::StoreError>((s.load_sessions()?, s.load_run_results(since)?)))
        .await
        .map_err(|e| IoError::Task(e.to_string()))??;
    hub.restore_sessions(sessions);
    for (run, response, wait, finished_at) in results {
        hub.restore_run_result(clock::now(), clock::wall(), openclaw_core::RunId(run), &response, wait, finished_at);
    }
    Ok(())
}

/// Loads the pairing store (paired devices survive a restart) and gives the hub a fresh
/// device-token seed.
async fn load_devices(hub: &mut Hub, db: &Arc<StateDb>, policy: openclaw_core::devices::NodesPolicy) -> Result<(), IoError> {
    let d = Arc::clone(db);
    let store = tokio::task::spawn_blocking(move || crate::devices_db::load(&d))
        .await
        .map_err(|e| IoError::Task(e.to_string()))?
        .map_err(|e| IoError::Task(format!("loading paired devices: {e}")))?;
    let mut token_seed = [0u8; 32];
    getrandom::fill(&mut token_seed).map_err(|e| IoError::Task(format!("no randomness for device tokens: {e}")))?;
    let load = openclaw_core::devices::DevicesLoad { store, token_seed, auto_approve_local: policy.auto_approve_local };
    hub.handle_input(clock::now(), clock::wall(), openclaw_core::HubInput::Devices(Box::new(load)));
    hub.handle_input(clock::now(), clock::wall(), openclaw_core::HubInput::NodesPolicy(Box::new(policy)));
    Ok(())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        tokio::select! {
            biased;
            () = shutdown_requested(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    tokio::spawn(serve_http(stream, remote, Arc::clone(&shared)));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    // Dropping the listener frees the port for a restarting gateway at once.
    drop(listener);
}

async fn serve_http(stream: TcpStream, remote: SocketAddr, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let svc_shared = Arc::clone(&shared);
    let service = service_fn(move |req| {
        let shared = Arc::clone(&svc_shared);
        async move { Ok::<_, Infallible>(http::handle(req, remote, shared).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.config.header_read_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let mut shutdown = shared.shutdown.clone();
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%remote, error = %e, "http connection ended");
            }
        }
        () = shutdown_requested(&mut shutdown) => {
            // Finish the request in flight (if any), then close; idle keep-alives close now.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Resolves once a shutdown has been requested (or the [`Gateway`] handle is gone).
async fn shutdown_requested(rx: &mut watch::Receiver<Option<ShutdownRequest>>) {
    // The guard `wait_for` returns must not live across the caller's next await.
    let _ = rx.wait_for(Option::is_some).await.map(|_| ());
}
