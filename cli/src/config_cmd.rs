//! `openclaw config get|set|unset|validate|file|schema`, and the config guard that runs before
//! every command that is not allow-listed (lifecycle.md §2.2 step 0). Outputs and exit codes
//! follow the reference CLI (openclaw 2026.9.6).

use std::path::Path;

use openclaw_core::config::{self as core, edit, keys, Issue, MissingEnv};
use openclaw_io::config_file::{self, ConfigLoadError, Loaded};
use serde_json::{json, Value};

use crate::args::{Command, ConfigAction, ConfigCommand, GatewayAction};
use crate::config::{ConfigError, Paths};

/// What a config command printed and its exit code.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
}

impl Outcome {
    fn ok(stdout: String) -> Self {
        Self { stdout, stderr: String::new(), code: 0 }
    }

    fn fail(stderr: String) -> Self {
        Self { stdout: String::new(), stderr, code: 1 }
    }
}

/// Commands that run even when the config is invalid (§2.2 step 0): they only read, or they
/// are how the problem is inspected.
pub fn allow_listed(command: &Command) -> bool {
    match command {
        // doctor reports the config's problems itself; completion does not read it.
        Command::Health(_) | Command::Status(_) | Command::Logs(_) | Command::Doctor(_) | Command::Completion(_) => true,
        // The service commands drive the service manager; install needs the config only for
        // the port (and says so).
        Command::Gateway(g) => matches!(
            g.action,
            Some(
                GatewayAction::Call(_)
                    | GatewayAction::Health(_)
                    | GatewayAction::Status(_)
                    | GatewayAction::Install(_)
                    | GatewayAction::Uninstall(_)
                    | GatewayAction::Start(_)
                    | GatewayAction::Stop(_)
                    | GatewayAction::Restart(_)
            )
        ),
        Command::Config(c) => matches!(c.action, ConfigAction::Validate(_) | ConfigAction::File | ConfigAction::Schema),
        Command::Agent(_) | Command::Sessions(_) | Command::Devices(_) | Command::Nodes(_) | Command::Setup(_) | Command::Dashboard(_) => false,
        Command::Pairing(_) | Command::Channels(_) | Command::Message(_) => false,
    }
}

/// The guard: `Some(outcome)` (the report, exit 1) when the config file exists and is invalid
/// and `command` is not allow-listed.
pub fn guard(command: &Command) -> Option<Outcome> {
    if allow_listed(command) {
        return None;
    }
    let paths = Paths::from_env().ok()?;
    match config_file::load_config_lenient(&paths.config_path) {
        Ok(_) => None,
        Err(e @ ConfigLoadError::Invalid { .. }) => Some(Outcome::fail(format!("{e}\n"))),
        Err(e @ ConfigLoadError::Read { .. }) => Some(Outcome::fail(format!("{e}\n"))),
    }
}

/// Runs one `openclaw config` subcommand.
pub fn run(cmd: &ConfigCommand) -> Outcome {
    let paths = match Paths::from_env() {
        Ok(p) => p,
        Err(e) => return Outcome::fail(format!("{e}\n")),
    };
    match &cmd.action {
        ConfigAction::Get(a) => get(&paths, &a.path, a.json),
        ConfigAction::Set(a) => set(&paths, &a.path, &a.value, a.strict_json),
        ConfigAction::Unset(a) => unset(&paths, &a.path),
        ConfigAction::Validate(a) => validate(&paths, a.json),
        ConfigAction::File => Outcome::ok(format!("{}\n", paths.config_path.display())),
        ConfigAction::Schema => Outcome::ok(format!("{}\n", serde_json::to_string_pretty(core::schema()).unwrap_or_default())),
    }
}

/// `~/…` for paths under `$HOME`, as the reference shows them.
fn short(path: &Path) -> String {
    let home = std::env::var_os("OPENCLAW_HOME").or_else(|| std::env::var_os("HOME"));
    match home.and_then(|h| path.strip_prefix(h).ok().map(Path::to_owned)) {
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}

fn load(paths: &Paths) -> Result<Loaded, Outcome> {
    config_file::load_config_lenient(&paths.config_path).map_err(|e| Outcome::fail(format!("{}\n", ConfigError::from(e))))
}

/// Whether our schema or the reference's knows `path` (for "valid but unset" vs "unknown").
fn known_path(path: &[edit::Segment]) -> bool {
    let walk = |root: &'static Value| {
        let mut node = Some(root);
        for seg in path {
            node = match seg {
                edit::Segment::Key(k) => keys::child(node, k),
                edit::Segment::Index(_) => node.and_then(|n| n.get(keys::ITEMS)),
            };
            if node.is_none() {
                return false;
            }
        }
        true
    };
    walk(keys::ours()) || walk(keys::reference())
}

