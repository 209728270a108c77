//! `openclaw status` (an overview of the local gateway: reachable, version, uptime, sessions,
//! auth, files and ports) and the local half of `openclaw gateway status` (bind, port and the
//! ports derived from it, lifecycle.md §4.3 and §7.7).
//!
//! What is known without the gateway (paths, the configured port, who holds it) is resolved
//! here as [`Local`]; what only the gateway knows comes from its `status` and `health` RPCs.
//! JSON keys follow the reference where it has them (`gateway.{bindMode,bindHost,port,
//! portSource,probeUrl}`, `port.{port,status,listeners,hints}`, `gateway.{url,urlSource,
//! reachable,connectLatencyMs}` of `openclaw status --json`); the derived ports, which the
//! reference does not print, are under `derivedPorts`.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Instant;

use openclaw_core::ports::DerivedPorts;
use openclaw_io::force::Holder;
use serde_json::{json, Value};

use crate::args::{BindMode, ClientArgs};
use crate::client_cmd::{ErrorReport, Target};
use crate::config::{self, Config, ConfigError, Paths};
use crate::output::{CallFailure, Report};

/// `status` and `health` need read; admin adds the gateway's own config path, state dir and
/// auth mode to the `status` answer.
const OVERVIEW_SCOPES: &[&str] = &["operator.admin", "operator.read"];

/// The local view: files, the configured bind and port, its derived ports, who holds the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    pub config_path: PathBuf,
    pub config_exists: bool,
    pub state_dir: PathBuf,
    /// `OPENCLAW_PROFILE` (set by `--dev`/`--profile`).
    pub profile: Option<String>,
    pub bind_mode: &'static str,
    pub bind_host: IpAddr,
    pub ports: DerivedPorts,
    pub probe_url: String,
    /// `--url` (or `OPENCLAW_GATEWAY_URL`), else the local loopback default.
    pub url_source: &'static str,
    pub port_state: PortState,
}

/// Whether something listens on the gateway port, and who.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortState {
    Free,
    Busy(Vec<Holder>),
    Unknown,
}

impl Local {
    /// Resolves the view from the environment and the config file, as the gateway would. A
    /// broken config (or a bad `OPENCLAW_GATEWAY_PORT`) does not stop it: the defaults stand
    /// in, and the problem is returned next to the view, so that `status` and `gateway status`
    /// still probe and report.
    pub fn resolve_lenient(args: &ClientArgs) -> Result<(Self, Option<ConfigError>), ConfigError> {
        let paths = Paths::from_env()?;
        let (gateway, problem) = match Config::load(&paths.config_path) {
            Ok(cfg) => (cfg.gateway, None),
            Err(e) => (crate::config::GatewayConfig::default(), Some(e)),
        };
        let (env_port, problem) = match (config::port_from_env(), problem) {
            (Ok(port), problem) => (port, problem),
            (Err(e), None) => (None, Some(e)),
            (Err(_), problem) => (None, problem),
        };
        let local = Self::resolve_with(args, &paths, &gateway, env_port)?;
        Ok((local, problem))
    }

