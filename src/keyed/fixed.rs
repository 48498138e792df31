//! A keyed table in inline arrays: capacity fixed at compile time, no heap.

use core::fmt;
use core::hash::{BuildHasher, Hash};

use super::{KeyedError, Latest, Limiter, SeededHash, TableFull, fresh};
use crate::time::Instant;

/// Limiter state for up to `N − N/8` keys in `N` inline slots, with no heap
/// and no allocation on a check.
///
/// `N` is a power of two from 8 to 2^31, checked at compile time. One slot in
/// eight stays free so that a search for a missing key ends quickly. The
/// table is open addressing with linear probing kept in Robin Hood order
/// (an entry far from its home slot takes the place of one nearer to its
/// own), which bounds how far a search runs even when the table is nearly
/// full. Removal shifts the following entries back instead of leaving
/// tombstones.
///
/// Each slot takes [`SLOT_BYTES`](FixedTable::SLOT_BYTES): a 4-byte hash tag
/// plus an `Option<(K, L::State)>`. The whole table lives inside the value
/// (about 28 bytes × `N` for `u64` keys and a token bucket), so a large one
/// belongs in a `static`, a `Box` or a long-lived frame, not a small stack.
/// A policy whose sliding windows store their slots on the heap allocates
/// once per new key, when its state is made.
///
/// See the [module docs](super) for eviction and for time going backwards.
///
/// # Cost
///
/// A check on a key the table holds hashes the key once and reads a few
/// adjacent tags. Inserting a key into a full table first sweeps it (one
/// pass over all `N` slots); a table that stays full of live keys pays that
/// pass on every refused new key, so size it for the peak number of keys
/// live within one window.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::keyed::FixedTable;
/// use keyrate::limit::TokenBucket;
/// use keyrate::time::Instant;
///
/// // 300 per hour in bursts of 60, for up to 14 336 accounts.
/// let bucket = TokenBucket::per_window(300, Duration::from_secs(3600), 60)?;
/// let mut table = Box::new(FixedTable::<u64, _, 16384>::new(bucket));
/// assert_eq!(table.capacity(), 14_336);
///
/// let t = Instant::from_secs(0);
/// assert!(table.check(&7, t, 60)?.is_allowed());
/// assert!(!table.check(&7, t, 1)?.is_allowed());
/// assert!(table.check(&8, t, 1)?.is_allowed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FixedTable<K, L: Limiter, const N: usize, H = SeededHash> {
    limiter: L,
    hasher: H,
    /// `0` for an empty slot, otherwise the key's hash with the top bit set.
    tags: [u32; N],
    entries: [Option<(K, L::State)>; N],
    len: usize,
    latest: Latest,
}

/// Where a search for a key ended.
enum Probe {
    /// The key is in this slot.
    Found(usize),
    /// The key is absent; it belongs at this slot, this far from home.
    Vacant { at: usize, distance: usize },
}

/// Marks a tag as occupied; the lower 31 bits are the hash's.
const OCCUPIED: u32 = 1 << 31;

