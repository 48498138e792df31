//! Pacing a client so that its requests are not refused.
//!
//! Two pacers share one shape: ask [`delay`](HeaderPacer::delay) before a
//! request (zero means go now), call [`on_sent`](HeaderPacer::on_sent) when
//! it leaves and [`on_response`](HeaderPacer::on_response) with the raw
//! `RateLimit-Policy`, `RateLimit` and `Retry-After` values when its answer
//! arrives.
//!
//! - [`HeaderPacer`] knows nothing in advance and learns from the headers.
//! - [`Pacer`] also runs a known [`Policy`] locally, charging it on every
//!   request, and waits whatever it or the headers say, whichever is longer.
//!   When a response reports fewer units remaining than the local model
//!   expects (another client shares the account's limits), the model is
//!   charged the difference: it resyncs and stays at least as strict as the
//!   server.
//!
//! # What the headers are taken to mean
//!
//! After a response at `now` saying `r` units remain with reset `t`, the
//! pacer counts `r` units as available from `now`, and one more from
//! `now + t` (draft §4.1.2: `t` is the time until *additional* quota is
//! available, not necessarily all of it). Requests sent since then, and
//! those still awaiting their answer when the response arrives, count
//! against that. A `Retry-After` delay holds every request until it has
//! passed and, as the draft's §7 asks, takes precedence over the `t` of the
//! response that carries it.
//!
//! Times are measured from when the response arrives, which is never earlier
//! than when the server decided: waiting them out is never early.
//!
//! # Limitations
//!
//! - Every request costs one unit.
//! - Responses are taken to arrive in the order their requests were sent.
//!   A response overtaken by a later one can overstate what remains by the
//!   number of requests that overtook it.
//! - When the headers' knowledge is used up and the answers still in flight
//!   are the only news to come, the pacer cannot tell when a unit will be
//!   free; [`delay`](HeaderPacer::delay) then suggests the *probe* delay
//!   ([`DEFAULT_PROBE`] unless set) and decides again.
//! - At most [`MAX_ITEMS`] limits are tracked from headers; a new name
//!   replaces the one least recently mentioned.
//! - A [`Pacer`]'s model charges a request when it is sent, the server when
//!   it arrives; the model therefore frees units up to one network latency
//!   too early. The headers make up for it when they come with every
//!   response; otherwise set a [`margin`](Pacer::with_margin) of at least
//!   the variation in latency.

use core::fmt;
use core::time::Duration;

use super::headers::{
    ItemName, MAX_ITEMS, PolicyField, RateLimitField, RateLimitItem, parse_retry_after,
};
use crate::limit::{AnyLimit, AnyState, Decision, Limit, MAX_LIMITS, Policy, PolicyState, Slots};
use crate::time::Instant;

/// The probe delay: what [`HeaderPacer::delay`] suggests when it cannot
/// tell when the next unit will be free.
pub const DEFAULT_PROBE: Duration = Duration::from_secs(1);

/// What one response said about one limit.
#[derive(Clone, Copy, Debug)]
struct Seen {
    /// When the response arrived.
    at: Instant,
    /// `r`: units remaining then.
    remaining: u64,
    /// `t`, or the `Retry-After` that took precedence over it.
    reset: Option<Duration>,
    /// Requests sent since, or in flight then, that `remaining` may not
    /// count yet.
    sent_since: u64,
}

impl Seen {
    /// When the reset's extra unit arrives, if a reset was given.
    fn reset_at(&self) -> Option<Instant> {
        self.reset.map(|t| self.at.saturating_add(t))
    }

    /// Units the limit has at `now` by this response's word, before the
    /// requests sent since: `remaining`, plus one from the reset on unless
    /// that would pass the quota.
    fn units(&self, now: Instant, quota: Option<u64>) -> u64 {
        let can_grow = quota.is_none_or(|q| self.remaining < q);
        let reset_passed = self.reset_at().is_some_and(|at| now >= at);
        let extra = u64::from(can_grow && reset_passed);
        self.remaining.saturating_add(extra)
    }

    /// How long to wait at `now` before one more request fits this limit.
    fn wait(&self, now: Instant, quota: Option<u64>, probe: Duration) -> Duration {
        if self.units(now, quota) > self.sent_since {
            return Duration::ZERO;
        }

        // Waiting for the reset helps only if its extra unit is enough.
        let reset_at = self.reset_at().unwrap_or(Instant::ZERO);
        let until_reset = reset_at.saturating_duration_since(now);
        let after_reset = self.units(reset_at.max(now), quota);
        if after_reset > self.sent_since && !until_reset.is_zero() {
            until_reset
        } else {
            until_reset.max(probe)
        }
    }
}

