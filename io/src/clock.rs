//! The only place that reads a clock. Monotonic time is measured from a process epoch and
//! handed to core as [`openclaw_core::Instant`]; wall time only ever goes into payloads, file
//! stamps and log lines. A test below fails if a clock is read anywhere else in `io/src`.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openclaw_core::{Instant, UnixMillis};

fn epoch() -> std::time::Instant {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

/// Monotonic now, as core counts it.
pub fn now() -> Instant {
    Instant::from_epoch(std::time::Instant::now().saturating_duration_since(epoch()))
}

/// Wall-clock milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn wall() -> UnixMillis {
    let ms = system_time().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_millis();
    UnixMillis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Wall-clock now as the standard library's type (file times).
pub fn system_time() -> SystemTime {
    SystemTime::now()
}

/// Wall-clock now as RFC 3339 UTC with milliseconds (`2026-12-06T20:14:12.345Z`).
pub fn wall_rfc3339() -> String {
    chrono::DateTime::<chrono::Utc>::from(system_time()).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A core deadline as a tokio deadline, for `sleep_until`.
pub fn to_tokio(at: Instant) -> tokio::time::Instant {
    tokio::time::Instant::from_std(epoch() + at.since_epoch())
}

/// The tokio deadline `after` from now.
pub fn deadline_in(after: Duration) -> tokio::time::Instant {
    to_tokio(now() + after)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Reads of a clock, as they would be spelled in source.
    const CLOCK_READS: [&str; 4] = ["Instant::now", "SystemTime::now", "Utc::now", "Local::now"];

    fn scan(dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read io/src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                scan(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("src/clock.rs") {
                let text = std::fs::read_to_string(&path).expect("read source");
                for (i, line) in text.lines().enumerate() {
                    if CLOCK_READS.iter().any(|r| line.contains(r)) {
                        found.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                    }
                }
            }
        }
    }

    /// The crate's claim (lib.rs): every clock read is in this file.
    #[test]
    fn no_clock_is_read_outside_clock_rs() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        scan(&src, &mut found);
        assert!(found.is_empty(), "clock reads outside io/src/clock.rs:\n{}", found.join("\n"));
    }

    #[test]
    fn rfc3339_is_utc_with_millis() {
        let s = super::wall_rfc3339();
        assert!(s.ends_with('Z') && s.len() == "2026-12-06T20:14:12.345Z".len(), "{s}");
    }
}