impl<K, L, const N: usize, H> FixedTable<K, L, N, H>
where
    K: Hash + Eq + Clone,
    L: Limiter,
    H: BuildHasher,
{
    /// Rejects, at compile time, a slot count the table cannot use.
    const VALID_SIZE: () = assert!(
        N.is_power_of_two() && N >= 8 && N <= 1 << 31,
        "a FixedTable needs a power of two from 8 to 2^31 slots"
    );

    /// The most keys the table holds: `N − N/8`.
    pub const CAPACITY: usize = N - N / 8;

    /// Bytes taken by each of the `N` slots: the tag and the entry.
    pub const SLOT_BYTES: usize = size_of::<u32>() + size_of::<Option<(K, L::State)>>();

    const MASK: usize = N.wrapping_sub(1);

    /// An empty table applying `limiter` to every key, hashing keys with
    /// `hasher`.
    pub fn with_hasher(limiter: L, hasher: H) -> Self {
        let () = Self::VALID_SIZE;
        FixedTable {
            limiter,
            hasher,
            tags: [0; N],
            entries: [const { None }; N],
            len: 0,
            latest: Latest::default(),
        }
    }

    /// Decides whether `key` may spend `cost` at `now`, charging it if so.
    ///
    /// A key seen for the first time starts from the limiter's fresh state.
    /// If the table has no room for it, idle entries are dropped first.
    ///
    /// # Errors
    ///
    /// - [`KeyedError::Check`] when the limiter can never admit `cost`;
    /// - [`KeyedError::Full`] when `key` is new, the table holds
    ///   [`CAPACITY`](FixedTable::CAPACITY) keys and none is idle.
    ///
    /// Either way no state is changed.
    #[inline]
    pub fn check(
        &mut self,
        key: &K,
        now: Instant,
        cost: u32,
    ) -> Result<L::Decision, KeyedError<L::Error>> {
        let now = self.latest.observe(now);
        let tag = self.tag(key);
        match self.probe(key, tag) {
            Probe::Found(i) => match self.entries.get_mut(i) {
                Some(Some((_, state))) => self
                    .limiter
                    .check(state, now, cost)
                    .map_err(KeyedError::Check),
                // A found slot always holds an entry.
                _ => Err(KeyedError::Full(self.full())),
            },
            Probe::Vacant { at, distance } => {
                let fresh = fresh(&self.limiter, now, cost)?;
                if let Some(state) = fresh.keep {
                    self.store(at, distance, key, tag, state, now)
                        .map_err(KeyedError::Full)?;
                }
                Ok(fresh.decision)
            }
        }
    }

    /// Drops every entry idle at `now` and returns how many were dropped.
    ///
    /// `now` counts as a time the table has seen (see the module docs).
    pub fn sweep(&mut self, now: Instant) -> usize {
        let now = self.latest.observe(now);
        self.sweep_at(now)
    }

    /// The state held for `key`, if any.
    pub fn get(&self, key: &K) -> Option<&L::State> {
        match self.probe(key, self.tag(key)) {
            Probe::Found(i) => self.entries.get(i)?.as_ref().map(|(_, s)| s),
            Probe::Vacant { .. } => None,
        }
    }

    /// Removes `key` and returns its state.
    ///
    /// Removing a live key forgets what it has spent: its next request
    /// starts from a fresh state.
    pub fn remove(&mut self, key: &K) -> Option<L::State> {
        match self.probe(key, self.tag(key)) {
            Probe::Found(i) => self.remove_at(i).map(|(_, s)| s),
            Probe::Vacant { .. } => None,
        }
    }

    /// The number of keys held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if no key is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most keys the table holds: [`CAPACITY`](FixedTable::CAPACITY).
    pub fn capacity(&self) -> usize {
        Self::CAPACITY
    }

    /// The rules applied to every key.
    pub fn limiter(&self) -> &L {
        &self.limiter
    }

    /// The latest time the table has been called with.
    pub fn latest(&self) -> Instant {
        self.latest.get()
    }

    fn full(&self) -> TableFull {
        TableFull {
            capacity: Self::CAPACITY,
        }
    }

    /// The tag of `key`: 31 bits of its hash, with [`OCCUPIED`] set.
    #[inline]
    fn tag(&self, key: &K) -> u32 {
        // Truncation keeps the low bits, which choose the home slot.
        (self.hasher.hash_one(key) as u32) | OCCUPIED
    }

    /// How far the entry tagged `tag` sits from its home when in slot `i`.
    #[inline]
    fn distance(i: usize, tag: u32) -> usize {
        let home = tag as usize & Self::MASK;
        i.wrapping_sub(home) & Self::MASK
    }

    /// Searches for `key` from its home slot. Robin Hood order lets a miss
    /// stop at the first entry nearer to its own home than the search is.
    #[inline]
    fn probe(&self, key: &K, tag: u32) -> Probe {
        let mut i = tag as usize & Self::MASK;
        for distance in 0..N {
            let t = self.tags.get(i).copied().unwrap_or(0);
            if t == 0 || Self::distance(i, t) < distance {
                return Probe::Vacant { at: i, distance };
            }
            if t == tag && self.entries.get(i).is_some_and(|e| Self::holds(e, key)) {
                return Probe::Found(i);
            }
            i = (i + 1) & Self::MASK;
        }

        // Unreachable: at least N/8 slots are always empty.
        Probe::Vacant { at: i, distance: N }
    }

    fn holds(entry: &Option<(K, L::State)>, key: &K) -> bool {
        entry.as_ref().is_some_and(|(k, _)| k == key)
    }

    /// Stores a new key's state, first making room if the table is full.
    /// The search for the key ended at `at`, `distance` from home.
    fn store(
        &mut self,
        at: usize,
        distance: usize,
        key: &K,
        tag: u32,
        state: L::State,
        now: Instant,
    ) -> Result<(), TableFull> {
        let (mut at, mut distance) = (at, distance);
        if self.len >= Self::CAPACITY {
            if self.sweep_at(now) == 0 {
                return Err(self.full());
            }

            // The sweep moved entries: search again.
            match self.probe(key, tag) {
                Probe::Vacant { at: a, distance: d } => (at, distance) = (a, d),
                Probe::Found(_) => return Err(self.full()),
            }
        }
        self.insert_at(at, distance, tag, (key.clone(), state));
        Ok(())
    }

    /// Places an entry whose search ended at `at`, `distance` from home,
    /// displacing entries nearer their homes until an empty slot is reached.
    fn insert_at(&mut self, at: usize, distance: usize, tag: u32, entry: (K, L::State)) {
        let mut i = at;
        let mut distance = distance;
        let mut tag = tag;
        let mut entry = Some(entry);
        for _ in 0..N {
            let (Some(t), Some(e)) = (self.tags.get_mut(i), self.entries.get_mut(i)) else {
                return;
            };
            if *t == 0 {
                *t = tag;
                *e = entry;
                self.len += 1;
                return;
            }

            // Robin Hood: the entry nearer its home moves on.
            let here = Self::distance(i, *t);
            if here < distance {
                core::mem::swap(t, &mut tag);
                core::mem::swap(e, &mut entry);
                distance = here;
            }
            i = (i + 1) & Self::MASK;
            distance += 1;
        }
    }

    /// Empties slot `i` and shifts the entries after it back by one, up to
    /// the first empty slot or entry already at home.
    fn remove_at(&mut self, i: usize) -> Option<(K, L::State)> {
        let removed = self.entries.get_mut(i)?.take()?;
        self.len -= 1;
        let mut hole = i;
        loop {
            let next = (hole + 1) & Self::MASK;
            let t = self.tags.get(next).copied().unwrap_or(0);
            if t == 0 || Self::distance(next, t) == 0 {
                break;
            }
            self.tags.swap(hole, next);
            self.entries.swap(hole, next);
            hole = next;
        }
        if let Some(t) = self.tags.get_mut(hole) {
            *t = 0;
        }
        Some(removed)
    }

    /// Drops every entry idle at `now` (already observed).
    fn sweep_at(&mut self, now: Instant) -> usize {
        let before = self.len;
        let mut i = 0;
        while i < N && self.len > 0 {
            // Removal shifts the next entry into `i`: look at `i` again.
            let idle = match self.entries.get(i) {
                Some(Some((_, state))) => self.limiter.is_idle(state, now),
                _ => false,
            };
            if idle {
                self.remove_at(i);
            } else {
                i += 1;
            }
        }
        before - self.len
    }
}

