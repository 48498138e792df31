//! Authorization requests, modelled on OAuth device authorization (RFC 8628).
//!
//! [`authorize`] answers `POST /v1/authorize` for an email: an unknown or
//! unconfirmed email gets a pre-confirmation key at once (DESIGN decision
//! 6); a confirmed user gets an [`AuthorizationRequest`], which the user
//! approves or denies in a browser while the client polls (decision 7).
//!
//! An authorization request:
//!
//! - expires [`AuthorizationConfig::expires_in`] after it opens (10 min by
//!   default), half-open: it is live while `now < expires_at`;
//! - carries two secret ids from caller-supplied entropy: the *poll id*, the
//!   client's secret like RFC 8628's `device_code`, and the *approval id*,
//!   for the URL the user opens, like its `user_code`. Keep them apart: who
//!   holds the poll id can collect the key;
//! - is approved once, with the key to deliver, or denied once; a second
//!   decision, or one at or after expiry, is a [`DecideError`];
//! - answers each poll with a [`PollAnswer`] (RFC 8628 §3.5): pending,
//!   slow down, denied, expired, or the key. The key is delivered exactly
//!   once; every later poll answers [`PollAnswer::AlreadyDelivered`]
//!   (`invalid_grant`, RFC 6749 §5.2);
//! - hands back, exactly once, an approved key that was never delivered
//!   once it expires, so that the caller revokes it: from
//!   [`poll`](AuthorizationRequest::poll) or
//!   [`expire`](AuthorizationRequest::expire), whichever comes first at or
//!   after expiry.
//!
//! The key handle `K` is the caller's choice: the secret key itself (it has
//! to be held somewhere until it is delivered), or a small handle that the
//! caller maps to it. The library never clones, compares or formats it
//! except through `K`'s own traits.
//!
//! # Time going backwards
//!
//! A request remembers the latest time it accepted a call at, and judges a
//! call stamped earlier as if it came at that latest time: an expired
//! request never comes back, and a late poll cannot dodge `slow_down`. A
//! call that returns an error leaves even that memory unchanged.
//!
//! # Examples
//!
//! ```
//! use core::time::Duration;
//! use keyrate::credential::authorization::{
//!     Authorization, AuthorizationConfig, PollAnswer, authorize,
//! };
//! use keyrate::credential::lifecycle::{Account, Lifetimes};
//! use keyrate::time::Instant;
//!
//! let (lifetimes, config) = (Lifetimes::default(), AuthorizationConfig::default());
//! let mut account = Account::new();
//! lifetimes.confirm(&mut account, [], Instant::ZERO)?;
//!
//! // A confirmed user: open a request (entropy comes from a CSPRNG in real code).
//! let t0 = Instant::from_secs(100);
//! let Ok(Authorization::Request(mut request)) =
//!     authorize::<&str, _>(&lifetimes, &config, Some(&account), [], [7; 32], t0)
//! else {
//!     unreachable!()
//! };
//! assert_eq!(request.poll(t0), PollAnswer::Pending);
//!
//! // The user approves; the next poll, 5 s later, collects the key.
//! let t1 = t0.saturating_add(Duration::from_secs(5));
//! request.approve("the key", t1)?;
//! assert_eq!(request.poll(t1), PollAnswer::Issued("the key"));
//! assert_eq!(request.poll(t1).error_code(), Some("invalid_grant"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::time::Duration;

use super::lifecycle::{Account, CapReached, KeyRecord, Lifetimes, MAX_LIFETIME};
use crate::time::Instant;

/// How much each `slow_down` answer raises a request's poll interval, for
/// the rest of its life (RFC 8628 §3.5): 5 s.
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// Bytes in a [`RequestId`]: 16, that is 128 bits of entropy.
pub const ID_LEN: usize = 16;

/// Entropy bytes needed to open a request: one [`RequestId`] for polling
/// and one for approval.
pub const ENTROPY_LEN: usize = 2 * ID_LEN;

/// How long authorization requests live and how often they may be polled.
///
/// Built through [`AuthorizationConfig::new`], which validates; with the
/// `serde` feature it deserializes through the same validation, and a
/// missing field takes its default.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::credential::authorization::AuthorizationConfig;
///
/// let d = AuthorizationConfig::default();
/// assert_eq!(d.expires_in(), Duration::from_secs(600));
/// assert_eq!(d.interval(), Duration::from_secs(5));
/// assert!(AuthorizationConfig::new(Duration::ZERO, Duration::from_secs(5)).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "ConfigFields"))]
pub struct AuthorizationConfig {
    expires_in: Duration,
    interval: Duration,
}

