//! The compact sliding window: counts per bucket instead of timestamps.

use core::time::Duration;

use super::{
    CostTooLarge, Decision, Limit, LimitError, LimitInfo, allowance, denial, effective,
    ensure_fits, window_nanos,
};
use crate::time::Instant;

/// Number of buckets in a [`CompactWindowState`] ring.
pub(crate) const BUCKETS: usize = 16;

/// Buckets per window: one fewer than the ring holds, because a window of
/// `BUCKETS − 1` buckets can overlap `BUCKETS` of them.
const SPAN: u64 = BUCKETS as u64 - 1;

/// Never more than `quota` units in any window of length `window`, in a
/// state of 72 bytes whatever the quota.
///
/// Time is cut into buckets of `bucket = ⌈window / 15⌉` aligned to the
/// clock's origin, and the state counts units per bucket. A unit is counted
/// until its whole bucket has left the window, so it may be counted for up
/// to `window + bucket` instead of `window`.
///
/// Stated bound: given the same admitted history, this limit admits whatever
/// an exact sliding window of length `window + bucket` would admit. It
/// never admits what an exact window of length `window` would refuse, and it
/// refuses early only by at most one bucket, `window / 15` (rounded up to a
/// nanosecond).
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::limit::{CompactWindow, Limit};
/// use keyrate::time::Instant;
///
/// let hourly = CompactWindow::new(300, Duration::from_secs(3600))?;
/// assert_eq!(hourly.bucket(), Duration::from_secs(240));
/// let mut state = hourly.new_state();
/// assert!(hourly.check(&mut state, Instant::from_secs(10), 300)?.is_allowed());
/// // Counted until its bucket [0, 240) has fully left the window.
/// let refused = hourly.check(&mut state, Instant::from_secs(3600), 1)?;
/// // Its last nanosecond, 240 s − 1 ns, is counted until 3840 s − 1 ns.
/// let wait = Duration::from_secs(240) - Duration::from_nanos(1);
/// assert_eq!(refused.retry_after(), Some(wait));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompactWindow {
    quota: u32,
    window: u64,
    bucket: u64,
}

impl CompactWindow {
    /// At most `quota` units in any `window`.
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
        Ok(CompactWindow {
            quota,
            window,
            bucket: window.div_ceil(SPAN),
        })
    }

    /// The length of one bucket: the most this limit refuses early by.
    pub fn bucket(&self) -> Duration {
        Duration::from_nanos(self.bucket)
    }

    /// The last nanosecond of bucket `index`, or [`Instant::MAX`] for the
    /// bucket cut short by the end of time.
    fn last_nanos(&self, index: u64) -> u64 {
        index
            .saturating_mul(self.bucket)
            .saturating_add(self.bucket - 1)
    }

    /// The instant (nanoseconds) from which bucket `index` no longer counts:
    /// its last nanosecond has left the window.
    fn expiry(&self, index: u64) -> u64 {
        self.last_nanos(index).saturating_add(self.window)
    }

    /// True if bucket `index` still counts at `now`. Compared as a
    /// difference so that nothing saturates near [`Instant::MAX`].
    fn counts(&self, index: u64, now: u64) -> bool {
        now.saturating_sub(self.last_nanos(index)) < self.window
    }

    /// Index of the oldest bucket still counted at `now`, and of the newest.
    fn span_at(&self, now: u64) -> (u64, u64) {
        let newest = now / self.bucket;
        let mut oldest = newest.saturating_sub(SPAN);
        while oldest < newest && !self.counts(oldest, now) {
            oldest += 1;
        }
        (oldest, newest)
    }

    /// Units counted at `now`, reading only buckets the state still holds.
    fn held_at(&self, state: &CompactWindowState, now: u64) -> u32 {
        let (oldest, newest) = self.span_at(now);
        (oldest..=newest).fold(0u32, |sum, i| {
            sum.saturating_add(state.count(self.bucket, i))
        })
    }

    #[inline]
    fn decide(&self, state: &CompactWindowState, now: u64, cost: u32) -> Decision {
        let (oldest, newest) = self.span_at(now);
        let held = self.held_at(state, now);
        let remaining = self.quota.saturating_sub(held);
        if cost <= remaining {
            let first = (oldest..=newest).find(|&i| state.count(self.bucket, i) > 0);
            let next_back = match first {
                Some(i) => self.expiry(i),
                None if cost > 0 => self.expiry(newest),
                None => now,
            };
            return allowance(remaining - cost, now, next_back);
        }

        // Walk from the oldest bucket until enough units have left.
        let mut still_held = held;
        let mut at = u64::MAX;
        for i in oldest..=newest {
            still_held = still_held.saturating_sub(state.count(self.bucket, i));
            // In u64: near a quota of u32::MAX the sum must not saturate.
            if u64::from(still_held) + u64::from(cost) <= u64::from(self.quota) {
                at = self.expiry(i);
                break;
            }
        }
        denial(remaining, now, at)
    }
}

impl Limit for CompactWindow {
    type State = CompactWindowState;

