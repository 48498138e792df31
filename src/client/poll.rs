//! Polling an authorization request the way an OAuth device client polls
//! its token endpoint (RFC 8628 §3.5).
//!
//! The rules, from the client's side:
//!
//! - wait at least the interval between two polls: the one the server gave,
//!   or 5 seconds ([`DEFAULT_INTERVAL`]) if it gave none;
//! - `authorization_pending`: poll again after the interval;
//! - `slow_down`: add 5 seconds ([`SLOW_DOWN_STEP`]) to the interval, for
//!   this and every later poll;
//! - `access_denied`, `expired_token`, or any other error code: stop;
//! - a key issued: stop, with it;
//! - no answer (a connection timeout): poll less often; the RFC recommends
//!   doubling the interval, which this does, for good;
//! - once the request's own lifetime is over (`expires_in`), stop.
//!
//! The first poll is due one interval after the request was made: a user
//! cannot approve it sooner than that anyway.
//!
//! # Examples
//!
//! ```
//! use keyrate::client::{Poll, PollAnswer, PollOutcome, PollStep};
//! use keyrate::time::Instant;
//!
//! let t0 = Instant::from_secs(0);
//! let mut poll = Poll::new(t0, None).expiring_at(Instant::from_secs(600));
//! assert_eq!(poll.next_poll_at(t0), Some(Instant::from_secs(5)));
//!
//! let step = poll.on_answer(Instant::from_secs(5), PollAnswer::from_error_code("slow_down"));
//! assert_eq!(step, PollStep::PollAt(Instant::from_secs(15)));
//!
//! let step = poll.on_answer(Instant::from_secs(15), PollAnswer::Issued);
//! assert_eq!(step, PollStep::Done(PollOutcome::Issued));
//! assert_eq!(poll.next_poll_at(Instant::from_secs(15)), None);
//! ```

use core::fmt;
use core::time::Duration;

use crate::time::Instant;

/// The interval when the server gives none (RFC 8628 §3.2).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// What `slow_down` adds to the interval, for good (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// The shortest interval after a connection timeout, so that doubling an
/// interval of zero still slows down.
const MIN_BACKOFF: Duration = Duration::from_secs(1);

/// The answer to one poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PollAnswer {
    /// `authorization_pending`: not approved yet; poll again.
    Pending,
    /// `slow_down`: not approved yet, and polls came too fast.
    SlowDown,
    /// `access_denied`: the user refused.
    Denied,
    /// `expired_token`: the request's lifetime is over.
    Expired,
    /// Success: the key was issued (the caller keeps it; this type never
    /// holds a secret).
    Issued,
    /// No answer arrived: a connection timeout.
    Timeout,
    /// Any other error code (such as RFC 6749 §5.2's `invalid_grant`), or
    /// an answer that could not be read.
    Failed,
}

impl PollAnswer {
    /// The answer an RFC 8628 error code stands for; any code but the four
    /// of RFC 8628 §3.5 is [`PollAnswer::Failed`]. Codes are compared
    /// exactly, as RFC 6749 §5.2 spells them.
    ///
    /// # Examples
    ///
    /// ```
    /// use keyrate::client::PollAnswer;
    ///
    /// assert_eq!(PollAnswer::from_error_code("authorization_pending"), PollAnswer::Pending);
    /// assert_eq!(PollAnswer::from_error_code("invalid_grant"), PollAnswer::Failed);
    /// assert_eq!(PollAnswer::from_error_code("Slow_Down"), PollAnswer::Failed);
    /// ```
    pub fn from_error_code(code: &str) -> PollAnswer {
        match code {
            "authorization_pending" => PollAnswer::Pending,
            "slow_down" => PollAnswer::SlowDown,
            "access_denied" => PollAnswer::Denied,
            "expired_token" => PollAnswer::Expired,
            _ => PollAnswer::Failed,
        }
    }

