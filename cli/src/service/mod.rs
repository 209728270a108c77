//! The gateway as a supervised service (lifecycle.md §7, errata "Service"): what
//! `openclaw gateway install` writes (a systemd unit on Linux, a LaunchAgent plist on macOS),
//! how the service manager is driven, and what `gateway status` / `doctor` read back.
//!
//! Rendering is pure: [`Context`] gathers everything the definition depends on (home, user,
//! profile, paths, this binary, PATH) once, at the edge; [`Definition::build`] turns it into
//! the service's program arguments and environment; [`systemd::render`] and
//! [`launchd::render`] produce the file text. The file is compared byte for byte with what is
//! installed (no-op, drift), written atomically ([`atomic`]), and the manager is driven
//! through its command-line tool ([`manager`]), so tests put doubles first on PATH.

pub mod atomic;
pub mod cmd;
pub mod launchd;
pub mod manager;
pub mod scan;
pub mod systemd;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Which service manager this machine has. `OPENCLAW_SERVICE_PLATFORM=linux|macos` overrides
/// the build target (to render or test the other platform's definition).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// systemd (`systemctl`, `loginctl`).
    Linux,
    /// launchd (`launchctl`).
    MacOs,
}

impl Platform {
    pub fn current() -> Self {
        match std::env::var("OPENCLAW_SERVICE_PLATFORM").ok().as_deref().map(str::trim) {
            Some("macos" | "darwin") => Self::MacOs,
            Some("linux") => Self::Linux,
            _ if cfg!(target_os = "macos") => Self::MacOs,
            _ => Self::Linux,
        }
    }

    /// The reference's `service.label` word.
    pub fn label(self) -> &'static str {
        match self {
            Self::Linux => "systemd",
            Self::MacOs => "LaunchAgent",
        }
    }

    /// The reference's loaded / not-loaded words.
    pub fn loaded_text(self) -> (&'static str, &'static str) {
        match self {
            Self::Linux => ("enabled", "disabled"),
            Self::MacOs => ("loaded", "not loaded"),
        }
    }
}

/// User service (the default) or, with `install --system`, a system unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    User,
    System,
}

/// The service's names for a profile (lifecycle.md §7.1; empty or `default` = no profile).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    /// `openclaw-gateway[-<profile>].service`
    pub unit: String,
    /// `ai.openclaw.gateway` or `ai.openclaw.<profile>`
    pub label: String,
    /// `OpenClaw Gateway` or `OpenClaw Gateway (profile: <profile>)`
    pub description: String,
    /// The profile, when there is one.
    pub profile: Option<String>,
}

impl Names {
    pub fn for_profile(profile: Option<&str>) -> Self {
        let profile = profile
            .map(str::trim)
            .filter(|p| !p.is_empty() && !p.eq_ignore_ascii_case("default"))
            .map(str::to_owned);
        match &profile {
            None => Self {
                unit: "openclaw-gateway.service".into(),
                label: "ai.openclaw.gateway".into(),
                description: "OpenClaw Gateway".into(),
                profile,
            },
            Some(p) => Self {
                unit: format!("openclaw-gateway-{p}.service"),
                label: format!("ai.openclaw.{p}"),
                description: format!("OpenClaw Gateway (profile: {p})"),
                profile: profile.clone(),
            },
        }
    }

    /// `openclaw`, `openclaw --dev` or `openclaw --profile <p>`: how to address this profile.
    pub fn cli(&self) -> String {
        match self.profile.as_deref() {
            None => "openclaw".into(),
            Some(p) if p.eq_ignore_ascii_case(crate::profile::DEV) => "openclaw --dev".into(),
            Some(p) => format!("openclaw --profile {p}"),
        }
    }
}

/// Labels of earlier releases, cleaned up by `install` on macOS (lifecycle.md §7.1): the
/// moltbot-era `bot.molt.*` (the runbook's label), `com.openclaw.*` and the clawdbot ones.
pub fn is_legacy_label(label: &str) -> bool {
    label.starts_with("bot.molt.")
        || label.starts_with("com.openclaw.")
        || label == "com.clawdbot.gateway"
        || label == "com.steipete.clawdbot.gateway"
}

