//! Mapped hooks (http.md §5.5): `hooks.mappings` (and the `gmail` preset) matched against
//! `/hooks/<name>` and the payload's `source`, rendered through `{{…}}` templates into wake or
//! agent actions; `forEach` fans out over a payload array (at most [`FAN_OUT_MAX`] items).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Source;
use crate::config::{HookActionKind, HookMappingConfig, HookSessionMode, HookWakeMode, HooksConfig};

/// Items of a `forEach` array beyond this are dropped.
pub const FAN_OUT_MAX: usize = 200;
/// Keys a template path may not walk through.
const BLOCKED_KEYS: [&str; 3] = ["__proto__", "prototype", "constructor"];

/// One mapping, normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub id: String,
    pub match_path: Option<String>,
    pub match_source: Option<String>,
    pub action: HookActionKind,
    pub wake_mode: HookWakeMode,
    pub for_each: Option<String>,
    pub name: Option<String>,
    pub agent_id: Option<String>,
    pub session_key: Option<String>,
    pub session_mode: Option<HookSessionMode>,
    pub message_template: Option<String>,
    pub text_template: Option<String>,
    pub deliver: Option<bool>,
    pub allow_unsafe_external_content: Option<bool>,
    pub channel: Option<String>,
    pub to: Option<String>,
    pub model: Option<String>,
    pub thinking: Option<String>,
    pub timeout_seconds: Option<u64>,
}

/// What a request carries that templates may read.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub payload: &'a Map<String, Value>,
    /// Header names lower-cased (repeated headers joined with `, `).
    pub headers: &'a Map<String, Value>,
    /// Query parameters (the last of a repeated name wins).
    pub query: &'a Map<String, Value>,
    /// The sub-path after the base (`github`).
    pub path: &'a str,
    /// `{{now}}`: the time as ISO 8601, from the caller.
    pub now_iso: &'a str,
}

/// A wake action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WakeAction {
    pub mapping_id: String,
    pub text: String,
    pub mode: HookWakeMode,
    pub agent_id: Option<String>,
    pub session_key: Option<String>,
    pub session_key_source: Source,
}

/// An agent action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentAction {
    pub mapping_id: String,
    pub message: String,
    pub name: Option<String>,
    pub agent_id: Option<String>,
    pub wake_mode: HookWakeMode,
    pub session_key: Option<String>,
    pub session_key_source: Source,
    pub session_mode: HookSessionMode,
    pub deliver: Option<bool>,
    pub allow_unsafe_external_content: Option<bool>,
    pub channel: Option<String>,
    pub to: Option<String>,
    pub model: Option<String>,
    pub thinking: Option<String>,
    pub timeout_seconds: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Wake(WakeAction),
    Agent(AgentAction),
}

/// What the matching mapping produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapped {
    pub actions: Vec<Action>,
    pub fanout: bool,
    /// `forEach` items beyond [`FAN_OUT_MAX`].
    pub dropped: usize,
}

fn trimmed(s: Option<&String>) -> Option<String> {
    s.map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn match_path(raw: Option<&str>) -> Option<String> {
    let t = raw?.trim();
    let t = t.trim_start_matches('/').trim_end_matches('/');
    (!t.is_empty()).then(|| t.to_owned())
}

fn gmail_preset() -> HookMappingConfig {
    HookMappingConfig {
        id: Some("gmail".into()),
        match_: Some(crate::config::HookMatchConfig { path: Some("gmail".into()), source: None }),
        action: Some(HookActionKind::Agent),
        wake_mode: Some(HookWakeMode::Now),
        name: Some("Gmail".into()),
        for_each: Some("messages".into()),
        session_key: Some("hook:gmail:{{messages[0].id}}".into()),
        message_template: Some(
            "New email from {{messages[0].from}}\nSubject: {{messages[0].subject}}\n{{messages[0].snippet}}\n{{messages[0].body}}".into(),
        ),
        ..HookMappingConfig::default()
    }
}

/// `hooks.mappings` then the presets' mappings, normalised. A `forEach` that is not a
/// top-level key is a config error.
pub fn resolve(cfg: &HooksConfig) -> Result<Vec<Mapping>, String> {
    let mut raw: Vec<HookMappingConfig> = cfg.mappings.clone().unwrap_or_default();
    for preset in cfg.presets.iter().flatten() {
        if preset == "gmail" {
            raw.push(gmail_preset());
        }
    }
    raw.iter()
        .enumerate()
        .map(|(i, m)| {
            let for_each = trimmed(m.for_each.as_ref());
            if let Some(key) = &for_each {
                if key.contains(['.', '[', ']']) || BLOCKED_KEYS.contains(&key.as_str()) {
                    return Err(format!("Hook mapping forEach must be a top-level payload key: {key}"));
                }
            }
            let m = m.clone();
            Ok(Mapping {
                id: trimmed(m.id.as_ref()).unwrap_or_else(|| format!("mapping-{}", i + 1)),
                match_path: match_path(m.match_.as_ref().and_then(|x| x.path.as_deref())),
                match_source: m.match_.as_ref().and_then(|x| x.source.as_deref()).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned),
                action: m.action.unwrap_or(HookActionKind::Agent),
                wake_mode: m.wake_mode.unwrap_or(HookWakeMode::Now),
                for_each,
                name: m.name,
                agent_id: trimmed(m.agent_id.as_ref()),
                session_key: m.session_key,
                session_mode: m.session_mode,
                message_template: m.message_template,
                text_template: m.text_template,
                deliver: m.deliver,
                allow_unsafe_external_content: m.allow_unsafe_external_content,
                channel: m.channel,
                to: m.to,
                model: m.model,
                thinking: m.thinking,
                timeout_seconds: m.timeout_seconds,
            })
        })
        .collect()
}

