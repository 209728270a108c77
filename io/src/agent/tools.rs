//! The tools the model may call during a run (channels-agent-nodes.md §6.3), named and shaped
//! as the reference's core file tools: `read`, `write`, `edit` and `ls`, confined to the agent
//! workspace. A call that fails (bad arguments, a path outside the workspace, a missing file)
//! is a tool error the model sees, never a failed run.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use openclaw_core::wire::agent::ToolCall;
use serde_json::{json, Value};

use super::config::ToolsConfig;
use super::provider::ToolSpec;

/// Largest file `read` and `edit` open.
const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// Longest tool output handed back to the model; the rest is cut with a notice.
const MAX_OUTPUT_BYTES: usize = 50 * 1024;
/// Lines `read` returns when no `limit` is given.
const DEFAULT_READ_LINES: usize = 2000;
/// Entries `ls` returns when no `limit` is given.
const DEFAULT_LS_ENTRIES: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Read,
    Write,
    Edit,
    Ls,
}

const ALL: [Tool; 4] = [Tool::Read, Tool::Write, Tool::Edit, Tool::Ls];

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Edit => "edit",
            Self::Ls => "ls",
        }
    }

    fn spec(self) -> ToolSpec {
        let (description, parameters) = match self {
            Self::Read => (
                "Read a text file in the workspace. Lines are numbered from 1; use offset and limit for large files.",
                json!({ "type": "object", "required": ["path"], "properties": {
                    "path": { "type": "string", "description": "Path relative to the workspace" },
                    "offset": { "type": "integer", "minimum": 1, "description": "First line to read (1-based)" },
                    "limit": { "type": "integer", "minimum": 1, "description": "Most lines to read" } } }),
            ),
            Self::Write => (
                "Create or overwrite a file in the workspace (parent directories are created).",
                json!({ "type": "object", "required": ["path", "content"], "properties": {
                    "path": { "type": "string", "description": "Path relative to the workspace" },
                    "content": { "type": "string", "description": "The whole new content" } } }),
            ),
            Self::Edit => (
                "Replace one exact occurrence of oldText with newText in a workspace file.",
                json!({ "type": "object", "required": ["path", "oldText", "newText"], "properties": {
                    "path": { "type": "string", "description": "Path relative to the workspace" },
                    "oldText": { "type": "string", "description": "Text to find; must occur exactly once" },
                    "newText": { "type": "string", "description": "Replacement" } } }),
            ),
            Self::Ls => (
                "List a directory of the workspace (directories end with /).",
                json!({ "type": "object", "properties": {
                    "path": { "type": "string", "description": "Directory relative to the workspace (default .)" },
                    "limit": { "type": "integer", "minimum": 1, "description": "Most entries to list" } } }),
            ),
        };
        ToolSpec { name: self.name().into(), description: description.into(), parameters }
    }
}

/// The tools of one gateway: those the policy allows, over one workspace.
#[derive(Clone, Debug)]
pub(crate) struct Tools {
    root: Option<PathBuf>,
    enabled: Vec<Tool>,
}

/// Why a tool call failed; the text the model gets back.
#[derive(Debug, thiserror::Error)]
enum ToolError {
    #[error("{0}")]
    BadArgs(String),
    #[error("path {0:?} is outside the workspace")]
    Escape(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}")]
    Refused(String),
}

impl Tools {
    /// File tools need a workspace; without one no tool is offered.
    pub(crate) fn new(workspace: Option<&Path>, policy: &ToolsConfig) -> Self {
        let enabled = match workspace {
            Some(_) => ALL.into_iter().filter(|t| policy.allows(t.name())).collect(),
            None => Vec::new(),
        };
        Self { root: workspace.map(Path::to_path_buf), enabled }
    }

    /// The tools a run of `config` is offered (none without tool rounds).
    pub(crate) fn for_config(config: &super::config::AgentConfig) -> Self {
        let rounds = config.tools.max_rounds;
        Self::new(config.workspace.as_deref().filter(|_| rounds > 0), &config.tools)
    }

