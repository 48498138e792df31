//! Benchmarks of every limit kind's `check`, of the confirmed two-window
//! policy, and of keyrate's token bucket beside governor's.
//!
//! Every benchmark replays the same traffic: one request of cost 1 every
//! [`STEP`] (6 s), twice the sustained rate of 300 per hour. After the first
//! burst about half the checks are admitted and half denied, and the windows
//! roll over all the time. Before timing, each benchmark replays that
//! traffic once and asserts the mix, so a change that made every check take
//! the same path would stop the run instead of flattering the figures.
//!
//! Each sample starts from a fresh state and a clock at zero (created outside
//! the timed loop), so the clock stays far from the end of its range however
//! many iterations criterion asks for.
//!
//! # `vs_governor`
//!
//! `keyrate` is [`TokenBucket::per_window`]`(300, 1 h, 60)` and `governor` is
//! governor's direct `RateLimiter` with `Quota::per_hour(300)` and a burst of
//! 60 (one cell every 12 s): the same GCRA with the same parameters, and the
//! setup asserts that both make the same decision at every step.
//! `keyrate_policy` is the confirmed preset (two exact sliding windows).
//!
//! Each iteration of all three advances an atomic fake clock once, reads it
//! once (governor reads its clock inside `check`), checks once and passes the
//! decision through `black_box`. The limits themselves go through
//! `black_box` once per sample, so no quota is folded into the code.
//!
//! governor's `check` is generic, so it is compiled into this binary, where
//! the optimizer may or may not inline its state update; keyrate's token
//! bucket is not generic, so its `check` is called out of line unless keyrate
//! marks it `#[inline]` or the build uses LTO. Both are what a service built
//! with the default release profile gets.
//!
//! `keyrate_given_now` and `keyrate_policy_given_now` replay the same
//! instants as keyrate is meant to be called: `now` is a value the caller
//! already holds (a request's timestamp), computed here as `i × STEP`, with
//! no clock read. governor has no such form: its `check` reads its clock.
//!
//! # `clock_only`
//!
//! The same loops with no check: the cost of the clocks alone, to subtract
//! from the figures above.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use governor::clock::{Clock as GovernorClock, FakeRelativeClock};
use governor::{Quota, RateLimiter};
use keyrate::limit::{
    CompactWindow, FixedWindow, HeapSlots, Limit, Policy, SlidingWindow, TokenBucket,
};
use keyrate::preset;
use keyrate::time::{Clock, Instant, ManualClock};

/// Time between two requests: twice the sustained rate of 300 per hour.
const STEP: Duration = Duration::from_secs(6);

/// The quota of every single-limit benchmark.
const QUOTA: u32 = 300;

/// The window of every single-limit benchmark.
const HOUR: Duration = Duration::from_secs(3600);

/// The token bucket's burst.
const BURST: u32 = 60;

/// Requests replayed to check the admitted share before timing: 10⁴ steps,
/// about 17 hours of traffic.
const MIX_STEPS: u64 = 10_000;

/// Where a run's decisions go: nowhere when it is timed; into a vector
/// when the mix is checked before timing.
type Record<'a> = Option<&'a mut Vec<bool>>;

/// Runs `iters` requests one [`STEP`] apart on a fresh manual clock: each
/// advances the clock, reads it, checks, and passes the decision through
/// `black_box`; with `record`, it also notes whether each was admitted.
///
/// The mix check and the timing run the same instance of this loop, so the
/// code timed is the code checked, and each limit's `check` has one call
/// site in this binary: the compiler's inlining choice is then the one a
/// service calling it from one place would get, on both sides of
/// `vs_governor`.
fn drive<R>(
    iters: u64,
    mut record: Record<'_>,
    mut check: impl FnMut(Instant) -> R,
    admitted: impl Fn(&R) -> bool,
) -> Duration {
    let clock = ManualClock::new(Instant::ZERO);
    let start = std::time::Instant::now();
    for _ in 0..iters {
        clock.advance(STEP);
        let decision = check(clock.now());
        if let Some(r) = record.as_deref_mut() {
            r.push(admitted(&decision));
        }
        black_box(decision);
    }
    start.elapsed()
}

/// [`drive`] on a fresh state of `limit`.
fn run_limit<L: Limit>(limit: &L, iters: u64, record: Record<'_>) -> Duration {
    let limit = black_box(limit);
    let mut state = limit.new_state();
    drive(
        iters,
        record,
        |now| limit.check(&mut state, now, 1),
        |d| matches!(d, Ok(d) if d.is_allowed()),
    )
}

/// [`drive`] on a fresh state of `policy`.
fn run_policy(policy: &Policy<HeapSlots>, iters: u64, record: Record<'_>) -> Duration {
    let policy = black_box(policy);
    let mut state = policy.new_state();
    drive(
        iters,
        record,
        |now| policy.check(&mut state, now, 1),
        |d| matches!(d, Ok(d) if d.is_allowed()),
    )
}

/// The same loop as [`drive`] on a fresh governor limiter, whose `check`
/// reads governor's fake clock itself.
fn run_governor(quota: Quota, iters: u64, mut record: Record<'_>) -> Duration {
    let clock = FakeRelativeClock::default();
    let limiter = black_box(RateLimiter::direct_with_clock(quota, clock.clone()));
    let start = std::time::Instant::now();
    for _ in 0..iters {
        clock.advance(STEP);
        let decision = limiter.check();
        if let Some(r) = record.as_deref_mut() {
            r.push(decision.is_ok());
        }
        let _ = black_box(decision);
    }
    start.elapsed()
}

