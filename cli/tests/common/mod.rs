//! Helpers for driving the `openclaw` binary in tests: a child-process guard that kills on
//! drop, line-by-line stdout with deadlines (never sleeps), and a clean temp environment.
#![allow(dead_code)] // each test file uses a different subset

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Generous: debug builds on a loaded 2-core machine start slowly.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_openclaw")
}

/// `openclaw` with an empty environment except `PATH` and `HOME=home`.
pub fn openclaw(home: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .stdin(Stdio::null());
    cmd
}

/// A running child: stdout lines arrive on a channel, stderr is collected. Killed on drop.
pub struct Proc {
    child: Child,
    lines: Receiver<String>,
    /// Every stdout line seen so far.
    pub stdout: Vec<String>,
    stderr_rx: Receiver<String>,
    stderr: Option<String>,
    status: Option<ExitStatus>,
}

impl Proc {
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn openclaw");
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (err_tx, stderr_rx) = mpsc::channel();
        let mut err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            let mut buf = String::new();
            let _ = err.read_to_string(&mut buf);
            let _ = err_tx.send(buf);
        });
        Self {
            child,
            lines,
            stdout: Vec::new(),
            stderr_rx,
            stderr: None,
            status: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (bounded) for a stdout line containing `needle`; returns it.
    pub fn wait_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stdout.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no line with {needle:?} within {DEADLINE:?}; stdout so far: {:#?}",
                        self.stdout
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let stderr = self.stderr();
                    panic!(
                        "stdout closed before a line with {needle:?}; stdout: {:#?}\nstderr: {stderr}",
                        self.stdout
                    )
                }
            }
        }
    }

    /// Reads the `listening on ws://HOST:PORT` line; returns the URL and the port.
    pub fn wait_listening(&mut self) -> (String, u16) {
        let line = self.wait_line("listening on ws://");
        let url = line[line.find("ws://").unwrap()..].trim().to_owned();
        let port = url
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .expect("port in the listening line");
        (url, port)
    }

    /// Sends `signal` (e.g. "TERM") with kill(1).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{signal} {} failed", self.pid());
    }

    /// Waits (bounded) for the process to exit: stdout closing is the cue, then `wait`.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.stdout.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "process did not exit within {DEADLINE:?}; stdout: {:#?}",
                        self.stdout
                    )
                }
            }
        }
        let status = self.child.wait().expect("wait");
        self.status = Some(status);
        status
    }

    /// Everything the process wrote to stderr; blocks (bounded) until the pipe closes, so call
    /// it once the process has exited.
    pub fn stderr(&mut self) -> String {
        if self.stderr.is_none() {
            self.stderr = Some(self.stderr_rx.recv_timeout(DEADLINE).unwrap_or_default());
        }
        self.stderr.clone().unwrap_or_default()
    }

    pub fn all_stdout(&self) -> String {
        self.stdout.join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs a short-lived command to completion (bounded) and returns (status, stdout, stderr).
pub fn run(cmd: Command) -> (ExitStatus, String, String) {
    let mut proc = Proc::spawn(cmd);
    let status = proc.wait_exit();
    let mut stdout = proc.all_stdout();
    if !stdout.is_empty() {
        stdout.push('\n');
    }
    (status, stdout, proc.stderr())
}

/// A fresh home directory for one test.
pub fn home() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp home")
}

pub fn token_path(home: &Path) -> PathBuf {
    home.join(".openclaw").join("gateway.token")
}
