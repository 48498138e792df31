//! Snapshots: a limiter restored on another clock never admits what the
//! uninterrupted one would refuse, agrees with it exactly when nothing is
//! approximated, and any malformed or hostile snapshot is a typed error.
//!
//! Each scenario drives a limiter on clock A, snapshots it at epoch A,
//! round-trips the snapshot through JSON and restores it at epoch B, on a
//! clock with another origin, some real time later by a wall clock that may
//! under-report (or go back). The uninterrupted limiter goes on with clock A
//! at the matching times: `t_A = t_B − now_B + now_A + elapsed`.
#![cfg(all(feature = "serde", feature = "std"))]

use std::time::Duration;

use keyrate::keyed::{FixedTable, GrowableTable, TableFull};
use keyrate::limit::{
    CompactWindow, FixedWindow, HeapSlots, Limit, Policy, PolicyState, SlidingWindow, TokenBucket,
};
use keyrate::snapshot::{
    Epoch, LimitSnapshot, PolicySnapshot, Restorable, Snapshot, SnapshotError, TableSnapshot,
};
use keyrate::time::Instant;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};

/// Wall-clock time of epoch A: late 2023, in nanoseconds.
const WALL_A: u64 = 1_700_000_000_000_000_000;

fn at(t: u64) -> Instant {
    Instant::from_nanos(t)
}

fn ns(n: u64) -> Duration {
    Duration::from_nanos(n)
}

// ---------------------------------------------------------------------------
// What a scenario needs of a limiter
// ---------------------------------------------------------------------------

/// A limiter as the scenarios drive it: peek, check, and for the windows,
/// the time a unit charged now would be counted at.
trait Subject: Restorable {
    /// Whether `cost` would be allowed at `t`, and the whole decision.
    fn peek_at(&self, state: &Self::State, t: u64, cost: u32) -> (bool, String);

    /// Checks `cost` at `t`; true if allowed.
    fn check_at(&self, state: &mut Self::State, t: u64, cost: u32) -> bool;

    /// The largest cost every limit admits.
    fn cap(&self) -> u32;

    /// The latest time a window's state has seen, from which it counts a
    /// unit charged at an earlier stamp; 0 for the others.
    fn seen(&self, state: &Self::State) -> u64;
}

macro_rules! subject_for_limit {
    ($t:ty, |$s:ident| $seen:expr) => {
        impl Subject for $t {
            fn peek_at(&self, state: &Self::State, t: u64, cost: u32) -> (bool, String) {
                let d = Limit::peek(self, state, at(t), cost).expect("cost fits");
                (d.is_allowed(), format!("{d:?}"))
            }

            fn check_at(&self, state: &mut Self::State, t: u64, cost: u32) -> bool {
                let d = Limit::check(self, state, at(t), cost).expect("cost fits");
                d.is_allowed()
            }

            fn cap(&self) -> u32 {
                Limit::capacity(self)
            }

            fn seen(&self, $s: &Self::State) -> u64 {
                $seen
            }
        }
    };
}

subject_for_limit!(SlidingWindow<HeapSlots>, |s| s.latest().as_nanos());
subject_for_limit!(CompactWindow, |s| s.latest().as_nanos());
subject_for_limit!(TokenBucket, |_s| 0);
subject_for_limit!(FixedWindow, |_s| 0);

impl Subject for Policy<HeapSlots> {
    fn peek_at(&self, state: &PolicyState<HeapSlots>, t: u64, cost: u32) -> (bool, String) {
        let d = self.peek(state, at(t), cost).expect("cost fits");
        (d.is_allowed(), format!("{d:?}"))
    }

    fn check_at(&self, state: &mut PolicyState<HeapSlots>, t: u64, cost: u32) -> bool {
        let d = self.check(state, at(t), cost).expect("cost fits");
        d.is_allowed()
    }

    fn cap(&self) -> u32 {
        self.capacity()
    }

    fn seen(&self, _state: &PolicyState<HeapSlots>) -> u64 {
        0
    }
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

/// One request: a step forward in time, a step back, and a cost (taken
/// modulo the capacity plus one).
#[derive(Clone, Debug)]
struct Step {
    forward: u64,
    back: u64,
    cost: u32,
}

fn steps(max_gap: u64, len: usize) -> impl Strategy<Value = Vec<Step>> {
    let step = (
        0..=max_gap,
        prop_oneof![4 => Just(0u64), 1 => 0..=max_gap],
        0u32..16,
    );
    prop::collection::vec(step, 0..=len).prop_map(|v| {
        v.into_iter()
            .map(|(forward, back, cost)| Step {
                forward,
                back,
                cost,
            })
            .collect()
    })
}

/// A snapshot taken on clock A and restored on clock B.
#[derive(Clone, Debug)]
struct Case {
    /// Requests before the snapshot, from `start` on clock A.
    start: u64,
    history: Vec<Step>,
    /// Epoch A's reading: the latest request's time plus this (may be
    /// negative: a clock read before the latest request).
    a_offset: i64,
    /// Real time between epoch A and epoch B.
    elapsed: u64,
    /// How much less than `elapsed` the wall clock shows (more than
    /// `elapsed`: the wall clock went back).
    under: u64,
    /// Epoch B's reading of clock B.
    now_b: u64,
    /// Requests after the restore, as offsets from epoch B.
    continuation: Vec<Step>,
}

/// Any scenario: origins, delays and wall clocks arbitrary.
fn any_case(max_gap: u64) -> impl Strategy<Value = Case> {
    (
        0..1u64 << 40,
        steps(max_gap, 30),
        prop_oneof![2 => 0..=4 * max_gap as i64, 1 => -4 * max_gap as i64..0],
        prop_oneof![1 => Just(0u64), 3 => 0..=20 * max_gap, 1 => 0..1u64 << 40],
        prop_oneof![2 => Just(0u64), 1 => 0..=20 * max_gap, 1 => 0..1u64 << 41],
        prop_oneof![1 => 0..=20 * max_gap, 3 => 0..1u64 << 62],
        steps(max_gap, 30),
    )
        .prop_map(
            |(start, history, a_offset, elapsed, under, now_b, continuation)| Case {
                start,
                history,
                a_offset,
                elapsed,
                under,
                now_b,
                continuation,
            },
        )
}

/// A scenario where nothing is approximated: the wall clock right, the
/// epoch taken after the latest request, and clock B's reading `elapsed`
/// plus a multiple of `grid` past clock A's, so no time stops at the
/// origin and buckets and windows align.
fn exact_case(max_gap: u64, grid: u64) -> impl Strategy<Value = Case> {
    (any_case(max_gap), 0..1u64 << 20).prop_map(move |(mut case, multiple)| {
        case.a_offset = case.a_offset.abs();
        case.under = 0;
        let now_a = now_a(&case);
        case.now_b = now_a + case.elapsed + multiple * grid;
        case
    })
}

/// The latest request time of the history (before any step back).
fn history_end(case: &Case) -> u64 {
    case.start + case.history.iter().map(|s| s.forward).sum::<u64>()
}

/// Epoch A's reading of clock A.
fn now_a(case: &Case) -> u64 {
    history_end(case).saturating_add_signed(case.a_offset)
}

/// Request times of a list of steps from `origin`: forward, then the step
/// back, never before `floor`.
fn times(origin: u64, steps: &[Step], floor: u64) -> Vec<u64> {
    let mut t = origin;
    steps
        .iter()
        .map(|s| {
            t += s.forward;
            t.saturating_sub(s.back).max(floor)
        })
        .collect()
}

/// What a scenario observed, for the properties that look at histories.
struct Outcome {
    /// Times, on clock B's scale, from which admitted units count: before
    /// the snapshot (mapped by the real elapsed time, so possibly negative)
    /// and after the restore.
    admitted: Vec<i128>,
}

/// Whether the continuation charges costs, and what to compare.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Charge when both allow; the restored one never allows more.
    Stricter,
    /// Charge nothing (costs of 0 only move time); never allows more.
    StricterWithoutCharges,
    /// Charge when allowed; every decision is the same.
    Exact,
}

