//! Random operation sequences on every limit kind, checked against the
//! naive models of `tests/model` and against each kind's written guarantee.
//!
//! Each case builds one limit from arbitrary parameters (the constructor
//! must refuse exactly what its docs say) and drives three states with the
//! same requests:
//!
//! - `raw` sees the clock as generated: it jumps backwards and to the ends
//!   of time;
//! - `late` sees the running maximum of the times of the calls that were
//!   not errors, so its times never decrease and a model can follow it;
//! - `twin` sees only the requests `late` admitted with a cost above zero.
//!
//! Checked on every call: `peek` equals `check`; an error is exactly a cost
//! above capacity and changes nothing; a cost of 0 is allowed; a denial has
//! a positive retry-after and fewer units left than asked; `raw` decides as
//! `late` does (windows) or admits a late stamp only as at the latest time
//! (token bucket, with its documented exemption near the end of time);
//! `late` decides as the model (exactly, away from the end of time; never
//! more permissively near it); `twin` decides as `late` (a denial or a
//! cost of 0 changes nothing that matters); retry-after and reset are the
//! shortest waits; an idle state decides as a fresh one. At the end, the
//! admitted history never breaks the kind's bound.

#![allow(dead_code)]

use core::fmt::Debug;
use core::time::Duration;

use keyrate::limit::{
    CompactWindow, CostTooLarge, Decision, FixedWindow, HeapSlots, Limit, LimitError, MAX_WINDOW,
    SlidingWindow, TokenBucket,
};
use keyrate::time::Instant;

use crate::clock::{Cost, Move};
use crate::model::{BucketModel, FixedModel, SlidingModel, max_in_any_window};

/// Inline storage for exact sliding windows.
pub const INLINE: usize = 16;

/// An exact sliding window's inline storage.
pub type Inline = [u64; INLINE];

/// Calls per case; the rest of the input is ignored.
pub const MAX_OPS: usize = 160;

/// The largest quota run against a log model (one entry per unit).
pub const LOG_MODEL_QUOTA: u32 = 64;

/// The largest heap-backed quota whose state is created.
pub const HEAP_RUN_QUOTA: u32 = 4096;

/// The largest fixed-window quota the count model can add up in `u32`.
pub const FIXED_MODEL_QUOTA: u32 = u32::MAX / 2;

/// One fuzz case.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub struct Input {
    /// The limit kind.
    pub kind: Kind,
    /// Its quota (or burst).
    pub quota: Quota,
    /// Its window (or period).
    pub window: Window,
    /// The first instant, as a move from the origin.
    pub start: Move,
    /// Requests: a clock move, then a cost.
    pub ops: Vec<(Move, Cost)>,
}

/// The limit kind under test.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `SlidingWindow<[u64; INLINE]>`.
    Inline,
    /// `SlidingWindow<HeapSlots>`.
    Heap,
    /// `CompactWindow`.
    Compact,
    /// `TokenBucket` (quota is the burst, window the period).
    Bucket,
    /// `FixedWindow`.
    Fixed,
}

/// A quota: small most of the time, anything sometimes.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quota {
    /// 0 to 255.
    Small(u8),
    /// Any `u32`.
    Any(u32),
}

impl Quota {
    /// The quota in units.
    pub fn units(self) -> u32 {
        match self {
            Quota::Small(n) => u32::from(n),
            Quota::Any(n) => n,
        }
    }
}

/// A window length.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// 0 to 255 ns: windows roll over within a few calls.
    Nanos(u8),
    /// Microseconds.
    Micros(u16),
    /// Whole seconds, up to past the longest window accepted.
    Secs(u32),
    /// Any number of nanoseconds.
    Any(u64),
}

impl Window {
    /// The window as a duration.
    pub fn duration(self) -> Duration {
        match self {
            Window::Nanos(n) => Duration::from_nanos(u64::from(n)),
            Window::Micros(n) => Duration::from_micros(u64::from(n)),
            Window::Secs(n) => Duration::from_secs(u64::from(n)),
            Window::Any(n) => Duration::from_nanos(n),
        }
    }
}

