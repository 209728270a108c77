//! The two provider wire formats: `openai-completions` (Chat Completions, any OpenAI-compatible
//! server) and `anthropic-messages`. Pure: request bodies, stream-event interpretation and
//! error classification; the HTTP exchange lives in `attempt.rs`.

use openclaw_core::turn::ChatMessage;
use openclaw_core::wire::agent::{ImageInput, RunErrorKind, RunFailure, ToolCall, Usage};
use serde_json::{json, Value};

use super::config::{Api, ProviderConfig};

/// A transcript entry (`{role, content, …}`, channels-agent-nodes.md §7.3) as the model sees
/// it; `None` for entries that carry nothing to send (an empty failed reply).
pub(crate) fn message_from_transcript(m: &Value) -> Option<ChatMessage> {
    let texts = plain_text;
    match m["role"].as_str()? {
        "user" => Some(ChatMessage::User(texts(&m["content"]))),
        // A failed turn's record (its text is the error) is not part of the conversation.
        "assistant" if m["stopReason"] == "error" => None,
        "assistant" => {
            let calls: Vec<ToolCall> = m["content"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["type"] == "toolCall")
                .filter_map(|p| {
                    Some(ToolCall {
                        id: p["id"].as_str()?.to_owned(),
                        name: p["name"].as_str()?.to_owned(),
                        args: p.get("arguments").cloned().unwrap_or_else(|| json!({})),
                    })
                })
                .collect();
            let text = texts(&m["content"]);
            (!text.is_empty() || !calls.is_empty()).then_some(ChatMessage::Assistant { text, calls })
        }
        "toolResult" => Some(ChatMessage::ToolResult {
            call_id: m["toolCallId"].as_str()?.to_owned(),
            name: m["toolName"].as_str().unwrap_or("").to_owned(),
            text: texts(&m["content"]),
            is_error: m["isError"] == true,
        }),
        _ => None,
    }
}

/// The text parts of a message's `content` (a string, or `[{type:"text", text}, …]`), joined.
pub(crate) fn plain_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| p["type"] == "text")
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::Object(_) => String::new(),
    }
}

/// A tool as the model is offered it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments.
    pub parameters: Value,
}

/// A piece of the tool call at `index` of this reply: its id and name arrive first, then its
/// JSON arguments in fragments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ToolCallFragment {
    pub index: u64,
    pub id: Option<String>,
    pub name: Option<String>,
    pub args: String,
}

/// What one stream event meant.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum StreamItem {
    Delta(String),
    /// Pieces of tool calls (OpenAI may send several calls in one event).
    ToolCalls(Vec<ToolCallFragment>),
    Usage(Usage),
    /// The model declined (content filter, `refusal` stop reason).
    Refused(String),
    /// The provider reported an error inside the stream.
    Error(RunFailure),
    /// The stream is complete.
    Done,
    Nothing,
}

/// Largest reply requested from providers that need a bound (Anthropic).
const MAX_OUTPUT_TOKENS: u32 = 4096;

