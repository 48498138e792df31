//! The API key format: prefix, base62 body and checksum.
//!
//! A key is text in three parts, 40 characters with the default prefix:
//!
//! | part | length | content |
//! |---|---|---|
//! | prefix | 2 to 8 | 1 to 7 lowercase ASCII letters or digits, then `_` |
//! | body | 30 | 176 bits of entropy in base62, least significant digit first |
//! | checksum | 6 | CRC-32 (zlib's) of prefix and body, base62, most significant first |
//!
//! Base62 digits are `0-9`, `A-Z`, `a-z`, valued 0 to 61 in that order. The
//! body is written least significant digit first so that its first characters,
//! which [`KeyHint`] shows, are close to uniform; its last character is then
//! one of `0-9A` and the checksum's first one of `0-4`.
//!
//! The library owns no random source: [`KeyFormat::generate`] takes
//! [`ENTROPY_LEN`] bytes that the caller drew from a cryptographically secure
//! generator (with the `rand_core` feature, [`KeyFormat::generate_from_rng`]
//! draws them itself).
//!
//! # What the checksum catches
//!
//! [`KeyFormat::parse`] rejects, offline and before any lookup, every text that
//! differs from a valid key by one substituted character or by one swap of
//! two adjacent characters:
//!
//! - CRC-32 detects every error burst of up to 32 bits, so any change to one
//!   byte, or to two adjacent bytes, of prefix and body changes the CRC;
//! - the six checksum digits encode one number, so changing one of them, or
//!   swapping two different ones, changes that number;
//! - the one swap that changes both, the last body character with the first
//!   checksum character, can never produce a matching pair: a unit test
//!   checks all 20 candidate swaps algebraically.
//!
//! A random text of the right shape passes only if its six checksum
//! characters happen to be the one valid set: 1 chance in 62^6 (about
//! 5.7 × 10^10).
//!
//! # Secrets
//!
//! An [`ApiKey`] is a secret. Its `Debug` and `Display` show the prefix and
//! four body characters only (`jcr_AbC1…`), equality is constant-time, and
//! the full text comes out only through [`ApiKey::expose_secret`]. Store a
//! [`KeyDigest`] at rest, never the key.
//!
//! # Examples
//!
//! ```
//! use keyrate::credential::key::{KeyError, KeyFormat};
//!
//! let format = KeyFormat::default();
//! // In a server these bytes come from the operating system's CSPRNG.
//! let key = format.generate(&[7; 22]);
//! let text = key.expose_secret();
//! assert_eq!(text.len(), 40);
//! assert_eq!(format.parse(text.as_bytes())?, key);
//! assert_eq!(key.to_string(), "jcr_1zCm…");
//!
//! // One mistyped character is caught without any lookup.
//! let mut typo = String::from(text);
//! typo.replace_range(10..11, if &text[10..11] == "x" { "y" } else { "x" });
//! assert_eq!(format.parse(typo.as_bytes()), Err(KeyError::BadChecksum));
//! # Ok::<(), KeyError>(())
//! ```

use core::fmt;
use core::hint::black_box;
use core::str::FromStr;

use super::digest::{KeyDigest, KeyHasher};

/// Bytes of entropy in a key: 22 bytes, 176 bits.
pub const ENTROPY_LEN: usize = 22;

/// Base62 characters in a key's body: the fewest that hold 176 bits.
pub const BODY_LEN: usize = 30;

/// Base62 characters in a key's checksum: the fewest that hold 32 bits.
pub const CHECKSUM_LEN: usize = 6;

/// The longest prefix, `_` included.
pub const MAX_PREFIX_LEN: usize = 8;

/// The longest key: a prefix of [`MAX_PREFIX_LEN`], body and checksum.
pub const MAX_KEY_LEN: usize = MAX_PREFIX_LEN + BODY_LEN + CHECKSUM_LEN;

/// Body characters that [`KeyHint`] (and so `Debug` and `Display`) show.
pub const HINT_LEN: usize = 4;

/// The base62 digits, in value order.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Marks a byte that is not a base62 digit in [`DIGIT_VALUES`].
const NOT_A_DIGIT: u8 = u8::MAX;

