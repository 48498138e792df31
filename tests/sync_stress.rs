//! Many threads asking at the same instant: the shared limiters admit
//! exactly the limit, never one more.

use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use keyrate::limit::{Allowed, Decision, Denied, HeapSlots, Limit, TokenBucket};
use keyrate::preset;
use keyrate::sync::{AtomicTokenBucket, SharedLimiter, SharedTable};
use keyrate::time::Instant;
use proptest::prelude::*;

const THREADS: usize = 8;

/// Runs `ask` on `THREADS` threads released together, `tries` times each,
/// and returns how many of the answers were admissions.
fn admitted_by_all(tries: usize, ask: impl Fn() -> bool + Sync) -> usize {
    let start = Barrier::new(THREADS);
    thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    (0..tries).filter(|_| ask()).count()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    })
}

#[test]
fn the_atomic_bucket_admits_exactly_its_burst_at_one_instant() {
    // 300 per hour in bursts of 60; each round starts with a full bucket.
    let limit = TokenBucket::per_window(300, Duration::from_secs(3600), 60).unwrap();
    let shared = AtomicTokenBucket::new(limit);
    for round in 0..20u64 {
        let t = Instant::from_secs(round * 3600);
        let admitted = admitted_by_all(25, || shared.check(t, 1).unwrap().is_allowed());
        assert_eq!(admitted, 60, "round {round}");
    }
}

#[test]
fn the_atomic_bucket_ends_where_the_plain_bucket_would() {
    // Whatever the interleaving, 60 admissions of cost 1 at one instant
    // leave the state a single-threaded bucket reaches with 60 checks.
    let limit = TokenBucket::new(60, Duration::from_millis(100)).unwrap();
    let shared = AtomicTokenBucket::new(limit);
    let t = Instant::from_secs(1);
    admitted_by_all(30, || shared.check(t, 1).unwrap().is_allowed());

    let mut plain = limit.new_state();
    for _ in 0..60 {
        limit.check(&mut plain, t, 1).unwrap();
    }
    assert_eq!(shared.state(), plain);
}

