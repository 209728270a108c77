//! The gateway's logging (lifecycle.md §10): one `tracing` layer feeding two sinks.
//!
//! * **File**: one tslog-shaped JSON object per line ([`record`]), at `logging.file` or the
//!   rolling `/tmp/openclaw/openclaw-YYYY-MM-DD.log` (local date of each line), written by a
//!   background thread behind a bounded queue ([`writer`]): a full queue drops lines (counted
//!   in [`LogHandle::dropped_lines`]), never blocks.
//! * **Console**: human lines with a timestamp, level and `[subsystem]`.
//!
//! Secrets are masked in both ([`openclaw_core::redact`]), the gateway's own token and
//! password always. [`tail`] reads the file back for `logs.tail`.
//!
//! # Hot reload
//! [`install`] returns a [`LogHandle`]; [`LogHandle::apply`] swaps the [`LogSettings`] (levels,
//! file, style, redaction) for every later event, without reinstalling the subscriber.

mod layer;
pub mod record;
pub mod tail;
pub mod writer;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use openclaw_core::redact::{PatternError, RedactMode};
use openclaw_core::UnixMillis;
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

pub use layer::LogLayer;
pub use record::ConsoleStyle;
use writer::{Queue, Target};

/// The directory of the rolling daily files.
pub const DEFAULT_DIR: &str = "/tmp/openclaw";

/// `logging.level` / `logging.consoleLevel`, from quietest to most verbose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Silent,
    Fatal,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    pub const NAMES: &'static str = "silent, fatal, error, warn, info, debug, trace";

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value.trim().to_ascii_lowercase().as_str() {
            "silent" => Self::Silent,
            "fatal" => Self::Fatal,
            "error" => Self::Error,
            "warn" => Self::Warn,
            "info" => Self::Info,
            "debug" => Self::Debug,
            "trace" => Self::Trace,
            _ => return None,
        })
    }

    pub(crate) fn from_tracing(level: tracing::Level) -> Self {
        match level {
            tracing::Level::ERROR => Self::Error,
            tracing::Level::WARN => Self::Warn,
            tracing::Level::INFO => Self::Info,
            tracing::Level::DEBUG => Self::Debug,
            tracing::Level::TRACE => Self::Trace,
        }
    }

    /// An event passes when its rank is at most the setting's.
    pub(crate) fn rank(self) -> u8 {
        self as u8
    }
}

/// Everything logging needs from the config (`logging.*`) and the gateway (its secrets).
#[derive(Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// `logging.file`; `None`: the rolling daily file in [`Self::dir`].
    pub file: Option<PathBuf>,
    /// Where rolling files live (`/tmp/openclaw`).
    pub dir: PathBuf,
    /// `logging.level` (file), default info.
    pub level: Level,
    /// `logging.consoleLevel`, default info (debug with `--verbose`).
    pub console_level: Level,
    pub console_style: ConsoleStyle,
    /// `logging.redactSensitive`.
    pub redact_mode: RedactMode,
    /// `logging.redactPatterns`; empty: the default list.
    pub redact_patterns: Vec<String>,
    /// Literal secrets always masked: the gateway token and password.
    pub secrets: Vec<String>,
    /// `OPENCLAW_PROFILE`, encoded as the reference does ([`profile_segment`]): rolling files
    /// are then `openclaw-<segment>-YYYY-MM-DD.log`, so profiles never share a log.
    pub profile: Option<String>,
}

impl std::fmt::Debug for LogSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSettings")
            .field("file", &self.file)
            .field("dir", &self.dir)
            .field("level", &self.level)
            .field("console_level", &self.console_level)
            .field("console_style", &self.console_style)
            .field("redact_mode", &self.redact_mode)
            .field("redact_patterns", &self.redact_patterns)
            .field("profile", &self.profile)
            .field(
                "secrets",
                &format_args!("<{} redacted>", self.secrets.len()),
            )
            .finish()
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            file: None,
            dir: PathBuf::from(DEFAULT_DIR),
            level: Level::Info,
            console_level: Level::Info,
            console_style: ConsoleStyle::Pretty,
            redact_mode: RedactMode::Tools,
            redact_patterns: Vec::new(),
            secrets: Vec::new(),
            profile: None,
        }
    }
}

