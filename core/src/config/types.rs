//! The typed config file (lifecycle.md §3, §10.4, §11): every key this gateway implements, as
//! closed structs. Absent keys are `None` ("use the default"); the defaults live with the code
//! that uses them. Names and enums follow the reference's config schema (2026.9.6); where the
//! spec adds values the reference lacks (`gateway.reload.mode` `hot`/`restart`,
//! `gateway.reload.debounceMs`, `logging.redactSensitive`, `meta.lastTouchedAt`), the spec wins.
//!
//! Secrets (`gateway.auth.token`, `.password`, `gateway.remote.token`/`.password`,
//! `models.providers.*.apiKey`) never appear in `Debug` output.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The whole config file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "OpenClawConfig")]
pub struct Config {
    /// Editor hint, ignored.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewayConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<LoggingConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<CommandsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<ModelsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<AgentsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ToolsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<super::channels::ChannelsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<super::channels::SessionConfig>,
    pub hooks: Option<super::hooks::HooksConfig>,
}

/// `meta`: stamped by every write.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Meta {
    /// Version of the program that last wrote the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_touched_version: Option<String>,
    /// When it was written (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_touched_at: Option<String>,
    /// The reference's migration markers; kept as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrations: Option<BTreeMap<String, bool>>,
}

/// `gateway`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GatewayConfig {
    /// `local` runs the gateway here; the gateway refuses to start otherwise (mode gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<GatewayMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<BindMode>,
    /// IP address for `bind: "custom"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_bind_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_ui: Option<ControlUiConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload: Option<ReloadConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<NodesConfig>,
    /// `gateway.tools`: the HTTP deny list of `POST /tools/invoke` (http.md §4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<GatewayToolsConfig>,
}

/// `gateway.nodes`: device and node pairing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodesConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairing: Option<NodesPairingConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<NodesCommandsConfig>,
}

/// `gateway.nodes.commands`: node commands added to or taken off the platform allowlist.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodesCommandsConfig {
    /// Allowed on top of the platform defaults (the only way to the dangerous ones, e.g.
    /// `camera.snap`, `screen.record`, `sms.send`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// Never invocable (and, except the dangerous defaults, dropped from new surfaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny: Option<Vec<String>>,
}

/// `gateway.nodes.pairing`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodesPairingConfig {
    /// Approve a new device connecting from loopback without an operator (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_approve_local: Option<bool>,
}

/// `gateway.tools`: what `POST /tools/invoke` may run on top of the tool policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GatewayToolsConfig {
    /// Taken off the default HTTP deny list (and makes the workspace file tools invocable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// Added to the default HTTP deny list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny: Option<Vec<String>>,
}

/// `gateway.http`: the HTTP APIs on the gateway port (http.md §2-3).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<HttpEndpointsConfig>,
}

/// `gateway.http.endpoints`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpEndpointsConfig {
    /// `POST /v1/chat/completions` (and `GET /v1/models`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_completions: Option<EndpointConfig>,
    /// `POST /v1/responses` (and `GET /v1/models`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responses: Option<ResponsesEndpointConfig>,
}

/// `gateway.http.endpoints.responses`: the switch and the limits on `input_file` /
/// `input_image` parts (http.md §3.1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResponsesEndpointConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// URL-sourced `input_file` + `input_image` parts per request (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_url_parts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<InputFilesConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<InputImagesConfig>,
}

/// `gateway.http.endpoints.responses.files`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InputFilesConfig {
    /// Fetch `{type:"url"}` sources (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_url: Option<bool>,
    /// Hosts URL sources may name: `example.com` or `*.example.com` (empty: any public host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_allowlist: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_mimes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_redirects: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// `gateway.http.endpoints.responses.images`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InputImagesConfig {
    /// Fetch `{type:"url"}` sources (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_url: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_allowlist: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_mimes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_redirects: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// One HTTP API endpoint's switch (off by default, as the reference).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EndpointConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `gateway.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GatewayMode {
    Local,
    Remote,
}

impl GatewayMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Remote => "remote",
        }
    }
}

/// `gateway.bind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BindMode {
    Loopback,
    Lan,
    Tailnet,
    Auto,
    Custom,
}

