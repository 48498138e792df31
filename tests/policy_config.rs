//! Loading a hand-written policy file: what it may say, and how a mistake is
//! reported.
#![cfg(feature = "serde")]

use std::time::Duration;

use keyrate::limit::{HeapSlots, PolicyDecision};
use keyrate::policy::{Config, ConfigErrorKind, FailureMode, PolicySet, Scope, TIERS, Tier};
use keyrate::time::Instant;

fn load(text: &str) -> Result<PolicySet<HeapSlots>, String> {
    let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
    PolicySet::from_config(&config).map_err(|e| e.to_string())
}

const PRO: &str = r#"
key_prefix = "acme_"
scope = "key"
on_store_failure = "open"

[tiers]
pre_confirmation = [{ name = "hourly", kind = "sliding", quota = 30, window = 3600 }]

[[plans]]
name = "pro"
confirmed = [
  { name = "hourly", kind = "sliding", quota = 3000, window = 3600 },
  { name = "burst", kind = "bucket", quota = 600, window = 60, burst = 100 },
]

[[plans]]
name = "team"
permanent = [{ name = "daily", kind = "compact", quota = 100000, window = 86400 }]
"#;

#[test]
fn an_empty_file_is_the_products_defaults() {
    let set = load("").unwrap();
    let default = PolicySet::<HeapSlots>::preset().unwrap();
    for tier in TIERS {
        assert_eq!(set.policy(tier, None), default.policy(tier, None));
    }
    assert_eq!(set.scope(), Scope::Account);
    assert_eq!(set.on_store_failure(), FailureMode::Closed);
    assert_eq!(set.key_prefix(), "jcr_");
}

#[test]
fn a_paid_plan_raises_the_tiers_it_names_and_inherits_the_others() {
    let set = load(PRO).unwrap();
    assert_eq!(set.key_prefix(), "acme_");
    assert_eq!(set.scope(), Scope::Key);
    assert_eq!(set.on_store_failure(), FailureMode::Open);

    // "pro" raises confirmed keys and inherits the tiers it does not name.
    let pro = set.policy(Tier::Confirmed, Some("pro")).unwrap();
    assert_eq!(pro.capacity(), 100);
    let base = set.policy(Tier::Permanent, None).unwrap();
    assert_eq!(set.policy(Tier::Permanent, Some("pro")).unwrap(), base);
    let pre = set.policy(Tier::PreConfirmation, Some("pro")).unwrap();
    assert_eq!(pre.limit(0).unwrap().info().quota, 30);

    // A pro confirmed key passes 100 at once where the free tier stops at 60.
    let mut state = pro.new_state();
    let d = pro.check(&mut state, Instant::ZERO, 100).unwrap();
    assert!(d.is_allowed());
    let PolicyDecision::Denied(denied) = pro.check(&mut state, Instant::ZERO, 1).unwrap() else {
        panic!("the bucket is empty");
    };
    assert_eq!(pro.name(denied.limit), Some("burst"));
    assert_eq!(denied.retry_after, Duration::from_millis(100));
}

#[test]
fn an_invalid_value_names_its_field() {
    let cases = [
        (
            r#"key_prefix = "abcdefgh_""#,
            "key_prefix: key prefix must be 1 to 7 lowercase letters or digits followed by '_'",
        ),
        (
            r#"key_prefix = "JCR""#,
            "key_prefix: key prefix must be 1 to 7 lowercase letters or digits followed by '_'",
        ),
        (
            r#"tiers.confirmed = [{ name = "hourly", kind = "sliding", quota = 10, window = 0 }]"#,
            "tiers.confirmed[0].window: window must be longer than zero",
        ),
        (
            r#"tiers.permanent = [{ name = "b", kind = "bucket", quota = 10, window = 60 }]"#,
            "tiers.permanent[0].burst: `burst` is required for kind \"bucket\" and allowed for no other",
        ),
        (
            r#"tiers.permanent = [{ name = "b", kind = "fixed", quota = 1, window = 1, burst = 2 }]"#,
            "tiers.permanent[0].burst: `burst` is required for kind \"bucket\" and allowed for no other",
        ),
        (
            r#"tiers.permanent = [
                { name = "b", kind = "fixed", quota = 1, window = 1 },
                { name = "b", kind = "fixed", quota = 2, window = 2 },
            ]"#,
            "tiers.permanent[1].name: two limits share a name",
        ),
        (
            r#"tiers.permanent = []"#,
            "tiers.permanent: a tier needs at least one limit (omit it to inherit)",
        ),
        (
            r#"[[plans]]
               name = "9lives""#,
            "plans[0].name: plan name is invalid or given twice",
        ),
        (
            r#"[[plans]]
               name = "pro"
               [[plans]]
               name = "pro""#,
            "plans[1].name: plan name is invalid or given twice",
        ),
        (
            r#"tiers.confirmed = [{ name = "w", kind = "sliding", quota = 1, window = 4000000000 }]"#,
            "tiers.confirmed[0].window: window must be at most 100 years",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(load(text).unwrap_err(), expected, "for {text}");
    }
}

#[test]
fn a_misspelt_field_is_refused_by_name() {
    let err = load(r#"scop = "key""#).unwrap_err();
    assert!(err.contains("scop"), "{err}");
    let err = load(r#"tiers.confirmed = [{ name = "h", kind = "slidin", quota = 1, window = 1 }]"#)
        .unwrap_err();
    assert!(err.contains("slidin"), "{err}");
}

#[test]
fn a_configuration_round_trips_through_serde() {
    let config: Config = toml::from_str(PRO).unwrap();
    let text = toml::to_string(&config).unwrap();
    let again: Config = toml::from_str(&text).unwrap();
    assert_eq!(config, again);
}

#[test]
fn error_kinds_are_typed() {
    let config: Config = toml::from_str(r#"key_prefix = "x""#).unwrap();
    let err = PolicySet::<HeapSlots>::from_config(&config).unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::BadPrefix);
    assert_eq!(err.path(), "key_prefix");
}
