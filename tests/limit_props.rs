//! Property tests: every limit kind and the policy against naive models and
//! against each written guarantee in `keyrate::limit`.
//!
//! Quotas are small and windows are a few nanoseconds long, so that windows
//! roll over many times within one generated sequence.

mod model;

use std::time::Duration;

use keyrate::limit::{
    AnyLimit, CompactWindow, CostTooLarge, Decision, FixedWindow, Limit, Policy, PolicyCheckError,
    PolicyDecision, SlidingWindow, Slots, TokenBucket,
};
use keyrate::time::Instant;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};

use model::{BucketModel, FixedModel, SlidingModel, max_in_any_window};

/// Inline storage for exact sliding windows: quotas here are at most 8.
type Inline = [u64; 8];

type Outcome = Result<Decision, CostTooLarge>;

type TestResult<T = ()> = Result<T, TestCaseError>;

fn at(t: u64) -> Instant {
    Instant::from_nanos(t)
}

fn ns(n: u64) -> Duration {
    Duration::from_nanos(n)
}

/// `cases` cases per property; failures are kept for replay in
/// `proptest-regressions/limit_props.txt`.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/limit_props.txt",
        ))),
        ..ProptestConfig::with_cases(cases)
    }
}

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

/// A limit kind with its parameters, in nanoseconds.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Sliding {
        quota: u32,
        window: u64,
    },
    #[cfg(feature = "alloc")]
    HeapSliding {
        quota: u32,
        window: u64,
    },
    Compact {
        quota: u32,
        window: u64,
    },
    Bucket {
        burst: u32,
        period: u64,
    },
    Fixed {
        quota: u32,
        window: u64,
    },
}

impl Kind {
    /// The time over which the limit forgets everything: the window, or the
    /// time to refill a whole bucket.
    fn span(self) -> u64 {
        match self {
            Kind::Sliding { window, .. }
            | Kind::Compact { window, .. }
            | Kind::Fixed { window, .. } => window,
            #[cfg(feature = "alloc")]
            Kind::HeapSliding { window, .. } => window,
            Kind::Bucket { burst, period } => u64::from(burst) * period,
        }
    }

    /// As an [`AnyLimit`] for a policy, whose exact windows are all inline.
    fn any(self) -> AnyLimit<Inline> {
        match self {
            Kind::Sliding { quota, window } => sliding::<Inline>(quota, window).into(),
            #[cfg(feature = "alloc")]
            Kind::HeapSliding { quota, window } => sliding::<Inline>(quota, window).into(),
            Kind::Compact { quota, window } => compact(quota, window).into(),
            Kind::Bucket { burst, period } => bucket(burst, period).into(),
            Kind::Fixed { quota, window } => fixed(quota, window).into(),
        }
    }

    /// As a standalone limit with its own state.
    fn solo(self) -> Box<dyn Solo> {
        match self {
            Kind::Sliding { quota, window } => solo(sliding::<Inline>(quota, window)),
            #[cfg(feature = "alloc")]
            Kind::HeapSliding { quota, window } => {
                solo(sliding::<keyrate::limit::HeapSlots>(quota, window))
            }
            Kind::Compact { quota, window } => solo(compact(quota, window)),
            Kind::Bucket { burst, period } => solo(bucket(burst, period)),
            Kind::Fixed { quota, window } => solo(fixed(quota, window)),
        }
    }
}

fn sliding<S: Slots>(quota: u32, window: u64) -> SlidingWindow<S> {
    SlidingWindow::new(quota, ns(window)).expect("valid sliding window")
}

fn compact(quota: u32, window: u64) -> CompactWindow {
    CompactWindow::new(quota, ns(window)).expect("valid compact window")
}

fn bucket(burst: u32, period: u64) -> TokenBucket {
    TokenBucket::new(burst, ns(period)).expect("valid token bucket")
}

fn fixed(quota: u32, window: u64) -> FixedWindow {
    FixedWindow::new(quota, ns(window)).expect("valid fixed window")
}

/// Runs `$body` with `$l` bound to the limit `$kind` describes.
macro_rules! with_limit {
    ($kind:expr, |$l:ident| $body:expr) => {
        match $kind {
            Kind::Sliding { quota, window } => {
                let $l = sliding::<Inline>(quota, window);
                $body
            }
            #[cfg(feature = "alloc")]
            Kind::HeapSliding { quota, window } => {
                let $l = sliding::<keyrate::limit::HeapSlots>(quota, window);
                $body
            }
            Kind::Compact { quota, window } => {
                let $l = compact(quota, window);
                $body
            }
            Kind::Bucket { burst, period } => {
                let $l = bucket(burst, period);
                $body
            }
            Kind::Fixed { quota, window } => {
                let $l = fixed(quota, window);
                $body
            }
        }
    };
}

fn sliding_kind() -> impl Strategy<Value = Kind> {
    (1u32..=8, 1u64..=40).prop_map(|(quota, window)| Kind::Sliding { quota, window })
}

fn compact_kind() -> impl Strategy<Value = Kind> {
    // Windows up to 240 ns give buckets of 1 to 16 ns.
    (1u32..=8, 1u64..=240).prop_map(|(quota, window)| Kind::Compact { quota, window })
}

fn bucket_kind() -> impl Strategy<Value = Kind> {
    (1u32..=8, 1u64..=12).prop_map(|(burst, period)| Kind::Bucket { burst, period })
}

fn fixed_kind() -> impl Strategy<Value = Kind> {
    (1u32..=8, 1u64..=40).prop_map(|(quota, window)| Kind::Fixed { quota, window })
}

