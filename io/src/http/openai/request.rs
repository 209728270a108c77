//! `POST /v1/chat/completions` request bodies, parsed once into [`ChatRequest`] (http.md §2.3),
//! and the agent turn they become: system/developer messages join the extra system prompt, the
//! last `user`/`tool` message is the turn, earlier ones are rendered as context the way the
//! reference renders them.

use serde_json::{Map, Value};

use super::routing::AgentTarget;
use super::tools::{self, Choice, ClientTool, Offered};
use crate::http::HttpError;

/// At most this many `image_url` parts in the active turn (`maxImageParts`).
const MAX_IMAGE_PARTS: usize = 8;
/// What an image-only turn says (the images go to the model beside it).
const IMAGE_ONLY_TEXT: &str = "User sent image(s) with no text.";

/// Who said a message; other roles are ignored, as by the reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// `system` and `developer`.
    System,
    User,
    Assistant,
    /// `tool` (and its alias `function`).
    Tool,
}

impl Role {
    fn parse(role: &str) -> Option<Self> {
        match role {
            "system" | "developer" => Some(Self::System),
            "user" => Some(Self::User),
            "assistant" => Some(Self::Assistant),
            "tool" | "function" => Some(Self::Tool),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::System => "System",
            Self::User => "User",
            Self::Assistant => "Assistant",
            Self::Tool => "Tool",
        }
    }
}

/// One message: its role, its text parts joined with `\n` (an assistant's `tool_calls` added
/// as `tool_call id=… name=… arguments=…` lines), how many images it carried, and who it is
/// from in the rendered conversation (`Tool:<tool_call_id>` for a tool result).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Message {
    pub role: Role,
    pub text: String,
    /// The `data:` URLs of its `image_url` parts.
    pub images: Vec<String>,
    pub sender: String,
    /// A `tool` message answering a call (it counts even when empty).
    pub tool_result: bool,
}

/// A validated chat completions request.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ChatRequest {
    /// Echoed in every answer (`openclaw` when absent or not a string).
    pub model: String,
    pub target: AgentTarget,
    pub messages: Vec<Message>,
    pub stream: bool,
    /// `stream_options.include_usage`: a trailing usage chunk.
    pub include_usage: bool,
    /// `user`: a stable session per user.
    pub user: Option<String>,
    /// `tools` after `tool_choice`: what the model is offered.
    pub tools: Offered,
}

/// The agent turn a request becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Turn {
    pub message: String,
    pub extra_system_prompt: Option<String>,
}

