//! Every limit kind against the naive models: see `checks/limits.rs`.
#![no_main]

#[path = "../checks/clock.rs"]
mod clock;
#[path = "../checks/limits.rs"]
mod limits;
#[path = "../../tests/model/mod.rs"]
mod model;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: limits::Input| limits::run(&input));
