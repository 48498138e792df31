//! Snapshots of one limit's state, for each limit kind.

use core::fmt;
use core::marker::PhantomData;
use core::time::Duration;

use serde::de::{Deserializer, Error, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::{Frame, Moment, Restorable, SnapshotError, clamp, sealed};
use crate::limit::{
    AnyLimit, AnyState, CompactWindow, CompactWindowState, FixedWindow, FixedWindowState, Limit,
    SlidingWindow, SlidingWindowState, Slots, TokenBucket, TokenBucketState,
};
use crate::time::duration_nanos;

/// Buckets in a compact window's snapshot: as many as its state holds.
const BUCKETS: usize = 16;

/// The state of one limit, its times relative to a snapshot moment.
///
/// It serializes as an object with one field naming the kind:
/// `{"sliding": {...}}`, `{"compact": {...}}`, `{"bucket": {...}}` or
/// `{"fixed": {...}}`. `S` is the storage of an exact sliding window's
/// held units (see [`Slots`]); the other kinds need none, hence the
/// default.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::limit::{Limit, TokenBucket};
/// use keyrate::snapshot::{Epoch, LimitSnapshot, Restorable};
/// use keyrate::time::Instant;
///
/// let bucket = TokenBucket::new(3, Duration::from_secs(1))?;
/// let mut state = bucket.new_state();
/// bucket.check(&mut state, Instant::from_secs(5), 2)?;
/// let taken = bucket.snapshot(&state, Epoch::new(Instant::from_secs(5), 0));
/// let LimitSnapshot::Bucket(b) = taken.state() else { unreachable!() };
/// assert_eq!(b.tat_ahead(), Duration::from_secs(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(
    rename_all = "snake_case",
    bound(serialize = "S: AsRef<[u64]>", deserialize = "S: Slots")
)]
pub enum LimitSnapshot<S = [u64; 0]> {
    /// An exact sliding window's.
    Sliding(SlidingSnapshot<S>),
    /// A compact sliding window's.
    Compact(CompactSnapshot),
    /// A token bucket's.
    Bucket(BucketSnapshot),
    /// A fixed window's.
    Fixed(FixedSnapshot),
}

impl<S: AsRef<[u64]>> PartialEq for LimitSnapshot<S> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (LimitSnapshot::Sliding(a), LimitSnapshot::Sliding(b)) => a == b,
            (LimitSnapshot::Compact(a), LimitSnapshot::Compact(b)) => a == b,
            (LimitSnapshot::Bucket(a), LimitSnapshot::Bucket(b)) => a == b,
            (LimitSnapshot::Fixed(a), LimitSnapshot::Fixed(b)) => a == b,
            _ => false,
        }
    }
}

impl<S: AsRef<[u64]>> Eq for LimitSnapshot<S> {}

impl<S: AsRef<[u64]>> fmt::Debug for LimitSnapshot<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitSnapshot::Sliding(s) => fmt::Debug::fmt(s, f),
            LimitSnapshot::Compact(s) => fmt::Debug::fmt(s, f),
            LimitSnapshot::Bucket(s) => fmt::Debug::fmt(s, f),
            LimitSnapshot::Fixed(s) => fmt::Debug::fmt(s, f),
        }
    }
}

/// An exact sliding window's state: the quota and window it was taken
/// under, the age of the latest time seen, and for each unit held at that
/// time, how long before it the unit was admitted.
///
/// Units that had left the window at the latest time seen are left out:
/// the window never judges a request earlier than that time. Serialized
/// fields: `quota`, `window` (nanoseconds), `latest_age` (nanoseconds) and
/// `units` (nanoseconds before the latest time, oldest first).
#[derive(Clone, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    bound(serialize = "S: AsRef<[u64]>", deserialize = "S: Slots")
)]
pub struct SlidingSnapshot<S> {
    quota: u32,
    window: u64,
    latest_age: u64,
    units: Units<S>,
}

impl<S: AsRef<[u64]>> SlidingSnapshot<S> {
    /// The quota of the window it was taken of.
    pub fn quota(&self) -> u32 {
        self.quota
    }

    /// The window it was taken of.
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.window)
    }

    /// How long before the snapshot moment the state saw its latest time.
    pub fn latest_age(&self) -> Duration {
        Duration::from_nanos(self.latest_age)
    }

    /// For each unit held, oldest first, how long before the latest time it
    /// was admitted, in nanoseconds.
    pub fn units(&self) -> &[u64] {
        self.units.as_slice()
    }
}

