//! Policy configuration decoding: any text either fails with a typed error or
//! yields a policy set whose every policy checks without panicking.
#![no_main]

use keyrate::limit::HeapSlots;
use keyrate::policy::{Config, PolicySet, TIERS};
use keyrate::time::Instant;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(config) = toml::from_str::<Config>(text) else {
        return;
    };
    let Ok(set) = PolicySet::<HeapSlots>::from_config(&config) else {
        return;
    };
    let plans: Vec<Option<&str>> = std::iter::once(None).chain(set.plans().map(Some)).collect();
    for plan in plans {
        for tier in TIERS {
            let Ok(policy) = set.policy(tier, plan) else {
                panic!("configured plan {plan:?} is unknown");
            };
            let mut state = policy.new_state();
            for t in [0, 1, u64::MAX / 2, u64::MAX] {
                let _ = policy.check(&mut state, Instant::from_nanos(t), 1);
                let _ = policy.check(&mut state, Instant::from_nanos(t), policy.capacity());
            }
        }
    }
});
