//! Policies: several named limits checked all-or-nothing.

use core::fmt;
use core::time::Duration;

use super::{
    Allowed, CompactWindow, CompactWindowState, CostTooLarge, Decision, Denied, FixedWindow,
    FixedWindowState, Limit, LimitInfo, SlidingWindow, SlidingWindowState, Slots, TokenBucket,
    TokenBucketState,
};
use crate::time::Instant;

/// The most limits one [`Policy`] holds by default.
pub const MAX_LIMITS: usize = 4;

/// The longest limit name, in bytes.
const NAME_LEN: usize = 16;

/// A limit's name, as advertised in `RateLimit-Policy`: 1 to 16 ASCII
/// letters, digits, `_`, `-` or `.`, starting with a letter.
///
/// The character set needs no escaping inside a structured-field string.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Name(heapless::String<NAME_LEN>);

impl Name {
    /// Validates `name`.
    ///
    /// # Errors
    ///
    /// [`NameError`] if it is empty, longer than 16 bytes, does not start
    /// with a letter, or holds another character.
    pub fn new(name: &str) -> Result<Name, NameError> {
        let mut chars = name.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !starts_with_letter || !rest_ok {
            return Err(NameError);
        }
        heapless::String::try_from(name)
            .map(Name)
            .map_err(|_| NameError)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A limit name that [`Name::new`] rejects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameError;

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "limit name must be 1 to 16 ASCII letters, digits, '_', '-' or '.', \
             starting with a letter",
        )
    }
}

impl core::error::Error for NameError {}

/// Any of the limit kinds, so that one policy can mix them.
#[derive(Clone, Copy, Debug)]
pub enum AnyLimit<S> {
    /// An exact sliding window.
    Sliding(SlidingWindow<S>),
    /// A compact sliding window.
    Compact(CompactWindow),
    /// A token bucket.
    Bucket(TokenBucket),
    /// A fixed window.
    Fixed(FixedWindow),
}

impl<S> PartialEq for AnyLimit<S> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (AnyLimit::Sliding(a), AnyLimit::Sliding(b)) => a == b,
            (AnyLimit::Compact(a), AnyLimit::Compact(b)) => a == b,
            (AnyLimit::Bucket(a), AnyLimit::Bucket(b)) => a == b,
            (AnyLimit::Fixed(a), AnyLimit::Fixed(b)) => a == b,
            _ => false,
        }
    }
}

impl<S> Eq for AnyLimit<S> {}

impl<S> From<SlidingWindow<S>> for AnyLimit<S> {
    fn from(l: SlidingWindow<S>) -> Self {
        AnyLimit::Sliding(l)
    }
}

impl<S> From<CompactWindow> for AnyLimit<S> {
    fn from(l: CompactWindow) -> Self {
        AnyLimit::Compact(l)
    }
}

impl<S> From<TokenBucket> for AnyLimit<S> {
    fn from(l: TokenBucket) -> Self {
        AnyLimit::Bucket(l)
    }
}

impl<S> From<FixedWindow> for AnyLimit<S> {
    fn from(l: FixedWindow) -> Self {
        AnyLimit::Fixed(l)
    }
}

/// The state of an [`AnyLimit`].
#[derive(Clone)]
pub enum AnyState<S> {
    /// State of an exact sliding window.
    Sliding(SlidingWindowState<S>),
    /// State of a compact sliding window.
    Compact(CompactWindowState),
    /// State of a token bucket.
    Bucket(TokenBucketState),
    /// State of a fixed window.
    Fixed(FixedWindowState),
}

impl<S: AsRef<[u64]>> fmt::Debug for AnyState<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyState::Sliding(s) => fmt::Debug::fmt(s, f),
            AnyState::Compact(s) => fmt::Debug::fmt(s, f),
            AnyState::Bucket(s) => fmt::Debug::fmt(s, f),
            AnyState::Fixed(s) => fmt::Debug::fmt(s, f),
        }
    }
}

/// Runs `$body` with `$l` and `$s` bound to the matching limit and state,
/// or evaluates `$mismatch` when the state belongs to another kind.
macro_rules! dispatch {
    ($limit:expr, $state:expr, |$l:ident, $s:ident| $body:expr, $mismatch:expr) => {
        match ($limit, $state) {
            (AnyLimit::Sliding($l), AnyState::Sliding($s)) => $body,
            (AnyLimit::Compact($l), AnyState::Compact($s)) => $body,
            (AnyLimit::Bucket($l), AnyState::Bucket($s)) => $body,
            (AnyLimit::Fixed($l), AnyState::Fixed($s)) => $body,
            _ => $mismatch,
        }
    };
}

