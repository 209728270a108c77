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
    // Profiles never share a rolling log file (the reference's naming), nor do gateways
    // isolated by their own state dir or config path.
    let base = LogSettings {
        secrets,
        profile: file_segment(paths.as_ref(), |k| std::env::var_os(k)),
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

/// The rolling file's name segment: the profile's (`openclaw-<profile>-<date>.log`, as the
/// reference); without a profile, `state-<hash>` when the state dir or the config path is not
/// the default one (`OPENCLAW_STATE_DIR` / `OPENCLAW_CONFIG_PATH` isolate a gateway, and so
/// must its default log file); none for the default gateway (`openclaw-<date>.log`).
pub fn file_segment(
    paths: Option<&Paths>,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Option<String> {
    let profile = env("OPENCLAW_PROFILE").map(|p| p.to_string_lossy().into_owned());
    if let Some(segment) = logs::profile_segment(profile.as_deref()) {
        return Some(segment);
    }
    let paths = paths?;
    let isolated = |k: &str| !matches!(k, "OPENCLAW_STATE_DIR" | "OPENCLAW_CONFIG_PATH");
    let default = Paths::resolve(|k| if isolated(k) { env(k).filter(|v| !v.is_empty()) } else { None }).ok()?;
    if &default == paths {
        return None;
    }
    // FNV-1a over both paths: stable across runs and releases, short, no extra dependency.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let key = format!("{}\0{}", paths.state_dir.display(), paths.config_path.display());
    for byte in key.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    Some(format!("state-{hash:016x}"))
}

/// The file a gateway started from this environment logs to now (`logging.file`, else the
/// rolling file of [`file_segment`]): `gateway status` shows it and reads its last error.
pub fn current_file() -> std::path::PathBuf {
    let paths = Paths::from_env().ok();
    let section = paths
        .as_ref()
        .and_then(|p| read_config(&p.config_path).ok().flatten())
        .and_then(|mut v| v.get_mut("logging").map(Value::take));
    let base = LogSettings {
        profile: file_segment(paths.as_ref(), |k| std::env::var_os(k)),
        ..LogSettings::default()
    };
    let settings = base.clone().with_config(section.as_ref(), false).unwrap_or(base);
    logs::current_file(&settings).path
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
    fn each_state_dir_gets_its_own_log_file() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| std::ffi::OsString::from(*v))
        };
        let seg = |pairs: &'static [(&'static str, &'static str)]| {
            let paths = Paths::resolve(env(pairs)).unwrap();
            file_segment(Some(&paths), env(pairs))
        };
        assert_eq!(seg(&[("HOME", "/h")]), None, "the default gateway keeps openclaw-<date>.log");
        assert_eq!(seg(&[("HOME", "/h"), ("OPENCLAW_STATE_DIR", "/h/.openclaw")]), None);
        let a = seg(&[("HOME", "/h"), ("OPENCLAW_STATE_DIR", "/a")]).unwrap();
        let b = seg(&[("HOME", "/h"), ("OPENCLAW_STATE_DIR", "/b")]).unwrap();
        let c = seg(&[("HOME", "/h"), ("OPENCLAW_CONFIG_PATH", "/c/openclaw.json")]).unwrap();
        assert!(a.starts_with("state-") && a.len() == "state-".len() + 16, "{a}");
        assert!(a != b && b != c && a != c);
        assert_eq!(seg(&[("HOME", "/h"), ("OPENCLAW_STATE_DIR", "/a")]).unwrap(), a, "stable");
        assert_eq!(seg(&[("HOME", "/h"), ("OPENCLAW_PROFILE", "work"), ("OPENCLAW_STATE_DIR", "/a")]).as_deref(), Some("work"));
    }

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
