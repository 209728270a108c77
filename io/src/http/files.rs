//! Files served from a folder on disk (canvas documents, a `gateway.controlUi.root`): the
//! request path parsed once into safe segments, looked up without ever leaving the folder, and
//! the content type of http.md §6.3.
//!
//! Containment (http.md §6.3, §7.3): the URL path is percent-decoded once; a `..` segment, a
//! NUL or a backslash anywhere means "not found"; empty and `.` segments are dropped, so an
//! absolute path (`%2Fetc%2Fpasswd`) only names something under the folder. Every component on
//! the way is `lstat`ed and a symlink is "not found"; finally the canonical path must still
//! start with the folder's canonical path.

use std::path::{Path, PathBuf};

use bytes::Bytes;

/// A relative path inside a served folder: decoded, with no `..`, NUL or backslash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RelPath {
    pub segments: Vec<String>,
    /// The URL ended with `/` (or was empty): a directory is asked for.
    pub dir: bool,
}

impl RelPath {
    /// Parses the raw (still percent-encoded) rest of a URL path; `None` when it tries to
    /// escape or cannot be a file name.
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        let decoded = percent_encoding::percent_decode_str(raw).decode_utf8().ok()?;
        if decoded.contains('\0') || decoded.contains('\\') {
            return None;
        }
        let mut segments = Vec::new();
        for seg in decoded.split('/') {
            match seg {
                "" | "." => {}
                ".." => return None,
                s => segments.push(s.to_owned()),
            }
        }
        Some(Self { segments, dir: decoded.is_empty() || decoded.ends_with('/') })
    }

    /// The last segment's extension, lower-cased (`None` for a directory).
    pub(crate) fn extension(&self) -> Option<String> {
        if self.dir {
            return None;
        }
        let last = self.segments.last()?;
        let (_, ext) = last.rsplit_once('.')?;
        Some(ext.to_ascii_lowercase())
    }
}

/// What a lookup found.
#[derive(Debug)]
pub(crate) enum Found {
    /// A regular file inside the folder (the `index.html` of a directory included).
    File { path: PathBuf, bytes: Bytes },
    /// A directory without an `index.html`.
    MissingIndex,
    /// Nothing there, or something that may not be served (a symlink, outside the folder).
    NotFound,
}

/// Reads `rel` under `root` (a directory gives its `index.html`) on a blocking thread.
pub(crate) async fn lookup(root: PathBuf, rel: RelPath) -> Found {
    tokio::task::spawn_blocking(move || lookup_blocking(&root, &rel)).await.unwrap_or(Found::NotFound)
}

fn lookup_blocking(root: &Path, rel: &RelPath) -> Found {
    let Ok(canonical_root) = root.canonicalize() else { return Found::NotFound };
    let mut path = canonical_root.clone();
    for seg in &rel.segments {
        path.push(seg);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if !m.file_type().is_symlink() => {}
            _ => return Found::NotFound,
        }
    }
    let Ok(meta) = std::fs::symlink_metadata(&path) else { return Found::NotFound };
    if meta.is_dir() {
        path.push("index.html");
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Found::NotFound,
            Err(_) => return Found::MissingIndex,
        }
    } else if !meta.is_file() || rel.dir {
        return Found::NotFound;
    }
    match path.canonicalize() {
        Ok(real) if real.starts_with(&canonical_root) => {}
        _ => return Found::NotFound,
    }
    match std::fs::read(&path) {
        Ok(bytes) => Found::File { path, bytes: Bytes::from(bytes) },
        Err(_) => Found::NotFound,
    }
}

/// The content type of http.md §6.3 by extension (lower-case, no dot); `None` for anything
/// not in the table.
pub(crate) fn mime_of(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "application/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "webmanifest" => "application/manifest+json; charset=utf-8",
        _ => return None,
    })
}

/// The content type of a file path (`application/octet-stream` when unknown).
pub(crate) fn mime_of_path(path: &Path) -> &'static str {
    path.extension()
        .and_then(|e| e.to_str())
        .and_then(|e| mime_of(&e.to_ascii_lowercase()))
        .unwrap_or("application/octet-stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(raw: &str) -> Option<Vec<String>> {
        RelPath::parse(raw).map(|r| r.segments)
    }

    #[test]
    fn parse_refuses_escapes_and_keeps_names() {
        assert_eq!(segs("a/b.html"), Some(vec!["a".into(), "b.html".into()]));
        assert_eq!(segs("a%20b/c"), Some(vec!["a b".into(), "c".into()]));
        assert_eq!(segs("./a//b"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(segs("%2Fetc%2Fpasswd"), Some(vec!["etc".into(), "passwd".into()]));
        for bad in ["..", "a/../b", "%2e%2e/x", "a/%2E%2E", "a%2F..%2Fb", "a%00b", "a\\b", "%5c..", "%ff"] {
            assert_eq!(segs(bad), None, "{bad}");
        }
        assert!(RelPath::parse("").unwrap().dir);
        assert!(RelPath::parse("a/").unwrap().dir);
        assert!(!RelPath::parse("a").unwrap().dir);
        assert_eq!(RelPath::parse("x/App.JS").unwrap().extension().as_deref(), Some("js"));
    }

    #[test]
    fn mime_table() {
        assert_eq!(mime_of("html"), Some("text/html; charset=utf-8"));
        assert_eq!(mime_of("webmanifest"), Some("application/manifest+json; charset=utf-8"));
        assert_eq!(mime_of("exe"), None);
        assert_eq!(mime_of_path(Path::new("a/b.ICO")), "image/x-icon");
        assert_eq!(mime_of_path(Path::new("a/b")), "application/octet-stream");
    }

    #[tokio::test]
    async fn lookup_stays_inside_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::fs::write(root.join("index.html"), "top").unwrap();
        std::fs::write(root.join("sub/a.txt"), "a").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("link.txt")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
        let get = |raw: &str| lookup(root.clone(), RelPath::parse(raw).unwrap());
        assert!(matches!(get("").await, Found::File { bytes, .. } if &bytes[..] == b"top"));
        assert!(matches!(get("sub/a.txt").await, Found::File { bytes, .. } if &bytes[..] == b"a"));
        assert!(matches!(get("sub/a.txt/").await, Found::NotFound));
        assert!(matches!(get("sub/").await, Found::MissingIndex));
        assert!(matches!(get("empty").await, Found::MissingIndex));
        assert!(matches!(get("nope.txt").await, Found::NotFound));
        assert!(matches!(get("link.txt").await, Found::NotFound));
        assert!(matches!(get("up/secret.txt").await, Found::NotFound));
    }
}
