//! `openclaw gateway install|uninstall|start|stop|restart` (lifecycle.md §7.6): the definition
//! from [`super::Definition`], written atomically, then the service manager driven through its
//! tool. Each command yields an [`Outcome`] in the reference's JSON vocabulary (`{ok, action,
//! result, message, error, hints, warnings, service}`), rendered as text or `--json` by
//! [`Outcome::render`].
//!
//! Where no service manager answers (a container without systemd as PID 1), `install` still
//! writes the unit and says exactly which commands start it where systemd runs; the other
//! commands fail with the same advice.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::manager::{self, Systemctl, Unavailable};
use super::{atomic, Context, Definition, Platform, Scope};
use crate::config::{self, Config};

/// Which lifecycle command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Install,
    Uninstall,
    Start,
    Stop,
    Restart,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Install => "install",
            Self::Uninstall => "uninstall",
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
        }
    }
}

/// `install` flags.
#[derive(Clone, Copy, Debug, Default)]
pub struct InstallOptions {
    pub force: bool,
    pub port: Option<u16>,
    pub system: bool,
}

/// The result of one lifecycle command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub action: Action,
    pub ok: bool,
    /// `installed`, `already-installed`, `uninstalled`, `started`, `stopped`, `restarted`,
    /// `not-loaded`.
    pub result: Option<&'static str>,
    /// Human lines (also `message` in JSON, joined).
    pub lines: Vec<String>,
    pub error: Option<String>,
    pub hints: Vec<String>,
    pub warnings: Vec<String>,
    pub platform: Platform,
    pub loaded: bool,
}

impl Outcome {
    fn new(action: Action, platform: Platform) -> Self {
        Self {
            action,
            ok: true,
            result: None,
            lines: Vec::new(),
            error: None,
            hints: Vec::new(),
            warnings: Vec::new(),
            platform,
            loaded: false,
        }
    }

    fn fail(mut self, error: String) -> Self {
        self.ok = false;
        self.error = Some(error);
        self
    }

    /// Text (or one pretty JSON document) and the exit code: 0 unless `ok` is false.
    pub fn render(&self, json_out: bool) -> (String, String, u8) {
        let code = u8::from(!self.ok);
        if json_out {
            let (loaded_text, not_loaded_text) = self.platform.loaded_text();
            let mut doc = json!({ "ok": self.ok, "action": self.action.name() });
            if let Some(result) = self.result {
                doc["result"] = json!(result);
            }
            if !self.lines.is_empty() {
                doc["message"] = json!(self.lines.join("\n"));
            }
            if let Some(error) = &self.error {
                doc["error"] = json!(error);
            }
            if !self.hints.is_empty() {
                doc["hints"] = json!(self.hints);
            }
            if !self.warnings.is_empty() {
                doc["warnings"] = json!(self.warnings);
            }
            doc["service"] = json!({
                "label": self.platform.label(),
                "loaded": self.loaded,
                "loadedText": loaded_text,
                "notLoadedText": not_loaded_text,
            });
            let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
            return (text, String::new(), code);
        }
        let mut out = String::new();
        for line in &self.lines {
            out.push_str(line);
            out.push('\n');
        }
        let mut err = String::new();
        for w in &self.warnings {
            err.push_str(&format!("Warning: {w}\n"));
        }
        if let Some(e) = &self.error {
            err.push_str(&format!("{e}\n"));
        }
        for hint in &self.hints {
            let target = if self.ok { &mut out } else { &mut err };
            target.push_str(&format!("Tip: {hint}\n"));
        }
        (out, err, code)
    }
}

/// `gateway install`.
pub fn install(opts: InstallOptions) -> Outcome {
    let platform = Platform::current();
    let outcome = Outcome::new(Action::Install, platform);
    let ctx = match Context::from_process() {
        Ok(ctx) => ctx,
        Err(e) => return outcome.fail(format!("Gateway install failed: {e}")),
    };
    let port = match install_port(opts.port) {
        Ok(port) => port,
        Err(e) => return outcome.fail(format!("Gateway install failed: {e}")),
    };
    let scope = if opts.system { Scope::System } else { Scope::User };
    let def = Definition::build(&ctx, port, scope);
    let text = match def.render(platform) {
        Ok(text) => text,
        Err(e) => return outcome.fail(format!("Gateway install failed: {e}")),
    };
    match platform {
        Platform::Linux => install_systemd(outcome, &ctx, scope, &text, opts.force),
        Platform::MacOs => install_launchd(outcome, &ctx, scope, &text, opts.force),
    }
}

