//! Drives [`openclaw_core::reload::Reloader`]: a `notify` watcher on the config file (and the
//! files it includes), the debounce deadline, loads on a blocking thread, and the resulting
//! decisions sent to the run loop as [`ReloadEvent`]s. Notices are logged here.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use notify::{RecursiveMode, Watcher};
use openclaw_core::reload::{LoadOutcome, ReloadNotice, ReloadOutput, ReloadPlan, Reloader};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::clock;

/// What the run loop must act on.
#[derive(Clone, Debug, PartialEq)]
pub enum ReloadEvent {
    /// Apply live (`config` is the new resolved value).
    Apply { config: Value, changed: Vec<String>, plan: ReloadPlan },
    /// Restart in-process to pick these changes up.
    Restart { changed: Vec<String>, reasons: Vec<String> },
    /// For `health.configReload`: hot reload on (mode is not `off`), and why the last reload
    /// was not applied (`None`: it was).
    Status { active: bool, last_error: Option<String> },
}

/// Reads and validates the config; runs on a blocking thread.
pub type Loader = Arc<dyn Fn() -> LoadOutcome + Send + Sync>;

/// A registered watch whose machine has not started: changes are kept (one is enough).
pub struct PendingWatch {
    watcher: notify::RecommendedWatcher,
    fs_rx: mpsc::Receiver<()>,
    /// Feeds a change by hand ([`PendingWatch::recheck`]).
    nudge: mpsc::Sender<()>,
}

impl PendingWatch {
    /// Treat the files as changed once: for a watch registered *after* the config was read
    /// (its folder did not exist before), so an edit in between is still compared.
    pub fn recheck(&self) {
        let _ = self.nudge.try_send(());
    }

    /// Starts the machine from the running `current` config (the snapshot read after
    /// [`ConfigWatcher::watch`]); a change seen meanwhile is handled at once.
    pub fn run(self, current: Value, loader: Loader, events: mpsc::Sender<ReloadEvent>) -> ConfigWatcher {
        let (restarted, restarted_rx) = mpsc::channel(1);
        let task = tokio::spawn(drive(Reloader::new(current), loader, self.fs_rx, restarted_rx, events));
        ConfigWatcher { task, restarted, _watcher: self.watcher }
    }
}

/// The running watcher; dropping it (or [`ConfigWatcher::stop`]) stops watching.
pub struct ConfigWatcher {
    task: JoinHandle<()>,
    restarted: mpsc::Sender<()>,
    // Kept alive for as long as we watch.
    _watcher: notify::RecommendedWatcher,
}

impl ConfigWatcher {
    /// Watches `files` (the config and its includes) starting from the running `current`
    /// config. Each file's directory is watched, since editors save by rename.
    pub fn start(
        files: &[PathBuf],
        current: Value,
        loader: Loader,
        events: mpsc::Sender<ReloadEvent>,
    ) -> Result<Self, notify::Error> {
        Ok(Self::watch(files)?.run(current, loader, events))
    }

