//! Runs agent turns for the hub: one task per run, streaming from the configured model with
//! retries and fallbacks, reporting progress as [`RunReport`]s into the hub's input queue.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openclaw_core::hub::{RunCommand, RunStart, StoreCommand};
use openclaw_core::wire::agent::{RunErrorKind, RunFailure, RunReport, Usage};
use openclaw_core::limits::IDEMPOTENCY_TTL;
use openclaw_core::{RunId, UnixMillis};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};

use super::config::{AgentConfig, ModelRef};
use super::http_client::{post_json, tls_config, HttpError, Response};
use super::provider::{self, ChatMessage, ChatRole, StreamItem};
use super::sse::SseDecoder;
use super::store::{Store, Turn};
use crate::hub_task::HubInput;
use crate::clock;

/// Longest `AGENTS.md` read into the system prompt.
const MAX_AGENTS_MD: u64 = 64 * 1024;

struct Shared {
    config: AgentConfig,
    tls: Arc<tokio_rustls::rustls::ClientConfig>,
    store: Arc<Store>,
    reports: mpsc::Sender<HubInput>,
}

/// Store commands waiting for the writer; the hub waits when it is full (backpressure).
const STORE_QUEUE: usize = 1024;

/// Owned by the hub task: starts and aborts run tasks, and hands store commands to the
/// writer task (which applies them in order).
pub(crate) struct AgentRuntime {
    shared: Arc<Shared>,
    tasks: BTreeMap<RunId, AbortHandle>,
    writer: mpsc::Sender<StoreCommand>,
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
        let task = tokio::spawn(write_loop(Arc::clone(&store), queue, reports.clone()));
        let shared = Arc::new(Shared { config, tls, store, reports });
        Ok((Self { shared, tasks: BTreeMap::new(), writer }, task))
    }

    /// Queues a store command (waits while the writer is behind).
    pub(crate) async fn persist(&self, command: StoreCommand) {
        if self.writer.send(command).await.is_err() {
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

async fn write_loop(store: Arc<Store>, mut queue: mpsc::Receiver<StoreCommand>, hub: mpsc::Sender<HubInput>) {
    while let Some(command) = queue.recv().await {
        if let StoreCommand::ReadHistory { conn, id, session_key, session_id, limit } = command {
            let s = Arc::clone(&store);
            let sid = session_id.clone();
            let read = tokio::task::spawn_blocking(move || s.history_json(&sid, limit)).await;
            let result = match read {
                Ok(Ok(messages)) => Ok(messages),
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
            StoreCommand::DeleteSession { key, session_id, delete_transcript } => {
                store.delete_session(key, session_id, *delete_transcript)
            }
            StoreCommand::SaveRunResult { run, response, wait, finished_at } => {
                let ttl = u64::try_from(IDEMPOTENCY_TTL.as_millis()).unwrap_or(u64::MAX);
                let keep_after = UnixMillis(finished_at.0.saturating_sub(ttl));
                store.save_run_result(run.as_str(), response, wait, *finished_at, keep_after)
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
    match turn(&shared, &start, &reporter).await {
        Ok((text, usage)) => {
            let store = Arc::clone(&shared.store);
            let (key, sid, agent, run, user, reply) = (
                start.session_key.clone(),
                start.session_id.clone(),
                start.agent_id.clone(),
                start.run.0.clone(),
                start.message.clone(),
                text.clone(),
            );
            let saved = tokio::task::spawn_blocking(move || {
                let turn = Turn {
                    session_key: &key,
                    session_id: &sid,
                    agent_id: &agent,
                    run_id: &run,
                    user: &user,
                    assistant: &reply,
                    ts: clock::wall().0,
                };
                store.append_turn(&turn)
            })
            .await;
            match saved {
                Ok(Ok(())) => reporter.send(RunReport::Completed { text, usage }).await,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "saving the transcript failed");
                    let message = format!("the reply could not be saved: {e}");
                    reporter.send(RunReport::Failed(RunFailure { kind: RunErrorKind::Unknown, message, http_status: None })).await;
                }
                Err(e) => {
                    let message = format!("the transcript writer failed: {e}");
                    reporter.send(RunReport::Failed(RunFailure { kind: RunErrorKind::Unknown, message, http_status: None })).await;
                }
            }
        }
        Err(failure) => reporter.send(RunReport::Failed(failure)).await,
    }
}

/// The model chain (override or primary, then fallbacks), the prompt, and the attempts.
async fn turn(shared: &Shared, start: &RunStart, reporter: &Reporter<'_>) -> Result<(String, Option<Usage>), RunFailure> {
    let config = &shared.config;
    let chain = model_chain(config, start)?;
    let system = system_prompt(config, start).await;
    let store = Arc::clone(&shared.store);
    let (key, limit) = (start.session_id.clone(), config.history_limit);
    let mut messages = tokio::task::spawn_blocking(move || store.history(&key, limit))
        .await
        .map_err(|e| unknown(format!("reading the transcript failed: {e}")))?
        .map_err(|e| unknown(e.to_string()))?;
    messages.push(ChatMessage { role: ChatRole::User, text: start.message.clone() });
    let mut last = None;
    for model in &chain {
        let Some(provider) = config.providers.get(&model.provider) else {
            last = Some(unknown(format!(
                "model {model}: provider {:?} is not configured (set models.providers.{})",
                model.provider, model.provider
            )));
            continue;
        };
        reporter.send(RunReport::Model { provider: model.provider.clone(), model: model.model.clone() }).await;
        let mut attempt = 1;
        loop {
            match stream_once(shared, provider, &model.model, system.as_deref(), &messages, reporter).await {
                Ok(done) => return Ok(done),
                Err(f) if f.retryable && !f.streamed && attempt < config.retry.max_attempts => {
                    let delay = config.retry.delay(attempt, f.retry_after);
                    tracing::info!(%model, attempt, ?delay, error = %f.failure.message, "retrying model");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(f) => {
                    tracing::warn!(%model, error = %f.failure.message, "model failed");
                    // Text already shown cannot be taken back: no fallback after streaming.
                    if f.streamed || f.failure.kind == RunErrorKind::Refusal {
                        return Err(f.failure);
                    }
                    last = Some(f.failure);
                    break;
                }
            }
        }
    }
    Err(last.unwrap_or_else(|| unknown("no model to run".into())))
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
    provider_cfg: &super::config::ProviderConfig,
    model: &str,
    system: Option<&str>,
    messages: &[ChatMessage],
    reporter: &Reporter<'_>,
) -> Result<(String, Option<Usage>), AttemptFailure> {
    let config = &shared.config;
    let api = provider_cfg.api;
    let (url, headers) = provider::endpoint(provider_cfg);
    let body = provider::request_body(api, model, system, messages).to_string().into_bytes();
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
                StreamItem::Done => return Ok((text, usage)),
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
    Ok((text, usage))
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
