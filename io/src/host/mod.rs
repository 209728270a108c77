//! The host side of [`HubOutput::Host`](openclaw_core::HubOutput): requests the hub hands out
//! because answering them needs files (`logs.tail`, `config.*`). Each request runs in its own
//! task and its answer goes back into the hub.
//!
//! [`FileHost`] answers them from the config file and the log file: `logs.tail` ([`logs`])
//! reads the file the gateway logs to; the `config.*` family ([`config`]) reads and writes the
//! config file and may ask for an in-process restart ([`RestartRequest`]). A gateway started
//! with a `config_path` and no handler of its own uses a `FileHost` (so any embedding answers
//! `config.*`); the CLI adds its logger and its run loop's restart channel.

mod config;
mod logs;

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use openclaw_core::wire::frames::{ErrorCode, ErrorShape};
use openclaw_core::wire::host::HostRequest;
use openclaw_core::Caller;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::hub_task::HubInput;
use crate::logs::LogHandle;

/// What a [`HostHandler`] returns: the `res` payload, or the error the caller sees.
pub type HostFuture = Pin<Box<dyn Future<Output = Result<Value, ErrorShape>> + Send>>;

/// Answers the requests only the host can (files, restart). Implementations must not block.
pub trait HostHandler: Send + Sync + 'static {
    fn handle(&self, request: HostRequest) -> HostFuture;
}

/// The handler a [`ServerConfig`](crate::ServerConfig) carries; `None` answers UNAVAILABLE.
#[derive(Clone, Default)]
pub struct Host(pub Option<Arc<dyn HostHandler>>);

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Host(handler)" } else { "Host(none)" })
    }
}

impl Host {
    pub fn new(handler: impl HostHandler) -> Self {
        Self(Some(Arc::new(handler)))
    }

    /// Runs `request` off the hub task and feeds the answer back as [`HubInput::HostReply`].
    pub(crate) fn dispatch(&self, caller: Caller, request: HostRequest, hub: mpsc::Sender<HubInput>) {
        let Some(handler) = self.0.clone() else {
            let error = ErrorShape::new(
                ErrorCode::Unavailable,
                format!("{} is not available in this gateway", request.method_name()),
            );
            // The hub input queue is bounded; never wait on it from the hub task itself.
            tokio::spawn(async move {
                let _ = hub.send(HubInput::HostReply { caller, reply: Err(error) }).await;
            });
            return;
        };
        tokio::spawn(async move {
            let reply = handler.handle(request).await;
            let _ = hub.send(HubInput::HostReply { caller, reply }).await;
        });
    }
}

/// A request for the embedder's run loop to restart the gateway in-process (lifecycle.md §5.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestartRequest {
    /// Logged and sent as the `shutdown` event's reason.
    pub reason: String,
    /// How long to wait before restarting (clamped to 0..=60 s by the sender).
    pub delay: Duration,
}

/// Answers `logs.tail` and `config.*` from the files: where they are and how to reach the run
/// loop.
#[derive(Clone, Debug)]
pub struct FileHost {
    pub config_path: PathBuf,
    /// Backups' audit log and the restart sentinel go here.
    pub state_dir: PathBuf,
    /// The installed logger: `logs.tail` asks it which file is current (the day's rolling
    /// file or `logging.file`) and redacts with its secrets. `None`: the default logger's file.
    pub logs: Option<LogHandle>,
    /// Bounded; a full queue means a restart is already pending. `None`: nobody can restart
    /// this gateway, so an edit that needs one is written and reported as not applied.
    pub restart: Option<mpsc::Sender<RestartRequest>>,
}

impl FileHost {
    /// The files of `config_path`, with the state dir beside it when none is given, the
    /// process's installed logger, and no restart channel.
    pub fn new(config_path: PathBuf, state_dir: Option<PathBuf>) -> Self {
        let state_dir = state_dir
            .or_else(|| config_path.parent().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("."));
        Self { config_path, state_dir, logs: crate::logs::installed(), restart: None }
    }
}

impl HostHandler for FileHost {
    fn handle(&self, request: HostRequest) -> HostFuture {
        let host = self.clone();
        match request {
            HostRequest::LogsTail(params) => Box::pin(async move { logs::tail(&host, params).await }),
            other @ (HostRequest::ConfigGet
            | HostRequest::ConfigSchema
            | HostRequest::ConfigSet(_)
            | HostRequest::ConfigApply(_)
            | HostRequest::ConfigPatch(_)) => Box::pin(async move { config::handle(&host, other).await }),
            // The channel runtime answers these (`channels::ChannelsHost` in front of this one).
            other @ (HostRequest::ChannelsStatus(_) | HostRequest::Send(_) | HostRequest::ChannelsAccount(..) | HostRequest::WebLoginStart(_) | HostRequest::WebLoginWait(_)) => {
                let error = ErrorShape::new(ErrorCode::Unavailable, format!("{} needs the channel runtime", other.method_name()));
                Box::pin(async move { Err(error) })
            }
        }
    }
}
