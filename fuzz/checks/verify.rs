//! The verification pipeline on arbitrary headers, keys, plans, store
//! failures and times, against an in-memory store.
//!
//! For every call, the outcome is predicted step by step from the rules of
//! `keyrate::verify` (credential offline, then the store, then the
//! lifecycle, then the policy of the key's kind and plan), and:
//!
//! - nothing panics and the status matches the outcome;
//! - a refused credential, an unknown, expired or revoked key, and a store
//!   failure never change any limiter state (DESIGN decision 8), and the
//!   offline refusals never even read the store;
//! - an authenticated request changes at most the limiter slot of its own
//!   scope (the account's, or the key's with per-key scope);
//! - the response's fields are written without error, and neither they nor
//!   the outcome's `Debug` ever contain a key beyond its hint.

#![allow(dead_code)]

use std::collections::HashMap;

use keyrate::credential::bearer::{Realm, parse_key};
use keyrate::credential::digest::{DIGEST_LEN, KeyDigest, KeyHasher};
use keyrate::credential::key::{ApiKey, ENTROPY_LEN, KeyFormat};
use keyrate::credential::lifecycle::{Account, KeyRecord, KeyStatus, Lifetimes};
use keyrate::http::HeaderOptions;
use keyrate::limit::{CostTooLarge, HeapSlots, Name};
use keyrate::policy::{Config, FailureMode, PolicySet, Scope};
use keyrate::time::Instant;
use keyrate::verify::{
    KeyView, LimiterSlot, Outcome, Refusal, ScopeId, StoreError, Verifier, VerifyStore,
};

use crate::clock::{Cost, Move};

/// Calls per case; the rest of the input is ignored.
pub const MAX_STEPS: usize = 96;

/// Policy sets a case can run with.
pub const CONFIGS: [&str; 5] = [
    "",
    "scope = \"key\"",
    r#"on_store_failure = "open"
[[plans]]
name = "pro"
pre_confirmation = [{ name = "m", kind = "fixed", quota = 3, window = 60 }]
confirmed = [
  { name = "h", kind = "compact", quota = 5, window = 3600 },
  { name = "b", kind = "bucket", quota = 2, window = 60, burst = 2 },
]"#,
    r#"key_prefix = "abc_"
scope = "key"
[tiers]
pre_confirmation = [{ name = "m", kind = "sliding", quota = 2, window = 10 }]
confirmed = [{ name = "m", kind = "sliding", quota = 4, window = 10 }]
permanent = [{ name = "d", kind = "fixed", quota = 1, window = 1 }]"#,
    r#"[tiers]
pre_confirmation = [{ name = "hourly", kind = "sliding", quota = 3, window = 3600 }]
confirmed = [
  { name = "hourly", kind = "sliding", quota = 5, window = 3600 },
  { name = "burst", kind = "bucket", quota = 1, window = 1, burst = 2 },
]"#,
];

/// One fuzz case.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub struct Input {
    /// Which of [`CONFIGS`].
    pub config: u8,
    /// Keys in the store.
    pub keys: Vec<KeySpec>,
    /// The first instant.
    pub start: u64,
    /// What happens, in order.
    pub steps: Vec<Step>,
}

/// A key in the store.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub struct KeySpec {
    /// Its entropy (repeated to fill the key's).
    pub seed: u8,
    /// Its account (modulo 3).
    pub account: u8,
    /// Its kind and history.
    pub kind: KeyKindSpec,
    /// When it was issued.
    pub issued: u64,
    /// Its account's plan: none, the configured one, or an unknown one.
    pub plan: u8,
}

/// A key's kind and history.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug)]
pub enum KeyKindSpec {
    /// A pre-confirmation session.
    Pre,
    /// A confirmed session.
    Confirmed,
    /// A permanent key.
    Permanent,
    /// A pre-confirmation key revoked this long after issue.
    Revoked(u64),
}

