//! Snapshots of keyed tables: every live key and the snapshot of its state.
//!
//! A table writes its snapshot as it serializes, through a [`TableView`],
//! with no allocation. It is read back as a [`TableSnapshot`] (with the
//! `alloc` feature) and restored into an empty table:
//! [`FixedTable::restore`] or `GrowableTable::restore`.

use core::hash::{BuildHasher, Hash};

use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use super::{Epoch, Moment, Restorable};
use crate::keyed::{FixedTable, Limiter};
use crate::time::Instant;

mod sealed {
    use crate::keyed::Limiter;
    use crate::snapshot::Restorable;
    use crate::time::Instant;

    /// A keyed table, as a snapshot reads it.
    pub trait Table {
        /// The key type.
        type Key;
        /// The rules applied to every key.
        type Limiter: Restorable;

        /// The rules applied to every key.
        fn rules(&self) -> &Self::Limiter;

        /// The latest time the table has seen.
        fn seen(&self) -> Instant;

        /// Every key and its state.
        fn entries(&self)
        -> impl Iterator<Item = (&Self::Key, &<Self::Limiter as Limiter>::State)>;
    }
}

use sealed::Table;

/// A table's snapshot, ready to serialize: made by `snapshot` on
/// [`FixedTable`] and `GrowableTable`.
///
/// It serializes as
/// `{"taken_at": ..., "lead": ..., "latest_age": ..., "entries": [[key,
/// state], ...]}`: the epoch's wall-clock time and the lead of the snapshot
/// moment as in [`Snapshot`](super::Snapshot), the age of the latest time
/// the table saw, and each live key with its state's snapshot, all relative
/// to one moment. Keys whose state is idle at the table's latest time are
/// left out: a fresh state decides as they would. Serializing allocates
/// nothing beyond what the format does.
pub struct TableView<'a, T: Table> {
    table: &'a T,
    moment: Moment,
    latest: Instant,
    len: usize,
}

impl<'a, T: Table> TableView<'a, T> {
    fn new(table: &'a T, epoch: Epoch) -> Self {
        let limiter = table.rules();
        let latest = table.seen();

        // One moment for every key: no earlier than any state needs.
        let mut earliest = latest.as_nanos();
        let mut len = 0;
        for (_, state) in table.entries() {
            if !limiter.is_idle(state, latest) {
                len += 1;
                earliest = earliest.max(limiter.earliest_moment(state));
            }
        }
        TableView {
            table,
            moment: Moment::new(epoch, earliest),
            latest,
            len,
        }
    }

    /// The wall-clock time of the epoch, in nanoseconds since the Unix
    /// epoch.
    pub fn taken_at(&self) -> u64 {
        self.moment.taken_at
    }

    /// The number of keys the snapshot holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the snapshot holds no key.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Shows the snapshot's size, never its keys.
impl<T: Table> core::fmt::Debug for TableView<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TableView")
            .field("taken_at", &self.moment.taken_at)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<T: Table> Serialize for TableView<'_, T>
where
    T::Key: Serialize,
{
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        let mut s = serializer.serialize_struct("TableSnapshot", 4)?;
        s.serialize_field("taken_at", &self.moment.taken_at)?;
        s.serialize_field("lead", &self.moment.lead)?;
        s.serialize_field("latest_age", &self.moment.age(self.latest.as_nanos()))?;
        s.serialize_field("entries", &LiveEntries(self))?;
        s.end()
    }
}

/// The live entries of a [`TableView`], captured as they are written.
struct LiveEntries<'v, 'a, T: Table>(&'v TableView<'a, T>);

impl<T: Table> Serialize for LiveEntries<'_, '_, T>
where
    T::Key: Serialize,
{
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        let view = self.0;
        let limiter = view.table.rules();
        let mut seq = serializer.serialize_seq(Some(view.len))?;
        for (key, state) in view.table.entries() {
            if !limiter.is_idle(state, view.latest) {
                seq.serialize_element(&(key, limiter.capture(state, &view.moment)))?;
            }
        }
        seq.end()
    }
}

