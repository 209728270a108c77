//! Where the CLI's files live, and the CLI's view of the config file.
//!
//! The config itself is [`openclaw_core::config::Config`], loaded by
//! [`openclaw_io::config_file::load_config`] (JSON5, `$include`, `${VAR}`, strict validation
//! with located issues) and projected by [`openclaw_io::settings`] (the one place that does).
//! [`Config`] here is that load with its `gateway.*` settings, for the commands.

use std::path::{Path, PathBuf};

use openclaw_core::config as core;
use openclaw_io::config_file::{self, ConfigLoadError, Loaded};
use openclaw_io::settings::SettingsError;

/// The port the gateway listens on when nothing else says otherwise.
pub const DEFAULT_PORT: u16 = 18789;
/// Name of the generated token file inside the state dir.
pub const TOKEN_FILE: &str = "gateway.token";

/// Where the CLI reads and writes its files (lifecycle.md §3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// `$OPENCLAW_STATE_DIR`, else `~/.openclaw`; holds `gateway.token`.
    pub state_dir: PathBuf,
    /// `$OPENCLAW_CONFIG_PATH`, else `<state dir>/openclaw.json`.
    pub config_path: PathBuf,
}

impl Paths {
    /// Resolves the paths from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::resolve(|name| std::env::var_os(name).filter(|v| !v.is_empty()))
    }

    /// Resolves the paths with `env` standing in for the environment (tests pass a map).
    pub fn resolve(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<Self, ConfigError> {
        let home = env("OPENCLAW_HOME")
            .or_else(|| env("HOME"))
            .map(PathBuf::from);
        let expand = |raw: std::ffi::OsString| -> Result<PathBuf, ConfigError> {
            let raw = PathBuf::from(raw);
            match raw.strip_prefix("~") {
                Ok(rest) => Ok(home.clone().ok_or(ConfigError::NoHome)?.join(rest)),
                Err(_) => Ok(raw),
            }
        };
        let state_dir = match env("OPENCLAW_STATE_DIR") {
            Some(dir) => expand(dir)?,
            None => home.clone().ok_or(ConfigError::NoHome)?.join(".openclaw"),
        };
        let config_path = match env("OPENCLAW_CONFIG_PATH") {
            Some(path) => expand(path)?,
            None => state_dir.join("openclaw.json"),
        };
        Ok(Self {
            state_dir,
            config_path,
        })
    }

    /// `<state dir>/gateway.token`.
    pub fn token_file(&self) -> PathBuf {
        self.state_dir.join(TOKEN_FILE)
    }
}

/// The `gateway.*` settings, as [`openclaw_io::settings`] projects them.
pub use openclaw_io::settings::GatewaySettings as GatewayConfig;

/// The loaded config file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// Whether the file existed (a missing file is an empty config).
    pub found: bool,
    pub gateway: GatewayConfig,
    /// The whole typed config.
    pub typed: core::Config,
    /// Reference-only keys that were ignored (`<path>: not supported yet; ignored`).
    pub warnings: Vec<core::Issue>,
}

/// Why the config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot find the home directory: set HOME (or OPENCLAW_STATE_DIR)")]
    NoHome,
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file, an include, an env reference or a value is wrong: the §2.2 report.
    #[error("{0}")]
    Invalid(Box<ConfigLoadError>),
    /// A value passed validation but cannot be used (an unknown provider, a bad address).
    #[error("invalid config {path}: {location}field {field}: {message}")]
    Field {
        path: PathBuf,
        location: Location,
        field: String,
        message: String,
    },
    #[error("invalid OPENCLAW_GATEWAY_PORT={value:?}: expected a port number (0-65535)")]
    PortEnv { value: String },
}

impl From<ConfigLoadError> for ConfigError {
    fn from(e: ConfigLoadError) -> Self {
        match e {
            ConfigLoadError::Read { path, source } => Self::Read { path, source },
            other @ ConfigLoadError::Invalid { .. } => Self::Invalid(Box::new(other)),
        }
    }
}

/// `line L, column C: ` when the parser knows where (1-based), else nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location(pub Option<(usize, usize)>);

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some((line, column)) => write!(f, "line {line}, column {column}: "),
            None => Ok(()),
        }
    }
}