impl ChatRequest {
    /// Parses `body`. Errors are 400s naming the field (`messages.1.role: …`) or the
    /// reference's own sentences.
    pub(crate) fn parse(body: &Value) -> Result<Self, HttpError> {
        let obj = body.as_object().ok_or_else(|| invalid("", "object", body))?;
        let model = obj.get("model").and_then(Value::as_str).unwrap_or("openclaw").to_owned();
        let target = AgentTarget::from_model(&model)?;
        let messages = match obj.get("messages") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    if let Some(m) = message(i, item)? {
                        out.push(m);
                    }
                }
                out
            }
            Some(other) => return Err(invalid("messages", "array", other)),
        };
        let stream = match obj.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(invalid("stream", "boolean", other)),
        };
        let include_usage = match obj.get("stream_options") {
            None | Some(Value::Null) => false,
            Some(Value::Object(o)) => match o.get("include_usage") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => return Err(invalid("stream_options.include_usage", "boolean", other)),
            },
            Some(other) => return Err(invalid("stream_options", "object", other)),
        };
        let user = match obj.get("user") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
            Some(other) => return Err(invalid("user", "string", other)),
        };
        let tools = client_tools(obj).map_err(|detail| HttpError::BadRequest(format!("Invalid tools/tool_choice: {detail}")))?;
        let request = Self { model, target, messages, stream, include_usage, user, tools };
        if request.active_turn().is_none() {
            return Err(HttpError::BadRequest("Missing user message in `messages`.".into()));
        }
        Ok(request)
    }

    /// The index of the active turn: the last `user` or `tool` message.
    fn active_turn(&self) -> Option<usize> {
        self.messages.iter().rposition(|m| matches!(m.role, Role::User | Role::Tool))
    }

    /// The `data:` URLs of the active turn's images.
    pub(crate) fn turn_images(&self) -> &[String] {
        self.active_turn().map_or(&[], |i| self.messages[i].images.as_slice())
    }

    /// The agent turn: the active message, with earlier conversation as context.
    pub(crate) fn turn(&self) -> Turn {
        let system: Vec<&str> =
            self.messages.iter().filter(|m| m.role == Role::System).map(|m| m.text.as_str()).filter(|t| !t.is_empty()).collect();
        let extra_system_prompt = (!system.is_empty()).then(|| system.join("\n\n"));
        let Some(active) = self.active_turn() else {
            return Turn { message: String::new(), extra_system_prompt };
        };
        let current = &self.messages[active];
        let current_text = if current.text.trim().is_empty() && !current.images.is_empty() {
            IMAGE_ONLY_TEXT.to_owned()
        } else {
            current.text.clone()
        };
        let history: Vec<String> = self.messages[..active]
            .iter()
            .filter(|m| m.role != Role::System && (!m.text.is_empty() || m.tool_result))
            .map(|m| format!("{}: {}", m.sender, m.text))
            .collect();
        let message = if history.is_empty() && current.role != Role::Tool {
            current_text
        } else if history.is_empty() {
            format!("{}: {}", current.sender, current_text)
        } else {
            format!(
                "[Chat messages since your last reply - for context]\n{}\n\n[Current message - respond to this]\n{}: {}",
                history.join("\n"),
                current.sender,
                current_text
            )
        };
        // `tool_choice`'s instruction joins the system prompt.
        let extra_system_prompt = match (extra_system_prompt, self.tools.prompt.clone()) {
            (Some(a), Some(b)) => Some(format!("{a}\n\n{b}")),
            (a, b) => a.or(b),
        };
        Turn { message, extra_system_prompt }
    }
}

/// `messages[i]`: `None` for a role the reference ignores.
fn message(i: usize, item: &Value) -> Result<Option<Message>, HttpError> {
    let field = |name: &str| format!("messages.{i}.{name}");
    let obj = item.as_object().ok_or_else(|| invalid(&format!("messages.{i}"), "object", item))?;
    let role = match obj.get("role") {
        Some(Value::String(r)) => r,
        Some(other) => return Err(invalid(&field("role"), "string", other)),
        None => return Err(invalid(&field("role"), "string", &Value::Null)),
    };
    let function = role == "function";
    let Some(role) = Role::parse(role) else { return Ok(None) };
    let (text, images) = content(&field("content"), obj.get("content").unwrap_or(&Value::Null))?;
    let mut text = text.trim().to_owned();
    if role == Role::Assistant {
        let calls = assistant_tool_calls(obj.get("tool_calls"));
        if !calls.is_empty() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&calls.join("\n"));
        }
    }
    let trimmed = |k: &str| obj.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let (name, call_id) = (trimmed("name"), trimmed("tool_call_id"));
    let tool_result = role == Role::Tool && if function { name.is_some() } else { call_id.is_some() };
    let sender = match role {
        Role::Tool => match call_id.or(name) {
            Some(id) => format!("Tool:{id}"),
            None => "Tool".to_owned(),
        },
        other => other.label().to_owned(),
    };
    if text.is_empty() && images.is_empty() && !tool_result && role != Role::System {
        return Ok(None);
    }
    Ok(Some(Message { role, text, images, sender, tool_result }))
}

/// An assistant message's `tool_calls` as the reference renders them into the conversation
/// (`tool_call id=<id> name=<name> arguments=<json>`; calls without an id or name are left out).
fn assistant_tool_calls(value: Option<&Value>) -> Vec<String> {
    let Some(Value::Array(calls)) = value else { return Vec::new() };
    calls
        .iter()
        .filter_map(|call| {
            let id = call.get("id").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())?;
            let function = call.get("function").filter(|f| f.is_object())?;
            let name = function.get("name").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())?;
            let arguments = match function.get("arguments") {
                Some(Value::String(s)) => s.clone(),
                None | Some(Value::Null) => String::new(),
                Some(other) => other.to_string(),
            };
            Some(format!("tool_call id={id} name={name} arguments={arguments}"))
        })
        .collect()
}

