//! `openclaw gateway --dev` and `--reset` (lifecycle.md §8.3): a throwaway dev instance.
//!
//! Dev mode is `gateway --dev` or `OPENCLAW_PROFILE=dev` (what the root flag `--dev` sets). In dev
//! mode a missing config file is replaced by a minimal local one and the dev workspace is seeded,
//! so `openclaw --dev gateway` starts on a fresh machine. `--reset` first deletes the dev config,
//! credentials, sessions and workspace, after a confirmation.
//!
//! Everything deleted is derived from the resolved paths, never from the config's contents, and
//! each target is checked to lie strictly inside the state dir (the config file, which may live
//! elsewhere, is only ever removed as a file). A state dir that is `/`, the home directory or one
//! of its ancestors is refused outright, whatever the environment says.

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::args::RunArgs;
use crate::config::Paths;
use crate::profile;

const IDENTITY_NAME: &str = "C3-PO";
const IDENTITY_THEME: &str = "protocol droid";
const IDENTITY_EMOJI: &str = "🤖";

/// Why the dev bootstrap or reset did not happen (printed; the gateway exits 1).
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error("Use --reset with --dev.")]
    ResetWithoutDev,
    #[error(
        "--reset deletes the dev config, credentials, sessions and workspace, and stdin is not a \
         terminal to confirm it. Pass --yes to reset without asking."
    )]
    NotConfirmed,
    #[error("Reset cancelled; nothing was deleted.")]
    Declined,
    #[error("Refusing to reset: {path} {why}. Check OPENCLAW_STATE_DIR and HOME.")]
    Unsafe { path: PathBuf, why: &'static str },
    #[error("Dev setup failed at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How a `--reset` is confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// `--yes`: no question.
    Given,
    /// Ask on stderr and read the answer from stdin, which must be a terminal.
    Ask,
}

/// The dev instance's files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevPaths {
    pub state_dir: PathBuf,
    pub config_path: PathBuf,
    /// `<state>/workspace` under the dev profile, else `<state>/workspace-dev` (so
    /// `gateway --dev` without the profile does not take over the main workspace).
    pub workspace: PathBuf,
    /// Where `~` is, to refuse wiping it.
    pub home: Option<PathBuf>,
}

impl DevPaths {
    /// From the resolved paths and `OPENCLAW_PROFILE`.
    pub fn new(paths: &Paths, profile: Option<&OsStr>, home: Option<PathBuf>) -> Self {
        let workspace = if profile::is_dev_profile(profile) {
            paths.state_dir.join("workspace")
        } else {
            paths.state_dir.join("workspace-dev")
        };
        Self {
            state_dir: paths.state_dir.clone(),
            config_path: paths.config_path.clone(),
            workspace,
            home,
        }
    }

    /// From the process environment.
    pub fn from_env(paths: &Paths) -> Self {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        let home = var("OPENCLAW_HOME")
            .or_else(|| var("HOME"))
            .map(PathBuf::from);
        Self::new(paths, var("OPENCLAW_PROFILE").as_deref(), home)
    }
}

/// Dev mode: the gateway's `--dev` flag, or the `dev` profile in `OPENCLAW_PROFILE`.
pub fn dev_mode(flag: bool) -> bool {
    flag || profile::is_dev_profile(std::env::var_os("OPENCLAW_PROFILE").as_deref())
}

/// Pre-flight step 1: `--reset` only makes sense in dev mode.
pub fn check_reset(reset: bool, dev: bool) -> Result<(), DevError> {
    if reset && !dev {
        return Err(DevError::ResetWithoutDev);
    }
    Ok(())
}

/// Pre-flight step 1 for `openclaw gateway`.
pub fn preflight_reset(args: &RunArgs) -> Result<(), DevError> {
    check_reset(args.reset, dev_mode(args.dev))
}

