//! The two provider wire formats: `openai-completions` (Chat Completions, any OpenAI-compatible
//! server) and `anthropic-messages`. Pure: request bodies, stream-event interpretation and
//! error classification; the HTTP exchange lives in `runner.rs`.

use openclaw_core::wire::agent::{RunErrorKind, RunFailure, Usage};
use serde_json::{json, Value};

use super::config::{Api, ProviderConfig};

/// One turn of the conversation sent to the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChatMessage {
    pub role: ChatRole,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChatRole {
    User,
    Assistant,
}

impl ChatRole {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Self::User),
            "assistant" => Some(Self::Assistant),
            _ => None,
        }
    }
}

/// What one stream event meant.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum StreamItem {
    Delta(String),
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

/// The JSON body of a streaming request.
pub(crate) fn request_body(api: Api, model: &str, system: Option<&str>, messages: &[ChatMessage]) -> Value {
    let turns: Vec<Value> =
        messages.iter().map(|m| json!({ "role": m.role.as_str(), "content": m.text })).collect();
    match api {
        Api::OpenAiCompletions => {
            let mut all = Vec::with_capacity(turns.len() + 1);
            if let Some(system) = system {
                all.push(json!({ "role": "system", "content": system }));
            }
            all.extend(turns);
            json!({ "model": model, "messages": all, "stream": true,
                    "stream_options": { "include_usage": true } })
        }
        Api::AnthropicMessages => {
            let mut body = json!({ "model": model, "max_tokens": MAX_OUTPUT_TOKENS, "messages": turns,
                                   "stream": true });
            if let Some(system) = system {
                body["system"] = json!(system);
            }
            body
        }
    }
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
            match choice["delta"]["content"].as_str() {
                Some(text) if !text.is_empty() => StreamItem::Delta(text.to_owned()),
                Some(_) | None => StreamItem::Nothing,
            }
        }
        Api::AnthropicMessages => match event {
            "content_block_delta" if v["delta"]["type"] == "text_delta" => {
                StreamItem::Delta(v["delta"]["text"].as_str().unwrap_or("").to_owned())
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
    fn bodies() {
        let msgs = [ChatMessage { role: ChatRole::User, text: "hi".into() }];
        let b = request_body(Api::OpenAiCompletions, "m", Some("sys"), &msgs);
        assert_eq!(b["messages"][0], json!({"role":"system","content":"sys"}));
        let b = request_body(Api::AnthropicMessages, "m", Some("sys"), &msgs);
        assert_eq!(b["system"], "sys");
        assert_eq!(b["messages"][0], json!({"role":"user","content":"hi"}));
    }
}