/// `gateway.auth`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<AuthMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_tailscale: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitConfig>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("mode", &self.mode)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("allow_tailscale", &self.allow_tailscale)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

/// `gateway.auth.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    Token,
    Password,
    None,
    TrustedProxy,
}

/// `gateway.auth.rateLimit` (defaults 10 attempts / 60 s window / 5 min lockout, loopback exempt).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RateLimitConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exempt_loopback: Option<bool>,
}

/// `gateway.controlUi`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ControlUiConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_path: Option<String>,
    /// A folder to serve instead of the embedded UI (e.g. the reference's `dist/control-ui`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// Browser origins allowed to open a socket (`*` allows any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    /// Also accept an `Origin` whose host equals the request's `Host` header (unsafe behind a
    /// proxy that passes `Host` through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dangerously_allow_host_header_origin_fallback: Option<bool>,
}

/// `gateway.remote`: where CLI commands connect in remote mode.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RemoteConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `gateway.reload`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReloadConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ReloadMode>,
    /// Quiet time after the last file event before reloading (300 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debounce_ms: Option<u64>,
}

/// `gateway.reload.mode` (default `hybrid`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReloadMode {
    Off,
    Hot,
    Restart,
    Hybrid,
}

/// `logging` (lifecycle.md §10.4).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoggingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<LogLevel>,
    /// The JSON-lines log file (default `/tmp/openclaw/openclaw-YYYY-MM-DD.log`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_level: Option<LogLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_style: Option<ConsoleStyle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redact_sensitive: Option<RedactSensitive>,
    /// Extra regexes whose matches are redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redact_patterns: Option<Vec<String>>,
}

/// `logging.level`, `logging.consoleLevel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Silent,
    Fatal,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// `logging.consoleStyle`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleStyle {
    Pretty,
    Json,
}

/// `logging.redactSensitive` (default `tools`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RedactSensitive {
    Off,
    Tools,
}

/// `commands`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CommandsConfig {
    /// Whether SIGUSR1 / restart requests are honoured (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<bool>,
}

/// `models`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ModelsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub providers: Option<BTreeMap<String, ProviderConfig>>,
}

/// `models.providers.<name>`.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProviderConfig {
    pub base_url: String,
    /// Usually `"${VAR}"`; substituted at load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Wire format (default `openai-completions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ProviderApi>,
    /// The reference's model catalog entries; accepted, not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<Value>>,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("api", &self.api)
            .finish()
    }
}

/// `models.providers.<name>.api`: the wire formats this gateway speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderApi {
    OpenaiCompletions,
    AnthropicMessages,
}

impl ProviderApi {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenaiCompletions => "openai-completions",
            Self::AnthropicMessages => "anthropic-messages",
        }
    }
}

/// `agents`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<AgentDefaults>,
}

/// `agents.defaults`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentDefaults {
    /// `"<provider>/<model>"` or `{primary, fallbacks}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSetting>,
    /// Folder holding `AGENTS.md` (default `<state dir>/workspace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Default run timeout in seconds (0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// Prepended to every system prompt (this gateway's extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
}

/// `agents.defaults.model`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ModelSetting {
    Ref(String),
    Choice(ModelChoiceSetting),
}

/// `agents.defaults.model` as an object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelChoiceSetting {
    pub primary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallbacks: Option<Vec<String>>,
}

/// `tools`: which tools the agent is offered. The reference's other `tools.*` keys (profiles,
/// exec, sandbox, …) are not implemented: they load with a warning.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ToolsConfig {
    /// Only these tools (`"*"`: all); absent: every tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// Never these tools; wins over `allow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny: Option<Vec<String>>,
    /// `tools.fs`: file access rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs: Option<ToolsFsConfig>,
}

/// `tools.fs`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ToolsFsConfig {
    /// Local files sent as media (`send`) only from the media roots and the workspace, not from
    /// the file's own directory (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_only: Option<bool>,
}

impl Config {
    pub fn gateway(&self) -> GatewayConfig {
        self.gateway.clone().unwrap_or_default()
    }
}
