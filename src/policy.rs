//! Tiers, plans and the policy set a server enforces, loadable through serde.
//!
//! A [`PolicySet`] maps a key's [`Tier`] and its account's plan to a
//! [`Policy`]. The default set is the product's table (see
//! [`preset`] module); paid plans replace the policy of the tiers
//! they name and inherit the others.
//!
//! With the `serde` feature a [`Config`] is read from a file users write by
//! hand, in any format with a serde implementation (TOML below), and
//! [`PolicySet::from_config`] validates it into a policy set. An invalid
//! configuration is a [`ConfigError`] naming the field.
//!
//! ```toml
//! key_prefix = "jcr_"
//! scope = "account"            # or "key": limits per key instead
//! on_store_failure = "closed"  # or "open"
//!
//! [tiers]
//! pre_confirmation = [{ name = "hourly", kind = "sliding", quota = 60, window = 3600 }]
//!
//! [[plans]]
//! name = "pro"
//! confirmed = [
//!   { name = "hourly", kind = "sliding", quota = 3000, window = 3600 },
//!   { name = "burst", kind = "bucket", quota = 600, window = 60, burst = 100 },
//! ]
//! ```
//!
//! Windows are whole seconds. `kind` is `sliding` (exact), `compact`,
//! `bucket` (`quota` per `window` on average, in bursts of `burst`) or
//! `fixed`.

use core::fmt;

use crate::credential::key::KeyFormat;
use crate::limit::{LimitError, Name, Policy, PolicyError, Slots};
use crate::preset::{self, PresetError};

/// The most plans a policy set holds.
pub const MAX_PLANS: usize = 8;

/// The tiers are the kinds of key: each kind has its own policy.
pub use crate::credential::lifecycle::KeyKind as Tier;

/// Every tier, in table order.
pub const TIERS: [Tier; 3] = [Tier::PreConfirmation, Tier::Confirmed, Tier::Permanent];

/// Position of `tier` in [`TIERS`].
fn index(tier: Tier) -> usize {
    match tier {
        Tier::PreConfirmation => 0,
        Tier::Confirmed => 1,
        Tier::Permanent => 2,
    }
}

/// What limits are charged to (DESIGN decision 5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Scope {
    /// One state per account: minting more keys adds no capacity (default).
    #[default]
    Account,
    /// One state per key.
    Key,
}

/// What to decide when shared limiter state cannot be read or written
/// (DESIGN decision 13).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum FailureMode {
    /// Refuse the request (default).
    #[default]
    Closed,
    /// Allow the request.
    Open,
}

/// The policies a server enforces: one per tier, and per plan for the tiers
/// the plan overrides.
///
/// # Examples
///
/// ```
/// use keyrate::limit::HeapSlots;
/// use keyrate::policy::{PolicySet, Tier};
///
/// let set = PolicySet::<HeapSlots>::preset()?;
/// let policy = set.policy(Tier::PreConfirmation, None)?;
/// assert_eq!(policy.name(0), Some("hourly"));
/// assert_eq!(set.policy(Tier::Confirmed, None)?.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct PolicySet<S> {
    base: [Policy<S>; 3],
    plans: heapless::Vec<(Name, [Option<Policy<S>>; 3]), MAX_PLANS>,
    format: KeyFormat,
    scope: Scope,
    on_store_failure: FailureMode,
}

impl<S: Slots> PolicySet<S> {
    /// The product's defaults: the preset policies, no plans, prefix `jcr_`,
    /// per-account scope, failing closed.
    ///
    /// # Errors
    ///
    /// [`PresetError`] if `S` cannot hold 300 timestamps.
    pub fn preset() -> Result<Self, PresetError> {
        let confirmed = preset::confirmed()?;
        Ok(PolicySet {
            base: [preset::pre_confirmation()?, confirmed.clone(), confirmed],
            plans: heapless::Vec::new(),
            format: KeyFormat::DEFAULT,
            scope: Scope::Account,
            on_store_failure: FailureMode::Closed,
        })
    }

    /// The policy for `tier` under `plan` (`None` for the free default).
    ///
    /// # Errors
    ///
    /// [`UnknownPlan`] if no plan has that name.
    pub fn policy(&self, tier: Tier, plan: Option<&str>) -> Result<&Policy<S>, UnknownPlan> {
        let base = self.base.get(index(tier)).ok_or(UnknownPlan)?;
        let Some(plan) = plan else {
            return Ok(base);
        };
        let (_, overrides) = self
            .plans
            .iter()
            .find(|(n, _)| n.as_str() == plan)
            .ok_or(UnknownPlan)?;
        Ok(overrides
            .get(index(tier))
            .and_then(Option::as_ref)
            .unwrap_or(base))
    }

