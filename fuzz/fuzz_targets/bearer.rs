//! Bearer header parsing on arbitrary bytes: see `checks/bearer.rs`.
#![no_main]

#[path = "../checks/bearer.rs"]
mod bearer;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|value: &[u8]| bearer::run(value));
