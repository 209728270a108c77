//! The config file (lifecycle.md §3): typed model, JSON5 parsing with positions, `$include`,
//! `${VAR}` substitution, validation with located issues, and the edits the CLI and the
//! `config.*` RPCs make. Pure: files come in through [`include::Source`], the environment
//! through a lookup function; the io crate reads and writes the real files.
//!
//! Pipeline ([`resolve`]): parse the main file → resolve includes → substitute `${VAR}` →
//! validate (keys we implement strictly, keys only the reference knows with a warning, others
//! refused with a did-you-mean) → [`Config`].

mod channels;
pub mod edit;
pub mod env;
mod hooks;
pub mod include;
pub mod json5;
pub mod keys;
mod types;
pub mod validate;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;

pub use include::{IncludeError, Location, ReadError, Source};
pub use channels::*;
pub use hooks::*;
pub use types::*;

/// One problem (or warning) with the config, at a dotted key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// `gateway.auth.mode`, `list[2]`; empty for the whole document.
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
    /// For enums: the accepted values.
    pub allowed: Vec<String>,
    /// Where the key was written, when known.
    pub location: Option<Location>,
}

impl Issue {
    pub fn new(path: &str, message: String) -> Self {
        Self { path: path.to_owned(), message, allowed: Vec::new(), location: None }
    }

    /// The path as shown to people (`<root>` for the whole document).
    pub fn shown_path(&self) -> &str {
        if self.path.is_empty() {
            "<root>"
        } else {
            &self.path
        }
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.shown_path(), self.message)
    }
}

/// The JSON Schema of [`Config`] (also emitted as `schemas/config.schema.json`).
pub fn schema() -> &'static Value {
    static CELL: OnceLock<Value> = OnceLock::new();
    CELL.get_or_init(crate::schema::gen::<Config>)
}

/// A config that loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    pub config: Config,
    /// Includes merged and `${VAR}` substituted (what was validated, reference keys included).
    pub value: Value,
    /// Includes merged, references still as written (what `config get` shows).
    pub stored: Value,
    /// The main file's own value, `$include` directives and references as written: what an
    /// edit starts from and writes back (sibling keys override included ones, so a `set` on
    /// top of it works even for keys an include provides).
    pub own: Value,
    /// One per ignored reference-only key.
    pub warnings: Vec<Issue>,
    /// Every file read, the main one first (to watch for reloads).
    pub files: Vec<std::path::PathBuf>,
}

/// Why a config did not load. [`LoadError::issues`] lists them with their locations.
#[derive(Clone, Debug, PartialEq)]
pub enum LoadError {
    /// Syntax, a missing or cyclic include; located when the `$include` is in the main file.
    Include(IncludeError, Option<Location>),
    /// `${VAR}` references to unset or empty variables.
    Env(Vec<Issue>),
    /// Keys or values the schema refuses.
    Invalid(validate::Invalid),
}

impl LoadError {
    /// Every issue, located where possible.
    pub fn issues(&self) -> Vec<Issue> {
        match self {
            Self::Include(IncludeError::Syntax { file, err }, _) => vec![Issue {
                path: String::new(),
                message: format!("JSON5 parse failed: {}", err.message),
                allowed: Vec::new(),
                location: Some(Location { file: file.clone(), pos: err.pos }),
            }],
            Self::Include(e, location) => {
                let message = e.to_string();
                let message = message.strip_prefix(&format!("{}: ", e.path())).unwrap_or(&message).to_owned();
                let mut issue = Issue::new(e.path(), message);
                issue.location = location.clone();
                vec![issue]
            }
            Self::Env(issues) => issues.clone(),
            Self::Invalid(invalid) => invalid.issues.clone(),
        }
    }

    /// Warnings found before the failure (reference-only keys).
    pub fn warnings(&self) -> &[Issue] {
        match self {
            Self::Invalid(invalid) => &invalid.warnings,
            Self::Include(..) | Self::Env(_) => &[],
        }
    }
}

/// What a `${VAR}` naming an unset or empty variable does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingEnv {
    /// Fails the load (the gateway never runs on an unresolved secret; lifecycle.md §3.4).
    Error,
    /// A warning; the string stays as written (CLI commands, as the reference's CLI does).
    Warn,
}

