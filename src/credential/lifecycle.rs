//! The lifecycle of keys and accounts: issue, confirm, expire, revoke.
//!
//! A key is one of three kinds (see [`KeyKind`]):
//!
//! | kind | issued | lifetime (default) |
//! |---|---|---|
//! | pre-confirmation session | for an email not yet confirmed | 2 h from issue |
//! | confirmed session | on confirmation, or on approval of a request | 12 h from issue |
//! | permanent | from a dashboard, for a confirmed account | never expires |
//!
//! The rules (DESIGN decisions 2, 3, 4 and 6):
//!
//! - Expiry is half-open: a key is valid while `now < expires_at`.
//! - Confirming an account's email turns every *live* pre-confirmation key of
//!   the account into a confirmed session, valid 12 h from its issue (or,
//!   with [`ConfirmedFrom::Confirmation`], 12 h from the confirmation). A key
//!   that had already expired stays expired. Confirmation never shortens a
//!   lifetime and a key never outlives the cap of its kind.
//! - A session key never becomes permanent; revocation is final; issuing a
//!   key never revokes or changes another.
//! - An account holds at most [`Lifetimes::max_live_pre_confirmation`] live
//!   pre-confirmation keys (5 by default).
//! - An event that does not apply (revoking twice, confirming twice, issuing
//!   the wrong kind for the account) is a typed error and changes nothing.
//!
//! # Storage
//!
//! The library keeps no store. The caller keeps an [`Account`] per email and
//! a [`KeyRecord`] per key (for example keyed by the key's digest); both are
//! small `Copy` values, serializable with the `serde` feature. Operations
//! that concern the whole account ([`Lifetimes::confirm`],
//! [`Lifetimes::issue_pre_confirmation`]) take the account's key records as
//! an iterator, so they work over any store and allocate nothing. Asking
//! whether a key is valid needs only its record: [`KeyRecord::status`].
//!
//! # Examples
//!
//! ```
//! use core::time::Duration;
//! use keyrate::credential::lifecycle::{Account, KeyKind, KeyStatus, Lifetimes};
//! use keyrate::time::Instant;
//!
//! let lifetimes = Lifetimes::default();
//! let mut account = Account::new();
//! let t0 = Instant::from_secs(1_000);
//!
//! // A first key for an unconfirmed email: valid for 2 h.
//! let mut keys = [lifetimes.issue_pre_confirmation(&account, &[], t0)?];
//! assert_eq!(keys[0].kind(), KeyKind::PreConfirmation);
//!
//! // The user confirms the email an hour later: the key now lives 12 h from issue.
//! let t1 = t0.saturating_add(Duration::from_secs(3600));
//! assert_eq!(lifetimes.confirm(&mut account, &mut keys, t1)?, 1);
//! let t2 = t0.saturating_add(Duration::from_secs(11 * 3600));
//! assert_eq!(
//!     keys[0].status(t2),
//!     KeyStatus::Valid {
//!         kind: KeyKind::Confirmed,
//!         expires_at: Some(t0.saturating_add(Duration::from_secs(12 * 3600))),
//!     }
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::time::Duration;

use crate::time::Instant;

/// The longest lifetime [`Lifetimes`] accepts: 100 years, the same ceiling
/// as a limit's window ([`MAX_WINDOW`](crate::limit::MAX_WINDOW)).
///
/// Expiry instants are `issued_at + lifetime`, saturating at
/// [`Instant::MAX`]: a key issued within a lifetime of the end of time
/// expires at [`Instant::MAX`], earlier than configured, never later.
pub const MAX_LIFETIME: Duration = crate::limit::MAX_WINDOW;

/// The kind of a key, which chooses its lifetime and its limits.
///
/// # Examples
///
/// ```
/// use keyrate::credential::lifecycle::KeyKind;
///
/// assert!(KeyKind::Confirmed.is_session());
/// assert_eq!(KeyKind::PreConfirmation.as_str(), "pre_confirmation");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum KeyKind {
    /// A session key for an email not yet confirmed: 2 h by default.
    PreConfirmation,
    /// A session key for a confirmed email: 12 h by default.
    Confirmed,
    /// A key made in a dashboard: never expires.
    Permanent,
}

