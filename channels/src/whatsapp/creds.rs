//! The linked-device credentials of one account (spec §4.1), in the reference's place:
//! `<state>/credentials/whatsapp/<accountId>/creds.json` (folder 0700, file 0600).
//!
//! - Every save is atomic (a 0600 temp file, fsync, rename, fsync of the folder), and a parseable
//!   `creds.json` is first copied to `creds.json.bak`; loading a missing or corrupt `creds.json`
//!   restores the backup when it parses.
//! - "Linked" = `creds.json` is a parseable JSON object larger than one byte. Its `me.id` (a user
//!   JID) is the linked number.
//! - Logout deletes the whole folder.
//!
//! The content is the protocol library's, opaque here except `me.id`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;

use super::target::{jid_to_e164, E164};

const CREDS: &str = "creds.json";
const BACKUP: &str = "creds.json.bak";

/// The credentials of a linked device: a JSON object whose `me.id` names the linked number.
#[derive(Clone, Debug, PartialEq)]
pub struct Creds(Value);

impl Creds {
    /// Wraps the library's credentials; they must be a JSON object.
    pub fn new(value: Value) -> Result<Self, CredsError> {
        value.is_object().then(|| Self(value)).ok_or(CredsError::Corrupt)
    }

    pub fn value(&self) -> &Value {
        &self.0
    }

    /// `me.id`: the linked device's JID (`<digits>:<device>@s.whatsapp.net`).
    pub fn me_jid(&self) -> Option<&str> {
        self.0.get("me")?.get("id")?.as_str()
    }

    /// The linked number.
    pub fn self_number(&self) -> Option<E164> {
        jid_to_e164(self.me_jid()?)
    }

    fn parse(bytes: &[u8]) -> Option<Self> {
        if bytes.len() <= 1 {
            return None;
        }
        serde_json::from_slice::<Value>(bytes).ok().and_then(|v| Self::new(v).ok())
    }
}

/// Why credentials could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CredsError {
    #[error("account id {0:?} is not usable as a folder name (letters, digits, '-' and '_' only)")]
    BadAccountId(String),
    #[error("credentials are not a JSON object")]
    Corrupt,
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CredsError + '_ {
    move |source| CredsError::Io { path: path.to_owned(), source }
}

/// One account's credential folder.
#[derive(Clone, Debug)]
pub struct CredsStore {
    dir: PathBuf,
}

