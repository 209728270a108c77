//! Drives [`openclaw_core::reload::Reloader`]: a watch on the config file (and the files it
//! includes), the debounce deadline, loads on a blocking thread, and the resulting decisions
//! sent to the run loop as [`ReloadEvent`]s. Notices are logged here.
//!
//! The watch polls: every [`POLL_INTERVAL`] each file's identity (device, inode, size, mtime and
//! ctime to the nanosecond, or its absence) is compared with the last one seen, so an edit in
//! place, a save by rename, a creation and a deletion are all seen. It is not inotify on
//! purpose: a process holding an inotify mark cannot exit before the kernel has waited out a
//! grace period to free it (measured here: +8-20 ms on every exit, the bulk of the idle
//! SIGTERM-to-exit time), while a stat of one to three files four times a second costs nothing
//! measurable and needs no thread.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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

/// How often the watched files are looked at (the reload debounce, 300 ms by default, comes
/// after this).
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// A registered watch whose machine has not started: changes are kept (one is enough).
pub struct PendingWatch {
    watcher: Poller,
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

/// The polling task; stops when dropped.
struct Poller(JoinHandle<()>);

impl Drop for Poller {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The running watcher; dropping it (or [`ConfigWatcher::stop`]) stops watching.
pub struct ConfigWatcher {
    task: JoinHandle<()>,
    restarted: mpsc::Sender<()>,
    // Kept alive for as long as we watch.
    _watcher: Poller,
}

impl ConfigWatcher {
    /// Watches `files` (the config and its includes) starting from the running `current`
    /// config. Must be called inside the tokio runtime.
    pub fn start(files: &[PathBuf], current: Value, loader: Loader, events: mpsc::Sender<ReloadEvent>) -> Self {
        Self::watch(files).run(current, loader, events)
    }

    /// Registers the watch now, without a baseline config yet: a change from here on is seen
    /// once [`PendingWatch::run`] starts the machine. Register before reading the config the
    /// gateway will run on, and pass that same snapshot to `run`, so no edit can fall between
    /// the read and the watch. Files (and folders) that do not exist yet are watched too: their
    /// creation is a change. Must be called inside the tokio runtime.
    pub fn watch(files: &[PathBuf]) -> PendingWatch {
        // One pending change is enough: the machine debounces anyway.
        let (fs_tx, fs_rx) = mpsc::channel::<()>(1);
        let nudge = fs_tx.clone();
        let names: Vec<PathBuf> = files.iter().map(|f| absolute(f)).collect::<BTreeSet<_>>().into_iter().collect();
        // The baseline is taken now, before the caller reads the config.
        let seen = identities(&names);
        let watcher = Poller(tokio::spawn(poll(names, seen, fs_tx)));
        PendingWatch { watcher, fs_rx, nudge }
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

/// What a file is now, to the nanosecond; `None` when it does not exist (or cannot be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

fn identities(files: &[PathBuf]) -> Vec<Option<Identity>> {
    use std::os::unix::fs::MetadataExt;
    files
        .iter()
        .map(|f| {
            // Follows symlinks: an edit of a linked config's target is a change too.
            let m = std::fs::metadata(f).ok()?;
            Some(Identity {
                dev: m.dev(),
                ino: m.ino(),
                len: m.len(),
                mtime: (m.mtime(), m.mtime_nsec()),
                ctime: (m.ctime(), m.ctime_nsec()),
            })
        })
        .collect()
}

/// Compares the files' identities with `seen` every [`POLL_INTERVAL`]; a difference is one
/// change. (A few `stat`s of local files: done in place rather than on a blocking thread.)
async fn poll(files: Vec<PathBuf>, mut seen: Vec<Option<Identity>>, changed: mpsc::Sender<()>) {
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = identities(&files);
        if now != seen {
            seen = now;
            if let Err(mpsc::error::TrySendError::Closed(())) = changed.try_send(()) {
                return;
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Long enough for any loaded machine; the poll itself comes every [`POLL_INTERVAL`].
    const DEADLINE: Duration = Duration::from_secs(20);

    async fn next_change(w: &mut PendingWatch) {
        tokio::time::timeout(DEADLINE, w.fs_rx.recv()).await.expect("a change within the deadline").unwrap();
    }

    /// Writes `text` to `file` the way editors save: a new file renamed over it (one change).
    fn save(file: &Path, text: &str) {
        let tmp = file.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, file).unwrap();
    }

    #[tokio::test]
    async fn sees_a_creation_a_save_by_rename_a_deletion_and_an_edit_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("conf/openclaw.json");
        let mut w = ConfigWatcher::watch(std::slice::from_ref(&file));
        // The folder and the file do not exist yet: their creation is a change.
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        save(&file, "{}");
        next_change(&mut w).await;
        // The same size and text, a new inode.
        save(&file, "{}");
        next_change(&mut w).await;
        std::fs::remove_file(&file).unwrap();
        next_change(&mut w).await;
        save(&file, "{}");
        next_change(&mut w).await;
        // In place, the same size (last: a truncate-then-write may be seen as two changes).
        std::fs::write(&file, "[]").unwrap();
        next_change(&mut w).await;
    }
}