impl AuthorizationConfig {
    /// The defaults: requests expire after 10 min and are polled at most
    /// every 5 s.
    pub const DEFAULT: AuthorizationConfig = AuthorizationConfig {
        expires_in: Duration::from_secs(600),
        interval: Duration::from_secs(5),
    };

    /// Validates a configuration.
    ///
    /// # Errors
    ///
    /// [`AuthorizationConfigError`] if either duration is zero or longer
    /// than [`MAX_LIFETIME`].
    pub fn new(
        expires_in: Duration,
        interval: Duration,
    ) -> Result<AuthorizationConfig, AuthorizationConfigError> {
        for d in [expires_in, interval] {
            if d.is_zero() {
                return Err(AuthorizationConfigError::ZeroDuration);
            }
            if d > MAX_LIFETIME {
                return Err(AuthorizationConfigError::TooLong);
            }
        }
        Ok(AuthorizationConfig {
            expires_in,
            interval,
        })
    }

    /// How long a request lives from when it opens.
    pub fn expires_in(&self) -> Duration {
        self.expires_in
    }

    /// The poll interval a request starts with.
    pub fn interval(&self) -> Duration {
        self.interval
    }
}

impl Default for AuthorizationConfig {
    fn default() -> Self {
        AuthorizationConfig::DEFAULT
    }
}

/// The fields of [`AuthorizationConfig`] as serialized, validated on the way
/// in.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ConfigFields {
    expires_in: Duration,
    interval: Duration,
}

#[cfg(feature = "serde")]
impl Default for ConfigFields {
    fn default() -> Self {
        let d = AuthorizationConfig::DEFAULT;
        ConfigFields {
            expires_in: d.expires_in,
            interval: d.interval,
        }
    }
}

#[cfg(feature = "serde")]
impl TryFrom<ConfigFields> for AuthorizationConfig {
    type Error = AuthorizationConfigError;

    fn try_from(f: ConfigFields) -> Result<Self, Self::Error> {
        AuthorizationConfig::new(f.expires_in, f.interval)
    }
}

/// A secret identifier of an authorization request: 128 bits from the
/// caller's entropy.
///
/// Like RFC 8628's `device_code`, whoever holds it can act on the request,
/// so it is a secret: `Debug` shows only its first four hex digits, there
/// is no `Display`, and equality takes the same time whichever bytes
/// differ. Its text form, for URLs, is 32 lowercase hex digits:
/// [`write_hex`](RequestId::write_hex) and
/// [`from_hex`](RequestId::from_hex).
///
/// # Examples
///
/// ```
/// use keyrate::credential::authorization::RequestId;
///
/// let id = RequestId::from_bytes([0xab; 16]);
/// assert_eq!(format!("{id:?}"), "RequestId(abab…)");
/// let mut text = String::new();
/// id.write_hex(&mut text)?;
/// assert_eq!(RequestId::from_hex(&text), Ok(id));
/// # Ok::<(), core::fmt::Error>(())
/// ```
#[derive(Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RequestId([u8; ID_LEN]);

impl RequestId {
    /// The id made of `bytes`, which must come from a cryptographically
    /// secure random source.
    pub const fn from_bytes(bytes: [u8; ID_LEN]) -> RequestId {
        RequestId(bytes)
    }

    /// The secret bytes.
    pub fn as_bytes(&self) -> &[u8; ID_LEN] {
        &self.0
    }

    /// Writes the secret as 32 lowercase hex digits.
    ///
    /// # Errors
    ///
    /// Whatever `w` returns.
    pub fn write_hex<W: fmt::Write + ?Sized>(&self, w: &mut W) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(w, "{b:02x}"))
    }

    /// Parses 32 hex digits (either case).
    ///
    /// # Errors
    ///
    /// [`ParseRequestIdError`] for any other text.
    pub fn from_hex(text: &str) -> Result<RequestId, ParseRequestIdError> {
        let digits = text.as_bytes();
        if digits.len() != 2 * ID_LEN {
            return Err(ParseRequestIdError);
        }
        let mut bytes = [0u8; ID_LEN];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let mut value = 0u8;
            for &digit in pair {
                let nibble = char::from(digit).to_digit(16).ok_or(ParseRequestIdError)?;
                value = (value << 4) | u8::try_from(nibble).map_err(|_| ParseRequestIdError)?;
            }
            *byte = value;
        }
        Ok(RequestId(bytes))
    }
}

