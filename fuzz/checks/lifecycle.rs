//! Random event sequences on one account's key lifecycle.
//!
//! Events (issue each kind, authorize, confirm, revoke) come at arbitrary
//! instants, some earlier than the previous one, with arbitrary lifetimes.
//! A ledger kept here from the documented rules predicts each outcome and
//! each record; independently of it, after every event and for every key:
//! nothing is valid after revocation, whatever the instant; nothing is
//! valid at or past the cap of its kind; an expiry never moves earlier
//! (confirmation never shortens a life); no session key becomes permanent;
//! expiry is half-open; the count of live pre-confirmation keys agrees; an
//! event that fails changes nothing, and one that succeeds changes only
//! what it is meant to.

#![allow(dead_code)]

use core::time::Duration;

use keyrate::credential::authorization::{Authorization, AuthorizationConfig, authorize};
use keyrate::credential::lifecycle::{
    Account, AlreadyConfirmed, CapReached, ConfirmedFrom, IssueError, KeyKind, KeyRecord,
    KeyStatus, Lifetimes, LifetimesError, MAX_LIFETIME, RevokeError, live_pre_confirmation,
};
use keyrate::time::Instant;

/// Events per case; the rest of the input is ignored.
pub const MAX_EVENTS: usize = 128;

/// One fuzz case.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub struct Input {
    /// Lifetime of a pre-confirmation key.
    pub pre: Life,
    /// Lifetime of a confirmed session.
    pub confirmed: Life,
    /// Whether a confirmed key's life counts from the confirmation.
    pub from_confirmation: bool,
    /// The cap on live pre-confirmation keys.
    pub cap: u8,
    /// The first instant.
    pub start: u64,
    /// What happens, in order.
    pub events: Vec<Event>,
}

/// A lifetime.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Life {
    /// The default for the field.
    Default,
    /// Whole hours.
    Hours(u8),
    /// Any number of nanoseconds.
    Nanos(u64),
    /// Any number of seconds, past the longest lifetime accepted.
    Secs(u64),
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
    /// A pre-confirmation key is asked for.
    IssuePre,
    /// A confirmed session key is asked for.
    IssueSession,
    /// A permanent key is asked for.
    IssuePermanent,
    /// `POST /v1/authorize` for the account's email.
    Authorize,
    /// The email is confirmed.
    Confirm,
    /// Key `n` (modulo the number of keys) is revoked.
    Revoke(u8),
}

impl Life {
    fn duration(self, default: Duration) -> Duration {
        match self {
            Life::Default => default,
            Life::Hours(h) => Duration::from_secs(u64::from(h) * 3600),
            Life::Nanos(n) => Duration::from_nanos(n),
            Life::Secs(s) => Duration::from_secs(s),
        }
    }
}

fn at(t: u64) -> Instant {
    Instant::from_nanos(t)
}

fn plus(t: u64, d: Duration) -> u64 {
    u64::try_from(u128::from(t) + d.as_nanos()).unwrap_or(u64::MAX)
}

/// How a key was issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Issued {
    Pre,
    Session,
    Permanent,
}

/// What the rules say about one key.
#[derive(Clone, Copy, Debug)]
struct Entry {
    issued: Issued,
    at: u64,
    kind: KeyKind,
    /// Exclusive end of life; `None` for a permanent key.
    end: Option<u64>,
    revoked_at: Option<u64>,
    /// The confirmation that upgraded it, if any.
    upgraded_at: Option<u64>,
}

impl Entry {
    fn status(&self, now: u64) -> KeyStatus {
        if let Some(r) = self.revoked_at {
            return KeyStatus::Revoked {
                kind: self.kind,
                revoked_at: at(r),
            };
        }
        match self.end {
            Some(end) if now >= end => KeyStatus::Expired {
                kind: self.kind,
                expired_at: at(end),
            },
            end => KeyStatus::Valid {
                kind: self.kind,
                expires_at: end.map(at),
            },
        }
    }

    fn live_pre(&self, now: u64) -> bool {
        self.kind == KeyKind::PreConfirmation && self.status(now).is_valid()
    }
}

