//! `POST /v1/responses` (http.md §3, OpenResponses): one agent run per request, answered as a
//! response resource or as named server-sent events (`response.created` …
//! `response.completed`, then `[DONE]`). Failures after the request was accepted are answered
//! with a failed response resource, not the error envelope, as the reference does.
//!
//! Client function tools (`tools`, `tool_choice`) are offered to the model; a run that ends
//! calling them answers a `function_call` output item per call (after the commentary), and
//! the caller continues with `function_call_output` (and `previous_response_id`).

mod fetch;
pub(super) mod media;
pub(super) mod request;
mod schema;
mod sessions;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hyper::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use self::request::{ResponsesRequest, ToolChoice};
use self::sessions::{ResponseSessions, Scope};
use super::request::Turn;
use super::routing::{resolve_agent, session_key, AgentTarget};
use super::run::{AgentRun, RunEvent, RunRequest, Usage};
use super::tools::{self, Choice, Constraint, Offered, PendingCall};
use crate::clock;
use crate::http::{respond, sse, HandlerResult, HttpError, HttpRequest, JSON};
use crate::identity::random_uuid;

/// An idle stream gets a `: keep-alive` comment this often.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The reply when a run produced no text.
const NO_RESPONSE: &str = "No response from OpenClaw.";

/// The handler's state: the `previous_response_id` map.
#[derive(Clone, Default)]
pub(crate) struct Responses {
    sessions: Arc<Mutex<ResponseSessions>>,
}

