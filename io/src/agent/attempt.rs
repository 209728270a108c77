//! One streaming model call, as a task that reports what happens as [`TurnInput`]s: activity,
//! text deltas, and how the attempt ended (with the failure classified for the turn machine).
//! The call has no timers of its own: the machine watches the silence and cancels the call by
//! dropping its [`Attempt`] (which aborts the task and closes the connection).

use std::collections::BTreeMap;
use std::time::Duration;

use openclaw_core::turn::{AttemptOutcome, ChatMessage, FailureKind, TurnInput};
use openclaw_core::wire::agent::{RunErrorKind, RunFailure, ToolCall, Usage};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::config::ProviderConfig;
use super::provider::{self, StreamItem, ToolCallFragment, ToolSpec};
use super::sse::SseDecoder;
use super::turn::unknown;
use crate::outbound::{HeaderMap, Outbound};

/// Events of one call waiting for the driver; the call pauses while it is full.
const EVENTS: usize = 64;

/// The longest error body read from a provider.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// What one call sends.
pub(super) struct Request<'a> {
    pub provider: &'a ProviderConfig,
    pub model: &'a str,
    pub system: Option<&'a str>,
    /// Empty: no tools offered.
    pub tools: &'a [ToolSpec],
    /// Images of the run's turn.
    pub images: &'a [openclaw_core::wire::agent::ImageInput],
}

/// A call in flight; dropping it aborts the call.
pub(super) struct Attempt {
    events: mpsc::Receiver<TurnInput>,
    task: JoinHandle<()>,
}

impl Drop for Attempt {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Attempt {
    pub(super) fn start(outbound: &Outbound, request: Request<'_>, messages: &[ChatMessage]) -> Self {
        let api = request.provider.api;
        let (url, headers) = provider::endpoint(request.provider);
        let body = provider::request_body(api, request.model, request.system, messages, request.tools, request.images)
            .to_string()
            .into_bytes();
        let (tx, events) = mpsc::channel(EVENTS);
        let outbound = outbound.clone();
        let task = tokio::spawn(async move {
            let outcome = stream(&outbound, api, &url, &headers, body, &tx).await;
            let _ = tx.send(TurnInput::AttemptFinished(outcome)).await;
        });
        Self { events, task }
    }
}

/// The next event of the call in flight; pending forever when there is none. A call that
/// ends without saying how (its task died) is a transient failure.
pub(super) async fn next(call: &mut Option<Attempt>) -> TurnInput {
    let Some(attempt) = call else { return std::future::pending().await };
    match attempt.events.recv().await {
        Some(input) => {
            if matches!(input, TurnInput::AttemptFinished(_)) {
                *call = None;
            }
            input
        }
        None => {
            *call = None;
            let failure = unknown("the model call stopped unexpectedly".into());
            TurnInput::AttemptFinished(AttemptOutcome::Failed { failure, kind: FailureKind::Transient { retry_after: None } })
        }
    }
}

fn failed(failure: RunFailure, kind: FailureKind) -> AttemptOutcome {
    AttemptOutcome::Failed { failure, kind }
}

async fn stream(
    outbound: &Outbound,
    api: super::config::Api,
    url: &str,
    headers: &[(&'static str, String)],
    body: Vec<u8>,
    tx: &mpsc::Sender<TurnInput>,
) -> AttemptOutcome {
    let transient = FailureKind::Transient { retry_after: None };
    let mut response = match outbound.post_json(url, headers, body).await {
        Ok(r) => r,
        Err(e) => {
            let kind = if e.is_transient() { transient } else { FailureKind::Fatal };
            return failed(unknown(e.to_string()), kind);
        }
    };
    let _ = tx.send(TurnInput::Activity).await;
    let status = response.status();
    if !(200..300).contains(&status) {
        let retry_after = retry_after(response.headers());
        let text = response.text(MAX_ERROR_BODY).await;
        let failure = provider::classify(Some(status), &text);
        let kind = if rejects_tools(&failure) {
            FailureKind::RejectsTools
        } else if provider::is_retryable_status(status) {
            FailureKind::Transient { retry_after }
        } else {
            FailureKind::Fatal
        };
        return failed(failure, kind);
    }
    let mut decoder = SseDecoder::default();
    let (mut text, mut usage) = (String::new(), None::<Usage>);
    let mut calls = CallBuilder::default();
    loop {
        let chunk = match response.chunk().await {
            None => break,
            Some(Err(e)) => return failed(unknown(format!("the reply stream broke: {e}")), transient),
            Some(Ok(chunk)) => chunk,
        };
        let events = match decoder.feed(&chunk) {
            Ok(events) => events,
            Err(e) => return failed(unknown(e.to_string()), FailureKind::Fatal),
        };
        let mut said = false;
        for ev in events {
            match provider::stream_item(api, &ev.event, &ev.data) {
                StreamItem::Delta(delta) => {
                    text.push_str(&delta);
                    said = true;
                    let _ = tx.send(TurnInput::Delta(delta)).await;
                }
                StreamItem::ToolCalls(fragments) => calls.add(fragments),
                StreamItem::Usage(u) => {
                    let prev = usage.unwrap_or_default();
                    usage = Some(Usage { input: prev.input.max(u.input), output: prev.output.max(u.output) });
                }
                StreamItem::Refused(why) => {
                    let failure = RunFailure { kind: RunErrorKind::Refusal, message: why, http_status: None };
                    return failed(failure, FailureKind::Fatal);
                }
                StreamItem::Error(f) => {
                    let retryable = matches!(f.kind, RunErrorKind::RateLimit | RunErrorKind::Timeout);
                    return failed(f, if retryable { transient } else { FailureKind::Fatal });
                }
                StreamItem::Done => return AttemptOutcome::Completed { text, calls: calls.finish(), usage },
                StreamItem::Nothing => {}
            }
        }
        if !said {
            let _ = tx.send(TurnInput::Activity).await;
        }
    }
    // The body ended without an explicit end marker; what arrived is the reply.
    if let Some(ev) = decoder.finish() {
        if let StreamItem::Delta(delta) = provider::stream_item(api, &ev.event, &ev.data) {
            text.push_str(&delta);
            let _ = tx.send(TurnInput::Delta(delta)).await;
        }
    }
    AttemptOutcome::Completed { text, calls: calls.finish(), usage }
}

/// A 400 that names tools: the server or model cannot take them.
fn rejects_tools(f: &RunFailure) -> bool {
    f.http_status == Some(400) && f.message.to_ascii_lowercase().contains("tool")
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

/// `retry-after-ms` or `retry-after` (seconds; an HTTP date is ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return (ms.is_finite() && ms >= 0.0).then(|| Duration::from_millis(ms as u64));
    }
    let secs = get("retry-after")?.parse::<f64>().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}
