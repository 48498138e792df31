//! Model-based property test of the key lifecycle.
//!
//! Random sequences of events (issue each kind, authorize, confirm, revoke)
//! at random times, some of them going backwards, are applied to one account
//! of the real state machine and to a reference model written here. The
//! model is deliberately shaped differently: it never mutates a key on
//! confirmation, it keeps the history (who was issued when, as what, when the
//! account was confirmed, which keys were revoked before that) and derives
//! each key's status from it on demand.
//!
//! Checked after every event, for every key and at several probe instants:
//! the real status equals the model's; nothing is valid after revocation or
//! at or past the end of its kind's lifetime; an expiry never moves earlier
//! (confirmation never shortens a life); no session key becomes permanent;
//! issuing leaves every other record unchanged; an error changes nothing.

use core::time::Duration;

use keyrate::credential::authorization::{Authorization, AuthorizationConfig, authorize};
use keyrate::credential::lifecycle::{
    Account, AlreadyConfirmed, CapReached, ConfirmedFrom, IssueError, KeyKind, KeyRecord,
    KeyStatus, Lifetimes, RevokeError, live_pre_confirmation,
};
use keyrate::time::Instant;
use proptest::prelude::*;

const HOUR: u64 = 3_600_000_000_000;
const SEC: u64 = 1_000_000_000;

// ---- reference model -----------------------------------------------------

/// How a key was issued, as the model remembers it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Issued {
    Pre,
    Session,
    Permanent,
}

#[derive(Clone, Debug)]
struct ModelKey {
    issued: Issued,
    at: u64,
    /// The revocation's time and its place in the event sequence.
    revoked: Option<(u64, usize)>,
}

/// The spec, restated over plain nanoseconds.
#[derive(Clone, Debug)]
struct Model {
    pre: u64,
    confirmed: u64,
    from_confirmation: bool,
    cap: usize,
    /// The confirmation's time and its place in the event sequence.
    confirmation: Option<(u64, usize)>,
    keys: Vec<ModelKey>,
}

/// What the model says about a key at an instant.
#[derive(Clone, Copy, Debug, PartialEq)]
struct ModelStatus {
    kind: KeyKind,
    /// Exclusive end of life; `None` for permanent keys.
    end: Option<u64>,
    revoked_at: Option<u64>,
}

fn plus(t: u64, d: u64) -> u64 {
    t.saturating_add(d)
}

impl Model {
    /// Whether the pre-confirmation key `k` was upgraded by the confirmation:
    /// it was confirmed, not revoked before it, and alive when it came.
    fn upgraded(&self, k: &ModelKey) -> Option<u64> {
        let (c, c_seq) = self.confirmation?;
        let revoked_first = k.revoked.is_some_and(|(_, r_seq)| r_seq < c_seq);
        let alive = c < plus(k.at, self.pre);
        (k.issued == Issued::Pre && !revoked_first && alive).then_some(c)
    }

    fn status(&self, k: &ModelKey) -> ModelStatus {
        let (kind, end) = match k.issued {
            Issued::Permanent => (KeyKind::Permanent, None),
            Issued::Session => (KeyKind::Confirmed, Some(plus(k.at, self.confirmed))),
            Issued::Pre => match self.upgraded(k) {
                None => (KeyKind::PreConfirmation, Some(plus(k.at, self.pre))),
                Some(c) => {
                    let anchor = if self.from_confirmation {
                        c.max(k.at)
                    } else {
                        k.at
                    };
                    (KeyKind::Confirmed, Some(plus(anchor, self.confirmed)))
                }
            },
        };
        ModelStatus {
            kind,
            end,
            revoked_at: k.revoked.map(|(t, _)| t),
        }
    }

    fn valid(&self, k: &ModelKey, now: u64) -> bool {
        let s = self.status(k);
        s.revoked_at.is_none() && s.end.is_none_or(|end| now < end)
    }

    fn live_pre(&self, now: u64) -> usize {
        self.keys
            .iter()
            .filter(|k| self.valid(k, now) && self.status(k).kind == KeyKind::PreConfirmation)
            .count()
    }