/// Whether `template` has a `{{…}}` expression.
pub fn is_templated(template: &str) -> bool {
    expressions(template).next().is_some()
}

/// Whether a mapping that can match (not shadowed by an earlier one) has a templated
/// session key.
pub fn has_effective_templated_session_key(mappings: &[Mapping]) -> bool {
    let mut effective: Vec<&Mapping> = Vec::new();
    for m in mappings {
        let shadowed = effective.iter().any(|e| {
            (e.match_path.is_none() || e.match_path == m.match_path) && (e.match_source.is_none() || e.match_source == m.match_source)
        });
        if shadowed {
            continue;
        }
        effective.push(m);
        if m.session_key.as_deref().is_some_and(is_templated) {
            return true;
        }
    }
    false
}

/// The `{{ expr }}` spans of `template`: (start, end, expr).
fn expressions(template: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    let mut at = 0;
    std::iter::from_fn(move || {
        while let Some(open) = template[at..].find("{{").map(|i| i + at) {
            let body_start = open + 2;
            let close = template[body_start..].find('}').map(|i| i + body_start);
            match close {
                Some(c) if c > body_start && template[c..].starts_with("}}") => {
                    at = c + 2;
                    return Some((open, c + 2, template[body_start..c].trim()));
                }
                _ => at = open + 1,
            }
        }
        None
    })
}

/// `template` with each `{{expr}}` replaced by its value (missing → empty, strings as they
/// are, numbers and booleans as text, anything else as JSON).
pub fn render(template: &str, ctx: &Context<'_>) -> String {
    let mut out = String::new();
    let mut last = 0;
    for (start, end, expr) in expressions(template) {
        out.push_str(&template[last..start]);
        match resolve_expr(expr, ctx) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => out.push_str(&s),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => out.push_str(&v.to_string()),
            Some(v) => out.push_str(&v.to_string()),
        }
        last = end;
    }
    out.push_str(&template[last..]);
    out
}

fn render_optional(template: Option<&String>, ctx: &Context<'_>) -> Option<String> {
    let t = template.filter(|t| !t.is_empty())?;
    let r = render(t, ctx);
    let r = r.trim();
    (!r.is_empty()).then(|| r.to_owned())
}

fn resolve_expr(expr: &str, ctx: &Context<'_>) -> Option<Value> {
    if expr == "path" {
        return Some(Value::String(ctx.path.to_owned()));
    }
    if expr == "now" {
        return Some(Value::String(ctx.now_iso.to_owned()));
    }
    let (root, rest) = if let Some(r) = expr.strip_prefix("headers.") {
        (ctx.headers, r)
    } else if let Some(r) = expr.strip_prefix("query.") {
        (ctx.query, r)
    } else if let Some(r) = expr.strip_prefix("payload.") {
        (ctx.payload, r)
    } else {
        (ctx.payload, expr)
    };
    get_by_path(root, rest)
}

enum Part<'a> {
    Key(&'a str),
    Index(usize),
}

fn parts(path: &str) -> Vec<Part<'_>> {
    let mut out = Vec::new();
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'[' => {
                let digits = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
                if digits > 0 && bytes.get(i + 1 + digits) == Some(&b']') {
                    out.push(Part::Index(path[i + 1..i + 1 + digits].parse().unwrap_or(usize::MAX)));
                    i += digits + 2;
                } else {
                    i += 1;
                }
            }
            b'.' | b']' => i += 1,
            _ => {
                let len = bytes[i..].iter().take_while(|b| !matches!(b, b'.' | b'[' | b']')).count();
                out.push(Part::Key(&path[i..i + len]));
                i += len;
            }
        }
    }
    out
}

