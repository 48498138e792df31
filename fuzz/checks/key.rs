//! Key parsing and the checksum, on arbitrary bytes and on generated keys.
//!
//! - `KeyFormat::parse` gives exactly what a reference written here gives
//!   (prefix, length, characters, then a bitwise CRC-32 compared with the
//!   base62 checksum), and an accepted key is the input and re-parses to
//!   itself;
//! - a key generated from arbitrary entropy has the documented layout, its
//!   body decodes back to the entropy, and it parses to itself;
//! - the same key with one byte changed, or two adjacent different bytes
//!   swapped, is always rejected, with the error of the first check that
//!   fails (prefix, then characters, then checksum);
//! - prefixes, hints and `FromStr` follow their grammars.

#![allow(dead_code)]

use keyrate::credential::key::{
    ApiKey, BODY_LEN, CHECKSUM_LEN, ENTROPY_LEN, HINT_LEN, KeyError, KeyFormat, KeyHint,
    MAX_PREFIX_LEN,
};

/// One fuzz case: the first 25 bytes of the fuzz input make the fixed
/// fields (missing bytes read as zero), the rest is `raw`.
#[derive(Clone, Debug)]
pub struct Input {
    /// Which of [`PREFIXES`] to use.
    pub format: u8,
    /// Entropy for a generated key.
    pub entropy: [u8; ENTROPY_LEN],
    /// Where to change the generated key (modulo its length).
    pub position: u8,
    /// The byte to put there (another one if it is the same).
    pub byte: u8,
    /// Arbitrary bytes to parse as a key, a prefix and a hint.
    pub raw: Vec<u8>,
}

impl Input {
    /// Splits fuzz input into the fields, so that a seed is readable bytes.
    pub fn from_bytes(data: &[u8]) -> Input {
        let byte = |i: usize| data.get(i).copied().unwrap_or(0);
        Input {
            format: byte(0),
            entropy: core::array::from_fn(|i| byte(1 + i)),
            position: byte(1 + ENTROPY_LEN),
            byte: byte(2 + ENTROPY_LEN),
            raw: data.get(3 + ENTROPY_LEN..).unwrap_or_default().to_vec(),
        }
    }
}

/// The prefixes tried: the default, the shortest and the longest.
pub const PREFIXES: [&str; 4] = ["jcr_", "a_", "abcdefg_", "k9_"];

/// The base62 digits in value order.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn digit(b: u8) -> Option<u64> {
    ALPHABET.iter().position(|&a| a == b).map(|v| v as u64)
}

/// CRC-32 (ISO-HDLC), one bit at a time.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let lsb = crc & 1;
            crc >>= 1;
            if lsb == 1 {
                crc ^= 0xEDB8_8320;
            }
        }
    }
    !crc
}

/// True if `prefix` is 1 to 7 lowercase letters or digits then `_`.
fn is_prefix(prefix: &[u8]) -> bool {
    match prefix.split_last() {
        Some((b'_', head)) => {
            (1..MAX_PREFIX_LEN).contains(&head.len())
                && head
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        }
        _ => false,
    }
}

/// What parsing `input` in a format with `prefix` must give: the input
/// itself, or the first failing check.
fn reference(prefix: &[u8], input: &[u8]) -> Result<(), KeyError> {
    let rest = input.strip_prefix(prefix).ok_or(KeyError::WrongPrefix)?;
    if rest.len() != BODY_LEN + CHECKSUM_LEN {
        return Err(KeyError::WrongLength);
    }
    if !rest.iter().all(|&b| digit(b).is_some()) {
        return Err(KeyError::BadCharacter);
    }
    let (_, checksum) = rest.split_at(BODY_LEN);
    let claimed = checksum
        .iter()
        .fold(0u64, |n, &b| n * 62 + digit(b).unwrap_or(0));
    let signed = &input[..input.len() - CHECKSUM_LEN];
    if claimed == u64::from(crc32(signed)) {
        Ok(())
    } else {
        Err(KeyError::BadChecksum)
    }
}