/// Runs `case` against `limiter`, checking at every step of the
/// continuation what `mode` asks.
fn run<L: Subject>(limiter: &L, case: &Case, mode: Mode) -> Result<Outcome, TestCaseError> {
    let cap = limiter.cap();
    let cost = |s: &Step| s.cost % (cap + 1);
    let elapsed = i128::from(case.elapsed);
    let now_a = now_a(case);
    let now_b = case.now_b;
    let shift = i128::from(now_b) - i128::from(now_a) - elapsed;
    let mut admitted = Vec::new();

    // History on clock A. A window counts a unit from the time it judged
    // the request at: the latest it has seen.
    let mut uninterrupted = limiter.new_state();
    for (t, step) in times(case.start, &case.history, 0)
        .into_iter()
        .zip(&case.history)
    {
        let c = cost(step);
        let seen = t.max(limiter.seen(&uninterrupted));
        if limiter.check_at(&mut uninterrupted, t, c) {
            admitted.extend(std::iter::repeat_n(i128::from(seen) + shift, c as usize));
        }
    }

    // Snapshot at epoch A, through JSON, restored at epoch B.
    let taken = limiter.snapshot(&uninterrupted, Epoch::new(at(now_a), WALL_A));
    let text = serde_json::to_string(&taken).expect("a snapshot serializes");
    let read: Snapshot<L::Snapshot> = serde_json::from_str(&text).expect("and reads back");
    let wall_b = WALL_A
        .saturating_add(case.elapsed)
        .saturating_sub(case.under);
    let mut restored = limiter
        .restore(&read, Epoch::new(at(now_b), wall_b))
        .map_err(|e| TestCaseError::fail(format!("restore failed: {e}")))?;

    // The continuation, on both clocks.
    let offsets = times(0, &case.continuation, 0);
    for (offset, step) in offsets.into_iter().zip(&case.continuation) {
        let t_b = now_b + offset;
        let seen = t_b.max(limiter.seen(&restored));
        let t_a = now_a + case.elapsed + offset;
        let c = cost(step);
        let (r_allowed, r_text) = limiter.peek_at(&restored, t_b, c);
        let (u_allowed, u_text) = limiter.peek_at(&uninterrupted, t_a, c);
        if mode == Mode::Exact {
            prop_assert_eq!(&r_text, &u_text, "at B {} / A {}, cost {}", t_b, t_a, c);
        } else {
            prop_assert!(
                !r_allowed || u_allowed,
                "restored allows what the uninterrupted refuses at B {} / A {}, cost {}:\n\
                 restored {}\nuninterrupted {}",
                t_b,
                t_a,
                c,
                r_text,
                u_text
            );
        }

        // Keep both on the same admitted history.
        let charge = if mode == Mode::StricterWithoutCharges || !(r_allowed && u_allowed) {
            0
        } else {
            c
        };
        let r = limiter.check_at(&mut restored, t_b, charge);
        let u = limiter.check_at(&mut uninterrupted, t_a, charge);
        prop_assert!(r && u, "a cost both allowed was refused");
        admitted.extend(std::iter::repeat_n(i128::from(seen), charge as usize));
    }
    Ok(Outcome { admitted })
}

/// The most units of `log` inside any window of `window` nanoseconds.
fn max_in_any_window(log: &[i128], window: u64) -> usize {
    let mut sorted = log.to_vec();
    sorted.sort_unstable();
    let mut best = 0;
    let mut end = 0;
    for (start, &s) in sorted.iter().enumerate() {
        while end < sorted.len() && sorted[end] < s + i128::from(window) {
            end += 1;
        }
        best = best.max(end - start);
    }
    best
}

// ---------------------------------------------------------------------------
// Generators of limits
// ---------------------------------------------------------------------------

fn sliding() -> impl Strategy<Value = SlidingWindow<HeapSlots>> {
    (1u32..=8, 10u64..=2_000).prop_map(|(q, w)| SlidingWindow::new(q, ns(w)).unwrap())
}

fn compact() -> impl Strategy<Value = CompactWindow> {
    (1u32..=8, 15u64..=3_000).prop_map(|(q, w)| CompactWindow::new(q, ns(w)).unwrap())
}

fn bucket() -> impl Strategy<Value = TokenBucket> {
    (1u32..=8, 1u64..=300).prop_map(|(b, p)| TokenBucket::new(b, ns(p)).unwrap())
}

