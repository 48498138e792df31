//! Policies of mixed limits against each limit alone: see `checks/policy.rs`.
#![no_main]

#[path = "../checks/clock.rs"]
mod clock;
#[path = "../checks/policy.rs"]
mod policy;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: policy::Input| policy::run(&input));
