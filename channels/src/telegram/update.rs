//! `getUpdates` results parsed once into typed values. Unknown update kinds are kept as
//! [`UpdateKind::Other`] (their id still advances the offset); a malformed update is an error
//! naming what is wrong, and the batch parser skips it after reading its `update_id` when it can.

use serde::Deserialize;
use serde_json::Value;

/// One update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    pub update_id: i64,
    pub kind: UpdateKind,
}

/// What an update carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateKind {
    Message(Message),
    EditedMessage(Message),
    ChannelPost(Message),
    /// Any other kind (its field name): acknowledged, not processed.
    Other(String),
}

/// The chat kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    Private,
    Group,
    Supergroup,
    Channel,
}

/// A chat.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Chat {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: ChatKind,
    #[serde(default)]
    pub is_forum: bool,
    #[serde(default)]
    pub title: Option<String>,
}

/// A user.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct User {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub username: Option<String>,
}

/// A message (text or caption; media is not parsed yet).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Message {
    pub message_id: i64,
    pub chat: Chat,
    #[serde(default)]
    pub from: Option<User>,
    #[serde(default)]
    pub date: i64,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub message_thread_id: Option<i64>,
    #[serde(default)]
    pub reply_to_message: Option<Box<Message>>,
}

impl Message {
    /// The text, or the media caption.
    pub fn body(&self) -> Option<&str> {
        self.text.as_deref().or(self.caption.as_deref())
    }

    /// A private chat with a human sender: the DM policy applies.
    pub fn is_direct(&self) -> bool {
        self.chat.kind == ChatKind::Private
    }

    /// The forum topic, for a message in a forum supergroup.
    pub fn topic(&self) -> Option<i64> {
        self.chat.is_forum.then_some(self.message_thread_id).flatten()
    }

    /// Whether the text mentions `@bot_username` (case-insensitive) or replies to the bot.
    pub fn addresses_bot(&self, bot_id: i64, bot_username: &str) -> bool {
        let mention = format!("@{}", bot_username.to_ascii_lowercase());
        self.body().is_some_and(|b| b.to_ascii_lowercase().contains(&mention))
            || self.reply_to_message.as_ref().and_then(|r| r.from.as_ref()).is_some_and(|u| u.id == bot_id)
    }
}

/// Why an update could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    #[error("update without a numeric update_id")]
    NoId,
    #[error("update {id}: bad {field}: {detail}")]
    Bad { id: i64, field: String, detail: String },
    #[error("getUpdates result is not an array")]
    NotAnArray,
}

const KINDS: [&str; 3] = ["message", "edited_message", "channel_post"];

/// Parses one update.
pub fn parse_update(v: &Value) -> Result<Update, UpdateError> {
    let update_id = v.get("update_id").and_then(Value::as_i64).ok_or(UpdateError::NoId)?;
    let obj = v.as_object().ok_or(UpdateError::NoId)?;
    for field in KINDS {
        if let Some(m) = obj.get(field) {
            let msg = Message::deserialize(m).map_err(|e| UpdateError::Bad { id: update_id, field: field.into(), detail: e.to_string() })?;
            let kind = match field {
                "message" => UpdateKind::Message(msg),
                "edited_message" => UpdateKind::EditedMessage(msg),
                _ => UpdateKind::ChannelPost(msg),
            };
            return Ok(Update { update_id, kind });
        }
    }
    let other = obj.keys().find(|k| *k != "update_id").cloned().unwrap_or_default();
    Ok(Update { update_id, kind: UpdateKind::Other(other) })
}

/// A batch: the parsed updates and the ones that failed (with the id, when readable, so the
/// offset still moves past them).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub updates: Vec<Update>,
    pub rejected: Vec<(Option<i64>, UpdateError)>,
}

impl Batch {
    /// The highest update id seen (parsed or rejected), for the offset.
    pub fn max_id(&self) -> Option<i64> {
        self.updates.iter().map(|u| u.update_id).chain(self.rejected.iter().filter_map(|(id, _)| *id)).max()
    }
}

