//! The systemd unit: rendering exactly as the reference's `buildSystemdUnit` (fixed policy
//! lines, escaping), and reading back what `gateway status` and `doctor` need from an installed
//! unit (`ExecStart=`, `Environment=`).

use super::{Definition, RenderError, Scope};

/// `[Unit]` policy of the reference (errata "Service").
const UNIT_POLICY: &[&str] = &[
    "After=network-online.target",
    "Wants=network-online.target",
    "StartLimitBurst=10",
    "StartLimitIntervalSec=300",
];

/// `[Service]` policy of the reference: exit 78 (a duplicate start) is not restarted, 143
/// (SIGTERM before the handlers ran) is a clean stop, and the stop budget covers the drain.
const SERVICE_POLICY: &[&str] = &[
    "Restart=always",
    "RestartSec=5",
    "RestartPreventExitStatus=78",
    "TimeoutStopSec=330",
    "TimeoutStartSec=30",
    "SuccessExitStatus=0 143",
    "OOMPolicy=continue",
    "KillMode=mixed",
];

fn no_line_breaks(value: &str, what: &'static str) -> Result<(), RenderError> {
    if value.contains(['\r', '\n']) {
        Err(RenderError { what })
    } else {
        Ok(())
    }
}

/// One argument (or `KEY=VALUE`): double-quoted with `\` and `"` escaped when it holds
/// whitespace, `"` or `\`; `%` doubled (systemd specifiers).
fn escape(value: &str) -> String {
    let value = value.replace('%', "%%");
    if value.chars().any(|c| c.is_whitespace() || c == '"' || c == '\\') {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        value
    }
}

/// The unit text.
pub fn render(def: &Definition) -> Result<String, RenderError> {
    no_line_breaks(&def.description, "Systemd Description")?;
    let mut lines: Vec<String> = vec!["[Unit]".into(), format!("Description={}", def.description)];
    lines.extend(UNIT_POLICY.iter().map(|l| (*l).to_owned()));
    lines.push(String::new());
    lines.push("[Service]".into());
    let mut exec = Vec::with_capacity(def.program_arguments.len());
    for arg in &def.program_arguments {
        no_line_breaks(arg, "Systemd unit values")?;
        exec.push(escape(arg));
    }
    lines.push(format!("ExecStart={}", exec.join(" ")));
    lines.extend(SERVICE_POLICY.iter().map(|l| (*l).to_owned()));
    if let Some(user) = &def.user {
        no_line_breaks(user, "Systemd User")?;
        lines.push(format!("User={user}"));
    }
    if let Some(dir) = &def.working_directory {
        let dir = dir.display().to_string();
        no_line_breaks(&dir, "Systemd WorkingDirectory")?;
        lines.push(format!("WorkingDirectory={}", dir.replace('%', "%%")));
    }
    if let Some(file) = &def.environment_file {
        let file = file.display().to_string();
        no_line_breaks(&file, "Systemd EnvironmentFile values")?;
        lines.push(format!("EnvironmentFile=-{}", file.replace('%', "%%")));
    }
    for (key, value) in &def.environment {
        no_line_breaks(key, "Systemd environment variable names")?;
        no_line_breaks(value, "Systemd environment variable values")?;
        lines.push(format!("Environment={}", escape(&format!("{key}={value}"))));
    }
    lines.push(String::new());
    lines.push("[Install]".into());
    lines.push(match def.scope {
        Scope::User => "WantedBy=default.target".into(),
        Scope::System => "WantedBy=multi-user.target".into(),
    });
    lines.push(String::new());
    Ok(lines.join("\n"))
}

/// What an installed unit says (only what status and doctor use).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub exec_start: Vec<String>,
    pub environment: Vec<(String, String)>,
    pub working_directory: Option<String>,
}

impl Parsed {
    pub fn env(&self, key: &str) -> Option<&str> {
        self.environment.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The `--port N` of the command line.
    pub fn port_arg(&self) -> Option<u16> {
        let i = self.exec_start.iter().position(|a| a == "--port")?;
        self.exec_start.get(i + 1)?.parse().ok()
    }
}

/// Reads `ExecStart=`, `Environment=` and `WorkingDirectory=` of `[Service]`.
pub fn parse(text: &str) -> Parsed {
    let mut out = Parsed::default();
    let mut section = "";
    for raw in text.lines() {
        let line = raw.trim();
        if line.starts_with('[') && line.ends_with(']') {
            section = line;
            continue;
        }
        if section != "[Service]" {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = value.trim();
        match key.trim() {
            "ExecStart" => out.exec_start = split_args(value),
            "WorkingDirectory" => out.working_directory = Some(value.replace("%%", "%")),
            "Environment" => {
                for assignment in split_args(value) {
                    if let Some((k, v)) = assignment.split_once('=') {
                        out.environment.push((k.to_owned(), v.to_owned()));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Splits a systemd command line: whitespace separates, double quotes group, `\` escapes
/// inside quotes; `%%` is `%`.
pub fn split_args(value: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_arg = false;
    let mut quoted = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_arg = true;
            }
            '\\' if quoted => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            c if c.is_whitespace() && !quoted => {
                if in_arg {
                    args.push(std::mem::take(&mut current).replace("%%", "%"));
                    in_arg = false;
                }
            }
            c => {
                current.push(c);
                in_arg = true;
            }
        }
    }
    if in_arg {
        args.push(current.replace("%%", "%"));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips() {
        for arg in ["plain", "with space", "quo\"te", "back\\slash", "50%"] {
            let escaped = escape(arg);
            assert_eq!(split_args(&escaped), vec![arg.to_owned()], "{escaped}");
        }
        assert_eq!(escape("a b"), "\"a b\"");
        assert_eq!(escape("x%y"), "x%%y");
    }

    #[test]
    fn line_breaks_are_refused() {
        let def = Definition {
            scope: Scope::User,
            port: 1,
            description: "OpenClaw Gateway".into(),
            label: "l".into(),
            program_arguments: vec!["/bin/openclaw\n".into()],
            user: None,
            working_directory: None,
            environment_file: None,
            environment: vec![],
            stdout_path: "/o".into(),
            stderr_path: "/e".into(),
        };
        assert_eq!(render(&def).unwrap_err().what, "Systemd unit values");
    }
}