/// The lifetimes a case runs with: its own if valid, else the defaults.
fn lifetimes(input: &Input) -> Lifetimes {
    let d = Lifetimes::DEFAULT;
    let pre = input.pre.duration(d.pre_confirmation());
    let confirmed = input.confirmed.duration(d.confirmed());
    let from = if input.from_confirmation {
        ConfirmedFrom::Confirmation
    } else {
        ConfirmedFrom::Issue
    };
    let cap = u32::from(input.cap);
    let mut allowed = Vec::new();
    if pre.is_zero() || confirmed.is_zero() {
        allowed.push(LifetimesError::ZeroLifetime);
    }
    if pre > MAX_LIFETIME || confirmed > MAX_LIFETIME {
        allowed.push(LifetimesError::LifetimeTooLong);
    }
    if confirmed < pre {
        allowed.push(LifetimesError::ConfirmedShorterThanPreConfirmation);
    }
    if cap == 0 {
        allowed.push(LifetimesError::ZeroCap);
    }
    match Lifetimes::new(pre, confirmed, from, cap) {
        Ok(l) => {
            assert!(
                allowed.is_empty(),
                "built {l:?}, expected one of {allowed:?}"
            );
            assert_eq!(
                (l.pre_confirmation(), l.confirmed(), l.confirmed_from()),
                (pre, confirmed, from)
            );
            assert_eq!(l.max_live_pre_confirmation(), cap);
            l
        }
        Err(e) => {
            assert!(allowed.contains(&e), "{e:?} is not one of {allowed:?}");
            d
        }
    }
}

/// The state of one case: the real records and what the rules predict.
struct Run {
    lifetimes: Lifetimes,
    account: Account,
    keys: Vec<KeyRecord>,
    ledger: Vec<Entry>,
    confirmed_at: Option<u64>,
    /// Each key's latest expiry seen.
    latest_end: Vec<Option<Instant>>,
    now: u64,
}

/// Runs one case.
pub fn run(input: &Input) {
    let mut run = Run {
        lifetimes: lifetimes(input),
        account: Account::new(),
        keys: Vec::new(),
        ledger: Vec::new(),
        confirmed_at: None,
        latest_end: Vec::new(),
        now: input.start,
    };
    for event in input.events.iter().take(MAX_EVENTS) {
        let (account, keys) = (run.account, run.keys.clone());
        let changed = run.apply(*event);
        run.check_changes(&account, &keys, changed);
        run.check_invariants();
    }
}

/// What an event changed, if it succeeded.
#[derive(Clone, Copy, Debug)]
enum Change {
    Nothing,
    Issued,
    Confirmed,
    Revoked(usize),
}

impl Run {
    fn pre(&self) -> Duration {
        self.lifetimes.pre_confirmation()
    }

    fn live_pre(&self) -> usize {
        self.ledger.iter().filter(|e| e.live_pre(self.now)).count()
    }

    /// What issuing a pre-confirmation key must give.
    fn expect_pre(&self) -> Result<(), IssueError> {
        if self.confirmed_at.is_some() {
            return Err(IssueError::AccountConfirmed);
        }
        let cap = self.lifetimes.max_live_pre_confirmation();
        if self.live_pre() >= cap as usize {
            return Err(IssueError::CapReached(CapReached { cap }));
        }
        Ok(())
    }

    /// Records a new key, checking it is what the rules say.
    fn issued(&mut self, key: KeyRecord, issued: Issued) -> Change {
        let now = self.now;
        let (kind, end) = match issued {
            Issued::Pre => (KeyKind::PreConfirmation, Some(plus(now, self.pre()))),
            Issued::Session => (
                KeyKind::Confirmed,
                Some(plus(now, self.lifetimes.confirmed())),
            ),
            Issued::Permanent => (KeyKind::Permanent, None),
        };
        let entry = Entry {
            issued,
            at: now,
            kind,
            end,
            revoked_at: None,
            upgraded_at: None,
        };
        assert_eq!(key.kind(), kind);
        assert_eq!(key.issued_at(), at(now));
        assert_eq!(key.expires_at(), end.map(at));
        assert_eq!(key.revoked_at(), None);
        self.keys.push(key);
        self.ledger.push(entry);
        self.latest_end.push(key.expires_at());
        Change::Issued
    }

