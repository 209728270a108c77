//! `openclaw setup [--model <provider/model> [--base-url URL] [--api-key-env VAR] [--api API]]`.
//!
//! Without a config file it writes a working one: `gateway.mode: "local"`, token auth with a
//! generated token, and `agents.defaults.workspace` (the folder is created). An existing file is
//! never replaced: without `--model` it is left alone; with `--model` only the model keys
//! (`models.providers.<provider>`, `agents.defaults.model`) are changed, every other key kept.
//! Writes go through the config writer (validated first, atomic, backups, audit log).

use std::path::PathBuf;

use openclaw_core::config::edit;
use openclaw_io::config_file::{self, Loaded};
use serde_json::{json, Map, Value};

use crate::args::SetupArgs;
use crate::config::{ConfigError, Paths};

/// Why setup did not write the config.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// Creates or updates the config; returns what to print.
pub fn setup(args: &SetupArgs) -> Result<String, SetupError> {
    let paths = Paths::from_env()?;
    let path = &paths.config_path;
    let loaded = config_file::load_config_lenient(path).map_err(ConfigError::from)?;
    let mut out = String::new();
    let mut root = if loaded.exists { loaded.own.clone() } else { fresh(&paths)? };
    if loaded.exists && args.model.is_none() {
        out.push_str(&format!("Config already exists: {} (left unchanged)\n", path.display()));
    }
    if loaded.exists && loaded.config.gateway.as_ref().and_then(|g| g.mode).is_none() {
        out.push_str(
            "note: gateway.mode is not set, so `openclaw gateway` will not start; run \
             `openclaw config set gateway.mode local`\n",
        );
    }
    let mut provider_line = None;
    if let Some(model) = &args.model {
        provider_line = Some(apply_model(&mut root, args, model)?);
    }
    let changed = !loaded.exists || args.model.is_some();
    if changed {
        check(&root)?;
        let mut root = root.clone();
        edit::restore(&mut root, &loaded.own, &loaded.value);
        config_file::write_config(path, &paths.state_dir, &root, "cli setup")
            .map_err(|e| SetupError::Write { path: path.display().to_string(), source: e.source })?;
        out.push_str(&format!("Wrote {}\n", path.display()));
        if !loaded.exists {
            out.push_str("  gateway.mode = local\n  gateway.auth.mode = token (a generated token is in gateway.auth.token)\n");
        }
    }
    if let (Some(model), Some((provider, entry))) = (&args.model, provider_line) {
        out.push_str(&format!("  agents.defaults.model = {model}\n  models.providers.{provider} = {entry}\n"));
    }
    let workspace = workspace(&root, &paths);
    std::fs::create_dir_all(&workspace)
        .map_err(|source| SetupError::Write { path: workspace.display().to_string(), source })?;
    out.push_str(&format!("Workspace: {}\n", workspace.display()));
    if let Some(var) = &args.api_key_env {
        if std::env::var_os(var).is_none() {
            out.push_str(&format!("warning: {var} is not set in this environment; set it before starting the gateway\n"));
        }
    }
    if args.model.is_some() && had_comments(&loaded) {
        out.push_str("note: comments in the previous file were not kept\n");
    }
    Ok(out)
}

/// The config of a fresh setup.
fn fresh(paths: &Paths) -> Result<Value, SetupError> {
    let token = crate::token::generate().map_err(|e| SetupError::Usage(e.to_string()))?;
    Ok(json!({
        "gateway": { "mode": "local", "auth": { "mode": "token", "token": token } },
        "agents": { "defaults": { "workspace": default_workspace(paths, |k| std::env::var_os(k)).display().to_string() } },
    }))
}

/// The default workspace (lifecycle.md §8.2, as the reference): `~/.openclaw/workspace-<profile>`
/// under a profile (`openclaw --dev setup` → `~/.openclaw/workspace-dev`, as the runbook says),
/// else `<state dir>/workspace`. Home is `OPENCLAW_HOME`, else `HOME`.
fn default_workspace(paths: &Paths, env: impl Fn(&str) -> Option<std::ffi::OsString>) -> PathBuf {
    let set = |k: &str| env(k).filter(|v| !v.to_string_lossy().trim().is_empty());
    let profile = set("OPENCLAW_PROFILE")
        .map(|p| p.to_string_lossy().trim().to_owned())
        .filter(|p| !p.eq_ignore_ascii_case("default"));
    match (profile, set("OPENCLAW_HOME").or_else(|| set("HOME"))) {
        (Some(p), Some(home)) => PathBuf::from(home).join(".openclaw").join(format!("workspace-{p}")),
        _ => paths.state_dir.join("workspace"),
    }
}

