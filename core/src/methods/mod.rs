//! The method table: names, the scope each needs, and authorisation (protocol.md §3.7, §4).

mod scope_table;

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::auth::scopes::{Role, Scope, ScopeSet};
use crate::schema::{validators, Validator};
use crate::wire::frames::{ErrorCode, ErrorShape};
use crate::wire::agent::{AgentParams, AgentWaitParams};
use crate::wire::chat::{ChatAbortParams, ChatHistoryParams, ChatSendParams};
use crate::wire::sessions::{SessionsDeleteParams, SessionsListParams, SessionsResetParams};
use crate::wire::host::{HostRequest};
use crate::wire::methods::{HealthParams, StatusParams, SystemEventParams};

/// A served method with its typed params: what the hub executes.
#[derive(Clone, Debug, PartialEq)]
pub enum MethodCall {
    Health(HealthParams),
    Status(StatusParams),
    SystemPresence,
    SystemEvent(Box<SystemEventParams>),
    Agent(Box<AgentParams>),
    AgentWait(AgentWaitParams),
    ChatSend(Box<ChatSendParams>),
    ChatAbort(ChatAbortParams),
    ChatHistory(Box<ChatHistoryParams>),
    SessionsList(SessionsListParams),
    SessionsReset(SessionsResetParams),
    SessionsDelete(SessionsDeleteParams),
    /// Answered by the host (files): `logs.tail`, `config.*`.
    Host(HostRequest),
}

impl MethodCall {
    /// Validates `params` (missing means `{}`) against the method's schema and types them.
    /// `Ok(None)` for a method this gateway does not serve.
    pub fn parse(method: &Method, params: Option<Value>) -> Result<Option<Self>, String> {
        let params = params.unwrap_or_else(|| Value::Object(Default::default()));
        let v = validators();
        Ok(Some(match method {
            Method::Health => Self::Health(typed(&v.health, params)?),
            Method::Status => Self::Status(typed(&v.status, params)?),
            Method::SystemPresence => {
                v.system_presence.check(&params)?;
                Self::SystemPresence
            }
            Method::SystemEvent => {
                let p: SystemEventParams = typed(&v.system_event, params)?;
                if p.text.trim().is_empty() {
                    return Err("at /text: must be non-blank".into());
                }
                Self::SystemEvent(Box::new(p))
            }
            Method::Agent => Self::Agent(Box::new(typed(&v.agent, params)?)),
            Method::AgentWait => Self::AgentWait(typed(&v.agent_wait, params)?),
            Method::ChatSend => Self::ChatSend(Box::new(typed(&v.chat_send, params)?)),
            Method::ChatAbort => Self::ChatAbort(typed(&v.chat_abort, params)?),
            Method::ChatHistory => Self::ChatHistory(Box::new(typed(&v.chat_history, params)?)),
            Method::SessionsList => Self::SessionsList(typed(&v.sessions_list, params)?),
            Method::SessionsReset => Self::SessionsReset(typed(&v.sessions_reset, params)?),
            Method::SessionsDelete => Self::SessionsDelete(typed(&v.sessions_delete, params)?),
            Method::LogsTail => Self::Host(HostRequest::LogsTail(typed(&v.logs_tail, params)?)),
            Method::ConfigGet => {
                v.empty.check(&params)?;
                Self::Host(HostRequest::ConfigGet)
            }
            Method::ConfigSchema => {
                v.empty.check(&params)?;
                Self::Host(HostRequest::ConfigSchema)
            }
            Method::ConfigSet => Self::Host(HostRequest::ConfigSet(typed(&v.config_set, params)?)),
            Method::ConfigApply => {
                Self::Host(HostRequest::ConfigApply(Box::new(typed(&v.config_apply, params)?)))
            }
            Method::ConfigPatch => {
                Self::Host(HostRequest::ConfigPatch(Box::new(typed(&v.config_patch, params)?)))
            }
            Method::Connect | Method::Other(_) => return Ok(None),
        }))
    }