    fn resolve_with(
        args: &ClientArgs,
        paths: &Paths,
        gateway: &crate::config::GatewayConfig,
        env_port: Option<u16>,
    ) -> Result<Self, ConfigError> {
        let port = config::resolve_port(None, env_port, gateway);
        let (bind_mode, bind_host) = match (gateway.bind.map(BindMode::from), gateway.custom_bind_host) {
            (Some(BindMode::Lan), _) => ("lan", IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            (Some(BindMode::Custom), Some(ip)) => ("custom", ip),
            (Some(BindMode::Custom), None) => ("custom", IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            (Some(BindMode::Loopback) | None, _) => ("loopback", IpAddr::V4(Ipv4Addr::LOCALHOST)),
        };
        let explicit_url = args.url.clone().filter(|u| !u.trim().is_empty());
        let (probe_url, url_source) = match explicit_url {
            Some(url) => (url, "--url"),
            None => (local_url(gateway, port), "local loopback"),
        };
        let profile = std::env::var("OPENCLAW_PROFILE")
            .ok()
            .filter(|p| !p.trim().is_empty());
        Ok(Self {
            config_exists: paths.config_path.exists(),
            config_path: paths.config_path.clone(),
            state_dir: paths.state_dir.clone(),
            profile,
            bind_mode,
            bind_host,
            ports: DerivedPorts::from_base(port),
            probe_url,
            url_source,
            port_state: port_state(bind_host, port),
        })
    }

    /// Points the view at `port` (the port a supervised service runs on); the probe URL
    /// follows unless `--url` chose it.
    pub fn retarget(&mut self, port: u16) {
        self.ports = DerivedPorts::from_base(port);
        if self.url_source != "--url" {
            self.probe_url = local_url_for(self.bind_mode, self.bind_host, port);
        }
        self.port_state = port_state(self.bind_host, port);
    }

    /// The reference's `gateway` object of `gateway status --json`, plus `derivedPorts`.
    pub fn gateway_json(&self) -> Value {
        json!({
            "bindMode": self.bind_mode,
            "bindHost": self.bind_host.to_string(),
            "port": self.ports.gateway,
            "portSource": "env/config",
            "probeUrl": self.probe_url,
            "derivedPorts": ports_json(&self.ports),
        })
    }

    /// The reference's `port` object: `{port, status, listeners, hints}`.
    pub fn port_json(&self) -> Value {
        let (status, holders) = match &self.port_state {
            PortState::Free => ("free", &[][..]),
            PortState::Busy(holders) => ("busy", &holders[..]),
            PortState::Unknown => ("unknown", &[][..]),
        };
        let listeners: Vec<Value> = holders
            .iter()
            .map(|h| json!({ "pid": h.pid, "command": short_command(&h.command), "commandLine": h.command }))
            .collect();
        json!({
            "port": self.ports.gateway,
            "status": status,
            "listeners": listeners,
            "hints": port_hints(holders),
        })
    }

    /// The lines `gateway status` prints before the probe result.
    pub fn gateway_text(&self) -> String {
        let mut out = String::new();
        let missing = if self.config_exists { "" } else { " (missing)" };
        let _ = writeln!(out, "Config (cli): {}{missing}", self.config_path.display());
        let _ = writeln!(
            out,
            "Gateway: bind={} ({}), port={} (env/config)",
            self.bind_mode, self.bind_host, self.ports.gateway
        );
        let _ = writeln!(out, "{}", derived_line(&self.ports));
        out
    }
}

/// `ws://<host>:<port>`: the custom bind host when configured, else 127.0.0.1.
fn local_url(gateway: &crate::config::GatewayConfig, port: u16) -> String {
    let host = match (gateway.bind.map(BindMode::from), gateway.custom_bind_host) {
        (Some(BindMode::Custom), Some(ip)) => ip,
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    format!("ws://{}", SocketAddr::new(host, port))
}

fn local_url_for(bind_mode: &str, bind_host: IpAddr, port: u16) -> String {
    let host = if bind_mode == "custom" && !bind_host.is_unspecified() {
        bind_host
    } else {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    };
    format!("ws://{}", SocketAddr::new(host, port))
}

/// `Derived ports: browser control P, canvas P, browser CDP A-B`.
fn derived_line(ports: &DerivedPorts) -> String {
    format!(
        "Derived ports: browser control {}, canvas {}, browser CDP {}-{}",
        ports.browser_control, ports.canvas_host, ports.cdp_range.start, ports.cdp_range.end
    )
}

fn ports_json(ports: &DerivedPorts) -> Value {
    json!({
        "browserControl": ports.browser_control,
        "canvasHost": ports.canvas_host,
        "browserCdpRange": { "start": ports.cdp_range.start, "end": ports.cdp_range.end },
    })
}

/// The program's file name (the reference's `command`; the whole line is `commandLine`).
fn short_command(command_line: &str) -> &str {
    let program = command_line.split_whitespace().next().unwrap_or("");
    program.rsplit('/').next().unwrap_or(program)
}

/// Free when a test bind succeeds; busy (with whoever /proc or lsof names) when it is in use.
fn port_state(host: IpAddr, port: u16) -> PortState {
    if port == 0 {
        return PortState::Unknown;
    }
    match std::net::TcpListener::bind(SocketAddr::new(host, port)) {
        Ok(_) => PortState::Free,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            PortState::Busy(openclaw_io::force::port_holders(port))
        }
        Err(_) => PortState::Unknown,
    }
}

/// The reference's port hints (`buildPortHints`), for the listeners found.
fn port_hints(holders: &[Holder]) -> Vec<&'static str> {
    let mut hints = Vec::new();
    let ours = |h: &&Holder| h.command.contains("openclaw");
    if holders.iter().filter(ours).count() > 1 {
        hints.push(
            "Multiple listeners detected; ensure only one gateway/tunnel per port unless \
             intentionally running isolated profiles.",
        );
    }
    if holders.iter().any(|h| !h.command.contains("openclaw")) {
        hints.push("Another process is listening on this port.");
    }
    hints
}

/// `openclaw status`: what the gateway says about itself, next to the local view.
#[derive(Debug)]
pub struct Overview {
    pub local: Local,
    pub remote: Result<Remote, ErrorReport>,
    /// The config could not be used (the defaults stood in for the probe).
    pub config_problem: Option<String>,
}

/// The answers of a reachable gateway.
#[derive(Debug)]
pub struct Remote {
    pub connect_latency_ms: u64,
    pub status: Value,
    pub health: Value,
}

/// `openclaw status [--json]`: one connection, `status` and `health`. An unreachable gateway
/// is a result (`reachable: false`, exit 0, as the reference), not a failure.
pub async fn status(args: &ClientArgs) -> Result<Report, CallFailure> {
    // A broken config does not stop the overview: the defaults stand in, and it says so.
    let (local, problem) = Local::resolve_lenient(args).map_err(CallFailure::Config)?;
    let target = Target::resolve_lenient(args, &local.probe_url);
    let started = Instant::now();
    let remote = match crate::client_cmd::connect(target.options("cli", OVERVIEW_SCOPES)).await {
        Ok((mut client, _hello)) => {
            let connect_latency_ms =
                u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let answers = async {
                let status = client.call("status", Value::Null).await?;
                let health = client.call("health", Value::Null).await?;
                Ok((status, health))
            }
            .await;
            client.close().await;
            answers
                .map(|(status, health)| Remote {
                    connect_latency_ms,
                    status,
                    health,
                })
                .map_err(|e: openclaw_io::client::ClientError| ErrorReport::from(&e))
        }
        Err(error) => Err(ErrorReport::from(&error)),
    };
    let config_problem = problem.map(|e| e.to_string());
    Ok(Report::Overview(Box::new(Overview { local, remote, config_problem })))
}

impl Overview {
    fn sessions(&self) -> Option<(u64, Option<&str>)> {
        let sessions = self.remote.as_ref().ok()?.health.get("sessions")?;
        let count = sessions.get("count").and_then(Value::as_u64)?;
        Some((count, sessions.get("path").and_then(Value::as_str)))
    }