fn parse_path(path: &str) -> Result<Vec<edit::Segment>, Outcome> {
    edit::parse_path(path).map_err(|e| Outcome::fail(format!("{e}\n")))
}

/// `config get <path> [--json]`: the value as written (includes merged, `${VAR}` kept),
/// secrets redacted. Strings print bare (quoted with `--json`), objects as 2-space JSON.
fn get(paths: &Paths, path: &str, json: bool) -> Outcome {
    let segments = match parse_path(path) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let loaded = match load(paths) {
        Ok(l) => l,
        Err(o) => return o,
    };
    match edit::get(&loaded.stored, &segments) {
        Some(value) => {
            let value = redact_at(value, &segments);
            let text = match (&value, json) {
                (Value::String(s), false) => s.clone(),
                (other, _) => serde_json::to_string_pretty(other).unwrap_or_default(),
            };
            Outcome::ok(format!("{text}\n"))
        }
        None if known_path(&segments) => Outcome::fail(format!(
            "Config path is valid but unset: {path}. The runtime default applies until you set an \
             authored value with openclaw config set {path} <value>.\n"
        )),
        None => Outcome::fail(format!(
            "Unknown config path: {path}. Run openclaw config schema to inspect valid paths.\n"
        )),
    }
}

/// A secret leaf is redacted by its own key; anything else by the keys inside it.
fn redact_at(value: &Value, path: &[edit::Segment]) -> Value {
    match (value, path.last()) {
        (Value::String(_), Some(edit::Segment::Key(k))) if edit::is_secret_key(k) => Value::String(edit::REDACTED.into()),
        (other, _) => edit::redact(other),
    }
}

/// JSON5 first (numbers, booleans, objects, quoted strings), else the text as a string.
fn parse_value(raw: &str, strict_json: bool) -> Result<Value, String> {
    if strict_json {
        return serde_json::from_str(raw).map_err(|e| format!("value is not valid JSON: {e}"));
    }
    Ok(core::json5::parse(raw).map(|p| p.value).unwrap_or_else(|_| Value::String(raw.to_owned())))
}

/// Validates the candidate main-file value as the loader would (includes, `${VAR}`, schema);
/// the warnings when it passes, the issues when not.
fn check(paths: &Paths, candidate: &Value) -> Result<Vec<Issue>, Vec<Issue>> {
    let text = serde_json::to_string_pretty(candidate).unwrap_or_default();
    let env = |name: &str| std::env::var(name).ok();
    match config_file::resolve_text(&paths.config_path, text, &env, MissingEnv::Warn) {
        Ok(loaded) => Ok(loaded.warnings),
        Err(e) => Err(e.issues()),
    }
}

fn validation_failed(issues: &[Issue]) -> Outcome {
    let lines: Vec<String> = issues.iter().map(ToString::to_string).collect();
    Outcome::fail(format!("Config validation failed: {}\n", lines.join("; ")))
}

fn warnings_text(warnings: &[Issue]) -> String {
    let mut out = String::new();
    if !warnings.is_empty() {
        out.push_str("Config warnings:\n");
        for w in warnings {
            out.push_str(&format!("- {w}\n"));
        }
    }
    out
}

fn write(paths: &Paths, loaded: &Loaded, mut candidate: Value, what: &str) -> Result<(), Outcome> {
    edit::restore(&mut candidate, &loaded.own, &loaded.value);
    config_file::write_config(&paths.config_path, &paths.state_dir, &candidate, what)
        .map(|_| ())
        .map_err(|e| Outcome::fail(format!("{e}\n")))
}

/// `config set <path> <value>`.
fn set(paths: &Paths, path: &str, raw: &str, strict_json: bool) -> Outcome {
    let segments = match parse_path(path) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let value = match parse_value(raw, strict_json) {
        Ok(v) => v,
        Err(e) => return Outcome::fail(format!("{e}\n")),
    };
    let loaded = match load(paths) {
        Ok(l) => l,
        Err(o) => return o,
    };
    // On top of the file's own content: a key an include provides is overridden by a sibling.
    let mut candidate = loaded.own.clone();
    if let Err(e) = edit::set(&mut candidate, &segments, value) {
        return Outcome::fail(format!("Cannot set {path}: {e}\n"));
    }
    let warnings = match check(paths, &candidate) {
        Ok(w) => w,
        Err(issues) => return validation_failed(&issues),
    };
    if let Err(o) = write(paths, &loaded, candidate, "cli config set") {
        return o;
    }
    Outcome {
        stdout: format!("Updated {path}. Restart the gateway to apply.\n"),
        stderr: warnings_text(&warnings),
        code: 0,
    }
}

