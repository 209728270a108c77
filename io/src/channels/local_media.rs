//! Local files sent as media (`send`'s `mediaUrl`/`mediaUrls`), confined as the reference
//! confines them (its `getAgentScopedMediaLocalRootsForSources` + `readLocalMediaFile` +
//! `assertHostReadMediaAllowed`, checked against openclaw 2026.9.6 by
//! `tests/tests/conformance_telegram_media.rs`):
//!
//! - the path: absolute, `file://`, `~/…` (home), or relative to the agent workspace;
//! - the allowed roots: `/tmp/openclaw`, `<state>/media`, `<state>/delivery-queue-media`,
//!   `<state>/canvas`, `<state>/workspace` and the agent workspace (`agents.defaults.workspace`);
//!   unless `tools.fs.workspaceOnly` is true (or the `read` tool is denied), also the file's own
//!   directory ("root expansion"), but then the bytes must pass the host-read check
//!   ([`openclaw_channels::media_guard`]: sniffed media, archives, Office/PDF, validated text);
//! - every root and the file are canonicalised (symlinks resolved): a symlink whose target lies
//!   outside every allowed root is refused even when the link itself sits in one; the file
//!   opened is checked to be the file that was checked (same device and inode), so a swap
//!   between check and open is refused too;
//! - at most 50 MB (Telegram's upload limit for bots).
//!
//! Refusals carry the reference's words (`LocalMediaAccessError: Local media path is not under
//! an allowed directory: <path>`, …); `send` answers them UNAVAILABLE, as the reference does.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use openclaw_channels::media_guard::{check_host_read, sniff};
use openclaw_channels::telegram::media::{mime_of_name, Media, MediaKind, MediaSource};

/// The most a bot may upload (Telegram's limit for bots).
pub const MEDIA_MAX_BYTES: u64 = 50 * 1024 * 1024;

/// The reference's preferred temp directory (a media root).
pub const TMP_ROOT: &str = "/tmp/openclaw";

/// Where local media may come from (projected from the config with the state directory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaPolicy {
    /// The state directory (`~/.openclaw`); `None` in a gateway without one (tests).
    pub state_dir: Option<PathBuf>,
    /// The agent workspace (`agents.defaults.workspace`, default `<state>/workspace`).
    pub workspace: Option<PathBuf>,
    /// The file's own directory is allowed too (with the host-read check): true unless
    /// `tools.fs.workspaceOnly` is set or the `read` tool is denied.
    pub host_reads: bool,
    /// `$HOME`, for `~/…`.
    pub home: Option<PathBuf>,
}

/// The reference's default: no state directory known, host reads on.
impl Default for MediaPolicy {
    fn default() -> Self {
        Self { state_dir: None, workspace: None, host_reads: true, home: None }
    }
}

impl MediaPolicy {
    /// The fixed roots, as configured (not yet canonical).
    pub fn roots(&self) -> Vec<PathBuf> {
        let mut roots = vec![PathBuf::from(TMP_ROOT)];
        if let Some(state) = &self.state_dir {
            for sub in ["media", "delivery-queue-media", "canvas", "workspace"] {
                roots.push(state.join(sub));
            }
        }
        roots.extend(self.workspace.iter().cloned());
        roots.dedup();
        roots
    }

    /// The absolute path `raw` names (`file://`, `~/`, relative to the workspace), normalised
    /// lexically (`.` and `..` removed, as `path.resolve` does).
    pub fn resolve(&self, raw: &str) -> Result<PathBuf, String> {
        let path = match raw.get(..7).filter(|p| p.eq_ignore_ascii_case("file://")) {
            Some(_) => {
                let rest = &raw[7..];
                let rest = rest.strip_prefix("localhost").unwrap_or(rest);
                if !rest.starts_with('/') {
                    return Err(format!("LocalMediaAccessError: File URL must be absolute: {raw}"));
                }
                PathBuf::from(crate::percent::decode_uri_component(rest).ok_or_else(|| format!("LocalMediaAccessError: Invalid file URL: {raw}"))?)
            }
            None => match (raw.strip_prefix("~/"), &self.home) {
                (Some(rest), Some(home)) => home.join(rest),
                _ if raw == "~" => self.home.clone().unwrap_or_else(|| PathBuf::from(raw)),
                _ => PathBuf::from(raw),
            },
        };
        let path = if path.is_absolute() {
            path
        } else {
            match self.workspace.as_ref().or(self.state_dir.as_ref()) {
                Some(base) => base.join(path),
                None => return Err(format!("media {raw:?}: expected an http(s) URL or an absolute file path")),
            }
        };
        Ok(normalise(&path))
    }
}

