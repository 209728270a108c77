//! Config hot reload as a sans-IO machine (lifecycle.md §5): debounce file events, ask the
//! driver to load the file, diff the result against the running config, classify each changed
//! path (§5.4), and say what to do by `gateway.reload.mode`.
//!
//! The driver feeds [`Reloader::handle_change`] for every watcher event (the config file or an
//! included file), [`Reloader::handle_timeout`] at the deadline of `Wait`, and
//! [`Reloader::handle_loaded`] with the outcome of each [`ReloadOutput::Load`]; it carries out
//! outputs until `Wait`. One load runs at a time; events during a load re-arm one more debounced
//! load afterwards. A config that fails to load is never applied: the running config stays, the
//! error is reported ([`ReloadOutput::Status`]).

mod diff;
mod rules;

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::Value;

pub use diff::{diff_paths, diff_paths_refined};
pub use rules::{classify, plan, HotAction, ReloadPlan, Rule};

use crate::time::Instant;

/// `gateway.reload.debounceMs` default.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(300);
/// A missing file is re-read this many times before the reload is skipped (§3.5).
pub const MISSING_RETRIES: u8 = 2;
/// Delay between those re-reads.
pub const MISSING_RETRY_DELAY: Duration = Duration::from_millis(150);

/// `gateway.reload.mode` (§5.1). Unknown values mean `hybrid`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReloadMode {
    Off,
    Hot,
    Restart,
    #[default]
    Hybrid,
}

impl ReloadMode {
    pub fn parse(s: &str) -> Self {
        match s {
            "off" => Self::Off,
            "hot" => Self::Hot,
            "restart" => Self::Restart,
            _ => Self::Hybrid,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Hot => "hot",
            Self::Restart => "restart",
            Self::Hybrid => "hybrid",
        }
    }
}

/// The reload settings read from a config (resolved JSON value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReloadSettings {
    pub mode: ReloadMode,
    pub debounce: Duration,
}

impl Default for ReloadSettings {
    fn default() -> Self {
        Self { mode: ReloadMode::Hybrid, debounce: DEFAULT_DEBOUNCE }
    }
}

impl ReloadSettings {
    /// `gateway.reload.{mode, debounceMs}` of `config`; absent or malformed values take defaults
    /// (debounce: a non-negative number, floored).
    pub fn from_config(config: &Value) -> Self {
        let reload = &config["gateway"]["reload"];
        let mode = reload["mode"].as_str().map_or(ReloadMode::Hybrid, ReloadMode::parse);
        let debounce = match reload["debounceMs"].as_f64() {
            Some(ms) if ms.is_finite() && ms >= 0.0 => Duration::from_millis(ms.floor() as u64),
            _ => DEFAULT_DEBOUNCE,
        };
        Self { mode, debounce }
    }
}

/// What a [`ReloadOutput::Load`] found.
#[derive(Clone, Debug, PartialEq)]
pub enum LoadOutcome {
    /// The file parsed and validated; `config` is the resolved value (includes and `${VAR}`
    /// applied) the diff runs on.
    Loaded { config: Value },
    /// The file does not exist (editors briefly delete it while saving).
    Missing,
    /// It exists but does not load; `message` names the file, location and key path.
    Invalid { message: String },
}

/// Why nothing was applied, or what the mode decided instead (the driver logs these).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReloadNotice {
    /// `config reload skipped (invalid config): <message>`.
    SkippedInvalid { message: String },
    /// `config reload skipped (config file not found)`.
    SkippedMissing,
    /// `config reload disabled (gateway.reload.mode=off)`.
    Disabled { changed: Vec<String> },
    /// `config reload requires gateway restart; hot mode ignoring (<paths>)`.
    HotIgnoringRestart { paths: Vec<String> },
    /// A restart is already queued; this change rides along with it.
    RestartAlreadyQueued { changed: Vec<String> },
}

/// Something the driver must do.
#[derive(Clone, Debug, PartialEq)]
pub enum ReloadOutput {
    /// Read and validate the config now; answer with [`Reloader::handle_loaded`].
    Load,
    /// Apply these changes live (swap the running snapshot, run the plan's hot actions).
    /// `config` is the new resolved value; `changed` is never empty.
    Apply { config: Value, changed: Vec<String>, plan: ReloadPlan },
    /// Restart the gateway in-process to pick up `changed` (the new config is `config`).
    Restart { config: Value, changed: Vec<String>, reasons: Vec<String> },
    Notice(ReloadNotice),
    /// For `health.configReload`: whether hot reload is on (mode is not `off`) and why the last
    /// attempt was not applied (`None` = it was).
    Status { active: bool, last_error: Option<String> },
    /// Nothing more until this deadline (then `handle_timeout`) or an input.
    Wait(Option<Instant>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    /// A change was seen; load at this instant unless another change pushes it back.
    Debouncing(Instant),
    /// A load is out; `pending` = a change arrived meanwhile.
    Loading { pending: bool },
    /// The file was missing; re-read at this instant (`left` retries remain after it).
    RetryMissing { at: Instant, left: u8 },
}

/// The hot-reload machine. Holds the running config's resolved value.
#[derive(Debug)]
pub struct Reloader {
    current: Value,
    settings: ReloadSettings,
    state: State,
    missing_left: u8,
    /// A restart was requested and has not happened yet: later restart-class changes only log.
    restart_latched: bool,
    out: VecDeque<ReloadOutput>,
}

impl Reloader {
    /// Starts watching from `current` (the config the gateway started with).
    pub fn new(current: Value) -> Self {
        let settings = ReloadSettings::from_config(&current);
        Self {
            current,
            settings,
            state: State::Idle,
            missing_left: MISSING_RETRIES,
            restart_latched: false,
            out: VecDeque::new(),
        }
    }

