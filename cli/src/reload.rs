//! The CLI's side of hot reload: how the watcher loads the config, and what a hot change does
//! to the running gateway (lifecycle.md §5). The machine is `openclaw_core::reload`; the watcher
//! is `openclaw_io::reload`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use openclaw_core::reload::{LoadOutcome, ReloadMode, ReloadSettings};
use openclaw_io::config_file::load_config;
use openclaw_io::reload::Loader;
use openclaw_io::{Gateway, Settings};
use serde_json::Value;

use crate::config::{Config, ConfigError, Paths};

/// Loads `path` through the config pipeline (includes, `${VAR}`, strict validation): a
/// missing file is [`LoadOutcome::Missing`], a file that does not load is
/// [`LoadOutcome::Invalid`] with the report (file, line, key path), anything else the resolved
/// value.
pub fn load(path: &Path) -> LoadOutcome {
    match load_config(path) {
        Ok(loaded) if !loaded.exists => LoadOutcome::Missing,
        Ok(loaded) => LoadOutcome::Loaded { config: loaded.value },
        Err(e) => LoadOutcome::Invalid { message: e.to_string() },
    }
}

/// The loader the watcher calls on a blocking thread.
pub fn loader(path: PathBuf) -> Loader {
    Arc::new(move || load(&path))
}

/// The files to watch: the config and every file it includes (just the config when it does
/// not load). A change of the include set takes effect at the next restart.
pub fn watched_files(path: &Path) -> Vec<PathBuf> {
    match openclaw_io::config_file::load_config_lenient(path) {
        Ok(loaded) => loaded.files,
        Err(_) => vec![path.to_owned()],
    }
}

/// Whether `gateway.reload.mode` leaves hot reload on.
pub fn hot_reload_active(config: &Value) -> bool {
    ReloadSettings::from_config(config).mode != ReloadMode::Off
}

/// `commands.restart` (default true): whether an external SIGUSR1 may restart the gateway.
pub fn sigusr1_allowed(config: &Value) -> bool {
    config["commands"]["restart"].as_bool().unwrap_or(true)
}

/// Applies a hot change: the logging settings (`logging.*`) at once, the agent settings
/// (`models.*`, `agents.*`) for the next run (runs in flight finish on the settings they
/// started with). `config` is the new resolved value.
pub async fn apply(gateway: &Gateway, paths: &Paths, config: &Value) -> Result<(), String> {
    crate::log_setup::reload(config.get("logging")).map_err(|e| e.to_string())?;
    let path = paths.config_path.clone();
    let config = tokio::task::spawn_blocking(move || Config::load_strict(&path))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let settings = Settings::project(&config.typed, &paths.state_dir, |name| std::env::var(name).ok())
        .map_err(|e| ConfigError::settings(&paths.config_path, e).to_string())?;
    gateway.apply_settings(&settings).await;
    Ok(())
}

/// `<stateDir>/restart-sentinel.json` (lifecycle.md §5.6): written before a deliberate restart
/// (`config.apply`, …), consumed on the next start. There are no channels to ping the
/// originating session from yet, so the notice is logged; the file is removed either way so it
/// fires once.
pub fn consume_sentinel(state_dir: &Path) {
    let path = state_dir.join("restart-sentinel.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            tracing::warn!("restart sentinel {} unreadable: {e}", path.display());
            return;
        }
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(sentinel) => {
            let payload = &sentinel["payload"];
            let kind = payload["kind"].as_str().unwrap_or("restart");
            let status = payload["status"].as_str().unwrap_or("ok");
            let session = payload["sessionKey"].as_str().unwrap_or("-");
            tracing::info!("restart sentinel: {kind} {status} (session {session})");
        }
        Err(e) => tracing::warn!("restart sentinel {} is not JSON: {e}", path.display()),
    }
    if let Err(e) = std::fs::remove_file(&path) {
        tracing::warn!("restart sentinel {} not removed: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_is_consumed_once() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("restart-sentinel.json");
        std::fs::write(&path, r#"{"version":1,"payload":{"kind":"config-apply","status":"ok","ts":1}}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        consume_sentinel(dir.path());
        assert!(!path.exists());
        consume_sentinel(dir.path()); // nothing there: no panic, nothing logged
        std::fs::write(&path, "not json").unwrap_or_else(|e| panic!("{e}"));
        consume_sentinel(dir.path());
        assert!(!path.exists(), "a broken sentinel does not fire forever");
    }

    #[test]
    fn settings_from_the_config() {
        let v = serde_json::json!({"gateway": {"reload": {"mode": "off"}}, "commands": {"restart": false}});
        assert!(!hot_reload_active(&v));
        assert!(!sigusr1_allowed(&v));
        let empty = serde_json::json!({});
        assert!(hot_reload_active(&empty));
        assert!(sigusr1_allowed(&empty), "commands.restart defaults to true");
    }
}
