//! Logging of `openclaw gateway` (lifecycle.md §10): [`LogSettings`] from the config's
//! `logging` object, `--verbose` and the gateway's secrets, installed once per process.
//!
//! The `logging` object is taken from the config as the loader resolves it (`$include`
//! merged, `${VAR}` substituted). Anything wrong in it is reported as a warning and the
//! defaults are used: the config loader proper reports config errors (the gateway does not
//! start on an invalid config).
//!
//! Hot reload: call [`reload`] with the new `logging` object; the gateway's secrets and the
//! `--verbose` flag are kept.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use openclaw_core::auth::AuthMode;
use openclaw_core::redact::PatternError;
use openclaw_io::logs::{self, ConsoleSink, LogHandle, LogSettings, SettingsError};
use serde_json::Value;

use crate::args::RunArgs;
use crate::config::Paths;

/// `--verbose` of this process, kept for [`reload`].
static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Installs the gateway's logging (file + stdout). On failure the gateway still runs, with a
/// warning on stderr and no log subscriber.
pub fn init_gateway(args: &RunArgs) {
    VERBOSE.store(args.verbose, Ordering::Relaxed);
    let paths = Paths::from_env().ok();
    // One read of the config serves the logging settings and the secrets to mask.
    let config = paths.as_ref().map_or(Ok(None), |p| read_config(&p.config_path));
    let section = config.clone().map(|c| c.and_then(|mut v| v.get_mut("logging").map(Value::take)));
    let mut secrets = flag_secrets(args);
    if let Ok(Some(config)) = &config {
        secrets.extend(config_secrets(config));
    }
    if let Some(paths) = &paths {
        if let Ok(Some(token)) = crate::token::read(&paths.token_file()) {
            secrets.push(token);
        }
    }
    // Profiles never share a rolling log file (the reference's naming).
    let profile = std::env::var("OPENCLAW_PROFILE").ok();
    let base = LogSettings {
        secrets,
        profile: logs::profile_segment(profile.as_deref()),
        ..LogSettings::default()
    };
    let (settings, problem) = match section.and_then(|s| {
        base.clone()
            .with_config(s.as_ref(), args.verbose)
            .map_err(|e| e.to_string())
    }) {
        Ok(settings) => (settings, None),
        Err(problem) => (
            LogSettings {
                console_level: console_default(args.verbose),
                ..base
            },
            Some(problem),
        ),
    };
    match logs::install(settings, ConsoleSink::Stdout) {
        Ok((_handle, errors)) => {
            if let Some(problem) = problem {
                tracing::warn!("{problem}; using the default logging settings");
            }
            report(&errors);
        }
        Err(e) => eprintln!("openclaw: cannot set up logging: {e}"),
    }
}

fn console_default(verbose: bool) -> logs::Level {
    if verbose {
        logs::Level::Debug
    } else {
        logs::Level::Info
    }
}

/// Registers the secrets the gateway resolved (a token generated on first start included) and
/// returns the handle `logs.tail` reads the current file from.
pub fn gateway_logs(auth: &AuthMode) -> Option<LogHandle> {
    let handle = logs::installed()?;
    let secret = match auth {
        AuthMode::Token(Some(s)) | AuthMode::Password(Some(s)) => s.expose().to_owned(),
        AuthMode::Token(None) | AuthMode::Password(None) | AuthMode::None => return Some(handle),
    };
    let mut settings = handle.settings();
    if !settings.secrets.contains(&secret) {
        settings.secrets.push(secret);
        report(&handle.apply(settings));
    }
    Some(handle)
}

/// Hot reload of `logging.*` (rule "none": applied live). `logging` is the new config's
/// `logging` object (`None` when absent). Keeps the secrets and `--verbose`.
pub fn reload(logging: Option<&Value>) -> Result<(), SettingsError> {
    let Some(handle) = logs::installed() else {
        return Ok(());
    };
    let current = handle.settings();
    let base = LogSettings {
        secrets: current.secrets,
        dir: current.dir,
        profile: current.profile,
        ..LogSettings::default()
    };
    let settings = base.with_config(logging, VERBOSE.load(Ordering::Relaxed))?;
    report(&handle.apply(settings));
    Ok(())
}

fn report(errors: &[PatternError]) {
    for e in errors {
        tracing::warn!("{e}; pattern skipped");
    }
}

/// The resolved config value (includes merged, `${VAR}` substituted; a missing variable is left
/// as written here, the gateway's strict load reports it); `None` when there is no file.
fn read_config(path: &Path) -> Result<Option<Value>, String> {
    match openclaw_io::config_file::load_config_lenient(path) {
        Ok(loaded) if !loaded.exists => Ok(None),
        Ok(loaded) => Ok(Some(loaded.value)),
        Err(e) => Err(e.to_string()),
    }
}

fn flag_secrets(args: &RunArgs) -> Vec<String> {
    [&args.token, &args.password]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
}

/// `gateway.auth.token` / `gateway.auth.password` (and `gateway.remote.*`), as written; a
/// `${VAR}` reference also contributes the variable's value.
fn config_secrets(config: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for pointer in [
        "/gateway/auth/token",
        "/gateway/auth/password",
        "/gateway/remote/token",
        "/gateway/remote/password",
    ] {
        let Some(value) = config.pointer(pointer).and_then(Value::as_str) else {
            continue;
        };
        if let Some(var) = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
            if let Ok(resolved) = std::env::var(var) {
                out.push(resolved);
            }
        } else {
            out.push(value.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_logging_object_and_the_configured_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("openclaw.json");
        std::fs::write(
            &path,
            "// json5\n{ logging: { level: 'debug', file: '/x/gw.log' }, gateway: { auth: { token: 'tok-123' } } }",
        )
        .unwrap();
        let logging = read_config(&path).unwrap().unwrap()["logging"].clone();
        assert_eq!(logging["level"], "debug");
        assert_eq!(config_secrets(&read_config(&path).unwrap().unwrap()), ["tok-123"]);
        assert_eq!(read_config(&dir.path().join("missing.json")).unwrap(), None);
        std::fs::write(&path, "{ nope").unwrap();
        let err = read_config(&path).unwrap_err();
        assert!(err.contains("Config invalid") && err.contains("openclaw.json"), "{err}");

        // The loader's view: `$include` merged and `${VAR}` substituted.
        // (PATH is always set; tests must not set env vars while other threads read them.)
        std::fs::write(dir.path().join("logging.json5"), "{ level: 'warn', file: '${PATH}/gw.log' }").unwrap();
        std::fs::write(&path, "{ logging: { $include: './logging.json5' } }").unwrap();
        let logging = read_config(&path).unwrap().unwrap()["logging"].clone();
        assert_eq!(logging["level"], "warn");
        let path_var = std::env::var("PATH").unwrap();
        assert_eq!(logging["file"], format!("{path_var}/gw.log"));
    }
}