/// Pre-flight step 5 for `openclaw gateway`: in dev mode, reset if asked and ensure the dev
/// config; outside dev mode nothing.
pub fn preflight_ensure(args: &RunArgs, paths: &Paths) -> Result<(), DevError> {
    if !dev_mode(args.dev) {
        return Ok(());
    }
    let reset = args.reset.then_some(if args.yes {
        Confirmation::Given
    } else {
        Confirmation::Ask
    });
    ensure(&DevPaths::from_env(paths), reset).map(drop)
}

/// What [`ensure`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Paths deleted by `--reset`.
    pub removed: Vec<PathBuf>,
    /// Whether the dev config and workspace were (re)created.
    pub created: bool,
}

/// Pre-flight step 5, in dev mode: with `reset`, confirm and wipe; then, when the config file is
/// missing, write the dev config and seed the workspace. Logs `Dev config ready: <path>` and
/// `Dev workspace ready: <path>`.
pub fn ensure(paths: &DevPaths, reset: Option<Confirmation>) -> Result<Outcome, DevError> {
    let mut outcome = Outcome::default();
    if let Some(confirmation) = reset {
        let targets = reset_targets(paths)?;
        confirm(confirmation, &targets)?;
        for target in &targets {
            remove(target)?;
            tracing::info!("reset: removed {}", target.display());
        }
        outcome.removed = targets;
    } else if paths.config_path.exists() {
        return Ok(outcome);
    }
    create_private_dir(&paths.state_dir)?;
    seed_workspace(&paths.workspace)?;
    write_config(paths, &dev_config(&paths.workspace))?;
    tracing::info!("Dev config ready: {}", paths.config_path.display());
    tracing::info!("Dev workspace ready: {}", paths.workspace.display());
    outcome.created = true;
    Ok(outcome)
}

/// The reference's dev config (`agents.entries` is its current shape of the spec's
/// `agents.list`).
pub fn dev_config(workspace: &Path) -> serde_json::Value {
    let workspace = workspace.display().to_string();
    json!({
        "gateway": { "mode": "local", "bind": "loopback" },
        "agents": {
            "defaults": { "workspace": workspace, "skipBootstrap": true },
            "entries": {
                "dev": {
                    "default": true,
                    "workspace": workspace,
                    "identity": { "name": IDENTITY_NAME, "theme": IDENTITY_THEME, "emoji": IDENTITY_EMOJI },
                },
            },
        },
    })
}

/// What `--reset` deletes, existing paths only: the config file, `credentials/`, the generated
/// `gateway.token`, every agent's sessions (`agents/*/sessions/`, `agents/*/sessions.sqlite*`)
/// and the workspace.
fn reset_targets(paths: &DevPaths) -> Result<Vec<PathBuf>, DevError> {
    let state = &paths.state_dir;
    check_state_dir(state, paths.home.as_deref())?;
    let mut targets = Vec::new();
    if is_file_like(&paths.config_path) {
        // An OPENCLAW_CONFIG_PATH elsewhere may be another instance's config: never ours to
        // delete (the reference would trash it; the state-dir rule is stricter on purpose).
        if !strictly_inside(&paths.config_path, state) {
            return Err(DevError::Unsafe {
                path: paths.config_path.clone(),
                why: "(OPENCLAW_CONFIG_PATH) is outside the dev state dir",
            });
        }
        targets.push(paths.config_path.clone());
    }
    let mut inside = vec![
        state.join("credentials"),
        state.join(crate::config::TOKEN_FILE),
        paths.workspace.clone(),
    ];
    if let Ok(agents) = fs::read_dir(state.join("agents")) {
        for agent in agents.flatten() {
            let dir = agent.path();
            inside.push(dir.join("sessions"));
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let name = entry.file_name();
                if name.to_string_lossy().starts_with("sessions.sqlite") {
                    inside.push(entry.path());
                }
            }
        }
    }
    for target in inside {
        if fs::symlink_metadata(&target).is_err() {
            continue;
        }
        if !strictly_inside(&target, state) {
            return Err(DevError::Unsafe {
                path: target,
                why: "is not inside the dev state dir",
            });
        }
        targets.push(target);
    }
    targets.sort();
    targets.dedup();
    Ok(targets)
}

