//! The checks of `openclaw doctor`, each a function from what it reads to findings; one that
//! does not apply (no state dir yet, no service installed) counts as skipped.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::{Finding, Report, Repair, Severity};
use openclaw_io::settings::{AuthKind, Bind};

use crate::config::{self, Config, GatewayConfig, Paths};
use crate::service::{cmd, manager, scan, Context, Platform, Scope};

/// A check's answer: not applicable, or its findings.
enum Outcome {
    Skipped,
    Ran(Vec<Finding>),
}

fn finding(check_id: &'static str, severity: Severity, message: String, path: String, fix_hint: Option<String>) -> Finding {
    Finding { check_id, severity, message, path, fix_hint, repair: None }
}

/// Runs every check.
pub fn run_all(deep: bool) -> Report {
    let mut report = Report::default();
    let paths = match Paths::from_env() {
        Ok(p) => p,
        Err(e) => {
            report.checks_run = 1;
            report.findings.push(finding("core/doctor/paths", Severity::Error, e.to_string(), String::new(), None));
            return report;
        }
    };
    let gateway = Config::load(&paths.config_path).map(|c| c.gateway).ok();
    let ctx = Context::from_process().ok();
    let outcomes = [
        config_validity(&paths),
        gateway_mode(&paths, gateway.as_ref()),
        permissions(&paths, ctx.as_ref()),
        token(&paths, gateway.as_ref()),
        port(gateway.as_ref()),
        log_dir(),
        ctx.as_ref().map_or(Outcome::Skipped, |c| service_drift(c, gateway.as_ref())),
        ctx.as_ref().map_or(Outcome::Skipped, linger),
        ctx.as_ref().map_or(Outcome::Skipped, |c| extra_services(c, deep)),
    ];
    for outcome in outcomes {
        match outcome {
            Outcome::Skipped => report.checks_skipped += 1,
            Outcome::Ran(findings) => {
                report.checks_run += 1;
                report.findings.extend(findings);
            }
        }
    }
    report
}

/// Every problem of the config file, with file, line and key.
fn config_validity(paths: &Paths) -> Outcome {
    const ID: &str = "core/doctor/final-config-validation";
    let path = &paths.config_path;
    if !path.exists() {
        return Outcome::Ran(vec![finding(
            ID,
            Severity::Warning,
            format!("No config file at {}", path.display()),
            path.display().to_string(),
            Some("Run `openclaw setup` to create a working config.".into()),
        )]);
    }
    match openclaw_io::config_file::load_config_lenient(path) {
        Ok(loaded) => Outcome::Ran(
            loaded
                .warnings
                .iter()
                .map(|w| finding(ID, Severity::Warning, w.to_string(), w.shown_path().to_owned(), None))
                .collect(),
        ),
        Err(e) => Outcome::Ran(
            e.issues()
                .iter()
                .map(|issue| {
                    let at = issue.location.as_ref().map_or_else(
                        || path.display().to_string(),
                        |l| format!("{}:{}:{}", l.file.display(), l.pos.line, l.pos.column),
                    );
                    let key = issue.shown_path().to_owned();
                    finding(
                        ID,
                        Severity::Error,
                        format!("{at}: {key}: {}", issue.message),
                        key,
                        Some(format!("Fix the key in {at}, then check with `openclaw config validate`.")),
                    )
                })
                .collect(),
        ),
    }
}

/// `gateway.mode` must be `local` for `openclaw gateway` to start (the reference's finding).
fn gateway_mode(paths: &Paths, gateway: Option<&GatewayConfig>) -> Outcome {
    let Some(gateway) = gateway.filter(|_| paths.config_path.exists()) else { return Outcome::Skipped };
    if gateway.mode.is_some() {
        return Outcome::Ran(Vec::new());
    }
    Outcome::Ran(vec![finding(
        "core/doctor/gateway-config",
        Severity::Warning,
        "gateway.mode is unset; gateway start will be blocked.".into(),
        "gateway.mode".into(),
        Some("Run `openclaw config set gateway.mode local`.".into()),
    )])
}

