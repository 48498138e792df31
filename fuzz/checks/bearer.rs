//! Bearer header parsing on arbitrary bytes (RFC 6750 §2.1 and §3).
//!
//! - `parse_token` never panics, accepts exactly the values the grammar
//!   (restated here independently) accepts, and returns the b64token as it
//!   appears at the end of the value;
//! - a key from `parse_key` re-parses to itself, alone and inside a fresh
//!   header, and its `Debug` and `Display` show only its hint;
//! - every refusal writes its challenge without error, with the status RFC
//!   6750 §3.1 gives it, and the challenge is built from the realm and fixed
//!   texts only, so it can never contain the token.

#![allow(dead_code)]

use keyrate::credential::bearer::{
    BAD_REQUEST, BearerError, CredentialError, ErrorCode, Realm, UNAUTHORIZED, parse_key,
    parse_token,
};
use keyrate::credential::key::{HINT_LEN, KeyError, KeyFormat};

/// The realm every challenge is written for.
const REALM: &str = "api.example";

/// Formats tried on every value: the default and the longest prefix.
fn formats() -> [KeyFormat; 2] {
    let long = KeyFormat::new("abcdefg_").unwrap_or(KeyFormat::DEFAULT);
    [KeyFormat::DEFAULT, long]
}

/// A b64token character other than the trailing `=` (RFC 6750 §2.1).
fn is_b64token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// A `tchar` (RFC 9110 §5.6.2): what an auth-scheme is made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &[u8]) -> bool {
    let body = token.len() - token.iter().rev().take_while(|&&b| b == b'=').count();
    body > 0 && token.iter().take(body).all(|&b| is_b64token_char(b))
}

/// The token of `"Bearer" 1*SP b64token`, scheme in any case, or `None`.
fn grammar(value: &[u8]) -> Option<&[u8]> {
    let rest = value.get(6..)?;
    if !value.get(..6)?.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.trim_ascii_start();
    let gap = rest.get(..rest.len() - token.len())?;
    let spaces_only = !gap.is_empty() && gap.iter().all(|&b| b == b' ');
    (spaces_only && is_b64token(token)).then_some(token)
}

/// Runs every check on one header value.
pub fn run(value: &[u8]) {
    assert_eq!(parse_token(None), Err(BearerError::Missing));
    check_token(value);
    for format in formats() {
        check_key(value, &format);
    }

    // The same bytes as the token of a well-formed header.
    let mut header = b"Bearer ".to_vec();
    header.extend_from_slice(value);
    check_token(&header);
    for format in formats() {
        check_key(&header, &format);
    }
}

/// `parse_token` agrees with the grammar and classifies refusals sensibly.
fn check_token(value: &[u8]) {
    let got = parse_token(Some(value));
    match (got, grammar(value)) {
        (Ok(token), Some(want)) => {
            assert_eq!(token, want, "token of {value:?}");
            assert!(value.ends_with(token));
        }
        (Ok(token), None) => panic!("accepted {token:?} from {value:?} against the grammar"),
        (Err(e), Some(_)) => panic!("refused {value:?} ({e:?}), the grammar accepts it"),
        (Err(e), None) => check_refusal(value, e),
    }
}

/// Each kind of refusal is given only to values of that shape.
fn check_refusal(value: &[u8], e: BearerError) {
    let scheme_len = value.iter().take_while(|&&b| is_tchar(b)).count();
    let (scheme, rest) = value.split_at(scheme_len);
    match e {
        BearerError::Missing => assert!(value.is_empty(), "{value:?} is not empty"),
        BearerError::OtherScheme => {
            assert!(!scheme.is_empty() && !scheme.eq_ignore_ascii_case(b"bearer"));
        }
        BearerError::MissingToken => {
            assert!(scheme.eq_ignore_ascii_case(b"bearer"), "{value:?}");
            assert!(rest.iter().all(|&b| b == b' '), "{value:?} has a token");
        }
        BearerError::BadCharacter => {
            assert!(!value.is_empty());
            assert!(scheme.is_empty() || scheme.eq_ignore_ascii_case(b"bearer"));
        }
    }
}

/// `parse_key` re-parses what it accepts and writes a clean challenge for
/// what it refuses.
fn check_key(value: &[u8], format: &KeyFormat) {
    let token = parse_token(Some(value)).ok();
    match parse_key(Some(value), format) {
        Ok(key) => {
            let text = key.expose_secret();
            assert_eq!(Some(text.as_bytes()), token, "key is not the token");
            assert_eq!(format.parse(text.as_bytes()), Ok(key.clone()));
            let header = format!("bEaReR  {text}");
            assert_eq!(parse_key(Some(header.as_bytes()), format), Ok(key.clone()));

            // Only the prefix and the hint are ever shown.
            let shown = format!("{key} {key:?} {:?}", key.hint());
            let hidden = text
                .get(key.prefix().len() + HINT_LEN..)
                .unwrap_or_default();
            assert!(!shown.contains(hidden), "{shown} shows the key");
        }
        Err(e) => {
            if let (Some(token), CredentialError::Key(k)) = (token, e) {
                assert_eq!(format.parse(token), Err(k));
            }
            check_challenge(e);
        }
    }
}

/// The challenge is made of the realm and fixed texts: it has the status
/// and the exact value RFC 6750 §3 gives the refusal.
fn check_challenge(e: CredentialError) {
    let Ok(realm) = Realm::new(REALM) else {
        panic!("the realm is valid");
    };
    let challenge = e.challenge(realm);
    let mut value = String::new();
    assert!(challenge.write_www_authenticate(&mut value).is_ok());
    let mut bounded = heapless::String::<160>::new();
    assert!(challenge.write_www_authenticate(&mut bounded).is_ok());
    assert_eq!(bounded.as_str(), value);

    let (status, code, description) = match e {
        CredentialError::Bearer(b) if b.is_no_credentials() => (UNAUTHORIZED, None, None),
        CredentialError::Bearer(b) => (
            BAD_REQUEST,
            Some(ErrorCode::InvalidRequest),
            Some(b.as_str()),
        ),
        CredentialError::Key(k) => (
            UNAUTHORIZED,
            Some(ErrorCode::InvalidToken),
            Some(k.as_str()),
        ),
    };
    assert_eq!(challenge.status(), status);
    assert_eq!(challenge.error(), code);
    let mut want = format!("Bearer realm=\"{REALM}\"");
    if let Some(code) = code {
        want.push_str(&format!(", error=\"{}\"", code.as_str()));
    }
    if let Some(d) = description {
        assert!(is_fixed_description(d), "{d:?} is not a fixed text");
        want.push_str(&format!(", error_description=\"{d}\""));
    }
    assert_eq!(value, want);

    // The error's own text is fixed too.
    let text = match e {
        CredentialError::Bearer(b) => b.as_str(),
        CredentialError::Key(k) => k.as_str(),
    };
    assert!(is_fixed_description(text));
    assert_eq!(format!("{e}"), text);
}

/// True if `d` is one of the library's own descriptions.
fn is_fixed_description(d: &str) -> bool {
    let bearer = [
        BearerError::Missing,
        BearerError::OtherScheme,
        BearerError::MissingToken,
        BearerError::BadCharacter,
    ];
    let key = [
        KeyError::WrongPrefix,
        KeyError::WrongLength,
        KeyError::BadCharacter,
        KeyError::BadChecksum,
    ];
    bearer.iter().any(|e| e.as_str() == d) || key.iter().any(|e| e.as_str() == d)
}
