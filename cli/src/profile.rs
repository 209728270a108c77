//! Root flags `--dev` and `--profile <name>` (lifecycle.md §8.1–8.2).
//!
//! A profile isolates one gateway's state: `--profile rescue` means state in `~/.openclaw-rescue`,
//! the config inside it, and (for `dev`) port 19001. The flags only *fill defaults* in the
//! environment (`OPENCLAW_STATE_DIR`, `OPENCLAW_CONFIG_PATH`, `OPENCLAW_GATEWAY_PORT`), so every
//! later resolution reads one source, and an explicit env var always wins over the profile.
//!
//! Parsing happens on the raw argv before clap: the flags are only recognised before the command
//! word (`openclaw --dev gateway`), and are removed so clap never sees them. `gateway --dev` after
//! the command word is the gateway's own flag (dev config bootstrap, see `dev.rs`).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use openclaw_core::ports::DEV_GATEWAY_PORT;

/// The profile selected by `--dev`.
pub const DEV: &str = "dev";

/// A valid profile name: `^[a-z0-9][a-z0-9_-]{0,63}$`, case-insensitive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileName(String);

impl ProfileName {
    /// Checks `raw` against the profile name rule.
    pub fn parse(raw: &str) -> Option<Self> {
        let mut chars = raw.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        (first_ok && rest_ok && raw.len() <= 64).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `default` (any case) is the unprofiled state dir `~/.openclaw`.
    fn is_default(&self) -> bool {
        self.0.eq_ignore_ascii_case("default")
    }

    fn is_dev(&self) -> bool {
        self.0.eq_ignore_ascii_case(DEV)
    }
}

/// A root flag the user got wrong; printed as is, exit 1 (messages from the spec).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootFlagError {
    #[error("Cannot combine --dev with --profile")]
    DevWithProfile,
    #[error("--profile requires a value")]
    ProfileNeedsValue,
    #[error("Invalid --profile (use letters, numbers, \"_\", \"-\" only)")]
    InvalidProfile,
}

/// The result of scanning the root flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootFlags {
    /// `dev` for `--dev`, the name for `--profile`, none without either.
    pub profile: Option<ProfileName>,
    /// argv with the profile flags removed, for clap.
    pub argv: Vec<OsString>,
}

/// Scans `argv` (program name first) up to the command word (the first token that does not
/// start with `-`, or `--`) for `--dev`, `--profile <name>` and `--profile=<name>`.
pub fn parse_root_flags(argv: Vec<OsString>) -> Result<RootFlags, RootFlagError> {
    let mut out = Vec::with_capacity(argv.len());
    let mut profile: Option<ProfileName> = None;
    let mut saw_dev = false;
    let mut tokens = argv.into_iter();
    out.extend(tokens.next());
    while let Some(token) = tokens.next() {
        let Some(text) = token.to_str().map(str::to_owned) else {
            // Not UTF-8: cannot be one of our flags; clap will judge it.
            out.push(token);
            continue;
        };
        if text == "--" || !text.starts_with('-') {
            out.push(token);
            break;
        }
        if text == "--dev" {
            if profile.as_ref().is_some_and(|p| !p.is_dev()) {
                return Err(RootFlagError::DevWithProfile);
            }
            saw_dev = true;
            profile = ProfileName::parse(DEV);
            continue;
        }
        let value = if text == "--profile" {
            // The next token is the value unless it is missing or another flag.
            match tokens.as_slice().first().and_then(|t| t.to_str()) {
                Some(next) if !next.starts_with('-') => {
                    let next = next.to_owned();
                    tokens.next();
                    next
                }
                _ => String::new(),
            }
        } else if let Some(inline) = text.strip_prefix("--profile=") {
            inline.to_owned()
        } else {
            out.push(token);
            continue;
        };
        if saw_dev {
            return Err(RootFlagError::DevWithProfile);
        }
        let value = value.trim();
        if value.is_empty() {
            return Err(RootFlagError::ProfileNeedsValue);
        }
        profile = Some(ProfileName::parse(value).ok_or(RootFlagError::InvalidProfile)?);
    }
    out.extend(tokens);
    Ok(RootFlags { profile, argv: out })
}

