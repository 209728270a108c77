//! Other gateway-like services on this machine (lifecycle.md §7.8): unit files or plists that
//! run an OpenClaw (or clawdbot/moltbot) gateway, or carry the service markers. Profile-named
//! OpenClaw services are first-class (listed, no warning); anything else is "extra" and gets
//! cleanup hints, since two supervisors fighting over one port is a classic outage.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{launchd, systemd, Context, Platform};

/// One service found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub label: String,
    pub path: PathBuf,
    /// `user` or `system`.
    pub scope: &'static str,
    /// The service markers are set.
    pub marker: bool,
    /// A name of an earlier release (clawdbot, moltbot, bot.molt.*, com.openclaw.*).
    pub legacy: bool,
    /// `openclaw-gateway[-<p>]` / `ai.openclaw.<p>`: another profile of ours, not a warning.
    pub openclaw_profile: bool,
}

impl Found {
    pub fn warns(&self) -> bool {
        !self.openclaw_profile
    }

    /// How to remove it.
    pub fn cleanup_hints(&self, platform: Platform) -> Vec<String> {
        let sudo = if self.scope == "system" { "sudo " } else { "" };
        match platform {
            Platform::Linux => {
                let user = if self.scope == "system" { "" } else { " --user" };
                vec![
                    format!("{sudo}systemctl{user} disable --now -- {}", self.label),
                    format!("{sudo}rm {}", self.path.display()),
                ]
            }
            Platform::MacOs => {
                let domain = if self.scope == "system" { "system".to_owned() } else { "gui/$UID".to_owned() };
                vec![
                    format!("{sudo}launchctl bootout {domain}/{}", self.label),
                    format!("{sudo}rm {}", self.path.display()),
                ]
            }
        }
    }

    pub fn json(&self, platform: Platform) -> Value {
        let platform_name = match platform {
            Platform::Linux => "linux",
            Platform::MacOs => "darwin",
        };
        let mut v = json!({
            "platform": platform_name,
            "label": self.label,
            "detail": self.path.display().to_string(),
            "scope": self.scope,
        });
        if self.marker {
            v["marker"] = json!("openclaw");
        }
        if self.legacy {
            v["legacy"] = json!(true);
        }
        v
    }
}

/// Scans the user folder (and with `deep` the system folders), skipping our own definition.
pub fn scan(ctx: &Context, deep: bool) -> Vec<Found> {
    let (user_dirs, system_dirs): (Vec<PathBuf>, Vec<PathBuf>) = match ctx.platform {
        Platform::Linux => (
            vec![ctx.home.join(".config/systemd/user")],
            ["/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"]
                .iter()
                .map(PathBuf::from)
                .collect(),
        ),
        Platform::MacOs => (
            vec![ctx.home.join("Library/LaunchAgents")],
            ["/Library/LaunchAgents", "/Library/LaunchDaemons"].iter().map(PathBuf::from).collect(),
        ),
    };
    let own = [
        ctx.definition_path(super::Scope::User),
        ctx.definition_path(super::Scope::System),
    ];
    let mut found = Vec::new();
    let mut dirs: Vec<(PathBuf, &'static str)> = user_dirs.into_iter().map(|d| (d, "user")).collect();
    if deep {
        dirs.extend(system_dirs.into_iter().map(|d| (d, "system")));
    }
    let mut seen_real: Vec<PathBuf> = Vec::new();
    for (dir, scope) in dirs {
        for path in files(&dir, ctx.platform) {
            if own.contains(&path) {
                continue;
            }
            // /lib is often a symlink to /usr/lib: one entry per real file.
            let real = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if seen_real.contains(&real) {
                continue;
            }
            seen_real.push(real);
            if let Some(f) = inspect(&path, scope, ctx.platform) {
                found.push(f);
            }
        }
    }
    found
}

fn files(dir: &Path, platform: Platform) -> Vec<PathBuf> {
    let ext = match platform {
        Platform::Linux => "service",
        Platform::MacOs => "plist",
    };
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    out
}

/// Whether one file is gateway-like, and what kind.
fn inspect(path: &Path, scope: &'static str, platform: Platform) -> Option<Found> {
    let text = fs::read_to_string(path).ok()?;
    let file_name = path.file_name()?.to_string_lossy().into_owned();
    let (label, args, env_marker) = match platform {
        Platform::Linux => {
            let parsed = systemd::parse(&text);
            let marker = parsed.env("OPENCLAW_SERVICE_MARKER") == Some("openclaw")
                && parsed.env("OPENCLAW_SERVICE_KIND").is_none_or(|k| k == "gateway");
            (file_name, parsed.exec_start, marker)
        }
        Platform::MacOs => {
            let (label, args) = launchd::parse(&text);
            let marker = text.contains("<key>OPENCLAW_SERVICE_MARKER</key>\n    <string>openclaw</string>");
            (label.unwrap_or_else(|| file_name.trim_end_matches(".plist").to_owned()), args, marker)
        }
    };
    let runs_gateway = args.iter().any(|a| a == "gateway")
        && args.iter().any(|a| {
            let a = a.to_ascii_lowercase();
            a.contains("openclaw") || a.contains("clawdbot") || a.contains("moltbot")
        });
    if !runs_gateway && !env_marker {
        return None;
    }
    let stem = label.trim_end_matches(".service");
    let legacy = stem.starts_with("clawdbot-gateway")
        || stem.starts_with("moltbot-gateway")
        || super::is_legacy_label(stem);
    let openclaw_profile = !legacy && (stem == "openclaw-gateway" || stem.starts_with("openclaw-gateway-") || stem.starts_with("ai.openclaw."));
    Some(Found { label, path: path.to_path_buf(), scope, marker: env_marker, legacy, openclaw_profile })
}
