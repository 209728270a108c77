//! The one projection of core's typed [`Config`] into what the running gateway uses.
//!
//! [`openclaw_core::config::Config`] is the model (loaded and validated by
//! [`config_file`](crate::config_file)); everything the binary and the driver need from it is
//! derived here and nowhere else: the `gateway.*` settings ([`GatewaySettings`]: port, bind,
//! auth, rate limit, origins, remote), the agent runtime ([`AgentConfig`] from `models.*`,
//! `agents.defaults.*`, `tools.*`) and the default run timeout. [`Settings`] is the whole
//! snapshot: a gateway starts on [`ServerConfig::settings`](crate::ServerConfig::settings) and
//! [`Gateway::apply_settings`](crate::Gateway::apply_settings) hands it a reloaded one (HTTP
//! handlers read the live snapshot through an `ArcSwap`; the hub and the agent runtime get it as
//! an input).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use openclaw_core::auth::limiter::RateLimitPolicy;
use openclaw_core::config::{self as core, Config, ModelSetting, ProviderApi, RateLimitConfig, RemoteConfig};
use openclaw_core::hooks::HooksPolicy;
use openclaw_core::limits::DEFAULT_AGENT_TIMEOUT;

use crate::agent::{AgentConfig, Api, ModelChoice, ModelRef, ProviderConfig};

/// A value that passed validation but cannot be used: the key and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("field {field}: {message}")]
pub struct SettingsError {
    pub field: String,
    pub message: String,
}

impl SettingsError {
    fn new(field: &str, message: String) -> Self {
        Self { field: field.to_owned(), message }
    }
}

/// The whole snapshot the gateway runs on.
#[derive(Clone, Debug)]
pub struct Settings {
    pub gateway: GatewaySettings,
    /// Providers, default model, system prompt, workspace, tools.
    pub agent: AgentConfig,
    /// `agents.defaults.timeoutSeconds` (600 s; 0: none).
    pub agent_timeout: Duration,
    /// `channels.*` and `session.*`: the channel accounts to run.
    pub channels: crate::channels::settings::ChannelSettings,
    /// `hooks.*` resolved; `None` while hooks are off (hot-reloaded with the rest).
    pub hooks: Option<Arc<HooksPolicy>>,
}

/// No config file: every default (a 600 s run timeout, no providers).
impl Default for Settings {
    fn default() -> Self {
        Self {
            gateway: GatewaySettings::default(),
            agent: AgentConfig::default(),
            agent_timeout: DEFAULT_AGENT_TIMEOUT,
            channels: Default::default(),
            hooks: None,
        }
    }
}

impl Settings {
    /// Projects `config`. `state_dir` holds the default workspace; `env` is only consulted
    /// for `HOME` (a `~/` workspace).
    pub fn project(config: &Config, state_dir: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut channels = crate::channels::settings::ChannelSettings::project(config, &env)?;
        let agent = agent(config, state_dir, &env)?;
        let workspace_only = config.tools.as_ref().and_then(|t| t.fs.as_ref()).and_then(|f| f.workspace_only) == Some(true);
        channels.media = crate::channels::local_media::MediaPolicy {
            state_dir: Some(state_dir.to_path_buf()),
            workspace: agent.workspace.clone(),
            host_reads: !workspace_only && agent.tools.allows("read"),
            home: env("HOME").map(PathBuf::from),
        };
        Ok(Self {
            channels,
            gateway: GatewaySettings::project(config)?,
            agent,
            agent_timeout: agent_timeout(config),
            hooks: HooksPolicy::resolve(config.hooks.as_ref()).map_err(|m| SettingsError::new("hooks", m))?.map(Arc::new),
        })
    }
}

/// `gateway.bind` as the gateway uses it: `auto` is loopback; `tailnet` (unsupported) has no
/// value here (the binary refuses it from [`Config`] itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bind {
    Loopback,
    Lan,
    Custom,
}

