//! The gateway's state database, `<state>/state/openclaw.sqlite`, as the reference keeps it
//! (errata 2026.9.6): paired devices, channel pairing codes, channel offsets and other small
//! records that must survive `kill -9`. (Transcripts live in the session store,
//! `agents/<id>/sessions.sqlite`.)
//!
//! Tables use the reference's DDL (`reference-state-db-schema.sql`), so a reader of either
//! gateway's file finds the same rows. Each feature owns one named [`Migration`]; a migration is
//! applied once, in list order, and recorded in `openclaw_migrations` in the same transaction.
//! Adding a feature's tables is one entry appended to [`MIGRATIONS`].
//!
//! Every write is one `BEGIN IMMEDIATE` transaction ([`StateDb::write`]); WAL with
//! `synchronous = NORMAL` makes a commit atomic at once and a process crash loses nothing.
//! The file is opened on first use, so a gateway that never pairs a device or runs a channel
//! pays no start-up cost for it. Calls block: from async code, call them in `spawn_blocking`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, Transaction, TransactionBehavior};

/// One feature's tables: a stable `name` (recorded once applied) and its DDL.
pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

/// Applied in order on open; append only (a name, once released, never changes its SQL).
pub const MIGRATIONS: &[Migration] = &[SCHEMA_META, crate::devices_db::MIGRATION, crate::channels::store::MIGRATION];

const SCHEMA_META: Migration = Migration {
    name: "schema_meta",
    sql: "CREATE TABLE IF NOT EXISTS schema_meta (
  meta_key TEXT NOT NULL PRIMARY KEY,
  role TEXT NOT NULL,
  schema_version INTEGER NOT NULL,
  agent_id TEXT,
  app_version TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;",
};

#[derive(Debug, thiserror::Error)]
pub enum StateDbError {
    #[error("state database {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("state database {path}: cannot create its folder: {source}")]
    Folder { path: String, source: std::io::Error },
    #[error("state database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("state database: a lock holder panicked")]
    Poisoned,
}

/// Where the database lives.
enum Location {
    File(PathBuf),
    Memory,
}

/// A handle to the state database; cheap to create, opens (creating and migrating) on first use.
pub struct StateDb {
    location: Location,
    conn: Mutex<Option<Connection>>,
}

impl StateDb {
    /// The database of a state dir: `<state_dir>/state/openclaw.sqlite`.
    pub fn in_state_dir(state_dir: &Path) -> Self {
        Self::at(state_dir.join("state").join("openclaw.sqlite"))
    }

    /// The database at `path` (opened on first use).
    pub fn at(path: PathBuf) -> Self {
        Self { location: Location::File(path), conn: Mutex::new(None) }
    }

    /// A private database that lives as long as this handle (no state dir).
    pub fn in_memory() -> Self {
        Self { location: Location::Memory, conn: Mutex::new(None) }
    }

    /// The file's path, when it has one.
    pub fn path(&self) -> Option<&Path> {
        match &self.location {
            Location::File(p) => Some(p),
            Location::Memory => None,
        }
    }

    /// Runs `f` over the connection (reads; a write here is its own autocommit statement).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>) -> Result<T, StateDbError> {
        let mut guard = self.conn.lock().map_err(|_| StateDbError::Poisoned)?;
        let conn = self.opened(&mut guard)?;
        Ok(f(conn)?)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction, committed when `f` returns `Ok` and rolled
    /// back otherwise: all of its writes land together or none do.
    pub fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, rusqlite::Error>) -> Result<T, StateDbError> {
        let mut guard = self.conn.lock().map_err(|_| StateDbError::Poisoned)?;
        let conn = self.opened(&mut guard)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn opened<'a>(&self, slot: &'a mut Option<Connection>) -> Result<&'a mut Connection, StateDbError> {
        if slot.is_none() {
            *slot = Some(self.open()?);
        }
        Ok(slot.as_mut().expect("opened above"))
    }

    fn open(&self) -> Result<Connection, StateDbError> {
        let mut conn = match &self.location {
            Location::Memory => Connection::open_in_memory()?,
            Location::File(path) => {
                let shown = path.display().to_string();
                if let Some(dir) = path.parent() {
                    create_private_dir(dir).map_err(|source| StateDbError::Folder { path: shown.clone(), source })?;
                }
                Connection::open(path).map_err(|source| StateDbError::Open { path: shown, source })?
            }
        };
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        crate::agent::store::no_checkpoint_on_close(&conn)?;
        migrate(&mut conn)?;
        Ok(conn)
    }
}

/// Applies the migrations not yet recorded, all in one transaction.
fn migrate(conn: &mut Connection) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS openclaw_migrations (
           name TEXT NOT NULL PRIMARY KEY,
           seq INTEGER NOT NULL
         ) STRICT;",
    )?;
    for (seq, m) in MIGRATIONS.iter().enumerate() {
        let done: bool =
            tx.query_row("SELECT EXISTS(SELECT 1 FROM openclaw_migrations WHERE name = ?1)", [m.name], |r| r.get(0))?;
        if !done {
            tx.execute_batch(m.sql)?;
            tx.execute("INSERT INTO openclaw_migrations (name, seq) VALUES (?1, ?2)", rusqlite::params![m.name, seq as i64])?;
        }
    }
    tx.commit()
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_lazily_in_a_private_folder_and_migrates_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::in_state_dir(dir.path());
        let file = dir.path().join("state/openclaw.sqlite");
        assert!(!file.exists(), "nothing is created before first use");
        let applied: Vec<String> = db
            .read(|c| {
                let mut s = c.prepare("SELECT name FROM openclaw_migrations ORDER BY seq")?;
                let rows = s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>();
                rows
            })
            .unwrap();
        assert_eq!(applied, MIGRATIONS.iter().map(|m| m.name.to_owned()).collect::<Vec<_>>());
        assert!(file.exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("state")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        drop(db);
        // Reopening applies nothing twice (a second CREATE without IF NOT EXISTS would fail).
        let again = StateDb::in_state_dir(dir.path());
        let n: i64 = again.read(|c| c.query_row("SELECT COUNT(*) FROM openclaw_migrations", [], |r| r.get(0))).unwrap();
        assert_eq!(n as usize, MIGRATIONS.len());
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let db = StateDb::in_memory();
        let err = db.write(|tx| {
            tx.execute(
                "INSERT INTO schema_meta (meta_key, role, schema_version, created_at, updated_at) VALUES ('a', 'r', 1, 0, 0)",
                [],
            )?;
            tx.execute("INSERT INTO no_such_table VALUES (1)", [])
        });
        assert!(matches!(err, Err(StateDbError::Sql(_))));
        let n: i64 = db.read(|c| c.query_row("SELECT COUNT(*) FROM schema_meta", [], |r| r.get(0))).unwrap();
        assert_eq!(n, 0, "the first insert was rolled back with the failing one");
    }

    #[test]
    fn a_folder_that_cannot_be_made_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("state");
        std::fs::write(&blocker, "a file where the folder should be").unwrap();
        let db = StateDb::in_state_dir(dir.path());
        let err = db.read(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))).unwrap_err();
        assert!(err.to_string().contains("state/openclaw.sqlite"), "{err}");
    }
}
