//! Random operation sequences on a `Policy` of up to four mixed limits.
//!
//! Building: names follow their grammar, a duplicate name and a fifth limit
//! are errors, and a refused limit leaves the policy unchanged.
//!
//! Checked on every request, on a `raw` state that sees the clock jump
//! either way and a `late` state that sees the running maximum: `peek`
//! equals `check`; an error is exactly a cost above the smallest capacity
//! and changes nothing; a policy of windows only decides a late stamp as at
//! the latest time; `late` is allowed exactly when each of its limits alone
//! (fed only the policy's admitted history) allows, and a denial names the
//! limit that frees up last and waits exactly long enough; the policy is
//! idle exactly when every limit alone is. A state made by another policy
//! is refused and left unchanged; adopting a state keeps it usable.

#![allow(dead_code)]

use core::time::Duration;

use keyrate::limit::{
    AnyLimit, AnyState, CompactWindow, CostTooLarge, Decision, FixedWindow, Policy,
    PolicyCheckError, PolicyDecision, PolicyError, PolicyState, SlidingWindow, TokenBucket,
};
use keyrate::time::Instant;

use crate::clock::{Cost, Move};

/// Inline storage of the policies' exact windows.
pub type Inline = [u64; 8];

/// Operations per case; the rest of the input is ignored.
pub const MAX_OPS: usize = 160;

/// One fuzz case.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub struct Input {
    /// Limits pushed in order into the policy under test.
    pub limits: Vec<Spec>,
    /// Limits of another policy, for foreign states and adoption.
    pub other: Vec<Spec>,
    /// The first instant, as a move from the origin.
    pub start: Move,
    /// What happens, in order.
    pub ops: Vec<Op>,
}

/// One limit to push.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub struct Spec {
    /// Its name.
    pub name: NameSpec,
    /// Its kind.
    pub kind: Kind,
    /// Its quota (or burst), modulo 12.
    pub quota: u8,
    /// Its window (or period).
    pub window: Span,
}

/// A limit name.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub enum NameSpec {
    /// `l0` to `l5`: valid, and sometimes repeated.
    Short(u8),
    /// Any text.
    Text(String),
}

/// A limit kind.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An exact sliding window.
    Sliding,
    /// A compact sliding window.
    Compact,
    /// A token bucket.
    Bucket,
    /// A fixed window.
    Fixed,
}

/// A window or period.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span {
    /// 0 to 255 ns.
    Nanos(u8),
    /// Whole seconds.
    Secs(u16),
}

/// One step of a case.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// A request of a cost after a clock move.
    Request(Move, Cost),
    /// The other policy checks copies of this policy's states.
    Foreign(Move, Cost),
    /// States adopted into the other policy and into this one.
    Adopt,
}

impl NameSpec {
    fn text(&self) -> String {
        match self {
            NameSpec::Short(n) => format!("l{}", n % 6),
            NameSpec::Text(s) => s.clone(),
        }
    }
}

impl Span {
    fn duration(self) -> Duration {
        match self {
            Span::Nanos(n) => Duration::from_nanos(u64::from(n)),
            Span::Secs(n) => Duration::from_secs(u64::from(n)),
        }
    }
}

impl Spec {
    /// The limit, if its parameters are valid.
    fn limit(&self) -> Option<AnyLimit<Inline>> {
        let quota = u32::from(self.quota % 12);
        let window = self.window.duration();
        Some(match self.kind {
            Kind::Sliding => SlidingWindow::new(quota, window).ok()?.into(),
            Kind::Compact => CompactWindow::new(quota, window).ok()?.into(),
            Kind::Bucket => TokenBucket::new(quota, window).ok()?.into(),
            Kind::Fixed => FixedWindow::new(quota, window).ok()?.into(),
        })
    }
}

/// A valid limit name: 1 to 16 ASCII letters, digits, `_`, `-` or `.`,
/// starting with a letter.
fn is_name(name: &str) -> bool {
    let b = name.as_bytes();
    (1..=16).contains(&b.len())
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
}

