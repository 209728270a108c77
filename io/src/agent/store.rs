//! The session store: an embedded SQLite database (WAL, versioned migrations, one transaction
//! per write) holding sessions and their transcripts. Calls are blocking; the runtime makes
//! them from `spawn_blocking`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, OptionalExtension};
use openclaw_core::hub::{HistoryPage, HistoryQuery};
use openclaw_core::wire::sessions::SessionEntry;
use openclaw_core::UnixMillis;
use serde_json::{json, Value};

use openclaw_core::turn::ChatMessage;

use super::provider::{message_from_transcript, plain_text};

/// `PRAGMA cache_size` (negative: KiB).
const CACHE_KIB: i64 = -512;

/// Schema versions, applied in order; `PRAGMA user_version` records the last one applied.
const MIGRATIONS: &[&str] = &[
    // 1: sessions, their messages (per session id, so a reset starts a fresh transcript), and
    //    the replayable results of finished runs.
    "CREATE TABLE sessions (
         key TEXT PRIMARY KEY,
         session_id TEXT NOT NULL,
         agent_id TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         updated_at INTEGER NOT NULL,
         aborted_last_run INTEGER NOT NULL DEFAULT 0,
         input_tokens INTEGER NOT NULL DEFAULT 0,
         output_tokens INTEGER NOT NULL DEFAULT 0,
         model_provider TEXT,
         model TEXT
     );
     CREATE TABLE messages (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         session_id TEXT NOT NULL,
         session_key TEXT NOT NULL,
         run_id TEXT NOT NULL,
         role TEXT NOT NULL,
         text TEXT NOT NULL,
         ts INTEGER NOT NULL
     );
     CREATE INDEX messages_by_session ON messages(session_id, id);
     CREATE TABLE run_results (
         run_id TEXT PRIMARY KEY,
         response TEXT NOT NULL,
         wait TEXT NOT NULL,
         finished_at INTEGER NOT NULL
     );
     CREATE INDEX run_results_by_age ON run_results(finished_at);",
    // 2: the whole message as the reference's transcript entry (tool calls and results,
    //    `stopReason`, `openclawAbort`); `text` keeps its plain text for previews and search.
    "ALTER TABLE messages ADD COLUMN content TEXT;",
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("session database {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("session database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("session database: a lock holder panicked")]
    Poisoned,
    /// Writing a transcript archive failed.
    #[error("transcript archive {0}")]
    Io(String),
}

/// Where a transcript message belongs.
pub struct MessageOwner<'a> {
    pub session_key: &'a str,
    pub session_id: &'a str,
    pub agent_id: &'a str,
    pub run_id: &'a str,
}

pub struct Store {
    /// The file, for a store created on first use ([`Store::deferred`]).
    path: Option<PathBuf>,
    /// `None` until a deferred store is first used.
    conn: Mutex<Option<Connection>>,
}

