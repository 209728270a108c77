//! Reconnect backoff (`computeBackoff` of the reference): `base = initial × factor^(attempt−1)`,
//! `delay = min(max, round(base + base × jitter × r))` with `r ∈ [0, 1)` from a seeded source, so
//! tests replay the same delays.

use std::time::Duration;

/// A backoff policy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BackoffPolicy {
    pub initial_ms: u64,
    pub max_ms: u64,
    pub factor: f64,
    /// Fraction of the base added at most (0.25 = up to +25 %).
    pub jitter: f64,
}

/// Telegram's polling restart loop: 2 s × 1.8 up to 30 s, jitter 0.25.
pub const TELEGRAM_POLLING: BackoffPolicy = BackoffPolicy { initial_ms: 2_000, max_ms: 30_000, factor: 1.8, jitter: 0.25 };

impl BackoffPolicy {
    /// The delay before attempt `attempt` (1 = the first retry; 0 is treated as 1), with the
    /// jitter fraction `r` (clamped to `[0, 1]`).
    pub fn delay(&self, attempt: u32, r: f64) -> Duration {
        let exp = attempt.saturating_sub(1).min(64) as i32;
        let base = self.initial_ms as f64 * self.factor.powi(exp);
        let jittered = base + base * self.jitter * r.clamp(0.0, 1.0);
        Duration::from_millis(jittered.round().min(self.max_ms as f64) as u64)
    }
}

/// A small deterministic jitter source (xorshift64*), seeded by the driver (from OS randomness in
/// production, a constant in tests).
#[derive(Clone, Debug)]
pub struct Jitter(u64);

impl Jitter {
    pub fn new(seed: u64) -> Self {
        // A zero state would stay zero.
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next fraction in `[0, 1)`.
    pub fn next_fraction(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_delays_grow_by_1_8_from_2_s_and_cap_at_30_s() {
        let ms = |a| TELEGRAM_POLLING.delay(a, 0.0).as_millis();
        assert_eq!([ms(0), ms(1), ms(2), ms(3), ms(4)], [2000, 2000, 3600, 6480, 11664]);
        assert_eq!(ms(6), 30_000); // 2000 × 1.8^5 = 37 791 → capped
        assert_eq!(ms(1000), 30_000);
    }

    #[test]
    fn jitter_adds_at_most_a_quarter_and_never_passes_the_cap() {
        assert_eq!(TELEGRAM_POLLING.delay(1, 1.0).as_millis(), 2500);
        assert_eq!(TELEGRAM_POLLING.delay(1, 0.5).as_millis(), 2250);
        assert_eq!(TELEGRAM_POLLING.delay(6, 1.0).as_millis(), 30_000);
        assert_eq!(TELEGRAM_POLLING.delay(1, 7.0).as_millis(), 2500, "r is clamped");
    }

    #[test]
    fn the_jitter_source_replays_per_seed_and_stays_in_range() {
        let (mut a, mut b, mut c) = (Jitter::new(7), Jitter::new(7), Jitter::new(8));
        let xs: Vec<f64> = (0..1000).map(|_| a.next_fraction()).collect();
        let ys: Vec<f64> = (0..1000).map(|_| b.next_fraction()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], c.next_fraction());
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(xs.iter().any(|x| *x > 0.5) && xs.iter().any(|x| *x < 0.5));
        let mut zero = Jitter::new(0);
        assert_ne!(zero.next_fraction(), zero.next_fraction());
    }
}