    fn remote_str(&self, key: &str) -> Option<&str> {
        self.remote.as_ref().ok()?.status.get(key)?.as_str()
    }

    fn uptime_ms(&self) -> Option<u64> {
        self.remote.as_ref().ok()?.status.get("uptimeMs")?.as_u64()
    }

    /// The `--json` document.
    pub fn json(&self) -> Value {
        let local = &self.local;
        let mut gateway = json!({
            "mode": "local",
            "url": local.probe_url,
            "urlSource": local.url_source,
            "reachable": self.remote.is_ok(),
            "connectLatencyMs": self.remote.as_ref().ok().map(|r| r.connect_latency_ms),
            "error": self.remote.as_ref().err().map(|e| e.message.clone()),
            "version": self.remote_str("runtimeVersion"),
            "uptimeMs": self.uptime_ms(),
            "authMode": self.remote_str("authMode"),
            "configPath": self.remote_str("configPath"),
            "stateDir": self.remote_str("stateDir"),
        });
        if let Ok(remote) = &self.remote {
            gateway["pid"] = remote.status.get("pid").cloned().unwrap_or(Value::Null);
        }
        let (count, path) = self.sessions().map_or((None, None), |(c, p)| (Some(c), p));
        json!({
            "runtimeVersion": self.remote_str("runtimeVersion"),
            "profile": local.profile,
            "config": {
                "path": local.config_path,
                "exists": local.config_exists,
                "valid": self.config_problem.is_none(),
                "error": self.config_problem,
            },
            "stateDir": local.state_dir,
            "gateway": gateway,
            "ports": {
                "gateway": local.ports.gateway,
                "browserControl": local.ports.browser_control,
                // 2026.9.6 serves the canvas on the gateway port (no separate canvas host).
                "canvasHost": local.ports.gateway,
                "browserCdpRange": { "start": local.ports.cdp_range.start, "end": local.ports.cdp_range.end },
            },
            "port": local.port_json(),
            "sessions": { "count": count, "path": path },
        })
    }