/// The URL and headers for a streaming request.
pub(crate) fn endpoint(p: &ProviderConfig) -> (String, Vec<(&'static str, String)>) {
    let base = p.base_url.trim_end_matches('/');
    let mut headers = vec![("accept", "text/event-stream".to_owned())];
    match p.api {
        Api::OpenAiCompletions => {
            if let Some(key) = &p.api_key {
                headers.push(("authorization", format!("Bearer {key}")));
            }
            (format!("{base}/chat/completions"), headers)
        }
        Api::AnthropicMessages => {
            if let Some(key) = &p.api_key {
                headers.push(("x-api-key", key.clone()));
            }
            headers.push(("anthropic-version", "2023-06-01".to_owned()));
            let url = if base.ends_with("/v1") { format!("{base}/messages") } else { format!("{base}/v1/messages") };
            (url, headers)
        }
    }
}

/// The JSON body of a streaming request. `images` go with the last user message (the run's
/// turn), after its text.
pub(crate) fn request_body(
    api: Api,
    model: &str,
    system: Option<&str>,
    messages: &[ChatMessage],
    tools: &[ToolSpec],
    images: &[ImageInput],
) -> Value {
    let messages = complete_tool_pairs(messages);
    let turn = messages.iter().rposition(|m| matches!(m, ChatMessage::User(_)));
    match api {
        Api::OpenAiCompletions => {
            let mut all = Vec::with_capacity(messages.len() + 1);
            if let Some(system) = system {
                all.push(json!({ "role": "system", "content": system }));
            }
            all.extend(messages.iter().enumerate().map(|(i, m)| match m {
                ChatMessage::User(text) if Some(i) == turn && !images.is_empty() => {
                    let mut parts = vec![json!({ "type": "text", "text": text })];
                    parts.extend(images.iter().map(|img| {
                        json!({ "type": "image_url", "image_url": { "url": format!("data:{};base64,{}", img.mime_type, img.data) } })
                    }));
                    json!({ "role": "user", "content": parts })
                }
                other => openai_message(other),
            }));
            let mut body = json!({ "model": model, "messages": all, "stream": true,
                                   "stream_options": { "include_usage": true } });
            if !tools.is_empty() {
                let tools: Vec<Value> = tools
                    .iter()
                    .map(|t| json!({ "type": "function", "function": {
                        "name": t.name, "description": t.description, "parameters": t.parameters } }))
                    .collect();
                body["tools"] = json!(tools);
            }
            body
        }
        Api::AnthropicMessages => {
            let mut body = json!({ "model": model, "max_tokens": MAX_OUTPUT_TOKENS,
                                   "messages": anthropic_messages(&messages, turn, images), "stream": true });
            if let Some(system) = system {
                body["system"] = json!(system);
            }
            if !tools.is_empty() {
                let tools: Vec<Value> = tools
                    .iter()
                    .map(|t| json!({ "name": t.name, "description": t.description, "input_schema": t.parameters }))
                    .collect();
                body["tools"] = json!(tools);
            }
            body
        }
    }
}

/// Both APIs reject a tool call without its result (a run cut short between the two) and a
/// result without its call (history cut at the limit): the first gets an error result, the
/// second is dropped.
fn complete_tool_pairs(messages: &[ChatMessage]) -> Vec<ChatMessage> {
    let mut out: Vec<ChatMessage> = Vec::with_capacity(messages.len());
    let mut open: Vec<ToolCall> = Vec::new();
    let close = |open: &mut Vec<ToolCall>, out: &mut Vec<ChatMessage>| {
        for c in open.drain(..) {
            out.push(ChatMessage::ToolResult {
                call_id: c.id,
                name: c.name,
                text: "the run ended before this tool call finished".into(),
                is_error: true,
            });
        }
    };
    for m in messages {
        match m {
            ChatMessage::ToolResult { call_id, .. } => {
                if let Some(i) = open.iter().position(|c| &c.id == call_id) {
                    open.remove(i);
                    out.push(m.clone());
                }
            }
            ChatMessage::Assistant { calls, .. } => {
                close(&mut open, &mut out);
                open.extend(calls.iter().cloned());
                out.push(m.clone());
            }
            ChatMessage::User(_) => {
                close(&mut open, &mut out);
                out.push(m.clone());
            }
        }
    }
    close(&mut open, &mut out);
    out
}

fn openai_message(m: &ChatMessage) -> Value {
    match m {
        ChatMessage::User(text) => json!({ "role": "user", "content": text }),
        ChatMessage::Assistant { text, calls } if calls.is_empty() => json!({ "role": "assistant", "content": text }),
        ChatMessage::Assistant { text, calls } => {
            let calls: Vec<Value> = calls
                .iter()
                .map(|c| json!({ "id": c.id, "type": "function",
                                 "function": { "name": c.name, "arguments": c.args.to_string() } }))
                .collect();
            let content = if text.is_empty() { Value::Null } else { json!(text) };
            json!({ "role": "assistant", "content": content, "tool_calls": calls })
        }
        ChatMessage::ToolResult { call_id, text, .. } => json!({ "role": "tool", "tool_call_id": call_id, "content": text }),
    }
}

/// Anthropic wants strictly alternating roles: tool results travel as `tool_result` blocks of
/// a user turn, and neighbouring turns of one role are merged.
fn anthropic_messages(messages: &[ChatMessage], turn: Option<usize>, images: &[ImageInput]) -> Vec<Value> {
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let (role, blocks) = match m {
            ChatMessage::User(text) => {
                let mut blocks = vec![json!({ "type": "text", "text": text })];
                if Some(i) == turn {
                    blocks.extend(images.iter().map(|img| {
                        json!({ "type": "image", "source": { "type": "base64", "media_type": img.mime_type, "data": img.data } })
                    }));
                }
                ("user", blocks)
            }
            ChatMessage::Assistant { text, calls } => {
                let mut blocks = Vec::new();
                if !text.is_empty() {
                    blocks.push(json!({ "type": "text", "text": text }));
                }
                blocks.extend(calls.iter().map(|c| json!({ "type": "tool_use", "id": c.id, "name": c.name, "input": c.args })));
                ("assistant", blocks)
            }
            ChatMessage::ToolResult { call_id, text, is_error, .. } => (
                "user",
                vec![json!({ "type": "tool_result", "tool_use_id": call_id, "content": text, "is_error": is_error })],
            ),
        };
        match turns.last_mut() {
            Some((r, b)) if *r == role => b.extend(blocks),
            Some(_) | None => turns.push((role, blocks)),
        }
    }
    // The conversation must open with the user (a history cut at the limit may not).
    let first_user = turns.iter().position(|(role, _)| *role == "user").unwrap_or(turns.len());
    turns
        .into_iter()
        .skip(first_user)
        .map(|(role, blocks)| {
            // A lone text block travels as a plain string, as simple clients send it.
            match blocks.as_slice() {
                [one] if one["type"] == "text" => json!({ "role": role, "content": one["text"] }),
                _ => json!({ "role": role, "content": blocks }),
            }
        })
        .collect()
}

