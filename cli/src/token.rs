//! The generated gateway token: 32 random bytes, base64url, kept in `<state dir>/gateway.token`.
//!
//! The file is created with mode 0600 and written atomically (temp file, fsync, rename, fsync of
//! the directory), so a crash never leaves a half-written token that a later start would reuse.
//! The token itself is never logged; callers print the file's path instead.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Whether the token was just made or read back from an earlier start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Generated,
    Reused,
}

/// Why the token file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the token file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the token file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no OS randomness to generate a token: {0}")]
    Random(getrandom::Error),
    #[error("the token file {path} is empty; delete it to generate a new token")]
    Empty { path: PathBuf },
}

/// Reads the token at `path`, or generates, stores and returns a new one when there is none.
pub fn load_or_generate(path: &Path) -> Result<(String, Origin), TokenError> {
    remove_stale_temps(path.parent().unwrap_or(Path::new(".")));
    if let Some(token) = read(path)? {
        return Ok((token, Origin::Reused));
    }
    let token = generate()?;
    write_atomically(path, &token)?;
    Ok((token, Origin::Generated))
}

/// The token stored at `path`, if the file exists.
pub fn read(path: &Path) -> Result<Option<String>, TokenError> {
    match fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Err(TokenError::Empty {
            path: path.to_owned(),
        }),
        Ok(text) => Ok(Some(text.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(TokenError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// 32 bytes of OS randomness, base64url without padding (43 characters).
pub fn generate() -> Result<String, TokenError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(TokenError::Random)?;
    Ok(base64url(&bytes))
}

const TEMP_PREFIX: &str = ".gateway.token.";
const TEMP_SUFFIX: &str = ".tmp";

/// Removes temp files left by a writer that was killed between creating and renaming them
/// (`kill -9`). A temp file of a process that is still alive is left alone.
fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Some(pid) = name.strip_prefix(TEMP_PREFIX).and_then(|r| r.strip_suffix(TEMP_SUFFIX)) else {
            continue;
        };
        let alive = pid.parse::<u32>().is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn write_atomically(path: &Path, token: &str) -> Result<(), TokenError> {
    let err = |source| TokenError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    if !dir.exists() {
        fs::create_dir_all(dir).map_err(err)?;
        // The state dir holds secrets: keep it private when we are the ones creating it.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    let tmp = dir.join(format!("{TEMP_PREFIX}{}{TEMP_SUFFIX}", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(token.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// RFC 4648 §5 base64url, no padding.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn generated_once_then_reused_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("gateway.token");
        let (first, origin) = load_or_generate(&path).unwrap();
        assert_eq!(origin, Origin::Generated);
        assert_eq!(first.len(), 43);
        assert!(first
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (second, origin) = load_or_generate(&path).unwrap();
        assert_eq!((second, origin), (first, Origin::Reused));
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file left behind");
    }

    #[test]
    fn stale_temp_files_of_dead_writers_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dir.path().join(".gateway.token.4000000000.tmp");
        let live = dir.path().join(".gateway.token.1.tmp"); // pid 1 is always alive
        let other = dir.path().join("unrelated.tmp");
        for p in [&dead, &live, &other] {
            fs::write(p, "x").unwrap();
        }
        let (_, origin) = load_or_generate(&dir.path().join("gateway.token")).unwrap();
        assert_eq!(origin, Origin::Generated);
        assert!(!dead.exists(), "a dead writer's temp file is removed");
        assert!(live.exists(), "a live process's temp file is kept");
        assert!(other.exists(), "other files are not touched");
    }

    #[test]
    fn empty_file_is_an_error_not_an_empty_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.token");
        fs::write(&path, "\n").unwrap();
        assert!(matches!(
            load_or_generate(&path),
            Err(TokenError::Empty { .. })
        ));
    }
}
