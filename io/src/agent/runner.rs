//! Runs agent turns for the hub: one task per run, streaming from the configured model with
//! retries and fallbacks, executing the tools it calls and looping until it answers (a bounded
//! number of rounds), reporting progress as [`RunReport`]s into the hub's input queue. The hub
//! decides what the transcript records; this module writes it, in order, from one writer task
//! that also serves every transcript read (so a read sees every write queued before it).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openclaw_core::hub::{RunCommand, RunStart, StoreCommand};
use openclaw_core::wire::agent::{RunErrorKind, RunFailure, RunReport, ToolCall, ToolOutcome, Usage};
use openclaw_core::limits::IDEMPOTENCY_TTL;
use openclaw_core::{RunId, UnixMillis};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinHandle};

use super::config::{AgentConfig, ModelRef, ProviderConfig};
use super::http_client::{post_json, tls_config, HttpError, Response};
use super::provider::{self, ChatMessage, StreamItem, ToolCallFragment, ToolSpec};
use super::sse::SseDecoder;
use super::store::{MessageOwner, Store};
use super::tools::Tools;
use crate::hub_task::HubInput;

/// Longest `AGENTS.md` read into the system prompt.
const MAX_AGENTS_MD: u64 = 64 * 1024;

struct Shared {
    config: AgentConfig,
    tls: Arc<tokio_rustls::rustls::ClientConfig>,
    tools: Tools,
    writer: mpsc::Sender<WriterJob>,
    reports: mpsc::Sender<HubInput>,
}

/// Work for the store writer, done in arrival order.
enum WriterJob {
    Command(StoreCommand),
    /// The conversation a run sends to the model.
    LoadHistory { session_id: String, limit: usize, reply: oneshot::Sender<Result<Vec<ChatMessage>, String>> },
}

/// Store commands waiting for the writer; the hub waits when it is full (backpressure).
const STORE_QUEUE: usize = 1024;

/// Owned by the hub task: starts and aborts run tasks, and hands store commands to the
/// writer task (which applies them in order).
pub(crate) struct AgentRuntime {
    shared: Arc<Shared>,
    tasks: BTreeMap<RunId, AbortHandle>,
}

impl AgentRuntime {
    /// Also returns the writer task, which ends after the runtime is dropped and every queued
    /// command is written.
    pub(crate) fn new(
        config: AgentConfig,
        store: Arc<Store>,
        reports: mpsc::Sender<HubInput>,
    ) -> Result<(Self, JoinHandle<()>), HttpError> {
        let tls = tls_config(&config.extra_root_certs)?;
        let (writer, queue) = mpsc::channel(STORE_QUEUE);
        let task = tokio::spawn(write_loop(store, queue, reports.clone()));
        let max_rounds = config.tools.max_rounds;
        let tools = Tools::new(config.workspace.as_deref().filter(|_| max_rounds > 0), &config.tools);
        let shared = Arc::new(Shared { config, tls, tools, writer, reports });
        Ok((Self { shared, tasks: BTreeMap::new() }, task))
    }

    /// Hot reload: runs started from now on use `config` (running ones keep theirs).
    pub(crate) fn set_config(&mut self, config: AgentConfig) -> Result<(), HttpError> {
        let tls = tls_config(&config.extra_root_certs)?;
        let max_rounds = config.tools.max_rounds;
        let tools = Tools::new(config.workspace.as_deref().filter(|_| max_rounds > 0), &config.tools);
        let (writer, reports) = (self.shared.writer.clone(), self.shared.reports.clone());
        self.shared = Arc::new(Shared { config, tls, tools, writer, reports });
        Ok(())
    }

    /// Queues a store command (waits while the writer is behind).
    pub(crate) async fn persist(&self, command: StoreCommand) {
        if self.shared.writer.send(WriterJob::Command(command)).await.is_err() {
            tracing::error!("the session store writer has stopped; a change was not saved");
        }
    }

