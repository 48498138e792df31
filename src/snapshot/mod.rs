//! Snapshots of limiter, policy and table state, with times stored relative
//! to a wall-clock instant.
//!
//! A limiter's state holds [`Instant`]s of one monotonic clock, whose origin
//! means nothing to another process. A snapshot therefore stores no instant:
//! it stores the wall-clock time it was taken at and every time of the state
//! as an age before that moment (or, for a token bucket's theoretical
//! arrival time, as how far after it). Restoring it on another clock places
//! the snapshot moment where the wall clock says it is and rebuilds every
//! time from there.
//!
//! # Epochs
//!
//! The caller pairs a reading of the limiter's clock with a reading of the
//! wall clock taken at the same moment: an [`Epoch`]. Taking a snapshot
//! needs one, restoring it needs another, from the new clock:
//!
//! - the snapshot moment is the epoch's `now`, or the latest time the state
//!   has seen if that is later (requests stamped ahead of the clock the
//!   epoch read); the snapshot records the epoch's wall time and that
//!   *lead*, so that every age is positive;
//! - on restore, `elapsed = new wall − snapshot wall`, or zero if the wall
//!   clock went backwards: a restore never assumes more time passed than the
//!   wall clock shows;
//! - each time is rebuilt as `new now − elapsed + lead − age`, and times
//!   that would fall before the new clock's origin stop at the origin.
//!
//! # Never looser than the uninterrupted limiter
//!
//! Every approximation on the way goes in the strict direction. Stopping at
//! the origin, or assuming less elapsed time, moves times *later*: a unit
//! held counts until later, a theoretical arrival time lies further ahead.
//! A unit that has left its window at the latest time the state saw can
//! never count again and is left out. With the wall clocks right and no
//! time stopped at the origin, the mapping is exact: a restored
//! [`SlidingWindow`](crate::limit::SlidingWindow) or
//! [`TokenBucket`](crate::limit::TokenBucket) decides exactly as the
//! uninterrupted one would, and the others as well when the new clock's
//! origin is a whole number of buckets (compact) or windows (fixed) away.
//!
//! The compact and fixed windows align their buckets and windows to the
//! clock's origin, which the new clock does not share. A restored
//! [`CompactWindow`](crate::limit::CompactWindow) puts the count of each
//! bucket into the new bucket holding that bucket's last nanosecond (so each
//! unit counts at least as long as before) and, if that bucket lies past the
//! latest time, moves the latest time to its start. A restored
//! [`FixedWindow`](crate::limit::FixedWindow) counts the snapshot's units in
//! the new window holding the last nanosecond of the old one, so they count
//! at least until the old window would have reset. Until new units are
//! charged, both decide at least as strictly as the uninterrupted limiter;
//! the units charged afterwards fall into the new clock's buckets and
//! windows, so from then on each keeps its own guarantee (never more than
//! the quota in any window, for the compact window; never more than the
//! quota in a window of the new clock, for the fixed one) rather than
//! copying the old clock's decisions.
//!
//! # Checked on the way in
//!
//! Restoring checks the snapshot against the limit it is restored into: the
//! same kind, the same quota and window (or burst and period), no more units
//! than the quota, times in order and inside the window, and for a policy
//! the same limit names in the same order. Anything else is a
//! [`SnapshotError`]; nothing panics. Deserializing never trusts a length a
//! snapshot claims: the held units of a sliding window are read one by one
//! into storage that grows with what is actually read, up to what its
//! [`Slots`](crate::limit::Slots) can hold.
//!
//! To move a state to a limit with other parameters (a changed tier or
//! plan), restore it into the limit it was taken of and then use
//! [`Policy::adopt`](crate::limit::Policy::adopt).
//!
//! # Examples
//!
//! ```
//! use core::time::Duration;
//! use keyrate::limit::{Limit, TokenBucket};
//! use keyrate::snapshot::{Epoch, LimitSnapshot, Restorable, Snapshot};
//! use keyrate::time::Instant;
//!
//! let bucket = TokenBucket::new(2, Duration::from_secs(10))?;
//! let mut state = bucket.new_state();
//! assert!(bucket.check(&mut state, Instant::from_secs(100), 2)?.is_allowed());
//!
//! // Taken at t = 100 s on this clock, 1 700 000 000 s after the Unix epoch.
//! let wall = 1_700_000_000 * 1_000_000_000;
//! let taken = bucket.snapshot(&state, Epoch::new(Instant::from_secs(100), wall));
//! let text = serde_json::to_string(&taken)?;
//!
//! // Another process, whose clock reads 5 s, one second later by the wall.
//! let read: Snapshot<LimitSnapshot> = serde_json::from_str(&text)?;
//! let later = Epoch::new(Instant::from_secs(5), wall + 1_000_000_000);
//! let mut restored = bucket.restore(&read, later)?;
//! let refused = bucket.check(&mut restored, Instant::from_secs(5), 1)?;
//! assert_eq!(refused.retry_after(), Some(Duration::from_secs(9)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Limitations
//!
//! - Wall-clock times are `u64` nanoseconds since the Unix epoch (until the
//!   year 2554). A wall clock that runs fast between snapshot and restore
//!   makes the restored limiter looser by that much; one that runs slow or
//!   goes back only makes it stricter.
//! - Restoring into a limit whose quota or window differs is refused (see
//!   above for moving to another limit).
//! - Tables restore only into an empty table, and with the `alloc` feature
//!   (their snapshots are read into a vector); writing one needs nothing.

