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
const MIX_STEPS: u32 = 10_000;

/// Times `iters` checks, each after advancing a fresh manual clock by
/// [`STEP`] and reading it.
fn time_checks<R>(iters: u64, mut check: impl FnMut(Instant) -> R) -> Duration {
    let clock = ManualClock::new(Instant::ZERO);
    let start = std::time::Instant::now();
    for _ in 0..iters {
        clock.advance(STEP);
        black_box(check(clock.now()));
    }
    start.elapsed()
}

/// The decisions `check` makes over [`MIX_STEPS`] steps of [`STEP`]:
/// `true` where admitted.
fn replay(mut check: impl FnMut(Instant) -> bool) -> Vec<bool> {
    let mut now = Instant::ZERO;
    (0..MIX_STEPS)
        .map(|_| {
            now = now.saturating_add(STEP);
            check(now)
        })
        .collect()
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

/// Replays the traffic on a fresh state of `limit`.
fn replay_limit<L: Limit>(limit: &L) -> Vec<bool> {
    let mut state = limit.new_state();
    replay(|now| {
        limit
            .check(&mut state, now, 1)
            .is_ok_and(|d| d.is_allowed())
    })
}

/// Replays the traffic on a fresh state of `policy`.
fn replay_policy(policy: &Policy<HeapSlots>) -> Vec<bool> {
    let mut state = policy.new_state();
    replay(|now| {
        policy
            .check(&mut state, now, 1)
            .is_ok_and(|d| d.is_allowed())
    })
}

/// Replays the traffic on a fresh governor limiter.
fn replay_governor() -> Vec<bool> {
    let clock = FakeRelativeClock::default();
    let limiter = RateLimiter::direct_with_clock(governor_quota(), clock.clone());
    let mut decisions = Vec::new();
    for _ in 0..MIX_STEPS {
        clock.advance(STEP);
        decisions.push(limiter.check().is_ok());
    }
    decisions
}

/// Benchmarks `check` of one limit kind, after asserting the mix.
fn bench_limit<L: Limit + Clone>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, limit: L) {
    assert_mix(name, &replay_limit(&limit));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let limit = black_box(limit.clone());
            let mut state = limit.new_state();
            time_checks(iters, |now| limit.check(&mut state, now, 1))
        })
    });
}

/// Benchmarks the confirmed policy's `check`, after asserting the mix.
fn bench_policy(group: &mut BenchmarkGroup<'_, WallTime>, name: &str) {
    let policy = confirmed_policy();
    assert_mix(name, &replay_policy(&policy));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let policy = black_box(policy.clone());
            let mut state = policy.new_state();
            time_checks(iters, |now| policy.check(&mut state, now, 1))
        })
    });
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
    let ours = replay_limit(&keyrate_bucket());
    let theirs = replay_governor();
    assert_mix("governor", &theirs);
    assert_eq!(
        ours, theirs,
        "keyrate and governor disagree on the same traffic"
    );

    let mut group = c.benchmark_group("vs_governor");
    bench_limit(&mut group, "keyrate", keyrate_bucket());
    group.bench_function("governor", |b| {
        b.iter_custom(|iters| {
            let clock = FakeRelativeClock::default();
            let quota = black_box(governor_quota());
            let limiter = black_box(RateLimiter::direct_with_clock(quota, clock.clone()));
            let start = std::time::Instant::now();
            for _ in 0..iters {
                clock.advance(STEP);
                let _ = black_box(limiter.check());
            }
            start.elapsed()
        })
    });
    bench_policy(&mut group, "keyrate_policy");
    group.finish();
}

/// The floor under every figure above: advancing and reading each fake
/// clock, with no check. Subtract it to compare the checks alone.
fn clocks(c: &mut Criterion) {
    let mut group = c.benchmark_group("clock_only");
    group.bench_function("keyrate_manual_clock", |b| {
        b.iter_custom(|iters| time_checks(iters, |now| now))
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