/// Runs the pipeline on the main file's `text`; includes are read through `source`, `${VAR}`
/// looked up with `env`.
pub fn resolve(
    main: &Path,
    text: &str,
    source: &dyn Source,
    env: &dyn Fn(&str) -> Option<String>,
    missing_env: MissingEnv,
) -> Result<Resolved, LoadError> {
    let tree = include::resolve(main, text, source).map_err(|e| {
        // Where the failing `$include` was written, when that is the main file.
        let location = json5::parse(text).ok().and_then(|p| p.spans.0.get(e.path()).map(|s| s.key)).map(|pos| Location { file: main.to_owned(), pos });
        LoadError::Include(e, location)
    })?;
    let locate = |mut issues: Vec<Issue>| {
        for issue in &mut issues {
            issue.location = locate(&tree.locations, &issue.path);
        }
        issues
    };
    let (value, env_issues) = env::substitute_lenient(&tree.value, env);
    if missing_env == MissingEnv::Error && !env_issues.is_empty() {
        return Err(LoadError::Env(locate(env_issues)));
    }
    match validate::validate(&value) {
        Ok(ok) => {
            let mut warnings = locate(env_issues);
            warnings.extend(locate(ok.warnings));
            let own = json5::parse(text).map(|p| p.value).unwrap_or_else(|_| tree.value.clone());
            Ok(Resolved { config: ok.config, value, stored: tree.value.clone(), own, warnings, files: tree.files.clone() })
        }
        Err(invalid) => {
            // In the order they are written (file by file, then line), unlocated ones last.
            let mut issues = locate(invalid.issues);
            issues.sort_by(|a, b| {
                let key = |i: &Issue| i.location.as_ref().map(|l| (l.file.clone(), l.pos));
                match (key(a), key(b)) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                }
            });
            Err(LoadError::Invalid(validate::Invalid { issues, warnings: locate(invalid.warnings) }))
        }
    }
}

/// Validates an already-resolved value (a `config.set`/`patch` candidate), locating nothing.
pub fn check(value: &Value) -> Result<validate::Validated, validate::Invalid> {
    validate::validate(value)
}

/// The key's own location, else its nearest ancestor's (a missing key points at its parent).
fn locate(locations: &BTreeMap<String, Location>, path: &str) -> Option<Location> {
    let mut p = path;
    loop {
        if p.is_empty() {
            return None;
        }
        if let Some(l) = locations.get(p) {
            return Some(l.clone());
        }
        p = &p[..p.rfind(['.', '[']).unwrap_or(0)];
    }
}

/// The start-up/command guard's report (lifecycle.md §2.2 step 0).
pub fn report(file: &Path, issues: &[Issue]) -> String {
    let mut out = format!("Config invalid\nFile: {}\nProblem:\n", file.display());
    for issue in issues {
        out.push_str(&format!("- {}{}: {}\n", issue.shown_path(), where_(file, issue), issue.message));
    }
    out.push_str("Run: openclaw doctor --fix\n");
    out
}

/// ` (line L, column C)`, naming the file when it is not `main`.
pub fn where_(main: &Path, issue: &Issue) -> String {
    match &issue.location {
        Some(l) if l.file == main => format!(" (line {}, column {})", l.pos.line, l.pos.column),
        Some(l) => format!(" ({} line {}, column {})", l.file.display(), l.pos.line, l.pos.column),
        None => String::new(),
    }
}

/// Stamps `meta.lastTouchedVersion` and `meta.lastTouchedAt` (ISO 8601) before a write.
pub fn stamp(value: &mut Value, version: &str, at_iso: &str) {
    let meta = edit::parse_path("meta").unwrap_or_default();
    if !edit::get(value, &meta).is_some_and(Value::is_object) {
        let _ = edit::set(value, &meta, Value::Object(serde_json::Map::new()));
    }
    if let Some(m) = value.get_mut("meta").and_then(Value::as_object_mut) {
        m.insert("lastTouchedVersion".into(), Value::String(version.to_owned()));
        m.insert("lastTouchedAt".into(), Value::String(at_iso.to_owned()));
    }
}