/// `gateway.auth.mode`; `trusted-proxy` (unsupported) has no value here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthKind {
    Token,
    Password,
    None,
}

/// The `gateway.*` settings. Every field is optional: absent means "use the default".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GatewaySettings {
    pub mode: Option<core::GatewayMode>,
    pub port: Option<u16>,
    pub bind: Option<Bind>,
    /// `gateway.customBindHost` (with `bind: "custom"`).
    pub custom_bind_host: Option<IpAddr>,
    pub auth: AuthSettings,
    /// `gateway.auth.rateLimit` with the defaults filled in.
    pub auth_rate_limit: RateLimitPolicy,
    pub control_ui: ControlUiSettings,
    /// `gateway.remote`: where client commands connect when `gateway.mode` is `remote` (blank
    /// values read as unset; its `Debug` redacts the secrets).
    pub remote: RemoteConfig,
    /// `gateway.http.endpoints.*.enabled`.
    pub http: HttpEndpoints,
    /// `gateway.http.endpoints.responses.{maxUrlParts, files, images}`.
    pub responses_inputs: ResponsesInputs,
    /// `gateway.nodes.pairing.autoApproveLocal` as written (see
    /// [`GatewaySettings::auto_approve_local`]).
    pub auto_approve_local: Option<bool>,
    /// `gateway.tools.{allow,deny}`: the HTTP deny list of `POST /tools/invoke`.
    pub http_tools: HttpToolPolicy,
    /// `gateway.nodes.commands.{allow,deny}`: node commands added to / taken off the platform
    /// allowlists (applied live on reload).
    pub node_commands: openclaw_core::devices::surface::NodeCommandPolicy,
}

/// `gateway.tools`: names taken off (`allow`) and added to (`deny`) the default HTTP deny list
/// of `POST /tools/invoke` (http.md §4). Empty by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpToolPolicy {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

/// Which HTTP APIs the gateway serves (`gateway.http.endpoints.*.enabled`, all off by
/// default). Either one also serves `GET /v1/models` (http.md §1.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HttpEndpoints {
    /// `POST /v1/chat/completions`.
    pub chat_completions: bool,
    /// `POST /v1/responses`.
    pub responses: bool,
}

impl HttpEndpoints {
    /// Whether `GET /v1/models` is served.
    pub fn models(self) -> bool {
        self.chat_completions || self.responses
    }
}

/// What `POST /v1/responses` accepts as `input_file` / `input_image` parts (http.md §3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponsesInputs {
    /// URL-sourced parts per request.
    pub max_url_parts: usize,
    pub files: InputLimits,
    pub images: InputLimits,
    /// Let URL sources reach loopback, private and link-local addresses. Not a config key
    /// (the reference always blocks them); tests that fetch from a local server set it.
    pub allow_private_network: bool,
}

/// The limits of one kind of input part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputLimits {
    pub allow_url: bool,
    /// Exact hosts or `*.suffix` patterns; empty: any (public) host.
    pub url_allowlist: Vec<String>,
    /// Lowercased MIME types.
    pub allowed_mimes: Vec<String>,
    pub max_bytes: u64,
    /// Characters of decoded file text kept (files only).
    pub max_chars: u64,
    pub max_redirects: u32,
    pub timeout: Duration,
}

impl Default for ResponsesInputs {
    fn default() -> Self {
        Self::project(None)
    }
}