/// Everything a service definition depends on, read once from the process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    pub platform: Platform,
    pub home: PathBuf,
    /// The login name (`User=` of a system unit, `loginctl show-user`).
    pub user: String,
    pub names: Names,
    pub state_dir: PathBuf,
    pub config_path: PathBuf,
    /// `OPENCLAW_STATE_DIR` / `OPENCLAW_CONFIG_PATH` as set (a profile sets both).
    pub env_state_dir: Option<String>,
    pub env_config_path: Option<String>,
    /// This binary, absolute.
    pub binary: PathBuf,
    /// `TMPDIR`, else `/tmp`.
    pub tmpdir: String,
    /// The minimal PATH baked into the service (lifecycle.md §7.2).
    pub path: String,
}

/// Why a [`Context`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot find this program's own path: {0}")]
    Binary(std::io::Error),
    #[error("HOME is not set")]
    NoHome,
}

impl Context {
    /// From the process: env (after `--dev`/`--profile` applied), this executable.
    pub fn from_process() -> Result<Self, ContextError> {
        let paths = crate::config::Paths::from_env()?;
        let binary = std::env::current_exe().map_err(ContextError::Binary)?;
        let env = |k: &str| std::env::var_os(k);
        Self::resolve(Platform::current(), &paths, binary, env)
    }

