//! The `Authorization: Bearer` grammar of RFC 6750 §2.1 and the responses
//! of §3, case by case and as properties.

use keyrate::credential::bearer::{
    BAD_REQUEST, BearerError, Challenge, CredentialError, ErrorCode, Realm, UNAUTHORIZED,
    parse_key, parse_token,
};
use keyrate::credential::key::{KeyError, KeyFormat};
use proptest::prelude::*;

fn token(value: &[u8]) -> Result<&[u8], BearerError> {
    parse_token(Some(value))
}

fn www_authenticate(challenge: &Challenge<'_>) -> String {
    let mut out = String::new();
    challenge
        .write_www_authenticate(&mut out)
        .expect("a String accepts");
    out
}

fn realm() -> Realm<'static> {
    Realm::new("keyrate").expect("valid realm")
}

/// A valid key in the default format.
fn valid_key() -> String {
    KeyFormat::DEFAULT
        .generate(&[0x3C; 22])
        .expose_secret()
        .to_owned()
}

/// The grammar of RFC 6750 §2.1, written independently of the library:
/// `"Bearer" 1*SP b64token`, scheme in any case.
fn reference(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.trim_ascii_start();
    let spaces = &rest[..rest.len() - token.len()];
    if spaces.is_empty() || spaces.iter().any(|&b| b != b' ') {
        return None;
    }
    let unpadded_len = token.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    let unpadded = &token[..unpadded_len];
    let allowed = |b: &u8| b.is_ascii_alphanumeric() || b"-._~+/".contains(b);
    (!unpadded.is_empty() && unpadded.iter().all(allowed)).then_some(token)
}

// credentials = "Bearer" 1*SP b64token

#[test]
fn credentials_scheme_is_case_insensitive() {
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        assert_eq!(token(format!("{scheme} abc").as_bytes()), Ok(&b"abc"[..]));
    }
}

#[test]
fn credentials_allow_one_or_more_spaces_after_the_scheme() {
    assert_eq!(token(b"Bearer abc"), Ok(&b"abc"[..]));
    assert_eq!(token(b"Bearer     abc"), Ok(&b"abc"[..]));
}

#[test]
fn credentials_separator_is_space_only_so_a_tab_is_rejected() {
    assert_eq!(token(b"Bearer\tabc"), Err(BearerError::BadCharacter));
    assert_eq!(token(b"Bearer \tabc"), Err(BearerError::BadCharacter));
    assert_eq!(token(b"Bearer=abc"), Err(BearerError::BadCharacter));
}

#[test]
fn credentials_allow_nothing_after_the_token() {
    for value in [
        &b"Bearer abc "[..],
        b"Bearer abc\t",
        b"Bearer abc\r\n",
        b"Bearer abc def",
        b"Bearer abc, realm=x",
        b"Bearer abc\0",
    ] {
        assert_eq!(token(value), Err(BearerError::BadCharacter), "{value:?}");
    }
}

#[test]
fn credentials_need_a_token_so_an_empty_one_is_missing() {
    for value in [&b"Bearer"[..], b"Bearer ", b"bearer     "] {
        assert_eq!(token(value), Err(BearerError::MissingToken), "{value:?}");
    }
}

#[test]
fn credentials_start_with_the_scheme_not_whitespace() {
    assert_eq!(token(b" Bearer abc"), Err(BearerError::BadCharacter));
    assert_eq!(token(b"\tBearer abc"), Err(BearerError::BadCharacter));
}

// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="

#[test]
fn b64token_accepts_every_listed_character() {
    let all = b"Bearer azAZ09-._~+/";
    assert_eq!(token(all), Ok(&all[7..]));
}

#[test]
fn b64token_allows_trailing_equals() {
    assert_eq!(token(b"Bearer abc="), Ok(&b"abc="[..]));
    assert_eq!(token(b"Bearer abc==="), Ok(&b"abc==="[..]));
}