    pub(crate) fn handle(&mut self, command: RunCommand) {
        self.tasks.retain(|_, t| !t.is_finished());
        match command {
            RunCommand::Start(start) => {
                let run = start.run.clone();
                let task = tokio::spawn(run_turn(Arc::clone(&self.shared), *start));
                self.tasks.insert(run, task.abort_handle());
            }
            RunCommand::Abort { run, reason } => {
                if let Some(task) = self.tasks.remove(&run) {
                    tracing::info!(run = run.as_str(), ?reason, "aborting agent run");
                    task.abort();
                }
            }
        }
    }
}

impl Drop for AgentRuntime {
    fn drop(&mut self) {
        for task in self.tasks.values() {
            task.abort();
        }
    }
}

async fn write_loop(store: Arc<Store>, mut queue: mpsc::Receiver<WriterJob>, hub: mpsc::Sender<HubInput>) {
    while let Some(job) = queue.recv().await {
        let command = match job {
            WriterJob::LoadHistory { session_id, limit, reply } => {
                let s = Arc::clone(&store);
                let read = tokio::task::spawn_blocking(move || s.history(&session_id, limit)).await;
                let _ = reply.send(match read {
                    Ok(Ok(messages)) => Ok(messages),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => Err(format!("the transcript reader failed: {e}")),
                });
                continue;
            }
            WriterJob::Command(command) => command,
        };
        if let StoreCommand::ReadHistory { conn, id, session_key, session_id, query } = command {
            let s = Arc::clone(&store);
            let sid = session_id.clone();
            let read = tokio::task::spawn_blocking(move || s.history_page(&sid, query)).await;
            let result = match read {
                Ok(Ok(page)) => Ok(page),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(format!("the history reader failed: {e}")),
            };
            // Never wait on the hub here: the hub may be waiting for this queue (a cycle).
            let hub = hub.clone();
            tokio::spawn(async move {
                let _ = hub.send(HubInput::History { conn, id, session_key, session_id, result }).await;
            });
            continue;
        }
        let store = Arc::clone(&store);
        let done = tokio::task::spawn_blocking(move || match &command {
            StoreCommand::SaveSession(entry) => store.save_session(entry),
            StoreCommand::DeleteSession { key, session_id, delete_transcript, archive } => {
                // Archive first; a failed archive keeps the messages (nothing is lost).
                let keep = match archive {
                    Some(path) => match super::store::archive_transcript(&store, key, std::path::Path::new(path)) {
                        Ok(()) => false,
                        Err(e) => {
                            tracing::error!(error = %e, %path, "transcript not archived; its messages are kept");
                            true
                        }
                    },
                    None => false,
                };
                store.delete_session(key, session_id, *delete_transcript && !keep)
            }
            StoreCommand::SaveRunResult { run, response, wait, finished_at } => {
                let ttl = u64::try_from(IDEMPOTENCY_TTL.as_millis()).unwrap_or(u64::MAX);
                let keep_after = UnixMillis(finished_at.0.saturating_sub(ttl));
                store.save_run_result(run.as_str(), response, wait, *finished_at, keep_after)
            }
            StoreCommand::AppendMessage { session_key, session_id, agent_id, run, message } => {
                let owner = MessageOwner { session_key, session_id, agent_id, run_id: run.as_str() };
                store.append_message(&owner, message)
            }
            StoreCommand::ReadHistory { .. } => Ok(()),
        })
        .await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "saving to the session store failed"),
            Err(e) => tracing::error!(error = %e, "the session store writer failed"),
        }
    }
}

/// Reports for one run, in order.
struct Reporter<'a> {
    shared: &'a Shared,
    run: RunId,
}

impl Reporter<'_> {
    async fn send(&self, report: RunReport) {
        let input = HubInput::Run { run: self.run.clone(), report };
        // The hub is gone only at exit; nothing is left to tell.
        let _ = self.shared.reports.send(input).await;
    }
}

async fn run_turn(shared: Arc<Shared>, start: RunStart) {
    let reporter = Reporter { shared: &shared, run: start.run.clone() };
    let report = match turn(&shared, &start, &reporter).await {
        Ok((text, usage)) => RunReport::Completed { text, usage },
        Err(failure) => RunReport::Failed(failure),
    };
    reporter.send(report).await;
}