    pub(crate) fn specs(&self) -> Vec<ToolSpec> {
        self.enabled.iter().map(|t| t.spec()).collect()
    }

    /// The names of the tools offered to the model.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.enabled.iter().map(|t| t.name()).collect()
    }

    /// Runs one call (blocking file IO: call from `spawn_blocking`). Returns the text for the
    /// model and whether it is an error.
    pub(crate) fn run(&self, call: &ToolCall) -> (String, bool) {
        let tool = self.enabled.iter().copied().find(|t| t.name() == call.name);
        let (Some(tool), Some(root)) = (tool, self.root.as_deref()) else {
            return (format!("Tool not available: {}", call.name), true);
        };
        // The workspace is made on first use, as the reference makes it before a run.
        if let Err(e) = std::fs::create_dir_all(root) {
            return (format!("the workspace {} cannot be created: {e}", root.display()), true);
        }
        if !call.args.is_object() {
            return (format!("the arguments of {} are not a JSON object: {}", call.name, call.args), true);
        }
        let result = match tool {
            Tool::Read => read(root, &call.args),
            Tool::Write => write(root, &call.args),
            Tool::Edit => edit(root, &call.args),
            Tool::Ls => ls(root, &call.args),
        };
        match result {
            Ok(text) => (cap(text), false),
            Err(e) => (e.to_string(), true),
        }
    }
}

fn str_arg<'a>(args: &'a Value, name: &str) -> Result<&'a str, ToolError> {
    args.get(name).and_then(Value::as_str).ok_or_else(|| ToolError::BadArgs(format!("missing string argument {name:?}")))
}

fn count_arg(args: &Value, name: &str) -> Result<Option<usize>, ToolError> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
            Some(_) | None => Err(ToolError::BadArgs(format!("{name} must be a positive integer"))),
        },
    }
}

/// `path` inside `root`: relative to it (or absolute within it), with `..` never leaving it
/// and no symlink leading out of it.
fn confine(root: &Path, path: &str) -> Result<PathBuf, ToolError> {
    let escape = || ToolError::Escape(path.to_owned());
    let given = Path::new(path);
    let rel = if given.is_absolute() { given.strip_prefix(root).map_err(|_| escape())? } else { given };
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop().ok_or_else(escape)?;
            }
            Component::RootDir | Component::Prefix(_) => return Err(escape()),
        }
    }
    let full: PathBuf = parts.iter().fold(root.to_path_buf(), |p, part| p.join(part));
    // Symlinks: the deepest part that exists must resolve inside the (resolved) root.
    let real_root = root.canonicalize().map_err(|source| ToolError::Io { path: ".".into(), source })?;
    let mut probe = full.as_path();
    loop {
        match probe.canonicalize() {
            Ok(real) if real.starts_with(&real_root) => return Ok(full),
            Ok(_) => return Err(escape()),
            Err(_) => probe = probe.parent().ok_or_else(escape)?,
        }
    }
}

fn io_err(path: &str) -> impl FnOnce(std::io::Error) -> ToolError + '_ {
    move |source| ToolError::Io { path: path.to_owned(), source }
}

fn read_text(full: &Path, path: &str) -> Result<String, ToolError> {
    let meta = std::fs::metadata(full).map_err(io_err(path))?;
    if meta.is_dir() {
        return Err(ToolError::Refused(format!("{path} is a directory (use ls)")));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ToolError::Refused(format!("{path} is larger than {MAX_FILE_BYTES} bytes")));
    }
    let bytes = std::fs::read(full).map_err(io_err(path))?;
    String::from_utf8(bytes).map_err(|_| ToolError::Refused(format!("{path} is not a text file")))
}

