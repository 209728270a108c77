//! The methods served by the hub itself: `health`, `status`, `system-presence`, `system-event`
//! (protocol.md §5.1-5.4).

use serde_json::json;

use super::{Conn, Hub, HubOutput, Lifecycle, Req, MAX_QUEUED_SYSTEM_EVENTS};
use crate::auth::scopes::Scope;
use crate::auth::scopes::{Role, ScopeSet};
use crate::caller::Caller;
use crate::ids::{ConnId, RequestId, UnixMillis};
use crate::methods::{authorize, Method};
use crate::methods::MethodCall;
use crate::time::Instant;
use crate::wire::frames::{ErrorCode, ErrorShape};
use crate::wire::host::{
    ConfigApplyParams, ConfigPatchParams, ConfigSetParams, EmptyParams, HostRequest, LogsTailParams,
};
use crate::wire::methods::{HealthParams, OkResult, StatusParams, SystemEventParams, SystemPresenceParams};

impl Hub {
    pub(super) fn handle_request(
        &mut self,
        now: Instant,
        wall: UnixMillis,
        conn: ConnId,
        id: RequestId,
        call: MethodCall,
    ) {
        let Some(Conn::Open(open)) = self.conns.get(&conn) else { return };
        let admin = open.scopes.contains(Scope::Admin);
        let scopes = open.scopes.clone();
        if let Some(error) = self.refusal(&call.method()) {
            return self.respond_err(&Caller::Socket { conn, id }, &error);
        }
        call.dispatch(self, Req { now, wall, caller: Caller::Socket { conn, id }, admin, scopes });
    }

    /// A request from a non-socket caller the driver has authenticated with `scopes` (as an
    /// operator): authorised by the same rules as a socket's request, then handled alike; the
    /// answers come out as [`HubOutput::ToCaller`].
    pub(super) fn handle_call(&mut self, now: Instant, wall: UnixMillis, caller: Caller, scopes: &ScopeSet, call: MethodCall) {
        let method = call.method();
        if let Err(denial) = authorize(&method, Role::Operator, scopes) {
            return self.respond_err(&caller, &denial.to_error());
        }
        if let Some(error) = self.refusal(&method) {
            return self.respond_err(&caller, &error);
        }
        let admin = scopes.contains(Scope::Admin);
        call.dispatch(self, Req { now, wall, caller, admin, scopes: scopes.clone() });
    }

    /// Why a permitted request is refused before its handler: the gateway drains, or the
    /// method needs the store while its queue is backed up.
    fn refusal(&self, method: &Method) -> Option<ErrorShape> {
        if matches!(self.lifecycle, Lifecycle::Draining | Lifecycle::Drained) {
            return Some(draining_error(method));
        }
        (self.store_backed_up.is_some() && method.uses_store()).then(|| {
            ErrorShape::new(ErrorCode::Unavailable, format!("{} unavailable: the session store is behind", method.name()))
                .with_details(json!({ "method": method.name(), "reason": "store-backpressure" }))
                .retry_after(1000)
        })
    }

    /// The host's answer to a [`HubOutput::Host`] request.
    pub(crate) fn handle_host_reply(&mut self, caller: &Caller, reply: Result<serde_json::Value, ErrorShape>) {
        match reply {
            Ok(payload) => self.respond_ok(caller, &payload),
            Err(error) => self.respond_err(caller, &error),
        }
    }

    fn push_system_event(&mut self, text: String) {
        self.system_events.push_back(text);
        while self.system_events.len() > MAX_QUEUED_SYSTEM_EVENTS {
            self.system_events.pop_front();
        }
    }

