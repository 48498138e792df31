//! Limiters shared between threads through `&self`.
//!
//! - [`AtomicTokenBucket`] (64-bit atomics): its state is one `AtomicU64`. A
//!   check costs a load and a compare-exchange, retried only when another
//!   thread changed the state in between.
//! - `SharedLimiter` (`std`): any limiter's state behind a `Mutex`. A check
//!   costs one lock: uncontended, a pair of atomic operations; contended,
//!   threads take turns.
//! - `SharedTable` (`std`): a keyed table split into shards, each behind its
//!   own `Mutex`. A check hashes the key twice (to pick the shard, then
//!   inside it) and takes one shard lock; threads contend only on keys in
//!   the same shard.
//!
//! A token bucket's whole state is one timestamp, so it fits one atomic word
//! and needs no lock. Every other state (sliding windows, fixed windows,
//! policies of several limits) spans several words that must change
//! together, and a lock is what keeps a check all-or-nothing: a thread never
//! sees half of another's charge, and two threads can never both spend the
//! last unit. Every decision is the one the single-threaded limiter would
//! make for the same sequence of calls, in the order the threads took the
//! state.
//!
//! A lock is poisoned only if a thread panics while holding it. keyrate's
//! own code never panics; the key's `Hash` or `Eq` implementation might. A
//! poisoned lock is taken over as it is: the map stays a valid map and every
//! state a valid state, since each is written in one piece after the check.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::limit::{CostTooLarge, Decision, Limit, TokenBucket, TokenBucketState};
use crate::time::Instant;

/// A [`TokenBucket`] shared between threads, lock-free: its state is one
/// `AtomicU64`.
///
/// Every check reads the theoretical arrival time, decides exactly as
/// [`TokenBucket`] does, and publishes the new time with a compare-exchange;
/// if another thread got there first it decides again on the newer state.
/// Decisions are therefore those of a `TokenBucket` called once per admitted
/// or refused request, in the order of the successful exchanges, and at most
/// `burst + ⌊(b − a) / period⌋` units are admitted over any span from `a` to
/// `b`, however many threads ask.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::limit::TokenBucket;
/// use keyrate::sync::AtomicTokenBucket;
/// use keyrate::time::Instant;
///
/// let shared = AtomicTokenBucket::new(TokenBucket::new(10, Duration::from_secs(1))?);
/// let t = Instant::from_secs(5);
/// let ask = || (0..5).filter(|_| shared.check(t, 1).unwrap().is_allowed()).count();
/// let admitted = std::thread::scope(|s| {
///     let workers: Vec<_> = (0..4).map(|_| s.spawn(ask)).collect();
///     workers.into_iter().map(|w| w.join().unwrap()).sum::<usize>()
/// });
/// assert_eq!(admitted, 10);
/// # Ok::<(), keyrate::limit::LimitError>(())
/// ```
#[derive(Debug)]
pub struct AtomicTokenBucket {
    limit: TokenBucket,
    tat: AtomicU64,
}

impl AtomicTokenBucket {
    /// A full bucket.
    pub fn new(limit: TokenBucket) -> AtomicTokenBucket {
        AtomicTokenBucket::from_state(limit, Limit::new_state(&limit))
    }

    /// A bucket resuming from `state`.
    pub fn from_state(limit: TokenBucket, state: TokenBucketState) -> AtomicTokenBucket {
        AtomicTokenBucket {
            limit,
            tat: AtomicU64::new(state.tat().as_nanos()),
        }
    }

    /// The limit applied.
    pub fn limit(&self) -> &TokenBucket {
        &self.limit
    }

    /// A snapshot of the state; other threads may change it at once.
    pub fn state(&self) -> TokenBucketState {
        Self::state_of(self.tat.load(Ordering::Acquire))
    }

    /// Decides whether `cost` is admitted at `now` and charges it if so, as
    /// [`TokenBucket::check`](Limit::check) does.
    ///
    /// # Errors
    ///
    /// [`CostTooLarge`] if `cost` exceeds the burst; nothing is charged.
    #[inline]
    pub fn check(&self, now: Instant, cost: u32) -> Result<Decision, CostTooLarge> {
        let mut seen = self.tat.load(Ordering::Acquire);
        loop {
            let mut state = Self::state_of(seen);
            let decision = self.limit.check(&mut state, now, cost)?;
            let next = state.tat().as_nanos();

            // A refusal (or a cost of 0) leaves the state as it was seen.
            if next == seen {
                return Ok(decision);
            }
            match self
                .tat
                .compare_exchange_weak(seen, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(decision),
                Err(current) => seen = current,
            }
        }
    }

    /// Decides whether `cost` would be admitted at `now`, without charging.
    ///
    /// # Errors
    ///
    /// As [`check`](AtomicTokenBucket::check).
    pub fn peek(&self, now: Instant, cost: u32) -> Result<Decision, CostTooLarge> {
        self.limit.peek(&self.state(), now, cost)
    }

