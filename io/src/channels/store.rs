//! The channel records in the state database (`<state>/state/openclaw.sqlite`), in the
//! reference's tables: the Telegram update offsets (`plugin_state_entries`, namespace
//! `telegram.update-offsets`, keyed by account, value `{version:3, lastUpdateId, botId,
//! tokenFingerprint}`), the inbox of received-but-unanswered updates (`channel_ingress_events`),
//! the pairing requests and approvals (`channel_pairing_requests`,
//! `channel_pairing_allow_entries`) and the `send` idempotency cache.
//!
//! All functions block (SQLite): call them from `spawn_blocking`. The CLI (`openclaw pairing`)
//! uses the same functions on the same file, as the reference's CLI does.

use openclaw_channels::pairing::{PairingCode, PairingError, PairingRequest, PairingStore, Upsert, CODE_LEN};
use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::{json, Value};

use crate::state_db::{Migration, StateDb, StateDbError};

/// The channel tables (reference DDL).
pub const MIGRATION: Migration = Migration {
    name: "channels",
    sql: "CREATE TABLE IF NOT EXISTS plugin_state_entries (
  plugin_id TEXT NOT NULL,
  namespace TEXT NOT NULL,
  entry_key TEXT NOT NULL,
  value_json TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  PRIMARY KEY (plugin_id, namespace, entry_key)
) STRICT;
CREATE INDEX IF NOT EXISTS idx_plugin_state_expiry
  ON plugin_state_entries(expires_at)
  WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_plugin_state_listing
  ON plugin_state_entries(plugin_id, namespace, created_at, entry_key, expires_at);
CREATE TABLE IF NOT EXISTS channel_pairing_requests (
  channel_key TEXT NOT NULL,
  account_id TEXT NOT NULL,
  request_id TEXT NOT NULL,
  code TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,
  meta_json TEXT,
  PRIMARY KEY (channel_key, account_id, request_id)
) STRICT;
CREATE INDEX IF NOT EXISTS idx_channel_pairing_requests_code
  ON channel_pairing_requests(channel_key, code);
CREATE INDEX IF NOT EXISTS idx_channel_pairing_requests_created
  ON channel_pairing_requests(channel_key, created_at, request_id);
CREATE TABLE IF NOT EXISTS channel_pairing_allow_entries (
  channel_key TEXT NOT NULL,
  account_id TEXT NOT NULL,
  entry TEXT NOT NULL,
  sort_order INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (channel_key, account_id, entry)
) STRICT;
CREATE INDEX IF NOT EXISTS idx_channel_pairing_allow_account
  ON channel_pairing_allow_entries(channel_key, account_id, sort_order, entry);
CREATE TABLE IF NOT EXISTS channel_ingress_events (
  queue_name TEXT NOT NULL,
  event_id TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  status TEXT NOT NULL,
  lane_key TEXT,
  payload_json TEXT NOT NULL,
  metadata_json TEXT,
  received_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  claim_token TEXT,
  claim_owner TEXT,
  claimed_at INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_attempt_at INTEGER,
  last_error TEXT,
  failed_reason TEXT,
  failed_at INTEGER,
  completed_at INTEGER,
  completed_metadata_json TEXT,
  PRIMARY KEY (queue_name, event_id)
) STRICT;
CREATE INDEX IF NOT EXISTS idx_channel_ingress_pending
  ON channel_ingress_events(queue_name, status, received_at, event_id);
CREATE INDEX IF NOT EXISTS idx_channel_ingress_claims
  ON channel_ingress_events(queue_name, status, claimed_at);
CREATE INDEX IF NOT EXISTS idx_channel_ingress_lane
  ON channel_ingress_events(queue_name, status, lane_key);",
};

const OFFSETS_PLUGIN: &str = "telegram";
const OFFSETS_NAMESPACE: &str = "telegram.update-offsets";
const SEND_PLUGIN: &str = "gateway";
const SEND_NAMESPACE: &str = "send.idempotency";

/// The reference's token fingerprint: the first 16 hex digits of SHA-256(token).
pub fn token_fingerprint(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.trim().as_bytes());
    digest.as_ref().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The account key the reference stores state under (`[^a-z0-9._-]+` → `_`, empty → default).
