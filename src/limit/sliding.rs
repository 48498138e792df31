//! The exact sliding window: a log of admitted timestamps.

use core::fmt;
use core::marker::PhantomData;
use core::time::Duration;

use super::{
    CostTooLarge, Decision, Limit, LimitError, LimitInfo, allowance, denial, effective,
    ensure_fits, window_nanos,
};
use crate::time::Instant;

/// Storage for a [`SlidingWindow`]'s timestamps: one `u64` per unit of quota.
///
/// Implemented for `[u64; N]` (no heap; the quota must be at most `N`) and,
/// with the `alloc` feature, for `Box<[u64]>` (sized to the quota when the
/// state is created, never on a check; quotas up to 2^24).
pub trait Slots: AsRef<[u64]> + AsMut<[u64]> + Clone {
    /// The most units a buffer of this type can hold, if bounded.
    const MAX: Option<usize>;

    /// A zeroed buffer holding at least `len` timestamps.
    fn with_len(len: usize) -> Self;
}

impl<const N: usize> Slots for [u64; N] {
    const MAX: Option<usize> = Some(N);

    fn with_len(_len: usize) -> Self {
        [0; N]
    }
}

#[cfg(feature = "alloc")]
impl Slots for alloc::boxed::Box<[u64]> {
    /// 2^24 units (128 MiB of timestamps per key): a bound against a typo
    /// in a configuration turning into an enormous allocation.
    const MAX: Option<usize> = Some(1 << 24);

    fn with_len(len: usize) -> Self {
        alloc::vec![0; len].into_boxed_slice()
    }
}

/// Never more than `quota` units admitted in any window of length `window`,
/// and a request is admitted whenever that stays true.
///
/// A unit admitted at `t` counts against every check at `t'` with
/// `t <= t' < t + window`, and is free again from `t + window` on. The state
/// keeps one 8-byte timestamp per unit of quota, plus 24 bytes; `S`
/// chooses where those timestamps live (see [`Slots`]). A request of cost `c`
/// costs `O(c)` to charge; a check is amortized `O(1)`.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::limit::{Limit, SlidingWindow};
/// use keyrate::time::Instant;
///
/// // 60 per hour, stored inline: no heap needed.
/// let hourly = SlidingWindow::<[u64; 60]>::new(60, Duration::from_secs(3600))?;
/// let mut state = hourly.new_state();
/// for i in 0..60 {
///     assert!(hourly.check(&mut state, Instant::from_secs(i), 1)?.is_allowed());
/// }
/// let refused = hourly.check(&mut state, Instant::from_secs(60), 1)?;
/// // The first request, at t = 0, leaves the window at t = 3600.
/// assert_eq!(refused.retry_after(), Some(Duration::from_secs(3540)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SlidingWindow<S> {
    quota: u32,
    window: u64,
    slots: PhantomData<fn() -> S>,
}

impl<S> Clone for SlidingWindow<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for SlidingWindow<S> {}

impl<S> PartialEq for SlidingWindow<S> {
    fn eq(&self, other: &Self) -> bool {
        self.quota == other.quota && self.window == other.window
    }
}

impl<S> Eq for SlidingWindow<S> {}

impl<S> fmt::Debug for SlidingWindow<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlidingWindow")
            .field("quota", &self.quota)
            .field("window", &Duration::from_nanos(self.window))
            .finish()
    }
}

impl<S: Slots> SlidingWindow<S> {
    /// At most `quota` units in any `window`.
    ///
    /// # Errors
    ///
    /// [`LimitError::ZeroQuota`], [`LimitError::ZeroWindow`],
    /// [`LimitError::WindowTooLong`] past [`MAX_WINDOW`](super::MAX_WINDOW),
    /// and [`LimitError::QuotaTooLarge`] if `S` cannot hold `quota`
    /// timestamps.
    pub fn new(quota: u32, window: Duration) -> Result<Self, LimitError> {
        if quota == 0 {
            return Err(LimitError::ZeroQuota);
        }
        let window = window_nanos(window)?;
        let max = S::MAX.unwrap_or(usize::MAX);
        if usize::try_from(quota).map_or(true, |q| q > max) {
            return Err(LimitError::QuotaTooLarge {
                quota,
                capacity: max,
            });
        }
        Ok(SlidingWindow {
            quota,
            window,
            slots: PhantomData,
        })
    }

    /// The quota.
    pub fn quota(&self) -> u32 {
        self.quota
    }

