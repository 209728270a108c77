//! Inbound DM access (spec §2.4): `dmPolicy` and `allowFrom`, and the decision for one sender.
//! The effective allowlist is the config `allowFrom` ∪ the pairing store's approvals.

pub use crate::policy::{DmDecision, DmPolicy};

/// One `allowFrom` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllowEntry {
    /// `"*"`: anyone.
    Anyone,
    /// A numeric Telegram user id.
    User(i64),
}

/// Config problems, reported by validation with the offending value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("allowFrom entry {0:?} is not a numeric Telegram user id (or \"*\")")]
    BadEntry(String),
    #[error("dmPolicy \"open\" requires allowFrom to contain \"*\"")]
    OpenWithoutWildcard,
    #[error("dmPolicy \"allowlist\" requires a non-empty allowFrom")]
    EmptyAllowlist,
}

/// Parses an `allowFrom` entry: `"*"`, or a user id with an optional `telegram:`/`tg:` prefix.
pub fn parse_allow_entry(raw: &str) -> Result<AllowEntry, PolicyError> {
    let s = raw.trim();
    if s == "*" {
        return Ok(AllowEntry::Anyone);
    }
    let lower = s.to_ascii_lowercase();
    let id = lower.strip_prefix("telegram:").or_else(|| lower.strip_prefix("tg:")).unwrap_or(&lower);
    id.trim().parse().map(AllowEntry::User).map_err(|_| PolicyError::BadEntry(raw.into()))
}

/// A validated DM access configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DmAccess {
    pub policy: DmPolicy,
    pub allow_from: Vec<AllowEntry>,
}

impl DmAccess {
    /// Validates `dmPolicy` + `allowFrom` as the reference's config validation does.
    pub fn new(policy: DmPolicy, allow_from: &[String]) -> Result<Self, PolicyError> {
        let allow_from = allow_from.iter().map(|e| parse_allow_entry(e)).collect::<Result<Vec<_>, _>>()?;
        match policy {
            DmPolicy::Open if !allow_from.contains(&AllowEntry::Anyone) => Err(PolicyError::OpenWithoutWildcard),
            DmPolicy::Allowlist if allow_from.is_empty() => Err(PolicyError::EmptyAllowlist),
            DmPolicy::Pairing | DmPolicy::Allowlist | DmPolicy::Open | DmPolicy::Disabled => Ok(Self { policy, allow_from }),
        }
    }

    /// What to do with a DM from `sender`; `approved` are the pairing store's approvals.
    pub fn decide(&self, sender: i64, approved: &[i64]) -> DmDecision {
        let allowed = || {
            approved.contains(&sender)
                || self.allow_from.iter().any(|e| matches!(e, AllowEntry::Anyone) || *e == AllowEntry::User(sender))
        };
        match self.policy {
            DmPolicy::Disabled => DmDecision::Drop,
            DmPolicy::Open => DmDecision::Allow,
            DmPolicy::Allowlist if allowed() => DmDecision::Allow,
            DmPolicy::Allowlist => DmDecision::Drop,
            DmPolicy::Pairing if allowed() => DmDecision::Allow,
            DmPolicy::Pairing => DmDecision::Pair,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(policy: DmPolicy, allow: &[&str]) -> Result<DmAccess, PolicyError> {
        DmAccess::new(policy, &allow.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn entries_parse_with_prefixes_and_bad_ones_are_named() {
        assert_eq!(parse_allow_entry("tg:111"), Ok(AllowEntry::User(111)));
        assert_eq!(parse_allow_entry(" Telegram:222 "), Ok(AllowEntry::User(222)));
        assert_eq!(parse_allow_entry("*"), Ok(AllowEntry::Anyone));
        assert_eq!(parse_allow_entry("@ann"), Err(PolicyError::BadEntry("@ann".into())));
    }

    #[test]
    fn validation_matches_the_reference() {
        assert_eq!(access(DmPolicy::Open, &["111"]), Err(PolicyError::OpenWithoutWildcard));
        assert_eq!(access(DmPolicy::Allowlist, &[]), Err(PolicyError::EmptyAllowlist));
        assert!(access(DmPolicy::Pairing, &[]).is_ok());
        assert!(access(DmPolicy::Disabled, &[]).is_ok());
        assert_eq!(DmPolicy::parse("paring"), None);
        assert_eq!(DmPolicy::default(), DmPolicy::Pairing);
    }

    #[test]
    fn decisions_per_policy() {
        let pairing = access(DmPolicy::Pairing, &["111"]).expect("ok");
        assert_eq!(pairing.decide(111, &[]), DmDecision::Allow);
        assert_eq!(pairing.decide(222, &[]), DmDecision::Pair);
        assert_eq!(pairing.decide(222, &[222]), DmDecision::Allow, "approved by pairing");
        let allowlist = access(DmPolicy::Allowlist, &["tg:111"]).expect("ok");
        assert_eq!(allowlist.decide(111, &[]), DmDecision::Allow);
        assert_eq!(allowlist.decide(222, &[]), DmDecision::Drop);
        assert_eq!(allowlist.decide(222, &[222]), DmDecision::Allow);
        assert_eq!(access(DmPolicy::Open, &["*"]).expect("ok").decide(5, &[]), DmDecision::Allow);
        assert_eq!(access(DmPolicy::Disabled, &["111"]).expect("ok").decide(111, &[111]), DmDecision::Drop);
    }
}
