//! `$include` resolution (lifecycle.md §3.3) over an abstract file reader.
//!
//! `{"$include": "a.json5"}` replaces the object with the file's content; a list of files is
//! deep-merged in order (later wins); sibling keys are merged after (they override). Paths are
//! relative to the including file. Nesting is limited to [`MAX_DEPTH`] levels; a cycle is refused
//! with its chain. Each file's key positions are kept, prefixed with where it was included, so
//! an issue can name the file and line its key came from.

// Catch-all arms over `serde_json::Value` are deliberate: each walk cares about one or two shapes.
#![allow(clippy::wildcard_enum_match_arm)]

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

use super::json5::{self, Pos, SyntaxError};

/// How deep includes may nest.
pub const MAX_DEPTH: usize = 10;

/// Reads config files for the resolver (the io crate passes the file system, tests a map).
pub trait Source {
    fn read(&self, path: &Path) -> Result<String, ReadError>;
}

/// Why a file could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadError {
    NotFound,
    Other(String),
}

/// Where a key came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub pos: Pos,
}

/// The merged tree of a config and its includes.
#[derive(Clone, Debug, PartialEq)]
pub struct Tree {
    /// Includes resolved, `${VAR}` not yet substituted.
    pub value: Value,
    /// Dotted path → where the key was written (the last writer wins, like the merge).
    pub locations: BTreeMap<String, Location>,
    /// Every file read, the main one first.
    pub files: Vec<PathBuf>,
}

/// Why the tree could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IncludeError {
    #[error("{}: {err}", file.display())]
    Syntax { file: PathBuf, err: SyntaxError },
    #[error("{at}: include file not found: {}", file.display())]
    NotFound { at: String, file: PathBuf },
    #[error("{at}: cannot read include file {}: {message}", file.display())]
    Read { at: String, file: PathBuf, message: String },
    #[error("{at}: circular $include: {}", chain.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" -> "))]
    Cycle { at: String, chain: Vec<PathBuf> },
    #[error("{at}: $include nested deeper than {MAX_DEPTH} levels at {}", file.display())]
    TooDeep { at: String, file: PathBuf },
    #[error("{at}: {message}")]
    Invalid { at: String, message: String },
}

impl IncludeError {
    /// The dotted config path the error is about (`""` for the root).
    pub fn path(&self) -> &str {
        match self {
            Self::Syntax { .. } => "",
            Self::NotFound { at, .. }
            | Self::Read { at, .. }
            | Self::Cycle { at, .. }
            | Self::TooDeep { at, .. }
            | Self::Invalid { at, .. } => at,
        }
    }
}

/// Parses `text` (the content of `main`) and resolves its includes through `source`.
pub fn resolve(main: &Path, text: &str, source: &dyn Source) -> Result<Tree, IncludeError> {
    let mut r = Resolver { source, locations: BTreeMap::new(), files: vec![main.to_owned()] };
    let value = r.document(main, text, "", &[main.to_owned()])?;
    Ok(Tree { value, locations: r.locations, files: r.files })
}

struct Resolver<'a> {
    source: &'a dyn Source,
    locations: BTreeMap<String, Location>,
    files: Vec<PathBuf>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else if key.starts_with('[') {
        format!("{path}{key}")
    } else {
        format!("{path}.{key}")
    }
}

/// `a/./b/../c` → `a/c`, without touching the file system (so cycles are found by name).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Objects merge key by key; anything else is replaced by the later value.
pub fn deep_merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, from) => *slot = from,
    }
}