mod limit;
mod policy;
mod table;

pub use limit::{BucketSnapshot, CompactSnapshot, FixedSnapshot, LimitSnapshot, SlidingSnapshot};
pub use policy::PolicySnapshot;
#[cfg(feature = "alloc")]
pub use table::TableSnapshot;
pub use table::TableView;

use core::fmt;
use core::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::keyed::{Limiter, TableFull};
use crate::time::Instant;

/// A reading of a limiter's monotonic clock paired with a reading of the
/// wall clock taken at the same moment.
///
/// The wall clock is in nanoseconds since the Unix epoch. It is only
/// compared with other wall-clock readings, between a snapshot and its
/// restore.
///
/// # Examples
///
/// ```
/// use keyrate::snapshot::Epoch;
/// use keyrate::time::Instant;
///
/// let epoch = Epoch::new(Instant::from_secs(42), 1_700_000_000_000_000_000);
/// assert_eq!(epoch.now(), Instant::from_secs(42));
/// assert_eq!(epoch.wall_nanos(), 1_700_000_000_000_000_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epoch {
    now: Instant,
    wall: u64,
}

impl Epoch {
    /// An epoch at `now` on the limiter's clock and `wall_nanos` after the
    /// Unix epoch on the wall clock.
    pub const fn new(now: Instant, wall_nanos: u64) -> Epoch {
        Epoch {
            now,
            wall: wall_nanos,
        }
    }

    /// Reads `clock` and the system's wall clock, one right after the other.
    ///
    /// A wall clock before the Unix epoch reads as the Unix epoch.
    ///
    /// # Examples
    ///
    /// ```
    /// use keyrate::snapshot::Epoch;
    /// use keyrate::time::MonotonicClock;
    ///
    /// let epoch = Epoch::capture(&MonotonicClock::new());
    /// assert!(epoch.wall_nanos() > 0);
    /// ```
    #[cfg(feature = "std")]
    pub fn capture<C: crate::time::Clock + ?Sized>(clock: &C) -> Epoch {
        let now = clock.now();
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| crate::time::duration_nanos(d).unwrap_or(u64::MAX));
        Epoch { now, wall }
    }

    /// The reading of the limiter's clock.
    pub const fn now(&self) -> Instant {
        self.now
    }

    /// The reading of the wall clock, in nanoseconds since the Unix epoch.
    pub const fn wall_nanos(&self) -> u64 {
        self.wall
    }
}

