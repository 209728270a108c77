//! `chat.send`, `chat.abort` and `chat.history` (protocol.md §5.8): the WebChat surface over the
//! same runs as `agent`. `chat.send` is answered once (`started`); its output is the `chat`
//! events. History is read by the driver from the store, in order with the writes before it.

use serde_json::{json, Value};

use super::agent::{AbortOrigin, Launch};
use super::sessions::{HistoryPage, HistoryQuery, PendingRead, StoreCommand};
use super::{Admission, Hub, HubOutput, RunOutcome};
use crate::caller::Caller;
use crate::ids::{RunId, UnixMillis};
use crate::time::Instant;
use crate::wire::chat::{ChatAbortParams, ChatHistoryParams, ChatSendParams};
use crate::wire::frames::{ErrorCode, ErrorShape};

/// Messages `chat.history` returns when no `limit` is given.
const DEFAULT_HISTORY_LIMIT: u32 = 200;
/// New messages a cursor read returns before it answers `reset` instead (§5.8).
const MAX_DELTA: u32 = 200;
/// `chat.history` reads in flight at once (the driver answers each).
const MAX_PENDING_READS: usize = 1024;

impl Hub {
    pub(super) fn handle_chat_send(&mut self, now: Instant, wall: UnixMillis, caller: Caller, p: ChatSendParams) {
        if p.message.contains('\0') {
            return self.respond_err(&caller, &ErrorShape::invalid_request("message must not contain null bytes"));
        }
        // Control characters other than tab, LF and CR are dropped.
        let message: String =
            p.message.chars().filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r')).collect();
        if message.trim().is_empty() && p.attachments.as_ref().is_none_or(Vec::is_empty) {
            return self.respond_err(&caller, &ErrorShape::invalid_request("message or attachment required"));
        }
        let agent_id = p.agent_id.clone().unwrap_or_else(|| self.config.session_defaults.default_agent_id.clone());
        let session_key = self.canonical_key_for(&p.session_key, &agent_id);
        if is_stop_phrase(&message) {
            let runs = self.agents.runs_of(&session_key);
            for run in runs.iter().rev() {
                self.abort_run(now, wall, run, AbortOrigin::StopCommand);
            }
            let ids: Vec<&str> = runs.iter().map(RunId::as_str).collect();
            return self.respond_ok(&caller, &json!({ "ok": true, "aborted": !runs.is_empty(), "runIds": ids }));
        }
        if let Some(error) = self.no_model_error() {
            return self.respond_err(&caller, &error);
        }
        let run = RunId(p.idempotency_key.clone());
        match self.runs.admit_detached(now, &run) {
            Admission::Started => {}
            Admission::Joined => {
                return self.respond_ok(&caller, &json!({ "runId": run.0, "status": "in_flight" }));
            }
            Admission::Cached(outcome) => {
                let status = match &outcome {
                    RunOutcome::Ok(payload) | RunOutcome::Failed { payload: Some(payload), .. } => {
                        payload.get("status").and_then(Value::as_str).unwrap_or("ok").to_owned()
                    }
                    RunOutcome::Failed { payload: None, .. } => "error".to_owned(),
                };
                return self.respond_ok(&caller, &json!({ "runId": run.0, "status": status }));
            }
        }
        self.respond_ok(&caller, &json!({ "runId": run.0, "status": "started" }));
        self.register_tool_recipient(&run, &caller);
        let timeout = p.timeout_ms.map_or(self.config.agent_timeout, std::time::Duration::from_millis);
        let launch = Launch {
            run,
            session_key,
            agent_id,
            reset: false,
            message,
            timeout,
            provider: None,
            model: None,
            thinking: p.thinking,
            extra_system_prompt: None,
        };
        self.launch_run(now, wall, launch);
    }

