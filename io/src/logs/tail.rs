//! `logs.tail` (protocol.md §5.11): a bounded read of the log file from a byte cursor, with the
//! reference's semantics (its `readLogSlice`):
//! * no cursor: the last `limit` whole lines within the last `max_bytes` bytes;
//! * a cursor: the whole lines after it; when more than `max_bytes` bytes wait, skip ahead
//!   (`reset`, `truncated`, `skippedBytes`); a cursor past the end (the file was rotated or
//!   truncated) restarts from the end window with `reset`;
//! * a partial last line is left for the next call (the returned cursor stops before it);
//! * a missing file reads as empty; a missing rolling file falls back to the newest sibling
//!   `openclaw-*.log`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use openclaw_core::redact::Redactor;
use serde_json::{json, Value};

/// What one read returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tail {
    pub file: PathBuf,
    pub cursor: u64,
    pub size: u64,
    pub lines: Vec<String>,
    pub truncated: bool,
    pub reset: bool,
    pub skipped_bytes: Option<u64>,
}

impl Tail {
    /// The `logs.tail` payload, keys in the reference's order.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "file": self.file.display().to_string(),
            "cursor": self.cursor,
            "size": self.size,
            "lines": self.lines,
            "truncated": self.truncated,
            "reset": self.reset,
        });
        if let Some(skipped) = self.skipped_bytes {
            v["skippedBytes"] = json!(skipped);
        }
        v
    }
}

/// Reads the tail of `file` (blocking; run it off the async runtime).
pub fn read(
    file: &Path,
    rolling: bool,
    cursor: Option<u64>,
    limit: usize,
    max_bytes: u64,
) -> std::io::Result<Tail> {
    let file = resolve(file, rolling);
    let (size, is_file) = match std::fs::metadata(&file) {
        Ok(meta) => (meta.len(), meta.is_file()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (0, true),
        Err(e) => return Err(e),
    };
    if !is_file {
        return Err(std::io::Error::other(format!(
            "Log path is not a regular file: {}",
            file.display()
        )));
    }
    let slice = slice(size, cursor, max_bytes.max(1));
    let mut tail = Tail {
        file: file.clone(),
        cursor: size,
        size,
        lines: Vec::new(),
        truncated: slice.truncated,
        reset: slice.reset,
        skipped_bytes: slice.skipped,
    };
    if size == 0 || size <= slice.start {
        return Ok(tail);
    }
    let mut handle = match File::open(&file) {
        Ok(h) => h,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Tail {
                cursor: 0,
                size: 0,
                truncated: false,
                reset: cursor.is_some_and(|c| c > 0),
                skipped_bytes: None,
                ..tail
            });
        }
        Err(e) => return Err(e),
    };
    // The byte before the window says whether the window starts on a line boundary.
    let (read_from, mut starts_mid_line) = match slice.start {
        0 => (0, false),
        start => (start - 1, true),
    };
    handle.seek(SeekFrom::Start(read_from))?;
    let mut buf = Vec::new();
    handle.take(size - read_from).read_to_end(&mut buf)?;
    let mut body: &[u8] = &buf;
    if slice.start > 0 {
        starts_mid_line = body.first() != Some(&b'\n');
        body = &body[1..];
    }
    // Only whole lines: the cursor stops after the last newline.
    let Some(last_newline) = body.iter().rposition(|&b| b == b'\n') else {
        tail.cursor = slice.start;
        return Ok(tail);
    };
    tail.cursor = slice.start + last_newline as u64 + 1;
    let mut lines: Vec<&[u8]> = body[..last_newline].split(|&b| b == b'\n').collect();
    if starts_mid_line {
        lines.remove(0);
    }
    if lines.len() > limit {
        tail.truncated = true;
        lines.drain(..lines.len() - limit);
    }
    tail.lines = lines
        .into_iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    Ok(tail)
}

/// A JSON line has its string values redacted one by one and is re-encoded only when one
/// changed (masking the raw text could cut through an escape and break the JSON); any other
/// line is redacted as text.
pub fn redact_line(redactor: &Redactor, line: String) -> String {
    if redactor.is_noop() {
        return line;
    }
    match serde_json::from_str::<Value>(&line) {
        Ok(mut value) => {
            if redact_strings(redactor, "", &mut value) {
                value.to_string()
            } else {
                line
            }
        }
        Err(_) => match redactor.redact(&line) {
            std::borrow::Cow::Borrowed(_) => line,
            std::borrow::Cow::Owned(masked) => masked,
        },
    }
}

