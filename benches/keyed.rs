//! Keyed and shared limiters next to governor's, in one run.
//!
//! Both sides apply the same quota (300 per hour in bursts of 60: one unit
//! every 12 s), see the same request pattern and the same time, and the
//! benchmark reads the same thing from each answer: allowed or not.
//!
//! - `keyed_10k`: one check per iteration on the next id of a fixed
//!   pseudo-random pattern over 10 000 distinct `u64` ids, computed by the
//!   same function for every contender (so that no table of ids competes for
//!   the cache). Every table holds all the ids before measuring. The clock
//!   moves 60 s forward after each pass of 65 536 requests: each id is asked
//!   about 6.5 times per pass and earns 5 units back, so most requests are
//!   allowed and some are denied.
//! - `shared`: one check per iteration on one limiter used through `&self`,
//!   with the clock moving 64 periods forward every 64 requests.
//!
//! The `*_headers` benches also read the remaining count and reset time of
//! each keyrate decision, which a server sends back in `RateLimit` headers;
//! governor's answer carries no such figures.
//!
//! Run: `cargo bench --bench keyed -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use governor::clock::FakeRelativeClock;
use governor::{Quota, RateLimiter};
use keyrate::keyed::{FixedTable, GrowableTable, Limiter};
use keyrate::limit::{CompactWindow, Decision, FixedWindow, Policy, SlidingWindow, TokenBucket};
use keyrate::sync::AtomicTokenBucket;
use keyrate::time::Instant;

/// Distinct ids in the keyed benchmarks.
const KEYS: u64 = 10_000;

/// Requests per pass of the pattern; a power of two.
const PASS: u64 = 1 << 16;

/// Time added at the end of each pass.
const PASS_STEP: Duration = Duration::from_secs(60);

/// Requests between two steps of the clock in the `shared` group, and the
/// step: 64 periods, so that most checks are allowed.
const SHARED_EVERY: u64 = 64;
const SHARED_STEP: Duration = Duration::from_secs(64 * 12);

fn bucket() -> TokenBucket {
    TokenBucket::per_window(300, Duration::from_secs(3600), 60).unwrap()
}

fn quota() -> Quota {
    let n = |v| NonZeroU32::new(v).unwrap();
    Quota::per_hour(n(300)).allow_burst(n(60))
}

/// The id asked about by request `i`: a mix of `i` picks one of `KEYS`
/// indexes, and each index stands for a fixed odd 64-bit id.
#[inline(always)]
fn id_of(i: u64) -> u64 {
    let mut x = (i % PASS).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 29;
    let index = ((u128::from(x) * u128::from(KEYS)) >> 64) as u64;
    index.wrapping_mul(0xbf58_476d_1ce4_e5b9) | 1
}

/// Every id of the pattern, once.
fn all_ids() -> impl Iterator<Item = u64> {
    (0..KEYS).map(|index| index.wrapping_mul(0xbf58_476d_1ce4_e5b9) | 1)
}

/// What a server reads from a keyrate decision for its headers.
#[inline(always)]
fn headers(d: Decision) -> (bool, u32, Duration) {
    match d {
        Decision::Allowed(a) => (true, a.remaining, a.reset),
        Decision::Denied(d) => (false, d.remaining, d.retry_after),
    }
}

/// Request counter and keyrate clock for one contender.
struct Pattern {
    i: u64,
    now: Instant,
}

impl Pattern {
    fn new() -> Self {
        Pattern {
            i: 0,
            now: Instant::from_secs(1),
        }
    }

    /// The next id; calls `step` (and moves `now`) at the end of a pass.
    #[inline(always)]
    fn next(&mut self, step: impl FnOnce()) -> u64 {
        let id = id_of(self.i);
        self.i += 1;
        if self.i.is_multiple_of(PASS) {
            self.now = self.now.saturating_add(PASS_STEP);
            step();
        }
        id
    }
}

