//! JSON Schemas emitted from the wire types, and the validators built from them.
//!
//! The Rust types are the source of truth: [`emit_all`] renders every schema, `schemas/` holds
//! the checked-in copies (regenerate with `cargo run -p openclaw-core --example emit-schemas`),
//! and a test fails when they differ. At run time the checked-in files are compiled once
//! ([`validators`]); `is_valid` is the fast path and the violation list is only built on failure,
//! formatted the way the reference's `formatValidationErrors` does.

use std::sync::OnceLock;

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::Value;

use crate::wire::agent::{AgentAccepted, AgentParams, AgentWaitParams};
use crate::wire::chat::{ChatAbortParams, ChatHistoryParams, ChatSendParams};
use crate::wire::connect::ConnectParams;
use crate::wire::host::{ConfigApplyParams, ConfigPatchParams, ConfigSetParams, EmptyParams, LogsTailParams};
use crate::wire::sessions::{SessionsDeleteParams, SessionsListParams, SessionsResetParams};
use crate::wire::events::{ConnectChallenge, PresenceEvent, ShutdownEvent, TickEvent};
use crate::wire::frames::{ErrorShape, EventFrame, RequestFrame, ResponseFrame};
use crate::wire::hello::{HealthSnapshot, HelloOk, PresenceEntry};
use crate::wire::methods::{
    HealthParams, OkResult, StatusParams, SystemEventParams, SystemPresenceParams,
};

/// Every schema this crate emits: (file stem, generator).
/// Renders one schema.
type Generator = fn() -> Value;

const SCHEMAS: &[(&str, Generator)] = &[
    ("request-frame", gen::<RequestFrame>),
    ("response-frame", gen::<ResponseFrame>),
    ("event-frame", gen::<EventFrame>),
    ("error-shape", gen::<ErrorShape>),
    ("connect-params", gen::<ConnectParams>),
    ("hello-ok", gen::<HelloOk>),
    ("presence-entry", gen::<PresenceEntry>),
    ("health-snapshot", gen::<HealthSnapshot>),
    ("event.connect.challenge", gen::<ConnectChallenge>),
    ("event.presence", gen::<PresenceEvent>),
    ("event.tick", gen::<TickEvent>),
    ("event.shutdown", gen::<ShutdownEvent>),
    ("event.health", gen::<HealthSnapshot>),
    ("method.health.params", gen::<HealthParams>),
    ("method.health.result", gen::<HealthSnapshot>),
    ("method.status.params", gen::<StatusParams>),
    ("method.system-presence.params", gen::<SystemPresenceParams>),
    ("method.system-presence.result", gen::<Vec<PresenceEntry>>),
    ("method.system-event.params", gen::<SystemEventParams>),
    ("method.system-event.result", gen::<OkResult>),
    ("method.agent.params", gen::<AgentParams>),
    ("method.agent.accepted", gen::<AgentAccepted>),
    ("method.agent.wait.params", gen::<AgentWaitParams>),
    ("method.chat.send.params", gen::<ChatSendParams>),
    ("method.chat.abort.params", gen::<ChatAbortParams>),
    ("method.chat.history.params", gen::<ChatHistoryParams>),
    ("method.sessions.list.params", gen::<SessionsListParams>),
    ("method.sessions.reset.params", gen::<SessionsResetParams>),
    ("method.sessions.delete.params", gen::<SessionsDeleteParams>),
    ("method.logs.tail.params", gen::<LogsTailParams>),
    ("method.config.get.params", gen::<EmptyParams>),
    ("method.config.set.params", gen::<ConfigSetParams>),
    ("method.config.apply.params", gen::<ConfigApplyParams>),
    ("method.config.patch.params", gen::<ConfigPatchParams>),
    ("config", gen::<crate::config::Config>),
];

pub(crate) fn gen<T: JsonSchema>() -> Value {
    let mut schema = SchemaSettings::draft2020_12().into_generator().into_root_schema_for::<T>().to_value();
    strip_null(&mut schema);
    schema
}

/// `Option<T>` means "may be absent", as in the reference: `null` is not accepted, and the
/// `default: null` that `#[serde(default)]` adds is noise.
fn strip_null(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("default") == Some(&Value::Null) {
                map.remove("default");
            }
            // A one-value enum is a literal (`type:"req"`); TypeBox says "equal to constant".
            if let Some(Value::Array(values)) = map.get("enum") {
                if values.len() == 1 {
                    let only = values[0].clone();
                    map.remove("enum");
                    map.insert("const".into(), only);
                }
            }
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(any)) = map.get_mut("anyOf") {
                any.retain(|s| s.get("type").and_then(Value::as_str) != Some("null"));
                if any.len() == 1 {
                    if let Some(Value::Object(only)) = any.pop() {
                        map.remove("anyOf");
                        for (k, val) in only {
                            map.entry(k).or_insert(val);
                        }
                    }
                }
            }
            map.values_mut().for_each(strip_null);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// Renders every schema as `(file name, pretty JSON + newline)`, in a stable order.
