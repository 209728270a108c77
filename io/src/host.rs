//! The host side of [`HubOutput::Host`](openclaw_core::HubOutput): requests the hub hands out
//! because answering them needs files (`logs.tail`, `config.*`). The CLI supplies a
//! [`HostHandler`]; each request runs in its own task and its answer goes back into the hub.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use openclaw_core::wire::frames::{ErrorCode, ErrorShape};
use openclaw_core::wire::host::HostRequest;
use openclaw_core::{ConnId, RequestId};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::hub_task::HubInput;

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
    pub(crate) fn dispatch(&self, conn: ConnId, id: RequestId, request: HostRequest, hub: mpsc::Sender<HubInput>) {
        let Some(handler) = self.0.clone() else {
            let error = ErrorShape::new(
                ErrorCode::Unavailable,
                format!("{} is not available in this gateway", request.method_name()),
            );
            // The hub input queue is bounded; never wait on it from the hub task itself.
            tokio::spawn(async move {
                let _ = hub.send(HubInput::HostReply { conn, id, reply: Err(error) }).await;
            });
            return;
        };
        tokio::spawn(async move {
            let reply = handler.handle(request).await;
            let _ = hub.send(HubInput::HostReply { conn, id, reply }).await;
        });
    }
}
