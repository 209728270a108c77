//! `openclaw gateway [run]`: resolve flags, environment and config into a [`ServerConfig`], free
//! the port if asked, start the gateway, and stop it cleanly on SIGTERM/SIGINT.
//!
//! Precedence (lifecycle.md §2.3, runbook): port = `--port` > `OPENCLAW_GATEWAY_PORT` >
//! `gateway.port` > 18789; token = `--token`/`OPENCLAW_GATEWAY_TOKEN` > `gateway.auth.token` >
//! `<state dir>/gateway.token` (generated on first start); password likewise without a file.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use openclaw_core::auth::{AuthMode, Secret};
use openclaw_io::{FileHost, Gateway, IoError, RestartRequest, ServerConfig, Settings};

use openclaw_core::config::{BindMode as CoreBind, GatewayMode};
use openclaw_io::reload::ConfigWatcher;
use tokio::sync::mpsc;

use crate::args::{AuthChoice, BindMode, RunArgs};
use crate::config::{self, Config, ConfigError, Paths};
use crate::supervise::{supervise, Next, Running, Signals};
use crate::token::{self, Origin, TokenError};

/// Budget for `--force` to see the port free (lifecycle.md §2.4).
const FORCE_BUDGET: Duration = Duration::from_millis(2000);

/// Why the gateway did not start (each is printed on stderr; the process exits 1).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Dev(#[from] crate::dev::DevError),
    #[error("--bind custom needs an address: pass --host <IP> or set gateway.customBindHost")]
    CustomWithoutHost,
    #[error("--host only applies with --bind custom (or gateway.bind: \"custom\")")]
    HostWithoutCustom,
    #[error(
        "Refusing to bind gateway to {bind} without auth.\nSet gateway.auth.token/password \
         (or OPENCLAW_GATEWAY_TOKEN/OPENCLAW_GATEWAY_PASSWORD) or pass --token/--password.{hints}"
    )]
    NoAuthOffLoopback { bind: &'static str, ip: IpAddr, hints: Hints },
    #[error(
        "Gateway auth is set to password, but no password is configured.\nSet \
         gateway.auth.password (or OPENCLAW_GATEWAY_PASSWORD), or pass --password.{0}"
    )]
    MissingPassword(Hints),
    /// §2.2 step 11, no config file.
    #[error("Missing config. Run `openclaw setup` or set gateway.mode=local (or pass --allow-unconfigured).")]
    MissingConfig,
    /// §2.2 step 11, a config whose `gateway.mode` is not `local`.
    #[error("Gateway start blocked: set gateway.mode=local (current: {current}) or pass --allow-unconfigured.")]
    ModeBlocked { current: &'static str },
    #[error("gateway.bind \"tailnet\" is not supported by this build (no Tailscale integration); use loopback, lan, auto or custom")]
    TailnetUnsupported,
    #[error("gateway.auth.mode \"trusted-proxy\" is not supported by this build; use token, password or none")]
    TrustedProxyUnsupported,
    #[error("Force: {0}")]
    Force(String),
    /// The listener is the lock (lifecycle.md §2.5); the holders are named when /proc or lsof
    /// can tell (the reference's port diagnostics).
    #[error("{}", port_busy_message(*addr, holders))]
    PortBusy {
        addr: SocketAddr,
        holders: Vec<openclaw_io::force::Holder>,
    },
    #[error("Gateway failed to start: {0}")]
    Start(#[source] IoError),
    #[error("Gateway stopped with an error: {0}")]
    Stopped(#[source] IoError),
}

/// How the process should exit after the gateway stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// First signal, clean drain: exit 0.
    Cleanly,
    /// A second signal during the drain: exit at once with 128 + signal number.
    Abruptly { code: u8 },
}

/// Where a secret came from; printed (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
enum SecretSource {
    Flag,
    Config,
    TokenFile { path: PathBuf, origin: Origin },
}

/// Runs the gateway until a signal stops it, restarting it in-process when a config change,
/// `config.apply`/`config.patch` or an authorised SIGUSR1 asks (lifecycle.md §5.5, §6).
pub async fn run(args: RunArgs) -> Result<Stopped, RunError> {
    crate::dev::preflight_reset(&args)?;
    // Installed before the first "listening" line so no early signal hits the default action.
    let mut signals = Signals::install()?;
    let (restart_tx, mut restart_rx) = mpsc::channel::<RestartRequest>(1);
    // The port the last start bound: a restart keeps it when the config asks for an ephemeral one.
    let mut bound: Option<u16> = None;
    loop {
        let running = start(&args, &restart_tx, bound).await?;
        bound = Some(running.gateway.local_addr().port());
        match supervise(running, &mut signals, &mut restart_rx).await? {
            Next::Exit(stopped) => return Ok(stopped),
            Next::Restart => tracing::info!("gateway restarting in-process"),
        }
    }
}

/// Pre-flight, then start the gateway and its config watcher. `restarted_on` is the port the
/// previous start bound, on an in-process restart: no `--force` then (the port was ours), and an
/// ephemeral port (0) stays the one clients already know.
async fn start(
    args: &RunArgs,
    restart_tx: &mpsc::Sender<RestartRequest>,
    restarted_on: Option<u16>,
) -> Result<Running, RunError> {
    let first = restarted_on.is_none();
    // Pre-flight in the order of lifecycle.md §2.2 (steps 5-13); each failure exits 1.
    let paths = Paths::from_env()?;
    if first {
        crate::dev::preflight_ensure(args, &paths)?;
    }
    // Watch first, then read the config once: an edit made from here on reaches the watcher
    // and is compared with exactly the config this gateway runs on (none can fall between).
    let watched = crate::reload::watched_files(&paths.config_path);
    let early_watch = ConfigWatcher::watch(&watched);
    // The gateway never runs on an invalid config, nor on an unresolved `${VAR}`.
    let loaded = openclaw_io::config_file::load_config(&paths.config_path).map_err(ConfigError::from)?;
    let config = Config::from_loaded(&loaded)?;
    for warning in &config.warnings {
        tracing::warn!("Config warning: {warning}");
    }
    for warning in config::unsupported_warnings(&config.typed) {
        tracing::warn!("Config warning: {warning}");
    }
    let gw = &config.gateway;
    let mut port = config::resolve_port(args.port, config::port_from_env()?, gw);
    if port == 0 {
        port = restarted_on.unwrap_or(0);
    }
    if args.force && first {
        force_free(port)?;
    }
    mode_gate(args, &config)?;
    let (bind_name, ip) = resolve_bind(args, &config)?;
    let (auth, source) = resolve_auth(args, &config, &paths)?;
    if matches!(auth, AuthMode::None) {
        if !ip.is_loopback() {
            return Err(RunError::NoAuthOffLoopback {
                bind: bind_name,
                ip,
                hints: Hints::of(&config),
            });
        }
        tracing::warn!(
            "Gateway auth mode=none explicitly configured; all gateway connections are unauthenticated."
        );
    }

    let settings = Settings::project(&config.typed, &paths.state_dir, |name| std::env::var(name).ok())
        .map_err(|e| ConfigError::settings(&paths.config_path, e))?;
    let mut server = ServerConfig::new(SocketAddr::new(ip, port), auth.clone());
    server.settings = settings;
    server.config_path = Some(paths.config_path.display().to_string());
    server.state_dir = Some(paths.state_dir.display().to_string());
    server.verbose = args.verbose;
    #[cfg(feature = "whatsapp")]
    {
        use openclaw_channels::whatsapp::{link::BoxLink, wa_rust::WhatsAppRust};
        server.whatsapp_link = Some(BoxLink::new(WhatsAppRust::new()));
    }
    server.canvas_host = !env_truthy(std::env::var("OPENCLAW_SKIP_CANVAS_HOST").ok().as_deref());
    server.host = openclaw_io::Host::new(FileHost {
        config_path: paths.config_path.clone(),
        state_dir: paths.state_dir.clone(),
        logs: crate::log_setup::gateway_logs(&auth),
        restart: Some(restart_tx.clone()),
    });
    let gateway = Gateway::start(server).await.map_err(|e| match e {
        IoError::Bind { addr, source } if source.kind() == std::io::ErrorKind::AddrInUse => {
            RunError::PortBusy { addr, holders: openclaw_io::force::port_holders(addr.port()) }
        }
        other @ (IoError::Bind { .. } | IoError::Io(_) | IoError::Task(_) | IoError::Store(_) | IoError::Agent(_)) => {
            RunError::Start(other)
        }
    })?;

    let addr = gateway.local_addr();
    println!("listening on ws://{addr}");
    print_auth(&auth, source.as_ref());
    if !config.found {
        tracing::info!(config = %paths.config_path.display(), "no config file; using defaults");
    }
    crate::reload::consume_sentinel(&paths.state_dir);
    let current = loaded.value;
    let sigusr1_allowed = crate::reload::sigusr1_allowed(&current);
    let hot = crate::reload::hot_reload_active(&current);
    let (reload_tx, reloads) = mpsc::channel(8);
    let loader = crate::reload::loader(paths.config_path.clone());
    let watcher = early_watch.run(current, loader, reload_tx);
    gateway.set_config_reload(hot, None).await;
    Ok(Running { gateway, paths, watcher, reloads, sigusr1_allowed })
}

/// `Gateway failed to start: …`, the supervisor hint, then who holds the port (one line each)
/// and what to do, as the reference prints it.
fn port_busy_message(addr: SocketAddr, holders: &[openclaw_io::force::Holder]) -> String {
    let mut text = format!(
        "Gateway failed to start: another gateway instance is already listening on ws://{addr}\n\
         If the gateway is supervised, stop it with: openclaw gateway stop\n\
         Port {} is already in use.",
        addr.port()
    );
    for holder in holders {
        let command = if holder.command.is_empty() { "unknown" } else { &holder.command };
        text.push_str(&format!("\n- pid {}: {command}", holder.pid));
    }
    let ours = holders.iter().any(|h| h.command.contains("openclaw"));
    if ours {
        text.push_str("\n- Gateway already running locally. Stop it (openclaw gateway stop) or use a different port.");
    }
    if holders.is_empty() {
        text.push_str("\n- The process holding it could not be found (no access to /proc or lsof).");
    } else if !holders.iter().all(|h| h.command.contains("openclaw")) {
        text.push_str("\n- Another process is listening on this port.");
    }
    text.push_str("\nPick another --port, or pass --force to stop whatever listens there.");
    text
}

/// §2.2 step 11: only `gateway.mode: "local"` starts, unless `--allow-unconfigured`.
fn mode_gate(args: &RunArgs, config: &Config) -> Result<(), RunError> {
    if args.allow_unconfigured || config.gateway.mode == Some(GatewayMode::Local) {
        return Ok(());
    }
    if !config.found {
        return Err(RunError::MissingConfig);
    }
    Err(RunError::ModeBlocked { current: config.gateway.mode.map_or("unset", GatewayMode::as_str) })
}

/// Hint lines appended to the auth failures when the config holds a look-alike key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints(Vec<&'static str>);

impl Hints {
    fn of(config: &Config) -> Self {
        let remote = config.typed.gateway.as_ref().and_then(|g| g.remote.as_ref());
        let mut hints = Vec::new();
        if remote.is_some_and(|r| r.token.is_some() || r.password.is_some()) {
            hints.push("\"gateway.remote.token\" is for remote CLI calls; it does not enable local gateway auth.");
        }
        Self(hints)
    }
}

impl std::fmt::Display for Hints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|h| write!(f, "\n{h}"))
    }
}