impl<K, L, const N: usize, H> Table for FixedTable<K, L, N, H>
where
    K: Hash + Eq + Clone,
    L: Restorable,
    H: BuildHasher,
{
    type Key = K;
    type Limiter = L;

    fn rules(&self) -> &L {
        self.limiter()
    }

    fn seen(&self) -> Instant {
        self.latest()
    }

    fn entries(&self) -> impl Iterator<Item = (&K, &L::State)> {
        self.iter()
    }
}

impl<K, L, const N: usize, H> FixedTable<K, L, N, H>
where
    K: Hash + Eq + Clone,
    L: Restorable,
    H: BuildHasher,
{
    /// A snapshot of every live key's state at `epoch`, to serialize.
    ///
    /// See [`TableView`] for what it holds and [`snapshot`](crate::snapshot)
    /// for how times are stored.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use keyrate::keyed::FixedTable;
    /// use keyrate::limit::TokenBucket;
    /// use keyrate::snapshot::{Epoch, LimitSnapshot, TableSnapshot};
    /// use keyrate::time::Instant;
    ///
    /// let bucket = TokenBucket::new(2, Duration::from_secs(1))?;
    /// let mut table: FixedTable<u64, TokenBucket, 8> = FixedTable::new(bucket);
    /// table.check(&7, Instant::from_secs(10), 2)?;
    /// let text = serde_json::to_string(&table.snapshot(Epoch::new(Instant::from_secs(10), 0)))?;
    ///
    /// let read: TableSnapshot<u64, LimitSnapshot> = serde_json::from_str(&text)?;
    /// let mut restored: FixedTable<u64, TokenBucket, 8> = FixedTable::new(bucket);
    /// restored.restore(&read, Epoch::new(Instant::from_secs(3), 0))?;
    /// assert!(!restored.check(&7, Instant::from_secs(3), 1)?.is_allowed());
    /// assert!(restored.check(&7, Instant::from_secs(4), 1)?.is_allowed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn snapshot(&self, epoch: Epoch) -> TableView<'_, Self> {
        TableView::new(self, epoch)
    }
}

#[cfg(feature = "alloc")]
pub use owned::TableSnapshot;

#[cfg(feature = "alloc")]
mod owned {
    use alloc::vec::Vec;
    use core::fmt;
    use core::hash::{BuildHasher, Hash};
    use core::marker::PhantomData;

    use serde::de::{Deserializer, SeqAccess, Visitor};
    use serde::{Deserialize, Serialize, Serializer};

    use super::super::{Epoch, Frame, Restorable, SnapshotError, clamp};
    use crate::keyed::FixedTable;
    use crate::time::Instant;

