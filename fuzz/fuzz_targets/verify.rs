//! The verification pipeline with an in-memory store: see `checks/verify.rs`.
#![no_main]

#[path = "../checks/clock.rs"]
mod clock;
#[path = "../checks/verify.rs"]
mod verify;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: verify::Input| verify::run(&input));
