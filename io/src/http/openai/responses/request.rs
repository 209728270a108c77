//! `POST /v1/responses` bodies parsed once into [`ResponsesRequest`] (http.md §3.2) against the
//! strict schema ([`super::schema`]), and the agent prompt they become: system/developer
//! messages join the extra system prompt, the last user message or tool output is the turn,
//! earlier messages and tool calls are rendered as context, as the reference does.

use serde_json::{Map, Value};

use super::schema::{self as s, at, Issues, NumberRule};
use crate::http::HttpError;

/// `input`: a plain string or a list of items.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Input {
    Text(String),
    Items(Vec<Item>),
}

/// Who wrote a `message` item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// `system` and `developer`.
    System,
    User,
    Assistant,
}

/// One input item; `reasoning` and `item_reference` are accepted and ignored.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Item {
    Message { role: Role, content: Content },
    FunctionCall { call_id: Option<String>, id: Option<String>, name: String, arguments: String },
    FunctionCallOutput { call_id: String, output: String },
    Ignored,
}

/// A message's content.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Content {
    Text(String),
    Parts(Vec<Part>),
}

/// One content part.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Part {
    /// `input_text` or `output_text`.
    Text(String),
    Image(Source),
    File(Source),
}

/// Where an image or file comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    Url(String),
    Base64 { media_type: String, data: String, filename: Option<String> },
}

/// A client function tool (`{type:"function", name, description?, parameters?, strict?}`).
pub(crate) use super::super::tools::ClientTool as FunctionTool;

/// `tool_choice`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ToolChoice {
    Auto,
    None,
    Required,
    Function(String),
}

/// A validated request.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ResponsesRequest {
    /// Echoed in the response (the agent target, as for chat completions).
    pub model: String,
    pub input: Input,
    pub instructions: Option<String>,
    pub tools: Vec<FunctionTool>,
    pub tool_choice: Option<ToolChoice>,
    pub stream: bool,
    pub user: Option<String>,
    pub previous_response_id: Option<String>,
}

const TOP_KEYS: [&str; 17] = [
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "text",
    "stream",
    "max_output_tokens",
    "max_tool_calls",
    "user",
    "temperature",
    "top_p",
    "metadata",
    "store",
    "previous_response_id",
    "reasoning",
    "truncation",
];

impl ResponsesRequest {
    /// Checks `body` against the schema; the first issue is the 400's message.
    pub(crate) fn parse(body: &Value) -> Result<Self, HttpError> {
        let mut issues = Issues::default();
        let parsed = parse_body(&mut issues, body);
        match (issues.0.first(), parsed) {
            (Some(issue), _) => Err(HttpError::BadRequest(issue.render())),
            (None, Some(request)) => Ok(request),
            (None, None) => Err(HttpError::BadRequest("Invalid request body".into())),
        }
    }

    /// The agent prompt (http.md §3.2 "Prompt building").
    pub(crate) fn prompt(&self) -> Prompt {
        let items = match &self.input {
            Input::Text(text) => return Prompt { message: text.clone(), extra_system_prompt: None, active_user: None },
            Input::Items(items) => items,
        };
        let active_user = active_user_message(items);
        let mut system = Vec::new();
        let mut entries: Vec<Entry> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item {
                Item::Message { role, content } => {
                    let mut body = content_text(content).trim().to_owned();
                    if body.is_empty() && Some(i) == active_user {
                        body = placeholder(content).to_owned();
                    }
                    if body.is_empty() {
                        continue;
                    }
                    match role {
                        Role::System => system.push(body),
                        Role::User => entries.push(Entry { role: EntryRole::User, sender: "User".into(), body }),
                        Role::Assistant => entries.push(Entry { role: EntryRole::Assistant, sender: "Assistant".into(), body }),
                    }
                }
                Item::FunctionCall { call_id, id, name, arguments } => {
                    let id = call_id.as_ref().or(id.as_ref()).map_or("", String::as_str);
                    let body = format!("tool_call id={id} name={name} arguments={arguments}");
                    entries.push(Entry { role: EntryRole::Assistant, sender: "Assistant".into(), body });
                }
                Item::FunctionCallOutput { call_id, output } => {
                    entries.push(Entry { role: EntryRole::Tool, sender: format!("Tool:{call_id}"), body: output.clone() });
                }
                Item::Ignored => {}
            }
        }
        let extra_system_prompt = (!system.is_empty()).then(|| system.join("\n\n"));
        Prompt { message: conversation_message(&entries), extra_system_prompt, active_user }
    }
}