impl KeyKind {
    /// True for the two session kinds, which expire.
    pub fn is_session(self) -> bool {
        !matches!(self, KeyKind::Permanent)
    }

    /// The kind's name in snake case, as serialized: `pre_confirmation`,
    /// `confirmed` or `permanent`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::PreConfirmation => "pre_confirmation",
            KeyKind::Confirmed => "confirmed",
            KeyKind::Permanent => "permanent",
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a confirmed session's lifetime is counted from when a
/// pre-confirmation key is confirmed (DESIGN decision 2).
///
/// A key issued as a confirmed session always counts from its issue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum ConfirmedFrom {
    /// From the key's issue (the default).
    #[default]
    Issue,
    /// From the confirmation of the account's email.
    Confirmation,
}

/// Lifetimes of session keys and the cap on live pre-confirmation keys.
///
/// Built through [`Lifetimes::new`], which validates; with the `serde`
/// feature it deserializes through the same validation, and a missing field
/// takes its default. It also issues keys and confirms accounts: see
/// [`issue_pre_confirmation`](Lifetimes::issue_pre_confirmation),
/// [`issue_confirmed`](Lifetimes::issue_confirmed),
/// [`issue_permanent`](Lifetimes::issue_permanent) and
/// [`confirm`](Lifetimes::confirm).
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::credential::lifecycle::{ConfirmedFrom, Lifetimes};
///
/// let d = Lifetimes::default();
/// assert_eq!(d.pre_confirmation(), Duration::from_secs(2 * 3600));
/// assert_eq!(d.confirmed(), Duration::from_secs(12 * 3600));
/// assert_eq!(d.confirmed_from(), ConfirmedFrom::Issue);
/// assert_eq!(d.max_live_pre_confirmation(), 5);
///
/// let hour = Duration::from_secs(3600);
/// assert!(Lifetimes::new(hour, hour / 2, ConfirmedFrom::Issue, 5).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "LifetimesFields"))]
pub struct Lifetimes {
    pre_confirmation: Duration,
    confirmed: Duration,
    confirmed_from: ConfirmedFrom,
    max_live_pre_confirmation: u32,
}

impl Lifetimes {
    /// The defaults: 2 h, 12 h from issue, at most 5 live pre-confirmation
    /// keys per account.
    pub const DEFAULT: Lifetimes = Lifetimes {
        pre_confirmation: Duration::from_secs(2 * 3600),
        confirmed: Duration::from_secs(12 * 3600),
        confirmed_from: ConfirmedFrom::Issue,
        max_live_pre_confirmation: 5,
    };

    /// Validates a set of lifetimes.
    ///
    /// # Errors
    ///
    /// [`LifetimesError`] if a lifetime is zero or longer than
    /// [`MAX_LIFETIME`], if a confirmed session would live shorter than a
    /// pre-confirmation key (confirmation would then shorten lives), or if
    /// the cap is zero.
    pub fn new(
        pre_confirmation: Duration,
        confirmed: Duration,
        confirmed_from: ConfirmedFrom,
        max_live_pre_confirmation: u32,
    ) -> Result<Lifetimes, LifetimesError> {
        for lifetime in [pre_confirmation, confirmed] {
            if lifetime.is_zero() {
                return Err(LifetimesError::ZeroLifetime);
            }
            if lifetime > MAX_LIFETIME {
                return Err(LifetimesError::LifetimeTooLong);
            }
        }
        if confirmed < pre_confirmation {
            return Err(LifetimesError::ConfirmedShorterThanPreConfirmation);
        }
        if max_live_pre_confirmation == 0 {
            return Err(LifetimesError::ZeroCap);
        }
        Ok(Lifetimes {
            pre_confirmation,
            confirmed,
            confirmed_from,
            max_live_pre_confirmation,
        })
    }