/// Redacts every string in `value` in place (by its field name where it has one); whether
/// anything changed.
fn redact_strings(redactor: &Redactor, key: &str, value: &mut Value) -> bool {
    match value {
        Value::String(s) => match redactor.redact_field(key, s) {
            std::borrow::Cow::Borrowed(_) => false,
            std::borrow::Cow::Owned(masked) => {
                *s = masked;
                true
            }
        },
        Value::Array(items) => items.iter_mut().fold(false, |changed, v| {
            redact_strings(redactor, key, v) | changed
        }),
        Value::Object(map) => map.iter_mut().fold(false, |changed, (k, v)| {
            redact_strings(redactor, k, v) | changed
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

struct Slice {
    start: u64,
    truncated: bool,
    reset: bool,
    skipped: Option<u64>,
}

fn slice(size: u64, cursor: Option<u64>, max_bytes: u64) -> Slice {
    let window = size.saturating_sub(max_bytes);
    match cursor {
        Some(c) if c > size => Slice {
            start: window,
            truncated: window > 0,
            reset: true,
            skipped: None,
        },
        Some(c) if size - c > max_bytes => Slice {
            start: window,
            truncated: true,
            reset: true,
            skipped: Some(window - c),
        },
        Some(c) => Slice {
            start: c,
            truncated: false,
            reset: false,
            skipped: None,
        },
        None => Slice {
            start: window,
            truncated: window > 0,
            reset: false,
            skipped: None,
        },
    }
}

/// A missing rolling file falls back to the newest rolling file of the same name prefix (the
/// same profile: `openclaw[-<profile>]-YYYY-MM-DD.log`) beside it.
fn resolve(file: &Path, rolling: bool) -> PathBuf {
    if !rolling || file.exists() {
        return file.to_owned();
    }
    // "-YYYY-MM-DD.log" is 15 bytes.
    let Some(prefix) = file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.len().checked_sub(15).and_then(|cut| n.get(..cut)))
        .map(str::to_owned)
    else {
        return file.to_owned();
    };
    let same_prefix = |name: &str| {
        name.len() == prefix.len() + 15
            && name.starts_with(&prefix)
            && name.ends_with(".log")
            && name[prefix.len()..prefix.len() + 11]
                .bytes()
                .enumerate()
                .all(|(i, b)| if matches!(i, 0 | 5 | 8) { b == b'-' } else { b.is_ascii_digit() })
    };
    let Some(dir) = file.parent() else {
        return file.to_owned();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return file.to_owned();
    };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            same_prefix(&name)
        })
        .filter_map(|e| {
            let meta = e.metadata().ok().filter(std::fs::Metadata::is_file)?;
            Some((meta.modified().ok()?, e.path()))
        })
        .max()
        .map_or_else(|| file.to_owned(), |(_, path)| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("gw.log");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn without_a_cursor_the_last_lines_within_limits() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "aa\nbb\ncc\ndd\n");
        let t = read(&path, false, None, 500, 250_000).unwrap();
        assert_eq!(t.lines, ["aa", "bb", "cc", "dd"]);
        assert_eq!(
            (t.cursor, t.size, t.truncated, t.reset),
            (12, 12, false, false)
        );
        // limit: the newest lines, truncated.
        let t = read(&path, false, None, 2, 250_000).unwrap();
        assert_eq!(t.lines, ["cc", "dd"]);
        assert!(t.truncated);
        assert_eq!(t.cursor, 12);
        // maxBytes 7 starts just after "bb" (mid-line): the partial first line is dropped.
        let t = read(&path, false, None, 500, 7).unwrap();
        assert_eq!(t.lines, ["cc", "dd"]);
        assert!(t.truncated);
        // maxBytes 6 starts exactly on a line boundary ("cc\ndd\n").
        let t = read(&path, false, None, 500, 6).unwrap();
        assert_eq!(t.lines, ["cc", "dd"]);
    }

    #[test]
    fn a_cursor_returns_what_came_after_it_and_holds_back_a_partial_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "aa\nbb\ncc");
        let t = read(&path, false, Some(3), 500, 250_000).unwrap();
        assert_eq!(t.lines, ["bb"]);
        assert_eq!((t.cursor, t.size), (6, 8));
        // Nothing new but a partial line: no lines, cursor unchanged.
        let t = read(&path, false, Some(6), 500, 250_000).unwrap();
        assert!(t.lines.is_empty());
        assert_eq!(t.cursor, 6);
        std::fs::write(&path, "aa\nbb\ncc\n").unwrap();
        let t = read(&path, false, Some(6), 500, 250_000).unwrap();
        assert_eq!(t.lines, ["cc"]);
        assert_eq!(t.cursor, 9);
        // At the end: empty, same cursor.
        let t = read(&path, false, Some(9), 500, 250_000).unwrap();
        assert_eq!((t.lines.len(), t.cursor, t.reset), (0, 9, false));
    }

    #[test]
    fn too_much_after_the_cursor_skips_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "0123456789\nabc\ndef\n");
        let t = read(&path, false, Some(0), 500, 8).unwrap();
        assert_eq!(t.lines, ["abc", "def"]);
        assert!(t.reset && t.truncated);
        assert_eq!(t.skipped_bytes, Some(11));
        assert_eq!(t.to_json()["skippedBytes"], 11);
    }

    #[test]
    fn a_cursor_past_the_end_resets() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "new\n");
        let t = read(&path, false, Some(1000), 500, 250_000).unwrap();
        assert_eq!(t.lines, ["new"]);
        assert!(t.reset);
        assert!(!t.truncated);
        assert_eq!(t.cursor, 4);
        let keys: Vec<String> = t.to_json().as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            ["file", "cursor", "size", "lines", "truncated", "reset"]
        );
    }

    #[test]
    fn a_missing_file_is_empty_and_a_missing_rolling_file_uses_the_newest_sibling() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("openclaw-2026-11-26.log");
        let t = read(&missing, false, None, 500, 250_000).unwrap();
        assert_eq!((t.lines.len(), t.cursor, t.size), (0, 0, 0));
        let t = read(&missing, true, Some(5), 500, 250_000).unwrap();
        assert!(t.reset);
        std::fs::write(dir.path().join("openclaw-2026-11-25.log"), "yesterday\n").unwrap();
        let t = read(&missing, true, None, 500, 250_000).unwrap();
        assert_eq!(t.file, dir.path().join("openclaw-2026-11-25.log"));
        assert_eq!(t.lines, ["yesterday"]);
    }

    #[test]
    fn the_fallback_stays_within_the_profile() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("openclaw-dev-2026-11-25.log"), "dev\n").unwrap();
        std::fs::write(dir.path().join("openclaw-2026-11-24.log"), "main\n").unwrap();
        let main_today = dir.path().join("openclaw-2026-11-26.log");
        let t = read(&main_today, true, None, 500, 250_000).unwrap();
        assert_eq!(t.lines, ["main"], "not the dev profile's newer file");
        let dev_today = dir.path().join("openclaw-dev-2026-11-26.log");
        let t = read(&dev_today, true, None, 500, 250_000).unwrap();
        assert_eq!(t.lines, ["dev"]);
    }

    #[test]
    fn read_back_lines_are_redacted_and_stay_json() {
        let r = Redactor::default();
        let line =
            r#"{"0":"run --token abcdefghijklmnopqrstuvwx\" done","1":{"apiKey":"k-123"},"n":1}"#;
        let masked = redact_line(&r, line.to_owned());
        let v: Value = serde_json::from_str(&masked).unwrap();
        assert_eq!(v["0"], "run --token abcdef…uvwx\" done");
        assert_eq!(v["1"]["apiKey"], "***", "masked by its field name");
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["0", "1", "n"]);
        let clean = r#"{"0":"nothing","n":1}"#;
        assert_eq!(redact_line(&r, clean.to_owned()), clean);
        assert_eq!(
            redact_line(&r, "plain MY_TOKEN=abc".to_owned()),
            "plain MY_TOKEN=***"
        );
    }

    #[test]
    fn a_directory_is_a_read_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(dir.path(), false, None, 500, 250_000).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}
