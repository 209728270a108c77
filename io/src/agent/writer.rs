//! The store writer: one task that applies the hub's store commands in arrival order and
//! serves every transcript read, so a read sees every write queued before it.

use std::sync::Arc;

use openclaw_core::hub::StoreCommand;
use openclaw_core::limits::IDEMPOTENCY_TTL;
use openclaw_core::turn::ChatMessage;
use openclaw_core::wire::agent::{RunErrorKind, RunFailure};
use openclaw_core::UnixMillis;
use tokio::sync::{mpsc, oneshot};

use super::store::{MessageOwner, Store};
use crate::hub_task::HubInput;

/// Work for the store writer, done in arrival order.
pub(super) enum WriterJob {
    Command(StoreCommand),
    /// The conversation a run sends to the model.
    LoadHistory { session_id: String, limit: usize, reply: oneshot::Sender<Result<Vec<ChatMessage>, String>> },
}

impl From<StoreCommand> for WriterJob {
    fn from(command: StoreCommand) -> Self {
        Self::Command(command)
    }
}

/// Store commands waiting for the writer; beyond this the hub task holds them in its
/// overflow and the store is backed up (`crate::store_queue`).
pub(super) const STORE_QUEUE: usize = 1024;

/// Reads the session's transcript through the writer, after every write queued before.
pub(super) async fn load_history(
    writer: &mpsc::Sender<WriterJob>,
    session_id: &str,
    limit: usize,
) -> Result<Vec<ChatMessage>, RunFailure> {
    let stopped = || RunFailure {
        kind: RunErrorKind::Unknown,
        message: "the session store writer has stopped".into(),
        http_status: None,
    };
    let (reply, answer) = oneshot::channel();
    let job = WriterJob::LoadHistory { session_id: session_id.to_owned(), limit, reply };
    writer.send(job).await.map_err(|_| stopped())?;
    answer.await.map_err(|_| stopped())?.map_err(|e| RunFailure {
        kind: RunErrorKind::Unknown,
        message: format!("reading the transcript failed: {e}"),
        http_status: None,
    })
}

pub(super) async fn write_loop(store: Arc<Store>, mut queue: mpsc::Receiver<WriterJob>, hub: mpsc::Sender<HubInput>) {
    while let Some(job) = queue.recv().await {
        let command = match job {
            WriterJob::LoadHistory { session_id, limit, reply } => {
                let s = Arc::clone(&store);
                let read = tokio::task::spawn_blocking(move || s.history(&session_id, limit)).await;
                let _ = reply.send(match read {
                    Ok(Ok(messages)) => Ok(messages),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => Err(format!("the transcript reader failed: {e}")),
                });
                continue;
            }
            WriterJob::Command(command) => command,
        };
        if let StoreCommand::ReadHistory { caller, session_key, session_id, query } = command {
            let s = Arc::clone(&store);
            let sid = session_id.clone();
            let read = tokio::task::spawn_blocking(move || s.history_page(&sid, query)).await;
            let result = match read {
                Ok(Ok(page)) => Ok(page),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(format!("the history reader failed: {e}")),
            };
            // Never wait on the hub here: the hub may be waiting for this queue (a cycle).
            let hub = hub.clone();
            tokio::spawn(async move {
                let _ = hub.send(HubInput::History { caller, session_key, session_id, result }).await;
            });
            continue;
        }
        let store = Arc::clone(&store);
        let done = tokio::task::spawn_blocking(move || match &command {
            StoreCommand::SaveSession(entry) => store.save_session(entry),
            StoreCommand::DeleteSession { key, session_id, delete_transcript, archive } => {
                // Archive first; a failed archive keeps the messages (nothing is lost).
                let keep = match archive {
                    Some(path) => match super::store::archive_transcript(&store, key, std::path::Path::new(path)) {
                        Ok(()) => false,
                        Err(e) => {
                            tracing::error!(error = %e, %path, "transcript not archived; its messages are kept");
                            true
                        }
                    },
                    None => false,
                };
                store.delete_session(key, session_id, *delete_transcript && !keep)
            }
            StoreCommand::SaveRunResult { run, response, wait, finished_at } => {
                let ttl = u64::try_from(IDEMPOTENCY_TTL.as_millis()).unwrap_or(u64::MAX);
                let keep_after = UnixMillis(finished_at.0.saturating_sub(ttl));
                store.save_run_result(run.as_str(), response, wait, *finished_at, keep_after)
            }
            StoreCommand::AppendMessage { session_key, session_id, agent_id, run, message } => {
                let owner = MessageOwner { session_key, session_id, agent_id, run_id: run.as_str() };
                store.append_message(&owner, message)
            }
            StoreCommand::ReadHistory { .. } => Ok(()),
        })
        .await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "saving to the session store failed"),
            Err(e) => tracing::error!(error = %e, "the session store writer failed"),
        }
    }
}