fn fixed() -> impl Strategy<Value = FixedWindow> {
    (1u32..=8, 10u64..=2_000).prop_map(|(q, w)| FixedWindow::new(q, ns(w)).unwrap())
}

/// A policy of all four kinds whose compact bucket and fixed window are
/// multiples of `unit`, so that a shift by `grid(unit)` aligns both.
fn mixed_policy() -> impl Strategy<Value = (Policy<HeapSlots>, u64)> {
    (1u64..=40, 1u64..=4, 1u64..=6, 1u32..=6, 1u32..=6).prop_map(|(unit, c, f, q, b)| {
        let policy = Policy::new()
            .with("hourly", SlidingWindow::new(q + 2, ns(40 * unit)).unwrap())
            .unwrap()
            .with(
                "smooth",
                CompactWindow::new(q + 1, ns(15 * c * unit)).unwrap(),
            )
            .unwrap()
            .with("burst", TokenBucket::new(b, ns(3 * unit)).unwrap())
            .unwrap()
            .with("minute", FixedWindow::new(q, ns(f * unit)).unwrap())
            .unwrap();
        (policy, c * f * unit)
    })
}

fn sliding_and_bucket_policy() -> impl Strategy<Value = Policy<HeapSlots>> {
    (sliding(), bucket()).prop_map(|(s, b)| {
        Policy::new()
            .with("window", s)
            .unwrap()
            .with("bucket", b)
            .unwrap()
    })
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases)
    }
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn a_restored_sliding_window_never_allows_more(l in sliding(), case in any_case(300)) {
        run(&l, &case, Mode::Stricter)?;
    }

    #[test]
    fn a_restored_sliding_window_agrees_when_nothing_is_approximated(
        l in sliding(),
        case in exact_case(300, 1),
    ) {
        run(&l, &case, Mode::Exact)?;
    }

    #[test]
    fn a_restored_sliding_window_keeps_its_guarantee_across_the_restore(
        l in sliding(),
        case in any_case(300),
    ) {
        let outcome = run(&l, &case, Mode::Stricter)?;
        let most = max_in_any_window(&outcome.admitted, l.window().as_nanos() as u64);
        prop_assert!(most <= l.quota() as usize, "{} units in one window", most);
    }

    #[test]
    fn a_restored_token_bucket_never_allows_more(l in bucket(), case in any_case(300)) {
        run(&l, &case, Mode::Stricter)?;
    }

    #[test]
    fn a_restored_token_bucket_agrees_when_nothing_is_approximated(
        l in bucket(),
        case in exact_case(300, 1),
    ) {
        run(&l, &case, Mode::Exact)?;
    }

    #[test]
    fn a_restored_compact_window_counts_every_unit_at_least_as_long(
        l in compact(),
        case in any_case(300),
    ) {
        run(&l, &case, Mode::StricterWithoutCharges)?;
    }

    #[test]
    fn a_restored_compact_window_keeps_its_guarantee_across_the_restore(
        l in compact(),
        case in any_case(300),
    ) {
        // The restored window charges on its own clock's buckets, so its
        // decisions may differ; never more than the quota in any window.
        let admitted = run_charging(&l, &case)?;
        let most = max_in_any_window(&admitted, l.info().window.as_nanos() as u64);
        prop_assert!(most <= l.info().quota as usize, "{} units in one window", most);
    }

    #[test]
    fn a_restored_compact_window_agrees_when_its_buckets_align(
        (l, case) in compact().prop_flat_map(|l| {
            let bucket = l.bucket().as_nanos() as u64;
            (Just(l), exact_case(300, bucket))
        }),
    ) {
        run(&l, &case, Mode::Exact)?;
    }

    #[test]
    fn a_restored_fixed_window_counts_its_units_until_the_old_window_resets(
        l in fixed(),
        case in any_case(300),
    ) {
        run(&l, &case, Mode::StricterWithoutCharges)?;
    }

    #[test]
    fn a_restored_fixed_window_agrees_when_its_windows_align(
        (l, case) in fixed().prop_flat_map(|l| {
            let window = l.info().window.as_nanos() as u64;
            (Just(l), exact_case(300, window))
        }),
    ) {
        run(&l, &case, Mode::Exact)?;
    }

    #[test]
    fn a_restored_policy_never_allows_more(
        l in sliding_and_bucket_policy(),
        case in any_case(300),
    ) {
        run(&l, &case, Mode::Stricter)?;
    }

    #[test]
    fn a_restored_mixed_policy_never_allows_more_until_it_charges(
        (l, _) in mixed_policy(),
        case in any_case(100),
    ) {
        run(&l, &case, Mode::StricterWithoutCharges)?;
    }

    #[test]
    fn a_restored_mixed_policy_agrees_when_its_grids_align(
        ((l, _), case) in mixed_policy().prop_flat_map(|(l, grid)| {
            (Just((l, grid)), exact_case(100, grid))
        }),
    ) {
        run(&l, &case, Mode::Exact)?;
    }
}

/// Runs `case` on a compact window charging every cost the restored window
/// allows, and returns every unit admitted (before the snapshot mapped by
/// the real elapsed time), at the time the window counted it from.
fn run_charging(l: &CompactWindow, case: &Case) -> Result<Vec<i128>, TestCaseError> {
    let cap = l.capacity();
    let now_a = now_a(case);
    let shift = i128::from(case.now_b) - i128::from(now_a) - i128::from(case.elapsed);
    let mut admitted = Vec::new();

    // Units count from the time the window judged them at: the latest it
    // had seen, if later than the request's.
    let mut state = l.new_state();
    for (t, step) in times(case.start, &case.history, 0)
        .into_iter()
        .zip(&case.history)
    {
        let c = step.cost % (cap + 1);
        let judged = t.max(state.latest().as_nanos());
        if l.check(&mut state, at(t), c).unwrap().is_allowed() {
            admitted.extend(std::iter::repeat_n(i128::from(judged) + shift, c as usize));
        }
    }
    let taken = l.snapshot(&state, Epoch::new(at(now_a), WALL_A));
    let wall_b = WALL_A
        .saturating_add(case.elapsed)
        .saturating_sub(case.under);
    let mut restored = l
        .restore(&taken, Epoch::new(at(case.now_b), wall_b))
        .unwrap();
    for (offset, step) in times(0, &case.continuation, 0)
        .into_iter()
        .zip(&case.continuation)
    {
        let t = case.now_b + offset;
        let c = step.cost % (cap + 1);
        let judged = t.max(restored.latest().as_nanos());
        if l.check(&mut restored, at(t), c).unwrap().is_allowed() {
            admitted.extend(std::iter::repeat_n(i128::from(judged), c as usize));
        }
    }
    Ok(admitted)
}

