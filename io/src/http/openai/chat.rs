//! `POST /v1/chat/completions` (http.md §2): one agent run per request, answered as one
//! `chat.completion` JSON or as `chat.completion.chunk` server-sent events ending `[DONE]`.

use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

use super::request::ChatRequest;
use super::routing::{resolve_agent, session_key};
use super::run::{AgentRun, RunEvent, RunRequest, Usage};
use crate::clock;
use crate::http::{respond, sse, HandlerResult, HttpError, HttpRequest, JSON};
use crate::identity::random_uuid;

/// An idle stream gets a `: keep-alive` comment this often.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The reply when a run produced no text.
const NO_RESPONSE: &str = "No response from OpenClaw.";

/// The handler.
pub(crate) async fn handle(req: HttpRequest) -> HandlerResult {
    let HttpRequest { parts, body, shared, .. } = req;
    let body = body.json().await?;
    let request = ChatRequest::parse(&body)?;
    let agent = resolve_agent(&parts.headers, &request.target)?;
    let session_key = session_key(&parts.headers, &agent, request.user.as_deref(), "openai")?;
    let id = format!("chatcmpl_{}", random_uuid());
    let run = RunRequest { agent, session_key, run_id: id.clone(), turn: request.turn() };
    let mut run = AgentRun::start(&shared.hub_handle, run).await?;
    let head = Head { id, created: clock::wall().0 / 1000, model: request.model.clone() };
    if request.stream {
        let (sender, response) = sse::response(KEEP_ALIVE);
        tokio::spawn(stream(run, sender, head, request.include_usage));
        return Ok(response);
    }
    let mut text = String::new();
    loop {
        match run.next().await {
            Some(RunEvent::Delta(d)) => text.push_str(&d),
            Some(RunEvent::Done { text: reply, usage }) => {
                let reply = if reply.is_empty() { text } else { reply };
                let body = head.completion(&reply, usage);
                return Ok(respond(StatusCode::OK, JSON, Bytes::from(body.to_string())));
            }
            Some(RunEvent::Failed(message)) => return Err(HttpError::Upstream(message)),
            None => return Err(HttpError::Upstream("run ended without a result".into())),
        }
    }
}

/// What every object of one completion shares.
struct Head {
    id: String,
    created: u64,
    model: String,
}

impl Head {
    fn completion(&self, text: &str, usage: Usage) -> Value {
        let text = if text.is_empty() { NO_RESPONSE } else { text };
        json!({
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": text }, "finish_reason": "stop" }],
            "usage": usage_json(usage),
        })
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> String {
        json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish_reason }],
        })
        .to_string()
    }

    fn usage_chunk(&self, usage: Usage) -> String {
        json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [], "usage": usage_json(usage),
        })
        .to_string()
    }
}

fn usage_json(u: Usage) -> Value {
    json!({ "prompt_tokens": u.prompt, "completion_tokens": u.completion, "total_tokens": u.total })
}

/// Feeds the event stream (http.md §2.6): the role chunk at once, a chunk per delta (the
/// whole text in one if none came), the finish chunk, the usage chunk if asked, `[DONE]`. A
/// failure sends an `api_error` object before `[DONE]`. A client that goes away drops `run`,
/// which aborts it.
async fn stream(mut run: AgentRun, sse: sse::SseSender, head: Head, include_usage: bool) {
    if sse.data(&head.chunk(json!({ "role": "assistant" }), None)).await.is_err() {
        return;
    }
    let mut streamed = false;
    let end = loop {
        let event = tokio::select! {
            event = run.next() => event,
            () = sse.closed() => return,
        };
        match event {
            Some(RunEvent::Delta(d)) => {
                streamed = true;
                if sse.data(&head.chunk(json!({ "content": d }), None)).await.is_err() {
                    return;
                }
            }
            Some(RunEvent::Done { text, usage }) => break Ok((text, usage)),
            Some(RunEvent::Failed(message)) => break Err(message),
            None => break Err("run ended without a result".into()),
        }
    };
    let frames = match end {
        Ok((text, usage)) => {
            let mut frames = Vec::new();
            if !streamed {
                let text = if text.is_empty() { NO_RESPONSE.to_owned() } else { text };
                frames.push(head.chunk(json!({ "content": text }), None));
            }
            frames.push(head.chunk(json!({}), Some("stop")));
            if include_usage {
                frames.push(head.usage_chunk(usage));
            }
            frames
        }
        Err(message) => {
            tracing::debug!(%message, "chat completion run failed mid-stream");
            vec![json!({ "error": { "message": "internal error", "type": "api_error" } }).to_string()]
        }
    };
    for frame in frames.iter().map(String::as_str).chain(["[DONE]"]) {
        if sse.data(frame).await.is_err() {
            return;
        }
    }
}