/// `--port`, else `OPENCLAW_GATEWAY_PORT`, else `gateway.port`, else 18789. A broken config
/// only matters when the port has to come from it.
fn install_port(flag: Option<u16>) -> Result<u16, String> {
    if let Some(port) = flag.filter(|p| *p != 0) {
        return Ok(port);
    }
    if flag == Some(0) {
        return Err("Invalid port: 0 (the service needs a fixed port)".into());
    }
    let env = config::port_from_env().map_err(|e| e.to_string())?;
    if let Some(port) = env {
        return Ok(port);
    }
    let paths = config::Paths::from_env().map_err(|e| e.to_string())?;
    let gateway = Config::load(&paths.config_path)
        .map_err(|e| format!("{e}\n(fix the config, or pass --port)"))?
        .gateway;
    Ok(config::resolve_port(None, None, &gateway))
}

/// The secrets the service needs and the unit must not hold (`OPENCLAW_GATEWAY_TOKEN` /
/// `_PASSWORD` of the installing shell), as an `EnvironmentFile` (mode 0600). Without any,
/// the gateway uses the config or its token file, and no file is written.
fn write_env_file(ctx: &Context) -> std::io::Result<Option<PathBuf>> {
    let mut body = String::new();
    for key in ["OPENCLAW_GATEWAY_TOKEN", "OPENCLAW_GATEWAY_PASSWORD"] {
        if let Some(v) = std::env::var(key).ok().filter(|v| !v.trim().is_empty()) {
            let v = v.trim().replace('\\', "\\\\").replace('"', "\\\"");
            body.push_str(&format!("{key}=\"{v}\"\n"));
        }
    }
    if body.is_empty() {
        return Ok(None);
    }
    let path = ctx.env_file();
    atomic::write(&path, body.as_bytes(), 0o600)?;
    Ok(Some(path))
}

/// Writes `text` to `path` unless unchanged; backs up a different previous file. Returns
/// (changed, backup).
fn write_definition(path: &Path, text: &str) -> std::io::Result<(bool, Option<PathBuf>)> {
    let existing = fs::read_to_string(path).ok();
    if existing.as_deref() == Some(text) {
        return Ok((false, None));
    }
    let backup = match existing {
        Some(_) => Some(atomic::backup(path)?),
        None => None,
    };
    atomic::write(path, text.as_bytes(), 0o644)?;
    Ok((true, backup))
}

