//! Webhooks under `hooks.path` (http.md §5): the first stage of HTTP dispatch when
//! `hooks.enabled`. In order, as the reference (2026.9.6):
//! 1. a `token` query parameter → `400` text (the token belongs in a header);
//! 2. not `POST` → `405` text with `Allow: POST`;
//! 3. `Authorization: Bearer <hooks.token>` (else `X-OpenClaw-Token`), compared in constant
//!    time; wrong or missing → `401` text `Unauthorized`, counted on the hooks' own limiter
//!    (20 per 60 s per address, locked 60 s, loopback **not** exempt) → `429` text
//!    `Too Many Requests` + `Retry-After`; a success clears the address;
//! 4. the base path itself → `404` text;
//! 5. the body: JSON, empty → `{}`, 256 KiB (`413 {"ok":false,"error":"payload too large"}`),
//!    30 s (`408 … "request body timeout"`), bad JSON → `400 {"ok":false,"error":…}`;
//! 6. `wake`, `agent`, then the mappings; nothing matched → `404` text.
//!
//! The rules (payloads, policies, templates) are core's [`openclaw_core::hooks`]; the runs and
//! the replay cache are in [`dispatch`].

mod dispatch;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, AUTHORIZATION, RETRY_AFTER};
use hyper::{HeaderMap, Request, Response, StatusCode};
use openclaw_core::auth::limiter::{AuthLimiter, RateLimitPolicy};
use openclaw_core::config::{HookSessionMode, HookWakeMode};
use openclaw_core::hooks::mapping::{self, Action, AgentAction, Context};
use openclaw_core::hooks::payload::{self, AgentRequest, Delivery};
use openclaw_core::hooks::{self, HooksPolicy, Source};
use serde_json::{json, Map, Value};

use super::{respond, Body, HttpError, RequestBody, JSON, TEXT};
use crate::clock;
use crate::server::Shared;
use dispatch::{AgentHook, Admitted, HookDelivery, ReplayCache};

/// How long a hook body may take to arrive.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The chat channels a hook may deliver to.
const CHANNELS: &[&str] = &["telegram"];

/// The hooks' own state: the failed-token limiter and the idempotency replay cache.
pub(crate) struct HookState {
    limiter: Mutex<AuthLimiter>,
    replay: Arc<Mutex<ReplayCache>>,
}

