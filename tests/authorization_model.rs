//! Model-based property test of authorization requests (RFC 8628 model).
//!
//! Random sequences of polls, approvals, denials and expiry sweeps at random
//! times, some stamped earlier than the previous call, are applied to the
//! real request and to a reference model written here from the rules: a
//! handful of facts (approved with which key, denied, delivered, expiry
//! recorded, last poll, latest time seen) from which every answer is derived.
//!
//! Besides agreeing with the model answer for answer, a ledger checks over
//! the whole life of each request: the key is delivered at most once and
//! only the approved one; the revoke handle is produced at most once, only
//! for an approved key never delivered; at the end every approved key was
//! either delivered or handed back for revocation, exactly one of the two;
//! the first poll is never throttled; every slow_down raises the interval by
//! 5 s for good; an error changes nothing.

use core::time::Duration;

use keyrate::credential::authorization::{
    ApproveError, AuthorizationConfig, AuthorizationRequest, DecideError, ExpireError, PollAnswer,
    RequestStatus, SLOW_DOWN_STEP,
};
use keyrate::time::Instant;
use proptest::prelude::*;

const SEC: u64 = 1_000_000_000;
const MINUTE: u64 = 60 * SEC;
const STEP: u64 = 5 * SEC;

// ---- reference model -----------------------------------------------------

#[derive(Clone, Debug, Default)]
struct Model {
    end: u64,
    interval: u64,
    latest: u64,
    last_poll: Option<u64>,
    approved: Option<u32>,
    denied: bool,
    delivered: bool,
    /// The expiry has been recorded by a poll or a sweep.
    closed: bool,
}

impl Model {
    /// Judges late-stamped calls at the latest time seen.
    fn at(&self, now: u64) -> u64 {
        now.max(self.latest)
    }

    fn over(&self, now: u64) -> bool {
        self.closed || self.at(now) >= self.end
    }

    fn decide(&self, now: u64) -> Result<(), DecideError> {
        if self.delivered {
            Err(DecideError::AlreadyApproved)
        } else if self.over(now) {
            Err(DecideError::Expired)
        } else if self.approved.is_some() {
            Err(DecideError::AlreadyApproved)
        } else if self.denied {
            Err(DecideError::AlreadyDenied)
        } else {
            Ok(())
        }
    }

    fn status(&self, now: u64) -> RequestStatus {
        if self.delivered {
            RequestStatus::Delivered
        } else if self.over(now) {
            RequestStatus::Expired
        } else if self.approved.is_some() {
            RequestStatus::Approved
        } else if self.denied {
            RequestStatus::Denied
        } else {
            RequestStatus::Pending
        }
    }

    fn poll(&mut self, now: u64) -> PollAnswer<u32> {
        let t = self.at(now);
        self.latest = t;
        if self.delivered {
            return PollAnswer::AlreadyDelivered;
        }
        if self.closed {
            return PollAnswer::Expired { revoke: None };
        }
        if t >= self.end {
            self.closed = true;
            return PollAnswer::Expired {
                revoke: self.approved,
            };
        }
        if self.denied {
            return PollAnswer::Denied;
        }
        if let Some(key) = self.approved {
            self.delivered = true;
            return PollAnswer::Issued(key);
        }
        let previous = self.last_poll.replace(t);
        match previous {
            Some(p) if t < p.saturating_add(self.interval) => {
                self.interval += STEP;
                PollAnswer::SlowDown {
                    interval: Duration::from_nanos(self.interval),
                }
            }
            _ => PollAnswer::Pending,
        }
    }

    fn expire(&mut self, now: u64) -> Result<Option<u32>, ExpireError> {
        let t = self.at(now);
        if self.delivered || self.closed {
            return Err(ExpireError::AlreadyEnded);
        }
        if t < self.end {
            return Err(ExpireError::NotYetExpired);
        }
        self.latest = t;
        self.closed = true;
        Ok(self.approved)
    }
}

// ---- events ----------------------------------------------------------------

#[derive(Clone, Debug)]
enum Event {
    Wait(u64),
    Rewind(u64),
    Poll,
    Approve,
    Deny,
    Expire,
}

fn step() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(SEC),
        Just(STEP - 1),
        Just(STEP),
        0..=20 * SEC,
        Just(10 * MINUTE - 1),
        0..=11 * MINUTE,
    ]
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => step().prop_map(Event::Wait),
        1 => (0..=30 * SEC).prop_map(Event::Rewind),
        6 => Just(Event::Poll),
        1 => Just(Event::Approve),
        1 => Just(Event::Deny),
        1 => Just(Event::Expire),
    ]
}

fn config() -> impl Strategy<Value = AuthorizationConfig> {
    (
        prop_oneof![Just(30 * SEC), Just(10 * MINUTE)],
        prop_oneof![Just(SEC), Just(STEP)],
    )
        .prop_map(|(expires_in, interval)| {
            AuthorizationConfig::new(
                Duration::from_nanos(expires_in),
                Duration::from_nanos(interval),
            )
            .expect("valid by construction")
        })
}