/// The state dir 0700; the config, the token file and the service env file 0600.
fn permissions(paths: &Paths, ctx: Option<&Context>) -> Outcome {
    const ID: &str = "core/doctor/state-permissions";
    let Ok(meta) = fs::metadata(&paths.state_dir) else { return Outcome::Skipped };
    let mut out = Vec::new();
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        let mut f = finding(
            ID,
            Severity::Warning,
            format!("State dir {} is accessible to other users (mode {mode:o}; want 700)", paths.state_dir.display()),
            paths.state_dir.display().to_string(),
            Some(format!("chmod 700 {} (openclaw doctor --fix)", paths.state_dir.display())),
        );
        f.repair = Some(Repair::Chmod { path: paths.state_dir.clone(), mode: 0o700 });
        out.push(f);
    }
    let mut files = vec![paths.config_path.clone(), paths.token_file()];
    if let Some(ctx) = ctx {
        files.push(ctx.env_file());
    }
    for file in files {
        let Ok(meta) = fs::metadata(&file) else { continue };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 == 0 {
            continue;
        }
        // Readable by everyone is an exposed secret; group access is a smell.
        let severity = if mode & 0o004 != 0 { Severity::Error } else { Severity::Warning };
        let mut f = finding(
            ID,
            severity,
            format!("{} is readable by other users (mode {mode:o}; want 600)", file.display()),
            file.display().to_string(),
            Some(format!("chmod 600 {} (openclaw doctor --fix)", file.display())),
        );
        f.repair = Some(Repair::Chmod { path: file, mode: 0o600 });
        out.push(f);
    }
    Outcome::Ran(out)
}

/// A token exists (config, environment or the generated file) and is not trivially short.
fn token(paths: &Paths, gateway: Option<&GatewayConfig>) -> Outcome {
    const ID: &str = "core/doctor/gateway-auth";
    let default = GatewayConfig::default();
    let gateway = gateway.unwrap_or(&default);
    let non_blank = |s: Option<String>| s.filter(|v| !v.trim().is_empty());
    let password = non_blank(gateway.auth.password.clone()).is_some()
        || non_blank(std::env::var("OPENCLAW_GATEWAY_PASSWORD").ok()).is_some();
    match gateway.auth.mode {
        Some(AuthKind::None) => {
            let loopback = matches!(gateway.bind, None | Some(Bind::Loopback));
            let severity = if loopback { Severity::Warning } else { Severity::Error };
            return Outcome::Ran(vec![finding(
                ID,
                severity,
                "Gateway auth is off (gateway.auth.mode = none): any local process can operate it.".into(),
                "gateway.auth.mode".into(),
                Some("Run `openclaw config set gateway.auth.mode token` (a token is generated on the next start).".into()),
            )]);
        }
        Some(AuthKind::Password) => return Outcome::Ran(Vec::new()),
        Some(AuthKind::Token) | None if password && gateway.auth.mode.is_none() => {
            return Outcome::Ran(Vec::new())
        }
        Some(AuthKind::Token) | None => {}
    }
    let token = non_blank(std::env::var("OPENCLAW_GATEWAY_TOKEN").ok())
        .map(|t| (t, "OPENCLAW_GATEWAY_TOKEN"))
        .or_else(|| non_blank(gateway.auth.token.clone()).map(|t| (t, "gateway.auth.token")))
        .or_else(|| {
            crate::token::read(&paths.token_file()).ok().flatten().map(|t| (t, "gateway.token"))
        });
    let Some((token, source)) = token else {
        return Outcome::Ran(vec![finding(
            ID,
            Severity::Info,
            format!(
                "No gateway token yet: the first `openclaw gateway` start generates one in {}.",
                paths.token_file().display()
            ),
            "gateway.auth.token".into(),
            Some("Run `openclaw setup` (writes a config with a generated token) or start the gateway once.".into()),
        )]);
    };
    let len = token.trim().chars().count();
    let distinct = {
        let mut chars: Vec<char> = token.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        chars.len()
    };
    if len < 24 || distinct < 8 {
        let where_ = if source == "gateway.token" { paths.token_file().display().to_string() } else { source.to_owned() };
        return Outcome::Ran(vec![finding(
            ID,
            Severity::Warning,
            format!("The gateway token ({where_}) is weak: {len} characters, {distinct} distinct; use 32+ random characters."),
            if source == "gateway.token" { where_ } else { "gateway.auth.token".into() },
            Some("Run `openclaw config unset gateway.auth.token` and delete the token file: a 32-byte random token is generated on the next start.".into()),
        )]);
    }
    Outcome::Ran(Vec::new())
}

/// Another program on the gateway port.
fn port(gateway: Option<&GatewayConfig>) -> Outcome {
    let default = GatewayConfig::default();
    let gateway = gateway.unwrap_or(&default);
    let env = config::port_from_env().ok().flatten();
    let port = config::resolve_port(None, env, gateway);
    let bind = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    match std::net::TcpListener::bind(bind) {
        Ok(_) => Outcome::Ran(Vec::new()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let holders = openclaw_io::force::port_holders(port);
            let others: Vec<String> = holders
                .iter()
                .filter(|h| !h.command.contains("openclaw"))
                .map(|h| format!("{} (pid {})", h.command, h.pid))
                .collect();
            if others.is_empty() && !holders.is_empty() {
                return Outcome::Ran(Vec::new()); // our own gateway
            }
            let who = if others.is_empty() { "an unknown process".to_owned() } else { others.join(", ") };
            Outcome::Ran(vec![finding(
                "core/doctor/port-conflict",
                Severity::Warning,
                format!("Gateway port {port} is in use by {who}."),
                "gateway.port".into(),
                Some("Stop that program, or choose another port: `openclaw config set gateway.port <port>` (or `openclaw gateway --force` to stop the holder).".into()),
            )])
        }
        Err(_) => Outcome::Skipped,
    }
}

