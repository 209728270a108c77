//! Fuzz logic for the config loader (`fuzz/fuzz_targets/config_load.rs`), shared with the
//! corpus replay in `core/tests/fuzz_corpus.rs`.
//!
//! Oracles: nothing panics or recurses without bound on any text; a document the JSON5 parser
//! accepts renders to JSON that parses back to the same value (JSON is JSON5); and the whole
//! pipeline (`$include` over an in-memory tree where files include each other, `${VAR}`,
//! validation) answers every input with a config or located issues.

use std::path::Path;

use crate::config::{self, json5, MissingEnv, ReadError, Source};

/// The main file is `/fuzz/openclaw.json`; `inc.json5` and the main file itself hold the same
/// text, so `$include` of either (or a cycle) is reachable from the fuzzer's input.
struct Mem<'a>(&'a str);

impl Source for Mem<'_> {
    fn read(&self, path: &Path) -> Result<String, ReadError> {
        match path.file_name().and_then(|n| n.to_str()) {
            Some("openclaw.json" | "inc.json5") => Ok(self.0.to_owned()),
            _ => Err(ReadError::NotFound),
        }
    }
}

pub fn config_load(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(parsed) = json5::parse(text) {
        let rendered = serde_json::to_string(&parsed.value).unwrap_or_default();
        match json5::parse(&rendered) {
            Ok(again) => assert_eq!(again.value, parsed.value, "JSON rendering changed the value: {rendered}"),
            Err(e) => panic!("the JSON rendering {rendered:?} does not parse: {e:?}"),
        }
    }
    let env = |name: &str| (name == "SET").then(|| "value".to_owned());
    for missing in [MissingEnv::Error, MissingEnv::Warn] {
        let outcome = config::resolve(Path::new("/fuzz/openclaw.json"), text, &Mem(text), &env, missing);
        if let Err(error) = outcome {
            // Every refusal can be reported (the CLI prints this).
            let _ = config::report(Path::new("/fuzz/openclaw.json"), &error.issues());
        }
    }
}