impl Config {
    /// Reads `path` (with its includes and `${VAR}` references) for a CLI command: a missing
    /// `${VAR}` is a warning (see [`Config::warnings`]). A missing file gives the empty config.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::from_loaded(&config_file::load_config_lenient(path)?)
    }

    /// Reads `path` as the gateway does: a missing `${VAR}` fails the load.
    pub fn load_strict(path: &Path) -> Result<Self, ConfigError> {
        Self::from_loaded(&config_file::load_config(path)?)
    }

    /// The CLI's view of a loaded config.
    pub fn from_loaded(loaded: &Loaded) -> Result<Self, ConfigError> {
        let typed = loaded.config.clone();
        let gateway = GatewayConfig::project(&typed).map_err(|e| ConfigError::settings(&loaded.path, e))?;
        Ok(Self { found: loaded.exists, gateway, warnings: loaded.warnings.clone(), typed })
    }
}

impl ConfigError {
    /// A value of the file at `path` that [`openclaw_io::settings`] could not use.
    pub fn settings(path: &Path, e: SettingsError) -> Self {
        Self::Field { path: path.to_owned(), location: Location(None), field: e.field, message: e.message }
    }
}

/// Keys the gateway accepts but cannot honour yet, one warning each, logged at start:
/// `gateway.auth.allowTailscale: true` (no Tailscale support).
pub fn unsupported_warnings(typed: &core::Config) -> Vec<&'static str> {
    let gw = typed.gateway();
    let mut out = Vec::new();
    if gw.auth.and_then(|a| a.allow_tailscale) == Some(true) {
        out.push("gateway.auth.allowTailscale: Tailscale identity is not supported yet; ignored (token/password auth still applies)");
    }
    out
}

/// `$OPENCLAW_GATEWAY_PORT`, parsed; unset or empty is `None`.
pub fn port_from_env() -> Result<Option<u16>, ConfigError> {
    match std::env::var("OPENCLAW_GATEWAY_PORT") {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => value
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ConfigError::PortEnv { value }),
        Err(_) => Ok(None),
    }
}

