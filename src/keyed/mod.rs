//! Tables of per-key limiter state, of fixed or growable capacity.
//!
//! A server limits each account, key digest or client address on its own.
//! A keyed table maps each such *id* to its limiter state, creating a fresh
//! state the first time an id is seen. One [`Limiter`] (a lone [`Limit`] or a
//! [`Policy`]) describes the rules for every key.
//!
//! - [`FixedTable`]: inline arrays of `N` slots chosen at compile time;
//!   nothing is allocated. When full, it evicts idle keys, then refuses.
//! - `GrowableTable` (`std`): a `std` `HashMap` that allocates as it grows,
//!   with an optional maximum; at the maximum it evicts idle keys, then
//!   refuses.
//!
//! Tables shared between threads live in [`sync`](crate::sync).
//!
//! # Eviction never changes a decision
//!
//! A state is *idle* at `now` when it is indistinguishable from a fresh one
//! for every decision at `now` or later (see [`Limit::is_idle`]): dropping it
//! and recreating it later changes nothing. When a table has no room for a
//! new key, it first drops every idle entry. If none is idle, the new key is
//! refused with [`KeyedError::Full`]: the request is neither allowed nor
//! denied, and every stored state is left exactly as it was. A table never
//! silently resets a live key.
//!
//! A request that leaves a new key's state idle (a cost of 0) needs no
//! entry: it is answered without one, even by a full table.
//!
//! # Time going backwards
//!
//! A table remembers the latest `now` it was called with and judges every
//! request at `max(now, latest)` (DESIGN decision 9 applied to the whole
//! table). This is what makes eviction safe when the clock is not monotonic:
//! a key dropped as idle at `latest` is only ever judged again at `latest` or
//! later, where its fresh state decides exactly as the dropped one would.
//!
//! # Examples
//!
//! ```
//! use core::time::Duration;
//! use keyrate::keyed::{FixedTable, KeyedError};
//! use keyrate::limit::TokenBucket;
//! use keyrate::time::Instant;
//!
//! // 8 slots hold 7 keys; each key may make 2 requests, then 1 per second.
//! let bucket = TokenBucket::new(2, Duration::from_secs(1))?;
//! let mut table: FixedTable<u64, TokenBucket, 8> = FixedTable::new(bucket);
//! let t = Instant::from_secs(10);
//! for account in 0..7 {
//!     assert!(table.check(&account, t, 1)?.is_allowed());
//! }
//!
//! // Every key is still live at t: an eighth key is refused, not admitted.
//! assert!(matches!(table.check(&99, t, 1), Err(KeyedError::Full(_))));
//!
//! // Two seconds later every bucket is full again: idle keys make room.
//! let later = Instant::from_secs(12);
//! assert!(table.check(&99, later, 1)?.is_allowed());
//! assert_eq!(table.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod fixed;
#[cfg(feature = "std")]
mod growable;
mod hash;

pub use fixed::FixedTable;
#[cfg(feature = "std")]
pub(crate) use growable::Entries;
#[cfg(feature = "std")]
pub use growable::GrowableTable;
pub use hash::{KeyHasher, SeededHash};

use core::fmt;

use crate::limit::{
    CostTooLarge, Decision, Limit, Policy, PolicyCheckError, PolicyDecision, PolicyState, Slots,
};
use crate::time::Instant;

/// Rules that a keyed table applies to each key: a lone [`Limit`] or a
/// [`Policy`].
///
/// It is the part of both that a table needs: make a fresh state, check a
/// request against a state, and tell whether a state may be dropped.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::keyed::Limiter;
/// use keyrate::limit::FixedWindow;
/// use keyrate::time::Instant;
///
/// fn first_request_allowed<L: Limiter>(limiter: &L, now: Instant) -> bool {
///     let mut state = limiter.new_state();
///     limiter.check(&mut state, now, 1).is_ok()
/// }
///
/// let minute = FixedWindow::new(10, Duration::from_secs(60))?;
/// assert!(first_request_allowed(&minute, Instant::ZERO));
/// # Ok::<(), keyrate::limit::LimitError>(())
/// ```
pub trait Limiter {
    /// The state kept for each key.
    type State;
    /// What a check answers: allowed or denied, with header figures.
    type Decision;
    /// A request that can never be admitted (its cost is too large).
    type Error;

    /// A state for a key that has made no request.
    fn new_state(&self) -> Self::State;

    /// Decides whether `cost` is admitted at `now` and charges it if so.
    ///
    /// # Errors
    ///
    /// [`Self::Error`](Limiter::Error) when `cost` can never be admitted;
    /// the state is then unchanged.
    fn check(
        &self,
        state: &mut Self::State,
        now: Instant,
        cost: u32,
    ) -> Result<Self::Decision, Self::Error>;

    /// True if `state` may be dropped and recreated without changing any
    /// decision at `now` or later.
    fn is_idle(&self, state: &Self::State, now: Instant) -> bool;
}

impl<L: Limit> Limiter for L {
    type State = L::State;
    type Decision = Decision;
    type Error = CostTooLarge;

