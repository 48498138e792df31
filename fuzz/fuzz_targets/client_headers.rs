//! The client's RateLimit and Retry-After parsing: see `checks/client_headers.rs`.
#![no_main]

#[path = "../checks/client_headers.rs"]
mod client_headers;
#[path = "../checks/clock.rs"]
mod clock;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The round trip first, then the rest of the bytes as a field value.
    let mut u = Unstructured::new(data);
    let Ok(round) = client_headers::RoundTrip::arbitrary(&mut u) else {
        return;
    };
    let raw = u.take_rest().to_vec();
    client_headers::run(&client_headers::Input { round, raw });
});
