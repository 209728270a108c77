//! Params of the agent-run methods (protocol.md §5.6-5.7) and the reports a driver sends back
//! while it runs a turn against a model.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `agent` params (closed; the reference's backend-only fields are not accepted here).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentParams {
    #[schemars(length(min = 1))]
    pub message: String,
    /// Becomes the `runId`; duplicates share one run.
    #[schemars(length(min = 1))]
    pub idempotency_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_existing_session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_space: Option<String>,
    /// Run timeout in seconds; 0 means none (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_effort_deliver: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_system_prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_mode: Option<PromptMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_context_mode: Option<BootstrapContextMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_context_run_kind: Option<BootstrapContextRunKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_provenance: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_wake_trigger: Option<Value>,
    /// Function tools of an HTTP caller (`/v1/chat/completions`, `/v1/responses` `tools`),
    /// offered to the model beside the gateway's own. The gateway never runs them: a call to
    /// one ends the run with the call pending for the caller. Not a wire field (the reference
    /// passes them to its agent command in-process, too).
    #[serde(skip)]
    #[schemars(skip)]
    pub client_tools: Vec<ClientTool>,
    /// Images of the turn (HTTP callers: `image_url`, `input_image`), handed to the model with
    /// the message. Not a wire field, as `client_tools`.
    #[serde(skip)]
    #[schemars(skip)]
    pub images: Vec<ImageInput>,
}

/// An image for the model: its MIME type and base64 data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageInput {
    pub mime_type: String,
    pub data: String,
}

/// A function tool offered by the caller (name, description, JSON Schema of the arguments).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClientTool {
    pub name: String,
    pub description: Option<String>,
    pub parameters: Option<Value>,
}

impl AgentParams {
    /// `/new` and `/reset` reset the session and need `operator.admin` (§5.6).
    pub fn is_reset_command(&self) -> bool {
        let m = self.message.trim_start();
        ["/new", "/reset"].iter().any(|cmd| {
            m.strip_prefix(cmd).is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PromptMode {
    Full,
    Minimal,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BootstrapContextMode {
    Full,
    Lightweight,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BootstrapContextRunKind {
    Default,
    Heartbeat,
    Cron,
}

/// `agent.wait` params.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentWaitParams {
    #[schemars(length(min = 1))]
    pub run_id: String,
    /// How long to wait for the end of the run (default 30,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// `agent` first-stage payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentAccepted {
    pub run_id: String,
    /// Present when the caller named the session (`sessionKey`, `agentId`); the reference
    /// leaves it out when it derived the session from `to` or made an explicit one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    pub agent_id: String,
    /// Always `"accepted"`.
    pub status: String,
    pub accepted_at: u64,
}

/// Provider failures as the reference classifies them (`chat` `errorKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunErrorKind {
    Refusal,
    Timeout,
    RateLimit,
    ContextLength,
    Unknown,
}

impl RunErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refusal => "refusal",
            Self::Timeout => "timeout",
            Self::RateLimit => "rate_limit",
            Self::ContextLength => "context_length",
            Self::Unknown => "unknown",
        }
    }
}

/// Token counts reported by a provider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
}

/// What the driver reports about a run it was asked to start (`HubInput::Run`).
#[derive(Clone, Debug, PartialEq)]
pub enum RunReport {
    /// A model attempt began (the first, or a fallback).
    Model { provider: String, model: String },
    /// More assistant text arrived.
    Delta { text: String },
    /// The model ended its round asking for these tools (its text so far belongs to this
    /// round); their execution follows as [`RunReport::ToolStart`]/[`RunReport::ToolResult`].
    ToolCalls { calls: Vec<ToolCall> },
    /// The model ended its round calling client tools (see [`AgentParams::client_tools`]):
    /// the run ends with these calls pending for the caller; [`RunReport::Completed`] follows
    /// with the round's text as the commentary.
    ClientToolCalls { calls: Vec<ToolCall> },
    /// A tool is about to run.
    ToolStart { call: ToolCall },
    /// A tool finished (`is_error`: it failed; the model sees the text either way).
    ToolResult(ToolOutcome),
    /// The model finished; `text` is the reply of its last round.
    Completed { text: String, usage: Option<Usage> },
    /// Every attempt failed.
    Failed(RunFailure),
}

/// A tool call requested by the model.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    /// The provider's id for the call (`call_…`, `toolu_…`).
    pub id: String,
    pub name: String,
    /// The parsed arguments (an object; `{}` when the model sent none or invalid JSON).
    pub args: Value,
}

/// What a tool call produced.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolOutcome {
    pub call_id: String,
    pub name: String,
    pub text: String,
    pub is_error: bool,
}

/// Why a run failed, with what the caller sees.
#[derive(Clone, Debug, PartialEq)]
pub struct RunFailure {
    pub kind: RunErrorKind,
    pub message: String,
    pub http_status: Option<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_commands() {
        let p = |m: &str| AgentParams { message: m.into(), ..AgentParams::default() };
        assert!(p("/new").is_reset_command());
        assert!(p("  /reset now").is_reset_command());
        assert!(!p("/newsletter").is_reset_command());
        assert!(!p("hello /new").is_reset_command());
    }
}
