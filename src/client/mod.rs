//! Client side: pacing requests from a known policy or from a server's
//! headers, and polling authorization requests.
//!
//! - [`headers`]: reading `RateLimit-Policy`, `RateLimit` and `Retry-After`
//!   values, leniently and without allocation.
//! - [`pacer`]: [`HeaderPacer`] and [`Pacer`], how long to wait before the
//!   next request so that it is not refused.
//! - [`poll`]: [`Poll`], when to poll an authorization request, following
//!   the client rules of OAuth device authorization (RFC 8628 §3.5).
//!
//! Like the rest of keyrate, these are pure state machines: they take `now`
//! on every call and perform no I/O.
//!
//! # Examples
//!
//! A client loop, with the HTTP exchange left out:
//!
//! ```
//! use keyrate::client::Pacer;
//! use keyrate::preset;
//! use keyrate::time::Instant;
//!
//! let policy = preset::confirmed::<keyrate::limit::HeapSlots>()?;
//! let mut pacer = Pacer::new(&policy);
//! let mut now = Instant::from_secs(0);
//! for _ in 0..100 {
//!     now = now.saturating_add(pacer.delay(now));
//!     pacer.on_sent(now);
//!     // ... send, then with the response's fields:
//!     pacer.on_response(now, None, None, None);
//! }
//! // 60 went at once; the next 40 when the burst window had slid by.
//! assert_eq!(now, Instant::from_secs(60));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod headers;
pub mod pacer;
pub mod poll;
mod sf;

pub use pacer::{DEFAULT_PROBE, HeaderPacer, Pacer};
pub use poll::{DEFAULT_INTERVAL, Poll, PollAnswer, PollOutcome, PollStep, SLOW_DOWN_STEP};