impl Store {
    /// Opens (creating) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = open_file(path)?;
        Ok(Self { path: Some(path.to_owned()), conn: Mutex::new(Some(conn)) })
    }

    /// The database at `path`, created (and migrated) on first use rather than now: for a file
    /// that does not exist yet, so creating it (journal switch, `fsync`s) is not on the
    /// gateway's start-up path. There is nothing to restore from a file that does not exist.
    /// An error creating it is reported by the first call that needs it.
    pub fn deferred(path: &Path) -> Self {
        Self { path: Some(path.to_owned()), conn: Mutex::new(None) }
    }

    /// Creates the folder of a deferred store's file now (cheap: no `fsync`).
    pub fn with_folder(self) -> Result<Self, StoreError> {
        if let Some(path) = &self.path {
            create_folder(path)?;
        }
        Ok(self)
    }

    /// A private database that lives as long as the process (no state dir).
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = init(Connection::open_in_memory()?)?;
        Ok(Self { path: None, conn: Mutex::new(Some(conn)) })
    }

    /// Opens a deferred store now (a no-op once open); the first write need not wait for it.
    pub fn ensure_open(&self) -> Result<(), StoreError> {
        self.with(|_| Ok(()))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>) -> Result<T, StoreError> {
        let mut slot = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        if slot.is_none() {
            if let Some(path) = &self.path {
                *slot = Some(open_file(path)?);
            }
        }
        let conn = slot.as_mut().ok_or(StoreError::Poisoned)?;
        Ok(f(conn)?)
    }

    /// The last `limit` messages of a session id, oldest first, as the model is sent them.
    pub(crate) fn history(&self, session_id: &str, limit: usize) -> Result<Vec<ChatMessage>, StoreError> {
        let rows = self.last_messages(session_id, i64::try_from(limit).unwrap_or(i64::MAX), None)?;
        Ok(rows.iter().filter_map(|(_, m)| message_from_transcript(m)).collect())
    }

    /// Up to `limit` messages of a session id before row `before` (all when `None`), oldest
    /// first: `(row id, {role, content, timestamp, …, runId})`.
    pub fn last_messages(&self, session_id: &str, limit: i64, before: Option<i64>) -> Result<Vec<(i64, Value)>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, role, text, ts, run_id, content FROM (SELECT id, role, text, ts, run_id, content
                 FROM messages WHERE session_id = ?1 AND id < ?3 ORDER BY id DESC LIMIT ?2) ORDER BY id",
            )?;
            let rows = stmt.query_map(params![session_id, limit, before.unwrap_or(i64::MAX)], |r| {
                let id: i64 = r.get(0)?;
                let (role, text, ts, run): (String, String, i64, String) = (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
                let mut message = stored_message(r.get(5)?, &role, &text, ts);
                message["runId"] = json!(run);
                Ok((id, message))
            })?;
            rows.collect()
        })
    }

    /// A page of a session id's transcript for `chat.history`, oldest first; each message
    /// carries `__openclaw {id, seq}` (`seq` counts from 1 in append order).
    pub fn history_page(&self, session_id: &str, query: HistoryQuery) -> Result<HistoryPage, StoreError> {
        self.with(|c| {
            let total: i64 =
                c.query_row("SELECT COUNT(*) FROM messages WHERE session_id = ?1", [session_id], |r| r.get(0))?;
            let (lo, hi) = match query {
                HistoryQuery::Tail { limit, offset } => {
                    let hi = total.saturating_sub(i64::try_from(offset).unwrap_or(i64::MAX));
                    (hi.saturating_sub(i64::from(limit)) + 1, hi)
                }
                HistoryQuery::After { seq, limit } => {
                    let lo = i64::try_from(seq).unwrap_or(i64::MAX).saturating_add(1);
                    (lo, lo.saturating_add(i64::from(limit)) - 1)
                }
            };
            let mut stmt = c.prepare(
                "SELECT id, role, text, ts, run_id, content, seq FROM (SELECT id, role, text, ts, run_id, content,
                     ROW_NUMBER() OVER (ORDER BY id) AS seq FROM messages WHERE session_id = ?1)
                 WHERE seq BETWEEN ?2 AND ?3 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![session_id, lo, hi], |r| {
                let id: i64 = r.get(0)?;
                let (role, text, ts, run): (String, String, i64, String) = (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
                let seq: i64 = r.get(6)?;
                let mut message = stored_message(r.get(5)?, &role, &text, ts);
                message["runId"] = json!(run);
                message["__openclaw"] = json!({ "id": id.to_string(), "seq": seq });
                Ok(message)
            })?;
            let messages = rows.collect::<Result<Vec<_>, _>>()?;
            Ok(HistoryPage { messages, total: u64::try_from(total).unwrap_or(0) })
        })
    }

    /// Appends one transcript message (`{role, content, timestamp, …}`) in its own transaction,
    /// creating the session row if the session is new.
    pub fn append_message(&self, owner: &MessageOwner<'_>, message: &Value) -> Result<(), StoreError> {
        let role = message["role"].as_str().unwrap_or("assistant");
        let text = plain_text(&message["content"]);
        let ts = message["timestamp"].as_i64().unwrap_or(0);
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT OR IGNORE INTO sessions (key, session_id, agent_id, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![owner.session_key, owner.session_id, owner.agent_id, ts],
            )?;
            tx.execute(
                "INSERT INTO messages (session_id, session_key, run_id, role, text, ts, content)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![owner.session_id, owner.session_key, owner.run_id, role, text, ts, message.to_string()],
            )?;
            tx.commit()
        })
    }

    /// Inserts or replaces a session row.
    pub fn save_session(&self, e: &SessionEntry) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO sessions (key, session_id, agent_id, created_at, updated_at, aborted_last_run,
                     input_tokens, output_tokens, model_provider, model)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(key) DO UPDATE SET session_id = ?2, agent_id = ?3, updated_at = ?5,
                     aborted_last_run = ?6, input_tokens = ?7, output_tokens = ?8,
                     model_provider = ?9, model = ?10",
                params![e.key, e.session_id, e.agent_id, e.created_at.0 as i64, e.updated_at.0 as i64,
                    e.aborted_last_run, e.input_tokens as i64, e.output_tokens as i64, e.model_provider, e.model],
            )
            .map(drop)
        })
    }

    /// Removes a session, and its transcript when asked.
    pub fn delete_session(&self, key: &str, session_id: &str, delete_transcript: bool) -> Result<(), StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM sessions WHERE key = ?1", [key])?;
            if delete_transcript {
                tx.execute("DELETE FROM messages WHERE session_id = ?1", [session_id])?;
            }
            tx.commit()
        })
    }

    /// Every session, most recently updated first.
    pub fn load_sessions(&self) -> Result<Vec<SessionEntry>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT key, session_id, agent_id, created_at, updated_at, aborted_last_run, input_tokens,
                        output_tokens, model_provider, model
                 FROM sessions ORDER BY updated_at DESC, key",
            )?;
            let ms = |v: i64| UnixMillis(v.max(0) as u64);
            let rows = stmt.query_map([], |r| {
                Ok(SessionEntry {
                    key: r.get(0)?,
                    session_id: r.get(1)?,
                    agent_id: r.get(2)?,
                    created_at: ms(r.get(3)?),
                    updated_at: ms(r.get(4)?),
                    aborted_last_run: r.get(5)?,
                    input_tokens: r.get::<_, i64>(6)?.max(0) as u64,
                    output_tokens: r.get::<_, i64>(7)?.max(0) as u64,
                    model_provider: r.get(8)?,
                    model: r.get(9)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Keeps a finished run's result; drops results older than `keep_after`.
    pub fn save_run_result(
        &self,
        run_id: &str,
        response: &Value,
        wait: &Value,
        finished_at: UnixMillis,
        keep_after: UnixMillis,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT OR REPLACE INTO run_results (run_id, response, wait, finished_at) VALUES (?1, ?2, ?3, ?4)",
                params![run_id, response.to_string(), wait.to_string(), finished_at.0 as i64],
            )?;
            tx.execute("DELETE FROM run_results WHERE finished_at < ?1", [keep_after.0 as i64])?;
            tx.commit()
        })
    }

    /// Results finished at or after `since`: `(run_id, response, wait, finished_at)`.
    pub fn load_run_results(&self, since: UnixMillis) -> Result<Vec<(String, Value, Value, UnixMillis)>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT run_id, response, wait, finished_at FROM run_results WHERE finished_at >= ?1
                 ORDER BY finished_at",
            )?;
            let rows = stmt.query_map([since.0 as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (run, response, wait, at) = row?;
                let (Ok(response), Ok(wait)) = (serde_json::from_str(&response), serde_json::from_str(&wait)) else {
                    continue;
                };
                out.push((run, response, wait, UnixMillis(at.max(0) as u64)));
            }
            Ok(out)
        })
    }

    /// `PRAGMA integrity_check` says `ok`.
    pub fn is_intact(&self) -> Result<bool, StoreError> {
        self.with(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)).map(|s| s == "ok"))
    }

    /// The transcript as the reference's JSONL (pi session format v3, channels-agent-nodes.md
    /// §7.3): a `{type:"session", version:3, id, timestamp, cwd}` header, then one
    /// `{type:"message", id (8 hex), parentId, timestamp, message}` entry per message, each
    /// entry's parent the one before it. Timestamps are ISO 8601; `cwd` is the workspace.
    pub fn export_jsonl(&self, session_key: &str, cwd: Option<&Path>) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            let head: Option<(String, i64)> = c
                .query_row("SELECT session_id, created_at FROM sessions WHERE key = ?1", [session_key], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let Some((session_id, created)) = head else { return Ok(None) };
            let mut out = json!({ "type": "session", "version": 3, "id": &session_id, "timestamp": iso(created),
                "cwd": cwd.map(|p| p.display().to_string()).unwrap_or_default() })
            .to_string();
            out.push('\n');
            let mut stmt = c
                .prepare("SELECT id, role, text, ts, content FROM messages WHERE session_id = ?1 ORDER BY id")?;
            let rows = stmt.query_map([&session_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })?;
            let mut parent: Option<String> = None;
            for row in rows {
                let (row_id, role, text, ts, content) = row?;
                let message = stored_message(content, &role, &text, ts);
                // Entry ids are 8 hex digits, unique within the file (the row id, wrapped).
                let id = format!("{:08x}", row_id & 0xffff_ffff);
                let line = json!({ "type": "message", "id": id, "parentId": parent, "timestamp": iso(ts),
                    "message": message });
                parent = Some(id);
                out.push_str(&line.to_string());
                out.push('\n');
            }
            Ok(Some(out))
        })
    }
}

