//! No allocation on the request path: every limit kind's `check` and
//! `peek`, a policy's `check` and `peek`, and the RateLimit header writers.
//!
//! A counting global allocator wraps the system one and counts, per thread,
//! every allocation and reallocation. States, policies and output buffers
//! are created before counting starts; only the calls a server makes per
//! request run inside [`allocations_during`].

#![cfg(feature = "std")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::time::Duration;

use keyrate::http::{HeaderOptions, MAX_VALUE_LEN, RateLimitHeaders};
use keyrate::limit::{
    CompactWindow, FixedWindow, HeapSlots, Limit, Policy, PolicyDecision, SlidingWindow, Slots,
    TokenBucket,
};
use keyrate::preset;
use keyrate::time::Instant;

/// The system allocator, counting what the current thread asks of it.
struct Counting;

thread_local! {
    /// Allocations (and reallocations) made by this thread.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    /// Bytes requested by those allocations.
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

/// Records one allocation of `size` bytes on the current thread.
fn record(size: usize) {
    // `try_with` cannot fail for a const-initialized `Cell`, which has no
    // destructor; ignoring the error keeps the allocator from panicking.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    let _ = BYTES.try_with(|n| n.set(n.get() + size));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, and only adds bookkeeping that neither allocates nor panics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: forwarded from the caller's contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: forwarded from the caller's contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: forwarded from the caller's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from the caller's contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What `f` allocated on this thread: (allocations, bytes), and its result.
fn allocations_during<R>(f: impl FnOnce() -> R) -> (usize, usize, R) {
    let before = (ALLOCATIONS.get(), BYTES.get());
    let result = f();
    let after = (ALLOCATIONS.get(), BYTES.get());
    (after.0 - before.0, after.1 - before.1, result)
}

/// Asserts that `f` allocates nothing, naming the operation on failure.
fn assert_no_alloc<R>(what: &str, f: impl FnOnce() -> R) -> R {
    let (count, bytes, result) = allocations_during(f);
    assert_eq!(count, 0, "{what} made {count} allocations ({bytes} bytes)");
    result
}

const HOUR: Duration = Duration::from_secs(3600);

/// Requests replayed per limit: one every 6 s for about 8 hours, twice the
/// sustained rate of the 300-per-hour limits, so both paths are taken and
/// the windows roll over many times.
const STEPS: u64 = 5_000;
const STEP: Duration = Duration::from_secs(6);

/// What a replay saw: how many checks were admitted and denied.
#[derive(Debug, Default)]
struct Mix {
    admitted: u32,
    denied: u32,
}

impl Mix {
    fn assert_both(&self, what: &str) {
        assert!(
            self.admitted > 0 && self.denied > 0,
            "{what}: the replay must both admit and deny, saw {self:?}"
        );
    }
}

/// Peeks, checks with costs 1, 0 and 3 and an impossible cost, at every step
/// of the replay, all with the allocator counting.
fn replay_limit<L: Limit>(what: &str, limit: &L, state: &mut L::State) -> Mix {
    let too_much = limit.capacity() + 1;
    let mut mix = Mix::default();
    let mut now = Instant::ZERO;
    assert_no_alloc(what, || {
        for step in 0..STEPS {
            now = now.saturating_add(STEP);
            black_box(limit.peek(state, now, 1)).ok();
            let cost = if step % 7 == 0 { 3 } else { 1 };
            match black_box(limit.check(state, now, cost)) {
                Ok(d) if d.is_allowed() => mix.admitted += 1,
                Ok(_) => mix.denied += 1,
                Err(e) => panic!("{what}: cost {cost} refused: {e}"),
            }
            black_box(limit.check(state, now, 0)).ok();
            assert!(black_box(limit.check(state, now, too_much)).is_err());
            black_box(limit.is_idle(state, now));
        }
    });
    mix
}

#[test]
fn the_counter_sees_an_allocation_made_on_purpose() {
    let (count, bytes, boxed) = allocations_during(|| black_box(Box::new(black_box(7u64))));
    assert!(count >= 1, "a Box::new went uncounted");
    assert!(bytes >= 8);
    assert_eq!(*boxed, 7);

    let (count, _, grown) = allocations_during(|| {
        let mut v: Vec<u64> = Vec::with_capacity(1);
        v.extend(black_box([1, 2, 3, 4]));
        v
    });
    assert!(count >= 2, "an allocation and a reallocation, saw {count}");
    assert_eq!(grown.len(), 4);
}

#[test]
fn exact_sliding_window_with_inline_slots_never_allocates() {
    let limit = SlidingWindow::<[u64; 300]>::new(300, HOUR).unwrap();
    let mut state = assert_no_alloc("new inline state", || limit.new_state());
    replay_limit("inline sliding window", &limit, &mut state).assert_both("inline");
}

#[test]
fn exact_sliding_window_with_heap_slots_allocates_once_at_creation_only() {
    let limit = SlidingWindow::<HeapSlots>::new(300, HOUR).unwrap();

    // One buffer of exactly 8 bytes per unit of quota, when the state is made.
    let (count, bytes, mut state) = allocations_during(|| limit.new_state());
    assert_eq!((count, bytes), (1, 300 * 8));

    replay_limit("heap sliding window", &limit, &mut state).assert_both("heap");
}

#[test]
fn compact_window_never_allocates() {
    let limit = CompactWindow::new(300, HOUR).unwrap();
    let mut state = assert_no_alloc("new compact state", || limit.new_state());
    replay_limit("compact window", &limit, &mut state).assert_both("compact");
}

#[test]
fn token_bucket_never_allocates() {
    let limit = TokenBucket::per_window(300, HOUR, 60).unwrap();
    let mut state = assert_no_alloc("new bucket state", || limit.new_state());
    replay_limit("token bucket", &limit, &mut state).assert_both("bucket");
}

#[test]
fn fixed_window_never_allocates() {
    let limit = FixedWindow::new(300, HOUR).unwrap();
    let mut state = assert_no_alloc("new fixed state", || limit.new_state());
    replay_limit("fixed window", &limit, &mut state).assert_both("fixed");
}

/// Replays traffic against `policy` and writes every header for every
/// decision, counting allocations throughout. Returns the mix and how many
/// denials each limit made.
fn replay_policy<S: Slots>(what: &str, policy: &Policy<S>) -> (Mix, [u32; 4]) {
    let mut state = policy.new_state();
    let mut mix = Mix::default();
    let mut denied_by = [0u32; 4];
    let mut value = heapless::String::<MAX_VALUE_LEN>::new();
    let all = HeaderOptions {
        draft: true,
        legacy: true,
    };

    // Bursts of 70 requests half a second apart, one burst every 10
    // minutes: the per-minute window refuses the end of each burst, and 6
    // bursts of 60 an hour exceed 300, so the hourly window refuses some too.
    let mut now = Instant::ZERO;
    assert_no_alloc(what, || {
        for step in 0..STEPS {
            let gap = if step % 70 == 0 { 600_000 } else { 500 };
            now = now.saturating_add(Duration::from_millis(gap));
            black_box(policy.peek(&state, now, 1)).ok();
            let decision: PolicyDecision = match policy.check(&mut state, now, 1) {
                Ok(d) => d,
                Err(e) => panic!("{what}: {e}"),
            };

            // Every header, through the callback and through each writer.
            let headers = RateLimitHeaders::new(policy, &decision);
            let mut fields = 0;
            headers
                .for_each(all, |name, v| {
                    fields += 1;
                    black_box((name, v));
                })
                .unwrap();
            assert!(fields >= 3, "{what}: only {fields} header fields");
            value.clear();
            headers.write_policy(&mut value).unwrap();
            value.clear();
            headers.write_retry_after(&mut value).unwrap();
            value.clear();
            headers.write_rate_limit(&mut value).unwrap();
            black_box((headers.status(), &value));

            // A 429 describes the limit that refused.
            match decision {
                PolicyDecision::Allowed(_) => mix.admitted += 1,
                PolicyDecision::Denied(d) => {
                    mix.denied += 1;
                    let name = policy.name(d.limit).unwrap();
                    assert!(value.strip_prefix('"').unwrap().starts_with(name));
                    denied_by[d.limit] += 1;
                }
            }
        }
    });
    (mix, denied_by)
}

#[test]
fn confirmed_policy_and_its_headers_never_allocate_with_heap_slots() {
    let policy = preset::confirmed::<HeapSlots>().unwrap();
    let (mix, denied_by) = replay_policy("heap policy", &policy);
    mix.assert_both("heap policy");
    assert!(
        denied_by[0] > 0 && denied_by[1] > 0,
        "both windows must refuse some requests, saw {denied_by:?}"
    );
}

#[test]
fn confirmed_policy_and_its_headers_never_allocate_with_inline_slots() {
    let policy = preset::confirmed::<[u64; 300]>().unwrap();
    let (mix, denied_by) = replay_policy("inline policy", &policy);
    mix.assert_both("inline policy");
    assert!(denied_by[0] > 0 && denied_by[1] > 0, "saw {denied_by:?}");
}

#[test]
fn a_mixed_policy_never_allocates() {
    let policy: Policy<[u64; 60]> = Policy::new()
        .with(
            "minute",
            SlidingWindow::new(60, Duration::from_secs(60)).unwrap(),
        )
        .unwrap()
        .with("compact", CompactWindow::new(300, HOUR).unwrap())
        .unwrap()
        .with("bucket", TokenBucket::per_window(300, HOUR, 60).unwrap())
        .unwrap()
        .with(
            "day",
            FixedWindow::new(2000, Duration::from_secs(86_400)).unwrap(),
        )
        .unwrap();
    let (mix, _) = replay_policy("mixed policy", &policy);
    mix.assert_both("mixed policy");

    // Writing into a `String` that already has room allocates nothing either.
    let mut state = policy.new_state();
    let decision = policy.check(&mut state, Instant::from_secs(1), 1).unwrap();
    let mut text = String::with_capacity(512);
    let headers = RateLimitHeaders::new(&policy, &decision);
    assert_no_alloc("writing into a String with room", || {
        headers.write_policy(&mut text).unwrap();
    });
    assert_eq!(
        text,
        "\"minute\";q=60;w=60, \"compact\";q=300;w=3600, \"bucket\";q=60;w=720, \
         \"day\";q=2000;w=86400"
    );
}