    /// The names of the configured plans.
    pub fn plans(&self) -> impl Iterator<Item = &str> {
        self.plans.iter().map(|(n, _)| n.as_str())
    }

    /// The key format: the prefix every key starts with.
    pub fn key_format(&self) -> &KeyFormat {
        &self.format
    }

    /// The prefix every key starts with.
    pub fn key_prefix(&self) -> &str {
        self.format.prefix()
    }

    /// Whether limits are charged per account or per key.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// What to decide when shared state cannot be read or written.
    pub fn on_store_failure(&self) -> FailureMode {
        self.on_store_failure
    }
}

/// A plan name that the policy set does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownPlan;

impl fmt::Display for UnknownPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no plan has that name")
    }
}

impl core::error::Error for UnknownPlan {}

/// What is wrong with a configuration value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// A limit could not be built.
    Limit(LimitError),
    /// A policy could not hold its limits.
    Policy(PolicyError),
    /// A `bucket` limit needs `burst`; other kinds take none.
    Burst,
    /// The key prefix is not 1 to 7 lowercase letters or digits then `_`.
    BadPrefix,
    /// A plan name is not a valid name, or is given twice.
    BadPlanName,
    /// More than [`MAX_PLANS`] plans.
    TooManyPlans,
    /// A tier's limit list is empty (omit the tier to inherit instead).
    NoLimits,
}

impl fmt::Display for ConfigErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigErrorKind::Limit(e) => fmt::Display::fmt(e, f),
            ConfigErrorKind::Policy(e) => fmt::Display::fmt(e, f),
            ConfigErrorKind::Burst => {
                f.write_str("`burst` is required for kind \"bucket\" and allowed for no other")
            }
            ConfigErrorKind::BadPrefix => {
                f.write_str("key prefix must be 1 to 7 lowercase letters or digits followed by '_'")
            }
            ConfigErrorKind::BadPlanName => f.write_str("plan name is invalid or given twice"),
            ConfigErrorKind::TooManyPlans => write!(f, "at most {MAX_PLANS} plans"),
            ConfigErrorKind::NoLimits => {
                f.write_str("a tier needs at least one limit (omit it to inherit)")
            }
        }
    }
}

/// An invalid configuration: what is wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    path: heapless::String<64>,
    kind: ConfigErrorKind,
}

impl ConfigError {
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    fn new(kind: ConfigErrorKind, path: fmt::Arguments<'_>) -> ConfigError {
        let mut p = heapless::String::new();
        // A path longer than 64 bytes is cut short; the kind still tells.
        let _ = fmt::write(&mut p, path);
        ConfigError { path: p, kind }
    }

    /// The field at fault, e.g. `plans[0].confirmed[1].quota`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong with it.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.kind)
    }
}

impl core::error::Error for ConfigError {}

#[cfg(feature = "serde")]
pub use config::{Config, LimitKind, LimitSpec, Limits, PlanSpec, TierSpecs, policy_from_specs};

#[cfg(feature = "serde")]
mod config {
    use core::time::Duration;

    use super::*;
    use crate::limit::{AnyLimit, CompactWindow, FixedWindow, SlidingWindow, TokenBucket};

    /// Limit lists, at most [`MAX_LIMITS`](crate::limit::MAX_LIMITS) each.
    pub type Limits = heapless::Vec<LimitSpec, { crate::limit::MAX_LIMITS }>;

