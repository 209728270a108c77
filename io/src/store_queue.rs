//! The hub task's side of the store writer's bounded queue: it never waits on it. A command
//! that does not fit goes to a bounded overflow (order kept: later commands queue behind it)
//! and the queue is *backed up* until the writer has caught up; the hub task tells the hub
//! (`HubInput::StoreBackpressure`), which refuses new store work with a retryable UNAVAILABLE
//! and shows the state in `health`. A slow disk therefore slows store work only, never the
//! sockets.

use std::collections::VecDeque;
use std::future::Future;

use openclaw_core::hub::StoreCommand;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{self, OwnedPermit};

/// Commands held while the writer's queue is full (what in-flight runs still write while new
/// store work is refused). Past this, commands are dropped with an error log.
pub(crate) const STORE_OVERFLOW: usize = 4096;

/// The writer's queue plus its overflow. `J` is the writer's job type.
#[derive(Debug)]
pub(crate) struct StoreOutbox<J> {
    tx: mpsc::Sender<J>,
    overflow: VecDeque<J>,
    cap: usize,
}

impl<J: From<StoreCommand> + Send + 'static> StoreOutbox<J> {
    pub(crate) fn new(tx: mpsc::Sender<J>, cap: usize) -> Self {
        Self { tx, overflow: VecDeque::new(), cap }
    }

    /// Commands are waiting for room in the writer's queue.
    pub(crate) fn is_backed_up(&self) -> bool {
        !self.overflow.is_empty()
    }

    /// Queues `command` without waiting: into the writer's queue if it has room and nothing is
    /// waiting before it, else into the overflow.
    pub(crate) fn push(&mut self, command: StoreCommand) {
        let job = J::from(command);
        if self.is_backed_up() {
            return self.hold(job);
        }
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => self.hold(job),
            Err(TrySendError::Closed(_)) => tracing::error!("the session store writer has stopped; a change was not saved"),
        }
    }

    fn hold(&mut self, job: J) {
        if self.overflow.len() >= self.cap {
            tracing::error!(held = self.overflow.len(), "the session store is too far behind; a change was not saved");
            return;
        }
        self.overflow.push_back(job);
    }

    /// Resolves with a slot in the writer's queue (`None` if the writer stopped). Only
    /// meaningful while backed up; cheap to create and drop.
    pub(crate) fn room(&self) -> impl Future<Output = Option<OwnedPermit<J>>> + use<J> {
        let tx = self.tx.clone();
        async move { tx.reserve_owned().await.ok() }
    }

    /// Moves held commands into the writer's queue: the first into `slot` (from
    /// [`StoreOutbox::room`]), then as many as fit. A stopped writer (`None`) drops them.
    pub(crate) fn refill(&mut self, slot: Option<OwnedPermit<J>>) {
        let Some(slot) = slot else {
            if !self.overflow.is_empty() {
                tracing::error!(dropped = self.overflow.len(), "the session store writer has stopped; changes were not saved");
            }
            self.overflow.clear();
            return;
        };
        match self.overflow.pop_front() {
            Some(job) => drop(slot.send(job)),
            None => return,
        }
        while let Some(job) = self.overflow.pop_front() {
            match self.tx.try_send(job) {
                Ok(()) => {}
                Err(TrySendError::Full(job)) => return self.overflow.push_front(job),
                Err(TrySendError::Closed(_)) => return self.overflow.clear(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use openclaw_core::{RunId, UnixMillis};
    use serde_json::json;

    use super::*;

    fn save(n: u64) -> StoreCommand {
        StoreCommand::SaveRunResult { run: RunId(format!("r{n}")), response: json!({}), wait: json!({}), finished_at: UnixMillis(n) }
    }

    fn run_of(c: &StoreCommand) -> String {
        match c {
            StoreCommand::SaveRunResult { run, .. } => run.as_str().to_owned(),
            StoreCommand::SaveSession(_)
            | StoreCommand::DeleteSession { .. }
            | StoreCommand::AppendMessage { .. }
            | StoreCommand::ReadHistory { .. } => String::new(),
        }
    }

    /// A queue of one with a writer that reads nothing: pushing never waits, the second
    /// command backs the queue up, and everything arrives in order once the writer reads.
    #[tokio::test]
    async fn a_blocked_writer_backs_up_without_blocking_and_order_is_kept() {
        let (tx, mut writer) = mpsc::channel::<StoreCommand>(1);
        let mut outbox = StoreOutbox::new(tx, 8);
        outbox.push(save(1));
        assert!(!outbox.is_backed_up());
        outbox.push(save(2));
        outbox.push(save(3));
        assert!(outbox.is_backed_up(), "the writer is blocked");

        // No room while the writer reads nothing.
        let room = outbox.room();
        tokio::pin!(room);
        assert!(futures_poll_once(room.as_mut()).await.is_none());

        let mut seen = vec![run_of(&writer.recv().await.expect("first"))];
        let slot = room.await;
        outbox.refill(slot);
        assert!(outbox.is_backed_up(), "one of two held commands moved");
        seen.push(run_of(&writer.recv().await.expect("second")));
        outbox.refill(outbox.room().await);
        assert!(!outbox.is_backed_up(), "caught up");
        seen.push(run_of(&writer.recv().await.expect("third")));
        assert_eq!(seen, ["r1", "r2", "r3"]);
    }

    #[tokio::test]
    async fn the_overflow_is_bounded_and_a_stopped_writer_drops_what_is_held() {
        let (tx, writer) = mpsc::channel::<StoreCommand>(1);
        let mut outbox = StoreOutbox::new(tx, 2);
        for n in 0..10 {
            outbox.push(save(n));
        }
        assert_eq!(outbox.overflow.len(), 2, "bounded");
        drop(writer);
        outbox.refill(outbox.room().await);
        assert!(!outbox.is_backed_up());
    }

    /// Polls `fut` once: `Some` if it is ready.
    async fn futures_poll_once<F: Future + Unpin>(fut: F) -> Option<F::Output> {
        let mut fut = fut;
        std::future::poll_fn(|cx| match std::pin::Pin::new(&mut fut).poll(cx) {
            std::task::Poll::Ready(v) => std::task::Poll::Ready(Some(v)),
            std::task::Poll::Pending => std::task::Poll::Ready(None),
        })
        .await
    }
}