/// What one model round produced.
struct Round {
    text: String,
    calls: Vec<ToolCall>,
    usage: Option<Usage>,
}

/// The model chain (override or primary, then fallbacks), the prompt, and the rounds: the
/// first round may fall back along the chain; later ones stay with the model that answered.
async fn turn(shared: &Shared, start: &RunStart, reporter: &Reporter<'_>) -> Result<(String, Option<Usage>), RunFailure> {
    let config = &shared.config;
    let chain = model_chain(config, start)?;
    let system = system_prompt(config, start).await;
    let mut messages = load_history(shared, &start.session_id, config.history_limit).await?;
    // The hub appended the user message before starting the run; if that write failed, the
    // model still gets the message.
    if !matches!(messages.last(), Some(ChatMessage::User(t)) if *t == start.message) {
        messages.push(ChatMessage::User(start.message.clone()));
    }
    let specs = shared.tools.specs();
    let mut chosen: Option<(&ModelRef, &ProviderConfig)> = None;
    let mut total: Option<Usage> = None;
    let mut tool_rounds = 0;
    loop {
        let round = match chosen {
            Some((model, provider)) => {
                with_retries(shared, model, provider, system.as_deref(), &messages, &specs, reporter).await?
            }
            None => {
                let (round, model, provider) = first_round(shared, &chain, system.as_deref(), &messages, &specs, reporter).await?;
                chosen = Some((model, provider));
                round
            }
        };
        if let Some(u) = round.usage {
            let t = total.unwrap_or_default();
            total = Some(Usage { input: t.input + u.input, output: t.output + u.output });
        }
        if round.calls.is_empty() {
            return Ok((round.text, total));
        }
        if tool_rounds >= config.tools.max_rounds {
            return Err(unknown(format!(
                "the model was still calling tools after {tool_rounds} rounds; the run was stopped without a final answer"
            )));
        }
        tool_rounds += 1;
        reporter.send(RunReport::ToolCalls { calls: round.calls.clone() }).await;
        messages.push(ChatMessage::Assistant { text: round.text, calls: round.calls.clone() });
        for call in round.calls {
            reporter.send(RunReport::ToolStart { call: call.clone() }).await;
            let (tools, c) = (shared.tools.clone(), call.clone());
            let (text, is_error) = tokio::task::spawn_blocking(move || tools.run(&c))
                .await
                .unwrap_or_else(|e| (format!("the tool failed: {e}"), true));
            let outcome = ToolOutcome { call_id: call.id.clone(), name: call.name.clone(), text: text.clone(), is_error };
            reporter.send(RunReport::ToolResult(outcome)).await;
            messages.push(ChatMessage::ToolResult { call_id: call.id, name: call.name, text, is_error });
        }
    }
}

/// Reads the session's transcript through the writer, after every write queued before.
async fn load_history(shared: &Shared, session_id: &str, limit: usize) -> Result<Vec<ChatMessage>, RunFailure> {
    let (reply, answer) = oneshot::channel();
    let job = WriterJob::LoadHistory { session_id: session_id.to_owned(), limit, reply };
    shared.writer.send(job).await.map_err(|_| unknown("the session store writer has stopped".into()))?;
    answer
        .await
        .map_err(|_| unknown("the session store writer has stopped".into()))?
        .map_err(|e| unknown(format!("reading the transcript failed: {e}")))
}

/// The first round: each model of the chain in turn (with its retries) until one answers.
async fn first_round<'a>(
    shared: &'a Shared,
    chain: &'a [ModelRef],
    system: Option<&str>,
    messages: &[ChatMessage],
    specs: &[ToolSpec],
    reporter: &Reporter<'_>,
) -> Result<(Round, &'a ModelRef, &'a ProviderConfig), RunFailure> {
    let mut last = None;
    for model in chain {
        let Some(provider) = shared.config.providers.get(&model.provider) else {
            last = Some(unknown(format!(
                "model {model}: provider {:?} is not configured (set models.providers.{})",
                model.provider, model.provider
            )));
            continue;
        };
        reporter.send(RunReport::Model { provider: model.provider.clone(), model: model.model.clone() }).await;
        match attempts(shared, model, provider, system, messages, specs, reporter).await {
            Ok(round) => return Ok((round, model, provider)),
            Err(f) => {
                // Text already shown cannot be taken back: no fallback after streaming.
                if f.streamed || f.failure.kind == RunErrorKind::Refusal {
                    return Err(f.failure);
                }
                last = Some(f.failure);
            }
        }
    }
    Err(last.unwrap_or_else(|| unknown("no model to run".into())))
}

