//! Authorization request event sequences: see `checks/authorization.rs`.
#![no_main]

#[path = "../checks/authorization.rs"]
mod authorization;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: authorization::Input| authorization::run(&input));