impl Resolver<'_> {
    fn document(&mut self, file: &Path, text: &str, at: &str, chain: &[PathBuf]) -> Result<Value, IncludeError> {
        let parsed = json5::parse(text).map_err(|err| IncludeError::Syntax { file: file.to_owned(), err })?;
        let dir = file.parent().unwrap_or(Path::new("")).to_owned();
        let value = self.value(parsed.value, &dir, at, chain)?;
        // After the includes: a file's own keys (siblings of `$include`) win, as in the merge.
        for (path, span) in parsed.spans.0 {
            let full = if path.is_empty() { at.to_owned() } else { join(at, &path) };
            self.locations.insert(full, Location { file: file.to_owned(), pos: span.key });
        }
        Ok(value)
    }

    fn value(&mut self, value: Value, dir: &Path, at: &str, chain: &[PathBuf]) -> Result<Value, IncludeError> {
        match value {
            Value::Object(mut map) => {
                let include = map.remove("$include");
                let mut siblings = Map::new();
                for (k, v) in map {
                    let child = self.value(v, dir, &join(at, &k), chain)?;
                    siblings.insert(k, child);
                }
                let Some(include) = include else { return Ok(Value::Object(siblings)) };
                let targets = match include {
                    Value::String(s) => vec![s],
                    Value::Array(items) => items
                        .into_iter()
                        .map(|i| match i {
                            Value::String(s) => Ok(s),
                            _ => Err(IncludeError::Invalid { at: join(at, "$include"), message: "expected a file path or a list of file paths".into() }),
                        })
                        .collect::<Result<_, _>>()?,
                    _ => {
                        return Err(IncludeError::Invalid {
                            at: join(at, "$include"),
                            message: "expected a file path or a list of file paths".into(),
                        })
                    }
                };
                let mut merged: Option<Value> = None;
                for target in targets {
                    let included = self.include(&target, dir, at, chain)?;
                    match &mut merged {
                        None => merged = Some(included),
                        Some(m) => deep_merge(m, included),
                    }
                }
                let mut merged = merged.unwrap_or_else(|| Value::Object(Map::new()));
                if !siblings.is_empty() {
                    if !merged.is_object() {
                        return Err(IncludeError::Invalid {
                            at: join(at, "$include"),
                            message: "included content must be an object when sibling keys are present".into(),
                        });
                    }
                    deep_merge(&mut merged, Value::Object(siblings));
                }
                Ok(merged)
            }
            Value::Array(items) => Ok(Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| self.value(v, dir, &format!("{at}[{i}]"), chain))
                    .collect::<Result<_, _>>()?,
            )),
            other => Ok(other),
        }
    }

    fn include(&mut self, target: &str, dir: &Path, at: &str, chain: &[PathBuf]) -> Result<Value, IncludeError> {
        let file = normalize(&dir.join(target));
        let here = join(at, "$include");
        if chain.iter().any(|c| normalize(c) == file) {
            let mut chain = chain.to_vec();
            chain.push(file);
            return Err(IncludeError::Cycle { at: here, chain });
        }
        if chain.len() > MAX_DEPTH {
            return Err(IncludeError::TooDeep { at: here, file });
        }
        let text = match self.source.read(&file) {
            Ok(t) => t,
            Err(ReadError::NotFound) => return Err(IncludeError::NotFound { at: here, file }),
            Err(ReadError::Other(message)) => return Err(IncludeError::Read { at: here, file, message }),
        };
        if !self.files.contains(&file) {
            self.files.push(file.clone());
        }
        let mut chain = chain.to_vec();
        chain.push(file.clone());
        self.document(&file, &text, at, &chain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Files(BTreeMap<PathBuf, String>);

    impl Source for Files {
        fn read(&self, path: &Path) -> Result<String, ReadError> {
            self.0.get(path).cloned().ok_or(ReadError::NotFound)
        }
    }

    fn files(list: &[(&str, &str)]) -> Files {
        Files(list.iter().map(|(p, t)| (PathBuf::from(p), (*t).to_owned())).collect())
    }

    fn run(fs: &Files) -> Result<Tree, IncludeError> {
        let main = Path::new("/c/main.json5");
        resolve(main, &fs.0[main], fs)
    }

    #[test]
    fn single_file_replaces_and_siblings_override() {
        let fs = files(&[
            ("/c/main.json5", "{ gateway: { $include: './gw.json5', port: 2 } }"),
            ("/c/gw.json5", "{ port: 1, bind: 'lan' }"),
        ]);
        let t = run(&fs).unwrap();
        assert_eq!(t.value, json!({"gateway": {"port": 2, "bind": "lan"}}));
        assert_eq!(t.files, [PathBuf::from("/c/main.json5"), PathBuf::from("/c/gw.json5")]);
        assert_eq!(t.locations["gateway.bind"].file, PathBuf::from("/c/gw.json5"));
        assert_eq!(t.locations["gateway.port"].file, PathBuf::from("/c/main.json5"));
    }

    #[test]
    fn list_merges_in_order_relative_to_the_including_file() {
        let fs = files(&[
            ("/c/main.json5", "{ $include: ['a/one.json5', '/abs/two.json5'] }"),
            ("/c/a/one.json5", "{ gateway: { port: 1, auth: { mode: 'token' } }, x: [1] , $include: '../b/three.json5' }"),
            ("/c/b/three.json5", "{ y: 3 }"),
            ("/abs/two.json5", "{ gateway: { port: 2 }, x: [2] }"),
        ]);
        let t = run(&fs).unwrap();
        assert_eq!(t.value, json!({"y": 3, "gateway": {"port": 2, "auth": {"mode": "token"}}, "x": [2]}));
    }

    #[test]
    fn missing_file_names_the_resolved_path() {
        let fs = files(&[("/c/main.json5", "{ agents: { $include: 'sub/../nope.json5' } }")]);
        assert_eq!(run(&fs).unwrap_err().to_string(), "agents.$include: include file not found: /c/nope.json5");
    }

    #[test]
    fn parse_errors_name_the_file() {
        let fs = files(&[("/c/main.json5", "{ $include: 'bad.json5' }"), ("/c/bad.json5", "{\n a: ,\n}")]);
        assert_eq!(
            run(&fs).unwrap_err().to_string(),
            "/c/bad.json5: JSON5 parse failed at line 2, column 5: invalid character ','"
        );
    }

    #[test]
    fn cycles_are_refused_with_the_chain() {
        let fs = files(&[
            ("/c/main.json5", "{ $include: 'a.json5' }"),
            ("/c/a.json5", "{ k: { $include: 'b.json5' } }"),
            ("/c/b.json5", "{ $include: './a.json5' }"),
        ]);
        assert_eq!(
            run(&fs).unwrap_err().to_string(),
            "k.$include: circular $include: /c/main.json5 -> /c/a.json5 -> /c/b.json5 -> /c/a.json5"
        );
    }

    #[test]
    fn ten_levels_pass_eleven_fail() {
        let chain = |n: usize| {
            let mut list: Vec<(String, String)> = vec![("/c/main.json5".into(), "{ $include: 'f1.json5' }".into())];
            for i in 1..=n {
                let body = if i == n { "{ deep: true }".to_owned() } else { format!("{{ $include: 'f{}.json5' }}", i + 1) };
                list.push((format!("/c/f{i}.json5"), body));
            }
            Files(list.into_iter().map(|(p, t)| (PathBuf::from(p), t)).collect())
        };
        assert_eq!(run(&chain(10)).unwrap().value, json!({"deep": true}));
        let err = run(&chain(11)).unwrap_err();
        assert!(matches!(err, IncludeError::TooDeep { ref file, .. } if file == Path::new("/c/f11.json5")), "{err}");
    }

    #[test]
    fn sibling_keys_need_an_object() {
        let fs = files(&[("/c/main.json5", "{ a: { $include: 'l.json5', b: 1 } }"), ("/c/l.json5", "[1]")]);
        assert!(run(&fs).unwrap_err().to_string().contains("must be an object"));
        let fs = files(&[("/c/main.json5", "{ a: { $include: 'l.json5' } }"), ("/c/l.json5", "[1]")]);
        assert_eq!(run(&fs).unwrap().value, json!({"a": [1]}));
    }
}
