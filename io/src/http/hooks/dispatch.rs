//! What a hook sets going: a wake (a system event queued for the next turn) or an agent run
//! (started through the hub as a [`Caller::Hook`](openclaw_core::Caller), followed to its end
//! on a task of its own so the request can answer at admission), and the idempotency replay
//! cache that makes a repeated key answer the first run instead of starting another.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper::StatusCode;
use openclaw_core::auth::scopes::{Scope, ScopeSet};
use openclaw_core::hooks::wrap_external;
use openclaw_core::hub::RunOutcome;
use openclaw_core::methods::MethodCall;
use openclaw_core::time::Instant;
use openclaw_core::wire::agent::AgentParams;
use openclaw_core::wire::channels::SendParams;
use openclaw_core::wire::frames::ErrorCode;
use openclaw_core::wire::methods::SystemEventParams;
use openclaw_core::CallerEvent;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::callers::CallerStream;
use crate::clock;
use crate::server::Shared;

/// The reference's answer when a run could not be started.
const PREPARATION_ERROR: &str = "hook agent run failed before entering the agent runner";
/// Finished entries are replayed for this long…
const REPLAY_TTL: Duration = Duration::from_secs(300);
/// …and at most this many are kept.
const REPLAY_MAX: usize = 1000;

/// What a hook's agent run needs.
#[derive(Clone, Debug)]
pub(super) struct AgentHook {
    pub agent: String,
    pub session_key: String,
    /// `name` (`Hook` by default): the run's task label and the announcement's prefix.
    pub name: String,
    pub message: String,
    /// Wrap the message as external untrusted content (unless `allowUnsafeExternalContent`).
    pub wrap: bool,
    pub source_label: &'static str,
    /// Announce the result to the main session when it is not delivered elsewhere.
    pub deliver: bool,
    /// Where the reply goes (`channel` + `to`), when `deliver`.
    pub delivery: Option<HookDelivery>,
    pub model: Option<String>,
    pub thinking: Option<String>,
    pub timeout_seconds: Option<u64>,
    /// The sub-path (`agent`, a mapping's path): the caller's name.
    pub hook_name: String,
}

/// A chat to deliver a hook's reply to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct HookDelivery {
    pub channel: String,
    pub to: String,
    pub account_id: Option<String>,
}

/// A run the hub accepted.
#[derive(Clone, Debug)]
pub(super) struct Admitted {
    pub run_id: String,
    /// `{status, replyDisposition}` and when, once the run ended.
    completion: watch::Receiver<Option<(Value, Instant)>>,
}

impl Admitted {
    /// Waits for the run's end.
    pub(super) async fn completion(mut self) -> Value {
        match self.completion.wait_for(Option::is_some).await {
            Ok(v) => v.as_ref().map_or(Value::Null, |(c, _)| c.clone()),
            Err(_) => json!({"status": "error", "replyDisposition": "empty"}),
        }
    }

    /// When the run ended.
    fn ended_at(&self) -> Option<Instant> {
        self.completion.borrow().as_ref().map(|(_, at)| *at)
    }
}

/// A run that was not started: the status and `error` to answer.
#[derive(Clone, Debug)]
pub(super) struct Failure {
    pub status: StatusCode,
    pub error: String,
    pub run_id: Option<String>,
}

type Outcome = Result<Admitted, Failure>;

struct Entry {
    outcome: watch::Receiver<Option<Outcome>>,
}

impl Entry {
    fn ended_at(&self) -> Option<Instant> {
        match &*self.outcome.borrow() {
            Some(Ok(a)) => a.ended_at(),
            _ => None,
        }
    }
}

/// Admitted runs by replay key (see `Hook::replay_key`): pending while being admitted, kept
/// while running and for [`REPLAY_TTL`] after the run ended; a failure is forgotten.
#[derive(Default)]
pub(super) struct ReplayCache {
    entries: BTreeMap<String, Entry>,
}

