//! Writes every JSON Schema emitted from the wire types into `schemas/` at the workspace root.
//! Usage: `cargo run -p openclaw-core --example emit-schemas`

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
