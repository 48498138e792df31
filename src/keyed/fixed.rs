//! A keyed table in inline arrays: capacity fixed at compile time, no heap.

use core::fmt;
use core::hash::{BuildHasher, Hash};

use super::{KeyedError, Latest, Limiter, SeededHash, TableFull, fresh};
use crate::time::Instant;

/// Slots per group: the control bytes of a group fill one `u64`.
const GROUP: usize = 8;

/// The control byte of an empty slot.
const EMPTY: u8 = 0;

/// Set in the control byte of every full slot; its other 7 bits are the top
/// of the key's hash.
const FULL: u8 = 0x80;

/// `0x01` in every byte of a group word.
const LOW_BITS: u64 = 0x0101_0101_0101_0101;

/// `0x80` in every byte of a group word.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Limiter state for up to `N − N/8` keys in `N` inline slots, with no heap
/// and no allocation on a check.
///
/// `N` is a power of two, at least 8, checked at compile time. The slots
/// form groups of 8, in the manner of the SwissTable design: each slot has a
/// control byte (empty, or full with 7 bits of its key's hash), and a search
/// compares a whole group's control bytes at once, as one `u64`, so it
/// rarely branches on anything but the answer. A key lives in the first
/// group from its home group with an empty slot; a group that a key had to
/// pass is marked, and a search goes on past a group only if it is marked.
/// Removal just empties the slot. One slot in eight stays free, so groups
/// are rarely full.
///
/// Each slot takes [`SLOT_BYTES`](FixedTable::SLOT_BYTES): the key and its
/// state, a control byte and a byte for the group mark (26 bytes for `u64`
/// keys and a token bucket). The whole table lives inside the value, so a
/// large one belongs in a `static`, a `Box` or a long-lived frame, not a
/// small stack. A policy whose sliding windows store their slots on the
/// heap allocates once per new key, when its state is made.
///
/// See the [module docs](super) for eviction and for time going backwards.
///
/// # Cost
///
/// A check on a key the table holds hashes the key once, reads the 8
/// control bytes of its home group and then the entry; rarely the next
/// group too. Inserting a key into a full table first sweeps it (one pass
/// over all `N` slots, rehashing the keys it keeps); a table that stays full
/// of live keys pays that pass on every refused new key, so size it for the
/// peak number of keys live within one window. Marks left by removed keys
/// only lengthen searches, and every sweep recomputes them.
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
    /// One byte per slot: [`EMPTY`], or [`FULL`] and 7 bits of the hash.
    control: [u8; N],
    /// At the first slot of each group: a key was placed past this group
    /// because it was full, so a search must not stop here.
    passed: [bool; N],
    entries: [Option<(K, L::State)>; N],
    len: usize,
    latest: Latest,
}

/// What a key's hash says about where it lives.
#[derive(Clone, Copy)]
struct Hashed {
    /// The group its search starts at.
    group: usize,
    /// Its control byte.
    control: u8,
}