    /// How long a pre-confirmation key lives from its issue.
    pub fn pre_confirmation(&self) -> Duration {
        self.pre_confirmation
    }

    /// How long a confirmed session lives from its anchor (see
    /// [`confirmed_from`](Lifetimes::confirmed_from)).
    pub fn confirmed(&self) -> Duration {
        self.confirmed
    }

    /// Where a confirmed pre-confirmation key's lifetime counts from.
    pub fn confirmed_from(&self) -> ConfirmedFrom {
        self.confirmed_from
    }

    /// The most live pre-confirmation keys one account may hold.
    pub fn max_live_pre_confirmation(&self) -> u32 {
        self.max_live_pre_confirmation
    }

    /// Issues a pre-confirmation key at `now` for an unconfirmed account.
    ///
    /// `keys` must yield every key record of the account (in any order);
    /// only its live pre-confirmation keys count towards the cap. An email
    /// never seen is a fresh [`Account::new`] with no keys. Nothing passed
    /// in is changed.
    ///
    /// # Errors
    ///
    /// [`IssueError::AccountConfirmed`] if the account is confirmed (a
    /// confirmed user goes through an authorization request instead), and
    /// [`IssueError::CapReached`] if the account already holds
    /// [`max_live_pre_confirmation`](Lifetimes::max_live_pre_confirmation)
    /// live pre-confirmation keys.
    ///
    /// # Examples
    ///
    /// ```
    /// use keyrate::credential::lifecycle::{Account, IssueError, Lifetimes};
    /// use keyrate::time::Instant;
    ///
    /// let lifetimes = Lifetimes::default();
    /// let account = Account::new();
    /// let now = Instant::from_secs(60);
    /// let mut keys = Vec::new();
    /// for _ in 0..5 {
    ///     keys.push(lifetimes.issue_pre_confirmation(&account, &keys, now)?);
    /// }
    /// let sixth = lifetimes.issue_pre_confirmation(&account, &keys, now);
    /// assert!(matches!(sixth, Err(IssueError::CapReached(_))));
    /// # Ok::<(), IssueError>(())
    /// ```
    pub fn issue_pre_confirmation<'a, I>(
        &self,
        account: &Account,
        keys: I,
        now: Instant,
    ) -> Result<KeyRecord, IssueError>
    where
        I: IntoIterator<Item = &'a KeyRecord>,
    {
        if account.is_confirmed() {
            return Err(IssueError::AccountConfirmed);
        }
        Ok(self.pre_confirmation_key(keys, now)?)
    }

    /// Issues a pre-confirmation key at `now` if the cap allows; the caller
    /// has checked that the account is unconfirmed.
    pub(crate) fn pre_confirmation_key<'a, I>(
        &self,
        keys: I,
        now: Instant,
    ) -> Result<KeyRecord, CapReached>
    where
        I: IntoIterator<Item = &'a KeyRecord>,
    {
        let cap = self.max_live_pre_confirmation;
        let live = live_pre_confirmation(keys, now);
        if u32::try_from(live).map_or(true, |live| live >= cap) {
            return Err(CapReached { cap });
        }
        Ok(KeyRecord {
            issued_at: now,
            term: Term::PreConfirmation {
                expires_at: now.saturating_add(self.pre_confirmation),
            },
            revoked_at: None,
        })
    }

    /// Issues a confirmed session key at `now`, valid for
    /// [`confirmed`](Lifetimes::confirmed) from `now`: the key delivered for
    /// an approved authorization request.
    ///
    /// # Errors
    ///
    /// [`IssueError::AccountUnconfirmed`] if the account is not confirmed.
    ///
    /// # Examples
    ///
    /// ```
    /// use keyrate::credential::lifecycle::{Account, Lifetimes};
    /// use keyrate::time::Instant;
    ///
    /// let lifetimes = Lifetimes::default();
    /// let mut account = Account::new();
    /// assert!(lifetimes.issue_confirmed(&account, Instant::ZERO).is_err());
    /// lifetimes.confirm(&mut account, [], Instant::ZERO)?;
    /// let key = lifetimes.issue_confirmed(&account, Instant::from_secs(1))?;
    /// assert_eq!(key.expires_at(), Some(Instant::from_secs(1 + 12 * 3600)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn issue_confirmed(
        &self,
        account: &Account,
        now: Instant,
    ) -> Result<KeyRecord, IssueError> {
        if !account.is_confirmed() {
            return Err(IssueError::AccountUnconfirmed);
        }
        Ok(KeyRecord {
            issued_at: now,
            term: Term::Confirmed {
                expires_at: now.saturating_add(self.confirmed),
            },
            revoked_at: None,
        })
    }

    /// Issues a permanent key at `now`, for a confirmed account: it never
    /// expires and ends only by revocation.
    ///
    /// # Errors
    ///
    /// [`IssueError::AccountUnconfirmed`] if the account is not confirmed
    /// (a dashboard is for signed-in, hence confirmed, users).
    ///
    /// # Examples
    ///
    /// ```
    /// use keyrate::credential::lifecycle::{Account, KeyKind, Lifetimes};
    /// use keyrate::time::Instant;
    ///
    /// let lifetimes = Lifetimes::default();
    /// let mut account = Account::new();
    /// lifetimes.confirm(&mut account, [], Instant::ZERO)?;
    /// let key = lifetimes.issue_permanent(&account, Instant::ZERO)?;
    /// assert_eq!(key.status(Instant::MAX).valid_kind(), Some(KeyKind::Permanent));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn issue_permanent(
        &self,
        account: &Account,
        now: Instant,
    ) -> Result<KeyRecord, IssueError> {
        if !account.is_confirmed() {
            return Err(IssueError::AccountUnconfirmed);
        }
        Ok(KeyRecord {
            issued_at: now,
            term: Term::Permanent,
            revoked_at: None,
        })
    }

    /// Confirms the account's email at `now` and upgrades its live
    /// pre-confirmation keys to confirmed sessions; returns how many keys
    /// were upgraded.
    ///
    /// `keys` must yield every key record of the account. A key that is
    /// live at `now` (not revoked and `now < expires_at`) and of the
    /// pre-confirmation kind becomes a confirmed session expiring
    /// [`confirmed`](Lifetimes::confirmed) after its anchor (its issue, or
    /// `max(now, issued_at)` with [`ConfirmedFrom::Confirmation`]), and never
    /// earlier than before. Every other key is left as it is: expired keys
    /// stay expired.
    ///
    /// # Errors
    ///
    /// [`AlreadyConfirmed`] if the account is already confirmed; then no
    /// key is looked at or changed.
    ///
    /// # Examples
    ///
    /// ```
    /// use keyrate::credential::lifecycle::{Account, KeyStatus, Lifetimes};
    /// use keyrate::time::Instant;
    ///
    /// let lifetimes = Lifetimes::default();
    /// let mut account = Account::new();
    /// let early = lifetimes.issue_pre_confirmation(&account, [], Instant::ZERO)?;
    /// let late = lifetimes.issue_pre_confirmation(&account, [&early], Instant::from_secs(7000))?;
    /// let mut keys = [early, late];
    ///
    /// // At 7200 s the first key has just expired: only the second is upgraded.
    /// let upgraded = lifetimes.confirm(&mut account, &mut keys, Instant::from_secs(7200))?;
    /// assert_eq!(upgraded, 1);
    /// assert!(matches!(keys[0].status(Instant::from_secs(7200)), KeyStatus::Expired { .. }));
    /// assert!(lifetimes.confirm(&mut account, &mut keys, Instant::from_secs(7201)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn confirm<'a, I>(
        &self,
        account: &mut Account,
        keys: I,
        now: Instant,
    ) -> Result<usize, AlreadyConfirmed>
    where
        I: IntoIterator<Item = &'a mut KeyRecord>,
    {
        if account.is_confirmed() {
            return Err(AlreadyConfirmed);
        }
        account.confirmed_at = Some(now);

        // Upgrade the live pre-confirmation keys; leave every other key alone.
        let mut upgraded = 0usize;
        for key in keys {
            if self.upgrade(key, now) {
                upgraded = upgraded.saturating_add(1);
            }
        }
        Ok(upgraded)
    }

    /// Turns `key` into a confirmed session if it is a live
    /// pre-confirmation key at `now`; returns whether it did.
    fn upgrade(&self, key: &mut KeyRecord, now: Instant) -> bool {
        let Term::PreConfirmation { expires_at } = key.term else {
            return false;
        };
        if key.revoked_at.is_some() || now >= expires_at {
            return false;
        }
        let anchor = match self.confirmed_from {
            ConfirmedFrom::Issue => key.issued_at,
            ConfirmedFrom::Confirmation => now.max(key.issued_at),
        };

        // `confirmed >= pre_confirmation` makes this never earlier for a
        // record issued here; `max` keeps the promise for any other record.
        let confirmed_until = anchor.saturating_add(self.confirmed).max(expires_at);
        key.term = Term::Confirmed {
            expires_at: confirmed_until,
        };
        true
    }
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes::DEFAULT
    }
}