impl<S: AsRef<[u64]>> PartialEq for SlidingSnapshot<S> {
    fn eq(&self, other: &Self) -> bool {
        self.quota == other.quota
            && self.window == other.window
            && self.latest_age == other.latest_age
            && self.units() == other.units()
    }
}

impl<S: AsRef<[u64]>> Eq for SlidingSnapshot<S> {}

impl<S: AsRef<[u64]>> fmt::Debug for SlidingSnapshot<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlidingSnapshot")
            .field("quota", &self.quota)
            .field("window", &self.window())
            .field("latest_age", &self.latest_age())
            .field("units", &self.units())
            .finish()
    }
}

impl<S: Slots> SlidingSnapshot<S> {
    fn capture(limit: &SlidingWindow<S>, state: &SlidingWindowState<S>, moment: &Moment) -> Self {
        let latest = state.latest().as_nanos();
        let window = limit.window_nanos();

        // Keep the units that still count at the latest time seen.
        let since = || {
            state
                .times()
                .map(move |t| latest.saturating_sub(t))
                .filter(move |&since| since < window)
        };
        let len = since().count();
        let mut buf = S::with_len(len);
        let mut written = 0u32;
        for (slot, value) in buf.as_mut().iter_mut().zip(since()) {
            *slot = value;
            written += 1;
        }
        SlidingSnapshot {
            quota: limit.quota(),
            window,
            latest_age: moment.age(latest),
            units: Units { buf, len: written },
        }
    }

    fn rebuild(
        &self,
        limit: &SlidingWindow<S>,
        frame: &Frame,
    ) -> Result<SlidingWindowState<S>, SnapshotError> {
        if self.quota != limit.quota() || self.window != limit.window_nanos() {
            return Err(SnapshotError::LimitMismatch);
        }
        let units = self.units();
        let held = u64::try_from(units.len()).unwrap_or(u64::MAX);
        if held > u64::from(self.quota) {
            return Err(SnapshotError::AboveQuota {
                held,
                quota: self.quota,
            });
        }

        // Oldest first: each unit at most as long before the latest time as
        // the one before it, and still inside the window.
        let mut previous = u64::MAX;
        for &since in units {
            if since >= self.window {
                return Err(SnapshotError::OutOfRange);
            }
            if since > previous {
                return Err(SnapshotError::OutOfOrder);
            }
            previous = since;
        }

        let latest = frame.before(self.latest_age);
        let times = units.iter().map(|&since| clamp(latest - i128::from(since)));
        Ok(limit.state_from(times, clamp(latest)))
    }
}

/// A compact sliding window's state: the quota and window it was taken
/// under, the age of the latest time seen, how far the end of that time's
/// bucket lay after it, and the counts of the 16 buckets up to it.
///
/// Serialized fields: `quota`, `window`, `latest_age`, `bucket_left` (all
/// nanoseconds but the quota) and `counts` (newest bucket first; buckets
/// that no longer counted at the latest time are zero).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompactSnapshot {
    quota: u32,
    window: u64,
    latest_age: u64,
    bucket_left: u64,
    counts: [u32; BUCKETS],
}

impl CompactSnapshot {
    /// The quota of the window it was taken of.
    pub fn quota(&self) -> u32 {
        self.quota
    }