/// The moment a snapshot is taken at, on the clock of the state it is taken
/// of, with the epoch's wall-clock time.
///
/// It is the epoch's `now`, moved later by a *lead* when a state has seen a
/// later time, so that no time of the state lies after it. Made by
/// [`Restorable::snapshot`] and by table snapshots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moment {
    at: u64,
    lead: u64,
    taken_at: u64,
}

impl Moment {
    /// The moment for `epoch` and states that need it no earlier than
    /// `earliest` (nanoseconds on the epoch's clock).
    fn new(epoch: Epoch, earliest: u64) -> Moment {
        let now = epoch.now.as_nanos();
        let at = now.max(earliest);
        Moment {
            at,
            lead: at - now,
            taken_at: epoch.wall,
        }
    }

    /// Nanoseconds from `t` to the moment (zero for a later `t`).
    fn age(&self, t: u64) -> u64 {
        self.at.saturating_sub(t)
    }

    /// Nanoseconds from the moment to `t` (zero for an earlier `t`).
    fn ahead(&self, t: u64) -> u64 {
        t.saturating_sub(self.at)
    }
}

/// Where a snapshot's moment falls on the clock it is restored into.
///
/// It may fall before that clock's origin; times rebuilt from it stop at
/// the origin. Made by [`Restorable::restore`] and by table restores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The snapshot moment in nanoseconds on the new clock; may be negative.
    at: i128,
}

impl Frame {
    /// The frame for a snapshot taken at wall time `taken_at` with its
    /// moment `lead` after the epoch then, restored at `epoch`.
    fn new(taken_at: u64, lead: u64, epoch: Epoch) -> Frame {
        // A wall clock that went backwards shows no time elapsed: real time
        // never does, and assuming less makes every time later.
        let elapsed = epoch.wall.saturating_sub(taken_at);
        Frame {
            at: i128::from(epoch.now.as_nanos()) - i128::from(elapsed) + i128::from(lead),
        }
    }

    /// The time `age` nanoseconds before the moment, not yet clamped.
    fn before(&self, age: u64) -> i128 {
        self.at - i128::from(age)
    }

    /// The time `lead` nanoseconds after the moment, not yet clamped.
    fn after(&self, lead: u64) -> i128 {
        self.at + i128::from(lead)
    }
}

/// A rebuilt time as nanoseconds on the new clock: before the origin stops
/// at the origin, past [`Instant::MAX`] at `Instant::MAX` (later in both
/// cases, never earlier, except past the end of time).
fn clamp(t: i128) -> u64 {
    if t <= 0 {
        0
    } else {
        u64::try_from(t).unwrap_or(u64::MAX)
    }
}

/// A snapshot of one state, with the wall-clock time it was taken at.
///
/// `T` is a limiter's [`Restorable::Snapshot`]: a [`LimitSnapshot`] or a
/// [`PolicySnapshot`]. It serializes as
/// `{"taken_at": <ns since the Unix epoch>, "lead": <ns>, "state": ...}`:
/// the epoch's wall-clock time, how far after the epoch's clock reading the
/// snapshot moment lies (zero unless the state had seen later times), and
/// the state relative to that moment.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::limit::{FixedWindow, Limit};
/// use keyrate::snapshot::{Epoch, Restorable};
/// use keyrate::time::Instant;
///
/// let minute = FixedWindow::new(10, Duration::from_secs(60))?;
/// let state = minute.new_state();
/// let taken = minute.snapshot(&state, Epoch::new(Instant::from_secs(3), 9_000));
/// assert_eq!(taken.taken_at(), 9_000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot<T> {
    taken_at: u64,
    lead: u64,
    state: T,
}

impl<T> Snapshot<T> {
    /// The wall-clock time of the epoch the snapshot was taken at, in
    /// nanoseconds since the Unix epoch.
    pub fn taken_at(&self) -> u64 {
        self.taken_at
    }