/// A message's text (string, or the text of its parts joined with `\n`) and its image count.
fn content(field: &str, value: &Value) -> Result<(String, Vec<String>), HttpError> {
    match value {
        Value::Null => Ok((String::new(), Vec::new())),
        Value::String(s) => Ok((s.clone(), Vec::new())),
        Value::Array(parts) => {
            let mut texts = Vec::new();
            let mut images = Vec::new();
            for part in parts {
                let Some(p) = part.as_object() else { continue };
                match p.get("type").and_then(Value::as_str) {
                    Some("text" | "input_text") => {
                        if let Some(t) = p.get("text").and_then(Value::as_str) {
                            texts.push(t.to_owned());
                        }
                    }
                    Some("image_url") => {
                        images.push(check_image(p)?.to_owned());
                        if images.len() > MAX_IMAGE_PARTS {
                            return Err(bad_image());
                        }
                    }
                    _ => {
                        if let Some(t) = p.get("input_text").and_then(Value::as_str) {
                            texts.push(t.to_owned());
                        }
                    }
                }
            }
            Ok((texts.join("\n"), images))
        }
        other @ (Value::Bool(_) | Value::Number(_) | Value::Object(_)) => Err(invalid(field, "string or array", other)),
    }
}

/// `image_url: "<url>" | {url}`: only `data:…;base64,…` URIs (`images.allowUrl` is off).
fn check_image(part: &Map<String, Value>) -> Result<&str, HttpError> {
    let url = match part.get("image_url") {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Object(o)) => o.get("url").and_then(Value::as_str).unwrap_or(""),
        _ => "",
    };
    let ok = url
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(','))
        .is_some_and(|(meta, data)| meta.contains(";base64") && !data.is_empty());
    if ok {
        Ok(url)
    } else {
        Err(bad_image())
    }
}

fn bad_image() -> HttpError {
    HttpError::BadRequest("Invalid image_url content in `messages`.".into())
}

/// `tools` and `tool_choice` (http.md §2.3, the reference's `extractClientToolsFromChatRequest`
/// and `resolveChatToolChoice`), applied as [`tools::apply`]. The error is the detail of
/// `Invalid tools/tool_choice: …`.
fn client_tools(obj: &Map<String, Value>) -> Result<Offered, String> {
    let mut list = Vec::new();
    match obj.get("tools") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for tool in items {
                let Some(tool) = tool.as_object() else { return Err("each tool must be an object".into()) };
                if tool.get("type").and_then(Value::as_str) != Some("function") {
                    return Err("only function tools are supported".into());
                }
                let Some(function) = tool.get("function").and_then(Value::as_object) else {
                    return Err("tool.function is required".into());
                };
                let name = function.get("name").and_then(Value::as_str).map(str::trim).unwrap_or("");
                if name.is_empty() {
                    return Err("tool.function.name is required".into());
                }
                list.push(ClientTool {
                    name: name.to_owned(),
                    description: function.get("description").and_then(Value::as_str).map(str::to_owned),
                    parameters: function.get("parameters").filter(|p| p.is_object()).cloned(),
                });
            }
        }
        Some(_) => return Err("tools must be an array".into()),
    }
    let choice = match obj.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "auto" => None,
        Some(Value::String(s)) if s == "none" => Some(Choice::None),
        Some(Value::String(s)) if s == "required" => Some(Choice::Required),
        Some(Value::Object(o)) => match o.get("type") {
            Some(Value::String(t)) if t == "function" => {
                let name = o.get("function").and_then(|f| f.get("name")).and_then(Value::as_str).map(str::trim).unwrap_or("");
                if name.is_empty() {
                    return Err("tool_choice.function.name is required".into());
                }
                Some(Choice::Function(name.to_owned()))
            }
            Some(Value::String(t)) => return Err(format!("tool_choice {t} is not supported")),
            _ => return Err("unsupported tool_choice type".into()),
        },
        Some(_) => return Err("tool_choice must be a string or object".into()),
    };
    tools::apply(list, choice)
}

