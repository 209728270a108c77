//! Edits of a config value: dotted paths (`config get/set/unset`), JSON merge-patch
//! (`config.patch`), the changed paths between two values, secret redaction, and keeping
//! `${VAR}` references and redacted secrets when a value is written back.

// Catch-all arms over `serde_json::Value` are deliberate: each walk cares about one or two shapes.
#![allow(clippy::wildcard_enum_match_arm)]

use serde_json::{Map, Value};

use super::env;
use super::json5::Spans;

/// What `config.get` shows instead of a secret.
pub const REDACTED: &str = "__OPENCLAW_REDACTED__";

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A path that cannot be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid config path {0:?}: use dotted keys like gateway.auth.mode (array items as list[0])")]
pub struct BadPath(pub String);

/// `gateway.auth.mode`, `list[0].x` → segments.
pub fn parse_path(path: &str) -> Result<Vec<Segment>, BadPath> {
    let bad = || BadPath(path.to_owned());
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() && (rest.is_empty() || out.is_empty()) {
            return Err(bad());
        }
        if !key.is_empty() {
            out.push(Segment::Key(key.to_owned()));
        }
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(bad)?;
            out.push(Segment::Index(r[..end].parse().map_err(|_| bad())?));
            rest = &r[end + 1..];
        }
        if !rest.is_empty() {
            return Err(bad());
        }
    }
    Ok(out)
}

/// The value at `path`.
pub fn get<'a>(root: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    path.iter().try_fold(root, |v, seg| match seg {
        Segment::Key(k) => v.as_object()?.get(k),
        Segment::Index(i) => v.as_array()?.get(*i),
    })
}

/// Sets `path` to `new`, creating objects on the way; refuses to walk through a non-object.
pub fn set(root: &mut Value, path: &[Segment], new: Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        *root = new;
        return Ok(());
    };
    let mut at = root;
    for (n, seg) in parents.iter().enumerate() {
        at = match seg {
            Segment::Key(k) => {
                if at.is_null() {
                    *at = Value::Object(Map::new());
                }
                let obj = at.as_object_mut().ok_or_else(|| format!("{} is not an object", show(&path[..n])))?;
                obj.entry(k.clone()).or_insert(Value::Null)
            }
            Segment::Index(i) => at
                .as_array_mut()
                .and_then(|a| a.get_mut(*i))
                .ok_or_else(|| format!("{} has no item {i}", show(&path[..n])))?,
        };
    }
    match last {
        Segment::Key(k) => {
            if at.is_null() {
                *at = Value::Object(Map::new());
            }
            let obj = at.as_object_mut().ok_or_else(|| format!("{} is not an object", show(parents)))?;
            obj.insert(k.clone(), new);
        }
        Segment::Index(i) => {
            let arr = at.as_array_mut().ok_or_else(|| format!("{} is not an array", show(parents)))?;
            let len = arr.len();
            match arr.get_mut(*i) {
                Some(slot) => *slot = new,
                None if *i == len => arr.push(new),
                None => return Err(format!("{} has no item {i}", show(parents))),
            }
        }
    }
    Ok(())
}

/// Removes `path`; `false` if it was not there.
pub fn unset(root: &mut Value, path: &[Segment]) -> bool {
    let Some((last, parents)) = path.split_last() else { return false };
    let mut at = root;
    for seg in parents {
        let next = match seg {
            Segment::Key(k) => at.as_object_mut().and_then(|o| o.get_mut(k)),
            Segment::Index(i) => at.as_array_mut().and_then(|a| a.get_mut(*i)),
        };
        let Some(next) = next else { return false };
        at = next;
    }
    match last {
        Segment::Key(k) => at.as_object_mut().is_some_and(|o| o.shift_remove(k).is_some()),
        Segment::Index(i) => match at.as_array_mut() {
            Some(a) if *i < a.len() => {
                a.remove(*i);
                true
            }
            _ => false,
        },
    }
}