fn read(root: &Path, args: &Value) -> Result<String, ToolError> {
    let path = str_arg(args, "path")?;
    let offset = count_arg(args, "offset")?.unwrap_or(1);
    let limit = count_arg(args, "limit")?.unwrap_or(DEFAULT_READ_LINES);
    let text = read_text(&confine(root, path)?, path)?;
    let total = text.lines().count();
    if offset == 1 && total <= limit {
        // The whole file, byte for byte (its last newline included).
        return Ok(text);
    }
    if offset > total.max(1) {
        return Err(ToolError::BadArgs(format!("offset {offset} is beyond the end of the file ({total} lines)")));
    }
    let mut out: String = text.lines().skip(offset - 1).take(limit).collect::<Vec<_>>().join("\n");
    let shown_to = (offset - 1 + limit).min(total);
    if shown_to < total {
        out.push_str(&format!("\n\n[lines {offset}-{shown_to} of {total}; use offset={} to continue]", shown_to + 1));
    }
    Ok(out)
}

/// Replaces `full` atomically: a temp file beside it, fsync, rename, fsync the directory.
fn replace_file(full: &Path, path: &str, content: &[u8]) -> Result<(), ToolError> {
    let dir = full.parent().ok_or_else(|| ToolError::BadArgs(format!("{path} is not a file path")))?;
    std::fs::create_dir_all(dir).map_err(io_err(path))?;
    let name = full.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
        std::fs::rename(&tmp, full)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io_err(path))
}

fn write(root: &Path, args: &Value) -> Result<String, ToolError> {
    let path = str_arg(args, "path")?;
    let content = str_arg(args, "content")?;
    let full = confine(root, path)?;
    if full.is_dir() {
        return Err(ToolError::Refused(format!("{path} is a directory")));
    }
    replace_file(&full, path, content.as_bytes())?;
    Ok(format!("Wrote {} bytes to {path}", content.len()))
}

fn edit(root: &Path, args: &Value) -> Result<String, ToolError> {
    let path = str_arg(args, "path")?;
    let old = str_arg(args, "oldText")?;
    let new = str_arg(args, "newText")?;
    if old.is_empty() {
        return Err(ToolError::BadArgs("oldText must not be empty".into()));
    }
    let full = confine(root, path)?;
    let text = read_text(&full, path)?;
    match text.matches(old).count() {
        0 => Err(ToolError::Refused(format!("oldText was not found in {path}"))),
        1 => {
            replace_file(&full, path, text.replacen(old, new, 1).as_bytes())?;
            Ok(format!("Edited {path}"))
        }
        n => Err(ToolError::Refused(format!("oldText occurs {n} times in {path}; give more context"))),
    }
}

fn ls(root: &Path, args: &Value) -> Result<String, ToolError> {
    let path = args.get("path").and_then(Value::as_str).unwrap_or(".");
    let limit = count_arg(args, "limit")?.unwrap_or(DEFAULT_LS_ENTRIES);
    let full = confine(root, path)?;
    let mut names: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(&full).map_err(io_err(path))? {
        let entry = entry.map_err(io_err(path))?;
        let mut name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            name.push('/');
        }
        names.push(name);
    }
    names.sort();
    let total = names.len();
    names.truncate(limit);
    let mut out = if names.is_empty() { "(empty directory)".to_owned() } else { names.join("\n") };
    if total > limit {
        out.push_str(&format!("\n\n[{limit} of {total} entries]"));
    }
    Ok(out)
}

