//! Pacing a client so that its requests are not refused.
//!
//! Two pacers share one shape: ask [`delay`](HeaderPacer::delay) before a
//! request (zero means go now), call [`on_sent`](HeaderPacer::on_sent) when
//! it leaves and [`on_response`](HeaderPacer::on_response) with the raw
//! `RateLimit-Policy`, `RateLimit` and `Retry-After` values when its answer
//! arrives.
//!
//! - [`HeaderPacer`] knows nothing in advance and learns from the headers.
//! - [`Pacer`] also runs a known [`Policy`](crate::limit::Policy) locally, charging it on every
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

use core::time::Duration;

use super::headers::{
    ItemName, MAX_ITEMS, PolicyField, RateLimitField, RateLimitItem, parse_retry_after,
};
use crate::time::Instant;

mod model;

pub use model::Pacer;

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

/// A response's three fields, parsed.
struct Fields {
    policy: Option<PolicyField>,
    rate_limit: Option<RateLimitField>,
    retry_after: Option<Duration>,
}

impl Fields {
    fn parse(policy: Option<&[u8]>, limit: Option<&[u8]>, retry: Option<&[u8]>) -> Self {
        Fields {
            policy: policy.map(PolicyField::parse),
            rate_limit: limit.map(RateLimitField::parse),
            retry_after: retry.and_then(parse_retry_after),
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
        let f = Fields::parse(policy, rate_limit, retry_after);
        self.on_fields(now, f.policy.as_ref(), f.rate_limit.as_ref(), f.retry_after);
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
        let current = self.responses;
        let index = match self.limits.iter().position(|l| l.name == *name) {
            Some(i) => i,
            None => self.make_room(name)?,
        };
        let l = self.limits.get_mut(index)?;
        l.mentioned = current;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