impl<K, L, const N: usize, H> FixedTable<K, L, N, H>
where
    K: Hash + Eq + Clone,
    L: Limiter,
    H: BuildHasher + Default,
{
    /// An empty table applying `limiter` to every key.
    pub fn new(limiter: L) -> Self {
        FixedTable::with_hasher(limiter, H::default())
    }
}

/// Shows the table's size and latest time, never its keys (which may be
/// key digests or addresses).
impl<K, L: Limiter, const N: usize, H> fmt::Debug for FixedTable<K, L, N, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedTable")
            .field("len", &self.len)
            .field("slots", &N)
            .field("latest", &self.latest.get())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limit::{TokenBucket, TokenBucketState};
    use core::hash::Hasher;
    use core::time::Duration;

    /// Sends every key to slot 0, to exercise collisions.
    #[derive(Clone, Copy, Default)]
    struct Collide;

    struct Zero;

    impl Hasher for Zero {
        fn write(&mut self, _: &[u8]) {}
        fn finish(&self) -> u64 {
            0
        }
    }

    impl BuildHasher for Collide {
        type Hasher = Zero;
        fn build_hasher(&self) -> Zero {
            Zero
        }
    }

    fn bucket() -> TokenBucket {
        TokenBucket::new(2, Duration::from_secs(1)).unwrap()
    }

    #[test]
    fn colliding_keys_are_kept_apart_and_removed_cleanly() {
        let mut t: FixedTable<u32, TokenBucket, 16, Collide> = FixedTable::new(bucket());
        let now = Instant::from_secs(1);
        for k in 0..10 {
            t.check(&k, now, 1).unwrap();
        }
        t.check(&3, now, 1).unwrap();
        assert_eq!(t.len(), 10);
        assert!(t.remove(&0).is_some());
        assert!(t.remove(&5).is_some());
        assert!(t.get(&0).is_none());
        for k in [1, 2, 4, 6, 7, 8, 9] {
            assert!(t.get(&k).is_some(), "key {k} lost");
        }

        // Key 3 spent both units; the others one.
        let spent_twice = TokenBucketState::from_tat(Instant::from_secs(3));
        assert_eq!(t.get(&3), Some(&spent_twice));
        assert_eq!(t.len(), 8);
    }

    #[test]
    fn a_full_table_makes_room_by_sweeping_idle_keys() {
        let mut t: FixedTable<u32, TokenBucket, 8> = FixedTable::new(bucket());
        for k in 0..7 {
            t.check(&k, Instant::from_secs(u64::from(k)), 1).unwrap();
        }

        // At 6.5 s only keys 6 and 7's buckets are not yet full again.
        let now = Instant::from_millis(6_500);
        assert!(t.check(&100, now, 1).unwrap().is_allowed());
        assert_eq!(t.len(), 2);
        assert!(t.get(&6).is_some());
        assert!(t.get(&5).is_none());
    }

    #[test]
    fn a_request_that_leaves_a_new_key_idle_takes_no_slot() {
        let mut t: FixedTable<u32, TokenBucket, 8> = FixedTable::new(bucket());
        assert!(t.check(&1, Instant::ZERO, 0).unwrap().is_allowed());
        assert!(t.is_empty());
    }

    #[test]
    fn sweep_drops_only_idle_keys_and_counts_them() {
        let mut t: FixedTable<u32, TokenBucket, 32, Collide> = FixedTable::new(bucket());
        for k in 0..20 {
            let cost = if k % 2 == 0 { 2 } else { 1 };
            t.check(&k, Instant::ZERO, cost).unwrap();
        }

        // At 1 s the one-unit keys are full again; the two-unit keys are not.
        assert_eq!(t.sweep(Instant::from_secs(1)), 10);
        for k in 0..20 {
            assert_eq!(t.get(&k).is_some(), k % 2 == 0, "key {k}");
        }
    }

    #[test]
    fn debug_shows_no_key() {
        let mut t: FixedTable<u64, TokenBucket, 8> = FixedTable::new(bucket());
        t.check(&0xdead_beef, Instant::ZERO, 1).unwrap();
        let mut s: heapless::String<128> = heapless::String::new();
        let _ = fmt::write(&mut s, format_args!("{t:?}"));
        assert!(!s.contains("3735928559"), "{s}");
        assert!(s.contains("len: 1"), "{s}");
    }
}