#[test]
fn b64token_rejects_equals_before_the_end() {
    assert_eq!(token(b"Bearer ab=c"), Err(BearerError::BadCharacter));
    assert_eq!(token(b"Bearer abc==d"), Err(BearerError::BadCharacter));
}

#[test]
fn b64token_needs_one_character_before_any_equals() {
    assert_eq!(token(b"Bearer ="), Err(BearerError::BadCharacter));
    assert_eq!(token(b"Bearer ==="), Err(BearerError::BadCharacter));
}

#[test]
fn b64token_rejects_other_ascii() {
    for c in b"!\"#$%&'()*,:;<>?@[\\]^`{|}" {
        let value = [&b"Bearer ab"[..], &[*c], b"cd"].concat();
        assert_eq!(
            token(&value),
            Err(BearerError::BadCharacter),
            "{}",
            *c as char
        );
    }
}

#[test]
fn b64token_rejects_non_ascii_and_non_utf8() {
    assert_eq!(
        token("Bearer abcé".as_bytes()),
        Err(BearerError::BadCharacter)
    );
    assert_eq!(token(b"Bearer abc\xFF"), Err(BearerError::BadCharacter));
    assert_eq!(token(b"Bearer \x80abc"), Err(BearerError::BadCharacter));
}

// RFC 6750 §3.1: a request that lacks any authentication information.

#[test]
fn absent_or_empty_header_is_no_credentials() {
    assert_eq!(parse_token(None), Err(BearerError::Missing));
    assert_eq!(token(b""), Err(BearerError::Missing));
}

#[test]
fn another_scheme_is_no_credentials() {
    for value in [
        &b"Basic dXNlcjpwYXNz"[..],
        b"Digest username=x",
        b"Token abc",
        b"Bearerx abc",
    ] {
        assert_eq!(token(value), Err(BearerError::OtherScheme), "{value:?}");
    }
}

