//! Key trees: which object keys exist where, for ours and for the reference.
//!
//! A tree is a JSON object mapping each key to its subtree; `"*"` stands for any key (records,
//! `additionalProperties`), `"[]"` for array items; `{}` is a leaf. The reference's tree is
//! derived from its config schema by `scripts/ref_config_keys.py` and checked in as
//! `schemas/reference-config-keys.json`; ours is derived from the schema emitted for
//! [`Config`](super::Config) the same way, so the two can be walked side by side.

use std::sync::OnceLock;

use serde_json::{Map, Value};

/// Any key.
pub const ANY: &str = "*";
/// Array items.
pub const ITEMS: &str = "[]";

/// The checked-in tree (`schemas/reference-config-keys.json`).
pub const REFERENCE_KEYS: &str = include_str!("../../../schemas/reference-config-keys.json");

/// The reference's key tree (openclaw 2026.9.6), parsed once.
pub fn reference() -> &'static Value {
    static CELL: OnceLock<Value> = OnceLock::new();
    CELL.get_or_init(|| serde_json::from_str(REFERENCE_KEYS).unwrap_or_else(|_| Value::Object(Map::new())))
}

/// Our key tree, derived from the config schema, built once.
pub fn ours() -> &'static Value {
    static CELL: OnceLock<Value> = OnceLock::new();
    CELL.get_or_init(|| {
        let schema = super::schema();
        tree(schema, schema.get("$defs").unwrap_or(&Value::Null), 0)
    })
}

/// The subtree for `key` under `node`: the exact key, else the `"*"` wildcard.
pub fn child<'a>(node: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    let node = node?;
    node.get(key).or_else(|| node.get(ANY))
}

/// Whether `node` says anything about object keys (a leaf or an opaque value says nothing).
pub fn has_keys(node: &Value) -> bool {
    node.as_object().is_some_and(|m| m.keys().any(|k| k != ITEMS))
}

/// The named keys (not `*`/`[]`) of a node, for did-you-mean.
pub fn names(node: Option<&Value>) -> Vec<&str> {
    node.and_then(Value::as_object)
        .map(|m| m.keys().map(String::as_str).filter(|k| *k != ANY && *k != ITEMS).collect())
        .unwrap_or_default()
}

fn merge(into: &mut Map<String, Value>, from: Value) {
    if let Value::Object(from) = from {
        for (k, v) in from {
            match (into.get_mut(&k), v) {
                (Some(Value::Object(existing)), v @ Value::Object(_)) => merge(existing, v),
                (_, v) => {
                    into.insert(k, v);
                }
            }
        }
    }
}

fn tree(node: &Value, defs: &Value, depth: usize) -> Value {
    let mut out = Map::new();
    let Some(obj) = node.as_object() else { return Value::Object(out) };
    if depth > 32 {
        return Value::Object(out);
    }
    if let Some(name) = obj.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
        return defs.get(name).map_or_else(|| Value::Object(Map::new()), |d| tree(d, defs, depth + 1));
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            out.insert(k.clone(), tree(v, defs, depth + 1));
        }
    }
    match obj.get("additionalProperties") {
        Some(extra @ Value::Object(_)) => {
            out.insert(ANY.into(), tree(extra, defs, depth + 1));
        }
        Some(Value::Bool(true)) => {
            out.insert(ANY.into(), Value::Object(Map::new()));
        }
        _ => {}
    }
    if let Some(items @ Value::Object(_)) = obj.get("items") {
        out.insert(ITEMS.into(), tree(items, defs, depth + 1));
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        for alt in obj.get(key).and_then(Value::as_array).into_iter().flatten() {
            merge(&mut out, tree(alt, defs, depth + 1));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_tree_knows_gateway_keys() {
        let r = reference();
        assert!(r["gateway"]["tailscale"].is_object());
        assert!(r["models"]["providers"][ANY]["baseUrl"].is_object());
    }

    #[test]
    fn our_tree_matches_the_types() {
        let o = ours();
        assert!(o["gateway"]["auth"]["rateLimit"]["maxAttempts"].is_object());
        assert!(o["models"]["providers"][ANY]["apiKey"].is_object());
        assert!(o["agents"]["defaults"]["model"]["primary"].is_object(), "{}", o["agents"]);
        // Telegram and WhatsApp are ours; the other channels stay reference-only.
        assert!(o["channels"]["telegram"]["accounts"][ANY]["botToken"].is_object(), "{}", o["channels"]);
        assert!(o["channels"]["whatsapp"]["accounts"][ANY]["sendReadReceipts"].is_object(), "{}", o["channels"]);
        assert!(o["channels"].get("discord").is_none());
        assert!(!has_keys(&o["gateway"]["port"]));
    }

    /// Every key we implement must exist in the reference (or be one of the spec's additions).
    #[test]
    fn our_keys_are_reference_keys() {
        let spec_additions = [
            "gateway.reload.debounceMs",
            "logging.redactSensitive",
            "meta.lastTouchedAt",
            "agents.defaults.systemPrompt",
            "meta.migrations.*",
        ];
        let mut missing = Vec::new();
        walk(ours(), Some(reference()), "", &mut missing);
        missing.retain(|p| !spec_additions.contains(&p.as_str()));
        assert!(missing.is_empty(), "not in the reference schema: {missing:?}");
    }

    fn walk(o: &Value, r: Option<&Value>, path: &str, missing: &mut Vec<String>) {
        for (k, v) in o.as_object().into_iter().flatten() {
            let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            let rc = child(r, k);
            if rc.is_none() && k != ITEMS {
                missing.push(p);
                continue;
            }
            walk(v, rc, &p, missing);
        }
    }
}