    /// The window it was taken of.
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.window)
    }

    /// How long before the snapshot moment the state saw its latest time.
    pub fn latest_age(&self) -> Duration {
        Duration::from_nanos(self.latest_age)
    }

    /// The units counted in each bucket, the latest time's bucket first.
    pub fn counts(&self) -> &[u32; 16] {
        &self.counts
    }

    fn capture(limit: &CompactWindow, state: &CompactWindowState, moment: &Moment) -> Self {
        let info = limit.info();
        let window = duration_nanos(info.window).unwrap_or(u64::MAX);
        let bucket = duration_nanos(limit.bucket()).unwrap_or(u64::MAX).max(1);
        let latest = state.latest().as_nanos();
        let newest = latest / bucket;
        let last = |index: u64| index.saturating_mul(bucket).saturating_add(bucket - 1);

        // Newest first; a bucket that no longer counts at the latest time
        // never counts again.
        let mut counts = [0; BUCKETS];
        for (back, count) in (0u64..).zip(counts.iter_mut()) {
            let Some(index) = newest.checked_sub(back) else {
                break;
            };
            if latest.saturating_sub(last(index)) < window {
                *count = state.count(bucket, index);
            }
        }
        CompactSnapshot {
            quota: info.quota,
            window,
            latest_age: moment.age(latest),
            bucket_left: last(newest).saturating_sub(latest),
            counts,
        }
    }

    fn rebuild(
        &self,
        limit: &CompactWindow,
        frame: &Frame,
    ) -> Result<CompactWindowState, SnapshotError> {
        let info = limit.info();
        if self.quota != info.quota || Some(self.window) != duration_nanos(info.window) {
            return Err(SnapshotError::LimitMismatch);
        }
        let bucket = duration_nanos(limit.bucket()).unwrap_or(u64::MAX).max(1);
        self.validate(bucket)?;

        // Each bucket's last nanosecond, placed on the new clock, picks the
        // bucket its count goes to: counted at least as long as before.
        let latest = frame.before(self.latest_age);
        let newest_last = latest + i128::from(self.bucket_left);
        let target = |back: u64| {
            let last = newest_last - i128::from(back) * i128::from(bucket);
            clamp(last) / bucket
        };
        let held = (0u64..).zip(self.counts).filter(|&(_, count)| count > 0);

        // The ring's newest bucket must hold every target: move the latest
        // time to the start of the newest target if it lies past it.
        let newest = held.clone().map(|(back, _)| target(back)).max();
        let latest = match newest {
            Some(index) => clamp(latest).max(index.saturating_mul(bucket)),
            None => clamp(latest),
        };
        let buckets = held.map(|(back, count)| (target(back), count));
        Ok(CompactWindowState::from_buckets(bucket, latest, buckets))
    }

    fn validate(&self, bucket: u64) -> Result<(), SnapshotError> {
        if self.bucket_left >= bucket {
            return Err(SnapshotError::OutOfRange);
        }
        let held = self.counts.iter().map(|&c| u64::from(c)).sum::<u64>();
        if held > u64::from(self.quota) {
            return Err(SnapshotError::AboveQuota {
                held,
                quota: self.quota,
            });
        }

        // A bucket `back` buckets before the latest time's ends
        // `back × bucket − bucket_left` before it; past the window it no
        // longer counts and must be empty.
        for (back, &count) in (0u64..).zip(self.counts.iter()) {
            let gone = back.saturating_mul(bucket).saturating_sub(self.bucket_left);
            if count > 0 && back > 0 && gone >= self.window {
                return Err(SnapshotError::OutOfRange);
            }
        }
        Ok(())
    }
}

/// A token bucket's state: the burst and period it was taken under, and
/// how far its theoretical arrival time lay after the snapshot moment.
///
/// Serialized fields: `burst`, `period` and `tat_ahead` (nanoseconds; zero
/// for a full bucket).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketSnapshot {
    burst: u32,
    period: u64,
    tat_ahead: u64,
}

impl BucketSnapshot {
    /// The burst of the bucket it was taken of.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The period of the bucket it was taken of.
    pub fn period(&self) -> Duration {
        Duration::from_nanos(self.period)
    }

    /// How long after the snapshot moment the bucket is full again.
    pub fn tat_ahead(&self) -> Duration {
        Duration::from_nanos(self.tat_ahead)
    }

    fn capture(limit: &TokenBucket, state: &TokenBucketState, moment: &Moment) -> Self {
        BucketSnapshot {
            burst: limit.burst(),
            period: duration_nanos(limit.period()).unwrap_or(u64::MAX),
            tat_ahead: moment.ahead(state.tat().as_nanos()),
        }
    }

    fn rebuild(
        &self,
        limit: &TokenBucket,
        frame: &Frame,
    ) -> Result<TokenBucketState, SnapshotError> {
        if self.burst != limit.burst() || Some(self.period) != duration_nanos(limit.period()) {
            return Err(SnapshotError::LimitMismatch);
        }
        if self.tat_ahead > depth(limit) {
            return Err(SnapshotError::OutOfRange);
        }
        let tat = clamp(frame.after(self.tat_ahead));
        Ok(TokenBucketState::from_tat(
            crate::time::Instant::from_nanos(tat),
        ))
    }
}

/// `burst × period` in nanoseconds: how far a TAT can lie ahead.
fn depth(limit: &TokenBucket) -> u64 {
    duration_nanos(limit.period())
        .unwrap_or(u64::MAX)
        .saturating_mul(u64::from(limit.burst()))
}

/// A fixed window's state: the quota and window it was taken under, the
/// age of the latest time seen, how far the end of that time's window lay
/// after it, and the units counted in that window.
///
/// Serialized fields: `quota`, `window`, `latest_age`, `window_left` (all
/// nanoseconds but the quota) and `count`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedSnapshot {
    quota: u32,
    window: u64,
    latest_age: u64,
    window_left: u64,
    count: u32,
}