/// The reference's file-name segment for a profile (`resolveLogProfileSegment`): `None` for
/// no profile or `default`; ASCII lower-case letters and digits as they are, `-` → `--`,
/// `_` → `-0`, upper-case → `-1` + lower, anything else `-2<hex>-`; longer than 220 → `-3` +
/// sha256 hex of the name.
pub fn profile_segment(profile: Option<&str>) -> Option<String> {
    let profile = profile?.trim();
    if profile.is_empty() || profile.eq_ignore_ascii_case("default") {
        return None;
    }
    let mut out = String::new();
    for c in profile.chars() {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            '-' => out.push_str("--"),
            '_' => out.push_str("-0"),
            'A'..='Z' => {
                out.push_str("-1");
                out.push(c.to_ascii_lowercase());
            }
            other => out.push_str(&format!("-2{:x}-", u32::from(other))),
        }
    }
    if out.len() <= 220 {
        return Some(out);
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, profile.as_bytes());
    Some(format!("-3{}", digest.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// A `logging.*` value we cannot use; names the key and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("logging.{key}: {message}")]
pub struct SettingsError {
    pub key: &'static str,
    pub message: String,
}

impl LogSettings {
    /// Applies the config's `logging` object on top of `self` (absent keys keep their value).
    /// `verbose` (`--verbose`) raises the console level to at least debug.
    pub fn with_config(
        mut self,
        logging: Option<&Value>,
        verbose: bool,
    ) -> Result<Self, SettingsError> {
        let obj = match logging {
            None | Some(Value::Null) => None,
            Some(Value::Object(obj)) => Some(obj),
            Some(other) => {
                return Err(SettingsError {
                    key: "",
                    message: format!("expected an object, got {other}"),
                });
            }
        };
        let text = |key: &'static str| -> Result<Option<&str>, SettingsError> {
            match obj.and_then(|o| o.get(key)) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(other) => Err(SettingsError {
                    key,
                    message: format!("expected a string, got {other}"),
                }),
            }
        };
        let level = |key: &'static str| -> Result<Option<Level>, SettingsError> {
            text(key)?
                .map(|s| {
                    Level::parse(s).ok_or_else(|| SettingsError {
                        key,
                        message: format!("unknown level {s:?}; expected one of {}", Level::NAMES),
                    })
                })
                .transpose()
        };
        if let Some(l) = level("level")? {
            self.level = l;
        }
        if let Some(l) = level("consoleLevel")? {
            self.console_level = l;
        }
        if let Some(file) = text("file")?.filter(|f| !f.trim().is_empty()) {
            self.file = Some(expand_home(file));
        }
        if let Some(style) = text("consoleStyle")? {
            self.console_style = match style {
                "pretty" => ConsoleStyle::Pretty,
                "compact" => ConsoleStyle::Compact,
                "json" => ConsoleStyle::Json,
                other => {
                    return Err(SettingsError {
                        key: "consoleStyle",
                        message: format!(
                            "unknown style {other:?}; expected pretty, compact or json"
                        ),
                    })
                }
            };
        }
        if let Some(mode) = text("redactSensitive")? {
            self.redact_mode = RedactMode::parse(mode);
        }
        match obj.and_then(|o| o.get("redactPatterns")) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                self.redact_patterns = items
                    .iter()
                    .map(|v| {
                        v.as_str().map(str::to_owned).ok_or_else(|| SettingsError {
                            key: "redactPatterns",
                            message: format!("expected strings, got {v}"),
                        })
                    })
                    .collect::<Result<_, _>>()?;
            }
            Some(other) => {
                return Err(SettingsError {
                    key: "redactPatterns",
                    message: format!("expected an array of strings, got {other}"),
                })
            }
        }
        if verbose {
            self.console_level = self.console_level.max(Level::Debug);
        }
        Ok(self)
    }

    /// The file a line written at `time` goes to.
    /// `openclaw` or `openclaw-<profile segment>`.
    pub fn rolling_prefix(&self) -> String {
        match &self.profile {
            Some(segment) => format!("openclaw-{segment}"),
            None => "openclaw".to_owned(),
        }
    }

    pub fn target_for(&self, time: &DateTime<FixedOffset>) -> Target {
        match &self.file {
            Some(path) => Target {
                path: path.clone(),
                rolling_dir: None,
            },
            None => Target {
                path: self.dir.join(format!(
                    "{}-{}.log",
                    self.rolling_prefix(),
                    time.format("%Y-%m-%d")
                )),
                rolling_dir: Some(self.dir.clone()),
            },
        }
    }
}

/// `~/x` → `$HOME/x`.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// Wall clock in Unix milliseconds; tests inject one to move the date.
pub type Clock = Arc<dyn Fn() -> UnixMillis + Send + Sync>;

/// Where console lines go.
#[derive(Clone)]
pub enum ConsoleSink {
    Stdout,
    Stderr,
    /// Tests capture lines.
    Custom(Arc<dyn Fn(&str) + Send + Sync>),
}