/// The value at `path` (`a.b[0].c`) under `root`.
pub fn get_by_path(root: &Map<String, Value>, path: &str) -> Option<Value> {
    let parts = parts(path);
    if parts.is_empty() {
        return None;
    }
    let mut current: Option<&Value> = None;
    for (n, part) in parts.iter().enumerate() {
        if let Part::Key(k) = part {
            if BLOCKED_KEYS.contains(k) {
                return None;
            }
        }
        current = Some(match (n, part, current) {
            (0, Part::Key(k), _) => root.get(*k)?,
            (_, Part::Key(k), Some(v)) => v.as_object()?.get(*k)?,
            (n, Part::Index(i), Some(v)) if n > 0 => v.as_array()?.get(*i)?,
            _ => return None,
        });
    }
    current.cloned()
}

fn key_source(template: Option<&String>) -> Source {
    match template.map(|t| t.trim()).filter(|t| !t.is_empty()) {
        Some(t) if is_templated(t) => Source::MappingTemplated,
        _ => Source::MappingStatic,
    }
}

fn matches(m: &Mapping, ctx: &Context<'_>) -> bool {
    if let Some(p) = &m.match_path {
        if match_path(Some(ctx.path)).as_ref() != Some(p) {
            return false;
        }
    }
    if let Some(s) = &m.match_source {
        if ctx.payload.get("source").and_then(Value::as_str) != Some(s.as_str()) {
            return false;
        }
    }
    true
}

fn build(m: &Mapping, ctx: &Context<'_>) -> Result<Action, String> {
    let source = key_source(m.session_key.as_ref());
    let session_key = render_optional(m.session_key.as_ref(), ctx);
    if source == Source::MappingTemplated && session_key.is_none() {
        return Err("hook mapping sessionKey template rendered empty".into());
    }
    if m.action == HookActionKind::Wake {
        let text = render(m.text_template.as_deref().unwrap_or(""), ctx);
        if text.trim().is_empty() {
            return Err("hook mapping requires text".into());
        }
        if m.wake_mode == HookWakeMode::NextHeartbeat && session_key.is_some() {
            return Err("hook mapping sessionKey requires wakeMode=now".into());
        }
        return Ok(Action::Wake(WakeAction {
            mapping_id: m.id.clone(),
            text,
            mode: m.wake_mode,
            agent_id: m.agent_id.clone(),
            session_key,
            session_key_source: source,
        }));
    }
    let message = render(m.message_template.as_deref().unwrap_or(""), ctx);
    if message.trim().is_empty() {
        return Err("hook mapping requires message".into());
    }
    Ok(Action::Agent(AgentAction {
        mapping_id: m.id.clone(),
        message,
        name: render_optional(m.name.as_ref(), ctx),
        agent_id: m.agent_id.clone(),
        wake_mode: m.wake_mode,
        session_key,
        session_key_source: source,
        session_mode: m.session_mode.unwrap_or(HookSessionMode::Isolated),
        deliver: m.deliver,
        allow_unsafe_external_content: m.allow_unsafe_external_content,
        channel: m.channel.clone(),
        to: render_optional(m.to.as_ref(), ctx),
        model: render_optional(m.model.as_ref(), ctx),
        thinking: render_optional(m.thinking.as_ref(), ctx),
        timeout_seconds: m.timeout_seconds,
    }))
}

/// The first mapping that matches `ctx`, applied: `None` when none matches; a refusal is the
/// reference's `400` error string.
pub fn apply(mappings: &[Mapping], ctx: &Context<'_>) -> Option<Result<Mapped, String>> {
    let m = mappings.iter().find(|m| matches(m, ctx))?;
    let Some(key) = &m.for_each else {
        return Some(build(m, ctx).map(|a| Mapped { actions: vec![a], fanout: false, dropped: 0 }));
    };
    let items: &[Value] = ctx.payload.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice);
    let mut actions = Vec::new();
    for item in items.iter().take(FAN_OUT_MAX) {
        let mut payload = ctx.payload.clone();
        payload.insert(key.clone(), Value::Array(vec![item.clone()]));
        let one = Context { payload: &payload, ..*ctx };
        match build(m, &one) {
            Ok(a) => actions.push(a),
            Err(e) => return Some(Err(e)),
        }
    }
    Some(Ok(Mapped { actions, fanout: true, dropped: items.len().saturating_sub(FAN_OUT_MAX) }))
}

/// Request headers as the templates see them: lower-cased names, repeats joined with `, `.
pub fn header_map<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Map<String, Value> {
    let mut joined: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in headers {
        joined.entry(k.to_lowercase()).and_modify(|e| {
            e.push_str(", ");
            e.push_str(v);
        }).or_insert_with(|| v.to_owned());
    }
    joined.into_iter().map(|(k, v)| (k, Value::String(v))).collect()
}