fn install_systemd(mut out: Outcome, ctx: &Context, scope: Scope, text: &str, force: bool) -> Outcome {
    let path = ctx.definition_path(scope);
    let unit = ctx.names.unit.as_str();
    let sc = Systemctl::new(scope);
    let prefix = sc.prefix();
    let manager = sc.available();
    let unchanged = fs::read_to_string(&path).ok().as_deref() == Some(text);
    out.loaded = manager.is_ok() && sc.is_enabled(unit);
    if unchanged && !force && (out.loaded || manager.is_err()) {
        out.result = Some("already-installed");
        out.lines.push(if out.loaded {
            "Gateway service already enabled.".to_owned()
        } else {
            format!("Gateway service unit already written: {}", path.display())
        });
        out.hints.push(format!("Reinstall with: {} gateway install --force", ctx.names.cli()));
        if let Err(Unavailable(detail)) = manager {
            out.warnings.push(detail);
            out.hints.extend(start_commands(prefix, unit));
        }
        return out;
    }
    if let Err(e) = write_env_file(ctx) {
        return out.fail(format!("Gateway install failed: cannot write {}: {e}", ctx.env_file().display()));
    }
    let backup = if unchanged && force {
        None
    } else {
        match write_definition(&path, text) {
            Ok((_, backup)) => backup,
            Err(e) => {
                let sudo = if e.kind() == std::io::ErrorKind::PermissionDenied && scope == Scope::System {
                    " (system units need root: sudo openclaw gateway install --system)"
                } else {
                    ""
                };
                return out.fail(format!("Gateway install failed: cannot write {}: {e}{sudo}", path.display()));
            }
        }
    };
    out.result = Some("installed");
    out.lines.push(format!("Installed systemd service: {}", path.display()));
    if let Some(bak) = backup {
        out.lines.push(format!("Previous unit backed up to: {}", bak.display()));
    }
    if let Err(Unavailable(detail)) = manager {
        out.warnings.push(format!("{detail}; the unit is written but not started"));
        out.lines.push(format!(
            "No systemd manager is reachable here. Where systemd runs, start it with:\n  {prefix} daemon-reload\n  {prefix} enable --now {unit}"
        ));
        out.hints.push(format!("Or run it in the foreground: {} gateway", ctx.names.cli()));
        return out;
    }
    let steps: [&[&str]; 3] = [&["daemon-reload"], &["enable", "--now", unit], &["restart", unit]];
    // A rewritten unit of a running service only takes effect on restart.
    let needed = if unchanged && !force { 2 } else { 3 };
    for step in steps.iter().take(needed) {
        let verb = step.first().copied().unwrap_or("");
        match sc.call(step) {
            Ok(o) if o.ok => {}
            Ok(o) => return out.fail(format!("Gateway install failed: systemctl {verb} failed: {}", o.detail())),
            Err(e) => return out.fail(format!("Gateway install failed: {e}")),
        }
    }
    out.loaded = true;
    if scope == Scope::User && manager::linger(&ctx.user) == Some(false) {
        out.warnings.push(format!(
            "Linger is off for {}: the gateway stops when you log out",
            ctx.user
        ));
        out.hints.push(format!("Keep it running after logout: sudo loginctl enable-linger {}", ctx.user));
    }
    out
}

/// The two commands that start a written unit.
fn start_commands(prefix: &str, unit: &str) -> [String; 2] {
    [format!("{prefix} daemon-reload"), format!("{prefix} enable --now {unit}")]
}

/// `gui/<uid>` (LaunchAgents) or `system` (LaunchDaemons).
fn launchd_domain(scope: Scope) -> Result<String, String> {
    match scope {
        Scope::System => Ok("system".into()),
        Scope::User => manager::uid()
            .map(|uid| format!("gui/{uid}"))
            .ok_or_else(|| "cannot read the user id (id -u)".to_owned()),
    }
}

fn launchctl(args: &[&str]) -> Result<manager::Output, String> {
    manager::run("launchctl", args).map_err(|e| e.to_string())
}

fn install_launchd(mut out: Outcome, ctx: &Context, scope: Scope, text: &str, force: bool) -> Outcome {
    let path = ctx.definition_path(scope);
    let label = ctx.names.label.as_str();
    let domain = match launchd_domain(scope) {
        Ok(d) => d,
        Err(e) => return out.fail(format!("Gateway install failed: {e}")),
    };
    let target = format!("{domain}/{label}");
    out.loaded = launchctl(&["print", &target]).is_ok_and(|o| o.ok);
    let unchanged = fs::read_to_string(&path).ok().as_deref() == Some(text);
    if unchanged && out.loaded && !force {
        out.result = Some("already-installed");
        out.lines.push("Gateway service already loaded.".into());
        out.hints.push(format!("Reinstall with: {} gateway install --force", ctx.names.cli()));
        return out;
    }
    // Earlier releases' labels (the runbook's bot.molt.*, com.openclaw.*): unload and remove.
    if let Some(dir) = path.parent() {
        for (legacy, file) in legacy_plists(dir) {
            let _ = launchctl(&["bootout", &format!("{domain}/{legacy}")]);
            if fs::remove_file(&file).is_ok() {
                out.lines.push(format!("Removed legacy LaunchAgent: {}", file.display()));
            }
        }
    }
    if let Err(e) = fs::create_dir_all(ctx.state_dir.join("logs")) {
        return out.fail(format!("Gateway install failed: cannot create the log folder: {e}"));
    }
    let backup = match write_definition(&path, text) {
        Ok((_, backup)) => backup,
        Err(e) => return out.fail(format!("Gateway install failed: cannot write {}: {e}", path.display())),
    };
    let plist = path.display().to_string();
    let _ = launchctl(&["bootout", &domain, &plist]);
    let _ = launchctl(&["enable", &target]);
    match launchctl(&["bootstrap", &domain, &plist]) {
        Ok(o) if o.ok => {}
        Ok(o) => {
            let detail = o.detail();
            let mut failed = out.fail(format!("Gateway install failed: launchctl bootstrap failed: {detail}"));
            if detail.contains("domain does not support specified action") || detail.contains("bootstrap failed: 125") {
                failed.hints.push("LaunchAgents need a logged-in GUI session: log in on the Mac (not only over SSH) and retry".into());
            }
            return failed;
        }
        Err(e) => return out.fail(format!("Gateway install failed: {e}")),
    }
    let _ = launchctl(&["kickstart", "-k", &target]);
    out.loaded = true;
    out.result = Some("installed");
    out.lines.push(format!("Installed LaunchAgent: {plist}"));
    if let Some(bak) = backup {
        out.lines.push(format!("Previous plist backed up to: {}", bak.display()));
    }
    out.lines.push(format!("Logs: {}", ctx.state_dir.join("logs/gateway.log").display()));
    out
}