/// Opens (creating, with its folder) the database file at `path` and migrates it.
fn open_file(path: &Path) -> Result<Connection, StoreError> {
    create_folder(path)?;
    let conn = Connection::open(path).map_err(|source| StoreError::Open { path: path.display().to_string(), source })?;
    init(conn)
}

fn create_folder(path: &Path) -> Result<(), StoreError> {
    let Some(dir) = path.parent() else { return Ok(()) };
    std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
        path: path.display().to_string(),
        source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
    })
}

/// Durability: WAL with `synchronous = NORMAL`, set first so that even the switch to WAL on
/// a new file runs under it. A commit is atomic and consistent at once and durable from the
/// next checkpoint (a power loss may lose the last commits, never corrupt the file; a
/// process crash loses nothing). Pending migrations run in one transaction (one WAL commit, not
/// one per version), so a new database costs the journal switch and the WAL's own header sync,
/// no per-step syncs. Closing does not checkpoint (see [`no_checkpoint_on_close`]).
fn init(mut conn: Connection) -> Result<Connection, StoreError> {
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Page cache: 512 KiB (SQLite's default is 2 MiB per connection, all of it kept once a
    // long soak has touched that many pages; reads here are a session's last messages).
    conn.pragma_update(None, "cache_size", CACHE_KIB)?;
    no_checkpoint_on_close(&conn)?;
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version < MIGRATIONS.len() {
        let tx = conn.transaction()?;
        for sql in &MIGRATIONS[version..] {
            tx.execute_batch(sql)?;
        }
        tx.pragma_update(None, "user_version", MIGRATIONS.len())?;
        tx.commit()?;
    }
    Ok(conn)
}

/// `SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE`: closing the last connection leaves the WAL as it is
/// instead of copying it into the database file (two `fsync`s and the pages' writes on the
/// gateway's way out, ~2-20 ms). Nothing is lost: the WAL is a valid part of the database and
/// the next open reads it; SQLite's automatic checkpoints (every ~1000 pages) still run while
/// the gateway does.
pub(crate) fn no_checkpoint_on_close(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true).map(drop)
}