impl ResponsesInputs {
    fn project(config: Option<&openclaw_core::config::ResponsesEndpointConfig>) -> Self {
        let files = config.and_then(|c| c.files.clone()).unwrap_or_default();
        let images = config.and_then(|c| c.images.clone()).unwrap_or_default();
        let mimes = |list: Option<Vec<String>>, default: &[&str]| {
            let list: Vec<String> = list.unwrap_or_default().iter().map(|m| m.trim().to_ascii_lowercase()).filter(|m| !m.is_empty()).collect();
            if list.is_empty() {
                default.iter().map(|m| (*m).to_owned()).collect()
            } else {
                list
            }
        };
        let hosts = |list: Option<Vec<String>>| {
            list.unwrap_or_default().iter().map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect()
        };
        Self {
            max_url_parts: config.and_then(|c| c.max_url_parts).map_or(8, |n| n as usize),
            files: InputLimits {
                allow_url: files.allow_url.unwrap_or(true),
                url_allowlist: hosts(files.url_allowlist),
                allowed_mimes: mimes(
                    files.allowed_mimes,
                    &["text/plain", "text/markdown", "text/html", "text/csv", "application/json", "application/pdf"],
                ),
                max_bytes: files.max_bytes.unwrap_or(5 * 1024 * 1024),
                max_chars: files.max_chars.unwrap_or(60_000),
                max_redirects: files.max_redirects.unwrap_or(3),
                timeout: Duration::from_millis(files.timeout_ms.unwrap_or(10_000)),
            },
            images: InputLimits {
                allow_url: images.allow_url.unwrap_or(true),
                url_allowlist: hosts(images.url_allowlist),
                allowed_mimes: mimes(
                    images.allowed_mimes,
                    &["image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif"],
                ),
                max_bytes: images.max_bytes.unwrap_or(10 * 1024 * 1024),
                max_chars: 0,
                max_redirects: images.max_redirects.unwrap_or(3),
                timeout: Duration::from_millis(images.timeout_ms.unwrap_or(10_000)),
            },
            allow_private_network: false,
        }
    }
}

/// `gateway.auth.{mode,token,password}`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AuthSettings {
    pub mode: Option<AuthKind>,
    pub token: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for AuthSettings {
    // Secrets never reach logs, even at debug level.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("mode", &self.mode)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `gateway.controlUi.{enabled, basePath, root, allowedOrigins,
/// dangerouslyAllowHostHeaderOriginFallback}`.
///
/// `enabled` is true when projected from a config file (the reference's default) and false in
/// `Settings::default()`, so an embedding or a test that builds its own settings serves no UI
/// unless it asks for one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ControlUiSettings {
    pub allowed_origins: Vec<String>,
    /// `gateway.controlUi.dangerouslyAllowHostHeaderOriginFallback`.
    pub host_header_origin_fallback: bool,
    /// Serve the Control UI (`gateway.controlUi.enabled`, default true).
    pub enabled: bool,
    /// `gateway.controlUi.basePath` normalised: `""` (the root) or `/x` without a trailing `/`.
    pub base_path: String,
    /// `gateway.controlUi.root` (`~/` expanded): serve this folder instead of the embedded UI.
    pub root: Option<std::path::PathBuf>,
}