impl FixedSnapshot {
    /// The quota of the window it was taken of.
    pub fn quota(&self) -> u32 {
        self.quota
    }

    /// The window it was taken of.
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.window)
    }

    /// How long before the snapshot moment the state saw its latest time.
    pub fn latest_age(&self) -> Duration {
        Duration::from_nanos(self.latest_age)
    }

    /// The units counted in the latest time's window.
    pub fn count(&self) -> u32 {
        self.count
    }

    fn capture(limit: &FixedWindow, state: &FixedWindowState, moment: &Moment) -> Self {
        let info = limit.info();
        let window = duration_nanos(info.window).unwrap_or(u64::MAX).max(1);
        let (latest, count) = state.parts();
        let last = (latest - latest % window).saturating_add(window - 1);
        FixedSnapshot {
            quota: info.quota,
            window,
            latest_age: moment.age(latest),
            window_left: last.saturating_sub(latest),
            count,
        }
    }

    fn rebuild(
        &self,
        limit: &FixedWindow,
        frame: &Frame,
    ) -> Result<FixedWindowState, SnapshotError> {
        let info = limit.info();
        if self.quota != info.quota || Some(self.window) != duration_nanos(info.window) {
            return Err(SnapshotError::LimitMismatch);
        }
        if self.count > self.quota {
            return Err(SnapshotError::AboveQuota {
                held: u64::from(self.count),
                quota: self.quota,
            });
        }
        let window = self.window.max(1);
        if self.window_left >= window {
            return Err(SnapshotError::OutOfRange);
        }
        let latest = frame.before(self.latest_age);
        if self.count == 0 {
            return Ok(FixedWindowState::from_parts(clamp(latest), 0));
        }

        // Count the units in the new window holding the old window's last
        // nanosecond: they count at least until the old window would reset.
        let last = clamp(latest + i128::from(self.window_left));
        let start = last - last % window;
        let latest = clamp(latest).max(start);
        Ok(FixedWindowState::from_parts(latest, self.count))
    }
}

/// The held units of a sliding window's snapshot, stored in the window's
/// own kind of storage.
///
/// Deserializing reads units one at a time into storage that doubles as it
/// fills, up to what `S` can hold: a length the input claims is never
/// trusted.
#[derive(Clone)]
struct Units<S> {
    buf: S,
    len: u32,
}

impl<S: AsRef<[u64]>> Units<S> {
    fn as_slice(&self) -> &[u64] {
        let len = usize::try_from(self.len).unwrap_or(usize::MAX);
        let all = self.buf.as_ref();
        all.get(..len).unwrap_or(all)
    }
}

impl<S: AsRef<[u64]>> Serialize for Units<S> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        serializer.collect_seq(self.as_slice())
    }
}

impl<'de, S: Slots> Deserialize<'de> for Units<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(UnitsVisitor(PhantomData))
    }
}

struct UnitsVisitor<S>(PhantomData<fn() -> S>);

impl<'de, S: Slots> Visitor<'de> for UnitsVisitor<S> {
    type Value = Units<S>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of at most as many times as the window's storage holds")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Units<S>, A::Error> {
        let max = S::MAX.unwrap_or(usize::MAX).min(u32::MAX as usize);
        let mut buf = S::with_len(0);
        let mut len = 0usize;
        while let Some(since) = seq.next_element::<u64>()? {
            if len >= buf.as_ref().len() {
                buf =
                    grow(buf, len, max).ok_or_else(|| A::Error::invalid_length(len + 1, &self))?;
            }
            if let Some(slot) = buf.as_mut().get_mut(len) {
                *slot = since;
            }
            len += 1;
        }
        let len = u32::try_from(len).map_err(|_| A::Error::invalid_length(len, &self))?;
        Ok(Units { buf, len })
    }
}

/// Storage twice as large as `buf` (at least 16), holding its first `len`
/// values, or `None` if it cannot grow past `len` within `max`.
fn grow<S: Slots>(buf: S, len: usize, max: usize) -> Option<S> {
    let want = len.max(8).saturating_mul(2).min(max);
    if want <= len {
        return None;
    }
    let mut bigger = S::with_len(want);
    if bigger.as_ref().len() <= len {
        return None;
    }
    for (dst, src) in bigger
        .as_mut()
        .iter_mut()
        .zip(buf.as_ref().iter().take(len))
    {
        *dst = *src;
    }
    Some(bigger)
}

