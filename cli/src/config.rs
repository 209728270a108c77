//! The `gateway.*` part of the JSON5 config file, and where the CLI's files live.
//!
//! Config loading is the CLI's concern for now (a later issue moves typed config into `core`).
//! Only the keys the gateway uses today are read; every other key is ignored, not validated.
//! A missing file is an empty config. A broken one is an error that names the file, the line and
//! column, and the field.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::agent_config::{AgentsSection, ModelsSection};
use crate::args::{AuthChoice, BindMode};

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

/// The typed `gateway.*` settings. Every field is optional: absent means "use the default".
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayConfig {
    /// `gateway.port`.
    pub port: Option<u16>,
    /// `gateway.bind`.
    pub bind: Option<BindMode>,
    /// `gateway.customBindHost` (with `bind: "custom"`).
    pub custom_bind_host: Option<IpAddr>,
    /// `gateway.auth`.
    #[serde(default)]
    pub auth: AuthConfig,
    /// `gateway.controlUi`.
    #[serde(default)]
    pub control_ui: ControlUiConfig,
}

/// `gateway.auth.{mode,token,password}`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AuthConfig {
    pub mode: Option<AuthChoice>,
    pub token: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for AuthConfig {
    // Secrets never reach logs, even at debug level.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("mode", &self.mode)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `gateway.controlUi.allowedOrigins`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlUiConfig {
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

/// The loaded config file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// Whether the file existed (a missing file is an empty config).
    pub found: bool,
    pub gateway: GatewayConfig,
    /// `models.*` (providers).
    pub models: ModelsSection,
    /// `agents.*` (default model, workspace).
    pub agents: AgentsSection,
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
    /// Not JSON5 at all.
    #[error("invalid config {path}: line {line}, column {column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// JSON5, but a known field has the wrong type or value.
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

/// The whole file; everything but `gateway`, `models` and `agents` is ignored for now.
#[derive(Debug, Deserialize)]
struct FileShape {
    #[serde(default)]
    gateway: GatewayConfig,
    #[serde(default)]
    models: ModelsSection,
    #[serde(default)]
    agents: AgentsSection,
}

impl Config {
    /// Reads `path`; a missing file gives the empty config.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let file = parse(path, &text)?;
        Ok(Self {
            found: true,
            gateway: file.gateway,
            models: file.models,
            agents: file.agents,
        })
    }
}

/// Parses the config text: first the JSON5 syntax (with a position), then the typed fields
/// (with the path of the offending field).
fn parse(path: &Path, text: &str) -> Result<FileShape, ConfigError> {
    if let Err(e) = json5::from_str::<serde::de::IgnoredAny>(text) {
        let (line, column) = e.position().map_or((1, 1), |p| (p.line + 1, p.column + 1));
        return Err(ConfigError::Syntax {
            path: path.to_owned(),
            line,
            column,
            message: strip_position(&e.to_string()),
        });
    }
    let mut de = json5::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, FileShape>(&mut de) {
        Ok(file) => Ok(file),
        Err(e) => {
            let field = e.path().to_string();
            let inner = e.into_inner();
            Err(ConfigError::Field {
                path: path.to_owned(),
                location: Location(inner.position().map(|p| (p.line + 1, p.column + 1))),
                field,
                message: strip_position(&inner.to_string()),
            })
        }
    }
}

/// json5 appends " at line L column C" to its messages; we report the position ourselves.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
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

    fn parse_ok(text: &str) -> GatewayConfig {
        parse(Path::new("/c.json"), text).unwrap().gateway
    }

    #[test]
    fn reads_gateway_keys_and_ignores_the_rest() {
        let cfg = parse_ok(
            "// comment\n{ agents: {x: 1}, gateway: { port: 19001, bind: 'lan', mode: 'local',\n\
             auth: { mode: 'password', password: 'pw', }, controlUi: { allowedOrigins: ['http://a'] },\
             customBindHost: '10.0.0.1', reload: {mode: 'off'} } }",
        );
        assert_eq!(cfg.port, Some(19001));
        assert_eq!(cfg.bind, Some(BindMode::Lan));
        assert_eq!(cfg.auth.mode, Some(AuthChoice::Password));
        assert_eq!(cfg.auth.password.as_deref(), Some("pw"));
        assert_eq!(cfg.control_ui.allowed_origins, vec!["http://a".to_owned()]);
        assert_eq!(cfg.custom_bind_host, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(parse_ok("{}"), GatewayConfig::default());
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let err = parse(Path::new("/c.json"), "{\n  gateway: { port: 1,, }\n}").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ConfigError::Syntax { line: 2, .. }), "{text}");
        assert!(
            text.starts_with("invalid config /c.json: line 2, column "),
            "{text}"
        );
    }

    #[test]
    fn field_error_names_the_field_and_position() {
        let err = parse(Path::new("/c.json"), "{\n gateway: {\n  port: 'abc' } }").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("field gateway.port"), "{text}");
        assert!(text.contains("line 3, column"), "{text}");
        let err = parse(Path::new("/c.json"), "{gateway: {bind: 'tailnet'}}").unwrap_err();
        assert!(err.to_string().contains("field gateway.bind"), "{err}");
        assert!(err.to_string().contains("tailnet"), "{err}");
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