/// A zod-style message: `<path>: Invalid input: expected <what>, received <kind>`.
fn invalid(path: &str, expected: &str, got: &Value) -> HttpError {
    HttpError::BadRequest(format!("{path}: Invalid input: expected {expected}, received {}", kind(got)))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message_of(err: HttpError) -> String {
        let HttpError::BadRequest(m) = err else { panic!("{err:?}") };
        m
    }

    #[test]
    fn one_user_message_is_the_turn() {
        let r = ChatRequest::parse(&json!({"model":"openclaw","messages":[{"role":"user","content":"hi"}]})).unwrap();
        assert_eq!(r.turn(), Turn { message: "hi".into(), extra_system_prompt: None });
        assert!(!r.stream);
        assert_eq!(r.model, "openclaw");
    }

    #[test]
    fn history_and_system_are_rendered_as_the_reference_does() {
        let r = ChatRequest::parse(&json!({"messages":[
            {"role":"system","content":"be brief"},
            {"role":"developer","content":"no lists"},
            {"role":"user","content":"first q"},
            {"role":"assistant","content":"first a"},
            {"role":"critic","content":"ignored"},
            {"role":"user","content":[{"type":"text","text":"second"},{"type":"input_text","text":"q"}]}
        ]}))
        .unwrap();
        assert_eq!(r.model, "openclaw");
        let turn = r.turn();
        assert_eq!(turn.extra_system_prompt.as_deref(), Some("be brief\n\nno lists"));
        assert_eq!(
            turn.message,
            "[Chat messages since your last reply - for context]\nUser: first q\nAssistant: first a\n\n\
             [Current message - respond to this]\nUser: second\nq"
        );
    }

    #[test]
    fn bad_bodies_name_the_field() {
        let cases = [
            (json!([1]), ": Invalid input: expected object, received array"),
            (json!({"messages":"x"}), "messages: Invalid input: expected array, received string"),
            (json!({"messages":[{"role":"user","content":7}]}), "messages.0.content: Invalid input: expected string or array, received number"),
            (json!({"messages":[{"content":"x"}]}), "messages.0.role: Invalid input: expected string, received null"),
            (json!({"messages":[{"role":"user","content":"x"}],"stream":"yes"}), "stream: Invalid input: expected boolean, received string"),
            (json!({"messages":[{"role":"user","content":"x"}],"user":1}), "user: Invalid input: expected string, received number"),
            (json!({}), "Missing user message in `messages`."),
            (json!({"messages":[{"role":"system","content":"x"}]}), "Missing user message in `messages`."),
            (json!({"model":"gpt-4","messages":[{"role":"user","content":"x"}]}), "Invalid `model`. Use `openclaw` or `openclaw/<agentId>`."),
            (json!({"messages":[{"role":"user","content":"x"}],"tools":{}}), "Invalid tools/tool_choice: tools must be an array"),
            (json!({"messages":[{"role":"user","content":"x"}],"tool_choice":"required"}), "Invalid tools/tool_choice: tool_choice=required but no tools were provided"),
            (json!({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x/y.png"}}]}]}), "Invalid image_url content in `messages`."),
        ];
        for (body, expected) in cases {
            assert_eq!(message_of(ChatRequest::parse(&body).unwrap_err()), expected, "{body}");
        }
    }

    #[test]
    fn an_image_only_turn_gets_placeholder_text() {
        let r = ChatRequest::parse(&json!({"messages":[{"role":"user","content":[
            {"type":"image_url","image_url":"data:image/png;base64,iVBORw0KGgo="}]}]}))
        .unwrap();
        assert_eq!(r.turn().message, IMAGE_ONLY_TEXT);
        let nine: Vec<Value> = (0..9).map(|_| json!({"type":"image_url","image_url":"data:image/png;base64,AA=="})).collect();
        let err = ChatRequest::parse(&json!({"messages":[{"role":"user","content":nine}]})).unwrap_err();
        assert_eq!(message_of(err), "Invalid image_url content in `messages`.");
    }

    #[test]
    fn stream_options_and_user() {
        let r = ChatRequest::parse(&json!({"stream":true,"stream_options":{"include_usage":true},"user":" bob ",
            "messages":[{"role":"user","content":"x"}]}))
        .unwrap();
        assert!(r.stream && r.include_usage);
        assert_eq!(r.user.as_deref(), Some("bob"));
    }
}