impl ConsoleSink {
    fn write_line(&self, line: &str) {
        // Console failures (closed pipe) are ignored: logging must not take the gateway down.
        match self {
            Self::Stdout => {
                let _ = writeln!(std::io::stdout().lock(), "{line}");
            }
            Self::Stderr => {
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
            Self::Custom(f) => f(line),
        }
    }

    fn is_terminal(&self) -> bool {
        match self {
            Self::Stdout => std::io::stdout().is_terminal(),
            Self::Stderr => std::io::stderr().is_terminal(),
            Self::Custom(_) => false,
        }
    }
}

/// The file currently written (what `logs.tail` reads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentFile {
    pub path: PathBuf,
    /// A rolling daily file: `logs.tail` falls back to the newest sibling when it is missing.
    pub rolling: bool,
}

/// The file the logger with `settings` writes to now (wall clock).
pub fn current_file(settings: &LogSettings) -> CurrentFile {
    let UnixMillis(ms) = crate::clock::wall();
    let time = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(
        i64::try_from(ms).unwrap_or(i64::MAX),
    )
    .unwrap_or_default()
    .with_timezone(&chrono::Local)
    .fixed_offset();
    let target = settings.target_for(&time);
    CurrentFile {
        rolling: target.rolling_dir.is_some(),
        path: target.path,
    }
}

/// Control over the installed logging: hot swap, current file, flush.
#[derive(Clone)]
pub struct LogHandle {
    shared: Arc<layer::Shared>,
}

impl std::fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogHandle")
            .field("settings", &self.settings())
            .finish()
    }
}

impl LogHandle {
    /// The settings in force.
    pub fn settings(&self) -> LogSettings {
        self.shared.active().settings.clone()
    }

    /// Hot reload: every later event uses `settings`. Returns the redact patterns that did not
    /// compile (they are skipped).
    pub fn apply(&self, settings: LogSettings) -> Vec<PatternError> {
        self.shared.apply(settings)
    }

    /// The file lines go to now (today's rolling file, or `logging.file`).
    pub fn current_file(&self) -> CurrentFile {
        let (time, _) = self.shared.now();
        let target = self.shared.active().settings.target_for(&time);
        CurrentFile {
            rolling: target.rolling_dir.is_some(),
            path: target.path,
        }
    }

    /// Waits (up to 5 s) until every line logged so far is written.
    pub fn flush(&self) {
        self.shared.queue().flush(Duration::from_secs(5));
    }

    /// Lines dropped because the writer queue was full.
    pub fn dropped_lines(&self) -> u64 {
        self.shared.queue().dropped()
    }

    /// Masks secrets in lines read back from the log file (`logs.tail`), as the reference
    /// does: the file may hold lines written before a pattern or secret was configured, or by
    /// another gateway sharing the rolling file.
    pub fn redact_lines(&self, lines: Vec<String>) -> Vec<String> {
        let active = self.shared.active();
        lines
            .into_iter()
            .map(|line| tail::redact_line(&active.redactor, line))
            .collect()
    }
}

/// Builds the layer and its handle without installing anything (tests use it with
/// `tracing::subscriber::with_default`). `clock` defaults to the wall clock.
pub fn layer(
    settings: LogSettings,
    console: ConsoleSink,
    clock: Option<Clock>,
) -> std::io::Result<(LogLayer, LogHandle, Vec<PatternError>)> {
    let queue = Queue::spawn()?;
    let clock = clock.unwrap_or_else(|| Arc::new(crate::clock::wall));
    let color = console.is_terminal();
    let (shared, errors) = layer::Shared::new(settings, queue, clock, console, color);
    let shared = Arc::new(shared);
    Ok((
        LogLayer {
            shared: shared.clone(),
        },
        LogHandle { shared },
        errors,
    ))
}

static INSTALLED: OnceLock<LogHandle> = OnceLock::new();

/// Installs the gateway's logging as the global `tracing` subscriber (once per process).
pub fn install(
    settings: LogSettings,
    console: ConsoleSink,
) -> std::io::Result<(LogHandle, Vec<PatternError>)> {
    if settings.redact_mode == RedactMode::Tools && settings.redact_patterns.is_empty() {
        // The default redaction list takes ~10 ms to compile: on a thread of its own, so the
        // gateway binds its port meanwhile; a line logged before it is ready waits for it.
        let _ = std::thread::Builder::new()
            .name("openclaw-redact".into())
            .spawn(openclaw_core::redact::Redactor::prepare_defaults);
    }
    let (layer, handle, errors) = layer(settings, console, None)?;
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::set_global_default(subscriber).map_err(std::io::Error::other)?;
    let _ = INSTALLED.set(handle.clone());
    Ok((handle, errors))
}

/// The handle of the logging [`install`] set up, if it did.
pub fn installed() -> Option<LogHandle> {
    INSTALLED.get().cloned()
}

#[cfg(test)]
mod tests;