    pub(super) fn handle_chat_abort(&mut self, now: Instant, wall: UnixMillis, caller: Caller, p: ChatAbortParams) {
        let agent_id = p.agent_id.clone().unwrap_or_else(|| self.config.session_defaults.default_agent_id.clone());
        let session_key = self.canonical_key_for(&p.session_key, &agent_id);
        let runs = match &p.run_id {
            Some(run_id) => {
                let run = RunId(run_id.clone());
                match self.agents.session_of(&run) {
                    Some(key) if key != session_key => {
                        let error = ErrorShape::invalid_request("runId does not match sessionKey");
                        return self.respond_err(&caller, &error);
                    }
                    Some(_) => vec![run],
                    None => Vec::new(),
                }
            }
            None => self.agents.runs_of(&session_key),
        };
        for run in runs.iter().rev() {
            self.abort_run(now, wall, run, AbortOrigin::Rpc);
        }
        let ids: Vec<&str> = runs.iter().map(RunId::as_str).collect();
        self.respond_ok(&caller, &json!({ "ok": true, "aborted": !runs.is_empty(), "runIds": ids }));
    }

    /// `chat.history` (protocol.md §5.8): the tail of the transcript (`limit`, default 200,
    /// skipping the newest `offset`), or with `cursor` the messages appended since the page
    /// that cursor came from (`{kind:"delta"}`), or `{kind:"reset"}` when the cursor is not
    /// usable (another session id, malformed, more than [`MAX_DELTA`] new messages).
    pub(super) fn handle_chat_history(&mut self, caller: Caller, p: ChatHistoryParams) {
        let agent_id = p.agent_id.clone().unwrap_or_else(|| self.config.session_defaults.default_agent_id.clone());
        let session_key = self.canonical_key_for(&p.session_key, &agent_id);
        let session_id = self.sessions.session_id(&session_key);
        let query = match &p.cursor {
            Some(cursor) => match (DeltaCursor::decode(cursor), &session_id) {
                (Some(c), Some(sid)) if &c.session_id == sid => HistoryQuery::After { seq: c.last_seq, limit: MAX_DELTA + 1 },
                _ => return self.respond_ok(&caller, &json!({ "kind": "reset" })),
            },
            None => HistoryQuery::Tail { limit: p.limit.unwrap_or(DEFAULT_HISTORY_LIMIT), offset: p.offset.unwrap_or(0) },
        };
        let Some(session_id) = session_id else {
            let result = history_result(&session_key, None, Vec::new());
            return self.respond_ok(&caller, &result);
        };
        if self.sessions.reads.len() >= MAX_PENDING_READS {
            let error = ErrorShape::new(ErrorCode::Unavailable, "too many history reads in progress").retry_after(1000);
            return self.respond_err(&caller, &error);
        }
        let pending = PendingRead { query, agent_id, offset_given: p.offset.is_some() };
        self.sessions.reads.insert(caller.clone(), pending);
        let read = StoreCommand::ReadHistory { caller, session_key, session_id, query };
        self.out.push_back(HubOutput::Store(read));
    }

    /// The driver read the page a [`StoreCommand::ReadHistory`] asked for. Poll after.
    pub(crate) fn handle_history(&mut self, caller: Caller, session_key: &str, session_id: &str, page: HistoryPage) {
        let Some(read) = self.sessions.reads.remove(&caller) else { return };
        let cursor = DeltaCursor { agent_id: read.agent_id, session_id: session_id.to_owned(), last_seq: page.total }.encode();
        let result = match read.query {
            HistoryQuery::After { .. } if page.messages.len() > MAX_DELTA as usize => json!({ "kind": "reset" }),
            HistoryQuery::After { .. } => json!({
                "kind": "delta",
                "messages": page.messages,
                "deltaCursor": cursor,
                "pendingInputs": { "items": [], "total": 0 },
            }),
            HistoryQuery::Tail { offset, .. } => {
                let first_seq = page.messages.first().and_then(|m| m["__openclaw"]["seq"].as_u64());
                let has_more = first_seq.is_some_and(|seq| seq > 1);
                let mut result = history_result(session_key, Some(session_id), page.messages);
                if read.offset_given {
                    result["offset"] = json!(offset);
                }
                if has_more {
                    let returned = result["messages"].as_array().map_or(0, Vec::len) as u64;
                    result["nextOffset"] = json!(offset + returned);
                }
                result["hasMore"] = json!(has_more);
                result["totalMessages"] = json!(page.total);
                result["deltaCursor"] = json!(cursor);
                result
            }
        };
        self.respond_ok(&caller, &result);
    }