/// Parses a `getUpdates` result.
pub fn parse_batch(result: &Value) -> Result<Batch, UpdateError> {
    let items = result.as_array().ok_or(UpdateError::NotAnArray)?;
    let mut batch = Batch::default();
    for item in items {
        match parse_update(item) {
            Ok(u) => batch.updates.push(u),
            Err(e) => batch.rejected.push((item.get("update_id").and_then(Value::as_i64), e)),
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dm(id: i64, text: &str) -> Value {
        json!({"update_id": id, "message": {"message_id": 9, "date": 1796531474, "text": text,
            "from": {"id": 111, "is_bot": false, "first_name": "Ann", "username": "ann"},
            "chat": {"id": 111, "type": "private", "first_name": "Ann"}}})
    }

    #[test]
    fn a_private_text_message_parses() {
        let u = parse_update(&dm(5001, "hello")).expect("parse");
        assert_eq!(u.update_id, 5001);
        let UpdateKind::Message(m) = u.kind else { panic!("message") };
        assert!(m.is_direct());
        assert_eq!((m.body(), m.chat.id, m.from.as_ref().map(|f| f.id)), (Some("hello"), 111, Some(111)));
        assert_eq!(m.topic(), None);
    }

    #[test]
    fn forum_topics_mentions_and_replies_to_the_bot() {
        let v = json!({"update_id": 1, "message": {"message_id": 3, "message_thread_id": 7, "caption": "hey @OpenClaw_Test_Bot",
            "chat": {"id": -100123, "type": "supergroup", "is_forum": true, "title": "T"},
            "from": {"id": 5, "first_name": "B"}}});
        let UpdateKind::Message(m) = parse_update(&v).expect("parse").kind else { panic!() };
        assert_eq!(m.topic(), Some(7));
        assert!(!m.is_direct());
        assert!(m.addresses_bot(123456, "openclaw_test_bot"));
        assert!(!m.addresses_bot(123456, "other_bot"));
        let reply = json!({"update_id": 2, "message": {"message_id": 4, "text": "yes",
            "chat": {"id": -5, "type": "group"},
            "reply_to_message": {"message_id": 3, "chat": {"id": -5, "type": "group"}, "from": {"id": 123456, "is_bot": true}}}});
        let UpdateKind::Message(m) = parse_update(&reply).expect("parse").kind else { panic!() };
        assert!(m.addresses_bot(123456, "openclaw_test_bot"));
    }

    #[test]
    fn other_kinds_are_kept_by_name() {
        let u = parse_update(&json!({"update_id": 3, "callback_query": {"id": "x"}})).expect("parse");
        assert_eq!(u.kind, UpdateKind::Other("callback_query".into()));
        let u = parse_update(&json!({"update_id": 4, "edited_message": dm(0, "e")["message"]})).expect("parse");
        assert!(matches!(u.kind, UpdateKind::EditedMessage(_)));
    }

    #[test]
    fn bad_updates_are_named_and_a_batch_keeps_their_ids() {
        assert_eq!(parse_update(&json!({"message": {}})), Err(UpdateError::NoId));
        let bad = json!({"update_id": 9, "message": {"message_id": 1, "chat": {"id": 1, "type": "planet"}}});
        assert!(matches!(parse_update(&bad), Err(UpdateError::Bad { id: 9, .. })));
        let batch = parse_batch(&json!([dm(7, "a"), bad, {"nope": 1}])).expect("batch");
        assert_eq!(batch.updates.len(), 1);
        assert_eq!(batch.rejected.len(), 2);
        assert_eq!(batch.max_id(), Some(9));
        assert_eq!(parse_batch(&json!({})), Err(UpdateError::NotAnArray));
        assert_eq!(parse_batch(&json!([])).expect("empty").max_id(), None);
    }
}
