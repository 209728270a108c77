//! `--force`: find who listens on a TCP port and stop them (lifecycle: free the port before
//! binding). Linux `/proc` first, `lsof` as a fallback.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use crate::clock;

/// A process listening on the port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub command: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ForceError {
    #[error("failed to signal pid {pid}: {message}")]
    Kill { pid: u32, message: String },
    #[error("port {port} still in use after {waited:?} (pids: {pids:?})")]
    StillInUse { port: u16, waited: Duration, pids: Vec<u32> },
}

/// How often `free_port` looks again while waiting.
const POLL: Duration = Duration::from_millis(50);

/// Finds processes listening on `port` (/proc/net/tcp{,6} + /proc/*/fd, fallback `lsof`),
/// SIGTERMs them, waits (bounded by `timeout`) until the port is free. Never signals itself.
pub fn free_port(port: u16, timeout: Duration) -> Result<Vec<Holder>, ForceError> {
    let holders = port_holders(port);
    for h in &holders {
        let status = Command::new("kill").arg("-TERM").arg(h.pid.to_string()).status();
        match status {
            Ok(s) if s.success() => {}
            // It may have exited on its own in between; the wait below decides.
            Ok(_) if !pid_alive(h.pid) => {}
            Ok(s) => return Err(ForceError::Kill { pid: h.pid, message: s.to_string() }),
            Err(e) => return Err(ForceError::Kill { pid: h.pid, message: e.to_string() }),
        }
    }
    let start = clock::now();
    loop {
        let left = port_holders(port);
        if left.is_empty() {
            return Ok(holders);
        }
        let elapsed = clock::now().duration_since(start);
        if elapsed >= timeout {
            let pids = left.iter().map(|h| h.pid).collect();
            return Err(ForceError::StillInUse { port, waited: elapsed, pids });
        }
        std::thread::sleep(POLL.min(timeout.saturating_sub(elapsed)));
    }
}

/// Processes (other than this one) with a listening TCP socket on `port`.
pub fn port_holders(port: u16) -> Vec<Holder> {
    let inodes = listening_inodes(port);
    let mut pids: BTreeSet<u32> = if inodes.is_empty() { BTreeSet::new() } else { pids_owning(&inodes) };
    if pids.is_empty() && !std::path::Path::new("/proc/net/tcp").exists() {
        pids = lsof_pids(port);
    }
    pids.remove(&std::process::id());
    pids.into_iter().map(|pid| Holder { pid, command: command_of(pid) }).collect()
}

/// Socket inodes in state LISTEN (0A) on `port`, IPv4 and IPv6.
fn listening_inodes(port: u16) -> BTreeSet<u64> {
    let mut inodes = BTreeSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) = (cols.get(1), cols.get(3), cols.get(9)) else {
                continue;
            };
            let local_port = local.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) && *state == "0A" {
                if let Ok(inode) = inode.parse::<u64>() {
                    if inode != 0 {
                        inodes.insert(inode);
                    }
                }
            }
        }
    }
    inodes
}

fn pids_owning(inodes: &BTreeSet<u64>) -> BTreeSet<u32> {
    let mut pids = BTreeSet::new();
    let Ok(procs) = std::fs::read_dir("/proc") else { return pids };
    for entry in procs.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
        let owns = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).ok().and_then(|target| {
                let t = target.to_string_lossy().into_owned();
                t.strip_prefix("socket:[")?.strip_suffix(']')?.parse::<u64>().ok()
            }).is_some_and(|inode| inodes.contains(&inode))
        });
        if owns {
            pids.insert(pid);
        }
    }
    pids
}

fn lsof_pids(port: u16) -> BTreeSet<u32> {
    let out = Command::new("lsof").args(["-nP", &format!("-iTCP:{port}"), "-sTCP:LISTEN", "-t"]).output();
    let Ok(out) = out else { return BTreeSet::new() };
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect()
}

fn command_of(pid: u32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let joined = cmdline
        .split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    if !joined.is_empty() {
        return joined;
    }
    std::fs::read_to_string(format!("/proc/{pid}/comm")).map(|s| s.trim().to_owned()).unwrap_or_default()
}

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nobody_on_a_free_port_and_never_itself() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // This process holds it, and a process never reports (or kills) itself.
        assert!(port_holders(port).is_empty());
        assert!(listening_inodes(port).len() == 1);
    }
}