/// Each byte's base62 value, or [`NOT_A_DIGIT`].
// Evaluated at compile time, where an out-of-bounds index fails the build.
#[allow(clippy::indexing_slicing)]
const DIGIT_VALUES: [u8; 256] = {
    let mut table = [NOT_A_DIGIT; 256];
    let mut value = 0;
    while value < ALPHABET.len() {
        table[ALPHABET[value] as usize] = value as u8;
        value += 1;
    }
    table
};

/// The CRC-32 lookup table for the reflected polynomial `0xEDB88320`.
// Evaluated at compile time, where an out-of-bounds index fails the build.
#[allow(clippy::indexing_slicing)]
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = byte as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[byte] = crc;
        byte += 1;
    }
    table
};

/// CRC-32 (ISO-HDLC, as in zlib and PNG) of `data`.
fn crc32(data: &[u8]) -> u32 {
    let crc = data.iter().fold(!0u32, |crc, &b| {
        let index = usize::from(crc.to_le_bytes()[0] ^ b);
        (crc >> 8) ^ CRC_TABLE.get(index).copied().unwrap_or(0)
    });
    !crc
}

/// The base62 value of `b`, if it is a digit.
fn digit_value(b: u8) -> Option<u8> {
    match DIGIT_VALUES.get(usize::from(b)).copied() {
        Some(NOT_A_DIGIT) | None => None,
        value => value,
    }
}

/// The base62 digit for `value`, which must be below 62.
fn digit_char(value: u32) -> u8 {
    let index = usize::try_from(value).unwrap_or(usize::MAX);
    ALPHABET.get(index).copied().unwrap_or(b'0')
}

/// Writes `entropy`, read as a big-endian number, as [`BODY_LEN`] base62
/// digits, least significant first.
fn encode_body(entropy: &[u8; ENTROPY_LEN]) -> [u8; BODY_LEN] {
    // Six 32-bit limbs, most significant first; the top 16 bits stay zero.
    let mut padded = [0u8; 24];
    for (dst, src) in padded.iter_mut().skip(24 - ENTROPY_LEN).zip(entropy) {
        *dst = *src;
    }
    let mut limbs = [0u32; 6];
    for (limb, chunk) in limbs.iter_mut().zip(padded.chunks_exact(4)) {
        *limb = chunk.iter().fold(0, |acc, &b| (acc << 8) | u32::from(b));
    }

    // Long division by 62, once per digit: 62^30 exceeds 2^176, so the
    // number is used up exactly.
    let mut body = [0u8; BODY_LEN];
    for digit in body.iter_mut() {
        let mut rem = 0u64;
        for limb in limbs.iter_mut() {
            let cur = (rem << 32) | u64::from(*limb);
            // `rem < 62`, so the quotient fits in 32 bits.
            *limb = u32::try_from(cur / 62).unwrap_or(u32::MAX);
            rem = cur % 62;
        }
        *digit = digit_char(u32::try_from(rem).unwrap_or(0));
    }
    body
}

/// `crc` as [`CHECKSUM_LEN`] base62 digits, most significant first.
fn encode_checksum(crc: u32) -> [u8; CHECKSUM_LEN] {
    let mut out = [0u8; CHECKSUM_LEN];
    let mut rest = crc;
    for digit in out.iter_mut().rev() {
        *digit = digit_char(rest % 62);
        rest /= 62;
    }
    out
}

/// Compares two arrays in time independent of their contents.
///
/// Every byte pair is combined into one accumulator, with no early exit;
/// [`black_box`] keeps the compiler from turning the loop into a
/// short-circuiting comparison.
pub(crate) fn ct_eq<const N: usize>(a: &[u8; N], b: &[u8; N]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff = black_box(diff | (x ^ y));
    }
    black_box(diff) == 0
}

/// The first `len` bytes of `buf` as text (empty if that is impossible).
fn ascii_str(buf: &[u8], len: u8) -> &str {
    let bytes = buf.get(..usize::from(len)).unwrap_or_default();
    core::str::from_utf8(bytes).unwrap_or_default()
}

