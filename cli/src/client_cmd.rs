//! The commands that talk to a running gateway: `gateway call`, `gateway health`,
//! `gateway status` and `health`, all through [`openclaw_io::client`].
//!
//! Each command produces either a payload ([`Report`]) or a [`CallFailure`]; `output.rs` turns
//! those into human text or `--json`, so the wire logic here never prints.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use openclaw_io::client::{Client, ClientError, ConnectOptions};
use serde_json::Value;

use crate::args::{BindMode, CallArgs, ClientArgs};
use crate::config::{self, Config, ConfigError, GatewayConfig, Paths};
use crate::output::{CallFailure, Report};
use crate::status_cmd::Local;
use crate::token;

/// Scopes `gateway call` asks for: admin, so every method the gateway serves can be called
/// (a device-less `cli`/`cli` client on loopback keeps the scopes it asks for).
const CALL_SCOPES: &[&str] = &["operator.admin"];
/// Scopes of the read-only commands (`health`, `status`).
const READ_SCOPES: &[&str] = &["operator.read"];

/// Where and how to connect, resolved from flags, environment, config and the token file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    pub token: Option<String>,
    pub password: Option<String>,
    pub timeout: Duration,
}

impl Target {
    /// URL: `--url`/`OPENCLAW_GATEWAY_URL`, else (with `gateway.mode: "remote"`)
    /// `gateway.remote.url`, else `ws://127.0.0.1:<port>`. Credentials: `--token`/`--password`
    /// (or their env vars), else the config (lifecycle.md §9.1: in remote mode
    /// `gateway.remote.token/password`; locally `gateway.auth.*`, falling back to
    /// `gateway.remote.*` when those are unset), else (locally) the token file.
    pub fn resolve(args: &ClientArgs) -> Result<Self, ConfigError> {
        let non_blank = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
        let timeout = Duration::from_millis(args.timeout);
        let (url, token, password) = (
            non_blank(&args.url),
            non_blank(&args.token),
            non_blank(&args.password),
        );
        // A fully specified call never reads the config, so a broken config cannot block it.
        if let Some(url) = &url {
            if token.is_some() || password.is_some() {
                return Ok(Self {
                    url: url.clone(),
                    token,
                    password,
                    timeout,
                });
            }
        }
        let paths = Paths::from_env()?;
        let cfg = Config::load(&paths.config_path)?.gateway;
        let remote = cfg.mode == Some(openclaw_core::config::GatewayMode::Remote);
        let url = match (url, remote.then(|| cfg.remote.url.clone()).flatten()) {
            (Some(url), _) | (None, Some(url)) => url,
            (None, None) => default_url(&cfg)?,
        };
        if token.is_some() || password.is_some() {
            return Ok(Self {
                url,
                token,
                password,
                timeout,
            });
        }
        let (token, password) = configured_credentials(&cfg, remote);
        // The local token file is this machine's gateway secret: never sent to a remote one.
        let token = match (token, &password) {
            (None, None) if !remote => token::read(&paths.token_file()).ok().flatten(),
            (token, _) => token,
        };
        Ok(Self {
            url,
            token,
            password,
            timeout,
        })
    }

    /// As [`Self::resolve`], but a config that cannot be read does not stop the command:
    /// `--url` (else `fallback_url`) and `--token`/`--password` (else the token file) are used.
    pub fn resolve_lenient(args: &ClientArgs, fallback_url: &str) -> Self {
        Self::resolve(args).unwrap_or_else(|_| {
            let non_blank = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
            let token = non_blank(&args.token).or_else(|| {
                Paths::from_env().ok().and_then(|p| token::read(&p.token_file()).ok().flatten())
            });
            Self {
                url: non_blank(&args.url).unwrap_or_else(|| fallback_url.to_owned()),
                token,
                password: non_blank(&args.password),
                timeout: Duration::from_millis(args.timeout),
            }
        })
    }

    pub(crate) fn options(&self, mode: &'static str, scopes: &[&str]) -> ConnectOptions {
        let mut opts = ConnectOptions::cli(self.url.clone());
        opts.token = self.token.clone();
        opts.password = self.password.clone();
        opts.client_mode = mode;
        opts.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        opts.timeout = self.timeout;
        opts
    }
}

