//! `POST /v1/chat/completions` (http.md §2): one agent run per request, answered as one
//! `chat.completion` JSON or as `chat.completion.chunk` server-sent events ending `[DONE]`.

use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

use super::request::ChatRequest;
use super::routing::{resolve_agent, session_key};
use super::run::{AgentRun, RunEvent, RunRequest, Usage};
use super::responses::media;
use super::tools::{self, Constraint, PendingCall};
use crate::settings::{InputLimits, ResponsesInputs};
use openclaw_core::wire::agent::ImageInput;
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
    if let Some(name) = tools::conflict(&shared.settings.load().agent, &request.tools.tools) {
        tracing::warn!(tool = name, "openai-compat: a client tool takes the name of a gateway tool");
        return Err(HttpError::BadRequest("invalid tool configuration".into()));
    }
    let images = turn_images(&request).await?;
    let id = format!("chatcmpl_{}", random_uuid());
    let run = RunRequest {
        agent,
        session_key,
        run_id: id.clone(),
        turn: request.turn(),
        client_tools: request.tools.tools.clone(),
        images,
    };
    let mut run = AgentRun::start(&shared.hub_handle, run).await?;
    let head = Head { id, created: clock::wall().0 / 1000, model: request.model.clone() };
    let constraint = request.tools.constraint.clone();
    if request.stream {
        let (sender, response) = sse::response(KEEP_ALIVE);
        tokio::spawn(stream(run, sender, head, request.include_usage, constraint));
        return Ok(response);
    }
    let mut text = String::new();
    loop {
        match run.next().await {
            Some(RunEvent::Delta(d)) => text.push_str(&d),
            Some(RunEvent::Done { text: reply, usage, tool_calls }) => {
                if let Some(c) = constraint.as_ref().filter(|c| !c.satisfied_by(&tool_calls)) {
                    return Err(HttpError::Upstream(c.unmet_message()));
                }
                let reply = if reply.is_empty() { text } else { reply };
                let body = head.completion(&reply, &tool_calls, usage);
                return Ok(respond(StatusCode::OK, JSON, Bytes::from(body.to_string())));
            }
            Some(RunEvent::Failed(message)) => return Err(HttpError::Upstream(message)),
            None => return Err(HttpError::Upstream("run ended without a result".into())),
        }
    }
}

/// The active turn's images (`data:` URLs; `images.allowUrl` is off, as the reference's
/// default), decoded and checked against the image MIME allowlist and the 10 MiB cap.
async fn turn_images(request: &ChatRequest) -> Result<Vec<ImageInput>, HttpError> {
    let limits = InputLimits { allow_url: false, ..ResponsesInputs::default().images };
    let mut images = Vec::new();
    for url in request.turn_images() {
        let source = media::data_url_source(url).ok_or_else(bad_image)?;
        let image = media::image(&source, &limits, false).await.map_err(|reason| {
            tracing::warn!(%reason, "openai-compat: invalid image_url content");
            bad_image()
        })?;
        images.push(image);
    }
    Ok(images)
}

fn bad_image() -> HttpError {
    HttpError::BadRequest("Invalid image_url content in `messages`.".into())
}

/// What every object of one completion shares.
struct Head {
    id: String,
    created: u64,
    model: String,
}

