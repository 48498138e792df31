//! Naive reference models of the limit kinds, for property tests and fuzz
//! targets.
//!
//! Each model is written for clarity, not speed, and independently of the
//! algorithm it checks: the sliding window keeps every admitted unit's
//! timestamp in a plain `Vec`, the token bucket counts credit in
//! nanoseconds, the fixed window counts units per aligned window in a map.
//! All arithmetic on instants is done in `u128`, so a model is exact up to
//! and past `Instant::MAX`; the limiters saturate there instead.
//!
//! Models take times in nanoseconds and must be fed non-decreasing times:
//! to model a limiter that sees a backwards clock, feed the running maximum.
//! Include this file with `mod model;` (from `tests/`) or
//! `#[path = "../tests/model/mod.rs"] mod model;`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;
use std::vec::Vec;

use keyrate::limit::{Allowed, CostTooLarge, Decision, Denied};

/// Nanoseconds as a `Duration`, exact for any `u128` that fits.
pub fn nanos(n: u128) -> Duration {
    let secs = u64::try_from(n / 1_000_000_000).unwrap_or(u64::MAX);
    let sub = u32::try_from(n % 1_000_000_000).unwrap_or(0);
    Duration::new(secs, sub)
}

/// An allowed decision with `remaining` left and the next unit back `reset`
/// nanoseconds from now.
pub fn allowed(remaining: u32, reset: u128) -> Decision {
    Decision::Allowed(Allowed {
        remaining,
        reset: nanos(reset),
    })
}

/// A denial of a lone limit: `remaining` available, allowed `retry`
/// nanoseconds from now.
pub fn denied(remaining: u32, retry: u128) -> Decision {
    Decision::Denied(Denied {
        limit: 0,
        remaining,
        retry_after: nanos(retry),
    })
}

/// The most units of `log` (timestamps in nanoseconds, any order) that fall
/// in any half-open window `[s, s + window)`.
///
/// A busiest window can always be slid right until it starts at an admitted
/// unit, so only those starts are tried.
pub fn max_in_any_window(log: &[u64], window: u64) -> u32 {
    let mut sorted = log.to_vec();
    sorted.sort_unstable();
    let mut best = 0;
    let mut end = 0;
    for (start, &s) in sorted.iter().enumerate() {
        let limit = u128::from(s) + u128::from(window);
        while end < sorted.len() && u128::from(sorted[end]) < limit {
            end += 1;
        }
        best = best.max(end - start);
    }
    u32::try_from(best).unwrap_or(u32::MAX)
}

/// The exact sliding window: every admitted unit's timestamp.
#[derive(Clone, Debug)]
pub struct SlidingModel {
    quota: u32,
    window: u64,
    log: Vec<u64>,
    latest: u64,
}

impl SlidingModel {
    /// At most `quota` units in any `window` nanoseconds.
    pub fn new(quota: u32, window: u64) -> Self {
        SlidingModel {
            quota,
            window,
            log: Vec::new(),
            latest: 0,
        }
    }

    /// A model replaying `log` (admitted unit timestamps) into a window of
    /// another length.
    pub fn with_log(quota: u32, window: u64, log: &[u64]) -> Self {
        SlidingModel {
            quota,
            window,
            log: log.to_vec(),
            latest: log.iter().copied().max().unwrap_or(0),
        }
    }

    /// Every admitted unit's timestamp, in admission order.
    pub fn log(&self) -> &[u64] {
        &self.log
    }

    /// True if the unit admitted at `ts` still counts at `t`.
    fn holds(&self, ts: u64, t: u128) -> bool {
        u128::from(ts) + u128::from(self.window) > t
    }

