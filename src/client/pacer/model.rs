//! [`Pacer`]: a known policy run locally, resynced from headers.

use core::fmt;
use core::time::Duration;

use super::{Fields, HeaderPacer};
use crate::client::headers::{PolicyField, RateLimitField, RateLimitItem};
use crate::limit::{AnyLimit, AnyState, Decision, MAX_LIMITS, Policy, PolicyState, Slots};
use crate::time::Instant;

/// A pacer that runs a known policy locally and learns from headers too.
///
/// Its model is a copy of the policy with its own state. Every request sent
/// is charged to every limit of the model, even one the model would have
/// refused (the server may have admitted it). Each `RateLimit` item whose
/// name matches a limit of the model is compared with it: if the server has
/// fewer units left than the model, the model is charged the difference at
/// the response's time. Those units leave the model no earlier than the
/// server's, so the model stays at least as strict as the server.
///
/// [`delay`](Pacer::delay) is the longer of the model's wait (plus the
/// [margin](Pacer::with_margin) when it is not zero) and the headers' (see
/// [`HeaderPacer`]).
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::client::Pacer;
/// use keyrate::preset;
/// use keyrate::time::Instant;
///
/// let policy = preset::confirmed::<keyrate::limit::HeapSlots>()?;
/// let mut pacer = Pacer::new(&policy);
/// let t0 = Instant::from_secs(0);
/// for _ in 0..60 {
///     assert_eq!(pacer.delay(t0), Duration::ZERO);
///     pacer.on_sent(t0);
/// }
/// // The burst window is full until the first request leaves it.
/// assert_eq!(pacer.delay(t0), Duration::from_secs(60));
///
/// // Another client used 100 of the hour: the server says so, the model
/// // learns it.
/// let late = pacer.on_response(t0, None, Some(br#""hourly";r=140;t=3600"#), None);
/// assert_eq!(late, 100);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Pacer<S, const N: usize = MAX_LIMITS> {
    policy: Policy<S, N>,
    states: heapless::Vec<AnyState<S>, N>,
    headers: HeaderPacer,
    margin: Duration,
}

impl<S: Slots + fmt::Debug, const N: usize> fmt::Debug for Pacer<S, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pacer")
            .field("policy", &self.policy)
            .field("states", &self.states)
            .field("headers", &self.headers)
            .field("margin", &self.margin)
            .finish()
    }
}

impl<S: Slots, const N: usize> Pacer<S, N> {
    /// A pacer whose model is `policy`, fresh: the client has made no
    /// request yet.
    pub fn new(policy: &Policy<S, N>) -> Self {
        let mut states = heapless::Vec::new();
        for (_, limit) in policy.iter() {
            // Cannot fail: the policy holds at most N limits.
            let _ = states.push(limit.new_state());
        }
        Pacer {
            policy: policy.clone(),
            states,
            headers: HeaderPacer::new(),
            margin: Duration::ZERO,
        }
    }

    /// Like [`new`](Pacer::new), with the model starting from `state`,
    /// what the client already used (for instance, kept from an earlier
    /// run). A `state` whose limits are not of the policy's kinds, in its
    /// order, is ignored: the model then starts fresh.
    pub fn with_state(policy: &Policy<S, N>, state: &PolicyState<S, N>) -> Self {
        let mut pacer = Pacer::new(policy);
        let fits = |i: usize, l: &AnyLimit<S>| {
            let s = state.get(i);
            s.is_some_and(|s| l.matches(s))
        };
        let all_fit = policy.iter().enumerate().all(|(i, (_, l))| fits(i, l));
        if all_fit && state.get(policy.len()).is_none() {
            let copies = pacer.states.iter_mut().enumerate();
            for (i, mine) in copies {
                if let Some(s) = state.get(i) {
                    *mine = s.clone();
                }
            }
        }
        pacer
    }

    /// Adds `margin` to every wait the model imposes (see the
    /// [module docs](super)).
    pub fn with_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// Sets the headers' probe delay (see [`HeaderPacer::with_probe`]).
    pub fn with_probe(mut self, probe: Duration) -> Self {
        self.headers = self.headers.with_probe(probe);
        self
    }

    /// How long to wait, from `now`, before the next request; zero means
    /// go now.
    pub fn delay(&self, now: Instant) -> Duration {
        let model = self
            .pairs()
            .map(|(l, s)| wait(l.peek(s, now, 1)))
            .fold(Duration::ZERO, Duration::max);
        let model = if model.is_zero() {
            model
        } else {
            model.saturating_add(self.margin)
        };
        model.max(self.headers.delay(now))
    }

    /// Records a request sent at `now`: charges the model and counts it
    /// against what the headers said.
    pub fn on_sent(&mut self, now: Instant) {
        for (limit, state) in self.pairs_mut() {
            force_charge(limit, state, now, 1);
        }
        self.headers.on_sent(now);
    }

    /// Records a response that arrived at `now` (see
    /// [`HeaderPacer::on_response`]) and resyncs the model.
    ///
    /// Returns the units the model was charged to catch up with the server:
    /// zero when the server had at least as many left as the model
    /// expected.
    pub fn on_response(
        &mut self,
        now: Instant,
        policy: Option<&[u8]>,
        rate_limit: Option<&[u8]>,
        retry_after: Option<&[u8]>,
    ) -> u64 {
        let f = Fields::parse(policy, rate_limit, retry_after);
        self.on_fields(now, f.policy.as_ref(), f.rate_limit.as_ref(), f.retry_after)
    }