/// Builds a policy from `specs`, checking each push.
fn build(specs: &[Spec]) -> (Policy<Inline>, Vec<Kind>) {
    let mut policy: Policy<Inline> = Policy::new();
    let mut kinds = Vec::new();
    for spec in specs.iter().take(8) {
        let Some(limit) = spec.limit() else {
            continue;
        };
        let name = spec.name.text();
        let mut allowed = Vec::new();
        if !is_name(&name) {
            allowed.push("name");
        }
        if policy.iter().any(|(n, _)| n == name) {
            allowed.push("duplicate");
        }
        if policy.len() == 4 {
            allowed.push("full");
        }
        let before = policy.clone();
        match policy.push(&name, limit) {
            Ok(()) => {
                assert!(allowed.is_empty(), "pushed {name:?}, expected {allowed:?}");
                assert_eq!(policy.name(policy.len() - 1), Some(name.as_str()));
                kinds.push(spec.kind);
            }
            Err(e) => {
                let which = match e {
                    PolicyError::Name(_) => "name",
                    PolicyError::DuplicateName => "duplicate",
                    PolicyError::Full { max } => {
                        assert_eq!(max, 4);
                        "full"
                    }
                };
                assert!(
                    allowed.contains(&which),
                    "{e:?} for {name:?}, expected {allowed:?}"
                );
                assert_eq!(policy, before, "a refused push changed the policy");
            }
        }
    }
    (policy, kinds)
}