impl Default for HookState {
    fn default() -> Self {
        let window = Duration::from_secs(hooks::AUTH_FAILURE_WINDOW_SECS);
        let policy =
            RateLimitPolicy { max_attempts: hooks::AUTH_FAILURE_LIMIT, window, lockout: window, exempt_loopback: false };
        Self { limiter: Mutex::new(AuthLimiter::new(policy)), replay: Arc::default() }
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    respond(status, TEXT, Bytes::from_static(body.as_bytes()))
}

fn json_answer(status: StatusCode, body: &Value) -> Response<Body> {
    respond(status, JSON, Bytes::from(body.to_string()))
}

/// `400 {"ok":false,"error":…}` plus `extra` (a wake's outcome).
fn bad(error: &str, extra: &Map<String, Value>) -> Response<Body> {
    let mut body = Map::new();
    body.insert("ok".into(), Value::Bool(false));
    body.insert("error".into(), Value::String(error.to_owned()));
    body.extend(extra.clone());
    json_answer(StatusCode::BAD_REQUEST, &Value::Object(body))
}

/// The token a request carries: a non-empty `Authorization: Bearer …`, else `X-OpenClaw-Token`.
fn token(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or("");
    if auth.len() >= 7 && auth[..7].eq_ignore_ascii_case("bearer ") {
        let t = auth[7..].trim();
        if !t.is_empty() {
            return Some(t.to_owned());
        }
    }
    let header = headers.get("x-openclaw-token").and_then(|v| v.to_str().ok()).map(str::trim)?;
    (!header.is_empty()).then(|| header.to_owned())
}

/// Equal without an early exit on the first differing byte.
fn same_secret(given: Option<&str>, expected: &str) -> bool {
    let Some(given) = given else { return false };
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    let mut diff = u8::from(a.len() != b.len());
    for (i, x) in b.iter().enumerate() {
        diff |= x ^ a.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

/// The query parameters, decoded as a browser's `URLSearchParams` does (`+` is a space).
fn query(uri: &hyper::Uri) -> Vec<(String, String)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    uri.query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Answers a request under the hooks' base path; `sub` is the rest of the path.
pub(crate) async fn handle(
    req: Request<Incoming>,
    remote: std::net::SocketAddr,
    shared: Arc<Shared>,
    policy: Arc<HooksPolicy>,
    sub: String,
) -> Response<Body> {
    let query = query(req.uri());
    if query.iter().any(|(k, _)| k == "token") {
        return text(StatusCode::BAD_REQUEST, hooks::QUERY_TOKEN_REFUSAL);
    }
    if req.method() != hyper::Method::POST {
        let mut res = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
        res.headers_mut().insert(ALLOW, HeaderValue::from_static("POST"));
        return res;
    }
    let (parts, incoming) = req.into_parts();
    let ip = remote.ip().to_canonical();
    let token = token(&parts.headers);
    {
        let mut limiter = shared.hooks.limiter.lock().unwrap_or_else(PoisonError::into_inner);
        if !same_secret(token.as_deref(), &policy.token) {
            let now = clock::now();
            if let Err(wait) = limiter.check(now, ip) {
                let secs = wait.as_millis().div_ceil(1000).max(1) as u64;
                drop(limiter);
                tracing::warn!(%ip, retry_after = secs, "hook auth throttled");
                let mut res = text(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
                res.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
                return res;
            }
            limiter.record_failure(now, ip);
            return text(StatusCode::UNAUTHORIZED, "Unauthorized");
        }
        limiter.record_success(ip);
    }
    if sub.is_empty() {
        return text(StatusCode::NOT_FOUND, "Not Found");
    }
    let body = RequestBody::new(incoming, &parts.headers, hooks::MAX_BODY_BYTES, READ_TIMEOUT);
    let bytes = match body.bytes().await {
        Ok(b) => b,
        Err(HttpError::PayloadTooLarge) => {
            return json_answer(StatusCode::PAYLOAD_TOO_LARGE, &json!({"ok": false, "error": "payload too large"}))
        }
        Err(HttpError::BodyTimeout) => {
            return json_answer(StatusCode::REQUEST_TIMEOUT, &json!({"ok": false, "error": "request body timeout"}))
        }
        Err(e) => return bad(&e.to_string(), &Map::new()),
    };
    let text_body = String::from_utf8_lossy(&bytes);
    let value: Value = if text_body.trim().is_empty() {
        json!({})
    } else {
        match serde_json::from_str(text_body.trim()) {
            Ok(v) => v,
            Err(e) => return bad(&e.to_string(), &Map::new()),
        }
    };
    // Anything but an object reads as `{}`.
    let payload = match value {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let headers = mapping::header_map(parts.headers.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))));
    let header_key = |name: &str| headers.get(name).and_then(Value::as_str);
    let idempotency_key = payload::idempotency_key(header_key("idempotency-key"))
        .or_else(|| payload::idempotency_key(header_key("x-openclaw-idempotency-key")))
        .or_else(|| payload::idempotency_key(payload.get("idempotencyKey").and_then(Value::as_str)));
    let hook = Hook { shared, policy, token: token.unwrap_or_default(), sub, idempotency_key };
    match hook.sub.as_str() {
        "wake" => hook.wake(&payload).await,
        "agent" => hook.agent(&payload).await,
        _ => {
            let query: Map<String, Value> = query.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            hook.mapped(&payload, &headers, &query).await
        }
    }
}

/// One authenticated hook request.
struct Hook {
    shared: Arc<Shared>,
    policy: Arc<HooksPolicy>,
    token: String,
    sub: String,
    idempotency_key: Option<String>,
}

impl Hook {
    /// Queues a wake's text; the answer's extra fields (`eventOutcome`).
    async fn queue_wake(&self, text: &str, agent: &str, session_key: Option<&str>, source: Source) -> Result<Map<String, Value>, String> {
        if let Some(key) = session_key {
            let key = self.policy.session_key(Some(key), source, "")?;
            self.policy.dispatch_session_key(&key, agent)?;
        }
        let outcome = dispatch::wake(&self.shared, &self.sub, text).await;
        Ok([("eventOutcome".to_owned(), Value::String(outcome))].into_iter().collect())
    }

    async fn wake(&self, payload: &Map<String, Value>) -> Response<Body> {
        let wake = match payload::wake(payload) {
            Ok(w) => w,
            Err(e) => return bad(&e, &Map::new()),
        };
        let agent = match self.policy.target_agent(wake.agent_id.as_deref(), Source::Request) {
            Ok(a) => a,
            Err(e) => return bad(&e, &Map::new()),
        };
        match self.queue_wake(&wake.text, &agent, wake.session_key.as_deref(), Source::Request).await {
            Ok(extra) => {
                let mut body = json!({"ok": true, "mode": wake.mode.as_str()});
                if let Value::Object(m) = &mut body {
                    m.extend(extra);
                }
                json_answer(StatusCode::OK, &body)
            }
            Err(e) => bad(&e, &Map::new()),
        }
    }

    async fn agent(&self, payload: &Map<String, Value>) -> Response<Body> {
        let wait = match payload.get("waitForCompletion") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return bad("waitForCompletion must be boolean", &Map::new()),
        };
        let req = match payload::agent(payload, CHANNELS) {
            Ok(r) => r,
            Err(e) => return bad(&e, &Map::new()),
        };
        let agent = match self.policy.target_agent(req.agent_id.as_deref(), Source::Request) {
            Ok(a) => a,
            Err(e) => return bad(&e, &Map::new()),
        };
        if req.session_mode == HookSessionMode::Persistent && req.session_key.is_none() {
            return bad("sessionKey is required when sessionMode is persistent", &Map::new());
        }
        let uuid = crate::identity::random_uuid();
        let session_key = match self.policy.session_key(req.session_key.as_deref(), Source::Request, &uuid) {
            Ok(k) => k,
            Err(e) => return bad(&e, &Map::new()),
        };
        if req.session_mode == HookSessionMode::Persistent && self.policy.allowed_session_key_prefixes.is_none() {
            return bad("hooks.allowedSessionKeyPrefixes is required when direct hook sessionMode is persistent", &Map::new());
        }
        let scope = json!({
            "agentId": agent,
            "sessionKey": req.session_key.clone().or_else(|| self.policy.default_session_key.clone()),
            "message": req.message, "name": req.name, "wakeMode": req.wake_mode.as_str(),
            "sessionMode": session_mode_str(req.session_mode), "deliver": req.deliver, "channel": req.channel,
            "to": req.to, "accountId": req.account_id, "model": req.model, "thinking": req.thinking,
            "timeoutSeconds": req.timeout_seconds,
        });
        let replay_key = self.replay_key("agent", &scope, self.idempotency_key.as_deref());
        let dispatch_key = match self.policy.dispatch_session_key(&session_key, &agent) {
            Ok(k) => k,
            Err(e) => return bad(&e, &Map::new()),
        };
        let hook = agent_hook_from_request(req, agent, dispatch_key, &self.sub);
        let admitted = dispatch::start_with_replay(&self.shared, &self.shared.hooks.replay, replay_key, hook).await;
        agent_answer(admitted, &Map::new(), wait).await
    }

    fn replay_key(&self, path_key: &str, scope: &Value, idem: Option<&str>) -> Option<String> {
        let idem = idem?.trim();
        if idem.is_empty() {
            return None;
        }
        let scope = json!({"pathKey": path_key, "dispatchScope": scope}).to_string();
        Some(format!("{}:{}:{}", dispatch::sha256_hex(&self.token), dispatch::sha256_hex(&scope), dispatch::sha256_hex(idem)))
    }

    async fn mapped(&self, payload: &Map<String, Value>, headers: &Map<String, Value>, query: &Map<String, Value>) -> Response<Body> {
        let now_iso = clock::wall_rfc3339();
        let ctx = Context { payload, headers, query, path: &self.sub, now_iso: &now_iso };
        let mapped = match mapping::apply(&self.policy.mappings, &ctx) {
            None => return text(StatusCode::NOT_FOUND, "Not Found"),
            Some(Err(e)) => return bad(&e, &Map::new()),
            Some(Ok(m)) => m,
        };
        if mapped.dropped > 0 {
            tracing::warn!(hook = %self.sub, dropped = mapped.dropped, "hook mapping fan-out dropped items beyond the 200-item cap");
        }
        if mapped.actions.is_empty() {
            let mut res = Response::new(super::empty());
            *res.status_mut() = StatusCode::NO_CONTENT;
            return res;
        }
        let mut wake_extra = Map::new();
        let mut wake_mode = None;
        let mut agents = Vec::new();
        for action in mapped.actions {
            match action {
                Action::Wake(w) => {
                    let agent = match self.policy.target_agent(w.agent_id.as_deref(), Source::MappingStatic) {
                        Ok(a) => a,
                        Err(e) => return bad(&e, &wake_extra),
                    };
                    match self.queue_wake(&w.text, &agent, w.session_key.as_deref(), w.session_key_source).await {
                        Ok(extra) => {
                            if wake_extra.is_empty() || extra.get("eventOutcome").and_then(Value::as_str) == Some("queued") {
                                wake_extra = extra;
                            }
                        }
                        Err(e) => return bad(&e, &wake_extra),
                    }
                    wake_mode = Some(w.mode);
                }
                Action::Agent(a) => agents.push(a),
            }
        }
        if agents.is_empty() {
            let mut body = json!({"ok": true, "mode": wake_mode.unwrap_or(HookWakeMode::Now).as_str()});
            if let Value::Object(m) = &mut body {
                m.extend(wake_extra);
            }
            return json_answer(StatusCode::OK, &body);
        }
        let mut prepared = Vec::new();
        let mut occurrences: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        for a in agents {
            match self.prepare_mapped(a, mapped.fanout, &mut occurrences) {
                Ok(p) => prepared.push(p),
                Err(e) => return bad(&e, &wake_extra),
            }
        }
        if !mapped.fanout {
            let Some((key, hook)) = prepared.pop() else { return text(StatusCode::NOT_FOUND, "Not Found") };
            let admitted = dispatch::start_with_replay(&self.shared, &self.shared.hooks.replay, key, hook).await;
            return agent_answer(admitted, &wake_extra, false).await;
        }
        let mut run_ids = Vec::new();
        let mut failures = Vec::new();
        let total = prepared.len();
        for (key, hook) in prepared {
            match dispatch::start_with_replay(&self.shared, &self.shared.hooks.replay, key, hook).await {
                Ok(a) => run_ids.push(a.run_id),
                Err(f) => failures.push(f),
            }
        }
        if total == 1 && failures.len() == 1 {
            let f = failures.remove(0);
            return agent_answer(Err(f), &wake_extra, false).await;
        }
        let mut body = if failures.is_empty() {
            json!({"ok": true, "runId": run_ids.first(), "runIds": run_ids, "dispatched": run_ids.len()})
        } else {
            let errors: Vec<&str> = failures.iter().take(5).map(|f| f.error.as_str()).collect();
            json!({"ok": false, "error": format!("hook fan-out incomplete: {}/{total} dispatched, {} failed, 0 pending",
                run_ids.len(), failures.len()), "runIds": run_ids, "errors": errors})
        };
        if total == 1 && failures.is_empty() {
            body = json!({"ok": true, "runId": run_ids.first()});
        }
        let status = failures.first().map_or(StatusCode::OK, |f| f.status);
        if let Value::Object(m) = &mut body {
            m.extend(wake_extra);
        }
        json_answer(status, &body)
    }

    /// A mapped agent action checked into a run to start, with its replay key.
    fn prepare_mapped(
        &self,
        a: AgentAction,
        fanout: bool,
        occurrences: &mut std::collections::BTreeMap<String, u64>,
    ) -> Result<(Option<String>, AgentHook), String> {
        let no_channels: Vec<&str> = CHANNELS.to_vec();
        let channel = payload::channel(a.channel.as_ref().map(|c| Value::String(c.clone())).as_ref(), &no_channels)
            .ok_or_else(|| payload::channel_error(CHANNELS))?;
        let deliver = a.deliver != Some(false);
        // A concrete channel and a target: the reply goes there (`last` has no route to
        // resolve here; the result is announced to the main session instead).
        let delivery = match (&a.to, channel.as_str()) {
            (Some(to), c) if deliver && c != "last" => Some(HookDelivery { channel: c.to_owned(), to: to.clone(), account_id: None }),
            _ => None,
        };
        let agent = self.policy.target_agent(a.agent_id.as_deref(), Source::MappingStatic)?;
        if a.session_mode == HookSessionMode::Persistent && a.session_key.is_none() && self.policy.default_session_key.is_none() {
            return Err("sessionKey or hooks.defaultSessionKey is required when mapped hook sessionMode is persistent".into());
        }
        let uuid = crate::identity::random_uuid();
        let session_key = self.policy.session_key(a.session_key.as_deref(), a.session_key_source, &uuid)?;
        let dispatch_key = self.policy.dispatch_session_key(&session_key, &agent)?;
        let name = a.name.clone().unwrap_or_else(|| "Hook".into());
        let mut scope = json!({
            "agentId": agent, "sessionKey": a.session_key.clone().or_else(|| self.policy.default_session_key.clone()),
            "message": a.message, "name": name, "wakeMode": a.wake_mode.as_str(),
            "sessionMode": session_mode_str(a.session_mode), "deliver": deliver, "channel": channel, "to": a.to,
            "model": a.model, "thinking": a.thinking, "timeoutSeconds": a.timeout_seconds,
        });
        let idem = if fanout {
            let fingerprint = scope.to_string();
            let n = occurrences.entry(fingerprint).or_insert(0);
            if let Value::Object(m) = &mut scope {
                m.insert("occurrence".into(), json!(*n));
            }
            *n += 1;
            Some(self.idempotency_key.clone().unwrap_or_else(|| "hook-fanout-item".into()))
        } else {
            self.idempotency_key.clone()
        };
        let key = self.replay_key(&self.sub, &scope, idem.as_deref());
        let source_label = if self.sub == "gmail" { "Email" } else { "Webhook" };
        let hook = AgentHook {
            agent,
            session_key: dispatch_key,
            name,
            message: a.message,
            wrap: a.allow_unsafe_external_content != Some(true),
            source_label,
            deliver,
            delivery,
            model: a.model,
            thinking: a.thinking,
            timeout_seconds: a.timeout_seconds,
            hook_name: self.sub.clone(),
        };
        Ok((key, hook))
    }
}

fn session_mode_str(mode: HookSessionMode) -> &'static str {
    match mode {
        HookSessionMode::Isolated => "isolated",
        HookSessionMode::Persistent => "persistent",
    }
}