    /// Pure: from the resolved paths, the binary and an environment lookup.
    pub fn resolve(
        platform: Platform,
        paths: &crate::config::Paths,
        binary: PathBuf,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Self, ContextError> {
        let get = |k: &str| {
            env(k)
                .map(|v| v.to_string_lossy().trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let home = get("HOME").map(PathBuf::from).ok_or(ContextError::NoHome)?;
        let user = get("USER")
            .or_else(|| get("LOGNAME"))
            .or_else(|| home.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "root".into());
        let names = Names::for_profile(get("OPENCLAW_PROFILE").as_deref());
        let bin_dir = binary.parent().map(Path::to_path_buf);
        let path = minimal_path(platform, &home, bin_dir.as_deref(), &get);
        Ok(Self {
            platform,
            user,
            names,
            state_dir: paths.state_dir.clone(),
            config_path: paths.config_path.clone(),
            env_state_dir: get("OPENCLAW_STATE_DIR"),
            env_config_path: get("OPENCLAW_CONFIG_PATH"),
            binary,
            tmpdir: get("TMPDIR").unwrap_or_else(|| "/tmp".into()),
            home,
            path,
        })
    }

    /// Where the definition lives for `scope`.
    pub fn definition_path(&self, scope: Scope) -> PathBuf {
        match (self.platform, scope) {
            (Platform::Linux, Scope::User) => self
                .home
                .join(".config/systemd/user")
                .join(&self.names.unit),
            (Platform::Linux, Scope::System) => {
                Path::new("/etc/systemd/system").join(&self.names.unit)
            }
            (Platform::MacOs, Scope::User) => self
                .home
                .join("Library/LaunchAgents")
                .join(format!("{}.plist", self.names.label)),
            (Platform::MacOs, Scope::System) => {
                Path::new("/Library/LaunchDaemons").join(format!("{}.plist", self.names.label))
            }
        }
    }

    /// `<state>/gateway.systemd.env`: the service's secrets (mode 0600), never the unit.
    pub fn env_file(&self) -> PathBuf {
        self.state_dir.join("gateway.systemd.env")
    }
}

/// The minimal PATH (lifecycle.md §7.2): this binary's folder, the version managers' folders
/// named by the environment, the usual per-user folders, then the system ones; de-duplicated.
fn minimal_path(
    platform: Platform,
    home: &Path,
    bin_dir: Option<&Path>,
    get: &impl Fn(&str) -> Option<String>,
) -> String {
    let mut dirs: Vec<String> = Vec::new();
    let mut push = |d: String| {
        if !d.is_empty() && !dirs.contains(&d) {
            dirs.push(d);
        }
    };
    if let Some(dir) = bin_dir {
        push(dir.display().to_string());
    }
    let from_env: [(&str, &str); 7] = [
        ("PNPM_HOME", ""),
        ("NPM_CONFIG_PREFIX", "/bin"),
        ("BUN_INSTALL", "/bin"),
        ("VOLTA_HOME", "/bin"),
        ("ASDF_DATA_DIR", "/shims"),
        ("NVM_DIR", "/current/bin"),
        ("FNM_DIR", "/current/bin"),
    ];
    if platform == Platform::Linux {
        for (key, suffix) in from_env {
            if let Some(v) = get(key) {
                push(format!("{}{suffix}", v.trim_end_matches('/')));
            }
        }
        for rel in [
            ".local/bin",
            ".npm-global/bin",
            "bin",
            ".nvm/current/bin",
            ".fnm/current/bin",
            ".volta/bin",
            ".asdf/shims",
            ".local/share/pnpm",
            ".bun/bin",
        ] {
            push(home.join(rel).display().to_string());
        }
    }
    let system: &[&str] = match platform {
        Platform::Linux => &["/usr/local/bin", "/usr/bin", "/bin"],
        Platform::MacOs => &["/opt/homebrew/bin", "/usr/local/bin", "/usr/bin", "/bin"],
    };
    for d in system {
        push((*d).to_owned());
    }
    dirs.join(":")
}

/// What the service runs: program arguments, environment, files (platform-neutral).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    pub scope: Scope,
    pub port: u16,
    pub description: String,
    pub label: String,
    pub program_arguments: Vec<String>,
    /// System units run as this user, in this folder.
    pub user: Option<String>,
    pub working_directory: Option<PathBuf>,
    /// `EnvironmentFile=-<path>` (systemd).
    pub environment_file: Option<PathBuf>,
    /// In the reference's order; blank values left out.
    pub environment: Vec<(String, String)>,
    /// launchd's `StandardOutPath` / `StandardErrorPath`.
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
}

impl Definition {
    /// The gateway service for `ctx` on `port` (errata "Service"): `<binary> [--profile P]
    /// gateway --port N`, the service markers, no secret.
    pub fn build(ctx: &Context, port: u16, scope: Scope) -> Self {
        let mut args = vec![ctx.binary.display().to_string()];
        if let Some(p) = &ctx.names.profile {
            args.push("--profile".into());
            args.push(p.clone());
        }
        args.extend(["gateway".into(), "--port".into(), port.to_string()]);
        let mut env: Vec<(String, String)> = Vec::new();
        let mut set = |k: &str, v: Option<String>| {
            if let Some(v) = v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
                env.push((k.to_owned(), v));
            }
        };
        set("HOME", Some(ctx.home.display().to_string()));
        set("TMPDIR", Some(ctx.tmpdir.clone()));
        set("OPENCLAW_STATE_DIR", ctx.env_state_dir.clone());
        set("OPENCLAW_CONFIG_PATH", ctx.env_config_path.clone());
        set("PATH", Some(ctx.path.clone()));
        set("OPENCLAW_PROFILE", ctx.names.profile.clone());
        set("OPENCLAW_GATEWAY_PORT", Some(port.to_string()));
        match ctx.platform {
            Platform::MacOs => set("OPENCLAW_LAUNCHD_LABEL", Some(ctx.names.label.clone())),
            Platform::Linux => set("OPENCLAW_SYSTEMD_UNIT", Some(ctx.names.unit.clone())),
        }
        set("OPENCLAW_SERVICE_MARKER", Some("openclaw".into()));
        set("OPENCLAW_SERVICE_KIND", Some("gateway".into()));
        let system = scope == Scope::System;
        let logs = ctx.state_dir.join("logs");
        Self {
            scope,
            port,
            description: ctx.names.description.clone(),
            label: ctx.names.label.clone(),
            program_arguments: args,
            user: system.then(|| ctx.user.clone()),
            working_directory: system.then(|| ctx.home.clone()),
            environment_file: (ctx.platform == Platform::Linux).then(|| ctx.env_file()),
            environment: env,
            stdout_path: logs.join("gateway.log"),
            stderr_path: logs.join("gateway.err.log"),
        }
    }

    /// The file text for `platform`.
    pub fn render(&self, platform: Platform) -> Result<String, RenderError> {
        match platform {
            Platform::Linux => systemd::render(self),
            Platform::MacOs => Ok(launchd::render(self)),
        }
    }
}

/// A value that cannot go into a unit file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} cannot contain CR or LF characters")]
pub struct RenderError {
    pub what: &'static str,
}

/// Environment keys safe to show (`gateway status --json` filters the service env to these).
pub fn is_safe_env_key(key: &str) -> bool {
    !(key.contains("TOKEN") || key.contains("PASSWORD") || key.contains("SECRET") || key.contains("KEY"))
}

#[cfg(test)]
mod tests;
