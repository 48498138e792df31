//! Properties of the key format, key secrecy, digests and key ids.

use keyrate::credential::digest::{DIGEST_LEN, KeyDigest, KeyId};
use keyrate::credential::key::{
    ApiKey, BODY_LEN, ENTROPY_LEN, HINT_LEN, KeyError, KeyFormat, KeyHint,
};
use proptest::prelude::*;
use proptest::sample::Index;

/// The base62 digits in value order, written out independently of the
/// library.
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Reads a body back into entropy by multiplying out its digits, least
/// significant first: a model independent of the library's long division.
fn decode_body(body: &[u8]) -> [u8; ENTROPY_LEN] {
    let mut number = [0u8; ENTROPY_LEN];
    for &c in body.iter().rev() {
        let digit = BASE62.iter().position(|&d| d == c).expect("base62 digit");
        let mut carry = digit as u32;
        for byte in number.iter_mut().rev() {
            let v = u32::from(*byte) * 62 + carry;
            *byte = v as u8;
            carry = v >> 8;
        }
        assert_eq!(carry, 0, "body holds more than 176 bits");
    }
    number
}

/// The default format or a random valid one.
fn format() -> impl Strategy<Value = KeyFormat> {
    prop_oneof![
        Just(KeyFormat::DEFAULT),
        "[a-z0-9]{1,7}_".prop_map(|p| KeyFormat::new(&p).expect("valid prefix")),
    ]
}

/// A key and its text.
fn key() -> impl Strategy<Value = (KeyFormat, ApiKey)> {
    (format(), any::<[u8; ENTROPY_LEN]>()).prop_map(|(f, e)| (f, f.generate(&e)))
}

/// Every way the library formats a key or its hint.
fn renderings(key: &ApiKey) -> Vec<String> {
    vec![
        format!("{key}"),
        format!("{key:?}"),
        format!("{key:#?}"),
        format!("{}", key.hint()),
        format!("{:?}", key.hint()),
        format!("{:?}", Some(key.clone())),
    ]
}

#[test]
fn default_keys_are_forty_characters() {
    let key = KeyFormat::DEFAULT.generate(&[0x42; ENTROPY_LEN]);
    assert_eq!(key.expose_secret().len(), 40);
    assert_eq!(KeyFormat::DEFAULT.key_len(), 40);
}

#[test]
fn parse_errors_name_the_first_failed_check() {
    let format = KeyFormat::DEFAULT;
    let key = format.generate(&[0x11; ENTROPY_LEN]);
    let text = key.expose_secret();
    assert_eq!(format.parse(b""), Err(KeyError::WrongPrefix));
    assert_eq!(format.parse(b"jc"), Err(KeyError::WrongPrefix));
    assert_eq!(
        format.parse(&text.as_bytes()[..39]),
        Err(KeyError::WrongLength)
    );
    assert_eq!(
        format.parse(format!("{text}0").as_bytes()),
        Err(KeyError::WrongLength)
    );
    let mut bad = text.as_bytes().to_vec();
    bad[20] = b'_';
    assert_eq!(format.parse(&bad), Err(KeyError::BadCharacter));
    bad[20] = 0xFF;
    assert_eq!(format.parse(&bad), Err(KeyError::BadCharacter));
    assert_eq!("jcr_AbC1".parse::<ApiKey>(), Err(KeyError::WrongLength));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_keys_round_trip_through_their_text(
        format in format(),
        entropy in any::<[u8; ENTROPY_LEN]>(),
    ) {
        let key = format.generate(&entropy);
        let text = key.expose_secret();
        prop_assert_eq!(text.len(), format.key_len());
        prop_assert!(text.starts_with(format.prefix()));
        prop_assert_eq!(key.prefix(), format.prefix());

        let parsed = format.parse(text.as_bytes()).expect("a generated key parses");
        prop_assert_eq!(parsed.expose_secret(), text);
        prop_assert!(parsed == key);

        // The body carries exactly the entropy it was made from.
        let p = format.prefix().len();
        prop_assert_eq!(decode_body(&text.as_bytes()[p..p + BODY_LEN]), entropy);
    }

    #[test]
    fn default_format_keys_parse_with_from_str(entropy in any::<[u8; ENTROPY_LEN]>()) {
        let key = KeyFormat::DEFAULT.generate(&entropy);
        let parsed: ApiKey = key.expose_secret().parse().expect("parses");
        prop_assert!(parsed == key);
    }
}