/// Interprets one SSE event of the stream.
pub(crate) fn stream_item(api: Api, event: &str, data: &str) -> StreamItem {
    if api == Api::OpenAiCompletions && data.trim() == "[DONE]" {
        return StreamItem::Done;
    }
    let Ok(v) = serde_json::from_str::<Value>(data) else { return StreamItem::Nothing };
    if let Some(err) = v.get("error").filter(|e| e.is_object()) {
        return StreamItem::Error(classify(None, &err.to_string()));
    }
    match api {
        Api::OpenAiCompletions => {
            if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
                return StreamItem::Usage(Usage { input: n("prompt_tokens"), output: n("completion_tokens") });
            }
            let choice = &v["choices"][0];
            if choice["finish_reason"] == "content_filter" {
                return StreamItem::Refused("the provider's content filter stopped the reply".into());
            }
            if let Some(refusal) = choice["delta"]["refusal"].as_str().filter(|r| !r.is_empty()) {
                return StreamItem::Refused(refusal.to_owned());
            }
            if let Some(calls) = choice["delta"]["tool_calls"].as_array().filter(|c| !c.is_empty()) {
                let fragments = calls
                    .iter()
                    .enumerate()
                    .map(|(i, call)| ToolCallFragment {
                        index: call["index"].as_u64().unwrap_or(i as u64),
                        id: call["id"].as_str().filter(|s| !s.is_empty()).map(str::to_owned),
                        name: call["function"]["name"].as_str().filter(|s| !s.is_empty()).map(str::to_owned),
                        args: call["function"]["arguments"].as_str().unwrap_or("").to_owned(),
                    })
                    .collect();
                return StreamItem::ToolCalls(fragments);
            }
            match choice["delta"]["content"].as_str() {
                Some(text) if !text.is_empty() => StreamItem::Delta(text.to_owned()),
                Some(_) | None => StreamItem::Nothing,
            }
        }
        Api::AnthropicMessages => match event {
            "content_block_delta" if v["delta"]["type"] == "text_delta" => {
                StreamItem::Delta(v["delta"]["text"].as_str().unwrap_or("").to_owned())
            }
            "content_block_start" if v["content_block"]["type"] == "tool_use" => {
                let block = &v["content_block"];
                // `input` is `{}` here; the arguments follow as `input_json_delta` fragments.
                let args = block["input"]
                    .as_object()
                    .filter(|o| !o.is_empty())
                    .map_or_else(String::new, |_| block["input"].to_string());
                StreamItem::ToolCalls(vec![ToolCallFragment {
                    index: v["index"].as_u64().unwrap_or(0),
                    id: block["id"].as_str().map(str::to_owned),
                    name: block["name"].as_str().map(str::to_owned),
                    args,
                }])
            }
            "content_block_delta" if v["delta"]["type"] == "input_json_delta" => {
                StreamItem::ToolCalls(vec![ToolCallFragment {
                    index: v["index"].as_u64().unwrap_or(0),
                    id: None,
                    name: None,
                    args: v["delta"]["partial_json"].as_str().unwrap_or("").to_owned(),
                }])
            }
            "message_start" => {
                let input = v["message"]["usage"]["input_tokens"].as_u64().unwrap_or(0);
                StreamItem::Usage(Usage { input, output: 0 })
            }
            "message_delta" => {
                if v["delta"]["stop_reason"] == "refusal" {
                    return StreamItem::Refused("the model refused to answer".into());
                }
                match v["usage"]["output_tokens"].as_u64() {
                    Some(output) => StreamItem::Usage(Usage { input: 0, output }),
                    None => StreamItem::Nothing,
                }
            }
            "message_stop" => StreamItem::Done,
            _ => StreamItem::Nothing,
        },
    }
}

