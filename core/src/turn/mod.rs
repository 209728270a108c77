//! One agent turn's policy as a sans-IO machine: which model to call, when to retry it (with
//! backoff, honouring the server's `retry-after`), when to fall back to the next model of the
//! chain, when to ask again without tools, how many tool rounds a run may take and when a silent
//! provider has timed out. The driver (`io/src/agent/turn.rs`) performs the HTTP calls and the
//! tools and reports what happened; provider wire formats stay in the driver.
//!
//! Driving: [`Turn::new`], then repeatedly drain [`Turn::poll_output`] until `None`, wait for the
//! next provider event or [`Turn::poll_timeout`], feed it with [`Turn::handle_input`] or
//! [`Turn::handle_timeout`], until a [`TurnOutput::Done`] came out. Aborting a run is the
//! driver's business: it drops the machine and whatever call is in flight.

mod machine;
mod policy;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use machine::Turn;
pub use policy::{ModelRef, RetryPolicy};

use crate::wire::agent::{RunFailure, RunReport, ToolCall, Usage};

/// One message of the conversation sent to the model.
#[derive(Clone, Debug, PartialEq)]
pub enum ChatMessage {
    User(String),
    /// A reply: its text and the tools it asked for.
    Assistant { text: String, calls: Vec<ToolCall> },
    ToolResult { call_id: String, name: String, text: String, is_error: bool },
}

/// What a run may do, fixed when it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct TurnPlan {
    /// The models to try in order (a per-run override alone, or the primary then its
    /// fallbacks). A link that cannot be called (its provider is not configured) is skipped;
    /// its failure becomes the run's if no later link answers.
    pub chain: Vec<Result<ModelRef, RunFailure>>,
    /// Attempts per model (per round) and the backoff between them.
    pub retry: RetryPolicy,
    /// Model rounds that may end in tool calls; one more such round fails the run as stuck.
    pub max_tool_rounds: u32,
    /// Longest silence of the provider (until the response head, then between two chunks)
    /// before the attempt is abandoned as timed out (and retried like any transient failure).
    pub idle_timeout: Duration,
    /// Tools exist to offer (a workspace and at least one allowed tool, or client tools).
    pub offer_tools: bool,
    /// Names of the caller's client tools: a round calling one ends the turn with the calls
    /// pending ([`RunReport::ClientToolCalls`]) instead of running them.
    pub client_tools: Vec<String>,
}

/// What the driver tells the machine.
#[derive(Clone, Debug, PartialEq)]
pub enum TurnInput {
    /// The provider sent something (the response head, any chunk): the silence deadline moves.
    Activity,
    /// More reply text of the current attempt (also activity). Once text was shown, the
    /// attempt is neither retried nor replaced by a fallback.
    Delta(String),
    /// The current attempt ended.
    AttemptFinished(AttemptOutcome),
    /// The tool asked for by the last [`TurnOutput::RunTool`] finished (`is_error`: it failed;
    /// the model sees `text` either way).
    ToolFinished { text: String, is_error: bool },
}

/// How one model call ended.
#[derive(Clone, Debug, PartialEq)]
pub enum AttemptOutcome {
    /// The reply is complete: its text, the tools it asks for (none: the final answer), and
    /// the tokens it used.
    Completed { text: String, calls: Vec<ToolCall>, usage: Option<Usage> },
    /// No (complete) reply: `failure` is what the caller sees if nothing else answers, `kind`
    /// how to treat it.
    Failed { failure: RunFailure, kind: FailureKind },
}

/// What a failed attempt allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The server may answer next time (a rate limit, overload, a 5xx, a broken connection);
    /// `retry_after` is its own estimate of when.
    Transient { retry_after: Option<Duration> },
    /// The server or model cannot take a request that offers tools (Ollama: "… does not
    /// support tools"): the model still answers without them.
    RejectsTools,
    /// Asking again would fail the same way (a bad request, a refusal, an unreadable stream).
    Fatal,
}

/// What the machine asks of the driver.
#[derive(Clone, Debug, PartialEq)]
pub enum TurnOutput {
    /// Start a streaming call: [`Turn::conversation`] to `call.model`, with or without tools.
    /// At most one call is in flight.
    CallModel(ModelCall),
    /// Abandon the call in flight (it timed out); its late events must not be fed.
    CancelCall,
    /// Run this tool and answer with [`TurnInput::ToolFinished`].
    RunTool(ToolCall),
    /// Forward to the hub, in order.
    Report(RunReport),
    /// The turn is over: the last round's text with the tokens of all rounds, or why not.
    /// Nothing follows.
    Done(Result<TurnResult, RunFailure>),
}

/// One model call's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelCall {
    pub model: ModelRef,
    /// 1 for the first attempt at this model in this round.
    pub attempt: u32,
    /// Offer the tools (off after the model rejected them, or when there are none).
    pub tools: bool,
}

/// A finished turn.
#[derive(Clone, Debug, PartialEq)]
pub struct TurnResult {
    pub text: String,
    pub usage: Option<Usage>,
}