/// The state dir must be an absolute path that is neither `/` nor the home directory nor one of
/// the home directory's ancestors.
fn check_state_dir(state: &Path, home: Option<&Path>) -> Result<(), DevError> {
    let unsafe_because = |why| DevError::Unsafe {
        path: state.to_owned(),
        why,
    };
    if !state.is_absolute() {
        return Err(unsafe_because("is not an absolute path"));
    }
    if state.parent().is_none() {
        return Err(unsafe_because("is the root directory"));
    }
    if let Some(home) = home {
        if home.starts_with(state) {
            return Err(unsafe_because("is the home directory or contains it"));
        }
    }
    Ok(())
}

/// `path` lies below `dir` (not equal), with no `..` that could climb out.
fn strictly_inside(path: &Path, dir: &Path) -> bool {
    let climbs = path
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir));
    !climbs && path != dir && path.starts_with(dir)
}

fn is_file_like(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| !m.is_dir())
}

fn confirm(confirmation: Confirmation, targets: &[PathBuf]) -> Result<(), DevError> {
    if confirmation == Confirmation::Given {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(DevError::NotConfirmed);
    }
    let mut stderr = std::io::stderr();
    let list: String = targets
        .iter()
        .map(|t| format!("  {}\n", t.display()))
        .collect();
    let list = if list.is_empty() {
        "  (nothing exists yet)\n".to_owned()
    } else {
        list
    };
    // A failed prompt write only loses the question; the answer is still required.
    let _ = write!(stderr, "--reset will delete:\n{list}Continue? [y/N] ");
    let _ = stderr.flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|source| DevError::Io {
            path: PathBuf::from("<stdin>"),
            source,
        })?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(DevError::Declined),
    }
}

/// Deletes a file, a symlink (never its target) or a directory tree.
fn remove(path: &Path) -> Result<(), DevError> {
    let io = |source| DevError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    if meta.is_dir() {
        fs::remove_dir_all(path).map_err(io)
    } else {
        fs::remove_file(path).map_err(io)
    }
}

/// Creates the workspace and its files; a file that exists is left as it is.
fn seed_workspace(dir: &Path) -> Result<(), DevError> {
    fs::create_dir_all(dir).map_err(|source| DevError::Io {
        path: dir.to_owned(),
        source,
    })?;
    for (name, text) in workspace_files() {
        let path = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => file
                .write_all(text.as_bytes())
                .map_err(|source| DevError::Io { path, source })?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(DevError::Io { path, source }),
        }
    }
    Ok(())
}

/// The seeded workspace files (no `BOOTSTRAP.md`: the dev agent's identity is pre-filled).
fn workspace_files() -> [(&'static str, String); 5] {
    [
        (
            "AGENTS.md",
            "# AGENTS.md - OpenClaw Dev Workspace\n\n\
             Default dev workspace, seeded by `openclaw gateway --dev`.\n\
             Your identity is in IDENTITY.md, your persona in SOUL.md, the user in USER.md and\n\
             the tools you may use in TOOLS.md. Edit them freely: they are only created when absent.\n"
                .to_owned(),
        ),
        (
            "SOUL.md",
            "# SOUL.md - Dev Persona\n\n\
             A protocol droid for debugging and operations: precise, a little anxious about\n\
             errors, and glad to explain what went wrong and how to fix it.\n"
                .to_owned(),
        ),
        (
            "TOOLS.md",
            "# TOOLS.md - Local Notes\n\n\
             Notes about the tools and hosts of this dev setup (nothing configured yet).\n"
                .to_owned(),
        ),
        (
            "IDENTITY.md",
            format!(
                "# IDENTITY.md - Agent Identity\n\n- Name: {IDENTITY_NAME}\n- Creature: \
                 protocol droid\n- Vibe: {IDENTITY_THEME}\n- Emoji: {IDENTITY_EMOJI}\n"
            ),
        ),
        (
            "USER.md",
            "# USER.md - User Profile\n\n- Name:\n- Preferred address:\n- Notes:\n".to_owned(),
        ),
    ]
}

/// A state dir that does not exist yet is created private (0700): it will hold secrets.
fn create_private_dir(dir: &Path) -> Result<(), DevError> {
    if dir.exists() {
        return Ok(());
    }
    let io = |source| DevError::Io {
        path: dir.to_owned(),
        source,
    };
    fs::create_dir_all(dir).map_err(io)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io)
}

