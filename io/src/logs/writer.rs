//! The file side: a bounded queue drained by one writer thread, so logging never blocks the
//! async runtime on disk. A full queue drops the line and counts it; a failed open or write is
//! swallowed after one warning on stderr (lifecycle.md §10.1: "failures are swallowed").
//!
//! The queue is an unbounded `mpsc` channel (it allocates small blocks as lines arrive and frees
//! them as they are written) bounded by a shared count of queued lines: a `sync_channel` of
//! [`QUEUE_CAPACITY`] preallocated every slot, ~0.77 MiB held from start-up (issue #11).
//!
//! The rolling target is chosen per line by the layer (from the line's local date), so the
//! writer switches files exactly when the date in the lines changes; whenever it opens a
//! rolling file it prunes `openclaw-*.log` files in that directory older than 24 h.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender, SyncSender};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Lines waiting for the writer thread at most.
pub const QUEUE_CAPACITY: usize = 8192;
/// Rolling files older than this are deleted when a rolling file is opened.
pub const PRUNE_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Where one line goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub path: PathBuf,
    /// A daily file in a directory we prune (`None` for `logging.file`).
    pub rolling_dir: Option<PathBuf>,
}

pub(crate) enum Job {
    Line {
        target: Target,
        line: String,
        now: SystemTime,
    },
    /// Answered once every line queued before it is written and flushed.
    Flush(SyncSender<()>),
}

/// The open file, reopened when the target changes.
#[derive(Default)]
pub struct FileSink {
    open: Option<(PathBuf, File)>,
}

