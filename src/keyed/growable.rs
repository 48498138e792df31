//! A keyed table over `std`'s `HashMap`: grows with the keys it sees.

use core::fmt;
use core::hash::{BuildHasher, Hash};
use std::collections::HashMap;
use std::hash::RandomState;

use super::{KeyedError, Latest, Limiter, TableFull, fresh};
use crate::time::Instant;

/// Limiter state for any number of keys, or up to an optional maximum, in a
/// `std` `HashMap`.
///
/// It behaves as [`FixedTable`](super::FixedTable) does: fresh state for a
/// new key, eviction of idle entries only, [`KeyedError::Full`] rather than
/// a silent reset when a maximum is set and reached. Without a maximum it
/// never refuses a key; call [`sweep`](GrowableTable::sweep) from time to
/// time (say, once a minute) to drop idle entries, or it keeps every key it
/// has ever seen.
///
/// A check on a known key allocates nothing; a new key may make the map
/// grow. Keys are hashed with `H`, by default `std`'s keyed SipHash
/// (`RandomState`), which resists keys chosen to collide.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::keyed::{GrowableTable, KeyedError};
/// use keyrate::limit::TokenBucket;
/// use keyrate::time::Instant;
///
/// let bucket = TokenBucket::new(1, Duration::from_secs(10))?;
/// let mut table = GrowableTable::new(bucket).with_max_len(2);
/// let t = Instant::from_secs(0);
/// assert!(table.check(&"alice", t, 1)?.is_allowed());
/// assert!(table.check(&"bob", t, 1)?.is_allowed());
/// assert!(matches!(table.check(&"carol", t, 1), Err(KeyedError::Full(_))));
///
/// // Ten seconds on, both buckets are full again and may be dropped.
/// assert_eq!(table.sweep(Instant::from_secs(10)), 2);
/// assert!(table.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct GrowableTable<K, L: Limiter, H = RandomState> {
    limiter: L,
    entries: Entries<K, L::State, H>,
}

impl<K: Hash + Eq + Clone, L: Limiter> GrowableTable<K, L> {
    /// An empty table without a maximum, applying `limiter` to every key.
    pub fn new(limiter: L) -> Self {
        GrowableTable::with_hasher(limiter, RandomState::new())
    }
}

impl<K: Hash + Eq + Clone, L: Limiter, H: BuildHasher> GrowableTable<K, L, H> {
    /// An empty table without a maximum, hashing keys with `hasher`.
    pub fn with_hasher(limiter: L, hasher: H) -> Self {
        GrowableTable {
            limiter,
            entries: Entries::with_hasher(hasher),
        }
    }

    /// Sets the most keys the table holds. A table already holding more
    /// keeps them, and admits no new live key until idle ones are dropped.
    #[must_use]
    pub fn with_max_len(mut self, max_len: usize) -> Self {
        self.entries.max_len = Some(max_len);
        self
    }

    /// Decides whether `key` may spend `cost` at `now`, charging it if so.
    ///
    /// # Errors
    ///
    /// - [`KeyedError::Check`] when the limiter can never admit `cost`;
    /// - [`KeyedError::Full`] when `key` is new, the table holds its
    ///   maximum and none of its entries is idle.
    ///
    /// Either way no state is changed.
    #[inline]
    pub fn check(
        &mut self,
        key: &K,
        now: Instant,
        cost: u32,
    ) -> Result<L::Decision, KeyedError<L::Error>> {
        self.entries.check(&self.limiter, key, now, cost)
    }

    /// Drops every entry idle at `now` and returns how many were dropped.
    pub fn sweep(&mut self, now: Instant) -> usize {
        self.entries.sweep(&self.limiter, now)
    }

    /// The state held for `key`, if any.
    pub fn get(&self, key: &K) -> Option<&L::State> {
        self.entries.map.get(key)
    }

    /// Removes `key` and returns its state. Its next request starts fresh.
    pub fn remove(&mut self, key: &K) -> Option<L::State> {
        self.entries.map.remove(key)
    }

    /// The number of keys held.
    pub fn len(&self) -> usize {
        self.entries.map.len()
    }

    /// True if no key is held.
    pub fn is_empty(&self) -> bool {
        self.entries.map.is_empty()
    }

    /// The most keys the table holds, if limited.
    pub fn max_len(&self) -> Option<usize> {
        self.entries.max_len
    }

    /// The rules applied to every key.
    pub fn limiter(&self) -> &L {
        &self.limiter
    }

    /// The latest time the table has been called with.
    pub fn latest(&self) -> Instant {
        self.entries.latest.get()
    }

    /// The keys held and their states, in no particular order.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use keyrate::keyed::GrowableTable;
    /// use keyrate::limit::TokenBucket;
    /// use keyrate::time::Instant;
    ///
    /// let mut table = GrowableTable::new(TokenBucket::new(2, Duration::from_secs(1))?);
    /// table.check(&"alice", Instant::ZERO, 1)?;
    /// let keys: Vec<&str> = table.iter().map(|(k, _)| *k).collect();
    /// assert_eq!(keys, ["alice"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&K, &L::State)> {
        self.entries.map.iter()
    }

    /// The map itself: for restoring a snapshot.
    #[cfg(feature = "serde")]
    pub(crate) fn entries_mut(&mut self) -> &mut Entries<K, L::State, H> {
        &mut self.entries
    }
}