impl<S: Slots> AnyLimit<S> {
    /// A fresh state of the matching kind.
    pub fn new_state(&self) -> AnyState<S> {
        match self {
            AnyLimit::Sliding(l) => AnyState::Sliding(l.new_state()),
            AnyLimit::Compact(l) => AnyState::Compact(l.new_state()),
            AnyLimit::Bucket(l) => AnyState::Bucket(l.new_state()),
            AnyLimit::Fixed(l) => AnyState::Fixed(l.new_state()),
        }
    }

    /// The largest admissible cost.
    pub fn capacity(&self) -> u32 {
        match self {
            AnyLimit::Sliding(l) => l.capacity(),
            AnyLimit::Compact(l) => l.capacity(),
            AnyLimit::Bucket(l) => l.capacity(),
            AnyLimit::Fixed(l) => l.capacity(),
        }
    }

    /// The quota and window advertised in headers.
    pub fn info(&self) -> LimitInfo {
        match self {
            AnyLimit::Sliding(l) => l.info(),
            AnyLimit::Compact(l) => l.info(),
            AnyLimit::Bucket(l) => l.info(),
            AnyLimit::Fixed(l) => l.info(),
        }
    }

    /// True if `state` is of this limit's kind.
    pub fn matches(&self, state: &AnyState<S>) -> bool {
        dispatch!(self, state, |_l, _s| true, false)
    }

    /// [`Limit::peek`] on the matching kind; `None` if `state` is of another
    /// kind or `cost` exceeds the capacity.
    pub fn peek(&self, state: &AnyState<S>, now: Instant, cost: u32) -> Option<Decision> {
        dispatch!(self, state, |l, s| l.peek(s, now, cost).ok(), None)
    }

    /// [`Limit::assess`] on the matching kind; `None` if `state` is of
    /// another kind or `cost` exceeds the capacity.
    pub fn assess(&self, state: &mut AnyState<S>, now: Instant, cost: u32) -> Option<Decision> {
        dispatch!(self, state, |l, s| l.assess(s, now, cost).ok(), None)
    }

    /// [`Limit::charge`] on the matching kind; nothing if `state` is of
    /// another kind.
    pub fn charge(&self, state: &mut AnyState<S>, now: Instant, cost: u32) {
        dispatch!(self, state, |l, s| l.charge(s, now, cost), ())
    }

    /// [`Limit::is_idle`] on the matching kind; `false` if `state` is of
    /// another kind.
    pub fn is_idle(&self, state: &AnyState<S>, now: Instant) -> bool {
        dispatch!(self, state, |l, s| l.is_idle(s, now), false)
    }
}

/// Several named limits checked all-or-nothing.
///
/// A request is allowed only if every limit allows it, and then every limit
/// is charged. If any refuses, none is charged; the denial names the limit
/// that frees up last, and its retry-after is when every limit would allow.
/// A policy holds at most `N` limits ([`MAX_LIMITS`] by default); `S` is the
/// storage of its exact sliding windows (see [`Slots`]).
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::limit::{Policy, PolicyDecision, SlidingWindow};
/// use keyrate::time::Instant;
///
/// let policy: Policy<Box<[u64]>> = Policy::new()
///     .with("hourly", SlidingWindow::new(300, Duration::from_secs(3600))?)?
///     .with("burst", SlidingWindow::new(60, Duration::from_secs(60))?)?;
/// let mut state = policy.new_state();
/// let t = Instant::from_secs(0);
/// assert!(policy.check(&mut state, t, 60)?.is_allowed());
/// match policy.check(&mut state, t, 1)? {
///     PolicyDecision::Denied(d) => assert_eq!(policy.name(d.limit), Some("burst")),
///     PolicyDecision::Allowed(_) => unreachable!(),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Policy<S, const N: usize = MAX_LIMITS> {
    limits: heapless::Vec<(Name, AnyLimit<S>), N>,
}

impl<S, const N: usize> PartialEq for Policy<S, N> {
    fn eq(&self, other: &Self) -> bool {
        self.limits == other.limits
    }
}

impl<S, const N: usize> Eq for Policy<S, N> {}

impl<S: Slots, const N: usize> Default for Policy<S, N> {
    fn default() -> Self {
        Policy::new()
    }
}

impl<S: Slots, const N: usize> Policy<S, N> {
    /// A policy with no limits, which allows everything.
    pub fn new() -> Self {
        Policy {
            limits: heapless::Vec::new(),
        }
    }