    /// A policy configuration as written by hand. Unknown fields are errors.
    #[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Config {
        /// The key prefix (default `jcr_`).
        #[serde(default)]
        pub key_prefix: Option<heapless::String<16>>,
        /// Per-account (default) or per-key limits.
        #[serde(default)]
        pub scope: Scope,
        /// Fail closed (default) or open when shared state is unavailable.
        #[serde(default)]
        pub on_store_failure: FailureMode,
        /// Overrides of the default tiers.
        #[serde(default)]
        pub tiers: TierSpecs,
        /// Paid plans.
        #[serde(default)]
        pub plans: heapless::Vec<PlanSpec, 16>,
    }

    /// Limits per tier; an omitted tier keeps the default (or, in a plan,
    /// the set's tier).
    #[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct TierSpecs {
        /// Limits of pre-confirmation session keys.
        #[serde(default)]
        pub pre_confirmation: Option<Limits>,
        /// Limits of confirmed session keys.
        #[serde(default)]
        pub confirmed: Option<Limits>,
        /// Limits of permanent keys.
        #[serde(default)]
        pub permanent: Option<Limits>,
    }

    impl TierSpecs {
        fn get(&self, tier: Tier) -> Option<&Limits> {
            match tier {
                Tier::PreConfirmation => self.pre_confirmation.as_ref(),
                Tier::Confirmed => self.confirmed.as_ref(),
                Tier::Permanent => self.permanent.as_ref(),
            }
        }
    }

    /// A paid plan: a name and the tiers it overrides.
    #[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct PlanSpec {
        /// The plan's name (a limit name: letters, digits, `_-.`).
        pub name: heapless::String<16>,
        /// Limits of pre-confirmation session keys under this plan.
        #[serde(default)]
        pub pre_confirmation: Option<Limits>,
        /// Limits of confirmed session keys under this plan.
        #[serde(default)]
        pub confirmed: Option<Limits>,
        /// Limits of permanent keys under this plan.
        #[serde(default)]
        pub permanent: Option<Limits>,
    }

    impl PlanSpec {
        fn get(&self, tier: Tier) -> Option<&Limits> {
            match tier {
                Tier::PreConfirmation => self.pre_confirmation.as_ref(),
                Tier::Confirmed => self.confirmed.as_ref(),
                Tier::Permanent => self.permanent.as_ref(),
            }
        }
    }

    /// One limit of a tier.
    #[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct LimitSpec {
        /// The name advertised in `RateLimit-Policy`.
        pub name: heapless::String<16>,
        /// The limit kind.
        pub kind: LimitKind,
        /// Units per window (for `bucket`, on average).
        pub quota: u32,
        /// The window, in whole seconds.
        pub window: u64,
        /// For `bucket` only: the most units at once.
        #[serde(default)]
        pub burst: Option<u32>,
    }

    /// The kind of a configured limit.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum LimitKind {
        /// [`SlidingWindow`].
        Sliding,
        /// [`CompactWindow`].
        Compact,
        /// [`TokenBucket::per_window`].
        Bucket,
        /// [`FixedWindow`].
        Fixed,
    }

    impl LimitSpec {
        fn build<S: Slots>(&self) -> Result<AnyLimit<S>, ConfigErrorKind> {
            let window = Duration::from_secs(self.window);
            let limit = match (self.kind, self.burst) {
                (LimitKind::Sliding, None) => SlidingWindow::new(self.quota, window)?.into(),
                (LimitKind::Compact, None) => CompactWindow::new(self.quota, window)?.into(),
                (LimitKind::Fixed, None) => FixedWindow::new(self.quota, window)?.into(),
                (LimitKind::Bucket, Some(burst)) => {
                    TokenBucket::per_window(self.quota, window, burst)?.into()
                }
                _ => return Err(ConfigErrorKind::Burst),
            };
            Ok(limit)
        }
    }

    impl From<LimitError> for ConfigErrorKind {
        fn from(e: LimitError) -> Self {
            ConfigErrorKind::Limit(e)
        }
    }

    /// Builds a policy from a list of limit specifications, for limits a
    /// configuration holds outside the tiers (a server's own endpoints, say);
    /// `at` names the list in errors.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the first invalid field under `at`.
    pub fn policy_from_specs<S: Slots>(
        limits: &Limits,
        at: &dyn fmt::Display,
    ) -> Result<Policy<S>, ConfigError> {
        build_policy(limits, at)
    }

    /// Builds the policy for one tier's limit list; `at` names the list.
    fn build_policy<S: Slots>(
        limits: &Limits,
        at: &dyn fmt::Display,
    ) -> Result<Policy<S>, ConfigError> {
        if limits.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::NoLimits,
                format_args!("{at}"),
            ));
        }
        let mut policy = Policy::new();
        for (i, spec) in limits.iter().enumerate() {
            let limit = spec
                .build()
                .map_err(|k| ConfigError::new(k, format_args!("{at}[{i}].{}", field_of(k))))?;
            policy.push(&spec.name, limit).map_err(|e| {
                ConfigError::new(ConfigErrorKind::Policy(e), format_args!("{at}[{i}].name"))
            })?;
        }
        Ok(policy)
    }

    /// The field a limit error is about.
    fn field_of(kind: ConfigErrorKind) -> &'static str {
        match kind {
            ConfigErrorKind::Limit(LimitError::ZeroQuota) => "quota",
            ConfigErrorKind::Limit(LimitError::QuotaTooLarge { .. }) => "quota",
            ConfigErrorKind::Limit(_) => "window",
            ConfigErrorKind::Burst => "burst",
            _ => "",
        }
    }

    impl<S: Slots> PolicySet<S> {
        /// Validates a configuration into a policy set, starting from
        /// [`PolicySet::preset`].
        ///
        /// # Errors
        ///
        /// [`ConfigError`] naming the first invalid field.
        ///
        /// # Examples
        ///
        /// ```
        /// use keyrate::limit::HeapSlots;
        /// use keyrate::policy::{Config, PolicySet, Tier};
        ///
        /// let config: Config = toml::from_str(r#"
        ///     [[plans]]
        ///     name = "pro"
        ///     confirmed = [{ name = "hourly", kind = "sliding", quota = 0, window = 3600 }]
        /// "#)?;
        /// let err = PolicySet::<HeapSlots>::from_config(&config).unwrap_err();
        /// assert_eq!(err.to_string(), "plans[0].confirmed[0].quota: quota must be at least 1");
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
            let mut set = PolicySet::preset().map_err(|e| {
                let kind = match e {
                    PresetError::Limit(l) => ConfigErrorKind::Limit(l),
                    PresetError::Policy(p) => ConfigErrorKind::Policy(p),
                };
                ConfigError::new(kind, format_args!("tiers"))
            })?;

            if let Some(prefix) = &config.key_prefix {
                set.format = KeyFormat::new(prefix).map_err(|_| {
                    ConfigError::new(ConfigErrorKind::BadPrefix, format_args!("key_prefix"))
                })?;
            }
            set.scope = config.scope;
            set.on_store_failure = config.on_store_failure;

            for tier in TIERS {
                if let (Some(limits), Some(slot)) =
                    (config.tiers.get(tier), set.base.get_mut(index(tier)))
                {
                    *slot = build_policy(limits, &format_args!("tiers.{tier}"))?;
                }
            }

            for (p, plan) in config.plans.iter().enumerate() {
                let bad_name = |k| ConfigError::new(k, format_args!("plans[{p}].name"));
                let name =
                    Name::new(&plan.name).map_err(|_| bad_name(ConfigErrorKind::BadPlanName))?;
                if set.plans.iter().any(|(n, _)| *n == name) {
                    return Err(bad_name(ConfigErrorKind::BadPlanName));
                }
                let mut overrides = [None, None, None];
                for tier in TIERS {
                    if let (Some(limits), Some(slot)) =
                        (plan.get(tier), overrides.get_mut(index(tier)))
                    {
                        *slot = Some(build_policy(limits, &format_args!("plans[{p}].{tier}"))?);
                    }
                }
                set.plans.push((name, overrides)).map_err(|_| {
                    ConfigError::new(ConfigErrorKind::TooManyPlans, format_args!("plans[{p}]"))
                })?;
            }
            Ok(set)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_plan_is_an_error() {
        let set = PolicySet::<[u64; 300]>::preset().unwrap();
        assert_eq!(
            set.policy(Tier::Permanent, Some("gold")).unwrap_err(),
            UnknownPlan
        );
    }

    #[test]
    fn preset_is_the_products_table() {
        let set = PolicySet::<[u64; 300]>::preset().unwrap();
        let table = |t| {
            let p = set.policy(t, None).unwrap();
            p.iter()
                .map(|(n, l)| (n, l.info().quota, l.info().window.as_secs()))
                .collect::<heapless::Vec<_, 4>>()
        };
        assert_eq!(table(Tier::PreConfirmation), [("hourly", 60, 3600)]);
        let both = [("hourly", 300, 3600), ("burst", 60, 60)];
        assert_eq!(table(Tier::Confirmed), both);
        assert_eq!(table(Tier::Permanent), both);
        assert_eq!(set.scope(), Scope::Account);
        assert_eq!(set.on_store_failure(), FailureMode::Closed);
        assert_eq!(set.key_prefix(), "jcr_");
    }
}