impl ReplayCache {
    fn prune(&mut self, now: Instant) {
        self.entries.retain(|_, e| e.ended_at().is_none_or(|at| now.duration_since(at) < REPLAY_TTL));
        let mut finished: Vec<(Instant, String)> =
            self.entries.iter().filter_map(|(k, e)| Some((e.ended_at()?, k.clone()))).collect();
        if finished.len() > REPLAY_MAX {
            finished.sort();
            for (_, k) in finished.iter().take(finished.len() - REPLAY_MAX) {
                self.entries.remove(k);
            }
        }
    }
}

/// Lower-case hex SHA-256 of `s`.
pub(super) fn sha256_hex(s: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, s.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// What a hook may do as an operator.
fn scopes() -> ScopeSet {
    [Scope::Admin, Scope::Read, Scope::Write].into_iter().collect()
}

/// Queues `text` as a system event for the next turn: `"queued"`, or `"coalesced"` when it
/// repeats the last one.
pub(super) async fn wake(shared: &Shared, hook_name: &str, text: &str) -> String {
    let hub = &shared.hub_handle;
    let params = SystemEventParams { text: text.to_owned(), ..SystemEventParams::default() };
    let call = MethodCall::SystemEvent(Box::new(params));
    let answer = match hub.call(hub.hook_caller(hook_name), scopes(), call).await {
        Ok(mut stream) => stream.next().await,
        Err(_) => None,
    };
    match answer {
        Some(CallerEvent::Response(Ok(v))) => v["eventOutcome"].as_str().unwrap_or("queued").to_owned(),
        _ => "coalesced".to_owned(),
    }
}

/// Sends a hook's reply to its chat through the channel (the `send` path: one idempotency key
/// per run, so a replay sends nothing twice). Whether it went out.
async fn deliver(shared: &Shared, to: &HookDelivery, text: &str, run_id: &str) -> bool {
    let params = SendParams {
        to: to.to.clone(),
        message: Some(text.to_owned()),
        channel: Some(to.channel.clone()),
        account_id: to.account_id.clone(),
        idempotency_key: format!("hook:{run_id}"),
        ..SendParams::default()
    };
    match crate::channels::send::send(&shared.channels, params).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(channel = %to.channel, error = %e.message, "hook reply delivery failed");
            false
        }
    }
}

/// Starts `hook`'s run, or answers the run already started under `key`.
pub(super) async fn start_with_replay(shared: &Arc<Shared>, cache: &Arc<Mutex<ReplayCache>>, key: Option<String>, hook: AgentHook) -> Outcome {
    let Some(key) = key else { return start_detached(shared, hook).await };
    loop {
        let existing = {
            let mut c = cache.lock().unwrap_or_else(PoisonError::into_inner);
            c.prune(clock::now());
            c.entries.get(&key).map(|e| e.outcome.clone())
        };
        let Some(mut pending) = existing else { break };
        if let Ok(outcome) = pending.wait_for(Option::is_some).await {
            if let Some(Ok(admitted)) = outcome.clone() {
                return Ok(admitted);
            }
        }
        // The first attempt failed (and was forgotten): try again.
        let mut c = cache.lock().unwrap_or_else(PoisonError::into_inner);
        if c.entries.get(&key).is_some_and(|e| e.outcome.same_channel(&pending)) {
            c.entries.remove(&key);
        }
    }
    let (tx, rx) = watch::channel(None);
    cache.lock().unwrap_or_else(PoisonError::into_inner).entries.insert(key.clone(), Entry { outcome: rx });
    let outcome = start_detached(shared, hook).await;
    let _ = tx.send(Some(outcome.clone()));
    if outcome.is_err() {
        cache.lock().unwrap_or_else(PoisonError::into_inner).entries.remove(&key);
    }
    outcome
}

/// [`start`] on a task of its own: a client that goes away mid-admission neither cancels the
/// start nor loses the run's follow-up.
async fn start_detached(shared: &Arc<Shared>, hook: AgentHook) -> Outcome {
    let shared = Arc::clone(shared);
    match tokio::spawn(async move { start(&shared, hook).await }).await {
        Ok(outcome) => outcome,
        Err(_) => Err(Failure { status: StatusCode::BAD_GATEWAY, error: PREPARATION_ERROR.into(), run_id: None }),
    }
}

