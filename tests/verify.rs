//! The verification pipeline end to end, against an in-memory store: what
//! each kind of request gets back, and what it charges.

#![cfg(feature = "serde")]

use std::collections::HashMap;

use keyrate::credential::bearer::Realm;
use keyrate::credential::digest::{DIGEST_LEN, KeyDigest};
use keyrate::credential::key::{ApiKey, ENTROPY_LEN, KeyFormat};
use keyrate::credential::lifecycle::{Account, KeyRecord, Lifetimes};
use keyrate::http::HeaderOptions;
use keyrate::limit::{HeapSlots, Name};
use keyrate::policy::{Config, PolicySet};
use keyrate::time::Instant;
use keyrate::verify::{
    KeyView, LimiterSlot, Outcome, Refusal, ScopeId, StoreError, Verifier, VerifyStore,
};

/// A toy digest for tests: FNV-1a spread over 32 bytes (not for production).
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

#[derive(Default)]
struct Store {
    keys: HashMap<[u8; DIGEST_LEN], KeyView<u32>>,
    limiters: HashMap<ScopeId<u32>, LimiterSlot<HeapSlots>>,
    down: bool,
    key_reads: usize,
}

impl VerifyStore<HeapSlots> for Store {
    type Account = u32;

    fn key(&mut self, digest: &KeyDigest) -> Result<Option<KeyView<u32>>, StoreError> {
        if self.down {
            return Err(StoreError::Unavailable);
        }
        self.key_reads += 1;
        Ok(self.keys.get(digest.as_bytes()).cloned())
    }

    fn with_limiter<R>(
        &mut self,
        scope: &ScopeId<u32>,
        f: impl FnOnce(&mut LimiterSlot<HeapSlots>) -> R,
    ) -> Result<R, StoreError> {
        Ok(f(self.limiters.entry(*scope).or_default()))
    }
}

struct World {
    set: PolicySet<HeapSlots>,
    store: Store,
    next: u8,
}

impl World {
    fn new(config: &str) -> World {
        let config: Config = toml::from_str(config).unwrap();
        World {
            set: PolicySet::from_config(&config).unwrap(),
            store: Store::default(),
            next: 0,
        }
    }

    fn issue(&mut self, account: u32, record: KeyRecord, plan: Option<&str>) -> ApiKey {
        self.next += 1;
        let key = KeyFormat::DEFAULT.generate(&[self.next; ENTROPY_LEN]);
        let view = KeyView {
            record,
            account,
            plan: plan.map(|p| Name::new(p).unwrap()),
        };
        let digest = toy_digest(key.expose_secret().as_bytes());
        self.store.keys.insert(digest, view);
        key
    }

    fn record_mut(&mut self, key: &ApiKey) -> &mut KeyRecord {
        let digest = toy_digest(key.expose_secret().as_bytes());
        &mut self.store.keys.get_mut(&digest).unwrap().record
    }

    fn call(&mut self, header: Option<&str>, secs: u64) -> (u16, Vec<(String, String)>) {
        let verifier = Verifier::new(&self.set, toy_digest);
        let outcome = verifier
            .verify(
                header.map(str::as_bytes),
                Instant::from_secs(secs),
                1,
                &mut self.store,
            )
            .unwrap();
        let mut fields = Vec::new();
        outcome
            .for_each_header(
                Realm::new("api").unwrap(),
                HeaderOptions::default(),
                |n, v| fields.push((n.to_owned(), v.to_owned())),
            )
            .unwrap();
        (outcome.status(), fields)
    }
}