/// Any kind a policy can hold.
fn policy_kind() -> impl Strategy<Value = Kind> {
    prop_oneof![sliding_kind(), compact_kind(), bucket_kind(), fixed_kind()]
}

/// Any kind, including exact windows on the heap.
fn any_kind() -> impl Strategy<Value = Kind> {
    #[cfg(feature = "alloc")]
    let kinds = prop_oneof![
        sliding_kind(),
        (1u32..=8, 1u64..=40).prop_map(|(quota, window)| Kind::HeapSliding { quota, window }),
        compact_kind(),
        bucket_kind(),
        fixed_kind(),
    ];
    #[cfg(not(feature = "alloc"))]
    let kinds = policy_kind();
    kinds
}

/// A forward time step, scaled to the limit's span when it runs.
#[derive(Clone, Copy, Debug)]
enum Step {
    Same,
    Nanos(u64),
    /// Sixteenths of the span.
    Sixteenths(u64),
}

impl Step {
    fn nanos(self, span: u64) -> u64 {
        match self {
            Step::Same => 0,
            Step::Nanos(n) => n,
            Step::Sixteenths(k) => k * span / 16,
        }
    }
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => Just(Step::Same),
        2 => (1u64..=3).prop_map(Step::Nanos),
        5 => (1u64..=24).prop_map(Step::Sixteenths),
        1 => (16u64..=80).prop_map(Step::Sixteenths),
    ]
}

/// A request's cost, resolved against the limit's capacity when it runs.
#[derive(Clone, Copy, Debug)]
enum Cost {
    Units(u32),
    /// This much above the capacity.
    Over(u32),
}

impl Cost {
    fn resolve(self, capacity: u32) -> u32 {
        match self {
            Cost::Units(n) => n,
            Cost::Over(k) => capacity.saturating_add(k),
        }
    }
}

fn cost() -> impl Strategy<Value = Cost> {
    prop_oneof![
        5 => Just(Cost::Units(1)),
        3 => (0u32..=4).prop_map(Cost::Units),
        1 => Just(Cost::Units(0)),
        1 => (1u32..=3).prop_map(Cost::Over),
    ]
}

/// A start time: the origin, or somewhere that shifts the alignment of
/// buckets and fixed windows.
fn base() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), 0u64..1_000_000, (1u64 << 40)..(1u64 << 41)]
}

fn ops(max: usize) -> impl Strategy<Value = Vec<(Step, Cost)>> {
    prop::collection::vec((step(), cost()), 1..max)
}

/// Non-decreasing `(time, cost)` pairs from `base`.
fn forward(base: u64, ops: &[(Step, Cost)], span: u64, capacity: u32) -> Vec<(u64, u32)> {
    let mut t = base;
    ops.iter()
        .map(|&(s, c)| {
            t = t.saturating_add(s.nanos(span));
            (t, c.resolve(capacity))
        })
        .collect()
}

/// A move of the clock, which may go backwards by any amount.
#[derive(Clone, Copy, Debug)]
enum Move {
    Forward(Step),
    Back(Step),
    ForwardBy(u64),
    BackBy(u64),
    To(u64),
}

fn clock_move() -> impl Strategy<Value = Move> {
    let special = prop_oneof![
        Just(0u64),
        Just(1u64),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        (u64::MAX - 1000)..=u64::MAX,
        any::<u64>(),
    ];
    prop_oneof![
        6 => step().prop_map(Move::Forward),
        3 => step().prop_map(Move::Back),
        1 => prop_oneof![Just(1u64), Just(u64::MAX), any::<u64>()].prop_map(Move::ForwardBy),
        1 => prop_oneof![Just(1u64), Just(u64::MAX), any::<u64>()].prop_map(Move::BackBy),
        1 => special.prop_map(Move::To),
    ]
}

/// A move either way that stays far from `Instant::MAX`, so that a failure
/// shrinks to a case about going backwards, not about the end of time.
fn tame_move() -> impl Strategy<Value = Move> {
    prop_oneof![
        6 => step().prop_map(Move::Forward),
        3 => step().prop_map(Move::Back),
        1 => prop_oneof![Just(1u64), Just(u64::MAX), any::<u64>()].prop_map(Move::BackBy),
        1 => prop_oneof![Just(0u64), 0u64..(1 << 42)].prop_map(Move::To),
    ]
}

fn tame_moves(max: usize) -> impl Strategy<Value = Vec<(Move, Cost)>> {
    prop::collection::vec((tame_move(), cost()), 1..max)
}

/// `(time, cost)` pairs from `base`, with the clock jumping either way.
fn wandering(base: u64, moves: &[(Move, Cost)], span: u64, capacity: u32) -> Vec<(u64, u32)> {
    let mut t = base;
    moves
        .iter()
        .map(|&(m, c)| {
            t = match m {
                Move::Forward(s) => t.saturating_add(s.nanos(span)),
                Move::Back(s) => t.saturating_sub(s.nanos(span)),
                Move::ForwardBy(n) => t.saturating_add(n),
                Move::BackBy(n) => t.saturating_sub(n),
                Move::To(x) => x,
            };
            (t, c.resolve(capacity))
        })
        .collect()
}

