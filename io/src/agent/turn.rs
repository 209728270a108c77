//! Drives one run: resolves the model chain, the system prompt and the history, then runs
//! core's [`Turn`] machine — performing each `CallModel` ([`super::attempt`]), each tool, and
//! each wait until `poll_timeout` — and forwards its reports to the hub. Every decision (retry,
//! backoff, fallback, tools off, tool rounds, silence) is the machine's.

use std::time::Duration;

use openclaw_core::hub::RunStart;
use openclaw_core::turn::{AttemptOutcome, FailureKind, ModelCall, Turn, TurnInput, TurnOutput, TurnPlan};
use openclaw_core::wire::agent::{RunErrorKind, RunFailure, RunReport};

use super::attempt::{self, Attempt};
use super::config::{AgentConfig, ModelRef};
use super::provider::ToolSpec;
use super::runner::{Reporter, Shared};
use super::writer::load_history;
use crate::clock;

/// Longest `AGENTS.md` read into the system prompt.
const MAX_AGENTS_MD: u64 = 64 * 1024;

/// Runs the turn to its end and reports how it ended.
pub(super) async fn run(shared: &Shared, start: &RunStart, reporter: &Reporter<'_>) {
    let report = match drive(shared, start, reporter).await {
        Ok((text, usage)) => RunReport::Completed { text, usage },
        Err(failure) => RunReport::Failed(failure),
    };
    reporter.send(report).await;
}

async fn drive(
    shared: &Shared,
    start: &RunStart,
    reporter: &Reporter<'_>,
) -> Result<(String, Option<openclaw_core::wire::agent::Usage>), RunFailure> {
    let config = &shared.config;
    let chain = model_chain(config, start)?;
    let system = system_prompt(config, start).await;
    let history = load_history(&shared.writer, &start.session_id, config.history_limit).await?;
    let mut specs = shared.tools.specs();
    // The caller's function tools (HTTP callers): offered beside the gateway's own; a name
    // both use was refused before the run started (`invalid tool configuration`).
    specs.extend(start.client_tools.iter().filter(|t| !specs.iter().any(|s| s.name == t.name)).map(|t| ToolSpec {
        name: t.name.clone(),
        description: t.description.clone().unwrap_or_default(),
        parameters: t.parameters.clone().unwrap_or_else(|| serde_json::json!({ "type": "object", "properties": {} })),
    }).collect::<Vec<_>>());
    let plan = TurnPlan {
        chain: chain.into_iter().map(|m| resolve(config, m)).collect(),
        retry: config.retry.clone(),
        max_tool_rounds: config.tools.max_rounds,
        idle_timeout: config.idle_timeout,
        offer_tools: !specs.is_empty(),
        client_tools: start.client_tools.iter().map(|t| t.name.clone()).collect(),
    };
    let mut turn = Turn::new(plan, history, &start.message, clock::now());
    let mut call: Option<Attempt> = None;
    loop {
        while let Some(output) = turn.poll_output() {
            match output {
                TurnOutput::CallModel(ModelCall { model, attempt, tools }) => {
                    if attempt > 1 {
                        tracing::info!(%model, attempt, "retrying model");
                    }
                    let Some(provider) = config.providers.get(&model.provider) else {
                        // `resolve` kept only configured providers in the chain.
                        let failure = unknown(format!("model {model}: provider {:?} is not configured", model.provider));
                        let outcome = AttemptOutcome::Failed { failure, kind: FailureKind::Fatal };
                        turn.handle_input(TurnInput::AttemptFinished(outcome), clock::now());
                        continue;
                    };
                    let offered = if tools { specs.as_slice() } else { &[] };
                    let request = attempt::Request { provider, model: &model.model, system: system.as_deref(), tools: offered, images: &start.images };
                    call = Some(Attempt::start(&shared.outbound, request, turn.conversation()));
                }
                TurnOutput::CancelCall => {
                    tracing::info!("the provider stayed silent; abandoning the call");
                    call = None;
                }
                TurnOutput::RunTool(tool) => {
                    let runner = shared.tools.clone();
                    let (text, is_error) = tokio::task::spawn_blocking(move || runner.run(&tool))
                        .await
                        .unwrap_or_else(|e| (format!("the tool failed: {e}"), true));
                    turn.handle_input(TurnInput::ToolFinished { text, is_error }, clock::now());
                }
                TurnOutput::Report(report) => reporter.send(report).await,
                TurnOutput::Done(result) => return result.map(|r| (r.text, r.usage)),
            }
        }
        let deadline = turn.poll_timeout();
        if deadline.is_none() && call.is_none() {
            return Err(unknown("the run stopped with nothing left to wait for".into()));
        }
        let sleep = tokio::time::sleep_until(deadline.map_or_else(far_future, clock::to_tokio));
        tokio::select! {
            input = attempt::next(&mut call) => {
                if let TurnInput::AttemptFinished(AttemptOutcome::Failed { failure, kind }) = &input {
                    tracing::info!(error = %failure.message, ?kind, "model attempt failed");
                }
                turn.handle_input(input, clock::now());
            }
            () = sleep, if deadline.is_some() => turn.handle_timeout(clock::now()),
        }
    }
}

fn far_future() -> tokio::time::Instant {
    clock::to_tokio(clock::now() + Duration::from_secs(86_400))
}

/// A chain link the driver can call, or why not.
fn resolve(config: &AgentConfig, model: ModelRef) -> Result<ModelRef, RunFailure> {
    if config.providers.contains_key(&model.provider) {
        return Ok(model);
    }
    Err(unknown(format!(
        "model {model}: provider {:?} is not configured (set models.providers.{})",
        model.provider, model.provider
    )))
}

fn model_chain(config: &AgentConfig, start: &RunStart) -> Result<Vec<ModelRef>, RunFailure> {
    let default = config.model.as_ref();
    let override_ref = match (&start.provider, &start.model) {
        (Some(p), Some(m)) => Some(ModelRef { provider: p.clone(), model: m.clone() }),
        (None, Some(m)) => ModelRef::parse(m).or_else(|| {
            default.map(|d| ModelRef { provider: d.primary.provider.clone(), model: m.clone() })
        }),
        (Some(_), None) | (None, None) => None,
    };
    match (override_ref, default) {
        (Some(one), _) => Ok(vec![one]),
        (None, Some(choice)) => Ok(std::iter::once(choice.primary.clone()).chain(choice.fallbacks.iter().cloned()).collect()),
        (None, None) => Err(unknown("no model configured: set agents.defaults.model".into())),
    }
}

/// Config prompt, then the workspace's `AGENTS.md`, then the run's extra prompt.
async fn system_prompt(config: &AgentConfig, start: &RunStart) -> Option<String> {
    let mut parts: Vec<String> = config.system_prompt.iter().cloned().collect();
    if let Some(dir) = &config.workspace {
        let path = dir.join("AGENTS.md");
        if let Ok(file) = tokio::fs::File::open(&path).await {
            use tokio::io::AsyncReadExt;
            let mut text = String::new();
            if file.take(MAX_AGENTS_MD).read_to_string(&mut text).await.is_ok() && !text.trim().is_empty() {
                parts.push(text);
            }
        }
    }
    parts.extend(start.extra_system_prompt.iter().cloned());
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

pub(super) fn unknown(message: String) -> RunFailure {
    RunFailure { kind: RunErrorKind::Unknown, message, http_status: None }
}