/// The fields of [`Lifetimes`] as serialized, validated on the way in.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
struct LifetimesFields {
    pre_confirmation: Duration,
    confirmed: Duration,
    confirmed_from: ConfirmedFrom,
    max_live_pre_confirmation: u32,
}

#[cfg(feature = "serde")]
impl Default for LifetimesFields {
    fn default() -> Self {
        let d = Lifetimes::DEFAULT;
        LifetimesFields {
            pre_confirmation: d.pre_confirmation,
            confirmed: d.confirmed,
            confirmed_from: d.confirmed_from,
            max_live_pre_confirmation: d.max_live_pre_confirmation,
        }
    }
}

#[cfg(feature = "serde")]
impl TryFrom<LifetimesFields> for Lifetimes {
    type Error = LifetimesError;

    fn try_from(f: LifetimesFields) -> Result<Self, Self::Error> {
        Lifetimes::new(
            f.pre_confirmation,
            f.confirmed,
            f.confirmed_from,
            f.max_live_pre_confirmation,
        )
    }
}

/// How many of `keys` are live pre-confirmation keys at `now`: of that
/// kind, not revoked, and `now < expires_at`.
///
/// # Examples
///
/// ```
/// use keyrate::credential::lifecycle::{Account, Lifetimes, live_pre_confirmation};
/// use keyrate::time::Instant;
///
/// let lifetimes = Lifetimes::default();
/// let key = lifetimes.issue_pre_confirmation(&Account::new(), [], Instant::ZERO)?;
/// assert_eq!(live_pre_confirmation([&key], Instant::from_secs(7199)), 1);
/// assert_eq!(live_pre_confirmation([&key], Instant::from_secs(7200)), 0);
/// # Ok::<(), keyrate::credential::lifecycle::IssueError>(())
/// ```
pub fn live_pre_confirmation<'a, I>(keys: I, now: Instant) -> usize
where
    I: IntoIterator<Item = &'a KeyRecord>,
{
    keys.into_iter()
        .filter(|k| k.status(now).valid_kind() == Some(KeyKind::PreConfirmation))
        .count()
}