/// Writes the config through the shared config writer (atomic, 0600, backups, audit line,
/// `meta` stamp); its directory, when new, is created private.
fn write_config(paths: &DevPaths, value: &serde_json::Value) -> Result<(), DevError> {
    let path = &paths.config_path;
    let io = |source| DevError::Io {
        path: path.to_owned(),
        source,
    };
    create_private_dir(path.parent().unwrap_or(Path::new(".")))?;
    openclaw_io::config_file::write_config(path, &paths.state_dir, value, "gateway --dev")
        .map(drop)
        .map_err(|e| io(e.source))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(root: &Path, profile: Option<&str>) -> DevPaths {
        let state = root.join(".openclaw-dev");
        DevPaths::new(
            &Paths {
                config_path: state.join("openclaw.json"),
                state_dir: state,
            },
            profile.map(OsStr::new),
            Some(root.to_owned()),
        )
    }

    #[test]
    fn reset_needs_dev_mode() {
        assert!(matches!(
            check_reset(true, false),
            Err(DevError::ResetWithoutDev)
        ));
        assert_eq!(
            DevError::ResetWithoutDev.to_string(),
            "Use --reset with --dev."
        );
        assert!(check_reset(true, true).is_ok());
        assert!(check_reset(false, false).is_ok());
    }

    #[test]
    fn workspace_depends_on_the_profile() {
        let root = Path::new("/h");
        assert_eq!(
            paths(root, Some("dev")).workspace,
            root.join(".openclaw-dev/workspace")
        );
        assert_eq!(
            paths(root, None).workspace,
            root.join(".openclaw-dev/workspace-dev")
        );
    }

    #[test]
    fn creates_config_and_workspace_once_and_keeps_edits() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path(), Some("dev"));
        let outcome = ensure(&p, None).unwrap();
        assert!(outcome.created);
        let text = fs::read_to_string(&p.config_path).unwrap();
        let mut config: serde_json::Value = serde_json::from_str(&text).unwrap();
        let meta = config.as_object_mut().unwrap().remove("meta");
        assert!(
            meta.is_some(),
            "stamped by the shared config writer: {text}"
        );
        assert_eq!(config, dev_config(&p.workspace));
        assert_eq!(config["gateway"]["mode"], "local");
        let mode = fs::metadata(&p.config_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mode = fs::metadata(&p.state_dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "a new state dir is private");
        for name in ["AGENTS.md", "SOUL.md", "TOOLS.md", "IDENTITY.md", "USER.md"] {
            assert!(p.workspace.join(name).is_file(), "{name}");
        }
        assert!(!p.workspace.join("BOOTSTRAP.md").exists());

        // An existing config is left alone, and so are edited workspace files.
        fs::write(p.workspace.join("SOUL.md"), "mine").unwrap();
        fs::write(&p.config_path, "{gateway: {mode: 'local', port: 1}}").unwrap();
        assert_eq!(ensure(&p, None).unwrap(), Outcome::default());
        assert_eq!(
            fs::read_to_string(&p.config_path).unwrap(),
            "{gateway: {mode: 'local', port: 1}}"
        );
        fs::remove_file(&p.config_path).unwrap();
        assert!(ensure(&p, None).unwrap().created);
        assert_eq!(
            fs::read_to_string(p.workspace.join("SOUL.md")).unwrap(),
            "mine"
        );
    }

    #[test]
    fn reset_removes_only_the_dev_state() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path(), Some("dev"));
        ensure(&p, None).unwrap();
        let state = &p.state_dir;
        for file in [
            "credentials/whatsapp/creds.json",
            "agents/main/sessions/s.jsonl",
            "agents/main/agent/auth.json",
        ] {
            fs::create_dir_all(state.join(file).parent().unwrap()).unwrap();
            fs::write(state.join(file), "x").unwrap();
        }
        fs::write(state.join("agents/main/sessions.sqlite"), "db").unwrap();
        fs::write(state.join("agents/main/sessions.sqlite-wal"), "wal").unwrap();
        fs::write(state.join("gateway.token"), "t").unwrap();
        fs::write(state.join("keep.txt"), "k").unwrap();
        fs::write(p.workspace.join("notes.md"), "n").unwrap();
        let outside = dir.path().join(".openclaw/openclaw.json");
        fs::create_dir_all(outside.parent().unwrap()).unwrap();
        fs::write(&outside, "{}").unwrap();

        let outcome = ensure(&p, Some(Confirmation::Given)).unwrap();
        assert!(
            outcome.created,
            "the dev config is written again after the reset"
        );
        assert!(outcome.removed.contains(&state.join("credentials")));
        assert!(!state.join("credentials").exists());
        assert!(!state.join("agents/main/sessions").exists());
        assert!(!state.join("agents/main/sessions.sqlite").exists());
        assert!(!state.join("agents/main/sessions.sqlite-wal").exists());
        assert!(!state.join("gateway.token").exists());
        assert!(
            !p.workspace.join("notes.md").exists(),
            "workspace wiped, then reseeded"
        );
        assert!(p.workspace.join("AGENTS.md").exists());
        assert!(p.config_path.exists());
        assert!(
            state.join("agents/main/agent/auth.json").exists(),
            "not a session"
        );
        assert!(state.join("keep.txt").exists());
        assert_eq!(
            fs::read_to_string(&outside).unwrap(),
            "{}",
            "main profile untouched"
        );
    }

    #[test]
    fn reset_refuses_odd_state_dirs_and_asks_without_yes() {
        let home = PathBuf::from("/home/u");
        let odd = |state: &str| DevPaths {
            state_dir: PathBuf::from(state),
            config_path: PathBuf::from(state).join("openclaw.json"),
            workspace: PathBuf::from(state).join("workspace"),
            home: Some(home.clone()),
        };
        for state in ["/", "/home", "/home/u", "relative/dir"] {
            let err = reset_targets(&odd(state)).unwrap_err();
            assert!(matches!(err, DevError::Unsafe { .. }), "{state}: {err}");
        }
        // A config file outside the state dir (explicit OPENCLAW_CONFIG_PATH) is refused.
        let dir = tempfile::tempdir().unwrap();
        let mut p = paths(dir.path(), Some("dev"));
        p.config_path = dir.path().join(".openclaw/openclaw.json");
        fs::create_dir_all(p.config_path.parent().unwrap()).unwrap();
        fs::write(&p.config_path, "{}").unwrap();
        let err = ensure(&p, Some(Confirmation::Given)).unwrap_err();
        assert!(matches!(err, DevError::Unsafe { .. }), "{err}");
        assert!(
            err.to_string().contains("outside the dev state dir"),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&p.config_path).unwrap(), "{}");

        assert!(!strictly_inside(Path::new("/s/../etc"), Path::new("/s")));
        assert!(!strictly_inside(Path::new("/s"), Path::new("/s")));
        assert!(strictly_inside(Path::new("/s/x"), Path::new("/s")));

        // A workspace that a symlink makes point elsewhere loses the link, not the target.
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path(), Some("dev"));
        let precious = dir.path().join("precious");
        fs::create_dir_all(&precious).unwrap();
        fs::write(precious.join("f"), "keep").unwrap();
        fs::create_dir_all(&p.state_dir).unwrap();
        std::os::unix::fs::symlink(&precious, &p.workspace).unwrap();
        ensure(&p, Some(Confirmation::Given)).unwrap();
        assert_eq!(fs::read_to_string(precious.join("f")).unwrap(), "keep");
        assert!(!fs::symlink_metadata(&p.workspace)
            .unwrap()
            .file_type()
            .is_symlink());
    }
}