/// What the agent is asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Prompt {
    pub message: String,
    pub extra_system_prompt: Option<String>,
    /// The index of the item whose images and files reach the model (the last user message,
    /// unless a tool output came after it).
    pub active_user: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum EntryRole {
    User,
    Assistant,
    Tool,
}

struct Entry {
    role: EntryRole,
    sender: String,
    body: String,
}

/// The reference's `buildAgentMessageFromConversationEntries`: the last user/tool entry is
/// the current message (else the last entry); entries before it become history; entries after
/// it are dropped.
fn conversation_message(entries: &[Entry]) -> String {
    if entries.is_empty() {
        return String::new();
    }
    let current = entries.iter().rposition(|e| matches!(e.role, EntryRole::User | EntryRole::Tool)).unwrap_or(entries.len() - 1);
    let history: Vec<String> = entries[..current].iter().map(|e| format!("{}: {}", e.sender, e.body)).collect();
    let entry = &entries[current];
    if history.is_empty() && entry.role != EntryRole::Tool {
        return entry.body.clone();
    }
    // `buildHistoryContext` with no history: the current message alone, with its sender.
    if history.iter().all(|h| h.trim().is_empty()) {
        return format!("{}: {}", entry.sender, entry.body);
    }
    format!(
        "[Chat messages since your last reply - for context]\n{}\n\n[Current message - respond to this]\n{}: {}",
        history.join("\n"),
        entry.sender,
        entry.body
    )
}

fn active_user_message(items: &[Item]) -> Option<usize> {
    for (i, item) in items.iter().enumerate().rev() {
        match item {
            Item::FunctionCallOutput { .. } => return None,
            Item::Message { role: Role::User, .. } => return Some(i),
            _ => {}
        }
    }
    None
}