/// `(label, file)` of the legacy-labelled plists in `dir`.
fn legacy_plists(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let label = name.strip_suffix(".plist")?.to_owned();
            super::is_legacy_label(&label).then(|| (label, e.path()))
        })
        .collect();
    found.sort();
    found
}

/// `gateway uninstall|start|stop|restart`.
pub fn lifecycle(action: Action, system: bool) -> Outcome {
    let platform = Platform::current();
    let out = Outcome::new(action, platform);
    let ctx = match Context::from_process() {
        Ok(ctx) => ctx,
        Err(e) => return out.fail(format!("Gateway {} failed: {e}", action.name())),
    };
    let scope = if system { Scope::System } else { Scope::User };
    match platform {
        Platform::Linux => systemd_lifecycle(out, &ctx, scope),
        Platform::MacOs => launchd_lifecycle(out, &ctx, scope),
    }
}

fn not_loaded(mut out: Outcome, ctx: &Context) -> Outcome {
    let (_, not_loaded_text) = out.platform.loaded_text();
    out.result = Some("not-loaded");
    out.lines.push(format!("Gateway service {not_loaded_text}."));
    out.hints.push(format!("Start with: {} gateway install", ctx.names.cli()));
    out.hints.push(format!("Or run it in the foreground: {} gateway", ctx.names.cli()));
    out
}

