//! The bodies of `POST /hooks/wake` and `POST /hooks/agent` (http.md §5.3-5.4), checked into
//! typed requests; a refusal is the reference's `error` string (answered `400
//! {"ok":false,"error":…}`).

use serde_json::{Map, Value};

use super::MAX_IDEMPOTENCY_KEY_LEN;
use crate::config::{HookSessionMode, HookWakeMode};

/// A checked `/hooks/wake` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WakeRequest {
    pub text: String,
    pub mode: HookWakeMode,
    pub agent_id: Option<String>,
    pub session_key: Option<String>,
}

/// Where an agent hook's reply goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Nowhere (`deliver: false`, or no channel named): the result is announced to the main
    /// session as a system event unless `deliver` is false.
    None,
    /// To `to` on `channel` (a channel this gateway runs).
    Announce { channel: String, to: String, account_id: Option<String> },
}

/// A checked `/hooks/agent` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentRequest {
    pub message: String,
    pub name: String,
    pub agent_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub wake_mode: HookWakeMode,
    pub session_key: Option<String>,
    pub session_mode: HookSessionMode,
    pub deliver: bool,
    /// `last` or the named channel.
    pub channel: String,
    pub to: Option<String>,
    pub account_id: Option<String>,
    pub delivery: Delivery,
    pub model: Option<String>,
    pub thinking: Option<String>,
    pub timeout_seconds: Option<u64>,
}

/// A string field, trimmed, `None` when absent, not a string, or blank.
pub fn opt_str<'a>(payload: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    payload.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

fn agent_id(payload: &Map<String, Value>) -> Result<Option<String>, String> {
    match payload.get("agentId") {
        None => Ok(None),
        Some(_) => opt_str(payload, "agentId").map(|s| Some(s.to_owned())).ok_or_else(|| "agentId must be a non-empty string".into()),
    }
}

fn wake_mode(v: Option<&Value>) -> HookWakeMode {
    if v.and_then(Value::as_str) == Some("next-heartbeat") {
        HookWakeMode::NextHeartbeat
    } else {
        HookWakeMode::Now
    }
}

/// An idempotency key: trimmed, non-empty, at most 256 characters (else ignored).
pub fn idempotency_key(v: Option<&str>) -> Option<String> {
    let k = v?.trim();
    (!k.is_empty() && k.chars().count() <= MAX_IDEMPOTENCY_KEY_LEN).then(|| k.to_owned())
}

/// Checks a `/hooks/wake` body.
pub fn wake(payload: &Map<String, Value>) -> Result<WakeRequest, String> {
    let text = opt_str(payload, "text").ok_or("text required")?.to_owned();
    let mode = wake_mode(payload.get("mode"));
    let agent_id = agent_id(payload)?;
    let session_key = opt_str(payload, "sessionKey").map(str::to_owned);
    if payload.contains_key("sessionKey") && session_key.is_none() {
        return Err("sessionKey must be a non-empty string".into());
    }
    if mode == HookWakeMode::NextHeartbeat && session_key.is_some() {
        return Err("sessionKey requires mode=now".into());
    }
    Ok(WakeRequest { text, mode, agent_id, session_key })
}

/// The `channel must be …` refusal for the channels this gateway runs.
pub fn channel_error(channels: &[&str]) -> String {
    let mut all = vec!["last"];
    all.extend_from_slice(channels);
    format!("channel must be {}", all.join("|"))
}

/// `channel` as given: absent → `last`; a known channel (lower-cased) or `last`; else `None`.
pub fn channel(raw: Option<&Value>, channels: &[&str]) -> Option<String> {
    let Some(raw) = raw else { return Some("last".into()) };
    let c = raw.as_str()?.trim().to_lowercase();
    (c == "last" || channels.contains(&c.as_str())).then_some(c)
}

/// Checks a `/hooks/agent` body; `channels` are the chat channels this gateway can deliver to.
pub fn agent(payload: &Map<String, Value>, channels: &[&str]) -> Result<AgentRequest, String> {
    let message = opt_str(payload, "message").ok_or("message required")?.to_owned();
    let name = opt_str(payload, "name").unwrap_or("Hook").to_owned();
    let agent_id = agent_id(payload)?;
    let idempotency_key = idempotency_key(payload.get("idempotencyKey").and_then(Value::as_str));
    let wake_mode = wake_mode(payload.get("wakeMode"));
    let session_key = opt_str(payload, "sessionKey").map(str::to_owned);
    let session_mode = match payload.get("sessionMode") {
        None => HookSessionMode::Isolated,
        Some(v) if v.as_str() == Some("isolated") => HookSessionMode::Isolated,
        Some(v) if v.as_str() == Some("persistent") => HookSessionMode::Persistent,
        Some(_) => return Err("sessionMode must be isolated or persistent".into()),
    };
    let deliver = payload.get("deliver") != Some(&Value::Bool(false));
    let (channel, to, account_id, delivery) = if deliver {
        delivery(payload, channels)?
    } else {
        ("last".into(), None, None, Delivery::None)
    };
    let model = opt_str(payload, "model").map(str::to_owned);
    if payload.contains_key("model") && model.is_none() {
        return Err("model required".into());
    }
    let thinking = opt_str(payload, "thinking").map(str::to_owned);
    let timeout_seconds =
        payload.get("timeoutSeconds").and_then(Value::as_f64).filter(|t| t.is_finite() && *t > 0.0).map(|t| t.floor() as u64);
    Ok(AgentRequest {
        message,
        name,
        agent_id,
        idempotency_key,
        wake_mode,
        session_key,
        session_mode,
        deliver,
        channel,
        to,
        account_id,
        delivery,
        model,
        thinking,
        timeout_seconds,
    })
}

type DeliveryParts = (String, Option<String>, Option<String>, Delivery);

fn delivery(payload: &Map<String, Value>, channels: &[&str]) -> Result<DeliveryParts, String> {
    let to = opt_str(payload, "to").map(str::to_owned);
    let account_id = opt_str(payload, "accountId").map(str::to_owned);
    let channel = channel(payload.get("channel"), channels).ok_or_else(|| channel_error(channels))?;
    let (has_channel, has_to, has_account) =
        (payload.contains_key("channel"), payload.contains_key("to"), payload.contains_key("accountId"));
    if !has_channel && !has_to && !has_account {
        return Ok((channel, to, account_id, Delivery::None));
    }
    if has_to && to.is_none() {
        return Err("to must be a non-empty string for hook delivery".into());
    }
    if has_account && account_id.is_none() {
        return Err("accountId must be a non-empty string for hook delivery".into());
    }
    if has_account && (!has_channel || to.is_none()) {
        return Err("accountId requires channel and to for hook delivery".into());
    }
    let Some(to_value) = to.clone().filter(|_| has_channel) else {
        return Err("channel and to must be set together for hook delivery".into());
    };
    if channel == "last" {
        return Err("channel must name a concrete channel for hook delivery".into());
    }
    let delivery = Delivery::Announce { channel: channel.clone(), to: to_value, account_id: account_id.clone() };
    Ok((channel, to, account_id, delivery))
}
