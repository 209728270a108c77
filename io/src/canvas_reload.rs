//! The canvas host's live reload (http.md §7.3): while at least one socket is open on
//! `/__openclaw__/ws`, the documents folder is polled every [`POLL_INTERVAL`] (each file's path,
//! size and mtime; dotfiles and `node_modules` ignored) and a difference sends every socket the
//! text frame `reload`. Polling, not inotify, for the reason of [`crate::reload`] (a live inotify
//! mark delays process exit); with no socket open nothing is scanned. Sockets are admitted by
//! the upgrade ([`crate::http`]) for local-direct callers or the gateway's bearer secret.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use fastwebsockets::{Frame, Payload, Role};
use tokio::io::AsyncReadExt;
use tokio::sync::{broadcast, mpsc};

use crate::canvas_caps::CanvasCaps;
use crate::server::TaskToken;

/// How often the folder is compared while someone listens.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// What a scan sees: every file's size and mtime by path.
type Snapshot = BTreeMap<PathBuf, (u64, Option<SystemTime>)>;

/// The canvas host of a running gateway: where documents live and the reload broadcast.
pub(crate) struct CanvasHost {
    /// `<state>/canvas/documents` (created at start).
    pub root: PathBuf,
    reload: broadcast::Sender<()>,
    /// The last scan while someone listens; `None` while nobody does.
    seen: Arc<Mutex<Option<Snapshot>>>,
    /// The capabilities of the sockets offered a canvas URL.
    pub caps: Arc<CanvasCaps>,
}

impl CanvasHost {
    /// Creates the documents folder and starts the (idle until needed) poller.
    pub(crate) fn start(root: PathBuf) -> Self {
        if let Err(e) = std::fs::create_dir_all(&root) {
            tracing::warn!(root = %root.display(), error = %e, "canvas host: cannot create the documents folder");
        }
        let (reload, _) = broadcast::channel(4);
        let seen = Arc::new(Mutex::new(None));
        tokio::spawn(poll(root.clone(), reload.clone(), Arc::clone(&seen)));
        Self { root, reload, seen, caps: Arc::default() }
    }

    /// A new listener; the first one takes the baseline now, so a change made after its
    /// socket opened is seen.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<()> {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.is_none() {
            *seen = Some(scan(&self.root));
        }
        self.reload.subscribe()
    }
}

/// Every file under `dir` (dotfiles and `node_modules` skipped), no symlinks followed.
fn scan(root: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "node_modules" {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                out.insert(entry.path(), (meta.len(), meta.modified().ok()));
            }
        }
    }
    out
}

async fn poll(root: PathBuf, reload: broadcast::Sender<()>, seen: Arc<Mutex<Option<Snapshot>>>) {
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if reload.receiver_count() == 0 {
            *seen.lock().unwrap_or_else(PoisonError::into_inner) = None;
            continue;
        }
        let dir = root.clone();
        let Ok(now) = tokio::task::spawn_blocking(move || scan(&dir)).await else { continue };
        let changed = {
            let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
            let changed = seen.as_ref().is_some_and(|before| *before != now);
            *seen = Some(now);
            changed
        };
        if changed {
            let _ = reload.send(());
        }
    }
}

/// One live-reload socket: `reload` on every change until the client goes or the gateway
/// stops.
pub(crate) async fn serve(
    fut: fastwebsockets::upgrade::UpgradeFut,
    mut changes: broadcast::Receiver<()>,
    mut shutdown: tokio::sync::watch::Receiver<Option<crate::hub_task::ShutdownRequest>>,
    _token: TaskToken,
) {
    let Ok(ws) = fut.await else { return };
    let (mut rd, wr) = tokio::io::split(ws.into_inner());
    let (_, mut tx) = fastwebsockets::after_handshake_split(tokio::io::empty(), wr, Role::Server);
    let (closed_tx, mut closed) = mpsc::channel::<()>(1);
    // The client never needs to say anything: the reader only notices that it went away.
    let reader = tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while matches!(rd.read(&mut buf).await, Ok(n) if n > 0) {}
        let _ = closed_tx.send(()).await;
    });
    if shutdown.borrow_and_update().is_some() {
        reader.abort();
        return;
    }
    loop {
        tokio::select! {
            changed = changes.recv() => match changed {
                Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    if tx.write_frame(Frame::text(Payload::Borrowed(b"reload"))).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = closed.recv() => break,
            changed = shutdown.changed() => {
                let stopping = changed.is_err() || shutdown.borrow_and_update().is_some();
                if stopping {
                    let _ = tx.write_frame(Frame::close(1012, b"gateway shutting down")).await;
                    break;
                }
            }
        }
    }
    reader.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_see_changes_but_not_dotfiles_or_node_modules() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/node_modules")).unwrap();
        std::fs::write(root.join("a/index.html"), "1").unwrap();
        let before = scan(root);
        assert_eq!(before.len(), 1);
        std::fs::write(root.join("a/.swp"), "x").unwrap();
        std::fs::write(root.join("a/node_modules/x.js"), "x").unwrap();
        assert_eq!(scan(root), before);
        std::fs::write(root.join("a/index.html"), "22").unwrap();
        assert_ne!(scan(root), before);
    }
}