/// Segments back to dotted text.
pub fn show(path: &[Segment]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Segment::Key(k) if out.is_empty() => out.push_str(k),
            Segment::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// RFC 7396 merge-patch of `patch` into `target`: objects merge, `null` deletes, scalars
/// replace. Replacing an existing array needs its path in `replace_paths` (an edit must not drop
/// list entries by accident).
pub fn merge_patch(target: &mut Value, patch: &Value, replace_paths: &[String]) -> Result<(), String> {
    merge_at(target, patch, replace_paths, "")
}

fn merge_at(target: &mut Value, patch: &Value, replace_paths: &[String], path: &str) -> Result<(), String> {
    let Value::Object(patch) = patch else {
        if matches!((&*target, patch), (Value::Array(old), Value::Array(new)) if old != new && !old.is_empty())
            && !replace_paths.iter().any(|p| p == path)
        {
            return Err(format!(
                "{path}: patch would replace an array; list \"{path}\" in replacePaths to replace it"
            ));
        }
        *target = patch.clone();
        return Ok(());
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    for (k, v) in patch {
        let p = join(path, k);
        let Some(obj) = target.as_object_mut() else { break };
        if v.is_null() {
            obj.shift_remove(k);
            continue;
        }
        let slot = obj.entry(k.clone()).or_insert(Value::Null);
        merge_at(slot, v, replace_paths, &p)?;
    }
    Ok(())
}

/// The paths where `old` and `new` differ, descending only while both sides are objects.
pub fn changed_paths(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff(old, new, "", &mut out);
    out
}

fn diff(old: &Value, new: &Value, path: &str, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => diff(v, w, &join(path, k), out),
                    None => out.push(join(path, k)),
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(join(path, k));
            }
        }
        (a, b) if a != b => out.push(path.to_owned()),
        _ => {}
    }
}

/// Whether a key holds a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["token", "password", "apikey", "secret"].iter().any(|s| k.ends_with(s))
}

/// A copy of `value` with every secret string replaced by [`REDACTED`].
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(_) if is_secret_key(k) => Value::String(REDACTED.into()),
                        other => redact(other),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// `text` with each secret string value (found through `spans`) replaced by `"__OPENCLAW_REDACTED__"`.