/// The body's base62 digits, least significant first, as a big-endian
/// number of [`ENTROPY_LEN`] bytes; `None` if it does not fit.
fn decode_body(body: &[u8]) -> Option<[u8; ENTROPY_LEN]> {
    let mut number = [0u8; ENTROPY_LEN];
    for &c in body.iter().rev() {
        let mut carry = digit(c)?;
        for byte in number.iter_mut().rev() {
            let v = u64::from(*byte) * 62 + carry;
            *byte = (v & 0xFF) as u8;
            carry = v >> 8;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(number)
}

/// Runs every check on one case.
pub fn run(input: &Input) {
    let prefix = PREFIXES[usize::from(input.format) % PREFIXES.len()];
    let Ok(format) = KeyFormat::new(prefix) else {
        panic!("{prefix} is a valid prefix");
    };
    check_parse(&format, &input.raw);
    check_parse(&KeyFormat::DEFAULT, &input.raw);
    let key = check_generate(&format, &input.entropy);
    check_mutations(&format, &key, input.position, input.byte);
    check_grammars(&input.raw);
}

/// Parsing agrees with the reference; an accepted key is the input.
fn check_parse(format: &KeyFormat, input: &[u8]) {
    let got = format.parse(input);
    let want = reference(format.prefix().as_bytes(), input);
    assert_eq!(got.clone().map(|_| ()), want, "parsing {input:?}");
    if let Ok(key) = got {
        assert_eq!(key.expose_secret().as_bytes(), input);
        assert_eq!(key.prefix(), format.prefix());
        assert_eq!(format.parse(key.expose_secret().as_bytes()), Ok(key));
    }
}

/// A generated key has the documented layout and parses to itself.
fn check_generate(format: &KeyFormat, entropy: &[u8; ENTROPY_LEN]) -> ApiKey {
    let key = format.generate(entropy);
    let text = key.expose_secret().as_bytes();
    let prefix = format.prefix().as_bytes();
    assert_eq!(text.len(), format.key_len());
    assert_eq!(text.len(), prefix.len() + BODY_LEN + CHECKSUM_LEN);
    assert!(text.starts_with(prefix));

    // The body is the entropy in base62; the checksum is the CRC in base62.
    let body = &text[prefix.len()..prefix.len() + BODY_LEN];
    assert_eq!(decode_body(body).as_ref(), Some(entropy));
    let crc = crc32(&text[..prefix.len() + BODY_LEN]);
    let mut rest = crc;
    let mut checksum = [0u8; CHECKSUM_LEN];
    for d in checksum.iter_mut().rev() {
        *d = ALPHABET[(rest % 62) as usize];
        rest /= 62;
    }
    assert_eq!(&text[prefix.len() + BODY_LEN..], &checksum);
    assert_eq!(format.parse(text), Ok(key.clone()));
    assert_eq!(reference(prefix, text), Ok(()));

    // Formatting shows the hint and never the rest.
    let hint = &text[..prefix.len() + HINT_LEN];
    assert_eq!(key.hint().as_str().as_bytes(), hint);
    let shown = format!("{key} {key:?} {:?} {}", key.hint(), key.hint());
    let secret = std::str::from_utf8(&text[prefix.len() + HINT_LEN..]).unwrap_or("?");
    assert!(!shown.contains(secret), "{shown} shows the key");
    key
}

/// One changed byte, or one swap of adjacent different bytes, is caught.
fn check_mutations(format: &KeyFormat, key: &ApiKey, position: u8, byte: u8) {
    let text = key.expose_secret().as_bytes();
    let prefix_len = format.prefix().len();
    let at = usize::from(position) % text.len();

    // Substitution: the byte at `at` becomes another one.
    let byte = if byte == text[at] {
        byte.wrapping_add(1)
    } else {
        byte
    };
    let mut typo = text.to_vec();
    typo[at] = byte;
    let want = if at < prefix_len {
        KeyError::WrongPrefix
    } else if digit(byte).is_none() {
        KeyError::BadCharacter
    } else {
        KeyError::BadChecksum
    };
    assert_eq!(
        format.parse(&typo),
        Err(want),
        "{:?} at {at} accepted",
        byte as char
    );

    // Transposition of `at` and the next byte.
    if at + 1 < text.len() && text[at] != text[at + 1] {
        let mut swapped = text.to_vec();
        swapped.swap(at, at + 1);
        let want = if at < prefix_len {
            KeyError::WrongPrefix
        } else {
            KeyError::BadChecksum
        };
        assert_eq!(format.parse(&swapped), Err(want), "swap at {at} accepted");
    }
}

/// Prefixes, hints and `ApiKey::from_str` on arbitrary text.
fn check_grammars(raw: &[u8]) {
    let Ok(text) = std::str::from_utf8(raw) else {
        return;
    };
    match KeyFormat::new(text) {
        Ok(f) => {
            assert!(is_prefix(raw), "prefix {text:?} accepted");
            assert_eq!(f.prefix(), text);
            assert_eq!(f.key_len(), text.len() + BODY_LEN + CHECKSUM_LEN);
        }
        Err(_) => assert!(!is_prefix(raw), "prefix {text:?} refused"),
    }

    // A hint is a valid prefix and four base62 digits.
    let hint_ok = text.find('_').is_some_and(|i| {
        let (p, rest) = raw.split_at(i + 1);
        is_prefix(p) && rest.len() == HINT_LEN && rest.iter().all(|&b| digit(b).is_some())
    });
    match text.parse::<KeyHint>() {
        Ok(h) => {
            assert!(hint_ok, "hint {text:?} accepted");
            assert_eq!(h.as_str(), text);
            assert_eq!(h.to_string(), format!("{text}…"));
        }
        Err(_) => assert!(!hint_ok, "hint {text:?} refused"),
    }
    assert_eq!(text.parse::<ApiKey>(), KeyFormat::DEFAULT.parse(raw));
}