/// The log folder must be writable (the gateway logs there from its first line).
fn log_dir() -> Outcome {
    let file = crate::log_setup::current_file();
    let Some(dir) = file.parent() else { return Outcome::Skipped };
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    let writable = fs::create_dir_all(dir).and_then(|()| fs::write(&probe, b"")).is_ok();
    let _ = fs::remove_file(&probe);
    if writable {
        return Outcome::Ran(Vec::new());
    }
    Outcome::Ran(vec![finding(
        "core/doctor/log-dir",
        Severity::Error,
        format!("The log folder {} is not writable.", dir.display()),
        dir.display().to_string(),
        Some("Fix its owner/permissions, or point `logging.file` at a writable file.".into()),
    )])
}

/// The installed service definition against what `install` writes now.
fn service_drift(ctx: &Context, gateway: Option<&GatewayConfig>) -> Outcome {
    let installed = [Scope::User, Scope::System].into_iter().find(|s| ctx.definition_path(*s).is_file());
    let Some(scope) = installed else { return Outcome::Skipped };
    let path = ctx.definition_path(scope);
    let text = fs::read_to_string(&path).unwrap_or_default();
    let unit_port = match ctx.platform {
        Platform::Linux => crate::service::systemd::parse(&text).port_arg(),
        Platform::MacOs => {
            let args = crate::service::launchd::parse(&text).1;
            args.iter().position(|a| a == "--port").and_then(|i| args.get(i + 1)).and_then(|p| p.parse().ok())
        }
    };
    // The port the config asks for now; a broken config keeps the unit's.
    let config_port = gateway.map(|g| config::resolve_port(None, config::port_from_env().ok().flatten(), g));
    let port = config_port.or(unit_port).unwrap_or(openclaw_core::ports::DEFAULT_GATEWAY_PORT);
    let Some(drift) = cmd::drift(ctx, scope, port).filter(cmd::Drift::differs) else {
        return Outcome::Ran(Vec::new());
    };
    let port_note = match (unit_port, config_port) {
        (Some(u), Some(c)) if u != c => format!(" (Gateway service port {u} does not match current gateway config {c})"),
        _ => String::new(),
    };
    let mut f = finding(
        "core/doctor/service-definition",
        Severity::Warning,
        format!(
            "The service definition {} differs from what `openclaw gateway install` writes now{port_note}: {}",
            path.display(),
            drift.summary().join("; ")
        ),
        path.display().to_string(),
        Some("Run `openclaw doctor --fix` (or `openclaw gateway install --force`), then `openclaw gateway restart`.".into()),
    );
    f.repair = Some(Repair::Rewrite {
        path,
        text: drift.wanted,
        reload: (ctx.platform == Platform::Linux).then_some(scope),
    });
    Outcome::Ran(vec![f])
}

/// A user unit without linger stops at logout.
fn linger(ctx: &Context) -> Outcome {
    if ctx.platform != Platform::Linux || !ctx.definition_path(Scope::User).is_file() {
        return Outcome::Skipped;
    }
    match manager::linger(&ctx.user) {
        None => Outcome::Skipped,
        Some(true) => Outcome::Ran(Vec::new()),
        Some(false) => Outcome::Ran(vec![finding(
            "core/doctor/systemd-linger",
            Severity::Warning,
            format!("Linger is off for {}: the gateway's user service stops when you log out.", ctx.user),
            ctx.definition_path(Scope::User).display().to_string(),
            Some(format!("sudo loginctl enable-linger {}", ctx.user)),
        )]),
    }
}

/// Other gateway-like services (not our profiles).
fn extra_services(ctx: &Context, deep: bool) -> Outcome {
    let found = scan::scan(ctx, deep);
    Outcome::Ran(
        found
            .iter()
            .filter(|f| f.warns())
            .map(|f| {
                finding(
                    "core/doctor/extra-gateway-services",
                    Severity::Warning,
                    format!("Another gateway-like service is installed: {} ({})", f.label, f.path.display()),
                    f.path.display().to_string(),
                    Some(f.cleanup_hints(ctx.platform).join(" && ")),
                )
            })
            .collect(),
    )
}
