//! Runs agent turns for the hub: one task per run ([`super::turn`] drives core's turn policy
//! machine against the configured providers), reporting progress as [`RunReport`]s into the
//! hub's input queue. The hub decides what the transcript records; [`super::writer`] writes it,
//! in order, from one task that also serves every transcript read.

use std::collections::BTreeMap;
use std::sync::Arc;

use openclaw_core::hub::{RunCommand, StoreCommand};
use openclaw_core::wire::agent::RunReport;
use openclaw_core::RunId;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};

use super::config::AgentConfig;
use super::store::Store;
use super::tools::Tools;
use super::writer::{write_loop, WriterJob, STORE_QUEUE};
use crate::hub_task::HubInput;
use crate::store_queue::{StoreOutbox, STORE_OVERFLOW};
use crate::outbound::{Outbound, OutboundConfig, OutboundError};

/// What every run of one configuration shares.
pub(super) struct Shared {
    pub config: AgentConfig,
    pub outbound: Outbound,
    pub tools: Tools,
    pub writer: mpsc::Sender<WriterJob>,
    reports: mpsc::Sender<HubInput>,
}

impl Shared {
    fn new(config: AgentConfig, writer: mpsc::Sender<WriterJob>, reports: mpsc::Sender<HubInput>) -> Result<Self, OutboundError> {
        let outbound = Outbound::new(&OutboundConfig {
            connect_timeout: config.connect_timeout,
            // The turn machine watches the provider's silence (`idle_timeout`) and says so
            // clearly; this only backs it up.
            read_timeout: Some(config.idle_timeout.saturating_add(std::time::Duration::from_secs(5))),
            extra_root_certs: config.extra_root_certs.clone(),
        })?;
        let tools = Tools::for_config(&config);
        Ok(Self { config, outbound, tools, writer, reports })
    }
}

/// Owned by the hub task: starts and aborts run tasks, and hands store commands to the
/// writer task (which applies them in order).
pub(crate) struct AgentRuntime {
    shared: Arc<Shared>,
    tasks: BTreeMap<RunId, AbortHandle>,
}

impl AgentRuntime {
    /// Also returns the writer task, which ends after the runtime is dropped and every queued
    /// command is written.
    pub(crate) fn new(
        config: AgentConfig,
        store: Arc<Store>,
        reports: mpsc::Sender<HubInput>,
    ) -> Result<(Self, JoinHandle<()>), OutboundError> {
        let (writer, queue) = mpsc::channel(STORE_QUEUE);
        let shared = Arc::new(Shared::new(config, writer, reports.clone())?);
        let task = tokio::spawn(write_loop(store, queue, reports));
        Ok((Self { shared, tasks: BTreeMap::new() }, task))
    }

    /// Hot reload: runs started from now on use `config` (running ones keep theirs).
    pub(crate) fn set_config(&mut self, config: AgentConfig) -> Result<(), OutboundError> {
        let (writer, reports) = (self.shared.writer.clone(), self.shared.reports.clone());
        self.shared = Arc::new(Shared::new(config, writer, reports)?);
        Ok(())
    }

    /// The hub task's never-waiting way into the store writer's queue.
    pub(crate) fn store_outbox(&self) -> StoreOutbox<impl From<StoreCommand> + Send + 'static> {
        StoreOutbox::<WriterJob>::new(self.shared.writer.clone(), STORE_OVERFLOW)
    }

    pub(crate) fn handle(&mut self, command: RunCommand) {
        self.tasks.retain(|_, t| !t.is_finished());
        match command {
            RunCommand::Start(start) => {
                let run = start.run.clone();
                let shared = Arc::clone(&self.shared);
                let task = tokio::spawn(async move {
                    let reporter = Reporter { shared: &shared, run: start.run.clone() };
                    super::turn::run(&shared, &start, &reporter).await;
                });
                self.tasks.insert(run, task.abort_handle());
            }
            RunCommand::Abort { run, reason } => {
                if let Some(task) = self.tasks.remove(&run) {
                    tracing::info!(run = run.as_str(), ?reason, "aborting agent run");
                    task.abort();
                }
            }
        }
    }
}

impl Drop for AgentRuntime {
    fn drop(&mut self) {
        for task in self.tasks.values() {
            task.abort();
        }
    }
}

/// Reports for one run, in order.
pub(super) struct Reporter<'a> {
    shared: &'a Shared,
    run: RunId,
}

impl Reporter<'_> {
    pub(super) async fn send(&self, report: RunReport) {
        let input = HubInput::Run { run: self.run.clone(), report };
        // The hub is gone only at exit; nothing is left to tell.
        let _ = self.shared.reports.send(input).await;
    }
}