// ---- the ledger ------------------------------------------------------------

/// What happened to keys over a request's life, kept by the test itself.
#[derive(Default)]
struct Ledger {
    approved: Option<u32>,
    delivered: Vec<u32>,
    handed_back: Vec<u32>,
    polls: usize,
    slow_downs: u32,
}

impl Ledger {
    fn record(&mut self, answer: &PollAnswer<u32>) -> Result<(), TestCaseError> {
        self.polls += 1;
        match *answer {
            PollAnswer::Issued(k) => {
                prop_assert_eq!(Some(k), self.approved, "delivered a key never approved");
                self.delivered.push(k);
            }
            PollAnswer::Expired { revoke: Some(k) } => self.handed_back(k)?,
            PollAnswer::SlowDown { .. } => {
                prop_assert!(self.polls > 1, "the first poll was throttled");
                self.slow_downs += 1;
            }
            _ => {}
        }
        prop_assert!(
            self.delivered.len() <= 1,
            "delivered twice: {:?}",
            self.delivered
        );
        Ok(())
    }

    fn handed_back(&mut self, k: u32) -> Result<(), TestCaseError> {
        prop_assert_eq!(Some(k), self.approved, "handed back a key never approved");
        prop_assert!(self.delivered.is_empty(), "handed back a delivered key");
        self.handed_back.push(k);
        prop_assert!(self.handed_back.len() <= 1, "handed back twice");
        Ok(())
    }
}

// ---- the test --------------------------------------------------------------

fn run(config: AuthorizationConfig, start: u64, events: &[Event]) -> Result<(), TestCaseError> {
    let mut real: AuthorizationRequest<u32> =
        AuthorizationRequest::new(&config, [0x42; 32], Instant::from_nanos(start));
    let mut model = Model {
        end: start.saturating_add(config.expires_in().as_nanos() as u64),
        interval: config.interval().as_nanos() as u64,
        latest: start,
        ..Model::default()
    };
    let mut ledger = Ledger::default();
    let mut now = start;
    let mut next_key = 0u32;

    for event in events {
        let t = Instant::from_nanos(now);
        let before = real.clone();
        let mut failed = false;
        match event {
            Event::Wait(d) => now = now.saturating_add(*d),
            Event::Rewind(d) => now = now.saturating_sub(*d),
            Event::Poll => {
                let answer = real.poll(t);
                prop_assert_eq!(&answer, &model.poll(now));
                ledger.record(&answer)?;
            }
            Event::Approve => {
                next_key += 1;
                let expected = model.decide(now);
                prop_assert_eq!(real.decidable(t), expected);
                let result = real.approve(next_key, t);
                match expected {
                    Ok(()) => {
                        prop_assert_eq!(result, Ok(()));
                        model.latest = model.at(now);
                        model.approved = Some(next_key);
                        ledger.approved = Some(next_key);
                    }
                    Err(reason) => {
                        let key = next_key;
                        prop_assert_eq!(result, Err(ApproveError { reason, key }));
                        failed = true;
                    }
                }
            }
            Event::Deny => {
                let expected = model.decide(now);
                prop_assert_eq!(real.deny(t), expected);
                if expected.is_ok() {
                    model.latest = model.at(now);
                    model.denied = true;
                } else {
                    failed = true;
                }
            }
            Event::Expire => {
                let result = real.expire(t);
                prop_assert_eq!(result, model.expire(now));
                match result {
                    Ok(Some(k)) => ledger.handed_back(k)?,
                    Ok(None) => {}
                    Err(_) => failed = true,
                }
            }
        }

        // An error changes nothing, not even the latest time seen.
        if failed {
            prop_assert_eq!(&real, &before);
        }

        // Same standing as the model; the interval only ever grows, by 5 s
        // per slow_down.
        prop_assert_eq!(real.status(Instant::from_nanos(now)), model.status(now));
        let grown = config.interval() + SLOW_DOWN_STEP * ledger.slow_downs;
        prop_assert_eq!(real.interval(), grown);
    }

    // Sweep at the end of time: every approved key was either delivered or
    // handed back for revocation, exactly once, and never both.
    let end = Instant::MAX;
    if let Ok(Some(k)) = real.expire(end) {
        ledger.handed_back(k)?;
    }
    let last = real.poll(end);
    ledger.record(&last)?;
    prop_assert!(last.is_final());
    let outcomes = ledger.delivered.len() + ledger.handed_back.len();
    prop_assert_eq!(outcomes, usize::from(ledger.approved.is_some()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn authorization_request_matches_the_model(
        config in config(),
        start in prop_oneof![Just(0u64), 0..=u64::MAX / 2, Just(u64::MAX - 20 * SEC)],
        events in proptest::collection::vec(event(), 1..50),
    ) {
        run(config, start, &events)?;
    }
}
