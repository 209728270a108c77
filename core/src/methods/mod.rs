//! Methods: the served ones (one entry each in [`table`](self::table), the rest derived), the
//! reference's scope for every other name, and authorisation (protocol.md §3.7, §4).

mod scope_table;

use serde_json::json;

use crate::auth::scopes::{Role, Scope, ScopeSet};
use crate::wire::frames::{ErrorCode, ErrorShape};

mod derive;
mod table;

pub use table::{Method, MethodCall, SERVED_METHODS};
pub(crate) use table::method_schemas;

impl Method {
    fn is_node_method(&self) -> bool {
        scope_table::NODE_ROLE_METHODS.binary_search(&self.name()).is_ok()
    }

    /// The scope an operator needs: the table's for a served method, else the reference's;
    /// methods the reference does not know default to admin.
    pub fn required_scope(&self) -> Scope {
        if let Some(scope) = self.served_scope() {
            return scope;
        }
        scope_table::OPERATOR_METHOD_SCOPES
            .binary_search_by(|(name, _)| name.cmp(&self.name()))
            .map_or(Scope::Admin, |i| scope_table::OPERATOR_METHOD_SCOPES[i].1)
    }
}

/// Why a request was refused before its handler ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    /// The method belongs to the other role (counts toward the repeated-violation close).
    WrongRole(Role),
    MissingScope(Scope),
}

impl Denial {
    pub fn to_error(&self) -> ErrorShape {
        match self {
            Self::WrongRole(role) => ErrorShape::invalid_request(format!("unauthorized role: {role}")),
            Self::MissingScope(scope) => ErrorShape::new(
                ErrorCode::Forbidden,
                format!("missing scope: {scope}"),
            )
            .with_details(json!({
                "code": "MISSING_SCOPE",
                "missingScope": scope.as_str(),
                "requiredScopes": [scope.as_str()],
            })),
        }
    }
}

/// `authorizeGatewayMethod` of §3.7.
pub fn authorize(method: &Method, role: Role, scopes: &ScopeSet) -> Result<(), Denial> {
    if *method == Method::Health {
        return Ok(());
    }
    match (role, method.is_node_method()) {
        (Role::Operator, true) | (Role::Node, false) => return Err(Denial::WrongRole(role)),
        (Role::Node, true) => return Ok(()),
        (Role::Operator, false) => {}
    }
    if matches!(method.name(), "device.scopes.requestUpgrade" | "device.scopes.waitUpgrade") {
        return Ok(());
    }
    let required = method.required_scope();
    if scopes.satisfies(required) {
        Ok(())
    } else {
        Err(Denial::MissingScope(required))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[Scope]) -> ScopeSet {
        list.iter().copied().collect()
    }

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert!(scope_table::OPERATOR_METHOD_SCOPES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(scope_table::NODE_ROLE_METHODS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn served_scopes_match_the_reference() {
        for name in SERVED_METHODS {
            let m = Method::parse(name);
            if m.is_node_method() {
                continue; // only nodes call them; no operator scope applies
            }
            let reference = scope_table::OPERATOR_METHOD_SCOPES
                .binary_search_by(|(n, _)| n.cmp(name))
                .map(|i| scope_table::OPERATOR_METHOD_SCOPES[i].1);
            assert_eq!(m.served_scope().map(Ok), Some(reference), "{name}");
            assert_eq!(m.name(), *name);
        }
    }

    #[test]
    fn every_served_method_parses_its_empty_or_minimal_params_or_explains() {
        for name in SERVED_METHODS {
            let m = Method::parse(name);
            assert!(m.validator().is_some(), "{name} has a validator");
            // `{}` either types or fails with the schema's words (never panics, never `None`).
            match MethodCall::parse(&m, None) {
                Ok(Some(call)) => assert_eq!(call.method(), m),
                Ok(None) => panic!("{name} is served"),
                Err(message) => assert!(message.contains("must"), "{name}: {message}"),
            }
        }
        assert_eq!(MethodCall::parse(&Method::parse("no.such"), None), Ok(None));
        assert_eq!(MethodCall::parse(&Method::Connect, None), Ok(None));
    }

    #[test]
    fn health_is_open_to_every_role_and_scope_set() {
        assert_eq!(authorize(&Method::Health, Role::Operator, &ScopeSet::empty()), Ok(()));
        assert_eq!(authorize(&Method::Health, Role::Node, &ScopeSet::empty()), Ok(()));
    }

    #[test]
    fn roles_are_partitioned() {
        let node_method = Method::parse("node.invoke.result");
        let admin = scopes(&[Scope::Admin]);
        assert_eq!(authorize(&node_method, Role::Operator, &admin), Err(Denial::WrongRole(Role::Operator)));
        assert_eq!(authorize(&node_method, Role::Node, &ScopeSet::empty()), Ok(()));
        assert_eq!(authorize(&Method::Status, Role::Node, &admin), Err(Denial::WrongRole(Role::Node)));
    }

    #[test]
    fn unknown_methods_need_admin() {
        let m = Method::parse("no.such.method");
        assert_eq!(authorize(&m, Role::Operator, &scopes(&[Scope::Write])), Err(Denial::MissingScope(Scope::Admin)));
        assert_eq!(authorize(&m, Role::Operator, &scopes(&[Scope::Admin])), Ok(()));
    }

    #[test]
    fn static_scopes_and_implications() {
        let read = scopes(&[Scope::Read]);
        assert_eq!(authorize(&Method::Status, Role::Operator, &read), Ok(()));
        assert_eq!(authorize(&Method::SystemEvent, Role::Operator, &read), Err(Denial::MissingScope(Scope::Admin)));
        assert_eq!(authorize(&Method::Status, Role::Operator, &scopes(&[Scope::Write])), Ok(()));
        assert_eq!(authorize(&Method::Connect, Role::Operator, &read), Err(Denial::MissingScope(Scope::Admin)));
        let err = Denial::MissingScope(Scope::Admin).to_error();
        assert_eq!(err.message, "missing scope: operator.admin");
        assert_eq!(err.code, ErrorCode::Forbidden);
    }
}
