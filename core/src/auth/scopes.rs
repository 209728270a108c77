//! Roles, the ten operator scopes and their implications (protocol.md §2.2, §3.7).

use std::fmt;

use serde::{Serialize, Serializer};

/// The role a socket connected as. `worker` exists only on the separate worker route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Operator,
    Node,
}

impl Role {
    /// Parses `connect.params.role`; omitted means operator.
    pub fn parse(role: Option<&str>) -> Option<Self> {
        match role {
            None | Some("operator") => Some(Self::Operator),
            Some("node") => Some(Self::Node),
            Some(_) => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Node => "node",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One of the ten operator scopes (closed set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Admin,
    Read,
    Write,
    SessionsRead,
    SessionsWrite,
    Approvals,
    Questions,
    Pairing,
    Talk,
    TalkSecrets,
}

impl Scope {
    pub const ALL: [Scope; 10] = [
        Self::Admin,
        Self::Read,
        Self::Write,
        Self::SessionsRead,
        Self::SessionsWrite,
        Self::Approvals,
        Self::Questions,
        Self::Pairing,
        Self::Talk,
        Self::TalkSecrets,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "operator.admin",
            Self::Read => "operator.read",
            Self::Write => "operator.write",
            Self::SessionsRead => "operator.sessions.read",
            Self::SessionsWrite => "operator.sessions.write",
            Self::Approvals => "operator.approvals",
            Self::Questions => "operator.questions",
            Self::Pairing => "operator.pairing",
            Self::Talk => "operator.talk",
            Self::TalkSecrets => "operator.talk.secrets",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of granted scopes; keeps the order the client asked for (echoed in `hello-ok`).
/// Strings outside the closed set are kept for the echo (the reference does) but grant nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeSet {
    bits: u16,
    order: Vec<Scope>,
    /// Every requested string, known or not, in request order, deduplicated.
    requested: Vec<String>,
}

impl ScopeSet {
    pub fn empty() -> Self {
        Self::default()
    }

    /// Builds a set from requested scope strings. Strings outside the closed set grant nothing.
    pub fn from_requested<'a>(requested: impl IntoIterator<Item = &'a str>) -> Self {
        let mut set = ScopeSet::empty();
        for s in requested {
            match Scope::parse(s) {
                Some(scope) => set.insert(scope),
                None if !set.requested.iter().any(|r| r == s) => set.requested.push(s.to_owned()),
                None => {}
            }
        }
        set
    }

    pub fn insert(&mut self, scope: Scope) {
        if self.bits & scope.bit() == 0 {
            self.bits |= scope.bit();
            self.order.push(scope);
            self.requested.push(scope.as_str().to_owned());
        }
    }

    /// The scope strings as granted, in request order, unknown ones included.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.requested.iter().map(String::as_str)
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.bits & scope.bit() != 0
    }

    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.order.iter().copied()
    }

    /// Keeps only scopes also in `cap` (the `x-openclaw-scopes` upgrade header).
    pub fn intersect(&self, cap: &ScopeSet) -> ScopeSet {
        self.iter().filter(|s| cap.contains(*s)).collect()
    }

    /// `operatorScopeSatisfied(required, granted)` of §3.7.
    pub fn satisfies(&self, required: Scope) -> bool {
        if self.contains(required) || self.contains(Scope::Admin) {
            return true;
        }
        let write_implies = matches!(
            required,
            Scope::Read | Scope::Talk | Scope::SessionsRead | Scope::SessionsWrite
        );
        if write_implies && self.contains(Scope::Write) {
            return true;
        }
        required == Scope::SessionsRead
            && (self.contains(Scope::Read) || self.contains(Scope::SessionsWrite))
    }
}

/// `operatorScopeSatisfied` on scope strings (the reference's form for stored and requested
/// scopes, where strings outside the closed set may appear): only `operator.*` strings can be
/// satisfied, by themselves, by `operator.admin`, or by the implications of [`ScopeSet::satisfies`].
pub fn operator_scope_satisfied(requested: &str, granted: &[&str]) -> bool {
    if !requested.starts_with("operator.") {
        return false;
    }
    if granted.contains(&requested) || granted.contains(&"operator.admin") {
        return true;
    }
    match (Scope::parse(requested), granted.contains(&"operator.write")) {
        (Some(Scope::Read | Scope::Talk | Scope::SessionsRead | Scope::SessionsWrite), true) => true,
        (Some(Scope::SessionsRead), false) => {
            granted.contains(&"operator.read") || granted.contains(&"operator.sessions.write")
        }
        _ => false,
    }
}

/// The first of `requested` that `allowed` does not cover for `role` (the reference's
/// `resolveMissingRequestedScope`): operator scopes with their implications, other roles'
/// scopes only when prefixed `<role>.` and granted verbatim. Blank strings are skipped.
pub fn missing_requested_scope<'a>(role: &str, requested: &'a [String], allowed: &[String]) -> Option<&'a str> {
    let role = role.trim();
    let allowed: Vec<&str> = allowed.iter().map(|s| s.trim()).collect();
    requested.iter().map(String::as_str).find(|scope| {
        let scope = scope.trim();
        if scope.is_empty() {
            return false;
        }
        let covered = if role == "operator" {
            operator_scope_satisfied(scope, &allowed)
        } else {
            scope.strip_prefix(role).is_some_and(|rest| rest.starts_with('.')) && allowed.contains(&scope)
        };
        !covered
    })
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set = ScopeSet::empty();
        iter.into_iter().for_each(|s| set.insert(s));
        set
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(scopes: &[Scope]) -> ScopeSet {
        scopes.iter().copied().collect()
    }

    #[test]
    fn admin_satisfies_everything() {
        let admin = set(&[Scope::Admin]);
        assert!(Scope::ALL.iter().all(|&s| admin.satisfies(s)));
    }

    #[test]
    fn write_implies_read_talk_and_session_scopes_only() {
        let write = set(&[Scope::Write]);
        for s in [Scope::Read, Scope::Talk, Scope::SessionsRead, Scope::SessionsWrite, Scope::Write] {
            assert!(write.satisfies(s), "{s}");
        }
        for s in [Scope::Admin, Scope::Approvals, Scope::Questions, Scope::Pairing, Scope::TalkSecrets] {
            assert!(!write.satisfies(s), "{s}");
        }
    }

    #[test]
    fn read_implies_sessions_read_only() {
        let read = set(&[Scope::Read]);
        assert!(read.satisfies(Scope::SessionsRead));
        assert!(!read.satisfies(Scope::SessionsWrite));
        assert!(!read.satisfies(Scope::Write));
        assert!(set(&[Scope::SessionsWrite]).satisfies(Scope::SessionsRead));
    }

    #[test]
    fn unknown_scope_strings_grant_nothing_and_order_is_kept() {
        let s = ScopeSet::from_requested(["operator.write", "bogus", "operator.read", "operator.write"]);
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"["operator.write","bogus","operator.read"]"#);
        assert_eq!(s.iter().collect::<Vec<_>>(), [Scope::Write, Scope::Read]);
    }

    #[test]
    fn missing_requested_scope_follows_the_reference() {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let allowed = own(&["operator.write", "operator.pairing"]);
        assert_eq!(missing_requested_scope("operator", &own(&["operator.read", "operator.pairing"]), &allowed), None);
        assert_eq!(
            missing_requested_scope("operator", &own(&["operator.read", "operator.admin", "operator.x"]), &allowed),
            Some("operator.admin")
        );
        assert_eq!(missing_requested_scope("operator", &own(&["node.x"]), &own(&["operator.admin"])), Some("node.x"));
        assert_eq!(missing_requested_scope("operator", &own(&["operator.x"]), &own(&["operator.admin"])), None);
        assert_eq!(missing_requested_scope("operator", &own(&[" ", "operator.sessions.read"]), &own(&["operator.read"])), None);
        assert_eq!(missing_requested_scope("node", &own(&["node.a"]), &own(&["node.a"])), None);
        assert_eq!(missing_requested_scope("node", &own(&["node.b"]), &own(&["node.a", "operator.admin"])), Some("node.b"));
        assert_eq!(missing_requested_scope("node", &own(&["nodes.a"]), &own(&["nodes.a"])), Some("nodes.a"));
        assert_eq!(missing_requested_scope("operator", &[], &[]), None);
    }

    #[test]
    fn role_parse() {
        assert_eq!(Role::parse(None), Some(Role::Operator));
        assert_eq!(Role::parse(Some("node")), Some(Role::Node));
        assert_eq!(Role::parse(Some("admin")), None);
    }
}