impl PartialEq for RequestId {
    /// Compares in time independent of where the ids differ.
    fn eq(&self, other: &Self) -> bool {
        let diff = self
            .0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        core::hint::black_box(diff) == 0
    }
}

impl Eq for RequestId {}

impl core::hash::Hash for RequestId {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequestId(")?;
        for b in self.0.iter().take(2) {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…)")
    }
}

/// Text that is not 32 hex digits, given as a [`RequestId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParseRequestIdError;

impl fmt::Display for ParseRequestIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request id must be 32 hex digits")
    }
}

impl core::error::Error for ParseRequestIdError {}

/// What [`authorize`] decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authorization<K> {
    /// The email is unknown or unconfirmed: a pre-confirmation key issued
    /// now. For an unknown email the caller also stores a new
    /// [`Account::new`].
    PreConfirmationKey(KeyRecord),
    /// The email belongs to a confirmed user: an open request, to be
    /// approved in a browser and polled by the client.
    Request(AuthorizationRequest<K>),
}

/// Answers `POST /v1/authorize` for an email at `now`.
///
/// `account` is `None` for an email never seen. `keys` must yield every key
/// record of the account (they are only read, and only for an unconfirmed
/// account, to count its live pre-confirmation keys). `entropy` must come
/// from a cryptographically secure random source; it makes the request's
/// ids and is unused when a key is issued.
///
/// # Errors
///
/// [`CapReached`] if an unconfirmed account already holds
/// [`Lifetimes::max_live_pre_confirmation`] live pre-confirmation keys.
///
/// # Examples
///
/// ```
/// use keyrate::credential::authorization::{Authorization, AuthorizationConfig, authorize};
/// use keyrate::credential::lifecycle::{KeyKind, Lifetimes};
/// use keyrate::time::Instant;
///
/// let (lifetimes, config) = (Lifetimes::default(), AuthorizationConfig::default());
/// let answer = authorize::<(), _>(&lifetimes, &config, None, [], [0; 32], Instant::ZERO)?;
/// let Authorization::PreConfirmationKey(key) = answer else { unreachable!() };
/// assert_eq!(key.kind(), KeyKind::PreConfirmation);
/// # Ok::<(), keyrate::credential::lifecycle::CapReached>(())
/// ```
pub fn authorize<'a, K, I>(
    lifetimes: &Lifetimes,
    config: &AuthorizationConfig,
    account: Option<&Account>,
    keys: I,
    entropy: [u8; ENTROPY_LEN],
    now: Instant,
) -> Result<Authorization<K>, CapReached>
where
    I: IntoIterator<Item = &'a KeyRecord>,
{
    if account.is_some_and(Account::is_confirmed) {
        let request = AuthorizationRequest::new(config, entropy, now);
        return Ok(Authorization::Request(request));
    }
    let key = lifetimes.pre_confirmation_key(keys, now)?;
    Ok(Authorization::PreConfirmationKey(key))
}

/// An authorization request for a confirmed user: RFC 8628's device
/// authorization, without the HTTP.
///
/// The caller stores it (for example keyed by its
/// [`poll_id`](AuthorizationRequest::poll_id)) together with the account it
/// is for, and checks on approval that the signed-in user owns that account.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::credential::authorization::{
///     AuthorizationConfig, AuthorizationRequest, PollAnswer,
/// };
/// use keyrate::time::Instant;
///
/// let t0 = Instant::from_secs(0);
/// let mut request = AuthorizationRequest::new(&AuthorizationConfig::default(), [1; 32], t0);
/// assert_eq!(request.poll(t0), PollAnswer::Pending);
///
/// // Polling again after 1 s, sooner than the 5 s interval: slow down, for good.
/// let slow = request.poll(Instant::from_secs(1));
/// assert_eq!(slow, PollAnswer::SlowDown { interval: Duration::from_secs(10) });
/// assert_eq!(slow.error_code(), Some("slow_down"));
///
/// request.approve(42u32, Instant::from_secs(2))?;
/// assert_eq!(request.poll(Instant::from_secs(3)), PollAnswer::Issued(42));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AuthorizationRequest<K> {
    poll_id: RequestId,
    approval_id: RequestId,
    created_at: Instant,
    expires_at: Instant,
    interval: Duration,
    last_poll: Option<Instant>,
    /// The latest time a call was accepted at; earlier stamps are judged
    /// at this time.
    latest: Instant,
    state: State<K>,
}