fn at(t: u64) -> Instant {
    Instant::from_nanos(t)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

type Outcome = Result<PolicyDecision, PolicyCheckError>;

fn dbg<T: core::fmt::Debug>(x: &T) -> String {
    format!("{x:?}")
}

/// `check`, after asserting that `peek` decides the same.
fn checked(p: &Policy<Inline>, s: &mut PolicyState<Inline>, t: u64, c: u32) -> Outcome {
    let before = dbg(s);
    let peeked = p.peek(s, at(t), c);
    let got = p.check(s, at(t), c);
    assert_eq!(peeked, got, "peek differs from check at {t} cost {c}");
    if got.is_err() {
        assert_eq!(dbg(s), before, "an error changed the state");
    }
    got
}

/// What every decision must satisfy, whatever the clock.
fn sane(p: &Policy<Inline>, got: &Outcome, c: u32) {
    let cap = p.capacity();
    match got {
        Err(e) => {
            let want = PolicyCheckError::CostTooLarge(CostTooLarge {
                cost: c,
                capacity: cap,
            });
            assert_eq!(*e, want);
        }
        Ok(_) if c > cap => panic!("cost {c} above capacity {cap} was decided"),
        Ok(PolicyDecision::Allowed(each)) => {
            assert_eq!(each.len(), p.len());
            for (a, (_, l)) in each.iter().zip(p.iter()) {
                assert!(a.remaining <= l.capacity() - c, "{a:?} for {c}");
            }
        }
        Ok(PolicyDecision::Denied(d)) => {
            assert!(c > 0, "a cost of 0 was refused: {d:?}");
            assert!(d.limit < p.len(), "names limit {} of {}", d.limit, p.len());
            assert!(!d.retry_after.is_zero(), "retry-after of zero");
            assert!(d.remaining < c, "refused {c} with {} left", d.remaining);
        }
    }
}

/// One limit alone, fed only what the policy admitted.
struct Solo {
    limit: AnyLimit<Inline>,
    state: AnyState<Inline>,
}

impl Solo {
    fn peek(&self, t: u64, c: u32) -> Decision {
        match self.limit.peek(&self.state, at(t), c) {
            Some(d) => d,
            None => panic!("a lone limit refused its own state or cost {c}"),
        }
    }

    fn charge(&mut self, t: u64, c: u32) {
        let d = self.limit.assess(&mut self.state, at(t), c);
        assert!(
            d.is_some_and(|d| d.is_allowed()),
            "a lone limit refused {c} at {t}"
        );
        self.limit.charge(&mut self.state, at(t), c);
    }
}

/// The time over which `l` forgets everything.
fn span_of(l: &AnyLimit<Inline>) -> u64 {
    match l {
        AnyLimit::Compact(c) => nanos(l.info().window) + nanos(c.bucket()),
        _ => nanos(l.info().window),
    }
}

/// Runs one case.
pub fn run(input: &Input) {
    let (policy, kinds) = build(&input.limits);
    let (other, _) = build(&input.other);
    let cap = policy.capacity();
    let least = policy.iter().map(|(_, l)| l.capacity()).min();
    assert_eq!(cap, least.unwrap_or(u32::MAX));
    let windows_only = !kinds.contains(&Kind::Bucket);
    let span = policy.iter().map(|(_, l)| span_of(l)).max().unwrap_or(1);
    let margin = span.saturating_mul(2).saturating_add(2);
    let far = |t: u64| t <= u64::MAX - margin;

    let mut solos: Vec<Solo> = policy
        .iter()
        .map(|(_, l)| Solo {
            limit: *l,
            state: l.new_state(),
        })
        .collect();
    let (mut raw, mut late) = (policy.new_state(), policy.new_state());
    let mut t = input.start.apply(0, span);
    let mut seen = 0u64;

    for op in input.ops.iter().take(MAX_OPS) {
        match *op {
            Op::Request(mv, cost) => {
                t = mv.apply(t, span);
                let c = cost.resolve(cap);
                let lt = t.max(seen);
                let got = checked(&policy, &mut raw, t, c);
                sane(&policy, &got, c);
                let want = checked(&policy, &mut late, lt, c);
                sane(&policy, &want, c);
                if windows_only {
                    assert_eq!(got, want, "at {t}, judged at the latest time {lt}");
                }
                if got.is_ok() {
                    seen = lt;
                }
                if let Ok(decision) = want {
                    against_solos(&policy, &late, &mut solos, lt, c, &decision, far(lt));
                }
            }
            Op::Foreign(mv, cost) => {
                t = mv.apply(t, span);
                let c = cost.resolve(other.capacity());
                for s in [&raw, &late] {
                    let mut copy = s.clone();
                    let got = other.check(&mut copy, at(t), c);
                    if other.len() != policy.len() {
                        assert_eq!(got, Err(PolicyCheckError::ForeignState));
                    }
                    if got.is_err() {
                        assert_eq!(dbg(&copy), dbg(s), "a refused foreign state changed");
                    }
                }
            }
            Op::Adopt => {
                let mine = policy.adopt(&policy, &late);
                assert_eq!(dbg(&mine), dbg(&late), "adopting into the same policy");
                let mut theirs = other.adopt(&policy, &late);
                let got = other.check(&mut theirs, at(t), 0);
                assert!(got.is_ok_and(|d| d.is_allowed()), "adopted state unusable");
                let back = policy.adopt(&other, &other.new_state());
                let mut back_raw = back.clone();
                assert!(policy.check(&mut back_raw, at(t), 0).is_ok());
            }
        }
    }
}

/// `late`'s decision against each limit alone.
fn against_solos(
    policy: &Policy<Inline>,
    late: &PolicyState<Inline>,
    solos: &mut [Solo],
    t: u64,
    c: u32,
    decision: &PolicyDecision,
    far: bool,
) {
    let alone: Vec<Decision> = solos.iter().map(|s| s.peek(t, c)).collect();
    match decision {
        PolicyDecision::Allowed(each) => {
            for (i, (a, d)) in each.iter().zip(&alone).enumerate() {
                assert_eq!(Decision::Allowed(*a), *d, "limit {i} at {t} cost {c}");
            }
            for s in solos.iter_mut() {
                s.charge(t, c);
            }
        }
        PolicyDecision::Denied(d) => {
            let longest = alone.iter().filter_map(Decision::retry_after).max();
            assert_eq!(Some(d.retry_after), longest, "at {t} cost {c}");
            match alone.get(d.limit) {
                Some(Decision::Denied(named)) => {
                    assert_eq!(
                        (named.retry_after, named.remaining),
                        (d.retry_after, d.remaining)
                    );
                }
                other => panic!("named limit {} decided {other:?}", d.limit),
            }

            // Waiting retry-after is exactly enough.
            let wait = nanos(d.retry_after);
            if let (true, Some(then)) = (far, t.checked_add(wait)) {
                let ok = |u: u64| policy.peek(late, at(u), c).is_ok_and(|d| d.is_allowed());
                assert!(ok(then), "{c} not allowed {wait} after {t}");
                assert!(
                    wait == 1 || !ok(then - 1),
                    "{c} allowed before {wait} after {t}"
                );
            }
        }
    }
    let idle = solos.iter().all(|s| s.limit.is_idle(&s.state, at(t)));
    assert_eq!(policy.is_idle(late, at(t)), idle, "idle at {t}");
}
