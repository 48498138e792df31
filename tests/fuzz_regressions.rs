//! What the fuzz targets under `fuzz/` check, replayed by `cargo test`.
//!
//! Each target's checks live in `fuzz/checks/<target>.rs` and are included
//! here unchanged, so a crash the fuzzer found is replayed through the very
//! same assertions, on stable and without cargo fuzz. Inputs are written as
//! the decoded values (what `cargo +nightly fuzz fmt <target> <file>`
//! prints), cut down by hand to what the failure needs; the raw files the
//! fuzzer wrote are kept under `fuzz/regressions/<target>/`.
//!
//! A test marked `#[ignore = "crash: …"]` replays a bug that is not fixed
//! yet: run it with `cargo test --test fuzz_regressions -- --ignored`.
//! Besides the crashes, one typical case per target (and every byte-level
//! seed) is replayed, so that the checks keep compiling and passing against
//! the library as it changes.

// The checks use policy files and snapshots, which need `serde`.
#![cfg(feature = "serde")]
#![allow(unexpected_cfgs)] // `cfg(fuzzing)` in fuzz/checks is set by cargo fuzz only.

mod model;

#[path = "../fuzz/checks/authorization.rs"]
mod authorization;
#[path = "../fuzz/checks/bearer.rs"]
mod bearer;
#[path = "../fuzz/checks/client_headers.rs"]
mod client_headers;
#[path = "../fuzz/checks/clock.rs"]
mod clock;
#[path = "../fuzz/checks/key.rs"]
mod key;
#[path = "../fuzz/checks/lifecycle.rs"]
mod lifecycle;
#[path = "../fuzz/checks/limits.rs"]
mod limits;
#[path = "../fuzz/checks/policy.rs"]
mod policy;
#[path = "../fuzz/checks/verify.rs"]
mod verify;

use std::path::PathBuf;

use clock::{Cost, Move, Step};

/// Every file of a target's seed corpus.
fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable corpus entry").path())
        .collect();
    files.sort();
    let seeds: Vec<_> = files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("a readable seed");
            (p, bytes)
        })
        .collect();
    assert!(!seeds.is_empty(), "no seeds for {target}");
    seeds
}

// ---------------------------------------------------------------------------
// Crashes found by the fuzzer
// ---------------------------------------------------------------------------

/// `fuzz/regressions/policy/foreign-state-changed`: a state made by another
/// policy with as many limits, whose first limit is of the same kind but
/// whose second is not, is refused with `ForeignState`, yet the refusal has
/// already assessed (and so moved the latest time of) the first limit. A
/// request stamped between the two times is then judged at the wrong time.
#[test]
fn a_state_refused_as_foreign_is_left_unchanged() {
    use policy::{Input, Kind, NameSpec, Op, Span, Spec};
    let spec = |name: u8, kind: Kind| Spec {
        name: NameSpec::Short(name),
        kind,
        quota: 1,
        window: Span::Secs(1),
    };
    policy::run(&Input {
        limits: vec![spec(0, Kind::Sliding), spec(1, Kind::Sliding)],
        other: vec![spec(0, Kind::Sliding), spec(1, Kind::Fixed)],
        start: Move::Same,
        ops: vec![
            Op::Request(Move::Same, Cost::One),
            Op::Foreign(Move::To(347_716_025), Cost::One),
        ],
    });
}

/// `fuzz/regressions/limits/compact-retry-saturates`: a compact window of
/// quota `u32::MAX` holding one unit refuses a request of the whole quota
/// with a retry-after of a few nanoseconds (the first bucket of the window,
/// which holds nothing), instead of when the held unit leaves: the walk for
/// the retry-after adds the cost to the units still held with a saturating
/// addition, which stops at `u32::MAX`, the quota, so it "fits" at once.
#[test]
fn a_compact_window_of_the_largest_quota_waits_for_its_held_units() {
    limits::run(&limits::Input {
        kind: limits::Kind::Compact,
        quota: limits::Quota::Any(u32::MAX),
        window: limits::Window::Nanos(255),
        start: Move::NearEnd(6143),
        ops: vec![(Move::Same, Cost::One), (Move::Same, Cost::Capacity)],
    });
}