    /// Reading the history failed in the driver.
    pub(crate) fn handle_history_failed(&mut self, caller: Caller, message: &str) {
        if self.sessions.reads.remove(&caller).is_none() {
            return;
        }
        let error = ErrorShape::new(ErrorCode::Unavailable, message.to_owned());
        self.respond_err(&caller, &error);
    }
}

/// The `chat.send` method.
pub(crate) fn send(hub: &mut Hub, rq: super::Req, params: Box<ChatSendParams>) {
    hub.handle_chat_send(rq.now, rq.wall, rq.caller, *params);
}

/// The `chat.abort` method.
pub(crate) fn abort(hub: &mut Hub, rq: super::Req, params: ChatAbortParams) {
    hub.handle_chat_abort(rq.now, rq.wall, rq.caller, params);
}

/// The `chat.history` method.
pub(crate) fn history(hub: &mut Hub, rq: super::Req, params: Box<ChatHistoryParams>) {
    hub.handle_chat_history(rq.caller, *params);
}

fn history_result(session_key: &str, session_id: Option<&str>, messages: Vec<Value>) -> Value {
    json!({
        "sessionKey": session_key,
        "sessionId": session_id,
        "messages": messages,
        "thinkingLevel": null,
        "verboseLevel": null,
    })
}

/// Where a client's copy of a transcript ends: base64url JSON
/// `{version, agentId, sessionId, generation, lastSeq}` as the reference encodes its raw
/// transcript cursors (a reset session has a new id, so its old cursors read as `reset`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct DeltaCursor {
    agent_id: String,
    session_id: String,
    last_seq: u64,
}

const CURSOR_VERSION: u64 = 1;

impl DeltaCursor {
    fn encode(&self) -> String {
        let v = json!({ "version": CURSOR_VERSION, "agentId": self.agent_id, "sessionId": self.session_id,
            "generation": self.session_id, "lastSeq": self.last_seq });
        base64url_encode(v.to_string().as_bytes())
    }

    fn decode(text: &str) -> Option<Self> {
        if text.len() > 4096 {
            return None;
        }
        let v: Value = serde_json::from_slice(&base64url_decode(text)?).ok()?;
        (v["version"] == CURSOR_VERSION).then_some(())?;
        Some(Self {
            agent_id: v["agentId"].as_str()?.to_owned(),
            session_id: v["sessionId"].as_str()?.to_owned(),
            last_seq: v["lastSeq"].as_u64()?,
        })
    }
}

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Unpadded base64url (RFC 4648 §5).
fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(B64URL[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = B64URL.iter().position(|x| *x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// `/stop` (and `/abort`) abort the session's runs instead of starting one.
fn is_stop_phrase(message: &str) -> bool {
    matches!(message.trim().to_lowercase().as_str(), "/stop" | "/abort")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips() {
        for text in ["", "f", "fo", "foo", "foob", "fooba", "foobar", "{\"a\":1}"] {
            let enc = base64url_encode(text.as_bytes());
            assert!(!enc.contains('=') && !enc.contains('+') && !enc.contains('/'));
            assert_eq!(base64url_decode(&enc).as_deref(), Some(text.as_bytes()), "{text}");
        }
        assert_eq!(base64url_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url_encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url_decode("a*b"), None);
    }

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        let c = DeltaCursor { agent_id: "main".into(), session_id: "s1".into(), last_seq: 7 };
        assert_eq!(DeltaCursor::decode(&c.encode()), Some(c));
        assert_eq!(DeltaCursor::decode("abc"), None);
        assert_eq!(DeltaCursor::decode(&base64url_encode(b"{\"version\":2}")), None);
    }
}