/// `loopback` (and `auto`) → 127.0.0.1, `lan` → 0.0.0.0, `custom` → `--host` or
/// `gateway.customBindHost`; `tailnet` is refused.
fn resolve_bind(args: &RunArgs, config: &Config) -> Result<(&'static str, IpAddr), RunError> {
    if args.bind.is_none() && config.typed.gateway.as_ref().and_then(|g| g.bind) == Some(CoreBind::Tailnet) {
        return Err(RunError::TailnetUnsupported);
    }
    let mode = args
        .bind
        .or(config.gateway.bind.map(BindMode::from))
        .unwrap_or(BindMode::Loopback);
    match mode {
        BindMode::Loopback if args.host.is_none() => Ok(("loopback", Ipv4Addr::LOCALHOST.into())),
        BindMode::Lan if args.host.is_none() => Ok(("lan", Ipv4Addr::UNSPECIFIED.into())),
        BindMode::Loopback | BindMode::Lan => Err(RunError::HostWithoutCustom),
        BindMode::Custom => args
            .host
            .or(config.gateway.custom_bind_host)
            .map(|ip| ("custom", ip))
            .ok_or(RunError::CustomWithoutHost),
    }
}

fn resolve_auth(
    args: &RunArgs,
    config: &Config,
    paths: &Paths,
) -> Result<(AuthMode, Option<SecretSource>), RunError> {
    let cfg = &config.gateway.auth;
    let configured_mode = config.typed.gateway.as_ref().and_then(|g| g.auth.as_ref()).and_then(|a| a.mode);
    if args.auth.is_none() && configured_mode == Some(openclaw_core::config::AuthMode::TrustedProxy) {
        return Err(RunError::TrustedProxyUnsupported);
    }
    let non_blank = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
    let password = non_blank(&args.password)
        .map(|p| (p, SecretSource::Flag))
        .or_else(|| non_blank(&cfg.password).map(|p| (p, SecretSource::Config)));
    let mode = args.auth.or(cfg.mode.map(AuthChoice::from)).unwrap_or(if password.is_some() {
        AuthChoice::Password
    } else {
        AuthChoice::Token
    });
    match mode {
        AuthChoice::None => Ok((AuthMode::None, None)),
        AuthChoice::Password => {
            let (password, source) = password.ok_or_else(|| RunError::MissingPassword(Hints::of(config)))?;
            Ok((
                AuthMode::Password(Some(Secret::new(password))),
                Some(source),
            ))
        }
        AuthChoice::Token => {
            let configured = non_blank(&args.token)
                .map(|t| (t, SecretSource::Flag))
                .or_else(|| non_blank(&cfg.token).map(|t| (t, SecretSource::Config)));
            let (token, source) = match configured {
                Some(found) => found,
                None => {
                    let path = paths.token_file();
                    let (token, origin) = token::load_or_generate(&path)?;
                    (token, SecretSource::TokenFile { path, origin })
                }
            };
            Ok((AuthMode::Token(Some(Secret::new(token))), Some(source)))
        }
    }
}

