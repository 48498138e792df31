//! The token bucket, kept as GCRA: one timestamp per key.

use core::time::Duration;

use super::{
    CostTooLarge, Decision, Limit, LimitError, LimitInfo, MAX_WINDOW, allowance, denial,
    ensure_fits, window_nanos,
};
use crate::time::Instant;

/// Rate plus burst: up to `burst` units at once, then one more per `period`.
///
/// Kept as the generic cell rate algorithm (GCRA), which tracks a single
/// *theoretical arrival time* (TAT): the instant at which the bucket would be
/// full again if nothing more were admitted. In the literature's names, the
/// emission interval is `T = period` and the burst tolerance is
/// `τ = (burst − 1) × T`. A request of cost `c` at `now` is admitted when
/// `max(TAT, now) + c × T − now ≤ τ + T`, and then sets
/// `TAT = max(TAT, now) + c × T`.
///
/// Guarantee: over any span from `a` to `b`, at most
/// `burst + ⌊(b − a) / period⌋` units are admitted.
///
/// # Time going backwards
///
/// The state is one 8-byte TAT, so it cannot remember the latest `now` it
/// saw. A request stamped earlier than a previous one is judged at its own
/// stamp, which is never more permissive than judging it at the later time,
/// and when admitted it sets the same TAT as it would have at the later time
/// (every earlier call left `TAT` past the time it was made). A late request
/// that is refused charges nothing, like any refusal. A cost of 0 is always
/// allowed.
///
/// Within `burst × period` of [`Instant::MAX`] (584 years after the clock's
/// origin) a request whose TAT would pass the end of time is refused; there
/// the remark above about late requests no longer holds.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::limit::{Limit, TokenBucket};
/// use keyrate::time::Instant;
///
/// // 300 per hour with bursts of 60: one token every 12 s.
/// let bucket = TokenBucket::per_window(300, Duration::from_secs(3600), 60)?;
/// assert_eq!(bucket.period(), Duration::from_secs(12));
/// let mut state = bucket.new_state();
/// let t = Instant::from_secs(100);
/// assert!(bucket.check(&mut state, t, 60)?.is_allowed());
/// let refused = bucket.check(&mut state, t, 1)?;
/// assert_eq!(refused.retry_after(), Some(Duration::from_secs(12)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    burst: u32,
    /// Emission interval `T`, in nanoseconds.
    period: u64,
    /// `burst × T`: how far the TAT may run ahead of `now`.
    depth: u64,
}

impl TokenBucket {
    /// `burst` units at once, then one per `period`.
    ///
    /// # Errors
    ///
    /// [`LimitError::ZeroQuota`] for a zero burst, [`LimitError::ZeroWindow`]
    /// for a zero period, and [`LimitError::WindowTooLong`] when
    /// `burst × period` exceeds [`MAX_WINDOW`].
    pub fn new(burst: u32, period: Duration) -> Result<Self, LimitError> {
        if burst == 0 {
            return Err(LimitError::ZeroQuota);
        }
        let period = window_nanos(period)?;
        let depth = period
            .checked_mul(u64::from(burst))
            .filter(|d| Duration::from_nanos(*d) <= MAX_WINDOW)
            .ok_or(LimitError::WindowTooLong)?;
        Ok(TokenBucket {
            burst,
            period,
            depth,
        })
    }

    /// `count` units per `window` on average, in bursts of up to `burst`:
    /// the period is `window / count`, rounded up to a whole nanosecond so
    /// that the rate is never exceeded.
    ///
    /// # Errors
    ///
    /// As [`new`](TokenBucket::new); a zero `count` is
    /// [`LimitError::ZeroQuota`].
    pub fn per_window(count: u32, window: Duration, burst: u32) -> Result<Self, LimitError> {
        if count == 0 {
            return Err(LimitError::ZeroQuota);
        }
        let window = window_nanos(window)?;
        let period = window.div_ceil(u64::from(count));
        TokenBucket::new(burst, Duration::from_nanos(period))
    }

    /// The most units admitted at once.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The time to earn one unit back.
    pub fn period(&self) -> Duration {
        Duration::from_nanos(self.period)
    }

    /// `c × T`; never overflows since `c ≤ burst` is checked first.
    fn cost_nanos(&self, cost: u32) -> u64 {
        self.period.saturating_mul(u64::from(cost))
    }

    /// Decides at `now`; returns the decision and the TAT to store if admitted.
    ///
    /// A TAT that would pass [`Instant::MAX`] is refused: within
    /// `burst × period` of the end of time the bucket admits less, never more.
    #[inline]
    fn decide(&self, tat: u64, now: u64, cost: u32) -> (Decision, u64) {
        let base = tat.max(now);
        let needed = self.cost_nanos(cost);

        // How far the TAT would run ahead of `now` once this is charged.
        let ahead = (base - now).saturating_add(needed);
        // A cost of 0 is always allowed, even when a late stamp puts the
        // TAT further ahead than the bucket is deep.
        let new_tat = match base.checked_add(needed) {
            Some(t) if cost == 0 || ahead <= self.depth => t,
            _ => return (self.refusal(tat, now, cost), tat),
        };

        // `⌈ahead / T⌉` units are then missing, and the next comes back
        // when the TAT is one period nearer: one division gives both.
        let Some(last) = ahead.checked_sub(1) else {
            return (allowance(self.burst, now, now), new_tat);
        };
        let missing = u32::try_from(last / self.period + 1).unwrap_or(u32::MAX);
        let next_back = if missing > self.burst {
            // Only a late-stamped cost 0: the first unit is back once the
            // TAT is within the burst again.
            now.saturating_add(ahead - (self.depth - self.period))
        } else {
            now.saturating_add(last % self.period + 1)
        };
        (
            allowance(self.burst.saturating_sub(missing), now, next_back),
            new_tat,
        )
    }