    /// Adds a named limit.
    ///
    /// # Errors
    ///
    /// [`PolicyError::Name`] for an invalid name,
    /// [`PolicyError::DuplicateName`], and [`PolicyError::Full`] past `N`.
    pub fn with(mut self, name: &str, limit: impl Into<AnyLimit<S>>) -> Result<Self, PolicyError> {
        self.push(name, limit.into())?;
        Ok(self)
    }

    /// Adds a named limit in place. On error the policy is unchanged.
    ///
    /// # Errors
    ///
    /// As [`with`](Policy::with).
    pub fn push(&mut self, name: &str, limit: AnyLimit<S>) -> Result<(), PolicyError> {
        let name = Name::new(name).map_err(PolicyError::Name)?;
        if self.limits.iter().any(|(n, _)| *n == name) {
            return Err(PolicyError::DuplicateName);
        }
        self.limits
            .push((name, limit))
            .map_err(|_| PolicyError::Full { max: N })
    }

    /// The number of limits.
    pub fn len(&self) -> usize {
        self.limits.len()
    }

    /// True if the policy has no limits.
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// The name of limit `index`.
    pub fn name(&self, index: usize) -> Option<&str> {
        self.limits.get(index).map(|(n, _)| n.as_str())
    }

    /// The limit at `index`.
    pub fn limit(&self, index: usize) -> Option<&AnyLimit<S>> {
        self.limits.get(index).map(|(_, l)| l)
    }

    /// Names and limits, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &AnyLimit<S>)> {
        self.limits.iter().map(|(n, l)| (n.as_str(), l))
    }

    /// The largest cost every limit can admit: the smallest capacity, or
    /// `u32::MAX` for an empty policy.
    pub fn capacity(&self) -> u32 {
        self.limits
            .iter()
            .map(|(_, l)| l.capacity())
            .min()
            .unwrap_or(u32::MAX)
    }

    /// A state for a key that has made no request.
    pub fn new_state(&self) -> PolicyState<S, N> {
        let mut states = heapless::Vec::new();
        for (_, l) in &self.limits {
            // Cannot fail: both vectors hold at most N.
            let _ = states.push(l.new_state());
        }
        PolicyState { states }
    }

    /// A state for this policy that keeps what `old_state`, made by `old`,
    /// knows: for the lifetime of a key whose tier or plan changes.
    ///
    /// Each limit takes over the state of the old limit with the same name:
    /// the whole state if the two limits are equal, the held units if both
    /// are exact sliding windows (the newest ones, up to the new quota), and
    /// a fresh state otherwise. Limits of other names start fresh. A state
    /// not made by `old` gives a fresh state.
    pub fn adopt<const M: usize>(
        &self,
        old: &Policy<S, M>,
        old_state: &PolicyState<S, M>,
    ) -> PolicyState<S, N> {
        let mut state = self.new_state();
        if old_state.states.len() != old.limits.len() {
            return state;
        }
        for ((name, limit), mine) in self.limits.iter().zip(state.states.iter_mut()) {
            let previous = old
                .limits
                .iter()
                .zip(old_state.states.iter())
                .find(|((n, _), _)| n == name);
            let Some(((_, old_limit), theirs)) = previous else {
                continue;
            };
            match (limit, old_limit, &mut *mine, theirs) {
                _ if limit == old_limit && limit.matches(theirs) => *mine = theirs.clone(),
                (
                    AnyLimit::Sliding(_),
                    AnyLimit::Sliding(_),
                    AnyState::Sliding(new),
                    AnyState::Sliding(previous),
                ) => new.adopt(previous),
                _ => {}
            }
        }
        state
    }

    /// Decides without charging.
    ///
    /// # Errors
    ///
    /// [`PolicyCheckError::CostTooLarge`] if some limit can never admit
    /// `cost`; [`PolicyCheckError::ForeignState`] if `state` was not made by
    /// this policy.
    pub fn peek(
        &self,
        state: &PolicyState<S, N>,
        now: Instant,
        cost: u32,
    ) -> Result<PolicyDecision<N>, PolicyCheckError> {
        self.validate(state, cost)?;
        let mut folded = Fold::default();
        for (index, (l, s)) in self.pairs(&state.states).enumerate() {
            folded.add(index, l.peek(s, now, cost))?;
        }
        Ok(folded.finish())
    }

    /// Decides and, if every limit allows, charges every limit.
    ///
    /// # Errors
    ///
    /// As [`peek`](Policy::peek); the state is then unchanged.
    #[inline]
    pub fn check(
        &self,
        state: &mut PolicyState<S, N>,
        now: Instant,
        cost: u32,
    ) -> Result<PolicyDecision<N>, PolicyCheckError> {
        self.validate(state, cost)?;

        // Ask every limit first; tidying never changes a decision.
        let mut folded = Fold::default();
        let pairs = self.limits.iter().zip(state.states.iter_mut());
        for (index, ((_, l), s)) in pairs.enumerate() {
            folded.add(index, l.assess(s, now, cost))?;
        }
        let decision = folded.finish();

        // Charge only when all allowed.
        if decision.is_allowed() {
            for ((_, l), s) in self.limits.iter().zip(state.states.iter_mut()) {
                l.charge(s, now, cost);
            }
        }
        Ok(decision)
    }

    /// True if every limit's state is idle at `now`: the state may be
    /// dropped and recreated without changing any decision.
    pub fn is_idle(&self, state: &PolicyState<S, N>, now: Instant) -> bool {
        // A state of another policy is never idle: it is not this policy's
        // to judge.
        state.states.len() == self.limits.len()
            && self.pairs(&state.states).all(|(l, s)| l.is_idle(s, now))
    }

    fn pairs<'a>(
        &'a self,
        states: &'a [AnyState<S>],
    ) -> impl Iterator<Item = (&'a AnyLimit<S>, &'a AnyState<S>)> {
        self.limits.iter().map(|(_, l)| l).zip(states)
    }

    fn validate(&self, state: &PolicyState<S, N>, cost: u32) -> Result<(), PolicyCheckError> {
        // Every state must be of its limit's kind before any is touched: a
        // refused check changes nothing.
        let foreign = state.states.len() != self.limits.len()
            || self.pairs(&state.states).any(|(l, s)| !l.matches(s));
        if foreign {
            return Err(PolicyCheckError::ForeignState);
        }
        let capacity = self.capacity();
        if cost > capacity {
            return Err(PolicyCheckError::CostTooLarge(CostTooLarge {
                cost,
                capacity,
            }));
        }
        Ok(())
    }
}