    /// A table's snapshot, read back: the epoch's wall-clock time, the lead
    /// of the snapshot moment, the age of the latest time the table saw, and
    /// each key with the snapshot of its state (see
    /// [`TableView`](super::TableView)).
    ///
    /// `T` is the limiter's [`Restorable::Snapshot`]. Reading allocates as
    /// entries are actually read, never for a length the input claims.
    /// Restore it with `restore` on an empty [`FixedTable`] or
    /// `GrowableTable`; see [`FixedTable::snapshot`] for an example.
    #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(
        deny_unknown_fields,
        bound(
            serialize = "K: Serialize, T: Serialize",
            deserialize = "K: Deserialize<'de>, T: Deserialize<'de>"
        )
    )]
    pub struct TableSnapshot<K, T> {
        taken_at: u64,
        lead: u64,
        latest_age: u64,
        entries: Entries<K, T>,
    }

    impl<K, T> TableSnapshot<K, T> {
        /// The wall-clock time of the epoch the snapshot was taken at, in
        /// nanoseconds since the Unix epoch.
        pub fn taken_at(&self) -> u64 {
            self.taken_at
        }

        /// The number of keys.
        pub fn len(&self) -> usize {
            self.entries.0.len()
        }

        /// True if the snapshot holds no key.
        pub fn is_empty(&self) -> bool {
            self.entries.0.is_empty()
        }

        /// The keys and their states' snapshots, in the order read.
        pub fn iter(&self) -> impl Iterator<Item = (&K, &T)> {
            self.entries.0.iter().map(|(k, t)| (k, t))
        }

        /// Where the snapshot moment falls on the clock `epoch` reads, and
        /// the table's latest time on it.
        pub(super) fn frame(&self, epoch: Epoch) -> (Frame, Instant) {
            let frame = Frame::new(self.taken_at, self.lead, epoch);
            let latest = Instant::from_nanos(clamp(frame.before(self.latest_age)));
            (frame, latest)
        }

        pub(super) fn pairs(&self) -> &[(K, T)] {
            &self.entries.0
        }
    }

    /// Shows the snapshot's size, never its keys.
    impl<K, T> fmt::Debug for TableSnapshot<K, T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("TableSnapshot")
                .field("taken_at", &self.taken_at)
                .field("latest_age", &self.latest_age)
                .field("len", &self.len())
                .finish_non_exhaustive()
        }
    }

    /// The entries, read one at a time.
    #[derive(Clone, PartialEq, Eq)]
    struct Entries<K, T>(Vec<(K, T)>);

    impl<K: Serialize, T: Serialize> Serialize for Entries<K, T> {
        fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
            serializer.collect_seq(self.0.iter())
        }
    }

    impl<'de, K: Deserialize<'de>, T: Deserialize<'de>> Deserialize<'de> for Entries<K, T> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_seq(EntriesVisitor(PhantomData))
        }
    }

    struct EntriesVisitor<K, T>(PhantomData<fn() -> (K, T)>);

    impl<'de, K: Deserialize<'de>, T: Deserialize<'de>> Visitor<'de> for EntriesVisitor<K, T> {
        type Value = Entries<K, T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of [key, state] pairs")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            // No capacity from the claimed length: grow with what is read.
            let mut entries = Vec::new();
            while let Some(entry) = seq.next_element()? {
                entries.push(entry);
            }
            Ok(Entries(entries))
        }
    }

    impl<K, L, const N: usize, H> FixedTable<K, L, N, H>
    where
        K: Hash + Eq + Clone,
        L: Restorable,
        H: BuildHasher,
    {
        /// Fills this empty table from `snapshot`, its times placed on the
        /// clock `epoch` reads.
        ///
        /// Every key of the snapshot is restored, or none: the table never
        /// silently drops a live key. See [`FixedTable::snapshot`] for an
        /// example.
        ///
        /// # Errors
        ///
        /// [`SnapshotError::TableNotEmpty`] if the table holds a key,
        /// [`SnapshotError::TableFull`] if the snapshot holds more keys than
        /// [`CAPACITY`](FixedTable::CAPACITY),
        /// [`SnapshotError::DuplicateKey`], and any error of restoring a
        /// key's state. The table is then left empty, its latest time
        /// unchanged.
        pub fn restore(
            &mut self,
            snapshot: &TableSnapshot<K, L::Snapshot>,
            epoch: Epoch,
        ) -> Result<(), SnapshotError> {
            if !self.is_empty() {
                return Err(SnapshotError::TableNotEmpty);
            }
            let (frame, latest) = snapshot.frame(epoch);
            let result = snapshot.pairs().iter().try_for_each(|(key, state)| {
                let state = self.limiter().rebuild(state, &frame)?;
                match self.insert_new(key.clone(), state) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(SnapshotError::DuplicateKey),
                    Err(full) => Err(SnapshotError::TableFull(full)),
                }
            });
            if let Err(e) = result {
                self.clear();
                return Err(e);
            }
            self.observe(latest);
            Ok(())
        }
    }

    #[cfg(feature = "std")]
    mod growable {
        use core::hash::{BuildHasher, Hash};

        use super::super::super::{Epoch, Restorable, SnapshotError};
        use super::super::{Table, TableView};
        use super::TableSnapshot;
        use crate::keyed::{GrowableTable, TableFull};
        use crate::time::Instant;

        impl<K, L, H> Table for GrowableTable<K, L, H>
        where
            K: Hash + Eq + Clone,
            L: Restorable,
            H: BuildHasher,
        {
            type Key = K;
            type Limiter = L;

            fn rules(&self) -> &L {
                self.limiter()
            }

            fn seen(&self) -> Instant {
                self.latest()
            }

            fn entries(&self) -> impl Iterator<Item = (&K, &L::State)> {
                self.iter()
            }
        }

        impl<K, L, H> GrowableTable<K, L, H>
        where
            K: Hash + Eq + Clone,
            L: Restorable,
            H: BuildHasher,
        {
            /// A snapshot of every live key's state at `epoch`, to
            /// serialize.
            ///
            /// See [`TableView`] for what it holds and
            /// [`snapshot`](crate::snapshot) for how times are stored.
            ///
            /// # Examples
            ///
            /// ```
            /// use core::time::Duration;
            /// use keyrate::keyed::GrowableTable;
            /// use keyrate::limit::TokenBucket;
            /// use keyrate::snapshot::{Epoch, LimitSnapshot, TableSnapshot};
            /// use keyrate::time::Instant;
            ///
            /// let bucket = TokenBucket::new(1, Duration::from_secs(60))?;
            /// let mut table = GrowableTable::new(bucket);
            /// table.check(&"alice".to_string(), Instant::from_secs(0), 1)?;
            /// let epoch = Epoch::new(Instant::from_secs(0), 0);
            /// let text = serde_json::to_string(&table.snapshot(epoch))?;
            ///
            /// let read: TableSnapshot<String, LimitSnapshot> = serde_json::from_str(&text)?;
            /// let mut restored = GrowableTable::new(bucket);
            /// // Thirty seconds later, on a clock that reads 1000 s.
            /// restored.restore(&read, Epoch::new(Instant::from_secs(1000), 30_000_000_000))?;
            /// let refused = restored.check(&"alice".to_string(), Instant::from_secs(1000), 1)?;
            /// assert_eq!(refused.retry_after(), Some(Duration::from_secs(30)));
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn snapshot(&self, epoch: Epoch) -> TableView<'_, Self> {
                TableView::new(self, epoch)
            }

            /// Fills this empty table from `snapshot`, its times placed on
            /// the clock `epoch` reads.
            ///
            /// Every key of the snapshot is restored, or none: the table
            /// never silently drops a live key. See
            /// [`snapshot`](GrowableTable::snapshot) for an example.
            ///
            /// # Errors
            ///
            /// [`SnapshotError::TableNotEmpty`] if the table holds a key,
            /// [`SnapshotError::TableFull`] if the snapshot holds more keys
            /// than the table's maximum, [`SnapshotError::DuplicateKey`],
            /// and any error of restoring a key's state. The table is then
            /// left empty, its latest time unchanged.
            pub fn restore(
                &mut self,
                snapshot: &TableSnapshot<K, L::Snapshot>,
                epoch: Epoch,
            ) -> Result<(), SnapshotError> {
                if !self.is_empty() {
                    return Err(SnapshotError::TableNotEmpty);
                }
                if let Some(max) = self.max_len()
                    && snapshot.len() > max
                {
                    return Err(SnapshotError::TableFull(TableFull { capacity: max }));
                }
                let (frame, latest) = snapshot.frame(epoch);
                let result = snapshot.pairs().iter().try_for_each(|(key, state)| {
                    let state = self.limiter().rebuild(state, &frame)?;
                    let entries = self.entries_mut();
                    if entries.map.contains_key(key) {
                        return Err(SnapshotError::DuplicateKey);
                    }
                    entries.map.insert(key.clone(), state);
                    Ok(())
                });
                let entries = self.entries_mut();
                if let Err(e) = result {
                    entries.map.clear();
                    return Err(e);
                }
                entries.latest.observe(latest);
                Ok(())
            }
        }
    }
}