// ---------------------------------------------------------------------------
// Scenarios written out
// ---------------------------------------------------------------------------

#[test]
fn a_bucket_restored_after_the_wall_clock_went_back_assumes_no_time_passed() {
    let b = TokenBucket::new(1, Duration::from_secs(10)).unwrap();
    let mut s = b.new_state();
    assert!(
        b.check(&mut s, Instant::from_secs(50), 1)
            .unwrap()
            .is_allowed()
    );
    let taken = b.snapshot(&s, Epoch::new(Instant::from_secs(50), WALL_A));

    // The wall clock reads an hour earlier: the bucket is as it was.
    let epoch = Epoch::new(Instant::from_secs(7), WALL_A - 3_600_000_000_000);
    let mut r = b.restore(&taken, epoch).unwrap();
    let d = b.check(&mut r, Instant::from_secs(7), 1).unwrap();
    assert_eq!(d.retry_after(), Some(Duration::from_secs(10)));
}

#[test]
fn times_before_the_new_origin_stop_there_and_count_longer() {
    let w = SlidingWindow::<HeapSlots>::new(1, Duration::from_secs(60)).unwrap();
    let mut s = w.new_state();
    w.check(&mut s, Instant::from_secs(1_000), 1).unwrap();
    let taken = w.snapshot(&s, Epoch::new(Instant::from_secs(1_030), WALL_A));

    // 30 s old at the snapshot, restored 10 s later on a clock reading 5 s:
    // admitted "35 s before the origin", kept at the origin instead.
    let epoch = Epoch::new(Instant::from_secs(5), WALL_A + 10_000_000_000);
    let mut r = w.restore(&taken, epoch).unwrap();
    let d = w.check(&mut r, Instant::from_secs(5), 1).unwrap();
    assert_eq!(d.retry_after(), Some(Duration::from_secs(55)));
}

#[test]
fn an_epoch_read_before_the_latest_request_moves_the_snapshot_moment() {
    let w = SlidingWindow::<HeapSlots>::new(1, Duration::from_secs(60)).unwrap();
    let mut s = w.new_state();
    w.check(&mut s, Instant::from_secs(100), 1).unwrap();
    let taken = w.snapshot(&s, Epoch::new(Instant::from_secs(90), WALL_A));
    assert_eq!(taken.taken_at(), WALL_A);
    assert_eq!(taken.lead(), Duration::from_secs(10));
    let LimitSnapshot::Sliding(inner) = taken.state() else {
        panic!("a sliding window's snapshot is of the sliding kind");
    };
    assert_eq!(inner.latest_age(), Duration::ZERO);
}

#[test]
fn an_idle_state_round_trips_to_an_idle_state() {
    let c = CompactWindow::new(5, Duration::from_secs(15)).unwrap();
    let s = c.new_state();
    let taken = c.snapshot(&s, Epoch::new(Instant::from_secs(1), WALL_A));
    let r = c
        .restore(&taken, Epoch::new(Instant::from_secs(9), WALL_A))
        .unwrap();
    assert!(c.is_idle(&r, Instant::from_secs(9)));
}

#[cfg(feature = "std")]
#[test]
fn an_epoch_captured_from_the_system_reads_a_plausible_wall_clock() {
    let clock = keyrate::time::ManualClock::new(Instant::from_secs(3));
    let epoch = Epoch::capture(&clock);
    assert_eq!(epoch.now(), Instant::from_secs(3));
    assert!(epoch.wall_nanos() > WALL_A, "after late 2023");
}

// ---------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------

type Bucket8 = FixedTable<u64, TokenBucket, 8>;

fn ten_seconds() -> TokenBucket {
    TokenBucket::new(2, Duration::from_secs(10)).unwrap()
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn a_fixed_table_restores_every_live_key_exactly(
        requests in prop::collection::vec((0u64..6, 0u64..4_000, 0u32..3), 0..40),
        elapsed in 0u64..50_000,
        extra in 0u64..1 << 40,
        later in prop::collection::vec((0u64..6, 0u64..4_000, 0u32..3), 0..40),
    ) {
        let rules = SlidingWindow::<HeapSlots>::new(3, ns(5_000)).unwrap();
        let mut table: FixedTable<u64, _, 8> = FixedTable::new(rules);
        let mut t = 0;
        for &(key, gap, cost) in &requests {
            t += gap;
            let _ = table.check(&key, at(t), cost);
        }
        let text = serde_json::to_string(&table.snapshot(Epoch::new(at(t), WALL_A))).unwrap();
        let read: TableSnapshot<u64, LimitSnapshot<HeapSlots>> =
            serde_json::from_str(&text).unwrap();
        let now_b = t + elapsed + extra;
        let mut restored: FixedTable<u64, _, 8> = FixedTable::new(rules);
        restored.restore(&read, Epoch::new(at(now_b), WALL_A + elapsed)).unwrap();

        let (mut t_a, mut t_b) = (t + elapsed, now_b);
        for &(key, gap, cost) in &later {
            t_a += gap;
            t_b += gap;
            let u = table.check(&key, at(t_a), cost);
            let r = restored.check(&key, at(t_b), cost);
            prop_assert_eq!(format!("{u:?}"), format!("{r:?}"));
        }
    }
}

