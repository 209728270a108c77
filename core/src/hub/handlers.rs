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
        if let Some(error) = self.refusal(&call.method()) {
            return self.respond_err(&Caller::Socket { conn, id }, &error);
        }
        call.dispatch(self, Req { now, wall, caller: Caller::Socket { conn, id }, admin });
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
        call.dispatch(self, Req { now, wall, caller, admin });
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

    /// Upserts the presence row the event describes, queues its text for the next agent turn and
    /// broadcasts `presence` (before the caller's `{ok:true}`, as the reference does).
    fn system_event(&mut self, now: Instant, wall: UnixMillis, p: SystemEventParams) {
        let text = p.text.trim().to_owned();
        let parsed = parse_node_line(&text);
        let key = p
            .device_id
            .as_deref()
            .or(p.instance_id.as_deref())
            .map(str::to_lowercase)
            .or_else(|| parsed.as_ref().map(|n| n.host.to_lowercase()))
            .or_else(|| parsed.as_ref().map(|n| n.ip.clone()))
            .unwrap_or_else(|| text.chars().take(64).collect());
        let clear_last_input =
            p.tags.iter().flatten().any(|t| t == "system-presence-clear-last-input");
        let mut entry = self.presence.get(&key).cloned().unwrap_or_default();
        if let Some(n) = parsed {
            entry.host = Some(n.host);
            entry.ip = Some(n.ip);
            entry.version = Some(n.version);
            entry.last_input_seconds = Some(n.last_input_seconds);
            entry.mode = Some(n.mode);
            entry.reason = Some(n.reason);
        }
        let set = |slot: &mut Option<String>, v: Option<String>| {
            if v.is_some() {
                *slot = v;
            }
        };
        set(&mut entry.host, p.host);
        set(&mut entry.ip, p.ip);
        set(&mut entry.version, p.version);
        set(&mut entry.platform, p.platform);
        set(&mut entry.device_family, p.device_family);
        set(&mut entry.model_identifier, p.model_identifier);
        set(&mut entry.mode, p.mode);
        set(&mut entry.reason, p.reason);
        set(&mut entry.device_id, p.device_id);
        set(&mut entry.instance_id, p.instance_id);
        if let Some(s) = p.last_input_seconds.filter(|s| s.is_finite() && *s >= 0.0) {
            entry.last_input_seconds = Some(s as u64);
        }
        if clear_last_input {
            entry.last_input_seconds = None;
        }
        if p.roles.is_some() {
            entry.roles = p.roles;
        }
        if p.scopes.is_some() {
            entry.scopes = p.scopes;
        }
        entry.text = Some(text.clone());
        entry.ts = wall;
        self.presence.upsert(now, key, entry);
        self.system_events.push_back(text);
        while self.system_events.len() > MAX_QUEUED_SYSTEM_EVENTS {
            self.system_events.pop_front();
        }
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
            "presence": { "count": self.presence.len() + 1 },
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
    hub.system_event(rq.now, rq.wall, *params);
    hub.respond_ok(&rq.caller, &OkResult { ok: true });
}

/// Hands a request only the host can answer (files) to the driver ([`HubOutput::Host`]).
/// The host answers for the same caller, whoever it is (a socket, an HTTP request, …).
fn to_host(hub: &mut Hub, rq: Req, request: HostRequest) {
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

/// The fields of a node presence line:
/// `Node: <host> (<ip>) · app <version> · last input <n>s ago · mode <mode> · reason <reason>`.
#[derive(Debug, PartialEq)]
struct NodeLine {
    host: String,
    ip: String,
    version: String,
    last_input_seconds: u64,
    mode: String,
    reason: String,
}

fn parse_node_line(text: &str) -> Option<NodeLine> {
    let rest = strip_prefix_ci(text, "node:")?.trim_start();
    let host_end = rest.find([' ', '('])?;
    let host = &rest[..host_end];
    let rest = rest[host_end..].trim_start().strip_prefix('(')?;
    let ip_end = rest.find(')')?;
    let ip = &rest[..ip_end];
    let mut parts = rest[ip_end + 1..].split('·').map(str::trim);
    if !parts.next()?.is_empty() {
        return None;
    }
    let version = strip_prefix_ci(parts.next()?, "app")?.trim();
    let last = strip_prefix_ci(parts.next()?, "last input")?.trim();
    let last = last.strip_suffix("s ago")?.trim().parse().ok()?;
    let mode = strip_prefix_ci(parts.next()?, "mode")?.trim();
    let tail: Vec<&str> = parts.collect();
    let first = strip_prefix_ci(tail.first()?, "reason")?.trim();
    let reason = std::iter::once(first).chain(tail[1..].iter().copied()).collect::<Vec<_>>().join(" · ");
    if host.is_empty() || ip.is_empty() || version.is_empty() || mode.is_empty() {
        return None;
    }
    Some(NodeLine {
        host: host.to_owned(),
        ip: ip.to_owned(),
        version: version.to_owned(),
        last_input_seconds: last,
        mode: mode.to_owned(),
        reason,
    })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_lines_parse() {
        let n = parse_node_line("Node: box (10.0.0.5) · app 1.0 · last input 12s ago · mode ui · reason periodic")
            .unwrap();
        assert_eq!(n.host, "box");
        assert_eq!(n.ip, "10.0.0.5");
        assert_eq!(n.version, "1.0");
        assert_eq!(n.last_input_seconds, 12);
        assert_eq!(n.mode, "ui");
        assert_eq!(n.reason, "periodic");
        assert_eq!(parse_node_line("hi"), None);
        assert_eq!(parse_node_line("Node: box · mode ui"), None);
    }
}
