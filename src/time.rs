//! Instants, clocks and the arithmetic every limiter relies on.
//!
//! An [`Instant`] counts nanoseconds from its clock's own origin in a `u64`,
//! so it is 8 bytes, `Copy`, and comparable only with instants from the same
//! clock. The latest representable instant is [`Instant::MAX`], about 584
//! years after the origin. Arithmetic never panics: additions past
//! [`Instant::MAX`] stop there, and differences that would be negative are
//! zero.
//!
//! Limiters take `now` as an argument on every call. A [`Clock`] is only a
//! convenience for callers that want to read the time from one place:
//! [`ManualClock`] for tests and simulations, and `MonotonicClock` (with the
//! `std` feature) for real servers.

use core::fmt;
use core::time::Duration;

/// A point in time, in nanoseconds since the origin of the clock it came from.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::time::Instant;
///
/// let t = Instant::from_secs(10);
/// assert_eq!(t.saturating_add(Duration::from_millis(1500)).as_nanos(), 11_500_000_000);
/// assert_eq!(Instant::MAX.saturating_add(Duration::from_secs(1)), Instant::MAX);
/// assert_eq!(t.saturating_duration_since(Instant::from_secs(12)), Duration::ZERO);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Instant(u64);

impl Instant {
    /// The clock's origin.
    pub const ZERO: Instant = Instant(0);

    /// The latest representable instant: `u64::MAX` nanoseconds, about 584
    /// years after the origin. Additions saturate here.
    pub const MAX: Instant = Instant(u64::MAX);

    /// The instant `nanos` nanoseconds after the origin.
    pub const fn from_nanos(nanos: u64) -> Instant {
        Instant(nanos)
    }

    /// The instant `millis` milliseconds after the origin, saturating at
    /// [`Instant::MAX`].
    pub const fn from_millis(millis: u64) -> Instant {
        Instant(millis.saturating_mul(1_000_000))
    }

    /// The instant `secs` seconds after the origin, saturating at
    /// [`Instant::MAX`].
    pub const fn from_secs(secs: u64) -> Instant {
        Instant(secs.saturating_mul(1_000_000_000))
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// `self + d`, or `None` past [`Instant::MAX`].
    pub fn checked_add(self, d: Duration) -> Option<Instant> {
        let nanos = duration_nanos(d)?;
        self.0.checked_add(nanos).map(Instant)
    }

    /// `self + d`, stopping at [`Instant::MAX`].
    pub fn saturating_add(self, d: Duration) -> Instant {
        self.checked_add(d).unwrap_or(Instant::MAX)
    }

    /// `self - d`, or `None` before the origin.
    pub fn checked_sub(self, d: Duration) -> Option<Instant> {
        let nanos = duration_nanos(d)?;
        self.0.checked_sub(nanos).map(Instant)
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// The time from `earlier` to `self`, or `None` if `earlier` is later.
    pub fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        self.0.checked_sub(earlier.0).map(Duration::from_nanos)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({:?})", Duration::from_nanos(self.0))
    }
}

/// A duration in whole nanoseconds, or `None` if it does not fit in a `u64`
/// (longer than about 584 years).
pub(crate) fn duration_nanos(d: Duration) -> Option<u64> {
    u64::try_from(d.as_nanos()).ok()
}

/// Whole seconds in `d`, rounded up, saturating at `u64::MAX`.
///
/// This is the rounding every header uses: a client that waits the rounded
/// figure never arrives early.
///
/// ```
/// use core::time::Duration;
/// use keyrate::time::ceil_secs;
///
/// assert_eq!(ceil_secs(Duration::ZERO), 0);
/// assert_eq!(ceil_secs(Duration::from_nanos(1)), 1);
/// assert_eq!(ceil_secs(Duration::from_secs(12)), 12);
/// assert_eq!(ceil_secs(Duration::from_millis(12_001)), 13);
/// ```
pub fn ceil_secs(d: Duration) -> u64 {
    let whole = d.as_secs();
    if d.subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    }
}

/// A source of the current [`Instant`].
///
/// Implementations must never go backwards. Limiters tolerate a `now` that
/// goes backwards anyway (see the crate docs), but a clock that does so makes
/// every limit stricter than configured.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Instant;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

#[cfg(feature = "alloc")]
impl<C: Clock + ?Sized> Clock for alloc::sync::Arc<C> {
    fn now(&self) -> Instant {
        (**self).now()
    }
}