/// What a caller stores about an account: whether, and when, its email was
/// confirmed.
///
/// Confirmation is a property of the account (DESIGN decision 4): it is
/// recorded here by [`Lifetimes::confirm`], which also upgrades the
/// account's live keys.
///
/// # Examples
///
/// ```
/// use keyrate::credential::lifecycle::{Account, Lifetimes};
/// use keyrate::time::Instant;
///
/// let mut account = Account::new();
/// assert!(!account.is_confirmed());
/// Lifetimes::default().confirm(&mut account, [], Instant::from_secs(9))?;
/// assert_eq!(account.confirmed_at(), Some(Instant::from_secs(9)));
/// # Ok::<(), keyrate::credential::lifecycle::AlreadyConfirmed>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Account {
    confirmed_at: Option<Instant>,
}

impl Account {
    /// An account whose email is not confirmed: what an email never seen
    /// before starts as.
    pub const fn new() -> Account {
        Account { confirmed_at: None }
    }

    /// True once the email is confirmed.
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }

    /// When the email was confirmed, if it was.
    pub fn confirmed_at(&self) -> Option<Instant> {
        self.confirmed_at
    }
}

/// What a caller stores about one key (never the key itself): its kind,
/// issue, expiry and revocation.
///
/// It is 40 bytes, `Copy`, and serializable with the `serde` feature. Its
/// kind and expiry are consistent by construction: a permanent key has no
/// expiry, a session key always has one.
///
/// # Examples
///
/// ```
/// use keyrate::credential::lifecycle::{Account, KeyStatus, Lifetimes};
/// use keyrate::time::Instant;
///
/// let mut key = Lifetimes::default().issue_pre_confirmation(&Account::new(), [], Instant::ZERO)?;
/// key.revoke(Instant::from_secs(5))?;
/// assert!(matches!(key.status(Instant::from_secs(6)), KeyStatus::Revoked { .. }));
/// assert!(key.revoke(Instant::from_secs(7)).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyRecord {
    issued_at: Instant,
    term: Term,
    revoked_at: Option<Instant>,
}

