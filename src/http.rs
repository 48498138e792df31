//! Status and header values for success and 429 responses, written into any
//! [`core::fmt::Write`] without allocation and without an HTTP crate.
//!
//! The fields follow the IETF httpapi RateLimit header fields draft
//! (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy` lists every
//! limit of the policy as `"name";q=<quota>;w=<window seconds>`, and
//! `RateLimit` lists the current state as `"name";r=<remaining>;t=<seconds>`.
//! Both are structured-field lists (RFC 9651): items are quoted strings with
//! integer parameters, separated by `", "`.
//!
//! On a success, `RateLimit` lists every limit, with `t` the time until at
//! least one more unit is available (see [`Allowed::reset`]). On a 429 it
//! lists only the limit that refused, with `t` equal to `Retry-After`, as
//! DESIGN decision 10 requires. `Retry-After` (RFC 9110 §10.2.3) is whole
//! seconds rounded up, at least 1.
//!
//! The legacy `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` fields are offered as an option; they describe a
//! single limit (the one that refused, or the one with the least remaining)
//! and `X-RateLimit-Reset` is in delta seconds, not an epoch time.

use core::fmt::{self, Write};

use crate::limit::{Allowed, PolicyDecision, Slots};
use crate::limit::{LimitInfo, Policy};
use crate::time::ceil_secs;

/// `429 Too Many Requests`.
pub const TOO_MANY_REQUESTS: u16 = 429;

/// `200 OK`.
pub const OK: u16 = 200;

/// The longest header value [`RateLimitHeaders::for_each`] produces: four
/// limits of maximal names and numbers fit.
pub const MAX_VALUE_LEN: usize = 256;

/// Which header fields to produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderOptions {
    /// `RateLimit-Policy` and `RateLimit` (default: on).
    pub draft: bool,
    /// `X-RateLimit-Limit`, `-Remaining` and `-Reset` (default: off).
    pub legacy: bool,
}

impl Default for HeaderOptions {
    fn default() -> Self {
        HeaderOptions {
            draft: true,
            legacy: false,
        }
    }
}

/// The rate-limit fields of a response, from a policy and its decision.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::http::RateLimitHeaders;
/// use keyrate::limit::{Policy, SlidingWindow};
/// use keyrate::time::Instant;
///
/// let policy: Policy<[u64; 60]> = Policy::new()
///     .with("hourly", SlidingWindow::new(60, Duration::from_secs(3600))?)?;
/// let mut state = policy.new_state();
/// let decision = policy.check(&mut state, Instant::from_secs(0), 60)?;
/// let decision = policy.check(&mut state, Instant::from_secs(1), 1)?;
/// let headers = RateLimitHeaders::new(&policy, &decision);
///
/// let mut value = String::new();
/// headers.write_rate_limit(&mut value)?;
/// assert_eq!(headers.status(), 429);
/// assert_eq!(value, r#""hourly";r=0;t=3599"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RateLimitHeaders<'a, S, const N: usize> {
    policy: &'a Policy<S, N>,
    decision: &'a PolicyDecision<N>,
}

impl<'a, S: Slots, const N: usize> RateLimitHeaders<'a, S, N> {
    /// Headers for `decision`, which `policy` made.
    pub fn new(policy: &'a Policy<S, N>, decision: &'a PolicyDecision<N>) -> Self {
        RateLimitHeaders { policy, decision }
    }

    /// 200 when allowed, 429 when denied.
    pub fn status(&self) -> u16 {
        if self.decision.is_allowed() {
            OK
        } else {
            TOO_MANY_REQUESTS
        }
    }

