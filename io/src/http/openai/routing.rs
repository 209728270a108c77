//! Which agent and which session an OpenAI-compatible request runs in (http.md §2.4): the
//! `model` string names the agent (not a provider model), headers may override both, and the
//! session is per `user` or fresh per request.

use hyper::HeaderMap;
use openclaw_core::wire::hello::SessionDefaults;

use crate::http::HttpError;
use crate::identity::random_uuid;

/// The agent a `model` string names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AgentTarget {
    /// `openclaw`, `openclaw/default`: the configured default agent.
    Default,
    /// `openclaw/<id>`, `openclaw:<id>`, `agent:<id>` (lowercased).
    Named(String),
}

impl AgentTarget {
    /// Parses the request's `model`; anything else is a 400 with the reference's sentence.
    pub(crate) fn from_model(model: &str) -> Result<Self, HttpError> {
        let model = model.trim();
        if model == "openclaw" || model == "openclaw/default" {
            return Ok(Self::Default);
        }
        let id = ["openclaw/", "openclaw:", "agent:"].iter().find_map(|p| model.strip_prefix(p));
        match id.and_then(agent_id) {
            Some(id) => Ok(Self::Named(id)),
            None => Err(HttpError::BadRequest("Invalid `model`. Use `openclaw` or `openclaw/<agentId>`.".into())),
        }
    }
}

/// A valid agent id (`[a-z0-9][a-z0-9_-]{0,63}`, case-insensitive), lowercased.
fn agent_id(raw: &str) -> Option<String> {
    let id = raw.trim().to_ascii_lowercase();
    let mut chars = id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (first_ok && rest_ok && id.len() <= 64).then_some(id)
}

/// The agents this gateway has: only the default one so far.
pub(crate) fn agents() -> Vec<String> {
    vec![SessionDefaults::default().default_agent_id]
}

/// The agent id to run: `x-openclaw-agent-id` (alias `x-openclaw-agent`) wins over `model`;
/// it must be a configured agent.
pub(crate) fn resolve_agent(headers: &HeaderMap, target: &AgentTarget) -> Result<String, HttpError> {
    let header = ["x-openclaw-agent-id", "x-openclaw-agent"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty()));
    let wanted = match (header, target) {
        (Some(raw), _) => agent_id(raw).ok_or_else(|| unknown(raw))?,
        (None, AgentTarget::Named(id)) => id.clone(),
        (None, AgentTarget::Default) => return Ok(SessionDefaults::default().default_agent_id),
    };
    if agents().contains(&wanted) {
        Ok(wanted)
    } else {
        Err(unknown(&wanted))
    }
}

fn unknown(id: &str) -> HttpError {
    HttpError::BadRequest(format!("Unknown agent '{id}'."))
}

/// Session key namespaces only the gateway itself may use.
const RESERVED: [&str; 3] = ["subagent:", "cron:", "acp:"];

/// The session the run uses: `x-openclaw-session-key` verbatim (not in a reserved namespace),
/// else `agent:<agent>:<prefix>-user:<user>` for a `user`, else a fresh
/// `agent:<agent>:<prefix>:<uuid>` (stateless). `prefix` is `openai` or `openresponses`.
pub(crate) fn session_key(headers: &HeaderMap, agent: &str, user: Option<&str>, prefix: &str) -> Result<String, HttpError> {
    let header = headers.get("x-openclaw-session-key").and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(key) = header.filter(|k| !k.is_empty()) {
        let lower = key.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("agent:")
            .and_then(|r| r.split_once(':'))
            .map_or(lower.as_str(), |(_, rest)| rest);
        if RESERVED.iter().any(|ns| rest.starts_with(ns) || lower.starts_with(ns)) {
            return Err(HttpError::BadRequest(
                "`x-openclaw-session-key` cannot use reserved internal session namespaces.".into(),
            ));
        }
        return Ok(key.to_owned());
    }
    Ok(match user {
        Some(user) => format!("agent:{agent}:{prefix}-user:{user}"),
        None => format!("agent:{agent}:{prefix}:{}", random_uuid()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn model_names_the_agent() {
        assert_eq!(AgentTarget::from_model("openclaw").unwrap(), AgentTarget::Default);
        assert_eq!(AgentTarget::from_model("openclaw/default").unwrap(), AgentTarget::Default);
        for m in ["openclaw/Main", "openclaw:main", "agent:main"] {
            assert_eq!(AgentTarget::from_model(m).unwrap(), AgentTarget::Named("main".into()), "{m}");
        }
        for m in ["gpt-4", "openclaw/", "openclaw/a b", ""] {
            assert!(AgentTarget::from_model(m).is_err(), "{m}");
        }
    }

    #[test]
    fn agents_must_exist_and_headers_win() {
        let none = HeaderMap::new();
        assert_eq!(resolve_agent(&none, &AgentTarget::Default).unwrap(), "main");
        assert_eq!(resolve_agent(&none, &AgentTarget::Named("main".into())).unwrap(), "main");
        let err = resolve_agent(&none, &AgentTarget::Named("nope".into())).unwrap_err();
        assert_eq!(err.to_string(), "Unknown agent 'nope'.");
        let err = resolve_agent(&headers(&[("x-openclaw-agent-id", "other")]), &AgentTarget::Default).unwrap_err();
        assert_eq!(err.to_string(), "Unknown agent 'other'.");
        assert_eq!(resolve_agent(&headers(&[("x-openclaw-agent", "MAIN")]), &AgentTarget::Default).unwrap(), "main");
    }

    #[test]
    fn session_keys() {
        let none = HeaderMap::new();
        assert_eq!(session_key(&none, "main", Some("bob"), "openai").unwrap(), "agent:main:openai-user:bob");
        let fresh = session_key(&none, "main", None, "openai").unwrap();
        assert!(fresh.starts_with("agent:main:openai:") && fresh.len() == "agent:main:openai:".len() + 36, "{fresh}");
        assert_ne!(fresh, session_key(&none, "main", None, "openai").unwrap());
        let h = headers(&[("x-openclaw-session-key", "agent:main:mine")]);
        assert_eq!(session_key(&h, "main", Some("bob"), "openai").unwrap(), "agent:main:mine");
        for reserved in ["cron:x", "agent:main:subagent:y", "acp:z"] {
            let h = headers(&[("x-openclaw-session-key", reserved)]);
            assert!(session_key(&h, "main", None, "openai").is_err(), "{reserved}");
        }
    }
}