/// The format keys are issued and parsed in: for now, their prefix.
///
/// A policy holds one; [`KeyFormat::DEFAULT`] has the prefix `jcr_`. A prefix
/// is 1 to 7 lowercase ASCII letters or digits followed by `_`, so it can
/// never be mistaken for part of a base62 body.
///
/// # Examples
///
/// ```
/// use keyrate::credential::key::KeyFormat;
///
/// assert_eq!(KeyFormat::default().prefix(), "jcr_");
/// let test = KeyFormat::new("jcrtest_")?;
/// assert_eq!(test.key_len(), 44);
/// assert!(KeyFormat::new("JCR_").is_err());
/// assert!(KeyFormat::new("jcr").is_err());
/// # Ok::<(), keyrate::credential::key::KeyFormatError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyFormat {
    prefix: [u8; MAX_PREFIX_LEN],
    prefix_len: u8,
}

impl KeyFormat {
    /// The format with prefix `jcr_`: 40-character keys.
    pub const DEFAULT: KeyFormat = KeyFormat {
        prefix: *b"jcr_\0\0\0\0",
        prefix_len: 4,
    };

    /// The format whose keys start with `prefix`.
    ///
    /// # Errors
    ///
    /// [`KeyFormatError`] unless `prefix` is 1 to 7 lowercase ASCII letters
    /// or digits followed by `_`.
    pub fn new(prefix: &str) -> Result<KeyFormat, KeyFormatError> {
        let (&last, head) = prefix.as_bytes().split_last().ok_or(KeyFormatError)?;
        let head_ok = head
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if last != b'_' || head.is_empty() || !head_ok || prefix.len() > MAX_PREFIX_LEN {
            return Err(KeyFormatError);
        }
        let mut format = KeyFormat {
            prefix: [0; MAX_PREFIX_LEN],
            prefix_len: u8::try_from(prefix.len()).map_err(|_| KeyFormatError)?,
        };
        for (dst, src) in format.prefix.iter_mut().zip(prefix.as_bytes()) {
            *dst = *src;
        }
        Ok(format)
    }

    /// The prefix, `_` included.
    pub fn prefix(&self) -> &str {
        ascii_str(&self.prefix, self.prefix_len)
    }

    /// The prefix as bytes, without a UTF-8 check on the hot path.
    fn prefix_bytes(&self) -> &[u8] {
        self.prefix
            .get(..usize::from(self.prefix_len))
            .unwrap_or_default()
    }

    /// The length of every key in this format: the prefix's length plus 36.
    pub fn key_len(&self) -> usize {
        usize::from(self.prefix_len) + BODY_LEN + CHECKSUM_LEN
    }

    /// The key carrying `entropy`.
    ///
    /// The format is a bijection: different entropy gives a different key.
    /// The bytes must come from a cryptographically secure generator; the
    /// key is exactly as hard to guess as they are.
    ///
    /// # Examples
    ///
    /// ```
    /// use keyrate::credential::key::{ENTROPY_LEN, KeyFormat};
    ///
    /// let key = KeyFormat::DEFAULT.generate(&[0; ENTROPY_LEN]);
    /// assert_eq!(
    ///     key.expose_secret(),
    ///     "jcr_0000000000000000000000000000001yRlQ7",
    /// );
    /// ```
    pub fn generate(&self, entropy: &[u8; ENTROPY_LEN]) -> ApiKey {
        let mut key = ApiKey {
            text: [0; MAX_KEY_LEN],
            len: u8::try_from(self.key_len()).unwrap_or(u8::MAX),
            prefix_len: self.prefix_len,
        };

        // Prefix and body, then the checksum of both.
        let body = encode_body(entropy);
        let signed = self.prefix_bytes().iter().chain(&body);
        for (dst, src) in key.text.iter_mut().zip(signed) {
            *dst = *src;
        }
        let signed_len = usize::from(self.prefix_len) + BODY_LEN;
        let crc = crc32(key.text.get(..signed_len).unwrap_or_default());
        for (dst, src) in key
            .text
            .iter_mut()
            .skip(signed_len)
            .zip(&encode_checksum(crc))
        {
            *dst = *src;
        }
        key
    }

    /// A new key from `rng`, which must be a cryptographically secure
    /// generator.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct Os;
    /// # impl rand_core::TryRng for Os {
    /// #     type Error = core::convert::Infallible;
    /// #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(4) }
    /// #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> { Ok(4) }
    /// #     fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), Self::Error> {
    /// #         d.fill(4);
    /// #         Ok(())
    /// #     }
    /// # }
    /// # impl rand_core::TryCryptoRng for Os {}
    /// # let mut rng = Os;
    /// use keyrate::credential::key::KeyFormat;
    ///
    /// let key = KeyFormat::DEFAULT.generate_from_rng(&mut rng);
    /// assert!(key.expose_secret().starts_with("jcr_"));
    /// ```
    #[cfg(feature = "rand_core")]
    pub fn generate_from_rng<R: rand_core::CryptoRng + ?Sized>(&self, rng: &mut R) -> ApiKey {
        let mut entropy = [0; ENTROPY_LEN];
        rng.fill_bytes(&mut entropy);
        self.generate(&entropy)
    }