/// Where a request is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
enum State<K> {
    Pending,
    Approved(K),
    Denied,
    Delivered,
    Expired,
}

impl<K> AuthorizationRequest<K> {
    /// Opens a request at `now`, expiring after
    /// [`expires_in`](AuthorizationConfig::expires_in). The first
    /// [`ID_LEN`] bytes of `entropy` make the poll id and the rest the
    /// approval id; they must come from a cryptographically secure random
    /// source.
    pub fn new(
        config: &AuthorizationConfig,
        entropy: [u8; ENTROPY_LEN],
        now: Instant,
    ) -> AuthorizationRequest<K> {
        let mut poll = [0; ID_LEN];
        let mut approval = [0; ID_LEN];
        for (out, byte) in poll.iter_mut().chain(approval.iter_mut()).zip(entropy) {
            *out = byte;
        }
        AuthorizationRequest {
            poll_id: RequestId(poll),
            approval_id: RequestId(approval),
            created_at: now,
            expires_at: now.saturating_add(config.expires_in),
            interval: config.interval,
            last_poll: None,
            latest: now,
            state: State::Pending,
        }
    }

    /// The secret the client polls with (RFC 8628's `device_code`).
    pub fn poll_id(&self) -> &RequestId {
        &self.poll_id
    }

    /// The identifier for the URL the user opens to approve or deny (the
    /// role of RFC 8628's `user_code`).
    pub fn approval_id(&self) -> &RequestId {
        &self.approval_id
    }

    /// When the request opened.
    pub fn created_at(&self) -> Instant {
        self.created_at
    }

    /// The first instant at which the request is expired.
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// The current minimum time between polls: the configured interval
    /// plus [`SLOW_DOWN_STEP`] for each `slow_down` answered so far.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Where the request stands at `now`, without changing it.
    ///
    /// A request that is not over by `now >= expires_at` reads as
    /// [`RequestStatus::Expired`], even before a poll or
    /// [`expire`](AuthorizationRequest::expire) records it.
    pub fn status(&self, now: Instant) -> RequestStatus {
        let now = now.max(self.latest);
        match self.state {
            State::Delivered => RequestStatus::Delivered,
            State::Expired => RequestStatus::Expired,
            _ if now >= self.expires_at => RequestStatus::Expired,
            State::Pending => RequestStatus::Pending,
            State::Approved(_) => RequestStatus::Approved,
            State::Denied => RequestStatus::Denied,
        }
    }

    /// Checks that the request can be approved or denied at `now`, without
    /// changing it: call it before minting the key to approve with.
    ///
    /// # Errors
    ///
    /// [`DecideError`], checked in this order: `AlreadyApproved` once the
    /// key was delivered; `Expired` at or after expiry (whatever was decided
    /// before); `AlreadyApproved` or `AlreadyDenied` after a decision.
    pub fn decidable(&self, now: Instant) -> Result<(), DecideError> {
        match self.status(now) {
            RequestStatus::Pending => Ok(()),
            RequestStatus::Approved => Err(DecideError::AlreadyApproved),
            RequestStatus::Delivered => Err(DecideError::AlreadyApproved),
            RequestStatus::Denied => Err(DecideError::AlreadyDenied),
            RequestStatus::Expired => Err(DecideError::Expired),
        }
    }

    /// The user approves the request at `now`; `key` is delivered by the
    /// next poll before expiry.
    ///
    /// # Errors
    ///
    /// [`ApproveError`], which hands `key` back, if
    /// [`decidable`](AuthorizationRequest::decidable) fails; the request is
    /// then unchanged. The caller should revoke the key it minted.
    pub fn approve(&mut self, key: K, now: Instant) -> Result<(), ApproveError<K>> {
        if let Err(reason) = self.decidable(now) {
            return Err(ApproveError { reason, key });
        }
        self.latest = now.max(self.latest);
        self.state = State::Approved(key);
        Ok(())
    }