    fn new_state(&self) -> CompactWindowState {
        CompactWindowState::default()
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
        state: &CompactWindowState,
        now: Instant,
        cost: u32,
    ) -> Result<Decision, CostTooLarge> {
        ensure_fits(cost, self.quota)?;
        let now = effective(now, state.latest);
        Ok(self.decide(state, now, cost))
    }

    #[inline]
    fn assess(
        &self,
        state: &mut CompactWindowState,
        now: Instant,
        cost: u32,
    ) -> Result<Decision, CostTooLarge> {
        ensure_fits(cost, self.quota)?;
        let now = effective(now, state.latest);
        state.advance(self.bucket, now);
        Ok(self.decide(state, now, cost))
    }

    #[inline]
    fn charge(&self, state: &mut CompactWindowState, now: Instant, cost: u32) {
        let now = effective(now, state.latest);
        state.advance(self.bucket, now);
        if let Some(c) = state.counts.get_mut(slot(now / self.bucket)) {
            *c = c.saturating_add(cost);
        }
    }

    fn is_idle(&self, state: &CompactWindowState, now: Instant) -> bool {
        // Before the latest time seen, a fresh state would judge late
        // requests at their own stamps: not the same decisions.
        now.as_nanos() >= state.latest && self.held_at(state, now.as_nanos()) == 0
    }
}

/// A [`CompactWindow`]'s counts for one key: 16 buckets of `u32` and the
/// latest time seen (72 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CompactWindowState {
    counts: [u32; BUCKETS],
    /// The latest `now` seen, in nanoseconds; its bucket is the newest held.
    latest: u64,
}

/// Ring slot of bucket `index`.
fn slot(index: u64) -> usize {
    // BUCKETS is a power of two well inside usize.
    (index % BUCKETS as u64) as usize
}

impl CompactWindowState {
    /// The count of bucket `index`, or 0 if the ring no longer (or not yet)
    /// holds that bucket.
    pub(crate) fn count(&self, bucket: u64, index: u64) -> u32 {
        let newest = self.latest / bucket;
        if index > newest || newest - index >= BUCKETS as u64 {
            return 0;
        }
        self.counts.get(slot(index)).copied().unwrap_or(0)
    }

    /// Moves the ring forward to the bucket of `now`, clearing the slots of
    /// buckets that begin after the newest one held.
    fn advance(&mut self, bucket: u64, now: u64) {
        let held = self.latest / bucket;
        let target = now / bucket;
        if target > held {
            let steps = (target - held).min(BUCKETS as u64);
            for i in 1..=steps {
                if let Some(c) = self.counts.get_mut(slot(held + i)) {
                    *c = 0;
                }
            }
        }
        self.latest = self.latest.max(now);
    }

    /// The latest time this state has seen.
    pub fn latest(&self) -> Instant {
        Instant::from_nanos(self.latest)
    }

    /// A state that has seen `latest` and holds `count` units in each bucket
    /// `index` given (buckets of `bucket` nanoseconds; counts of a bucket
    /// given twice add up; buckets the ring cannot hold at `latest` are
    /// ignored): for restoring a snapshot.
    #[cfg(feature = "serde")]
    pub(crate) fn from_buckets(
        bucket: u64,
        latest: u64,
        buckets: impl IntoIterator<Item = (u64, u32)>,
    ) -> CompactWindowState {
        let mut state = CompactWindowState {
            counts: [0; BUCKETS],
            latest,
        };
        let newest = latest / bucket.max(1);
        for (index, count) in buckets {
            if index > newest || newest - index >= BUCKETS as u64 {
                continue;
            }
            if let Some(c) = state.counts.get_mut(slot(index)) {
                *c = c.saturating_add(count);
            }
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_at_most_128_bytes() {
        assert!(core::mem::size_of::<CompactWindowState>() <= 128);
    }

    #[test]
    fn stale_slots_are_not_counted_after_a_long_gap() {
        let w = CompactWindow::new(2, Duration::from_secs(15)).unwrap();
        let mut s = w.new_state();
        w.check(&mut s, Instant::from_secs(0), 2).unwrap();
        // Bucket 16 shares slot 0 with bucket 0; peek must not see its count.
        assert!(w.peek(&s, Instant::from_secs(16), 2).unwrap().is_allowed());
        assert!(
            w.check(&mut s, Instant::from_secs(16), 2)
                .unwrap()
                .is_allowed()
        );
        assert!(
            !w.check(&mut s, Instant::from_secs(17), 1)
                .unwrap()
                .is_allowed()
        );
    }

    #[test]
    fn counted_until_the_whole_bucket_leaves() {
        let w = CompactWindow::new(1, Duration::from_secs(15)).unwrap();
        let mut s = w.new_state();
        w.check(&mut s, Instant::from_millis(100), 1).unwrap();
        let t = Instant::from_nanos(16_000_000_000 - 2);
        assert!(!w.check(&mut s, t, 1).unwrap().is_allowed());
        let t = Instant::from_nanos(16_000_000_000 - 1);
        assert!(w.check(&mut s, t, 1).unwrap().is_allowed());
    }
}
