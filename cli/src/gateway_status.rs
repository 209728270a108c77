//! `openclaw gateway status [--deep] [--no-probe] [--require-rpc] [--json] [--url U]`
//! (lifecycle.md §7.7): the supervisor's view of the installed service (loaded, active, pid,
//! since) reported separately from RPC reachability, the config the CLI and the service read,
//! the probe target and port holders, the last gateway error when the service is up but its
//! port is closed, and other gateway-like services.
//!
//! Nothing here stops the report: a broken config, a missing service manager or an
//! unreachable gateway are findings. The exit code is 0, or 1 with `--require-rpc` when the
//! probe failed (the reference's behaviour and help text).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use openclaw_io::client::Client;
use serde_json::{json, Value};

use crate::args::GatewayStatusArgs;
use crate::client_cmd::{ErrorReport, Probe, Target};
use crate::config::Paths;
use crate::output::Rendered;
use crate::service::manager::{Runtime, Systemctl};
use crate::service::scan::{self, Found};
use crate::service::{cmd, launchd, systemd, Context, Platform, Scope};
use crate::status_cmd::Local;

/// Scopes of the probe (the reference's probe asks for read).
const PROBE_SCOPES: &[&str] = &["operator.read"];

/// The installed service, as far as the files and the supervisor tell.
#[derive(Debug, Default)]
struct Service {
    /// The definition file, when one is installed.
    path: Option<PathBuf>,
    scope: Option<Scope>,
    program_arguments: Vec<String>,
    working_directory: Option<String>,
    environment: Vec<(String, String)>,
    loaded: bool,
    /// `None`: the supervisor could not be asked (detail says why).
    runtime: Option<Runtime>,
    detail: Option<String>,
    /// Differences from what `install` writes now.
    drift: Vec<String>,
}

impl Service {
    fn env(&self, key: &str) -> Option<&str> {
        self.environment.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn port_arg(&self) -> Option<u16> {
        let i = self.program_arguments.iter().position(|a| a == "--port")?;
        self.program_arguments.get(i + 1)?.parse().ok()
    }

    fn running(&self) -> bool {
        self.runtime.as_ref().is_some_and(Runtime::running)
    }
}

fn inspect_service(ctx: &Context) -> Service {
    let mut svc = Service::default();
    let found = [Scope::User, Scope::System]
        .into_iter()
        .map(|s| (s, ctx.definition_path(s)))
        .find(|(_, p)| p.is_file());
    if let Some((scope, path)) = &found {
        let text = fs::read_to_string(path).unwrap_or_default();
        match ctx.platform {
            Platform::Linux => {
                let parsed = systemd::parse(&text);
                svc.program_arguments = parsed.exec_start;
                svc.working_directory = parsed.working_directory;
                svc.environment = parsed.environment;
            }
            Platform::MacOs => svc.program_arguments = launchd::parse(&text).1,
        }
        svc.path = Some(path.clone());
        svc.scope = Some(*scope);
        let port = svc.port_arg().unwrap_or(0);
        if let Some(d) = cmd::drift(ctx, *scope, port).filter(cmd::Drift::differs) {
            svc.drift = d.summary();
        }
    }
    match ctx.platform {
        Platform::Linux => {
            let sc = Systemctl::new(svc.scope.unwrap_or(Scope::User));
            match sc.available() {
                Ok(()) => {
                    svc.loaded = sc.is_enabled(&ctx.names.unit);
                    svc.runtime = sc.show(&ctx.names.unit);
                }
                Err(e) => svc.detail = Some(e.0),
            }
        }
        Platform::MacOs => {
            let target = crate::service::manager::uid().map(|u| format!("gui/{u}/{}", ctx.names.label));
            match target.and_then(|t| crate::service::manager::run("launchctl", &["print", &t]).ok()) {
                Some(out) => {
                    svc.loaded = out.ok;
                    svc.runtime = out.ok.then(|| launchd_runtime(&out.stdout));
                }
                None => svc.detail = Some("launchctl not available".into()),
            }
        }
    }
    svc
}

/// `state = running`, `pid = N`, `last exit code = N` of `launchctl print`.
fn launchd_runtime(text: &str) -> Runtime {
    let mut r = Runtime::default();
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("state = ") {
            r.active_state = Some(if v == "running" { "active".into() } else { v.to_owned() });
            r.sub_state = Some(v.to_owned());
        } else if let Some(v) = line.strip_prefix("pid = ") {
            r.pid = v.parse().ok();
        } else if let Some(v) = line.strip_prefix("last exit code = ") {
            r.last_exit_status = v.parse().ok();
        }
    }
    r
}