fn content_text(content: &Content) -> String {
    match content {
        Content::Text(t) => t.clone(),
        Content::Parts(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) if !t.is_empty() => Some(t.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// What an active turn with only media says.
fn placeholder(content: &Content) -> &'static str {
    let Content::Parts(parts) = content else { return "" };
    if parts.iter().any(|p| matches!(p, Part::Image(_))) {
        "User sent image(s) with no text."
    } else if parts.iter().any(|p| matches!(p, Part::File(_))) {
        "User sent file(s) with no text."
    } else {
        ""
    }
}

fn parse_body(issues: &mut Issues, body: &Value) -> Option<ResponsesRequest> {
    let obj = s::object(issues, "", Some(body))?;
    let model = s::string(issues, "model", obj.get("model"));
    let input = match obj.get("input") {
        Some(Value::String(t)) => Some(Input::Text(t.clone())),
        Some(Value::Array(items)) => issues.union("input", |inner| {
            let parsed: Vec<Option<Item>> = items.iter().enumerate().map(|(i, v)| item(inner, &at("input", i), v)).collect();
            parsed.into_iter().collect::<Option<Vec<_>>>().map(Input::Items)
        }),
        _ => {
            issues.fatal("input", "Invalid input".into());
            None
        }
    };
    let instructions = s::opt_string(issues, "instructions", obj.get("instructions"));
    let tools = tools(issues, obj.get("tools"));
    let tool_choice = obj.get("tool_choice").and_then(|v| tool_choice(issues, v));
    if let Some(text) = obj.get("text") {
        if let Some(t) = s::object(issues, "text", Some(text)) {
            if let Some(format) = s::object(issues, "text.format", t.get("format")) {
                s::literal(issues, "text.format.type", format.get("type"), "text");
                s::unknown_keys(issues, "text.format", format, &["type"]);
            }
            s::unknown_keys(issues, "text", t, &["format"]);
        }
    }
    let stream = s::opt_bool(issues, "stream", obj.get("stream")).unwrap_or(false);
    s::opt_number(issues, "max_output_tokens", obj.get("max_output_tokens"), NumberRule::PositiveInt);
    s::opt_number(issues, "max_tool_calls", obj.get("max_tool_calls"), NumberRule::PositiveInt);
    let user = s::opt_string(issues, "user", obj.get("user"));
    s::opt_number(issues, "temperature", obj.get("temperature"), NumberRule::Between(0.0, 2.0));
    s::opt_number(issues, "top_p", obj.get("top_p"), NumberRule::Between(0.0, 1.0));
    s::opt_string_record(issues, "metadata", obj.get("metadata"));
    s::opt_bool(issues, "store", obj.get("store"));
    let previous_response_id = s::opt_string(issues, "previous_response_id", obj.get("previous_response_id"));
    if let Some(reasoning) = obj.get("reasoning") {
        if let Some(r) = s::object(issues, "reasoning", Some(reasoning)) {
            s::opt_one_of(issues, "reasoning.effort", r.get("effort"), &["low", "medium", "high"]);
            s::opt_one_of(issues, "reasoning.summary", r.get("summary"), &["auto", "concise", "detailed"]);
        }
    }
    s::opt_one_of(issues, "truncation", obj.get("truncation"), &["auto", "disabled"]);
    s::unknown_keys(issues, "", obj, &TOP_KEYS);
    Some(ResponsesRequest {
        model: model?,
        input: input?,
        instructions,
        tools: tools?,
        tool_choice,
        stream,
        user,
        previous_response_id,
    })
}

fn item(issues: &mut Issues, path: &str, v: &Value) -> Option<Item> {
    let Some(obj) = v.as_object() else {
        issues.fatal(path, "Invalid input".into());
        return None;
    };
    let status = |issues: &mut Issues, o: &Map<String, Value>| {
        s::opt_one_of(issues, &at(path, "status"), o.get("status"), &["in_progress", "completed", "incomplete"]);
    };
    let before = issues.0.len();
    let out = match obj.get("type").and_then(Value::as_str) {
        Some("message") => {
            s::opt_string(issues, &at(path, "id"), obj.get("id"));
            let role = s::one_of(issues, &at(path, "role"), obj.get("role"), &["system", "developer", "user", "assistant"]);
            let content = content(issues, &at(path, "content"), obj.get("content"));
            let phase = s::opt_one_of(issues, &at(path, "phase"), obj.get("phase"), &["commentary", "final_answer"]);
            status(issues, obj);
            s::unknown_keys(issues, path, obj, &["type", "id", "role", "content", "phase", "status"]);
            if issues.0.len() == before && phase.is_some() && role.as_deref() != Some("assistant") {
                issues.soft(&at(path, "phase"), "`phase` is only valid on assistant messages.".into());
            }
            let role = match role?.as_str() {
                "system" | "developer" => Role::System,
                "user" => Role::User,
                _ => Role::Assistant,
            };
            Some(Item::Message { role, content: content? })
        }
        Some("function_call") => {
            let id = s::opt_string(issues, &at(path, "id"), obj.get("id"));
            let call_id = s::opt_string(issues, &at(path, "call_id"), obj.get("call_id"));
            let name = s::string(issues, &at(path, "name"), obj.get("name"));
            let arguments = s::string(issues, &at(path, "arguments"), obj.get("arguments"));
            status(issues, obj);
            s::unknown_keys(issues, path, obj, &["type", "id", "call_id", "name", "arguments", "status"]);
            Some(Item::FunctionCall { call_id, id, name: name?, arguments: arguments? })
        }
        Some("function_call_output") => {
            let call_id = s::string(issues, &at(path, "call_id"), obj.get("call_id"));
            let output = s::string(issues, &at(path, "output"), obj.get("output"));
            s::unknown_keys(issues, path, obj, &["type", "call_id", "output"]);
            Some(Item::FunctionCallOutput { call_id: call_id?, output: output? })
        }
        Some("reasoning") => {
            for key in ["content", "encrypted_content", "summary"] {
                s::opt_string(issues, &at(path, key), obj.get(key));
            }
            s::unknown_keys(issues, path, obj, &["type", "content", "encrypted_content", "summary"]);
            Some(Item::Ignored)
        }
        Some("item_reference") => {
            s::string(issues, &at(path, "id"), obj.get("id"));
            s::unknown_keys(issues, path, obj, &["type", "id"]);
            Some(Item::Ignored)
        }
        _ => {
            issues.fatal(&at(path, "type"), "Invalid input".into());
            None
        }
    };
    out
}

fn content(issues: &mut Issues, path: &str, v: Option<&Value>) -> Option<Content> {
    match v {
        Some(Value::String(t)) => Some(Content::Text(t.clone())),
        Some(Value::Array(parts)) => issues.union(path, |inner| {
            let parsed: Vec<Option<Part>> = parts.iter().enumerate().map(|(i, p)| part(inner, &at(path, i), p)).collect();
            parsed.into_iter().collect::<Option<Vec<_>>>().map(Content::Parts)
        }),
        _ => {
            issues.fatal(path, "Invalid input".into());
            None
        }
    }
}

const IMAGE_MIMES: [&str; 6] = ["image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif"];

fn part(issues: &mut Issues, path: &str, v: &Value) -> Option<Part> {
    let Some(obj) = v.as_object() else {
        issues.fatal(path, "Invalid input".into());
        return None;
    };
    let kind = obj.get("type").and_then(Value::as_str);
    let out = match kind {
        Some("input_text" | "output_text") => s::string(issues, &at(path, "text"), obj.get("text")).map(Part::Text),
        Some("input_image") => source(issues, &at(path, "source"), obj.get("source"), true).map(Part::Image),
        Some("input_file") => source(issues, &at(path, "source"), obj.get("source"), false).map(Part::File),
        _ => {
            issues.fatal(&at(path, "type"), "Invalid input".into());
            return None;
        }
    };
    let known: &[&str] = if matches!(kind, Some("input_text" | "output_text")) { &["type", "text"] } else { &["type", "source"] };
    s::unknown_keys(issues, path, obj, known);
    out
}

fn source(issues: &mut Issues, path: &str, v: Option<&Value>, image: bool) -> Option<Source> {
    let obj = s::object(issues, path, v)?;
    match obj.get("type").and_then(Value::as_str) {
        Some("url") => s::url(issues, &at(path, "url"), obj.get("url")).map(Source::Url),
        Some("base64") => {
            let media_type = if image {
                s::one_of(issues, &at(path, "media_type"), obj.get("media_type"), &IMAGE_MIMES)
            } else {
                s::non_empty(issues, &at(path, "media_type"), obj.get("media_type"), None)
            };
            let data = s::non_empty(issues, &at(path, "data"), obj.get("data"), None);
            let filename = if image { None } else { s::opt_string(issues, &at(path, "filename"), obj.get("filename")) };
            Some(Source::Base64 { media_type: media_type?, data: data?, filename })
        }
        _ => {
            issues.fatal(&at(path, "type"), "Invalid input".into());
            None
        }
    }
}

fn tools(issues: &mut Issues, v: Option<&Value>) -> Option<Vec<FunctionTool>> {
    let Some(v) = v else { return Some(Vec::new()) };
    let Some(list) = v.as_array() else {
        issues.fatal("tools", format!("Invalid input: expected array, received {}", s::kind(Some(v))));
        return None;
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, tool) in list.iter().enumerate() {
        let path = at("tools", i);
        let Some(obj) = s::object(issues, &path, Some(tool)) else { continue };
        s::literal(issues, &at(&path, "type"), obj.get("type"), "function");
        let name = s::non_empty(issues, &at(&path, "name"), obj.get("name"), Some("Tool name cannot be empty"));
        let description = s::opt_string(issues, &at(&path, "description"), obj.get("description"));
        if let Some(p) = obj.get("parameters") {
            if !p.is_object() {
                issues.fatal(&at(&path, "parameters"), format!("Invalid input: expected record, received {}", s::kind(Some(p))));
            }
        }
        s::opt_bool(issues, &at(&path, "strict"), obj.get("strict"));
        s::unknown_keys(issues, &path, obj, &["type", "name", "description", "parameters", "strict"]);
        if let Some(name) = name {
            let parameters = obj.get("parameters").filter(|p| p.is_object()).cloned();
            out.push(FunctionTool { name, description, parameters });
        }
    }
    Some(out)
}

/// `"auto"|"none"|"required"|{type:"function",name}|{type:"function",function:{name}}`.
fn tool_choice(issues: &mut Issues, v: &Value) -> Option<ToolChoice> {
    match v {
        Value::String(x) if x == "auto" => return Some(ToolChoice::Auto),
        Value::String(x) if x == "none" => return Some(ToolChoice::None),
        Value::String(x) if x == "required" => return Some(ToolChoice::Required),
        _ => {}
    }
    let Some(obj) = v.as_object() else {
        issues.fatal("tool_choice", "Invalid input".into());
        return None;
    };
    // The two object shapes; the one that fits (or the one with only soft issues) wins.
    let mut flat = Issues::default();
    s::literal(&mut flat, "tool_choice.type", obj.get("type"), "function");
    let flat_name = s::non_empty(&mut flat, "tool_choice.name", obj.get("name"), None);
    s::unknown_keys(&mut flat, "tool_choice", obj, &["type", "name"]);
    let mut nested = Issues::default();
    s::literal(&mut nested, "tool_choice.type", obj.get("type"), "function");
    let nested_name = s::object(&mut nested, "tool_choice.function", obj.get("function"))
        .and_then(|f| s::non_empty(&mut nested, "tool_choice.function.name", f.get("name"), None));
    s::unknown_keys(&mut nested, "tool_choice", obj, &["type", "function"]);
    if flat.0.is_empty() {
        return flat_name.map(ToolChoice::Function);
    }
    if nested.0.is_empty() {
        return nested_name.map(ToolChoice::Function);
    }
    let viable: Vec<Issues> = [flat, nested].into_iter().filter(|i| !i.0.iter().any(|x| x.fatal)).collect();
    match <[Issues; 1]>::try_from(viable) {
        Ok([only]) => issues.0.extend(only.0),
        Err(_) => issues.fatal("tool_choice", "Invalid input".into()),
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message_of(body: Value) -> String {
        match ResponsesRequest::parse(&body) {
            Err(HttpError::BadRequest(m)) => m,
            other => panic!("{body}: {other:?}"),
        }
    }

    /// Each row was checked against the reference's own schema (zod) with the same body.
    #[test]
    fn bad_bodies_get_the_references_first_issue() {
        let rows = [
            (json!({"input":"hi"}), "model: Invalid input: expected string, received undefined"),
            (json!({"model":"x","input":"hi","foo":1}), ": Unrecognized key: \"foo\""),
            (json!({"model":"x","input":"hi","foo":1,"bar":2}), ": Unrecognized keys: \"foo\", \"bar\""),
            (json!({"model":"x","input":5}), "input: Invalid input"),
            (json!({"model":"x","input":[{"type":"nope"}]}), "input: Invalid input"),
            (json!({"model":"x","input":[{"type":"message","role":"user","content":"x","extra":1}]}), "input.0: Unrecognized key: \"extra\""),
            (json!({"model":"x","input":[{"type":"message","role":"bot","content":"x"}]}), "input: Invalid input"),
            (json!({"model":"x","input":"x","stream":"yes"}), "stream: Invalid input: expected boolean, received string"),
            (json!({"model":"x","input":"x","tools":[{"type":"function","name":""}]}), "tools.0.name: Tool name cannot be empty"),
            (json!({"model":"x","input":"x","tools":[{"type":"function"}]}), "tools.0.name: Invalid input: expected string, received undefined"),
            (json!({"model":"x","input":"x","tool_choice":"bad"}), "tool_choice: Invalid input"),
            (json!({"model":"x","input":"x","temperature":3}), "temperature: Too big: expected number to be <=2"),
            (json!({"model":"x","input":"x","max_output_tokens":0}), "max_output_tokens: Too small: expected number to be >0"),
            (json!({"model":"x","input":"x","max_output_tokens":1.5}), "max_output_tokens: Invalid input: expected int, received number"),
            (
                json!({"model":"x","input":[{"type":"message","role":"user","content":[{"type":"input_image","source":{"type":"url","url":"notaurl"}}]}]}),
                "input.0.content.0.source.url: Invalid URL",
            ),
            (
                json!({"model":"x","input":[{"type":"message","role":"user","phase":"final_answer","content":"x"}]}),
                "input.0.phase: `phase` is only valid on assistant messages.",
            ),
            (json!({"model":5,"input":"x"}), "model: Invalid input: expected string, received number"),
            (json!({"model":"x","input":"x","metadata":{"a":1}}), "metadata.a: Invalid input: expected string, received number"),
            (json!({"model":"x","input":"x","reasoning":{"effort":"max"}}), "reasoning.effort: Invalid option: expected one of \"low\"|\"medium\"|\"high\""),
            (json!({"model":"x","input":"x","text":{"format":{"type":"json"}}}), "text.format.type: Invalid input: expected \"text\""),
            (json!({"model":"x","input":"x","user":null}), "user: Invalid input: expected string, received null"),
            (json!({"model":"x","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"a","x":1}]}]}), "input.0.content.0: Unrecognized key: \"x\""),
            (json!({"model":"x","input":[{"type":"message","role":"user","content":"x","q":1},{"type":"bad"}]}), "input: Invalid input"),
            (
                json!({"model":"x","input":[{"type":"message","role":"user","content":[{"type":"input_image","source":{"type":"base64","media_type":"image/png","data":""}}]}]}),
                "input.0.content.0.source.data: Too small: expected string to have >=1 characters",
            ),
            (json!({"model":"x","input":"x","tools":[{"type":"function","name":"a","parameters":[]}]}), "tools.0.parameters: Invalid input: expected record, received array"),
            (json!({"model":"x","input":"x","tools":[{"type":"fn","name":"a"}]}), "tools.0.type: Invalid input: expected \"function\""),
            (json!({"model":"x","input":"x","tools":{}}), "tools: Invalid input: expected array, received object"),
            (json!({"model":"x","input":"x","tool_choice":{"type":"function","name":"a","x":1}}), "tool_choice: Unrecognized key: \"x\""),
            (json!({"model":"x","input":"x","foo":1,"stream":"x"}), "stream: Invalid input: expected boolean, received string"),
            (json!({"model":"x","input":"x","text":{"x":1}}), "text.format: Invalid input: expected object, received undefined"),
            (json!({"model":"x","input":"x","tool_choice":{"type":"function"}}), "tool_choice: Invalid input"),
        ];
        for (body, expected) in rows {
            assert_eq!(message_of(body.clone()), expected, "{body}");
        }
    }

    #[test]
    fn accepted_and_ignored_fields_parse() {
        let r = ResponsesRequest::parse(&json!({"model":"openclaw","input":"hi","store":true,"metadata":{"a":"b"},
            "reasoning":{"effort":"low","foo":1},"truncation":"auto","max_tool_calls":2,"temperature":0.5,"top_p":1,
            "text":{"format":{"type":"text"}},"tool_choice":{"type":"function","function":{"name":"f"}},
            "tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],"previous_response_id":"resp_1"}))
        .unwrap();
        assert_eq!(r.tool_choice, Some(ToolChoice::Function("f".into())));
        assert_eq!(r.tools, vec![FunctionTool { name: "f".into(), description: None, parameters: Some(json!({"type":"object"})) }]);
        assert_eq!(r.previous_response_id.as_deref(), Some("resp_1"));
        assert_eq!(r.prompt(), Prompt { message: "hi".into(), extra_system_prompt: None, active_user: None });
    }

    #[test]
    fn items_become_the_references_prompt() {
        let r = ResponsesRequest::parse(&json!({"model":"openclaw","input":[
            {"type":"message","role":"system","content":"be brief"},
            {"type":"message","role":"developer","content":[{"type":"input_text","text":"no lists"}]},
            {"type":"message","role":"user","content":"what is 2+2"},
            {"type":"function_call","call_id":"c1","name":"calc","arguments":"{\"x\":1}"},
            {"type":"function_call_output","call_id":"c1","output":"4"},
            {"type":"reasoning","summary":"s"},
            {"type":"message","role":"assistant","content":[{"type":"output_text","text":"dropped: after the turn"}]}
        ]}))
        .unwrap();
        let p = r.prompt();
        assert_eq!(p.extra_system_prompt.as_deref(), Some("be brief\n\nno lists"));
        assert_eq!(p.active_user, None);
        assert_eq!(
            p.message,
            "[Chat messages since your last reply - for context]\nUser: what is 2+2\n\
             Assistant: tool_call id=c1 name=calc arguments={\"x\":1}\n\n[Current message - respond to this]\nTool:c1: 4"
        );
        let image_only = ResponsesRequest::parse(&json!({"model":"openclaw","input":[{"type":"message","role":"user",
            "content":[{"type":"input_image","source":{"type":"base64","media_type":"image/png","data":"AA=="}}]}]}))
        .unwrap();
        assert_eq!(image_only.prompt().message, "User sent image(s) with no text.");
        assert_eq!(image_only.prompt().active_user, Some(0));
        let none = ResponsesRequest::parse(&json!({"model":"openclaw","input":[]})).unwrap();
        assert_eq!(none.prompt().message, "");
    }
}