pub fn emit_all() -> Vec<(String, String)> {
    SCHEMAS
        .iter()
        .map(|(stem, gen)| {
            let mut text = serde_json::to_string_pretty(&gen()).unwrap_or_default();
            text.push('\n');
            (format!("{stem}.schema.json"), text)
        })
        // Data derived from the reference by `scripts/ref_config_keys.py`, embedded as it is.
        .chain([("reference-config-keys.json".to_owned(), crate::config::keys::REFERENCE_KEYS.to_owned())])
        .collect()
}

/// The checked-in schema files, embedded at build time.
mod checked_in {
    pub const REQUEST_FRAME: &str = include_str!("../../schemas/request-frame.schema.json");
    pub const CONNECT_PARAMS: &str = include_str!("../../schemas/connect-params.schema.json");
    pub const HEALTH: &str = include_str!("../../schemas/method.health.params.schema.json");
    pub const STATUS: &str = include_str!("../../schemas/method.status.params.schema.json");
    pub const SYSTEM_PRESENCE: &str =
        include_str!("../../schemas/method.system-presence.params.schema.json");
    pub const SYSTEM_EVENT: &str =
        include_str!("../../schemas/method.system-event.params.schema.json");
    pub const AGENT: &str = include_str!("../../schemas/method.agent.params.schema.json");
    pub const AGENT_WAIT: &str = include_str!("../../schemas/method.agent.wait.params.schema.json");
    pub const CHAT_SEND: &str = include_str!("../../schemas/method.chat.send.params.schema.json");
    pub const CHAT_ABORT: &str = include_str!("../../schemas/method.chat.abort.params.schema.json");
    pub const CHAT_HISTORY: &str = include_str!("../../schemas/method.chat.history.params.schema.json");
    pub const SESSIONS_LIST: &str = include_str!("../../schemas/method.sessions.list.params.schema.json");
    pub const SESSIONS_RESET: &str = include_str!("../../schemas/method.sessions.reset.params.schema.json");
    pub const SESSIONS_DELETE: &str = include_str!("../../schemas/method.sessions.delete.params.schema.json");
    pub const LOGS_TAIL: &str = include_str!("../../schemas/method.logs.tail.params.schema.json");
    pub const EMPTY: &str = include_str!("../../schemas/method.config.get.params.schema.json");
    pub const CONFIG_SET: &str = include_str!("../../schemas/method.config.set.params.schema.json");
    pub const CONFIG_APPLY: &str = include_str!("../../schemas/method.config.apply.params.schema.json");
    pub const CONFIG_PATCH: &str = include_str!("../../schemas/method.config.patch.params.schema.json");
}

/// A compiled schema.
pub struct Validator(jsonschema::Validator);

impl Validator {
    fn compile(text: &str) -> Self {
        // The embedded files are ours and a test compiles each one; failure here is a build bug.
        #[allow(clippy::expect_used)]
        let schema: Value = serde_json::from_str(text).expect("checked-in schema is JSON");
        #[allow(clippy::expect_used)]
        let validator = jsonschema::validator_for(&schema).expect("checked-in schema compiles");
        Self(validator)
    }

    /// `Ok` if `value` conforms, else the violations as the reference words them.
    pub fn check(&self, value: &Value) -> Result<(), String> {
        if self.0.is_valid(value) {
            return Ok(());
        }
        let found: Vec<Found> = self
            .0
            .iter_errors(value)
            .map(|err| Found {
                path: err.instance_path().to_string().split('/').skip(1).map(str::to_owned).collect(),
                rank: rank(&err),
                text: describe(&err),
            })
            .collect();
        let mut parts: Vec<String> = Vec::new();
        order_like_reference(&[], &found, &mut parts);
        if parts.is_empty() {
            parts.push("unknown validation error".into());
        }
        Err(parts.join("; "))
    }
}

struct Found {
    path: Vec<String>,
    rank: u8,
    text: String,
}

/// The reference lists errors object by object: an object's own `required` errors, then its
/// unknown properties, then its properties in schema order, recursing. `found` is in the
/// validator's (schema) order; this regroups it into that shape, without duplicates.
fn order_like_reference(prefix: &[String], found: &[Found], out: &mut Vec<String>) {
    let mut own: Vec<&Found> = found.iter().filter(|f| f.path == prefix).collect();
    own.sort_by_key(|f| f.rank);
    for f in own {
        if !out.contains(&f.text) {
            out.push(f.text.clone());
        }
    }
    let mut children: Vec<&String> = Vec::new();
    for f in found {
        if f.path.len() > prefix.len() && f.path.starts_with(prefix) {
            let next = &f.path[prefix.len()];
            if !children.contains(&next) {
                children.push(next);
            }
        }
    }
    for child in children {
        let mut deeper = prefix.to_vec();
        deeper.push(child.clone());
        order_like_reference(&deeper, found, out);
    }
}