/// One limit learnt from headers.
#[derive(Clone, Debug)]
struct Tracked {
    name: ItemName,
    /// `q` from `RateLimit-Policy`.
    quota: Option<u64>,
    /// The latest `RateLimit` item for it.
    seen: Option<Seen>,
    /// The response that last named it, to pick one to forget.
    mentioned: u64,
}

/// A pacer that learns the limits from response headers alone.
///
/// Before its first response it knows nothing and lets the first request
/// go. From then on it keeps every request within what the last response
/// said remains, waits for the reset it gave when nothing remains, and
/// honours `Retry-After`. See the [module docs](self) for what the headers
/// are taken to mean.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::client::HeaderPacer;
/// use keyrate::time::Instant;
///
/// let mut pacer = HeaderPacer::new();
/// let t0 = Instant::from_secs(100);
/// assert_eq!(pacer.delay(t0), Duration::ZERO);
///
/// pacer.on_sent(t0);
/// pacer.on_response(t0, None, Some(br#""burst";r=0;t=12"#), None);
/// assert_eq!(pacer.delay(t0), Duration::from_secs(12));
/// assert_eq!(pacer.delay(Instant::from_secs(112)), Duration::ZERO);
/// ```
#[derive(Clone, Debug)]
pub struct HeaderPacer {
    limits: heapless::Vec<Tracked, MAX_ITEMS>,
    /// No request before this (from `Retry-After`).
    hold_until: Instant,
    /// Requests sent whose answer has not arrived.
    in_flight: u32,
    /// Responses seen, to order mentions.
    responses: u64,
    /// The latest `now` seen by a response.
    latest: Instant,
    probe: Duration,
}

impl Default for HeaderPacer {
    fn default() -> Self {
        HeaderPacer::new()
    }
}

impl HeaderPacer {
    /// A pacer that knows nothing yet.
    pub fn new() -> HeaderPacer {
        HeaderPacer {
            limits: heapless::Vec::new(),
            hold_until: Instant::ZERO,
            in_flight: 0,
            responses: 0,
            latest: Instant::ZERO,
            probe: DEFAULT_PROBE,
        }
    }

    /// Sets the probe delay (see the [module docs](self)).
    pub fn with_probe(mut self, probe: Duration) -> HeaderPacer {
        self.probe = probe;
        self
    }

    /// How long to wait, from `now`, before the next request; zero means
    /// go now.
    pub fn delay(&self, now: Instant) -> Duration {
        let held = self.hold_until.saturating_duration_since(now);
        self.limits
            .iter()
            .filter_map(|l| Some(l.seen?.wait(now, l.quota, self.probe)))
            .fold(held, Duration::max)
    }

    /// Records a request sent at `now`.
    ///
    /// The header side needs no time to count it; `now` is taken so that
    /// both pacers are called the same way.
    pub fn on_sent(&mut self, now: Instant) {
        let _ = now;
        self.in_flight = self.in_flight.saturating_add(1);
        for seen in self.limits.iter_mut().filter_map(|l| l.seen.as_mut()) {
            seen.sent_since = seen.sent_since.saturating_add(1);
        }
    }

    /// Records a response that arrived at `now`, with its raw
    /// `RateLimit-Policy`, `RateLimit` and `Retry-After` values (`None` for
    /// a field that is absent).
    ///
    /// Call it with every field `None` for a request that got no answer:
    /// it is then no longer in flight, and still counted as charged.
    /// Malformed values are read as the [headers](super::headers) module
    /// says; nothing here fails.
    pub fn on_response(
        &mut self,
        now: Instant,
        policy: Option<&[u8]>,
        rate_limit: Option<&[u8]>,
        retry_after: Option<&[u8]>,
    ) {
        let policy = policy.map(PolicyField::parse);
        let rate_limit = rate_limit.map(RateLimitField::parse);
        let retry_after = retry_after.and_then(parse_retry_after);
        self.on_fields(now, policy.as_ref(), rate_limit.as_ref(), retry_after);
    }