/// `{path, exists, valid, issues?}` of one config file.
fn config_json(path: &Path) -> (Value, bool) {
    let exists = path.exists();
    let (valid, issues) = match openclaw_io::config_file::load_config_lenient(path) {
        Ok(_) => (true, Vec::new()),
        Err(e) => (
            false,
            e.issues()
                .iter()
                .map(|i| json!({ "path": i.shown_path(), "message": i.message }))
                .collect(),
        ),
    };
    let mut v = json!({ "path": path, "exists": exists, "valid": valid });
    if !issues.is_empty() {
        v["issues"] = json!(issues);
    }
    (v, valid)
}

/// The last line of the gateway's log at error level (JSON lines or plain text).
fn last_error_line(file: &Path) -> Option<String> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().rev().find_map(|line| {
        if let Ok(v) = serde_json::from_str::<Value>(line) {
            let level = v.pointer("/_meta/logLevelName").or_else(|| v.get("level")).and_then(Value::as_str)?;
            if !level.eq_ignore_ascii_case("error") && !level.eq_ignore_ascii_case("fatal") {
                return None;
            }
            // Ours and the reference's lines carry `message`; tslog's positional "1" otherwise.
            let msg = v.get("message").or_else(|| v.get("msg")).or_else(|| v.get("1"))?;
            return Some(msg.as_str().map_or_else(|| msg.to_string(), str::to_owned));
        }
        (line.contains("ERROR") || line.contains("error")).then(|| line.trim().to_owned())
    })
}

/// Runs `gateway status`; text or JSON and the exit code.
pub async fn run(args: &GatewayStatusArgs) -> Rendered {
    let client = &args.client;
    let ctx = Context::from_process();
    let (mut local, config_problem) = match Local::resolve_lenient(client) {
        Ok(v) => v,
        Err(e) => {
            return Rendered { stdout: String::new(), stderr: format!("Gateway status failed: {e}\n"), code: 1 };
        }
    };
    let service = ctx.as_ref().map(inspect_service).ok();
    // The port: --port, else the installed service's --port, else env/config.
    let mut port_source = "env/config";
    if let Some(port) = args.port {
        local.retarget(port);
        port_source = "--port";
    } else if let Some(port) = service.as_ref().and_then(Service::port_arg) {
        if port != local.ports.gateway {
            local.retarget(port);
        }
        port_source = "service args";
    }
    let probe = if args.no_probe {
        None
    } else {
        Some(probe(client, &local).await)
    };
    let log_file = crate::log_setup::current_file();
    let port_closed = matches!(local.port_state, crate::status_cmd::PortState::Free);
    let last_error = service
        .as_ref()
        .filter(|s| s.running() && port_closed)
        .and_then(|_| last_error_line(&log_file));
    let extra = ctx.as_ref().map(|c| scan::scan(c, args.deep)).unwrap_or_default();
    let report = Report { ctx: ctx.ok(), local, service, probe, log_file, last_error, extra, port_source, config_problem };
    let probe_failed = matches!(report.probe, Some(Err(_)));
    let code = u8::from(args.require_rpc && probe_failed);
    let stderr = match &report.probe {
        Some(Err((_, e))) => {
            let mut s = match &e.code {
                Some(code) => format!("RPC probe failed: {code}: {}\n", e.message),
                None => format!("RPC probe failed: {}\n", e.message),
            };
            if let Some(detail) = e.details.as_ref().and_then(|d| d.get("code")).and_then(Value::as_str) {
                let _ = writeln!(s, "  detail: {detail}");
            }
            s
        }
        _ => String::new(),
    };
    let stdout = if client.json {
        serde_json::to_string_pretty(&report.json()).unwrap_or_default() + "\n"
    } else {
        report.text()
    };
    Rendered { stdout, stderr, code }
}

type ProbeResult = Result<Probe, (String, ErrorReport)>;

/// Connects as a probe (protocol 3..4, no RPC) with the usual credentials; a broken config
/// falls back to the URL of the local view and the token file.
async fn probe(client: &crate::args::ClientArgs, local: &Local) -> ProbeResult {
    let target = match Target::resolve(client) {
        Ok(mut t) => {
            if client.url.as_deref().is_none_or(|u| u.trim().is_empty()) {
                t.url.clone_from(&local.probe_url);
            }
            t
        }
        Err(_) => Target {
            url: local.probe_url.clone(),
            token: client.token.clone().or_else(|| {
                Paths::from_env().ok().and_then(|p| crate::token::read(&p.token_file()).ok().flatten())
            }),
            password: client.password.clone(),
            timeout: std::time::Duration::from_millis(client.timeout),
        },
    };
    let mut opts = target.options("probe", PROBE_SCOPES);
    opts.min_protocol = 3;
    opts.max_protocol = 4;
    match Client::connect(opts).await {
        Ok((c, hello)) => {
            c.close().await;
            Ok(Probe::from_hello(target.url, &hello))
        }
        Err(e) => {
            let e = crate::client_cmd::name_the_url(e, &target.url);
            Err((target.url, ErrorReport::from(&e)))
        }
    }
}