fn agent_hook_from_request(req: AgentRequest, agent: String, session_key: String, sub: &str) -> AgentHook {
    // `channel` + `to`: the reply goes to that chat; without them the result is announced to
    // the main session.
    let delivery = match req.delivery {
        Delivery::Announce { channel, to, account_id } => Some(HookDelivery { channel, to, account_id }),
        Delivery::None => None,
    };
    AgentHook {
        agent,
        session_key,
        name: req.name,
        message: req.message,
        wrap: true,
        source_label: "Webhook",
        deliver: req.deliver,
        delivery,
        model: req.model,
        thinking: req.thinking,
        timeout_seconds: req.timeout_seconds,
        hook_name: sub.to_owned(),
    }
}

/// `200 {"ok":true,"runId"}` (+ `completion` when waited for), or the failure's status and
/// `{"ok":false,"error","runId"}`; `extra` (a wake's outcome) is added either way.
async fn agent_answer(admitted: Result<Admitted, dispatch::Failure>, extra: &Map<String, Value>, wait: bool) -> Response<Body> {
    match admitted {
        Ok(a) => {
            let mut body = Map::new();
            body.insert("ok".into(), Value::Bool(true));
            body.insert("runId".into(), Value::String(a.run_id.clone()));
            body.extend(extra.clone());
            if wait {
                body.insert("completion".into(), a.completion().await);
            }
            json_answer(StatusCode::OK, &Value::Object(body))
        }
        Err(f) => {
            let mut body = Map::new();
            body.insert("ok".into(), Value::Bool(false));
            body.insert("error".into(), Value::String(f.error.clone()));
            if let Some(run) = &f.run_id {
                body.insert("runId".into(), Value::String(run.clone()));
            }
            body.extend(extra.clone());
            json_answer(f.status, &Value::Object(body))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_the_two_headers_only() {
        let mut h = HeaderMap::new();
        assert_eq!(token(&h), None);
        h.insert("x-openclaw-token", " t2 ".parse().unwrap());
        assert_eq!(token(&h), Some("t2".into()));
        h.insert(AUTHORIZATION, "Bearer   ".parse().unwrap());
        assert_eq!(token(&h), Some("t2".into()), "an empty bearer falls back to the header");
        h.insert(AUTHORIZATION, "bearer t1".parse().unwrap());
        assert_eq!(token(&h), Some("t1".into()));
        assert!(same_secret(Some("abc"), "abc"));
        assert!(!same_secret(Some("abd"), "abc"));
        assert!(!same_secret(Some("ab"), "abc"));
        assert!(!same_secret(Some("abcd"), "abc"));
        assert!(!same_secret(None, "abc"));
    }
}