    pub fn settings(&self) -> ReloadSettings {
        self.settings
    }

    /// The running config's resolved value.
    pub fn current(&self) -> &Value {
        &self.current
    }

    /// The watcher saw the config (or an included file) added, changed or removed.
    pub fn handle_change(&mut self, now: Instant) {
        match self.state {
            State::Loading { .. } => self.state = State::Loading { pending: true },
            State::Idle | State::Debouncing(_) | State::RetryMissing { .. } => {
                self.missing_left = MISSING_RETRIES;
                self.state = State::Debouncing(now + self.settings.debounce);
            }
        }
    }

    /// Call once `now` reached the deadline of the last `Wait`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Debouncing(at) | State::RetryMissing { at, .. } if now >= at => {
                if let State::RetryMissing { left, .. } = self.state {
                    self.missing_left = left;
                }
                self.state = State::Loading { pending: false };
                self.out.push_back(ReloadOutput::Load);
            }
            // Early (a stale timer) or nothing to wait for.
            State::Debouncing(_) | State::RetryMissing { .. } | State::Idle | State::Loading { .. } => {}
        }
    }

    /// The outcome of the last [`ReloadOutput::Load`].
    pub fn handle_loaded(&mut self, now: Instant, outcome: LoadOutcome) {
        let State::Loading { pending } = self.state else { return };
        self.state = State::Idle;
        match outcome {
            LoadOutcome::Missing if !pending && self.missing_left > 0 => {
                let left = self.missing_left - 1;
                self.state = State::RetryMissing { at: now + MISSING_RETRY_DELAY, left };
                return;
            }
            LoadOutcome::Missing => {
                if !pending {
                    self.out.push_back(ReloadOutput::Notice(ReloadNotice::SkippedMissing));
                }
            }
            LoadOutcome::Invalid { message } => {
                self.out.push_back(ReloadOutput::Notice(ReloadNotice::SkippedInvalid {
                    message: message.clone(),
                }));
                let active = self.settings.mode != ReloadMode::Off;
                self.out.push_back(ReloadOutput::Status { active, last_error: Some(message) });
            }
            LoadOutcome::Loaded { config } => self.apply(config),
        }
        self.missing_left = MISSING_RETRIES;
        if pending {
            self.state = State::Debouncing(now + self.settings.debounce);
        }
    }

    /// The gateway restarted (or is about to, on the latched request): new changes may ask again.
    pub fn handle_restarted(&mut self) {
        self.restart_latched = false;
    }

    fn apply(&mut self, next: Value) {
        let changed = diff_paths(&self.current, &next);
        // §5.3 step 3: the new config's reload settings govern this and later reloads.
        self.settings = ReloadSettings::from_config(&next);
        let active = self.settings.mode != ReloadMode::Off;
        self.out.push_back(ReloadOutput::Status { active, last_error: None });
        if changed.is_empty() {
            return;
        }
        let plan = plan(&changed);
        let mode = self.settings.mode;
        match mode {
            ReloadMode::Off => {
                // The running config is left as it is: "off" means the file is not followed.
                self.out.push_back(ReloadOutput::Notice(ReloadNotice::Disabled { changed }));
                return;
            }
            ReloadMode::Hot if plan.restart_gateway => {
                let paths = plan.restart_reasons.clone();
                self.out.push_back(ReloadOutput::Notice(ReloadNotice::HotIgnoringRestart { paths }));
                // The snapshot moves on (readers see the new values on next use), but the
                // reference runs no hot actions in this case.
                let hot = ReloadPlan { noop: plan.noop, ..ReloadPlan::default() };
                self.current = next.clone();
                self.out.push_back(ReloadOutput::Apply { config: next, changed, plan: hot });
                return;
            }
            ReloadMode::Restart | ReloadMode::Hybrid
                if mode == ReloadMode::Restart || plan.restart_gateway =>
            {
                self.current = next.clone();
                if self.restart_latched {
                    self.out.push_back(ReloadOutput::Notice(ReloadNotice::RestartAlreadyQueued { changed }));
                    return;
                }
                self.restart_latched = true;
                let reasons = if plan.restart_reasons.is_empty() { changed.clone() } else { plan.restart_reasons };
                self.out.push_back(ReloadOutput::Restart { config: next, changed, reasons });
                return;
            }
            ReloadMode::Hot | ReloadMode::Restart | ReloadMode::Hybrid => {}
        }
        self.current = next.clone();
        self.out.push_back(ReloadOutput::Apply { config: next, changed, plan });
    }

    /// The next thing to do; call until `Wait`.
    pub fn poll_output(&mut self) -> ReloadOutput {
        if let Some(out) = self.out.pop_front() {
            return out;
        }
        ReloadOutput::Wait(match self.state {
            State::Debouncing(at) | State::RetryMissing { at, .. } => Some(at),
            State::Idle | State::Loading { .. } => None,
        })
    }
}

#[cfg(test)]
mod tests;