/// `config unset <path>`.
fn unset(paths: &Paths, path: &str) -> Outcome {
    let segments = match parse_path(path) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let loaded = match load(paths) {
        Ok(l) => l,
        Err(o) => return o,
    };
    let mut candidate = loaded.own.clone();
    if loaded.exists && edit::get(&loaded.own, &segments).is_none() && edit::get(&loaded.stored, &segments).is_some() {
        let files: Vec<String> = loaded.files.iter().skip(1).map(|f| f.display().to_string()).collect();
        return Outcome::fail(format!(
            "Config path {path} comes from an included file ({}). Nothing was changed; edit that file.\n",
            files.join(", ")
        ));
    }
    if !loaded.exists || !edit::unset(&mut candidate, &segments) {
        return Outcome::fail(format!(
            "Config path not found: {path}. Nothing was changed. Run openclaw config get <path> \
             first if you are unsure of the path.\n"
        ));
    }
    if let Err(issues) = check(paths, &candidate) {
        return validation_failed(&issues);
    }
    if let Err(o) = write(paths, &loaded, candidate, "cli config unset") {
        return o;
    }
    Outcome::ok(format!("Removed {path}. Restart the gateway to apply.\n"))
}

fn issue_json(issue: &Issue) -> Value {
    let mut v = json!({ "path": issue.shown_path(), "message": issue.message });
    if !issue.allowed.is_empty() {
        v["allowedValues"] = json!(issue.allowed);
    }
    if let Some(l) = &issue.location {
        v["file"] = json!(l.file.display().to_string());
        v["line"] = json!(l.pos.line);
        v["column"] = json!(l.pos.column);
    }
    v
}

/// `config validate [--json]`.
fn validate(paths: &Paths, json: bool) -> Outcome {
    let path = &paths.config_path;
    let shown = short(path);
    if !path.exists() {
        return if json {
            Outcome {
                stdout: format!(
                    "{}\n",
                    json!({"ok": false, "error": {"type": "cli_error", "message": "file not found"}, "valid": false, "path": path.display().to_string()})
                ),
                stderr: String::new(),
                code: 1,
            }
        } else {
            Outcome::fail(format!(
                "Config file not found: {shown}\nCreate one with openclaw setup or run openclaw doctor --fix.\n"
            ))
        };
    }
    match config_file::load_config_lenient(path) {
        Ok(loaded) => {
            if json {
                let warnings: Vec<Value> = loaded.warnings.iter().map(issue_json).collect();
                let out = json!({"valid": true, "path": path.display().to_string(), "warnings": warnings});
                Outcome::ok(format!("{out}\n"))
            } else {
                // As the reference prints them: on stdout, after the verdict.
                let mut stdout = format!("Config valid: {shown}\n");
                if !loaded.warnings.is_empty() {
                    stdout.push_str(&format!("{} warning(s):\n", loaded.warnings.len()));
                    for w in &loaded.warnings {
                        stdout.push_str(&format!("  ! {w}\n"));
                    }
                }
                Outcome::ok(stdout)
            }
        }
        Err(e) => {
            let issues = e.issues();
            let headline = format!("OpenClaw config is invalid: {shown}");
            if json {
                let out = json!({
                    "ok": false,
                    "error": {"type": "cli_error", "message": headline},
                    "valid": false,
                    "path": path.display().to_string(),
                    "issues": issues.iter().map(issue_json).collect::<Vec<_>>(),
                });
                return Outcome {
                    stdout: format!("{}\n", serde_json::to_string_pretty(&out).unwrap_or_default()),
                    stderr: String::new(),
                    code: 1,
                };
            }
            let mut text = format!("{headline}\n");
            for issue in &issues {
                let at = match &issue.location {
                    Some(l) => {
                        let name = l.file.file_name().map_or_else(|| l.file.display().to_string(), |n| n.to_string_lossy().into_owned());
                        format!("{name}:{}:{} — ", l.pos.line, l.pos.column)
                    }
                    None => String::new(),
                };
                text.push_str(&format!("  × {at}{issue}\n"));
            }
            text.push_str("\nRun `openclaw doctor --fix` to repair, or fix the keys above manually.\n");
            Outcome::fail(text)
        }
    }
}