    /// Registers the watch now, without a baseline yet: a change from here on is seen once
    /// [`PendingWatch::run`] starts the machine. Register before reading the config the gateway
    /// will run on, and pass that same snapshot to `run`, so no edit can fall between the read
    /// and the watch.
    pub fn watch(files: &[PathBuf]) -> Result<PendingWatch, notify::Error> {
        // One pending change is enough: the machine debounces anyway.
        let (fs_tx, fs_rx) = mpsc::channel::<()>(1);
        let nudge = fs_tx.clone();
        let names: BTreeSet<PathBuf> = files.iter().map(|f| absolute(f)).collect();
        let dirs: BTreeSet<PathBuf> = names.iter().filter_map(|f| f.parent().map(Path::to_owned)).collect();
        let file_names: BTreeSet<(PathBuf, OsString)> = names
            .iter()
            .filter_map(|f| Some((f.parent()?.to_owned(), f.file_name()?.to_owned())))
            .collect();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let Ok(event) = res else {
                tracing::warn!("config watcher error: {}", res.err().map(|e| e.to_string()).unwrap_or_default());
                return;
            };
            if event.kind.is_access() {
                return;
            }
            let ours = event.paths.iter().any(|p| {
                let dir = p.parent().map(Path::to_owned).unwrap_or_default();
                p.file_name().is_some_and(|n| file_names.contains(&(dir, n.to_owned())))
            });
            if ours {
                let _ = fs_tx.try_send(());
            }
        })?;
        for dir in &dirs {
            watcher.watch(dir, RecursiveMode::NonRecursive)?;
        }
        Ok(PendingWatch { watcher, fs_rx, nudge })
    }

    /// The gateway restarted: restart-class changes may request a restart again.
    pub fn restarted(&self) {
        let _ = self.restarted.try_send(());
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for ConfigWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

async fn drive(
    mut reloader: Reloader,
    loader: Loader,
    mut fs: mpsc::Receiver<()>,
    mut restarted: mpsc::Receiver<()>,
    events: mpsc::Sender<ReloadEvent>,
) {
    loop {
        let deadline = loop {
            match reloader.poll_output() {
                ReloadOutput::Wait(at) => break at,
                ReloadOutput::Load => {
                    let load = Arc::clone(&loader);
                    let outcome = tokio::task::spawn_blocking(move || load())
                        .await
                        .unwrap_or_else(|e| LoadOutcome::Invalid { message: format!("config load panicked: {e}") });
                    reloader.handle_loaded(clock::now(), outcome);
                }
                ReloadOutput::Apply { config, changed, plan } => {
                    tracing::info!("config change detected; evaluating reload ({})", changed.join(", "));
                    send(&events, ReloadEvent::Apply { config, changed, plan }).await;
                }
                ReloadOutput::Restart { changed, reasons, .. } => {
                    tracing::info!("config change detected; evaluating reload ({})", changed.join(", "));
                    tracing::info!("config change requires gateway restart ({})", reasons.join(", "));
                    send(&events, ReloadEvent::Restart { changed, reasons }).await;
                }
                ReloadOutput::Status { active, last_error } => {
                    send(&events, ReloadEvent::Status { active, last_error }).await;
                }
                ReloadOutput::Notice(notice) => log_notice(&notice),
            }
        };
        let sleep_at = clock::to_tokio(deadline.unwrap_or_default());
        tokio::select! {
            changed = fs.recv() => match changed {
                Some(()) => reloader.handle_change(clock::now()),
                None => return,
            },
            Some(()) = restarted.recv() => reloader.handle_restarted(),
            () = tokio::time::sleep_until(sleep_at), if deadline.is_some() => {
                reloader.handle_timeout(clock::now());
            }
        }
    }
}

async fn send(events: &mpsc::Sender<ReloadEvent>, event: ReloadEvent) {
    if events.send(event).await.is_err() {
        tracing::debug!("config reload: the run loop is gone");
    }
}

fn log_notice(notice: &ReloadNotice) {
    match notice {
        ReloadNotice::SkippedInvalid { message } => {
            tracing::warn!("config reload skipped (invalid config): {message}");
        }
        ReloadNotice::SkippedMissing => tracing::warn!("config reload skipped (config file not found)"),
        ReloadNotice::Disabled { changed } => {
            tracing::info!(
                "config reload disabled (gateway.reload.mode=off); not applying ({})",
                changed.join(", ")
            );
        }
        ReloadNotice::HotIgnoringRestart { paths } => tracing::warn!(
            "config reload requires gateway restart; hot mode ignoring ({})",
            paths.join(", ")
        ),
        ReloadNotice::RestartAlreadyQueued { changed } => tracing::info!(
            "config change ({}) will apply with the restart already queued",
            changed.join(", ")
        ),
    }
}
