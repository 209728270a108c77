//! Which dotted key paths differ between two configs (lifecycle.md §5.3 step 2).

use serde_json::{Map, Value};

/// Paths that differ between `old` and `new`, refined by the reload rule table's prefixes (as
/// the reference's `diffGatewayReloadPaths`): see [`diff_paths_refined`].
pub fn diff_paths(old: &Value, new: &Value) -> Vec<String> {
    diff_paths_refined(old, new, &super::rules::prefixes())
}

/// Paths that differ between `old` and `new`, in key order: plain objects are compared key by
/// key (the union of keys), anything else at the first level where it differs, as one path
/// (`<root>` when the roots themselves differ in kind). Where an object appears or disappears
/// (or replaces a non-object) at a path that some `refine` prefix lies under, its keys are
/// reported one by one, the missing side read as `{}`: adding a whole `gateway.nodes` object
/// reports `gateway.nodes.pairing.…`, which a live rule covers, instead of `gateway.nodes`,
/// which would restart. Arrays are one value: any difference in length or elements is a change
/// of the array's path. Unlike the reference, arrays of objects compare by content, so an
/// untouched `agents.list` is not reported on every reload.
pub fn diff_paths_refined(old: &Value, new: &Value, refine: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    walk(Some(old), Some(new), "", refine, &mut out);
    out
}

fn walk(old: Option<&Value>, new: Option<&Value>, prefix: &str, refine: &[&str], out: &mut Vec<String>) {
    if old == new {
        return;
    }
    let (a, b) = (old.and_then(Value::as_object), new.and_then(Value::as_object));
    let refined = || {
        refine.iter().any(|p| {
            prefix.is_empty() || p.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.'))
        })
    };
    if (a.is_some() && b.is_some()) || ((a.is_some() || b.is_some()) && refined()) {
        let empty = Map::new();
        let (a, b) = (a.unwrap_or(&empty), b.unwrap_or(&empty));
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            walk(a.get(key), b.get(key), &path, refine, out);
        }
        return;
    }
    out.push(if prefix.is_empty() { "<root>".to_owned() } else { prefix.to_owned() });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_objects_arrays_and_roots() {
        let old = json!({
            "gateway": {"port": 1, "auth": {"token": "a"}, "reload": {"mode": "hot"}},
            "agents": {"list": [{"id": "a"}]},
            "logging": {"level": "info"},
        });
        let new = json!({
            "gateway": {"port": 1, "auth": {"token": "b"}},
            "agents": {"list": [{"id": "a"}]},
            "logging": "debug",
            "models": {},
        });
        assert_eq!(
            diff_paths_refined(&old, &new, &[]),
            ["gateway.auth.token", "gateway.reload", "logging", "models"]
        );
        assert_eq!(diff_paths_refined(&old, &old, &[]), Vec::<String>::new());
        assert_eq!(diff_paths_refined(&json!({}), &json!([]), &[]), ["<root>"]);
        assert_eq!(
            diff_paths_refined(&json!({"a": [1, 2]}), &json!({"a": [1, 2, 3]}), &[]),
            ["a"],
            "an array changes as a whole"
        );
    }

    #[test]
    fn an_object_appearing_under_a_rule_prefix_is_reported_key_by_key() {
        let refine = ["gateway.nodes.pairing", "gateway.nodes.commands", "gateway.remote"];
        let old = json!({"gateway": {"port": 1}});
        let new = json!({"gateway": {"port": 1, "nodes": {"pairing": {"autoApproveLocal": false}, "commands": {"deny": ["x"]}}}});
        assert_eq!(
            diff_paths_refined(&old, &new, &refine),
            ["gateway.nodes.commands", "gateway.nodes.pairing"]
        );
        assert_eq!(
            diff_paths_refined(&new, &old, &refine),
            ["gateway.nodes.commands", "gateway.nodes.pairing"],
            "and so is one disappearing"
        );
        assert_eq!(diff_paths_refined(&old, &new, &[]), ["gateway.nodes"], "no prefix under it: one path");
        // An object replacing a scalar, and an empty object appearing (nothing in it changed).
        let scalar = json!({"gateway": {"port": 1, "nodes": true}});
        assert_eq!(
            diff_paths_refined(&scalar, &new, &refine),
            ["gateway.nodes.commands", "gateway.nodes.pairing"]
        );
        assert_eq!(
            diff_paths_refined(&old, &json!({"gateway": {"port": 1, "nodes": {}}}), &refine),
            Vec::<String>::new()
        );
        // A prefix must end at a dot: `gateway.nodesx` is not under `gateway.nodes.…`.
        let odd = json!({"gateway": {"port": 1, "nodesx": {"pairing": 1}}});
        assert_eq!(diff_paths_refined(&old, &odd, &refine), ["gateway.nodesx"]);
        // With the real table: a whole `gateway.nodes` added is live, not a restart.
        let changed = diff_paths(&old, &new);
        assert!(!super::super::plan(&changed).restart_gateway, "{changed:?}");
    }
}
