//! Validation of a resolved config value into the typed [`Config`], with one [`Issue`] per
//! problem (all of them, not just the first).
//!
//! Two passes. First the keys: walking the value beside our key tree and the reference's, a key
//! we implement is kept, a key only the reference knows is dropped with a warning
//! (`not supported yet; ignored`), and a key neither knows is an error with a did-you-mean.
//! Then the values of the kept keys are checked against the emitted config schema (types,
//! enums, ranges, required keys), and the result is deserialized.

// Catch-all arms over `serde_json::Value` are deliberate: each walk cares about one or two shapes.
#![allow(clippy::wildcard_enum_match_arm)]

use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::keys::{self, ITEMS};
use super::{Config, Issue};

/// A config that passed, with the warnings for ignored reference keys.
#[derive(Clone, Debug, PartialEq)]
pub struct Validated {
    pub config: Config,
    pub warnings: Vec<Issue>,
}

/// A config that failed: every issue, and the warnings found on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Invalid {
    pub issues: Vec<Issue>,
    pub warnings: Vec<Issue>,
}

/// Validates a resolved (includes merged, `${VAR}` substituted) config value.
pub fn validate(value: &Value) -> Result<Validated, Invalid> {
    let mut issues = Vec::new();
    let mut warnings = Vec::new();
    if !value.is_object() {
        issues.push(Issue::new("", format!("expected an object (got {})", type_of(value))));
        return Err(Invalid { issues, warnings });
    }
    let pruned = prune(value, Some(keys::ours()), Some(keys::reference()), "", &mut issues, &mut warnings);
    schema_issues(&pruned, &mut issues);
    if !issues.is_empty() {
        return Err(Invalid { issues, warnings });
    }
    match serde_json::from_value::<Config>(pruned) {
        Ok(config) => Ok(Validated { config, warnings }),
        Err(e) => {
            issues.push(Issue::new("", e.to_string()));
            Err(Invalid { issues, warnings })
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Copies `value` without the reference-only keys, reporting unknown keys.
fn prune(
    value: &Value,
    ours: Option<&Value>,
    reference: Option<&Value>,
    path: &str,
    issues: &mut Vec<Issue>,
    warnings: &mut Vec<Issue>,
) -> Value {
    // An opaque value (a leaf of our tree) is taken as it is; the schema pass checks its type.
    let Some(node) = ours.filter(|n| keys::has_keys(n) || n.get(ITEMS).is_some()) else {
        return value.clone();
    };
    match value {
        Value::Object(map) if keys::has_keys(node) => {
            let mut out = Map::new();
            for (k, v) in map {
                let p = join(path, k);
                let r = keys::child(reference, k);
                match keys::child(Some(node), k) {
                    Some(o) => {
                        out.insert(k.clone(), prune(v, Some(o), r, &p, issues, warnings));
                    }
                    None if r.is_some() => warnings.push(Issue::new(&p, "not supported yet; ignored".into())),
                    None if matches!(p.as_str(), "gateway.token" | "gateway.password") => issues.push(Issue::new(
                        &p,
                        format!("Found \"{p}\" in config. Use \"gateway.auth.{k}\" instead."),
                    )),
                    None => {
                        let mut message = format!("unknown key \"{k}\"");
                        if let Some(hint) = did_you_mean(k, Some(node), reference) {
                            message.push_str(&format!(" (did you mean \"{hint}\"?)"));
                        }
                        issues.push(Issue::new(&p, message));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let (o, r) = (node.get(ITEMS), reference.and_then(|r| r.get(ITEMS)));
            Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| prune(v, o, r, &format!("{path}[{i}]"), issues, warnings))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// The closest known key at this level (ours first, then the reference's), if close enough.
fn did_you_mean(key: &str, ours: Option<&Value>, reference: Option<&Value>) -> Option<String> {
    let lower = key.to_lowercase();
    fn best<'a>(lower: &str, names: Vec<&'a str>) -> Option<(usize, &'a str)> {
        names
            .into_iter()
            .map(|n| (strsim::damerau_levenshtein(lower, &n.to_lowercase()), n))
            .filter(|(d, n)| *d <= (n.chars().count() / 3).max(2))
            .min()
    }
    match (best(&lower, keys::names(ours)), best(&lower, keys::names(reference))) {
        (Some((d1, _)), Some((d2, n2))) if d2 < d1 => Some(n2.to_owned()),
        (Some((_, n)), _) | (None, Some((_, n))) => Some(n.to_owned()),
        (None, None) => None,
    }
}

fn validator() -> &'static jsonschema::Validator {
    static CELL: OnceLock<jsonschema::Validator> = OnceLock::new();
    CELL.get_or_init(|| {
        // The schema is generated from our own types; a test compiles it, failure is a build bug.
        #[allow(clippy::expect_used)]
        jsonschema::validator_for(super::schema()).expect("the config schema compiles")
    })
}

// `ValidationErrorKind` is the validator's (open-ended) enum; other kinds use its own wording.
#[allow(clippy::wildcard_enum_match_arm)]
fn schema_issues(value: &Value, issues: &mut Vec<Issue>) {
    use jsonschema::error::ValidationErrorKind as K;
    for err in validator().iter_errors(value) {
        let pointer: Vec<String> = err.instance_path().to_string().split('/').skip(1).map(unescape).collect();
        let path = dotted(value, &pointer);
        let (path, message, allowed) = match err.kind() {
            K::Enum { options } => {
                let allowed: Vec<String> =
                    options.as_array().into_iter().flatten().map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_owned)).collect();
                let list: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
                (path, format!("expected one of {} (got {})", list.join(", "), err.instance()), allowed)
            }
            K::Type { kind } => (path, format!("expected {} (got {})", type_names(kind), type_of(err.instance())), Vec::new()),
            K::Required { property } => {
                let name = property.as_str().map_or_else(|| property.to_string(), str::to_owned);
                (join(&path, &name), "missing required key".to_owned(), Vec::new())
            }
            K::AdditionalProperties { unexpected } => {
                let name = unexpected.first().cloned().unwrap_or_default();
                (join(&path, &name), format!("unknown key \"{name}\""), Vec::new())
            }
            K::Minimum { limit } => (path, format!("expected a number >= {limit} (got {})", err.instance()), Vec::new()),
            K::Maximum { limit } => (path, format!("expected a number <= {limit} (got {})", err.instance()), Vec::new()),
            K::AnyOf { .. } | K::OneOfNotValid { .. } => {
                let message = format!("expected {} (got {})", any_of_shapes(&path), type_of(err.instance()));
                (path, message, Vec::new())
            }
            _ => (path, err.to_string(), Vec::new()),
        };
        // An enum's own message says more than the type mismatch reported beside it.
        if matches!(err.kind(), K::Enum { .. }) {
            issues.retain(|i| !(i.path == path && i.message.starts_with("expected a")));
        }
        let enum_reported = issues.iter().any(|i| i.path == path && !i.allowed.is_empty());
        if enum_reported && matches!(err.kind(), K::Type { .. }) {
            continue;
        }
        if !issues.iter().any(|i: &Issue| i.path == path && i.message == message) {
            let mut issue = Issue::new(&path, message);
            issue.allowed = allowed;
            issues.push(issue);
        }
    }
}

/// What a union key accepts, in words.
fn any_of_shapes(path: &str) -> &'static str {
    if path.ends_with("model") {
        "a \"<provider>/<model>\" string or {primary, fallbacks}"
    } else {
        "one of the allowed shapes"
    }
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// `["gateway","auth","mode"]` → `gateway.auth.mode`; array indexes become `[i]`.
fn dotted(root: &Value, pointer: &[String]) -> String {
    let mut out = String::new();
    let mut at = Some(root);
    for seg in pointer {
        match at {
            Some(Value::Array(items)) => {
                out.push_str(&format!("[{seg}]"));
                at = seg.parse::<usize>().ok().and_then(|i| items.get(i));
            }
            _ => {
                out = join(&out, seg);
                at = at.and_then(|v| v.get(seg));
            }
        }
    }
    out
}

fn type_names(kind: &jsonschema::error::TypeKind) -> String {
    use jsonschema::error::TypeKind;
    let name = |t: String| match t.as_str() {
        "integer" => "an integer".to_owned(),
        "object" | "array" => format!("an {t}"),
        other => format!("a {other}"),
    };
    match kind {
        TypeKind::Single(t) => name(t.to_string()),
        TypeKind::Multiple(ts) => ts.iter().map(|t| name(t.to_string())).collect::<Vec<_>>().join(" or "),
    }
}

/// The JSON type of a value, in words.
pub fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issues(v: Value) -> Vec<String> {
        validate(&v).unwrap_err().issues.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn accepts_every_implemented_key() {
        let v = json!({
            "$schema": "x", "meta": {"lastTouchedVersion": "1", "lastTouchedAt": "t", "migrations": {"a": true}},
            "gateway": {"mode": "local", "port": 18789, "bind": "custom", "customBindHost": "10.0.0.1",
                "auth": {"mode": "trusted-proxy", "token": "t", "password": "p", "allowTailscale": false,
                    "rateLimit": {"maxAttempts": 3, "windowMs": 1, "lockoutMs": 2, "exemptLoopback": true}},
                "controlUi": {"enabled": true, "basePath": "/x", "allowedOrigins": ["*"]},
                "remote": {"url": "ws://x", "token": "t", "password": "p"},
                "reload": {"mode": "hot", "debounceMs": 300}},
            "logging": {"level": "debug", "file": "/tmp/x", "consoleLevel": "warn", "consoleStyle": "json",
                "redactSensitive": "tools", "redactPatterns": ["a"]},
            "commands": {"restart": false},
            "models": {"providers": {"p": {"baseUrl": "http://x", "apiKey": "k", "api": "anthropic-messages", "models": [{"id": "m"}]}}},
            "agents": {"defaults": {"model": {"primary": "p/m", "fallbacks": ["p/n"]}, "workspace": "~/w", "timeoutSeconds": 5, "systemPrompt": "s"}}
        });
        let ok = validate(&v).unwrap();
        assert!(ok.warnings.is_empty());
        let gw = ok.config.gateway.unwrap();
        assert_eq!(gw.auth.unwrap().mode, Some(super::super::AuthMode::TrustedProxy));
        assert!(validate(&json!({"agents": {"defaults": {"model": "p/m"}}})).is_ok());
    }

    #[test]
    fn reference_keys_warn_and_are_dropped() {
        let ok = validate(&json!({"gateway": {"mode": "local", "tailscale": {"mode": "serve"}}, "channels": {"discord": {}, "whatsapp": {"selfChatMode": true}}})).unwrap();
        let w: Vec<String> = ok.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(w, ["gateway.tailscale: not supported yet; ignored", "channels.discord: not supported yet; ignored", "channels.whatsapp.selfChatMode: not supported yet; ignored"]);
    }

    #[test]
    fn unknown_keys_suggest() {
        assert_eq!(
            issues(json!({"gateway": {"prot": 1}, "gatway": {}, "zzzzzz": 1})),
            [
                "gateway.prot: unknown key \"prot\" (did you mean \"port\"?)",
                "gatway: unknown key \"gatway\" (did you mean \"gateway\"?)",
                "zzzzzz: unknown key \"zzzzzz\""
            ]
        );
        assert_eq!(issues(json!({"gateway": {"token": "t"}})), ["gateway.token: Found \"gateway.token\" in config. Use \"gateway.auth.token\" instead."]);
        // A reference-only key is a fine suggestion too.
        assert_eq!(issues(json!({"gateway": {"tailscal": {}}})), ["gateway.tailscal: unknown key \"tailscal\" (did you mean \"tailscale\"?)"]);
    }

    #[test]
    fn values_are_checked() {
        assert_eq!(
            issues(json!({"gateway": {"bind": "nope", "port": "x", "auth": {"mode": 5}}})),
            [
                "gateway.bind: expected one of \"loopback\", \"lan\", \"tailnet\", \"auto\", \"custom\" (got \"nope\")",
                "gateway.port: expected an integer (got a string)",
                "gateway.auth.mode: expected one of \"token\", \"password\", \"none\", \"trusted-proxy\" (got 5)",
            ]
        );
        assert_eq!(issues(json!({"gateway": {"port": 70000}})), ["gateway.port: expected a number <= 65535 (got 70000)"]);
        assert_eq!(issues(json!({"models": {"providers": {"p": {}}}})), ["models.providers.p.baseUrl: missing required key"]);
        assert_eq!(
            issues(json!({"agents": {"defaults": {"model": 3}}})),
            ["agents.defaults.model: expected a \"<provider>/<model>\" string or {primary, fallbacks} (got an integer)"]
        );
        assert_eq!(
            issues(json!({"gateway": {"controlUi": {"allowedOrigins": ["a", 2]}}})),
            ["gateway.controlUi.allowedOrigins[1]: expected a string (got an integer)"]
        );
        assert_eq!(issues(json!([])), ["<root>: expected an object (got an array)"]);
    }

    #[test]
    fn telegram_keys_are_validated_where_they_are() {
        let ok = validate(&json!({"channels": {"telegram": {"botToken": "1:a", "dmPolicy": "allowlist", "allowFrom": [111, "tg:2"],
            "groups": {"-100": {"requireMention": false}}, "accounts": {"work": {"tokenFile": "/t", "apiRoot": "http://x"}}}},
            "session": {"dmScope": "per-peer"}}))
        .unwrap();
        assert!(ok.warnings.is_empty(), "{:?}", ok.warnings);
        let tg = ok.config.channels.unwrap().telegram.unwrap();
        assert_eq!(tg.bot_token.as_deref(), Some("1:a"));
        assert!(!format!("{tg:?}").contains("1:a"), "the token is never printed");
        let bad = issues(json!({"channels": {"telegram": {"dmPolicy": "paring", "accounts": {"w": {"botTokn": "x"}}}}}));
        assert!(bad.iter().any(|i| i.starts_with("channels.telegram.dmPolicy")), "{bad:?}");
        assert!(bad.iter().any(|i| i.starts_with("channels.telegram.accounts.w.botTokn") && i.contains("botToken")), "{bad:?}");
    }
}
