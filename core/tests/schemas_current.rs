//! The checked-in `schemas/` must be exactly what the wire types emit: same files, same bytes.

use std::collections::BTreeMap;
use std::path::Path;

const REGENERATE: &str = "run `cargo run -p openclaw-core --example emit-schemas`";

#[test]
fn checked_in_schemas_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
    let emitted: BTreeMap<String, String> = openclaw_core::schema::emit_all().into_iter().collect();
    assert!(!emitted.is_empty(), "emit_all produced nothing");

    let mut problems = Vec::new();
    for (name, text) in &emitted {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(on_disk) if on_disk == *text => {}
            Ok(_) => problems.push(format!("schemas/{name} is stale")),
            Err(e) => problems.push(format!("schemas/{name} is missing ({e})")),
        }
    }
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let name = entry.expect("dir entry").file_name().to_string_lossy().into_owned();
        if !emitted.contains_key(&name) {
            problems.push(format!("schemas/{name} is not produced by emit_all (delete it)"));
        }
    }
    assert!(problems.is_empty(), "{}\n{REGENERATE}", problems.join("\n"));
}