type Outcome = Result<Decision, CostTooLarge>;

/// Requests: a clock move, then a cost.
type Ops = [(Move, Cost)];

fn at(t: u64) -> Instant {
    Instant::from_nanos(t)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Runs one case.
pub fn run(input: &Input) {
    let quota = input.quota.units();
    let window = input.window.duration();
    let ops = &input.ops[..input.ops.len().min(MAX_OPS)];
    match input.kind {
        Kind::Inline => {
            let built = SlidingWindow::<Inline>::new(quota, window);
            check_built(&built, window_errors(quota, window, INLINE as u64));
            if let Ok(l) = built {
                run_sliding(&l, quota, window, input.start, ops, true);
            }
        }
        Kind::Heap => {
            let built = SlidingWindow::<HeapSlots>::new(quota, window);
            check_built(&built, window_errors(quota, window, 1 << 24));
            if let (Ok(l), true) = (built, quota <= HEAP_RUN_QUOTA) {
                run_sliding(
                    &l,
                    quota,
                    window,
                    input.start,
                    ops,
                    quota <= LOG_MODEL_QUOTA,
                );
            }
        }
        Kind::Compact => {
            let built = CompactWindow::new(quota, window);
            check_built(&built, window_errors(quota, window, u64::MAX));
            if let Ok(l) = built {
                run_compact(&l, quota, window, input.start, ops);
            }
        }
        Kind::Bucket => {
            let built = TokenBucket::new(quota, window);
            check_built(&built, bucket_errors(quota, window));
            if let Ok(l) = built {
                run_bucket(&l, quota, window, input.start, ops);
            }
        }
        Kind::Fixed => {
            let built = FixedWindow::new(quota, window);
            check_built(&built, window_errors(quota, window, u64::MAX));
            if let Ok(l) = built {
                run_fixed(&l, quota, window, input.start, ops);
            }
        }
    }
}

/// Every error the docs allow for a window of `quota` in `window` with
/// storage for `capacity` units.
fn window_errors(quota: u32, window: Duration, capacity: u64) -> Vec<LimitError> {
    let mut errors = Vec::new();
    if quota == 0 {
        errors.push(LimitError::ZeroQuota);
    }
    if window.is_zero() {
        errors.push(LimitError::ZeroWindow);
    }
    if window > MAX_WINDOW {
        errors.push(LimitError::WindowTooLong);
    }
    if u64::from(quota) > capacity {
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
        errors.push(LimitError::QuotaTooLarge { quota, capacity });
    }
    errors
}

/// Every error the docs allow for a bucket of `burst`, one per `period`.
fn bucket_errors(burst: u32, period: Duration) -> Vec<LimitError> {
    let mut errors = Vec::new();
    if burst == 0 {
        errors.push(LimitError::ZeroQuota);
    }
    if period.is_zero() {
        errors.push(LimitError::ZeroWindow);
    }
    if period.as_nanos() * u128::from(burst) > MAX_WINDOW.as_nanos() {
        errors.push(LimitError::WindowTooLong);
    }
    errors
}

/// A constructor succeeds exactly when no error applies, and otherwise
/// names one that does.
fn check_built<L: Debug>(built: &Result<L, LimitError>, allowed: Vec<LimitError>) {
    match built {
        Ok(l) => assert!(
            allowed.is_empty(),
            "built {l:?}, expected one of {allowed:?}"
        ),
        Err(e) => assert!(allowed.contains(e), "{e:?} is not one of {allowed:?}"),
    }
}

fn run_sliding<S: keyrate::limit::Slots>(
    l: &SlidingWindow<S>,
    quota: u32,
    window: Duration,
    start: Move,
    ops: &Ops,
    model: bool,
) {
    assert_eq!(
        (l.quota(), l.window(), l.capacity()),
        (quota, window, quota)
    );
    let w = nanos(window);
    let setup = Setup {
        span: w,
        back: Back::AtLatest,
        judge: model.then(|| Judge::Sliding(SlidingModel::new(quota, w))),
        bound: Bound::Window { quota, window: w },
    };
    drive(l, setup, start, ops);
}

fn run_compact(l: &CompactWindow, quota: u32, window: Duration, start: Move, ops: &Ops) {
    let w = nanos(window);
    let b = w.div_ceil(15);
    assert_eq!(nanos(l.bucket()), b, "bucket of {window:?}");
    assert_eq!(l.capacity(), quota);
    let judge = (quota <= LOG_MODEL_QUOTA).then(|| Judge::Compact {
        exact: SlidingModel::new(quota, w),
        wide: SlidingModel::new(quota, w + b),
    });
    let setup = Setup {
        span: w + b,
        back: Back::AtLatest,
        judge,
        bound: Bound::Window { quota, window: w },
    };
    drive(l, setup, start, ops);
}

fn run_bucket(l: &TokenBucket, burst: u32, period: Duration, start: Move, ops: &Ops) {
    let p = nanos(period);
    let depth = p * u64::from(burst);
    assert_eq!(
        (l.burst(), l.period(), l.capacity()),
        (burst, period, burst)
    );
    assert_eq!(l.info().window, Duration::from_nanos(depth));
    let setup = Setup {
        span: depth,
        back: Back::OwnStamp {
            end_of_time: u64::MAX - depth,
        },
        judge: Some(Judge::Bucket(BucketModel::new(burst, p))),
        bound: Bound::Bucket { burst, period: p },
    };
    drive(l, setup, start, ops);
}

fn run_fixed(l: &FixedWindow, quota: u32, window: Duration, start: Move, ops: &Ops) {
    let w = nanos(window);
    assert_eq!(l.capacity(), quota);
    let judge = (quota <= FIXED_MODEL_QUOTA).then(|| Judge::Fixed(FixedModel::new(quota, w)));
    let setup = Setup {
        span: w,
        back: Back::AtLatest,
        judge,
        bound: Bound::Fixed { quota, window: w },
    };
    drive(l, setup, start, ops);
}

/// How a limit treats a request stamped before the latest time it saw.
#[derive(Clone, Copy, Debug)]
enum Back {
    /// Judged and charged as at the latest time (windows).
    AtLatest,
    /// Judged at its own stamp, never more permissively, and charged as at
    /// the latest time; exempt within a bucket's depth of the end of time.
    OwnStamp { end_of_time: u64 },
}

/// The guarantee on the admitted history.
#[derive(Clone, Copy, Debug)]
enum Bound {
    /// At most `quota` in any window.
    Window { quota: u32, window: u64 },
    /// At most `quota` per aligned window.
    Fixed { quota: u32, window: u64 },
    /// At most `burst + ⌊(b − a) / period⌋` from `a` to `b`.
    Bucket { burst: u32, period: u64 },
}

/// What a case knows about the limit under test.
struct Setup {
    /// The time over which the limit forgets everything.
    span: u64,
    back: Back,
    judge: Option<Judge>,
    bound: Bound,
}

/// A model fed the limit's own admitted history.
enum Judge {
    Sliding(SlidingModel),
    Fixed(FixedModel),
    Bucket(BucketModel),
    /// The compact window sits between an exact window and one a bucket
    /// longer.
    Compact {
        exact: SlidingModel,
        wide: SlidingModel,
    },
}

impl Judge {
    /// The decision of an exact model; `None` for the compact bounds.
    fn decide(&self, t: u64, cost: u32) -> Option<Outcome> {
        match self {
            Judge::Sliding(m) => Some(m.decide(t, cost)),
            Judge::Fixed(m) => Some(m.decide(t, cost)),
            Judge::Bucket(m) => Some(m.decide(t, cost)),
            Judge::Compact { .. } => None,
        }
    }

    /// True if the (narrowest) model admits `cost` at `t`.
    fn admits(&self, t: u64, cost: u32) -> bool {
        let d = match self {
            Judge::Sliding(m) | Judge::Compact { exact: m, .. } => m.decide(t, cost),
            Judge::Fixed(m) => m.decide(t, cost),
            Judge::Bucket(m) => m.decide(t, cost),
        };
        d.is_ok_and(|d| d.is_allowed())
    }

    /// Compares `got` with the model at `t`, exactly when `exact`.
    fn compare(&self, t: u64, cost: u32, got: &Outcome, exact: bool) {
        let admitted = matches!(got, Ok(d) if d.is_allowed());
        if !exact {
            if admitted && cost > 0 {
                assert!(
                    self.admits(t, cost),
                    "admits {cost} at {t}, the model refuses"
                );
            }
            return;
        }
        if let Some(want) = self.decide(t, cost) {
            assert_eq!(*got, want, "at {t} cost {cost}");
            return;
        }
        let Judge::Compact { exact, wide } = self else {
            return;
        };
        let (narrow, wide) = (exact.decide(t, cost), wide.decide(t, cost));
        match (got, narrow, wide) {
            (Err(e), Err(n), Err(w)) => assert!(*e == n && *e == w),
            (Ok(Decision::Allowed(a)), Ok(n), Ok(w)) => {
                let Decision::Allowed(n) = n else {
                    panic!("compact admits {cost} at {t}, the exact window refuses");
                };
                assert!(a.remaining <= n.remaining, "more left than exact at {t}");
                if let Decision::Allowed(w) = w {
                    assert!(w.remaining <= a.remaining, "fewer left than wide at {t}");
                }
            }
            (Ok(Decision::Denied(d)), Ok(n), Ok(w)) => {
                let Some(wait_wide) = w.retry_after() else {
                    panic!("compact refuses {cost} at {t}, window + bucket admits");
                };
                assert!(d.retry_after <= wait_wide, "waits longer than wide at {t}");
                if let Some(wait_exact) = n.retry_after() {
                    assert!(wait_exact <= d.retry_after, "waits less than exact at {t}");
                }
            }
            other => panic!("compact and models disagree at {t} cost {cost}: {other:?}"),
        }
    }

    /// Records `units` admitted at `t` by the limit.
    fn record(&mut self, t: u64, units: u32) {
        match self {
            Judge::Sliding(m) => m.record(t, units),
            Judge::Compact { exact, wide } => {
                exact.record(t, units);
                wide.record(t, units);
            }
            Judge::Fixed(m) => assert!(m.check(t, units).is_ok_and(|d| d.is_allowed())),
            Judge::Bucket(m) => assert!(m.check(t, units).is_ok_and(|d| d.is_allowed())),
        }
    }

    /// Compares `idle` with the model at `t`.
    fn compare_idle(&self, t: u64, idle: bool) {
        match self {
            Judge::Sliding(m) => assert_eq!(idle, m.is_idle(t), "idle at {t}"),
            Judge::Fixed(m) => assert_eq!(idle, m.is_idle(t), "idle at {t}"),
            Judge::Bucket(m) => assert_eq!(idle, m.is_idle(t), "idle at {t}"),
            Judge::Compact { exact, wide } => {
                assert!(
                    !wide.is_idle(t) || idle,
                    "not idle at {t}, window + bucket is"
                );
                assert!(
                    !idle || exact.is_idle(t),
                    "idle at {t}, the exact window is not"
                );
            }
        }
    }
}

/// `check`, after asserting that `peek` decides the same.
fn checked<L: Limit>(l: &L, s: &mut L::State, t: u64, cost: u32) -> Outcome {
    let peeked = l.peek(s, at(t), cost);
    let got = l.check(s, at(t), cost);
    assert_eq!(peeked, got, "peek differs from check at {t} cost {cost}");
    got
}

/// What every decision must satisfy, whatever the clock.
fn sane(got: &Outcome, cost: u32, cap: u32) {
    match got {
        Err(e) => assert_eq!(
            *e,
            CostTooLarge {
                cost,
                capacity: cap
            }
        ),
        Ok(_) if cost > cap => panic!("cost {cost} above capacity {cap} was decided"),
        Ok(Decision::Allowed(a)) => assert!(a.remaining <= cap - cost, "{a:?} for {cost}"),
        Ok(Decision::Denied(d)) => {
            assert!(cost > 0, "a cost of 0 was refused: {d:?}");
            assert_eq!(d.limit, 0);
            assert!(!d.retry_after.is_zero(), "retry-after of zero");
            assert!(
                d.remaining < cost,
                "refused {cost} with {} left",
                d.remaining
            );
        }
    }
}

fn units(got: &Outcome, cost: u32) -> u32 {
    match got {
        Ok(d) if d.is_allowed() => cost,
        _ => 0,
    }
}

fn same_state<S: Debug>(a: &S, b: &S, what: &str) {
    assert_eq!(format!("{a:?}"), format!("{b:?}"), "{what}");
}

/// Runs `ops` on the three states of `l` and checks everything.
fn drive<L: Limit>(l: &L, mut setup: Setup, start: Move, ops: &Ops) {
    let cap = l.capacity();
    let span = setup.span;
    let margin = span.saturating_mul(2).saturating_add(2);
    let far = |t: u64| t <= u64::MAX - margin;
    let (mut raw, mut late, mut twin) = (l.new_state(), l.new_state(), l.new_state());
    let mut fresh: Option<L::State> = None;
    let mut t = start.apply(0, span);
    // Latest times of the raw calls that were not errors, and that admitted.
    let (mut seen, mut admitted) = (0u64, 0u64);
    let mut log: Vec<(u64, u32)> = Vec::new();

    for &(mv, cost) in ops {
        t = mv.apply(t, span);
        let c = cost.resolve(cap);
        let lt = t.max(seen);

        // The raw clock.
        let before = raw.clone();
        let got = checked(l, &mut raw, t, c);
        sane(&got, c, cap);
        if got.is_err() {
            same_state(&before, &raw, "an error changed the state");
        }

        // The running maximum.
        let late_before = late.clone();
        let want = checked(l, &mut late, lt, c);
        sane(&want, c, cap);
        if want.is_err() {
            same_state(&late_before, &late, "an error changed the state");
        }

        match setup.back {
            Back::AtLatest => {
                assert_eq!(got, want, "at {t}, judged at the latest time {lt}");
                if got.is_ok() {
                    seen = lt;
                }
                // Before the latest time seen, no state is idle.
                let idle = t >= seen && l.is_idle(&late, at(lt));
                assert_eq!(l.is_idle(&raw, at(t)), idle, "idle at {t}, latest {seen}");
            }
            Back::OwnStamp { end_of_time } => {
                for latest in [seen, admitted] {
                    own_stamp(l, &before, &raw, (t, latest, end_of_time), c, &got);
                }
                if got.is_ok() {
                    seen = seen.max(t);
                }
                if matches!(got, Ok(d) if d.is_allowed()) {
                    admitted = admitted.max(t);
                }
            }
        }

        // An error's time is no time seen: what follows may come earlier,
        // so nothing below looks at it.
        if want.is_err() {
            continue;
        }

        // The model follows `late`, whose times never decrease.
        let n = units(&want, c);
        if let Some(judge) = setup.judge.as_mut() {
            judge.compare(lt, c, &want, far(lt));
            judge.record(lt, n);
            if far(lt) {
                judge.compare_idle(lt, l.is_idle(&late, at(lt)));
            }
        }
        if n > 0 {
            log.push((lt, n));
        }

        // Only admitted costs change later decisions.
        assert_eq!(l.peek(&twin, at(lt), c), want, "twin at {lt} cost {c}");
        if n > 0 {
            let charged = l.check(&mut twin, at(lt), c);
            assert!(
                charged.is_ok_and(|d| d.is_allowed()),
                "twin refused at {lt}"
            );
        }

        // An idle state decides as a fresh one from then on.
        if let Some(f) = fresh.as_mut() {
            assert_eq!(l.check(f, at(lt), c), want, "fresh state at {lt} cost {c}");
        }
        if l.is_idle(&late, at(lt)) {
            fresh = Some(l.new_state());
        }
        if far(lt) {
            let then = lt.saturating_add(span);
            assert!(l.is_idle(&late, at(then)), "not idle a span after {lt}");
            shortest_waits(l, &late, lt, c, cap, &want);
        }
    }
    check_bound(setup.bound, &mut log);
}

/// A token bucket's late request, stamped `t` before `latest`, is admitted
/// only if it would be at `latest`, and then leaves the state it would
/// have left there; refused, it leaves the state unchanged.
fn own_stamp<L: Limit>(
    l: &L,
    before: &L::State,
    after: &L::State,
    (t, latest, end_of_time): (u64, u64, u64),
    c: u32,
    got: &Outcome,
) {
    if t >= latest || latest > end_of_time {
        return;
    }
    let mut there = before.clone();
    let want = l.check(&mut there, at(latest), c);
    match got {
        Ok(d) if d.is_allowed() => {
            assert!(
                want.is_ok_and(|d| d.is_allowed()),
                "late {t} admitted, not at {latest}"
            );
            same_state(after, &there, "a late request left another state");
        }
        _ => same_state(after, before, "a refused late request changed the state"),
    }
}

/// `retry_after` is the exact wait for the same request, and `reset` the
/// exact wait for one more unit than `remaining`.
fn shortest_waits<L: Limit>(l: &L, s: &L::State, t: u64, c: u32, cap: u32, got: &Outcome) {
    let (wait, probe) = match got {
        Err(_) => return,
        Ok(Decision::Denied(d)) => (d.retry_after, c),
        Ok(Decision::Allowed(a)) if a.remaining == cap => {
            assert!(a.reset.is_zero(), "reset {:?} with all free", a.reset);
            return;
        }
        Ok(Decision::Allowed(a)) => (a.reset, a.remaining + 1),
    };
    let wait = nanos(wait);
    assert!(wait > 0, "a zero wait at {t} for {probe}");
    let Some(then) = t.checked_add(wait) else {
        return;
    };
    let allowed = |u: u64| l.peek(s, at(u), probe).is_ok_and(|d| d.is_allowed());
    assert!(allowed(then), "{probe} not allowed {wait} after {t}");
    assert!(
        wait == 1 || !allowed(then - 1),
        "{probe} allowed before {wait} after {t}"
    );
}

/// The admitted history (`(time, units)`, times judged) keeps the bound.
fn check_bound(bound: Bound, log: &mut [(u64, u32)]) {
    log.sort_unstable();
    match bound {
        Bound::Window { quota, window } => {
            let total: u64 = log.iter().map(|&(_, n)| u64::from(n)).sum();
            if total > 1 << 16 {
                return;
            }
            let times: Vec<u64> = log
                .iter()
                .flat_map(|&(t, n)| std::iter::repeat_n(t, n as usize))
                .collect();
            assert!(max_in_any_window(&times, window) <= quota);
        }
        Bound::Fixed { quota, window } => {
            let mut per = std::collections::BTreeMap::<u64, u64>::new();
            for &(t, n) in log.iter() {
                *per.entry(t / window).or_default() += u64::from(n);
            }
            assert!(per.values().all(|&n| n <= u64::from(quota)), "{per:?}");
        }
        Bound::Bucket { burst, period } => {
            for (i, &(a, _)) in log.iter().enumerate() {
                let mut inside = 0u128;
                for &(b, n) in &log[i..] {
                    inside += u128::from(n);
                    let most = u128::from(burst) + u128::from(b - a) / u128::from(period);
                    assert!(inside <= most, "{inside} units in [{a}, {b}]");
                }
            }
        }
    }
}