    /// The user denies the request at `now`.
    ///
    /// # Errors
    ///
    /// [`DecideError`] if [`decidable`](AuthorizationRequest::decidable)
    /// fails; the request is then unchanged.
    pub fn deny(&mut self, now: Instant) -> Result<(), DecideError> {
        self.decidable(now)?;
        self.latest = now.max(self.latest);
        self.state = State::Denied;
        Ok(())
    }

    /// The client polls at `now` (RFC 8628 §3.4, answered as in §3.5).
    ///
    /// In order:
    ///
    /// 1. after delivery, [`PollAnswer::AlreadyDelivered`], forever;
    /// 2. at or after expiry, [`PollAnswer::Expired`], carrying the approved
    ///    key to revoke the first time (and only if it was never delivered);
    /// 3. after a denial, [`PollAnswer::Denied`];
    /// 4. after approval, [`PollAnswer::Issued`] with the key, once;
    /// 5. while pending, [`PollAnswer::SlowDown`] if this poll comes sooner
    ///    than [`interval`](AuthorizationRequest::interval) after the
    ///    previous poll (the interval then grows by [`SLOW_DOWN_STEP`] for
    ///    good), else [`PollAnswer::Pending`]. The first poll is never
    ///    throttled, and every poll while pending, throttled or not, counts
    ///    as the previous poll for the next one.
    pub fn poll(&mut self, now: Instant) -> PollAnswer<K> {
        let now = now.max(self.latest);
        self.latest = now;
        match self.state {
            State::Delivered => PollAnswer::AlreadyDelivered,
            State::Expired => PollAnswer::Expired { revoke: None },
            _ if now >= self.expires_at => PollAnswer::Expired {
                revoke: self.end(State::Expired),
            },
            State::Denied => PollAnswer::Denied,
            State::Approved(_) => match self.end(State::Delivered) {
                Some(key) => PollAnswer::Issued(key),
                None => PollAnswer::AlreadyDelivered,
            },
            State::Pending => self.throttle(now),
        }
    }

    /// Records the expiry of the request at `now` and returns the approved
    /// key to revoke, if it was approved and never delivered.
    ///
    /// Call it when sweeping stored requests: an approved key whose client
    /// never polls again is handed back here. The key is handed back once,
    /// by this call or by [`poll`](AuthorizationRequest::poll), whichever
    /// first sees the request expired.
    ///
    /// # Errors
    ///
    /// [`ExpireError::NotYetExpired`] before `expires_at`, and
    /// [`ExpireError::AlreadyEnded`] once the key was delivered or the
    /// expiry recorded; the request is then unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use keyrate::credential::authorization::{
    ///     AuthorizationConfig, AuthorizationRequest, ExpireError,
    /// };
    /// use keyrate::time::Instant;
    ///
    /// let config = AuthorizationConfig::default();
    /// let mut request = AuthorizationRequest::new(&config, [3; 32], Instant::ZERO);
    /// request.approve("key", Instant::from_secs(1))?;
    /// let end = request.expires_at();
    /// assert_eq!(request.expire(Instant::from_secs(599)), Err(ExpireError::NotYetExpired));
    /// assert_eq!(request.expire(end), Ok(Some("key")));
    /// assert_eq!(request.expire(end), Err(ExpireError::AlreadyEnded));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn expire(&mut self, now: Instant) -> Result<Option<K>, ExpireError> {
        let now = now.max(self.latest);
        if matches!(self.state, State::Delivered | State::Expired) {
            return Err(ExpireError::AlreadyEnded);
        }
        if now < self.expires_at {
            return Err(ExpireError::NotYetExpired);
        }
        self.latest = now;
        Ok(self.end(State::Expired))
    }

    /// Moves to `next` and returns the approved key, if there was one.
    fn end(&mut self, next: State<K>) -> Option<K> {
        match core::mem::replace(&mut self.state, next) {
            State::Approved(key) => Some(key),
            _ => None,
        }
    }

    /// Answers a poll of a pending request at `now` (RFC 8628 §3.5).
    fn throttle(&mut self, now: Instant) -> PollAnswer<K> {
        let previous = self.last_poll.replace(now);
        let too_soon = previous.is_some_and(|p| now < p.saturating_add(self.interval));
        if !too_soon {
            return PollAnswer::Pending;
        }
        self.interval = self.interval.saturating_add(SLOW_DOWN_STEP);
        PollAnswer::SlowDown {
            interval: self.interval,
        }
    }
}

