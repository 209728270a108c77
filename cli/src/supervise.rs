//! The run loop around one started gateway (lifecycle.md §5.5, §6): signals (SIGTERM/SIGINT
//! stop, SIGUSR1 restarts when `commands.restart` allows), restart requests (`config.apply`,
//! `config.patch`), and the config watcher's decisions (apply live, restart, report). A restart
//! drains the gateway (`shutdown` event, 1012 closes) and hands back to [`crate::run::run`],
//! which starts it again from the config on disk.

use std::time::Duration;

use openclaw_io::reload::{ConfigWatcher, ReloadEvent};
use openclaw_io::Gateway;
use tokio::sync::mpsc;

use crate::config::Paths;
use openclaw_io::RestartRequest;
use crate::run::{RunError, Stopped};

/// A started gateway and what watches over it.
pub(crate) struct Running {
    pub gateway: Gateway,
    pub paths: Paths,
    pub watcher: ConfigWatcher,
    pub reloads: mpsc::Receiver<ReloadEvent>,
    /// `commands.restart`: an external SIGUSR1 may restart.
    pub sigusr1_allowed: bool,
}

/// A signal the run loop acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signal {
    Term,
    Int,
    /// Restart in-process, when `commands.restart` allows it.
    Usr1,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Self::Term => "SIGTERM",
            Self::Int => "SIGINT",
            Self::Usr1 => "SIGUSR1",
        }
    }

    /// 128 + the signal number, for an abrupt exit.
    fn exit_code(self) -> u8 {
        match self {
            Self::Term => 143,
            Self::Int => 130,
            Self::Usr1 => 138,
        }
    }
}

/// SIGTERM/SIGINT/SIGUSR1 handlers, installed once for the life of the process (across
/// in-process restarts), before the gateway announces itself.
pub(crate) struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    usr1: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn install() -> Result<Self, RunError> {
        use tokio::signal::unix::{signal, SignalKind};
        let install = |kind| signal(kind).map_err(|e| RunError::Start(e.into()));
        Ok(Self {
            term: install(SignalKind::terminate())?,
            int: install(SignalKind::interrupt())?,
            usr1: install(SignalKind::user_defined1())?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.term.recv() => Signal::Term,
            _ = self.int.recv() => Signal::Int,
            _ = self.usr1.recv() => Signal::Usr1,
        }
    }
}

/// What the run loop does after a gateway stopped.
pub(crate) enum Next {
    Exit(Stopped),
    Restart,
}

/// Longest delay a restart request may ask for (lifecycle.md §5.5).
const MAX_RESTART_DELAY: Duration = Duration::from_secs(60);
/// Shortest: the answer to the `config.apply`/`config.patch` that asked travels to the hub on
/// another channel than the request reached us on; this leaves it time to be sent before the
/// sockets close (the reference's event loop gives the same order for a delay of 0).
const MIN_RESTART_DELAY: Duration = Duration::from_millis(200);
/// Clients are told to expect the gateway back within this (`shutdown.restartExpectedMs`).
const RESTART_EXPECTED_MS: u64 = 1500;

/// Watches signals, restart requests and config reloads until the gateway must stop or
/// restart, then drains it. A second SIGTERM/SIGINT during a drain exits at once.
pub(crate) async fn supervise(
    running: Running,
    signals: &mut Signals,
    restart_rx: &mut mpsc::Receiver<RestartRequest>,
) -> Result<Next, RunError> {
    let Running { gateway, paths, watcher, mut reloads, sigusr1_allowed } = running;
    // A scheduled restart: when, and why.
    let mut pending: Option<(tokio::time::Instant, String)> = None;
    let restart_reason = loop {
        let at = pending.as_ref().map(|(at, _)| *at);
        tokio::select! {
            signal = signals.next() => match signal {
                Signal::Usr1 if sigusr1_allowed => {
                    tracing::info!("received SIGUSR1; restarting");
                    break "SIGUSR1".to_owned();
                }
                Signal::Usr1 => tracing::warn!(
                    "SIGUSR1 restart ignored (not authorized; commands.restart=false or use gateway tool)."
                ),
                Signal::Term | Signal::Int => {
                    tracing::info!("received {}; shutting down", signal.name());
                    gateway.shutdown("gateway stopping", None);
                    return drain(gateway, signals).await.map(Next::Exit);
                }
            },
            Some(request) = restart_rx.recv() => {
                let delay = request.delay.clamp(MIN_RESTART_DELAY, MAX_RESTART_DELAY);
                tracing::info!("restart scheduled in {} ms ({})", delay.as_millis(), request.reason);
                let at = tokio::time::Instant::now() + delay;
                // The earliest request wins; reasons are kept for the log.
                pending = Some(match pending.take() {
                    Some((t, r)) if t <= at => (t, r),
                    _ => (at, request.reason),
                });
            }
            () = sleep_until(at), if at.is_some() => {
                let reason = pending.take().map(|(_, r)| r).unwrap_or_default();
                break reason;
            }
            Some(event) = reloads.recv() => match event {
                ReloadEvent::Apply { config, changed, plan } => {
                    match crate::reload::apply(&gateway, &paths, &config).await {
                        Ok(()) => tracing::info!("config hot reload applied ({})", changed.join(", ")),
                        Err(e) => tracing::warn!("config reload failed: {e}"),
                    }
                    if !plan.hot.is_empty() {
                        let actions: Vec<String> = plan.hot.iter().map(|a| format!("{a:?}")).collect();
                        tracing::info!("config reload: nothing to restart for {} (not in this build)", actions.join(", "));
                    }
                }
                ReloadEvent::Restart { reasons, .. } => {
                    break format!("config change ({})", reasons.join(", "));
                }
                ReloadEvent::Status { active, last_error } => gateway.set_config_reload(active, last_error).await,
            },
        }
    };
    tracing::info!("restarting gateway: {restart_reason}");
    drop(watcher);
    gateway.shutdown("gateway restarting", Some(RESTART_EXPECTED_MS));
    match drain(gateway, signals).await? {
        Stopped::Cleanly => Ok(Next::Restart),
        abrupt @ Stopped::Abruptly { .. } => Ok(Next::Exit(abrupt)),
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Waits for the drain; a second SIGTERM/SIGINT exits at once (SIGUSR1 is ignored here).
async fn drain(gateway: Gateway, signals: &mut Signals) -> Result<Stopped, RunError> {
    let wait = gateway.wait();
    tokio::pin!(wait);
    loop {
        tokio::select! {
            result = &mut wait => {
                result.map_err(RunError::Stopped)?;
                tracing::info!("gateway stopped");
                return Ok(Stopped::Cleanly);
            }
            signal = signals.next() => match signal {
                Signal::Usr1 => tracing::info!("received SIGUSR1 during shutdown; ignoring"),
                Signal::Term | Signal::Int => {
                    tracing::warn!("received {} again; exiting without waiting for the drain", signal.name());
                    return Ok(Stopped::Abruptly { code: signal.exit_code() });
                }
            },
        }
    }
}
