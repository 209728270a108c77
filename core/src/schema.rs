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

use crate::wire::connect::ConnectParams;
use crate::wire::events::{ConnectChallenge, PresenceEvent, ShutdownEvent, TickEvent};
use crate::wire::frames::{ErrorShape, EventFrame, RequestFrame, ResponseFrame};
use crate::wire::hello::{HealthSnapshot, HelloOk, PresenceEntry};

/// Renders one schema.
type Generator = fn() -> Value;

/// The schemas that are not a method's (those come from the method table): (file stem, generator).
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
        .copied()
        .chain(crate::methods::method_schemas())
        .map(|(stem, gen)| {
            let mut text = serde_json::to_string_pretty(&gen()).unwrap_or_default();
            text.push('\n');
            (format!("{stem}.schema.json"), text)
        })
        // Data derived from the reference by `scripts/ref_config_keys.py`, embedded as it is.
        .chain([("reference-config-keys.json".to_owned(), crate::config::keys::REFERENCE_KEYS.to_owned())])
        .collect()
}

/// The checked-in frame schemas, embedded at build time (method params: see the method table).
mod checked_in {
    pub const REQUEST_FRAME: &str = include_str!("../../schemas/request-frame.schema.json");
    pub const CONNECT_PARAMS: &str = include_str!("../../schemas/connect-params.schema.json");
}

/// A compiled schema.
pub struct Validator(jsonschema::Validator);

impl Validator {
    fn compile(text: &str) -> Self {
        // The embedded files are ours and a test compiles each one; failure here is a build bug.
        #[allow(clippy::expect_used)]
        let schema: Value = serde_json::from_str(text).expect("checked-in schema is JSON");
        Self::from_schema(&schema)
    }

    /// Compiles a schema this crate emitted (a test compiles every one).
    pub(crate) fn from_schema(schema: &Value) -> Self {
        #[allow(clippy::expect_used)]
        let validator = jsonschema::validator_for(schema).expect("emitted schema compiles");
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

/// The frame validators used before a method is known, compiled on first use. Each method's
/// params validator is compiled on its first use too (see `crate::methods`).
pub struct Validators {
    pub request_frame: Validator,
    pub connect_params: Validator,
}

/// The process-wide frame validators (compiled once).
pub fn validators() -> &'static Validators {
    static CELL: OnceLock<Validators> = OnceLock::new();
    CELL.get_or_init(|| Validators {
        request_frame: Validator::compile(checked_in::REQUEST_FRAME),
        connect_params: Validator::compile(checked_in::CONNECT_PARAMS),
    })
}
