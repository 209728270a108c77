//! Which dotted key paths differ between two configs (lifecycle.md §5.3 step 2).

use serde_json::Value;

/// Paths that differ between `old` and `new`, in key order: plain objects are compared key by
/// key (the union of keys), anything else at the first level where it differs, as one path
/// (`<root>` when the roots themselves differ in kind). Arrays are one value: any difference in
/// length or elements is a change of the array's path. Unlike the reference, arrays of objects
/// compare by content, so an untouched `agents.list` is not reported on every reload.
pub fn diff_paths(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(old, new, "", &mut out);
    out
}

fn walk(old: &Value, new: &Value, prefix: &str, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => walk(x, y, &path, out),
                    (None, None) => {}
                    _ => out.push(path),
                }
            }
        }
        (a, b) if a == b => {}
        _ => out.push(if prefix.is_empty() { "<root>".to_owned() } else { prefix.to_owned() }),
    }
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
            diff_paths(&old, &new),
            ["gateway.auth.token", "gateway.reload", "logging", "models"]
        );
        assert_eq!(diff_paths(&old, &old), Vec::<String>::new());
        assert_eq!(diff_paths(&json!({}), &json!([])), ["<root>"]);
        assert_eq!(
            diff_paths(&json!({"a": [1, 2]}), &json!({"a": [1, 2, 3]})),
            ["a"],
            "an array changes as a whole"
        );
    }
}