struct Report {
    ctx: Option<Context>,
    local: Local,
    service: Option<Service>,
    probe: Option<ProbeResult>,
    log_file: PathBuf,
    last_error: Option<String>,
    extra: Vec<Found>,
    port_source: &'static str,
    config_problem: Option<crate::config::ConfigError>,
}

impl Report {
    fn platform(&self) -> Platform {
        self.ctx.as_ref().map_or_else(Platform::current, |c| c.platform)
    }

    fn service_json(&self) -> Value {
        let platform = self.platform();
        let (loaded_text, not_loaded_text) = platform.loaded_text();
        let Some(svc) = &self.service else {
            return json!({ "label": platform.label(), "loaded": false, "loadedText": loaded_text,
                           "notLoadedText": not_loaded_text, "command": null, "runtime": {"status": "unknown"} });
        };
        let command = svc.path.as_ref().map(|p| {
            let env: serde_json::Map<String, Value> = svc
                .environment
                .iter()
                .filter(|(k, _)| crate::service::is_safe_env_key(k))
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            let mut c = json!({ "programArguments": svc.program_arguments, "sourcePath": p });
            if let Some(wd) = &svc.working_directory {
                c["workingDirectory"] = json!(wd);
            }
            if !env.is_empty() {
                c["environment"] = Value::Object(env);
            }
            c
        });
        let runtime = match (&svc.runtime, &svc.detail) {
            (Some(r), _) => {
                let mut v = json!({
                    "status": if r.running() { "running" } else { "stopped" },
                    "state": r.active_state, "subState": r.sub_state, "pid": r.pid,
                    "lastExitStatus": r.last_exit_status, "lastExitReason": r.last_exit_reason,
                    "since": r.since,
                });
                if r.missing_unit() {
                    v["missingUnit"] = json!(true);
                }
                v
            }
            (None, Some(detail)) => json!({ "status": "unknown", "detail": detail }),
            (None, None) => json!({ "status": "unknown" }),
        };
        let issues: Vec<Value> = if svc.drift.is_empty() {
            Vec::new()
        } else {
            vec![json!({
                "message": "Service definition differs from what `openclaw gateway install` writes now",
                "detail": svc.drift.join("\n"),
            })]
        };
        json!({
            "label": platform.label(),
            "loaded": svc.loaded,
            "loadedText": loaded_text,
            "notLoadedText": not_loaded_text,
            "command": command,
            "runtime": runtime,
            "configAudit": { "ok": issues.is_empty(), "issues": issues },
        })
    }

    fn daemon_config_path(&self) -> PathBuf {
        let svc_env = |k: &str| self.service.as_ref().and_then(|s| s.env(k)).map(PathBuf::from);
        svc_env("OPENCLAW_CONFIG_PATH")
            .or_else(|| svc_env("OPENCLAW_STATE_DIR").map(|d| d.join("openclaw.json")))
            .unwrap_or_else(|| self.local.config_path.clone())
    }

    fn json(&self) -> Value {
        let (cli_cfg, _) = config_json(&self.local.config_path);
        let daemon_path = self.daemon_config_path();
        let (daemon_cfg, _) = config_json(&daemon_path);
        let mut config = json!({ "cli": cli_cfg, "daemon": daemon_cfg });
        if daemon_path != self.local.config_path {
            config["mismatch"] = json!(true);
        }
        let mut gateway = self.local.gateway_json();
        gateway["portSource"] = json!(self.port_source);
        let http = self.local.probe_url.replacen("ws", "http", 1);
        gateway["controlUiLinks"] = json!({ "httpUrl": format!("{http}/"), "wsUrl": self.local.probe_url });
        gateway["version"] = json!(env!("CARGO_PKG_VERSION"));
        let platform = self.platform();
        let mut doc = json!({
            "cli": {
                "version": env!("CARGO_PKG_VERSION"),
                "entrypoint": self.ctx.as_ref().map(|c| c.binary.display().to_string()),
            },
            "logFile": self.log_file,
            "service": self.service_json(),
            "config": config,
            "gateway": gateway,
            "port": self.local.port_json(),
        });
        if let Some(e) = &self.last_error {
            doc["lastError"] = json!(e);
        }
        match &self.probe {
            Some(Ok(p)) => doc["rpc"] = crate::output::probe_rpc_json(p, None),
            Some(Err((url, e))) => {
                doc["rpc"] = json!({ "ok": false, "kind": "connect", "capability": "unknown", "url": url,
                                     "error": crate::output::error_json(e) });
            }
            None => {}
        }
        doc["url"] = json!(self.local.probe_url);
        doc["extraServices"] = json!(self.extra.iter().map(|f| f.json(platform)).collect::<Vec<_>>());
        doc
    }