/// Where an authorization request stands; see
/// [`AuthorizationRequest::status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestStatus {
    /// Waiting for the user.
    Pending,
    /// Approved; the key waits for the next poll.
    Approved,
    /// Denied by the user.
    Denied,
    /// The key was delivered.
    Delivered,
    /// Expired before delivery.
    Expired,
}

/// The answer to a poll, as RFC 8628 §3.5 has the token endpoint answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollAnswer<K> {
    /// Not decided yet; poll again after the interval
    /// (`authorization_pending`).
    Pending,
    /// Not decided yet, and the poll came too soon: wait at least
    /// `interval`, already raised by [`SLOW_DOWN_STEP`], between polls
    /// from now on (`slow_down`).
    SlowDown {
        /// The raised interval.
        interval: Duration,
    },
    /// The user denied the request (`access_denied`).
    Denied,
    /// The request expired (`expired_token`).
    Expired {
        /// The approved key that was never delivered, which the caller must
        /// revoke. Present in exactly one answer of the request's life
        /// (or in [`AuthorizationRequest::expire`]'s result instead).
        revoke: Option<K>,
    },
    /// The key, delivered by this answer and never again (a success
    /// response).
    Issued(K),
    /// The key was delivered by an earlier poll (`invalid_grant`: RFC 8628
    /// §3.5 keeps RFC 6749 §5.2's codes, and a used grant is invalid).
    AlreadyDelivered,
}

impl<K> PollAnswer<K> {
    /// The OAuth error code for this answer, or `None` for
    /// [`PollAnswer::Issued`], which is a success.
    ///
    /// ```
    /// use keyrate::credential::authorization::PollAnswer;
    ///
    /// assert_eq!(PollAnswer::<()>::Pending.error_code(), Some("authorization_pending"));
    /// assert_eq!(PollAnswer::<()>::Denied.error_code(), Some("access_denied"));
    /// assert_eq!(PollAnswer::<()>::Expired { revoke: None }.error_code(), Some("expired_token"));
    /// assert_eq!(PollAnswer::Issued(()).error_code(), None);
    /// ```
    pub fn error_code(&self) -> Option<&'static str> {
        Some(match self {
            PollAnswer::Pending => "authorization_pending",
            PollAnswer::SlowDown { .. } => "slow_down",
            PollAnswer::Denied => "access_denied",
            PollAnswer::Expired { .. } => "expired_token",
            PollAnswer::AlreadyDelivered => "invalid_grant",
            PollAnswer::Issued(_) => return None,
        })
    }

    /// True if no later poll can answer anything else: every answer but
    /// pending and slow down.
    pub fn is_final(&self) -> bool {
        !matches!(self, PollAnswer::Pending | PollAnswer::SlowDown { .. })
    }
}

/// Why a request could not be approved or denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecideError {
    /// The request was already approved (its key may have been delivered).
    AlreadyApproved,
    /// The request was already denied.
    AlreadyDenied,
    /// The request has expired.
    Expired,
}

impl fmt::Display for DecideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecideError::AlreadyApproved => "authorization request is already approved",
            DecideError::AlreadyDenied => "authorization request is already denied",
            DecideError::Expired => "authorization request has expired",
        })
    }
}

impl core::error::Error for DecideError {}

/// A refused approval, handing back the key it carried.
///
/// Its `Debug` shows the key through `K`'s own `Debug`; its `Display` shows
/// only the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApproveError<K> {
    /// Why the request could not be approved.
    pub reason: DecideError,
    /// The key that was not stored, for the caller to revoke.
    pub key: K,
}

impl<K> fmt::Display for ApproveError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.reason, f)
    }
}

impl<K: fmt::Debug> core::error::Error for ApproveError<K> {}

/// Why [`AuthorizationRequest::expire`] did nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpireError {
    /// The request is still live.
    NotYetExpired,
    /// The key was delivered or the expiry was already recorded.
    AlreadyEnded,
}

impl fmt::Display for ExpireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExpireError::NotYetExpired => "authorization request has not expired yet",
            ExpireError::AlreadyEnded => "authorization request has already ended",
        })
    }
}