#[test]
fn the_atomic_bucket_never_admits_more_than_its_rate_over_time() {
    // Threads asking at instants spread over 10 s: at most the burst plus
    // one unit per period elapsed.
    let limit = TokenBucket::new(5, Duration::from_millis(100)).unwrap();
    let shared = AtomicTokenBucket::new(limit);
    let start = Barrier::new(THREADS);
    let admitted: usize = thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS as u64)
            .map(|id| {
                let (shared, start) = (&shared, &start);
                s.spawn(move || {
                    start.wait();
                    (0..1000u64)
                        .filter(|i| {
                            let t = Instant::from_millis(i * 10 + id);
                            shared.check(t, 1).unwrap().is_allowed()
                        })
                        .count()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });

    // The span runs from 0 to 9.997 s: 99 whole periods.
    assert!(admitted <= 5 + 99, "{admitted} admitted");
    assert!(admitted >= 5, "{admitted} admitted");
}

#[test]
fn a_shared_policy_admits_exactly_its_burst_at_one_instant() {
    // The confirmed preset: 300 per hour and 60 per minute, sliding windows.
    let shared = SharedLimiter::new(preset::confirmed::<HeapSlots>().unwrap());
    let t = Instant::from_secs(0);
    let admitted = admitted_by_all(20, || shared.check(t, 1).unwrap().is_allowed());
    assert_eq!(admitted, 60);

    // Five minutes on, five bursts have spent the hourly quota.
    for minute in 1..5u64 {
        let t = Instant::from_secs(minute * 60);
        let admitted = admitted_by_all(20, || shared.check(t, 1).unwrap().is_allowed());
        assert_eq!(admitted, 60, "minute {minute}");
    }
    let t = Instant::from_secs(300);
    let admitted = admitted_by_all(20, || shared.check(t, 1).unwrap().is_allowed());
    assert_eq!(admitted, 0);
}

#[test]
fn a_shared_table_admits_exactly_the_limit_for_one_key() {
    let table = SharedTable::new(preset::confirmed::<HeapSlots>().unwrap(), 16);
    let t = Instant::from_secs(0);
    let admitted = admitted_by_all(20, || table.check(&42u64, t, 1).unwrap().is_allowed());
    assert_eq!(admitted, 60);
    assert_eq!(table.len(), 1);
}

#[test]
fn a_shared_table_admits_exactly_the_limit_for_each_of_many_keys() {
    // Every thread walks the same 64 keys 20 times: 8 × 20 = 160 asks per
    // key, of which exactly 60 are admitted.
    let table = SharedTable::new(preset::confirmed::<HeapSlots>().unwrap(), 4);
    let t = Instant::from_secs(0);
    let start = Barrier::new(THREADS);
    let per_thread: Vec<Vec<usize>> = thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let mut admitted = vec![0usize; 64];
                    for _ in 0..20 {
                        for (key, count) in admitted.iter_mut().enumerate() {
                            if table.check(&key, t, 1).unwrap().is_allowed() {
                                *count += 1;
                            }
                        }
                    }
                    admitted
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for key in 0..64 {
        let total: usize = per_thread.iter().map(|a| a[key]).sum();
        assert_eq!(total, 60, "key {key}");
    }
}

/// The token bucket's rules written out plainly, in `u128`: a request of
/// cost `c` at `now` is admitted when `max(tat, now) + c·T − now ≤ burst·T`
/// or `c` is 0;
/// `remaining` counts the whole periods left in `burst·T − ahead`, `reset`
/// is when the next unit comes back, and a denial waits until the request
/// fits.
fn naive_bucket(burst: u32, period: u64, tat: u64, now: u64, cost: u32) -> (Decision, u64) {
    let (b, t) = (u128::from(burst), u128::from(period));
    let base = u128::from(tat.max(now));
    let now = u128::from(now);
    let ahead = base - now + u128::from(cost) * t;
    let nanos = |n: u128| Duration::from_nanos(u64::try_from(n).unwrap());
    if cost > 0 && ahead > b * t {
        let free = (b * t).saturating_sub(base - now) / t;
        let denied = Denied {
            limit: 0,
            remaining: u32::try_from(free).unwrap(),
            retry_after: nanos(ahead - b * t),
        };
        return (Decision::Denied(denied), tat);
    }
    let remaining = (b * t).saturating_sub(ahead) / t;
    let reset = if remaining == b {
        0
    } else {
        ahead - (b - remaining - 1) * t
    };
    let allowed = Allowed {
        remaining: u32::try_from(remaining).unwrap(),
        reset: nanos(reset),
    };
    let new_tat = u64::try_from(now + ahead).unwrap();
    (Decision::Allowed(allowed), new_tat)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// One thread, random steps (some backwards) and costs: every decision
    /// and every state of the atomic bucket is the plain rules' one.
    #[test]
    fn the_atomic_bucket_follows_the_token_bucket_rules(
        burst in 1u32..80,
        period_ms in 1u64..20_000,
        steps in proptest::collection::vec((-5_000i64..30_000, 0u32..80), 1..100),
    ) {
        let period = period_ms * 1_000_000;
        let limit = TokenBucket::new(burst, Duration::from_nanos(period)).unwrap();
        let shared = AtomicTokenBucket::new(limit);
        let mut tat = 0u64;
        let mut now = 1_000_000_000_000i64;
        for (step_ms, cost) in steps {
            now += step_ms * 1_000_000;
            let at = Instant::from_nanos(now as u64);
            if cost > burst {
                prop_assert!(shared.check(at, cost).is_err());
                continue;
            }
            let (want, next) = naive_bucket(burst, period, tat, now as u64, cost);
            prop_assert_eq!(shared.check(at, cost).unwrap(), want);
            tat = next;
            prop_assert_eq!(shared.state().tat().as_nanos(), tat);
        }
    }
}
