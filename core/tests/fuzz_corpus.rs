//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/*`) through the same logic as the
//! libFuzzer targets (`openclaw_core::testing::fuzz`), so every seed and every minimized
//! reproducer stays a regression test in `cargo test`, without libFuzzer or nightly.

// Test code reads fixtures and caches; the IO ban in core/clippy.toml is for the library.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus missing at {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "corpus {} has only {} files", dir.display(), files.len());
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    for path in corpus(target) {
        let data = std::fs::read(&path).expect("corpus file");
        let outcome = std::panic::catch_unwind(|| run(&data));
        if let Err(panic) = outcome {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            panic!("{target}: {} fails: {msg}", path.display());
        }
    }
}

#[test]
fn decode_frame_corpus() {
    replay("decode_frame", openclaw_core::testing::fuzz::decode_frame);
}

#[test]
fn session_transcript_corpus() {
    replay("session_transcript", openclaw_core::testing::fuzz::session_transcript);
}

#[test]
fn config_load_corpus() {
    replay("config_load", openclaw_core::testing::fuzz_config::config_load);
}