// `ValidationErrorKind` is the validator's (open-ended) enum; new kinds fall to the default.
#[allow(clippy::wildcard_enum_match_arm)]
fn rank(err: &jsonschema::ValidationError<'_>) -> u8 {
    use jsonschema::error::ValidationErrorKind as K;
    match err.kind() {
        K::Required { .. } => 0,
        K::AdditionalProperties { .. } => 1,
        _ => 2,
    }
}

#[allow(clippy::wildcard_enum_match_arm)]
/// One AJV-style line: `at /client: unexpected property 'x'`, `must have required property 'y'`.
fn describe(err: &jsonschema::ValidationError<'_>) -> String {
    use jsonschema::error::ValidationErrorKind as K;
    let path = err.instance_path().to_string();
    let at = |msg: String| if path.is_empty() { msg } else { format!("at {path}: {msg}") };
    match err.kind() {
        K::AdditionalProperties { unexpected } => {
            let name = unexpected.first().cloned().unwrap_or_default();
            let root = if path.is_empty() { "at root".to_owned() } else { format!("at {path}") };
            format!("{root}: unexpected property '{name}'")
        }
        K::Required { property } => {
            let name = property.as_str().map_or_else(|| property.to_string(), str::to_owned);
            at(format!("must have required property '{name}'"))
        }
        K::Enum { .. } => at("must be equal to one of the allowed values".into()),
        K::Constant { .. } => at("must be equal to constant".into()),
        K::Type { kind } => at(format!("must be {}", type_name(kind))),
        K::MinLength { limit } => at(format!("must not have fewer than {limit} characters")),
        K::MaxLength { limit } => at(format!("must not have more than {limit} characters")),
        K::MinItems { limit } => at(format!("must not have fewer than {limit} items")),
        K::AnyOf { .. } | K::OneOfNotValid { .. } => at("must match a schema in anyOf".into()),
        K::Minimum { limit } => at(format!("must be >= {limit}")),
        K::Maximum { limit } => at(format!("must be <= {limit}")),
        K::Pattern { pattern } => at(format!("must match pattern \"{pattern}\"")),
        _ => at(err.to_string()),
    }
}

fn type_name(kind: &jsonschema::error::TypeKind) -> String {
    use jsonschema::error::TypeKind;
    match kind {
        TypeKind::Single(t) => t.to_string(),
        TypeKind::Multiple(ts) => {
            let names: Vec<String> = ts.iter().map(|t| t.to_string()).collect();
            names.join(",")
        }
    }
}

/// The validators used on incoming frames, compiled on first use.
pub struct Validators {
    pub request_frame: Validator,
    pub connect_params: Validator,
    pub health: Validator,
    pub status: Validator,
    pub system_presence: Validator,
    pub system_event: Validator,
    pub agent: Validator,
    pub agent_wait: Validator,
    pub chat_send: Validator,
    pub chat_abort: Validator,
    pub chat_history: Validator,
    pub sessions_list: Validator,
    pub sessions_reset: Validator,
    pub sessions_delete: Validator,
    pub logs_tail: Validator,
    /// `{}` closed (`config.get`, `config.schema`).
    pub empty: Validator,
    pub config_set: Validator,
    pub config_apply: Validator,
    pub config_patch: Validator,
}

/// The process-wide validators (compiled once).
pub fn validators() -> &'static Validators {
    static CELL: OnceLock<Validators> = OnceLock::new();
    CELL.get_or_init(|| Validators {
        request_frame: Validator::compile(checked_in::REQUEST_FRAME),
        connect_params: Validator::compile(checked_in::CONNECT_PARAMS),
        health: Validator::compile(checked_in::HEALTH),
        status: Validator::compile(checked_in::STATUS),
        system_presence: Validator::compile(checked_in::SYSTEM_PRESENCE),
        system_event: Validator::compile(checked_in::SYSTEM_EVENT),
        agent: Validator::compile(checked_in::AGENT),
        agent_wait: Validator::compile(checked_in::AGENT_WAIT),
        chat_send: Validator::compile(checked_in::CHAT_SEND),
        chat_abort: Validator::compile(checked_in::CHAT_ABORT),
        chat_history: Validator::compile(checked_in::CHAT_HISTORY),
        sessions_list: Validator::compile(checked_in::SESSIONS_LIST),
        sessions_reset: Validator::compile(checked_in::SESSIONS_RESET),
        sessions_delete: Validator::compile(checked_in::SESSIONS_DELETE),
        logs_tail: Validator::compile(checked_in::LOGS_TAIL),
        empty: Validator::compile(checked_in::EMPTY),
        config_set: Validator::compile(checked_in::CONFIG_SET),
        config_apply: Validator::compile(checked_in::CONFIG_APPLY),
        config_patch: Validator::compile(checked_in::CONFIG_PATCH),
    })
}