    /// The RFC 8628 error code of this answer, if it has one.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            PollAnswer::Pending => Some("authorization_pending"),
            PollAnswer::SlowDown => Some("slow_down"),
            PollAnswer::Denied => Some("access_denied"),
            PollAnswer::Expired => Some("expired_token"),
            PollAnswer::Issued | PollAnswer::Timeout | PollAnswer::Failed => None,
        }
    }
}

/// Why polling stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PollOutcome {
    /// The key was issued.
    Issued,
    /// The user refused.
    Denied,
    /// The request expired, by the server's word or by its lifetime.
    Expired,
    /// The server answered with another error.
    Failed,
}

impl fmt::Display for PollOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PollOutcome::Issued => "the key was issued",
            PollOutcome::Denied => "the authorization request was denied",
            PollOutcome::Expired => "the authorization request expired",
            PollOutcome::Failed => "the authorization request failed",
        })
    }
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PollStep {
    /// Poll at this instant (or later).
    PollAt(Instant),
    /// Stop polling.
    Done(PollOutcome),
}

/// The client's side of polling one authorization request.
///
/// See the [module docs](self) for the rules it follows. A `now` earlier
/// than one already seen is taken as the latest seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Poll {
    interval: Duration,
    next_at: Instant,
    expires_at: Option<Instant>,
    latest: Instant,
    outcome: Option<PollOutcome>,
}

impl Poll {
    /// Polling for a request made at `now`, with the server's interval
    /// (`None`: [`DEFAULT_INTERVAL`]).
    pub fn new(now: Instant, interval: Option<Duration>) -> Poll {
        let interval = interval.unwrap_or(DEFAULT_INTERVAL);
        Poll {
            interval,
            next_at: now.saturating_add(interval),
            expires_at: None,
            latest: now,
            outcome: None,
        }
    }

    /// Stops polling at `expires_at`, when the request's lifetime is over:
    /// from then on, and as soon as the next poll would come too late, the
    /// step is [`PollOutcome::Expired`].
    pub fn expiring_at(mut self, expires_at: Instant) -> Poll {
        self.expires_at = Some(expires_at);
        self
    }

    /// The current interval between polls.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// What to do at `now`.
    pub fn step(&self, now: Instant) -> PollStep {
        if let Some(outcome) = self.outcome {
            return PollStep::Done(outcome);
        }
        let now = now.max(self.latest);
        match self.expires_at {
            Some(end) if now >= end || self.next_at >= end => PollStep::Done(PollOutcome::Expired),
            _ => PollStep::PollAt(self.next_at),
        }
    }

    /// When to poll next, or `None` once polling is over.
    pub fn next_poll_at(&self, now: Instant) -> Option<Instant> {
        match self.step(now) {
            PollStep::PollAt(at) => Some(at),
            PollStep::Done(_) => None,
        }
    }

    /// How long to wait from `now` before polling (zero: poll now), or
    /// `None` once polling is over.
    pub fn delay(&self, now: Instant) -> Option<Duration> {
        self.next_poll_at(now)
            .map(|at| at.saturating_duration_since(now))
    }

    /// Why polling stopped, if it has by `now`.
    pub fn outcome(&self, now: Instant) -> Option<PollOutcome> {
        match self.step(now) {
            PollStep::PollAt(_) => None,
            PollStep::Done(outcome) => Some(outcome),
        }
    }