impl Head {
    /// The answer: the reply, or (a run that ended calling client tools) the commentary, which
    /// may be empty, with the calls and `finish_reason: "tool_calls"`.
    fn completion(&self, text: &str, tool_calls: &[PendingCall], usage: Usage) -> Value {
        let (message, finish_reason) = if tool_calls.is_empty() {
            let text = if text.is_empty() { NO_RESPONSE } else { text };
            (json!({ "role": "assistant", "content": text }), "stop")
        } else {
            let calls: Vec<Value> = tool_calls
                .iter()
                .map(|c| json!({ "id": c.id, "type": "function", "function": { "name": c.name, "arguments": c.arguments } }))
                .collect();
            (json!({ "role": "assistant", "content": text, "tool_calls": calls }), "tool_calls")
        };
        json!({
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
            "choices": [{ "index": 0, "message": message, "finish_reason": finish_reason }],
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
/// whole text in one if none came), the client tool calls (a head chunk per call, then its
/// arguments in pieces of at most 256 characters), the finish chunk, the usage chunk if asked,
/// `[DONE]`. Under a `tool_choice` constraint the text is held back until the calls are known.
/// A failure sends an `api_error` object before `[DONE]`. A client that goes away drops `run`,
/// which aborts it.
async fn stream(mut run: AgentRun, sse: sse::SseSender, head: Head, include_usage: bool, constraint: Option<Constraint>) {
    if sse.data(&head.chunk(json!({ "role": "assistant" }), None)).await.is_err() {
        return;
    }
    let mut streamed = String::new();
    let mut held = String::new();
    let end = loop {
        let event = tokio::select! {
            event = run.next() => event,
            () = sse.closed() => return,
        };
        match event {
            Some(RunEvent::Delta(d)) if constraint.is_some() => held.push_str(&d),
            Some(RunEvent::Delta(d)) => {
                streamed.push_str(&d);
                if sse.data(&head.chunk(json!({ "content": d }), None)).await.is_err() {
                    return;
                }
            }
            Some(RunEvent::Done { text, usage, tool_calls }) => break Ok((text, usage, tool_calls)),
            Some(RunEvent::Failed(message)) => break Err(message),
            None => break Err("run ended without a result".into()),
        }
    };
    let frames = match end {
        Ok((_, usage, calls)) if constraint.as_ref().is_some_and(|c| !c.satisfied_by(&calls)) => {
            let message = constraint.as_ref().map(Constraint::unmet_message).unwrap_or_default();
            let mut frames = Vec::new();
            if include_usage {
                frames.push(head.usage_chunk(usage));
            }
            frames.push(json!({ "error": { "message": message, "type": "api_error" } }).to_string());
            frames
        }
        Ok((text, usage, calls)) => {
            let mut frames = Vec::new();
            let fallback = if calls.is_empty() { NO_RESPONSE } else { "" };
            let text = [text, held, streamed.clone()].into_iter().find(|t| !t.is_empty()).unwrap_or_else(|| fallback.to_owned());
            match text.strip_prefix(streamed.as_str()) {
                Some(rest) => {
                    if !rest.is_empty() {
                        frames.push(head.chunk(json!({ "content": rest }), None));
                    }
                }
                None => {
                    let error = json!({ "error": { "message": "Assistant output cannot be represented as an append-only response stream.", "type": "api_error" } });
                    frames.push(error.to_string());
                }
            }
            for (index, call) in calls.iter().enumerate() {
                let first = json!({ "tool_calls": [{ "index": index, "id": call.id, "type": "function",
                    "function": { "name": call.name, "arguments": "" } }] });
                frames.push(head.chunk(first, None));
                for piece in pieces(&call.arguments, 256) {
                    frames.push(head.chunk(json!({ "tool_calls": [{ "index": index, "function": { "arguments": piece } }] }), None));
                }
            }
            frames.push(head.chunk(json!({}), Some(if calls.is_empty() { "stop" } else { "tool_calls" })));
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

/// `text` in pieces of at most `max` UTF-16 units, as the reference slices it (never splitting
/// a character); one empty piece for empty text.
fn pieces(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut units) = (0, 0);
    for (i, ch) in text.char_indices() {
        if units + ch.len_utf16() > max {
            out.push(&text[start..i]);
            start = i;
            units = 0;
        }
        units += ch.len_utf16();
    }
    out.push(&text[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_cut_in_pieces_of_at_most_256_units() {
        assert_eq!(pieces("", 256), [""]);
        assert_eq!(pieces("abcde", 2), ["ab", "cd", "e"]);
        assert_eq!(pieces("a😀b", 2), ["a", "😀", "b"], "a surrogate pair is never split");
        let long = "x".repeat(600);
        assert_eq!(pieces(&long, 256).iter().map(|p| p.len()).collect::<Vec<_>>(), [256, 256, 88]);
    }
}