/// A clock that moves only when told to: for tests and simulations.
///
/// It is shared by reference (or `Arc`) between a test and the code under
/// test: the test calls [`set`](ManualClock::set) or
/// [`advance`](ManualClock::advance), and every holder sees the new time. It
/// is `Sync` on targets with 64-bit atomics.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::time::{Clock, Instant, ManualClock};
///
/// let clock = ManualClock::new(Instant::from_secs(5));
/// let seen_by_code = &clock;
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(seen_by_code.now(), Instant::from_secs(7));
/// ```
#[derive(Debug, Default)]
pub struct ManualClock {
    #[cfg(target_has_atomic = "64")]
    nanos: core::sync::atomic::AtomicU64,
    #[cfg(not(target_has_atomic = "64"))]
    nanos: core::cell::Cell<u64>,
}

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: Instant) -> ManualClock {
        ManualClock {
            nanos: start.0.into(),
        }
    }

    /// Sets the time. Setting an earlier time is allowed, to test how code
    /// copes with a clock that jumps back.
    pub fn set(&self, now: Instant) {
        self.store(now.0);
    }

    /// Moves the time forward by `d`, stopping at [`Instant::MAX`]. Two
    /// threads advancing at once both count.
    pub fn advance(&self, d: Duration) {
        let nanos = duration_nanos(d).unwrap_or(u64::MAX);
        self.add(nanos);
    }

    #[cfg(target_has_atomic = "64")]
    fn add(&self, nanos: u64) {
        use core::sync::atomic::Ordering::SeqCst;
        let _ = self
            .nanos
            .fetch_update(SeqCst, SeqCst, |t| Some(t.saturating_add(nanos)));
    }

    #[cfg(not(target_has_atomic = "64"))]
    fn add(&self, nanos: u64) {
        self.nanos.set(self.nanos.get().saturating_add(nanos));
    }

    #[cfg(target_has_atomic = "64")]
    fn store(&self, nanos: u64) {
        self.nanos
            .store(nanos, core::sync::atomic::Ordering::SeqCst);
    }

    #[cfg(not(target_has_atomic = "64"))]
    fn store(&self, nanos: u64) {
        self.nanos.set(nanos);
    }
}

impl Clock for ManualClock {
    #[cfg(target_has_atomic = "64")]
    fn now(&self) -> Instant {
        Instant(self.nanos.load(core::sync::atomic::Ordering::SeqCst))
    }

    #[cfg(not(target_has_atomic = "64"))]
    fn now(&self) -> Instant {
        Instant(self.nanos.get())
    }
}

/// The operating system's monotonic clock, with its origin at the moment
/// this value was created.
///
/// Readings saturate at [`Instant::MAX`], 584 years after creation.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: std::time::Instant,
}

#[cfg(feature = "std")]
impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> MonotonicClock {
        MonotonicClock {
            origin: std::time::Instant::now(),
        }
    }
}

#[cfg(feature = "std")]
impl Default for MonotonicClock {
    fn default() -> Self {
        MonotonicClock::new()
    }
}

#[cfg(feature = "std")]
impl Clock for MonotonicClock {
    fn now(&self) -> Instant {
        let elapsed = self.origin.elapsed();
        Instant(duration_nanos(elapsed).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn additions_saturate_at_max() {
        let near = Instant::from_nanos(u64::MAX - 5);
        assert_eq!(near.checked_add(Duration::from_nanos(6)), None);
        assert_eq!(near.saturating_add(Duration::from_nanos(6)), Instant::MAX);
        assert_eq!(Instant::ZERO.saturating_add(Duration::MAX), Instant::MAX);
        assert_eq!(Instant::from_secs(u64::MAX), Instant::MAX);
    }

    #[test]
    fn subtractions_stop_at_the_origin() {
        assert_eq!(Instant::ZERO.checked_sub(Duration::from_nanos(1)), None);
        let t = Instant::from_secs(1);
        assert_eq!(t.checked_duration_since(Instant::from_secs(2)), None);
        assert_eq!(
            t.saturating_duration_since(Instant::ZERO),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn ceil_secs_rounds_up_and_saturates() {
        assert_eq!(ceil_secs(Duration::from_nanos(999_999_999)), 1);
        assert_eq!(ceil_secs(Duration::MAX), u64::MAX);
    }

    #[cfg(feature = "std")]
    #[test]
    fn manual_clock_advances_from_two_threads_lose_nothing() {
        let c = ManualClock::new(Instant::ZERO);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for _ in 0..100_000 {
                        c.advance(Duration::from_nanos(1));
                    }
                });
            }
        });
        assert_eq!(c.now(), Instant::from_nanos(200_000));
    }

    #[test]
    fn manual_clock_can_go_back() {
        let c = ManualClock::new(Instant::from_secs(3));
        c.set(Instant::from_secs(1));
        assert_eq!(c.now(), Instant::from_secs(1));
        c.advance(Duration::MAX);
        assert_eq!(c.now(), Instant::MAX);
    }

    #[cfg(feature = "std")]
    #[test]
    fn monotonic_clock_does_not_go_back() {
        let c = MonotonicClock::new();
        let a = c.now();
        let b = c.now();
        assert!(b >= a);
    }
}