/// Folds per-limit decisions into one: allowed if all allow, otherwise the
/// denial that lifts last. A plain loop over this keeps the hot path free of
/// iterator adapters over `Option<Decision>`.
struct Fold<const N: usize> {
    allowed: heapless::Vec<Allowed, N>,
    denied: Option<Denied>,
}

impl<const N: usize> Default for Fold<N> {
    fn default() -> Self {
        Fold {
            allowed: heapless::Vec::new(),
            denied: None,
        }
    }
}

impl<const N: usize> Fold<N> {
    #[inline]
    fn add(&mut self, index: usize, decision: Option<Decision>) -> Result<(), PolicyCheckError> {
        match decision.ok_or(PolicyCheckError::ForeignState)? {
            // Cannot fail: at most N limits.
            Decision::Allowed(a) => {
                let _ = self.allowed.push(a);
            }
            Decision::Denied(d) => {
                if self.denied.is_none_or(|w| d.retry_after > w.retry_after) {
                    self.denied = Some(Denied { limit: index, ..d });
                }
            }
        }
        Ok(())
    }

    #[inline]
    fn finish(self) -> PolicyDecision<N> {
        match self.denied {
            Some(d) => PolicyDecision::Denied(d),
            None => PolicyDecision::Allowed(self.allowed),
        }
    }
}

/// The per-key state of a [`Policy`]: one state per limit, in order.
#[derive(Clone)]
pub struct PolicyState<S, const N: usize = MAX_LIMITS> {
    states: heapless::Vec<AnyState<S>, N>,
}

impl<S: AsRef<[u64]>, const N: usize> fmt::Debug for PolicyState<S, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.states.iter()).finish()
    }
}

impl<S, const N: usize> PolicyState<S, N> {
    /// The state of limit `index`.
    pub fn get(&self, index: usize) -> Option<&AnyState<S>> {
        self.states.get(index)
    }

    /// A state made of one state per limit, in the policy's order: for
    /// restoring a snapshot.
    #[cfg(feature = "serde")]
    pub(crate) fn from_states(states: heapless::Vec<AnyState<S>, N>) -> Self {
        PolicyState { states }
    }
}

/// The outcome of a policy check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyDecision<const N: usize = MAX_LIMITS> {
    /// Every limit allowed (and, for `check`, was charged); one entry per
    /// limit, in the policy's order.
    Allowed(heapless::Vec<Allowed, N>),
    /// Some limit refused and nothing was charged; `limit` is the index of
    /// the one that frees up last.
    Denied(Denied),
}

impl<const N: usize> PolicyDecision<N> {
    /// True for [`PolicyDecision::Allowed`].
    pub fn is_allowed(&self) -> bool {
        matches!(self, PolicyDecision::Allowed(_))
    }

