//! Reading and writing the config file (lifecycle.md §3): the file-system side of
//! [`openclaw_core::config`].
//!
//! [`load_config`] reads the file and its includes and runs the pure pipeline; the result
//! carries everything a caller needs: the typed config, the resolved value, the raw text, its
//! hash (the `baseHash` of the config RPCs), the warnings and the files read (to watch them).
//! [`write_config`] writes atomically (temp file, fsync, rename, fsync of the directory) with
//! mode 0600, keeps a ring of five backups and appends to the audit log.

use std::io::Write;
use std::path::{Path, PathBuf};

use openclaw_core::config::{self, Config, Issue, LoadError, MissingEnv, ReadError, Source};
use serde_json::Value;

/// A loaded config.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub path: PathBuf,
    /// Whether the file exists (a missing file loads as the empty config).
    pub exists: bool,
    pub config: Config,
    /// Includes merged and `${VAR}` substituted.
    pub value: Value,
    /// Includes merged, `${VAR}` references as written (what `config get` shows).
    pub stored: Value,
    /// The main file's own value (`$include` and `${VAR}` as written): edits start from it.
    pub own: Value,
    /// The main file's text (`None` when missing).
    pub raw: Option<String>,
    /// [`hash_text`] of `raw` when there are no includes; with includes, the hash also covers
    /// every included file's path and text (an edit there is a new revision too).
    pub hash: String,
    /// Reference-only keys that were ignored, one each.
    pub warnings: Vec<Issue>,
    /// Every file read, the main one first.
    pub files: Vec<PathBuf>,
}

/// Why the config did not load.
#[derive(Debug, thiserror::Error)]
pub enum ConfigLoadError {
    /// The main file exists but cannot be read (permissions, a directory, ...).
    #[error("cannot read config {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// The text, an include, an env reference or the schema refused it.
    #[error("{}", config::report(path, &error.issues()).trim_end())]
    Invalid { path: PathBuf, raw: String, error: Box<LoadError> },
}

impl ConfigLoadError {
    /// The located issues (one for a read error).
    pub fn issues(&self) -> Vec<Issue> {
        match self {
            Self::Read { source, .. } => vec![Issue::new("", format!("cannot read the file: {source}"))],
            Self::Invalid { error, .. } => error.issues(),
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            Self::Read { path, .. } | Self::Invalid { path, .. } => path,
        }
    }
}

/// The file system as the include resolver's [`Source`]; remembers what it read (for the hash).
#[derive(Default)]
struct Disk {
    read: std::sync::Mutex<Vec<(PathBuf, String)>>,
}

impl Source for Disk {
    fn read(&self, path: &Path) -> Result<String, ReadError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ReadError::NotFound
            } else {
                ReadError::Other(e.to_string())
            }
        })?;
        self.read.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((path.to_owned(), text.clone()));
        Ok(text)
    }
}

/// The revision hash of a config and the included files it read.
fn revision_hash(raw: &str, included: &[(PathBuf, String)]) -> String {
    if included.is_empty() {
        return hash_text(Some(raw));
    }
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(raw.as_bytes());
    for (path, text) in included {
        ctx.update(b"\0");
        ctx.update(path.as_os_str().as_encoded_bytes());
        ctx.update(b"\0");
        ctx.update(text.as_bytes());
    }
    let hex: String = ctx.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// `sha256:<hex>` of the file's text; a missing file hashes as the empty text.
pub fn hash_text(raw: Option<&str>) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, raw.unwrap_or("").as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Loads `path` with the process environment, strictly: a `${VAR}` naming an unset or empty
/// variable fails the load (what the gateway starts and reloads from).
pub fn load_config(path: &Path) -> Result<Loaded, ConfigLoadError> {
    load_config_with(path, &|name| std::env::var(name).ok(), MissingEnv::Error)
}

/// Loads `path` for a CLI command: a missing `${VAR}` is a warning and the string stays as
/// written (a client does not need the gateway's secrets).
pub fn load_config_lenient(path: &Path) -> Result<Loaded, ConfigLoadError> {
    load_config_with(path, &|name| std::env::var(name).ok(), MissingEnv::Warn)
}

/// Loads `path`, looking `${VAR}` up with `env`.
pub fn load_config_with(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    missing_env: MissingEnv,
) -> Result<Loaded, ConfigLoadError> {
    let raw = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Loaded {
                path: path.to_owned(),
                exists: false,
                config: Config::default(),
                value: Value::Object(serde_json::Map::new()),
                stored: Value::Object(serde_json::Map::new()),
                own: Value::Object(serde_json::Map::new()),
                raw: None,
                hash: hash_text(None),
                warnings: Vec::new(),
                files: vec![path.to_owned()],
            })
        }
        Err(source) => return Err(ConfigLoadError::Read { path: path.to_owned(), source }),
    };
    resolve_text(path, raw, env, missing_env)
}