#[test]
fn a_growable_table_restores_its_keys_and_latest_time() {
    let mut table = GrowableTable::new(ten_seconds());
    table
        .check(&"alice".to_string(), Instant::from_secs(100), 2)
        .unwrap();
    table
        .check(&"bob".to_string(), Instant::from_secs(101), 1)
        .unwrap();
    table
        .check(&"carol".to_string(), Instant::from_secs(80), 1)
        .unwrap();
    let view = table.snapshot(Epoch::new(Instant::from_secs(105), WALL_A));
    assert_eq!(view.len(), 3);
    let text = serde_json::to_string(&view).unwrap();

    let read: TableSnapshot<String, LimitSnapshot> = serde_json::from_str(&text).unwrap();
    // Five seconds later on a clock reading 10 s: 105 s on clock A is 5 s
    // on clock B, and the table's latest time, 101 s, is 1 s.
    let mut r = GrowableTable::new(ten_seconds());
    r.restore(
        &read,
        Epoch::new(Instant::from_secs(10), WALL_A + 5_000_000_000),
    )
    .unwrap();
    assert_eq!(r.len(), 3);
    assert_eq!(r.latest(), Instant::from_secs(1));

    // Alice spent both units at 100 s: one is back at 110 s, 10 s on B.
    let alice = "alice".to_string();
    assert!(
        !r.check(&alice, Instant::from_secs(9), 1)
            .unwrap()
            .is_allowed()
    );
    assert!(
        r.check(&alice, Instant::from_secs(10), 1)
            .unwrap()
            .is_allowed()
    );
}

#[test]
fn a_table_snapshot_leaves_out_idle_keys() {
    let mut table: Bucket8 = FixedTable::new(ten_seconds());
    table.check(&1, Instant::from_secs(0), 1).unwrap();
    table.check(&2, Instant::from_secs(30), 1).unwrap();
    let view = table.snapshot(Epoch::new(Instant::from_secs(30), WALL_A));
    assert_eq!(view.len(), 1);
    let text = serde_json::to_string(&view).unwrap();
    let read: TableSnapshot<u64, LimitSnapshot> = serde_json::from_str(&text).unwrap();
    assert_eq!(read.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [2]);
}

/// A table snapshot of `keys` live token buckets, as JSON.
fn table_text(keys: u64) -> String {
    let mut table = GrowableTable::new(ten_seconds());
    for k in 0..keys {
        table.check(&k, Instant::from_secs(1), 1).unwrap();
    }
    serde_json::to_string(&table.snapshot(Epoch::new(Instant::from_secs(1), WALL_A))).unwrap()
}

#[test]
fn a_snapshot_larger_than_the_table_is_refused_and_leaves_it_empty() {
    let read: TableSnapshot<u64, LimitSnapshot> = serde_json::from_str(&table_text(8)).unwrap();
    let mut fixed: Bucket8 = FixedTable::new(ten_seconds());
    let e = fixed.restore(&read, Epoch::new(Instant::ZERO, WALL_A));
    assert_eq!(e, Err(SnapshotError::TableFull(TableFull { capacity: 7 })));
    assert!(fixed.is_empty());
    assert_eq!(fixed.latest(), Instant::ZERO);

    let mut growable = GrowableTable::new(ten_seconds()).with_max_len(5);
    let e = growable.restore(&read, Epoch::new(Instant::ZERO, WALL_A));
    assert_eq!(e, Err(SnapshotError::TableFull(TableFull { capacity: 5 })));
    assert!(growable.is_empty());
}

#[test]
fn a_table_that_holds_keys_is_not_restored_into() {
    let read: TableSnapshot<u64, LimitSnapshot> = serde_json::from_str(&table_text(2)).unwrap();
    let mut fixed: Bucket8 = FixedTable::new(ten_seconds());
    fixed.check(&99, Instant::ZERO, 1).unwrap();
    let e = fixed.restore(&read, Epoch::new(Instant::ZERO, WALL_A));
    assert_eq!(e, Err(SnapshotError::TableNotEmpty));
    assert_eq!(fixed.len(), 1);
}

#[test]
fn a_key_listed_twice_is_refused_and_nothing_is_kept() {
    let state = json!({"bucket": {"burst": 2, "period": 10_000_000_000u64, "tat_ahead": 0}});
    let text = json!({
        "taken_at": WALL_A,
        "lead": 0,
        "latest_age": 0,
        "entries": [[1, state], [2, state], [1, state]],
    })
    .to_string();
    let read: TableSnapshot<u64, LimitSnapshot> = serde_json::from_str(&text).unwrap();
    let mut fixed: Bucket8 = FixedTable::new(ten_seconds());
    let e = fixed.restore(&read, Epoch::new(Instant::ZERO, WALL_A));
    assert_eq!(e, Err(SnapshotError::DuplicateKey));
    assert!(fixed.is_empty());
    let mut growable = GrowableTable::new(ten_seconds());
    let e = growable.restore(&read, Epoch::new(Instant::ZERO, WALL_A));
    assert_eq!(e, Err(SnapshotError::DuplicateKey));
    assert!(growable.is_empty());
}

#[test]
fn a_bad_state_in_a_table_snapshot_leaves_the_table_empty() {
    let good = json!({"bucket": {"burst": 2, "period": 10_000_000_000u64, "tat_ahead": 0}});
    let bad = json!({"bucket": {"burst": 3, "period": 10_000_000_000u64, "tat_ahead": 0}});
    let text = json!({
        "taken_at": WALL_A,
        "lead": 0,
        "latest_age": 0,
        "entries": [[1, good], [2, bad]],
    })
    .to_string();
    let read: TableSnapshot<u64, LimitSnapshot> = serde_json::from_str(&text).unwrap();
    let mut fixed: Bucket8 = FixedTable::new(ten_seconds());
    let e = fixed.restore(&read, Epoch::new(Instant::ZERO, WALL_A));
    assert_eq!(e, Err(SnapshotError::LimitMismatch));
    assert!(fixed.is_empty());
}

#[test]
fn a_table_snapshot_shows_no_key_in_debug() {
    let read: TableSnapshot<u64, LimitSnapshot> = serde_json::from_str(&table_text(1)).unwrap();
    let shown = format!("{read:?}");
    assert!(shown.contains("len: 1"), "{shown}");
    assert!(!shown.contains("entries"), "{shown}");
}

// ---------------------------------------------------------------------------
// Malformed and hostile snapshots
// ---------------------------------------------------------------------------

fn restore_json<L: Restorable>(limiter: &L, value: Value) -> Result<(), SnapshotError> {
    let snapshot: Snapshot<L::Snapshot> =
        serde_json::from_value(value).expect("well-formed JSON of the right shape");
    limiter
        .restore(&snapshot, Epoch::new(Instant::from_secs(1), WALL_A))
        .map(|_| ())
}