    /// Like [`on_response`](Pacer::on_response), with the fields already
    /// parsed.
    pub fn on_fields(
        &mut self,
        now: Instant,
        policy: Option<&PolicyField>,
        rate_limit: Option<&RateLimitField>,
        retry_after: Option<Duration>,
    ) -> u64 {
        let behind = rate_limit.map_or(0, |r| self.resync(now, r));
        self.headers.on_fields(now, policy, rate_limit, retry_after);
        behind
    }

    /// Resyncs the model alone with a `RateLimit` value that arrived at
    /// `now`, without recording anything on the header side; returns the
    /// units charged, as [`on_response`](Pacer::on_response) does.
    ///
    /// For a caller that wants the model to learn from a response but to
    /// pace by the model only.
    pub fn resync(&mut self, now: Instant, rate_limit: &RateLimitField) -> u64 {
        rate_limit.items().iter().fold(0u64, |behind, item| {
            behind.saturating_add(self.catch_up(now, item))
        })
    }

    /// Holds every request until `until` (see [`HeaderPacer::hold_until`]).
    pub fn hold_until(&mut self, until: Instant) {
        self.headers.hold_until(until);
    }

    /// The header side of this pacer.
    pub fn headers(&self) -> &HeaderPacer {
        &self.headers
    }

    /// The units the model leaves for limit `name` at `now`, or `None` if
    /// the policy has no such limit.
    pub fn model_remaining(&self, name: &str, now: Instant) -> Option<u32> {
        let i = self.index_of(name)?;
        let limit = self.policy.limit(i)?;
        let state = self.states.get(i)?;
        remaining(limit, state, now)
    }

    /// Charges the model's limit named like `item` with the units the
    /// server has used beyond the model's count; returns them.
    fn catch_up(&mut self, now: Instant, item: &RateLimitItem) -> u64 {
        let Some(i) = self.index_of(item.name.as_str()) else {
            return 0;
        };
        let (Some(limit), Some(state)) = (self.policy.limit(i), self.states.get_mut(i)) else {
            return 0;
        };
        let Some(expected) = remaining(limit, state, now) else {
            return 0;
        };
        let behind = u64::from(expected).saturating_sub(item.remaining);
        // `behind` is at most `expected`, a u32.
        let units = u32::try_from(behind).unwrap_or(u32::MAX);
        force_charge(limit, state, now, units);
        behind
    }

    /// The index of the model's limit named `name`.
    fn index_of(&self, name: &str) -> Option<usize> {
        (0..self.policy.len()).find(|&i| self.policy.name(i) == Some(name))
    }

    fn pairs(&self) -> impl Iterator<Item = (&AnyLimit<S>, &AnyState<S>)> {
        self.policy.iter().map(|(_, l)| l).zip(self.states.iter())
    }

    fn pairs_mut(&mut self) -> impl Iterator<Item = (&AnyLimit<S>, &mut AnyState<S>)> {
        self.policy
            .iter()
            .map(|(_, l)| l)
            .zip(self.states.iter_mut())
    }
}

/// The wait a single-limit decision imposes.
fn wait(decision: Option<Decision>) -> Duration {
    decision
        .and_then(|d| d.retry_after())
        .unwrap_or(Duration::ZERO)
}

/// Units `limit` has left at `now`.
fn remaining<S: Slots>(limit: &AnyLimit<S>, state: &AnyState<S>, now: Instant) -> Option<u32> {
    let decision = limit.peek(state, now, 0)?;
    match decision {
        Decision::Allowed(a) => Some(a.remaining),
        Decision::Denied(d) => Some(d.remaining),
    }
}

/// Charges `cost` units at `now` whatever the limit decides: they were
/// spent, by this client or another. Over the quota, each limit keeps its
/// state well formed and only grows stricter.
fn force_charge<S: Slots>(limit: &AnyLimit<S>, state: &mut AnyState<S>, now: Instant, cost: u32) {
    if cost == 0 {
        return;
    }
    let cost = cost.min(limit.capacity());
    // Tidy the state first, as a check would.
    let _ = limit.assess(state, now, cost);
    limit.charge(state, now, cost);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limit::{SlidingWindow, TokenBucket};

    fn one_window(quota: u32, secs: u64) -> Policy<[u64; 8]> {
        Policy::new()
            .with(
                "w",
                SlidingWindow::new(quota, Duration::from_secs(secs)).unwrap(),
            )
            .unwrap()
    }

    #[test]
    fn a_pacer_from_another_policys_state_starts_fresh() {
        let policy = one_window(2, 10);
        let other: Policy<[u64; 8]> = Policy::new();
        let pacer = Pacer::with_state(&policy, &other.new_state());
        assert_eq!(pacer.model_remaining("w", Instant::ZERO), Some(2));
    }

    #[test]
    fn a_pacer_starts_from_a_state_of_its_own_policy() {
        let policy = one_window(2, 10);
        let mut state = policy.new_state();
        policy.check(&mut state, Instant::ZERO, 1).unwrap();
        let pacer = Pacer::with_state(&policy, &state);
        assert_eq!(pacer.model_remaining("w", Instant::ZERO), Some(1));

        // Same length, another kind: ignored.
        let bucket: Policy<[u64; 8]> = Policy::new()
            .with("w", TokenBucket::new(2, Duration::from_secs(1)).unwrap())
            .unwrap();
        let pacer = Pacer::with_state(&bucket, &state);
        assert_eq!(pacer.model_remaining("w", Instant::ZERO), Some(2));
    }

    #[test]
    fn the_margin_applies_only_when_the_model_waits() {
        let policy = one_window(1, 10);
        let mut pacer = Pacer::new(&policy).with_margin(Duration::from_millis(100));
        let t = Instant::ZERO;
        assert_eq!(pacer.delay(t), Duration::ZERO);
        pacer.on_sent(t);
        assert_eq!(pacer.delay(t), Duration::from_millis(10_100));
    }
}