    /// True if the bucket is full at `now` (see [`Limit::is_idle`]).
    pub fn is_idle(&self, now: Instant) -> bool {
        self.limit.is_idle(&self.state(), now)
    }

    #[inline]
    fn state_of(tat: u64) -> TokenBucketState {
        TokenBucketState::from_tat(Instant::from_nanos(tat))
    }
}

#[cfg(feature = "std")]
pub use with_std::{SharedLimiter, SharedTable};

#[cfg(feature = "std")]
mod with_std {
    use core::fmt;
    use core::hash::{BuildHasher, Hash};
    use std::boxed::Box;
    use std::hash::RandomState;
    use std::sync::{Mutex, MutexGuard, PoisonError};
    use std::vec::Vec;

    use crate::keyed::{Entries, KeyedError, Limiter};
    use crate::time::Instant;

    /// Locks `m`, taking a poisoned lock over (see the module docs).
    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One limiter's state (a policy, a sliding window, any [`Limiter`])
    /// shared between threads behind a `Mutex`.
    ///
    /// Each check holds the lock for the length of one single-threaded
    /// check. For a lone token bucket prefer [`AtomicTokenBucket`](
    /// super::AtomicTokenBucket), which takes no lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use keyrate::sync::SharedLimiter;
    /// use keyrate::time::Instant;
    ///
    /// let policy = keyrate::preset::confirmed::<keyrate::limit::HeapSlots>()?;
    /// let shared = SharedLimiter::new(policy);
    /// let t = Instant::from_secs(0);
    /// let ask = || (0..40).filter(|_| shared.check(t, 1).unwrap().is_allowed()).count();
    /// let admitted = std::thread::scope(|s| {
    ///     let (a, b) = (s.spawn(ask), s.spawn(ask));
    ///     a.join().unwrap() + b.join().unwrap()
    /// });
    /// assert_eq!(admitted, 60); // the 60-per-minute burst limit
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub struct SharedLimiter<L: Limiter> {
        limiter: L,
        state: Mutex<L::State>,
    }

    impl<L: Limiter> SharedLimiter<L> {
        /// A limiter for a key that has made no request.
        pub fn new(limiter: L) -> Self {
            let state = Mutex::new(limiter.new_state());
            SharedLimiter { limiter, state }
        }

        /// Decides whether `cost` is admitted at `now` and charges it if so.
        ///
        /// # Errors
        ///
        /// As the limiter's own check; nothing is charged.
        pub fn check(&self, now: Instant, cost: u32) -> Result<L::Decision, L::Error> {
            self.limiter.check(&mut lock(&self.state), now, cost)
        }

        /// True if the state is indistinguishable from a fresh one at `now`.
        pub fn is_idle(&self, now: Instant) -> bool {
            self.limiter.is_idle(&lock(&self.state), now)
        }

        /// The rules applied.
        pub fn limiter(&self) -> &L {
            &self.limiter
        }

        /// A copy of the state; other threads may change it at once.
        pub fn state(&self) -> L::State
        where
            L::State: Clone,
        {
            lock(&self.state).clone()
        }
    }