fn sliding_json(units: Value, latest_age: u64) -> Value {
    json!({"taken_at": WALL_A, "lead": 0, "state": {"sliding": {
        "quota": 3, "window": 1_000, "latest_age": latest_age, "units": units,
    }}})
}

fn three_per_microsecond() -> SlidingWindow<HeapSlots> {
    SlidingWindow::new(3, ns(1_000)).unwrap()
}

#[test]
fn a_truncated_snapshot_is_a_format_error_at_every_length() {
    let w = three_per_microsecond();
    let mut s = w.new_state();
    w.check(&mut s, Instant::from_nanos(500), 2).unwrap();
    let text =
        serde_json::to_string(&w.snapshot(&s, Epoch::new(Instant::from_nanos(600), 1))).unwrap();
    for end in 0..text.len() {
        let cut = &text[..end];
        let read = serde_json::from_str::<Snapshot<LimitSnapshot<HeapSlots>>>(cut);
        assert!(read.is_err(), "{cut} read as a snapshot");
    }
    assert!(serde_json::from_str::<Snapshot<LimitSnapshot<HeapSlots>>>(&text).is_ok());
}

#[test]
fn a_snapshot_of_another_kind_is_refused() {
    let b = ten_seconds();
    let taken = b.snapshot(&b.new_state(), Epoch::new(Instant::ZERO, WALL_A));
    let value = serde_json::to_value(&taken).unwrap();
    let fixed = FixedWindow::new(2, Duration::from_secs(10)).unwrap();
    assert_eq!(
        restore_json(&fixed, value.clone()),
        Err(SnapshotError::KindMismatch)
    );
    let compact = CompactWindow::new(2, Duration::from_secs(15)).unwrap();
    assert_eq!(
        restore_json(&compact, value.clone()),
        Err(SnapshotError::KindMismatch)
    );
    let w = three_per_microsecond();
    assert_eq!(restore_json(&w, value), Err(SnapshotError::KindMismatch));
}

#[test]
fn a_snapshot_of_another_quota_or_window_is_refused() {
    let other = SlidingWindow::<HeapSlots>::new(3, ns(999)).unwrap();
    assert_eq!(
        restore_json(&other, sliding_json(json!([]), 0)),
        Err(SnapshotError::LimitMismatch)
    );
    let other = SlidingWindow::<HeapSlots>::new(4, ns(1_000)).unwrap();
    assert_eq!(
        restore_json(&other, sliding_json(json!([]), 0)),
        Err(SnapshotError::LimitMismatch)
    );
}

#[test]
fn a_sliding_snapshot_holding_more_than_its_quota_is_refused() {
    let e = restore_json(
        &three_per_microsecond(),
        sliding_json(json!([9, 8, 7, 6]), 0),
    );
    assert_eq!(e, Err(SnapshotError::AboveQuota { held: 4, quota: 3 }));
}

#[test]
fn sliding_units_out_of_order_are_refused() {
    let e = restore_json(&three_per_microsecond(), sliding_json(json!([5, 9]), 0));
    assert_eq!(e, Err(SnapshotError::OutOfOrder));
}

#[test]
fn a_unit_older_than_the_window_is_refused() {
    let e = restore_json(&three_per_microsecond(), sliding_json(json!([1_000]), 0));
    assert_eq!(e, Err(SnapshotError::OutOfRange));
    let e = restore_json(&three_per_microsecond(), sliding_json(json!([u64::MAX]), 0));
    assert_eq!(e, Err(SnapshotError::OutOfRange));
}

#[test]
fn a_latest_age_of_u64_max_restores_at_the_origin_and_still_counts() {
    let w = three_per_microsecond();
    let read: Snapshot<LimitSnapshot<HeapSlots>> =
        serde_json::from_value(sliding_json(json!([999, 0]), u64::MAX)).unwrap();
    let mut s = w
        .restore(&read, Epoch::new(Instant::from_secs(1), WALL_A))
        .unwrap();
    assert_eq!(s.latest(), Instant::ZERO);
    assert_eq!(s.len(), 2);
    assert!(w.check(&mut s, Instant::ZERO, 1).unwrap().is_allowed());
    assert!(!w.check(&mut s, Instant::ZERO, 1).unwrap().is_allowed());
}

#[test]
fn a_theoretical_arrival_time_beyond_the_bucket_depth_is_refused() {
    let b = ten_seconds();
    let bucket = |ahead: u64| {
        json!({"taken_at": 0, "lead": 0, "state": {"bucket": {
            "burst": 2, "period": 10_000_000_000u64, "tat_ahead": ahead,
        }}})
    };
    assert_eq!(restore_json(&b, bucket(20_000_000_000)), Ok(()));
    assert_eq!(
        restore_json(&b, bucket(20_000_000_001)),
        Err(SnapshotError::OutOfRange)
    );
    assert_eq!(
        restore_json(&b, bucket(u64::MAX)),
        Err(SnapshotError::OutOfRange)
    );
}

#[test]
fn compact_counts_above_the_quota_or_outside_the_window_are_refused() {
    let c = CompactWindow::new(4, ns(150)).unwrap();
    let compact = |counts: [u32; 16], bucket_left: u64| {
        json!({"taken_at": 0, "lead": 0, "state": {"compact": {
            "quota": 4, "window": 150, "latest_age": 0,
            "bucket_left": bucket_left, "counts": counts,
        }}})
    };
    let mut counts = [0; 16];
    counts[0] = 2;
    counts[14] = 2;
    assert_eq!(restore_json(&c, compact(counts, 0)), Ok(()));
    counts[1] = 1;
    let e = restore_json(&c, compact(counts, 0));
    assert_eq!(e, Err(SnapshotError::AboveQuota { held: 5, quota: 4 }));
    let mut counts = [0; 16];
    counts[15] = 1;
    assert_eq!(
        restore_json(&c, compact(counts, 0)),
        Err(SnapshotError::OutOfRange)
    );
    let mut counts = [0; 16];
    counts[0] = u32::MAX;
    let e = restore_json(&c, compact(counts, 0));
    assert!(matches!(e, Err(SnapshotError::AboveQuota { .. })));
    assert_eq!(
        restore_json(&c, compact([0; 16], 10)),
        Err(SnapshotError::OutOfRange)
    );
    assert_eq!(
        restore_json(&c, compact([0; 16], u64::MAX)),
        Err(SnapshotError::OutOfRange)
    );
}