#[test]
fn no_credentials_answer_401_with_a_bare_challenge() {
    for value in [None, Some(&b"Basic dXNlcg=="[..]), Some(b"")] {
        let challenge = parse_key(value, &KeyFormat::DEFAULT)
            .expect_err("no key")
            .challenge(realm());
        assert_eq!(challenge.status(), UNAUTHORIZED);
        assert_eq!(challenge.error(), None);
        assert_eq!(www_authenticate(&challenge), r#"Bearer realm="keyrate""#);
    }
}

// RFC 6750 §3.1: invalid_request and invalid_token.

#[test]
fn malformed_credentials_answer_400_invalid_request() {
    for value in [&b"Bearer"[..], b"Bearer a b", b"Bearer\tabc"] {
        let challenge = parse_key(Some(value), &KeyFormat::DEFAULT)
            .expect_err("malformed")
            .challenge(realm());
        assert_eq!(challenge.status(), BAD_REQUEST);
        assert_eq!(challenge.error(), Some(ErrorCode::InvalidRequest));
        assert!(
            www_authenticate(&challenge)
                .starts_with(r#"Bearer realm="keyrate", error="invalid_request""#)
        );
    }
}

#[test]
fn well_formed_token_that_is_not_a_key_answers_401_invalid_token() {
    let key = valid_key();
    let mut typo = key.clone().into_bytes();
    typo[12] = if typo[12] == b'x' { b'y' } else { b'x' };
    let cases = [
        (format!("Bearer ghp_{}", &key[4..]), KeyError::WrongPrefix),
        (format!("Bearer {key}="), KeyError::WrongLength),
        (format!("Bearer {}", &key[..39]), KeyError::WrongLength),
        (
            format!("Bearer {}-{}", &key[..20], &key[21..]),
            KeyError::BadCharacter,
        ),
        (
            format!("Bearer {}", String::from_utf8(typo).expect("ascii")),
            KeyError::BadChecksum,
        ),
    ];
    for (value, expected) in cases {
        let error = parse_key(Some(value.as_bytes()), &KeyFormat::DEFAULT).expect_err("not a key");
        assert_eq!(error, CredentialError::Key(expected));
        let challenge = error.challenge(realm());
        assert_eq!(challenge.status(), UNAUTHORIZED);
        assert_eq!(
            www_authenticate(&challenge),
            format!(
                r#"Bearer realm="keyrate", error="invalid_token", error_description="{}""#,
                expected.as_str()
            )
        );
    }
}

#[test]
fn valid_key_in_a_bearer_header_is_accepted() {
    let key = valid_key();
    let parsed = parse_key(
        Some(format!("bearer  {key}").as_bytes()),
        &KeyFormat::DEFAULT,
    )
    .expect("a valid key");
    assert_eq!(parsed.expose_secret(), key);
}

#[test]
fn lifecycle_refusals_can_be_expressed_as_invalid_token() {
    let challenge = Challenge::invalid_token(realm())
        .with_description("the key has been revoked")
        .expect("valid description");
    assert_eq!(challenge.status(), UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&challenge),
        concat!(
            r#"Bearer realm="keyrate", error="invalid_token", "#,
            r#"error_description="the key has been revoked""#
        )
    );
}

#[test]
fn challenges_are_written_without_allocation() {
    let mut value = heapless::String::<64>::new();
    Challenge::invalid_token(realm())
        .write_www_authenticate(&mut value)
        .expect("fits");
    assert_eq!(
        value.as_str(),
        r#"Bearer realm="keyrate", error="invalid_token""#
    );
    let mut small = heapless::String::<8>::new();
    assert!(
        Challenge::no_credentials(realm())
            .write_www_authenticate(&mut small)
            .is_err()
    );
}

/// Header values: arbitrary bytes, values built from the grammar, and those
/// values with one byte changed.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    let scheme = prop::sample::select(vec!["Bearer", "bearer", "BEARER", "Basic", "Bearerx"]);
    let separator = prop_oneof![" {0,3}", "[ \t]{1,3}"];
    let grammar = (scheme, separator, "[A-Za-z0-9._~+/-]{0,44}", "={0,3}")
        .prop_map(|(s, sp, t, eq)| format!("{s}{sp}{t}{eq}").into_bytes());
    let mutated = (grammar.clone(), any::<prop::sample::Index>(), any::<u8>()).prop_map(
        |(mut v, at, byte)| {
            if !v.is_empty() {
                let i = at.index(v.len());
                v[i] = byte;
            }
            v
        },
    );
    prop_oneof![prop::collection::vec(any::<u8>(), 0..64), grammar, mutated]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parser_agrees_with_the_rfc_grammar(value in header_value()) {
        let parsed = parse_token(Some(&value)).ok();
        prop_assert_eq!(parsed, reference(&value));
    }

    #[test]
    fn outcomes_map_to_the_rfc_6750_statuses(value in header_value()) {
        match parse_key(Some(&value), &KeyFormat::DEFAULT) {
            Ok(key) => prop_assert!(value.ends_with(key.expose_secret().as_bytes())),
            Err(error) => {
                let challenge = error.challenge(realm());
                let expected = match error {
                    CredentialError::Bearer(e) if e.is_no_credentials() => (401, None),
                    CredentialError::Bearer(_) => (400, Some(ErrorCode::InvalidRequest)),
                    CredentialError::Key(_) => (401, Some(ErrorCode::InvalidToken)),
                };
                prop_assert_eq!((challenge.status(), challenge.error()), expected);
            }
        }
    }

    #[test]
    fn challenges_never_contain_the_token(
        scheme in prop::sample::select(vec!["Bearer", "bearer"]),
        secret in "[A-Za-z0-9._~+/-]{12,44}",
        junk in prop::option::of("[ \t,=é]"),
    ) {
        let value = format!("{scheme} {secret}{}", junk.unwrap_or_default());
        if let Err(error) = parse_key(Some(value.as_bytes()), &KeyFormat::DEFAULT) {
            let header = www_authenticate(&error.challenge(realm()));
            prop_assert!(!header.contains(&secret[..8]), "{}", header);
            let described = format!("{error} {error:?}");
            prop_assert!(!described.contains(&secret[..8]));
        }
    }
}
