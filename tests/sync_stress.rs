//! Many threads asking at the same instant: the shared limiters admit
//! exactly the limit, never one more.

use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use keyrate::limit::{HeapSlots, Limit, TokenBucket};
use keyrate::preset;
use keyrate::sync::{AtomicTokenBucket, SharedLimiter, SharedTable};
use keyrate::time::Instant;

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