    /// Units counted at `t`.
    pub fn held(&self, t: u64) -> u32 {
        let t = u128::from(t);
        let n = self.log.iter().filter(|&&ts| self.holds(ts, t)).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// The instants (as `u128`) at which some unit counted at `t` is freed,
    /// earliest first.
    fn frees_after(&self, t: u64) -> Vec<u128> {
        let mut at: Vec<u128> = self
            .log
            .iter()
            .map(|&ts| u128::from(ts) + u128::from(self.window))
            .filter(|&free| free > u128::from(t))
            .collect();
        at.sort_unstable();
        at.dedup();
        at
    }

    /// Units counted at the `u128` instant `t` (which may be past `u64`).
    fn held_wide(&self, t: u128) -> u32 {
        let n = self.log.iter().filter(|&&ts| self.holds(ts, t)).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// What a request of `cost` at `t` gets, without admitting it.
    pub fn decide(&self, t: u64, cost: u32) -> Result<Decision, CostTooLarge> {
        assert!(t >= self.latest, "the model needs non-decreasing times");
        if cost > self.quota {
            return Err(CostTooLarge {
                cost,
                capacity: self.quota,
            });
        }
        let held = self.held(t);
        if held + cost <= self.quota {
            let remaining = self.quota - held - cost;
            if remaining == self.quota {
                return Ok(allowed(remaining, 0));
            }

            // The first instant a unit comes back, counting this request.
            let mut after = self.clone();
            after.log.extend(std::iter::repeat_n(t, cost as usize));
            let back = after.frees_after(t)[0];
            return Ok(allowed(remaining, back - u128::from(t)));
        }

        // The first instant at which enough units have left for `cost`.
        let at = self
            .frees_after(t)
            .into_iter()
            .find(|&c| self.held_wide(c) + cost <= self.quota)
            .expect("every held unit leaves eventually");
        Ok(denied(self.quota.saturating_sub(held), at - u128::from(t)))
    }

    /// Decides and admits.
    pub fn check(&mut self, t: u64, cost: u32) -> Result<Decision, CostTooLarge> {
        let d = self.decide(t, cost)?;
        self.latest = t;
        if d.is_allowed() {
            self.log.extend(std::iter::repeat_n(t, cost as usize));
        }
        Ok(d)
    }

    /// Records `cost` units admitted at `t` by someone else, whatever this
    /// model would have decided.
    pub fn record(&mut self, t: u64, cost: u32) {
        assert!(t >= self.latest, "the model needs non-decreasing times");
        self.latest = t;
        self.log.extend(std::iter::repeat_n(t, cost as usize));
    }

    /// True if nothing is counted at `t`.
    pub fn is_idle(&self, t: u64) -> bool {
        self.held(t) == 0
    }
}

/// A token bucket as credit: nanoseconds of refill time banked, up to
/// `burst × period`, spent `period` per unit.
#[derive(Clone, Debug)]
pub struct BucketModel {
    burst: u32,
    period: u64,
    credit: u128,
    last: u64,
}

impl BucketModel {
    /// `burst` units at once, then one per `period` nanoseconds; full at
    /// time 0.
    pub fn new(burst: u32, period: u64) -> Self {
        let full = u128::from(burst) * u128::from(period);
        BucketModel {
            burst,
            period,
            credit: full,
            last: 0,
        }
    }

    fn full(&self) -> u128 {
        u128::from(self.burst) * u128::from(self.period)
    }

    /// Credit at `t`: refilled one nanosecond per nanosecond, capped.
    fn credit_at(&self, t: u64) -> u128 {
        assert!(t >= self.last, "the model needs non-decreasing times");
        let refill = u128::from(t - self.last);
        (self.credit + refill).min(self.full())
    }

    /// Whole units available at `t`.
    pub fn available(&self, t: u64) -> u32 {
        let units = self.credit_at(t) / u128::from(self.period);
        u32::try_from(units).unwrap_or(u32::MAX)
    }

    /// What a request of `cost` at `t` gets, without admitting it.
    pub fn decide(&self, t: u64, cost: u32) -> Result<Decision, CostTooLarge> {
        if cost > self.burst {
            return Err(CostTooLarge {
                cost,
                capacity: self.burst,
            });
        }
        let period = u128::from(self.period);
        let credit = self.credit_at(t);
        let price = u128::from(cost) * period;
        if credit < price {
            return Ok(denied(self.available(t), price - credit));
        }
        let left = credit - price;
        let remaining = u32::try_from(left / period).unwrap_or(u32::MAX);
        if remaining == self.burst {
            return Ok(allowed(remaining, 0));
        }

        // Refill until one more whole unit than `remaining` is banked.
        let wait = (u128::from(remaining) + 1) * period - left;
        Ok(allowed(remaining, wait))
    }

    /// Decides and spends.
    pub fn check(&mut self, t: u64, cost: u32) -> Result<Decision, CostTooLarge> {
        let d = self.decide(t, cost)?;
        let credit = self.credit_at(t);
        self.last = t;
        self.credit = credit;
        if d.is_allowed() {
            self.credit -= u128::from(cost) * u128::from(self.period);
        }
        Ok(d)
    }

    /// True if the bucket is full at `t`.
    pub fn is_idle(&self, t: u64) -> bool {
        self.credit_at(t) == self.full()
    }
}

/// Fixed windows `[k × window, (k + 1) × window)` from time 0, with a count
/// of admitted units for each.
#[derive(Clone, Debug)]
pub struct FixedModel {
    quota: u32,
    window: u64,
    counts: BTreeMap<u64, u32>,
    latest: u64,
}

impl FixedModel {
    /// At most `quota` units per aligned `window` nanoseconds.
    pub fn new(quota: u32, window: u64) -> Self {
        FixedModel {
            quota,
            window,
            counts: BTreeMap::new(),
            latest: 0,
        }
    }

    /// Units counted in the window holding `t`.
    pub fn used(&self, t: u64) -> u32 {
        self.counts.get(&(t / self.window)).copied().unwrap_or(0)
    }

    /// Admitted units per window index.
    pub fn counts(&self) -> &BTreeMap<u64, u32> {
        &self.counts
    }

    /// Nanoseconds from `t` to the start of the next window.
    fn to_next_window(&self, t: u64) -> u128 {
        let next = (u128::from(t / self.window) + 1) * u128::from(self.window);
        next - u128::from(t)
    }

    /// What a request of `cost` at `t` gets, without admitting it.
    pub fn decide(&self, t: u64, cost: u32) -> Result<Decision, CostTooLarge> {
        assert!(t >= self.latest, "the model needs non-decreasing times");
        if cost > self.quota {
            return Err(CostTooLarge {
                cost,
                capacity: self.quota,
            });
        }
        let used = self.used(t);
        if used + cost > self.quota {
            return Ok(denied(
                self.quota.saturating_sub(used),
                self.to_next_window(t),
            ));
        }
        let remaining = self.quota - used - cost;
        if remaining == self.quota {
            Ok(allowed(remaining, 0))
        } else {
            Ok(allowed(remaining, self.to_next_window(t)))
        }
    }

    /// Decides and counts.
    pub fn check(&mut self, t: u64, cost: u32) -> Result<Decision, CostTooLarge> {
        let d = self.decide(t, cost)?;
        self.latest = t;
        if d.is_allowed() && cost > 0 {
            *self.counts.entry(t / self.window).or_insert(0) += cost;
        }
        Ok(d)
    }

    /// True if nothing is counted in the window holding `t`.
    pub fn is_idle(&self, t: u64) -> bool {
        self.used(t) == 0
    }
}