pub fn state_account_id(account: &str) -> String {
    let t = account.trim();
    if t.is_empty() {
        return "default".into();
    }
    let mut out = String::new();
    for c in t.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out
}

/// The last handled update id for `account`, if it was stored for this same bot token (another
/// bot id or a rotated token starts over, as the reference: the new bot's ids are unrelated).
pub fn read_offset(db: &StateDb, account: &str, bot_id: i64, token: &str) -> Result<Option<i64>, StateDbError> {
    let raw: Option<String> = db.read(|c| {
        c.query_row(
            "SELECT value_json FROM plugin_state_entries WHERE plugin_id = ?1 AND namespace = ?2 AND entry_key = ?3",
            params![OFFSETS_PLUGIN, OFFSETS_NAMESPACE, state_account_id(account)],
            |r| r.get(0),
        )
        .optional()
    })?;
    let Some(v) = raw.and_then(|r| serde_json::from_str::<Value>(&r).ok()) else { return Ok(None) };
    let same_bot = v["botId"].as_str() == Some(bot_id.to_string().as_str());
    let same_token = v["tokenFingerprint"].as_str() == Some(token_fingerprint(token).as_str());
    Ok((same_bot && same_token).then(|| v["lastUpdateId"].as_i64()).flatten())
}

fn write_offset(tx: &Transaction<'_>, account: &str, bot_id: i64, token: &str, update_id: i64, now_ms: u64) -> rusqlite::Result<()> {
    let value = json!({"version": 3, "lastUpdateId": update_id, "botId": bot_id.to_string(), "tokenFingerprint": token_fingerprint(token)});
    tx.execute(
        "INSERT INTO plugin_state_entries (plugin_id, namespace, entry_key, value_json, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (plugin_id, namespace, entry_key) DO UPDATE SET value_json = excluded.value_json",
        params![OFFSETS_PLUGIN, OFFSETS_NAMESPACE, state_account_id(account), value.to_string(), now_ms as i64],
    )?;
    Ok(())
}

fn queue_name(channel: &str, account: &str) -> String {
    format!("{channel}:{}", state_account_id(account))
}

/// Records a received update: its inbox entry (`payload`, `None` for an update with nothing to
/// answer) and the new offset, in ONE transaction: a crash leaves both or neither.
pub fn record_update(
    db: &StateDb,
    account: &str,
    bot_id: i64,
    token: &str,
    update_id: i64,
    payload: Option<&Value>,
    now_ms: u64,
) -> Result<(), StateDbError> {
    db.write(|tx| {
        if let Some(p) = payload {
            tx.execute(
                "INSERT OR IGNORE INTO channel_ingress_events (queue_name, event_id, channel_id, account_id, status, payload_json, received_at, updated_at)
                 VALUES (?1, ?2, 'telegram', ?3, 'pending', ?4, ?5, ?5)",
                params![queue_name("telegram", account), format!("{bot_id}:{update_id}"), state_account_id(account), p.to_string(), now_ms as i64],
            )?;
        }
        write_offset(tx, account, bot_id, token, update_id, now_ms)
    })
}

/// One inbox entry not yet answered.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub event_id: String,
    pub payload: Value,
    /// Reply chunks already delivered (a restart resumes after them).
    pub sent_chunks: usize,
    /// The whole reply was delivered (only the closing commit was lost).
    pub done: bool,
}

/// The unanswered updates of an account, oldest first.
pub fn pending(db: &StateDb, channel: &str, account: &str) -> Result<Vec<Pending>, StateDbError> {
    db.read(|c| {
        let mut s = c.prepare(
            "SELECT event_id, payload_json, metadata_json FROM channel_ingress_events
             WHERE queue_name = ?1 AND status = 'pending' ORDER BY received_at, rowid",
        )?;
        let rows = s.query_map(params![queue_name(channel, account)], |r| {
            let payload: String = r.get(1)?;
            let meta: Option<String> = r.get(2)?;
            let meta = meta.and_then(|m| serde_json::from_str::<Value>(&m).ok()).unwrap_or(Value::Null);
            let sent = meta["sentChunks"].as_u64().unwrap_or(0) as usize;
            let done = meta["done"].as_bool().unwrap_or(false);
            Ok(Pending { event_id: r.get(0)?, payload: serde_json::from_str(&payload).unwrap_or(Value::Null), sent_chunks: sent, done })
        })?;
        rows.collect()
    })
}