    /// A new key from `rng`, a cryptographically secure generator that may
    /// fail (such as the operating system's).
    ///
    /// # Errors
    ///
    /// Whatever `rng` returns; no key is made then.
    #[cfg(feature = "rand_core")]
    pub fn try_generate_from_rng<R: rand_core::TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
    ) -> Result<ApiKey, R::Error> {
        let mut entropy = [0; ENTROPY_LEN];
        rng.try_fill_bytes(&mut entropy)?;
        Ok(self.generate(&entropy))
    }

    /// Checks that `input` is a key in this format and returns it.
    ///
    /// Takes bytes so that a header value need not be UTF-8. The checks run
    /// in order: prefix, length, characters, checksum. Parsing an arbitrary
    /// byte string never panics.
    ///
    /// # Errors
    ///
    /// [`KeyError`] naming the first check that failed. The error never
    /// carries any part of `input`.
    ///
    /// # Examples
    ///
    /// ```
    /// use keyrate::credential::key::{KeyError, KeyFormat};
    ///
    /// let format = KeyFormat::DEFAULT;
    /// let good = b"jcr_0000000000000000000000000000001yRlQ7";
    /// assert!(format.parse(good).is_ok());
    /// assert_eq!(format.parse(b"ghp_0000000000000000000000000000001yRlQ7"),
    ///            Err(KeyError::WrongPrefix));
    /// assert_eq!(format.parse(b"jcr_0000"), Err(KeyError::WrongLength));
    /// assert_eq!(format.parse(b"jcr_00000000000000000000000000000-1yRlQ7"),
    ///            Err(KeyError::BadCharacter));
    /// assert_eq!(format.parse(b"jcr_0000000000000000000000000000001yRlQ8"),
    ///            Err(KeyError::BadChecksum));
    /// ```
    pub fn parse(&self, input: &[u8]) -> Result<ApiKey, KeyError> {
        let rest = input
            .strip_prefix(self.prefix_bytes())
            .ok_or(KeyError::WrongPrefix)?;
        let (body, checksum) = rest
            .split_at_checked(BODY_LEN)
            .filter(|(_, checksum)| checksum.len() == CHECKSUM_LEN)
            .ok_or(KeyError::WrongLength)?;

        // Every body and checksum character must be a base62 digit.
        if !body.iter().all(|&b| digit_value(b).is_some()) {
            return Err(KeyError::BadCharacter);
        }
        let mut claimed = 0u64;
        for &b in checksum {
            let value = digit_value(b).ok_or(KeyError::BadCharacter)?;
            claimed = claimed * 62 + u64::from(value);
        }

        // The checksum covers the prefix and the body.
        let signed = input
            .get(..input.len().saturating_sub(CHECKSUM_LEN))
            .unwrap_or_default();
        if claimed != u64::from(crc32(signed)) {
            return Err(KeyError::BadChecksum);
        }

        let mut key = ApiKey {
            text: [0; MAX_KEY_LEN],
            len: u8::try_from(input.len()).map_err(|_| KeyError::WrongLength)?,
            prefix_len: self.prefix_len,
        };
        let dst = key
            .text
            .get_mut(..input.len())
            .ok_or(KeyError::WrongLength)?;
        dst.copy_from_slice(input);
        Ok(key)
    }
}

impl Default for KeyFormat {
    fn default() -> Self {
        KeyFormat::DEFAULT
    }
}

impl fmt::Debug for KeyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyFormat").field(&self.prefix()).finish()
    }
}

impl FromStr for KeyFormat {
    type Err = KeyFormatError;

    /// Same as [`KeyFormat::new`].
    fn from_str(prefix: &str) -> Result<Self, Self::Err> {
        KeyFormat::new(prefix)
    }
}

/// A key prefix that [`KeyFormat::new`] rejects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyFormatError;