    impl<L: Limiter> fmt::Debug for SharedLimiter<L>
    where
        L: fmt::Debug,
        L::State: fmt::Debug,
    {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SharedLimiter")
                .field("limiter", &self.limiter)
                .field("state", &*lock(&self.state))
                .finish()
        }
    }

    /// A keyed table shared between threads: shards of
    /// [`GrowableTable`](crate::keyed::GrowableTable)'s map, each behind its
    /// own `Mutex`.
    ///
    /// A key's shard is chosen from its hash, so requests for keys in
    /// different shards never wait for each other, and requests for one key
    /// take turns. Each shard remembers its own latest time, evicts only
    /// idle entries and, when a maximum is set, refuses a new live key with
    /// [`KeyedError::Full`] once its shard is full of live keys.
    ///
    /// # Cost
    ///
    /// A check hashes the key twice (once to pick the shard, once inside
    /// it) and takes one lock. The maximum is per shard: with a maximum of
    /// `m` per shard and `s` shards the table holds at most `m × s` keys, and
    /// may refuse a key whose shard is full while other shards have room.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use keyrate::limit::SlidingWindow;
    /// use keyrate::sync::SharedTable;
    /// use keyrate::time::Instant;
    ///
    /// let minute = SlidingWindow::<[u64; 5]>::new(5, Duration::from_secs(60))?;
    /// let table = SharedTable::new(minute, 8);
    /// let t = Instant::from_secs(0);
    /// std::thread::scope(|s| {
    ///     for _ in 0..4 {
    ///         s.spawn(|| {
    ///             for account in 0u32..100 {
    ///                 table.check(&account, t, 1).unwrap();
    ///             }
    ///         });
    ///     }
    /// });
    /// // Every account asked 4 times: all admitted, each now has 1 left.
    /// assert!(table.check(&7, t, 1)?.is_allowed());
    /// assert!(!table.check(&7, t, 1)?.is_allowed());
    /// assert_eq!(table.len(), 100);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub struct SharedTable<K, L: Limiter, H = RandomState> {
        limiter: L,
        hasher: H,
        /// Shard 0; there is always at least one.
        first: Shard<K, L::State, H>,
        /// Shards 1 and up.
        rest: Box<[Shard<K, L::State, H>]>,
    }

    type Shard<K, St, H> = Mutex<Entries<K, St, H>>;

    impl<K: Hash + Eq + Clone, L: Limiter> SharedTable<K, L> {
        /// An empty table of `shards` shards (at least 1) without a
        /// maximum, hashing keys with `std`'s keyed SipHash.
        pub fn new(limiter: L, shards: usize) -> Self {
            SharedTable::with_hasher(limiter, shards, RandomState::new())
        }
    }

    impl<K, L, H> SharedTable<K, L, H>
    where
        K: Hash + Eq + Clone,
        L: Limiter,
        H: BuildHasher + Clone,
    {
        /// An empty table of `shards` shards (at least 1), hashing keys with
        /// `hasher`.
        pub fn with_hasher(limiter: L, shards: usize, hasher: H) -> Self {
            let shard = || Mutex::new(Entries::with_hasher(hasher.clone()));
            let rest: Vec<_> = (1..shards).map(|_| shard()).collect();
            SharedTable {
                limiter,
                first: shard(),
                rest: rest.into_boxed_slice(),
                hasher,
            }
        }

        /// Sets the most keys each shard holds.
        #[must_use]
        pub fn with_max_len_per_shard(self, max_len: usize) -> Self {
            for shard in self.shards() {
                lock(shard).max_len = Some(max_len);
            }
            self
        }

        /// Decides whether `key` may spend `cost` at `now`, charging it if so.
        ///
        /// # Errors
        ///
        /// As [`GrowableTable::check`](crate::keyed::GrowableTable::check),
        /// with the maximum applying to the key's shard.
        pub fn check(
            &self,
            key: &K,
            now: Instant,
            cost: u32,
        ) -> Result<L::Decision, KeyedError<L::Error>> {
            lock(self.shard(key)).check(&self.limiter, key, now, cost)
        }

        /// Drops every entry idle at `now`, one shard at a time, and returns
        /// how many were dropped.
        pub fn sweep(&self, now: Instant) -> usize {
            self.shards()
                .map(|s| lock(s).sweep(&self.limiter, now))
                .sum()
        }

        /// A copy of the state held for `key`, if any.
        pub fn get(&self, key: &K) -> Option<L::State>
        where
            L::State: Clone,
        {
            lock(self.shard(key)).map.get(key).cloned()
        }

        /// Removes `key` and returns its state. Its next request starts
        /// fresh.
        pub fn remove(&self, key: &K) -> Option<L::State> {
            lock(self.shard(key)).map.remove(key)
        }

        /// The number of keys held, counted one shard at a time.
        pub fn len(&self) -> usize {
            self.shards().map(|s| lock(s).map.len()).sum()
        }

        /// True if no shard holds a key.
        pub fn is_empty(&self) -> bool {
            self.shards().all(|s| lock(s).map.is_empty())
        }

        /// The rules applied to every key.
        pub fn limiter(&self) -> &L {
            &self.limiter
        }

        /// The shard of `key`, from the high half of its hash (the map
        /// inside uses the low bits and the top seven).
        fn shard(&self, key: &K) -> &Shard<K, L::State, H> {
            let high = (self.hasher.hash_one(key) >> 32) as usize;
            let index = high % (self.rest.len() + 1);
            match index.checked_sub(1) {
                Some(i) => self.rest.get(i).unwrap_or(&self.first),
                None => &self.first,
            }
        }

        fn shards(&self) -> impl Iterator<Item = &Shard<K, L::State, H>> {
            core::iter::once(&self.first).chain(self.rest.iter())
        }
    }

    /// Shows the shard count, never the keys.
    impl<K, L: Limiter, H> fmt::Debug for SharedTable<K, L, H> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SharedTable")
                .field("shards", &(self.rest.len() + 1))
                .finish_non_exhaustive()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn the_atomic_bucket_decides_as_the_plain_one() {
        let limit = TokenBucket::new(3, Duration::from_secs(2)).unwrap();
        let shared = AtomicTokenBucket::new(limit);
        let mut plain = Limit::new_state(&limit);
        let times = [0, 0, 1, 1, 1, 2, 5, 3, 9, 9, 9, 9, 20];
        for (i, s) in times.iter().enumerate() {
            let now = Instant::from_secs(*s);
            let cost = (i % 3) as u32;
            assert_eq!(shared.check(now, cost), limit.check(&mut plain, now, cost));
            assert_eq!(shared.state(), plain);
        }
        assert!(shared.check(Instant::ZERO, 4).is_err());
        assert_eq!(shared.state(), plain);
    }
}