    /// The window.
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.window)
    }

    /// True if a unit admitted at `t` still counts at `now`. Compared as a
    /// difference so that nothing saturates near [`Instant::MAX`].
    fn holds(&self, t: u64, now: u64) -> bool {
        now.saturating_sub(t) < self.window
    }

    /// Drops timestamps that have left the window at `now`.
    fn expire(&self, state: &mut SlidingWindowState<S>, now: u64) {
        while let Some(oldest) = state.oldest() {
            if self.holds(oldest, now) {
                break;
            }
            state.pop_oldest();
        }
    }

    /// Decides at `now` for a state whose expired entries are gone.
    #[inline]
    fn decide<T: Slots>(&self, state: &SlidingWindowState<T>, now: u64, cost: u32) -> Decision {
        let held = state.len;
        let remaining = self.quota.saturating_sub(held);
        if cost <= remaining {
            // The next unit back is the oldest one still held after charging.
            let oldest = if held > 0 { state.oldest() } else { None };
            let next_back = match oldest {
                Some(t) => t.saturating_add(self.window),
                None if cost > 0 => now.saturating_add(self.window),
                None => now,
            };
            return allowance(remaining - cost, now, next_back);
        }

        // `excess` of the held units must leave before `cost` fits; the
        // excess-th oldest decides when.
        let excess = (u64::from(held) + u64::from(cost)).saturating_sub(u64::from(self.quota));
        let excess = u32::try_from(excess).unwrap_or(u32::MAX);
        let at = state
            .nth_oldest(excess.saturating_sub(1))
            .map_or(u64::MAX, |t| t.saturating_add(self.window));
        denial(remaining, now, at)
    }

    /// The window in nanoseconds.
    #[cfg(feature = "serde")]
    pub(crate) fn window_nanos(&self) -> u64 {
        self.window
    }

    /// A state holding the units admitted at `times` (oldest first; past
    /// the quota the oldest are dropped) and having seen `latest`: for
    /// restoring a snapshot.
    #[cfg(feature = "serde")]
    pub(crate) fn state_from(
        &self,
        times: impl IntoIterator<Item = u64>,
        latest: u64,
    ) -> SlidingWindowState<S> {
        let mut state = Limit::new_state(self);
        for t in times {
            state.push(t);
        }
        state.latest = latest;
        state
    }

    /// Counts held units at `now` without modifying the state.
    fn held_at(&self, state: &SlidingWindowState<S>, now: u64) -> u32 {
        let mut expired = 0;
        while let Some(t) = state.nth_oldest(expired) {
            if self.holds(t, now) {
                break;
            }
            expired += 1;
        }
        state.len - expired
    }
}

impl<S: Slots> Limit for SlidingWindow<S> {
    type State = SlidingWindowState<S>;

    fn new_state(&self) -> SlidingWindowState<S> {
        let len = usize::try_from(self.quota).unwrap_or(usize::MAX);
        SlidingWindowState {
            slots: S::with_len(len),
            head: 0,
            len: 0,
            cap: self.quota,
            latest: 0,
        }
    }

    fn capacity(&self) -> u32 {
        self.quota
    }

    fn info(&self) -> LimitInfo {
        LimitInfo {
            quota: self.quota,
            window: self.window(),
        }
    }

    #[inline]
    fn peek(
        &self,
        state: &SlidingWindowState<S>,
        now: Instant,
        cost: u32,
    ) -> Result<Decision, CostTooLarge> {
        ensure_fits(cost, self.quota)?;
        let now = effective(now, state.latest);

        // Work on a view that skips expired entries without removing them.
        let expired = state.len - self.held_at(state, now);
        let view = state.skipping(expired);
        Ok(self.decide(&view, now, cost))
    }

    #[inline]
    fn assess(
        &self,
        state: &mut SlidingWindowState<S>,
        now: Instant,
        cost: u32,
    ) -> Result<Decision, CostTooLarge> {
        ensure_fits(cost, self.quota)?;
        let now = effective(now, state.latest);
        state.latest = now;
        self.expire(state, now);
        Ok(self.decide(state, now, cost))
    }

    #[inline]
    fn charge(&self, state: &mut SlidingWindowState<S>, now: Instant, cost: u32) {
        let now = effective(now, state.latest);
        state.latest = now;
        for _ in 0..cost {
            state.push(now);
        }
    }

    fn is_idle(&self, state: &SlidingWindowState<S>, now: Instant) -> bool {
        // Before the latest time seen, a fresh state would judge late
        // requests at their own stamps: not the same decisions.
        now.as_nanos() >= state.latest && self.held_at(state, now.as_nanos()) == 0
    }
}

/// The timestamps a [`SlidingWindow`] holds for one key, oldest first, in a
/// ring buffer.
#[derive(Clone)]
pub struct SlidingWindowState<S> {
    slots: S,
    /// Index of the oldest timestamp.
    head: u32,
    /// Number of timestamps held.
    len: u32,
    /// Ring size: the quota the state was made for.
    cap: u32,
    /// The latest `now` seen, in nanoseconds.
    latest: u64,
}

impl<S: AsRef<[u64]>> SlidingWindowState<S> {
    /// Number of units held (some may have expired since the last check).
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True if no unit is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The latest time this state has seen.
    pub fn latest(&self) -> Instant {
        Instant::from_nanos(self.latest)
    }

    #[inline]
    fn index(&self, n: u32) -> usize {
        // `head < cap` and `n <= cap`: one subtraction wraps the ring, no
        // division on the hot path.
        let i = u64::from(self.head) + u64::from(n);
        let cap = u64::from(self.cap);
        let i = if i >= cap { i - cap } else { i };
        usize::try_from(i).unwrap_or(0)
    }