fn moves(max: usize) -> impl Strategy<Value = Vec<(Move, Cost)>> {
    prop::collection::vec((clock_move(), cost()), 1..max)
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Checks `cost` at `t`, asserting first that `peek` says the same.
fn checked<L: Limit>(l: &L, s: &mut L::State, t: u64, cost: u32) -> TestResult<Outcome> {
    let peeked = l.peek(s, at(t), cost);
    let got = l.check(s, at(t), cost);
    prop_assert_eq!(
        peeked,
        got,
        "peek differs from check at {} for cost {}",
        t,
        cost
    );
    Ok(got)
}

/// The admitted cost of an outcome, or zero.
fn admitted(outcome: &Outcome, cost: u32) -> u32 {
    match outcome {
        Ok(d) if d.is_allowed() => cost,
        _ => 0,
    }
}

/// A limit and its state behind one object, for replaying a policy's
/// admitted history into each of its limits alone.
trait Solo {
    fn peek(&self, t: u64, cost: u32) -> Outcome;
    fn check(&mut self, t: u64, cost: u32) -> Outcome;
    fn is_idle(&self, t: u64) -> bool;
}

struct SoloOf<L: Limit> {
    limit: L,
    state: L::State,
}

fn solo<L: Limit + 'static>(limit: L) -> Box<dyn Solo> {
    let state = limit.new_state();
    Box::new(SoloOf { limit, state })
}

impl<L: Limit> Solo for SoloOf<L> {
    fn peek(&self, t: u64, cost: u32) -> Outcome {
        self.limit.peek(&self.state, at(t), cost)
    }

    fn check(&mut self, t: u64, cost: u32) -> Outcome {
        self.limit.check(&mut self.state, at(t), cost)
    }

    fn is_idle(&self, t: u64) -> bool {
        self.limit.is_idle(&self.state, at(t))
    }
}

// ---------------------------------------------------------------------------
// Each kind against its model, on non-decreasing times
// ---------------------------------------------------------------------------