impl<S> sealed::Sealed for SlidingWindow<S> {}
impl sealed::Sealed for CompactWindow {}
impl sealed::Sealed for TokenBucket {}
impl sealed::Sealed for FixedWindow {}

impl<S: Slots> Restorable for SlidingWindow<S> {
    type Snapshot = LimitSnapshot<S>;

    fn earliest_moment(&self, state: &SlidingWindowState<S>) -> u64 {
        state.latest().as_nanos()
    }

    fn capture(&self, state: &SlidingWindowState<S>, moment: &Moment) -> LimitSnapshot<S> {
        LimitSnapshot::Sliding(SlidingSnapshot::capture(self, state, moment))
    }

    fn rebuild(
        &self,
        snapshot: &LimitSnapshot<S>,
        frame: &Frame,
    ) -> Result<SlidingWindowState<S>, SnapshotError> {
        match snapshot {
            LimitSnapshot::Sliding(s) => s.rebuild(self, frame),
            _ => Err(SnapshotError::KindMismatch),
        }
    }
}

impl Restorable for CompactWindow {
    type Snapshot = LimitSnapshot;

    fn earliest_moment(&self, state: &CompactWindowState) -> u64 {
        state.latest().as_nanos()
    }

    fn capture(&self, state: &CompactWindowState, moment: &Moment) -> LimitSnapshot {
        LimitSnapshot::Compact(CompactSnapshot::capture(self, state, moment))
    }

    fn rebuild(
        &self,
        snapshot: &LimitSnapshot,
        frame: &Frame,
    ) -> Result<CompactWindowState, SnapshotError> {
        match snapshot {
            LimitSnapshot::Compact(s) => s.rebuild(self, frame),
            _ => Err(SnapshotError::KindMismatch),
        }
    }
}

impl Restorable for TokenBucket {
    type Snapshot = LimitSnapshot;

    fn earliest_moment(&self, state: &TokenBucketState) -> u64 {
        state.tat().as_nanos().saturating_sub(depth(self))
    }

    fn capture(&self, state: &TokenBucketState, moment: &Moment) -> LimitSnapshot {
        LimitSnapshot::Bucket(BucketSnapshot::capture(self, state, moment))
    }

    fn rebuild(
        &self,
        snapshot: &LimitSnapshot,
        frame: &Frame,
    ) -> Result<TokenBucketState, SnapshotError> {
        match snapshot {
            LimitSnapshot::Bucket(s) => s.rebuild(self, frame),
            _ => Err(SnapshotError::KindMismatch),
        }
    }
}

impl Restorable for FixedWindow {
    type Snapshot = LimitSnapshot;

    fn earliest_moment(&self, state: &FixedWindowState) -> u64 {
        state.parts().0
    }

    fn capture(&self, state: &FixedWindowState, moment: &Moment) -> LimitSnapshot {
        LimitSnapshot::Fixed(FixedSnapshot::capture(self, state, moment))
    }

    fn rebuild(
        &self,
        snapshot: &LimitSnapshot,
        frame: &Frame,
    ) -> Result<FixedWindowState, SnapshotError> {
        match snapshot {
            LimitSnapshot::Fixed(s) => s.rebuild(self, frame),
            _ => Err(SnapshotError::KindMismatch),
        }
    }
}

/// [`Restorable::earliest_moment`] for any kind; 0 for a state of another
/// kind.
pub(super) fn earliest<S: Slots>(limit: &AnyLimit<S>, state: &AnyState<S>) -> u64 {
    match (limit, state) {
        (AnyLimit::Sliding(l), AnyState::Sliding(s)) => l.earliest_moment(s),
        (AnyLimit::Compact(l), AnyState::Compact(s)) => l.earliest_moment(s),
        (AnyLimit::Bucket(l), AnyState::Bucket(s)) => l.earliest_moment(s),
        (AnyLimit::Fixed(l), AnyState::Fixed(s)) => l.earliest_moment(s),
        _ => 0,
    }
}