/// A key's kind together with its expiry, so that they cannot disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
enum Term {
    PreConfirmation { expires_at: Instant },
    Confirmed { expires_at: Instant },
    Permanent,
}

impl KeyRecord {
    /// The key's current kind (a pre-confirmation key becomes confirmed
    /// when its account is).
    pub fn kind(&self) -> KeyKind {
        match self.term {
            Term::PreConfirmation { .. } => KeyKind::PreConfirmation,
            Term::Confirmed { .. } => KeyKind::Confirmed,
            Term::Permanent => KeyKind::Permanent,
        }
    }

    /// When the key was issued.
    pub fn issued_at(&self) -> Instant {
        self.issued_at
    }

    /// The first instant at which the key is expired, or `None` for a
    /// permanent key.
    pub fn expires_at(&self) -> Option<Instant> {
        match self.term {
            Term::PreConfirmation { expires_at } | Term::Confirmed { expires_at } => {
                Some(expires_at)
            }
            Term::Permanent => None,
        }
    }

    /// When the key was revoked, if it was.
    pub fn revoked_at(&self) -> Option<Instant> {
        self.revoked_at
    }

    /// Whether the key is valid at `now`, and as which kind.
    ///
    /// A revoked key is [`KeyStatus::Revoked`] whatever `now` is
    /// (revocation is final, even for a check stamped before it). Otherwise
    /// a session key is valid while `now < expires_at` and
    /// [`KeyStatus::Expired`] from `expires_at` on; a permanent key is
    /// always valid.
    ///
    /// # Examples
    ///
    /// ```
    /// use keyrate::credential::lifecycle::{Account, KeyKind, KeyStatus, Lifetimes};
    /// use keyrate::time::Instant;
    ///
    /// let key = Lifetimes::default().issue_pre_confirmation(&Account::new(), [], Instant::ZERO)?;
    /// let end = Instant::from_secs(7200);
    /// assert_eq!(
    ///     key.status(Instant::from_nanos(end.as_nanos() - 1)),
    ///     KeyStatus::Valid { kind: KeyKind::PreConfirmation, expires_at: Some(end) }
    /// );
    /// assert_eq!(
    ///     key.status(end),
    ///     KeyStatus::Expired { kind: KeyKind::PreConfirmation, expired_at: end }
    /// );
    /// # Ok::<(), keyrate::credential::lifecycle::IssueError>(())
    /// ```
    pub fn status(&self, now: Instant) -> KeyStatus {
        let kind = self.kind();
        if let Some(revoked_at) = self.revoked_at {
            return KeyStatus::Revoked { kind, revoked_at };
        }
        match self.expires_at() {
            Some(expired_at) if now >= expired_at => KeyStatus::Expired { kind, expired_at },
            expires_at => KeyStatus::Valid { kind, expires_at },
        }
    }

