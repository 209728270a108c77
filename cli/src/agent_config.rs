//! `models.providers.*`, `agents.defaults.*` and `tools.{allow,deny}` of the typed config,
//! resolved into the driver's [`AgentConfig`] (`"<provider>/<model>"` refs checked against the
//! configured providers, the workspace holding `AGENTS.md`, the tools offered). `${VAR}` references were substituted by the
//! loader already (a missing variable fails the load, naming the key).

use std::path::{Path, PathBuf};
use std::time::Duration;

use openclaw_core::config::{AgentsConfig, ModelSetting, ModelsConfig, ProviderApi, ToolsConfig};
use openclaw_core::limits::DEFAULT_AGENT_TIMEOUT;
use openclaw_io::agent::{AgentConfig, Api, ModelChoice, ModelRef, ProviderConfig};

use crate::config::{ConfigError, Location};

/// `models`.
pub type ModelsSection = ModelsConfig;
/// The agent runtime's settings besides the providers: `agents` and the top-level `tools`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentsSection {
    pub agents: AgentsConfig,
    pub tools: ToolsConfig,
}

impl From<&AgentsSection> for AgentsSection {
    fn from(section: &AgentsSection) -> Self {
        section.clone()
    }
}

/// `agents` alone (no `tools`: every tool).
impl From<&AgentsConfig> for AgentsSection {
    fn from(agents: &AgentsConfig) -> Self {
        Self { agents: agents.clone(), tools: ToolsConfig::default() }
    }
}

