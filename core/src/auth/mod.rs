//! Shared-secret authentication and its failure responses (protocol.md §3.1, §3.3, §3.6).

pub mod limiter;
pub mod origin;
pub mod scopes;

use std::fmt;

use serde_json::json;

use crate::wire::connect::{ClientId, ConnectAuth};
use crate::wire::frames::ErrorShape;
use crate::wire::hello::AuthModeName;

/// A configured secret. Compared in constant time; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Constant-time comparison (time depends only on the lengths).
    pub fn matches(&self, candidate: &str) -> bool {
        let a = self.0.as_bytes();
        let b = candidate.as_bytes();
        let mut diff = (a.len() ^ b.len()) as u64;
        for i in 0..a.len().max(b.len()) {
            let x = a.get(i).copied().unwrap_or(0);
            let y = b.get(i).copied().unwrap_or(0xff);
            diff |= u64::from(x ^ y);
        }
        diff == 0
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// `gateway.auth.mode` with its secret. `None` inside means "mode set, secret missing".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthMode {
    None,
    Token(Option<Secret>),
    Password(Option<Secret>),
}

impl AuthMode {
    pub fn name(&self) -> AuthModeName {
        match self {
            Self::None => AuthModeName::None,
            Self::Token(_) => AuthModeName::Token,
            Self::Password(_) => AuthModeName::Password,
        }
    }
}

/// Why a shared-secret check failed (the reference's internal `reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    TokenMissing,
    TokenMismatch,
    TokenNotConfigured,
    PasswordMissing,
    PasswordMismatch,
    PasswordNotConfigured,
    RateLimited { retry_after_ms: u64 },
    /// `auth.deviceToken` is not the live token of the device's pairing for that role.
    DeviceTokenMismatch,
}

/// Checks the connect `auth` against the configured mode.
/// The field matching the mode is preferred; the other one is a fallback (§3.1).
pub fn authenticate(mode: &AuthMode, auth: Option<&ConnectAuth>) -> Result<(), AuthFailure> {
    let token = auth.and_then(|a| a.token.as_deref()).filter(|s| !s.is_empty());
    let password = auth.and_then(|a| a.password.as_deref()).filter(|s| !s.is_empty());
    match mode {
        AuthMode::None => Ok(()),
        AuthMode::Token(None) => Err(AuthFailure::TokenNotConfigured),
        AuthMode::Password(None) => Err(AuthFailure::PasswordNotConfigured),
        AuthMode::Token(Some(secret)) => match token.or(password) {
            None => Err(AuthFailure::TokenMissing),
            Some(given) if secret.matches(given) => Ok(()),
            Some(_) => Err(AuthFailure::TokenMismatch),
        },
        AuthMode::Password(Some(secret)) => match password.or(token) {
            None => Err(AuthFailure::PasswordMissing),
            Some(given) if secret.matches(given) => Ok(()),
            Some(_) => Err(AuthFailure::PasswordMismatch),
        },
    }
}

/// Checks an HTTP `Authorization: Bearer` credential (http.md §1.4): the one string is tried
/// as the token or the password, whichever the mode uses. `bearer` is the header value with
/// the scheme already stripped; `None` (or empty) is a missing credential.
pub fn authenticate_bearer(mode: &AuthMode, bearer: Option<&str>) -> Result<(), AuthFailure> {
    let given = bearer.map(str::trim).filter(|s| !s.is_empty());
    match mode {
        AuthMode::None => Ok(()),
        AuthMode::Token(None) => Err(AuthFailure::TokenNotConfigured),
        AuthMode::Password(None) => Err(AuthFailure::PasswordNotConfigured),
        AuthMode::Token(Some(secret)) => match given {
            None => Err(AuthFailure::TokenMissing),
            Some(g) if secret.matches(g) => Ok(()),
            Some(_) => Err(AuthFailure::TokenMismatch),
        },
        AuthMode::Password(Some(secret)) => match given {
            None => Err(AuthFailure::PasswordMissing),
            Some(g) if secret.matches(g) => Ok(()),
            Some(_) => Err(AuthFailure::PasswordMismatch),
        },
    }
}

/// Who failed to authenticate, for the wording of the hint.
#[derive(Clone, Copy, Debug)]
pub struct FailureContext {
    pub client: ClientId,
    pub is_local: bool,
}