    /// The model's prediction for issuing a pre-confirmation key.
    fn can_issue_pre(&self, now: u64) -> Result<(), IssueError> {
        if self.confirmation.is_some() {
            Err(IssueError::AccountConfirmed)
        } else if self.live_pre(now) >= self.cap {
            Err(IssueError::CapReached(CapReached {
                cap: self.cap as u32,
            }))
        } else {
            Ok(())
        }
    }
}

fn expected_status(s: ModelStatus, now: u64) -> KeyStatus {
    if let Some(r) = s.revoked_at {
        return KeyStatus::Revoked {
            kind: s.kind,
            revoked_at: Instant::from_nanos(r),
        };
    }
    match s.end {
        Some(end) if now >= end => KeyStatus::Expired {
            kind: s.kind,
            expired_at: Instant::from_nanos(end),
        },
        end => KeyStatus::Valid {
            kind: s.kind,
            expires_at: end.map(Instant::from_nanos),
        },
    }
}

// ---- events ----------------------------------------------------------------

#[derive(Clone, Debug)]
enum Event {
    /// Moves the clock forward.
    Wait(u64),
    /// Moves the clock back (a late-stamped call).
    Rewind(u64),
    IssuePre,
    IssueSession,
    IssuePermanent,
    Authorize,
    Confirm,
    Revoke(usize),
}

/// Durations around the interesting boundaries.
fn step() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0),
        Just(1),
        1..=60 * SEC,
        Just(HOUR),
        Just(2 * HOUR - 1),
        Just(2 * HOUR),
        Just(12 * HOUR),
        0..=13 * HOUR,
    ]
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => step().prop_map(Event::Wait),
        1 => (0..=2 * HOUR).prop_map(Event::Rewind),
        4 => Just(Event::IssuePre),
        1 => Just(Event::IssueSession),
        1 => Just(Event::IssuePermanent),
        2 => Just(Event::Authorize),
        1 => Just(Event::Confirm),
        2 => any::<usize>().prop_map(Event::Revoke),
    ]
}

fn lifetimes() -> impl Strategy<Value = Lifetimes> {
    (
        prop_oneof![Just(HOUR), Just(2 * HOUR)],
        prop_oneof![Just(0), Just(HOUR), Just(10 * HOUR)],
        any::<bool>(),
        1u32..=5,
    )
        .prop_map(|(pre, extra, from_confirmation, cap)| {
            let anchor = if from_confirmation {
                ConfirmedFrom::Confirmation
            } else {
                ConfirmedFrom::Issue
            };
            let pre_d = Duration::from_nanos(pre);
            let confirmed = Duration::from_nanos(pre + extra);
            Lifetimes::new(pre_d, confirmed, anchor, cap).expect("valid by construction")
        })
}

// ---- the test --------------------------------------------------------------

/// What an event changed, if it succeeded.
enum Change {
    Nothing,
    Issued,
    Confirmed,
    Revoked(usize),
}

struct Run {
    lifetimes: Lifetimes,
    account: Account,
    keys: Vec<KeyRecord>,
    model: Model,
    /// Each key's latest expiry seen, to check it never moves earlier.
    latest_end: Vec<Option<Instant>>,
    now: u64,
}

impl Run {
    fn new(lifetimes: Lifetimes, start: u64) -> Run {
        let model = Model {
            pre: lifetimes.pre_confirmation().as_nanos() as u64,
            confirmed: lifetimes.confirmed().as_nanos() as u64,
            from_confirmation: lifetimes.confirmed_from() == ConfirmedFrom::Confirmation,
            cap: lifetimes.max_live_pre_confirmation() as usize,
            confirmation: None,
            keys: Vec::new(),
        };
        Run {
            lifetimes,
            account: Account::new(),
            keys: Vec::new(),
            model,
            latest_end: Vec::new(),
            now: start,
        }
    }

    fn now(&self) -> Instant {
        Instant::from_nanos(self.now)
    }