impl core::error::Error for ExpireError {}

/// Why an [`AuthorizationConfig`] could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthorizationConfigError {
    /// The expiry or the interval is zero.
    ZeroDuration,
    /// The expiry or the interval exceeds [`MAX_LIFETIME`].
    TooLong,
}

impl fmt::Display for AuthorizationConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthorizationConfigError::ZeroDuration => {
                "authorization expiry and poll interval must be longer than zero"
            }
            AuthorizationConfigError::TooLong => {
                "authorization expiry and poll interval must be at most 100 years"
            }
        })
    }
}

impl core::error::Error for AuthorizationConfigError {}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    fn request(now: Instant) -> AuthorizationRequest<u8> {
        AuthorizationRequest::new(&AuthorizationConfig::DEFAULT, [9; ENTROPY_LEN], now)
    }

    #[test]
    fn entropy_splits_into_two_distinct_ids() {
        let mut entropy = [0u8; ENTROPY_LEN];
        for (i, b) in entropy.iter_mut().enumerate() {
            *b = u8::try_from(i).unwrap();
        }
        let r: AuthorizationRequest<()> =
            AuthorizationRequest::new(&AuthorizationConfig::DEFAULT, entropy, Instant::ZERO);
        assert_eq!(r.poll_id().as_bytes()[0], 0);
        assert_eq!(r.poll_id().as_bytes()[15], 15);
        assert_eq!(r.approval_id().as_bytes()[0], 16);
        assert_eq!(r.approval_id().as_bytes()[15], 31);
    }

    #[test]
    fn hex_round_trips_and_rejects_bad_text() {
        let id =
            RequestId::from_bytes([0x0f, 0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 255]);
        let mut text = heapless::String::<32>::new();
        id.write_hex(&mut text).unwrap();
        assert_eq!(text.as_str(), "0fa00102030405060708090a0b0c0dff");
        assert_eq!(RequestId::from_hex(&text), Ok(id.clone()));
        assert_eq!(
            RequestId::from_hex("0FA00102030405060708090A0B0C0DFF"),
            Ok(id)
        );
        for bad in [
            "",
            "0fa0",
            "0fa00102030405060708090a0b0c0dfg",
            "é0010203040506070809a0b0c0dff",
        ] {
            assert_eq!(RequestId::from_hex(bad), Err(ParseRequestIdError), "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_more_than_four_hex_digits() {
        let r = request(Instant::ZERO);
        let mut text = heapless::String::<1024>::new();
        write!(text, "{r:?}").unwrap();
        assert!(text.contains("RequestId(0909…)"), "{text}");
        assert!(!text.contains("090909"), "{text}");
    }

    #[test]
    fn ids_differing_anywhere_are_unequal() {
        let base = [5u8; ID_LEN];
        for i in 0..ID_LEN {
            let mut other = base;
            other[i] ^= 0x80;
            assert_ne!(RequestId::from_bytes(base), RequestId::from_bytes(other));
        }
    }

    #[test]
    fn a_late_stamped_poll_cannot_revive_an_expired_request() {
        let mut r = request(Instant::from_secs(100));
        assert_eq!(
            r.poll(Instant::from_secs(700)),
            PollAnswer::Expired { revoke: None }
        );
        assert_eq!(
            r.poll(Instant::from_secs(101)),
            PollAnswer::Expired { revoke: None }
        );
        assert_eq!(r.deny(Instant::from_secs(101)), Err(DecideError::Expired));
    }

    #[test]
    fn a_late_stamped_poll_is_judged_at_the_latest_time() {
        let mut r = request(Instant::from_secs(100));
        assert_eq!(r.poll(Instant::from_secs(110)), PollAnswer::Pending);
        // Stamped before the previous poll: judged at 110 s, too soon.
        assert!(matches!(
            r.poll(Instant::from_secs(50)),
            PollAnswer::SlowDown { .. }
        ));
    }

    #[test]
    fn the_interval_saturates_instead_of_overflowing() {
        let mut r = request(Instant::ZERO);
        r.interval = Duration::MAX;
        r.last_poll = Some(Instant::ZERO);
        let answer = r.poll(Instant::from_secs(1));
        assert_eq!(
            answer,
            PollAnswer::SlowDown {
                interval: Duration::MAX
            }
        );
    }
}
