//! The verification pipeline: from an `Authorization` header to the whole
//! outcome of a request, in one call.
//!
//! [`Verifier::verify`] runs the steps in an order that keeps DESIGN
//! decision 8 ("a refused credential charges nothing"):
//!
//! 1. parse the Bearer header and the key format, offline (400 or 401);
//! 2. look the key's digest up in the caller's store (401 if unknown);
//! 3. ask the lifecycle whether it is valid now, and as which kind (401 if
//!    expired or revoked);
//! 4. choose the policy for the kind and the account's plan, and check it
//!    against the state of the account (or of the key, by
//!    [`Scope`]): 200 or 429.
//!
//! The store is the caller's: a [`VerifyStore`] answers what it knows of a
//! digest and lends the limiter state of a scope. When it fails, the
//! policy set's [`FailureMode`] decides (decision 13).

use core::fmt;

use crate::credential::bearer::{Challenge, CredentialError, Realm, parse_key};
use crate::credential::digest::{KeyDigest, KeyHasher};
use crate::credential::lifecycle::{KeyKind, KeyRecord, KeyStatus};
use crate::http::{self, HeaderOptions, RateLimitHeaders};
use crate::limit::{
    CostTooLarge, Name, Policy, PolicyCheckError, PolicyDecision, PolicyState, Slots,
};
use crate::policy::{FailureMode, PolicySet, Scope};
use crate::time::Instant;

/// `503 Service Unavailable`: the store failed and the policy fails closed.
pub const SERVICE_UNAVAILABLE: u16 = 503;

/// What the caller's store knows of a key, found by its digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyView<A> {
    /// The key's lifecycle record.
    pub record: KeyRecord,
    /// The account the key belongs to.
    pub account: A,
    /// The account's plan, or `None` for the default.
    pub plan: Option<Name>,
}

/// Whose limiter state a request is charged to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScopeId<A> {
    /// The account's ([`Scope::Account`]).
    Account(A),
    /// The key's ([`Scope::Key`]).
    Key(KeyDigest),
}

/// The limiter state of one scope, and the tier and plan whose policy made
/// it. Stores keep one per [`ScopeId`]; [`Default`] is an empty slot.
#[derive(Clone, Debug)]
pub struct LimiterSlot<S: AsRef<[u64]>> {
    made_for: Option<(KeyKind, Option<Name>)>,
    state: Option<PolicyState<S>>,
}

impl<S: AsRef<[u64]>> Default for LimiterSlot<S> {
    fn default() -> Self {
        LimiterSlot {
            made_for: None,
            state: None,
        }
    }
}

impl<S: Slots> LimiterSlot<S> {
    /// The state, if a request was ever checked against this slot.
    pub fn state(&self) -> Option<&PolicyState<S>> {
        self.state.as_ref()
    }

    /// True if the slot may be dropped at `now` without changing a decision.
    pub fn is_idle(&self, policies: &PolicySet<S>, now: Instant) -> bool {
        let (Some((kind, plan)), Some(state)) = (&self.made_for, &self.state) else {
            return true;
        };
        let plan = plan.as_ref().map(Name::as_str);
        match policies.policy(*kind, plan) {
            Ok(policy) => policy.is_idle(state, now),
            Err(_) => false,
        }
    }

    /// The state for `policy` (tier `kind`, `plan`), carrying over what the
    /// state made for another tier or plan knows (see [`Policy::adopt`]).
    fn state_for(
        &mut self,
        policies: &PolicySet<S>,
        policy: &Policy<S>,
        kind: KeyKind,
        plan: &Option<Name>,
    ) -> &mut PolicyState<S> {
        let same = self
            .made_for
            .as_ref()
            .is_some_and(|(k, p)| *k == kind && p == plan);
        if !same || self.state.is_none() {
            let previous = self.made_for.as_ref().and_then(|(k, p)| {
                let p = p.as_ref().map(Name::as_str);
                policies.policy(*k, p).ok()
            });
            let state = match (previous, &self.state) {
                (Some(old), Some(old_state)) if old == policy => old_state.clone(),
                (Some(old), Some(old_state)) => policy.adopt(old, old_state),
                _ => policy.new_state(),
            };
            self.made_for = Some((kind, plan.clone()));
            self.state = Some(state);
        }
        self.state.get_or_insert_with(|| policy.new_state())
    }
}

/// Why a store could not answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The store cannot be read or written now: the failure mode decides.
    Unavailable,
    /// A bounded table has no room for a new scope and nothing idle to
    /// evict: always refused, whatever the failure mode.
    Full,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable => f.write_str("the key store is unavailable"),
            StoreError::Full => f.write_str("the limiter table is full"),
        }
    }
}

impl core::error::Error for StoreError {}

/// The caller's store, as the pipeline needs it.
pub trait VerifyStore<S: Slots> {
    /// How the store names accounts.
    type Account: Clone;

    /// What the store knows of the key with `digest`, or `None` if nothing.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the store cannot answer.
    fn key(&mut self, digest: &KeyDigest) -> Result<Option<KeyView<Self::Account>>, StoreError>;

