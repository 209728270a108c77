//! The Bot API response envelope and its errors, classified by what the caller does next.

use serde_json::Value;

/// A Bot API call that did not succeed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// `401`: the token is invalid or revoked. Polling stops; `lastError` says so.
    #[error("Telegram rejected the bot token (401 Unauthorized)")]
    Unauthorized,
    /// `429`: wait `retry_after` seconds, then retry.
    #[error("Telegram rate limit: retry after {retry_after_s} s")]
    RetryAfter { retry_after_s: u64 },
    /// `409`: another poller or an active webhook; back off and retry.
    #[error("Telegram conflict: {description}")]
    Conflict { description: String },
    /// `400` for HTML entities: resend as plain text.
    #[error("Telegram could not parse the HTML: {description}")]
    BadEntities { description: String },
    /// Any other error the API answered.
    #[error("Telegram error {code}: {description}")]
    Other { code: u16, description: String },
    /// The answer was not a Bot API envelope.
    #[error("malformed Telegram answer (HTTP {status}): {detail}")]
    Malformed { status: u16, detail: String },
}

impl ApiError {
    /// Whether the poll loop retries after backoff (vs. stopping with `lastError`).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RetryAfter { .. } | Self::Conflict { .. } | Self::Malformed { .. } => true,
            Self::Other { code, .. } => *code >= 500,
            Self::Unauthorized | Self::BadEntities { .. } => false,
        }
    }
}

/// Parses an answer: the `result` on `ok: true`, else the classified error.
pub fn parse_response(status: u16, body: &[u8]) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| ApiError::Malformed { status, detail: e.to_string() })?;
    match v.get("ok").and_then(Value::as_bool) {
        Some(true) => v.get("result").cloned().ok_or(ApiError::Malformed { status, detail: "ok without result".into() }),
        Some(false) => {
            let code = v["error_code"].as_u64().and_then(|c| u16::try_from(c).ok()).unwrap_or(status);
            let description = v["description"].as_str().unwrap_or("").to_owned();
            Err(classify(code, description, v["parameters"]["retry_after"].as_u64()))
        }
        None => Err(ApiError::Malformed { status, detail: "no `ok` field".into() }),
    }
}

fn classify(code: u16, description: String, retry_after: Option<u64>) -> ApiError {
    let lower = description.to_ascii_lowercase();
    match code {
        401 => ApiError::Unauthorized,
        429 => ApiError::RetryAfter { retry_after_s: retry_after.unwrap_or(1) },
        409 => ApiError::Conflict { description },
        400 if ["can't parse entities", "parse entities", "find end of the entity"].iter().any(|p| lower.contains(p)) => {
            ApiError::BadEntities { description }
        }
        _ => ApiError::Other { code, description },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(status: u16, v: Value) -> Result<Value, ApiError> {
        parse_response(status, v.to_string().as_bytes())
    }

    #[test]
    fn ok_answers_give_the_result() {
        assert_eq!(parse(200, json!({"ok": true, "result": [1]})), Ok(json!([1])));
        assert!(matches!(parse(200, json!({"ok": true})), Err(ApiError::Malformed { .. })));
    }

    #[test]
    fn errors_are_classified() {
        let err = |code: u16, d: &str, extra: Value| {
            let mut v = json!({"ok": false, "error_code": code, "description": d});
            if !extra.is_null() {
                v["parameters"] = extra;
            }
            parse(code, v).expect_err("error")
        };
        assert_eq!(err(401, "Unauthorized", Value::Null), ApiError::Unauthorized);
        assert_eq!(err(429, "Too Many Requests: retry after 3", json!({"retry_after": 3})), ApiError::RetryAfter { retry_after_s: 3 });
        assert!(matches!(err(400, "Bad Request: can't parse entities: Unsupported start tag", Value::Null), ApiError::BadEntities { .. }));
        assert!(matches!(err(400, "Bad Request: chat not found", Value::Null), ApiError::Other { code: 400, .. }));
        assert!(matches!(err(409, "Conflict: terminated by other getUpdates request", Value::Null), ApiError::Conflict { .. }));
        assert!(err(502, "Bad Gateway", Value::Null).is_retryable());
        assert!(!ApiError::Unauthorized.is_retryable());
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        assert!(matches!(parse_response(502, b"<html>bad gateway</html>"), Err(ApiError::Malformed { status: 502, .. })));
        assert!(matches!(parse(200, json!({"result": 1})), Err(ApiError::Malformed { .. })));
    }
}
