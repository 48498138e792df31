//! The default policies, with the numbers of the modelled product.
//!
//! | key kind | limits |
//! |---|---|
//! | pre-confirmation session | `"hourly"`: 60 per 3600 s |
//! | confirmed session, permanent | `"hourly"`: 300 per 3600 s; `"burst"`: 60 per 60 s |
//!
//! All are exact sliding windows (DESIGN decision 1). `S` chooses where their
//! timestamps live: `Box<[u64]>` ([`HeapSlots`](crate::limit::HeapSlots))
//! with `alloc`, or an inline array of at least 60 (pre-confirmation) or 300
//! (confirmed) slots without it.

use core::time::Duration;

use crate::limit::{LimitError, Policy, PolicyError, SlidingWindow, Slots};

/// One hour.
const HOUR: Duration = Duration::from_secs(3600);

/// One minute.
const MINUTE: Duration = Duration::from_secs(60);

/// The policy for a pre-confirmation session key: 60 per hour.
///
/// # Errors
///
/// [`PresetError`] if `S` cannot hold 60 timestamps.
///
/// # Examples
///
/// ```
/// use keyrate::preset;
///
/// let inline = preset::pre_confirmation::<[u64; 60]>()?;
/// assert_eq!(inline.name(0), Some("hourly"));
/// assert!(preset::pre_confirmation::<[u64; 59]>().is_err());
/// # Ok::<(), keyrate::preset::PresetError>(())
/// ```
pub fn pre_confirmation<S: Slots>() -> Result<Policy<S>, PresetError> {
    Ok(Policy::new().with("hourly", SlidingWindow::new(60, HOUR)?)?)
}

/// The policy for a confirmed session or permanent key: 300 per hour and 60
/// per minute.
///
/// # Errors
///
/// [`PresetError`] if `S` cannot hold 300 timestamps.
pub fn confirmed<S: Slots>() -> Result<Policy<S>, PresetError> {
    Ok(Policy::new()
        .with("hourly", SlidingWindow::new(300, HOUR)?)?
        .with("burst", SlidingWindow::new(60, MINUTE)?)?)
}

/// Why a preset could not be built: its storage is too small.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresetError {
    /// A limit could not be built.
    Limit(LimitError),
    /// The policy could not hold its limits.
    Policy(PolicyError),
}

impl From<LimitError> for PresetError {
    fn from(e: LimitError) -> Self {
        PresetError::Limit(e)
    }
}

impl From<PolicyError> for PresetError {
    fn from(e: PolicyError) -> Self {
        PresetError::Policy(e)
    }
}

impl core::fmt::Display for PresetError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PresetError::Limit(e) => core::fmt::Display::fmt(e, f),
            PresetError::Policy(e) => core::fmt::Display::fmt(e, f),
        }
    }
}

impl core::error::Error for PresetError {}