    /// Records a key issued by the real machine and by the model.
    fn issued(&mut self, key: KeyRecord, as_: Issued) {
        self.keys.push(key);
        self.model.keys.push(ModelKey {
            issued: as_,
            at: self.now,
            revoked: None,
        });
        self.latest_end.push(key.expires_at());
    }

    /// Applies `event` (the `seq`-th) to both sides and compares outcomes.
    fn apply(&mut self, seq: usize, event: &Event) -> Result<(), TestCaseError> {
        let (account_before, keys_before) = (self.account, self.keys.clone());
        let change = self.apply_to_both(seq, event)?;

        // Only what a success is meant to change has changed.
        let n = keys_before.len();
        match change {
            Change::Nothing => {
                prop_assert_eq!(account_before, self.account);
                prop_assert_eq!(&keys_before[..], &self.keys[..]);
            }
            Change::Issued => {
                prop_assert_eq!(account_before, self.account);
                prop_assert_eq!(self.keys.len(), n + 1);
                prop_assert_eq!(&keys_before[..], &self.keys[..n], "issuing changed a key");
            }
            Change::Revoked(i) => {
                prop_assert_eq!(account_before, self.account);
                for (j, (a, b)) in keys_before.iter().zip(&self.keys).enumerate() {
                    prop_assert!(i == j || a == b, "revoking {} changed key {}", i, j);
                }
            }
            Change::Confirmed => prop_assert_eq!(self.keys.len(), n),
        }
        Ok(())
    }

    fn apply_to_both(&mut self, seq: usize, event: &Event) -> Result<Change, TestCaseError> {
        let now = self.now();
        match *event {
            Event::Wait(d) => self.now = self.now.saturating_add(d),
            Event::Rewind(d) => self.now = self.now.saturating_sub(d),
            Event::IssuePre => {
                let real = self
                    .lifetimes
                    .issue_pre_confirmation(&self.account, &self.keys, now);
                let expected = self.model.can_issue_pre(self.now);
                prop_assert_eq!(real.map(|_| ()), expected);
                if let Ok(key) = real {
                    self.issued(key, Issued::Pre);
                    return Ok(Change::Issued);
                }
            }
            Event::IssueSession | Event::IssuePermanent => {
                let (real, as_) = if matches!(event, Event::IssueSession) {
                    (
                        self.lifetimes.issue_confirmed(&self.account, now),
                        Issued::Session,
                    )
                } else {
                    (
                        self.lifetimes.issue_permanent(&self.account, now),
                        Issued::Permanent,
                    )
                };
                let expected = match self.model.confirmation {
                    Some(_) => Ok(()),
                    None => Err(IssueError::AccountUnconfirmed),
                };
                prop_assert_eq!(real.map(|_| ()), expected);
                if let Ok(key) = real {
                    self.issued(key, as_);
                    return Ok(Change::Issued);
                }
            }
            Event::Authorize => return self.authorize(now),
            Event::Confirm => {
                let expected = match self.model.confirmation {
                    Some(_) => Err(AlreadyConfirmed),
                    None => Ok(self.model.live_pre(self.now)),
                };
                let real = self
                    .lifetimes
                    .confirm(&mut self.account, &mut self.keys, now);
                prop_assert_eq!(real, expected);
                if real.is_ok() {
                    self.model.confirmation = Some((self.now, seq));
                    return Ok(Change::Confirmed);
                }
            }
            Event::Revoke(i) => {
                if self.keys.is_empty() {
                    return Ok(Change::Nothing);
                }
                let i = i % self.keys.len();
                let s = self.model.status(&self.model.keys[i]);
                let expected = if s.revoked_at.is_some() {
                    Err(RevokeError::AlreadyRevoked)
                } else if s.end.is_some_and(|end| self.now >= end) {
                    Err(RevokeError::Expired)
                } else {
                    Ok(())
                };
                let real = self.keys[i].revoke(now);
                prop_assert_eq!(real, expected);
                if real.is_ok() {
                    self.model.keys[i].revoked = Some((self.now, seq));
                    return Ok(Change::Revoked(i));
                }
            }
        }
        Ok(Change::Nothing)
    }