    /// The denial of a request that does not fit at `now`.
    #[inline]
    fn refusal(&self, tat: u64, now: u64, cost: u32) -> Decision {
        let base = tat.max(now);
        let queued = base - now;

        // Whole units free before this request (`queued ≤ depth` always
        // holds for a TAT this limit wrote; saturate for any other).
        let free = self.depth.saturating_sub(queued) / self.period;
        let free = u32::try_from(free).unwrap_or(u32::MAX).min(self.burst);
        let Some(new_tat) = base.checked_add(self.cost_nanos(cost)) else {
            // Past the end of time: refuse, and report fewer units than asked.
            return denial(free.min(cost.saturating_sub(1)), now, u64::MAX);
        };
        let ahead = new_tat - now;
        denial(
            free,
            now,
            now.saturating_add(ahead.saturating_sub(self.depth)),
        )
    }
}

impl Limit for TokenBucket {
    type State = TokenBucketState;

    fn new_state(&self) -> TokenBucketState {
        TokenBucketState::default()
    }

    fn capacity(&self) -> u32 {
        self.burst
    }

    /// `burst` units per `burst × period`: the bucket's size and the time to
    /// refill it.
    fn info(&self) -> LimitInfo {
        LimitInfo {
            quota: self.burst,
            window: Duration::from_nanos(self.depth),
        }
    }

    fn peek(
        &self,
        state: &TokenBucketState,
        now: Instant,
        cost: u32,
    ) -> Result<Decision, CostTooLarge> {
        ensure_fits(cost, self.burst)?;
        Ok(self.decide(state.tat, now.as_nanos(), cost).0)
    }

    fn assess(
        &self,
        state: &mut TokenBucketState,
        now: Instant,
        cost: u32,
    ) -> Result<Decision, CostTooLarge> {
        self.peek(state, now, cost)
    }

    #[inline]
    fn check(
        &self,
        state: &mut TokenBucketState,
        now: Instant,
        cost: u32,
    ) -> Result<Decision, CostTooLarge> {
        ensure_fits(cost, self.burst)?;
        let (decision, tat) = self.decide(state.tat, now.as_nanos(), cost);
        state.tat = tat;
        Ok(decision)
    }

    fn charge(&self, state: &mut TokenBucketState, now: Instant, cost: u32) {
        if cost == 0 {
            return;
        }
        let base = state.tat.max(now.as_nanos());
        state.tat = base.saturating_add(self.cost_nanos(cost.min(self.burst)));
    }

    fn is_idle(&self, state: &TokenBucketState, now: Instant) -> bool {
        state.tat <= now.as_nanos()
    }
}

/// A [`TokenBucket`]'s state for one key: its theoretical arrival time, in
/// nanoseconds (8 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TokenBucketState {
    tat: u64,
}

impl TokenBucketState {
    /// The theoretical arrival time: when the bucket is full again.
    pub fn tat(&self) -> Instant {
        Instant::from_nanos(self.tat)
    }

    /// A state with the given theoretical arrival time.
    pub fn from_tat(tat: Instant) -> Self {
        TokenBucketState {
            tat: tat.as_nanos(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket() -> TokenBucket {
        TokenBucket::new(3, Duration::from_secs(10)).unwrap()
    }

    #[test]
    fn burst_then_one_per_period() {
        let b = bucket();
        let mut s = b.new_state();
        for _ in 0..3 {
            assert!(
                b.check(&mut s, Instant::from_secs(0), 1)
                    .unwrap()
                    .is_allowed()
            );
        }
        assert!(
            !b.check(&mut s, Instant::from_secs(9), 1)
                .unwrap()
                .is_allowed()
        );
        assert!(
            b.check(&mut s, Instant::from_secs(10), 1)
                .unwrap()
                .is_allowed()
        );
    }

    #[test]
    fn remaining_and_reset_describe_the_bucket() {
        let b = bucket();
        let mut s = b.new_state();
        let d = b.check(&mut s, Instant::from_secs(0), 1).unwrap();
        assert_eq!(
            d,
            Decision::Allowed(super::super::Allowed {
                remaining: 2,
                reset: Duration::from_secs(10),
            })
        );
    }

    #[test]
    fn near_the_end_of_time_nothing_panics() {
        let b = TokenBucket::new(u32::MAX, Duration::from_nanos(1)).unwrap();
        let mut s = b.new_state();
        b.check(&mut s, Instant::MAX, u32::MAX).unwrap();
        b.check(&mut s, Instant::MAX, 1).unwrap();
        b.check(&mut s, Instant::ZERO, 1).unwrap();
    }

    #[test]
    fn a_burst_too_deep_is_an_error() {
        let e = TokenBucket::new(u32::MAX, Duration::from_secs(3600)).unwrap_err();
        assert_eq!(e, LimitError::WindowTooLong);
    }
}
