//! Driving the service manager through its command-line tools (`systemctl`, `loginctl`,
//! `launchctl`), found on PATH: no D-Bus or launchd API, so tests put recording doubles first
//! on PATH. Each call captures the exit code and output; a missing tool is its own answer.

use std::process::{Command, Stdio};

use super::Scope;

/// One finished tool call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// stderr, else stdout, trimmed: what to show when the call failed.
    pub fn detail(&self) -> String {
        let err = self.stderr.trim();
        if err.is_empty() {
            self.stdout.trim().to_owned()
        } else {
            err.to_owned()
        }
    }
}

/// Why a tool could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("{0} not found on PATH")]
    Missing(&'static str),
    #[error("cannot run {tool}: {source}")]
    Spawn { tool: &'static str, source: std::io::Error },
}

/// Runs `tool args…` with stdin closed.
pub fn run(tool: &'static str, args: &[&str]) -> Result<Output, ToolError> {
    let out = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ToolError::Missing(tool)
            } else {
                ToolError::Spawn { tool, source: e }
            }
        })?;
    Ok(Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// `is-system-running` answers of a manager that is there (`offline`/`unknown`: none).
const REACHABLE: &[&str] = &["running", "degraded", "starting", "initializing", "maintenance", "stopping"];

/// `systemctl [--user] …` for one scope.
#[derive(Clone, Copy, Debug)]
pub struct Systemctl {
    pub scope: Scope,
}

/// Why the manager cannot be used (no systemd in a container, no user bus, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl Systemctl {
    pub fn new(scope: Scope) -> Self {
        Self { scope }
    }

    /// `systemctl --user`, or `systemctl` for system units (what users type).
    pub fn prefix(&self) -> &'static str {
        match self.scope {
            Scope::User => "systemctl --user",
            Scope::System => "systemctl",
        }
    }

    pub fn call(&self, args: &[&str]) -> Result<Output, ToolError> {
        let mut all: Vec<&str> = Vec::with_capacity(args.len() + 1);
        if self.scope == Scope::User {
            all.push("--user");
        }
        all.extend_from_slice(args);
        run("systemctl", &all)
    }

    /// Whether a manager answers: `systemctl [--user] is-system-running` answers (any state)
    /// when one is reachable; "Failed to connect to bus", "System has not been booted with
    /// systemd" and the like mean there is none.
    pub fn available(&self) -> Result<(), Unavailable> {
        match self.call(&["is-system-running"]) {
            Err(ToolError::Missing(_)) => Err(Unavailable(
                "systemctl not available; systemd user services are required on Linux".into(),
            )),
            Err(e) => Err(Unavailable(e.to_string())),
            Ok(out) if out.ok || REACHABLE.contains(&out.stdout.trim()) => Ok(()),
            Ok(out) => {
                let state = out.stdout.trim();
                let why = out.stderr.trim();
                let detail = match (state.is_empty(), why.is_empty()) {
                    (false, true) => format!("the manager is {state}"),
                    (_, false) => why.lines().next().unwrap_or(why).to_owned(),
                    (true, true) => "no answer".to_owned(),
                };
                Err(Unavailable(format!("no systemd manager reachable ({} is-system-running: {detail})", self.prefix())))
            }
        }
    }

    /// `is-enabled <unit>` exits 0.
    pub fn is_enabled(&self, unit: &str) -> bool {
        self.call(&["is-enabled", unit]).is_ok_and(|o| o.ok)
    }

    /// `show <unit>` with the runtime properties.
    pub fn show(&self, unit: &str) -> Option<Runtime> {
        let out = self
            .call(&[
                "show",
                unit,
                "--no-page",
                "--property",
                "LoadState,ActiveState,SubState,MainPID,ExecMainStatus,ExecMainCode,ActiveEnterTimestamp",
            ])
            .ok()?;
        out.ok.then(|| Runtime::parse(&out.stdout))
    }
}

/// The supervisor's view of the unit (`systemctl show`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Runtime {
    pub load_state: Option<String>,
    pub active_state: Option<String>,
    pub sub_state: Option<String>,
    pub pid: Option<u32>,
    pub last_exit_status: Option<i32>,
    pub last_exit_reason: Option<String>,
    /// `ActiveEnterTimestamp`: since when it is active.
    pub since: Option<String>,
}

impl Runtime {
    pub fn parse(text: &str) -> Self {
        let mut r = Self::default();
        let non_empty = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_owned());
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else { continue };
            match k {
                "LoadState" => r.load_state = non_empty(v),
                "ActiveState" => r.active_state = non_empty(v),
                "SubState" => r.sub_state = non_empty(v),
                "MainPID" => r.pid = v.trim().parse().ok().filter(|p| *p != 0),
                "ExecMainStatus" => r.last_exit_status = v.trim().parse().ok(),
                "ExecMainCode" => r.last_exit_reason = non_empty(v),
                "ActiveEnterTimestamp" => r.since = non_empty(v),
                _ => {}
            }
        }
        r
    }

    pub fn running(&self) -> bool {
        self.active_state.as_deref() == Some("active")
    }

    pub fn missing_unit(&self) -> bool {
        self.load_state.as_deref() == Some("not-found")
    }
}

/// `loginctl show-user <user> -p Linger`: `Some(true|false)`, `None` when unknown (no
/// loginctl, no logind).
pub fn linger(user: &str) -> Option<bool> {
    let out = run("loginctl", &["show-user", user, "-p", "Linger"]).ok()?;
    if !out.ok {
        return None;
    }
    match out.stdout.trim().strip_prefix("Linger=")? {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// `id -u`: the numeric user id (launchd's `gui/<uid>` domain).
pub fn uid() -> Option<u32> {
    run("id", &["-u"]).ok().filter(|o| o.ok)?.stdout.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_output_parses() {
        let r = Runtime::parse(
            "LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=4242\nExecMainStatus=0\nExecMainCode=0\nActiveEnterTimestamp=Sun 2026-12-06 20:00:00 UTC\n",
        );
        assert!(r.running());
        assert_eq!(r.pid, Some(4242));
        assert_eq!(r.since.as_deref(), Some("Sun 2026-12-06 20:00:00 UTC"));
        let gone = Runtime::parse("LoadState=not-found\nActiveState=inactive\nMainPID=0\n");
        assert!(gone.missing_unit() && !gone.running() && gone.pid.is_none());
    }
}