#[test]
fn a_fixed_count_above_the_quota_is_refused() {
    let f = FixedWindow::new(2, ns(100)).unwrap();
    let fixed = |count: u32, left: u64| {
        json!({"taken_at": 0, "lead": 0, "state": {"fixed": {
            "quota": 2, "window": 100, "latest_age": 0, "window_left": left, "count": count,
        }}})
    };
    assert_eq!(restore_json(&f, fixed(2, 99)), Ok(()));
    let e = restore_json(&f, fixed(3, 0));
    assert_eq!(e, Err(SnapshotError::AboveQuota { held: 3, quota: 2 }));
    assert_eq!(
        restore_json(&f, fixed(1, 100)),
        Err(SnapshotError::OutOfRange)
    );
}

#[test]
fn a_policy_snapshot_with_other_names_or_another_count_is_refused() {
    let policy: Policy<HeapSlots> = Policy::new()
        .with("a", ten_seconds())
        .unwrap()
        .with("b", ten_seconds())
        .unwrap();
    let state = json!({"bucket": {"burst": 2, "period": 10_000_000_000u64, "tat_ahead": 0}});
    let snapshot = |limits: Value| json!({"taken_at": 0, "lead": 0, "state": {"limits": limits}});
    let good = snapshot(json!([{"name": "a", "state": state}, {"name": "b", "state": state}]));
    assert_eq!(restore_json(&policy, good), Ok(()));
    let swapped = snapshot(json!([{"name": "b", "state": state}, {"name": "a", "state": state}]));
    assert_eq!(
        restore_json(&policy, swapped),
        Err(SnapshotError::PolicyMismatch)
    );
    let short = snapshot(json!([{"name": "a", "state": state}]));
    assert_eq!(
        restore_json(&policy, short),
        Err(SnapshotError::PolicyMismatch)
    );

    // More limits than a policy can hold fail to read at all.
    let five = snapshot(json!([
        {"name": "a", "state": state}, {"name": "b", "state": state},
        {"name": "c", "state": state}, {"name": "d", "state": state},
        {"name": "e", "state": state},
    ]));
    assert!(serde_json::from_value::<Snapshot<PolicySnapshot<HeapSlots>>>(five).is_err());
}

#[test]
fn a_policy_snapshot_of_a_foreign_state_restores_into_nothing() {
    let one: Policy<HeapSlots> = Policy::new().with("a", ten_seconds()).unwrap();
    let two: Policy<HeapSlots> = Policy::new()
        .with("a", ten_seconds())
        .unwrap()
        .with("b", ten_seconds())
        .unwrap();
    let foreign = one.new_state();
    let taken = two.snapshot(&foreign, Epoch::new(Instant::ZERO, WALL_A));
    assert!(taken.state().is_empty());
    let e = two.restore(&taken, Epoch::new(Instant::ZERO, WALL_A));
    assert_eq!(e.err(), Some(SnapshotError::PolicyMismatch));
}

#[test]
fn more_units_than_inline_storage_holds_fail_to_read() {
    let text = sliding_json(json!([9, 8, 7, 6, 5, 4, 3, 2, 1]), 0).to_string();
    let read = serde_json::from_str::<Snapshot<LimitSnapshot<[u64; 8]>>>(&text);
    assert!(read.is_err());
    let text = sliding_json(json!([9]), 0).to_string();
    assert!(serde_json::from_str::<Snapshot<LimitSnapshot<[u64; 0]>>>(&text).is_err());
}

#[test]
fn unknown_fields_are_refused() {
    let mut value = sliding_json(json!([]), 0);
    value["state"]["sliding"]["extra"] = json!(1);
    assert!(serde_json::from_value::<Snapshot<LimitSnapshot<HeapSlots>>>(value).is_err());
}

/// A JSON-like tree whose sequences can claim any length, for formats
/// that announce lengths up front.
mod lying {
    use serde::de::value::{Error, MapDeserializer, SeqDeserializer};
    use serde::de::{self, IntoDeserializer, Visitor};
    use serde::forward_to_deserialize_any;