fn keyed_10k(c: &mut Criterion) {
    let mut group = c.benchmark_group("keyed_10k");
    let start = Instant::from_secs(1);

    // keyrate, fixed table: 16 384 slots hold up to 14 336 keys.
    let mut fixed = Box::new(FixedTable::<u64, TokenBucket, 16384>::new(bucket()));
    for id in all_ids() {
        fixed.check(&id, start, 1).unwrap();
    }
    let mut p = Pattern::new();
    group.bench_function("keyrate_fixed", |b| {
        b.iter(|| {
            let id = p.next(|| ());
            black_box(fixed.check(&id, p.now, 1).unwrap().is_allowed())
        })
    });
    // The same pattern goes on, so the table never sees time go back.
    group.bench_function("keyrate_fixed_headers", |b| {
        b.iter(|| {
            let id = p.next(|| ());
            black_box(headers(fixed.check(&id, p.now, 1).unwrap()))
        })
    });
    assert_eq!(fixed.len(), KEYS as usize);
    drop(fixed);

    // keyrate, growable table over std's HashMap with its default hasher.
    let mut growable = GrowableTable::new(bucket());
    for id in all_ids() {
        growable.check(&id, start, 1).unwrap();
    }
    let mut p = Pattern::new();
    group.bench_function("keyrate_std", |b| {
        b.iter(|| {
            let id = p.next(|| ());
            black_box(growable.check(&id, p.now, 1).unwrap().is_allowed())
        })
    });
    drop(growable);

    // governor, keyed over a mutex-guarded HashMap.
    let clock = FakeRelativeClock::default();
    clock.advance(Duration::from_secs(1));
    let hashmap = RateLimiter::hashmap_with_clock(quota(), clock.clone());
    for id in all_ids() {
        let _ = hashmap.check_key(&id);
    }
    let mut p = Pattern::new();
    group.bench_function("governor_hashmap", |b| {
        b.iter(|| {
            let id = p.next(|| clock.advance(PASS_STEP));
            black_box(hashmap.check_key(&id).is_ok())
        })
    });
    drop(hashmap);

    // governor, keyed over a DashMap.
    let clock = FakeRelativeClock::default();
    clock.advance(Duration::from_secs(1));
    let dashmap = RateLimiter::dashmap_with_clock(quota(), clock.clone());
    for id in all_ids() {
        let _ = dashmap.check_key(&id);
    }
    let mut p = Pattern::new();
    group.bench_function("governor_dashmap", |b| {
        b.iter(|| {
            let id = p.next(|| clock.advance(PASS_STEP));
            black_box(dashmap.check_key(&id).is_ok())
        })
    });
    group.finish();
}

fn shared(c: &mut Criterion) {
    let mut group = c.benchmark_group("shared");

    let atomic = AtomicTokenBucket::new(bucket());
    let mut now = Instant::from_secs(1);
    let mut i = 0u64;
    group.bench_function("keyrate_atomic", |b| {
        b.iter(|| {
            i += 1;
            if i.is_multiple_of(SHARED_EVERY) {
                now = now.saturating_add(SHARED_STEP);
            }
            black_box(atomic.check(now, 1).unwrap().is_allowed())
        })
    });
    group.bench_function("keyrate_atomic_headers", |b| {
        b.iter(|| {
            i += 1;
            if i.is_multiple_of(SHARED_EVERY) {
                now = now.saturating_add(SHARED_STEP);
            }
            black_box(headers(atomic.check(now, 1).unwrap()))
        })
    });

    let clock = FakeRelativeClock::default();
    clock.advance(Duration::from_secs(1));
    let direct = RateLimiter::direct_with_clock(quota(), clock.clone());
    let mut i = 0u64;
    group.bench_function("governor_direct", |b| {
        b.iter(|| {
            i += 1;
            if i.is_multiple_of(SHARED_EVERY) {
                clock.advance(SHARED_STEP);
            }
            black_box(direct.check().is_ok())
        })
    });
    group.finish();
}

/// Prints the bytes each slot of a fixed table of `u64` ids takes, per
/// limit kind, and per key when the table is full (7 keys in 8 slots).
fn slot_sizes(_: &mut Criterion) {
    fn line<L: Limiter>(kind: &str) {
        let slot = FixedTable::<u64, L, 8>::SLOT_BYTES;
        let state = size_of::<L::State>();
        let per_key = slot as f64 * 8.0 / 7.0;
        println!(
            "fixed table, u64 ids, {kind}: state {state} B, slot {slot} B, \
             {per_key:.1} B per key when full"
        );
    }
    line::<TokenBucket>("token bucket");
    line::<FixedWindow>("fixed window");
    line::<CompactWindow>("compact window");
    line::<SlidingWindow<[u64; 60]>>("sliding window of 60, inline");
    line::<Policy<[u64; 300], 2>>("confirmed preset (300/h + 60/min sliding, inline)");
}

criterion_group!(benches, slot_sizes, keyed_10k, shared);
criterion_main!(benches);