pub fn redact_text(text: &str, spans: &Spans, value: &Value) -> String {
    let mut ranges: Vec<(usize, usize)> = spans
        .0
        .iter()
        .filter(|(path, _)| {
            let key = path.rsplit('.').next().unwrap_or(path);
            is_secret_key(key)
                && parse_path(path).ok().and_then(|p| get(value, &p).cloned()).is_some_and(|v| v.is_string())
        })
        .map(|(_, span)| span.value)
        .collect();
    ranges.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in ranges {
        if start < at || end > text.len() {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(&format!("\"{REDACTED}\""));
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// Before writing `new` (built from what a client saw): a string that is still the
/// [`REDACTED`] marker gets the stored value back, and a value equal to the resolved form of a
/// stored `${VAR}` reference gets the reference back, so secrets are not persisted in clear.
/// `stored` is the file's value before substitution, `resolved` after.
pub fn restore(new: &mut Value, stored: &Value, resolved: &Value) {
    match new {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let (s, r) = (stored.get(k), resolved.get(k));
                if let (Some(s), Some(r)) = (s, r) {
                    restore(v, s, r);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                if let (Some(s), Some(r)) = (stored.get(i), resolved.get(i)) {
                    restore(v, s, r);
                }
            }
        }
        Value::String(s) if s == REDACTED => *new = stored.clone(),
        Value::String(_) => {
            if let Value::String(raw) = stored {
                if env::has_reference(raw) && &*new == resolved {
                    *new = stored.clone();
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Vec<Segment> {
        parse_path(s).unwrap()
    }

    #[test]
    fn paths() {
        assert_eq!(p("a.b[2].c"), [Segment::Key("a".into()), Segment::Key("b".into()), Segment::Index(2), Segment::Key("c".into())]);
        assert!(parse_path("").is_err() && parse_path("a..b").is_err() && parse_path("a[x]").is_err());
        assert_eq!(show(&p("a.b[2].c")), "a.b[2].c");
    }

    #[test]
    fn get_set_unset() {
        let mut v = json!({"a": {"list": [1, 2]}});
        set(&mut v, &p("gateway.auth.mode"), json!("token")).unwrap();
        set(&mut v, &p("a.list[1]"), json!(5)).unwrap();
        assert_eq!(v, json!({"a": {"list": [1, 5]}, "gateway": {"auth": {"mode": "token"}}}));
        assert_eq!(get(&v, &p("a.list[0]")), Some(&json!(1)));
        assert!(set(&mut v, &p("a.list.x"), json!(1)).is_err());
        assert!(unset(&mut v, &p("gateway.auth.mode")));
        assert!(!unset(&mut v, &p("gateway.auth.mode")));
        assert_eq!(v["gateway"], json!({"auth": {}}));
    }

    #[test]
    fn merge_patch_rules() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "list": [1], "gone": 1});
        merge_patch(&mut v, &json!({"a": {"b": 3}, "gone": null, "new": {"x": 1}}), &[]).unwrap();
        assert_eq!(v, json!({"a": {"b": 3, "c": 2}, "list": [1], "new": {"x": 1}}));
        assert!(merge_patch(&mut v.clone(), &json!({"list": [2]}), &[]).unwrap_err().contains("replacePaths"));
        merge_patch(&mut v, &json!({"list": [2]}), &["list".into()]).unwrap();
        assert_eq!(v["list"], json!([2]));
        assert_eq!(changed_paths(&json!({"a": {"b": 1}, "x": 1}), &json!({"a": {"b": 2}, "y": {"z": 1}, "x": 1})), ["a.b", "y"]);
    }

    #[test]
    fn redaction() {
        let v = json!({"gateway": {"auth": {"token": "t", "mode": "token"}}, "models": {"providers": {"p": {"apiKey": "k", "baseUrl": "u"}}}});
        assert_eq!(
            redact(&v),
            json!({"gateway": {"auth": {"token": REDACTED, "mode": "token"}}, "models": {"providers": {"p": {"apiKey": REDACTED, "baseUrl": "u"}}}})
        );
        let text = "{ gateway: { auth: { token: 'secret', mode: 'token' } } } // password: 'x'";
        let parsed = super::super::json5::parse(text).unwrap();
        assert_eq!(
            redact_text(text, &parsed.spans, &parsed.value),
            "{ gateway: { auth: { token: \"__OPENCLAW_REDACTED__\", mode: 'token' } } } // password: 'x'"
        );
    }

    #[test]
    fn restore_keeps_references_and_secrets() {
        let stored = json!({"models": {"providers": {"p": {"apiKey": "${KEY}", "baseUrl": "u"}}}, "gateway": {"auth": {"token": "t"}}});
        let resolved = json!({"models": {"providers": {"p": {"apiKey": "sk-1", "baseUrl": "u"}}}, "gateway": {"auth": {"token": "t"}}});
        let mut new = json!({"models": {"providers": {"p": {"apiKey": "sk-1", "baseUrl": "v"}}}, "gateway": {"auth": {"token": REDACTED}}});
        restore(&mut new, &stored, &resolved);
        assert_eq!(new["models"]["providers"]["p"]["apiKey"], json!("${KEY}"));
        assert_eq!(new["gateway"]["auth"]["token"], json!("t"));
        let mut changed = json!({"models": {"providers": {"p": {"apiKey": "sk-2"}}}});
        restore(&mut changed, &stored, &resolved);
        assert_eq!(changed["models"]["providers"]["p"]["apiKey"], json!("sk-2"));
    }
}
