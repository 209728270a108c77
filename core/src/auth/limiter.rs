//! Failed-auth rate limiting (protocol.md §3.3): 10 failures in 60 s lock a remote address out
//! for 5 min; loopback is never locked out but each failure delays the answer (250 ms doubling
//! to 5 s). The numbers and the loopback exemption come from `gateway.auth.rateLimit`
//! ([`RateLimitPolicy`]). Bounded: at most `MAX_TRACKED` addresses are remembered. Keyed by
//! [`LimitKey`]: the client address, or for a browser on a loopback socket its normalised
//! `Origin` (http.md §6.4 `browser-origin:<origin>`), so one page cannot lock out another.

use std::collections::{BTreeMap, VecDeque};
use core::net::IpAddr;
use std::time::Duration;

use crate::time::Instant;

pub const MAX_ATTEMPTS: usize = 10;
pub const WINDOW: Duration = Duration::from_secs(60);
pub const LOCKOUT: Duration = Duration::from_secs(5 * 60);
pub const LOOPBACK_BASE_DELAY: Duration = Duration::from_millis(250);
pub const LOOPBACK_MAX_DELAY: Duration = Duration::from_secs(5);
const MAX_TRACKED: usize = 10_000;

/// `gateway.auth.rateLimit` (lifecycle.md §2.3): how many wrong secrets inside `window` lock an
/// address out for `lockout`, and whether loopback is exempt (delayed instead of locked out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitPolicy {
    /// `maxAttempts` (10). At least 1: a policy of 0 would lock out before any attempt.
    pub max_attempts: usize,
    /// `windowMs` (60 s).
    pub window: Duration,
    /// `lockoutMs` (5 min).
    pub lockout: Duration,
    /// `exemptLoopback` (true).
    pub exempt_loopback: bool,
}

impl Default for RateLimitPolicy {
    fn default() -> Self {
        Self { max_attempts: MAX_ATTEMPTS, window: WINDOW, lockout: LOCKOUT, exempt_loopback: true }
    }
}

/// What a failure is counted against.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LimitKey {
    /// The client's address.
    Ip(IpAddr),
    /// A browser page on a loopback socket: its normalised `Origin` (`scheme://host[:port]`),
    /// the reference's `browser-origin:<origin>` key.
    BrowserOrigin(String),
}

impl From<IpAddr> for LimitKey {
    fn from(ip: IpAddr) -> Self {
        Self::Ip(ip)
    }
}

impl LimitKey {
    fn is_loopback(&self) -> bool {
        matches!(self, Self::Ip(ip) if ip.is_loopback())
    }
}

#[derive(Clone, Debug, Default)]
struct Entry {
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

/// Per-key failure tracking for the shared-secret scope.
#[derive(Clone, Debug, Default)]
pub struct AuthLimiter {
    policy: RateLimitPolicy,
    entries: BTreeMap<LimitKey, Entry>,
}

impl AuthLimiter {
    pub fn new(policy: RateLimitPolicy) -> Self {
        Self { policy, entries: BTreeMap::new() }
    }

    /// Takes a new policy (config reload); the addresses' histories are kept.
    pub fn set_policy(&mut self, policy: RateLimitPolicy) {
        self.policy = policy;
    }

    pub fn policy(&self) -> RateLimitPolicy {
        self.policy
    }