impl AuthFailure {
    fn reason(self) -> &'static str {
        match self {
            Self::TokenMissing => "token_missing",
            Self::TokenMismatch => "token_mismatch",
            Self::TokenNotConfigured => "token_missing_config",
            Self::PasswordMissing => "password_missing",
            Self::PasswordMismatch => "password_mismatch",
            Self::PasswordNotConfigured => "password_missing_config",
            Self::RateLimited { .. } => "rate_limited",
            Self::DeviceTokenMismatch => "device_token_mismatch",
        }
    }

    fn detail_code(self) -> &'static str {
        match self {
            Self::TokenMissing => "AUTH_TOKEN_MISSING",
            Self::TokenMismatch => "AUTH_TOKEN_MISMATCH",
            Self::TokenNotConfigured => "AUTH_TOKEN_NOT_CONFIGURED",
            Self::PasswordMissing => "AUTH_PASSWORD_MISSING",
            Self::PasswordMismatch => "AUTH_PASSWORD_MISMATCH",
            Self::PasswordNotConfigured => "AUTH_PASSWORD_NOT_CONFIGURED",
            Self::RateLimited { .. } => "AUTH_RATE_LIMITED",
            Self::DeviceTokenMismatch => "AUTH_DEVICE_TOKEN_MISMATCH",
        }
    }

    fn next_step(self) -> &'static str {
        match self {
            Self::TokenMissing
            | Self::TokenNotConfigured
            | Self::PasswordMissing
            | Self::PasswordNotConfigured => "update_auth_configuration",
            Self::TokenMismatch | Self::PasswordMismatch | Self::DeviceTokenMismatch => "update_auth_credentials",
            Self::RateLimited { .. } => "wait_then_retry",
        }
    }

    /// The human message (`formatGatewayAuthFailureMessage`).
    pub fn message(self, ctx: FailureContext) -> String {
        let is_cli = ctx.client == ClientId::Cli;
        let is_ui = matches!(ctx.client, ClientId::ControlUi | ClientId::WebchatUi | ClientId::Webchat);
        let token_hint = match (is_cli, ctx.is_local, is_ui) {
            (true, true, _) => "use this gateway's gateway.auth.token or pair the device",
            (true, false, _) => "set gateway.remote.token to match gateway.auth.token",
            (false, _, true) => "open the dashboard URL and paste the token in Control UI settings",
            (false, _, false) => "provide gateway auth token",
        };
        let password_hint = match (is_cli, ctx.is_local, is_ui) {
            (true, true, _) => "use this gateway's gateway.auth.password",
            (true, false, _) => "set gateway.remote.password to match gateway.auth.password",
            (false, _, true) => "enter the password in Control UI settings",
            (false, _, false) => "provide gateway auth password",
        };
        match self {
            Self::TokenMissing if is_ui => "unauthorized: gateway token missing (paste in Control UI settings or openclaw doctor --generate-gateway-token; restart)".to_owned(),
            Self::TokenMissing => format!("unauthorized: gateway token missing ({token_hint})"),
            Self::TokenMismatch => format!("unauthorized: gateway token mismatch ({token_hint})"),
            Self::TokenNotConfigured => {
                "unauthorized: gateway token not configured on gateway (set gateway.auth.token)".into()
            }
            Self::PasswordMissing => format!("unauthorized: gateway password missing ({password_hint})"),
            Self::PasswordMismatch => format!("unauthorized: gateway password mismatch ({password_hint})"),
            Self::PasswordNotConfigured => {
                "unauthorized: gateway password not configured on gateway (set gateway.auth.password)"
                    .into()
            }
            Self::RateLimited { .. } => {
                "unauthorized: too many failed authentication attempts (retry later)".into()
            }
            Self::DeviceTokenMismatch => "unauthorized: device token mismatch (rotate/reissue device token)".into(),
        }
    }

    /// The `res.error` of §3.6 (the socket is then closed 1008 with the message).
    pub fn to_error(self, ctx: FailureContext) -> ErrorShape {
        let details = json!({
            "code": self.detail_code(),
            "authReason": self.reason(),
            "canRetryWithDeviceToken": false,
            "recommendedNextStep": self.next_step(),
        });
        let error = ErrorShape::invalid_request(self.message(ctx)).with_details(details);
        match self {
            Self::RateLimited { retry_after_ms } => error.retry_after(retry_after_ms),
            Self::TokenMissing
            | Self::TokenMismatch
            | Self::TokenNotConfigured
            | Self::PasswordMissing
            | Self::PasswordMismatch
            | Self::PasswordNotConfigured
            | Self::DeviceTokenMismatch => error,
        }
    }

    /// Does this failure count toward the rate limiter? (Misconfiguration does not.)
    pub fn counts_as_attempt(self) -> bool {
        matches!(
            self,
            Self::TokenMismatch
                | Self::PasswordMismatch
                | Self::TokenMissing
                | Self::PasswordMissing
                | Self::DeviceTokenMismatch
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(token: Option<&str>, password: Option<&str>) -> ConnectAuth {
        ConnectAuth {
            token: token.map(Into::into),
            password: password.map(Into::into),
            ..ConnectAuth::default()
        }
    }

    #[test]
    fn bearer_is_tried_as_the_modes_secret() {
        let token = AuthMode::Token(Some(Secret::new("s3cret")));
        assert_eq!(authenticate_bearer(&token, Some(" s3cret ")), Ok(()));
        assert_eq!(authenticate_bearer(&token, Some("nope")), Err(AuthFailure::TokenMismatch));
        assert_eq!(authenticate_bearer(&token, Some("")), Err(AuthFailure::TokenMissing));
        assert_eq!(authenticate_bearer(&token, None), Err(AuthFailure::TokenMissing));
        let password = AuthMode::Password(Some(Secret::new("pw")));
        assert_eq!(authenticate_bearer(&password, Some("pw")), Ok(()));
        assert_eq!(authenticate_bearer(&password, Some("s3cret")), Err(AuthFailure::PasswordMismatch));
        assert_eq!(authenticate_bearer(&AuthMode::Token(None), Some("x")), Err(AuthFailure::TokenNotConfigured));
        assert_eq!(authenticate_bearer(&AuthMode::None, None), Ok(()));
    }

    #[test]
    fn token_mode() {
        let mode = AuthMode::Token(Some(Secret::new("s3cret")));
        assert_eq!(authenticate(&mode, Some(&auth(Some("s3cret"), None))), Ok(()));
        assert_eq!(authenticate(&mode, Some(&auth(None, Some("s3cret")))), Ok(()), "password field is a fallback");
        assert_eq!(authenticate(&mode, Some(&auth(Some("nope"), None))), Err(AuthFailure::TokenMismatch));
        assert_eq!(authenticate(&mode, None), Err(AuthFailure::TokenMissing));
        assert_eq!(authenticate(&AuthMode::Token(None), None), Err(AuthFailure::TokenNotConfigured));
    }

    #[test]
    fn password_mode_and_none() {
        let mode = AuthMode::Password(Some(Secret::new("pw")));
        assert_eq!(authenticate(&mode, Some(&auth(None, Some("pw")))), Ok(()));
        assert_eq!(authenticate(&mode, Some(&auth(None, Some("px")))), Err(AuthFailure::PasswordMismatch));
        assert_eq!(authenticate(&AuthMode::None, None), Ok(()));
    }

    #[test]
    fn secret_compare_handles_prefixes_and_lengths() {
        let s = Secret::new("abc");
        assert!(s.matches("abc"));
        assert!(!s.matches("ab"));
        assert!(!s.matches("abcd"));
        assert!(!s.matches(""));
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn failure_shape() {
        let ctx = FailureContext { client: ClientId::Cli, is_local: true };
        let err = AuthFailure::TokenMismatch.to_error(ctx);
        assert_eq!(
            err.message,
            "unauthorized: gateway token mismatch (use this gateway's gateway.auth.token or pair the device)"
        );
        let details = err.details.unwrap();
        assert_eq!(details["code"], "AUTH_TOKEN_MISMATCH");
        assert_eq!(details["recommendedNextStep"], "update_auth_credentials");
        let limited = AuthFailure::RateLimited { retry_after_ms: 1234 }.to_error(ctx);
        assert_eq!(limited.retry_after_ms, Some(1234));
        assert_eq!(limited.retryable, Some(true));
    }
}
