//! The client's reading of `RateLimit-Policy`, `RateLimit` and
//! `Retry-After`.
//!
//! - On arbitrary bytes: nothing panics; at most `MAX_ITEMS` members are
//!   kept, with unique printable names of at most `MAX_NAME_LEN` bytes and
//!   numbers of at most 15 digits; kept and ignored members together are no
//!   more than the list can hold; `parse_retry_after` reads exactly the
//!   delay-seconds form.
//! - Round trip: for a policy built from fuzz input and its decisions at
//!   arbitrary instants, what `keyrate::http::RateLimitHeaders` writes
//!   (without error, within its buffer) parses back to the same numbers,
//!   legacy fields included.

#![allow(dead_code)]

use std::collections::HashMap;

use core::time::Duration;

use keyrate::client::headers::{
    Field, FieldItem, MAX_ITEMS, MAX_NAME_LEN, PolicyField, RateLimitField, parse_retry_after,
};
use keyrate::http::{HeaderOptions, MAX_VALUE_LEN, RateLimitHeaders};
use keyrate::limit::{
    AnyLimit, CompactWindow, FixedWindow, HeapSlots, Policy, PolicyDecision, SlidingWindow,
    TokenBucket,
};
use keyrate::time::{Instant, ceil_secs};

use crate::clock::{Cost, Move};

/// Requests per case; the rest of the input is ignored.
pub const MAX_REQUESTS: usize = 64;

/// The largest exact-window quota whose state is created.
pub const SLIDING_QUOTA: u32 = 1024;

/// The largest integer a structured field holds.
const MAX_INTEGER: u64 = 999_999_999_999_999;

/// One fuzz case. The fuzz target decodes `round` from the front of its
/// input and takes the remaining bytes as `raw`, so that a seed ends with
/// a readable field value.
#[derive(Clone, Debug)]
pub struct Input {
    /// The policy and requests of the round trip.
    pub round: RoundTrip,
    /// A field value as a server might send it.
    pub raw: Vec<u8>,
}

/// A policy and the requests whose headers are written and read back.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub struct RoundTrip {
    /// The limits of the policy whose headers are written.
    pub limits: Vec<Spec>,
    /// The first instant.
    pub start: u64,
    /// Requests: a clock move, then a cost.
    pub requests: Vec<(Move, Cost)>,
}

/// One limit of the policy.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub struct Spec {
    /// Its kind: sliding, compact, bucket or fixed (modulo 4).
    pub kind: u8,
    /// Its quota (or burst).
    pub quota: u32,
    /// Its window (or period), in nanoseconds.
    pub window: u64,
    /// Its name: `l<n>` if `None` or invalid.
    pub name: Option<String>,
}

/// Runs one case.
pub fn run(input: &Input) {
    check_field::<keyrate::client::headers::PolicyItem>(&input.raw);
    check_field::<keyrate::client::headers::RateLimitItem>(&input.raw);
    check_policy_numbers(&PolicyField::parse(&input.raw));
    check_rate_limit_numbers(&RateLimitField::parse(&input.raw));
    check_retry_after(&input.raw);
    round_trip(&input.round);
}