impl CredsStore {
    /// The default folder of `account_id` under the state dir.
    pub fn new(state_dir: &Path, account_id: &str) -> Result<Self, CredsError> {
        let ok = !account_id.is_empty()
            && account_id.len() <= 64
            && account_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(CredsError::BadAccountId(account_id.to_owned()));
        }
        Ok(Self::at(state_dir.join("credentials").join("whatsapp").join(account_id)))
    }

    /// An explicit folder (`channels.whatsapp.accounts.<id>.authDir`).
    pub fn at(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The credentials, restoring a parseable backup over a missing or corrupt `creds.json`.
    /// `None` = not linked.
    pub fn load(&self) -> Result<Option<Creds>, CredsError> {
        if let Some(creds) = self.read(CREDS)? {
            return Ok(Some(creds));
        }
        let Some(backup) = self.read(BACKUP)? else { return Ok(None) };
        self.write_atomic(CREDS, backup.value())?;
        Ok(Some(backup))
    }

    fn read(&self, name: &str) -> Result<Option<Creds>, CredsError> {
        let path = self.path(name);
        match fs::read(&path) {
            Ok(bytes) => Ok(Creds::parse(&bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Whether the account is linked (`creds.json` parses; a backup alone does not count).
    pub fn is_linked(&self) -> bool {
        matches!(self.read(CREDS), Ok(Some(_)))
    }

    /// Now − `creds.json` mtime.
    pub fn auth_age(&self, now: SystemTime) -> Option<std::time::Duration> {
        let modified = fs::metadata(self.path(CREDS)).and_then(|m| m.modified()).ok()?;
        now.duration_since(modified).ok()
    }

    /// Saves new credentials: the current parseable `creds.json` becomes `creds.json.bak`, then
    /// the new one replaces it atomically.
    pub fn save(&self, creds: &Creds) -> Result<(), CredsError> {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir).map_err(io_err(&self.dir))?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700)).map_err(io_err(&self.dir))?;
        if let Some(current) = self.read(CREDS)? {
            self.write_atomic(BACKUP, current.value())?;
        }
        self.write_atomic(CREDS, creds.value())
    }

    fn write_atomic(&self, name: &str, value: &Value) -> Result<(), CredsError> {
        let path = self.path(name);
        let tmp = self.path(&format!(".{name}.tmp"));
        let bytes = serde_json::to_vec(value).map_err(|e| io_err(&path)(e.into()))?;
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(io_err(&tmp))?;
        // An older temp file keeps its mode: force 0600.
        file.set_permissions(fs::Permissions::from_mode(0o600)).map_err(io_err(&tmp))?;
        file.write_all(&bytes).and_then(|()| file.sync_all()).map_err(io_err(&tmp))?;
        fs::rename(&tmp, &path).map_err(io_err(&path))?;
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io_err(&self.dir))
    }

    /// Logout: deletes the folder. `true` when there was something to delete.
    pub fn clear(&self) -> Result<bool, CredsError> {
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err(&self.dir)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("openclaw-wa-creds-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn saved_credentials_are_private_backed_up_and_reloaded() {
        let state = temp_dir("save");
        let store = CredsStore::new(&state, "default").expect("store");
        assert_eq!(store.load().expect("load"), None);
        assert!(!store.is_linked());
        let first = Creds::new(json!({"me": {"id": "15550001111:7@s.whatsapp.net"}, "k": 1})).expect("creds");
        store.save(&first).expect("save");
        assert_eq!(store.dir(), state.join("credentials/whatsapp/default"));
        assert_eq!(mode(store.dir()), 0o700);
        assert_eq!(mode(&store.dir().join("creds.json")), 0o600);
        assert!(store.is_linked());
        let loaded = store.load().expect("load").expect("linked");
        assert_eq!(loaded.self_number().map(|n| n.to_string()), Some("+15550001111".into()));
        let second = Creds::new(json!({"me": {"id": "15550001111:7@s.whatsapp.net"}, "k": 2})).expect("creds");
        store.save(&second).expect("save");
        assert_eq!(mode(&store.dir().join("creds.json.bak")), 0o600);
        let backup: Value = serde_json::from_slice(&fs::read(store.dir().join("creds.json.bak")).expect("bak")).expect("json");
        assert_eq!(backup["k"], 1, "the previous creds are the backup");
        assert!(store.auth_age(SystemTime::now() + std::time::Duration::from_secs(5)).is_some());
        let leftovers: Vec<_> = fs::read_dir(store.dir()).expect("dir").filter_map(|e| e.ok()).map(|e| e.file_name()).filter(|n| n.to_string_lossy().ends_with(".tmp")).collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let _ = fs::remove_dir_all(&state);
    }

    #[test]
    fn a_corrupt_file_is_restored_from_the_backup_and_logout_deletes_everything() {
        let state = temp_dir("restore");
        let store = CredsStore::new(&state, "work").expect("store");
        store.save(&Creds::new(json!({"me": {"id": "1@s.whatsapp.net"}, "k": 1})).expect("c")).expect("save");
        store.save(&Creds::new(json!({"me": {"id": "1@s.whatsapp.net"}, "k": 2})).expect("c")).expect("save");
        fs::write(store.dir().join("creds.json"), b"{trunc").expect("corrupt");
        assert!(!store.is_linked(), "a corrupt creds.json is not linked");
        let restored = store.load().expect("load").expect("restored");
        assert_eq!(restored.value()["k"], 1);
        assert!(store.is_linked(), "restored onto disk");
        fs::write(store.dir().join("creds.json"), b"1").expect("one byte");
        fs::remove_file(store.dir().join("creds.json.bak")).expect("rm");
        assert_eq!(store.load().expect("load"), None, "one byte is not linked");
        assert!(store.clear().expect("clear"));
        assert!(!store.dir().exists());
        assert!(!store.clear().expect("clear again"));
        let _ = fs::remove_dir_all(&state);
    }

    #[test]
    fn account_ids_cannot_escape_the_state_dir() {
        let state = temp_dir("ids");
        for bad in ["", "../x", "a/b", ".", "x y"] {
            assert!(matches!(CredsStore::new(&state, bad), Err(CredsError::BadAccountId(_))), "{bad:?}");
        }
        assert!(Creds::new(json!([1])).is_err());
    }
}
