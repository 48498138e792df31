//! Parsing an `Authorization: Bearer` header carrying a 40-character key:
//! the grammar alone, and the grammar plus the key checks (prefix,
//! characters, checksum) that run before any lookup.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use keyrate::credential::bearer::{parse_key, parse_token};
use keyrate::credential::key::KeyFormat;

fn bearer(c: &mut Criterion) {
    let format = KeyFormat::DEFAULT;
    let key = format.generate(&[0x5D; 22]);
    assert_eq!(key.expose_secret().len(), 40);
    let valid = format!("Bearer {}", key.expose_secret());

    // The same key with its last body character changed: caught by the
    // checksum after every other check has run.
    let mut typo = valid.clone().into_bytes();
    let i = typo.len() - 7;
    typo[i] = if typo[i] == b'x' { b'y' } else { b'x' };
    assert!(parse_key(Some(&typo), &format).is_err());

    let mut group = c.benchmark_group("bearer");
    group.bench_function("parse_token", |b| {
        b.iter(|| parse_token(black_box(Some(valid.as_bytes()))).map(<[u8]>::len))
    });
    group.bench_function("parse_key/valid", |b| {
        b.iter(|| parse_key(black_box(Some(valid.as_bytes())), &format))
    });
    group.bench_function("parse_key/bad_checksum", |b| {
        b.iter(|| parse_key(black_box(Some(&typo[..])), &format))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bearer
}
criterion_main!(benches);
