//! Key parsing, generation and the checksum: see `checks/key.rs`.
#![no_main]

#[path = "../checks/key.rs"]
mod key;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| key::run(&key::Input::from_bytes(data)));