async fn with_retries(
    shared: &Shared,
    model: &ModelRef,
    provider: &ProviderConfig,
    system: Option<&str>,
    messages: &[ChatMessage],
    specs: &[ToolSpec],
    reporter: &Reporter<'_>,
) -> Result<Round, RunFailure> {
    attempts(shared, model, provider, system, messages, specs, reporter).await.map_err(|f| f.failure)
}

/// One model, retried on transient failures while nothing of the attempt was shown.
async fn attempts(
    shared: &Shared,
    model: &ModelRef,
    provider: &ProviderConfig,
    system: Option<&str>,
    messages: &[ChatMessage],
    specs: &[ToolSpec],
    reporter: &Reporter<'_>,
) -> Result<Round, AttemptFailure> {
    let retry = &shared.config.retry;
    let mut attempt = 1;
    let mut specs = specs;
    loop {
        match stream_once(shared, provider, &model.model, system, messages, specs, reporter).await {
            Ok(round) => return Ok(round),
            // Some local servers and models refuse any request that offers tools (Ollama:
            // "… does not support tools"): the model still answers, without them.
            Err(f) if !specs.is_empty() && !f.streamed && rejects_tools(&f.failure) => {
                tracing::info!(%model, error = %f.failure.message, "model rejects tools; asking again without them");
                specs = &[];
            }
            Err(f) if f.retryable && !f.streamed && attempt < retry.max_attempts => {
                let delay = retry.delay(attempt, f.retry_after);
                tracing::info!(%model, attempt, ?delay, error = %f.failure.message, "retrying model");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(f) => {
                tracing::warn!(%model, error = %f.failure.message, "model failed");
                return Err(f);
            }
        }
    }
}

/// A 400 that names tools: the server or model cannot take them.
fn rejects_tools(f: &RunFailure) -> bool {
    f.http_status == Some(400) && f.message.to_ascii_lowercase().contains("tool")
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
        (None, None) => Err(RunFailure {
            kind: RunErrorKind::Unknown,
            message: "no model configured: set agents.defaults.model".into(),
            http_status: None,
        }),
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

struct AttemptFailure {
    failure: RunFailure,
    retryable: bool,
    retry_after: Option<Duration>,
    /// Text of this attempt already reached the clients.
    streamed: bool,
}

fn unknown(message: String) -> RunFailure {
    RunFailure { kind: RunErrorKind::Unknown, message, http_status: None }
}

async fn stream_once(
    shared: &Shared,
    provider_cfg: &ProviderConfig,
    model: &str,
    system: Option<&str>,
    messages: &[ChatMessage],
    specs: &[ToolSpec],
    reporter: &Reporter<'_>,
) -> Result<Round, AttemptFailure> {
    let config = &shared.config;
    let api = provider_cfg.api;
    let (url, headers) = provider::endpoint(provider_cfg);
    let body = provider::request_body(api, model, system, messages, specs).to_string().into_bytes();
    let fail = |failure: RunFailure, retryable: bool, streamed: bool| AttemptFailure { failure, retryable, retry_after: None, streamed };
    let exchange = tokio::time::timeout(config.idle_timeout, post_json(&url, &headers, body, config.connect_timeout, &shared.tls));
    let mut response: Response = match exchange.await {
        Err(_) => return Err(fail(timeout_failure(config.idle_timeout), true, false)),
        Ok(Err(e)) => return Err(fail(unknown(e.to_string()), e.is_transient(), false)),
        Ok(Ok(r)) => r,
    };
    if !(200..300).contains(&response.status) {
        let status = response.status;
        let retry_after = retry_after(&response.headers);
        let text = response.text(16 * 1024).await;
        let failure = provider::classify(Some(status), &text);
        return Err(AttemptFailure { failure, retryable: provider::is_retryable_status(status), retry_after, streamed: false });
    }
    let mut decoder = SseDecoder::default();
    let (mut text, mut usage, mut streamed) = (String::new(), None::<Usage>, false);
    let mut calls = CallBuilder::default();
    loop {
        let chunk = match tokio::time::timeout(config.idle_timeout, response.chunk()).await {
            Err(_) => return Err(fail(timeout_failure(config.idle_timeout), true, streamed)),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(fail(unknown(format!("the reply stream broke: {e}")), true, streamed)),
            Ok(Some(Ok(chunk))) => chunk,
        };
        let events = decoder.feed(&chunk).map_err(|e| fail(unknown(e.to_string()), false, streamed))?;
        for ev in events {
            match provider::stream_item(api, &ev.event, &ev.data) {
                StreamItem::Delta(delta) => {
                    text.push_str(&delta);
                    streamed = true;
                    reporter.send(RunReport::Delta { text: delta }).await;
                }
                StreamItem::ToolCalls(fragments) => calls.add(fragments),
                StreamItem::Usage(u) => {
                    let prev = usage.unwrap_or_default();
                    usage = Some(Usage { input: prev.input.max(u.input), output: prev.output.max(u.output) });
                }
                StreamItem::Refused(why) => {
                    return Err(fail(RunFailure { kind: RunErrorKind::Refusal, message: why, http_status: None }, false, streamed));
                }
                StreamItem::Error(f) => {
                    let retryable = matches!(f.kind, RunErrorKind::RateLimit | RunErrorKind::Timeout);
                    return Err(fail(f, retryable, streamed));
                }
                StreamItem::Done => return Ok(Round { text, calls: calls.finish(), usage }),
                StreamItem::Nothing => {}
            }
        }
    }
    // The body ended without an explicit end marker; what arrived is the reply.
    if let Some(ev) = decoder.finish() {
        if let StreamItem::Delta(delta) = provider::stream_item(api, &ev.event, &ev.data) {
            text.push_str(&delta);
            reporter.send(RunReport::Delta { text: delta }).await;
        }
    }
    Ok(Round { text, calls: calls.finish(), usage })
}

/// Tool calls assembled from their streamed fragments, by index.
#[derive(Default)]
struct CallBuilder {
    calls: BTreeMap<u64, (Option<String>, Option<String>, String)>,
}

impl CallBuilder {
    fn add(&mut self, fragments: Vec<ToolCallFragment>) {
        for f in fragments {
            let entry = self.calls.entry(f.index).or_default();
            if f.id.is_some() {
                entry.0 = f.id;
            }
            if f.name.is_some() {
                entry.1 = f.name;
            }
            entry.2.push_str(&f.args);
        }
    }

    /// Arguments that are not a JSON object stay as their raw text (the tool refuses them,
    /// the model sees why).
    fn finish(self) -> Vec<ToolCall> {
        self.calls
            .into_iter()
            .map(|(index, (id, name, args))| {
                let args = if args.trim().is_empty() {
                    serde_json::json!({})
                } else {
                    serde_json::from_str::<serde_json::Value>(&args)
                        .ok()
                        .filter(serde_json::Value::is_object)
                        .unwrap_or(serde_json::Value::String(args))
                };
                ToolCall { id: id.unwrap_or_else(|| format!("call_{index}")), name: name.unwrap_or_default(), args }
            })
            .collect()
    }
}

fn timeout_failure(after: Duration) -> RunFailure {
    RunFailure {
        kind: RunErrorKind::Timeout,
        message: format!("the provider sent nothing for {}s", after.as_secs()),
        http_status: None,
    }
}

/// `retry-after-ms` or `retry-after` (seconds; an HTTP date is ignored).
fn retry_after(headers: &hyper::HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return (ms.is_finite() && ms >= 0.0).then(|| Duration::from_millis(ms as u64));
    }
    let secs = get("retry-after")?.parse::<f64>().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}