/// The config's credentials (lifecycle.md §9.1): `gateway.remote.*` in remote mode; locally
/// `gateway.auth.*`, else `gateway.remote.*`.
fn configured_credentials(cfg: &GatewayConfig, remote: bool) -> (Option<String>, Option<String>) {
    let non_blank = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
    let local = (non_blank(&cfg.auth.token), non_blank(&cfg.auth.password));
    let far = (cfg.remote.token.clone(), cfg.remote.password.clone());
    match (remote, local) {
        (true, _) | (false, (None, None)) => far,
        (false, local) => local,
    }
}

/// `ws://<host>:<port>`: the custom bind host when configured, else 127.0.0.1; the port from
/// `OPENCLAW_GATEWAY_PORT`, else `gateway.port`, else 18789.
pub(crate) fn default_url(cfg: &GatewayConfig) -> Result<String, ConfigError> {
    let port = config::resolve_port(None, config::port_from_env()?, cfg);
    let host = match (cfg.bind.map(BindMode::from), cfg.custom_bind_host) {
        (Some(BindMode::Custom), Some(ip)) => ip,
        _ => Ipv4Addr::LOCALHOST.into(),
    };
    Ok(format!("ws://{}", SocketAddr::new(host, port)))
}

/// `openclaw gateway call <method> --params <json>`.
pub async fn call(args: &CallArgs) -> Result<Report, CallFailure> {
    let params: Value = serde_json::from_str(&args.params).map_err(|e| {
        CallFailure::Usage(format!(
            "--params is not valid JSON: {e} (example: --params '{{\"text\":\"hi\"}}')"
        ))
    })?;
    if !params.is_object() {
        return Err(CallFailure::Usage(
            "--params must be a JSON object, e.g. '{}'".into(),
        ));
    }
    let target = Target::resolve(&args.client).map_err(CallFailure::Config)?;
    let payload = call_once(&target, "cli", CALL_SCOPES, &args.method, params).await?;
    Ok(Report::Call(payload))
}

/// `openclaw gateway health`: the `health` RPC, shown as "Gateway Health / OK (Nms)".
pub async fn gateway_health(args: &ClientArgs) -> Result<Report, CallFailure> {
    let target = Target::resolve(args).map_err(CallFailure::Config)?;
    let payload = call_once(&target, "cli", READ_SCOPES, "health", Value::Null).await?;
    Ok(Report::GatewayHealth(payload))
}

/// `openclaw health`: the `health` RPC, shown as a short summary of agents and sessions. A
/// broken config does not stop it (a warning says the defaults stood in).
pub async fn health(args: &ClientArgs) -> Result<Report, CallFailure> {
    let (local, problem) = Local::resolve_lenient(args).map_err(CallFailure::Config)?;
    if let Some(problem) = problem {
        let first = problem.to_string();
        tracing::warn!(
            "{} (probing {} with the defaults; details: openclaw doctor)",
            first.lines().next().unwrap_or_default(),
            local.probe_url
        );
    }
    let target = Target::resolve_lenient(args, &local.probe_url);
    let payload = call_once(&target, "cli", READ_SCOPES, "health", Value::Null).await?;
    Ok(Report::Health(payload))
}

/// Connects; a connection failure names the URL it tried.
pub(crate) async fn connect(opts: ConnectOptions) -> Result<(Client, Value), ClientError> {
    let url = opts.url.clone();
    Client::connect(opts).await.map_err(|e| name_the_url(e, &url))
}

/// `cannot connect: Connection refused` becomes `cannot connect to <url>: Connection refused`.
pub(crate) fn name_the_url(error: ClientError, url: &str) -> ClientError {
    if let ClientError::Connect(m) = &error {
        if !m.starts_with(url) {
            return ClientError::Connect(format!("{url}: {m}"));
        }
    }
    error
}

/// Connects as the CLI with `scopes`, makes one call, closes.
pub(crate) async fn call_as(target: &Target, scopes: &[&str], method: &str, params: Value) -> Result<Value, CallFailure> {
    call_once(target, "cli", scopes, method, params).await
}

/// Connects, makes one call, closes.
async fn call_once(
    target: &Target,
    mode: &'static str,
    scopes: &[&str],
    method: &str,
    params: Value,
) -> Result<Value, CallFailure> {
    let (mut client, _hello) = connect(target.options(mode, scopes))
        .await
        .map_err(CallFailure::Gateway)?;
    let result = client.call(method, params).await;
    client.close().await;
    result.map_err(CallFailure::Gateway)
}