/// One step.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub enum Step {
    /// A request.
    Call {
        /// Its `Authorization` header.
        header: Header,
        /// The clock move before it.
        mv: Move,
        /// Its cost.
        cost: Cost,
    },
    /// Key `n` is revoked now (if it can be).
    Revoke(u8),
    /// Account `n`'s email is confirmed now.
    Confirm(u8),
    /// Key `n`'s plan changes.
    Plan(u8, u8),
    /// The store starts failing this way (or stops).
    Fail(Failure),
}

/// An `Authorization` header.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub enum Header {
    /// No header.
    Absent,
    /// Any bytes.
    Raw(Vec<u8>),
    /// `Bearer <key n>`.
    Key(u8),
    /// `bearer`, one to three spaces, key `n`.
    Spaced(u8, u8),
    /// `Bearer`, a tab, key `n`.
    Tab(u8),
    /// `Bearer <key n>` with one byte changed.
    Typo(u8, u8, u8),
    /// `Bearer <key n>` followed by bytes.
    Trailing(u8, Vec<u8>),
    /// `Bearer <a key of the format the store does not hold>`.
    Stranger(u8),
}

/// How the store fails.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// It does not.
    None,
    /// Reading a key fails.
    KeyRead,
    /// Reading or writing limiter state fails.
    Limiter,
    /// The limiter table is full.
    Full,
}

