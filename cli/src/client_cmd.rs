//! The commands that talk to a running gateway: `gateway call`, `gateway health`,
//! `gateway status` and `health`, all through [`openclaw_io::client`].
//!
//! Each command produces either a payload ([`Report`]) or a [`CallFailure`]; `output.rs` turns
//! those into human text or `--json`, so the wire logic here never prints.

use std::time::Duration;

use openclaw_io::client::{Client, ClientError, ConnectOptions};
use serde_json::Value;

use crate::args::{CallArgs, ClientArgs};
use crate::config::{self, Config, ConfigError, Paths};
use crate::output::{CallFailure, Report};
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
    /// URL: `--url`/`OPENCLAW_GATEWAY_URL`, else `ws://127.0.0.1:<port>`. Credentials:
    /// `--token`/`--password` (or their env vars), else the config, else the token file.
    pub fn resolve(args: &ClientArgs) -> Result<Self, ConfigError> {
        let non_blank = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
        let mut token = non_blank(&args.token);
        let mut password = non_blank(&args.password);
        let explicit_auth = token.is_some() || password.is_some();
        let url = non_blank(&args.url);
        // The config is only read when something is still missing, so a broken config never
        // blocks a fully specified call.
        let url = match url {
            Some(url) if explicit_auth => url,
            url => {
                let paths = Paths::from_env()?;
                let cfg = Config::load(&paths.config_path)?.gateway;
                if !explicit_auth {
                    token = non_blank(&cfg.auth.token);
                    password = non_blank(&cfg.auth.password);
                    if token.is_none() && password.is_none() {
                        token = token::read(&paths.token_file()).ok().flatten();
                    }
                }
                match url {
                    Some(url) => url,
                    None => {
                        let port = config::resolve_port(None, config::port_from_env()?, &cfg);
                        let host = match (cfg.bind, cfg.custom_bind_host) {
                            (Some(crate::args::BindMode::Custom), Some(ip)) => ip,
                            _ => std::net::Ipv4Addr::LOCALHOST.into(),
                        };
                        format!("ws://{}", std::net::SocketAddr::new(host, port))
                    }
                }
            }
        };
        Ok(Self { url, token, password, timeout: Duration::from_millis(args.timeout) })
    }

    fn options(&self, mode: &'static str, scopes: &[&str]) -> ConnectOptions {
        let mut opts = ConnectOptions::cli(self.url.clone());
        opts.token = self.token.clone();
        opts.password = self.password.clone();
        opts.client_mode = mode;
        opts.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        opts.timeout = self.timeout;
        opts
    }
}

/// `openclaw gateway call <method> --params <json>`.
pub async fn call(args: &CallArgs) -> Result<Report, CallFailure> {
    let params: Value = serde_json::from_str(&args.params).map_err(|e| {
        CallFailure::Usage(format!("--params is not valid JSON: {e} (example: --params '{{\"text\":\"hi\"}}')"))
    })?;
    if !params.is_object() {
        return Err(CallFailure::Usage("--params must be a JSON object, e.g. '{}'".into()));
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

/// `openclaw health`: the `health` RPC, shown as a short summary of agents and sessions.
pub async fn health(args: &ClientArgs) -> Result<Report, CallFailure> {
    let target = Target::resolve(args).map_err(CallFailure::Config)?;
    let payload = call_once(&target, "cli", READ_SCOPES, "health", Value::Null).await?;
    Ok(Report::Health(payload))
}

/// `openclaw gateway status`: connect as a probe (protocol 3..4, like the reference CLI,
/// reference-facts §4.3), read `hello-ok`, close. No RPC is made.
pub async fn status(args: &ClientArgs) -> Result<Report, CallFailure> {
    let target = Target::resolve(args).map_err(CallFailure::Config)?;
    let mut opts = target.options("probe", READ_SCOPES);
    opts.min_protocol = 3;
    opts.max_protocol = 4;
    match Client::connect(opts).await {
        Ok((client, hello)) => {
            client.close().await;
            Ok(Report::Status(Probe::from_hello(target.url, &hello)))
        }
        Err(error) => Err(CallFailure::Probe { url: target.url, error }),
    }
}

/// Connects, makes one call, closes.
async fn call_once(
    target: &Target,
    mode: &'static str,
    scopes: &[&str],
    method: &str,
    params: Value,
) -> Result<Value, CallFailure> {
    let (mut client, _hello) =
        Client::connect(target.options(mode, scopes)).await.map_err(CallFailure::Gateway)?;
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
    fn from_hello(url: String, hello: &Value) -> Self {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let auth = hello.get("auth");
        Self {
            url,
            version: hello.pointer("/server/version").and_then(text),
            conn_id: hello.pointer("/server/connId").and_then(text),
            role: auth.and_then(|a| a.get("role")).and_then(text),
            scopes: auth.and_then(|a| a.get("scopes")).and_then(Value::as_array).map(|scopes| {
                scopes.iter().filter_map(Value::as_str).map(str::to_owned).collect()
            }),
        }
    }

    /// What the granted scopes allow (the reference's probe capability names).
    pub fn capability(&self) -> &'static str {
        let Some(scopes) = &self.scopes else { return "unknown" };
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

/// A [`ClientError`] as `(type, code, message, details, retryable)` for output.
pub fn describe(error: &ClientError) -> (&'static str, Option<String>, String, Option<Value>, bool) {
    match error {
        ClientError::Rejected { error, .. } => (
            "gateway_request_error",
            Some(error.code.as_str().to_owned()),
            error.message.clone(),
            error.details.clone(),
            error.retryable.unwrap_or(false),
        ),
        ClientError::Connect(message) => {
            ("gateway_connect_error", None, format!("cannot connect: {message}"), None, true)
        }
        ClientError::Closed { code, reason } => (
            "gateway_closed",
            None,
            format!("gateway closed the connection ({code}): {reason}"),
            Some(serde_json::json!({ "closeCode": code, "reason": reason })),
            true,
        ),
        ClientError::Timeout => {
            ("gateway_timeout", None, "timed out waiting for the gateway".into(), None, true)
        }
        ClientError::Protocol(message) => {
            ("gateway_protocol_error", None, format!("unexpected reply: {message}"), None, false)
        }
    }
}
