//! How code outside the WebSocket path (HTTP handlers, channel tasks, hooks) asks the hub for
//! something and receives the answers: [`HubHandle::call`] / [`HubHandle::start_run`] register
//! a bounded per-caller channel with the hub task and return a [`CallerStream`] of
//! [`CallerEvent`]s.
//!
//! ```ignore
//! let hub = gateway.hub_handle();
//! let mut stream = hub.start_run(hub.http_caller(), scopes, params).await?;
//! while let Some(event) = stream.next().await {
//!     match event {
//!         CallerEvent::Response(Ok(accepted)) => {}          // first stage
//!         CallerEvent::Run { stream, data, .. } => {}        // lifecycle / assistant deltas / tool
//!         CallerEvent::Final { outcome, .. } => {}           // second stage; the stream ends
//!         CallerEvent::Response(Err(error)) => {}           // refused; the stream ends
//!     }
//! }
//! ```
//! The stream ends after its last event (`Final` or an error `Response`), or early (`None`)
//! when the caller fell more than [`CALLER_CAPACITY`] events behind or the gateway stopped.
//! Dropping the stream tells the hub that nobody waits any more.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openclaw_core::auth::scopes::ScopeSet;
use openclaw_core::methods::MethodCall;
use openclaw_core::wire::agent::AgentParams;
use openclaw_core::{Caller, CallerEvent};
use tokio::sync::mpsc;

use crate::error::IoError;
use crate::hub_task::HubInput;

/// Events waiting per non-socket caller; a caller further behind is dropped (its stream ends).
pub const CALLER_CAPACITY: usize = 1024;

/// A cloneable way into the hub for non-socket callers.
#[derive(Clone, Debug)]
pub struct HubHandle {
    tx: mpsc::Sender<HubInput>,
    next_id: Arc<AtomicU64>,
}

impl HubHandle {
    pub(crate) fn new(tx: mpsc::Sender<HubInput>) -> Self {
        Self { tx, next_id: Arc::new(AtomicU64::new(1)) }
    }

    /// A fresh HTTP caller identity (unique for this gateway's life).
    pub fn http_caller(&self) -> Caller {
        Caller::Http { id: self.next_id.fetch_add(1, Ordering::Relaxed) }
    }

    /// Reports the channel accounts for `health` (waits while the hub's input queue is full).
    pub(crate) async fn channels_health(&self, channels: openclaw_core::wire::channels::ChannelsHealth) -> Result<(), IoError> {
        self.tx.send(HubInput::ChannelsHealth(Box::new(channels))).await.map_err(|_| IoError::Task("hub task ended".into()))
    }

    /// A fresh caller identity for a hook (`/hooks/<name>`).
    pub fn hook_caller(&self, name: &str) -> Caller {
        Caller::Hook { name: name.to_owned(), id: self.next_id.fetch_add(1, Ordering::Relaxed) }
    }

    /// Sends `call` on behalf of `caller` (already authenticated, as an operator with `scopes`)
    /// and returns the stream of its answers. Waits while the hub's input queue is full.
    pub async fn call(&self, caller: Caller, scopes: ScopeSet, call: MethodCall) -> Result<CallerStream, IoError> {
        let (events, rx) = mpsc::channel(CALLER_CAPACITY);
        let input = HubInput::Call { caller, scopes, call: Box::new(call), events };
        self.tx.send(input).await.map_err(|_| IoError::Task("hub task ended".into()))?;
        Ok(CallerStream { rx, done: false })
    }

    /// Starts (or joins, or replays: the idempotency key decides) an agent run for `caller`.
    pub async fn start_run(&self, caller: Caller, scopes: ScopeSet, params: AgentParams) -> Result<CallerStream, IoError> {
        self.call(caller, scopes, MethodCall::Agent(Box::new(params))).await
    }
}

/// The answers to one call, in order.
#[derive(Debug)]
pub struct CallerStream {
    rx: mpsc::Receiver<CallerEvent>,
    done: bool,
}

impl CallerStream {
    /// The next event; `None` after the last one (or if the caller was dropped).
    pub async fn next(&mut self) -> Option<CallerEvent> {
        if self.done {
            return None;
        }
        let event = self.rx.recv().await?;
        self.done = event.is_last();
        Some(event)
    }
}