/// `--force`: stop every listener on `port` and log what was stopped.
fn force_free(port: u16) -> Result<(), RunError> {
    if port == 0 {
        tracing::info!("force: port 0 picks a free port; nothing to stop");
        return Ok(());
    }
    let stopped = openclaw_io::force::free_port(port, FORCE_BUDGET)
        .map_err(|e| RunError::Force(e.to_string()))?;
    if stopped.is_empty() {
        tracing::info!("force: no listeners on port {port}");
    }
    for holder in stopped {
        tracing::info!(
            "force: killed pid {} ({}) on port {port}",
            holder.pid,
            holder.command
        );
    }
    Ok(())
}

/// Tells the operator how clients authenticate, without ever printing a secret.
fn print_auth(auth: &AuthMode, source: Option<&SecretSource>) {
    let kind = match auth {
        AuthMode::None => {
            println!("auth: none");
            return;
        }
        AuthMode::Token(_) => "token",
        AuthMode::Password(_) => "password",
    };
    match source {
        Some(SecretSource::Flag) => {
            println!(
                "auth: {kind} (from --{kind} / OPENCLAW_GATEWAY_{})",
                kind.to_uppercase()
            );
        }
        Some(SecretSource::Config) => println!("auth: {kind} (from gateway.auth.{kind})"),
        Some(SecretSource::TokenFile { path, origin }) => {
            let what = match origin {
                Origin::Generated => "generated a new token and saved it to",
                Origin::Reused => "using the token saved in",
            };
            println!("auth: token ({what} {})", path.display());
            println!("read it with: cat {}", path.display());
        }
        None => println!("auth: {kind}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GatewayConfig;

    fn args() -> RunArgs {
        RunArgs {
            port: None,
            bind: None,
            host: None,
            auth: None,
            token: None,
            password: None,
            verbose: false,
            force: false,
            allow_unconfigured: false,
            dev: false,
            reset: false,
            yes: false,
        }
    }

    fn config(gateway: GatewayConfig) -> Config {
        Config {
            found: true,
            gateway,
            ..Config::default()
        }
    }

    #[test]
    fn bind_modes() {
        let cfg = Config::default();
        assert_eq!(
            resolve_bind(&args(), &cfg).unwrap(),
            ("loopback", "127.0.0.1".parse().unwrap())
        );
        let lan = RunArgs {
            bind: Some(BindMode::Lan),
            ..args()
        };
        assert_eq!(
            resolve_bind(&lan, &cfg).unwrap(),
            ("lan", "0.0.0.0".parse().unwrap())
        );
        let custom = RunArgs {
            bind: Some(BindMode::Custom),
            ..args()
        };
        assert!(matches!(
            resolve_bind(&custom, &cfg),
            Err(RunError::CustomWithoutHost)
        ));
        let from_cfg = config(GatewayConfig {
            bind: Some(openclaw_io::settings::Bind::Custom),
            custom_bind_host: Some("10.1.2.3".parse().unwrap()),
            ..GatewayConfig::default()
        });
        assert_eq!(
            resolve_bind(&args(), &from_cfg).unwrap().1,
            "10.1.2.3".parse::<IpAddr>().unwrap()
        );
        let flag = RunArgs {
            host: Some("::1".parse().unwrap()),
            ..custom
        };
        assert_eq!(
            resolve_bind(&flag, &from_cfg).unwrap().1,
            "::1".parse::<IpAddr>().unwrap()
        );
        let stray = RunArgs {
            host: Some("::1".parse().unwrap()),
            ..args()
        };
        assert!(matches!(
            resolve_bind(&stray, &cfg),
            Err(RunError::HostWithoutCustom)
        ));
    }

    #[test]
    fn auth_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            state_dir: dir.path().to_owned(),
            config_path: dir.path().join("openclaw.json"),
        };
        let mut gw = GatewayConfig::default();
        gw.auth.token = Some("cfg".into());
        let (mode, src) = resolve_auth(
            &RunArgs {
                token: Some("flag".into()),
                ..args()
            },
            &config(gw.clone()),
            &paths,
        )
        .unwrap();
        assert_eq!(
            (mode, src),
            (
                AuthMode::Token(Some(Secret::new("flag"))),
                Some(SecretSource::Flag)
            )
        );
        let (mode, _) = resolve_auth(&args(), &config(gw), &paths).unwrap();
        assert_eq!(mode, AuthMode::Token(Some(Secret::new("cfg"))));
        assert!(
            !paths.token_file().exists(),
            "a configured token needs no file"
        );

        let mut gw = GatewayConfig::default();
        gw.auth.password = Some("pw".into());
        let (mode, _) = resolve_auth(&args(), &config(gw), &paths).unwrap();
        assert_eq!(
            mode,
            AuthMode::Password(Some(Secret::new("pw"))),
            "a password implies password mode"
        );
        let pw = RunArgs {
            auth: Some(AuthChoice::Password),
            ..args()
        };
        assert!(matches!(
            resolve_auth(&pw, &Config::default(), &paths),
            Err(RunError::MissingPassword(_))
        ));

        let (mode, src) = resolve_auth(&args(), &Config::default(), &paths).unwrap();
        assert!(matches!(mode, AuthMode::Token(Some(_))));
        let generated = SecretSource::TokenFile {
            path: paths.token_file(),
            origin: Origin::Generated,
        };
        assert_eq!(src, Some(generated));
    }
}

/// A truthy environment value (`1`, `true`, `yes`, `on`, any case).
fn env_truthy(value: Option<&str>) -> bool {
    value.is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}