/// What a successful probe learned from `hello-ok`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub url: String,
    pub version: Option<String>,
    pub conn_id: Option<String>,
    pub role: Option<String>,
    pub scopes: Option<Vec<String>>,
}

impl Probe {
    pub(crate) fn from_hello(url: String, hello: &Value) -> Self {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let auth = hello.get("auth");
        Self {
            url,
            version: hello.pointer("/server/version").and_then(text),
            conn_id: hello.pointer("/server/connId").and_then(text),
            role: auth.and_then(|a| a.get("role")).and_then(text),
            scopes: auth
                .and_then(|a| a.get("scopes"))
                .and_then(Value::as_array)
                .map(|scopes| {
                    scopes
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                }),
        }
    }

    /// What the granted scopes allow (the reference's probe capability names).
    pub fn capability(&self) -> &'static str {
        let Some(scopes) = &self.scopes else {
            return "unknown";
        };
        let has = |s: &str| scopes.iter().any(|g| g == s);
        if has("operator.admin") {
            "admin_capable"
        } else if has("operator.write") {
            "write_capable"
        } else if has("operator.read") {
            "read_only"
        } else {
            "connected_no_operator_scope"
        }
    }
}

/// A failure in the reference CLI's JSON error vocabulary (reference-facts.md §8).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorReport {
    /// `gateway_request_error`, `gateway_connect_error`, `cli_error`, …
    pub kind: &'static str,
    /// The gateway's error code (`INVALID_REQUEST`, …) when it sent one.
    pub code: Option<String>,
    pub message: String,
    pub details: Option<Value>,
    pub retryable: bool,
}

impl ErrorReport {
    /// A failure the gateway played no part in.
    pub fn local(kind: &'static str, message: String) -> Self {
        Self {
            kind,
            code: None,
            message,
            details: None,
            retryable: false,
        }
    }
}

impl From<&ClientError> for ErrorReport {
    fn from(error: &ClientError) -> Self {
        match error {
            ClientError::Rejected { error, .. } => Self {
                kind: "gateway_request_error",
                code: Some(error.code.as_str().to_owned()),
                message: error.message.clone(),
                details: error.details.clone(),
                retryable: error.retryable.unwrap_or(false),
            },
            ClientError::Connect(message) => Self {
                retryable: true,
                ..Self::local(
                    "gateway_connect_error",
                    if message.starts_with("ws://") || message.starts_with("wss://") {
                        format!("cannot connect to {message}")
                    } else {
                        format!("cannot connect: {message}")
                    },
                )
            },
            ClientError::Closed { code, reason } => Self {
                details: Some(serde_json::json!({ "closeCode": code, "reason": reason })),
                retryable: true,
                ..Self::local(
                    "gateway_closed",
                    format!("gateway closed the connection ({code}): {reason}"),
                )
            },
            ClientError::Timeout => Self {
                retryable: true,
                ..Self::local(
                    "gateway_timeout",
                    "timed out waiting for the gateway".into(),
                )
            },
            ClientError::Protocol(message) => Self::local(
                "gateway_protocol_error",
                format!("unexpected reply: {message}"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclaw_core::config::RemoteConfig;
    use openclaw_io::settings::AuthSettings as AuthConfig;

    fn cfg(local: Option<&str>, remote: Option<&str>) -> GatewayConfig {
        GatewayConfig {
            auth: AuthConfig { token: local.map(Into::into), ..AuthConfig::default() },
            remote: RemoteConfig { token: remote.map(Into::into), ..RemoteConfig::default() },
            ..GatewayConfig::default()
        }
    }

    #[test]
    fn credentials_follow_the_mode() {
        let token = |c: &GatewayConfig, remote| configured_credentials(c, remote).0;
        assert_eq!(token(&cfg(Some("l"), Some("r")), true).as_deref(), Some("r"));
        assert_eq!(token(&cfg(Some("l"), None), true), None);
        assert_eq!(token(&cfg(Some("l"), Some("r")), false).as_deref(), Some("l"));
        assert_eq!(token(&cfg(None, Some("r")), false).as_deref(), Some("r"));
    }
}
