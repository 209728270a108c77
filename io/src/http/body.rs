//! A request body read as it arrives, bounded by the route's size limit and read timeout.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::CONTENT_LENGTH;
use hyper::HeaderMap;
use serde_json::Value;

use super::HttpError;
use crate::clock;

/// The body of a request. Nothing is buffered until a handler reads it; every read counts
/// toward the limit and shares one deadline.
pub(crate) struct RequestBody {
    incoming: Incoming,
    limit: usize,
    /// `Content-Length`, when the client declared one.
    declared: Option<u64>,
    read: usize,
    deadline: tokio::time::Instant,
}

impl RequestBody {
    pub(super) fn new(incoming: Incoming, headers: &HeaderMap, limit: usize, timeout: Duration) -> Self {
        let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
        Self { incoming, limit, declared, read: 0, deadline: clock::deadline_in(timeout) }
    }

    /// The next piece of the body, `None` at its end. A declared length over the limit is
    /// refused before anything is read; otherwise the limit is counted as bytes arrive.
    pub(crate) async fn chunk(&mut self) -> Result<Option<Bytes>, HttpError> {
        if self.declared.is_some_and(|n| n > self.limit as u64) {
            return Err(HttpError::PayloadTooLarge);
        }
        loop {
            let frame = match tokio::time::timeout_at(self.deadline, self.incoming.frame()).await {
                Err(_) => return Err(HttpError::BodyTimeout),
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => return Err(HttpError::BadRequest(format!("request body: {e}"))),
                Ok(Some(Ok(frame))) => frame,
            };
            // Trailers carry no data; skip them.
            if let Ok(data) = frame.into_data() {
                self.read += data.len();
                if self.read > self.limit {
                    return Err(HttpError::PayloadTooLarge);
                }
                return Ok(Some(data));
            }
        }
    }

    /// The whole body.
    pub(crate) async fn bytes(mut self) -> Result<Bytes, HttpError> {
        let mut all = BytesMut::new();
        while let Some(chunk) = self.chunk().await? {
            all.extend_from_slice(&chunk);
        }
        Ok(all.freeze())
    }

    /// The whole body as JSON; invalid JSON is a 400 naming the parse error.
    pub(crate) async fn json(self) -> Result<Value, HttpError> {
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| HttpError::BadRequest(e.to_string()))
    }
}