impl fmt::Display for KeyFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("key prefix must be 1 to 7 lowercase ASCII letters or digits followed by '_'")
    }
}

impl core::error::Error for KeyFormatError {}

/// Why a text is not a key of the expected format.
///
/// No variant carries any part of the text: it may be a mistyped secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyError {
    /// The text does not start with the format's prefix.
    WrongPrefix,
    /// The text after the prefix is not 36 characters long.
    WrongLength,
    /// A body or checksum character is not a base62 digit.
    BadCharacter,
    /// The checksum does not match the prefix and body: a typo, or a made-up
    /// key.
    BadChecksum,
}

impl KeyError {
    /// A short lowercase description: the `Display` text. It is ASCII
    /// without `"` or `\`, so it can be an RFC 6750 `error_description`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            KeyError::WrongPrefix => "key does not start with the expected prefix",
            KeyError::WrongLength => "key has the wrong length",
            KeyError::BadCharacter => "key contains a character outside base62",
            KeyError::BadChecksum => "key checksum does not match",
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::error::Error for KeyError {}

/// An API key: a secret, held in a fixed-size buffer without allocation.
///
/// Made by [`KeyFormat::generate`] or [`KeyFormat::parse`], so it is always
/// well formed. `Debug` and `Display` show the [`hint`](ApiKey::hint) only;
/// `==` runs in constant time over the whole buffer. There is no `Hash` and
/// no ordering: look keys up by their [`KeyDigest`].
///
/// The memory is not wiped on drop: clones and moves may leave copies.
///
/// # Examples
///
/// ```
/// use keyrate::credential::key::ApiKey;
///
/// let key: ApiKey = "jcr_0000000000000000000000000000001yRlQ7".parse()?;
/// assert_eq!(format!("{key:?}"), "ApiKey(jcr_0000…)");
/// assert_eq!(key.prefix(), "jcr_");
/// # Ok::<(), keyrate::credential::key::KeyError>(())
/// ```
#[derive(Clone)]
pub struct ApiKey {
    text: [u8; MAX_KEY_LEN],
    len: u8,
    prefix_len: u8,
}

impl ApiKey {
    /// The full secret text of the key.
    ///
    /// Show it to the user once, when the key is issued; never log it or
    /// store it. Everywhere else use [`hint`](ApiKey::hint) and a
    /// [`KeyDigest`].
    pub fn expose_secret(&self) -> &str {
        ascii_str(&self.text, self.len)
    }

    /// The prefix, `_` included.
    pub fn prefix(&self) -> &str {
        ascii_str(&self.text, self.prefix_len)
    }

    /// The prefix and the first [`HINT_LEN`] body characters: what `Debug`
    /// and `Display` show, and what a dashboard may store to help a user
    /// recognise a key.
    ///
    /// It reveals about 24 of the key's 176 bits of entropy.
    pub fn hint(&self) -> KeyHint {
        let len = self.prefix_len.saturating_add(HINT_LEN as u8);
        let mut hint = KeyHint {
            text: [0; MAX_PREFIX_LEN + HINT_LEN],
            len,
        };
        for (dst, src) in hint.text.iter_mut().zip(&self.text).take(usize::from(len)) {
            *dst = *src;
        }
        hint
    }

    /// The key's digest under `hasher`: what to store at rest and look the
    /// key up by.
    ///
    /// # Examples
    ///
    /// ```
    /// use keyrate::credential::key::KeyFormat;
    ///
    /// // A stand-in hasher; use a real one, such as the `sha2` feature's.
    /// let toy = |text: &[u8]| {
    ///     let mut out = [0u8; 32];
    ///     out[0] = text.len() as u8;
    ///     out
    /// };
    /// let key = KeyFormat::DEFAULT.generate(&[1; 22]);
    /// assert_eq!(key.digest(&toy).as_bytes()[0], 40);
    /// ```
    pub fn digest<H: KeyHasher + ?Sized>(&self, hasher: &H) -> KeyDigest {
        KeyDigest::from_bytes(hasher.digest(self.expose_secret().as_bytes()))
    }
}

impl PartialEq for ApiKey {
    /// Constant-time: compares the whole buffer whatever its contents.
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.text, &other.text) & (self.len == other.len)
    }
}

impl Eq for ApiKey {}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ApiKey")
            .field(&format_args!("{}", self.hint()))
            .finish()
    }
}