/// [`Restorable::capture`] for any kind; `None` for a state of another kind.
pub(super) fn capture<S: Slots>(
    limit: &AnyLimit<S>,
    state: &AnyState<S>,
    moment: &Moment,
) -> Option<LimitSnapshot<S>> {
    let snapshot = match (limit, state) {
        (AnyLimit::Sliding(l), AnyState::Sliding(s)) => {
            LimitSnapshot::Sliding(SlidingSnapshot::capture(l, s, moment))
        }
        (AnyLimit::Compact(l), AnyState::Compact(s)) => {
            LimitSnapshot::Compact(CompactSnapshot::capture(l, s, moment))
        }
        (AnyLimit::Bucket(l), AnyState::Bucket(s)) => {
            LimitSnapshot::Bucket(BucketSnapshot::capture(l, s, moment))
        }
        (AnyLimit::Fixed(l), AnyState::Fixed(s)) => {
            LimitSnapshot::Fixed(FixedSnapshot::capture(l, s, moment))
        }
        _ => return None,
    };
    Some(snapshot)
}

/// [`Restorable::rebuild`] for any kind.
pub(super) fn rebuild<S: Slots>(
    limit: &AnyLimit<S>,
    snapshot: &LimitSnapshot<S>,
    frame: &Frame,
) -> Result<AnyState<S>, SnapshotError> {
    match (limit, snapshot) {
        (AnyLimit::Sliding(l), LimitSnapshot::Sliding(s)) => {
            s.rebuild(l, frame).map(AnyState::Sliding)
        }
        (AnyLimit::Compact(l), LimitSnapshot::Compact(s)) => {
            s.rebuild(l, frame).map(AnyState::Compact)
        }
        (AnyLimit::Bucket(l), LimitSnapshot::Bucket(s)) => {
            s.rebuild(l, frame).map(AnyState::Bucket)
        }
        (AnyLimit::Fixed(l), LimitSnapshot::Fixed(s)) => s.rebuild(l, frame).map(AnyState::Fixed),
        _ => Err(SnapshotError::KindMismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Epoch;
    use crate::time::Instant;

    fn frame_at(nanos: u64) -> Frame {
        Frame::new(0, 0, Epoch::new(Instant::from_nanos(nanos), 0))
    }

    #[test]
    fn units_that_left_the_window_before_the_latest_time_are_left_out() {
        let w = SlidingWindow::<[u64; 3]>::new(3, Duration::from_nanos(10)).unwrap();
        let mut s = w.new_state();
        w.check(&mut s, Instant::from_nanos(0), 1).unwrap();
        w.check(&mut s, Instant::from_nanos(5), 1).unwrap();
        w.check(&mut s, Instant::from_nanos(12), 1).unwrap();
        let m = Moment::new(Epoch::new(Instant::from_nanos(20), 0), 12);
        let snap = SlidingSnapshot::capture(&w, &s, &m);
        assert_eq!(snap.units(), [7, 0]);
        assert_eq!(snap.latest_age, 8);
    }

    #[test]
    fn a_compact_count_moves_to_the_bucket_of_its_last_nanosecond() {
        // Buckets of 10 ns; one unit at 5 ns, counted until 9 + 150.
        let w = CompactWindow::new(2, Duration::from_nanos(150)).unwrap();
        let mut s = w.new_state();
        w.check(&mut s, Instant::from_nanos(5), 1).unwrap();
        let m = Moment::new(Epoch::new(Instant::from_nanos(5), 0), 5);
        let snap = CompactSnapshot::capture(&w, &s, &m);
        assert_eq!(snap.bucket_left, 4);

        // On a clock 3 ns ahead the last nanosecond, 12, lies in bucket 1.
        let restored = snap.rebuild(&w, &frame_at(8)).unwrap();
        assert_eq!(restored.latest(), Instant::from_nanos(10));
        assert_eq!(restored.count(10, 1), 1);
    }

    #[test]
    fn a_fixed_count_lasts_until_the_old_window_would_reset() {
        let w = FixedWindow::new(2, Duration::from_nanos(10)).unwrap();
        let mut s = w.new_state();
        w.check(&mut s, Instant::from_nanos(3), 2).unwrap();
        let m = Moment::new(Epoch::new(Instant::from_nanos(3), 0), 3);
        let snap = FixedSnapshot::capture(&w, &s, &m);

        // The old window's last nanosecond, 9, lands at 14: window [10, 20).
        let restored = snap.rebuild(&w, &frame_at(8)).unwrap();
        assert_eq!(restored.parts(), (10, 2));
    }

    #[test]
    fn growing_storage_stops_at_its_bound() {
        let buf: [u64; 4] = [1, 2, 3, 4];
        assert!(grow(buf, 4, 4).is_none());
        let grown = grow(alloc_free_vec(), 0, 100);
        assert!(grown.is_none(), "an empty array cannot grow");
    }

    fn alloc_free_vec() -> [u64; 0] {
        []
    }
}
