//! Crash safety of the generated token file (`cli/src/token.rs`: temp file, fsync, rename, mode
//! 0600): `kill -9` the gateway again and again during its first start, at different points of
//! the write, then check that the file is absent or whole and valid, and that the next start
//! works and keeps it.
//!
//! The other store, the SQLite session database, has its own kill -9 test in `cli_agent.rs`
//! (`kill_9_mid_run_leaves_the_database_consistent`).
//!
//! Nothing sleeps: the kill points are file-system conditions polled with a deadline, plus a
//! spin of a few hundred microseconds after the spawn for the moments no condition can see.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{home, openclaw, token_path, Proc, DEADLINE};
use openclaw_io::client::{Client, ConnectOptions};

const ROUNDS: usize = 40;

/// Where in the first start the kill lands.
#[derive(Clone, Copy, Debug)]
enum KillPoint {
    /// Right after `spawn` returns.
    AtOnce,
    /// A busy-wait of this many microseconds after the spawn.
    Spin(u64),
    /// As soon as the state directory exists.
    StateDir,
    /// As soon as any file (the temp file or the token) is in the state directory.
    AnyFile,
    /// As soon as the token file exists.
    TokenFile,
}

impl KillPoint {
    fn of_round(i: usize) -> Self {
        match i % 5 {
            0 => Self::AtOnce,
            1 => Self::StateDir,
            2 => Self::AnyFile,
            3 => Self::TokenFile,
            _ => Self::Spin(200 + (i as u64 * 397) % 4000),
        }
    }

    /// Returns once the kill point is reached or the deadline passed.
    fn reach(self, state_dir: &Path) {
        let deadline = Instant::now() + DEADLINE;
        let reached = || match self {
            Self::AtOnce => true,
            Self::Spin(_) => false,
            Self::StateDir => state_dir.exists(),
            Self::AnyFile => std::fs::read_dir(state_dir).is_ok_and(|mut d| d.next().is_some()),
            Self::TokenFile => state_dir.join("gateway.token").exists(),
        };
        if let Self::Spin(us) = self {
            let until = Instant::now() + Duration::from_micros(us);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            return;
        }
        while !reached() && Instant::now() < deadline {
            std::thread::yield_now();
        }
    }
}

/// The token file is either absent or a whole token: 43 base64url characters and a newline,
/// mode 0600. Returns the token when present.
fn check_token_file(path: &Path, round: usize) -> Option<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("round {round}: unreadable token file: {e}"),
    };
    let token = text
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("round {round}: torn token file {text:?}"));
    assert_eq!(token.len(), 43, "round {round}: token {token:?}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "round {round}: token {token:?}"
    );
    let mode = std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "round {round}: token file mode {mode:o}");
    Some(token.to_owned())
}

/// Starts the gateway normally, proves `token` opens it, stops it with SIGTERM.
fn start_and_connect(home: &Path, token: &str, round: usize) {
    let mut cmd = openclaw(home);
    cmd.args(["gateway", "--allow-unconfigured", "--port", "0"]);
    let mut gw = Proc::spawn(cmd);
    let (url, _) = gw.wait_listening();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut opts = ConnectOptions::cli(url);
        opts.token = Some(token.to_owned());
        let connect = tokio::time::timeout(DEADLINE, Client::connect(opts)).await;
        let (client, _) = connect
            .unwrap_or_else(|_| panic!("round {round}: connect timed out"))
            .unwrap_or_else(|e| panic!("round {round}: the token file's token is refused: {e:?}"));
        client.close().await;
    });
    gw.signal("TERM");
    assert_eq!(gw.wait_exit().code(), Some(0), "round {round}: clean exit");
}

#[test]
fn kill_9_during_the_first_start_never_leaves_a_broken_token_file() {
    let mut outcomes = [0usize; 2]; // [absent after the kill, present after the kill]
    let mut stale_temp_files = 0;
    for round in 0..ROUNDS {
        let home = home();
        let path = token_path(home.path());
        let state_dir = path.parent().expect("state dir").to_owned();
        let point = KillPoint::of_round(round);

        let mut cmd = openclaw(home.path());
        cmd.args(["gateway", "--allow-unconfigured", "--port", "0"]);
        let mut gw = Proc::spawn(cmd);
        point.reach(&state_dir);
        gw.signal("KILL");
        gw.wait_exit();

        let before = check_token_file(&path, round);
        outcomes[usize::from(before.is_some())] += 1;
        stale_temp_files += std::fs::read_dir(&state_dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                    .count()
            })
            .unwrap_or(0);

        // The next start works: it reuses a surviving token, or generates one now.
        let mut cmd = openclaw(home.path());
        cmd.args(["gateway", "--allow-unconfigured", "--port", "0"]);
        let mut probe = Proc::spawn(cmd);
        probe.wait_listening();
        let auth_line = probe.wait_line("auth: token");
        probe.signal("TERM");
        assert_eq!(
            probe.wait_exit().code(),
            Some(0),
            "round {round} ({point:?})"
        );
        let after = check_token_file(&path, round)
            .unwrap_or_else(|| panic!("round {round}: no token after a start"));
        let leftovers: Vec<_> = std::fs::read_dir(&state_dir)
            .expect("state dir")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "round {round}: the next start removes stale temp files: {leftovers:?}");
        match &before {
            Some(token) => {
                assert_eq!(
                    &after, token,
                    "round {round} ({point:?}): the surviving token was replaced"
                );
                assert!(
                    auth_line.contains("using the token saved in"),
                    "round {round}: {auth_line}"
                );
            }
            None => assert!(
                auth_line.contains("generated a new token"),
                "round {round}: {auth_line}"
            ),
        }
        // And that token is the one the gateway accepts.
        start_and_connect(home.path(), &after, round);
    }
    eprintln!(
        "{ROUNDS} kill -9 rounds: token absent after the kill {}, whole {}; stale temp files left {stale_temp_files}",
        outcomes[0], outcomes[1]
    );
    // The kill points must actually straddle the write, or the test proves nothing.
    assert!(
        outcomes[0] > 0 && outcomes[1] > 0,
        "kill points did not straddle the write: {outcomes:?}"
    );
}
