//! `previous_response_id` (http.md §3.3): which session a response ran in, remembered in
//! memory for 30 minutes (at most 500, oldest evicted), and reused only by a request from the
//! same auth subject, for the same agent, with the same `x-openclaw-session-key`. Pure: the
//! time is passed in.

use std::collections::VecDeque;

/// How long a response's session is remembered (ms).
const TTL_MS: u64 = 30 * 60 * 1000;
/// How many responses are remembered.
const MAX_ENTRIES: usize = 500;

/// Who may continue a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scope {
    /// `bearer:<sha256 hex of the credential>`, else `gateway-auth:<mode>`.
    pub auth_subject: String,
    pub agent: String,
    /// `x-openclaw-session-key`, trimmed, when sent.
    pub requested_session_key: Option<String>,
}

struct Entry {
    response_id: String,
    session_key: String,
    scope: Scope,
    at_ms: u64,
}

/// The remembered responses, oldest first.
#[derive(Default)]
pub(crate) struct ResponseSessions {
    entries: VecDeque<Entry>,
}

impl ResponseSessions {
    /// Remembers that `response_id` ran in `session_key`.
    pub(crate) fn store(&mut self, response_id: &str, session_key: &str, scope: Scope, now_ms: u64) {
        self.entries.retain(|e| e.response_id != response_id);
        self.entries.push_back(Entry { response_id: response_id.to_owned(), session_key: session_key.to_owned(), scope, at_ms: now_ms });
        while self.entries.front().is_some_and(|e| now_ms.saturating_sub(e.at_ms) > TTL_MS) {
            self.entries.pop_front();
        }
        while self.entries.len() > MAX_ENTRIES {
            self.entries.pop_front();
        }
    }

    /// The session of `response_id`, if it is remembered, fresh, and `scope` matches.
    pub(crate) fn lookup(&mut self, response_id: &str, scope: &Scope, now_ms: u64) -> Option<String> {
        let index = self.entries.iter().position(|e| e.response_id == response_id)?;
        if now_ms.saturating_sub(self.entries[index].at_ms) > TTL_MS {
            self.entries.remove(index);
            return None;
        }
        let entry = &self.entries[index];
        (entry.scope == *scope).then(|| entry.session_key.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(subject: &str) -> Scope {
        Scope { auth_subject: subject.into(), agent: "main".into(), requested_session_key: None }
    }

    #[test]
    fn remembered_for_the_same_scope_until_expiry() {
        let mut s = ResponseSessions::default();
        s.store("resp_1", "agent:main:openresponses:a", scope("bearer:x"), 1_000);
        assert_eq!(s.lookup("resp_1", &scope("bearer:x"), 2_000).as_deref(), Some("agent:main:openresponses:a"));
        assert_eq!(s.lookup("resp_1", &scope("bearer:y"), 2_000), None);
        let other_agent = Scope { agent: "ops".into(), ..scope("bearer:x") };
        assert_eq!(s.lookup("resp_1", &other_agent, 2_000), None);
        let with_key = Scope { requested_session_key: Some("k".into()), ..scope("bearer:x") };
        assert_eq!(s.lookup("resp_1", &with_key, 2_000), None);
        assert_eq!(s.lookup("resp_2", &scope("bearer:x"), 2_000), None);
        assert_eq!(s.lookup("resp_1", &scope("bearer:x"), 1_000 + TTL_MS + 1), None);
        assert_eq!(s.entries.len(), 0, "an expired entry is dropped when looked up");
    }

    #[test]
    fn at_most_500_oldest_evicted() {
        let mut s = ResponseSessions::default();
        for i in 0..=MAX_ENTRIES {
            s.store(&format!("resp_{i}"), &format!("k{i}"), scope("a"), 0);
        }
        assert_eq!(s.entries.len(), MAX_ENTRIES);
        assert_eq!(s.lookup("resp_0", &scope("a"), 0), None);
        assert_eq!(s.lookup(&format!("resp_{MAX_ENTRIES}"), &scope("a"), 0).as_deref(), Some(format!("k{MAX_ENTRIES}").as_str()));
    }
}