    fn apply(&mut self, event: Event) -> Change {
        let now = at(self.now);
        match event {
            Event::Wait(s) => self.now = self.now.saturating_add(u64::from(s) * 1_000_000_000),
            Event::WaitNanos(n) => self.now = self.now.saturating_add(n),
            Event::Rewind(n) => self.now = self.now.saturating_sub(n),
            Event::To(t) => self.now = t,
            Event::IssuePre => {
                let got = self
                    .lifetimes
                    .issue_pre_confirmation(&self.account, &self.keys, now);
                assert_eq!(got.map(|_| ()), self.expect_pre());
                if let Ok(key) = got {
                    return self.issued(key, Issued::Pre);
                }
            }
            Event::IssueSession | Event::IssuePermanent => {
                let (got, issued) = if event == Event::IssueSession {
                    let got = self.lifetimes.issue_confirmed(&self.account, now);
                    (got, Issued::Session)
                } else {
                    let got = self.lifetimes.issue_permanent(&self.account, now);
                    (got, Issued::Permanent)
                };
                let want = match self.confirmed_at {
                    Some(_) => Ok(()),
                    None => Err(IssueError::AccountUnconfirmed),
                };
                assert_eq!(got.map(|_| ()), want);
                if let Ok(key) = got {
                    return self.issued(key, issued);
                }
            }
            Event::Authorize => return self.authorize(),
            Event::Confirm => return self.confirm(),
            Event::Revoke(n) => return self.revoke(usize::from(n)),
        }
        Change::Nothing
    }

    fn authorize(&mut self) -> Change {
        let now = at(self.now);
        let never_seen = self.keys.is_empty() && self.confirmed_at.is_none();
        let account = (!never_seen).then_some(&self.account);
        let config = AuthorizationConfig::DEFAULT;
        let entropy: [u8; 32] = core::array::from_fn(|i| i as u8);
        let got = authorize::<u8, _>(&self.lifetimes, &config, account, &self.keys, entropy, now);
        match (got, self.confirmed_at) {
            (Ok(Authorization::Request(r)), Some(_)) => {
                assert_eq!(r.created_at(), now);
                assert_eq!(r.expires_at(), now.saturating_add(config.expires_in()));
                assert_eq!(r.poll_id().as_bytes()[..], entropy[..16]);
                assert_eq!(r.approval_id().as_bytes()[..], entropy[16..]);
            }
            (Ok(Authorization::PreConfirmationKey(key)), None) => {
                assert_eq!(self.expect_pre(), Ok(()));
                return self.issued(key, Issued::Pre);
            }
            (Err(e), None) => assert_eq!(self.expect_pre(), Err(IssueError::CapReached(e))),
            (other, confirmed) => panic!("authorize gave {other:?}, confirmed {confirmed:?}"),
        }
        Change::Nothing
    }

    fn confirm(&mut self) -> Change {
        let now = self.now;
        let want = match self.confirmed_at {
            Some(_) => Err(AlreadyConfirmed),
            None => Ok(self.live_pre()),
        };
        let got = self
            .lifetimes
            .confirm(&mut self.account, &mut self.keys, at(now));
        assert_eq!(got, want);
        if got.is_err() {
            return Change::Nothing;
        }
        assert_eq!(self.account.confirmed_at(), Some(at(now)));
        self.confirmed_at = Some(now);
        let confirmed = self.lifetimes.confirmed();
        let from = self.lifetimes.confirmed_from();
        for e in self.ledger.iter_mut() {
            if !e.live_pre(now) {
                continue;
            }
            let anchor = match from {
                ConfirmedFrom::Issue => e.at,
                ConfirmedFrom::Confirmation => now.max(e.at),
            };
            e.kind = KeyKind::Confirmed;
            e.end = Some(plus(anchor, confirmed).max(e.end.unwrap_or(0)));
            e.upgraded_at = Some(now);
        }
        Change::Confirmed
    }