/// A toy digest for tests: FNV-1a spread over 32 bytes.
fn toy_digest(text: &[u8]) -> [u8; DIGEST_LEN] {
    let mut out = [0u8; DIGEST_LEN];
    for (lane, chunk) in out.chunks_mut(8).enumerate() {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ lane as u64;
        for b in text {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        chunk.copy_from_slice(&h.to_le_bytes());
    }
    out
}

/// The caller's store, in memory.
struct Store {
    keys: HashMap<[u8; DIGEST_LEN], KeyView<u8>>,
    limiters: HashMap<ScopeId<u8>, LimiterSlot<HeapSlots>>,
    failure: Failure,
    key_reads: usize,
}

impl VerifyStore<HeapSlots> for Store {
    type Account = u8;

    fn key(&mut self, digest: &KeyDigest) -> Result<Option<KeyView<u8>>, StoreError> {
        if self.failure == Failure::KeyRead {
            return Err(StoreError::Unavailable);
        }
        self.key_reads += 1;
        Ok(self.keys.get(digest.as_bytes()).cloned())
    }

    fn with_limiter<R>(
        &mut self,
        scope: &ScopeId<u8>,
        f: impl FnOnce(&mut LimiterSlot<HeapSlots>) -> R,
    ) -> Result<R, StoreError> {
        match self.failure {
            Failure::Limiter => Err(StoreError::Unavailable),
            Failure::Full if !self.limiters.contains_key(scope) => Err(StoreError::Full),
            _ => Ok(f(self.limiters.entry(*scope).or_default())),
        }
    }
}

impl Store {
    /// Every slot, as text, by scope.
    fn snapshot(&self) -> HashMap<String, String> {
        self.limiters
            .iter()
            .map(|(scope, slot)| (scope_text(scope), format!("{slot:?}")))
            .collect()
    }
}

fn scope_text(scope: &ScopeId<u8>) -> String {
    match scope {
        ScopeId::Account(a) => format!("account {a}"),
        ScopeId::Key(d) => format!("key {:?}", d.as_bytes()),
    }
}

/// One key of the case: its secret, digest and account.
struct Issued {
    key: ApiKey,
    digest: [u8; DIGEST_LEN],
    account: u8,
}

fn plan(n: u8) -> Option<Name> {
    match n % 3 {
        0 => None,
        1 => Name::new("pro").ok(),
        _ => Name::new("gold").ok(),
    }
}

/// The record a spec describes.
fn record(spec: &KeySpec) -> KeyRecord {
    let lifetimes = Lifetimes::DEFAULT;
    let issued = Instant::from_nanos(spec.issued);
    let mut confirmed = Account::new();
    let _ = lifetimes.confirm(&mut confirmed, [], Instant::ZERO);
    let pre = |at| lifetimes.issue_pre_confirmation(&Account::new(), [], at);
    let made = match spec.kind {
        KeyKindSpec::Pre => pre(issued),
        KeyKindSpec::Confirmed => lifetimes.issue_confirmed(&confirmed, issued),
        KeyKindSpec::Permanent => lifetimes.issue_permanent(&confirmed, issued),
        KeyKindSpec::Revoked(after) => pre(issued).map(|mut r| {
            let _ = r.revoke(Instant::from_nanos(spec.issued.saturating_add(after)));
            r
        }),
    };
    match made {
        Ok(r) => r,
        Err(e) => panic!("issuing {spec:?}: {e}"),
    }
}

/// Runs one case.
pub fn run(input: &Input) {
    let text = CONFIGS[usize::from(input.config) % CONFIGS.len()];
    let config: Config = match toml::from_str(text) {
        Ok(c) => c,
        Err(e) => panic!("config {text:?}: {e}"),
    };
    let set = match PolicySet::<HeapSlots>::from_config(&config) {
        Ok(s) => s,
        Err(e) => panic!("config {text:?}: {e}"),
    };
    let format = *set.key_format();
    let mut store = Store {
        keys: HashMap::new(),
        limiters: HashMap::new(),
        failure: Failure::None,
        key_reads: 0,
    };
    let mut issued: Vec<Issued> = Vec::new();
    for spec in input.keys.iter().take(6) {
        let key = format.generate(&[spec.seed; ENTROPY_LEN]);
        let digest = toy_digest(key.expose_secret().as_bytes());
        let view = KeyView {
            record: record(spec),
            account: spec.account % 3,
            plan: plan(spec.plan),
        };
        store.keys.insert(digest, view);
        issued.push(Issued {
            key,
            digest,
            account: spec.account % 3,
        });
    }
    let mut accounts: HashMap<u8, Account> = HashMap::new();
    let verifier = Verifier::new(&set, toy_digest);
    let mut t = input.start;

    for step in input.steps.iter().take(MAX_STEPS) {
        match step {
            Step::Call { header, mv, cost } => {
                t = mv.apply(t, 3_600_000_000_000);
                let bytes = header_bytes(header, &issued, &format);
                call(
                    &verifier,
                    &set,
                    &mut store,
                    &issued,
                    bytes.as_deref(),
                    t,
                    cost.resolve(8),
                );
            }
            Step::Revoke(n) => {
                if let Some(view) = view_of(&mut store, &issued, *n) {
                    let _ = view.record.revoke(Instant::from_nanos(t));
                }
            }
            Step::Confirm(n) => {
                let a = n % 3;
                let account = accounts.entry(a).or_default();
                let records = store
                    .keys
                    .values_mut()
                    .filter(|v| v.account == a)
                    .map(|v| &mut v.record);
                let _ = Lifetimes::DEFAULT.confirm(account, records, Instant::from_nanos(t));
            }
            Step::Plan(n, p) => {
                if let Some(view) = view_of(&mut store, &issued, *n) {
                    view.plan = plan(*p);
                }
            }
            Step::Fail(f) => store.failure = *f,
        }
    }
}

/// The stored view of key `n` (modulo the number of keys).
fn view_of<'s>(store: &'s mut Store, issued: &[Issued], n: u8) -> Option<&'s mut KeyView<u8>> {
    let k = issued.get(usize::from(n) % issued.len().max(1))?;
    store.keys.get_mut(&k.digest)
}

