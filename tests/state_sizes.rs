//! The per-key state sizes the docs state, on 64-bit targets.
//!
//! Run with `cargo test --test state_sizes -- --nocapture` to print a
//! table for the README. The documented figures:
//!
//! | state | bytes |
//! |---|---|
//! | `TokenBucketState` | 8 |
//! | `FixedWindowState` | 16 |
//! | `CompactWindowState` | 72 |
//! | `SlidingWindowState<[u64; N]>` | 8 × N + 24 |
//! | `SlidingWindowState<HeapSlots>` | 40, plus 8 × quota on the heap |
//!
//! (Targets where `u64` is aligned to 4 bytes, such as i686, pack some of
//! these tighter; the figures are asserted only where pointers are 64 bits.)

#![cfg(all(target_pointer_width = "64", feature = "alloc"))]

use std::mem::size_of;

use keyrate::limit::{
    AnyState, CompactWindowState, FixedWindowState, HeapSlots, PolicyState, SlidingWindowState,
    TokenBucketState,
};

/// Bytes of a `SlidingWindowState` besides its slots: head, length and ring
/// size (`u32` each) and the latest time seen (`u64`), padded to 8.
const SLIDING_OVERHEAD: usize = 24;

#[test]
fn token_bucket_state_is_one_timestamp() {
    assert_eq!(size_of::<TokenBucketState>(), 8);
}

#[test]
fn fixed_window_state_is_a_start_and_a_count() {
    // A u64 start and a u32 count, padded to 8.
    assert_eq!(size_of::<FixedWindowState>(), 16);
}

#[test]
fn compact_window_state_is_72_bytes_whatever_the_quota() {
    // 16 buckets of u32 and the latest time seen.
    let size = size_of::<CompactWindowState>();
    assert_eq!(size, 16 * 4 + 8);
    assert!(size <= 128);
}

#[test]
fn inline_sliding_window_state_is_eight_bytes_per_slot_plus_a_constant() {
    let sizes = [
        size_of::<SlidingWindowState<[u64; 1]>>(),
        size_of::<SlidingWindowState<[u64; 60]>>(),
        size_of::<SlidingWindowState<[u64; 300]>>(),
        size_of::<SlidingWindowState<[u64; 1000]>>(),
    ];
    for (n, size) in [1, 60, 300, 1000].into_iter().zip(sizes) {
        assert_eq!(size, 8 * n + SLIDING_OVERHEAD, "N = {n}");
    }
}

#[test]
fn heap_sliding_window_state_is_a_fat_pointer_plus_the_same_constant() {
    // The slots themselves (8 bytes per unit of quota) live on the heap;
    // `tests/no_alloc.rs` pins that allocation.
    let size = size_of::<SlidingWindowState<HeapSlots>>();
    assert_eq!(size, 16 + SLIDING_OVERHEAD);
}

#[test]
fn policy_state_holds_room_for_every_limit() {
    // A policy's state keeps room for four states of the largest kind, plus
    // the vector's length, whatever kinds it actually holds.
    let inline = size_of::<PolicyState<[u64; 300]>>();
    let any = size_of::<AnyState<[u64; 300]>>();
    assert!(any > size_of::<SlidingWindowState<[u64; 300]>>());
    assert!(inline >= 4 * any);
    assert!(size_of::<PolicyState<HeapSlots>>() < inline);
}

/// One README table row: a state type and its size in bytes.
fn row<T>(name: &str) -> String {
    format!("| `{name}` | {} |", size_of::<T>())
}

#[test]
fn state_size_table_for_the_readme() {
    let rows = [
        row::<TokenBucketState>("TokenBucketState"),
        row::<FixedWindowState>("FixedWindowState"),
        row::<CompactWindowState>("CompactWindowState"),
        row::<SlidingWindowState<[u64; 60]>>("SlidingWindowState<[u64; 60]>"),
        row::<SlidingWindowState<[u64; 300]>>("SlidingWindowState<[u64; 300]>"),
        row::<SlidingWindowState<HeapSlots>>("SlidingWindowState<HeapSlots>"),
        row::<PolicyState<[u64; 60]>>("PolicyState<[u64; 60]>"),
        row::<PolicyState<[u64; 300]>>("PolicyState<[u64; 300]>"),
        row::<PolicyState<HeapSlots>>("PolicyState<HeapSlots>"),
    ];

    // One `println!` so the table is not interleaved with other tests.
    let table = rows.join("\n");
    println!("| state | bytes |\n|---|---|\n{table}");
    assert!(table.contains("| `TokenBucketState` | 8 |"));
}