    pub fn method(&self) -> Method {
        match self {
            Self::Health(_) => Method::Health,
            Self::Status(_) => Method::Status,
            Self::SystemPresence => Method::SystemPresence,
            Self::SystemEvent(_) => Method::SystemEvent,
            Self::Agent(_) => Method::Agent,
            Self::AgentWait(_) => Method::AgentWait,
            Self::ChatSend(_) => Method::ChatSend,
            Self::ChatAbort(_) => Method::ChatAbort,
            Self::ChatHistory(_) => Method::ChatHistory,
            Self::SessionsList(_) => Method::SessionsList,
            Self::SessionsReset(_) => Method::SessionsReset,
            Self::SessionsDelete(_) => Method::SessionsDelete,
            Self::Host(request) => Method::parse(request.method_name()),
        }
    }
}

fn typed<T: DeserializeOwned>(validator: &Validator, params: Value) -> Result<T, String> {
    validator.check(&params)?;
    serde_json::from_value(params).map_err(|e| e.to_string())
}

/// A method this gateway serves, or any other name a client sent.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Connect,
    Health,
    Status,
    SystemPresence,
    SystemEvent,
    Agent,
    AgentWait,
    ChatSend,
    ChatAbort,
    ChatHistory,
    SessionsList,
    SessionsReset,
    SessionsDelete,
    LogsTail,
    ConfigGet,
    ConfigSchema,
    ConfigSet,
    ConfigApply,
    ConfigPatch,
    /// A name this gateway does not serve (it may still be a reference method).
    Other(String),
}

/// Methods served here, in the order `hello-ok.features.methods` advertises them.
pub const SERVED_METHODS: &[&str] = &[
    "health",
    "status",
    "system-presence",
    "system-event",
    "agent",
    "agent.wait",
    "chat.history",
    "chat.abort",
    "chat.send",
    "sessions.list",
    "sessions.reset",
    "sessions.delete",
    "logs.tail",
    "config.get",
    "config.schema",
    "config.set",
    "config.apply",
    "config.patch",
];

impl Method {
    pub fn parse(name: &str) -> Self {
        match name {
            "connect" => Self::Connect,
            "health" => Self::Health,
            "status" => Self::Status,
            "system-presence" => Self::SystemPresence,
            "system-event" => Self::SystemEvent,
            "agent" => Self::Agent,
            "agent.wait" => Self::AgentWait,
            "chat.send" => Self::ChatSend,
            "chat.abort" => Self::ChatAbort,
            "chat.history" => Self::ChatHistory,
            "sessions.list" => Self::SessionsList,
            "sessions.reset" => Self::SessionsReset,
            "sessions.delete" => Self::SessionsDelete,
            "logs.tail" => Self::LogsTail,
            "config.get" => Self::ConfigGet,
            "config.schema" => Self::ConfigSchema,
            "config.set" => Self::ConfigSet,
            "config.apply" => Self::ConfigApply,
            "config.patch" => Self::ConfigPatch,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Connect => "connect",
            Self::Health => "health",
            Self::Status => "status",
            Self::SystemPresence => "system-presence",
            Self::SystemEvent => "system-event",
            Self::Agent => "agent",
            Self::AgentWait => "agent.wait",
            Self::ChatSend => "chat.send",
            Self::ChatAbort => "chat.abort",
            Self::ChatHistory => "chat.history",
            Self::SessionsList => "sessions.list",
            Self::SessionsReset => "sessions.reset",
            Self::SessionsDelete => "sessions.delete",
            Self::LogsTail => "logs.tail",
            Self::ConfigGet => "config.get",
            Self::ConfigSchema => "config.schema",
            Self::ConfigSet => "config.set",
            Self::ConfigApply => "config.apply",
            Self::ConfigPatch => "config.patch",
            Self::Other(name) => name,
        }
    }

    fn is_node_method(&self) -> bool {
        scope_table::NODE_ROLE_METHODS.binary_search(&self.name()).is_ok()
    }

    /// The scope an operator needs; methods the reference does not know default to admin.
    pub fn required_scope(&self) -> Scope {
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