    /// True if [`status`](KeyRecord::status) at `now` is valid.
    pub fn is_valid(&self, now: Instant) -> bool {
        self.status(now).is_valid()
    }

    /// Revokes the key at `now`. Revocation is final: the key is never
    /// valid again, and confirmation leaves it alone.
    ///
    /// # Errors
    ///
    /// [`RevokeError::AlreadyRevoked`] if it was revoked before, and
    /// [`RevokeError::Expired`] if it has expired at `now` (there is nothing
    /// left to revoke). The record is then unchanged.
    pub fn revoke(&mut self, now: Instant) -> Result<(), RevokeError> {
        match self.status(now) {
            KeyStatus::Revoked { .. } => Err(RevokeError::AlreadyRevoked),
            KeyStatus::Expired { .. } => Err(RevokeError::Expired),
            KeyStatus::Valid { .. } => {
                self.revoked_at = Some(now);
                Ok(())
            }
        }
    }
}

/// Whether a key is valid at some instant, and as which kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyStatus {
    /// The key may be used now; `kind` chooses its limits.
    Valid {
        /// The key's kind.
        kind: KeyKind,
        /// The first instant at which it is expired; `None` for a permanent
        /// key.
        expires_at: Option<Instant>,
    },
    /// The key's lifetime is over.
    Expired {
        /// The key's kind when it expired.
        kind: KeyKind,
        /// The first instant at which it was expired.
        expired_at: Instant,
    },
    /// The key was revoked.
    Revoked {
        /// The key's kind when it was revoked.
        kind: KeyKind,
        /// When it was revoked.
        revoked_at: Instant,
    },
}

impl KeyStatus {
    /// True for [`KeyStatus::Valid`].
    pub fn is_valid(&self) -> bool {
        matches!(self, KeyStatus::Valid { .. })
    }

    /// The kind to choose limits by, or `None` if the key is not valid.
    pub fn valid_kind(&self) -> Option<KeyKind> {
        match self {
            KeyStatus::Valid { kind, .. } => Some(*kind),
            KeyStatus::Expired { .. } | KeyStatus::Revoked { .. } => None,
        }
    }
}

/// Why a [`Lifetimes`] could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LifetimesError {
    /// A lifetime is zero.
    ZeroLifetime,
    /// A lifetime exceeds [`MAX_LIFETIME`].
    LifetimeTooLong,
    /// The confirmed lifetime is shorter than the pre-confirmation one, so
    /// confirming would shorten a key's life.
    ConfirmedShorterThanPreConfirmation,
    /// The cap on live pre-confirmation keys is zero.
    ZeroCap,
}

impl fmt::Display for LifetimesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LifetimesError::ZeroLifetime => "key lifetime must be longer than zero",
            LifetimesError::LifetimeTooLong => "key lifetime must be at most 100 years",
            LifetimesError::ConfirmedShorterThanPreConfirmation => {
                "confirmed lifetime must be at least the pre-confirmation lifetime"
            }
            LifetimesError::ZeroCap => "live pre-confirmation key cap must be at least 1",
        })
    }
}

impl core::error::Error for LifetimesError {}

/// Why a key could not be issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IssueError {
    /// A pre-confirmation key was asked for a confirmed account.
    AccountConfirmed,
    /// A confirmed or permanent key was asked for an unconfirmed account.
    AccountUnconfirmed,
    /// The account holds as many live pre-confirmation keys as allowed.
    CapReached(CapReached),
}

impl From<CapReached> for IssueError {
    fn from(e: CapReached) -> Self {
        IssueError::CapReached(e)
    }
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssueError::AccountConfirmed => {
                f.write_str("account is confirmed: no pre-confirmation key is issued")
            }
            IssueError::AccountUnconfirmed => f.write_str("account is not confirmed"),
            IssueError::CapReached(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl core::error::Error for IssueError {}

/// The account already holds the most live pre-confirmation keys allowed;
/// one frees up when a key expires, is revoked, or the email is confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CapReached {
    /// The cap, [`Lifetimes::max_live_pre_confirmation`].
    pub cap: u32,
}

impl fmt::Display for CapReached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "account already holds {} live pre-confirmation keys",
            self.cap
        )
    }
}