    /// The `Retry-After` value in whole seconds (rounded up, at least 1), or
    /// `None` when the request was allowed.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.decision.retry_after().map(|d| ceil_secs(d).max(1))
    }

    /// Writes the `Retry-After` value; writes nothing when allowed.
    ///
    /// # Errors
    ///
    /// Whatever `w` returns.
    pub fn write_retry_after(&self, w: &mut impl Write) -> fmt::Result {
        match self.retry_after_secs() {
            Some(secs) => write!(w, "{secs}"),
            None => Ok(()),
        }
    }

    /// Writes the `RateLimit-Policy` value: every limit, in order.
    ///
    /// # Errors
    ///
    /// Whatever `w` returns.
    pub fn write_policy(&self, w: &mut impl Write) -> fmt::Result {
        for (i, (name, limit)) in self.policy.iter().enumerate() {
            let LimitInfo { quota, window } = limit.info();
            let sep = if i == 0 { "" } else { ", " };
            write!(w, "{sep}\"{name}\";q={quota};w={}", ceil_secs(window))?;
        }
        Ok(())
    }

    /// Writes the `RateLimit` value: every limit when allowed, the refusing
    /// limit alone when denied.
    ///
    /// # Errors
    ///
    /// Whatever `w` returns.
    pub fn write_rate_limit(&self, w: &mut impl Write) -> fmt::Result {
        match self.decision {
            PolicyDecision::Allowed(all) => {
                for (i, (a, (name, _))) in all.iter().zip(self.policy.iter()).enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    let t = ceil_secs(a.reset);
                    write!(w, "{sep}\"{name}\";r={};t={t}", a.remaining)?;
                }
                Ok(())
            }
            PolicyDecision::Denied(d) => {
                let name = self.policy.name(d.limit).unwrap_or("limit");
                let t = ceil_secs(d.retry_after).max(1);
                write!(w, "\"{name}\";r={};t={t}", d.remaining)
            }
        }
    }

    /// The single limit the legacy fields describe: the one that refused, or
    /// the one with the least remaining. Returns `(limit, remaining, reset
    /// seconds)`.
    fn legacy(&self) -> Option<(u32, u32, u64)> {
        match self.decision {
            PolicyDecision::Allowed(all) => {
                let (i, a) = all
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, a): &(usize, &Allowed)| a.remaining)?;
                let quota = self.policy.limit(i)?.info().quota;
                Some((quota, a.remaining, ceil_secs(a.reset)))
            }
            PolicyDecision::Denied(d) => {
                let quota = self.policy.limit(d.limit)?.info().quota;
                let t = ceil_secs(d.retry_after).max(1);
                Some((quota, d.remaining, t))
            }
        }
    }

    /// Calls `emit(name, value)` for each header field `options` selects, in
    /// a fixed order: `RateLimit-Policy`, `RateLimit`, `X-RateLimit-*`,
    /// `Retry-After`. Values are formatted into a stack buffer of
    /// [`MAX_VALUE_LEN`] bytes.
    ///
    /// # Errors
    ///
    /// [`fmt::Error`] if a value does not fit the buffer (impossible for
    /// policies of up to four limits).
    pub fn for_each(
        &self,
        options: HeaderOptions,
        mut emit: impl FnMut(&'static str, &str),
    ) -> fmt::Result {
        let mut buf = heapless::String::<MAX_VALUE_LEN>::new();
        let mut field = |name: &'static str,
                         write: &dyn Fn(&mut heapless::String<MAX_VALUE_LEN>) -> fmt::Result|
         -> fmt::Result {
            buf.clear();
            write(&mut buf)?;
            if !buf.is_empty() {
                emit(name, &buf);
            }
            Ok(())
        };
        if options.draft && !self.policy.is_empty() {
            field("RateLimit-Policy", &|b| self.write_policy(b))?;
            field("RateLimit", &|b| self.write_rate_limit(b))?;
        }
        if let (true, Some((limit, remaining, reset))) = (options.legacy, self.legacy()) {
            field("X-RateLimit-Limit", &|b| write!(b, "{limit}"))?;
            field("X-RateLimit-Remaining", &|b| write!(b, "{remaining}"))?;
            field("X-RateLimit-Reset", &|b| write!(b, "{reset}"))?;
        }
        field("Retry-After", &|b| self.write_retry_after(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limit::SlidingWindow;
    use crate::time::Instant;
    use core::time::Duration;

    fn confirmed() -> Policy<[u64; 300]> {
        Policy::new()
            .with(
                "hourly",
                SlidingWindow::new(300, Duration::from_secs(3600)).unwrap(),
            )
            .unwrap()
            .with(
                "burst",
                SlidingWindow::new(60, Duration::from_secs(60)).unwrap(),
            )
            .unwrap()
    }

    fn collect(
        h: &RateLimitHeaders<'_, [u64; 300], 4>,
        o: HeaderOptions,
    ) -> heapless::String<1024> {
        let mut out = heapless::String::new();
        h.for_each(o, |n, v| {
            let _ = writeln!(out, "{n}: {v}");
        })
        .unwrap();
        out
    }

    #[test]
    fn success_lists_every_limit() {
        let p = confirmed();
        let mut s = p.new_state();
        let d = p.check(&mut s, Instant::from_millis(500), 1).unwrap();
        let h = RateLimitHeaders::new(&p, &d);
        let all = HeaderOptions {
            draft: true,
            legacy: true,
        };
        assert_eq!(
            collect(&h, all).as_str(),
            "RateLimit-Policy: \"hourly\";q=300;w=3600, \"burst\";q=60;w=60\n\
             RateLimit: \"hourly\";r=299;t=3600, \"burst\";r=59;t=60\n\
             X-RateLimit-Limit: 60\n\
             X-RateLimit-Remaining: 59\n\
             X-RateLimit-Reset: 60\n"
        );
    }

    #[test]
    fn denial_describes_the_refusing_window() {
        let p = confirmed();
        let mut s = p.new_state();
        p.check(&mut s, Instant::from_secs(0), 60).unwrap();
        let d = p.check(&mut s, Instant::from_millis(48_500), 1).unwrap();
        let h = RateLimitHeaders::new(&p, &d);
        assert_eq!(h.status(), 429);
        assert_eq!(
            collect(&h, HeaderOptions::default()).as_str(),
            "RateLimit-Policy: \"hourly\";q=300;w=3600, \"burst\";q=60;w=60\n\
             RateLimit: \"burst\";r=0;t=12\n\
             Retry-After: 12\n"
        );
    }
}