/// Shows the table's size, never its keys.
impl<K, L: Limiter, H> fmt::Debug for GrowableTable<K, L, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrowableTable")
            .field("len", &self.entries.map.len())
            .field("max_len", &self.entries.max_len)
            .field("latest", &self.entries.latest.get())
            .finish_non_exhaustive()
    }
}

/// The map behind a [`GrowableTable`], without its limiter, so that the
/// shards of a shared table can hold one each.
pub(crate) struct Entries<K, St, H> {
    pub(crate) map: HashMap<K, St, H>,
    pub(crate) max_len: Option<usize>,
    pub(crate) latest: Latest,
}

impl<K: Hash + Eq + Clone, St, H: BuildHasher> Entries<K, St, H> {
    pub(crate) fn with_hasher(hasher: H) -> Self {
        Entries {
            map: HashMap::with_hasher(hasher),
            max_len: None,
            latest: Latest::default(),
        }
    }

    /// See [`GrowableTable::check`].
    #[inline]
    pub(crate) fn check<L: Limiter<State = St>>(
        &mut self,
        limiter: &L,
        key: &K,
        now: Instant,
        cost: u32,
    ) -> Result<L::Decision, KeyedError<L::Error>> {
        let now = self.latest.observe(now);
        if let Some(state) = self.map.get_mut(key) {
            return limiter.check(state, now, cost).map_err(KeyedError::Check);
        }
        self.check_new(limiter, key, now, cost)
    }

    /// A request from a key the map does not hold, kept out of line so that
    /// the common case stays small enough to inline.
    #[cold]
    fn check_new<L: Limiter<State = St>>(
        &mut self,
        limiter: &L,
        key: &K,
        now: Instant,
        cost: u32,
    ) -> Result<L::Decision, KeyedError<L::Error>> {
        let fresh = fresh(limiter, now, cost)?;
        if let Some(state) = fresh.keep {
            self.make_room(limiter, now).map_err(KeyedError::Full)?;
            self.map.insert(key.clone(), state);
        }
        Ok(fresh.decision)
    }

    /// Ensures there is room for one more key, sweeping if at the maximum.
    fn make_room<L: Limiter<State = St>>(
        &mut self,
        limiter: &L,
        now: Instant,
    ) -> Result<(), TableFull> {
        let Some(max) = self.max_len else {
            return Ok(());
        };
        if self.map.len() >= max {
            self.sweep_at(limiter, now);
        }
        if self.map.len() >= max {
            return Err(TableFull { capacity: max });
        }
        Ok(())
    }

    /// See [`GrowableTable::sweep`].
    pub(crate) fn sweep<L: Limiter<State = St>>(&mut self, limiter: &L, now: Instant) -> usize {
        let now = self.latest.observe(now);
        self.sweep_at(limiter, now)
    }

    fn sweep_at<L: Limiter<State = St>>(&mut self, limiter: &L, now: Instant) -> usize {
        let before = self.map.len();
        self.map.retain(|_, state| !limiter.is_idle(state, now));
        before - self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limit::TokenBucket;
    use core::time::Duration;

    fn bucket() -> TokenBucket {
        TokenBucket::new(2, Duration::from_secs(1)).unwrap()
    }

    #[test]
    fn without_a_maximum_every_key_is_kept_until_swept() {
        let mut t = GrowableTable::new(bucket());
        for k in 0u32..1000 {
            t.check(&k, Instant::ZERO, 1).unwrap();
        }
        assert_eq!(t.len(), 1000);
        assert_eq!(t.sweep(Instant::from_millis(999)), 0);
        assert_eq!(t.sweep(Instant::from_secs(1)), 1000);
    }

    #[test]
    fn at_the_maximum_idle_keys_make_room_and_live_ones_are_kept() {
        let mut t = GrowableTable::new(bucket()).with_max_len(2);
        t.check(&1, Instant::ZERO, 1).unwrap();
        t.check(&2, Instant::from_millis(500), 1).unwrap();
        let full = t.check(&3, Instant::from_millis(900), 1);
        assert_eq!(full, Err(KeyedError::Full(TableFull { capacity: 2 })));

        // At 1 s key 1 is idle, key 2 is not.
        assert!(t.check(&3, Instant::from_secs(1), 1).unwrap().is_allowed());
        assert!(t.get(&1).is_none());
        assert!(t.get(&2).is_some());
    }

    #[test]
    fn a_cost_that_never_fits_adds_no_key() {
        let mut t = GrowableTable::new(bucket());
        let e = t.check(&1, Instant::ZERO, 3).unwrap_err();
        assert!(matches!(e, KeyedError::Check(_)));
        assert!(t.is_empty());
    }
}