/// Bounds that hold for any field value.
fn check_field<T: FieldItem + PartialEq>(raw: &[u8]) {
    let field = Field::<T>::parse(raw);
    assert_eq!(
        field,
        Field::<T>::parse(raw),
        "parsing is not deterministic"
    );
    let items = field.items();
    assert!(items.len() <= MAX_ITEMS);
    assert_eq!(field.is_empty(), items.is_empty());
    let members = raw.iter().filter(|&&b| b == b',').count() + 1;
    assert!(
        items.len() + field.ignored() <= members,
        "more members than commas allow"
    );
    let names: Vec<&str> = items.iter().map(|i| i.name().as_str()).collect();
    for (i, n) in names.iter().enumerate() {
        assert!(n.len() <= MAX_NAME_LEN, "name of {} bytes", n.len());
        assert!(n.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{n:?}");
        assert!(!names[..i].contains(n), "{n:?} kept twice");
        assert!(field.get(n).is_some_and(|item| item.name() == n));
    }
}

fn check_policy_numbers(field: &PolicyField) {
    for p in field.items() {
        assert!(p.quota <= MAX_INTEGER);
        if let Some(w) = p.window {
            assert!(!w.is_zero() && w.as_secs() <= MAX_INTEGER && w.subsec_nanos() == 0);
        }
    }
}

fn check_rate_limit_numbers(field: &RateLimitField) {
    for r in field.items() {
        assert!(r.remaining <= MAX_INTEGER);
        if let Some(t) = r.reset {
            assert!(t.as_secs() <= MAX_INTEGER && t.subsec_nanos() == 0);
        }
    }
}

/// Delay-seconds with optional whitespace around, saturating; else `None`.
fn check_retry_after(raw: &[u8]) {
    let digits = raw.trim_ascii();
    let want = (!digits.is_empty() && digits.iter().all(u8::is_ascii_digit)).then(|| {
        let n = digits.iter().fold(0u128, |n, d| {
            (n * 10 + u128::from(d - b'0')).min(u128::from(u64::MAX))
        });
        Duration::from_secs(u64::try_from(n).unwrap_or(u64::MAX))
    });
    assert_eq!(parse_retry_after(raw), want, "Retry-After {raw:?}");
}

/// The limit a spec describes, if its parameters are valid.
fn limit(spec: &Spec) -> Option<AnyLimit<HeapSlots>> {
    let window = Duration::from_nanos(spec.window);
    Some(match spec.kind % 4 {
        0 if spec.quota <= SLIDING_QUOTA => SlidingWindow::new(spec.quota, window).ok()?.into(),
        0 => return None,
        1 => CompactWindow::new(spec.quota, window).ok()?.into(),
        2 => TokenBucket::new(spec.quota, window).ok()?.into(),
        _ => FixedWindow::new(spec.quota, window).ok()?.into(),
    })
}

/// What the server writes, the client reads back.
fn round_trip(input: &RoundTrip) {
    let mut policy: Policy<HeapSlots> = Policy::new();
    for (i, spec) in input.limits.iter().take(4).enumerate() {
        let Some(l) = limit(spec) else {
            continue;
        };
        let name = spec.name.clone().unwrap_or_default();
        if policy.push(&name, l.clone()).is_err() {
            let _ = policy.push(&format!("l{i}"), l);
        }
    }
    let span = policy
        .iter()
        .map(|(_, l)| u64::try_from(l.info().window.as_nanos()).unwrap_or(u64::MAX))
        .max()
        .unwrap_or(1);
    let cap = policy.capacity();
    let mut state = policy.new_state();
    let mut t = input.start;
    for &(mv, cost) in input.requests.iter().take(MAX_REQUESTS) {
        t = mv.apply(t, span);
        let Ok(decision) = policy.check(&mut state, Instant::from_nanos(t), cost.resolve(cap))
        else {
            continue;
        };
        check_headers(&policy, &decision);
    }
}

/// The fields written for one decision parse back to its numbers.
fn check_headers(policy: &Policy<HeapSlots>, decision: &PolicyDecision) {
    let headers = RateLimitHeaders::new(policy, decision);
    let all = HeaderOptions {
        draft: true,
        legacy: true,
    };
    let mut fields: HashMap<&'static str, String> = HashMap::new();
    let written = headers.for_each(all, |name, value| {
        assert!(value.len() <= MAX_VALUE_LEN);
        assert!(
            fields.insert(name, value.to_owned()).is_none(),
            "{name} twice"
        );
    });
    assert!(written.is_ok(), "a header did not fit for {decision:?}");
    if policy.is_empty() {
        assert!(fields.is_empty(), "fields for an empty policy: {fields:?}");
        return;
    }
    let field = |name: &str| match fields.get(name) {
        Some(v) => v.as_bytes(),
        None => panic!("{name} missing for {decision:?}"),
    };
    let integer = |name: &str| {
        let v = std::str::from_utf8(field(name)).unwrap_or("?");
        v.parse::<u64>().unwrap_or_else(|_| panic!("{name}: {v:?}"))
    };

    // RateLimit-Policy: every limit, its quota and window in whole seconds.
    let read = PolicyField::parse(field("RateLimit-Policy"));
    assert_eq!(
        read.ignored(),
        0,
        "RateLimit-Policy {:?}",
        fields["RateLimit-Policy"]
    );
    assert_eq!(read.items().len(), policy.len());
    for (item, (name, l)) in read.items().iter().zip(policy.iter()) {
        let info = l.info();
        assert_eq!(item.name.as_str(), name);
        assert_eq!(item.quota, u64::from(info.quota));
        assert_eq!(
            item.window,
            Some(Duration::from_secs(ceil_secs(info.window)))
        );
    }

    // RateLimit, Retry-After and the legacy fields: the decision's numbers.
    let read = RateLimitField::parse(field("RateLimit"));
    assert_eq!(read.ignored(), 0, "RateLimit {:?}", fields["RateLimit"]);
    let retry = fields
        .get("Retry-After")
        .map(|v| parse_retry_after(v.as_bytes()));
    match decision {
        PolicyDecision::Allowed(each) => {
            assert_eq!(read.items().len(), each.len());
            assert_eq!(retry, None);
            for ((item, a), (name, _)) in read.items().iter().zip(each).zip(policy.iter()) {
                assert_eq!(item.name.as_str(), name);
                assert_eq!(item.remaining, u64::from(a.remaining));
                assert_eq!(item.reset, Some(Duration::from_secs(ceil_secs(a.reset))));
            }
            let least = each.iter().map(|a| a.remaining).min().unwrap_or(0);
            let i = each.iter().position(|a| a.remaining == least).unwrap_or(0);
            let quota = policy.limit(i).map_or(0, |l| l.info().quota);
            assert_eq!(integer("X-RateLimit-Limit"), u64::from(quota));
            assert_eq!(integer("X-RateLimit-Remaining"), u64::from(least));
            assert_eq!(integer("X-RateLimit-Reset"), ceil_secs(each[i].reset));
        }
        PolicyDecision::Denied(d) => {
            let want = Duration::from_secs(ceil_secs(d.retry_after).max(1));
            assert_eq!(read.items().len(), 1);
            let item = &read.items()[0];
            assert_eq!(Some(item.name.as_str()), policy.name(d.limit));
            assert_eq!(item.remaining, u64::from(d.remaining));
            assert_eq!(item.reset, Some(want));
            assert_eq!(retry, Some(Some(want)));
            assert_eq!(headers.retry_after_secs(), Some(want.as_secs()));
            let quota = policy.limit(d.limit).map_or(0, |l| l.info().quota);
            assert_eq!(integer("X-RateLimit-Limit"), u64::from(quota));
            assert_eq!(integer("X-RateLimit-Remaining"), u64::from(d.remaining));
            assert_eq!(integer("X-RateLimit-Reset"), want.as_secs());
        }
    }
}
