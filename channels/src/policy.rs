//! Inbound access rules shared by every channel (spec §2.4, §2.5): `dmPolicy`, `groupPolicy`,
//! and the decision for one sender once the channel has worked out whether that sender is on the
//! effective allowlist (its own id syntax: Telegram user ids, WhatsApp E.164 numbers).

/// `channels.<channel>.dmPolicy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DmPolicy {
    /// Unknown senders get a pairing code (the default).
    #[default]
    Pairing,
    /// Only `allowFrom` (and approvals); others are dropped silently.
    Allowlist,
    /// Anyone (`allowFrom` must contain `"*"`).
    Open,
    /// No DMs at all.
    Disabled,
}

impl DmPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pairing" => Self::Pairing,
            "allowlist" => Self::Allowlist,
            "open" => Self::Open,
            "disabled" => Self::Disabled,
            _ => return None,
        })
    }

    /// The decision for a sender, given whether it is on the effective allowlist (config
    /// `allowFrom` ∪ pairing approvals, `"*"` included).
    pub fn decide(self, allowed: bool) -> DmDecision {
        match self {
            Self::Disabled => DmDecision::Drop,
            Self::Open => DmDecision::Allow,
            Self::Allowlist | Self::Pairing if allowed => DmDecision::Allow,
            Self::Allowlist => DmDecision::Drop,
            Self::Pairing => DmDecision::Pair,
        }
    }
}

/// The decision for one inbound DM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmDecision {
    /// Process it: run the agent.
    Allow,
    /// Create/refresh a pairing request; reply with the code only when newly created.
    Pair,
    /// Drop silently (logged).
    Drop,
}

/// `channels.<channel>.groupPolicy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GroupPolicy {
    /// Any group; senders still filtered by `groupAllowFrom` when it is set.
    Open,
    /// Only groups listed in `groups` (ids or `"*"`), and senders in `groupAllowFrom` (which
    /// falls back to `allowFrom`, never to the pairing store). The default, and the fail-closed
    /// runtime default when the channel block is missing.
    #[default]
    Allowlist,
    /// No group messages.
    Disabled,
}

impl GroupPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => Self::Open,
            "allowlist" => Self::Allowlist,
            "disabled" => Self::Disabled,
            _ => return None,
        })
    }
}

/// What the channel knows about one group message's sender and group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupCheck {
    /// The group is in the `groups` map (by id or `"*"`).
    pub group_listed: bool,
    /// The sender list (`groupAllowFrom`, else `allowFrom`) is empty.
    pub sender_list_empty: bool,
    /// The sender is on that list (or it holds `"*"`).
    pub sender_listed: bool,
}

/// Whether a group message may trigger the agent (mention gating comes after this).
pub fn group_allowed(policy: GroupPolicy, check: GroupCheck) -> bool {
    let sender_ok = check.sender_list_empty || check.sender_listed;
    match policy {
        GroupPolicy::Disabled => false,
        GroupPolicy::Open => sender_ok,
        GroupPolicy::Allowlist => check.group_listed && sender_ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dm_decisions_per_policy() {
        use DmDecision::{Allow, Drop, Pair};
        let table = [
            (DmPolicy::Pairing, true, Allow),
            (DmPolicy::Pairing, false, Pair),
            (DmPolicy::Allowlist, true, Allow),
            (DmPolicy::Allowlist, false, Drop),
            (DmPolicy::Open, false, Allow),
            (DmPolicy::Disabled, true, Drop),
        ];
        for (policy, allowed, want) in table {
            assert_eq!(policy.decide(allowed), want, "{policy:?} allowed={allowed}");
        }
        assert_eq!(DmPolicy::parse("open"), Some(DmPolicy::Open));
        assert_eq!(DmPolicy::parse("Open"), None);
    }

    #[test]
    fn group_rules() {
        let listed = GroupCheck { group_listed: true, sender_list_empty: true, sender_listed: false };
        let unlisted = GroupCheck { group_listed: false, ..listed };
        let stranger = GroupCheck { group_listed: true, sender_list_empty: false, sender_listed: false };
        assert!(group_allowed(GroupPolicy::Allowlist, listed));
        assert!(!group_allowed(GroupPolicy::Allowlist, unlisted));
        assert!(!group_allowed(GroupPolicy::Allowlist, stranger));
        assert!(group_allowed(GroupPolicy::Open, unlisted));
        assert!(!group_allowed(GroupPolicy::Open, stranger));
        assert!(!group_allowed(GroupPolicy::Disabled, listed));
        assert_eq!(GroupPolicy::default(), GroupPolicy::Allowlist);
        assert_eq!(GroupPolicy::parse("disabled"), Some(GroupPolicy::Disabled));
    }
}