/// Runs the pipeline on `raw` as if it were the content of `path` (a `config.set` candidate).
pub fn resolve_text(
    path: &Path,
    raw: String,
    env: &dyn Fn(&str) -> Option<String>,
    missing_env: MissingEnv,
) -> Result<Loaded, ConfigLoadError> {
    let disk = Disk::default();
    match config::resolve(path, &raw, &disk, env, missing_env) {
        Ok(r) => Ok(Loaded {
            path: path.to_owned(),
            exists: true,
            hash: revision_hash(&raw, &disk.read.lock().unwrap_or_else(std::sync::PoisonError::into_inner)),
            raw: Some(raw),
            config: r.config,
            value: r.value,
            stored: r.stored,
            own: r.own,
            warnings: r.warnings,
            files: r.files,
        }),
        Err(error) => Err(ConfigLoadError::Invalid { path: path.to_owned(), raw, error: Box::new(error) }),
    }
}

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write config {}: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// How many backups are kept: `<config>.bak`, `.bak.1` … `.bak.4`.
pub const BACKUPS: usize = 5;

/// Writes `value` (stamped with `meta.lastTouchedVersion`/`lastTouchedAt`) to `path` as
/// 2-space JSON, atomically, mode 0600, after rotating the backups; appends a line to
/// `<state_dir>/logs/config-audit.jsonl` naming `source` (what wrote it). Returns the new hash.
pub fn write_config(path: &Path, state_dir: &Path, value: &Value, source: &str) -> Result<String, WriteError> {
    let err = |source| WriteError { path: path.to_owned(), source };
    let mut value = value.clone();
    let now = crate::clock::wall_rfc3339();
    config::stamp(&mut value, env!("CARGO_PKG_VERSION"), &now);
    let mut text = serde_json::to_string_pretty(&value).map_err(|e| err(std::io::Error::other(e)))?;
    text.push('\n');
    let previous = std::fs::read_to_string(path).ok();
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    tighten_state_dir(state_dir);
    if previous.is_some() {
        rotate_backups(path).map_err(err)?;
    }
    write_atomic(path, text.as_bytes()).map_err(err)?;
    let hash = hash_text(Some(&text));
    audit(state_dir, path, source, previous.as_deref(), &hash, &now);
    Ok(hash)
}

fn backup_path(path: &Path, slot: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    if slot == 0 {
        name.push(".bak");
    } else {
        name.push(format!(".bak.{slot}"));
    }
    PathBuf::from(name)
}

/// `.bak.3`→`.bak.4`, …, `.bak`→`.bak.1`, then the current file → `.bak` (0600); strays
/// `<config>.bak.*` outside the ring are deleted.
fn rotate_backups(path: &Path) -> std::io::Result<()> {
    for slot in (1..BACKUPS).rev() {
        let from = backup_path(path, slot - 1);
        if from.exists() {
            std::fs::rename(&from, backup_path(path, slot))?;
        }
    }
    let bak = backup_path(path, 0);
    std::fs::copy(path, &bak)?;
    set_private(&bak)?;
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return Ok(()) };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let prefix = format!("{}.bak.", name.to_string_lossy());
    for entry in std::fs::read_dir(dir)?.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(suffix) = file.strip_prefix(&prefix) else { continue };
        let in_ring = suffix.parse::<usize>().is_ok_and(|n| (1..BACKUPS).contains(&n)) && !suffix.starts_with('0');
        if !in_ring {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// The state dir holds secrets: group/other bits are removed (0700), as the reference does.
#[cfg(unix)]
fn tighten_state_dir(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(dir) else { return };
    if meta.is_dir() && meta.permissions().mode() & 0o077 != 0 {
        if let Err(e) = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
            tracing::warn!("cannot tighten {} to 0700: {e}", dir.display());
        }
    }
}

#[cfg(not(unix))]
fn tighten_state_dir(_dir: &Path) {}