    /// Like [`on_response`](HeaderPacer::on_response), with the fields
    /// already parsed.
    pub fn on_fields(
        &mut self,
        now: Instant,
        policy: Option<&PolicyField>,
        rate_limit: Option<&RateLimitField>,
        retry_after: Option<Duration>,
    ) {
        // A response never counts from before one already seen.
        let now = now.max(self.latest);
        self.latest = now;
        self.in_flight = self.in_flight.saturating_sub(1);
        self.responses = self.responses.saturating_add(1);

        for item in policy.map_or(&[][..], |p| p.items()) {
            if let Some(l) = self.track(&item.name) {
                l.quota = Some(item.quota);
            }
        }
        let sent_since = u64::from(self.in_flight);
        for item in rate_limit.map_or(&[][..], |r| r.items()) {
            let RateLimitItem {
                name,
                remaining,
                reset,
            } = item;
            if let Some(l) = self.track(name) {
                l.seen = Some(Seen {
                    at: now,
                    remaining: *remaining,
                    reset: retry_after.or(*reset),
                    sent_since,
                });
            }
        }
        if let Some(d) = retry_after {
            self.hold_until = now.saturating_add(d);
        }
    }

    /// Holds every request until `until`, as a `Retry-After` would; for a
    /// caller that turned an HTTP-date into an instant itself.
    pub fn hold_until(&mut self, until: Instant) {
        self.hold_until = until;
    }

    /// Requests sent whose response has not been recorded.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// The units the headers leave for limit `name` at `now`, or `None` if
    /// no response has described it.
    pub fn available(&self, name: &str, now: Instant) -> Option<u64> {
        let l = self.limits.iter().find(|l| l.name == name)?;
        let seen = l.seen?;
        Some(seen.units(now, l.quota).saturating_sub(seen.sent_since))
    }

    /// The entry for `name`, made if need be, marked as mentioned by the
    /// current response; `None` if every entry was mentioned by it already.
    fn track(&mut self, name: &ItemName) -> Option<&mut Tracked> {
        let now = self.responses;
        let index = match self.limits.iter().position(|l| l.name == *name) {
            Some(i) => i,
            None => self.make_room(name)?,
        };
        let l = self.limits.get_mut(index)?;
        l.mentioned = now;
        Some(l)
    }

    /// Adds an entry for `name`, replacing the least recently mentioned one
    /// when full, unless that one was mentioned by the current response.
    fn make_room(&mut self, name: &ItemName) -> Option<usize> {
        let fresh = Tracked {
            name: name.clone(),
            quota: None,
            seen: None,
            mentioned: self.responses,
        };
        if !self.limits.is_full() {
            self.limits.push(fresh).ok()?;
            return Some(self.limits.len() - 1);
        }
        let (i, oldest) = self
            .limits
            .iter_mut()
            .enumerate()
            .min_by_key(|(_, l)| l.mentioned)?;
        if oldest.mentioned == self.responses {
            return None;
        }
        *oldest = fresh;
        Some(i)
    }
}

/// Runs `$body` with `$l` and `$s` bound to the matching limit and state,
/// or evaluates `$other` when they are of different kinds.
macro_rules! with_limit {
    ($limit:expr, $state:expr, |$l:ident, $s:ident| $body:expr, $other:expr) => {
        match ($limit, $state) {
            (AnyLimit::Sliding($l), AnyState::Sliding($s)) => $body,
            (AnyLimit::Compact($l), AnyState::Compact($s)) => $body,
            (AnyLimit::Bucket($l), AnyState::Bucket($s)) => $body,
            (AnyLimit::Fixed($l), AnyState::Fixed($s)) => $body,
            _ => $other,
        }
    };
}

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
    /// run). A `state` made by another policy is ignored.
    pub fn with_state(policy: &Policy<S, N>, state: &PolicyState<S, N>) -> Self {
        let mut pacer = Pacer::new(policy);
        let states = (0..policy.len()).map(|i| state.get(i).cloned());
        let copied: Option<heapless::Vec<AnyState<S>, N>> = states.collect();
        if let Some(copied) = copied.filter(|c| c.len() == pacer.states.len()) {
            pacer.states = copied;
        }
        pacer
    }

    /// Adds `margin` to every wait the model imposes (see the
    /// [module docs](self)).
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
            .map(|(l, s)| with_limit!(l, s, |l, s| wait(l.peek(s, now, 1)), Duration::ZERO))
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
        let policy = policy.map(PolicyField::parse);
        let rate_limit = rate_limit.map(RateLimitField::parse);
        let retry_after = retry_after.and_then(parse_retry_after);
        self.on_fields(now, policy.as_ref(), rate_limit.as_ref(), retry_after)
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
fn wait<E>(decision: Result<Decision, E>) -> Duration {
    decision
        .ok()
        .and_then(|d| d.retry_after())
        .unwrap_or(Duration::ZERO)
}