/// The environment variables a profile sets, given the current environment (`env` looks a
/// variable up; blank counts as unset). Pure, so the precedence rules are unit-tested:
/// * `OPENCLAW_PROFILE` = the profile (the flag is the explicit choice here, as in the
///   reference);
/// * `OPENCLAW_STATE_DIR` ← `<home>/.openclaw-<profile>` (`default`: `<home>/.openclaw`) when unset;
/// * `OPENCLAW_CONFIG_PATH` ← `<state dir>/openclaw.json` when unset, inside the *effective*
///   state dir (an explicit `OPENCLAW_STATE_DIR` keeps its config next to it);
/// * profile `dev`: `OPENCLAW_GATEWAY_PORT` ← 19001 when unset.
///
/// Home is `OPENCLAW_HOME`, else `HOME` (as in `config::Paths`); without either, the state dir
/// and config path are left alone and `Paths` reports the missing home later.
pub fn env_defaults(
    profile: &ProfileName,
    env: impl Fn(&str) -> Option<OsString>,
) -> Vec<(&'static str, OsString)> {
    let set = |name: &str| env(name).filter(|v| !v.to_string_lossy().trim().is_empty());
    let mut vars = vec![("OPENCLAW_PROFILE", OsString::from(profile.as_str()))];
    let home = set("OPENCLAW_HOME")
        .or_else(|| set("HOME"))
        .map(PathBuf::from);
    let state_dir = match set("OPENCLAW_STATE_DIR") {
        Some(dir) => Some(dir),
        None => home.map(|home| {
            let dir = profile_state_dir(&home, profile).into_os_string();
            vars.push(("OPENCLAW_STATE_DIR", dir.clone()));
            dir
        }),
    };
    if set("OPENCLAW_CONFIG_PATH").is_none() {
        if let Some(dir) = state_dir {
            let path = Path::new(&dir).join("openclaw.json").into_os_string();
            vars.push(("OPENCLAW_CONFIG_PATH", path));
        }
    }
    if profile.is_dev() && set("OPENCLAW_GATEWAY_PORT").is_none() {
        vars.push(("OPENCLAW_GATEWAY_PORT", DEV_GATEWAY_PORT.to_string().into()));
    }
    vars
}

/// `<home>/.openclaw-<profile>`, or `<home>/.openclaw` for `default`.
pub fn profile_state_dir(home: &Path, profile: &ProfileName) -> PathBuf {
    if profile.is_default() {
        home.join(".openclaw")
    } else {
        home.join(format!(".openclaw-{}", profile.as_str()))
    }
}

/// Dev mode: `OPENCLAW_PROFILE` is `dev` (any case, trimmed); `gateway --dev` adds the flag.
pub fn is_dev_profile(value: Option<&OsStr>) -> bool {
    value
        .and_then(OsStr::to_str)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(DEV))
}