impl fmt::Display for ApiKey {
    /// Shows the [`hint`](ApiKey::hint), never the whole key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.hint(), f)
    }
}

impl FromStr for ApiKey {
    type Err = KeyError;

    /// Parses a key in the default format ([`KeyFormat::DEFAULT`]).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        KeyFormat::DEFAULT.parse(text.as_bytes())
    }
}

/// The public part of a key: its prefix and first four body characters,
/// such as `jcr_AbC1`.
///
/// It identifies a key to its owner in a list ("jcr_AbC1…, created
/// yesterday") and is not a secret. `Display` appends `…`;
/// [`as_str`](KeyHint::as_str) and `FromStr` use the bare form.
///
/// # Examples
///
/// ```
/// use keyrate::credential::key::{KeyFormat, KeyHint};
///
/// let key = KeyFormat::DEFAULT.generate(&[0; 22]);
/// assert_eq!(key.hint().as_str(), "jcr_0000");
/// assert_eq!(key.hint().to_string(), "jcr_0000…");
/// assert_eq!("jcr_0000".parse::<KeyHint>()?, key.hint());
/// # Ok::<(), keyrate::credential::key::KeyError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHint {
    text: [u8; MAX_PREFIX_LEN + HINT_LEN],
    len: u8,
}

impl KeyHint {
    /// The prefix and four body characters, without `…`.
    pub fn as_str(&self) -> &str {
        ascii_str(&self.text, self.len)
    }
}

impl fmt::Debug for KeyHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyHint")
            .field(&format_args!("{self}"))
            .finish()
    }
}

impl fmt::Display for KeyHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", self.as_str())
    }
}

impl FromStr for KeyHint {
    type Err = KeyError;

    /// Parses the bare form: a valid prefix and four base62 characters.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let split = text.find('_').ok_or(KeyError::WrongPrefix)?;
        let (prefix, rest) = text
            .split_at_checked(split + 1)
            .ok_or(KeyError::WrongPrefix)?;
        KeyFormat::new(prefix).map_err(|_| KeyError::WrongPrefix)?;
        if rest.len() != HINT_LEN {
            return Err(KeyError::WrongLength);
        }
        if !rest.bytes().all(|b| digit_value(b).is_some()) {
            return Err(KeyError::BadCharacter);
        }
        let mut hint = KeyHint {
            text: [0; MAX_PREFIX_LEN + HINT_LEN],
            len: u8::try_from(text.len()).map_err(|_| KeyError::WrongLength)?,
        };
        for (dst, src) in hint.text.iter_mut().zip(text.as_bytes()) {
            *dst = *src;
        }
        Ok(hint)
    }
}

/// Serde support: formats and hints travel as their text, validated on the
/// way in.
#[cfg(feature = "serde")]
pub(crate) mod text_serde {
    use core::fmt;
    use core::marker::PhantomData;
    use core::str::FromStr;

    use serde::de::{Deserializer, Error, Visitor};
    use serde::{Deserialize, Serialize, Serializer};

    use super::{KeyFormat, KeyHint};