    #[inline]
    fn new_state(&self) -> L::State {
        Limit::new_state(self)
    }

    #[inline]
    fn check(
        &self,
        state: &mut L::State,
        now: Instant,
        cost: u32,
    ) -> Result<Decision, CostTooLarge> {
        Limit::check(self, state, now, cost)
    }

    #[inline]
    fn is_idle(&self, state: &L::State, now: Instant) -> bool {
        Limit::is_idle(self, state, now)
    }
}

impl<S: Slots, const N: usize> Limiter for Policy<S, N> {
    type State = PolicyState<S, N>;
    type Decision = PolicyDecision<N>;
    type Error = PolicyCheckError;

    fn new_state(&self) -> PolicyState<S, N> {
        Policy::new_state(self)
    }

    fn check(
        &self,
        state: &mut PolicyState<S, N>,
        now: Instant,
        cost: u32,
    ) -> Result<PolicyDecision<N>, PolicyCheckError> {
        Policy::check(self, state, now, cost)
    }

    fn is_idle(&self, state: &PolicyState<S, N>, now: Instant) -> bool {
        Policy::is_idle(self, state, now)
    }
}

/// Why a keyed table could not decide a request. No state was changed.
///
/// Both are "never", not "not now": a denial the caller can wait out is an
/// ordinary decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyedError<E> {
    /// The limiter can never admit this request (its cost is too large).
    Check(E),
    /// The key is new, the table has no room and no entry is idle.
    Full(TableFull),
}

impl<E: fmt::Display> fmt::Display for KeyedError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyedError::Check(e) => fmt::Display::fmt(e, f),
            KeyedError::Full(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for KeyedError<E> {}

/// A new key refused because the table is full of live keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableFull {
    /// The most keys the table (or, for a sharded table, the key's shard)
    /// holds.
    pub capacity: usize,
}

impl fmt::Display for TableFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the table holds {} keys and none is idle", self.capacity)
    }
}

impl core::error::Error for TableFull {}

/// The latest `now` a table has been called with.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Latest(Instant);

impl Latest {
    /// Records `now` and returns the time to judge it at: `max(now, latest)`.
    #[inline]
    pub(crate) fn observe(&mut self, now: Instant) -> Instant {
        if now > self.0 {
            self.0 = now;
        }
        self.0
    }

    /// The latest time seen.
    pub(crate) fn get(self) -> Instant {
        self.0
    }
}

/// A request from a key the table does not hold, decided on a fresh state.
pub(crate) struct Fresh<L: Limiter> {
    /// The decision; it stands only once `keep`, if any, is stored.
    pub(crate) decision: L::Decision,
    /// The state to store, if the request left it live.
    pub(crate) keep: Option<L::State>,
}

/// Checks a request from a key the table does not hold, on a fresh state.
#[inline]
pub(crate) fn fresh<L: Limiter>(
    limiter: &L,
    now: Instant,
    cost: u32,
) -> Result<Fresh<L>, KeyedError<L::Error>> {
    let mut state = limiter.new_state();
    let decision = limiter
        .check(&mut state, now, cost)
        .map_err(KeyedError::Check)?;
    let keep = (!limiter.is_idle(&state, now)).then_some(state);
    Ok(Fresh { decision, keep })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limit::{SlidingWindow, TokenBucket};
    use core::time::Duration;

    #[test]
    fn a_policy_and_a_lone_limit_are_both_limiters() {
        fn admitted<L: Limiter>(l: &L) -> bool {
            let mut s = l.new_state();
            l.check(&mut s, Instant::ZERO, 1).is_ok() && !l.is_idle(&s, Instant::ZERO)
        }
        let bucket = TokenBucket::new(1, Duration::from_secs(1)).unwrap();
        let policy: Policy<[u64; 2]> = Policy::new()
            .with("w", SlidingWindow::new(2, Duration::from_secs(1)).unwrap())
            .unwrap();
        assert!(admitted(&bucket));
        assert!(admitted(&policy));
    }

    #[test]
    fn latest_never_goes_back() {
        let mut l = Latest::default();
        assert_eq!(l.observe(Instant::from_secs(5)), Instant::from_secs(5));
        assert_eq!(l.observe(Instant::from_secs(3)), Instant::from_secs(5));
        assert_eq!(l.get(), Instant::from_secs(5));
    }

    fn display(e: &dyn fmt::Display) -> heapless::String<64> {
        let mut s = heapless::String::new();
        let _ = fmt::write(&mut s, format_args!("{e}"));
        s
    }

    #[test]
    fn errors_read_in_lowercase() {
        let full: KeyedError<CostTooLarge> = KeyedError::Full(TableFull { capacity: 7 });
        assert_eq!(display(&full), "the table holds 7 keys and none is idle");
        let cost = KeyedError::Check(CostTooLarge {
            cost: 3,
            capacity: 2,
        });
        assert_eq!(display(&cost), "cost 3 exceeds the limit's capacity of 2");
    }
}