    fn text(&self) -> String {
        let mut out = String::new();
        let platform = self.platform();
        let (loaded_text, not_loaded_text) = platform.loaded_text();
        match &self.service {
            Some(svc) if svc.path.is_some() => {
                let word = if svc.loaded { loaded_text } else { not_loaded_text };
                let _ = writeln!(out, "Service: {} ({word})", platform.label());
                if let Some(p) = &svc.path {
                    let _ = writeln!(out, "Service file: {}", p.display());
                }
                let _ = writeln!(out, "Command: {}", svc.program_arguments.join(" "));
                if !svc.drift.is_empty() {
                    let _ = writeln!(out, "Service definition differs from what `gateway install` writes now (fix: openclaw doctor --fix):");
                    for d in &svc.drift {
                        let _ = writeln!(out, "  {d}");
                    }
                }
            }
            _ => {
                let _ = writeln!(out, "Service: {} (not installed)", platform.label());
                let cli = self.ctx.as_ref().map_or_else(|| "openclaw".to_owned(), |c| c.names.cli());
                let _ = writeln!(out, "Install it with: {cli} gateway install");
            }
        }
        if let Some(svc) = &self.service {
            let runtime = match (&svc.runtime, &svc.detail) {
                (Some(r), _) if r.running() => {
                    let pid = r.pid.map(|p| format!(", pid {p}")).unwrap_or_default();
                    let since = r.since.as_deref().map(|s| format!(", since {s}")).unwrap_or_default();
                    format!("running ({}{pid}{since})", r.sub_state.as_deref().unwrap_or("active"))
                }
                (Some(r), _) => {
                    let exit = r.last_exit_status.map(|c| format!(", last exit {c}")).unwrap_or_default();
                    format!("stopped ({}/{}{exit})", r.active_state.as_deref().unwrap_or("?"), r.sub_state.as_deref().unwrap_or("?"))
                }
                (None, Some(detail)) => format!("unknown ({detail})"),
                (None, None) => "unknown".into(),
            };
            let _ = writeln!(out, "Runtime: {runtime}");
        }
        let _ = writeln!(out, "File logs: {}", self.log_file.display());
        if let Some(problem) = &self.config_problem {
            let _ = writeln!(out, "Config (cli): {} (invalid)", self.local.config_path.display());
            let first = problem.to_string();
            let first = first.lines().next().unwrap_or_default();
            let _ = writeln!(out, "  {first}");
            let _ = writeln!(out, "  Fix: openclaw doctor (lists each problem with file, line and key)");
        }
        let daemon = self.daemon_config_path();
        if daemon != self.local.config_path {
            let _ = writeln!(out, "Config (service): {}", daemon.display());
            let _ = writeln!(out, "Root cause: the service reads another config than this shell.");
        }
        out.push_str(&self.local.gateway_text().replace("(env/config)", &format!("({})", self.port_source)));
        let _ = writeln!(out, "Probe target: {}", self.local.probe_url);
        match &self.probe {
            None => {
                let _ = writeln!(out, "RPC probe: skipped (--no-probe)");
            }
            Some(Ok(p)) => {
                let _ = writeln!(out, "Gateway version: {}", p.version.as_deref().unwrap_or("unknown"));
                let _ = writeln!(out, "Connectivity probe: ok");
                let _ = writeln!(out, "Capability: {}", p.capability().replace('_', "-"));
                let _ = writeln!(out, "RPC probe: ok");
            }
            Some(Err((_, e))) => {
                let _ = writeln!(out, "Connectivity probe: failed");
                let _ = writeln!(out, "Capability: unknown");
                let _ = writeln!(out, "RPC probe: failed ({})", e.message);
            }
        }
        if let Some(e) = &self.last_error {
            let _ = writeln!(out, "Last gateway error: {e}");
        }
        let warned: Vec<&Found> = self.extra.iter().filter(|f| f.warns()).collect();
        let profiles: Vec<&Found> = self.extra.iter().filter(|f| !f.warns()).collect();
        if !profiles.is_empty() {
            let _ = writeln!(out, "Other OpenClaw profiles installed:");
            for f in profiles {
                let _ = writeln!(out, "  {} ({})", f.label, f.path.display());
            }
        }
        if !warned.is_empty() {
            let _ = writeln!(out, "Other gateway-like services detected (best effort):");
            for f in warned {
                let legacy = if f.legacy { ", legacy" } else { "" };
                let _ = writeln!(out, "  {} ({}, {}{legacy})", f.label, f.path.display(), f.scope);
                for hint in f.cleanup_hints(platform) {
                    let _ = writeln!(out, "    Cleanup: {hint}");
                }
            }
        }
        out
    }
}