impl FileSink {
    /// Appends `line` and a newline to `target`, opening (and pruning) first if it changed.
    pub fn write(&mut self, target: &Target, line: &str, now: SystemTime) -> std::io::Result<()> {
        let current = self
            .open
            .as_ref()
            .is_some_and(|(path, _)| *path == target.path);
        if !current {
            self.open = None;
            if let Some(parent) = target.path.parent().filter(|p| !p.as_os_str().is_empty()) {
                create_private_dir(parent)?;
            }
            let file = open_append(&target.path)?;
            self.open = Some((target.path.clone(), file));
            if let Some(dir) = &target.rolling_dir {
                prune(dir, &target.path, now);
            }
        }
        let Some((_, file)) = self.open.as_mut() else {
            return Ok(());
        };
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        // One write call per line: concurrent appenders (another gateway) never split a line.
        file.write_all(&bytes)
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        match self.open.as_mut() {
            Some((_, file)) => file.flush(),
            None => Ok(()),
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn open_append(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// Deletes `openclaw-*.log` in `dir` last modified more than [`PRUNE_AGE`] before `now`,
/// except `keep`. Errors are ignored: pruning is housekeeping.
pub fn prune(dir: &Path, keep: &Path, now: SystemTime) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with("openclaw-") && name.ends_with(".log")) || entry.path() == keep {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age > PRUNE_AGE);
        if meta.is_file() && old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The producer side, shared by the layer and the handle.
#[derive(Clone)]
pub(crate) struct Queue {
    tx: Sender<Job>,
    /// Lines sent and not yet taken by the writer; never more than `capacity`.
    queued: Arc<AtomicUsize>,
    capacity: usize,
    dropped: Arc<AtomicU64>,
    /// Drops not yet reported in the file.
    unreported: Arc<AtomicU64>,
}

impl Queue {
    /// Starts the writer thread.
    pub(crate) fn spawn() -> std::io::Result<Self> {
        let (queue, rx) = Self::unstarted(QUEUE_CAPACITY);
        std::thread::Builder::new()
            .name("openclaw-log-writer".into())
            .spawn(move || run(rx))?;
        Ok(queue)
    }

    fn unstarted(capacity: usize) -> (Self, Inbox) {
        let (tx, rx) = mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let queue = Self {
            tx,
            queued: Arc::clone(&queued),
            capacity,
            dropped: Arc::new(AtomicU64::new(0)),
            unreported: Arc::new(AtomicU64::new(0)),
        };
        (queue, Inbox { rx, queued })
    }

    /// Queues a line; never blocks. A full queue drops the line and counts it.
    pub(crate) fn push(&self, target: Target, line: String, now: SystemTime) {
        let reserved = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .is_ok();
        let sent = reserved && self.tx.send(Job::Line { target, line, now }).is_ok();
        if !sent {
            if reserved {
                self.queued.fetch_sub(1, Ordering::AcqRel);
            }
            self.dropped.fetch_add(1, Ordering::Relaxed);
            self.unreported.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Blocks until everything queued so far is on disk (tests, shutdown).
    pub(crate) fn flush(&self, timeout: Duration) {
        let (ack, done) = mpsc::sync_channel(1);
        if self.tx.send(Job::Flush(ack)).is_ok() {
            let _ = done.recv_timeout(timeout);
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Drops since the last call (the layer writes a warning line about them).
    pub(crate) fn take_unreported(&self) -> u64 {
        self.unreported.swap(0, Ordering::Relaxed)
    }
}

/// The writer's side of the queue: each line taken frees one place.
pub(crate) struct Inbox {
    rx: mpsc::Receiver<Job>,
    queued: Arc<AtomicUsize>,
}

impl Inbox {
    fn taken(&self, job: Job) -> Job {
        if matches!(job, Job::Line { .. }) {
            self.queued.fetch_sub(1, Ordering::AcqRel);
        }
        job
    }

    /// The next job; `None` once every producer is gone.
    fn recv(&self) -> Option<Job> {
        self.rx.recv().ok().map(|job| self.taken(job))
    }

    /// The jobs queued now, without waiting.
    #[cfg(test)]
    fn try_iter(&self) -> impl Iterator<Item = Job> + '_ {
        self.rx.try_iter().map(|job| self.taken(job))
    }
}

fn run(rx: Inbox) {
    let mut sink = FileSink::default();
    let warned = AtomicBool::new(false);
    while let Some(job) = rx.recv() {
        match job {
            Job::Line { target, line, now } => {
                if let Err(e) = sink.write(&target, &line, now) {
                    // Not through tracing: that would feed this very queue.
                    if !warned.swap(true, Ordering::Relaxed) {
                        #[allow(clippy::print_stderr)]
                        {
                            eprintln!(
                                "openclaw: cannot write the log file {}: {e} (further errors are not reported)",
                                target.path.display()
                            );
                        }
                    }
                }
            }
            // Lines go straight to the OS (unbuffered file), so a flush only orders.
            Job::Flush(ack) => {
                let _ = sink.flush();
                let _ = ack.send(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_age(path: &Path, now: SystemTime, age: Duration) {
        let file = File::options().write(true).open(path).unwrap();
        file.set_modified(now - age).unwrap();
    }

    #[test]
    fn switching_to_a_new_rolling_file_prunes_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let now = crate::clock::system_time();
        for (name, age_h) in [
            ("openclaw-2026-11-20.log", 48),
            ("openclaw-2026-11-24.1.log", 30),
            ("openclaw-2026-11-25.log", 1),
            ("other.log", 100),
            ("openclaw-notes.txt", 100),
        ] {
            std::fs::write(d.join(name), "x\n").unwrap();
            set_age(&d.join(name), now, Duration::from_secs(age_h * 3600));
        }
        let mut sink = FileSink::default();
        let target = |name: &str| Target {
            path: d.join(name),
            rolling_dir: Some(d.to_owned()),
        };
        sink.write(&target("openclaw-2026-11-25.log"), "a", now)
            .unwrap();
        sink.write(&target("openclaw-2026-11-26.log"), "b", now)
            .unwrap();
        sink.flush().unwrap();
        let mut names: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "openclaw-2026-11-25.log",
                "openclaw-2026-11-26.log",
                "openclaw-notes.txt",
                "other.log"
            ]
        );
        assert_eq!(
            std::fs::read_to_string(d.join("openclaw-2026-11-25.log")).unwrap(),
            "x\na\n"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("openclaw-2026-11-26.log")).unwrap(),
            "b\n"
        );
    }

    #[test]
    fn a_fixed_file_is_never_pruned_around() {
        let dir = tempfile::tempdir().unwrap();
        let now = crate::clock::system_time();
        let old = dir.path().join("openclaw-old.log");
        std::fs::write(&old, "x\n").unwrap();
        set_age(&old, now, Duration::from_secs(72 * 3600));
        let mut sink = FileSink::default();
        let target = Target {
            path: dir.path().join("sub/gw.log"),
            rolling_dir: None,
        };
        sink.write(&target, "line", now).unwrap();
        assert!(old.exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("sub/gw.log")).unwrap(),
            "line\n"
        );
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_blocking() {
        let (queue, rx) = Queue::unstarted(2);
        let target = Target {
            path: PathBuf::from("/nonexistent/x.log"),
            rolling_dir: None,
        };
        for i in 0..5 {
            queue.push(target.clone(), format!("line {i}"), crate::clock::system_time());
        }
        assert_eq!(queue.dropped(), 3);
        assert_eq!(queue.take_unreported(), 3);
        assert_eq!(queue.take_unreported(), 0);
        let kept: Vec<String> = rx
            .try_iter()
            .filter_map(|job| match job {
                Job::Line { line, .. } => Some(line),
                Job::Flush(_) => None,
            })
            .collect();
        assert_eq!(kept, ["line 0", "line 1"]);
    }

    #[test]
    fn unwritable_targets_are_swallowed_by_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let queue = Queue::spawn().unwrap();
        let target = Target {
            path: blocker.join("cannot/be.log"),
            rolling_dir: None,
        };
        queue.push(target, "x".into(), crate::clock::system_time());
        queue.flush(Duration::from_secs(10));
        assert_eq!(queue.dropped(), 0);
    }
}