impl GatewaySettings {
    /// The `gateway.*` part of `config`; a `customBindHost` that is not an IP address fails.
    pub fn project(config: &Config) -> Result<Self, SettingsError> {
        let gw = config.gateway();
        let auth = gw.auth.clone().unwrap_or_default();
        let custom_bind_host = match gw.custom_bind_host.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
            None => None,
            Some(host) => Some(host.parse::<IpAddr>().map_err(|_| {
                SettingsError::new("gateway.customBindHost", format!("{host:?} is not an IP address"))
            })?),
        };
        let non_blank = |s: Option<String>| s.filter(|v| !v.trim().is_empty());
        Ok(Self {
            mode: gw.mode,
            port: gw.port,
            bind: gw.bind.and_then(|b| match b {
                core::BindMode::Loopback | core::BindMode::Auto => Some(Bind::Loopback),
                core::BindMode::Lan => Some(Bind::Lan),
                core::BindMode::Custom => Some(Bind::Custom),
                core::BindMode::Tailnet => None,
            }),
            custom_bind_host,
            auth: AuthSettings {
                mode: auth.mode.and_then(|m| match m {
                    core::AuthMode::Token => Some(AuthKind::Token),
                    core::AuthMode::Password => Some(AuthKind::Password),
                    core::AuthMode::None => Some(AuthKind::None),
                    core::AuthMode::TrustedProxy => None,
                }),
                token: auth.token,
                password: auth.password,
            },
            auth_rate_limit: rate_limit_policy(auth.rate_limit.as_ref()),
            control_ui: {
                let ui = gw.control_ui.clone().unwrap_or_default();
                ControlUiSettings {
                    allowed_origins: ui.allowed_origins.unwrap_or_default(),
                    host_header_origin_fallback: ui.dangerously_allow_host_header_origin_fallback.unwrap_or(false),
                    enabled: ui.enabled.unwrap_or(true),
                    base_path: crate::http::normalize_base_path(ui.base_path.as_deref().unwrap_or("")),
                    root: ui.root.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).map(|r| expand_home(&r, &|k| std::env::var(k).ok())),
                }
            },
            remote: gw.remote.map_or_else(RemoteConfig::default, |r| RemoteConfig {
                url: non_blank(r.url),
                token: non_blank(r.token),
                password: non_blank(r.password),
            }),
            http: {
                let endpoints = gw.http.clone().and_then(|h| h.endpoints).unwrap_or_default();
                let on = |e: Option<bool>| e.unwrap_or(false);
                HttpEndpoints {
                    chat_completions: on(endpoints.chat_completions.and_then(|e| e.enabled)),
                    responses: on(endpoints.responses.as_ref().and_then(|e| e.enabled)),
                }
            },
            responses_inputs: ResponsesInputs::project(
                gw.http.as_ref().and_then(|h| h.endpoints.as_ref()).and_then(|e| e.responses.as_ref()),
            ),
            auto_approve_local: config
                .gateway()
                .nodes
                .and_then(|n| n.pairing)
                .and_then(|p| p.auto_approve_local),
            http_tools: {
                let tools = gw.tools.unwrap_or_default();
                HttpToolPolicy { allow: tools.allow.unwrap_or_default(), deny: tools.deny.unwrap_or_default() }
            },
            node_commands: {
                let commands = config.gateway().nodes.and_then(|n| n.commands).unwrap_or_default();
                openclaw_core::devices::surface::NodeCommandPolicy {
                    allow: commands.allow.unwrap_or_default(),
                    deny: commands.deny.unwrap_or_default(),
                }
            },
        })
    }

    /// The node settings the hub applies live (`gateway.nodes.pairing`, `.commands`).
    pub fn nodes_policy(&self) -> openclaw_core::devices::NodesPolicy {
        openclaw_core::devices::NodesPolicy {
            auto_approve_local: self.auto_approve_local(),
            commands: self.node_commands.clone(),
        }
    }

    /// Approve new loopback devices without an operator (`autoApproveLocal`, default true).
    pub fn auto_approve_local(&self) -> bool {
        self.auto_approve_local.unwrap_or(true)
    }
}

/// `gateway.auth.rateLimit`; absent keys keep the defaults (10 / 60 s / 5 min / loopback exempt).
pub fn rate_limit_policy(config: Option<&RateLimitConfig>) -> RateLimitPolicy {
    let default = RateLimitPolicy::default();
    let Some(c) = config else { return default };
    RateLimitPolicy {
        max_attempts: c.max_attempts.map_or(default.max_attempts, |n| n as usize),
        window: c.window_ms.map_or(default.window, Duration::from_millis),
        lockout: c.lockout_ms.map_or(default.lockout, Duration::from_millis),
        exempt_loopback: c.exempt_loopback.unwrap_or(default.exempt_loopback),
    }
}