/// Resolves the sections into the driver's config. `env` is only consulted for `HOME` (a
/// `~/` workspace).
pub fn resolve(
    path: &Path,
    state_dir: &Path,
    models: &ModelsSection,
    agents: impl Into<AgentsSection>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<AgentConfig, ConfigError> {
    let AgentsSection { agents, tools } = agents.into();
    let field = |name: String, message: String| ConfigError::Field {
        path: path.to_owned(),
        location: Location(None),
        field: name,
        message,
    };
    let mut config = AgentConfig::default();
    for (name, p) in models.providers.iter().flatten() {
        let api = match p.api.unwrap_or(ProviderApi::OpenaiCompletions) {
            ProviderApi::OpenaiCompletions => Api::OpenAiCompletions,
            ProviderApi::AnthropicMessages => Api::AnthropicMessages,
        };
        let api_key = p.api_key.clone().filter(|k| !k.is_empty());
        config.providers.insert(name.clone(), ProviderConfig { base_url: p.base_url.clone(), api_key, api });
    }
    let defaults = agents.defaults.unwrap_or_default();
    if let Some(setting) = &defaults.model {
        let (primary, fallbacks) = match setting {
            ModelSetting::Ref(r) => (r.clone(), Vec::new()),
            ModelSetting::Choice(c) => (c.primary.clone(), c.fallbacks.clone().unwrap_or_default()),
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
    config.system_prompt = defaults.system_prompt.clone().filter(|s| !s.trim().is_empty());
    config.workspace = Some(match &defaults.workspace {
        Some(dir) => expand_home(dir, &env),
        None => state_dir.join("workspace"),
    });
    config.tools.allow = tools.allow;
    config.tools.deny = tools.deny.unwrap_or_default();
    Ok(config)
}

/// The run timeout of calls that name none: `agents.defaults.timeoutSeconds`, else 600 s;
/// 0 is no timeout.
pub fn run_timeout(section: &AgentsSection) -> Duration {
    section
        .agents
        .defaults
        .as_ref()
        .and_then(|d| d.timeout_seconds)
        .map_or(DEFAULT_AGENT_TIMEOUT, Duration::from_secs)
}

/// `~/x` against `HOME`; anything else as written.
pub fn expand_home(dir: &str, env: &impl Fn(&str) -> Option<String>) -> PathBuf {
    match (dir.strip_prefix("~/"), env("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(text: &str) -> (ModelsSection, AgentsSection) {
        let value = openclaw_core::config::json5::parse(text).unwrap().value;
        let config = openclaw_core::config::check(&value).unwrap().config;
        let section = AgentsSection { agents: config.agents.unwrap_or_default(), tools: config.tools.unwrap_or_default() };
        (config.models.unwrap_or_default(), section)
    }

    #[test]
    fn resolves_providers_and_models() {
        let (m, a) = sections(
            "{ models: { providers: { local: { baseUrl: 'http://127.0.0.1:11434/v1', apiKey: 'x-sk-1' },
               claude: { baseUrl: 'http://proxy', api: 'anthropic-messages', models: [] } } },
               agents: { defaults: { model: { primary: 'local/llama3', fallbacks: ['claude/sonnet'] } } } }",
        );
        let c = resolve(Path::new("c.json"), Path::new("/s"), &m, &a, |_| None).unwrap();
        assert_eq!(c.providers["local"].api_key.as_deref(), Some("x-sk-1"));
        assert_eq!(c.providers["local"].api, Api::OpenAiCompletions);
        assert_eq!(c.providers["claude"].api, Api::AnthropicMessages);
        let model = c.model.unwrap();
        assert_eq!(model.primary.to_string(), "local/llama3");
        assert_eq!(model.fallbacks[0].to_string(), "claude/sonnet");
        assert_eq!(c.workspace, Some(PathBuf::from("/s/workspace")));
        let (m, a) = sections("{ agents: { defaults: { workspace: '~/w', systemPrompt: 'be brief' } } }");
        let c = resolve(Path::new("c.json"), Path::new("/s"), &m, &a, |n| (n == "HOME").then(|| "/h".into())).unwrap();
        assert_eq!(c.workspace, Some(PathBuf::from("/h/w")));
        assert_eq!(c.system_prompt.as_deref(), Some("be brief"));
    }

    #[test]
    fn run_timeout_follows_agents_defaults_timeout_seconds() {
        let (_, a) = sections("{ agents: { defaults: { timeoutSeconds: 45 } } }");
        assert_eq!(run_timeout(&a), Duration::from_secs(45));
        let (_, a) = sections("{ agents: { defaults: { timeoutSeconds: 0 } } }");
        assert_eq!(run_timeout(&a), Duration::ZERO);
        let (_, a) = sections("{}");
        assert_eq!(run_timeout(&a), Duration::from_secs(600));
    }

    #[test]
    fn tools_allow_and_deny_reach_the_agent_config() {
        let (m, a) = sections("{ tools: { allow: ['read', 'write'], deny: ['write'] } }");
        let c = resolve(Path::new("c.json"), Path::new("/s"), &m, &a, |_| None).unwrap();
        assert_eq!(c.tools.allow, Some(vec!["read".to_owned(), "write".to_owned()]));
        assert_eq!(c.tools.deny, vec!["write".to_owned()]);
        assert!(c.tools.allows("read") && !c.tools.allows("write") && !c.tools.allows("exec"));
        let (m, a) = sections("{ tools: { deny: ['*'] } }");
        let c = resolve(Path::new("c.json"), Path::new("/s"), &m, &a, |_| None).unwrap();
        assert_eq!(c.tools.allow, None);
        assert!(!c.tools.allows("read"));
        let (m, a) = sections("{}");
        let c = resolve(Path::new("c.json"), Path::new("/s"), &m, &a, |_| None).unwrap();
        assert_eq!(c.tools, openclaw_io::agent::ToolsConfig::default());
    }

    #[test]
    fn errors_name_the_key() {
        let (m, a) = sections("{ agents: { defaults: { model: 'ghost/m' } } }");
        let e = resolve(Path::new("c.json"), Path::new("/s"), &m, &a, |_| None).unwrap_err().to_string();
        assert!(e.contains("agents.defaults.model") && e.contains("models.providers.ghost"), "{e}");
        let (m, a) = sections("{ agents: { defaults: { model: 'nomodel' } } }");
        let e = resolve(Path::new("c.json"), Path::new("/s"), &m, &a, |_| None).unwrap_err().to_string();
        assert!(e.contains(r#"is not "<provider>/<model>""#), "{e}");
    }
}