fn systemd_lifecycle(mut out: Outcome, ctx: &Context, scope: Scope) -> Outcome {
    let action = out.action;
    let path = ctx.definition_path(scope);
    let unit = ctx.names.unit.as_str();
    let sc = Systemctl::new(scope);
    let prefix = sc.prefix();
    let manager = sc.available();
    out.loaded = manager.is_ok() && sc.is_enabled(unit);
    if action == Action::Uninstall {
        if let Err(Unavailable(detail)) = &manager {
            out.warnings.push(detail.clone());
            out.hints.push(format!("Where systemd runs: {prefix} disable --now {unit}"));
        } else {
            // Not loaded is fine: there is nothing to stop.
            let _ = sc.call(&["disable", "--now", unit]);
        }
        match fs::remove_file(&path) {
            Ok(()) => {
                out.result = Some("uninstalled");
                out.lines.push(format!("Removed systemd service: {}", path.display()));
                if manager.is_ok() {
                    let _ = sc.call(&["daemon-reload"]);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.result = Some("uninstalled");
                out.lines.push(format!("Systemd service not found at {}", path.display()));
            }
            Err(e) => return out.fail(format!("Gateway uninstall failed: cannot remove {}: {e}", path.display())),
        }
        out.loaded = false;
        return out;
    }
    if !path.exists() {
        return not_loaded(out, ctx);
    }
    if let Err(Unavailable(detail)) = manager {
        let mut failed = out.fail(format!("Gateway {} failed: {detail}", action.name()));
        failed.hints.push(format!("Where systemd runs: {prefix} {} {unit}", action.name()));
        failed.hints.push(format!("Or run it in the foreground: {} gateway", ctx.names.cli()));
        return failed;
    }
    let (verb, result, done) = match action {
        Action::Start => ("start", "started", "Started"),
        Action::Stop => ("stop", "stopped", "Stopped"),
        Action::Restart | Action::Install | Action::Uninstall => ("restart", "restarted", "Restarted"),
    };
    match sc.call(&[verb, unit]) {
        Ok(o) if o.ok => {
            out.result = Some(result);
            out.lines.push(format!("{done} systemd service: {unit}"));
            out
        }
        Ok(o) => out.fail(format!("Gateway {} failed: systemctl {verb} failed: {}", action.name(), o.detail())),
        Err(e) => out.fail(format!("Gateway {} failed: {e}", action.name())),
    }
}

fn launchd_lifecycle(mut out: Outcome, ctx: &Context, scope: Scope) -> Outcome {
    let action = out.action;
    let path = ctx.definition_path(scope);
    let label = ctx.names.label.as_str();
    let domain = match launchd_domain(scope) {
        Ok(d) => d,
        Err(e) => return out.fail(format!("Gateway {} failed: {e}", action.name())),
    };
    let target = format!("{domain}/{label}");
    out.loaded = launchctl(&["print", &target]).is_ok_and(|o| o.ok);
    if action == Action::Uninstall {
        let _ = launchctl(&["bootout", &target]);
        out.result = Some("uninstalled");
        match fs::remove_file(&path) {
            Ok(()) => out.lines.push(format!("Removed LaunchAgent: {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.lines.push(format!("LaunchAgent not found at {}", path.display()));
            }
            Err(e) => return out.fail(format!("Gateway uninstall failed: cannot remove {}: {e}", path.display())),
        }
        out.loaded = false;
        return out;
    }
    if !path.exists() {
        return not_loaded(out, ctx);
    }
    let plist = path.display().to_string();
    let call = |args: &[&str]| -> Result<(), String> {
        match launchctl(args) {
            Ok(o) if o.ok => Ok(()),
            Ok(o) => Err(format!("launchctl {} failed: {}", args.first().copied().unwrap_or(""), o.detail())),
            Err(e) => Err(e),
        }
    };
    let done = match action {
        Action::Stop => call(&["bootout", &target]).map(|()| ("stopped", format!("Stopped LaunchAgent: {target}"))),
        Action::Start => {
            let loaded = if out.loaded { Ok(()) } else { call(&["bootstrap", &domain, &plist]) };
            loaded
                .and_then(|()| call(&["kickstart", &target]))
                .map(|()| ("started", format!("Started LaunchAgent: {target}")))
        }
        Action::Restart | Action::Install | Action::Uninstall => {
            let loaded = if out.loaded { Ok(()) } else { call(&["bootstrap", &domain, &plist]) };
            loaded
                .and_then(|()| call(&["kickstart", "-k", &target]))
                .map(|()| ("restarted", format!("Restarted LaunchAgent: {target}")))
        }
    };
    match done {
        Ok((result, line)) => {
            out.result = Some(result);
            out.loaded = action != Action::Stop;
            out.lines.push(line);
            out
        }
        Err(e) => out.fail(format!("Gateway {} failed: {e}", action.name())),
    }
}

/// The definition `install` would write now for the installed scope, and the installed text,
/// when a definition is installed (used by `gateway status` and `doctor`).
pub fn drift(ctx: &Context, scope: Scope, port: u16) -> Option<Drift> {
    let path = ctx.definition_path(scope);
    let installed = fs::read_to_string(&path).ok()?;
    let wanted = Definition::build(ctx, port, scope).render(ctx.platform).ok()?;
    Some(Drift { installed, wanted })
}

/// An installed definition and the one `install` would write now.
#[derive(Debug, Clone)]
pub struct Drift {
    pub installed: String,
    pub wanted: String,
}

impl Drift {
    pub fn differs(&self) -> bool {
        self.installed != self.wanted
    }

    /// Which lines differ (for the message): `-old` / `+new`, at most a few.
    pub fn summary(&self) -> Vec<String> {
        let old: Vec<&str> = self.installed.lines().collect();
        let new: Vec<&str> = self.wanted.lines().collect();
        let mut out: Vec<String> = old.iter().filter(|l| !new.contains(l)).map(|l| format!("-{l}")).collect();
        out.extend(new.iter().filter(|l| !old.contains(l)).map(|l| format!("+{l}")));
        out.truncate(8);
        out
    }
}
