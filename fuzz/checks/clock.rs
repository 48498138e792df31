//! Clock moves and request costs decoded from fuzz input, shared by the
//! targets that drive limiters, policies and the verification pipeline.
//!
//! A move is relative to the previous instant and to the span of the limit
//! under test (its window, or the time to refill a whole bucket), so that
//! short inputs roll windows over many times; it may also go backwards by
//! any amount or jump to the ends of time.

#![allow(dead_code)]

/// A move of the clock before a call.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    /// The same instant again.
    Same,
    /// Forward by a step.
    Forward(Step),
    /// Backward by a step: a late-stamped call.
    Back(Step),
    /// Forward by any number of nanoseconds, saturating.
    ForwardBy(u64),
    /// Backward by any number of nanoseconds, saturating.
    BackBy(u64),
    /// To any instant.
    To(u64),
    /// To `n` nanoseconds before the end of time.
    NearEnd(u16),
}

/// A step scaled to the span of the limit under test.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A few nanoseconds.
    Nanos(u8),
    /// Sixteenths of the span.
    Sixteenths(u8),
}

impl Step {
    /// The step in nanoseconds for a limit of `span` nanoseconds.
    pub fn nanos(self, span: u64) -> u64 {
        match self {
            Step::Nanos(n) => u64::from(n),
            Step::Sixteenths(k) => {
                let n = u128::from(k) * u128::from(span) / 16;
                u64::try_from(n).unwrap_or(u64::MAX)
            }
        }
    }
}

impl Move {
    /// The instant after this move from `t`, for a limit of `span`.
    pub fn apply(self, t: u64, span: u64) -> u64 {
        match self {
            Move::Same => t,
            Move::Forward(s) => t.saturating_add(s.nanos(span)),
            Move::Back(s) => t.saturating_sub(s.nanos(span)),
            Move::ForwardBy(n) => t.saturating_add(n),
            Move::BackBy(n) => t.saturating_sub(n),
            Move::To(x) => x,
            Move::NearEnd(n) => u64::MAX - u64::from(n),
        }
    }
}

/// A request's cost, resolved against the capacity under test.
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cost {
    /// An ordinary request.
    One,
    /// A request that is never refused.
    Zero,
    /// A few units.
    Units(u8),
    /// Exactly the capacity.
    Capacity,
    /// This much above the capacity: always an error.
    Over(u8),
    /// Any cost at all.
    Any(u32),
}

impl Cost {
    /// The cost in units against `capacity`.
    pub fn resolve(self, capacity: u32) -> u32 {
        match self {
            Cost::One => 1,
            Cost::Zero => 0,
            Cost::Units(n) => u32::from(n),
            Cost::Capacity => capacity,
            Cost::Over(k) => capacity.saturating_add(u32::from(k).max(1)),
            Cost::Any(n) => n,
        }
    }
}

/// The instants of `moves` from `start`, for a limit of `span`.
pub fn instants(start: u64, moves: impl IntoIterator<Item = Move>, span: u64) -> Vec<u64> {
    let mut t = start;
    moves
        .into_iter()
        .map(|m| {
            t = m.apply(t, span);
            t
        })
        .collect()
}