    /// Records the answer to a poll, received at `now`, and says what to do
    /// next. The interval is counted from the answer, which is never
    /// earlier than the poll. Once polling is over, answers change nothing.
    pub fn on_answer(&mut self, now: Instant, answer: PollAnswer) -> PollStep {
        if let Some(outcome) = self.outcome {
            return PollStep::Done(outcome);
        }
        let now = now.max(self.latest);
        self.latest = now;

        // Ending answers first; the rest set when to poll again.
        let outcome = match answer {
            PollAnswer::Issued => Some(PollOutcome::Issued),
            PollAnswer::Denied => Some(PollOutcome::Denied),
            PollAnswer::Expired => Some(PollOutcome::Expired),
            PollAnswer::Failed => Some(PollOutcome::Failed),
            PollAnswer::Pending => None,
            PollAnswer::SlowDown => {
                self.interval = self.interval.saturating_add(SLOW_DOWN_STEP);
                None
            }
            PollAnswer::Timeout => {
                self.interval = self.interval.saturating_mul(2).max(MIN_BACKOFF);
                None
            }
        };
        match outcome {
            Some(o) => self.outcome = Some(o),
            None => self.next_at = now.saturating_add(self.interval),
        }
        self.step(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Instant {
        Instant::from_secs(s)
    }

    #[test]
    fn error_codes_round_trip() {
        for a in [
            PollAnswer::Pending,
            PollAnswer::SlowDown,
            PollAnswer::Denied,
            PollAnswer::Expired,
        ] {
            let code = a.error_code().unwrap();
            assert_eq!(PollAnswer::from_error_code(code), a);
        }
    }

    #[test]
    fn pending_keeps_the_interval_and_slow_down_grows_it_for_good() {
        let mut p = Poll::new(secs(0), Some(Duration::from_secs(3)));
        assert_eq!(
            p.on_answer(secs(3), PollAnswer::Pending),
            PollStep::PollAt(secs(6))
        );
        assert_eq!(
            p.on_answer(secs(6), PollAnswer::SlowDown),
            PollStep::PollAt(secs(14))
        );
        assert_eq!(
            p.on_answer(secs(14), PollAnswer::Pending),
            PollStep::PollAt(secs(22))
        );
        assert_eq!(
            p.on_answer(secs(22), PollAnswer::SlowDown),
            PollStep::PollAt(secs(35))
        );
        assert_eq!(p.interval(), Duration::from_secs(13));
    }

    #[test]
    fn timeouts_double_the_interval() {
        let mut p = Poll::new(secs(0), Some(Duration::ZERO));
        assert_eq!(
            p.on_answer(secs(0), PollAnswer::Timeout),
            PollStep::PollAt(secs(1))
        );
        assert_eq!(
            p.on_answer(secs(1), PollAnswer::Timeout),
            PollStep::PollAt(secs(3))
        );
    }

    #[test]
    fn denied_expired_and_unknown_errors_stop_polling_for_good() {
        for (answer, outcome) in [
            (PollAnswer::Denied, PollOutcome::Denied),
            (PollAnswer::Expired, PollOutcome::Expired),
            (PollAnswer::Failed, PollOutcome::Failed),
        ] {
            let mut p = Poll::new(secs(0), None);
            assert_eq!(p.on_answer(secs(5), answer), PollStep::Done(outcome));
            assert_eq!(
                p.on_answer(secs(10), PollAnswer::Issued),
                PollStep::Done(outcome)
            );
            assert_eq!(p.next_poll_at(secs(10)), None);
        }
    }

    #[test]
    fn polling_stops_when_the_next_poll_would_come_after_expiry() {
        let mut p = Poll::new(secs(0), None).expiring_at(secs(12));
        assert_eq!(
            p.on_answer(secs(5), PollAnswer::Pending),
            PollStep::PollAt(secs(10))
        );
        let step = p.on_answer(secs(10), PollAnswer::SlowDown);
        assert_eq!(step, PollStep::Done(PollOutcome::Expired));
    }

    #[test]
    fn a_late_issue_still_counts() {
        let mut p = Poll::new(secs(0), None).expiring_at(secs(6));
        assert_eq!(p.outcome(secs(6)), Some(PollOutcome::Expired));
        let step = p.on_answer(secs(7), PollAnswer::Issued);
        assert_eq!(step, PollStep::Done(PollOutcome::Issued));
    }

    #[test]
    fn an_answer_stamped_in_the_past_counts_from_the_latest_time() {
        let mut p = Poll::new(secs(100), None);
        assert_eq!(
            p.on_answer(secs(3), PollAnswer::Pending),
            PollStep::PollAt(secs(105))
        );
    }
}