/// `.` and `..` removed without touching the file system (`..` at the root stays at the root).
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The canonical form of a root (its real path; as written when it does not exist).
fn canonical_root(root: &Path) -> PathBuf {
    std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())
}

/// Where `path` really is for the containment check: its real path, else its parent's real
/// path with its name, else as written.
fn containment_path(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    match (path.parent().map(std::fs::canonicalize), path.file_name()) {
        (Some(Ok(parent)), Some(name)) => parent.join(name),
        _ => path.to_path_buf(),
    }
}

fn not_allowed(path: &Path) -> String {
    format!("LocalMediaAccessError: Local media path is not under an allowed directory: {}", path.display())
}

/// Reads the local file `raw` names under `policy`, as an upload (blocking: call it on a
/// blocking thread). `Err` is the refusal's text.
pub fn load(raw: &str, policy: &MediaPolicy, force_document: bool) -> Result<Media, String> {
    let path = policy.resolve(raw)?;
    let mut roots: Vec<PathBuf> = policy.roots().iter().map(|r| canonical_root(r)).collect();
    if policy.host_reads {
        // The file's own directory, unless it is the file-system root.
        if let Some(parent) = path.parent().filter(|p| p.parent().is_some()) {
            roots.push(canonical_root(parent));
        }
    }
    roots.retain(|r| r.parent().is_some());
    let inside = |p: &Path| roots.iter().any(|r| p.starts_with(r) && p != r.as_path());
    let real = containment_path(&path);
    if !inside(&real) {
        return Err(not_allowed(&path));
    }
    let meta = match std::fs::metadata(&real) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err("FsSafeError: file not found".into()),
        Err(e) => return Err(format!("LocalMediaAccessError: Local media path is not safe to read: {} ({e})", path.display())),
    };
    if !meta.is_file() {
        return Err(format!("LocalMediaAccessError: Local media path is not a file: {}", path.display()));
    }
    if meta.len() > MEDIA_MAX_BYTES {
        return Err(format!("media {}: {} bytes, above Telegram's 50 MB upload limit for bots", path.display(), meta.len()));
    }
    let mut file = std::fs::File::open(&real).map_err(|e| format!("media {}: {e}", path.display()))?;
    let opened = file.metadata().map_err(|e| format!("media {}: {e}", path.display()))?;
    // The file opened must be the one checked (a swap of the path in between is refused).
    if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) || !opened.is_file() {
        return Err(not_allowed(&path));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(opened.len()).unwrap_or(0));
    file.by_ref().take(MEDIA_MAX_BYTES + 1).read_to_end(&mut bytes).map_err(|e| format!("media {}: {e}", path.display()))?;
    if bytes.len() as u64 > MEDIA_MAX_BYTES {
        return Err(format!("media {}: above Telegram's 50 MB upload limit for bots", path.display()));
    }
    let file_name = path.file_name().map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned());
    if policy.host_reads {
        check_host_read(&file_name, &bytes)?;
    }
    let content_type = sniff(&bytes).or_else(|| mime_of_name(&file_name)).unwrap_or("application/octet-stream").to_owned();
    let kind = MediaKind::of(&file_name, Some(&content_type), force_document);
    Ok(Media { kind, source: MediaSource::Upload { file_name, content_type, bytes } })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    struct Fixture {
        _dir: tempfile::TempDir,
        state: PathBuf,
        outside: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(state.join("workspace")).unwrap();
        std::fs::create_dir_all(state.join("media")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        Fixture { _dir: dir, state, outside }
    }

    fn policy(f: &Fixture, host_reads: bool) -> MediaPolicy {
        MediaPolicy { state_dir: Some(f.state.clone()), workspace: Some(f.state.join("workspace")), host_reads, home: Some(f.state.clone()) }
    }

    fn upload(m: &Media) -> (&str, &str, usize) {
        match &m.source {
            MediaSource::Upload { file_name, content_type, bytes } => (file_name.as_str(), content_type.as_str(), bytes.len()),
            MediaSource::Url(_) => panic!("an upload"),
        }
    }

    #[test]
    fn paths_resolve_like_the_reference() {
        let f = fixture();
        let p = policy(&f, true);
        let ws = f.state.join("workspace");
        assert_eq!(p.resolve("in.png").unwrap(), ws.join("in.png"), "relative to the workspace");
        assert_eq!(p.resolve("~/workspace/in.png").unwrap(), ws.join("in.png"));
        assert_eq!(p.resolve(&format!("file://{}", ws.join("a%20b.png").display())).unwrap(), ws.join("a b.png"));
        assert_eq!(p.resolve(&format!("{}/../workspace/./x.png", ws.display())).unwrap(), ws.join("x.png"));
        assert!(p.resolve("file://host/x").is_err());
    }

    #[test]
    fn the_roots_and_the_files_own_directory_with_verified_bytes() {
        let f = fixture();
        std::fs::write(f.state.join("workspace/in.png"), PNG).unwrap();
        std::fs::write(f.outside.join("out.png"), PNG).unwrap();
        std::fs::write(f.outside.join("notes.txt"), "text\n").unwrap();
        std::fs::write(f.outside.join("secret"), "secret\n").unwrap();
        std::fs::write(f.outside.join("fake.png"), "secret\n").unwrap();
        let p = policy(&f, true);
        let m = load(f.state.join("workspace/in.png").to_str().unwrap(), &p, false).unwrap();
        assert_eq!((upload(&m), m.kind), (("in.png", "image/png", PNG.len()), MediaKind::Photo));
        assert!(load(f.outside.join("out.png").to_str().unwrap(), &p, false).is_ok(), "its own directory");
        let m = load(f.outside.join("notes.txt").to_str().unwrap(), &p, false).unwrap();
        assert_eq!(m.kind, MediaKind::Document);
        let e = load(f.outside.join("secret").to_str().unwrap(), &p, false).unwrap_err();
        assert!(e.starts_with("LocalMediaAccessError: Host-local media sends only allow") && e.ends_with("(got unknown)."), "{e}");
        let e = load(f.outside.join("fake.png").to_str().unwrap(), &p, false).unwrap_err();
        assert!(e.ends_with("(got image/png)."), "{e}");
        assert_eq!(load(f.outside.join("missing.png").to_str().unwrap(), &p, false).unwrap_err(), "FsSafeError: file not found");
        let e = load(f.outside.to_str().unwrap(), &p, false).unwrap_err();
        assert!(e.contains("not a file"), "{e}");
    }

    #[test]
    fn workspace_only_keeps_to_the_roots_without_the_content_check() {
        let f = fixture();
        std::fs::write(f.state.join("workspace/noext"), "plain\n").unwrap();
        std::fs::write(f.state.join("media/m.png"), PNG).unwrap();
        std::fs::write(f.outside.join("out.png"), PNG).unwrap();
        let p = policy(&f, false);
        assert!(load(f.state.join("workspace/noext").to_str().unwrap(), &p, false).is_ok());
        assert!(load(f.state.join("media/m.png").to_str().unwrap(), &p, false).is_ok());
        let out = f.outside.join("out.png");
        assert_eq!(load(out.to_str().unwrap(), &p, false).unwrap_err(), format!("LocalMediaAccessError: Local media path is not under an allowed directory: {}", out.display()));
        let missing = f.outside.join("missing.png");
        assert!(load(missing.to_str().unwrap(), &p, false).unwrap_err().contains("not under an allowed directory"));
        assert!(load(&format!("{}/../../outside/out.png", f.state.join("workspace").display()), &p, false).unwrap_err().contains("not under an allowed directory"), "no .. escape");
    }

    #[test]
    fn symlinks_out_of_the_roots_are_refused() {
        let f = fixture();
        std::fs::write(f.outside.join("out.png"), PNG).unwrap();
        std::fs::write(f.state.join("workspace/in.png"), PNG).unwrap();
        let link = f.state.join("workspace/link.png");
        std::os::unix::fs::symlink(f.outside.join("out.png"), &link).unwrap();
        std::os::unix::fs::symlink(f.outside.clone(), f.state.join("workspace/dirlink")).unwrap();
        let inner = f.state.join("workspace/inner.png");
        std::os::unix::fs::symlink(f.state.join("workspace/in.png"), &inner).unwrap();
        for p in [policy(&f, true), policy(&f, false)] {
            assert_eq!(load(link.to_str().unwrap(), &p, false).unwrap_err(), not_allowed(&link));
            assert!(load(inner.to_str().unwrap(), &p, false).is_ok(), "a link that stays inside");
        }
        // Through a linked directory: the file's own directory is where the link points (its
        // real path), as in the reference; only `workspaceOnly` refuses it.
        let through = f.state.join("workspace/dirlink/out.png");
        assert!(load(through.to_str().unwrap(), &policy(&f, true), false).is_ok());
        assert_eq!(load(through.to_str().unwrap(), &policy(&f, false), false).unwrap_err(), not_allowed(&through));
    }

    #[test]
    fn the_file_system_root_is_never_a_root() {
        // A file directly under `/`: its own directory is never added.
        let p = MediaPolicy { host_reads: true, ..MediaPolicy::default() };
        assert_eq!(load("/no-such-media.png", &p, false).unwrap_err(), not_allowed(Path::new("/no-such-media.png")));
    }
}