/// The agent runtime's settings: `models.providers.*` (`"<provider>/<model>"` refs checked
/// against them), `agents.defaults.{model,systemPrompt,workspace}` (the workspace holding
/// `AGENTS.md`, `<state dir>/workspace` by default) and `tools.{allow,deny}`. `${VAR}`
/// references were substituted by the loader already.
pub fn agent(config: &Config, state_dir: &Path, env: impl Fn(&str) -> Option<String>) -> Result<AgentConfig, SettingsError> {
    let field = |message: String| SettingsError::new("agents.defaults.model", message);
    let mut out = AgentConfig::default();
    let models = config.models.clone().unwrap_or_default();
    for (name, p) in models.providers.iter().flatten() {
        let api = match p.api.unwrap_or(ProviderApi::OpenaiCompletions) {
            ProviderApi::OpenaiCompletions => Api::OpenAiCompletions,
            ProviderApi::AnthropicMessages => Api::AnthropicMessages,
        };
        let api_key = p.api_key.clone().filter(|k| !k.is_empty());
        out.providers.insert(name.clone(), ProviderConfig { base_url: p.base_url.clone(), api_key, api });
    }
    let defaults = config.agents.clone().unwrap_or_default().defaults.unwrap_or_default();
    if let Some(setting) = &defaults.model {
        let (primary, fallbacks) = match setting {
            ModelSetting::Ref(r) => (r.clone(), Vec::new()),
            ModelSetting::Choice(c) => (c.primary.clone(), c.fallbacks.clone().unwrap_or_default()),
        };
        let parse = |text: &str| {
            let r = ModelRef::parse(text).ok_or_else(|| field(format!("{text:?} is not \"<provider>/<model>\"")))?;
            if !out.providers.contains_key(&r.provider) {
                return Err(field(format!(
                    "{text:?} names provider {:?}, but models.providers.{} is not configured",
                    r.provider, r.provider
                )));
            }
            Ok(r)
        };
        let primary = parse(&primary)?;
        let fallbacks = fallbacks.iter().map(|f| parse(f)).collect::<Result<Vec<_>, _>>()?;
        out.model = Some(ModelChoice { primary, fallbacks });
    }
    out.system_prompt = defaults.system_prompt.clone().filter(|s| !s.trim().is_empty());
    out.workspace = Some(match &defaults.workspace {
        Some(dir) => expand_home(dir, &env),
        None => state_dir.join("workspace"),
    });
    let tools = config.tools.clone().unwrap_or_default();
    out.tools.allow = tools.allow;
    out.tools.deny = tools.deny.unwrap_or_default();
    Ok(out)
}

/// The run timeout of calls that name none: `agents.defaults.timeoutSeconds`, else 600 s;
/// 0 is no timeout.
pub fn agent_timeout(config: &Config) -> Duration {
    config
        .agents
        .as_ref()
        .and_then(|a| a.defaults.as_ref())
        .and_then(|d| d.timeout_seconds)
        .map_or(DEFAULT_AGENT_TIMEOUT, Duration::from_secs)
}