    /// When the request would be allowed, or `None` if it is.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PolicyDecision::Allowed(_) => None,
            PolicyDecision::Denied(d) => Some(d.retry_after),
        }
    }
}

/// Why a policy could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// The name is not a valid [`Name`].
    Name(NameError),
    /// Two limits share a name.
    DuplicateName,
    /// The policy already holds its maximum number of limits.
    Full {
        /// That maximum.
        max: usize,
    },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::Name(e) => fmt::Display::fmt(e, f),
            PolicyError::DuplicateName => f.write_str("two limits share a name"),
            PolicyError::Full { max } => write!(f, "a policy holds at most {max} limits"),
        }
    }
}

impl core::error::Error for PolicyError {}

/// Why a policy check could not be made. The state is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyCheckError {
    /// Some limit can never admit the cost.
    CostTooLarge(CostTooLarge),
    /// The state was made by a different policy.
    ForeignState,
}

impl fmt::Display for PolicyCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyCheckError::CostTooLarge(e) => fmt::Display::fmt(e, f),
            PolicyCheckError::ForeignState => f.write_str("the state was not made by this policy"),
        }
    }
}

impl core::error::Error for PolicyCheckError {}

impl From<CostTooLarge> for PolicyCheckError {
    fn from(e: CostTooLarge) -> Self {
        PolicyCheckError::CostTooLarge(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type P = Policy<[u64; 8]>;

    fn two_windows() -> P {
        Policy::new()
            .with(
                "hourly",
                SlidingWindow::new(8, Duration::from_secs(3600)).unwrap(),
            )
            .unwrap()
            .with(
                "burst",
                SlidingWindow::new(2, Duration::from_secs(60)).unwrap(),
            )
            .unwrap()
    }

    #[test]
    fn names_are_validated() {
        assert!(Name::new("hourly").is_ok());
        assert_eq!(Name::new(""), Err(NameError));
        assert_eq!(Name::new("1st"), Err(NameError));
        assert_eq!(Name::new("a\"b"), Err(NameError));
        assert_eq!(Name::new("abcdefghijklmnopq"), Err(NameError));
    }

    #[test]
    fn duplicate_and_overflowing_limits_are_errors() {
        let w = SlidingWindow::new(1, Duration::from_secs(1)).unwrap();
        let p = two_windows();
        assert_eq!(
            p.clone().with("hourly", w).unwrap_err(),
            PolicyError::DuplicateName
        );
        let p = p.with("c", w).unwrap().with("d", w).unwrap();
        assert_eq!(p.with("e", w).unwrap_err(), PolicyError::Full { max: 4 });
    }

    #[test]
    fn a_state_from_another_policy_is_an_error() {
        let p = two_windows();
        let other: P = Policy::new();
        let mut s = other.new_state();
        let e = p.check(&mut s, Instant::ZERO, 1).unwrap_err();
        assert_eq!(e, PolicyCheckError::ForeignState);
    }

    #[test]
    fn cost_above_the_smallest_capacity_is_an_error() {
        let p = two_windows();
        let mut s = p.new_state();
        let e = p.check(&mut s, Instant::ZERO, 3).unwrap_err();
        assert_eq!(
            e,
            PolicyCheckError::CostTooLarge(CostTooLarge {
                cost: 3,
                capacity: 2
            })
        );
    }

    #[test]
    fn adopt_keeps_the_newest_units_of_a_same_named_window() {
        let hour = Duration::from_secs(3600);
        let big: P = Policy::new()
            .with("hourly", SlidingWindow::new(8, hour).unwrap())
            .unwrap();
        let small: P = Policy::new()
            .with("hourly", SlidingWindow::new(3, hour).unwrap())
            .unwrap()
            .with("other", SlidingWindow::new(1, hour).unwrap())
            .unwrap();
        let mut s = big.new_state();
        for t in 0..5 {
            big.check(&mut s, Instant::from_secs(t), 1).unwrap();
        }

        // Three of five fit: the newest (t = 2, 3, 4); "other" starts fresh.
        let mut adopted = small.adopt(&big, &s);
        let d = small
            .check(&mut adopted, Instant::from_secs(10), 1)
            .unwrap();
        assert_eq!(d.retry_after(), Some(hour - Duration::from_secs(8)));

        // As the window of 3 would decide holding all five: wait until the
        // third oldest (t = 2) leaves at 3602 s.
        let probe = |t| {
            small
                .peek(&adopted, Instant::from_secs(t), 1)
                .unwrap()
                .is_allowed()
        };
        assert!(!probe(3601));
        assert!(probe(3602));
    }
}
