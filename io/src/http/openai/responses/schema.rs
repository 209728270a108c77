//! The strict request schema of `POST /v1/responses` (http.md §3.2), checked the way the
//! reference's zod schema checks it, so a bad body gets the same first complaint:
//! `<path.joined>: <message>`. Every check records an [`Issue`]; unknown keys, string lengths,
//! URL formats and number ranges are *soft* (parsing goes on), wrong types and unknown
//! variants are *fatal*. A union (`input`, `content`, `tool_choice`) whose one viable branch has
//! only soft issues reports those; otherwise it reports `<path>: Invalid input`.

use serde_json::{Map, Value};

/// One complaint about the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Issue {
    pub path: String,
    pub message: String,
    pub fatal: bool,
}

impl Issue {
    /// `path: message`, as the reference renders its first issue.
    pub(super) fn render(&self) -> String {
        format!("{}: {}", self.path, self.message)
    }
}

/// The issues found so far, in the order the reference's schema finds them.
#[derive(Default)]
pub(super) struct Issues(pub Vec<Issue>);

impl Issues {
    pub(super) fn fatal(&mut self, path: &str, message: String) {
        self.0.push(Issue { path: path.to_owned(), message, fatal: true });
    }

    pub(super) fn soft(&mut self, path: &str, message: String) {
        self.0.push(Issue { path: path.to_owned(), message, fatal: false });
    }

    fn any_fatal(&self) -> bool {
        self.0.iter().any(|i| i.fatal)
    }

    /// Runs `branch` (one side of a union at `path`) on its own issue list and folds the
    /// result in: soft issues are kept, a fatal one becomes `Invalid input` at `path`.
    pub(super) fn union<T>(&mut self, path: &str, branch: impl FnOnce(&mut Issues) -> T) -> T {
        let mut inner = Issues::default();
        let out = branch(&mut inner);
        if inner.any_fatal() {
            self.fatal(path, "Invalid input".into());
        } else {
            self.0.extend(inner.0);
        }
        out
    }
}

/// `a.b`, or `b` at the top.
pub(super) fn at(path: &str, key: impl std::fmt::Display) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The zod name of a JSON value's type (`undefined` for a missing key).
pub(super) fn kind(v: Option<&Value>) -> &'static str {
    match v {
        None => "undefined",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

fn expected(issues: &mut Issues, path: &str, what: &str, got: Option<&Value>) {
    issues.fatal(path, format!("Invalid input: expected {what}, received {}", kind(got)));
}

/// An object whose keys must all be in `known` (`strict()`): the unknown ones are one soft
/// issue at the object's path, after the fields' own issues.
pub(super) fn unknown_keys(issues: &mut Issues, path: &str, obj: &Map<String, Value>, known: &[&str]) {
    let extra: Vec<String> = obj.keys().filter(|k| !known.contains(&k.as_str())).map(|k| format!("\"{k}\"")).collect();
    match extra.len() {
        0 => {}
        1 => issues.soft(path, format!("Unrecognized key: {}", extra[0])),
        _ => issues.soft(path, format!("Unrecognized keys: {}", extra.join(", "))),
    }
}

/// `obj[key]` as an object (required).
pub(super) fn object<'a>(issues: &mut Issues, path: &str, v: Option<&'a Value>) -> Option<&'a Map<String, Value>> {
    match v {
        Some(Value::Object(o)) => Some(o),
        other => {
            expected(issues, path, "object", other);
            None
        }
    }
}

/// A required string.
pub(super) fn string(issues: &mut Issues, path: &str, v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.clone()),
        other => {
            expected(issues, path, "string", other);
            None
        }
    }
}

/// An optional string (a present `null` is wrong, as in zod).
pub(super) fn opt_string(issues: &mut Issues, path: &str, v: Option<&Value>) -> Option<String> {
    v.and_then(|v| string(issues, path, Some(v)))
}

/// A required string of at least one character.
pub(super) fn non_empty(issues: &mut Issues, path: &str, v: Option<&Value>, message: Option<&str>) -> Option<String> {
    let s = string(issues, path, v)?;
    if s.is_empty() {
        let m = message.unwrap_or("Too small: expected string to have >=1 characters");
        issues.soft(path, m.to_owned());
    }
    Some(s)
}

/// An optional boolean.
pub(super) fn opt_bool(issues: &mut Issues, path: &str, v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        other => {
            expected(issues, path, "boolean", Some(other));
            None
        }
    }
}

/// One of `options` (a zod enum).
pub(super) fn one_of(issues: &mut Issues, path: &str, v: Option<&Value>, options: &[&str]) -> Option<String> {
    match v {
        Some(Value::String(s)) if options.contains(&s.as_str()) => Some(s.clone()),
        _ => {
            let list: Vec<String> = options.iter().map(|o| format!("\"{o}\"")).collect();
            issues.fatal(path, format!("Invalid option: expected one of {}", list.join("|")));
            None
        }
    }
}

/// An optional enum value.
pub(super) fn opt_one_of(issues: &mut Issues, path: &str, v: Option<&Value>, options: &[&str]) -> Option<String> {
    v.and_then(|v| one_of(issues, path, Some(v), options))
}

/// The literal string `want` (a discriminator).
pub(super) fn literal(issues: &mut Issues, path: &str, v: Option<&Value>, want: &str) {
    if v.and_then(Value::as_str) != Some(want) {
        issues.fatal(path, format!("Invalid input: expected \"{want}\""));
    }
}

/// An optional number within `[min, max]` (soft range issues), optionally a positive integer.
pub(super) fn opt_number(issues: &mut Issues, path: &str, v: Option<&Value>, range: NumberRule) -> Option<f64> {
    let v = v?;
    let Some(n) = v.as_f64() else {
        expected(issues, path, "number", Some(v));
        return None;
    };
    match range {
        NumberRule::PositiveInt => {
            if n.fract() != 0.0 {
                issues.fatal(path, "Invalid input: expected int, received number".into());
                return None;
            }
            if n <= 0.0 {
                issues.soft(path, "Too small: expected number to be >0".into());
            }
        }
        NumberRule::Between(min, max) => {
            if n < min {
                issues.soft(path, format!("Too small: expected number to be >={min}"));
            } else if n > max {
                issues.soft(path, format!("Too big: expected number to be <={max}"));
            }
        }
    }
    Some(n)
}

/// What a number field allows.
#[derive(Clone, Copy)]
pub(super) enum NumberRule {
    PositiveInt,
    Between(f64, f64),
}

/// An optional `record(string, string)`.
pub(super) fn opt_string_record(issues: &mut Issues, path: &str, v: Option<&Value>) {
    let Some(v) = v else { return };
    let Some(obj) = v.as_object() else {
        expected(issues, path, "record", Some(v));
        return;
    };
    for (k, v) in obj {
        string(issues, &at(path, k), Some(v));
    }
}

/// A string that parses as an absolute URL (soft).
pub(super) fn url(issues: &mut Issues, path: &str, v: Option<&Value>) -> Option<String> {
    let s = string(issues, path, v)?;
    if reqwest::Url::parse(&s).is_err() {
        issues.soft(path, "Invalid URL".into());
    }
    Some(s)
}