// ---------------------------------------------------------------------------
// Byte-level seeds, replayed as they are
// ---------------------------------------------------------------------------

#[test]
fn every_bearer_seed_passes_the_bearer_checks() {
    for (path, bytes) in seeds("bearer") {
        let result = std::panic::catch_unwind(|| bearer::run(&bytes));
        assert!(result.is_ok(), "{}", path.display());
    }
}

#[test]
fn every_key_seed_passes_the_key_checks() {
    for (path, bytes) in seeds("key") {
        let input = key::Input::from_bytes(&bytes);
        let result = std::panic::catch_unwind(|| key::run(&input));
        assert!(result.is_ok(), "{}", path.display());
    }
}

// ---------------------------------------------------------------------------
// One typical case per structured target
// ---------------------------------------------------------------------------

/// A limit filled, waited on, stamped late and pushed to the end of time.
fn wandering() -> Vec<(Move, Cost)> {
    vec![
        (Move::Same, Cost::One),
        (Move::Same, Cost::Units(2)),
        (Move::Forward(Step::Sixteenths(4)), Cost::One),
        (Move::Back(Step::Sixteenths(8)), Cost::One),
        (Move::Forward(Step::Nanos(1)), Cost::Zero),
        (Move::Forward(Step::Sixteenths(16)), Cost::Capacity),
        (Move::Same, Cost::Over(1)),
        (Move::BackBy(u64::MAX), Cost::One),
        (Move::To(1 << 40), Cost::Units(3)),
        (Move::NearEnd(3), Cost::One),
        (Move::To(5), Cost::One),
    ]
}

#[test]
fn every_limit_kind_passes_the_limit_checks_on_a_wandering_clock() {
    use limits::{Input, Kind, Quota, Window};
    for kind in [
        Kind::Inline,
        Kind::Heap,
        Kind::Compact,
        Kind::Bucket,
        Kind::Fixed,
    ] {
        for (quota, window) in [
            (3, Window::Nanos(10)),
            (5, Window::Secs(1)),
            (0, Window::Nanos(1)),
        ] {
            limits::run(&Input {
                kind,
                quota: Quota::Small(quota),
                window,
                start: Move::Forward(Step::Nanos(7)),
                ops: wandering(),
            });
        }
    }
}

#[test]
fn a_mixed_policy_passes_the_policy_checks() {
    use policy::{Input, Kind, NameSpec, Op, Span, Spec};
    let spec = |name: u8, kind: Kind, quota: u8, window: Span| Spec {
        name: NameSpec::Short(name),
        kind,
        quota,
        window,
    };
    let limits = vec![
        spec(0, Kind::Sliding, 4, Span::Nanos(20)),
        spec(1, Kind::Compact, 6, Span::Nanos(150)),
        spec(2, Kind::Bucket, 3, Span::Nanos(5)),
        spec(3, Kind::Fixed, 5, Span::Nanos(40)),
        spec(4, Kind::Fixed, 5, Span::Nanos(40)),
    ];
    let mut ops: Vec<Op> = wandering()
        .into_iter()
        .map(|(m, c)| Op::Request(m, c))
        .collect();
    ops.push(Op::Adopt);
    ops.push(Op::Foreign(Move::Same, Cost::One));
    policy::run(&Input {
        other: limits[..2].to_vec(),
        limits,
        start: Move::Same,
        ops,
    });
}

