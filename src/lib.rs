//! Pure state machines that decide, on every request to an API protected by
//! keys, whether the request may proceed now.
//!
//! keyrate performs no I/O, owns no threads, reads no clock unless asked and
//! allocates nothing on a check. Every decision takes the current
//! [`Instant`](time::Instant) as an argument, so the same code runs in a
//! server, in a client pacing itself, in a simulation and on a
//! microcontroller.
//!
//! # A first check
//!
//! ```
//! use keyrate::http::RateLimitHeaders;
//! use keyrate::preset;
//! use keyrate::time::Instant;
//!
//! // A confirmed key: 300 per hour and 60 per minute, as sliding windows.
//! let policy = preset::confirmed::<keyrate::limit::HeapSlots>()?;
//! let mut state = policy.new_state();
//! let decision = policy.check(&mut state, Instant::from_secs(0), 1)?;
//! assert!(decision.is_allowed());
//!
//! let mut value = String::new();
//! RateLimitHeaders::new(&policy, &decision).write_rate_limit(&mut value)?;
//! assert_eq!(value, r#""hourly";r=299;t=3600, "burst";r=59;t=60"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Modules
//!
//! - [`time`]: instants, the [`Clock`](time::Clock) trait, a manual clock and
//!   (with `std`) a monotonic one.
//! - [`limit`]: the limit kinds, their decisions and all-or-nothing policies.
//! - [`http`]: status and header values for success and 429 responses.
//! - [`keyed`]: tables of per-key state, fixed (no heap) or growable (`std`),
//!   that evict only idle keys and never silently reset a live one.
//! - `sync` (64-bit atomics): a lock-free token bucket, and mutex-guarded
//!   limiters and sharded tables (`std`) shared between threads.
//! - [`preset`]: the default policies for each kind of key.
//! - [`policy`]: tiers, paid plans and policy sets loaded through serde.
//! - [`credential`]: the key format, Bearer parsing, key lifecycle and
//!   authorization requests (RFC 8628 model).
//! - [`verify`]: the whole pipeline, from an `Authorization` header to a
//!   response's status and fields.
//! - `snapshot` (`serde`): limiter, policy and table state saved and
//!   restored across processes, never more permissive than before.
//! - [`client`]: pacing from a policy or from RateLimit headers, and
//!   RFC 8628 polling.
//!
//! # Features
//!
//! - `std` (default): implies `alloc`; adds `MonotonicClock`.
//! - `alloc`: heap-backed storage for exact sliding windows.
//! - `serde`: policy configuration files, serialization of states and
//!   snapshots.
//! - `sha2`: [`Sha256`](credential::digest::Sha256), a ready-made key hasher.
//! - `rand_core`: issue keys from any `rand_core` CSPRNG.
//!
//! # Limitations
//!
//! - Instants are `u64` nanoseconds: the latest is 584 years after the
//!   clock's origin, and windows are at most [`limit::MAX_WINDOW`] (100
//!   years). Near [`Instant::MAX`](time::Instant::MAX) limits grow stricter,
//!   never looser.
//! - A policy holds at most [`limit::MAX_LIMITS`] limits unless its const
//!   parameter says otherwise.
//! - An exact sliding window keeps 8 bytes per unit of quota per key; for
//!   large quotas use [`limit::CompactWindow`].
//! - The token bucket cannot remember the latest time it saw (its state is
//!   one timestamp): a late-stamped request is judged at its own stamp, which
//!   is stricter, never looser.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod client;
pub mod credential;
pub mod http;
pub mod keyed;
pub mod limit;
pub mod policy;
pub mod preset;
#[cfg(feature = "serde")]
pub mod snapshot;
#[cfg(target_has_atomic = "64")]
pub mod sync;
pub mod time;
pub mod verify;

/// Compiles and runs the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