    fn nth_oldest(&self, n: u32) -> Option<u64> {
        if n >= self.len {
            return None;
        }
        self.slots.as_ref().get(self.index(n)).copied()
    }

    fn oldest(&self) -> Option<u64> {
        self.nth_oldest(0)
    }

    /// The admission times held, oldest first, in nanoseconds (some may have
    /// expired since the last check): for taking a snapshot.
    #[cfg(feature = "serde")]
    pub(crate) fn times(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.len).filter_map(|n| self.nth_oldest(n))
    }
}

impl<S: Slots> SlidingWindowState<S> {
    #[inline]
    fn pop_oldest(&mut self) {
        if self.len > 0 {
            self.head += 1;
            if self.head >= self.cap {
                self.head = 0;
            }
            self.len -= 1;
        }
    }

    fn push(&mut self, t: u64) {
        if self.len >= self.cap {
            // Full: only reachable when `charge` is misused. Keep the ring
            // well formed by dropping the oldest.
            self.pop_oldest();
        }
        let i = self.index(self.len);
        if let Some(slot) = self.slots.as_mut().get_mut(i) {
            *slot = t;
            self.len += 1;
        }
    }

    /// Takes over the units `other` holds, keeping the newest when this
    /// state holds fewer, and the latest time it saw.
    ///
    /// Keeping the newest is exact: a window that can hold only `cap` units
    /// frees its next unit when the oldest of the newest `cap` leaves.
    pub(crate) fn adopt<T: AsRef<[u64]>>(&mut self, other: &SlidingWindowState<T>) {
        self.len = 0;
        self.head = 0;
        let skip = other.len.saturating_sub(self.cap);
        for n in skip..other.len {
            if let Some(t) = other.nth_oldest(n) {
                self.push(t);
            }
        }
        self.latest = self.latest.max(other.latest);
    }

    /// A borrowed view of this state without its `n` oldest entries.
    fn skipping(&self, n: u32) -> SlidingWindowState<SlotsView<'_>> {
        let n = n.min(self.len);
        SlidingWindowState {
            slots: SlotsView(self.slots.as_ref()),
            head: (u32::try_from(self.index(n)).unwrap_or(0)),
            len: self.len - n,
            cap: self.cap,
            latest: self.latest,
        }
    }
}

/// A read-only view used by `peek`; never stored.
#[derive(Clone)]
struct SlotsView<'a>(&'a [u64]);

impl AsRef<[u64]> for SlotsView<'_> {
    fn as_ref(&self) -> &[u64] {
        self.0
    }
}

impl AsMut<[u64]> for SlotsView<'_> {
    fn as_mut(&mut self) -> &mut [u64] {
        &mut []
    }
}

impl Slots for SlotsView<'_> {
    const MAX: Option<usize> = Some(0);

    fn with_len(_len: usize) -> Self {
        SlotsView(&[])
    }
}

impl<S: AsRef<[u64]>> fmt::Debug for SlidingWindowState<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlidingWindowState")
            .field("held", &self.len)
            .field("oldest", &self.oldest().map(Instant::from_nanos))
            .field("latest", &self.latest())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Instant {
        Instant::from_secs(s)
    }

    #[test]
    fn refuses_the_quota_plus_one_and_frees_at_window_end() {
        let w = SlidingWindow::<[u64; 3]>::new(3, Duration::from_secs(10)).unwrap();
        let mut s = w.new_state();
        for t in [0, 1, 2] {
            assert!(w.check(&mut s, secs(t), 1).unwrap().is_allowed());
        }
        let d = w.check(&mut s, secs(9), 1).unwrap();
        assert_eq!(d.retry_after(), Some(Duration::from_secs(1)));
        // Half-open: the unit from t=0 is free exactly at t=10.
        assert!(w.check(&mut s, secs(10), 1).unwrap().is_allowed());
    }

    #[test]
    fn quota_larger_than_inline_storage_is_an_error() {
        let e = SlidingWindow::<[u64; 2]>::new(3, Duration::from_secs(1)).unwrap_err();
        assert_eq!(
            e,
            LimitError::QuotaTooLarge {
                quota: 3,
                capacity: 2
            }
        );
    }

    #[test]
    fn weighted_denial_waits_for_enough_units() {
        let w = SlidingWindow::<[u64; 5]>::new(5, Duration::from_secs(10)).unwrap();
        let mut s = w.new_state();
        for t in 0..5 {
            w.check(&mut s, secs(t), 1).unwrap();
        }
        let d = w.check(&mut s, secs(5), 3).unwrap();
        assert_eq!(d.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(
            w.check(&mut s, secs(6), 6),
            Err(CostTooLarge {
                cost: 6,
                capacity: 5
            })
        );
    }

    #[test]
    fn peek_matches_check_without_charging() {
        let w = SlidingWindow::<[u64; 2]>::new(2, Duration::from_secs(10)).unwrap();
        let mut s = w.new_state();
        w.check(&mut s, secs(0), 2).unwrap();
        let peeked = w.peek(&s, secs(10), 1).unwrap();
        assert_eq!(peeked, w.check(&mut s.clone(), secs(10), 1).unwrap());
        assert_eq!(s.len(), 2);
    }
}
