//! Bytes ⇄ frames. Decoding happens once, here, at the edge; encoding keeps the reference's
//! field order and renders a broadcast once so that only `seq` differs per recipient.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::frames::{ErrorShape, RequestFrame, StateVersion};
use crate::ids::{RequestId, Seq};
use crate::limits::MAX_CLOSE_REASON_BYTES;
use crate::schema::validators;

/// Why an inbound text frame is not a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not UTF-8 JSON at all.
    #[error("frame is not valid JSON")]
    NotJson,
    /// JSON, but not a request frame; `id` is the frame's `id` member as sent (any JSON type:
    /// the reference echoes it unchanged), if it had one.
    #[error("invalid request frame: {message}")]
    Invalid { id: Option<Value>, message: String },
}

/// Parses and validates one inbound text frame as a request.
pub fn decode_request(bytes: &[u8]) -> Result<RequestFrame, FrameError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|_| FrameError::NotJson)?;
    if let Err(message) = validators().request_frame.check(&value) {
        let id = value.get("id").filter(|v| !v.is_null()).cloned();
        return Err(FrameError::Invalid { id, message });
    }
    serde_json::from_value(value)
        .map_err(|e| FrameError::Invalid { id: None, message: e.to_string() })
}

/// Renders `{"type":"res","id":…,"ok":true,"payload":…}`.
pub fn encode_ok(id: &RequestId, payload: &impl Serialize) -> Vec<u8> {
    encode_response(id, true, Some(payload), None)
}

/// Renders `{"type":"res","id":…,"ok":false,"error":…}`.
pub fn encode_err(id: &RequestId, error: &ErrorShape) -> Vec<u8> {
    encode_response::<Value>(id, false, None, Some(error))
}

/// An error `res` for a frame whose `id` was not a valid request id (echoed as sent).
pub fn encode_err_raw_id(id: &Value, error: &ErrorShape) -> Vec<u8> {
    #[derive(Serialize)]
    struct Res<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        id: &'a Value,
        ok: bool,
        error: &'a ErrorShape,
    }
    to_vec(&Res { kind: "res", id, ok: false, error })
}

/// Renders a response with any combination of payload and error (`agent` may send both).
pub fn encode_response<P: Serialize>(
    id: &RequestId,
    ok: bool,
    payload: Option<&P>,
    error: Option<&ErrorShape>,
) -> Vec<u8> {
    #[derive(Serialize)]
    struct Res<'a, P> {
        #[serde(rename = "type")]
        kind: &'static str,
        id: &'a RequestId,
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<&'a P>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a ErrorShape>,
    }
    to_vec(&Res { kind: "res", id, ok, payload, error })
}

fn to_vec(value: &impl Serialize) -> Vec<u8> {
    // Serialising our own types into a Vec cannot fail (no maps with non-string keys).
    serde_json::to_vec(value).unwrap_or_default()
}

/// An event rendered once for every recipient: `prefix` + optional `,"seq":N` + `suffix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedEvent {
    pub name: Arc<str>,
    prefix: Arc<[u8]>,
    suffix: Arc<[u8]>,
    /// Events the reference marks `dropIfSlow`: skipped (seq still used) for a slow consumer.
    pub droppable: bool,
}

impl EncodedEvent {
    pub fn new(
        name: &str,
        payload: &impl Serialize,
        state_version: Option<StateVersion>,
        droppable: bool,
    ) -> Self {
        let mut prefix = br#"{"type":"event","event":"#.to_vec();
        prefix.extend_from_slice(&to_vec(&name));
        prefix.extend_from_slice(br#","payload":"#);
        prefix.extend_from_slice(&to_vec(payload));
        let mut suffix = Vec::new();
        if let Some(sv) = state_version {
            suffix.extend_from_slice(br#","stateVersion":"#);
            suffix.extend_from_slice(&to_vec(&sv));
        }
        suffix.push(b'}');
        Self { name: name.into(), prefix: prefix.into(), suffix: suffix.into(), droppable }
    }

    /// The frame bytes for one recipient.
    pub fn frame(&self, seq: Option<Seq>) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.prefix.len() + self.suffix.len() + 24);
        out.extend_from_slice(&self.prefix);
        if let Some(Seq(n)) = seq {
            out.extend_from_slice(b",\"seq\":");
            out.extend_from_slice(n.to_string().as_bytes());
        }
        out.extend_from_slice(&self.suffix);
        out
    }

    /// Length of the frame with a sequence number of `seq`'s width; used for accounting.
    pub fn len_with(&self, seq: Option<Seq>) -> usize {
        let seq_len = seq.map_or(0, |Seq(n)| 7 + n.to_string().len());
        self.prefix.len() + seq_len + self.suffix.len()
    }
}

/// Cuts a close reason to at most 120 UTF-8 bytes on a character boundary.
pub fn truncate_close_reason(reason: &str) -> String {
    if reason.len() <= MAX_CLOSE_REASON_BYTES {
        return reason.to_owned();
    }
    let mut end = MAX_CLOSE_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_frames_share_bytes_and_differ_only_in_seq() {
        let ev = EncodedEvent::new("tick", &serde_json::json!({"ts": 5}), None, true);
        assert_eq!(ev.frame(Some(Seq(3))), br#"{"type":"event","event":"tick","payload":{"ts":5},"seq":3}"#);
        assert_eq!(ev.frame(None), br#"{"type":"event","event":"tick","payload":{"ts":5}}"#);
        assert_eq!(ev.len_with(Some(Seq(12345))), ev.frame(Some(Seq(12345))).len());
    }

    #[test]
    fn state_version_follows_seq() {
        let sv = StateVersion { presence: 2, health: 1 };
        let ev = EncodedEvent::new("presence", &serde_json::json!({"presence": []}), Some(sv), true);
        let text = String::from_utf8(ev.frame(Some(Seq(1)))).unwrap();
        assert!(text.ends_with(r#""seq":1,"stateVersion":{"presence":2,"health":1}}"#), "{text}");
    }

    #[test]
    fn close_reasons_are_cut_on_a_char_boundary() {
        let long = "é".repeat(100); // 200 bytes
        let cut = truncate_close_reason(&long);
        assert!(cut.len() <= 120 && cut.len() >= 119);
        assert!(long.starts_with(&cut));
        assert_eq!(truncate_close_reason("short"), "short");
    }
}
