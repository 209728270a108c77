//! `${VAR}` substitution in every string of the config (lifecycle.md §3.4).
//!
//! Only `[A-Z_][A-Z0-9_]*` names are references; anything else stays literally. An unset or
//! empty variable is an error naming the variable and the config path. `$${VAR}` is the escape
//! for a literal `${VAR}`.

use serde_json::Value;

use super::Issue;

/// Replaces every reference in every string of `value`; all missing variables are reported.
pub fn substitute(value: &Value, env: &dyn Fn(&str) -> Option<String>) -> Result<Value, Vec<Issue>> {
    let (out, issues) = substitute_lenient(value, env);
    if issues.is_empty() {
        Ok(out)
    } else {
        Err(issues)
    }
}

/// Like [`substitute`], but a string with a missing variable is kept as written and the
/// issues are returned beside the value (the CLI's view: a client command still works when
/// only the gateway's environment has the secret).
pub fn substitute_lenient(value: &Value, env: &dyn Fn(&str) -> Option<String>) -> (Value, Vec<Issue>) {
    let mut issues = Vec::new();
    let out = walk(value, env, "", &mut issues);
    (out, issues)
}

fn walk(value: &Value, env: &dyn Fn(&str) -> Option<String>, path: &str, issues: &mut Vec<Issue>) -> Value {
    match value {
        Value::String(s) => match substitute_str(s, env) {
            Ok(s) => Value::String(s),
            Err(names) => {
                for name in names {
                    let shown = if path.is_empty() { "<root>" } else { path };
                    issues.push(Issue::new(path, format!("Missing env var \"{name}\" referenced at config path: {shown}")));
                }
                value.clone()
            }
        },
        Value::Array(items) => {
            Value::Array(items.iter().enumerate().map(|(i, v)| walk(v, env, &format!("{path}[{i}]"), issues)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    (k.clone(), walk(v, env, &p, issues))
                })
                .collect(),
        ),
        Value::Null | Value::Bool(_) | Value::Number(_) => value.clone(),
    }
}

/// The name at the start of `s` if it is a reference name followed by `}`.
fn reference_name(s: &str) -> Option<&str> {
    let end = s.find('}')?;
    let name = &s[..end];
    let mut chars = name.chars();
    let first = chars.next()?;
    let ok = (first.is_ascii_uppercase() || first == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    ok.then_some(name)
}

/// Whether `s` holds at least one `${VAR}` reference (escapes excluded).
pub fn has_reference(s: &str) -> bool {
    substitute_str(s, &|_| None).is_err()
}

/// Substitutes one string; the error lists the missing names.
pub fn substitute_str(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(s.len());
    let mut missing = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(name) = tail.strip_prefix("$${").and_then(reference_name) {
            out.push_str("${");
            out.push_str(name);
            out.push('}');
            rest = &tail[3 + name.len() + 1..];
        } else if let Some(name) = tail.strip_prefix("${").and_then(reference_name) {
            match env(name).filter(|v| !v.is_empty()) {
                Some(v) => out.push_str(&v),
                None => missing.push(name.to_owned()),
            }
            rest = &tail[2 + name.len() + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("sk-1".into()),
            "EMPTY" => Some(String::new()),
            "A_1" => Some("a".into()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_inline_and_escapes() {
        assert_eq!(substitute_str("x-${KEY}-${A_1}", &env).unwrap(), "x-sk-1-a");
        assert_eq!(substitute_str("$${KEY} and $${NOPE}", &env).unwrap(), "${KEY} and ${NOPE}");
        assert_eq!(substitute_str("${lower} $5 ${ } ${KEY", &env).unwrap(), "${lower} $5 ${ } ${KEY");
        assert!(has_reference("a ${X}") && !has_reference("$${X}") && !has_reference("${x}"));
    }

    #[test]
    fn missing_and_empty_name_the_path() {
        let v = json!({"a": {"list": ["ok", "${NOPE}"], "b": "${EMPTY}"}, "n": 1});
        let issues: Vec<String> = substitute(&v, &env).unwrap_err().iter().map(|i| i.message.clone()).collect();
        assert_eq!(
            issues,
            [
                "Missing env var \"NOPE\" referenced at config path: a.list[1]",
                "Missing env var \"EMPTY\" referenced at config path: a.b"
            ]
        );
        assert_eq!(substitute(&json!({"k": ["${KEY}"]}), &env).unwrap(), json!({"k": ["sk-1"]}));
        let (kept, issues) = substitute_lenient(&json!({"k": "${NOPE}", "o": "${KEY}"}), &env);
        assert_eq!(kept, json!({"k": "${NOPE}", "o": "sk-1"}));
        assert_eq!(issues.len(), 1);
    }
}