proptest! {
    // Each case tries every position with every other byte: keep it small.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_single_character_substitution_is_rejected((format, key) in key()) {
        let text = key.expose_secret().as_bytes();
        for i in 0..text.len() {
            for byte in 0..=u8::MAX {
                if byte == text[i] {
                    continue;
                }
                let mut typo = text.to_vec();
                typo[i] = byte;
                prop_assert!(
                    format.parse(&typo).is_err(),
                    "substituting byte {} at {} passed", byte, i
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_adjacent_transposition_is_rejected((format, key) in key()) {
        let text = key.expose_secret().as_bytes();
        for i in 0..text.len() - 1 {
            if text[i] == text[i + 1] {
                continue;
            }
            let mut swapped = text.to_vec();
            swapped.swap(i, i + 1);
            prop_assert!(format.parse(&swapped).is_err(), "swap at {} passed", i);
        }
    }

    #[test]
    fn a_random_substitution_is_rejected_with_a_typed_error(
        (format, key) in key(),
        at in any::<Index>(),
        digit in any::<Index>(),
    ) {
        // Substituting one base62 digit for another in body or checksum is
        // the typo the checksum exists for.
        let text = key.expose_secret().as_bytes();
        let p = format.prefix().len();
        let i = p + at.index(text.len() - p);
        let replacement = BASE62[digit.index(BASE62.len())];
        prop_assume!(replacement != text[i]);
        let mut typo = text.to_vec();
        typo[i] = replacement;
        prop_assert_eq!(format.parse(&typo), Err(KeyError::BadChecksum));
    }

    #[test]
    fn formatting_never_shows_more_than_prefix_and_four_characters((format, key) in key()) {
        let text = key.expose_secret();
        let shown = format.prefix().len() + HINT_LEN;
        let hint = &text[..shown];
        let secret_rest = &text.as_bytes()[shown..];
        for rendered in renderings(&key) {
            prop_assert!(rendered.contains(hint), "{} lacks the hint", rendered);
            // No five consecutive characters of the rest of the key appear.
            for window in secret_rest.windows(5) {
                let window = std::str::from_utf8(window).expect("ascii");
                prop_assert!(!rendered.contains(window), "{} shows {}", rendered, window);
            }
        }
        let key_hint = key.hint();
        prop_assert_eq!(key_hint.as_str(), hint);
        prop_assert_eq!(key.hint().as_str().parse::<KeyHint>(), Ok(key.hint()));
    }

    #[test]
    fn key_equality_agrees_with_byte_equality(
        (format, key) in key(),
        other_format in format(),
        entropy in any::<[u8; ENTROPY_LEN]>(),
        flip in any::<Option<(Index, u8)>>(),
    ) {
        // The other key is the same key, a one-byte change of its entropy,
        // or a fresh one, possibly in another format.
        let p = format.prefix().len();
        let mut same_entropy = decode_body(&key.expose_secret().as_bytes()[p..p + BODY_LEN]);
        if let Some((at, mask)) = flip {
            let i = at.index(ENTROPY_LEN);
            same_entropy[i] ^= mask;
        }
        for other in [
            format.generate(&same_entropy),
            other_format.generate(&same_entropy),
            format.generate(&entropy),
        ] {
            let bytes_equal = key.expose_secret() == other.expose_secret();
            prop_assert_eq!(key == other, bytes_equal);
            prop_assert_eq!(other == key, bytes_equal);
        }
        prop_assert!(key == key.clone());
    }

    #[test]
    fn digest_equality_agrees_with_byte_equality(
        a in any::<[u8; DIGEST_LEN]>(),
        change in any::<Option<(Index, u8)>>(),
    ) {
        let mut b = a;
        if let Some((at, mask)) = change {
            b[at.index(DIGEST_LEN)] ^= mask;
        }
        let (da, db) = (KeyDigest::from_bytes(a), KeyDigest::from_bytes(b));
        prop_assert_eq!(da == db, a == b);
        prop_assert_eq!(da.id() == db.id(), a[..8] == b[..8]);
    }

    #[test]
    fn digest_debug_shows_four_bytes_at_most(a in any::<[u8; DIGEST_LEN]>()) {
        let rendered = format!("{:?}", KeyDigest::from_bytes(a));
        let hex: String = a.iter().map(|b| format!("{b:02x}")).collect();
        prop_assert_eq!(rendered, format!("KeyDigest({}…)", &hex[..8]));
    }

    #[test]
    fn key_ids_round_trip_through_their_text(bytes in any::<[u8; 8]>()) {
        let id = KeyId::from_bytes(bytes);
        let text = id.to_string();
        prop_assert_eq!(text.len(), 16);
        prop_assert_eq!(text.parse::<KeyId>(), Ok(id));
        prop_assert_eq!(text.to_uppercase().parse::<KeyId>().is_ok(), text == text.to_uppercase());
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(
        format in format(),
        input in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            "jcr_[0-9A-Za-z]{36}".prop_map(String::into_bytes),
            "[a-z0-9]{1,7}_[0-9A-Za-z_=-]{34,38}".prop_map(String::into_bytes),
        ],
    ) {
        // A random text passes only by matching the checksum; if it does,
        // the key is exactly that text.
        if let Ok(key) = format.parse(&input) {
            prop_assert_eq!(key.expose_secret().as_bytes(), &input[..]);
        }
        let _ = std::str::from_utf8(&input).map(|s| s.parse::<KeyHint>());
    }
}
