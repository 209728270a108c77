//! The chat service (protocol.md §5.8): the WebChat rules of `chat.send` (what a message may
//! be, the stop phrases) and of `chat.history` (tail pages, delta cursors, `reset`), with its
//! own state: the history reads the driver is carrying out.
//!
//! Inputs: [`Chat::begin_history`] (a call), [`Chat::page_read`] / [`Chat::read_failed`] (the
//! driver's answer to the [`StoreCommand::ReadHistory`] it was given), [`Chat::forget_conn`] /
//! [`Chat::forget_caller`] (whoever asked is gone). Outputs are what those return; the hub
//! delivers them to the caller or the store.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::caller::Caller;
use crate::hub::{HistoryPage, HistoryQuery, StoreCommand};
use crate::ids::ConnId;
use crate::wire::chat::{ChatHistoryParams, ChatSendParams};
use crate::wire::frames::{ErrorCode, ErrorShape};

/// Messages `chat.history` returns when no `limit` is given.
const DEFAULT_HISTORY_LIMIT: u32 = 200;
/// New messages a cursor read returns before it answers `reset` instead (§5.8).
const MAX_DELTA: u32 = 200;
/// `chat.history` reads in flight at once (the driver answers each).
const MAX_PENDING_READS: usize = 1024;

/// The chat service's state.
#[derive(Debug, Default)]
pub(crate) struct Chat {
    /// `chat.history` reads the driver is carrying out, with what they asked for.
    reads: BTreeMap<Caller, PendingRead>,
}

/// A `chat.history` call waiting for its page.
#[derive(Debug)]
struct PendingRead {
    query: HistoryQuery,
    agent_id: String,
    /// `offset` was given (the tail result echoes it).
    offset_given: bool,
}

/// What to do with a `chat.history` call.
#[derive(Debug, PartialEq)]
pub(crate) enum HistoryStep {
    /// Answer the caller now.
    Answer(Value),
    /// Refuse the call.
    Refuse(ErrorShape),
    /// Hand this read to the store; its page comes back through [`Chat::page_read`].
    Read(StoreCommand),
}

/// A `chat.send` message, checked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SendMessage {
    /// `/stop` or `/abort`: abort the session's runs instead of starting one.
    Stop,
    /// Start a run with this text (control characters other than tab, LF and CR dropped).
    Run(String),
}

impl Chat {
    /// `chat.history` for `session_key` (already canonical) whose current id is `session_id`
    /// (`None`: no such session yet): the tail of the transcript (`limit`, default 200,
    /// skipping the newest `offset`), or with `cursor` the messages appended since the page
    /// that cursor came from (`{kind:"delta"}`), or `{kind:"reset"}` when the cursor is not
    /// usable (another session id, malformed, more than [`MAX_DELTA`] new messages).
    pub(crate) fn begin_history(
        &mut self,
        caller: Caller,
        session_key: String,
        session_id: Option<String>,
        agent_id: String,
        p: &ChatHistoryParams,
    ) -> HistoryStep {
        let query = match &p.cursor {
            Some(cursor) => match (DeltaCursor::decode(cursor), &session_id) {
                (Some(c), Some(sid)) if &c.session_id == sid => HistoryQuery::After { seq: c.last_seq, limit: MAX_DELTA + 1 },
                _ => return HistoryStep::Answer(json!({ "kind": "reset" })),
            },
            None => HistoryQuery::Tail { limit: p.limit.unwrap_or(DEFAULT_HISTORY_LIMIT), offset: p.offset.unwrap_or(0) },
        };
        let Some(session_id) = session_id else {
            return HistoryStep::Answer(history_result(&session_key, None, Vec::new()));
        };
        if self.reads.len() >= MAX_PENDING_READS {
            let error = ErrorShape::new(ErrorCode::Unavailable, "too many history reads in progress").retry_after(1000);
            return HistoryStep::Refuse(error);
        }
        let pending = PendingRead { query, agent_id, offset_given: p.offset.is_some() };
        self.reads.insert(caller.clone(), pending);
        HistoryStep::Read(StoreCommand::ReadHistory { caller, session_key, session_id, query })
    }