    #[derive(Clone, Debug)]
    pub enum Node {
        U64(u64),
        Map(Vec<(&'static str, Node)>),
        /// A sequence of these nodes, announced as its own length.
        Tuple(Vec<Node>),
        /// `count` copies of `item`, announced as `claimed` elements.
        Seq {
            item: Box<Node>,
            count: usize,
            claimed: usize,
        },
    }

    struct SeqAccess {
        item: Node,
        left: usize,
        claimed: usize,
    }

    impl<'de> de::SeqAccess<'de> for SeqAccess {
        type Error = Error;

        fn next_element_seed<T: de::DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<Option<T::Value>, Error> {
            if self.left == 0 {
                return Ok(None);
            }
            self.left -= 1;
            seed.deserialize(self.item.clone()).map(Some)
        }

        fn size_hint(&self) -> Option<usize> {
            Some(self.claimed)
        }
    }

    impl<'de> IntoDeserializer<'de, Error> for Node {
        type Deserializer = Node;

        fn into_deserializer(self) -> Node {
            self
        }
    }

    impl<'de> de::Deserializer<'de> for Node {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self {
                Node::U64(v) => visitor.visit_u64(v),
                Node::Map(entries) => visitor.visit_map(MapDeserializer::new(entries.into_iter())),
                Node::Tuple(items) => visitor.visit_seq(SeqDeserializer::new(items.into_iter())),
                Node::Seq {
                    item,
                    count,
                    claimed,
                } => visitor.visit_seq(SeqAccess {
                    item: *item,
                    left: count,
                    claimed,
                }),
            }
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            _variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Error> {
            match self {
                Node::Map(entries) => {
                    let map = MapDeserializer::new(entries.into_iter());
                    visitor.visit_enum(de::value::MapAccessDeserializer::new(map))
                }
                other => other.deserialize_any(visitor),
            }
        }

        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map struct identifier ignored_any
        }
    }
}

use lying::Node;

fn lying_sliding(count: usize) -> Node {
    let units = Node::Seq {
        item: Box::new(Node::U64(0)),
        count,
        claimed: 1_000_000_000_000,
    };
    Node::Map(vec![
        ("taken_at", Node::U64(0)),
        ("lead", Node::U64(0)),
        (
            "state",
            Node::Map(vec![(
                "sliding",
                Node::Map(vec![
                    ("quota", Node::U64(3)),
                    ("window", Node::U64(1_000)),
                    ("latest_age", Node::U64(0)),
                    ("units", units),
                ]),
            )]),
        ),
    ])
}

#[test]
fn a_list_claiming_a_trillion_units_allocates_only_what_it_holds() {
    use serde::Deserialize;

    let read = Snapshot::<LimitSnapshot<HeapSlots>>::deserialize(lying_sliding(3)).unwrap();
    let LimitSnapshot::Sliding(s) = read.state() else {
        panic!("read as the sliding kind");
    };
    assert_eq!(s.units(), [0, 0, 0]);

    // Past what the storage can hold, reading stops with an error.
    let read = Snapshot::<LimitSnapshot<[u64; 8]>>::deserialize(lying_sliding(9));
    assert!(read.is_err());
}

#[test]
fn a_table_claiming_a_trillion_entries_allocates_only_what_it_holds() {
    use serde::Deserialize;

    let state = Node::Map(vec![(
        "bucket",
        Node::Map(vec![
            ("burst", Node::U64(2)),
            ("period", Node::U64(10_000_000_000)),
            ("tat_ahead", Node::U64(0)),
        ]),
    )]);
    let entries = Node::Seq {
        item: Box::new(Node::Tuple(vec![Node::U64(7), state])),
        count: 1,
        claimed: 1_000_000_000_000,
    };
    let table = Node::Map(vec![
        ("taken_at", Node::U64(0)),
        ("lead", Node::U64(0)),
        ("latest_age", Node::U64(0)),
        ("entries", entries),
    ]);

    let read = TableSnapshot::<u64, LimitSnapshot>::deserialize(table).unwrap();
    assert_eq!(read.len(), 1);
    let mut restored: Bucket8 = FixedTable::new(ten_seconds());
    restored
        .restore(&read, Epoch::new(Instant::ZERO, 0))
        .unwrap();
    assert!(restored.get(&7).is_some());
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_field_values_restore_or_fail_typed_and_then_check_without_panic(
        quota in prop_oneof![Just(3u64), any::<u64>()],
        window in prop_oneof![Just(1_000u64), any::<u64>()],
        latest_age in any::<u64>(),
        offset in any::<u64>(),
        count in prop_oneof![Just(1u64), any::<u64>()],
        units in prop::collection::vec(any::<u64>(), 0..5),
        counts in prop::array::uniform16(prop_oneof![Just(0u32), Just(1), any::<u32>()]),
        taken_at in any::<u64>(),
        lead in prop_oneof![Just(0u64), any::<u64>()],
        now in any::<u64>(),
        wall in any::<u64>(),
    ) {
        let epoch = Epoch::new(at(now), wall);
        let probes = [0, now, now.saturating_add(1), u64::MAX];

        let sliding = json!({"taken_at": taken_at, "lead": lead, "state": {"sliding": {
            "quota": quota, "window": window, "latest_age": latest_age, "units": units,
        }}});
        restore_and_probe(&three_per_microsecond(), sliding, epoch, &probes);

        let compact = json!({"taken_at": taken_at, "lead": lead, "state": {"compact": {
            "quota": quota, "window": window, "latest_age": latest_age,
            "bucket_left": offset, "counts": counts,
        }}});
        let c = CompactWindow::new(3, ns(1_000)).unwrap();
        restore_and_probe(&c, compact, epoch, &probes);

        let fixed = json!({"taken_at": taken_at, "lead": lead, "state": {"fixed": {
            "quota": quota, "window": window, "latest_age": latest_age,
            "window_left": offset, "count": count,
        }}});
        let f = FixedWindow::new(3, ns(1_000)).unwrap();
        restore_and_probe(&f, fixed, epoch, &probes);

        let bucket = json!({"taken_at": taken_at, "lead": lead, "state": {"bucket": {
            "burst": quota, "period": window, "tat_ahead": offset,
        }}});
        let b = TokenBucket::new(3, ns(1_000)).unwrap();
        restore_and_probe(&b, bucket, epoch, &probes);
    }
}

/// Reads `value` as a snapshot for `limiter`, restores it at `epoch` and,
/// if that succeeds, checks a request at each of `probes`. Nothing may
/// panic; failures are typed (a format error or a [`SnapshotError`]).
fn restore_and_probe<L: Subject>(limiter: &L, value: Value, epoch: Epoch, probes: &[u64]) {
    let Ok(read) = serde_json::from_value::<Snapshot<L::Snapshot>>(value) else {
        return;
    };
    let Ok(mut state) = limiter.restore(&read, epoch) else {
        return;
    };
    for &t in probes {
        limiter.check_at(&mut state, t, 1);
    }
}

#[test]
fn snapshots_round_trip_through_toml_too() {
    let policy: Policy<HeapSlots> = Policy::new()
        .with(
            "hourly",
            SlidingWindow::new(5, Duration::from_secs(3600)).unwrap(),
        )
        .unwrap()
        .with(
            "smooth",
            CompactWindow::new(4, Duration::from_secs(60)).unwrap(),
        )
        .unwrap()
        .with("burst", ten_seconds())
        .unwrap()
        .with(
            "minute",
            FixedWindow::new(3, Duration::from_secs(60)).unwrap(),
        )
        .unwrap();
    let mut state = policy.new_state();
    policy.check(&mut state, Instant::from_secs(9), 2).unwrap();
    let taken = policy.snapshot(&state, Epoch::new(Instant::from_secs(10), WALL_A));
    let text = toml::to_string(&taken).unwrap();
    let read: Snapshot<PolicySnapshot<HeapSlots>> = toml::from_str(&text).unwrap();
    assert_eq!(read, taken);

    let mut table = GrowableTable::new(ten_seconds());
    table.check(&7u64, Instant::from_secs(9), 2).unwrap();
    let text =
        toml::to_string(&table.snapshot(Epoch::new(Instant::from_secs(10), WALL_A))).unwrap();
    let read: TableSnapshot<u64, LimitSnapshot> = toml::from_str(&text).unwrap();
    assert_eq!(read.len(), 1);
}
