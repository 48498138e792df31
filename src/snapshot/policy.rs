//! Snapshots of a policy's state: one limit snapshot per named limit.

use core::fmt;

use serde::{Deserialize, Serialize};

use super::limit::{capture, earliest, rebuild};
use super::{Frame, LimitSnapshot, Moment, Restorable, SnapshotError, sealed};
use crate::limit::{MAX_LIMITS, Policy, PolicyState, Slots};

/// The longest limit name, as [`Name`](crate::limit::Name) allows.
const NAME_LEN: usize = 16;

/// A policy's state: each limit's name and [`LimitSnapshot`], in the
/// policy's order.
///
/// It serializes as `{"limits": [{"name": "hourly", "state": {...}}, ...]}`
/// and holds at most `N` limits, like the policy. A restore requires the
/// same names in the same order, and each limit's snapshot to fit its
/// limit.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use keyrate::limit::{FixedWindow, Policy, TokenBucket};
/// use keyrate::snapshot::{Epoch, PolicySnapshot, Restorable, Snapshot, SnapshotError};
/// use keyrate::time::Instant;
///
/// let policy: Policy<[u64; 0]> = Policy::new()
///     .with("minute", FixedWindow::new(60, Duration::from_secs(60))?)?
///     .with("burst", TokenBucket::new(10, Duration::from_secs(1))?)?;
/// let mut state = policy.new_state();
/// policy.check(&mut state, Instant::from_secs(1), 4)?;
///
/// let taken = policy.snapshot(&state, Epoch::new(Instant::from_secs(1), 0));
/// let names: Vec<&str> = taken.state().names().collect();
/// assert_eq!(names, ["minute", "burst"]);
///
/// let other: Policy<[u64; 0]> =
///     Policy::new().with("minute", FixedWindow::new(60, Duration::from_secs(60))?)?;
/// let text = serde_json::to_string(&taken)?;
/// let read: Snapshot<PolicySnapshot<[u64; 0]>> = serde_json::from_str(&text)?;
/// let refused = other.restore(&read, Epoch::new(Instant::ZERO, 0));
/// assert_eq!(refused.err(), Some(SnapshotError::PolicyMismatch));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    bound(serialize = "S: AsRef<[u64]>", deserialize = "S: Slots")
)]
pub struct PolicySnapshot<S, const N: usize = MAX_LIMITS> {
    limits: heapless::Vec<Named<S>, N>,
}

/// One limit of a policy snapshot.
#[derive(Clone, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    bound(serialize = "S: AsRef<[u64]>", deserialize = "S: Slots")
)]
struct Named<S> {
    name: heapless::String<NAME_LEN>,
    state: LimitSnapshot<S>,
}

impl<S: AsRef<[u64]>, const N: usize> PartialEq for PolicySnapshot<S, N> {
    fn eq(&self, other: &Self) -> bool {
        self.limits.len() == other.limits.len()
            && self
                .limits
                .iter()
                .zip(other.limits.iter())
                .all(|(a, b)| a.name == b.name && a.state == b.state)
    }
}

impl<S: AsRef<[u64]>, const N: usize> Eq for PolicySnapshot<S, N> {}

impl<S: AsRef<[u64]>, const N: usize> fmt::Debug for PolicySnapshot<S, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for named in &self.limits {
            map.entry(&named.name.as_str(), &named.state);
        }
        map.finish()
    }
}

impl<S, const N: usize> PolicySnapshot<S, N> {
    /// The number of limits.
    pub fn len(&self) -> usize {
        self.limits.len()
    }

    /// True if the snapshot holds no limit.
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// The limits' names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.limits.iter().map(|n| n.name.as_str())
    }

    /// The snapshot of limit `index`.
    pub fn get(&self, index: usize) -> Option<&LimitSnapshot<S>> {
        self.limits.get(index).map(|n| &n.state)
    }
}

impl<S, const N: usize> sealed::Sealed for Policy<S, N> {}

impl<S: Slots, const N: usize> Restorable for Policy<S, N> {
    type Snapshot = PolicySnapshot<S, N>;

    fn earliest_moment(&self, state: &PolicyState<S, N>) -> u64 {
        let states = (0..self.len()).filter_map(|i| state.get(i));
        self.iter()
            .zip(states)
            .map(|((_, l), s)| earliest(l, s))
            .max()
            .unwrap_or(0)
    }

    fn capture(&self, state: &PolicyState<S, N>, moment: &Moment) -> PolicySnapshot<S, N> {
        let mut limits = heapless::Vec::new();
        if state.get(self.len()).is_some() {
            // A state of a policy with more limits.
            return PolicySnapshot { limits };
        }
        for (index, (name, limit)) in self.iter().enumerate() {
            let captured = state.get(index).and_then(|s| capture(limit, s, moment));
            let (Some(state), Ok(name)) = (captured, heapless::String::try_from(name)) else {
                // A state of another policy: a snapshot no policy with
                // limits restores.
                return PolicySnapshot {
                    limits: heapless::Vec::new(),
                };
            };

            // Cannot fail: the policy holds at most N limits.
            let _ = limits.push(Named { name, state });
        }
        PolicySnapshot { limits }
    }

    fn rebuild(
        &self,
        snapshot: &PolicySnapshot<S, N>,
        frame: &Frame,
    ) -> Result<PolicyState<S, N>, SnapshotError> {
        if snapshot.limits.len() != self.len() {
            return Err(SnapshotError::PolicyMismatch);
        }
        let mut states = heapless::Vec::new();
        for ((name, limit), named) in self.iter().zip(snapshot.limits.iter()) {
            if named.name.as_str() != name {
                return Err(SnapshotError::PolicyMismatch);
            }
            let state = rebuild(limit, &named.state, frame)?;

            // Cannot fail: the policy holds at most N limits.
            let _ = states.push(state);
        }
        Ok(PolicyState::from_states(states))
    }
}
