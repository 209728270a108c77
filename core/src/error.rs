//! Errors by who is at fault, and the one function that maps them onto the wire.

use crate::ids::{CloseCode, RequestId};
use crate::methods::{Denial, Method};
use crate::wire::codec::FrameError;
use crate::wire::frames::ErrorShape;

/// The peer sent something this socket cannot accept. Never the gateway's fault.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PeerError {
    /// Bytes that are not a request frame (`rustls::InvalidMessage`).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A frame larger than the phase allows.
    #[error("frame of {len} bytes exceeds the limit")]
    Oversize { len: usize },
    /// A valid frame that the protocol forbids here (`InappropriateMessage`/`PeerMisbehaved`).
    #[error("{0}")]
    Violation(Violation),
    /// `connect` params that fail their schema.
    #[error("invalid connect params: {message}")]
    InvalidConnect { id: RequestId, message: String },
    /// Method params that fail their schema.
    #[error("invalid {} params: {message}", method.name())]
    InvalidParams { id: RequestId, method: Method, message: String },
    /// Authorisation refused the call.
    #[error("request {id:?} denied: {denial:?}")]
    Denied { id: RequestId, denial: Denial },
    /// A method name this gateway does not serve.
    #[error("unknown method: {}", method.name())]
    UnknownMethod { id: RequestId, method: Method },
    /// `connect` after `hello-ok`.
    #[error("connect is only valid as the first request")]
    ConnectAgain { id: RequestId },
}

/// Protocol rules broken by a well-formed frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    FirstRequestNotConnect { id: RequestId },
    WorkerIdentityClaimed,
    TooManyPendingFrames,
    RepeatedUnauthorizedCalls,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::FirstRequestNotConnect { .. } => "invalid handshake: first request must be connect",
            Self::WorkerIdentityClaimed => "invalid-handshake",
            Self::TooManyPendingFrames => "too many pending handshake frames",
            Self::RepeatedUnauthorizedCalls => "repeated unauthorized calls",
        })
    }
}

/// Whether the socket has completed `connect`; the same error can mean different things.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    PreAuth,
    PostAuth,
}

/// What the peer sees for an error.
#[derive(Clone, Debug, PartialEq)]
pub enum WireEffect {
    /// Logged, nothing sent, socket stays open.
    Ignore,
    /// An error `res`; socket stays open.
    Respond { id: RequestId, error: ErrorShape },
    /// An error `res` echoing an `id` that is not a valid request id (`7`, `""`, …).
    RespondRawId { id: serde_json::Value, error: ErrorShape },
    /// Close without a response.
    Close { code: CloseCode, reason: String },
    /// An error `res`, then close.
    RespondAndClose { id: RequestId, error: ErrorShape, code: CloseCode, reason: String },
}

/// Maps a peer error onto the wire (protocol.md §1.2).
pub fn effect(err: &PeerError, stage: Stage) -> WireEffect {
    let policy = |reason: &str| WireEffect::Close { code: CloseCode::POLICY, reason: reason.into() };
    match (err, stage) {
        (PeerError::Frame(FrameError::NotJson), Stage::PreAuth) => {
            WireEffect::Close { code: CloseCode::NORMAL, reason: String::new() }
        }
        (PeerError::Frame(FrameError::NotJson), Stage::PostAuth) => WireEffect::Ignore,
        (PeerError::Frame(FrameError::Invalid { .. }), Stage::PreAuth) => policy("invalid request frame"),
        (PeerError::Frame(FrameError::Invalid { id, message }), Stage::PostAuth) => {
            WireEffect::RespondRawId {
                id: id.clone().unwrap_or_else(|| serde_json::Value::from("invalid")),
                error: ErrorShape::invalid_request(format!("invalid request frame: {message}")),
            }
        }
        // The reference's ws library closes with an empty reason here (observed), though its
        // own docs say "preauth payload too large".
        (PeerError::Oversize { .. }, Stage::PreAuth) => {
            WireEffect::Close { code: CloseCode::TOO_BIG, reason: String::new() }
        }
        (PeerError::Oversize { .. }, Stage::PostAuth) => {
            WireEffect::Close { code: CloseCode::TOO_BIG, reason: "Max payload size exceeded".into() }
        }
        (PeerError::Violation(v @ Violation::FirstRequestNotConnect { id }), _) => {
            let text = v.to_string();
            WireEffect::RespondAndClose {
                id: id.clone(),
                error: ErrorShape::invalid_request(text.clone()),
                code: CloseCode::POLICY,
                reason: text,
            }
        }
        (PeerError::Violation(v), _) => policy(&v.to_string()),
        (PeerError::InvalidConnect { id, .. }, _) => {
            let text = err.to_string();
            WireEffect::RespondAndClose {
                id: id.clone(),
                error: ErrorShape::invalid_request(text.clone()),
                code: CloseCode::POLICY,
                reason: text,
            }
        }
        (PeerError::InvalidParams { id, .. }, _) => {
            WireEffect::Respond { id: id.clone(), error: ErrorShape::invalid_request(err.to_string()) }
        }
        (PeerError::Denied { id, denial }, _) => WireEffect::Respond { id: id.clone(), error: denial.to_error() },
        (PeerError::UnknownMethod { id, .. } | PeerError::ConnectAgain { id }, _) => {
            WireEffect::Respond { id: id.clone(), error: ErrorShape::invalid_request(err.to_string()) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_json_closes_before_auth_and_is_ignored_after() {
        let e = PeerError::Frame(FrameError::NotJson);
        assert_eq!(effect(&e, Stage::PreAuth), WireEffect::Close { code: CloseCode::NORMAL, reason: String::new() });
        assert_eq!(effect(&e, Stage::PostAuth), WireEffect::Ignore);
    }

    #[test]
    fn invalid_frame_without_id_answers_with_id_invalid() {
        let e = PeerError::Frame(FrameError::Invalid { id: None, message: "x".into() });
        let WireEffect::RespondRawId { id, error } = effect(&e, Stage::PostAuth) else {
            panic!("post-auth invalid frames are answered");
        };
        assert_eq!(id, "invalid");
        assert_eq!(error.message, "invalid request frame: x");
    }
}