/// Cuts output at [`MAX_OUTPUT_BYTES`] (on a char boundary) with a notice.
fn cap(mut text: String) -> String {
    if text.len() > MAX_OUTPUT_BYTES {
        let mut end = MAX_OUTPUT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("\n\n[output truncated]");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: Value) -> ToolCall {
        ToolCall { id: "c".into(), name: name.into(), args }
    }

    fn tools(root: &Path) -> Tools {
        Tools::new(Some(root), &ToolsConfig::default())
    }

    #[test]
    fn files_are_written_read_edited_and_listed() {
        let dir = tempfile::tempdir().unwrap();
        let t = tools(dir.path());
        let (out, err) = t.run(&call("write", json!({"path": "notes/a.txt", "content": "one\ntwo\nthree"})));
        assert!(!err, "{out}");
        assert_eq!(std::fs::read_to_string(dir.path().join("notes/a.txt")).unwrap(), "one\ntwo\nthree");
        assert_eq!(t.run(&call("read", json!({"path": "notes/a.txt"}))), ("one\ntwo\nthree".into(), false));
        let (out, err) = t.run(&call("read", json!({"path": "notes/a.txt", "offset": 2, "limit": 1})));
        assert!(!err && out.starts_with("two\n\n[lines 2-2 of 3"), "{out}");
        assert!(!t.run(&call("edit", json!({"path": "notes/a.txt", "oldText": "two", "newText": "2"}))).1);
        assert_eq!(std::fs::read_to_string(dir.path().join("notes/a.txt")).unwrap(), "one\n2\nthree");
        let (out, err) = t.run(&call("edit", json!({"path": "notes/a.txt", "oldText": "nope", "newText": "x"})));
        assert!(err && out.contains("not found"), "{out}");
        assert_eq!(t.run(&call("ls", json!({}))), ("notes/".into(), false));
        assert_eq!(t.run(&call("ls", json!({"path": "notes"}))), ("a.txt".into(), false));
    }

    #[test]
    fn paths_cannot_leave_the_workspace() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("ws");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(outer.path().join("secret"), "s3cret").unwrap();
        let t = tools(&root);
        for path in ["../secret", "a/../../secret", "/etc/passwd", &outer.path().join("secret").display().to_string()] {
            let (out, err) = t.run(&call("read", json!({ "path": path })));
            assert!(err && out.contains("outside the workspace"), "{path}: {out}");
        }
        let (out, err) = t.run(&call("write", json!({"path": "../evil", "content": "x"})));
        assert!(err && out.contains("outside"), "{out}");
        assert!(!outer.path().join("evil").exists());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outer.path(), root.join("link")).unwrap();
            let (out, err) = t.run(&call("read", json!({"path": "link/secret"})));
            assert!(err && out.contains("outside"), "{out}");
            let (out, err) = t.run(&call("write", json!({"path": "link/evil", "content": "x"})));
            assert!(err && out.contains("outside"), "{out}");
            assert!(!outer.path().join("evil").exists());
        }
        // Inside is fine, `..` that stays inside too.
        std::fs::write(root.join("ok.txt"), "fine").unwrap();
        assert_eq!(t.run(&call("read", json!({"path": "sub/../ok.txt"}))), ("fine".into(), false));
        let abs = root.join("ok.txt").display().to_string();
        assert_eq!(t.run(&call("read", json!({ "path": abs }))), ("fine".into(), false));
    }

    #[test]
    fn bad_calls_are_tool_errors_and_policy_filters() {
        let dir = tempfile::tempdir().unwrap();
        let t = tools(dir.path());
        assert_eq!(t.run(&call("read", json!({}))), ("missing string argument \"path\"".into(), true));
        assert!(t.run(&call("read", json!({"path": "missing.txt"}))).1);
        assert_eq!(t.run(&call("exec", json!({}))), ("Tool not available: exec".into(), true));
        let (out, err) = t.run(&call("ls", json!("{\"path\": ")));
        assert!(err && out.contains("not a JSON object"), "{out}");
        let deny = ToolsConfig { deny: vec!["write".into(), "edit".into()], ..ToolsConfig::default() };
        let t = Tools::new(Some(dir.path()), &deny);
        let names = t.names();
        assert_eq!(names, ["read", "ls"]);
        assert!(t.run(&call("write", json!({"path": "x", "content": "y"}))).1);
        let allow = ToolsConfig { allow: Some(vec!["ls".into()]), ..ToolsConfig::default() };
        assert_eq!(Tools::new(Some(dir.path()), &allow).specs().len(), 1);
        assert!(Tools::new(None, &ToolsConfig::default()).specs().is_empty(), "no workspace, no file tools");
        let fresh = dir.path().join("not/yet");
        let t = Tools::new(Some(&fresh), &ToolsConfig::default());
        assert_eq!(t.run(&call("ls", json!({}))), ("(empty directory)".into(), false));
    }
}