/// Records that `sent_chunks` reply chunks of an entry were delivered (`done`: all of them).
pub fn mark_sent(db: &StateDb, channel: &str, account: &str, event_id: &str, sent_chunks: usize, done: bool, now_ms: u64) -> Result<(), StateDbError> {
    db.write(|tx| {
        tx.execute(
            "UPDATE channel_ingress_events SET metadata_json = ?3, updated_at = ?4, attempts = attempts + 1, last_attempt_at = ?4
             WHERE queue_name = ?1 AND event_id = ?2",
            params![queue_name(channel, account), event_id, json!({"sentChunks": sent_chunks, "done": done}).to_string(), now_ms as i64],
        )
        .map(drop)
    })
}

/// Closes an inbox entry: answered (or nothing to answer). `error` records a failure instead.
pub fn complete(db: &StateDb, channel: &str, account: &str, event_id: &str, error: Option<&str>, now_ms: u64) -> Result<(), StateDbError> {
    db.write(|tx| {
        let status = if error.is_some() { "failed" } else { "completed" };
        tx.execute(
            "UPDATE channel_ingress_events SET status = ?3, updated_at = ?4, completed_at = ?4, failed_reason = ?5
             WHERE queue_name = ?1 AND event_id = ?2",
            params![queue_name(channel, account), event_id, status, now_ms as i64, error],
        )
        .map(drop)
    })
}

