//! The typed agent configuration the gateway runs turns with: providers, the default model
//! with its fallbacks, the system prompt and the retry policy. The CLI builds it from
//! `models.providers.*` and `agents.defaults.*` of the config file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use openclaw_core::turn::{ModelRef, RetryPolicy};

/// A provider's wire format (`models.providers.<name>.api`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// `openai-completions`: OpenAI, Ollama, vLLM, llama.cpp, LM Studio, …
    OpenAiCompletions,
    /// `anthropic-messages`.
    AnthropicMessages,
}

impl Api {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "openai-completions" => Some(Self::OpenAiCompletions),
            "anthropic-messages" => Some(Self::AnthropicMessages),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::OpenAiCompletions => "openai-completions",
            Self::AnthropicMessages => "anthropic-messages",
        }
    }
}

/// `models.providers.<name>`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    pub base_url: String,
    /// Already resolved (`${ENV}` expanded by the caller).
    pub api_key: Option<String>,
    pub api: Api,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("api", &self.api)
            .finish()
    }
}

/// `agents.defaults.model`: a string, or `{primary, fallbacks}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelChoice {
    pub primary: ModelRef,
    /// Tried in order when the primary fails.
    pub fallbacks: Vec<ModelRef>,
}

/// Which tools the model is offered (`tools.allow` / `tools.deny`) and how many tool rounds
/// one run may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolsConfig {
    /// `None`: every tool; else only these (`"*"` matches all).
    pub allow: Option<Vec<String>>,
    /// Never these (wins over `allow`).
    pub deny: Vec<String>,
    /// Model rounds that end in tool calls before the run fails as stuck.
    pub max_rounds: u32,
}

impl Default for ToolsConfig {
    fn default() -> Self {
        Self { allow: None, deny: Vec::new(), max_rounds: 10 }
    }
}

impl ToolsConfig {
    pub fn allows(&self, name: &str) -> bool {
        let listed = |list: &[String]| list.iter().any(|n| n == name || n == "*");
        !listed(&self.deny) && self.allow.as_deref().is_none_or(listed)
    }
}

/// Everything the agent runtime needs.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    pub providers: BTreeMap<String, ProviderConfig>,
    /// `None`: `agent` fails with UNAVAILABLE naming `agents.defaults.model`.
    pub model: Option<ModelChoice>,
    /// Prepended to every system prompt.
    pub system_prompt: Option<String>,
    /// Where `AGENTS.md` is looked up (`agents.defaults.workspace`).
    pub workspace: Option<PathBuf>,
    pub retry: RetryPolicy,
    pub connect_timeout: Duration,
    /// Longest silence between two chunks of a streaming reply.
    pub idle_timeout: Duration,
    /// Earlier turns of the session sent with each request.
    pub history_limit: usize,
    /// Trusted in addition to the Mozilla roots for `https` providers (DER certificates; a
    /// self-signed local server, a corporate proxy); see [`crate::outbound`].
    pub extra_root_certs: Vec<Vec<u8>>,
    /// The tools offered to the model (they work inside `workspace`; none without one).
    pub tools: ToolsConfig,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            providers: BTreeMap::new(),
            model: None,
            system_prompt: None,
            workspace: None,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            history_limit: 200,
            extra_root_certs: Vec::new(),
            tools: ToolsConfig::default(),
        }
    }
}
