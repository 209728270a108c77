//! `openclaw doctor [--fix] [--json] [--deep]`: read-only checks of what makes a gateway fail
//! to start or run unattended, each yielding findings in the reference's shape
//! (`{schemaVersion, ok, checksRun, checksSkipped, findings:[{checkId, severity, message,
//! path, fixHint}]}`); `--fix` applies the repairs that are safe (file modes, the service
//! definition — atomically, with a backup) and lists what it changed.
//!
//! Like the reference, doctor exits 0 whatever it finds (the findings are the result); it
//! exits 1 only when a repair failed.

mod checks;

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{json, Value};

use crate::args::DoctorArgs;
use crate::output::Rendered;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

/// A repair `--fix` may apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repair {
    /// `chmod <mode> <path>`.
    Chmod { path: PathBuf, mode: u32 },
    /// Rewrite the service definition with what `install` writes now (backup first).
    Rewrite { path: PathBuf, text: String, reload: Option<crate::service::Scope> },
}

/// One problem found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub check_id: &'static str,
    pub severity: Severity,
    pub message: String,
    /// The config key or the file concerned.
    pub path: String,
    pub fix_hint: Option<String>,
    pub repair: Option<Repair>,
}

impl Finding {
    fn json(&self) -> Value {
        let mut v = json!({
            "checkId": self.check_id,
            "severity": self.severity.as_str(),
            "message": self.message,
            "path": self.path,
        });
        if let Some(hint) = &self.fix_hint {
            v["fixHint"] = json!(hint);
        }
        if self.repair.is_some() {
            v["fixable"] = json!(true);
        }
        v
    }
}

/// What the checks produced.
#[derive(Debug, Default)]
pub struct Report {
    pub checks_run: usize,
    pub checks_skipped: usize,
    pub findings: Vec<Finding>,
    /// With `--fix`: what was changed, and what could not be.
    pub repaired: Vec<String>,
    pub repair_errors: Vec<String>,
}

/// Runs doctor: the checks, then (with `--fix`) the repairs and the checks again.
pub fn run(args: &DoctorArgs) -> Rendered {
    let mut report = checks::run_all(args.deep);
    if args.fix {
        let (repaired, errors) = apply(&report.findings);
        if !repaired.is_empty() {
            report = checks::run_all(args.deep);
        }
        report.repaired = repaired;
        report.repair_errors = errors;
    }
    let code = u8::from(!report.repair_errors.is_empty());
    let stdout = if args.json { json_text(&report) } else { human(&report, args.fix) };
    let stderr = report.repair_errors.iter().map(|e| format!("{e}\n")).collect();
    Rendered { stdout, stderr, code }
}

fn json_text(report: &Report) -> String {
    let mut doc = json!({
        "schemaVersion": 1,
        "ok": report.findings.iter().all(|f| f.severity == Severity::Info),
        "checksRun": report.checks_run,
        "checksSkipped": report.checks_skipped,
        "findings": report.findings.iter().map(Finding::json).collect::<Vec<_>>(),
    });
    if !report.repaired.is_empty() || !report.repair_errors.is_empty() {
        doc["repaired"] = json!(report.repaired);
    }
    if !report.repair_errors.is_empty() {
        doc["repairErrors"] = json!(report.repair_errors);
    }
    serde_json::to_string(&doc).unwrap_or_default() + "\n"
}

fn human(report: &Report, fixed: bool) -> String {
    let mut out = String::from("OpenClaw doctor\n\n");
    for line in &report.repaired {
        let _ = writeln!(out, "Fixed: {line}");
    }
    if !report.repaired.is_empty() {
        out.push('\n');
    }
    if report.findings.is_empty() {
        let _ = writeln!(out, "No problems found ({} checks run, {} skipped).", report.checks_run, report.checks_skipped);
        return out;
    }
    for f in &report.findings {
        let mark = match f.severity {
            Severity::Error => "✗ error",
            Severity::Warning => "! warning",
            Severity::Info => "· info",
        };
        let _ = writeln!(out, "{mark} [{}] {}", f.check_id, f.message);
        if !f.path.is_empty() {
            let _ = writeln!(out, "    at: {}", f.path);
        }
        if let Some(hint) = &f.fix_hint {
            let _ = writeln!(out, "    fix: {hint}");
        }
    }
    let fixable = report.findings.iter().filter(|f| f.repair.is_some()).count();
    let _ = writeln!(
        out,
        "\n{} finding(s); {} checks run, {} skipped.",
        report.findings.len(),
        report.checks_run,
        report.checks_skipped
    );
    if fixable > 0 && !fixed {
        let _ = writeln!(out, "{fixable} can be repaired with: openclaw doctor --fix");
    }
    out
}

/// Applies the repairs of `findings`: (what changed, what failed).
fn apply(findings: &[Finding]) -> (Vec<String>, Vec<String>) {
    use std::os::unix::fs::PermissionsExt;
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for repair in findings.iter().filter_map(|f| f.repair.as_ref()) {
        match repair {
            Repair::Chmod { path, mode } => {
                match std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode)) {
                    Ok(()) => done.push(format!("chmod {mode:o} {}", path.display())),
                    Err(e) => failed.push(format!("cannot chmod {mode:o} {}: {e}", path.display())),
                }
            }
            Repair::Rewrite { path, text, reload } => {
                let backup = crate::service::atomic::backup(path);
                let written = backup.and_then(|bak| {
                    crate::service::atomic::write(path, text.as_bytes(), 0o644).map(|()| bak)
                });
                match written {
                    Ok(bak) => {
                        let mut line = format!(
                            "rewrote {} as `openclaw gateway install` writes it now (previous: {})",
                            path.display(),
                            bak.display()
                        );
                        if let Some(scope) = reload {
                            let sc = crate::service::manager::Systemctl::new(*scope);
                            if sc.available().is_ok() && sc.call(&["daemon-reload"]).is_ok_and(|o| o.ok) {
                                line.push_str("; systemd reloaded, restart to apply: openclaw gateway restart");
                            } else {
                                let _ = write!(line, "; then run: {} daemon-reload, openclaw gateway restart", sc.prefix());
                            }
                        }
                        done.push(line);
                    }
                    Err(e) => failed.push(format!("cannot rewrite {}: {e}", path.display())),
                }
            }
        }
    }
    (done, failed)
}