/// The decisions `run` makes over [`MIX_STEPS`] requests: `true` where
/// admitted.
fn replay(run: impl FnOnce(u64, Record<'_>) -> Duration) -> Vec<bool> {
    let mut decisions = Vec::new();
    run(MIX_STEPS, Some(&mut decisions));
    decisions
}

/// Asserts that the traffic took both paths, about half of it admitted.
fn assert_mix(name: &str, decisions: &[bool]) {
    let admitted = decisions.iter().filter(|&&a| a).count();
    let share = admitted as f64 / decisions.len() as f64;
    assert!(
        (0.4..=0.6).contains(&share),
        "{name}: {admitted} of {} admitted; the traffic no longer mixes admissions and denials",
        decisions.len()
    );
}

/// The token bucket both sides of `vs_governor` configure.
fn keyrate_bucket() -> TokenBucket {
    TokenBucket::per_window(QUOTA, HOUR, BURST).expect("300 per hour, burst 60")
}

/// governor's quota for the same bucket: a cell every 12 s, burst 60.
fn governor_quota() -> Quota {
    const QUOTA_NZ: NonZeroU32 = NonZeroU32::new(QUOTA).unwrap();
    const BURST_NZ: NonZeroU32 = NonZeroU32::new(BURST).unwrap();
    Quota::per_hour(QUOTA_NZ).allow_burst(BURST_NZ)
}

/// The confirmed preset with heap-backed windows.
fn confirmed_policy() -> Policy<HeapSlots> {
    preset::confirmed::<HeapSlots>().expect("heap slots hold any quota")
}

/// Benchmarks `check` of one limit kind, after asserting the mix.
fn bench_limit<L: Limit>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, limit: L) {
    assert_mix(name, &replay(|n, r| run_limit(&limit, n, r)));
    group.bench_function(name, |b| b.iter_custom(|n| run_limit(&limit, n, None)));
}

/// Benchmarks the confirmed policy's `check`, after asserting the mix.
fn bench_policy(group: &mut BenchmarkGroup<'_, WallTime>, name: &str) {
    let policy = confirmed_policy();
    assert_mix(name, &replay(|n, r| run_policy(&policy, n, r)));
    group.bench_function(name, |b| b.iter_custom(|n| run_policy(&policy, n, None)));
}

/// One benchmark per limit kind, then the confirmed policy.
fn limits(c: &mut Criterion) {
    let sliding_inline = SlidingWindow::<[u64; 300]>::new(QUOTA, HOUR).expect("300 fit 300");
    let sliding_heap = SlidingWindow::<HeapSlots>::new(QUOTA, HOUR).expect("heap holds 300");
    let compact = CompactWindow::new(QUOTA, HOUR).expect("valid window");
    let fixed = FixedWindow::new(QUOTA, HOUR).expect("valid window");

    let mut group = c.benchmark_group("limits");
    bench_limit(&mut group, "sliding_window_inline", sliding_inline);
    bench_limit(&mut group, "sliding_window_heap", sliding_heap);
    bench_limit(&mut group, "compact_window", compact);
    bench_limit(&mut group, "token_bucket", keyrate_bucket());
    bench_limit(&mut group, "fixed_window", fixed);
    bench_policy(&mut group, "confirmed_policy");
    group.finish();
}

/// keyrate's token bucket and confirmed policy beside governor's GCRA, in
/// one group so that their ratios come from one run.
fn vs_governor(c: &mut Criterion) {
    // Same algorithm, same parameters: the decisions must agree step by step.
    let ours = replay(|n, r| run_limit(&keyrate_bucket(), n, r));
    let theirs = replay(|n, r| run_governor(governor_quota(), n, r));
    assert_mix("governor", &theirs);
    assert_eq!(
        ours, theirs,
        "keyrate and governor disagree on the same traffic"
    );

    let mut group = c.benchmark_group("vs_governor");
    bench_limit(&mut group, "keyrate", keyrate_bucket());
    group.bench_function("governor", |b| {
        b.iter_custom(|n| run_governor(black_box(governor_quota()), n, None))
    });
    bench_policy(&mut group, "keyrate_policy");

    // keyrate's own way of being called: `now` is a value the caller already
    // has (a request timestamp), not a clock read. The same instants as
    // above, computed as plain arithmetic instead of an atomic fake clock.
    group.bench_function("keyrate_given_now", |b| {
        b.iter_custom(|n| {
            let limit = black_box(keyrate_bucket());
            let mut state = limit.new_state();
            let step = STEP.as_nanos() as u64;
            let start = std::time::Instant::now();
            for i in 1..=n {
                let now = Instant::from_nanos(i * step);
                black_box(limit.check(&mut state, black_box(now), 1).ok());
            }
            start.elapsed()
        })
    });
    group.bench_function("keyrate_policy_given_now", |b| {
        b.iter_custom(|n| {
            let policy = black_box(preset::confirmed::<HeapSlots>().unwrap_or_default());
            let mut state = policy.new_state();
            let step = STEP.as_nanos() as u64;
            let start = std::time::Instant::now();
            for i in 1..=n {
                let now = Instant::from_nanos(i * step);
                black_box(policy.check(&mut state, black_box(now), 1).ok());
            }
            start.elapsed()
        })
    });
    group.finish();
}

/// The floor under every figure above: advancing and reading each fake
/// clock, with no check. Subtract it to compare the checks alone.
fn clocks(c: &mut Criterion) {
    let mut group = c.benchmark_group("clock_only");
    group.bench_function("keyrate_manual_clock", |b| {
        b.iter_custom(|n| drive(n, None, |now| now, |_| true))
    });
    group.bench_function("governor_fake_clock", |b| {
        b.iter_custom(|iters| {
            let clock = FakeRelativeClock::default();
            let start = std::time::Instant::now();
            for _ in 0..iters {
                clock.advance(STEP);
                black_box(GovernorClock::now(&clock));
            }
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, limits, vs_governor, clocks);
criterion_main!(benches);