    /// The driver read the page `caller`'s read asked for: the answer for `caller`, or `None`
    /// if nobody waits for it any more.
    pub(crate) fn page_read(&mut self, caller: &Caller, session_key: &str, session_id: &str, page: HistoryPage) -> Option<Value> {
        let read = self.reads.remove(caller)?;
        let cursor = DeltaCursor { agent_id: read.agent_id, session_id: session_id.to_owned(), last_seq: page.total }.encode();
        Some(match read.query {
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
        })
    }

    /// Reading the history failed in the driver: the error for `caller`, or `None` if nobody
    /// waits for it any more.
    pub(crate) fn read_failed(&mut self, caller: &Caller, message: &str) -> Option<ErrorShape> {
        self.reads.remove(caller)?;
        Some(ErrorShape::new(ErrorCode::Unavailable, message.to_owned()))
    }

    /// The socket `conn` closed: its reads are answered nowhere.
    pub(crate) fn forget_conn(&mut self, conn: ConnId) {
        self.reads.retain(|caller, _| !caller.is_on(conn));
    }

    /// A non-socket caller went away.
    pub(crate) fn forget_caller(&mut self, caller: &Caller) {
        self.reads.remove(caller);
    }
}

/// Checks a `chat.send` message: no null bytes, control characters other than tab, LF and CR
/// dropped, not empty unless there are attachments; `/stop` and `/abort` stop instead.
pub(crate) fn check_send(p: &ChatSendParams) -> Result<SendMessage, ErrorShape> {
    if p.message.contains('\0') {
        return Err(ErrorShape::invalid_request("message must not contain null bytes"));
    }
    let message: String = p.message.chars().filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r')).collect();
    if message.trim().is_empty() && p.attachments.as_ref().is_none_or(Vec::is_empty) {
        return Err(ErrorShape::invalid_request("message or attachment required"));
    }
    Ok(if is_stop_phrase(&message) { SendMessage::Stop } else { SendMessage::Run(message) })
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
    use crate::ids::RequestId;

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

    fn params(v: Value) -> ChatHistoryParams {
        serde_json::from_value(v).unwrap()
    }

    fn socket(conn: u64, id: &str) -> Caller {
        Caller::Socket { conn: ConnId(conn), id: RequestId(id.into()) }
    }

    fn message(seq: u64) -> Value {
        json!({ "role": "user", "content": [], "__openclaw": { "seq": seq } })
    }

    const KEY: &str = "agent:main:main";

    fn begin(chat: &mut Chat, caller: &Caller, sid: Option<&str>, p: Value) -> HistoryStep {
        chat.begin_history(caller.clone(), KEY.into(), sid.map(str::to_owned), "main".into(), &params(p))
    }

    #[test]
    fn a_tail_read_goes_to_the_store_and_its_page_answers_the_caller_once() {
        let mut chat = Chat::default();
        let who = socket(1, "h1");
        let step = begin(&mut chat, &who, Some("s1"), json!({"sessionKey":"main","limit":2,"offset":1}));
        let HistoryStep::Read(StoreCommand::ReadHistory { caller, session_id, query, .. }) = step else { panic!("{step:?}") };
        assert_eq!((caller, session_id.as_str()), (who.clone(), "s1"));
        assert_eq!(query, HistoryQuery::Tail { limit: 2, offset: 1 });
        let page = HistoryPage { messages: vec![message(2), message(3)], total: 4 };
        let answer = chat.page_read(&who, KEY, "s1", page.clone()).unwrap();
        assert_eq!(answer["messages"].as_array().map(Vec::len), Some(2));
        assert_eq!((answer["offset"].clone(), answer["nextOffset"].clone()), (json!(1), json!(3)));
        assert_eq!((answer["hasMore"].clone(), answer["totalMessages"].clone()), (json!(true), json!(4)));
        let cursor = DeltaCursor::decode(answer["deltaCursor"].as_str().unwrap()).unwrap();
        assert_eq!((cursor.session_id.as_str(), cursor.last_seq), ("s1", 4));
        assert_eq!(chat.page_read(&who, KEY, "s1", page), None, "answered once");
    }

    #[test]
    fn cursors_read_deltas_or_reset() {
        let mut chat = Chat::default();
        let who = socket(1, "h1");
        let cursor = DeltaCursor { agent_id: "main".into(), session_id: "s1".into(), last_seq: 3 }.encode();
        let p = json!({"sessionKey":"main","cursor":cursor});
        // Another session id (the session was reset), or none yet: start over.
        assert_eq!(begin(&mut chat, &who, Some("s2"), p.clone()), HistoryStep::Answer(json!({"kind":"reset"})));
        assert_eq!(begin(&mut chat, &who, None, p.clone()), HistoryStep::Answer(json!({"kind":"reset"})));
        let junk = json!({"sessionKey":"main","cursor":"not a cursor"});
        assert_eq!(begin(&mut chat, &who, Some("s1"), junk), HistoryStep::Answer(json!({"kind":"reset"})));
        let HistoryStep::Read(StoreCommand::ReadHistory { query, .. }) = begin(&mut chat, &who, Some("s1"), p.clone()) else {
            panic!("a read")
        };
        assert_eq!(query, HistoryQuery::After { seq: 3, limit: MAX_DELTA + 1 });
        let delta = chat.page_read(&who, KEY, "s1", HistoryPage { messages: vec![message(4)], total: 4 }).unwrap();
        assert_eq!(delta["kind"], "delta");
        assert_eq!(delta["messages"], json!([message(4)]));
        // More new messages than a delta carries: reset.
        let _ = begin(&mut chat, &who, Some("s1"), p);
        let many: Vec<Value> = (4..4 + u64::from(MAX_DELTA) + 1).map(message).collect();
        let total = 3 + many.len() as u64;
        let answer = chat.page_read(&who, KEY, "s1", HistoryPage { messages: many, total });
        assert_eq!(answer, Some(json!({"kind":"reset"})));
    }

    #[test]
    fn an_unknown_session_answers_an_empty_page_without_a_read() {
        let mut chat = Chat::default();
        let step = begin(&mut chat, &socket(1, "h"), None, json!({"sessionKey":"main"}));
        let HistoryStep::Answer(v) = step else { panic!("{step:?}") };
        assert_eq!(v, json!({"sessionKey":KEY,"sessionId":null,"messages":[],"thinkingLevel":null,"verboseLevel":null}));
    }

    #[test]
    fn reads_of_departed_callers_are_dropped_and_failures_answer_once() {
        let mut chat = Chat::default();
        let (a, b, http) = (socket(1, "a"), socket(2, "b"), Caller::Http { id: 9 });
        for who in [&a, &b, &http] {
            assert!(matches!(begin(&mut chat, who, Some("s1"), json!({"sessionKey":"main"})), HistoryStep::Read(_)));
        }
        chat.forget_conn(ConnId(1));
        chat.forget_caller(&http);
        assert_eq!(chat.page_read(&a, KEY, "s1", HistoryPage::default()), None);
        assert_eq!(chat.read_failed(&http, "disk"), None);
        let error = chat.read_failed(&b, "disk").unwrap();
        assert_eq!((error.code, error.message.as_str()), (ErrorCode::Unavailable, "disk"));
        assert_eq!(chat.read_failed(&b, "disk"), None);
    }

    #[test]
    fn reads_in_flight_are_bounded() {
        let mut chat = Chat::default();
        for i in 0..MAX_PENDING_READS {
            let step = begin(&mut chat, &Caller::Http { id: i as u64 }, Some("s1"), json!({"sessionKey":"main"}));
            assert!(matches!(step, HistoryStep::Read(_)));
        }
        let HistoryStep::Refuse(e) = begin(&mut chat, &Caller::Http { id: u64::MAX }, Some("s1"), json!({"sessionKey":"main"})) else {
            panic!("refused")
        };
        assert_eq!((e.code, e.retry_after_ms), (ErrorCode::Unavailable, Some(1000)));
    }

    fn send(message: &str) -> Result<SendMessage, ErrorShape> {
        check_send(&serde_json::from_value(json!({"sessionKey":"main","message":message,"idempotencyKey":"k"})).unwrap())
    }

    #[test]
    fn send_messages_are_checked_and_stop_phrases_recognised() {
        assert_eq!(send("hi\u{7}\tthere"), Ok(SendMessage::Run("hi\tthere".into())));
        assert_eq!(send(" /STOP "), Ok(SendMessage::Stop));
        assert_eq!(send("/abort"), Ok(SendMessage::Stop));
        assert_eq!(send("a\0b").unwrap_err().message, "message must not contain null bytes");
        assert_eq!(send(" \u{1} ").unwrap_err().message, "message or attachment required");
    }
}