    /// How far after the epoch's clock reading the snapshot moment lies:
    /// zero unless the state had seen later times.
    pub fn lead(&self) -> Duration {
        Duration::from_nanos(self.lead)
    }

    /// The state, with its times relative to the snapshot moment.
    pub fn state(&self) -> &T {
        &self.state
    }
}

mod sealed {
    /// Keeps [`Restorable`](super::Restorable) to this crate's limiters.
    pub trait Sealed {}
}

/// A limiter whose per-key state can be snapshotted and restored: every
/// limit kind and [`Policy`](crate::limit::Policy).
///
/// See the [module docs](self) for how times are mapped and checked.
///
/// `Restorable` extends [`Limiter`], whose `check` and `is_idle` share their
/// names with [`Limit`](crate::limit::Limit)'s: generic code bounded by both
/// calls them by path, as in `Limit::check(&limit, &mut state, now, 1)`.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::limit::{HeapSlots, Limit, SlidingWindow};
/// use keyrate::snapshot::{Epoch, Restorable};
/// use keyrate::time::Instant;
///
/// let window = SlidingWindow::<HeapSlots>::new(2, Duration::from_secs(60))?;
/// let mut state = window.new_state();
/// window.check(&mut state, Instant::from_secs(10), 2)?;
///
/// let taken = window.snapshot(&state, Epoch::new(Instant::from_secs(30), 1_000_000_000_000));
/// // Restored 20 s later by the wall clock, on a clock that reads 100 s.
/// let epoch = Epoch::new(Instant::from_secs(100), 1_020_000_000_000);
/// let mut restored = window.restore(&taken, epoch)?;
/// // The units were admitted 40 s ago: they leave the window in 20 s.
/// let refused = window.check(&mut restored, Instant::from_secs(100), 1)?;
/// assert_eq!(refused.retry_after(), Some(Duration::from_secs(20)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Restorable: Limiter + sealed::Sealed {
    /// The serializable form of one state, its times relative to a moment.
    type Snapshot: Clone + fmt::Debug + Serialize + DeserializeOwned;

    /// Takes a snapshot of `state` at `epoch`.
    ///
    /// The snapshot moment is `epoch.now()`, or later if the state has seen
    /// a later time (see [`Moment`]). A state not made by this limiter
    /// gives a snapshot that restores into nothing but an error.
    fn snapshot(&self, state: &Self::State, epoch: Epoch) -> Snapshot<Self::Snapshot> {
        let moment = Moment::new(epoch, self.earliest_moment(state));
        Snapshot {
            taken_at: moment.taken_at,
            lead: moment.lead,
            state: self.capture(state, &moment),
        }
    }

    /// Rebuilds a state from `snapshot` on the clock `epoch` reads.
    ///
    /// # Errors
    ///
    /// A [`SnapshotError`] if the snapshot was not taken of a limiter like
    /// this one or does not describe a state it could hold.
    fn restore(
        &self,
        snapshot: &Snapshot<Self::Snapshot>,
        epoch: Epoch,
    ) -> Result<Self::State, SnapshotError> {
        let frame = Frame::new(snapshot.taken_at, snapshot.lead, epoch);
        self.rebuild(&snapshot.state, &frame)
    }

    /// The earliest moment, in nanoseconds on the state's clock, at which
    /// no time of `state` lies in the future: its latest time seen, or for
    /// a token bucket the time its theoretical arrival time is one bucket
    /// depth ahead of.
    fn earliest_moment(&self, state: &Self::State) -> u64;

    /// The snapshot of `state` relative to `moment`, which is no earlier
    /// than [`earliest_moment`](Restorable::earliest_moment).
    fn capture(&self, state: &Self::State, moment: &Moment) -> Self::Snapshot;

    /// The state `snapshot` describes, its moment placed at `frame`.
    ///
    /// # Errors
    ///
    /// As [`restore`](Restorable::restore).
    fn rebuild(
        &self,
        snapshot: &Self::Snapshot,
        frame: &Frame,
    ) -> Result<Self::State, SnapshotError>;
}