    /// `Err(remaining)` while `key` is locked out.
    pub fn check(&mut self, now: Instant, key: impl Into<LimitKey>) -> Result<(), Duration> {
        let Some(entry) = self.entries.get_mut(&key.into()) else { return Ok(()) };
        match entry.locked_until {
            Some(until) if until > now => Err(until - now),
            Some(_) => {
                entry.locked_until = None;
                entry.failures.clear();
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Records a failure. Returns how long to hold the answer back (loopback only).
    pub fn record_failure(&mut self, now: Instant, key: impl Into<LimitKey>) -> Duration {
        let key = key.into();
        if self.entries.len() >= MAX_TRACKED && !self.entries.contains_key(&key) {
            self.prune(now);
            if self.entries.len() >= MAX_TRACKED {
                // Still full of live lockouts: forget the oldest address rather than grow.
                if let Some(first) = self.entries.keys().next().cloned() {
                    self.entries.remove(&first);
                }
            }
        }
        let policy = self.policy;
        let loopback = key.is_loopback();
        let entry = self.entries.entry(key).or_default();
        while entry.failures.front().is_some_and(|&t| now.duration_since(t) >= policy.window) {
            entry.failures.pop_front();
        }
        entry.failures.push_back(now);
        if loopback && policy.exempt_loopback {
            let doublings = (entry.failures.len() - 1).min(16) as u32;
            return LOOPBACK_BASE_DELAY.saturating_mul(1 << doublings).min(LOOPBACK_MAX_DELAY);
        }
        if entry.failures.len() >= policy.max_attempts.max(1) {
            entry.locked_until = Some(now + policy.lockout);
        }
        Duration::ZERO
    }

    /// A success clears the key's history.
    pub fn record_success(&mut self, key: impl Into<LimitKey>) {
        self.entries.remove(&key.into());
    }

    /// Drops entries with no live lockout and no failure inside the window.
    pub fn prune(&mut self, now: Instant) {
        let window = self.policy.window;
        self.entries.retain(|_, e| {
            e.locked_until.is_some_and(|u| u > now)
                || e.failures.back().is_some_and(|&t| now.duration_since(t) < window)
        });
    }

    pub fn tracked(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REMOTE: IpAddr = IpAddr::V4(core::net::Ipv4Addr::new(192, 0, 2, 7));
    const LOCAL: IpAddr = IpAddr::V4(core::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn ten_failures_in_a_minute_lock_out_for_five_minutes() {
        let t0 = Instant::ZERO;
        let mut l = AuthLimiter::default();
        for i in 0..9 {
            l.record_failure(t0 + Duration::from_secs(i), REMOTE);
            assert_eq!(l.check(t0 + Duration::from_secs(i), REMOTE), Ok(()));
        }
        l.record_failure(t0 + Duration::from_secs(9), REMOTE);
        assert_eq!(l.check(t0 + Duration::from_secs(10), REMOTE), Err(LOCKOUT - Duration::from_secs(1)));
        assert!(l.check(t0 + Duration::from_secs(9) + LOCKOUT - Duration::from_millis(1), REMOTE).is_err());
        assert_eq!(l.check(t0 + Duration::from_secs(9) + LOCKOUT, REMOTE), Ok(()));
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let t0 = Instant::ZERO;
        let mut l = AuthLimiter::default();
        for i in 0..20u64 {
            l.record_failure(t0 + Duration::from_secs(i * 7), REMOTE);
        }
        assert_eq!(l.check(t0 + Duration::from_secs(140), REMOTE), Ok(()));
    }

    #[test]
    fn loopback_gets_escalating_delay_not_lockout() {
        let t0 = Instant::ZERO;
        let mut l = AuthLimiter::default();
        let delays: Vec<_> = (0..8).map(|i| l.record_failure(t0 + Duration::from_millis(i), LOCAL)).collect();
        assert_eq!(delays[0], Duration::from_millis(250));
        assert_eq!(delays[1], Duration::from_millis(500));
        assert_eq!(delays[2], Duration::from_millis(1000));
        assert_eq!(delays[7], Duration::from_secs(5));
        for i in 0..20 {
            l.record_failure(t0 + Duration::from_millis(100 + i), LOCAL);
        }
        assert_eq!(l.check(t0 + Duration::from_secs(1), LOCAL), Ok(()));
        l.record_success(LOCAL);
        assert_eq!(l.record_failure(t0 + Duration::from_secs(2), LOCAL), Duration::from_millis(250));
    }

    #[test]
    fn configured_policy_sets_attempts_window_and_lockout() {
        let t0 = Instant::ZERO;
        let policy = RateLimitPolicy {
            max_attempts: 2,
            window: Duration::from_secs(5),
            lockout: Duration::from_secs(30),
            exempt_loopback: true,
        };
        let mut l = AuthLimiter::new(policy);
        l.record_failure(t0, REMOTE);
        // Outside the 5 s window: the first failure no longer counts.
        l.record_failure(t0 + Duration::from_secs(6), REMOTE);
        assert_eq!(l.check(t0 + Duration::from_secs(6), REMOTE), Ok(()));
        l.record_failure(t0 + Duration::from_secs(7), REMOTE);
        assert_eq!(l.check(t0 + Duration::from_secs(7), REMOTE), Err(Duration::from_secs(30)));
        assert_eq!(l.check(t0 + Duration::from_secs(37), REMOTE), Ok(()));
    }

    #[test]
    fn loopback_is_locked_out_when_not_exempt() {
        let t0 = Instant::ZERO;
        let policy = RateLimitPolicy { max_attempts: 3, exempt_loopback: false, ..RateLimitPolicy::default() };
        let mut l = AuthLimiter::new(policy);
        for i in 0..3 {
            assert_eq!(l.record_failure(t0 + Duration::from_millis(i), LOCAL), Duration::ZERO);
        }
        assert_eq!(l.check(t0 + Duration::from_secs(1), LOCAL), Err(LOCKOUT - Duration::from_secs(1) + Duration::from_millis(2)));
    }

    #[test]
    fn browser_origins_are_counted_apart() {
        let t0 = Instant::ZERO;
        let policy = RateLimitPolicy { max_attempts: 2, exempt_loopback: false, ..RateLimitPolicy::default() };
        let mut l = AuthLimiter::new(policy);
        let page = || LimitKey::BrowserOrigin("http://localhost:5173".into());
        let other = LimitKey::BrowserOrigin("http://127.0.0.1:9".into());
        assert_eq!(l.record_failure(t0, page()), Duration::ZERO);
        l.record_failure(t0, page());
        assert!(l.check(t0, page()).is_err());
        assert_eq!(l.check(t0, other), Ok(()));
        assert_eq!(l.check(t0, LOCAL), Ok(()));
    }

    #[test]
    fn memory_is_bounded() {
        let t0 = Instant::ZERO;
        let mut l = AuthLimiter::default();
        for i in 0..(MAX_TRACKED as u32 + 50) {
            let ip = IpAddr::V4(core::net::Ipv4Addr::from(0x0a00_0000 + i));
            l.record_failure(t0, ip);
        }
        assert!(l.tracked() <= MAX_TRACKED);
    }
}
