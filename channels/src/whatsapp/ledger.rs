//! The durable send ledger that makes `send` idempotent across restarts.
//!
//! WhatsApp message ids are chosen by the sender, and a receiver keeps one message per id. So a
//! send first records `idempotencyKey → (message id, JID)` as *pending* (fsynced) and only then
//! sends; once the server accepts it the entry becomes *sent*. A retry with the same key:
//! - *sent* → the recorded result, nothing sent again;
//! - *pending* (the gateway died, or the connection dropped, between the two writes) → sent
//!   again **with the same message id**, which the receiver de-duplicates.
//!
//! One JSON file per account (`<state>/whatsapp/<accountId>/sends.json`, 0600, replaced
//! atomically), bounded to the newest [`MAX_ENTRIES`] keys.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Keys kept (the oldest are forgotten first).
pub const MAX_ENTRIES: usize = 1000;

/// One recorded send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub message_id: String,
    pub to_jid: String,
    pub sent: bool,
    /// When it was first recorded (ms since the epoch): orders eviction.
    pub at_ms: u64,
}

/// What to do for a send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Begin {
    /// Already sent: answer with this, send nothing.
    Done(Entry),
    /// Send (or send again) with this message id.
    Send(Entry),
}

/// The ledger file of one account.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    entries: BTreeMap<String, Entry>,
}

impl Ledger {
    /// Opens (or starts) the ledger at `path`; an unreadable file is an error, not a silent reset
    /// (it would break the idempotency promise).
    pub fn open(path: PathBuf) -> io::Result<Self> {
        let entries = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        Ok(Self { path, entries })
    }

    /// The default place for an account's ledger.
    pub fn default_path(state_dir: &Path, account_id: &str) -> PathBuf {
        state_dir.join("whatsapp").join(account_id).join("sends.json")
    }

    /// Looks `key` up; records a new pending entry (durably, before returning) when it is new.
    /// `new_id` makes the message id of a new entry.
    pub fn begin(&mut self, key: &str, to_jid: &str, now_ms: u64, new_id: impl FnOnce() -> String) -> io::Result<Begin> {
        if let Some(entry) = self.entries.get(key) {
            return Ok(if entry.sent { Begin::Done(entry.clone()) } else { Begin::Send(entry.clone()) });
        }
        let entry = Entry { message_id: new_id(), to_jid: to_jid.to_owned(), sent: false, at_ms: now_ms };
        self.entries.insert(key.to_owned(), entry.clone());
        self.evict();
        self.persist()?;
        Ok(Begin::Send(entry))
    }

    /// Marks `key` sent, durably.
    pub fn finish(&mut self, key: &str) -> io::Result<()> {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.sent = true;
            self.persist()?;
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    fn evict(&mut self) {
        while self.entries.len() > MAX_ENTRIES {
            let oldest = self.entries.iter().min_by_key(|(_, e)| e.at_ms).map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.entries.remove(&k),
                None => break,
            };
        }
    }

    fn persist(&self) -> io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec(&self.entries).map_err(io::Error::other)?;
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        File::open(dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("openclaw-wa-ledger-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir.join("sends.json")
    }

    #[test]
    fn a_pending_send_is_retried_with_its_id_and_a_finished_one_is_replayed_after_reopening() {
        let path = temp_path("retry");
        let mut ledger = Ledger::open(path.clone()).expect("open");
        let Begin::Send(first) = ledger.begin("k1", "1@s.whatsapp.net", 10, || "ID1".into()).expect("begin") else { panic!("new key must send") };
        assert_eq!(first.message_id, "ID1");
        drop(ledger); // crash before finish
        let mut ledger = Ledger::open(path.clone()).expect("reopen");
        let again = ledger.begin("k1", "1@s.whatsapp.net", 20, || panic!("no new id for a known key")).expect("begin");
        assert_eq!(again, Begin::Send(first.clone()), "pending → same id");
        ledger.finish("k1").expect("finish");
        let mut ledger = Ledger::open(path.clone()).expect("reopen");
        assert_eq!(ledger.begin("k1", "1@s.whatsapp.net", 30, || panic!("no new id")).expect("begin"), Begin::Done(Entry { sent: true, ..first }));
        let _ = fs::remove_dir_all(path.parent().expect("dir"));
    }

    #[test]
    fn the_ledger_is_bounded_and_a_corrupt_file_is_an_error() {
        let path = temp_path("bound");
        let mut ledger = Ledger::open(path.clone()).expect("open");
        for i in 0..(MAX_ENTRIES as u64 + 5) {
            ledger.begin(&format!("k{i}"), "j", i, || format!("ID{i}")).expect("begin");
        }
        assert!(ledger.get("k0").is_none() && ledger.get("k4").is_none(), "oldest evicted");
        assert!(ledger.get("k5").is_some());
        assert_eq!(Ledger::open(path.clone()).expect("reopen").entries.len(), MAX_ENTRIES);
        fs::write(&path, b"{oops").expect("corrupt");
        assert_eq!(Ledger::open(path.clone()).expect_err("corrupt").kind(), io::ErrorKind::InvalidData);
        let _ = fs::remove_dir_all(path.parent().expect("dir"));
    }
}
