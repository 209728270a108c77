//! `openclaw setup --model <provider/model> [--base-url URL] [--api-key-env VAR] [--api API]`:
//! writes the model keys (`models.providers.<provider>`, `agents.defaults.model`) into the config
//! file, keeping every other key.

use std::path::Path;

use serde_json::{json, Map, Value};

use crate::agent_config::{self, AgentsSection, ModelsSection};
use crate::args::SetupArgs;
use crate::config::{ConfigError, Paths};

/// Why setup did not write the config.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write config {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// Applies the flags to the config file; returns what to print.
pub fn setup(args: &SetupArgs) -> Result<String, SetupError> {
    let paths = Paths::from_env()?;
    let path = &paths.config_path;
    let text = match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(ConfigError::Read { path: path.clone(), source }.into()),
    };
    let mut root: Value = match &text {
        // `Config::load` reports syntax and field errors with their position.
        Some(t) => {
            crate::config::Config::load(path)?;
            json5::from_str(t).map_err(|e| SetupError::Usage(format!("cannot read {}: {e}", path.display())))?
        }
        None => json!({}),
    };
    let (provider, _model) = args
        .model
        .split_once('/')
        .filter(|(p, m)| !p.is_empty() && !m.is_empty())
        .ok_or_else(|| SetupError::Usage(format!("--model {:?} must be <provider>/<model>", args.model)))?;
    let obj = |v: &mut Value| -> Result<(), SetupError> {
        if !v.is_object() {
            if !v.is_null() {
                return Err(SetupError::Usage("the config file has a non-object where an object is expected".into()));
            }
            *v = Value::Object(Map::new());
        }
        Ok(())
    };
    obj(&mut root)?;
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
    obj(&mut root["agents"])?;
    obj(&mut root["agents"]["defaults"])?;
    root["agents"]["defaults"]["model"] = json!(args.model);
    validate(path, &paths, &root)?;
    write(path, &root)?;
    let mut out = format!("Wrote {}\n  agents.defaults.model = {}\n  models.providers.{provider} = {}\n",
        path.display(), args.model, root["models"]["providers"][provider]);
    if let Some(var) = &args.api_key_env {
        if std::env::var_os(var).is_none() {
            out.push_str(&format!("warning: {var} is not set in this environment; set it before starting the gateway\n"));
        }
    }
    if text.as_deref().is_some_and(|t| t.contains("//") || t.contains("/*")) {
        out.push_str("note: comments in the previous file were not kept\n");
    }
    Ok(out)
}

/// The new content must resolve (with every `${VAR}` assumed set).
fn validate(path: &Path, paths: &Paths, root: &Value) -> Result<(), SetupError> {
    let models: ModelsSection = serde_json::from_value(root["models"].clone())
        .map_err(|e| SetupError::Usage(format!("models: {e}")))?;
    let agents: AgentsSection = serde_json::from_value(root["agents"].clone())
        .map_err(|e| SetupError::Usage(format!("agents: {e}")))?;
    agent_config::resolve(path, &paths.state_dir, &models, &agents, |_| Some(String::new()))?;
    Ok(())
}

/// Temp file + rename, so a crash never leaves half a config.
fn write(path: &Path, root: &Value) -> Result<(), SetupError> {
    let err = |source| SetupError::Write { path: path.display().to_string(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut text = serde_json::to_string_pretty(root).unwrap_or_default();
    text.push('\n');
    std::fs::write(&tmp, text).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}
