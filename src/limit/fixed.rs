//! The fixed window: a counter that resets at aligned instants.

use core::time::Duration;

use super::{
    CostTooLarge, Decision, Limit, LimitError, LimitInfo, allowance, denial, effective,
    ensure_fits, window_nanos,
};
use crate::time::Instant;

/// Never more than `quota` units in one window, where windows are aligned to
/// whole multiples of `window` since the clock's origin: `[0, w)`, `[w, 2w)`…
///
/// The counter resets at each window boundary (the *reset instant*), so up to
/// `2 × quota` units can pass within any `window`-long span that straddles a
/// boundary. Use [`SlidingWindow`](super::SlidingWindow) when that matters.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::limit::{FixedWindow, Limit};
/// use keyrate::time::Instant;
///
/// let minute = FixedWindow::new(2, Duration::from_secs(60))?;
/// let mut state = minute.new_state();
/// assert!(minute.check(&mut state, Instant::from_secs(50), 2)?.is_allowed());
/// let refused = minute.check(&mut state, Instant::from_secs(59), 1)?;
/// assert_eq!(refused.retry_after(), Some(Duration::from_secs(1)));
/// assert_eq!(minute.reset_at(Instant::from_secs(59)), Instant::from_secs(60));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedWindow {
    quota: u32,
    window: u64,
}

impl FixedWindow {
    /// At most `quota` units per aligned `window`.
    ///
    /// # Errors
    ///
    /// [`LimitError::ZeroQuota`], [`LimitError::ZeroWindow`] and
    /// [`LimitError::WindowTooLong`].
    pub fn new(quota: u32, window: Duration) -> Result<Self, LimitError> {
        if quota == 0 {
            return Err(LimitError::ZeroQuota);
        }
        let window = window_nanos(window)?;
        Ok(FixedWindow { quota, window })
    }

    /// Start of the window containing `now`, in nanoseconds.
    fn start_of(&self, now: u64) -> u64 {
        now - now % self.window
    }

    /// The reset instant of the window containing `now`: the first instant
    /// of the next window. It is [`Instant::MAX`] in the last, partial
    /// window before the end of time.
    pub fn reset_at(&self, now: Instant) -> Instant {
        let start = self.start_of(now.as_nanos());
        Instant::from_nanos(start.saturating_add(self.window))
    }

    /// Units counted at `now` (zero once a new window has begun).
    fn used_at(&self, state: &FixedWindowState, now: u64) -> u32 {
        if self.start_of(now) == self.start_of(state.latest) {
            state.count
        } else {
            0
        }
    }

    /// Moves the state to `now` (already at least `state.latest`), dropping
    /// the count of a window that has ended.
    fn advance(&self, state: &mut FixedWindowState, now: u64) {
        state.count = self.used_at(state, now);
        state.latest = now;
    }

    #[inline]
    fn decide(&self, used: u32, now: u64, cost: u32) -> Decision {
        let remaining = self.quota.saturating_sub(used);
        let reset = self.reset_at(Instant::from_nanos(now)).as_nanos();
        if cost <= remaining {
            let at = if used == 0 && cost == 0 { now } else { reset };
            allowance(remaining - cost, now, at)
        } else {
            denial(remaining, now, reset)
        }
    }
}

impl Limit for FixedWindow {
    type State = FixedWindowState;

    fn new_state(&self) -> FixedWindowState {
        FixedWindowState::default()
    }

    fn capacity(&self) -> u32 {
        self.quota
    }

    fn info(&self) -> LimitInfo {
        LimitInfo {
            quota: self.quota,
            window: Duration::from_nanos(self.window),
        }
    }

    #[inline]
    fn peek(
        &self,
        state: &FixedWindowState,
        now: Instant,
        cost: u32,
    ) -> Result<Decision, CostTooLarge> {
        ensure_fits(cost, self.quota)?;
        let now = effective(now, state.latest);
        Ok(self.decide(self.used_at(state, now), now, cost))
    }

    #[inline]
    fn assess(
        &self,
        state: &mut FixedWindowState,
        now: Instant,
        cost: u32,
    ) -> Result<Decision, CostTooLarge> {
        ensure_fits(cost, self.quota)?;
        let now = effective(now, state.latest);
        self.advance(state, now);
        Ok(self.decide(state.count, now, cost))
    }

    #[inline]
    fn charge(&self, state: &mut FixedWindowState, now: Instant, cost: u32) {
        let now = effective(now, state.latest);
        self.advance(state, now);
        state.count = state.count.saturating_add(cost);
    }

    fn is_idle(&self, state: &FixedWindowState, now: Instant) -> bool {
        // Before the latest time seen, a fresh state would judge late
        // requests at their own stamps: not the same decisions.
        now.as_nanos() >= state.latest && self.used_at(state, now.as_nanos()) == 0
    }
}

/// A [`FixedWindow`]'s counter for one key: the latest time seen and the
/// units counted in that time's window (16 bytes).
///
/// A `now` earlier than the latest time seen is judged at that time: it can
/// never reopen an earlier window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FixedWindowState {
    latest: u64,
    count: u32,
}

impl FixedWindowState {
    /// The latest time seen (nanoseconds) and the units counted in its
    /// window: for taking a snapshot.
    #[cfg(feature = "serde")]
    pub(crate) fn parts(&self) -> (u64, u32) {
        (self.latest, self.count)
    }

    /// A state that has seen `latest` and counts `count` units in its
    /// window: for restoring a snapshot.
    #[cfg(feature = "serde")]
    pub(crate) fn from_parts(latest: u64, count: u32) -> FixedWindowState {
        FixedWindowState { latest, count }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_resets_at_the_aligned_boundary() {
        let w = FixedWindow::new(1, Duration::from_secs(10)).unwrap();
        let mut s = w.new_state();
        assert!(
            w.check(&mut s, Instant::from_secs(9), 1)
                .unwrap()
                .is_allowed()
        );
        assert!(
            !w.check(&mut s, Instant::from_secs(9), 1)
                .unwrap()
                .is_allowed()
        );
        assert!(
            w.check(&mut s, Instant::from_secs(10), 1)
                .unwrap()
                .is_allowed()
        );
    }

    #[test]
    fn late_request_cannot_reopen_an_earlier_window() {
        let w = FixedWindow::new(1, Duration::from_secs(10)).unwrap();
        let mut s = w.new_state();
        assert!(
            w.check(&mut s, Instant::from_secs(15), 1)
                .unwrap()
                .is_allowed()
        );
        assert!(
            !w.check(&mut s, Instant::from_secs(5), 1)
                .unwrap()
                .is_allowed()
        );
    }

    #[test]
    fn last_window_before_the_end_of_time_resets_at_max() {
        let w = FixedWindow::new(1, Duration::from_secs(7)).unwrap();
        let mut s = w.new_state();
        assert!(w.check(&mut s, Instant::MAX, 1).unwrap().is_allowed());
        let d = w.check(&mut s, Instant::MAX, 1).unwrap();
        assert_eq!(d.retry_after(), Some(Duration::from_nanos(1)));
    }
}