/// `~/x` against `HOME`; anything else as written.
pub fn expand_home(dir: &str, env: &impl Fn(&str) -> Option<String>) -> PathBuf {
    match (dir.strip_prefix("~/"), env("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::ToolsConfig;

    fn config(text: &str) -> Config {
        let value = openclaw_core::config::json5::parse(text).unwrap().value;
        openclaw_core::config::check(&value).unwrap().config
    }

    #[test]
    fn http_endpoints_are_off_unless_enabled() {
        let off = GatewaySettings::project(&config("{}")).unwrap();
        assert_eq!(off.http, HttpEndpoints::default());
        assert!(!off.http.models());
        let on = GatewaySettings::project(&config(
            "{ gateway: { http: { endpoints: { chatCompletions: { enabled: true }, responses: { enabled: false } } } } }",
        ))
        .unwrap();
        assert_eq!(on.http, HttpEndpoints { chat_completions: true, responses: false });
        assert!(on.http.models());
    }

    #[test]
    fn gateway_keys() {
        let gw = GatewaySettings::project(&config(
            "{ gateway: { port: 19001, bind: 'lan', mode: 'local',
             auth: { mode: 'password', password: 'pw', }, controlUi: { allowedOrigins: ['http://a'] },
             customBindHost: '10.0.0.1', reload: {mode: 'off'} } }",
        ))
        .unwrap();
        assert_eq!(gw.port, Some(19001));
        assert_eq!(gw.mode, Some(core::GatewayMode::Local));
        assert_eq!(gw.bind, Some(Bind::Lan));
        assert_eq!(gw.auth.mode, Some(AuthKind::Password));
        assert_eq!(gw.auth.password.as_deref(), Some("pw"));
        assert_eq!(gw.control_ui.allowed_origins, vec!["http://a".to_owned()]);
        assert_eq!(gw.custom_bind_host, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(gw.auth_rate_limit, RateLimitPolicy::default());
        assert!(!format!("{:?}", gw.auth).contains("pw\""));
        let mut empty = GatewaySettings::default();
        empty.control_ui.enabled = true; // a config file serves the Control UI by default
        assert_eq!(GatewaySettings::project(&config("{}")).unwrap(), empty);
        assert_eq!(GatewaySettings::project(&config("{gateway: {bind: 'auto'}}")).unwrap().bind, Some(Bind::Loopback));
        assert_eq!(GatewaySettings::project(&config("{gateway: {bind: 'tailnet'}}")).unwrap().bind, None);
        let e = GatewaySettings::project(&config("{gateway: {customBindHost: 'nope'}}")).unwrap_err();
        assert_eq!(e.field, "gateway.customBindHost");
        assert!(e.to_string().contains("not an IP address"), "{e}");
    }

    #[test]
    fn rate_limit_keys_reach_the_policy() {
        let gw = GatewaySettings::project(&config(
            "{ gateway: { auth: { rateLimit: { maxAttempts: 2, windowMs: 1000, lockoutMs: 5000, exemptLoopback: false } } } }",
        ))
        .unwrap();
        let want = RateLimitPolicy {
            max_attempts: 2,
            window: Duration::from_secs(1),
            lockout: Duration::from_secs(5),
            exempt_loopback: false,
        };
        assert_eq!(gw.auth_rate_limit, want);
        let gw = GatewaySettings::project(&config("{ gateway: { auth: { rateLimit: { maxAttempts: 3 } } } }")).unwrap();
        assert_eq!(gw.auth_rate_limit, RateLimitPolicy { max_attempts: 3, ..RateLimitPolicy::default() });
    }

    #[test]
    fn remote_keys_are_read() {
        let gw = GatewaySettings::project(&config(
            "{ gateway: { mode: 'remote', remote: { url: 'ws://10.0.0.2:18789', token: 'rt', password: ' ' } } }",
        ))
        .unwrap();
        let r = gw.remote;
        assert_eq!(r.url.as_deref(), Some("ws://10.0.0.2:18789"));
        assert_eq!(r.token.as_deref(), Some("rt"));
        assert_eq!(r.password, None);
        assert!(!format!("{r:?}").contains("rt\""));
    }

    #[test]
    fn resolves_providers_and_models() {
        let c = config(
            "{ models: { providers: { local: { baseUrl: 'http://127.0.0.1:11434/v1', apiKey: 'x-sk-1' },
               claude: { baseUrl: 'http://proxy', api: 'anthropic-messages', models: [] } } },
               agents: { defaults: { model: { primary: 'local/llama3', fallbacks: ['claude/sonnet'] } } } }",
        );
        let c = agent(&c, Path::new("/s"), |_| None).unwrap();
        assert_eq!(c.providers["local"].api_key.as_deref(), Some("x-sk-1"));
        assert_eq!(c.providers["local"].api, Api::OpenAiCompletions);
        assert_eq!(c.providers["claude"].api, Api::AnthropicMessages);
        let model = c.model.unwrap();
        assert_eq!(model.primary.to_string(), "local/llama3");
        assert_eq!(model.fallbacks[0].to_string(), "claude/sonnet");
        assert_eq!(c.workspace, Some(PathBuf::from("/s/workspace")));
        let c = config("{ agents: { defaults: { workspace: '~/w', systemPrompt: 'be brief' } } }");
        let c = agent(&c, Path::new("/s"), |n| (n == "HOME").then(|| "/h".into())).unwrap();
        assert_eq!(c.workspace, Some(PathBuf::from("/h/w")));
        assert_eq!(c.system_prompt.as_deref(), Some("be brief"));
    }

    #[test]
    fn run_timeout_follows_agents_defaults_timeout_seconds() {
        assert_eq!(agent_timeout(&config("{ agents: { defaults: { timeoutSeconds: 45 } } }")), Duration::from_secs(45));
        assert_eq!(agent_timeout(&config("{ agents: { defaults: { timeoutSeconds: 0 } } }")), Duration::ZERO);
        assert_eq!(agent_timeout(&config("{}")), Duration::from_secs(600));
    }

    #[test]
    fn local_media_policy_follows_tools_fs_workspace_only_and_the_read_tool() {
        let media = |text: &str| Settings::project(&config(text), Path::new("/s"), |n| (n == "HOME").then(|| "/h".into())).unwrap().channels.media;
        let m = media("{ agents: { defaults: { workspace: '~/w' } } }");
        assert_eq!((m.state_dir, m.workspace, m.home, m.host_reads), (Some(PathBuf::from("/s")), Some(PathBuf::from("/h/w")), Some(PathBuf::from("/h")), true));
        assert!(!media("{ tools: { fs: { workspaceOnly: true } } }").host_reads);
        assert!(media("{ tools: { fs: { workspaceOnly: false } } }").host_reads);
        assert!(!media("{ tools: { deny: ['read'] } }").host_reads, "no file reads without the read tool");
    }

    #[test]
    fn tools_allow_and_deny_reach_the_agent_config() {
        let c = agent(&config("{ tools: { allow: ['read', 'write'], deny: ['write'] } }"), Path::new("/s"), |_| None).unwrap();
        assert_eq!(c.tools.allow, Some(vec!["read".to_owned(), "write".to_owned()]));
        assert_eq!(c.tools.deny, vec!["write".to_owned()]);
        assert!(c.tools.allows("read") && !c.tools.allows("write") && !c.tools.allows("exec"));
        let c = agent(&config("{ tools: { deny: ['*'] } }"), Path::new("/s"), |_| None).unwrap();
        assert_eq!(c.tools.allow, None);
        assert!(!c.tools.allows("read"));
        let c = agent(&config("{}"), Path::new("/s"), |_| None).unwrap();
        assert_eq!(c.tools, ToolsConfig::default());
    }

    #[test]
    fn errors_name_the_key() {
        let e = agent(&config("{ agents: { defaults: { model: 'ghost/m' } } }"), Path::new("/s"), |_| None).unwrap_err().to_string();
        assert!(e.contains("agents.defaults.model") && e.contains("models.providers.ghost"), "{e}");
        let e = agent(&config("{ agents: { defaults: { model: 'nomodel' } } }"), Path::new("/s"), |_| None).unwrap_err().to_string();
        assert!(e.contains(r#"is not "<provider>/<model>""#), "{e}");
    }

    #[test]
    fn the_whole_snapshot() {
        let s = Settings::project(&config("{ gateway: { port: 1 }, agents: { defaults: { timeoutSeconds: 5 } } }"), Path::new("/s"), |_| None)
            .unwrap();
        assert_eq!(s.gateway.port, Some(1));
        assert_eq!(s.agent_timeout, Duration::from_secs(5));
        assert_eq!(s.agent.workspace, Some(PathBuf::from("/s/workspace")));
    }
}