    fn authorize(&mut self, now: Instant) -> Result<Change, TestCaseError> {
        let account = if self.keys.is_empty() && self.model.confirmation.is_none() {
            None // an email never seen
        } else {
            Some(&self.account)
        };
        let real = authorize::<(), _>(
            &self.lifetimes,
            &AuthorizationConfig::DEFAULT,
            account,
            &self.keys,
            [7; 32],
            now,
        );
        match (real, self.model.confirmation) {
            (Ok(Authorization::Request(r)), Some(_)) => {
                prop_assert_eq!(r.created_at(), now);
            }
            (Ok(Authorization::PreConfirmationKey(key)), None) => {
                prop_assert_eq!(self.model.can_issue_pre(self.now), Ok(()));
                self.issued(key, Issued::Pre);
                return Ok(Change::Issued);
            }
            (Err(e), None) => {
                prop_assert_eq!(
                    self.model.can_issue_pre(self.now),
                    Err(IssueError::CapReached(e))
                );
            }
            (other, confirmation) => {
                prop_assert!(false, "authorize gave {:?} for {:?}", other, confirmation);
            }
        }
        Ok(Change::Nothing)
    }

    /// Compares every key with the model and checks the invariants.
    fn check(&mut self) -> Result<(), TestCaseError> {
        let now = self.now;
        let confirmed_at = self.model.confirmation.map(|(c, _)| Instant::from_nanos(c));
        prop_assert_eq!(self.account.confirmed_at(), confirmed_at);
        prop_assert_eq!(
            live_pre_confirmation(&self.keys, self.now()),
            self.model.live_pre(now)
        );
        for (i, (key, mk)) in self.keys.iter().zip(&self.model.keys).enumerate() {
            let s = self.model.status(mk);

            // Same status as the model, now and at the edges of its life.
            let mut probes = vec![0, now, u64::MAX, mk.at];
            if let Some(end) = s.end {
                probes.extend([end.saturating_sub(1), end]);
            }
            for t in probes {
                prop_assert_eq!(key.status(Instant::from_nanos(t)), expected_status(s, t));
            }

            // Nothing valid after revocation.
            if key.revoked_at().is_some() {
                prop_assert!(!key.is_valid(Instant::ZERO) && !key.is_valid(Instant::MAX));
            }

            // Nothing valid at or past the cap of its kind.
            let m = &self.model;
            let cap_end = match key.kind() {
                KeyKind::Permanent => None,
                KeyKind::PreConfirmation => Some(plus(mk.at, m.pre)),
                KeyKind::Confirmed => {
                    let anchor = match (mk.issued, m.confirmation) {
                        (Issued::Pre, Some((c, _))) if m.from_confirmation => c.max(mk.at),
                        _ => mk.at,
                    };
                    Some(plus(anchor, m.confirmed))
                }
            };
            if let Some(cap_end) = cap_end {
                prop_assert!(
                    key.expires_at()
                        .is_some_and(|e| e <= Instant::from_nanos(cap_end))
                );
                prop_assert!(!key.is_valid(Instant::from_nanos(cap_end)));
            }

            // A session key never becomes permanent, and a permanent key
            // was always one.
            prop_assert_eq!(
                key.kind() == KeyKind::Permanent,
                mk.issued == Issued::Permanent
            );

            // Expiry never moves earlier (confirmation never shortens).
            let end = key.expires_at();
            prop_assert!(end >= self.latest_end[i], "key {} got shorter", i);
            self.latest_end[i] = end;
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn lifecycle_matches_the_model(
        lifetimes in lifetimes(),
        start in prop_oneof![Just(0u64), 0..=100 * HOUR, Just(u64::MAX - 3 * HOUR)],
        events in proptest::collection::vec(event(), 1..60),
    ) {
        let mut run = Run::new(lifetimes, start);
        for (seq, e) in events.iter().enumerate() {
            run.apply(seq, e)?;
            run.check()?;
        }
    }
}
