//! Monotonic time as a value, and deadlines keyed by an enum so every wake-up says why it
//! happened (quinn `TimerTable`).

use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

/// A point on the driver's monotonic clock: the time since an epoch the driver chose (the
/// process start in `io`, zero in tests). `core` never reads a clock; the driver passes this in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(Duration);

impl Instant {
    pub const ZERO: Self = Self(Duration::ZERO);

    pub fn from_epoch(since_epoch: Duration) -> Self {
        Self(since_epoch)
    }

    pub fn since_epoch(self) -> Duration {
        self.0
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn duration_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        self.0 = self.0.saturating_add(d);
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the epoch.
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(d))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}

/// A fixed table of optional deadlines indexed by a small enum `T`.
#[derive(Clone, Debug)]
pub struct Timers<T: TimerKind> {
    slots: Vec<Option<Instant>>,
    _kind: std::marker::PhantomData<T>,
}

/// An enum usable as a [`Timers`] index.
pub trait TimerKind: Copy + std::fmt::Debug + 'static {
    const ALL: &'static [Self];
    fn index(self) -> usize;
}

impl<T: TimerKind> Default for Timers<T> {
    fn default() -> Self {
        Self { slots: vec![None; T::ALL.len()], _kind: std::marker::PhantomData }
    }
}

impl<T: TimerKind> Timers<T> {
    pub fn set(&mut self, timer: T, at: Instant) {
        self.slots[timer.index()] = Some(at);
    }

    pub fn stop(&mut self, timer: T) {
        self.slots[timer.index()] = None;
    }

    pub fn get(&self, timer: T) -> Option<Instant> {
        self.slots[timer.index()]
    }

    pub fn stop_all(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
    }

    /// Is `timer` armed and due at `now`?
    pub fn is_due(&self, timer: T, now: Instant) -> bool {
        self.get(timer).is_some_and(|at| at <= now)
    }

    /// The earliest armed deadline and its reason.
    pub fn next(&self) -> Option<(Instant, T)> {
        T::ALL
            .iter()
            .filter_map(|&t| self.get(t).map(|at| (at, t)))
            .min_by_key(|&(at, _)| at)
    }
}