fn iso(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_iso(s: &str) -> u64 {
    chrono::DateTime::parse_from_rfc3339(s).map(|d| d.timestamp_millis().max(0) as u64).unwrap_or(0)
}

fn load_requests(c: &rusqlite::Connection, channel: &str) -> rusqlite::Result<Vec<PairingRequest>> {
    let mut s = c.prepare(
        "SELECT request_id, code, created_at, last_seen_at, account_id, meta_json FROM channel_pairing_requests
         WHERE channel_key = ?1 ORDER BY created_at, account_id, request_id",
    )?;
    let rows = s.query_map(params![channel], |r| {
        let meta: Option<String> = r.get(5)?;
        let name = meta.and_then(|m| serde_json::from_str::<Value>(&m).ok()).and_then(|m| m["username"].as_str().map(str::to_owned));
        Ok(PairingRequest {
            id: r.get(0)?,
            code: PairingCode::parse(&r.get::<_, String>(1)?).unwrap_or_else(|_| PairingCode::from_bytes([0; CODE_LEN])),
            created_at_ms: parse_iso(&r.get::<_, String>(2)?),
            last_seen_at_ms: parse_iso(&r.get::<_, String>(3)?),
            account_id: r.get(4)?,
            name,
        })
    })?;
    rows.collect()
}

fn save_requests(tx: &Transaction<'_>, channel: &str, requests: &[&PairingRequest]) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM channel_pairing_requests WHERE channel_key = ?1", params![channel])?;
    for r in requests {
        let mut meta = json!({"accountId": r.account_id});
        if let Some(n) = &r.name {
            meta["username"] = json!(n);
        }
        tx.execute(
            "INSERT INTO channel_pairing_requests (channel_key, account_id, request_id, code, created_at, last_seen_at, meta_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![channel, r.account_id, r.id, r.code.as_str(), iso(r.created_at_ms), iso(r.last_seen_at_ms), meta.to_string()],
        )?;
    }
    Ok(())
}

/// Records an unknown sender (`Created` → reply with the code; `Existing` → already told).
pub fn pairing_upsert(db: &StateDb, channel: &str, account: &str, sender: &str, name: Option<&str>, now_ms: u64) -> Result<Upsert, StateDbError> {
    db.write(|tx| {
        let mut store = PairingStore::from_requests(load_requests(tx, channel)?);
        let out = store.upsert(sender, &state_account_id(account), name, now_ms, random_code_bytes);
        save_requests(tx, channel, &store.pending(now_ms))?;
        Ok(out)
    })
}

fn random_code_bytes() -> [u8; CODE_LEN] {
    let mut b = [0u8; CODE_LEN];
    // No OS randomness is a broken host; a fixed code is still unique-checked by the store.
    let _ = getrandom::fill(&mut b);
    b
}

/// The pending requests of a channel at `now_ms`, oldest first.
pub fn pairing_list(db: &StateDb, channel: &str, now_ms: u64) -> Result<Vec<PairingRequest>, StateDbError> {
    let all = db.read(|c| load_requests(c, channel))?;
    Ok(PairingStore::from_requests(all).pending(now_ms).into_iter().cloned().collect())
}

/// Why an approval failed.
#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    #[error(transparent)]
    Pairing(#[from] PairingError),
    #[error(transparent)]
    Db(#[from] StateDbError),
}

/// Approves `code`: the request leaves the pending list and its sender joins the account's
/// allow list, in one transaction.
pub fn pairing_approve(db: &StateDb, channel: &str, code: &str, now_ms: u64) -> Result<PairingRequest, ApproveError> {
    let mut outcome = None;
    db.write(|tx| {
        let mut store = PairingStore::from_requests(load_requests(tx, channel)?);
        match store.approve(code, now_ms) {
            Ok(req) => {
                save_requests(tx, channel, &store.pending(now_ms))?;
                let order: i64 = tx.query_row(
                    "SELECT COALESCE(MAX(sort_order) + 1, 0) FROM channel_pairing_allow_entries WHERE channel_key = ?1 AND account_id = ?2",
                    params![channel, req.account_id],
                    |r| r.get(0),
                )?;
                tx.execute(
                    "INSERT OR IGNORE INTO channel_pairing_allow_entries (channel_key, account_id, entry, sort_order, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![channel, req.account_id, req.id, order, now_ms as i64],
                )?;
                outcome = Some(Ok(req));
            }
            Err(e) => outcome = Some(Err(e)),
        }
        Ok(())
    })?;
    Ok(outcome.unwrap_or(Err(PairingError::UnknownCode(code.into())))?)
}

/// The sender ids approved by pairing for an account.
pub fn approved_senders(db: &StateDb, channel: &str, account: &str) -> Result<Vec<i64>, StateDbError> {
    Ok(approved_entries(db, channel, account)?.into_iter().filter_map(|e| e.parse().ok()).collect())
}

/// The senders approved by pairing for an account, as stored (Telegram ids, WhatsApp E.164).
pub fn approved_entries(db: &StateDb, channel: &str, account: &str) -> Result<Vec<String>, StateDbError> {
    db.read(|c| {
        let mut s = c.prepare("SELECT entry FROM channel_pairing_allow_entries WHERE channel_key = ?1 AND account_id = ?2 ORDER BY sort_order")?;
        let rows = s.query_map(params![channel, state_account_id(account)], |r| r.get::<_, String>(0))?;
        Ok(rows.filter_map(|r| r.ok()).collect())
    })
}

/// A cached `send` answer (`{ok, payload}` or `{ok:false, error}`), if not expired.
pub fn send_cached(db: &StateDb, key: &str, now_ms: u64) -> Result<Option<Value>, StateDbError> {
    let raw: Option<String> = db.read(|c| {
        c.query_row(
            "SELECT value_json FROM plugin_state_entries WHERE plugin_id = ?1 AND namespace = ?2 AND entry_key = ?3 AND (expires_at IS NULL OR expires_at > ?4)",
            params![SEND_PLUGIN, SEND_NAMESPACE, key, now_ms as i64],
            |r| r.get(0),
        )
        .optional()
    })?;
    Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
}

/// Caches a `send` answer until `expires_ms`.
pub fn send_store(db: &StateDb, key: &str, answer: &Value, now_ms: u64, expires_ms: u64) -> Result<(), StateDbError> {
    db.write(|tx| {
        tx.execute(
            "INSERT INTO plugin_state_entries (plugin_id, namespace, entry_key, value_json, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (plugin_id, namespace, entry_key) DO UPDATE SET value_json = excluded.value_json, expires_at = excluded.expires_at",
            params![SEND_PLUGIN, SEND_NAMESPACE, key, answer.to_string(), now_ms as i64, expires_ms as i64],
        )
        .map(drop)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "123456:AAFakeTokenForLoopbackTestsOnly0000";

    #[test]
    fn the_offset_is_keyed_by_bot_and_token_and_written_with_the_update() {
        let db = StateDb::in_memory();
        assert_eq!(read_offset(&db, "default", 123456, TOKEN).unwrap(), None);
        record_update(&db, "default", 123456, TOKEN, 5001, Some(&json!({"text": "hi"})), 10).unwrap();
        assert_eq!(read_offset(&db, "default", 123456, TOKEN).unwrap(), Some(5001));
        assert_eq!(read_offset(&db, "default", 777, "777:other").unwrap(), None, "another bot starts over");
        assert_eq!(read_offset(&db, "default", 123456, "123456:rotated").unwrap(), None, "a rotated token starts over");
        let v: String = db.read(|c| c.query_row("SELECT value_json FROM plugin_state_entries", [], |r| r.get(0))).unwrap();
        let v: Value = serde_json::from_str(&v).unwrap();
        assert_eq!(v, json!({"version": 3, "lastUpdateId": 5001, "botId": "123456", "tokenFingerprint": token_fingerprint(TOKEN)}));
        let pending = pending(&db, "telegram", "default").unwrap();
        assert_eq!(pending.len(), 1);
        mark_sent(&db, "telegram", "default", &pending[0].event_id, 1, true, 11).unwrap();
        let again = super::pending(&db, "telegram", "default").unwrap();
        assert_eq!((again[0].sent_chunks, again[0].done), (1, true));
        complete(&db, "telegram", "default", &pending[0].event_id, None, 12).unwrap();
        assert!(super::pending(&db, "telegram", "default").unwrap().is_empty());
    }

    #[test]
    fn fingerprints_match_the_reference() {
        // sha256("123456:AAFakeTokenForLoopbackTestsOnly0000")[..16], as node's createHash gives it.
        assert_eq!(token_fingerprint(TOKEN), "52d35b2809c2fc8d");
        assert_eq!(state_account_id(" Work Bot! "), "Work_Bot_");
    }

    #[test]
    fn pairing_codes_persist_and_approval_allows_the_sender() {
        let db = StateDb::in_memory();
        let Upsert::Created(code) = pairing_upsert(&db, "telegram", "default", "111", Some("ann"), 1_000).unwrap() else { panic!("created") };
        assert!(matches!(pairing_upsert(&db, "telegram", "default", "111", None, 2_000).unwrap(), Upsert::Existing(c) if c == code));
        let listed = pairing_list(&db, "telegram", 2_000).unwrap();
        assert_eq!((listed.len(), listed[0].id.as_str(), listed[0].created_at_ms), (1, "111", 1_000));
        assert!(matches!(pairing_approve(&db, "telegram", "ABCDEFGH", 3_000), Err(ApproveError::Pairing(PairingError::UnknownCode(_)))));
        assert_eq!(approved_senders(&db, "telegram", "default").unwrap(), Vec::<i64>::new());
        let req = pairing_approve(&db, "telegram", &code.as_str().to_lowercase(), 3_000).unwrap();
        assert_eq!(req.id, "111");
        assert_eq!(approved_senders(&db, "telegram", "default").unwrap(), vec![111]);
        assert!(pairing_list(&db, "telegram", 3_000).unwrap().is_empty());
    }

    #[test]
    fn send_answers_are_cached_until_they_expire() {
        let db = StateDb::in_memory();
        assert_eq!(send_cached(&db, "k", 0).unwrap(), None);
        send_store(&db, "k", &json!({"ok": true}), 0, 100).unwrap();
        assert_eq!(send_cached(&db, "k", 99).unwrap(), Some(json!({"ok": true})));
        assert_eq!(send_cached(&db, "k", 100).unwrap(), None);
    }
}