/// Maps an HTTP status (or an in-stream error) and its body onto the reference's error kinds.
pub(crate) fn classify(status: Option<u16>, body: &str) -> RunFailure {
    let lower = body.to_ascii_lowercase();
    let preview: String = provider_message(body).chars().take(300).collect();
    let kind = if status == Some(429) || lower.contains("rate_limit") || lower.contains("rate limit") {
        RunErrorKind::RateLimit
    } else if ["context_length_exceeded", "maximum context length", "prompt is too long", "context window"]
        .iter()
        .any(|needle| lower.contains(needle))
    {
        RunErrorKind::ContextLength
    } else if matches!(status, Some(408 | 504)) || lower.contains("timeout") {
        RunErrorKind::Timeout
    } else if lower.contains("refusal") || lower.contains("content_filter") {
        RunErrorKind::Refusal
    } else {
        RunErrorKind::Unknown
    };
    let what = match kind {
        RunErrorKind::RateLimit => "rate limited",
        RunErrorKind::ContextLength => "context length exceeded",
        RunErrorKind::Timeout => "provider timed out",
        RunErrorKind::Refusal => "refused",
        RunErrorKind::Unknown => "provider error",
    };
    let message = match status {
        Some(s) => format!("{what} (HTTP {s}): {preview}"),
        None => format!("{what}: {preview}"),
    };
    RunFailure { kind, message, http_status: status }
}

/// Worth retrying the same model: rate limits, overload and server errors.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 429 || status == 408 || (500..=599).contains(&status)
}

