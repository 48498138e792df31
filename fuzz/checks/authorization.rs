//! Random event sequences on one authorization request (RFC 8628 model).
//!
//! Polls, approvals, denials, expiry sweeps and status probes come at
//! arbitrary instants, some earlier than the previous call, with an
//! arbitrary configuration. A model kept here from the documented rules
//! predicts every answer; a ledger checks over the request's whole life that
//! the key is delivered at most once and only the approved one; that the
//! revoke-on-expiry hand-back happens at most once, only for an approved key
//! never delivered, and that every approved key ends either delivered or
//! handed back; that nothing is issued or decided at or after expiry; that
//! the first poll is never throttled and each slow_down raises the interval
//! by 5 s for good; and that an error changes nothing. Request ids parse
//! from hex and never show whole in `Debug`.

#![allow(dead_code)]

use core::time::Duration;

use keyrate::credential::authorization::{
    ApproveError, AuthorizationConfig, AuthorizationConfigError, AuthorizationRequest, DecideError,
    ExpireError, PollAnswer, RequestId, RequestStatus, SLOW_DOWN_STEP,
};
use keyrate::credential::lifecycle::MAX_LIFETIME;
use keyrate::time::Instant;

/// Events per case; the rest of the input is ignored.
pub const MAX_EVENTS: usize = 160;

/// One fuzz case.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub struct Input {
    /// How long the request lives, in nanoseconds (`None`: the default).
    pub expires_in: Option<u64>,
    /// The poll interval, in nanoseconds (`None`: the default).
    pub interval: Option<u64>,
    /// When the request opens.
    pub start: u64,
    /// The entropy of its ids.
    pub entropy: [u8; 32],
    /// What happens, in order.
    pub events: Vec<Event>,
    /// Text to parse as a request id.
    pub hex: String,
}

/// One event.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The clock moves forward by this many seconds.
    Wait(u16),
    /// The clock moves forward by this many nanoseconds.
    WaitNanos(u64),
    /// The clock moves back (a late-stamped call).
    Rewind(u64),
    /// The clock jumps anywhere.
    To(u64),
    /// The client polls.
    Poll,
    /// The user approves with a new key.
    Approve,
    /// The user denies.
    Deny,
    /// A sweep records the expiry.
    Expire,
    /// The standing is read at this many nanoseconds from now.
    Status(i64),
}

const STEP: u128 = 5_000_000_000;

/// The rules, over plain nanoseconds.
#[derive(Clone, Debug)]
struct Model {
    end: u64,
    interval: u128,
    latest: u64,
    last_poll: Option<u64>,
    approved: Option<u32>,
    denied: bool,
    delivered: bool,
    /// The expiry was recorded by a poll or a sweep.
    closed: bool,
}

