//! Who asked: the one identity runs, waits, idempotency and event delivery are keyed by.
//!
//! A socket caller is a connection and the request id it used; its answers are rendered frames
//! ([`HubOutput::ToSession`](crate::HubOutput)), byte for byte as before callers existed. Every
//! other caller (an HTTP request, a channel message, a hook, the gateway itself) gets its
//! answers as values, [`HubOutput::ToCaller`](crate::HubOutput) with a [`CallerEvent`]: the
//! driver routes them to whoever waits (an HTTP handler, a channel task).

use serde_json::Value;

use crate::hub::RunOutcome;
use crate::ids::{ConnId, RequestId, RunId};
use crate::wire::frames::ErrorShape;

/// Who asked the hub for something.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Caller {
    /// A request frame on a WebSocket connection.
    Socket { conn: ConnId, id: RequestId },
    /// An HTTP request; `id` is the driver's, unique while the request lives.
    Http { id: u64 },
    /// A message that arrived on a chat channel account from `peer`.
    Channel { channel: String, account: String, peer: String },
    /// A hook call (`/hooks/<name>`); `id` is the driver's, unique while it runs.
    Hook { name: String, id: u64 },
    /// The gateway itself (timers, start-up work).
    Internal,
}

impl Caller {
    /// The socket and request id, for a socket caller.
    pub fn socket(&self) -> Option<(ConnId, &RequestId)> {
        match self {
            Self::Socket { conn, id } => Some((*conn, id)),
            Self::Http { .. } | Self::Channel { .. } | Self::Hook { .. } | Self::Internal => None,
        }
    }

    /// True for a request that came on `conn`.
    pub fn is_on(&self, conn: ConnId) -> bool {
        self.socket().is_some_and(|(c, _)| c == conn)
    }

    /// `socket`, `http`, `channel`, `hook` or `internal` (for errors and logs).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Socket { .. } => "socket",
            Self::Http { .. } => "http",
            Self::Channel { .. } => "channel",
            Self::Hook { .. } => "hook",
            Self::Internal => "internal",
        }
    }
}

/// What a non-socket caller receives, in order. For an `agent` run: `Response(Ok(accepted))`,
/// then the run's `Run` events (lifecycle, assistant deltas, tools), then `Final`; a duplicate
/// of a finished run gets `Final` alone. Any other method: one `Response`. The conversation
/// is over after `Final` or an error `Response`.
#[derive(Clone, Debug, PartialEq)]
pub enum CallerEvent {
    /// The answer (for a two-stage run, its first stage: `accepted` or `in_flight`).
    Response(Result<Value, ErrorShape>),
    /// One `agent` event of a run this caller started or joined, as sockets see its payload
    /// (`stream` is `lifecycle`, `assistant` with `data:{text, delta}`, or `tool`).
    Run { run: RunId, stream: String, data: Value },
    /// How the run ended: the second stage of the answer.
    Final { run: RunId, outcome: RunOutcome },
}

impl CallerEvent {
    /// Nothing more follows this event for the same call.
    pub fn is_last(&self) -> bool {
        matches!(self, Self::Final { .. } | Self::Response(Err(_)))
    }
}
