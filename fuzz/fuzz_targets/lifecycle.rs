//! Key lifecycle event sequences: see `checks/lifecycle.rs`.
#![no_main]

#[path = "../checks/lifecycle.rs"]
mod lifecycle;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: lifecycle::Input| lifecycle::run(&input));