/// The header bytes `header` describes.
fn header_bytes(header: &Header, issued: &[Issued], format: &KeyFormat) -> Option<Vec<u8>> {
    let secret = |n: &u8| {
        issued
            .get(usize::from(*n) % issued.len().max(1))
            .map_or("", |k| k.key.expose_secret())
            .as_bytes()
            .to_vec()
    };
    let bearer = |rest: &[u8]| [b"Bearer ".as_slice(), rest].concat();
    Some(match header {
        Header::Absent => return None,
        Header::Raw(v) => v.clone(),
        Header::Key(n) => bearer(&secret(n)),
        Header::Spaced(n, s) => {
            let spaces = " ".repeat(1 + usize::from(s % 3));
            [b"bearer", spaces.as_bytes(), &secret(n)].concat()
        }
        Header::Tab(n) => [b"Bearer\t".as_slice(), &secret(n)].concat(),
        Header::Typo(n, at, b) => {
            let mut s = secret(n);
            let len = s.len();
            if let Some(x) = s.get_mut(usize::from(*at) % len.max(1)) {
                *x = *b;
            }
            bearer(&s)
        }
        Header::Trailing(n, tail) => bearer(&[secret(n), tail.clone()].concat()),
        Header::Stranger(seed) => {
            let key = format.generate(&[seed.wrapping_add(0x80); ENTROPY_LEN]);
            bearer(key.expose_secret().as_bytes())
        }
    })
}

/// One request through the pipeline, checked against the prediction.
fn call<H: KeyHasher>(
    verifier: &Verifier<'_, HeapSlots, H>,
    set: &PolicySet<HeapSlots>,
    store: &mut Store,
    issued: &[Issued],
    header: Option<&[u8]>,
    t: u64,
    cost: u32,
) {
    let now = Instant::from_nanos(t);
    let before = store.snapshot();
    let reads = store.key_reads;
    let open = set.on_store_failure() == FailureMode::Open;
    let failed = |error: StoreError| (error, open && error == StoreError::Unavailable);
    let got = verifier.verify(header, now, cost, store);

    // The prediction, step by step; `scope` is the slot that may change.
    let mut scope = None;
    let prediction: Result<Prediction, CostTooLarge> = match parse_key(header, set.key_format()) {
        Err(e) => {
            assert_eq!(store.key_reads, reads, "an offline refusal read the store");
            Ok(Prediction::Refused(Refusal::Credential(e)))
        }
        Ok(key) => predict(set, store, &key, now, cost, &mut scope, &failed),
    };
    match (&got, &prediction) {
        (Err(e), Err(want)) => assert_eq!(e, want),
        (Ok(outcome), Ok(want)) => check_outcome(outcome, want),
        _ => panic!("verify gave {got:?}, expected {prediction:?}"),
    }

    // Only the request's own scope may change, and only if authenticated.
    let after = store.snapshot();
    for (s, slot) in &before {
        if Some(s) != scope.as_ref() {
            assert_eq!(after.get(s), Some(slot), "slot {s} changed");
        }
    }
    for s in after.keys() {
        assert!(
            before.contains_key(s) || Some(s) == scope.as_ref(),
            "slot {s} appeared"
        );
    }

    // Fields and Debug never show a key.
    if let Ok(outcome) = &got {
        check_secrets(outcome, issued);
    }
}

/// What the pipeline must answer.
#[derive(Debug)]
enum Prediction {
    Refused(Refusal),
    StoreFailed(StoreError, bool),
    /// Authenticated: whether the scope's slot was asked, and for whom.
    Checked {
        kind: keyrate::credential::lifecycle::KeyKind,
        expires_at: Option<Instant>,
        account: u8,
        digest: [u8; DIGEST_LEN],
    },
}