/// Port precedence: flag, then `$OPENCLAW_GATEWAY_PORT`, then `gateway.port`, then 18789.
pub fn resolve_port(flag: Option<u16>, env: Option<u16>, config: &GatewayConfig) -> u16 {
    flag.or(env).or(config.port).unwrap_or(DEFAULT_PORT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclaw_core::auth::limiter::RateLimitPolicy;
    use openclaw_io::settings::{AuthKind, Bind};

    fn load(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("openclaw.json");
        std::fs::write(&path, text).unwrap();
        Config::load(&path)
    }

    #[test]
    fn reads_gateway_keys() {
        let cfg = load(
            "// comment\n{ gateway: { port: 19001, bind: 'lan', mode: 'local',\n\
             auth: { mode: 'password', password: 'pw', }, controlUi: { allowedOrigins: ['http://a'] },\
             customBindHost: '10.0.0.1', reload: {mode: 'off'} } }",
        )
        .unwrap();
        let gw = cfg.gateway;
        assert_eq!(gw.port, Some(19001));
        assert_eq!(gw.mode, Some(core::GatewayMode::Local));
        assert_eq!(gw.bind, Some(Bind::Lan));
        assert_eq!(gw.auth.mode, Some(AuthKind::Password));
        assert_eq!(gw.auth.password.as_deref(), Some("pw"));
        assert_eq!(gw.control_ui.allowed_origins, vec!["http://a".to_owned()]);
        assert_eq!(gw.custom_bind_host, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(gw.auth_rate_limit, RateLimitPolicy::default());
        assert!(cfg.found);
        // A config file (even an empty one) serves the Control UI: the reference's default.
        let mut empty = GatewayConfig::default();
        empty.control_ui.enabled = true;
        assert_eq!(load("{}").unwrap().gateway, empty);
    }

    #[test]
    fn rate_limit_keys_reach_the_policy() {
        let cfg = load(
            "{ gateway: { auth: { rateLimit: { maxAttempts: 2, windowMs: 1000, lockoutMs: 5000, exemptLoopback: false } } } }",
        )
        .unwrap();
        let want = RateLimitPolicy {
            max_attempts: 2,
            window: std::time::Duration::from_secs(1),
            lockout: std::time::Duration::from_secs(5),
            exempt_loopback: false,
        };
        assert_eq!(cfg.gateway.auth_rate_limit, want);
        let cfg = load("{ gateway: { auth: { rateLimit: { maxAttempts: 3 } } } }").unwrap();
        assert_eq!(cfg.gateway.auth_rate_limit, RateLimitPolicy { max_attempts: 3, ..RateLimitPolicy::default() });
    }

    #[test]
    fn unsupported_keys_are_named_once() {
        let cfg = load("{ gateway: { controlUi: { enabled: true, basePath: '/ui' }, auth: { allowTailscale: true } } }").unwrap();
        let w = unsupported_warnings(&cfg.typed);
        assert_eq!(w.len(), 1, "the Control UI keys are honoured: {w:?}");
        assert!(w[0].starts_with("gateway.auth.allowTailscale:"));
        let cfg = load("{ gateway: { controlUi: { enabled: false }, auth: { allowTailscale: false } } }").unwrap();
        assert!(unsupported_warnings(&cfg.typed).is_empty());
    }

    #[test]
    fn remote_keys_are_read() {
        let cfg = load("{ gateway: { mode: 'remote', remote: { url: 'ws://10.0.0.2:18789', token: 'rt', password: ' ' } } }").unwrap();
        let r = cfg.gateway.remote;
        assert_eq!(r.url.as_deref(), Some("ws://10.0.0.2:18789"));
        assert_eq!(r.token.as_deref(), Some("rt"));
        assert_eq!(r.password, None);
        assert!(!format!("{r:?}").contains("rt\""));
    }

    #[test]
    fn reference_keys_load_with_warnings() {
        let cfg = load("{ gateway: { mode: 'local', tailscale: { mode: 'off' } }, channels: { discord: {}, whatsapp: { selfChatMode: true } } }").unwrap();
        let w: Vec<String> = cfg.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(w, ["gateway.tailscale: not supported yet; ignored", "channels.discord: not supported yet; ignored", "channels.whatsapp.selfChatMode: not supported yet; ignored"]);
    }

    #[test]
    fn errors_are_the_located_report() {
        let err = load("{\n  gateway: { port: 1,, }\n}").unwrap_err().to_string();
        assert!(err.starts_with("Config invalid\nFile: "), "{err}");
        assert!(err.contains("- <root> (line 2, column 22): JSON5 parse failed: invalid character ','"), "{err}");
        let err = load("{\n gateway: {\n  port: 'abc' } }").unwrap_err().to_string();
        assert!(err.contains("- gateway.port (line 3, column 3): expected an integer (got a string)"), "{err}");
        let err = load("{gateway: {customBindHost: 'nope'}}").unwrap_err().to_string();
        assert!(err.contains("gateway.customBindHost") && err.contains("not an IP address"), "{err}");
    }

    #[test]
    fn paths_follow_the_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        let p = Paths::resolve(env(&[("HOME", "/h")])).unwrap();
        assert_eq!(p.state_dir, PathBuf::from("/h/.openclaw"));
        assert_eq!(p.config_path, PathBuf::from("/h/.openclaw/openclaw.json"));
        assert_eq!(p.token_file(), PathBuf::from("/h/.openclaw/gateway.token"));
        let p = Paths::resolve(env(&[
            ("HOME", "/h"),
            ("OPENCLAW_STATE_DIR", "~/s"),
            ("OPENCLAW_CONFIG_PATH", "/etc/oc.json5"),
        ]))
        .unwrap();
        assert_eq!(p.state_dir, PathBuf::from("/h/s"));
        assert_eq!(p.config_path, PathBuf::from("/etc/oc.json5"));
    }

    #[test]
    fn port_precedence() {
        let cfg = GatewayConfig {
            port: Some(3),
            ..GatewayConfig::default()
        };
        assert_eq!(resolve_port(Some(1), Some(2), &cfg), 1);
        assert_eq!(resolve_port(None, Some(2), &cfg), 2);
        assert_eq!(resolve_port(None, None, &cfg), 3);
        assert_eq!(
            resolve_port(None, None, &GatewayConfig::default()),
            DEFAULT_PORT
        );
    }
}