/// Parses the root flags of the real argv and applies the profile to the process environment;
/// returns the argv for clap.
///
/// Called first thing in `main`, before the tokio runtime (or any other thread) exists:
/// `std::env::set_var` is only sound while the process is single-threaded, because another
/// thread reading the environment at the same time is undefined behaviour in libc. Doing it
/// here, once, also means every later reader (config paths, port, clap's `env =` defaults)
/// sees the profile without threading it through.
pub fn apply_to_process(argv: Vec<OsString>) -> Result<Vec<OsString>, RootFlagError> {
    let flags = parse_root_flags(argv)?;
    if let Some(profile) = &flags.profile {
        for (name, value) in env_defaults(profile, |name| std::env::var_os(name)) {
            std::env::set_var(name, value);
        }
    }
    Ok(flags.argv)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        std::iter::once("openclaw")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    fn parsed(args: &[&str]) -> Result<(Option<String>, Vec<OsString>), RootFlagError> {
        parse_root_flags(argv(args)).map(|f| (f.profile.map(|p| p.0), f.argv))
    }

    #[test]
    fn root_flag_table() {
        type Case = (
            &'static [&'static str],
            Option<&'static str>,
            &'static [&'static str],
        );
        let ok: &[Case] = &[
            (&["gateway"], None, &["gateway"]),
            (&["--dev", "gateway"], Some("dev"), &["gateway"]),
            (
                &["--profile", "rescue", "status"],
                Some("rescue"),
                &["status"],
            ),
            (&["--profile=rescue", "status"], Some("rescue"), &["status"]),
            (
                &["--profile", " Work_1 ", "health"],
                Some("Work_1"),
                &["health"],
            ),
            (
                &["--profile", "dev", "--dev", "health"],
                Some("dev"),
                &["health"],
            ),
            // Other root flags pass through to clap, in order.
            (
                &["--no-color", "--dev", "-V"],
                Some("dev"),
                &["--no-color", "-V"],
            ),
            // After the command word the flags belong to the command.
            (&["gateway", "--dev"], None, &["gateway", "--dev"]),
            (
                &["--dev", "gateway", "--dev", "--reset"],
                Some("dev"),
                &["gateway", "--dev", "--reset"],
            ),
            (
                &["agent", "--message", "--profile"],
                None,
                &["agent", "--message", "--profile"],
            ),
            (&["--", "--dev"], None, &["--", "--dev"]),
            (&[], None, &[]),
            (&["--dev"], Some("dev"), &[]),
        ];
        for (args, profile, rest) in ok {
            let (got, got_argv) = parsed(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(got.as_deref(), *profile, "{args:?}");
            assert_eq!(got_argv, argv(rest), "{args:?}");
        }
        let err: &[(&[&str], RootFlagError)] = &[
            (
                &["--dev", "--profile", "x", "gateway"],
                RootFlagError::DevWithProfile,
            ),
            (
                &["--profile", "x", "--dev", "gateway"],
                RootFlagError::DevWithProfile,
            ),
            (&["--dev", "--profile=dev"], RootFlagError::DevWithProfile),
            (&["--profile"], RootFlagError::ProfileNeedsValue),
            (&["--profile", "--dev"], RootFlagError::ProfileNeedsValue),
            (&["--profile="], RootFlagError::ProfileNeedsValue),
            (&["--profile", "  ", "x"], RootFlagError::ProfileNeedsValue),
            (
                &["--profile", "a/b", "status"],
                RootFlagError::InvalidProfile,
            ),
            (&["--profile=_x"], RootFlagError::InvalidProfile),
            (&["--profile=-x"], RootFlagError::InvalidProfile),
            (&["--profile", "ünï"], RootFlagError::InvalidProfile),
        ];
        for (args, want) in err {
            assert_eq!(parsed(args).unwrap_err(), *want, "{args:?}");
        }
        assert_eq!(
            RootFlagError::InvalidProfile.to_string(),
            "Invalid --profile (use letters, numbers, \"_\", \"-\" only)"
        );
    }

    #[test]
    fn profile_names() {
        assert!(ProfileName::parse("a").is_some());
        assert!(ProfileName::parse("A-b_9").is_some());
        assert!(ProfileName::parse(&"x".repeat(64)).is_some());
        assert!(ProfileName::parse(&"x".repeat(65)).is_none());
        for bad in ["", "-a", "_a", "a.b", "a b", "a/b", "~"] {
            assert!(ProfileName::parse(bad).is_none(), "{bad:?}");
        }
    }

    fn defaults(profile: &str, env: &[(&str, &str)]) -> BTreeMap<&'static str, String> {
        let env: BTreeMap<String, OsString> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        let profile = ProfileName::parse(profile).unwrap();
        env_defaults(&profile, |name| env.get(name).cloned())
            .into_iter()
            .map(|(k, v)| (k, v.into_string().unwrap()))
            .collect()
    }

    #[test]
    fn env_defaults_fill_only_what_is_unset() {
        let dev = defaults("dev", &[("HOME", "/h")]);
        assert_eq!(dev["OPENCLAW_PROFILE"], "dev");
        assert_eq!(dev["OPENCLAW_STATE_DIR"], "/h/.openclaw-dev");
        assert_eq!(
            dev["OPENCLAW_CONFIG_PATH"],
            "/h/.openclaw-dev/openclaw.json"
        );
        assert_eq!(dev["OPENCLAW_GATEWAY_PORT"], "19001");

        let named = defaults("rescue", &[("HOME", "/h"), ("OPENCLAW_HOME", "/oc")]);
        assert_eq!(
            named["OPENCLAW_STATE_DIR"], "/oc/.openclaw-rescue",
            "OPENCLAW_HOME first"
        );
        assert!(
            !named.contains_key("OPENCLAW_GATEWAY_PORT"),
            "only dev moves the port"
        );

        let default = defaults("Default", &[("HOME", "/h")]);
        assert_eq!(default["OPENCLAW_STATE_DIR"], "/h/.openclaw");

        // Explicit env wins; the config follows an explicit state dir.
        let explicit = defaults(
            "dev",
            &[
                ("HOME", "/h"),
                ("OPENCLAW_STATE_DIR", "/s"),
                ("OPENCLAW_GATEWAY_PORT", "4000"),
            ],
        );
        assert!(!explicit.contains_key("OPENCLAW_STATE_DIR"));
        assert!(!explicit.contains_key("OPENCLAW_GATEWAY_PORT"));
        assert_eq!(explicit["OPENCLAW_CONFIG_PATH"], "/s/openclaw.json");
        let config = defaults(
            "dev",
            &[("HOME", "/h"), ("OPENCLAW_CONFIG_PATH", "/c.json")],
        );
        assert!(!config.contains_key("OPENCLAW_CONFIG_PATH"));
        assert_eq!(config["OPENCLAW_STATE_DIR"], "/h/.openclaw-dev");

        // Blank counts as unset; the flag overrides an inherited OPENCLAW_PROFILE.
        let blank = defaults(
            "dev",
            &[
                ("HOME", "/h"),
                ("OPENCLAW_STATE_DIR", " "),
                ("OPENCLAW_PROFILE", "other"),
            ],
        );
        assert_eq!(blank["OPENCLAW_STATE_DIR"], "/h/.openclaw-dev");
        assert_eq!(blank["OPENCLAW_PROFILE"], "dev");

        // No home: only what does not need one.
        let homeless = defaults("dev", &[]);
        assert_eq!(
            homeless.keys().copied().collect::<Vec<_>>(),
            ["OPENCLAW_GATEWAY_PORT", "OPENCLAW_PROFILE"]
        );
    }

    #[test]
    fn dev_mode_from_the_env() {
        assert!(is_dev_profile(Some(OsStr::new("dev"))));
        assert!(is_dev_profile(Some(OsStr::new(" DEV "))));
        assert!(!is_dev_profile(Some(OsStr::new("devel"))));
        assert!(!is_dev_profile(None));
    }
}
