//! What the gateway is started with.

use std::net::SocketAddr;
use std::time::Duration;

use openclaw_core::auth::limiter::RateLimitPolicy;
use openclaw_core::auth::AuthMode;
use openclaw_core::Limits;

use crate::agent::AgentConfig;
use crate::host::Host;
use crate::settings::Settings;

/// The gateway's startup configuration (the CLI builds it from flags, env and the config file).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// 127.0.0.1:18789 by default.
    pub bind: SocketAddr,
    /// Token/password/none with its secret.
    pub auth: AuthMode,
    /// `gateway.auth.rateLimit` (10 wrong secrets in 60 s lock an address out for 5 min;
    /// loopback exempt).
    pub auth_rate_limit: RateLimitPolicy,
    /// `gateway.controlUi.allowedOrigins` (`*` allows any); the gateway's own loopback origins
    /// are always allowed.
    pub allowed_origins: Vec<String>,
    /// Sockets per client IP that have not completed `hello-ok` (32,
    /// `OPENCLAW_MAX_PREAUTH_CONNECTIONS_PER_IP`); the next upgrade gets HTTP 503.
    pub max_preauth_per_ip: usize,
    /// `Limits::default()` in production; tests shrink them.
    pub limits: Limits,
    /// How long a client may take to send the HTTP request head (10 s).
    pub header_read_timeout: Duration,
    pub config_path: Option<String>,
    pub state_dir: Option<String>,
    /// Debug logs of handshakes, requests, responses and events (secrets never logged).
    pub verbose: bool,
    /// Run timeout of an `agent`/`chat.send` call that names none
    /// (`agents.defaults.timeoutSeconds`, 600 s); zero: no timeout.
    pub agent_timeout: Duration,
    /// Providers, default model, system prompt (`models.*`, `agents.defaults.*`).
    pub agent: AgentConfig,
    /// Answers `logs.tail` and `config.*`; none: a [`FileHost`](crate::FileHost) on
    /// `config_path` when it is set, else those methods answer UNAVAILABLE.
    pub host: Host,
}

impl ServerConfig {
    /// Takes the config-file settings: origins, the auth rate limit, the agent runtime and its
    /// default timeout (the start-up half of the one projection, [`Settings`]).
    pub fn apply_settings(&mut self, settings: &Settings) {
        self.allowed_origins = settings.gateway.control_ui.allowed_origins.clone();
        self.auth_rate_limit = settings.gateway.auth_rate_limit;
        self.agent = settings.agent.clone();
        self.agent_timeout = settings.agent_timeout;
    }

    /// Production defaults for everything but the address and the auth mode.
    pub fn new(bind: SocketAddr, auth: AuthMode) -> Self {
        Self {
            bind,
            auth,
            auth_rate_limit: RateLimitPolicy::default(),
            allowed_origins: Vec::new(),
            max_preauth_per_ip: 32,
            limits: Limits::default(),
            header_read_timeout: Duration::from_secs(10),
            config_path: None,
            state_dir: None,
            verbose: false,
            agent_timeout: openclaw_core::limits::DEFAULT_AGENT_TIMEOUT,
            agent: AgentConfig::default(),
            host: Host::default(),
        }
    }
}
