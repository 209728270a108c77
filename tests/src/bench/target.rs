//! Starting, measuring and stopping a gateway under test: ours (the `openclaw` binary) or the
//! reference (`openclaw-peer gateway run`), each with a fresh HOME on a free loopback port.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::conn::{Conn, Identity};

pub const TOKEN: &str = "bench-token-0123456789";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ours,
    Reference,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Ours => "ours",
            Self::Reference => "reference",
        }
    }
}

/// How to start each kind.
#[derive(Clone, Debug)]
pub struct Launch {
    pub ours_bin: PathBuf,
    pub peer: PathBuf,
    pub peer_home: Option<String>,
}

/// A running gateway process. Killed on drop.
pub struct Target {
    pub kind: Kind,
    pub port: u16,
    child: Child,
    _home: TempDir,
}

impl Target {
    /// Spawns the gateway and waits for the first successful `hello-ok`.
    /// Returns the target and the time from spawn to that `hello-ok`.
    pub async fn start(kind: Kind, launch: &Launch) -> anyhow::Result<(Target, Duration)> {
        Self::start_configured(kind, launch, None).await
    }

    /// [`Target::start`] with `config` (JSON5 for ours; JSON for both) as the gateway's
    /// `~/.openclaw/openclaw.json`.
    pub async fn start_configured(
        kind: Kind,
        launch: &Launch,
        config: Option<&str>,
    ) -> anyhow::Result<(Target, Duration)> {
        let port = free_port()?;
        let home = TempDir::new(&format!("openclaw-bench-{}", kind.label()))?;
        if let Some(config) = config {
            let dir = home.path().join(".openclaw");
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("openclaw.json"), config)?;
        }
        let mut cmd = match kind {
            Kind::Ours => {
                let mut c = Command::new(&launch.ours_bin);
                c.args(["gateway", "--port", &port.to_string(), "--auth", "token", "--token", TOKEN]);
                c.args(["--allow-unconfigured"]);
                c.env("OPENCLAW_STATE_DIR", home.path().join(".openclaw"));
                c
            }
            Kind::Reference => {
                let mut c = Command::new(&launch.peer);
                c.args(["gateway", "run", "--allow-unconfigured", "--bind", "loopback"]);
                c.args(["--port", &port.to_string(), "--auth", "token", "--token", TOKEN]);
                if let Some(cache) = &launch.peer_home {
                    c.env("OPENCLAW_PEER_HOME", cache);
                }
                c
            }
        };
        cmd.env("HOME", home.path()).env_remove("OPENCLAW_GATEWAY_TOKEN");
        cmd.env_remove("OPENCLAW_CONFIG_PATH").env_remove("OPENCLAW_GATEWAY_PORT");
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let spawned = Instant::now();
        let child = cmd.spawn()?;
        let target = Target { kind, port, child, _home: home };
        let who = Identity::cli(TOKEN, &["operator.read"]);
        let deadline = spawned + Duration::from_secs(120);
        loop {
            let last_error = match tokio::time::timeout(Duration::from_secs(5), Conn::connect(port, &who)).await {
                Ok(Ok(mut c)) => {
                    let elapsed = spawned.elapsed();
                    let _ = c.ws.write_frame(fastwebsockets::Frame::close(1000, b"")).await;
                    return Ok((target, elapsed));
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "connect timed out".to_owned(),
            };
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} did not answer hello-ok within 120 s (last error: {last_error})",
                kind.label()
            );
            // Polling a process that is starting: there is no event to wait on.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size of the gateway process (and its children), in bytes.
    pub fn rss(&self) -> u64 {
        let mut total = rss_of(self.pid());
        for child in children_of(self.pid()) {
            total += rss_of(child);
        }
        total
    }

    /// SIGTERM, then waits for the exit (bounded). Returns the time to exit and its status.
    pub async fn terminate(mut self) -> anyhow::Result<(Duration, std::process::ExitStatus)> {
        let start = Instant::now();
        kill(Pid::from_raw(self.pid() as i32), Signal::SIGTERM)?;
        let deadline = start + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok((start.elapsed(), status));
            }
            anyhow::ensure!(Instant::now() < deadline, "did not exit within 60 s of SIGTERM");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rss_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn children_of(pid: u32) -> Vec<u32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// A free loopback port (bound and released; the gateway binds it right after).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> std::io::Result<Self> {
        let base = std::env::temp_dir();
        for n in 0..1000u32 {
            let p = base.join(format!("{prefix}-{}-{n}", std::process::id()));
            if std::fs::create_dir(&p).is_ok() {
                return Ok(Self(p));
            }
        }
        Err(std::io::Error::other("no temp dir"))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Raises this process's open-file limit (children inherit it) so tens of thousands of
/// sockets fit on both ends.
pub fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    // 20k idle connections need 20k descriptors on each side; root may raise the hard limit.
    const WANT: u64 = 65_536;
    if setrlimit(Resource::RLIMIT_NOFILE, WANT, WANT).is_err() {
        if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}