/// `error.message` of a JSON error body, else the body itself.
fn provider_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let found = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message").or_else(|| v.get("message")).and_then(Value::as_str).map(str::to_owned)
    });
    found.unwrap_or_else(|| body.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_stream_items() {
        let api = Api::OpenAiCompletions;
        let d = r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#;
        assert_eq!(stream_item(api, "", d), StreamItem::Delta("Hi".into()));
        let u = r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#;
        assert_eq!(stream_item(api, "", u), StreamItem::Usage(Usage { input: 3, output: 2 }));
        assert_eq!(stream_item(api, "", "[DONE]"), StreamItem::Done);
        let f = r#"{"choices":[{"delta":{},"finish_reason":"content_filter"}]}"#;
        assert!(matches!(stream_item(api, "", f), StreamItem::Refused(_)));
    }

    #[test]
    fn anthropic_stream_items() {
        let api = Api::AnthropicMessages;
        let d = r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Yo"}}"#;
        assert_eq!(stream_item(api, "content_block_delta", d), StreamItem::Delta("Yo".into()));
        let r = r#"{"type":"message_delta","delta":{"stop_reason":"refusal"}}"#;
        assert!(matches!(stream_item(api, "message_delta", r), StreamItem::Refused(_)));
        assert_eq!(stream_item(api, "message_stop", "{}"), StreamItem::Done);
        let e = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert!(matches!(stream_item(api, "error", e), StreamItem::Error(_)));
    }

    #[test]
    fn errors_are_classified() {
        assert_eq!(classify(Some(429), "{}").kind, RunErrorKind::RateLimit);
        let ctx = r#"{"error":{"code":"context_length_exceeded","message":"too long"}}"#;
        let f = classify(Some(400), ctx);
        assert_eq!(f.kind, RunErrorKind::ContextLength);
        assert_eq!(f.message, "context length exceeded (HTTP 400): too long");
        assert_eq!(classify(Some(500), "boom").kind, RunErrorKind::Unknown);
        assert!(is_retryable_status(503) && is_retryable_status(429) && !is_retryable_status(400));
    }

    #[test]
    fn images_go_with_the_turn() {
        let img = ImageInput { mime_type: "image/png".into(), data: "iVBO".into() };
        let msgs = [ChatMessage::User("old".into()), ChatMessage::Assistant { text: "a".into(), calls: vec![] }, ChatMessage::User("look".into())];
        let b = request_body(Api::OpenAiCompletions, "m", None, &msgs, &[], std::slice::from_ref(&img));
        assert_eq!(b["messages"][0], json!({"role":"user","content":"old"}));
        assert_eq!(b["messages"][2], json!({"role":"user","content":[{"type":"text","text":"look"},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBO"}}]}));
        let b = request_body(Api::AnthropicMessages, "m", None, &msgs, &[], &[img]);
        assert_eq!(b["messages"][2], json!({"role":"user","content":[{"type":"text","text":"look"},
            {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}}]}));
    }

    #[test]
    fn bodies() {
        let msgs = [ChatMessage::User("hi".into())];
        let b = request_body(Api::OpenAiCompletions, "m", Some("sys"), &msgs, &[], &[]);
        assert_eq!(b["messages"][0], json!({"role":"system","content":"sys"}));
        assert!(b.get("tools").is_none());
        let b = request_body(Api::AnthropicMessages, "m", Some("sys"), &msgs, &[], &[]);
        assert_eq!(b["system"], "sys");
        assert_eq!(b["messages"][0], json!({"role":"user","content":"hi"}));
    }

    fn tool_turn() -> Vec<ChatMessage> {
        let call = |id: &str| ToolCall { id: id.into(), name: "read".into(), args: json!({"path": "a"}) };
        vec![
            ChatMessage::User("hi".into()),
            ChatMessage::Assistant { text: "let me look".into(), calls: vec![call("c1"), call("c2")] },
            ChatMessage::ToolResult { call_id: "c1".into(), name: "read".into(), text: "A".into(), is_error: false },
            // c2 never got its result (the run was cut short); a stray result has no call.
            ChatMessage::ToolResult { call_id: "zz".into(), name: "read".into(), text: "?".into(), is_error: false },
            ChatMessage::User("and?".into()),
        ]
    }

    #[test]
    fn openai_tool_history_and_tools() {
        let spec = ToolSpec { name: "read".into(), description: "Read a file".into(), parameters: json!({"type":"object"}) };
        let b = request_body(Api::OpenAiCompletions, "m", None, &tool_turn(), &[spec], &[]);
        assert_eq!(b["tools"][0]["function"]["name"], "read");
        let m = b["messages"].as_array().unwrap();
        assert_eq!(m.len(), 5, "{b}");
        assert_eq!(m[1]["tool_calls"][1], json!({"id":"c2","type":"function","function":{"name":"read","arguments":"{\"path\":\"a\"}"}}));
        assert_eq!(m[2], json!({"role":"tool","tool_call_id":"c1","content":"A"}));
        assert_eq!(m[3]["tool_call_id"], "c2", "the missing result is filled in");
        assert_eq!(m[4], json!({"role":"user","content":"and?"}));
    }

    #[test]
    fn anthropic_tool_history_alternates() {
        let spec = ToolSpec { name: "read".into(), description: "Read a file".into(), parameters: json!({"type":"object"}) };
        let b = request_body(Api::AnthropicMessages, "m", None, &tool_turn(), &[spec], &[]);
        assert_eq!(b["tools"][0]["input_schema"], json!({"type":"object"}));
        let m = b["messages"].as_array().unwrap();
        let roles: Vec<&str> = m.iter().map(|t| t["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["user", "assistant", "user"], "{b}");
        assert_eq!(m[1]["content"][1], json!({"type":"tool_use","id":"c1","name":"read","input":{"path":"a"}}));
        let results = m[2]["content"].as_array().unwrap();
        assert_eq!(results[0], json!({"type":"tool_result","tool_use_id":"c1","content":"A","is_error":false}));
        assert_eq!(results[1]["is_error"], true);
        assert_eq!(results[2], json!({"type":"text","text":"and?"}));
    }

    #[test]
    fn failed_turns_are_not_sent_back() {
        let failed = json!({"role":"assistant","content":[{"type":"text","text":"rate limited"}],"stopReason":"error"});
        assert_eq!(message_from_transcript(&failed), None);
        let ok = json!({"role":"assistant","content":[{"type":"text","text":"hi"}],"stopReason":"stop"});
        assert_eq!(message_from_transcript(&ok), Some(ChatMessage::Assistant { text: "hi".into(), calls: vec![] }));
    }

    #[test]
    fn anthropic_history_opens_with_the_user() {
        let msgs = [ChatMessage::Assistant { text: "old".into(), calls: vec![] }, ChatMessage::User("hi".into())];
        let b = request_body(Api::AnthropicMessages, "m", None, &msgs, &[], &[]);
        assert_eq!(b["messages"], json!([{"role":"user","content":"hi"}]));
    }

    #[test]
    fn tool_call_fragments() {
        let d = r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"ls","arguments":""}}]}}]}"#;
        let frag = ToolCallFragment { index: 0, id: Some("call_1".into()), name: Some("ls".into()), args: String::new() };
        assert_eq!(stream_item(Api::OpenAiCompletions, "", d), StreamItem::ToolCalls(vec![frag]));
        let d = r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"pa"}}]}}]}"#;
        let frag = ToolCallFragment { index: 0, id: None, name: None, args: "{\"pa".into() };
        assert_eq!(stream_item(Api::OpenAiCompletions, "", d), StreamItem::ToolCalls(vec![frag]));
        let api = Api::AnthropicMessages;
        let s = r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"ls","input":{}}}"#;
        let frag = ToolCallFragment { index: 1, id: Some("toolu_1".into()), name: Some("ls".into()), args: String::new() };
        assert_eq!(stream_item(api, "content_block_start", s), StreamItem::ToolCalls(vec![frag]));
        let d = r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"path\""}}"#;
        let frag = ToolCallFragment { index: 1, id: None, name: None, args: "{\"path\"".into() };
        assert_eq!(stream_item(api, "content_block_delta", d), StreamItem::ToolCalls(vec![frag]));
    }
}
