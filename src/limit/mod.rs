//! Limit kinds, the decisions they make, and policies that combine them.
//!
//! A *limit* is an immutable description (a quota and a window, or a burst and
//! a period) built through a validating constructor. Its mutable *state* is a
//! separate small value, so that one limit can serve many keys. Every call
//! takes `now` explicitly.
//!
//! | kind | guarantee | state |
//! |---|---|---|
//! | [`SlidingWindow`] | never more than `quota` in any window; admits whenever that stays true | 24 bytes + 8 per unit of quota (`[u64; N]`: 8N) |
//! | [`CompactWindow`] | never more than `quota` in any window; refuses early by at most one bucket (`window / 15`) | 72 bytes |
//! | [`TokenBucket`] | `burst` at once, then one per `period` (GCRA) | 8 bytes |
//! | [`FixedWindow`] | never more than `quota` per aligned window | 16 bytes |
//!
//! # Costs
//!
//! Each request has a cost (1 for an ordinary request). A cost of 0 is always
//! allowed and charges nothing. A cost larger than the limit could ever admit
//! is the error [`CostTooLarge`], distinct from a [`Denied`] decision, which
//! means "not now". A denial charges nothing.
//!
//! # Time going backwards
//!
//! Every state remembers the latest `now` it was called with. A `now` earlier
//! than that is judged as if it had arrived at the latest time seen: it never
//! admits more, it leaves the state exactly as a request at the latest time
//! would, and it never panics. The token bucket keeps only one timestamp and
//! so cannot remember the latest time; it judges a late request at its own
//! stamp, which is never more permissive, and charges it exactly as at the
//! latest time (see [`TokenBucket`]).

mod bucket;
mod compact;
mod fixed;
mod policy;
mod sliding;

pub use bucket::{TokenBucket, TokenBucketState};
pub use compact::{CompactWindow, CompactWindowState};
pub use fixed::{FixedWindow, FixedWindowState};
pub use policy::{
    AnyLimit, AnyState, MAX_LIMITS, Name, NameError, Policy, PolicyCheckError, PolicyDecision,
    PolicyError, PolicyState,
};
pub use sliding::{SlidingWindow, SlidingWindowState, Slots};

/// Heap storage for exact sliding windows, sized to the quota when a state
/// is created.
#[cfg(feature = "alloc")]
pub type HeapSlots = alloc::boxed::Box<[u64]>;

use core::fmt;
use core::time::Duration;

use crate::time::Instant;

/// A limit kind: an immutable description plus the rules for its state.
///
/// Implementations guarantee, for every call:
/// - a cost of 0 is allowed and changes nothing but the remembered time;
/// - a cost above [`capacity`](Limit::capacity) is [`CostTooLarge`] and
///   changes nothing;
/// - a denial changes nothing but the remembered time;
/// - nothing panics, whatever `now` is.
pub trait Limit {
    /// The per-key mutable state.
    type State: Clone + fmt::Debug;

    /// A state for a key that has made no request.
    fn new_state(&self) -> Self::State;

    /// The largest cost a single request can ever be admitted with.
    fn capacity(&self) -> u32;

    /// The quota and window advertised in headers.
    fn info(&self) -> LimitInfo;

    /// Decides whether `cost` would be admitted at `now`, without charging.
    ///
    /// # Errors
    ///
    /// [`CostTooLarge`] if `cost` exceeds [`capacity`](Limit::capacity).
    fn peek(&self, state: &Self::State, now: Instant, cost: u32) -> Result<Decision, CostTooLarge>;

    /// Decides whether `cost` is admitted at `now` and charges it if so.
    ///
    /// # Errors
    ///
    /// [`CostTooLarge`] if `cost` exceeds [`capacity`](Limit::capacity);
    /// the state is then unchanged.
    fn check(
        &self,
        state: &mut Self::State,
        now: Instant,
        cost: u32,
    ) -> Result<Decision, CostTooLarge> {
        let decision = self.assess(state, now, cost)?;
        if decision.is_allowed() {
            self.charge(state, now, cost);
        }
        Ok(decision)
    }

    /// Like [`peek`](Limit::peek), but may tidy the state (drop expired
    /// entries, remember `now`) in ways that never change a later decision.
    ///
    /// # Errors
    ///
    /// As [`peek`](Limit::peek).
    fn assess(
        &self,
        state: &mut Self::State,
        now: Instant,
        cost: u32,
    ) -> Result<Decision, CostTooLarge>;

    /// Charges `cost` at `now`. Call it only right after
    /// [`assess`](Limit::assess) allowed the same `now` and `cost`; otherwise
    /// the limit's guarantee is void (the state stays well formed and nothing
    /// panics).
    fn charge(&self, state: &mut Self::State, now: Instant, cost: u32);