/// Why a snapshot could not be restored. Nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotError {
    /// The snapshot is of another limit kind than the limit it is restored
    /// into.
    KindMismatch,
    /// The snapshot was taken under another quota or window (or burst or
    /// period).
    LimitMismatch,
    /// The snapshot's limits differ, in number or names, from the policy's.
    PolicyMismatch,
    /// The snapshot holds more units than the quota.
    AboveQuota {
        /// The units the snapshot holds.
        held: u64,
        /// The quota.
        quota: u32,
    },
    /// The snapshot lists its times out of order.
    OutOfOrder,
    /// A time in the snapshot lies outside what the state can hold: a unit
    /// that had left its window, an offset longer than a bucket or window,
    /// a theoretical arrival time further ahead than the bucket is deep.
    OutOfRange,
    /// The table to restore into already holds keys.
    TableNotEmpty,
    /// The snapshot lists a key twice.
    DuplicateKey,
    /// The snapshot holds more keys than the table can.
    TableFull(TableFull),
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::KindMismatch => f.write_str("the snapshot is of another limit kind"),
            SnapshotError::LimitMismatch => {
                f.write_str("the snapshot was taken under another quota or window")
            }
            SnapshotError::PolicyMismatch => {
                f.write_str("the snapshot's limits differ from the policy's")
            }
            SnapshotError::AboveQuota { held, quota } => write!(
                f,
                "the snapshot holds {held} units, more than the quota of {quota}"
            ),
            SnapshotError::OutOfOrder => f.write_str("the snapshot's times are out of order"),
            SnapshotError::OutOfRange => {
                f.write_str("a time in the snapshot lies outside its window")
            }
            SnapshotError::TableNotEmpty => f.write_str("the table to restore into is not empty"),
            SnapshotError::DuplicateKey => f.write_str("the snapshot lists a key twice"),
            SnapshotError::TableFull(e) => write!(
                f,
                "the snapshot holds more keys than the table's capacity of {}",
                e.capacity
            ),
        }
    }
}

impl core::error::Error for SnapshotError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_moment_moves_to_the_latest_time_and_records_its_lead() {
        let m = Moment::new(Epoch::new(Instant::from_nanos(100), 1_000), 130);
        let led = Moment {
            at: 130,
            lead: 30,
            taken_at: 1_000,
        };
        assert_eq!(m, led);
        let m = Moment::new(Epoch::new(Instant::from_nanos(100), 1_000), 50);
        let plain = Moment {
            at: 100,
            lead: 0,
            taken_at: 1_000,
        };
        assert_eq!(m, plain);
        assert_eq!(m.age(40), 60);
        assert_eq!(m.ahead(140), 40);
    }

    #[test]
    fn a_wall_clock_gone_back_shows_no_time_elapsed() {
        let f = Frame::new(1_000, 0, Epoch::new(Instant::from_nanos(7), 400));
        assert_eq!(f.at, 7);
        let f = Frame::new(1_000, 2, Epoch::new(Instant::from_nanos(7), 400));
        assert_eq!(f.at, 9);
        let f = Frame::new(1_000, 0, Epoch::new(Instant::from_nanos(7), 1_010));
        assert_eq!(f.at, -3);
        assert_eq!(clamp(f.before(5)), 0);
        assert_eq!(clamp(f.after(u64::MAX)), u64::MAX - 3);
        let f = Frame::new(0, 0, Epoch::new(Instant::from_nanos(7), 0));
        assert_eq!(clamp(f.after(u64::MAX)), u64::MAX);
    }

    #[test]
    fn errors_read_in_lowercase() {
        let e = SnapshotError::AboveQuota { held: 4, quota: 3 };
        let mut s: heapless::String<80> = heapless::String::new();
        let _ = fmt::write(&mut s, format_args!("{e}"));
        assert_eq!(s, "the snapshot holds 4 units, more than the quota of 3");
    }
}
