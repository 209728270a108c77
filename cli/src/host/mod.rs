//! The CLI's [`HostHandler`]: answers the hub's file-backed requests. `logs.tail` reads the
//! gateway's JSON log file ([`logs`]); the `config.*` family reads and writes the config file
//! ([`config`]) and may ask the run loop for an in-process restart ([`RestartRequest`]).

mod config;
mod logs;

use std::path::PathBuf;
use std::time::Duration;

use openclaw_core::wire::host::HostRequest;
use openclaw_io::{HostFuture, HostHandler};
use tokio::sync::mpsc;

/// A request for the run loop to restart the gateway in-process (lifecycle.md §5.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestartRequest {
    /// Logged and sent as the `shutdown` event's reason.
    pub reason: String,
    /// How long to wait before restarting (clamped to 0..=60 s by the sender).
    pub delay: Duration,
}

/// Where the host's files are and how it reaches the run loop.
#[derive(Clone, Debug)]
pub struct CliHost {
    pub config_path: PathBuf,
    pub state_dir: PathBuf,
    /// The installed logger: `logs.tail` asks it which file is current (the day's rolling
    /// file or `logging.file`). `None` when logging could not be set up.
    pub logs: Option<openclaw_io::logs::LogHandle>,
    /// Bounded; a full queue means a restart is already pending.
    pub restart: mpsc::Sender<RestartRequest>,
}

impl HostHandler for CliHost {
    fn handle(&self, request: HostRequest) -> HostFuture {
        let host = self.clone();
        match request {
            HostRequest::LogsTail(params) => Box::pin(async move { logs::tail(&host, params).await }),
            other => Box::pin(async move { config::handle(&host, other).await }),
        }
    }
}
