//! The session store: an embedded SQLite database (WAL, versioned migrations, one transaction
//! per write) holding sessions and their transcripts. Calls are blocking; the runtime makes
//! them from `spawn_blocking`.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::json;

use super::provider::{ChatMessage, ChatRole};

/// Schema versions, applied in order; `PRAGMA user_version` records the last one applied.
const MIGRATIONS: &[&str] = &[
    // 1: sessions and their messages.
    "CREATE TABLE sessions (
         key TEXT PRIMARY KEY,
         session_id TEXT NOT NULL,
         agent_id TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         updated_at INTEGER NOT NULL
     );
     CREATE TABLE messages (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         session_key TEXT NOT NULL REFERENCES sessions(key) ON DELETE CASCADE,
         run_id TEXT NOT NULL,
         role TEXT NOT NULL,
         text TEXT NOT NULL,
         ts INTEGER NOT NULL
     );
     CREATE INDEX messages_by_session ON messages(session_key, id);",
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("session database {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("session database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("session database: a lock holder panicked")]
    Poisoned,
}

/// One row of `sessions.list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub key: String,
    pub session_id: String,
    pub agent_id: String,
    pub created_at: u64,
    pub updated_at: u64,
    pub messages: u64,
}

/// A completed turn to persist.
pub(crate) struct Turn<'a> {
    pub session_key: &'a str,
    pub agent_id: &'a str,
    pub run_id: &'a str,
    pub user: &'a str,
    pub assistant: &'a str,
    pub ts: u64,
}

pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: shown.clone(),
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open { path: shown, source })?;
        Self::init(conn)
    }

    /// A private database that lives as long as the process (no state dir).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tx.commit()?;
        }
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(f(&mut conn)?)
    }

    /// The last `limit` messages of a session, oldest first.
    pub(crate) fn history(&self, session_key: &str, limit: usize) -> Result<Vec<ChatMessage>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT role, text FROM (SELECT id, role, text FROM messages WHERE session_key = ?1
                 ORDER BY id DESC LIMIT ?2) ORDER BY id",
            )?;
            let rows = stmt.query_map(params![session_key, limit as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (role, text) = row?;
                if let Some(role) = ChatRole::parse(&role) {
                    out.push(ChatMessage { role, text });
                }
            }
            Ok(out)
        })
    }

    /// Records a finished turn (both messages, the session row) atomically.
    pub(crate) fn append_turn(&self, turn: &Turn<'_>, new_session_id: impl FnOnce() -> String) -> Result<(), StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            let exists: Option<String> = tx
                .query_row("SELECT session_id FROM sessions WHERE key = ?1", [turn.session_key], |r| r.get(0))
                .optional()?;
            if exists.is_none() {
                tx.execute(
                    "INSERT INTO sessions (key, session_id, agent_id, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?4)",
                    params![turn.session_key, new_session_id(), turn.agent_id, turn.ts as i64],
                )?;
            } else {
                tx.execute("UPDATE sessions SET updated_at = ?2 WHERE key = ?1", params![turn.session_key, turn.ts as i64])?;
            }
            for (role, text) in [("user", turn.user), ("assistant", turn.assistant)] {
                tx.execute(
                    "INSERT INTO messages (session_key, run_id, role, text, ts) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![turn.session_key, turn.run_id, role, text, turn.ts as i64],
                )?;
            }
            tx.commit()
        })
    }

    /// Every session, most recently updated first.
    pub fn sessions(&self) -> Result<Vec<SessionRow>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT s.key, s.session_id, s.agent_id, s.created_at, s.updated_at,
                        (SELECT COUNT(*) FROM messages m WHERE m.session_key = s.key)
                 FROM sessions s ORDER BY s.updated_at DESC, s.key",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(SessionRow {
                    key: r.get(0)?,
                    session_id: r.get(1)?,
                    agent_id: r.get(2)?,
                    created_at: r.get::<_, i64>(3)?.max(0) as u64,
                    updated_at: r.get::<_, i64>(4)?.max(0) as u64,
                    messages: r.get::<_, i64>(5)?.max(0) as u64,
                })
            })?;
            rows.collect()
        })
    }

    /// The transcript as JSONL, one `{type:"message", message:{role, content, timestamp}}` line
    /// per message after a `{type:"session"}` header, as the reference writes its files.
    pub fn export_jsonl(&self, session_key: &str) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            let head: Option<(String, i64)> = c
                .query_row("SELECT session_id, created_at FROM sessions WHERE key = ?1", [session_key], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let Some((session_id, created)) = head else { return Ok(None) };
            let mut out = json!({ "type": "session", "version": 3, "id": session_id, "timestamp": created })
                .to_string();
            out.push('\n');
            let mut stmt =
                c.prepare("SELECT role, text, ts, run_id FROM messages WHERE session_key = ?1 ORDER BY id")?;
            let rows = stmt.query_map([session_key], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?))
            })?;
            for row in rows {
                let (role, text, ts, run_id) = row?;
                let line = json!({ "type": "message", "runId": run_id, "message": {
                    "role": role, "content": [{ "type": "text", "text": text }], "timestamp": ts } });
                out.push_str(&line.to_string());
                out.push('\n');
            }
            Ok(Some(out))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_round_trip_and_survive_reopen() {
        let dir = std::env::temp_dir().join(format!("openclaw-store-test-{}", std::process::id()));
        let path = dir.join("s.sqlite");
        let _ = std::fs::remove_dir_all(&dir);
        {
            let s = Store::open(&path).unwrap();
            let t = Turn { session_key: "agent:main:main", agent_id: "main", run_id: "r1", user: "hi", assistant: "yo", ts: 5 };
            s.append_turn(&t, || "sid".into()).unwrap();
        }
        let s = Store::open(&path).unwrap();
        let h = s.history("agent:main:main", 10).unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[1], ChatMessage { role: ChatRole::Assistant, text: "yo".into() });
        assert_eq!(s.history("agent:main:main", 1).unwrap()[0].text, "yo");
        let rows = s.sessions().unwrap();
        assert_eq!(rows[0].messages, 2);
        let jsonl = s.export_jsonl("agent:main:main").unwrap().unwrap();
        assert_eq!(jsonl.lines().count(), 3);
        assert!(s.export_jsonl("nope").unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