async fn start(shared: &Arc<Shared>, hook: AgentHook) -> Outcome {
    let run_id = crate::identity::random_uuid();
    let message = if hook.wrap {
        let marker = format!("{:016x}", crate::identity::random_u64());
        wrap_external(&hook.message, hook.source_label, &hook.name, &marker)
    } else {
        hook.message.clone()
    };
    let params = AgentParams {
        message,
        idempotency_key: run_id.clone(),
        agent_id: Some(hook.agent.clone()),
        session_key: Some(hook.session_key.clone()),
        deliver: Some(false),
        model: hook.model.clone(),
        thinking: hook.thinking.clone(),
        timeout: hook.timeout_seconds,
        ..AgentParams::default()
    };
    let hub = &shared.hub_handle;
    let unavailable = || Failure { status: StatusCode::SERVICE_UNAVAILABLE, error: "gateway_unavailable".into(), run_id: None };
    let mut stream = hub.start_run(hub.hook_caller(&hook.hook_name), scopes(), params).await.map_err(|_| unavailable())?;
    match stream.next().await {
        Some(CallerEvent::Response(Ok(_))) => {}
        Some(CallerEvent::Response(Err(e))) if e.code == ErrorCode::InvalidRequest => {
            return Err(Failure { status: StatusCode::BAD_REQUEST, error: e.message, run_id: Some(run_id) });
        }
        None => return Err(unavailable()),
        Some(_) => {
            return Err(Failure { status: StatusCode::BAD_GATEWAY, error: PREPARATION_ERROR.into(), run_id: Some(run_id) });
        }
    }
    let (tx, rx) = watch::channel(None);
    tokio::spawn(follow(Arc::clone(shared), stream, hook, run_id.clone(), tx));
    Ok(Admitted { run_id, completion: rx })
}

/// Reads the run to its end, delivers a finished run's reply to the hook's chat (if it named
/// one), publishes `{status, replyDisposition, delivered?, deliveryAttempted?, deliveryError?}`
/// and announces the result to the main session (a failed run always; a finished one when
/// `deliver` and no delivery was attempted — the reference's `shouldAnnounceHookRunResult`).
async fn follow(
    shared: Arc<Shared>,
    mut stream: CallerStream,
    hook: AgentHook,
    run_id: String,
    done: watch::Sender<Option<(Value, Instant)>>,
) {
    let (status, text) = loop {
        match stream.next().await {
            Some(CallerEvent::Final { outcome: RunOutcome::Ok(payload), .. }) => {
                let texts: Vec<&str> = payload["result"]["payloads"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["text"].as_str())
                    .filter(|t| !t.trim().is_empty())
                    .collect();
                break ("ok", texts.join("\n\n"));
            }
            Some(CallerEvent::Final { outcome: RunOutcome::Failed { error, .. }, .. }) => break ("error", error.message),
            Some(CallerEvent::Response(Err(e))) => break ("error", e.message),
            Some(_) => {}
            None => break ("error", "run ended without a result".to_owned()),
        }
    };
    let disposition = if status == "ok" && !text.trim().is_empty() { "visible" } else { "empty" };
    let mut completion = json!({"status": status, "replyDisposition": disposition});
    let mut attempted = false;
    if let Some(to) = hook.delivery.as_ref().filter(|_| hook.deliver && status == "ok" && disposition == "visible") {
        attempted = true;
        let delivered = deliver(&shared, to, text.trim(), &run_id).await;
        completion["delivered"] = json!(delivered);
        completion["deliveryAttempted"] = json!(true);
        if !delivered {
            completion["deliveryError"] = json!("delivery-failed");
        }
    }
    let _ = done.send(Some((completion, clock::now())));
    if status != "ok" || (hook.deliver && !attempted) {
        let summary = if text.trim().is_empty() { status.to_owned() } else { text.trim().to_owned() };
        let prefix = if status == "ok" { format!("Hook {}", hook.name) } else { format!("Hook {} ({status})", hook.name) };
        wake(&shared, &hook.hook_name, format!("{prefix}: {summary}").trim()).await;
    }
}