    /// The human overview.
    pub fn text(&self) -> String {
        let local = &self.local;
        let mut out = String::from("OpenClaw status\n\n");
        let line = |out: &mut String, item: &str, value: &str| {
            let _ = writeln!(out, "{item:<12} {value}");
        };
        let reach = match &self.remote {
            Ok(r) => format!("reachable ({}ms)", r.connect_latency_ms),
            Err(e) => format!("unreachable ({})", e.message),
        };
        line(
            &mut out,
            "Gateway",
            &format!(
                "local · {} ({}) · {reach}",
                local.probe_url, local.url_source
            ),
        );
        if let Some(version) = self.remote_str("runtimeVersion") {
            line(&mut out, "Version", version);
        }
        if let Some(ms) = self.uptime_ms() {
            line(&mut out, "Uptime", &uptime(ms));
        }
        if let Some(mode) = self.remote_str("authMode") {
            line(&mut out, "Auth", mode);
        }
        if let Some((count, path)) = self.sessions() {
            let at = path.map(|p| format!(" ({p})")).unwrap_or_default();
            line(&mut out, "Sessions", &format!("{count} stored{at}"));
        }
        if let Some(profile) = &local.profile {
            line(&mut out, "Profile", profile);
        }
        let missing = if local.config_exists {
            ""
        } else {
            " (missing)"
        };
        line(
            &mut out,
            "Config",
            &format!("{}{missing}", local.config_path.display()),
        );
        if let Some(problem) = &self.config_problem {
            let first = problem.lines().next().unwrap_or_default();
            line(&mut out, "", &format!("invalid, defaults used: {first} (details: openclaw doctor)"));
        }
        line(
            &mut out,
            "State dir",
            &local.state_dir.display().to_string(),
        );
        line(
            &mut out,
            "Ports",
            &format!(
                "gateway {} (also canvas), browser control {}, browser CDP {}-{}",
                local.ports.gateway,
                local.ports.browser_control,
                local.ports.cdp_range.start,
                local.ports.cdp_range.end
            ),
        );
        if self.remote.is_err() {
            let cli = match local.profile.as_deref() {
                Some(p) if p.eq_ignore_ascii_case(crate::profile::DEV) => {
                    "openclaw --dev".to_owned()
                }
                Some(p) if !p.eq_ignore_ascii_case("default") => format!("openclaw --profile {p}"),
                _ => "openclaw".to_owned(),
            };
            let _ = writeln!(
                out,
                "\nStart it with: {cli} gateway (details: {cli} gateway status)"
            );
        }
        out
    }
}

/// `1h 2m 3s`, `2m 3s`, `3s`.
fn uptime(ms: u64) -> String {
    let secs = ms / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(port: u16) -> Local {
        Local {
            config_path: PathBuf::from("/h/.openclaw-dev/openclaw.json"),
            config_exists: false,
            state_dir: PathBuf::from("/h/.openclaw-dev"),
            profile: Some("dev".into()),
            bind_mode: "loopback",
            bind_host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports: DerivedPorts::from_base(port),
            probe_url: format!("ws://127.0.0.1:{port}"),
            url_source: "local loopback",
            port_state: PortState::Busy(vec![Holder {
                pid: 7,
                command: "/usr/bin/python3 -m http.server".into(),
            }]),
        }
    }

    #[test]
    fn gateway_status_shows_the_derived_ports() {
        let l = local(19001);
        assert_eq!(
            l.gateway_json(),
            json!({
                "bindMode": "loopback", "bindHost": "127.0.0.1", "port": 19001,
                "portSource": "env/config", "probeUrl": "ws://127.0.0.1:19001",
                "derivedPorts": {"browserControl": 19003, "canvasHost": 19005,
                                 "browserCdpRange": {"start": 19012, "end": 19111}},
            })
        );
        assert_eq!(
            l.gateway_text(),
            "Config (cli): /h/.openclaw-dev/openclaw.json (missing)\n\
             Gateway: bind=loopback (127.0.0.1), port=19001 (env/config)\n\
             Derived ports: browser control 19003, canvas 19005, browser CDP 19012-19111\n"
        );
        assert_eq!(
            l.port_json(),
            json!({"port": 19001, "status": "busy",
                   "listeners": [{"pid": 7, "command": "python3",
                                  "commandLine": "/usr/bin/python3 -m http.server"}],
                   "hints": ["Another process is listening on this port."]})
        );
    }

    #[test]
    fn overview_reachable_and_not() {
        let up = Overview {
            local: local(19001),
            remote: Ok(Remote {
                connect_latency_ms: 3,
                status: json!({"runtimeVersion": "0.1.0", "uptimeMs": 125_000, "authMode": "token",
                               "configPath": "/c", "stateDir": "/s", "pid": 9}),
                health: json!({"sessions": {"path": "/s/agents/main/sessions.sqlite", "count": 2}}),
            }),
            config_problem: None,
        };
        let v = up.json();
        assert_eq!(v["gateway"]["reachable"], true);
        assert_eq!(v["gateway"]["uptimeMs"], 125_000);
        assert_eq!(v["gateway"]["authMode"], "token");
        assert_eq!(v["sessions"]["count"], 2);
        // No phantom canvas port (base+4): the canvas is served on the gateway port.
        assert_eq!(v["ports"]["canvasHost"], 19001);
        let text = up.text();
        assert!(text.contains("Uptime       2m 5s\n"), "{text}");
        assert!(
            text.contains("Sessions     2 stored (/s/agents/main/sessions.sqlite)\n"),
            "{text}"
        );
        assert!(
            text.contains("Ports        gateway 19001 (also canvas), browser control 19003, browser CDP"),
            "{text}"
        );

        let down = Overview {
            local: local(19001),
            remote: Err(ErrorReport::local(
                "gateway_connect_error",
                "cannot connect: refused".into(),
            )),
            config_problem: Some("Config invalid: /c: gateway.prot: unknown key".into()),
        };
        let v = down.json();
        assert_eq!(v["gateway"]["reachable"], false);
        assert_eq!(v["gateway"]["error"], "cannot connect: refused");
        assert!(down
            .text()
            .contains("unreachable (cannot connect: refused)"));
        assert_eq!(v["config"]["valid"], false);
        assert!(down.text().contains("invalid, defaults used: Config invalid"), "{}", down.text());
    }

    #[test]
    fn uptime_format() {
        assert_eq!(uptime(999), "0s");
        assert_eq!(uptime(61_000), "1m 1s");
        assert_eq!(uptime(3_723_000), "1h 2m 3s");
    }
}