/// Milliseconds since the epoch as ISO 8601 UTC (`2026-11-25T16:10:02.123Z`).
fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A stored message: its `content` JSON, or (rows from before migration 2, plain text only)
/// one built from the text.
fn stored_message(content: Option<String>, role: &str, text: &str, ts: i64) -> Value {
    content
        .and_then(|c| serde_json::from_str::<Value>(&c).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({ "role": role, "content": [{ "type": "text", "text": text }], "timestamp": ts }))
}

/// Writes the transcript of `session_key` as the reference's JSONL to `path` (atomically, mode
/// 0600, creating the folder) before the session is deleted: the reference archives a deleted
/// session's file as `<file>.deleted.<timestamp>`. A session without messages writes nothing.
pub(crate) fn archive_transcript(store: &Store, session_key: &str, path: &Path) -> Result<(), StoreError> {
    let Some(text) = store.export_jsonl(session_key, None)? else { return Ok(()) };
    let io = |e: std::io::Error| StoreError::Io(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    crate::config_file::write_atomic(path, text.as_bytes()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner<'a>(key: &'a str, sid: &'a str, run: &'a str) -> MessageOwner<'a> {
        MessageOwner { session_key: key, session_id: sid, agent_id: "main", run_id: run }
    }

    fn text(role: &str, t: &str, ts: i64) -> Value {
        json!({ "role": role, "content": [{ "type": "text", "text": t }], "timestamp": ts })
    }

    #[test]
    fn messages_round_trip_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let key = "agent:main:main";
        {
            let s = Store::open(&path).unwrap();
            s.append_message(&owner(key, "sid", "r1"), &text("user", "hi", 5)).unwrap();
            let call = json!({ "role": "assistant", "stopReason": "toolUse", "timestamp": 6, "content": [
                { "type": "toolCall", "id": "c1", "name": "ls", "arguments": { "path": "." } }] });
            s.append_message(&owner(key, "sid", "r1"), &call).unwrap();
            let result = json!({ "role": "toolResult", "toolCallId": "c1", "toolName": "ls", "isError": false,
                "content": [{ "type": "text", "text": "a.txt" }], "timestamp": 7 });
            s.append_message(&owner(key, "sid", "r1"), &result).unwrap();
            s.append_message(&owner(key, "sid", "r1"), &text("assistant", "yo", 8)).unwrap();
            let r = json!({"ok": true});
            s.save_run_result("r1", &r, &json!({}), UnixMillis(5), UnixMillis(0)).unwrap();
            s.save_run_result("r0", &r, &json!({}), UnixMillis(1), UnixMillis(0)).unwrap();
            s.save_run_result("r2", &r, &json!({}), UnixMillis(9), UnixMillis(3)).unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert!(s.is_intact().unwrap());
        let h = s.history("sid", 10).unwrap();
        assert_eq!(h.len(), 4);
        assert_eq!(h[0], ChatMessage::User("hi".into()));
        assert!(matches!(&h[1], ChatMessage::Assistant { calls, .. } if calls[0].name == "ls"));
        assert!(matches!(&h[2], ChatMessage::ToolResult { call_id, text, .. } if call_id == "c1" && text == "a.txt"));
        assert_eq!(s.history("sid", 1).unwrap(), [ChatMessage::Assistant { text: "yo".into(), calls: vec![] }]);
        let page = s.last_messages("sid", 2, None).unwrap();
        assert_eq!(page.iter().map(|(_, m)| m["role"].as_str().unwrap()).collect::<Vec<_>>(), ["toolResult", "assistant"]);
        let before = s.last_messages("sid", 10, Some(page[0].0)).unwrap();
        assert_eq!(before.len(), 2, "rows before the page");
        let mut e = s.load_sessions().unwrap().remove(0);
        assert_eq!((e.key.as_str(), e.session_id.as_str()), (key, "sid"));
        e.session_id = "sid2".into();
        e.input_tokens = 7;
        s.save_session(&e).unwrap();
        assert_eq!(s.load_sessions().unwrap()[0].input_tokens, 7);
        assert!(s.history("sid2", 10).unwrap().is_empty(), "a reset session starts empty");
        let runs: Vec<String> = s.load_run_results(UnixMillis(0)).unwrap().into_iter().map(|r| r.0).collect();
        assert_eq!(runs, ["r1", "r2"], "r0 pruned as too old");
        s.delete_session(key, "sid", true).unwrap();
        assert!(s.load_sessions().unwrap().is_empty());
        assert!(s.history("sid", 10).unwrap().is_empty());
    }

    #[test]
    fn closing_leaves_the_wal_and_the_next_open_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        {
            let s = Store::open(&path).unwrap();
            s.append_message(&owner("k", "sid", "r1"), &text("user", "kept", 5)).unwrap();
        }
        let wal = dir.path().join("s.sqlite-wal");
        assert!(std::fs::metadata(&wal).unwrap().len() > 0, "no checkpoint on close: the commit is still in the WAL");
        let s = Store::open(&path).unwrap();
        assert!(s.is_intact().unwrap());
        assert_eq!(s.history("sid", 10).unwrap(), [ChatMessage::User("kept".into())]);
    }

    #[test]
    fn a_deferred_store_creates_its_file_on_first_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agents/main/sessions.sqlite");
        let s = Store::deferred(&path);
        assert!(!path.exists(), "nothing is created before first use");
        assert!(s.load_sessions().unwrap().is_empty());
        assert!(path.exists());
        s.append_message(&owner("k", "sid", "r1"), &text("user", "hi", 5)).unwrap();
        drop(s);
        let again = Store::open(&path).unwrap();
        assert_eq!(again.load_sessions().unwrap()[0].key, "k");
    }

    #[test]
    fn a_deferred_store_that_cannot_be_created_says_where() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("agents"), "a file where the folder should be").unwrap();
        let s = Store::deferred(&dir.path().join("agents/main/sessions.sqlite"));
        let err = s.ensure_open().unwrap_err();
        assert!(err.to_string().contains("agents/main/sessions.sqlite"), "{err}");
    }

    #[test]
    fn history_pages_by_offset_and_after_a_seq() {
        let s = Store::in_memory().unwrap();
        for i in 1..=5 {
            s.append_message(&owner("k", "sid", "r"), &text("user", &format!("m{i}"), i)).unwrap();
        }
        let texts = |p: &HistoryPage| -> Vec<String> {
            p.messages.iter().map(|m| m["content"][0]["text"].as_str().unwrap().to_owned()).collect()
        };
        let tail = s.history_page("sid", HistoryQuery::Tail { limit: 2, offset: 0 }).unwrap();
        assert_eq!((texts(&tail), tail.total), (vec!["m4".into(), "m5".into()], 5));
        assert_eq!(tail.messages[0]["__openclaw"]["seq"], 4);
        let older = s.history_page("sid", HistoryQuery::Tail { limit: 2, offset: 2 }).unwrap();
        assert_eq!(texts(&older), ["m2", "m3"]);
        let last = s.history_page("sid", HistoryQuery::Tail { limit: 9, offset: 4 }).unwrap();
        assert_eq!(texts(&last), ["m1"]);
        assert!(s.history_page("sid", HistoryQuery::Tail { limit: 2, offset: 9 }).unwrap().messages.is_empty());
        let after = s.history_page("sid", HistoryQuery::After { seq: 3, limit: 10 }).unwrap();
        assert_eq!(texts(&after), ["m4", "m5"]);
        assert!(s.history_page("sid", HistoryQuery::After { seq: 5, limit: 10 }).unwrap().messages.is_empty());
    }

    #[test]
    fn export_is_jsonl() {
        let s = Store::in_memory().unwrap();
        s.append_message(&owner("k", "sid", "r1"), &text("user", "hi", 5)).unwrap();
        s.append_message(&owner("k", "sid", "r1"), &text("assistant", "yo", 6)).unwrap();
        let jsonl = s.export_jsonl("k", Some(Path::new("/ws"))).unwrap().unwrap();
        let lines: Vec<Value> = jsonl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], json!({"type":"session","version":3,"id":"sid","timestamp":"1970-01-01T00:00:00.005Z","cwd":"/ws"}));
        assert_eq!(lines[1]["parentId"], Value::Null);
        assert_eq!(lines[1]["timestamp"], "1970-01-01T00:00:00.005Z");
        let id = lines[1]["id"].as_str().unwrap();
        assert!(id.len() == 8 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        assert_eq!(lines[2]["parentId"], id);
        assert_eq!(lines[2]["message"]["role"], "assistant");
        assert!(s.export_jsonl("nope", None).unwrap().is_none());
    }

    #[test]
    fn a_deleted_session_is_archived_first() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::in_memory().unwrap();
        s.append_message(&owner("k", "sid", "r1"), &text("user", "keep me", 5)).unwrap();
        let path = dir.path().join("agents/main/sessions/sid.jsonl.deleted.9");
        archive_transcript(&s, "k", &path).unwrap();
        s.delete_session("k", "sid", true).unwrap();
        let archived = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = archived.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[1]["message"]["content"][0]["text"], "keep me", "{archived}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(s.export_jsonl("k", None).unwrap().is_none(), "the session is gone from the database");
    }
}
