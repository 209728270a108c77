//! `POST /v1/responses` (http.md §3, OpenResponses): one agent run per request, answered as a
//! response resource or as named server-sent events (`response.created` …
//! `response.completed`, then `[DONE]`). Failures after the request was accepted are answered
//! with a failed response resource, not the error envelope, as the reference does.
//!
//! Client function tools (`tools`, `tool_choice`) are validated as the reference validates
//! them and `tool_choice` adds its instruction to the system prompt, but the agent runtime has
//! no client tools yet: the model is never offered them, so a run never ends in a
//! `function_call` item and a `required`/pinned `tool_choice` is never satisfied (502, as the
//! reference answers when the model makes no call).

mod fetch;
mod media;
mod request;
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
        let (tool_prompt, constraint) = tool_choice(&request).map_err(|reason| {
            tracing::warn!(%reason, "openresponses: tool configuration failed");
            HttpError::BadRequest("invalid tool configuration".into())
        })?;
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
        let run = RunRequest { agent, session_key: session_key.clone(), run_id: head.id.clone(), turn };
        let remember = Remember { responses: self, session_key, scope };
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
                Some(RunEvent::Done { text, usage }) => break Ok((if text.is_empty() { streamed } else { text }, usage)),
                Some(RunEvent::Failed(message)) => break Err(message),
                None => break Err("run ended without a result".into()),
            }
        };
        remember.store(&head.id);
        let (status, body) = match outcome {
            Ok((_, usage)) if constraint.is_some() => {
                let message = unsatisfied(constraint.as_ref());
                (StatusCode::BAD_GATEWAY, head.failed("api_error", &message, usage))
            }
            Ok((text, usage)) => (StatusCode::OK, head.completed(&text, usage)),
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

/// `tool_choice` applied to `tools` (the reference's `applyToolChoice`): the instruction it
/// adds to the system prompt and the constraint the run must meet.
fn tool_choice(request: &ResponsesRequest) -> Result<(Option<String>, Option<ToolChoice>), String> {
    match &request.tool_choice {
        None | Some(ToolChoice::Auto | ToolChoice::None) => Ok((None, None)),
        Some(ToolChoice::Required) => {
            if request.tools.is_empty() {
                return Err("tool_choice=required but no tools were provided".into());
            }
            Ok((Some("You must call one of the available tools before responding.".into()), Some(ToolChoice::Required)))
        }
        Some(ToolChoice::Function(name)) => {
            let name = name.trim();
            if name.is_empty() {
                return Err("tool_choice.name is required".into());
            }
            if !request.tools.iter().any(|t| t.name == name) {
                return Err(format!("tool_choice requested unknown tool: {name}"));
            }
            Ok((Some(format!("You must call the {name} tool before responding.")), Some(ToolChoice::Function(name.to_owned()))))
        }
    }
}

fn unsatisfied(constraint: Option<&ToolChoice>) -> String {
    match constraint {
        Some(ToolChoice::Function(name)) => format!("tool_choice required a {name} tool call, but the agent did not produce one"),
        _ => "tool_choice=required was not satisfied by the agent response".into(),
    }
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
async fn stream(run: Result<AgentRun, HttpError>, sse: sse::SseSender, head: Head, constraint: Option<ToolChoice>, remember: Remember) {
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
            let failed = head.failed("api_error", "internal error", Usage::default());
            let _ = finish(&sse, &json!({ "type": "response.failed", "response": failed })).await;
            return;
        }
    };
    let mut streamed = String::new();
    let end = loop {
        let event = tokio::select! {
            event = run.next() => event,
            () = sse.closed() => return,
        };
        match event {
            Some(RunEvent::Delta(d)) => {
                streamed.push_str(&d);
                if constraint.is_some() {
                    continue; // a tool-choice constraint holds prose back
                }
                let mut e = at("response.output_text.delta");
                e["delta"] = json!(d);
                if send(&sse, &e).await.is_err() {
                    return;
                }
            }
            Some(RunEvent::Done { text, usage }) => break Ok((text, usage)),
            Some(RunEvent::Failed(message)) => break Err(message),
            None => break Err("run ended without a result".into()),
        }
    };
    remember.store(&head.id);
    let (text, usage) = match end {
        Ok(done) => done,
        Err(message) => {
            tracing::warn!(%message, "openresponses: streaming response failed");
            let failed = head.failed("api_error", "internal error", Usage::default());
            let _ = finish(&sse, &json!({ "type": "response.failed", "response": failed })).await;
            return;
        }
    };
    if constraint.is_some() {
        let failed = head.failed("api_error", &unsatisfied(constraint.as_ref()), usage);
        let _ = finish(&sse, &json!({ "type": "response.failed", "response": failed })).await;
        return;
    }
    let final_text = if !text.is_empty() {
        text
    } else if !streamed.is_empty() {
        streamed.clone()
    } else {
        NO_RESPONSE.to_owned()
    };
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
    events.push(json!({ "type": "response.output_item.done", "output_index": 0, "item": head.item(&final_text, "completed") }));
    for event in &events {
        if send(&sse, event).await.is_err() {
            return;
        }
    }
    let _ = finish(&sse, &json!({ "type": "response.completed", "response": head.completed(&final_text, usage) })).await;
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