/// The exact sliding window with storage `S` decides as the log model does,
/// and no window of its admitted history holds more than the quota.
fn sliding_matches_model<S: Slots>(
    quota: u32,
    window: u64,
    base: u64,
    ops: &[(Step, Cost)],
) -> TestResult {
    let l = sliding::<S>(quota, window);
    let mut s = l.new_state();
    let mut m = SlidingModel::new(quota, window);
    let mut log = Vec::new();
    for (t, c) in forward(base, ops, window, quota) {
        let got = checked(&l, &mut s, t, c)?;
        let want = m.check(t, c);
        prop_assert_eq!(got, want, "at {} cost {}, model log {:?}", t, c, m.log());
        log.extend(std::iter::repeat_n(t, admitted(&got, c) as usize));

        // Idle exactly when the model holds nothing; always idle a window on.
        prop_assert_eq!(l.is_idle(&s, at(t)), m.is_idle(t));
        prop_assert!(l.is_idle(&s, at(t + window)));
    }
    prop_assert!(max_in_any_window(&log, window) <= quota);
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn inline_sliding_window_decides_exactly_as_the_log_model(
        quota in 1u32..=8,
        window in 1u64..=40,
        base in base(),
        ops in ops(60),
    ) {
        sliding_matches_model::<Inline>(quota, window, base, &ops)?;
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn heap_sliding_window_decides_exactly_as_the_log_model(
        quota in 1u32..=8,
        window in 1u64..=40,
        base in base(),
        ops in ops(60),
    ) {
        sliding_matches_model::<keyrate::limit::HeapSlots>(quota, window, base, &ops)?;
    }

    #[test]
    fn compact_window_never_admits_more_than_exact_and_refuses_early_by_one_bucket_at_most(
        quota in 1u32..=8,
        window in 1u64..=240,
        base in base(),
        ops in ops(60),
    ) {
        let l = compact(quota, window);
        let b = u64::try_from(l.bucket().as_nanos()).unwrap();
        prop_assert_eq!(b, window.div_ceil(15));
        let mut s = l.new_state();

        // Both exact models see the compact window's own admitted history.
        let mut exact = SlidingModel::new(quota, window);
        let mut widened = SlidingModel::new(quota, window + b);
        let mut log = Vec::new();
        for (t, c) in forward(base, &ops, window, quota) {
            let narrow = exact.decide(t, c);
            let wide = widened.decide(t, c);
            let got = checked(&l, &mut s, t, c)?;
            match (got, narrow, wide) {
                (Err(e), Err(n), Err(w)) => {
                    prop_assert_eq!(e, n);
                    prop_assert_eq!(e, w);
                }
                (Ok(Decision::Allowed(a)), Ok(n), Ok(w)) => {
                    prop_assert!(n.is_allowed(), "compact admits {} at {}, exact refuses", c, t);
                    if let (Decision::Allowed(n), Decision::Allowed(w)) = (n, w) {
                        prop_assert!(w.remaining <= a.remaining && a.remaining <= n.remaining);
                    }
                }
                (Ok(Decision::Denied(d)), Ok(n), Ok(w)) => {
                    prop_assert!(
                        !w.is_allowed(),
                        "compact refuses {} at {}, exact window + bucket admits", c, t
                    );
                    let wait_w = w.retry_after().unwrap();
                    prop_assert!(d.retry_after <= wait_w);
                    if let Some(wait_n) = n.retry_after() {
                        prop_assert!(wait_n <= d.retry_after);
                    }
                }
                other => return Err(TestCaseError::fail(format!("mismatch {other:?}"))),
            }
            let units = admitted(&got, c);
            exact.record(t, units);
            widened.record(t, units);
            log.extend(std::iter::repeat_n(t, units as usize));

            // Idle no later than the widened window, no sooner than exact.
            if widened.is_idle(t) {
                prop_assert!(l.is_idle(&s, at(t)));
            }
            if l.is_idle(&s, at(t)) {
                prop_assert!(exact.is_idle(t));
            }
        }
        prop_assert!(max_in_any_window(&log, window) <= quota);
    }

    #[test]
    fn token_bucket_decides_exactly_as_the_credit_model(
        burst in 1u32..=8,
        period in 1u64..=12,
        base in base(),
        ops in ops(60),
    ) {
        let l = bucket(burst, period);
        let mut s = l.new_state();
        let mut m = BucketModel::new(burst, period);
        let mut log = Vec::new();
        let span = u64::from(burst) * period;
        for (t, c) in forward(base, &ops, span, burst) {
            let got = checked(&l, &mut s, t, c)?;
            prop_assert_eq!(got, m.check(t, c), "at {} cost {}", t, c);
            log.extend(std::iter::repeat_n(t, admitted(&got, c) as usize));
            prop_assert_eq!(l.is_idle(&s, at(t)), m.is_idle(t));
            prop_assert!(l.is_idle(&s, at(t + span)));
        }

        // Any span [a, b] admits at most burst + ⌊(b − a) / period⌋.
        log.sort_unstable();
        for (i, &a) in log.iter().enumerate() {
            for (j, &b) in log.iter().enumerate().skip(i) {
                let inside = log[i..=j].len() as u64;
                let bound = u64::from(burst) + (b - a) / period;
                prop_assert!(inside <= bound, "{} units in [{}, {}]", inside, a, b);
            }
        }
    }

    #[test]
    fn token_bucket_per_window_never_exceeds_the_rate(
        count in 1u32..=1000,
        window in 1u64..=1_000_000,
        burst in 1u32..=8,
    ) {
        let l = TokenBucket::per_window(count, ns(window), burst).unwrap();
        let period = u64::try_from(l.period().as_nanos()).unwrap();
        prop_assert_eq!(period, window.div_ceil(u64::from(count)));
        prop_assert_eq!(l.burst(), burst);
    }

    #[test]
    fn fixed_window_decides_exactly_as_the_aligned_count_model(
        quota in 1u32..=8,
        window in 1u64..=40,
        base in base(),
        ops in ops(60),
    ) {
        let l = fixed(quota, window);
        let mut s = l.new_state();
        let mut m = FixedModel::new(quota, window);
        for (t, c) in forward(base, &ops, window, quota) {
            let got = checked(&l, &mut s, t, c)?;
            prop_assert_eq!(got, m.check(t, c), "at {} cost {}", t, c);
            prop_assert_eq!(l.is_idle(&s, at(t)), m.is_idle(t));
            prop_assert_eq!(l.reset_at(at(t)), at((t / window + 1) * window));
        }
        prop_assert!(m.counts().values().all(|&n| n <= quota));
    }
}

// ---------------------------------------------------------------------------
// Backwards clocks
// ---------------------------------------------------------------------------

/// Feeds `l` the raw times and a second state the running maximum of the
/// times of its successful `check`s: every decision must be the same.
fn decides_as_at_the_latest_time<L: Limit>(l: &L, calls: &[(u64, u32)]) -> TestResult {
    let mut raw = l.new_state();
    let mut latest = l.new_state();
    let mut max = 0u64;
    for &(t, c) in calls {
        let late = t.max(max);
        let got = checked(l, &mut raw, t, c)?;
        let want = l.check(&mut latest, at(late), c);
        prop_assert_eq!(got, want, "at {} (latest {}) cost {}", t, max, c);
        if got.is_ok() {
            max = late;
        }
        // Asked before the latest time seen, no state is idle: a fresh one
        // would judge late requests at their own stamps.
        let idle = t >= max && l.is_idle(&latest, at(late));
        prop_assert_eq!(l.is_idle(&raw, at(t)), idle);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn sliding_window_judges_a_late_request_as_at_the_latest_time(
        kind in sliding_kind(),
        base in base(),
        moves in moves(60),
    ) {
        with_limit!(kind, |l| {
            let calls = wandering(base, &moves, kind.span(), l.capacity());
            decides_as_at_the_latest_time(&l, &calls)?;
        });
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn heap_sliding_window_judges_a_late_request_as_at_the_latest_time(
        quota in 1u32..=8,
        window in 1u64..=40,
        base in base(),
        moves in moves(60),
    ) {
        let l = sliding::<keyrate::limit::HeapSlots>(quota, window);
        let calls = wandering(base, &moves, window, quota);
        decides_as_at_the_latest_time(&l, &calls)?;
    }

    #[test]
    fn compact_window_judges_a_late_request_as_at_the_latest_time(
        kind in compact_kind(),
        base in base(),
        moves in moves(60),
    ) {
        with_limit!(kind, |l| {
            let calls = wandering(base, &moves, kind.span(), l.capacity());
            decides_as_at_the_latest_time(&l, &calls)?;
        });
    }

    #[test]

    fn fixed_window_judges_a_late_request_as_at_the_latest_time(
        kind in fixed_kind(),
        base in base(),
        moves in tame_moves(60),
    ) {
        with_limit!(kind, |l| {
            let calls = wandering(base, &moves, kind.span(), l.capacity());
            decides_as_at_the_latest_time(&l, &calls)?;
        });
    }
}

/// Which checks count as times a token bucket has seen.
#[derive(Clone, Copy, Debug)]
enum Admitted {
    /// Checks that were allowed, whatever their cost.
    Only,
    /// Every check that was not an error.
    OrRefused,
}

/// Like [`decides_as_at_the_latest_time`], comparing only which requests
/// are allowed, not the figures they carry.
fn admits_as_at_the_latest_time<L: Limit>(l: &L, calls: &[(u64, u32)]) -> TestResult {
    let mut raw = l.new_state();
    let mut latest = l.new_state();
    let mut max = 0u64;
    for &(t, c) in calls {
        let late = t.max(max);
        let got = checked(l, &mut raw, t, c)?.map(|d| d.is_allowed());
        let want = l.check(&mut latest, at(late), c).map(|d| d.is_allowed());
        prop_assert_eq!(got, want, "at {} (latest {}) cost {}", t, max, c);
        if got.is_ok() {
            max = late;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(200))]

    #[test]

    fn fixed_window_admits_a_late_request_as_at_the_latest_time(
        kind in fixed_kind(),
        base in base(),
        moves in tame_moves(60),
    ) {
        with_limit!(kind, |l| {
            let calls = wandering(base, &moves, kind.span(), l.capacity());
            admits_as_at_the_latest_time(&l, &calls)?;
        });
    }
}

/// A late-stamped request to a token bucket is admitted only if it would be
/// at the latest time, and then leaves the state it would have left there.
/// `latest` says which checks move the latest time.
fn bucket_late_requests(
    burst: u32,
    period: u64,
    calls: &[(u64, u32)],
    latest: Admitted,
) -> TestResult {
    let l = bucket(burst, period);
    let mut s = l.new_state();
    let mut max = 0u64;
    // Documented exemption: within burst × period of the end of time a TAT
    // that would pass it is refused, and late requests may then be admitted.
    let end_of_time = u64::MAX - u64::from(burst) * period;
    for &(t, c) in calls {
        let before = s;
        let got = checked(&l, &mut s, t, c)?;
        if t < max && max <= end_of_time {
            let mut there = before;
            let want = l.check(&mut there, at(max), c);
            match got {
                Ok(d) if d.is_allowed() => {
                    prop_assert!(
                        want.unwrap().is_allowed(),
                        "late {} admitted, not at {}",
                        t,
                        max
                    );
                    prop_assert_eq!(s, there, "late {} left another state than at {}", t, max);
                }
                _ => prop_assert_eq!(s, before, "a refused late request changed the state"),
            }
        }
        let moves = match (latest, got) {
            (_, Ok(d)) if d.is_allowed() => true,
            (Admitted::OrRefused, Ok(_)) => true,
            _ => false,
        };
        if moves {
            max = max.max(t);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn token_bucket_admits_a_late_request_only_as_at_the_latest_admitting_time(
        burst in 1u32..=8,
        period in 1u64..=12,
        base in base(),
        moves in moves(60),
    ) {
        let calls = wandering(base, &moves, u64::from(burst) * period, burst);
        bucket_late_requests(burst, period, &calls, Admitted::Only)?;
    }

    #[test]
    fn token_bucket_admits_a_late_request_only_as_at_the_latest_time_seen(
        burst in 1u32..=8,
        period in 1u64..=12,
        base in base(),
        moves in moves(60),
    ) {
        let calls = wandering(base, &moves, u64::from(burst) * period, burst);
        bucket_late_requests(burst, period, &calls, Admitted::OrRefused)?;
    }

    #[test]
    fn no_limit_panics_or_breaks_its_contract_at_extreme_times(
        kind in any_kind(),
        base in prop_oneof![Just(0u64), Just(u64::MAX), (u64::MAX - 1000)..=u64::MAX],
        moves in moves(60),
    ) {
        with_limit!(kind, |l| {
            let cap = l.capacity();
            let mut s = l.new_state();
            for (t, c) in wandering(base, &moves, kind.span(), cap) {
                match checked(&l, &mut s, t, c)? {
                    Err(e) => prop_assert_eq!(e, CostTooLarge { cost: c, capacity: cap }),
                    Ok(Decision::Allowed(a)) => {
                        prop_assert!(c <= cap && a.remaining <= cap - c);
                    }
                    Ok(Decision::Denied(d)) => {
                        prop_assert!(d.limit == 0 && !d.retry_after.is_zero());
                        // A cost of 0 is never refused, and a refusal
                        // reports fewer units than asked, even at the end
                        // of time.
                        prop_assert!(c > 0 && d.remaining < c);
                    }
                }
                let _ = l.is_idle(&s, at(t));
            }
        });
    }
}

// ---------------------------------------------------------------------------
// Near the end of time limits grow stricter, never looser
// ---------------------------------------------------------------------------

/// An exact model fed a limit's own admitted history.
enum Judge {
    Sliding(SlidingModel),
    Fixed(FixedModel),
    Bucket(BucketModel),
}

impl Judge {
    fn of(kind: Kind) -> Judge {
        match kind {
            Kind::Bucket { burst, period } => Judge::Bucket(BucketModel::new(burst, period)),
            Kind::Fixed { quota, window } => Judge::Fixed(FixedModel::new(quota, window)),
            Kind::Sliding { quota, window } | Kind::Compact { quota, window } => {
                Judge::Sliding(SlidingModel::new(quota, window))
            }
            #[cfg(feature = "alloc")]
            Kind::HeapSliding {
                quota: q,
                window: w,
            } => Judge::Sliding(SlidingModel::new(q, w)),
        }
    }

    fn admits(&self, t: u64, cost: u32) -> bool {
        let d = match self {
            Judge::Sliding(m) => m.decide(t, cost),
            Judge::Fixed(m) => m.decide(t, cost),
            Judge::Bucket(m) => m.decide(t, cost),
        };
        d.is_ok_and(|d| d.is_allowed())
    }

    /// Records `units` admitted at `t`, which the model admits too.
    fn record(&mut self, t: u64, units: u32) {
        match self {
            Judge::Sliding(m) => m.record(t, units),
            Judge::Fixed(m) => assert!(m.check(t, units).unwrap().is_allowed()),
            Judge::Bucket(m) => assert!(m.check(t, units).unwrap().is_allowed()),
        }
    }
}

/// From `back` nanoseconds before `Instant::MAX` on, the limit admits only
/// what its exact model (in `u128`, fed the same history) admits, and an
/// exact window never holds more than its quota.
fn never_looser_near_the_end(kind: Kind, back: u64, ops: &[(Step, Cost)]) -> TestResult {
    with_limit!(kind, |l| {
        let span = kind.span();
        let cap = l.capacity();
        let mut s = l.new_state();
        let mut judge = Judge::of(kind);
        let mut log = Vec::new();
        for (t, c) in forward(u64::MAX - back, ops, span, cap) {
            let got = checked(&l, &mut s, t, c)?;
            let units = admitted(&got, c);
            if units > 0 {
                prop_assert!(
                    judge.admits(t, c),
                    "admits {} at {}, the model refuses",
                    c,
                    t
                );
                log.extend(std::iter::repeat_n(t, units as usize));
            }
            judge.record(t, units);
        }
        if let Judge::Sliding(_) = judge {
            prop_assert!(max_in_any_window(&log, span) <= cap);
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn near_the_end_of_time_fixed_windows_and_buckets_grow_stricter_never_looser(
        kind in prop_oneof![fixed_kind(), bucket_kind()],
        back in 0u64..=200,
        ops in ops(40),
    ) {
        never_looser_near_the_end(kind, back, &ops)?;
    }

    #[test]

    fn near_the_end_of_time_sliding_windows_grow_stricter_never_looser(
        kind in prop_oneof![sliding_kind(), compact_kind()],
        back in 0u64..=200,
        ops in ops(40),
    ) {
        never_looser_near_the_end(kind, back, &ops)?;
    }
}

// ---------------------------------------------------------------------------
// Costs: zero, too large, denied; peek
// ---------------------------------------------------------------------------

/// Every request of cost 0 is allowed, with the clock jumping either way.
fn zero_cost_is_allowed<L: Limit>(l: &L, calls: &[(u64, u32)]) -> TestResult {
    let mut s = l.new_state();
    for &(t, c) in calls {
        let zero = checked(l, &mut s, t, 0)?;
        prop_assert!(
            zero.is_ok_and(|d| d.is_allowed()),
            "cost 0 at {}: {:?}",
            t,
            zero
        );
        let _ = checked(l, &mut s, t, c)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn windows_allow_a_zero_cost_whatever_the_clock(
        kind in prop_oneof![sliding_kind(), compact_kind(), fixed_kind()],
        base in base(),
        moves in moves(60),
    ) {
        with_limit!(kind, |l| {
            zero_cost_is_allowed(&l, &wandering(base, &moves, kind.span(), l.capacity()))?;
        });
    }

    #[test]

    fn token_bucket_allows_a_zero_cost_whatever_the_clock(
        kind in bucket_kind(),
        base in base(),
        moves in tame_moves(60),
    ) {
        with_limit!(kind, |l| {
            zero_cost_is_allowed(&l, &wandering(base, &moves, kind.span(), l.capacity()))?;
        });
    }
}

proptest! {
    #![proptest_config(config(300))]

    /// A twin state receives only the requests admitted with a cost above
    /// zero: every decision, by `check` or by `peek`, must be the same.
    #[test]
    fn only_admitted_costs_change_later_decisions(
        kind in any_kind(),
        base in base(),
        ops in ops(60),
    ) {
        with_limit!(kind, |l| {
            let cap = l.capacity();
            let mut s = l.new_state();
            let mut twin = l.new_state();
            for (t, c) in forward(base, &ops, kind.span(), cap) {
                let got = checked(&l, &mut s, t, c)?;
                prop_assert_eq!(got, l.peek(&twin, at(t), c), "at {} cost {}", t, c);
                match got {
                    Err(e) => prop_assert_eq!(e, CostTooLarge { cost: c, capacity: cap }),
                    Ok(d) if c == 0 => prop_assert!(d.is_allowed()),
                    Ok(d) if d.is_allowed() => {
                        prop_assert!(c <= cap);
                        prop_assert!(l.check(&mut twin, at(t), c).unwrap().is_allowed());
                    }
                    Ok(_) => prop_assert!(c <= cap),
                }
            }
        });
    }

    /// With a clock jumping either way, a state that also received costs
    /// above capacity decides exactly as one that did not.
    #[test]
    fn a_cost_above_capacity_is_an_error_and_changes_nothing(
        kind in any_kind(),
        base in base(),
        moves in moves(60),
    ) {
        with_limit!(kind, |l| {
            let cap = l.capacity();
            let mut s = l.new_state();
            let mut twin = l.new_state();
            for (t, c) in wandering(base, &moves, kind.span(), cap) {
                let got = checked(&l, &mut s, t, c)?;
                if c > cap {
                    prop_assert_eq!(got, Err(CostTooLarge { cost: c, capacity: cap }));
                    prop_assert_eq!(l.peek(&twin, at(t), c), got);
                } else {
                    prop_assert_eq!(got, l.check(&mut twin, at(t), c), "at {} cost {}", t, c);
                }
            }
        });
    }

    /// `retry_after` is the exact wait for the same request, and `reset`
    /// the exact wait for one more unit than `remaining`.
    #[test]
    fn retry_after_and_reset_are_the_shortest_waits(
        kind in any_kind(),
        base in base(),
        ops in ops(60),
    ) {
        with_limit!(kind, |l| {
            let cap = l.capacity();
            let mut s = l.new_state();
            for (t, c) in forward(base, &ops, kind.span(), cap) {
                let got = checked(&l, &mut s, t, c)?;
                let (wait, probe) = match got {
                    Err(_) => continue,
                    Ok(Decision::Denied(d)) => {
                        prop_assert!(d.remaining < c);
                        (d.retry_after, c)
                    }
                    Ok(Decision::Allowed(a)) if a.remaining == cap => {
                        prop_assert!(a.reset.is_zero(), "reset {:?} with all free", a.reset);
                        continue;
                    }
                    Ok(Decision::Allowed(a)) => (a.reset, a.remaining + 1),
                };
                let wait = u64::try_from(wait.as_nanos()).unwrap();
                prop_assert!(wait > 0);
                let then = l.peek(&s, at(t + wait), probe).unwrap();
                prop_assert!(then.is_allowed(), "cost {} not allowed {} after {}", probe, wait, t);
                let before = l.peek(&s, at(t + wait - 1), probe).unwrap();
                prop_assert!(
                    wait == 1 || !before.is_allowed(),
                    "cost {} already allowed {} after {}", probe, wait - 1, t
                );
            }
        });
    }
}

// ---------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn policy_allows_iff_every_limit_alone_allows_and_names_the_latest_refusal(
        kinds in prop::collection::vec(policy_kind(), 0..=4),
        base in base(),
        ops in ops(50),
    ) {
        let mut policy: Policy<Inline> = Policy::new();
        for (i, k) in kinds.iter().enumerate() {
            policy = policy.with(&format!("l{i}"), k.any()).unwrap();
        }
        let mut solos: Vec<Box<dyn Solo>> = kinds.iter().map(|k| k.solo()).collect();
        let span = kinds.iter().map(|k| k.span()).max().unwrap_or(1);
        let cap = policy.capacity();
        prop_assert_eq!(cap, kinds.iter().map(|k| k.any().capacity()).min().unwrap_or(u32::MAX));

        let mut s = policy.new_state();
        for (t, c) in forward(base, &ops, span, cap) {
            let peeked = policy.peek(&s, at(t), c);
            let got = policy.check(&mut s, at(t), c);
            prop_assert_eq!(&peeked, &got);
            if c > cap {
                let e = PolicyCheckError::CostTooLarge(CostTooLarge { cost: c, capacity: cap });
                prop_assert_eq!(got, Err(e));
                continue;
            }

            // Each limit alone, with only the policy's admitted history.
            let alone: Vec<Decision> = solos.iter().map(|l| l.peek(t, c).unwrap()).collect();
            match got.unwrap() {
                PolicyDecision::Allowed(each) => {
                    let want: Vec<_> = alone
                        .iter()
                        .map(|d| match d {
                            Decision::Allowed(a) => Some(*a),
                            Decision::Denied(_) => None,
                        })
                        .collect();
                    let each: Vec<_> = each.into_iter().map(Some).collect();
                    prop_assert_eq!(each, want, "at {} cost {}", t, c);
                    for l in &mut solos {
                        prop_assert!(l.check(t, c).unwrap().is_allowed());
                    }
                }
                PolicyDecision::Denied(d) => {
                    let longest = alone.iter().filter_map(|d| d.retry_after()).max();
                    prop_assert_eq!(Some(d.retry_after), longest, "at {} cost {}", t, c);
                    match alone.get(d.limit) {
                        Some(Decision::Denied(named)) => {
                            prop_assert_eq!(named.retry_after, d.retry_after);
                            prop_assert_eq!(named.remaining, d.remaining);
                        }
                        other => {
                            let e = format!("named limit {} decided {other:?}", d.limit);
                            return Err(TestCaseError::fail(e));
                        }
                    }

                    // Waiting retry_after is exactly enough.
                    let wait = u64::try_from(d.retry_after.as_nanos()).unwrap();
                    prop_assert!(policy.peek(&s, at(t + wait), c).unwrap().is_allowed());
                    let early = policy.peek(&s, at(t + wait - 1), c).unwrap();
                    prop_assert!(wait == 1 || !early.is_allowed());
                }
            }
            let idle = solos.iter().all(|l| l.is_idle(t));
            prop_assert_eq!(policy.is_idle(&s, at(t)), idle);
        }
    }

    #[test]
    fn no_policy_panics_at_extreme_times(
        kinds in prop::collection::vec(policy_kind(), 1..=4),
        base in prop_oneof![Just(0u64), Just(u64::MAX), (u64::MAX - 1000)..=u64::MAX],
        moves in moves(40),
    ) {
        let mut policy: Policy<Inline> = Policy::new();
        for (i, k) in kinds.iter().enumerate() {
            policy = policy.with(&format!("l{i}"), k.any()).unwrap();
        }
        let span = kinds.iter().map(|k| k.span()).max().unwrap_or(1);
        let cap = policy.capacity();
        let mut s = policy.new_state();
        for (t, c) in wandering(base, &moves, span, cap) {
            let peeked = policy.peek(&s, at(t), c);
            let got = policy.check(&mut s, at(t), c);
            prop_assert_eq!(&peeked, &got);
            if let Ok(PolicyDecision::Denied(d)) = got {
                prop_assert!(d.limit < kinds.len() && !d.retry_after.is_zero());
            }
            let _ = policy.is_idle(&s, at(t));
        }
    }
}

// ---------------------------------------------------------------------------
// Idle states
// ---------------------------------------------------------------------------

/// Runs `history`, then, if the state is idle at `now`, checks that a fresh
/// state decides every call of `rest` (all at `now` or later) the same way.
fn idle_state_is_fresh<L: Limit>(
    l: &L,
    history: &[(u64, u32)],
    now: u64,
    rest: &[(u64, u32)],
) -> TestResult<bool> {
    let mut s = l.new_state();
    for &(t, c) in history {
        let _ = l.check(&mut s, at(t), c);
    }
    if !l.is_idle(&s, at(now)) {
        return Ok(false);
    }
    let mut fresh = l.new_state();
    for &(t, c) in rest {
        prop_assert!(t >= now);
        let got = checked(l, &mut s, t, c)?;
        let want = l.check(&mut fresh, at(t), c);
        prop_assert_eq!(got, want, "idle at {}; then at {} cost {}", now, t, c);
    }
    Ok(true)
}

/// As [`idle_state_is_fresh`], asking `is_idle` up to `back` before the
/// last call of `history`.
fn idle_at_a_late_stamp_is_fresh(
    kind: Kind,
    base: u64,
    history: &[(Step, Cost)],
    back: Step,
    rest: &[(Move, Cost)],
) -> TestResult {
    with_limit!(kind, |l| {
        let span = kind.span();
        let cap = l.capacity();
        let history = forward(base, history, span, cap);
        let last = history.last().map_or(base, |&(t, _)| t);
        let now = last.saturating_sub(back.nanos(span));
        let rest: Vec<_> = wandering(now, rest, span, cap)
            .into_iter()
            .map(|(t, c)| (t.max(now), c))
            .collect();
        idle_state_is_fresh(&l, &history, now, &rest).map(|_| ())
    })
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn an_idle_state_decides_as_a_fresh_one_from_then_on(
        kind in any_kind(),
        base in base(),
        history in ops(30),
        gap in step(),
        rest in ops(30),
    ) {
        with_limit!(kind, |l| {
            let span = kind.span();
            let cap = l.capacity();
            let history = forward(base, &history, span, cap);
            let last = history.last().map_or(base, |&(t, _)| t);
            let now = last + gap.nanos(span);
            let rest = forward(now, &rest, span, cap);
            idle_state_is_fresh(&l, &history, now, &rest)?;
        });
    }

    #[test]
    fn an_idle_bucket_or_fixed_window_decides_as_a_fresh_one_even_asked_at_a_late_stamp(
        kind in prop_oneof![bucket_kind(), fixed_kind()],
        base in base(),
        history in ops(30),
        back in step(),
        rest in tame_moves(30),
    ) {
        idle_at_a_late_stamp_is_fresh(kind, base, &history, back, &rest)?;
    }

    #[test]

    fn an_idle_sliding_window_decides_as_a_fresh_one_even_asked_at_a_late_stamp(
        kind in prop_oneof![sliding_kind(), compact_kind()],
        base in base(),
        history in ops(30),
        back in step(),
        rest in tame_moves(30),
    ) {
        idle_at_a_late_stamp_is_fresh(kind, base, &history, back, &rest)?;
    }
}

// ---------------------------------------------------------------------------
// Minimal cases of the failing properties above, as plain tests
// ---------------------------------------------------------------------------

#[test]

fn token_bucket_allows_a_late_stamped_zero_cost() {
    let l = TokenBucket::new(1, Duration::from_secs(10)).unwrap();
    let mut s = l.new_state();
    assert!(
        l.check(&mut s, Instant::from_secs(10), 1)
            .unwrap()
            .is_allowed()
    );
    let zero = l.check(&mut s, Instant::from_secs(5), 0).unwrap();
    assert!(zero.is_allowed(), "{zero:?}");
}

#[test]

fn sliding_window_holds_units_admitted_at_instant_max() {
    let l = sliding::<Inline>(1, 8);
    let mut s = l.new_state();
    assert!(l.check(&mut s, Instant::MAX, 1).unwrap().is_allowed());
    assert!(!l.check(&mut s, Instant::MAX, 1).unwrap().is_allowed());
}

#[test]

fn compact_window_holds_units_admitted_just_before_instant_max() {
    let l = compact(1, 15);
    let mut s = l.new_state();
    let before = Instant::from_nanos(u64::MAX - 1);
    assert!(l.check(&mut s, before, 1).unwrap().is_allowed());
    assert!(!l.check(&mut s, Instant::MAX, 1).unwrap().is_allowed());
}

#[test]

fn fixed_window_judges_a_late_request_in_the_latest_window() {
    let l = FixedWindow::new(1, Duration::from_secs(10)).unwrap();
    let mut s = l.new_state();
    assert!(
        l.check(&mut s, Instant::from_secs(10), 0)
            .unwrap()
            .is_allowed()
    );

    // Stamped 5 s but judged at 10 s: it takes the one unit of [10 s, 20 s).
    assert!(
        l.check(&mut s, Instant::from_secs(5), 1)
            .unwrap()
            .is_allowed()
    );
    assert!(
        !l.check(&mut s, Instant::from_secs(10), 1)
            .unwrap()
            .is_allowed()
    );
}

#[test]

fn fixed_window_retry_after_of_a_late_request_counts_from_the_latest_time() {
    let l = FixedWindow::new(1, Duration::from_secs(10)).unwrap();
    let mut s = l.new_state();
    assert!(
        l.check(&mut s, Instant::from_secs(13), 1)
            .unwrap()
            .is_allowed()
    );
    let late = l.check(&mut s, Instant::from_secs(12), 1).unwrap();
    assert_eq!(late.retry_after(), Some(Duration::from_secs(7)));
}

#[test]

fn sliding_window_is_not_idle_before_the_latest_time_it_saw() {
    let l = sliding::<Inline>(1, 6);
    let mut s = l.new_state();
    l.check(&mut s, at(2), 0).unwrap();
    let mut fresh = l.new_state();
    if l.is_idle(&s, at(1)) {
        // Dropping the state here must change nothing from t = 1 on.
        for (t, c) in [(1, 1), (7, 1)] {
            assert_eq!(
                l.check(&mut s, at(t), c),
                l.check(&mut fresh, at(t), c),
                "at {t}"
            );
        }
    }
}