impl core::error::Error for CapReached {}

/// The account's email was already confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AlreadyConfirmed;

impl fmt::Display for AlreadyConfirmed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("account is already confirmed")
    }
}

impl core::error::Error for AlreadyConfirmed {}

/// Why a key could not be revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RevokeError {
    /// The key was revoked before.
    AlreadyRevoked,
    /// The key has expired.
    Expired,
}

impl fmt::Display for RevokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RevokeError::AlreadyRevoked => "key is already revoked",
            RevokeError::Expired => "key has expired",
        })
    }
}

impl core::error::Error for RevokeError {}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn confirmed_account() -> Account {
        Account {
            confirmed_at: Some(Instant::ZERO),
        }
    }

    #[test]
    fn key_record_stays_small() {
        assert!(core::mem::size_of::<KeyRecord>() <= 40);
        assert!(core::mem::size_of::<Account>() <= 16);
    }

    #[test]
    fn validation_rejects_each_bad_field() {
        let l = |p, c, n| Lifetimes::new(p, c, ConfirmedFrom::Issue, n);
        assert_eq!(
            l(Duration::ZERO, HOUR, 1),
            Err(LifetimesError::ZeroLifetime)
        );
        assert_eq!(
            l(HOUR, Duration::ZERO, 1),
            Err(LifetimesError::ZeroLifetime)
        );
        let long = MAX_LIFETIME + Duration::from_nanos(1);
        assert_eq!(l(HOUR, long, 1), Err(LifetimesError::LifetimeTooLong));
        assert_eq!(
            l(HOUR * 2, HOUR, 1),
            Err(LifetimesError::ConfirmedShorterThanPreConfirmation)
        );
        assert_eq!(l(HOUR, HOUR, 0), Err(LifetimesError::ZeroCap));
        assert!(l(MAX_LIFETIME, MAX_LIFETIME, u32::MAX).is_ok());
    }

    #[test]
    fn expiry_saturates_at_the_end_of_time() {
        let near_end = Instant::MAX.checked_sub(HOUR).unwrap_or(Instant::ZERO);
        let key = Lifetimes::DEFAULT
            .issue_confirmed(&confirmed_account(), near_end)
            .unwrap();
        assert_eq!(key.expires_at(), Some(Instant::MAX));
        assert!(key.is_valid(near_end));
        assert!(!key.is_valid(Instant::MAX));
    }

    #[test]
    fn upgrade_never_shortens_an_odd_record() {
        // A record not made by `issue_*` (e.g. deserialized) whose
        // pre-confirmation expiry lies beyond the confirmed cap.
        let mut key = KeyRecord {
            issued_at: Instant::ZERO,
            term: Term::PreConfirmation {
                expires_at: Instant::from_secs(100 * 3600),
            },
            revoked_at: None,
        };
        assert!(Lifetimes::DEFAULT.upgrade(&mut key, Instant::from_secs(1)));
        assert_eq!(key.expires_at(), Some(Instant::from_secs(100 * 3600)));
        assert_eq!(key.kind(), KeyKind::Confirmed);
    }

    #[test]
    fn errors_display_in_lowercase() {
        use core::fmt::Write;

        let errors: [&dyn fmt::Display; 5] = [
            &IssueError::AccountConfirmed,
            &IssueError::CapReached(CapReached { cap: 5 }),
            &AlreadyConfirmed,
            &RevokeError::Expired,
            &LifetimesError::ZeroCap,
        ];
        for e in errors {
            let mut m = heapless::String::<96>::new();
            write!(m, "{e}").unwrap();
            assert!(m.starts_with(|c: char| c.is_ascii_lowercase()), "{m}");
            assert!(!m.ends_with('.'), "{m}");
        }
    }
}