fn had_comments(loaded: &Loaded) -> bool {
    loaded.raw.as_deref().is_some_and(|t| t.contains("//") || t.contains("/*"))
}

/// `agents.defaults.workspace` (with `~/` expanded), else `<state dir>/workspace`.
fn workspace(root: &Value, paths: &Paths) -> PathBuf {
    match root["agents"]["defaults"]["workspace"].as_str() {
        Some(dir) => openclaw_io::settings::expand_home(dir, &|name| std::env::var(name).ok()),
        None => paths.state_dir.join("workspace"),
    }
}

/// Writes the model keys; returns the provider name and its new entry (for the summary).
fn apply_model(root: &mut Value, args: &SetupArgs, model: &str) -> Result<(String, Value), SetupError> {
    let (provider, _model) = model
        .split_once('/')
        .filter(|(p, m)| !p.is_empty() && !m.is_empty())
        .ok_or_else(|| SetupError::Usage(format!("--model {model:?} must be <provider>/<model>")))?;
    let obj = |v: &mut Value| -> Result<(), SetupError> {
        if !v.is_object() {
            if !v.is_null() {
                return Err(SetupError::Usage("the config file has a non-object where an object is expected".into()));
            }
            *v = Value::Object(Map::new());
        }
        Ok(())
    };
    obj(root)?;
    let entry = &mut root["models"];
    obj(entry)?;
    obj(&mut entry["providers"])?;
    let p = &mut entry["providers"][provider];
    let exists = p.is_object();
    obj(p)?;
    match (&args.base_url, exists) {
        (Some(url), _) => p["baseUrl"] = json!(url),
        (None, true) => {}
        (None, false) => {
            return Err(SetupError::Usage(format!(
                "provider {provider:?} is new: give --base-url (e.g. http://127.0.0.1:11434/v1 for Ollama)"
            )))
        }
    }
    if let Some(var) = &args.api_key_env {
        p["apiKey"] = json!(format!("${{{var}}}"));
    }
    if let Some(api) = &args.api {
        p["api"] = json!(api);
    } else if !exists {
        p["api"] = json!("openai-completions");
    }
    let shown = p.clone();
    obj(&mut root["agents"])?;
    obj(&mut root["agents"]["defaults"])?;
    root["agents"]["defaults"]["model"] = json!(model);
    Ok((provider.to_owned(), shown))
}

/// The new content must validate and its model must name a configured provider (every
/// `${VAR}` assumed set: the gateway's environment may differ from this one).
fn check(root: &Value) -> Result<(), SetupError> {
    let (resolved, _) = openclaw_core::config::env::substitute_lenient(root, &|_| Some("set".into()));
    let config = openclaw_core::config::check(&resolved).map_err(|invalid| {
        let lines: Vec<String> = invalid.issues.iter().map(ToString::to_string).collect();
        SetupError::Usage(format!("the resulting config would be invalid: {}", lines.join("; ")))
    })?;
    let c = config.config;
    openclaw_io::settings::agent(&c, std::path::Path::new(""), |_| None)
        .map_err(|e| ConfigError::settings(std::path::Path::new(""), e))?;
    Ok(())
}

#[cfg(test)]
mod workspace_tests {
    use super::*;

    #[test]
    fn profiles_get_a_workspace_beside_the_main_one() {
        let paths = Paths { state_dir: "/h/.openclaw-dev".into(), config_path: "/h/.openclaw-dev/openclaw.json".into() };
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| std::ffi::OsString::from(*v))
        };
        assert_eq!(
            default_workspace(&paths, env(&[("HOME", "/h"), ("OPENCLAW_PROFILE", "dev")])),
            PathBuf::from("/h/.openclaw/workspace-dev")
        );
        assert_eq!(
            default_workspace(&paths, env(&[("HOME", "/h"), ("OPENCLAW_HOME", "/o"), ("OPENCLAW_PROFILE", "rescue")])),
            PathBuf::from("/o/.openclaw/workspace-rescue")
        );
        let main = Paths { state_dir: "/h/.openclaw".into(), config_path: "/h/.openclaw/openclaw.json".into() };
        assert_eq!(default_workspace(&main, env(&[("HOME", "/h")])), PathBuf::from("/h/.openclaw/workspace"));
        assert_eq!(
            default_workspace(&main, env(&[("HOME", "/h"), ("OPENCLAW_PROFILE", "Default")])),
            PathBuf::from("/h/.openclaw/workspace")
        );
    }
}