impl<K, L, const N: usize, H> FixedTable<K, L, N, H>
where
    K: Hash + Eq + Clone,
    L: Limiter,
    H: BuildHasher,
{
    /// Rejects, at compile time, a slot count the table cannot use.
    const VALID_SIZE: () = assert!(
        N.is_power_of_two() && N >= GROUP,
        "a FixedTable needs a power of two of at least 8 slots"
    );

    /// The most keys the table holds: `N − N/8`.
    pub const CAPACITY: usize = N - N / 8;

    /// Bytes taken by each of the `N` slots: the entry, its control byte
    /// and the group mark.
    pub const SLOT_BYTES: usize = 2 + size_of::<Option<(K, L::State)>>();

    const GROUP_MASK: usize = (N / GROUP).wrapping_sub(1);

    /// An empty table applying `limiter` to every key, hashing keys with
    /// `hasher`.
    pub fn with_hasher(limiter: L, hasher: H) -> Self {
        let () = Self::VALID_SIZE;
        FixedTable {
            limiter,
            hasher,
            control: [EMPTY; N],
            passed: [false; N],
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
        let hashed = self.hashed(key);
        let found = self.find(key, hashed);
        if let Some(Some((_, state))) = found.and_then(|i| self.entries.get_mut(i)) {
            return self
                .limiter
                .check(state, now, cost)
                .map_err(KeyedError::Check);
        }
        self.check_new(key, hashed, now, cost)
    }

    /// Checks a request from a key the table does not hold: decides on a
    /// fresh state and stores it if it stays live. Kept out of line, so
    /// that the common case, a known key, stays small enough to inline.
    #[cold]
    fn check_new(
        &mut self,
        key: &K,
        hashed: Hashed,
        now: Instant,
        cost: u32,
    ) -> Result<L::Decision, KeyedError<L::Error>> {
        let fresh = fresh(&self.limiter, now, cost)?;
        if let Some(state) = fresh.keep {
            self.store(key, hashed, state, now)
                .map_err(KeyedError::Full)?;
        }
        Ok(fresh.decision)
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
        let i = self.find(key, self.hashed(key))?;
        self.entries.get(i)?.as_ref().map(|(_, s)| s)
    }

    /// Removes `key` and returns its state.
    ///
    /// Removing a live key forgets what it has spent: its next request
    /// starts from a fresh state.
    pub fn remove(&mut self, key: &K) -> Option<L::State> {
        let i = self.find(key, self.hashed(key))?;
        self.remove_at(i).map(|(_, s)| s)
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

    /// The keys held and their states, in no particular order.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use keyrate::keyed::FixedTable;
    /// use keyrate::limit::TokenBucket;
    /// use keyrate::time::Instant;
    ///
    /// let bucket = TokenBucket::new(2, Duration::from_secs(1))?;
    /// let mut table: FixedTable<u64, TokenBucket, 8> = FixedTable::new(bucket);
    /// table.check(&7, Instant::ZERO, 1)?;
    /// let keys: Vec<u64> = table.iter().map(|(k, _)| *k).collect();
    /// assert_eq!(keys, [7]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&K, &L::State)> {
        self.entries
            .iter()
            .filter_map(|e| e.as_ref().map(|(k, s)| (k, s)))
    }

    /// Stores `state` for a key the table does not hold, without sweeping:
    /// `Ok(false)` if the key is already held (nothing is changed), and
    /// [`TableFull`] at [`CAPACITY`](FixedTable::CAPACITY). For restoring a
    /// snapshot.
    #[cfg(all(feature = "serde", feature = "alloc"))]
    pub(crate) fn insert_new(&mut self, key: K, state: L::State) -> Result<bool, TableFull> {
        let hashed = self.hashed(&key);
        if self.find(&key, hashed).is_some() {
            return Ok(false);
        }
        if self.len >= Self::CAPACITY {
            return Err(self.full());
        }
        let Some(i) = self.vacant(hashed) else {
            return Err(self.full());
        };
        if let (Some(c), Some(e)) = (self.control.get_mut(i), self.entries.get_mut(i)) {
            *c = hashed.control;
            *e = Some((key, state));
            self.len += 1;
        }
        Ok(true)
    }

    /// Drops every entry and every group mark (the latest time is kept).
    #[cfg(all(feature = "serde", feature = "alloc"))]
    pub(crate) fn clear(&mut self) {
        self.control.fill(EMPTY);
        self.passed.fill(false);
        self.entries.iter_mut().for_each(|e| *e = None);
        self.len = 0;
    }

    /// Records `now` as a time the table has seen.
    #[cfg(all(feature = "serde", feature = "alloc"))]
    pub(crate) fn observe(&mut self, now: Instant) {
        self.latest.observe(now);
    }

    fn full(&self) -> TableFull {
        TableFull {
            capacity: Self::CAPACITY,
        }
    }

    /// The home group from the low bits of the hash, the control byte from
    /// the top seven.
    #[inline]
    fn hashed(&self, key: &K) -> Hashed {
        let hash = self.hasher.hash_one(key);
        Hashed {
            group: hash as usize & Self::GROUP_MASK,
            control: FULL | (hash >> 57) as u8,
        }
    }

    /// The control bytes of `group`, the first slot's in the low byte.
    #[inline]
    fn group_word(&self, group: usize) -> u64 {
        let start = group * GROUP;
        self.control
            .get(start..start + GROUP)
            .and_then(|bytes| <[u8; GROUP]>::try_from(bytes).ok())
            .map_or(0, u64::from_le_bytes)
    }

    /// True if a search must go on past `group`.
    #[inline]
    fn was_passed(&self, group: usize) -> bool {
        self.passed.get(group * GROUP).copied().unwrap_or(false)
    }

    /// The slot holding `key`, if any.
    #[inline]
    fn find(&self, key: &K, hashed: Hashed) -> Option<usize> {
        let mut group = hashed.group;
        for _ in 0..N / GROUP {
            let mut hits = matching(self.group_word(group), hashed.control);
            while hits != 0 {
                let i = group * GROUP + first_byte(hits);
                if let Some(Some((k, _))) = self.entries.get(i)
                    && k == key
                {
                    return Some(i);
                }
                hits &= hits - 1;
            }
            if !self.was_passed(group) {
                return None;
            }
            group = (group + 1) & Self::GROUP_MASK;
        }
        None
    }

    /// The first empty slot from the home group on, marking every full
    /// group passed on the way.
    fn vacant(&mut self, hashed: Hashed) -> Option<usize> {
        let mut group = hashed.group;
        for _ in 0..N / GROUP {
            let empty = !self.group_word(group) & HIGH_BITS;
            if empty != 0 {
                return Some(group * GROUP + first_byte(empty));
            }
            if let Some(passed) = self.passed.get_mut(group * GROUP) {
                *passed = true;
            }
            group = (group + 1) & Self::GROUP_MASK;
        }
        None
    }

    /// Stores a new key's state, first making room if the table is full.
    fn store(
        &mut self,
        key: &K,
        hashed: Hashed,
        state: L::State,
        now: Instant,
    ) -> Result<(), TableFull> {
        if self.len >= Self::CAPACITY && self.sweep_at(now) == 0 {
            return Err(self.full());
        }
        let Some(i) = self.vacant(hashed) else {
            return Err(self.full());
        };
        if let (Some(c), Some(e)) = (self.control.get_mut(i), self.entries.get_mut(i)) {
            *c = hashed.control;
            *e = Some((key.clone(), state));
            self.len += 1;
        }
        Ok(())
    }

    /// Empties slot `i`.
    fn remove_at(&mut self, i: usize) -> Option<(K, L::State)> {
        let removed = self.entries.get_mut(i)?.take()?;
        if let Some(c) = self.control.get_mut(i) {
            *c = EMPTY;
        }
        self.len -= 1;
        Some(removed)
    }

    /// Drops every entry idle at `now` (already observed), then recomputes
    /// the group marks from the keys that remain.
    fn sweep_at(&mut self, now: Instant) -> usize {
        let before = self.len;
        for i in 0..N {
            let idle = match self.entries.get(i) {
                Some(Some((_, state))) => self.limiter.is_idle(state, now),
                _ => false,
            };
            if idle {
                self.remove_at(i);
            }
        }
        self.mark_passed_groups();
        before - self.len
    }

    /// Marks exactly the groups that some key had to pass: those from its
    /// home group up to, not including, the group it lives in.
    fn mark_passed_groups(&mut self) {
        self.passed.fill(false);
        for i in 0..N {
            let home = match self.entries.get(i) {
                Some(Some((key, _))) => self.hashed(key).group,
                _ => continue,
            };
            let mut group = home;
            while group != i / GROUP {
                if let Some(passed) = self.passed.get_mut(group * GROUP) {
                    *passed = true;
                }
                group = (group + 1) & Self::GROUP_MASK;
            }
        }
    }
}

/// The bytes of `word` equal to `byte`, as the high bit of each.
///
/// The borrow of the subtraction may also flag a byte just above a true
/// match; callers compare keys, so a false match only costs a comparison.
#[inline]
fn matching(word: u64, byte: u8) -> u64 {
    let x = word ^ LOW_BITS.wrapping_mul(u64::from(byte));
    x.wrapping_sub(LOW_BITS) & !x & HIGH_BITS
}

/// The index of the lowest byte flagged in `bits`.
#[inline]
fn first_byte(bits: u64) -> usize {
    (bits.trailing_zeros() / 8) as usize
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

    /// Gives every key group 0 and the same control byte, to exercise
    /// collisions and full groups.
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
    fn a_sweep_clears_the_marks_of_groups_no_key_passes_any_more() {
        let mut t: FixedTable<u32, TokenBucket, 16, Collide> = FixedTable::new(bucket());
        for k in 0..10 {
            let cost = if k < 8 { 1 } else { 2 };
            t.check(&k, Instant::ZERO, cost).unwrap();
        }
        assert!(t.was_passed(0));

        // At 1 s the eight keys of group 0 are idle; the two past it are not.
        assert_eq!(t.sweep(Instant::from_secs(1)), 8);
        assert!(t.was_passed(0), "keys 8 and 9 still live past group 0");
        assert!(t.get(&8).is_some() && t.get(&9).is_some());
        assert_eq!(t.sweep(Instant::from_secs(2)), 2);
        assert!(!t.was_passed(0));
    }

    #[test]
    fn matching_flags_equal_bytes_and_maybe_the_byte_above() {
        let word = u64::from_le_bytes([0x81, 0x00, 0x85, 0x81, 0x00, 0x00, 0x00, 0x00]);
        let hits = matching(word, 0x81);
        assert_eq!(hits & 0x80, 0x80);
        assert_eq!(hits & (0x80 << 24), 0x80 << 24);
        assert_eq!(hits & (0x80 << 16), 0, "0x85 is no match");
        assert_eq!(first_byte(hits), 0);
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
