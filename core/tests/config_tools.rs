//! `tools`: `allow`/`deny` are ours (arrays of tool names, strictly typed); the reference's other
//! `tools.*` keys load with the "not supported yet" warning. Snapshots: what an operator reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use openclaw_core::config::{self, MissingEnv, ReadError, Source};

struct Files(BTreeMap<PathBuf, String>);

impl Source for Files {
    fn read(&self, path: &Path) -> Result<String, ReadError> {
        self.0.get(path).cloned().ok_or(ReadError::NotFound)
    }
}

const MAIN: &str = "/etc/openclaw/openclaw.json";

/// The loaded `tools` section and the warnings, or the report.
fn load(text: &str) -> Result<(config::ToolsConfig, String), String> {
    let fs = Files(BTreeMap::from([(PathBuf::from(MAIN), text.to_owned())]));
    match config::resolve(Path::new(MAIN), text, &fs, &|_: &str| None, MissingEnv::Error) {
        Ok(r) => {
            let lines: Vec<String> = r.warnings.iter().map(ToString::to_string).collect();
            Ok((r.config.tools.unwrap_or_default(), lines.join("\n")))
        }
        Err(e) => Err(config::report(Path::new(MAIN), &e.issues())),
    }
}

#[test]
fn allow_and_deny_load_other_tools_keys_warn() {
    let (tools, warnings) =
        load("{ tools: { allow: ['read', 'write'], deny: ['exec'], profile: 'coding', exec: { host: 'gateway' } } }").unwrap();
    assert_eq!(tools.allow, Some(vec!["read".to_owned(), "write".to_owned()]));
    assert_eq!(tools.deny, Some(vec!["exec".to_owned()]));
    insta::assert_snapshot!(warnings, @r"
    tools.profile: not supported yet; ignored
    tools.exec: not supported yet; ignored
    ");
}

#[test]
fn wrong_shapes_are_errors() {
    insta::assert_snapshot!(load("{\n  tools: {\n    allow: 'read',\n    deny: [1],\n    alow: [],\n  },\n}\n").unwrap_err());
}