fn predict(
    set: &PolicySet<HeapSlots>,
    store: &Store,
    key: &ApiKey,
    now: Instant,
    cost: u32,
    scope: &mut Option<String>,
    failed: &dyn Fn(StoreError) -> (StoreError, bool),
) -> Result<Prediction, CostTooLarge> {
    let digest = toy_digest(key.expose_secret().as_bytes());
    if store.failure == Failure::KeyRead {
        let (e, open) = failed(StoreError::Unavailable);
        return Ok(Prediction::StoreFailed(e, open));
    }
    let Some(view) = store.keys.get(&digest) else {
        return Ok(Prediction::Refused(Refusal::Unknown));
    };
    let (kind, expires_at) = match view.record.status(now) {
        KeyStatus::Valid { kind, expires_at } => (kind, expires_at),
        KeyStatus::Expired { .. } => return Ok(Prediction::Refused(Refusal::Expired)),
        KeyStatus::Revoked { .. } => return Ok(Prediction::Refused(Refusal::Revoked)),
    };
    // An unknown plan is a configuration mistake: refused even failing open.
    let Ok(policy) = set.policy(kind, view.plan.as_ref().map(Name::as_str)) else {
        return Ok(Prediction::StoreFailed(StoreError::Unavailable, false));
    };
    let id = match set.scope() {
        Scope::Account => ScopeId::Account(view.account),
        Scope::Key => ScopeId::Key(KeyDigest::from_bytes(digest)),
    };
    match store.failure {
        Failure::Limiter => {
            let (e, open) = failed(StoreError::Unavailable);
            return Ok(Prediction::StoreFailed(e, open));
        }
        Failure::Full if !store.limiters.contains_key(&id) => {
            return Ok(Prediction::StoreFailed(StoreError::Full, false));
        }
        _ => {}
    }
    *scope = Some(scope_text(&id));
    if cost > policy.capacity() {
        return Err(CostTooLarge {
            cost,
            capacity: policy.capacity(),
        });
    }
    Ok(Prediction::Checked {
        kind,
        expires_at,
        account: view.account,
        digest,
    })
}

/// The outcome is the predicted one, with a consistent status.
fn check_outcome(outcome: &Outcome<'_, HeapSlots, u8>, want: &Prediction) {
    match (outcome, want) {
        (Outcome::Refused(r), Prediction::Refused(w)) => {
            assert_eq!(r, w);
            assert!(matches!(outcome.status(), 400 | 401));
            assert!(!outcome.is_allowed());
        }
        (Outcome::StoreFailed { error, allowed }, Prediction::StoreFailed(e, open)) => {
            assert_eq!((error, allowed), (e, open));
            assert_eq!(outcome.status(), if *allowed { 200 } else { 503 });
            assert_eq!(outcome.is_allowed(), *allowed);
        }
        (
            Outcome::Allowed(v) | Outcome::Limited(v),
            Prediction::Checked {
                kind,
                expires_at,
                account,
                digest,
            },
        ) => {
            assert_eq!(
                (v.kind, v.expires_at, v.account),
                (*kind, *expires_at, *account)
            );
            assert_eq!(v.digest.as_bytes(), digest);
            let allowed = matches!(outcome, Outcome::Allowed(_));
            assert_eq!(v.decision.is_allowed(), allowed);
            assert_eq!(outcome.is_allowed(), allowed);
            assert_eq!(outcome.status(), if allowed { 200 } else { 429 });
        }
        (got, want) => panic!("verify gave {got:?}, expected {want:?}"),
    }
}

/// The response's fields are written, and nothing shows a key whole.
fn check_secrets(outcome: &Outcome<'_, HeapSlots, u8>, issued: &[Issued]) {
    let Ok(realm) = Realm::new("api") else {
        panic!("the realm is valid");
    };
    let all = HeaderOptions {
        draft: true,
        legacy: true,
    };
    let mut fields = Vec::new();
    let written = outcome.for_each_header(realm, all, |name, value| {
        fields.push((name, value.to_owned()));
    });
    assert!(written.is_ok(), "fields of {outcome:?} did not fit");
    let challenges = fields
        .iter()
        .filter(|(n, _)| *n == "WWW-Authenticate")
        .count();
    assert_eq!(
        challenges,
        usize::from(matches!(outcome, Outcome::Refused(_)))
    );
    let shown = format!("{outcome:?} {fields:?}");
    for k in issued {
        let text = k.key.expose_secret();
        let hidden = &text[k.key.prefix().len() + 4..];
        assert!(!shown.contains(hidden), "a key shows in {shown}");
    }
}