#[cfg(unix)]
fn set_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn set_private(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Temp file beside the target (0600), fsync, rename over it, fsync the directory: a crash
/// leaves the old file or the new one, never half of either.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let nonce: u64 = {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
        u64::from_le_bytes(b)
    };
    let tmp = dir.join(format!(".{name}.{}.{nonce:016x}.tmp", std::process::id()));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        set_private(path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// One JSON line per write in `<state_dir>/logs/config-audit.jsonl`; failing to audit does not
/// fail the write (it is logged).
fn audit(state_dir: &Path, path: &Path, source: &str, previous: Option<&str>, hash: &str, ts: &str) {
    let line = serde_json::json!({
        "ts": ts,
        "source": source,
        "event": "config.write",
        "configPath": path.display().to_string(),
        "pid": std::process::id(),
        "previousHash": previous.map(|p| hash_text(Some(p))),
        "nextHash": hash,
    });
    let logs = state_dir.join("logs");
    let result = std::fs::create_dir_all(&logs).and_then(|()| {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(logs.join("config-audit.jsonl"))?;
        writeln!(file, "{line}")
    });
    if let Err(e) = result {
        tracing::warn!("cannot append to the config audit log in {}: {e}", logs.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "OC_TEST_KEY").then(|| "sk-1".to_owned())
    }

    #[test]
    fn missing_file_is_the_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        let l = load_config_with(&dir.path().join("none.json"), &env, MissingEnv::Error).unwrap();
        assert!(!l.exists && l.raw.is_none());
        assert_eq!(l.config, Config::default());
    }

    #[test]
    fn loads_includes_and_env_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("parts")).unwrap();
        std::fs::write(dir.path().join("parts/models.json5"), "{ providers: { p: { baseUrl: 'http://x', apiKey: '${OC_TEST_KEY}' } } }").unwrap();
        let main = dir.path().join("openclaw.json");
        std::fs::write(&main, "{ gateway: { mode: 'local' }, models: { $include: './parts/models.json5' } }").unwrap();
        let l = load_config_with(&main, &env, MissingEnv::Error).unwrap();
        assert_eq!(l.value["models"]["providers"]["p"]["apiKey"], "sk-1");
        assert_eq!(l.stored["models"]["providers"]["p"]["apiKey"], "${OC_TEST_KEY}");
        assert_eq!(l.own["models"], serde_json::json!({"$include": "./parts/models.json5"}));
        assert_eq!(l.files.len(), 2);
        assert!(l.hash.starts_with("sha256:") && l.hash.len() == 7 + 64);
        assert_ne!(l.hash, hash_text(l.raw.as_deref()), "the include is part of the revision");
        std::fs::write(dir.path().join("parts/models.json5"), "{ providers: { p: { baseUrl: 'http://y', apiKey: '${OC_TEST_KEY}' } } }").unwrap();
        let edited = load_config_with(&main, &env, MissingEnv::Error).unwrap();
        assert_ne!(edited.hash, l.hash, "an edit in an included file is a new revision");
        let no_env = |_: &str| None;
        let err = load_config_with(&main, &no_env, MissingEnv::Error).unwrap_err().to_string();
        assert!(err.contains("Missing env var \"OC_TEST_KEY\" referenced at config path: models.providers.p.apiKey"), "{err}");
        assert!(err.contains("parts/models.json5 line 1, column"), "{err}");
        let l = load_config_with(&main, &no_env, MissingEnv::Warn).unwrap();
        assert_eq!(l.value["models"]["providers"]["p"]["apiKey"], "${OC_TEST_KEY}");
        assert_eq!(l.warnings.len(), 1);
    }

    #[test]
    fn writes_atomically_with_a_backup_ring_and_an_audit_line() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().join("openclaw.json");
        std::fs::write(dir.path().join("openclaw.json.bak.9"), "stray").unwrap();
        std::fs::write(dir.path().join("openclaw.json.bak.01"), "stray").unwrap();
        for i in 0..8 {
            write_config(&path, &state, &serde_json::json!({"gateway": {"port": 1000 + i}}), "test").unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\n  \"gateway\": {\n    \"port\": 1007\n  },\n  \"meta\": {\n    \"lastTouchedVersion\""), "{text}");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let port = |p: PathBuf| -> Value {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            v["gateway"]["port"].clone()
        };
        assert_eq!(port(backup_path(&path, 0)), 1006);
        assert_eq!(port(backup_path(&path, 4)), 1002);
        assert_eq!(std::fs::metadata(backup_path(&path, 0)).unwrap().permissions().mode() & 0o777, 0o600);
        let mut names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(
            names,
            ["openclaw.json", "openclaw.json.bak", "openclaw.json.bak.1", "openclaw.json.bak.2", "openclaw.json.bak.3", "openclaw.json.bak.4", "state"]
        );
        assert_eq!(std::fs::metadata(&state).unwrap().permissions().mode() & 0o777, 0o700, "state dir tightened");
        let audit = std::fs::read_to_string(state.join("logs/config-audit.jsonl")).unwrap();
        assert_eq!(audit.lines().count(), 8);
        let last: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
        assert_eq!(last["nextHash"], hash_text(Some(&text)));
        assert_eq!(last["source"], "test");
    }
}