    /// Queues `text` for the next agent turn unless it repeats the last queued event:
    /// `"queued"` or `"coalesced"`.
    pub(crate) fn queue_system_event(&mut self, text: &str) -> &'static str {
        if text.is_empty() || self.system_events.back().is_some_and(|last| last == text) {
            return "coalesced";
        }
        self.push_system_event(text.to_owned());
        "queued"
    }

    /// Upserts the presence row the event describes, queues its text for the next agent turn and
    /// broadcasts `presence` (before the caller's `{ok:true}`, as the reference does).
    fn system_event(&mut self, now: Instant, wall: UnixMillis, p: SystemEventParams) {
        let text = self.presence.system_event(now, wall, p);
        self.push_system_event(text);
        self.broadcast_presence(wall);
        self.sync_timers();
    }

    /// The `status` summary. Sensitive fields (paths, pid) only for admins.
    fn status(&self, now: Instant, wall: UnixMillis, admin: bool) -> serde_json::Value {
        let open = self.conns.values().filter(|c| matches!(c, Conn::Open(_))).count();
        let mut status = json!({
            "runtimeVersion": self.config.version,
            "bootId": self.config.boot_id,
            "ts": wall.0,
            "uptimeMs": self.uptime_ms(now),
            "heartbeat": { "defaultAgentId": self.config.session_defaults.default_agent_id, "agents": [] },
            "channelSummary": [],
            "queuedSystemEvents": self.system_events,
            "sessions": {
                "paths": [],
                "count": 0,
                "defaults": { "model": null, "contextTokens": null },
                "recent": [],
                "byAgent": [],
            },
            "connections": { "total": self.conns.len(), "authenticated": open },
            "presence": { "count": self.presence.count() },
            "stateVersion": self.state_version,
        });
        if admin {
            status["pid"] = json!(self.config.pid);
            status["configPath"] = json!(self.config.config_path);
            status["stateDir"] = json!(self.config.state_dir);
            status["authMode"] = json!(self.config.auth.name());
        }
        status
    }
}

pub(crate) fn health(hub: &mut Hub, rq: Req, _: HealthParams) {
    let health = hub.health_result();
    hub.respond_ok(&rq.caller, &health);
}

pub(crate) fn status(hub: &mut Hub, rq: Req, _: StatusParams) {
    let status = hub.status(rq.now, rq.wall, rq.admin);
    hub.respond_ok(&rq.caller, &status);
}

pub(crate) fn system_presence(hub: &mut Hub, rq: Req, _: SystemPresenceParams) {
    let list = hub.presence.list(rq.wall);
    hub.respond_ok(&rq.caller, &list);
}

pub(crate) fn system_event(hub: &mut Hub, rq: Req, params: Box<SystemEventParams>) {
    if params.wake == Some(true) && params.text.trim_start().starts_with("Node:") {
        let error = ErrorShape::invalid_request("wake is not allowed for node events");
        return hub.respond_err(&rq.caller, &error);
    }
    if let Caller::Hook { .. } = rq.caller {
        // A hook's wake (http.md §5.3): only queued for the next turn (no presence row);
        // the same text as the last queued one is coalesced.
        let outcome = hub.queue_system_event(params.text.trim());
        return hub.respond_ok(&rq.caller, &json!({ "eventOutcome": outcome }));
    }
    hub.system_event(rq.now, rq.wall, *params);
    hub.respond_ok(&rq.caller, &OkResult { ok: true });
}

/// Hands a request only the host can answer (files) to the driver ([`HubOutput::Host`]).
/// The host answers for the same caller, whoever it is (a socket, an HTTP request, …).
pub(crate) fn to_host(hub: &mut Hub, rq: Req, request: HostRequest) {
    hub.out.push_back(HubOutput::Host { caller: rq.caller, request });
}

pub(crate) fn logs_tail(hub: &mut Hub, rq: Req, params: LogsTailParams) {
    to_host(hub, rq, HostRequest::LogsTail(params));
}

pub(crate) fn config_get(hub: &mut Hub, rq: Req, _: EmptyParams) {
    to_host(hub, rq, HostRequest::ConfigGet);
}

pub(crate) fn config_schema(hub: &mut Hub, rq: Req, _: EmptyParams) {
    to_host(hub, rq, HostRequest::ConfigSchema);
}

pub(crate) fn config_set(hub: &mut Hub, rq: Req, params: ConfigSetParams) {
    to_host(hub, rq, HostRequest::ConfigSet(params));
}

pub(crate) fn config_apply(hub: &mut Hub, rq: Req, params: Box<ConfigApplyParams>) {
    to_host(hub, rq, HostRequest::ConfigApply(params));
}

pub(crate) fn config_patch(hub: &mut Hub, rq: Req, params: Box<ConfigPatchParams>) {
    to_host(hub, rq, HostRequest::ConfigPatch(params));
}

/// UNAVAILABLE (retry after 1 s) for a request that arrives while the gateway drains.
fn draining_error(m: &Method) -> ErrorShape {
    ErrorShape::new(ErrorCode::Unavailable, format!("{} unavailable during gateway restart", m.name()))
        .with_details(json!({ "method": m.name(), "reason": "restart", "phase": "draining" }))
        .retry_after(1000)
}