/// Units `limit` has left at `now`.
fn remaining<S: Slots>(limit: &AnyLimit<S>, state: &AnyState<S>, now: Instant) -> Option<u32> {
    let decision = with_limit!(limit, state, |l, s| l.peek(s, now, 0).ok(), None)?;
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
    with_limit!(
        limit,
        state,
        |l, s| {
            // Tidy the state first, as a check would.
            let _ = l.assess(s, now, cost);
            l.charge(s, now, cost);
        },
        ()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limit::SlidingWindow;

    fn one_window(quota: u32, secs: u64) -> Policy<[u64; 8]> {
        Policy::new()
            .with(
                "w",
                SlidingWindow::new(quota, Duration::from_secs(secs)).unwrap(),
            )
            .unwrap()
    }

    #[test]
    fn units_in_flight_count_against_a_later_response() {
        let mut p = HeaderPacer::new();
        let t = Instant::from_secs(1);
        p.on_sent(t);
        p.on_sent(t);
        p.on_response(t, None, Some(br#""w";r=1;t=5"#), None);
        // One request still in flight may use the one unit left.
        assert_eq!(p.available("w", t), Some(0));
        assert_eq!(p.delay(t), Duration::from_secs(5));
    }

    #[test]
    fn the_reset_adds_one_unit_never_above_the_quota() {
        let mut p = HeaderPacer::new();
        let t = Instant::from_secs(0);
        p.on_response(t, Some(br#""w";q=2"#), Some(br#""w";r=2;t=0"#), None);
        assert_eq!(p.available("w", t), Some(2));
    }

    #[test]
    fn used_up_knowledge_waits_the_probe() {
        let mut p = HeaderPacer::new().with_probe(Duration::from_millis(250));
        let t = Instant::from_secs(0);
        p.on_response(t, None, Some(br#""w";r=0;t=2"#), None);
        let later = Instant::from_secs(2);
        p.on_sent(later);
        assert_eq!(p.delay(later), Duration::from_millis(250));
    }

    #[test]
    fn a_fifth_name_replaces_the_least_recently_mentioned() {
        let mut p = HeaderPacer::new();
        let t = Instant::ZERO;
        p.on_response(t, None, Some(br#""a";r=0;t=9, "b";r=5, "c";r=5"#), None);
        p.on_response(t, None, Some(br#""b";r=5, "c";r=5, "d";r=5"#), None);
        p.on_response(t, None, Some(br#""e";r=5"#), None);
        assert_eq!(p.available("a", t), None);
        assert_eq!(p.available("e", t), Some(5));
    }

    #[test]
    fn retry_after_holds_every_request_and_takes_precedence_over_t() {
        let mut p = HeaderPacer::new();
        let t = Instant::from_secs(10);
        p.on_response(t, None, Some(br#""w";r=0;t=100"#), Some(b"5"));
        assert_eq!(p.delay(t), Duration::from_secs(5));
        assert_eq!(p.available("w", Instant::from_secs(15)), Some(1));

        p.on_response(t, None, None, Some(b"7"));
        assert_eq!(p.delay(t), Duration::from_secs(7));
        p.hold_until(Instant::from_secs(30));
        assert_eq!(p.delay(t), Duration::from_secs(20));
    }

    #[test]
    fn a_response_stamped_in_the_past_counts_from_the_latest_seen() {
        let mut p = HeaderPacer::new();
        p.on_response(Instant::from_secs(10), None, Some(br#""w";r=4"#), None);
        p.on_response(Instant::from_secs(5), None, Some(br#""w";r=0;t=3"#), None);
        assert_eq!(p.delay(Instant::from_secs(10)), Duration::from_secs(3));
        assert_eq!(p.delay(Instant::from_secs(5)), Duration::from_secs(8));
    }

    #[test]
    fn a_request_without_answer_leaves_flight_and_stays_counted() {
        let mut p = HeaderPacer::new();
        let t = Instant::ZERO;
        p.on_response(t, None, Some(br#""w";r=1;t=60"#), None);
        p.on_sent(t);
        assert_eq!(p.in_flight(), 1);
        p.on_response(t, None, None, None);
        assert_eq!(p.in_flight(), 0);
        assert_eq!(p.available("w", t), Some(0));
        assert_eq!(p.delay(t), Duration::from_secs(60));
    }

    #[test]
    fn a_pacer_from_another_policys_state_starts_fresh() {
        let policy = one_window(2, 10);
        let other: Policy<[u64; 8]> = Policy::new();
        let pacer = Pacer::with_state(&policy, &other.new_state());
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