    /// Runs `f` on the limiter slot of `scope`, creating an empty one if
    /// there is none, and saves what `f` leaves in it.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the slot cannot be read, created or saved.
    fn with_limiter<R>(
        &mut self,
        scope: &ScopeId<Self::Account>,
        f: impl FnOnce(&mut LimiterSlot<S>) -> R,
    ) -> Result<R, StoreError>;
}

/// Why a request's credential was refused before any limit was consulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No usable Bearer credential, or a token that is not a key.
    Credential(CredentialError),
    /// A well-formed key the store does not know.
    Unknown,
    /// The key's lifetime is over.
    Expired,
    /// The key was revoked.
    Revoked,
}

impl Refusal {
    /// 400 for a malformed Bearer credential, 401 otherwise (RFC 6750 §3.1).
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Credential(CredentialError::Bearer(e)) if !e.is_no_credentials() => {
                crate::credential::bearer::BAD_REQUEST
            }
            _ => crate::credential::bearer::UNAUTHORIZED,
        }
    }

    /// The `WWW-Authenticate` challenge of RFC 6750 §3 for this refusal.
    pub fn challenge<'r>(&self, realm: Realm<'r>) -> Challenge<'r> {
        let described = |d: &'static str| {
            let c = Challenge::invalid_token(realm);
            c.with_description(d).unwrap_or(c)
        };
        match self {
            Refusal::Credential(e) => e.challenge(realm),
            Refusal::Unknown => described("unknown key"),
            Refusal::Expired => described("key expired"),
            Refusal::Revoked => described("key revoked"),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Credential(e) => fmt::Display::fmt(e, f),
            Refusal::Unknown => f.write_str("unknown key"),
            Refusal::Expired => f.write_str("key expired"),
            Refusal::Revoked => f.write_str("key revoked"),
        }
    }
}

/// An authenticated request and what its policy decided.
#[derive(Clone, Debug)]
pub struct Verified<'p, S, A> {
    /// The key's digest (never the key).
    pub digest: KeyDigest,
    /// The key's kind, which chose the policy.
    pub kind: KeyKind,
    /// When the key expires; `None` for a permanent key.
    pub expires_at: Option<Instant>,
    /// The account the key belongs to.
    pub account: A,
    /// The policy that decided.
    pub policy: &'p Policy<S>,
    /// Its decision.
    pub decision: PolicyDecision,
}

/// The whole outcome of a request.
#[derive(Clone, Debug)]
pub enum Outcome<'p, S, A> {
    /// Authenticated and admitted: 200.
    Allowed(Verified<'p, S, A>),
    /// Authenticated and refused by a limit: 429. Nothing was charged.
    Limited(Verified<'p, S, A>),
    /// No usable credential: 400 or 401. Nothing was charged.
    Refused(Refusal),
    /// The store failed. With [`FailureMode::Open`] the request proceeds
    /// (`allowed` is true, status 200, no rate-limit fields); otherwise 503.
    StoreFailed {
        /// What failed.
        error: StoreError,
        /// Whether the request proceeds anyway.
        allowed: bool,
    },
}

impl<S: Slots, A> Outcome<'_, S, A> {
    /// True if the request may proceed.
    pub fn is_allowed(&self) -> bool {
        match self {
            Outcome::Allowed(_) => true,
            Outcome::StoreFailed { allowed, .. } => *allowed,
            Outcome::Limited(_) | Outcome::Refused(_) => false,
        }
    }

    /// The response status: 200, 400, 401, 429 or 503.
    pub fn status(&self) -> u16 {
        match self {
            Outcome::Allowed(_) => http::OK,
            Outcome::Limited(_) => http::TOO_MANY_REQUESTS,
            Outcome::Refused(r) => r.status(),
            Outcome::StoreFailed { allowed: true, .. } => http::OK,
            Outcome::StoreFailed { allowed: false, .. } => SERVICE_UNAVAILABLE,
        }
    }

    /// Calls `emit(name, value)` for each header field of the response:
    /// `WWW-Authenticate` for a refused credential, the rate-limit fields
    /// (see [`RateLimitHeaders::for_each`]) for an authenticated request.
    /// A refused credential gets no rate-limit fields: no policy applies to
    /// a caller that is not identified.
    ///
    /// # Errors
    ///
    /// [`fmt::Error`] if a value does not fit its buffer.
    pub fn for_each_header(
        &self,
        realm: Realm<'_>,
        options: HeaderOptions,
        mut emit: impl FnMut(&'static str, &str),
    ) -> fmt::Result {
        match self {
            Outcome::Allowed(v) | Outcome::Limited(v) => {
                RateLimitHeaders::new(v.policy, &v.decision).for_each(options, emit)
            }
            Outcome::Refused(r) => {
                let mut value = heapless::String::<{ http::MAX_VALUE_LEN }>::new();
                r.challenge(realm).write_www_authenticate(&mut value)?;
                emit("WWW-Authenticate", &value);
                Ok(())
            }
            Outcome::StoreFailed { .. } => Ok(()),
        }
    }
}

/// Runs the pipeline for one policy set.
///
/// # Examples
///
/// See `tests/verify.rs` for a store; the call is
/// `verifier.verify(header, now, 1, &mut store)`.
#[derive(Clone, Copy, Debug)]
pub struct Verifier<'p, S, H> {
    policies: &'p PolicySet<S>,
    hasher: H,
}

