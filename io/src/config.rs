//! What the gateway is started with.

use std::net::SocketAddr;
use std::time::Duration;

use openclaw_core::auth::AuthMode;
use openclaw_core::Limits;

use crate::host::Host;
use crate::settings::Settings;

/// The gateway's startup configuration (the CLI builds it from flags, env and the config file).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// 127.0.0.1:18789 by default.
    pub bind: SocketAddr,
    /// Token/password/none with its secret.
    pub auth: AuthMode,
    /// What the config file says, projected once ([`Settings::project`]): the auth rate
    /// limit, `gateway.controlUi.allowedOrigins` (`*` allows any; the gateway's own loopback
    /// origins are always allowed), the agent runtime and its default run timeout. Defaults
    /// without a config file. [`Gateway::apply_settings`](crate::Gateway::apply_settings)
    /// replaces it on a running gateway.
    pub settings: Settings,
    /// Sockets per client IP that have not completed `hello-ok` (32,
    /// `OPENCLAW_MAX_PREAUTH_CONNECTIONS_PER_IP`); the next upgrade gets HTTP 503.
    pub max_preauth_per_ip: usize,
    /// `Limits::default()` in production; tests shrink them.
    pub limits: Limits,
    /// How long a client may take to send the HTTP request head (10 s).
    pub header_read_timeout: Duration,
    pub config_path: Option<String>,
    pub state_dir: Option<String>,
    /// Serve the canvas host (`/__openclaw__/canvas/<id>/…` from
    /// `<state_dir>/canvas/documents/<id>/`, live reload on `/__openclaw__/ws`). On by default;
    /// the CLI turns it off for `OPENCLAW_SKIP_CANVAS_HOST=1`. Needs a `state_dir`.
    pub canvas_host: bool,
    /// Debug logs of handshakes, requests, responses and events (secrets never logged).
    pub verbose: bool,
    /// Answers `logs.tail` and `config.*`; none: a [`FileHost`](crate::FileHost) on
    /// `config_path` when it is set, else those methods answer UNAVAILABLE.
    pub host: Host,
    /// The Telegram polling loop (long-poll timeout 30 s, backoff 2 s × 1.8 up to 30 s); tests
    /// shorten it.
    pub channel_loop: openclaw_channels::telegram::account::LoopConfig,
    /// How long past its timeout a long poll may stay silent before it is abandoned (15 s).
    pub channel_poll_grace: Duration,
    /// The WhatsApp Web protocol implementation (none in a build without the `whatsapp`
    /// feature: accounts never connect and sends answer NOT_LINKED); tests put a fake here.
    pub whatsapp_link: Option<openclaw_channels::whatsapp::link::BoxLink>,
}

impl ServerConfig {
    /// Production defaults for everything but the address and the auth mode.
    pub fn new(bind: SocketAddr, auth: AuthMode) -> Self {
        Self {
            bind,
            auth,
            settings: Settings::default(),
            max_preauth_per_ip: 32,
            limits: Limits::default(),
            header_read_timeout: Duration::from_secs(10),
            config_path: None,
            state_dir: None,
            canvas_host: true,
            verbose: false,
            host: Host::default(),
            channel_loop: Default::default(),
            channel_poll_grace: Duration::from_secs(15),
            whatsapp_link: None,
        }
    }
}
