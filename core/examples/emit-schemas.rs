//! Writes every JSON Schema emitted from the wire types into `schemas/` at the workspace root.
//! Usage: `cargo run -p openclaw-core --example emit-schemas`

// A developer tool, not part of the pure crate: writing files is its whole job.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas");
    std::fs::create_dir_all(&dir)?;
    for (name, text) in openclaw_core::schema::emit_all() {
        std::fs::write(dir.join(&name), text)?;
        eprintln!("wrote schemas/{name}");
    }
    Ok(())
}