fn bearer(key: &ApiKey) -> String {
    format!("Bearer {}", key.expose_secret())
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn pre_key(w: &mut World, account: u32, at: u64) -> ApiKey {
    let record = Lifetimes::DEFAULT
        .issue_pre_confirmation(&Account::new(), [], Instant::from_secs(at))
        .unwrap();
    w.issue(account, record, None)
}

#[test]
fn no_credentials_get_a_bare_challenge_and_a_malformed_header_a_400() {
    let mut w = World::new("");
    let (status, f) = w.call(None, 0);
    assert_eq!(status, 401);
    assert_eq!(field(&f, "WWW-Authenticate"), Some("Bearer realm=\"api\""));
    assert_eq!(field(&f, "RateLimit"), None);

    let (status, f) = w.call(Some("Bearer jcr_abc def"), 0);
    assert_eq!(status, 400);
    let challenge = field(&f, "WWW-Authenticate").unwrap();
    assert!(challenge.starts_with("Bearer realm=\"api\", error=\"invalid_request\""));
}

#[test]
fn a_typo_an_unknown_an_expired_and_a_revoked_key_get_invalid_token() {
    let mut w = World::new("");
    let key = pre_key(&mut w, 1, 0);
    let mut typo = key.expose_secret().to_owned().into_bytes();
    typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();

    // The typo is caught offline: the store is never asked.
    let (status, f) = w.call(Some(&format!("Bearer {typo}")), 0);
    assert_eq!(status, 401);
    assert!(
        field(&f, "WWW-Authenticate")
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    assert_eq!(w.store.key_reads, 0);

    let stranger = KeyFormat::DEFAULT.generate(&[200; ENTROPY_LEN]);
    let (status, f) = w.call(Some(&bearer(&stranger)), 0);
    assert_eq!(status, 401);
    assert!(
        field(&f, "WWW-Authenticate")
            .unwrap()
            .contains("unknown key")
    );

    // Valid until 2 h after issue, expired from then on (half-open).
    assert_eq!(w.call(Some(&bearer(&key)), 7199).0, 200);
    let (status, f) = w.call(Some(&bearer(&key)), 7200);
    assert_eq!(status, 401);
    assert!(
        field(&f, "WWW-Authenticate")
            .unwrap()
            .contains("key expired")
    );

    let other = pre_key(&mut w, 2, 0);
    w.record_mut(&other).revoke(Instant::from_secs(10)).unwrap();
    let (status, f) = w.call(Some(&bearer(&other)), 11);
    assert_eq!(status, 401);
    assert!(
        field(&f, "WWW-Authenticate")
            .unwrap()
            .contains("key revoked")
    );
}

#[test]
fn the_61st_request_of_an_account_within_an_hour_gets_a_429_with_its_headers() {
    let mut w = World::new("");
    let key = pre_key(&mut w, 1, 0);
    for i in 0..60 {
        let (status, f) = w.call(Some(&bearer(&key)), i * 10);
        assert_eq!(status, 200, "request {}", i + 1);
        assert_eq!(
            field(&f, "RateLimit"),
            Some(format!("\"hourly\";r={};t={}", 59 - i, 3600 - i * 10).as_str())
        );
    }
    let (status, f) = w.call(Some(&bearer(&key)), 600);
    assert_eq!(status, 429);
    assert_eq!(field(&f, "Retry-After"), Some("3000"));
    assert_eq!(field(&f, "RateLimit"), Some("\"hourly\";r=0;t=3000"));
    assert_eq!(
        field(&f, "RateLimit-Policy"),
        Some("\"hourly\";q=60;w=3600")
    );
}

#[test]
fn a_refused_credential_charges_no_limit() {
    let mut w = World::new("");
    let key = pre_key(&mut w, 1, 0);
    for i in 0..100 {
        assert_eq!(w.call(Some("Bearer nope"), i).0, 401);
        assert_eq!(w.call(None, i).0, 401);
    }
    let (_, f) = w.call(Some(&bearer(&key)), 100);
    assert_eq!(field(&f, "RateLimit"), Some("\"hourly\";r=59;t=3600"));
}

#[test]
fn minting_more_keys_does_not_add_capacity_by_default() {
    let mut w = World::new("");
    let keys: Vec<ApiKey> = (0..5).map(|_| pre_key(&mut w, 7, 0)).collect();
    let mut admitted = 0;
    for i in 0..100 {
        let key = &keys[i % keys.len()];
        if w.call(Some(&bearer(key)), i as u64).0 == 200 {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 60);
}

#[test]
fn per_key_scope_gives_each_key_its_own_limits() {
    let mut w = World::new("scope = \"key\"");
    let a = pre_key(&mut w, 7, 0);
    let b = pre_key(&mut w, 7, 0);
    let admitted = (0..100)
        .filter(|i| {
            w.call(Some(&bearer(if i % 2 == 0 { &a } else { &b })), *i)
                .0
                == 200
        })
        .count();
    assert_eq!(admitted, 100);
}

#[test]
fn confirmation_lifts_the_tier_and_keeps_the_hours_history() {
    let mut w = World::new("");
    let key = pre_key(&mut w, 1, 0);
    for i in 0..60 {
        assert_eq!(w.call(Some(&bearer(&key)), i).0, 200);
    }
    assert_eq!(w.call(Some(&bearer(&key)), 60).0, 429);

    // Confirm the account's email: the key becomes a confirmed session.
    let mut account = Account::new();
    let mut records = [*w.record_mut(&key)];
    Lifetimes::DEFAULT
        .confirm(&mut account, records.iter_mut(), Instant::from_secs(100))
        .unwrap();
    *w.record_mut(&key) = records[0];

    // The 60 requests of the first minute still count in the hour: 240 left.
    let (status, f) = w.call(Some(&bearer(&key)), 120);
    assert_eq!(status, 200);
    assert_eq!(
        field(&f, "RateLimit"),
        Some("\"hourly\";r=239;t=3480, \"burst\";r=59;t=60")
    );
}

#[test]
fn a_paid_plan_gets_its_own_limits() {
    let mut w = World::new(
        r#"[[plans]]
           name = "pro"
           permanent = [{ name = "hourly", kind = "sliding", quota = 1000, window = 3600 }]"#,
    );
    let mut account = Account::new();
    Lifetimes::DEFAULT
        .confirm(&mut account, [], Instant::ZERO)
        .unwrap();
    let record = Lifetimes::DEFAULT
        .issue_permanent(&account, Instant::ZERO)
        .unwrap();
    let key = w.issue(3, record, Some("pro"));
    let admitted = (0..1200)
        .filter(|i| w.call(Some(&bearer(&key)), i / 100).0 == 200)
        .count();
    assert_eq!(admitted, 1000);
}

#[test]
fn a_store_failure_fails_closed_by_default_and_open_when_configured() {
    for (config, status) in [("", 503), ("on_store_failure = \"open\"", 200)] {
        let mut w = World::new(config);
        let key = pre_key(&mut w, 1, 0);
        w.store.down = true;
        let (got, f) = w.call(Some(&bearer(&key)), 0);
        assert_eq!(got, status, "{config}");
        assert!(f.is_empty());
    }
}

#[test]
fn a_cost_no_limit_can_admit_is_an_error_and_charges_nothing() {
    let mut w = World::new("");
    let key = pre_key(&mut w, 1, 0);
    let verifier = Verifier::new(&w.set, toy_digest);
    let header = bearer(&key);
    let err = verifier
        .verify(Some(header.as_bytes()), Instant::ZERO, 61, &mut w.store)
        .unwrap_err();
    assert_eq!(err.capacity, 60);
    let outcome = verifier
        .verify(Some(header.as_bytes()), Instant::ZERO, 60, &mut w.store)
        .unwrap();
    assert!(matches!(outcome, Outcome::Allowed(_)));
}

#[test]
fn refusals_display_without_the_key() {
    let mut w = World::new("");
    let key = pre_key(&mut w, 1, 0);
    let verifier = Verifier::new(&w.set, toy_digest);
    let header = bearer(&key);
    let outcome = verifier
        .verify(
            Some(header.as_bytes()),
            Instant::from_secs(99_999),
            1,
            &mut w.store,
        )
        .unwrap();
    let shown = format!("{outcome:?}");
    assert!(matches!(outcome, Outcome::Refused(Refusal::Expired)));
    assert!(!shown.contains(&key.expose_secret()[8..]));
    let allowed = verifier
        .verify(Some(header.as_bytes()), Instant::ZERO, 1, &mut w.store)
        .unwrap();
    assert!(!format!("{allowed:?}").contains(&key.expose_secret()[8..]));
}

#[test]
fn a_plan_the_policy_set_does_not_know_is_refused_even_when_failing_open() {
    let mut w = World::new("on_store_failure = \"open\"");
    let mut account = Account::new();
    Lifetimes::DEFAULT
        .confirm(&mut account, [], Instant::ZERO)
        .unwrap();
    let record = Lifetimes::DEFAULT
        .issue_permanent(&account, Instant::ZERO)
        .unwrap();
    let key = w.issue(9, record, Some("gold"));
    let (status, fields) = w.call(Some(&bearer(&key)), 0);
    assert_eq!(status, 503);
    assert!(fields.is_empty());
}