impl Responses {
    /// Handles one request.
    pub(crate) async fn handle(self, req: HttpRequest) -> HandlerResult {
        let HttpRequest { parts, body, shared, .. } = req;
        let body = body.json().await?;
        let request = ResponsesRequest::parse(&body)?;
        let target = AgentTarget::from_model(&request.model)?;
        let agent = resolve_agent(&parts.headers, &target)?;
        let prompt = request.prompt();
        let inputs = shared.settings.load().gateway.responses_inputs.clone();
        let media = media::gather(&request, prompt.active_user, &inputs).await.map_err(|reason| {
            tracing::warn!(%reason, "openresponses: request parsing failed");
            HttpError::BadRequest("invalid request".into())
        })?;
        let offered = tool_choice(&request).map_err(|reason| {
            tracing::warn!(%reason, "openresponses: tool configuration failed");
            HttpError::BadRequest("invalid tool configuration".into())
        })?;
        let (tool_prompt, constraint) = (offered.prompt.clone(), offered.constraint.clone());
        let fresh_key = session_key(&parts.headers, &agent, request.user.as_deref(), "openresponses")?;
        let scope = scope(&parts.headers, &agent);
        let now_ms = clock::wall().0;
        let remembered = request.previous_response_id.as_deref().and_then(|id| self.lock().lookup(id, &scope, now_ms));
        let session_key = remembered.unwrap_or(fresh_key);
        let file_context = media.file_contexts.join("\n\n");
        let extra: Vec<&str> = [
            request.instructions.as_deref(),
            prompt.extra_system_prompt.as_deref(),
            tool_prompt.as_deref(),
            Some(file_context.as_str()),
        ]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect();
        if prompt.message.is_empty() {
            return Err(HttpError::BadRequest("Missing user message in `input`.".into()));
        }
        let head = Head {
            id: format!("resp_{}", random_uuid()),
            item_id: format!("msg_{}", random_uuid()),
            created_at: now_ms / 1000,
            model: request.model.clone(),
        };
        let turn = Turn { message: prompt.message, extra_system_prompt: (!extra.is_empty()).then(|| extra.join("\n\n")) };
        let conflict = tools::conflict(&shared.settings.load().agent, &offered.tools).map(str::to_owned);
        let run = RunRequest {
            agent,
            session_key: session_key.clone(),
            run_id: head.id.clone(),
            turn,
            client_tools: offered.tools,
            images: media.images,
        };
        let remember = Remember { responses: self, session_key, scope };
        if let Some(name) = conflict {
            // The reference refuses the run: a failed resource (400), streamed or not.
            tracing::warn!(tool = %name, "openresponses: a client tool takes the name of a gateway tool");
            let refused = Err(HttpError::BadRequest("invalid tool configuration".into()));
            if request.stream {
                let (sender, response) = sse::response(KEEP_ALIVE);
                tokio::spawn(stream(refused, sender, head, constraint, remember));
                return Ok(response);
            }
            return Ok(failed_start(&head, &HttpError::BadRequest("invalid tool configuration".into()), &remember));
        }
        let run = AgentRun::start(&shared.hub_handle, run).await;
        if request.stream {
            let (sender, response) = sse::response(KEEP_ALIVE);
            tokio::spawn(stream(run, sender, head, constraint, remember));
            return Ok(response);
        }
        let mut run = match run {
            Ok(run) => run,
            Err(e) => return Ok(failed_start(&head, &e, &remember)),
        };
        let mut streamed = String::new();
        let outcome = loop {
            match run.next().await {
                Some(RunEvent::Delta(d)) => streamed.push_str(&d),
                Some(RunEvent::Done { text, usage, tool_calls }) => {
                    break Ok((if text.is_empty() { streamed } else { text }, usage, tool_calls));
                }
                Some(RunEvent::Failed(message)) => break Err(message),
                None => break Err("run ended without a result".into()),
            }
        };
        remember.store(&head.id);
        let (status, body) = match outcome {
            Ok((_, usage, calls)) if constraint.as_ref().is_some_and(|c| !c.satisfied_by(&calls)) => {
                let message = constraint.as_ref().map(Constraint::unmet_message).unwrap_or_default();
                (StatusCode::BAD_GATEWAY, head.failed("api_error", &message, usage))
            }
            Ok((text, usage, calls)) if !calls.is_empty() => {
                // The commentary (if any), then one `function_call` item per pending call.
                let mut output = Vec::new();
                if !text.is_empty() {
                    let mut item = head.item(&text, "completed");
                    item["phase"] = json!("commentary");
                    output.push(item);
                }
                output.extend(calls.iter().map(|c| function_call_item(c, None)));
                (StatusCode::OK, head.resource("completed", Value::Array(output), usage, None))
            }
            Ok((text, usage, _)) => (StatusCode::OK, head.completed(&text, usage)),
            Err(message) => {
                tracing::warn!(%message, "openresponses: non-stream response failed");
                (StatusCode::INTERNAL_SERVER_ERROR, head.failed("api_error", "internal error", Usage::default()))
            }
        };
        Ok(respond(status, JSON, Bytes::from(body.to_string())))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ResponseSessions> {
        self.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Records the session a response ran in, once it has an outcome.
struct Remember {
    responses: Responses,
    session_key: String,
    scope: Scope,
}

impl Remember {
    fn store(&self, response_id: &str) {
        self.responses.lock().store(response_id, &self.session_key, self.scope.clone(), clock::wall().0);
    }
}

/// Who is asking, for `previous_response_id` (http.md §3.3).
fn scope(headers: &HeaderMap, agent: &str) -> Scope {
    let auth_subject = match crate::http::auth::bearer(headers) {
        Some(secret) => {
            let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
            let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
            format!("bearer:{hex}")
        }
        None => "gateway-auth:none".into(),
    };
    let requested_session_key = headers
        .get("x-openclaw-session-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    Scope { auth_subject, agent: agent.to_owned(), requested_session_key }
}

/// `tool_choice` applied to `tools` (the reference's `applyToolChoice`): what the model is
/// offered, the instruction added to the system prompt and the constraint the run must meet.
fn tool_choice(request: &ResponsesRequest) -> Result<Offered, String> {
    let choice = match &request.tool_choice {
        None | Some(ToolChoice::Auto) => None,
        Some(ToolChoice::None) => Some(Choice::None),
        Some(ToolChoice::Required) => Some(Choice::Required),
        Some(ToolChoice::Function(name)) => {
            let name = name.trim();
            if name.is_empty() {
                return Err("tool_choice.name is required".into());
            }
            Some(Choice::Function(name.to_owned()))
        }
    };
    tools::apply(request.tools.clone(), choice)
}

/// A `function_call` output item (`status` only in the streamed `output_item.done`).
fn function_call_item(call: &PendingCall, status: Option<&str>) -> Value {
    let mut item = json!({ "type": "function_call", "id": format!("call_{}", random_uuid()), "call_id": call.id,
        "name": call.name, "arguments": call.arguments });
    if let Some(status) = status {
        item["status"] = json!(status);
    }
    item
}

/// What every object of one response shares.
struct Head {
    id: String,
    item_id: String,
    created_at: u64,
    model: String,
}

impl Head {
    fn resource(&self, status: &str, output: Value, usage: Usage, error: Option<Value>) -> Value {
        let mut v = json!({
            "id": self.id, "object": "response", "created_at": self.created_at, "status": status,
            "model": self.model, "output": output, "usage": usage_json(usage),
        });
        if let Some(error) = error {
            v["error"] = error;
        }
        v
    }

    fn item(&self, text: &str, status: &str) -> Value {
        json!({ "type": "message", "id": self.item_id, "role": "assistant",
            "content": [{ "type": "output_text", "text": text }], "phase": "final_answer", "status": status })
    }

    fn completed(&self, text: &str, usage: Usage) -> Value {
        let text = if text.is_empty() { NO_RESPONSE } else { text };
        self.resource("completed", json!([self.item(text, "completed")]), usage, None)
    }

    fn failed(&self, code: &str, message: &str, usage: Usage) -> Value {
        self.resource("failed", json!([]), usage, Some(json!({ "code": code, "message": message })))
    }
}

/// The reference's `toOpenAiResponsesUsage` (no cache or reasoning counts here: zeros).
fn usage_json(u: Usage) -> Value {
    json!({
        "input_tokens": u.prompt, "input_tokens_details": { "cached_tokens": 0, "cache_write_tokens": 0 },
        "output_tokens": u.completion, "output_tokens_details": { "reasoning_tokens": 0 },
        "total_tokens": u.total.max(u.prompt + u.completion),
    })
}

/// A run the hub refused to start: a failed resource (the caller's fault: 400).
fn failed_start(head: &Head, e: &HttpError, remember: &Remember) -> hyper::Response<crate::http::Body> {
    tracing::warn!(error = %e, "openresponses: the run did not start");
    let (status, code, message) = match e {
        HttpError::BadRequest(m) => (StatusCode::BAD_REQUEST, "invalid_request_error", m.as_str()),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "api_error", "internal error"),
    };
    remember.store(&head.id);
    respond(status, JSON, Bytes::from(head.failed(code, message, Usage::default()).to_string()))
}

/// Feeds the event stream (http.md §3.5). A client that goes away drops `run`, which aborts it.
async fn stream(run: Result<AgentRun, HttpError>, sse: sse::SseSender, head: Head, constraint: Option<Constraint>, remember: Remember) {
    let initial = head.resource("in_progress", json!([]), Usage::default(), None);
    let added = json!({ "type": "message", "id": head.item_id, "role": "assistant", "content": [], "status": "in_progress" });
    let at = |kind: &str| json!({ "type": kind, "item_id": head.item_id, "output_index": 0, "content_index": 0 });
    let opening = [
        json!({ "type": "response.created", "response": initial }),
        json!({ "type": "response.in_progress", "response": initial }),
        json!({ "type": "response.output_item.added", "output_index": 0, "item": added }),
        {
            let mut e = at("response.content_part.added");
            e["part"] = json!({ "type": "output_text", "text": "" });
            e
        },
    ];
    for event in &opening {
        if send(&sse, event).await.is_err() {
            return;
        }
    }
    let mut run = match run {
        Ok(run) => run,
        Err(e) => {
            tracing::warn!(error = %e, "openresponses: the run did not start");
            remember.store(&head.id);
            let failed = match &e {
                HttpError::BadRequest(m) => head.failed("invalid_request_error", m, Usage::default()),
                _ => head.failed("api_error", "internal error", Usage::default()),
            };
            let _ = finish(&sse, &json!({ "type": "response.failed", "response": failed })).await;
            return;
        }
    };
    let mut streamed = String::new();
    let mut held = String::new();
    let end = loop {
        let event = tokio::select! {
            event = run.next() => event,
            () = sse.closed() => return,
        };
        match event {
            Some(RunEvent::Delta(d)) if constraint.is_some() => held.push_str(&d), // held back until the calls are known
            Some(RunEvent::Delta(d)) => {
                streamed.push_str(&d);
                let mut e = at("response.output_text.delta");
                e["delta"] = json!(d);
                if send(&sse, &e).await.is_err() {
                    return;
                }
            }
            Some(RunEvent::Done { text, usage, tool_calls }) => break Ok((text, usage, tool_calls)),
            Some(RunEvent::Failed(message)) => break Err(message),
            None => break Err("run ended without a result".into()),
        }
    };
    remember.store(&head.id);
    let (text, usage, calls) = match end {
        Ok(done) => done,
        Err(message) => {
            tracing::warn!(%message, "openresponses: streaming response failed");
            let failed = head.failed("api_error", "internal error", Usage::default());
            let _ = finish(&sse, &json!({ "type": "response.failed", "response": failed })).await;
            return;
        }
    };
    if let Some(c) = constraint.as_ref().filter(|c| !c.satisfied_by(&calls)) {
        let failed = head.failed("api_error", &c.unmet_message(), usage);
        let _ = finish(&sse, &json!({ "type": "response.failed", "response": failed })).await;
        return;
    }
    let fallback = if calls.is_empty() { NO_RESPONSE } else { "" };
    let final_text = [text, held, streamed.clone()].into_iter().find(|t| !t.is_empty()).unwrap_or_else(|| fallback.to_owned());
    let Some(rest) = final_text.strip_prefix(streamed.as_str()) else {
        let message = "Assistant output cannot be represented as an append-only response stream.";
        let failed = head.failed("server_error", message, usage);
        let _ = finish(&sse, &json!({ "type": "response.failed", "response": failed })).await;
        return;
    };
    let mut events = Vec::new();
    if !rest.is_empty() {
        let mut e = at("response.output_text.delta");
        e["delta"] = json!(rest);
        events.push(e);
    }
    let mut done = at("response.output_text.done");
    done["text"] = json!(final_text);
    events.push(done);
    let mut part_done = at("response.content_part.done");
    part_done["part"] = json!({ "type": "output_text", "text": final_text });
    events.push(part_done);
    let mut item = head.item(&final_text, "completed");
    if !calls.is_empty() {
        item["phase"] = json!("commentary");
    }
    events.push(json!({ "type": "response.output_item.done", "output_index": 0, "item": item }));
    // A tool turn: each call as its own output item after the message.
    let mut output = vec![item];
    for call in &calls {
        let added = function_call_item(call, None);
        let mut completed = added.clone();
        completed["status"] = json!("completed");
        let index = output.len();
        events.push(json!({ "type": "response.output_item.added", "output_index": index, "item": added }));
        events.push(json!({ "type": "response.output_item.done", "output_index": index, "item": completed }));
        output.push(completed);
    }
    for event in &events {
        if send(&sse, event).await.is_err() {
            return;
        }
    }
    let completed = if calls.is_empty() {
        head.completed(&final_text, usage)
    } else {
        head.resource("completed", Value::Array(output), usage, None)
    };
    let _ = finish(&sse, &json!({ "type": "response.completed", "response": completed })).await;
}

/// One named event: `event: <type>` and its JSON.
async fn send(sse: &sse::SseSender, event: &Value) -> Result<(), sse::Disconnected> {
    let kind = event["type"].as_str().unwrap_or("message");
    sse.event(kind, &event.to_string()).await
}

/// The last event, then `data: [DONE]`.
async fn finish(sse: &sse::SseSender, event: &Value) -> Result<(), sse::Disconnected> {
    send(sse, event).await?;
    sse.data("[DONE]").await
}
