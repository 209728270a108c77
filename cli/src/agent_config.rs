//! `models.providers.*` and `agents.defaults.*` of the config file, and their resolution into
//! the driver's typed [`AgentConfig`] (`${ENV}` API keys, `"<provider>/<model>"` refs, the
//! workspace holding `AGENTS.md`). Until the full config system exists, only these keys are read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use openclaw_io::agent::{AgentConfig, Api, ModelChoice, ModelRef, ProviderConfig};
use serde::Deserialize;

use crate::config::{ConfigError, Location};

/// `models`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ModelsSection {
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSection>,
}

/// `models.providers.<name>` (other keys such as `models: [...]` are ignored).
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderSection {
    pub base_url: String,
    pub api_key: Option<String>,
    pub api: Option<String>,
}

impl std::fmt::Debug for ProviderSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSection")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|k| if k.starts_with("${") { k.as_str() } else { "<redacted>" }))
            .field("api", &self.api)
            .finish()
    }
}

/// `agents`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct AgentsSection {
    #[serde(default)]
    pub defaults: AgentDefaults,
}

/// `agents.defaults`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentDefaults {
    pub model: Option<ModelSetting>,
    pub workspace: Option<String>,
    pub system_prompt: Option<String>,
}

/// `"<provider>/<model>"` or `{primary, fallbacks}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ModelSetting {
    Ref(String),
    Choice {
        primary: String,
        #[serde(default)]
        fallbacks: Vec<String>,
    },
}

/// Resolves the sections into the driver's config. `env` looks up `${VAR}` API keys.
pub fn resolve(
    path: &Path,
    state_dir: &Path,
    models: &ModelsSection,
    agents: &AgentsSection,
    env: impl Fn(&str) -> Option<String>,
) -> Result<AgentConfig, ConfigError> {
    let field = |name: String, message: String| ConfigError::Field {
        path: path.to_owned(),
        location: Location(None),
        field: name,
        message,
    };
    let mut config = AgentConfig::default();
    for (name, p) in &models.providers {
        let api = match p.api.as_deref() {
            None => Api::OpenAiCompletions,
            Some(text) => Api::parse(text).ok_or_else(|| {
                field(
                    format!("models.providers.{name}.api"),
                    format!("unsupported api {text:?} (this build speaks openai-completions and anthropic-messages)"),
                )
            })?,
        };
        let api_key = match p.api_key.as_deref() {
            Some(raw) => Some(expand_env(raw, &env).map_err(|var| {
                field(format!("models.providers.{name}.apiKey"), format!("environment variable {var} is not set"))
            })?),
            None => None,
        };
        config.providers.insert(name.clone(), ProviderConfig { base_url: p.base_url.clone(), api_key, api });
    }
    if let Some(setting) = &agents.defaults.model {
        let (primary, fallbacks) = match setting {
            ModelSetting::Ref(r) => (r.clone(), Vec::new()),
            ModelSetting::Choice { primary, fallbacks } => (primary.clone(), fallbacks.clone()),
        };
        let parse = |text: &str| {
            let r = ModelRef::parse(text).ok_or_else(|| {
                field("agents.defaults.model".into(), format!("{text:?} is not \"<provider>/<model>\""))
            })?;
            if !config.providers.contains_key(&r.provider) {
                return Err(field(
                    "agents.defaults.model".into(),
                    format!("{text:?} names provider {:?}, but models.providers.{} is not configured", r.provider, r.provider),
                ));
            }
            Ok(r)
        };
        let primary = parse(&primary)?;
        let fallbacks = fallbacks.iter().map(|f| parse(f)).collect::<Result<Vec<_>, _>>()?;
        config.model = Some(ModelChoice { primary, fallbacks });
    }
    config.system_prompt = agents.defaults.system_prompt.clone().filter(|s| !s.trim().is_empty());
    config.workspace = Some(match &agents.defaults.workspace {
        Some(dir) => expand_home(dir, &env),
        None => state_dir.join("workspace"),
    });
    Ok(config)
}

/// `${VAR}` anywhere in `raw` is replaced by the variable; the name of a missing one is the error.
fn expand_env(raw: &str, env: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else { break };
        let var = &rest[start + 2..start + 2 + len];
        out.push_str(&rest[..start]);
        out.push_str(&env(var).ok_or_else(|| var.to_owned())?);
        rest = &rest[start + 3 + len..];
    }
    out.push_str(rest);
    Ok(out)
}

fn expand_home(dir: &str, env: &impl Fn(&str) -> Option<String>) -> PathBuf {
    match (dir.strip_prefix("~/"), env("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "KEY").then(|| "sk-1".to_owned())
    }

    fn sections(text: &str) -> (ModelsSection, AgentsSection) {
        #[derive(Deserialize)]
        struct F {
            #[serde(default)]
            models: ModelsSection,
            #[serde(default)]
            agents: AgentsSection,
        }
        let f: F = json5::from_str(text).unwrap();
        (f.models, f.agents)
    }

    #[test]
    fn resolves_providers_models_and_keys() {
        let (m, a) = sections(
            "{ models: { providers: { local: { baseUrl: 'http://127.0.0.1:11434/v1', apiKey: 'x-${KEY}' },
               claude: { baseUrl: 'http://proxy', api: 'anthropic-messages', models: [] } } },
               agents: { defaults: { model: { primary: 'local/llama3', fallbacks: ['claude/sonnet'] } } } }",
        );
        let c = resolve(Path::new("c.json"), Path::new("/s"), &m, &a, env).unwrap();
        assert_eq!(c.providers["local"].api_key.as_deref(), Some("x-sk-1"));
        assert_eq!(c.providers["claude"].api, Api::AnthropicMessages);
        let model = c.model.unwrap();
        assert_eq!(model.primary.to_string(), "local/llama3");
        assert_eq!(model.fallbacks[0].to_string(), "claude/sonnet");
        assert_eq!(c.workspace, Some(PathBuf::from("/s/workspace")));
    }

    #[test]
    fn errors_name_the_key() {
        let (m, a) = sections("{ models: { providers: { p: { baseUrl: 'http://x', apiKey: '${NOPE}' } } } }");
        let e = resolve(Path::new("c.json"), Path::new("/s"), &m, &a, env).unwrap_err().to_string();
        assert!(e.contains("models.providers.p.apiKey") && e.contains("NOPE"), "{e}");
        let (m, a) = sections("{ agents: { defaults: { model: 'ghost/m' } } }");
        let e = resolve(Path::new("c.json"), Path::new("/s"), &m, &a, env).unwrap_err().to_string();
        assert!(e.contains("agents.defaults.model") && e.contains("models.providers.ghost"), "{e}");
        let (m, a) = sections("{ models: { providers: { p: { baseUrl: 'http://x', api: 'ollama' } } } }");
        let e = resolve(Path::new("c.json"), Path::new("/s"), &m, &a, env).unwrap_err().to_string();
        assert!(e.contains("models.providers.p.api"), "{e}");
    }
}
