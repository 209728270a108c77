//! What can go wrong in the router or a handler, typed by who is at fault, and the one place
//! each style maps it to what the client sees.

use std::time::Duration;

use bytes::Bytes;
use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::{Response, StatusCode};
use serde_json::json;

use super::{respond, Body, JSON};

/// A failed HTTP request.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// Missing or wrong credential (http.md §1.4).
    #[error("Unauthorized")]
    Unauthorized,
    /// The address is locked out after too many wrong credentials.
    #[error("Too many failed authentication attempts. Please try again later.")]
    RateLimited { retry_after: Duration },
    /// The body went over the route's limit.
    #[error("Payload too large")]
    PayloadTooLarge,
    /// The body did not arrive within the route's read timeout.
    #[error("Request body timeout")]
    BodyTimeout,
    /// The client sent something unusable (bad JSON, a bad field); the message names it.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing by that name (the message says what).
    #[error("{0}")]
    NotFound(String),
    /// The work behind the request failed (an agent run refused or not completed).
    #[error("{0}")]
    Upstream(String),
    /// The gateway cannot answer now (its hub is gone: shutting down).
    #[error("gateway is shutting down")]
    Unavailable,
}

impl HttpError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// `Retry-After` in whole seconds, rounded up (at least 1), for a lockout.
    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after } => Some(retry_after.as_millis().div_ceil(1000).max(1) as u64),
            Self::Unauthorized
            | Self::PayloadTooLarge
            | Self::BodyTimeout
            | Self::BadRequest(_)
            | Self::NotFound(_)
            | Self::Upstream(_)
            | Self::Unavailable => None,
        }
    }
}

/// How a route renders its errors.
pub(crate) type ErrorStyle = fn(&HttpError) -> Response<Body>;

/// The OpenAI-compatible envelope `{"error":{"message","type"}}` (http.md §1.4, §2.2).
pub(crate) fn openai(e: &HttpError) -> Response<Body> {
    let kind = match e {
        HttpError::Unauthorized => "unauthorized",
        HttpError::RateLimited { .. } => "rate_limited",
        HttpError::PayloadTooLarge | HttpError::BodyTimeout | HttpError::BadRequest(_) | HttpError::NotFound(_) => {
            "invalid_request_error"
        }
        HttpError::Upstream(_) => "api_error",
        HttpError::Unavailable => "unavailable",
    };
    let body = json!({"error": {"message": e.to_string(), "type": kind}});
    let mut res = respond(e.status(), JSON, Bytes::from(body.to_string()));
    if let Some(secs) = e.retry_after_secs() {
        res.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    res
}