    /// Deserializes a `T` from a string through its `FromStr`.
    pub(crate) fn deserialize<'de, D, T>(d: D, expecting: &'static str) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr,
        T::Err: fmt::Display,
    {
        struct TextVisitor<T>(&'static str, PhantomData<T>);

        impl<T: FromStr> Visitor<'_> for TextVisitor<T>
        where
            T::Err: fmt::Display,
        {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }

            fn visit_str<E: Error>(self, v: &str) -> Result<T, E> {
                v.parse().map_err(E::custom)
            }
        }

        d.deserialize_str(TextVisitor(expecting, PhantomData))
    }

    impl Serialize for KeyFormat {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(self.prefix())
        }
    }

    impl<'de> Deserialize<'de> for KeyFormat {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            deserialize(d, "a key prefix such as \"jcr_\"")
        }
    }

    impl Serialize for KeyHint {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(self.as_str())
        }
    }

    impl<'de> Deserialize<'de> for KeyHint {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            deserialize(d, "a key hint such as \"jcr_AbC1\"")
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;

    use super::*;

    /// Decodes a body back into entropy by multiplication, the inverse of
    /// [`encode_body`]'s division.
    fn decode_body(body: &[u8]) -> Option<[u8; ENTROPY_LEN]> {
        let mut number = [0u8; ENTROPY_LEN];
        for &c in body.iter().rev() {
            let mut carry = u32::from(digit_value(c)?);
            for byte in number.iter_mut().rev() {
                let v = u32::from(*byte) * 62 + carry;
                *byte = (v & 0xFF) as u8;
                carry = v >> 8;
            }
            if carry != 0 {
                return None;
            }
        }
        Some(number)
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn body_is_the_entropy_in_base62_least_significant_first() {
        let mut one = [0; ENTROPY_LEN];
        one[ENTROPY_LEN - 1] = 1;
        assert_eq!(&encode_body(&one), b"100000000000000000000000000000");
        let mut sixty_two = [0; ENTROPY_LEN];
        sixty_two[ENTROPY_LEN - 1] = 62;
        assert_eq!(&encode_body(&sixty_two), b"010000000000000000000000000000");
        for entropy in [[0xFF; ENTROPY_LEN], [0x5A; ENTROPY_LEN], one] {
            assert_eq!(decode_body(&encode_body(&entropy)), Some(entropy));
        }
    }

    #[test]
    fn largest_entropy_ends_in_the_smallest_last_digits() {
        // 2^176 - 1 = 10 * 62^29 + ..., so the last (most significant) digit
        // is `A` and no entropy needs a 31st digit.
        let body = encode_body(&[0xFF; ENTROPY_LEN]);
        assert_eq!(body.last(), Some(&b'A'));
    }

    #[test]
    fn checksum_digits_are_most_significant_first() {
        assert_eq!(&encode_checksum(0), b"000000");
        assert_eq!(&encode_checksum(61), b"00000z");
        assert_eq!(&encode_checksum(62), b"000010");
        assert_eq!(&encode_checksum(u32::MAX), b"4gfFC3");
    }

    #[test]
    fn swapping_body_and_checksum_at_their_border_is_always_caught() {
        // The swap turns body digit y into x and checksum digit x into y.
        // The CRC changes by `CRC_TABLE[x ^ y]` (CRC-32 is affine); the
        // claimed value changes by `(x - y) * 62^5`. For the result to pass,
        // both new values must agree: `c ^ t == c + m` for some CRC `c`,
        // which holds iff `(t - m) / 2` is a whole number whose bits all lie
        // in `t`. A claimed first digit above 4 exceeds `u32::MAX`, so only
        // digits 0 to 4 need checking.
        let p5 = 62i64.pow(5);
        for x in 0..5u8 {
            for y in 0..5u8 {
                if x == y {
                    continue;
                }
                let (cx, cy) = (ALPHABET[usize::from(x)], ALPHABET[usize::from(y)]);
                let t = i64::from(CRC_TABLE[usize::from(cx ^ cy)]);
                let m = (i64::from(x) - i64::from(y)) * p5;
                let half = t - m;
                let possible = half >= 0 && half % 2 == 0 && (half / 2) & !t == 0;
                assert!(
                    !possible,
                    "swap of {} and {} could pass",
                    cx as char, cy as char
                );
            }
        }
    }

    #[test]
    fn border_swap_model_matches_real_keys() {
        // The algebra above relies on the CRC changing by exactly
        // `CRC_TABLE[x ^ y]` when the last body byte changes.
        let key = KeyFormat::DEFAULT.generate(&[9; ENTROPY_LEN]);
        let text = key.expose_secret().as_bytes();
        let signed = &text[..4 + BODY_LEN];
        let mut changed = signed.to_vec();
        *changed.last_mut().unwrap() ^= b'3' ^ b'1';
        let delta = crc32(signed) ^ crc32(&changed);
        assert_eq!(delta, CRC_TABLE[usize::from(b'3' ^ b'1')]);
    }

    #[test]
    fn prefixes_are_validated() {
        for good in ["a_", "jcr_", "abc1234_", "0_"] {
            assert_eq!(
                KeyFormat::new(good).map(|f| f.prefix().len()),
                Ok(good.len())
            );
        }
        for bad in [
            "",
            "_",
            "jcr",
            "Jcr_",
            "jcr-",
            "abcd1234_",
            "jc_r_",
            "é_",
            "jcr__",
        ] {
            assert_eq!(KeyFormat::new(bad), Err(KeyFormatError), "{bad:?}");
        }
        assert_eq!(KeyFormat::new("jcr_"), Ok(KeyFormat::DEFAULT));
    }

    #[test]
    fn custom_prefix_keys_parse_only_in_their_format() {
        let format = KeyFormat::new("abcdefg_").unwrap();
        let key = format.generate(&[3; ENTROPY_LEN]);
        assert_eq!(key.expose_secret().len(), MAX_KEY_LEN);
        assert_eq!(
            format.parse(key.expose_secret().as_bytes()),
            Ok(key.clone())
        );
        assert_eq!(
            KeyFormat::DEFAULT.parse(key.expose_secret().as_bytes()),
            Err(KeyError::WrongPrefix)
        );
        assert_eq!(key.prefix(), "abcdefg_");
        assert_eq!(key.hint().as_str(), &key.expose_secret()[..12]);
    }

    #[test]
    fn checksum_above_u32_is_rejected_not_wrapped() {
        let key = KeyFormat::DEFAULT.generate(&[1; ENTROPY_LEN]);
        let mut text = key.expose_secret().as_bytes().to_vec();
        let n = text.len();
        text[n - CHECKSUM_LEN] = b'z';
        assert_eq!(KeyFormat::DEFAULT.parse(&text), Err(KeyError::BadChecksum));
    }

    #[test]
    fn equality_compares_whole_keys() {
        let a = KeyFormat::DEFAULT.generate(&[1; ENTROPY_LEN]);
        let mut entropy = [1; ENTROPY_LEN];
        entropy[0] = 2;
        let b = KeyFormat::DEFAULT.generate(&entropy);
        assert_eq!(a, a.clone());
        assert_ne!(a, b);
        let other_prefix = KeyFormat::new("jcx_").unwrap().generate(&[1; ENTROPY_LEN]);
        assert_ne!(a, other_prefix);
        assert!(ct_eq(&[1, 2, 3], &[1, 2, 3]));
        assert!(!ct_eq(&[1, 2, 3], &[1, 2, 4]));
    }

    #[test]
    fn formatting_shows_the_hint_only() {
        let key = KeyFormat::DEFAULT.generate(&[0xAB; ENTROPY_LEN]);
        let text = key.expose_secret();
        let shown = format!("{key} {key:?} {:?}", key.hint());
        assert!(!shown.contains(&text[4 + HINT_LEN..4 + HINT_LEN + 3]));
        assert_eq!(format!("{key}"), format!("{}…", &text[..8]));
    }

    #[test]
    fn hints_parse_their_bare_form_only() {
        assert!("jcr_AbC1".parse::<KeyHint>().is_ok());
        assert_eq!("jcr_AbC".parse::<KeyHint>(), Err(KeyError::WrongLength));
        assert_eq!("jcr_AbC1…".parse::<KeyHint>(), Err(KeyError::WrongLength));
        assert_eq!("jcr_Ab-1".parse::<KeyHint>(), Err(KeyError::BadCharacter));
        assert_eq!("JCR_AbC1".parse::<KeyHint>(), Err(KeyError::WrongPrefix));
        assert_eq!("AbC1".parse::<KeyHint>(), Err(KeyError::WrongPrefix));
    }

    #[test]
    fn error_texts_are_valid_error_descriptions() {
        let all = [
            KeyError::WrongPrefix,
            KeyError::WrongLength,
            KeyError::BadCharacter,
            KeyError::BadChecksum,
        ];
        for e in all {
            let s = e.as_str();
            assert!(
                s.bytes()
                    .all(|b| (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\')
            );
            assert_eq!(s, s.to_lowercase());
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn formats_and_hints_deserialize_with_validation() {
        use serde::Deserialize;
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer};

        let de: StrDeserializer<'_, Error> = "abc_".into_deserializer();
        assert_eq!(KeyFormat::deserialize(de).unwrap().prefix(), "abc_");
        let de: StrDeserializer<'_, Error> = "ABC".into_deserializer();
        assert!(KeyFormat::deserialize(de).is_err());
        let de: StrDeserializer<'_, Error> = "jcr_AbC1".into_deserializer();
        assert_eq!(KeyHint::deserialize(de).unwrap().as_str(), "jcr_AbC1");
        let de: StrDeserializer<'_, Error> = "jcr_AbC1x".into_deserializer();
        assert!(KeyHint::deserialize(de).is_err());
    }
}