    /// True if `state` is indistinguishable from [`new_state`](Limit::new_state)
    /// for every decision at `now` or later: it may be dropped and recreated
    /// without changing any decision.
    fn is_idle(&self, state: &Self::State, now: Instant) -> bool;
}

/// What a limit advertises about itself in `RateLimit-Policy`: `q` units per
/// `w` seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitInfo {
    /// The quota, in cost units.
    pub quota: u32,
    /// The window the quota applies to.
    pub window: Duration,
}

/// The outcome of a check against one limit or a policy: allowed or denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The request may proceed (and, for `check`, was charged).
    Allowed(Allowed),
    /// The request must wait; nothing was charged.
    Denied(Denied),
}

impl Decision {
    /// True for [`Decision::Allowed`].
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed(_))
    }

    /// How long to wait before the same request would be allowed, or `None`
    /// if it is allowed now.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Decision::Allowed(_) => None,
            Decision::Denied(d) => Some(d.retry_after),
        }
    }
}

/// An allowed request, with what a success response advertises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allowed {
    /// Cost units still available after this request.
    pub remaining: u32,
    /// Time until at least one more unit than `remaining` is available again;
    /// zero when the full quota is available.
    pub reset: Duration,
}

/// A denied request, with what a 429 response needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Denied {
    /// Index of the limit that refused, in its policy (0 for a lone limit).
    /// When several refuse, it is the one that frees up last.
    pub limit: usize,
    /// Cost units available now (less than the request's cost).
    pub remaining: u32,
    /// Time until this request would be allowed, if nothing else is charged
    /// meanwhile. Never zero.
    pub retry_after: Duration,
}

/// A cost that the limit can never admit, however long the caller waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CostTooLarge {
    /// The cost asked for.
    pub cost: u32,
    /// The largest cost the limit admits.
    pub capacity: u32,
}

impl fmt::Display for CostTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cost {} exceeds the limit's capacity of {}",
            self.cost, self.capacity
        )
    }
}

impl core::error::Error for CostTooLarge {}

/// Why a limit could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitError {
    /// The quota (or burst) is zero.
    ZeroQuota,
    /// The window (or period) is zero.
    ZeroWindow,
    /// The window, or the time to refill the whole burst, exceeds
    /// [`MAX_WINDOW`].
    WindowTooLong,
    /// The quota is more than the state's storage can hold.
    QuotaTooLarge {
        /// The quota asked for.
        quota: u32,
        /// The most the storage can hold.
        capacity: usize,
    },
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitError::ZeroQuota => f.write_str("quota must be at least 1"),
            LimitError::ZeroWindow => f.write_str("window must be longer than zero"),
            LimitError::WindowTooLong => f.write_str("window must be at most 100 years"),
            LimitError::QuotaTooLarge { quota, capacity } => write!(
                f,
                "quota {quota} exceeds the storage capacity of {capacity}"
            ),
        }
    }
}

impl core::error::Error for LimitError {}

/// The longest window any limit accepts: 100 years (in nanoseconds, well
/// inside a `u64`, so that `now + window` is exact for the next 484 years).
pub const MAX_WINDOW: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Validates a window and returns it in nanoseconds.
fn window_nanos(window: Duration) -> Result<u64, LimitError> {
    if window.is_zero() {
        return Err(LimitError::ZeroWindow);
    }
    if window > MAX_WINDOW {
        return Err(LimitError::WindowTooLong);
    }
    crate::time::duration_nanos(window).ok_or(LimitError::WindowTooLong)
}

/// `max(now, latest)`: the time a request is judged at (see the module docs).
#[inline]
fn effective(now: Instant, latest: u64) -> u64 {
    now.as_nanos().max(latest)
}

/// Rejects a cost above `capacity`.
#[inline]
fn ensure_fits(cost: u32, capacity: u32) -> Result<(), CostTooLarge> {
    if cost > capacity {
        Err(CostTooLarge { cost, capacity })
    } else {
        Ok(())
    }
}

/// A denial at `now` lifting at `at` (nanoseconds), never shorter than 1 ns.
#[inline]
fn denial(remaining: u32, now: u64, at: u64) -> Decision {
    let wait = at.saturating_sub(now).max(1);
    Decision::Denied(Denied {
        limit: 0,
        remaining,
        retry_after: Duration::from_nanos(wait),
    })
}

/// An allowance with `remaining` units left and the next unit back at `at`.
#[inline]
fn allowance(remaining: u32, now: u64, at: u64) -> Decision {
    Decision::Allowed(Allowed {
        remaining,
        reset: Duration::from_nanos(at.saturating_sub(now)),
    })
}