impl<'p, S: Slots, H: KeyHasher> Verifier<'p, S, H> {
    /// A verifier enforcing `policies`, digesting keys with `hasher`.
    pub fn new(policies: &'p PolicySet<S>, hasher: H) -> Self {
        Verifier { policies, hasher }
    }

    /// The policy set enforced.
    pub fn policies(&self) -> &'p PolicySet<S> {
        self.policies
    }

    /// Decides the request whose `Authorization` value is `header` (`None`
    /// if absent), of `cost` units, at `now`.
    ///
    /// # Errors
    ///
    /// [`CostTooLarge`] if the key's policy can never admit `cost`; nothing
    /// is charged.
    pub fn verify<St: VerifyStore<S>>(
        &self,
        header: Option<&[u8]>,
        now: Instant,
        cost: u32,
        store: &mut St,
    ) -> Result<Outcome<'p, S, St::Account>, CostTooLarge> {
        match self.credential(header) {
            Ok(digest) => self.decide(&digest, now, cost, store),
            Err(refusal) => Ok(Outcome::Refused(refusal)),
        }
    }

    /// Step 1 alone: the header's key, checked offline, as the digest the
    /// store knows it by. It needs no store, so a server can run it before
    /// taking any lock.
    ///
    /// # Errors
    ///
    /// [`Refusal::Credential`] for a missing, malformed or mistyped key.
    pub fn credential(&self, header: Option<&[u8]>) -> Result<KeyDigest, Refusal> {
        let key = parse_key(header, self.policies.key_format()).map_err(Refusal::Credential)?;
        Ok(key.digest(&self.hasher))
    }

    /// Steps 2 to 4 for a key [`credential`](Verifier::credential) accepted.
    ///
    /// # Errors
    ///
    /// As [`verify`](Verifier::verify).
    pub fn decide<St: VerifyStore<S>>(
        &self,
        digest: &KeyDigest,
        now: Instant,
        cost: u32,
        store: &mut St,
    ) -> Result<Outcome<'p, S, St::Account>, CostTooLarge> {
        let digest = *digest;

        // 2. What the store knows of it.
        let view = match store.key(&digest) {
            Ok(Some(view)) => view,
            Ok(None) => return Ok(Outcome::Refused(Refusal::Unknown)),
            Err(error) => return Ok(self.store_failed(error)),
        };

        // 3. Whether it is valid now, and as which kind.
        let (kind, expires_at) = match view.record.status(now) {
            KeyStatus::Valid { kind, expires_at } => (kind, expires_at),
            KeyStatus::Expired { .. } => return Ok(Outcome::Refused(Refusal::Expired)),
            KeyStatus::Revoked { .. } => return Ok(Outcome::Refused(Refusal::Revoked)),
        };

        // 4. The limits of its kind and plan, on its scope's state.
        let plan = view.plan.as_ref().map(Name::as_str);
        // A plan the policy set does not know is a configuration mistake:
        // refused whatever the failure mode, never let through unlimited.
        let Ok(policy) = self.policies.policy(kind, plan) else {
            return Ok(closed(StoreError::Unavailable));
        };
        let scope = match self.policies.scope() {
            Scope::Account => ScopeId::Account(view.account.clone()),
            Scope::Key => ScopeId::Key(digest),
        };
        let checked = store.with_limiter(&scope, |slot| {
            let state = slot.state_for(self.policies, policy, kind, &view.plan);
            policy.check(state, now, cost)
        });
        let decision = match checked {
            Ok(Ok(decision)) => decision,
            Ok(Err(PolicyCheckError::CostTooLarge(e))) => return Err(e),
            Ok(Err(PolicyCheckError::ForeignState)) => return Ok(closed(StoreError::Unavailable)),
            Err(error) => return Ok(self.store_failed(error)),
        };
        let verified = Verified {
            digest,
            kind,
            expires_at,
            account: view.account,
            policy,
            decision,
        };
        Ok(if verified.decision.is_allowed() {
            Outcome::Allowed(verified)
        } else {
            Outcome::Limited(verified)
        })
    }

    /// A store failure, decided by the policy set's failure mode.
    fn store_failed<A>(&self, error: StoreError) -> Outcome<'p, S, A> {
        let open = self.policies.on_store_failure() == FailureMode::Open;
        Outcome::StoreFailed {
            error,
            allowed: open && error == StoreError::Unavailable,
        }
    }
}

/// A failure that is refused whatever the failure mode.
fn closed<'p, S, A>(error: StoreError) -> Outcome<'p, S, A> {
    Outcome::StoreFailed {
        error,
        allowed: false,
    }
}
