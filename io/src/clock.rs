//! The only place that reads a clock. Monotonic time is measured from a process epoch and
//! handed to core as [`openclaw_core::Instant`]; wall time only ever goes into payloads.

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
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_millis();
    UnixMillis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// A core deadline as a tokio deadline, for `sleep_until`.
pub fn to_tokio(at: Instant) -> tokio::time::Instant {
    tokio::time::Instant::from_std(epoch() + at.since_epoch())
}