impl Model {
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
            Some(p)
                if u128::from(t) < (u128::from(p) + self.interval).min(u128::from(u64::MAX)) =>
            {
                self.interval += STEP;
                PollAnswer::SlowDown {
                    interval: nanos(self.interval),
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

fn nanos(n: u128) -> Duration {
    let secs = u64::try_from(n / 1_000_000_000).unwrap_or(u64::MAX);
    Duration::new(secs, (n % 1_000_000_000) as u32)
}

/// What happened to keys over the request's life.
#[derive(Default)]
struct Ledger {
    approved: Option<u32>,
    delivered: Vec<u32>,
    handed_back: Vec<u32>,
    polls: usize,
    slow_downs: u32,
}

impl Ledger {
    fn record(&mut self, answer: &PollAnswer<u32>) {
        self.polls += 1;
        match *answer {
            PollAnswer::Issued(k) => {
                assert_eq!(Some(k), self.approved, "delivered a key never approved");
                self.delivered.push(k);
            }
            PollAnswer::Expired { revoke: Some(k) } => self.hand_back(k),
            PollAnswer::SlowDown { .. } => {
                assert!(self.polls > 1, "the first poll was throttled");
                self.slow_downs += 1;
            }
            _ => {}
        }
        assert!(self.delivered.len() <= 1, "delivered twice");
    }

    fn hand_back(&mut self, k: u32) {
        assert_eq!(Some(k), self.approved, "handed back a key never approved");
        assert!(self.delivered.is_empty(), "handed back a delivered key");
        self.handed_back.push(k);
        assert!(self.handed_back.len() <= 1, "handed back twice");
    }
}

/// The configuration a case runs with: its own if valid, else the default.
fn config(input: &Input) -> AuthorizationConfig {
    let d = AuthorizationConfig::DEFAULT;
    let expires_in = input
        .expires_in
        .map_or(d.expires_in(), Duration::from_nanos);
    let interval = input.interval.map_or(d.interval(), Duration::from_nanos);
    let mut allowed = Vec::new();
    if expires_in.is_zero() || interval.is_zero() {
        allowed.push(AuthorizationConfigError::ZeroDuration);
    }
    if expires_in > MAX_LIFETIME || interval > MAX_LIFETIME {
        allowed.push(AuthorizationConfigError::TooLong);
    }
    match AuthorizationConfig::new(expires_in, interval) {
        Ok(c) => {
            assert!(
                allowed.is_empty(),
                "built {c:?}, expected one of {allowed:?}"
            );
            assert_eq!((c.expires_in(), c.interval()), (expires_in, interval));
            c
        }
        Err(e) => {
            assert!(allowed.contains(&e), "{e:?} is not one of {allowed:?}");
            d
        }
    }
}

/// Runs one case.
pub fn run(input: &Input) {
    check_hex(&input.hex);
    let config = config(input);
    let start = input.start;
    let mut real: AuthorizationRequest<u32> =
        AuthorizationRequest::new(&config, input.entropy, Instant::from_nanos(start));
    let end = Instant::from_nanos(start).saturating_add(config.expires_in());
    assert_eq!(real.expires_at(), end);
    check_ids(&real, &input.entropy);
    let mut model = Model {
        end: end.as_nanos(),
        interval: config.interval().as_nanos(),
        latest: start,
        last_poll: None,
        approved: None,
        denied: false,
        delivered: false,
        closed: false,
    };
    let mut ledger = Ledger::default();
    let (mut now, mut next_key) = (start, 0u32);

    for event in input.events.iter().take(MAX_EVENTS) {
        let t = Instant::from_nanos(now);
        let before = real.clone();
        let mut failed = false;
        match *event {
            Event::Wait(s) => now = now.saturating_add(u64::from(s) * 1_000_000_000),
            Event::WaitNanos(n) => now = now.saturating_add(n),
            Event::Rewind(n) => now = now.saturating_sub(n),
            Event::To(x) => now = x,
            Event::Poll => {
                let judged = model.at(now);
                let answer = real.poll(t);
                assert_eq!(answer, model.poll(now), "poll at {now}");
                if judged >= model.end {
                    assert!(
                        !matches!(answer, PollAnswer::Issued(_)),
                        "issued after expiry"
                    );
                }
                ledger.record(&answer);
            }
            Event::Approve => {
                next_key += 1;
                let want = model.decide(now);
                assert_eq!(real.decidable(t), want);
                match (real.approve(next_key, t), want) {
                    (Ok(()), Ok(())) => {
                        model.latest = model.at(now);
                        model.approved = Some(next_key);
                        ledger.approved = Some(next_key);
                    }
                    (Err(e), Err(reason)) => {
                        assert_eq!(
                            e,
                            ApproveError {
                                reason,
                                key: next_key
                            }
                        );
                        failed = true;
                    }
                    (got, want) => panic!("approve gave {got:?}, expected {want:?}"),
                }
            }
            Event::Deny => {
                let want = model.decide(now);
                assert_eq!(real.deny(t), want);
                if want.is_ok() {
                    model.latest = model.at(now);
                    model.denied = true;
                } else {
                    failed = true;
                }
            }
            Event::Expire => {
                let got = real.expire(t);
                assert_eq!(got, model.expire(now));
                match got {
                    Ok(Some(k)) => ledger.hand_back(k),
                    Ok(None) => {}
                    Err(_) => failed = true,
                }
            }
            Event::Status(d) => {
                let probe = now.saturating_add_signed(d);
                assert_eq!(real.status(Instant::from_nanos(probe)), model.status(probe));
                assert_eq!(real, before, "reading the status changed the request");
            }
        }

        // An error changes nothing, not even the latest time seen.
        if failed {
            assert_eq!(real, before, "a failed call changed the request");
        }

        // Same standing as the model; nothing decidable at or after expiry.
        let status = real.status(Instant::from_nanos(now));
        assert_eq!(status, model.status(now));
        if Instant::from_nanos(now) >= end {
            assert!(matches!(
                status,
                RequestStatus::Expired | RequestStatus::Delivered
            ));
            assert!(real.decidable(Instant::from_nanos(now)).is_err());
        }
        let grown = config.interval() + SLOW_DOWN_STEP * ledger.slow_downs;
        assert_eq!(real.interval(), grown);
    }

    // A sweep at the end of time: every approved key ends either delivered
    // or handed back, exactly once.
    if let Ok(Some(k)) = real.expire(Instant::MAX) {
        ledger.hand_back(k);
    }
    let last = real.poll(Instant::MAX);
    ledger.record(&last);
    assert!(last.is_final());
    let outcomes = ledger.delivered.len() + ledger.handed_back.len();
    assert_eq!(outcomes, usize::from(ledger.approved.is_some()));
}

/// The ids come from the entropy, compare equal to themselves, and never
/// show whole in `Debug`.
fn check_ids(r: &AuthorizationRequest<u32>, entropy: &[u8; 32]) {
    assert_eq!(r.poll_id().as_bytes()[..], entropy[..16]);
    assert_eq!(r.approval_id().as_bytes()[..], entropy[16..]);
    let shown = format!("{r:?}");
    for id in [r.poll_id(), r.approval_id()] {
        let mut hex = String::new();
        assert!(id.write_hex(&mut hex).is_ok());
        assert_eq!(RequestId::from_hex(&hex).as_ref(), Ok(id));
        assert!(!shown.contains(&hex[4..]), "{shown} shows an id");
    }
}

/// `from_hex` accepts exactly 32 hex digits, and writes back lowercase.
fn check_hex(text: &str) {
    let valid = text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit());
    match RequestId::from_hex(text) {
        Ok(id) => {
            assert!(valid, "{text:?} accepted");
            let mut hex = String::new();
            assert!(id.write_hex(&mut hex).is_ok());
            assert_eq!(hex, text.to_ascii_lowercase());
        }
        Err(_) => assert!(!valid, "{text:?} refused"),
    }
}