    fn revoke(&mut self, n: usize) -> Change {
        if self.keys.is_empty() {
            return Change::Nothing;
        }
        let i = n % self.keys.len();
        let now = self.now;
        let want = match self.ledger[i].status(now) {
            KeyStatus::Revoked { .. } => Err(RevokeError::AlreadyRevoked),
            KeyStatus::Expired { .. } => Err(RevokeError::Expired),
            KeyStatus::Valid { .. } => Ok(()),
        };
        let got = self.keys[i].revoke(at(now));
        assert_eq!(got, want, "revoking key {i} at {now}");
        if got.is_err() {
            return Change::Nothing;
        }
        self.ledger[i].revoked_at = Some(now);
        assert_eq!(self.keys[i].revoked_at(), Some(at(now)));
        Change::Revoked(i)
    }

    /// A failed event changed nothing; a successful one only its part.
    fn check_changes(&self, account: &Account, keys: &[KeyRecord], change: Change) {
        let n = keys.len();
        match change {
            Change::Nothing => {
                assert_eq!(*account, self.account, "a failed event changed the account");
                assert_eq!(keys, &self.keys[..], "a failed event changed a key");
            }
            Change::Issued => {
                assert_eq!(*account, self.account);
                assert_eq!(self.keys.len(), n + 1);
                assert_eq!(keys, &self.keys[..n], "issuing changed another key");
            }
            Change::Revoked(i) => {
                assert_eq!(*account, self.account);
                for (j, (a, b)) in keys.iter().zip(&self.keys).enumerate() {
                    assert!(i == j || a == b, "revoking {i} changed key {j}");
                }
            }
            Change::Confirmed => assert_eq!(self.keys.len(), n),
        }
    }

    /// The invariants, for every key.
    fn check_invariants(&mut self) {
        let now = self.now;
        let live = self.ledger.iter().filter(|e| e.live_pre(now)).count();
        assert_eq!(live_pre_confirmation(&self.keys, at(now)), live);
        assert_eq!(self.account.confirmed_at(), self.confirmed_at.map(at));
        let (pre, confirmed) = (self.pre(), self.lifetimes.confirmed());
        let from = self.lifetimes.confirmed_from();

        for (i, (key, e)) in self.keys.iter().zip(&self.ledger).enumerate() {
            // The record is what the rules predict, at every edge.
            let mut probes = vec![0, 1, now, e.at, u64::MAX, u64::MAX - 1];
            probes.extend(e.end.iter().flat_map(|&x| [x.saturating_sub(1), x]));
            probes.extend(
                e.revoked_at
                    .iter()
                    .flat_map(|&r| [r.saturating_sub(1), r.saturating_add(1)]),
            );
            for &t in &probes {
                let status = key.status(at(t));
                assert_eq!(status, e.status(t), "key {i} at {t}");
                assert_eq!(key.is_valid(at(t)), status.is_valid());

                // Nothing valid after revocation, whatever the instant.
                if key.revoked_at().is_some() {
                    assert!(matches!(status, KeyStatus::Revoked { .. }));
                }

                // Half-open expiry.
                if let (Some(end), true) = (key.expires_at(), status.is_valid()) {
                    assert!(at(t) < end, "key {i} valid at {t}, at or past {end:?}");
                }
            }

            // Nothing outlives the cap of its kind.
            let cap_end = match key.kind() {
                KeyKind::Permanent => None,
                KeyKind::PreConfirmation => Some(plus(e.at, pre)),
                KeyKind::Confirmed => {
                    let anchor = match (e.upgraded_at, from) {
                        (Some(c), ConfirmedFrom::Confirmation) => c.max(e.at),
                        _ => e.at,
                    };
                    Some(plus(anchor, confirmed))
                }
            };
            if let Some(cap_end) = cap_end {
                let end = key.expires_at();
                assert!(
                    end.is_some_and(|x| x <= at(cap_end)),
                    "key {i} outlives its cap"
                );
                assert!(!key.is_valid(at(cap_end)), "key {i} valid at its cap");
            }

            // A permanent key was always one; a session key never becomes one.
            assert_eq!(
                key.kind() == KeyKind::Permanent,
                e.issued == Issued::Permanent
            );

            // Confirmation never shortens a life.
            let end = key.expires_at();
            assert!(end >= self.latest_end[i], "key {i} got shorter");
            self.latest_end[i] = end;
        }
    }
}