#[test]
fn a_confirmed_account_passes_the_lifecycle_checks() {
    use lifecycle::{Event, Input, Life};
    let events = vec![
        Event::IssuePre,
        Event::IssuePre,
        Event::IssuePre,
        Event::Authorize,
        Event::Wait(3600),
        Event::IssueSession,
        Event::Revoke(0),
        Event::Revoke(0),
        Event::Rewind(1_000_000_000),
        Event::Confirm,
        Event::Confirm,
        Event::IssuePermanent,
        Event::Authorize,
        Event::Wait(43_200),
        Event::Revoke(1),
    ];
    for from_confirmation in [false, true] {
        lifecycle::run(&Input {
            pre: Life::Default,
            confirmed: Life::Hours(3),
            from_confirmation,
            cap: 2,
            start: u64::MAX - 3 * 3_600_000_000_000,
            events: events.clone(),
        });
    }
}

#[test]
fn an_approved_request_passes_the_authorization_checks() {
    use authorization::{Event, Input};
    authorization::run(&Input {
        expires_in: Some(30_000_000_000),
        interval: None,
        start: 1_000_000_000,
        entropy: core::array::from_fn(|i| i as u8),
        events: vec![
            Event::Poll,
            Event::Poll,
            Event::Wait(5),
            Event::Poll,
            Event::Approve,
            Event::Status(-1),
            Event::Rewind(1),
            Event::Poll,
            Event::Poll,
            Event::Approve,
            Event::Wait(31),
            Event::Expire,
            Event::Poll,
        ],
        hex: "000102030405060708090A0B0C0D0E0F".to_owned(),
    });
}

#[test]
fn a_four_limit_policy_passes_the_client_header_checks() {
    use client_headers::{Input, RoundTrip, Spec};
    let spec = |kind: u8, quota: u32, window: u64| Spec {
        kind,
        quota,
        window,
        name: None,
    };
    client_headers::run(&Input {
        round: RoundTrip {
            limits: vec![
                spec(0, 60, 60_000_000_000),
                spec(1, u32::MAX, 3_600_000_000_000),
                spec(2, 3, 500_000_000),
                spec(3, 2, 1_500_000_000),
            ],
            start: 1_000_000_000,
            requests: wandering(),
        },
        raw: b"\t\"a\" ;q=1 ;\tw=2,\t\"b\";q=3, junk, \"c\";q=9999999999999999".to_vec(),
    });
}

#[test]
fn every_policy_set_passes_the_verification_checks() {
    use verify::{Failure, Header, Input, KeyKindSpec, KeySpec, Step};
    let key = |seed: u8, account: u8, kind: KeyKindSpec, plan: u8| KeySpec {
        seed,
        account,
        kind,
        issued: 0,
        plan,
    };
    let call = |header: Header| Step::Call {
        header,
        mv: Move::Same,
        cost: Cost::One,
    };
    let steps = vec![
        call(Header::Key(0)),
        call(Header::Key(0)),
        call(Header::Tab(0)),
        call(Header::Spaced(1, 2)),
        call(Header::Typo(0, 10, b'x')),
        call(Header::Stranger(9)),
        call(Header::Absent),
        call(Header::Raw(b"Basic dXNlcg==".to_vec())),
        call(Header::Key(3)),
        Step::Confirm(0),
        call(Header::Key(0)),
        Step::Revoke(0),
        call(Header::Key(0)),
        Step::Fail(Failure::KeyRead),
        call(Header::Key(1)),
        Step::Fail(Failure::Full),
        call(Header::Key(2)),
        Step::Fail(Failure::None),
        Step::Plan(2, 2),
        call(Header::Key(2)),
    ];
    for config in 0..verify::CONFIGS.len() as u8 {
        verify::run(&Input {
            config,
            keys: vec![
                key(1, 0, KeyKindSpec::Pre, 0),
                key(2, 0, KeyKindSpec::Confirmed, 0),
                key(3, 1, KeyKindSpec::Permanent, 1),
                key(4, 2, KeyKindSpec::Revoked(1_000_000_000), 2),
            ],
            start: 1_000_000_000,
            steps: steps.clone(),
        });
    }
}
