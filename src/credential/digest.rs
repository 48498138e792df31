//! Key digests for storage at rest, and the non-secret key id derived from
//! them.
//!
//! A server keeps a [`KeyDigest`] of each key it issued, never the key, and
//! finds the key's record by the digest of the key a request presents.
//!
//! # Choosing a hasher
//!
//! The digest is whatever a [`KeyHasher`] makes of the key's full text. The
//! library takes the hasher from the caller rather than fixing one, so that
//! the core stays free of dependencies and a server can use the hash it
//! already links (ring, aws-lc, RustCrypto) or a keyed one. With the `sha2`
//! feature, [`Sha256`] is a ready-made choice.
//!
//! A fast, unsalted hash is right here, unlike for passwords: a key carries
//! 176 bits of entropy, so no amount of hashing speed makes guessing it
//! feasible, and the digest must be the same every time so that it can be
//! looked up. A keyed hash (HMAC with a secret held outside the database)
//! adds that a stolen table of digests cannot even confirm a stolen key.
//!
//! # The key id
//!
//! [`KeyId`] is the first 8 bytes of the digest, written as 16 hex digits:
//! a stable name for a key in logs and URLs. It reveals nothing about the
//! key's text beyond what the digest does (with a one-way hasher, nothing),
//! and it lets anyone who holds a candidate key check whether it is the one
//! named. It is stable while the hasher (and its secret, if keyed) is. Ids
//! are 64 bits, so two keys share one with probability about `n^2 / 2^65`
//! among `n` keys (below one in a million up to 6 million keys): look keys
//! up by digest, and treat the id as a label.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::str::FromStr;

use super::key::ct_eq;

/// Bytes in a [`KeyDigest`]: 32, the size of SHA-256 and most modern hashes.
pub const DIGEST_LEN: usize = 32;

/// Bytes in a [`KeyId`].
pub const KEY_ID_LEN: usize = 8;

/// Turns a key's text into the digest stored at rest.
///
/// Implementations must be deterministic and one-way (a cryptographic hash,
/// or a MAC under a server secret). A hash with a shorter output should pad
/// it with zeros; a longer one should be truncated. Any
/// `Fn(&[u8]) -> [u8; 32]` is a hasher.
///
/// # Examples
///
/// ```
/// use keyrate::credential::digest::{DIGEST_LEN, KeyHasher};
/// use keyrate::credential::key::KeyFormat;
///
/// struct Server; // for example, HMAC-SHA-256 under a secret from a vault
///
/// impl KeyHasher for Server {
///     fn digest(&self, key_text: &[u8]) -> [u8; DIGEST_LEN] {
///         let mut out = [0; DIGEST_LEN];
///         for (o, b) in out.iter_mut().zip(key_text.iter().rev()) {
///             *o = b ^ 0x5c; // a stand-in, not a hash
///         }
///         out
///     }
/// }
///
/// let key = KeyFormat::DEFAULT.generate(&[5; 22]);
/// assert_eq!(key.digest(&Server), key.digest(&Server));
/// ```
pub trait KeyHasher {
    /// The digest of `key_text`, a key's full text.
    fn digest(&self, key_text: &[u8]) -> [u8; DIGEST_LEN];
}

impl<F> KeyHasher for F
where
    F: Fn(&[u8]) -> [u8; DIGEST_LEN],
{
    fn digest(&self, key_text: &[u8]) -> [u8; DIGEST_LEN] {
        self(key_text)
    }
}

/// SHA-256 of the key's text, unkeyed.
///
/// # Examples
///
/// ```
/// use keyrate::credential::digest::Sha256;
/// use keyrate::credential::key::KeyFormat;
///
/// let key = KeyFormat::DEFAULT.generate(&[0; 22]);
/// let digest = key.digest(&Sha256);
/// assert_eq!(digest.id().to_string().len(), 16);
/// ```
#[cfg(feature = "sha2")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sha256;

#[cfg(feature = "sha2")]
impl KeyHasher for Sha256 {
    fn digest(&self, key_text: &[u8]) -> [u8; DIGEST_LEN] {
        use sha2::Digest;
        sha2::Sha256::digest(key_text).into()
    }
}

/// The digest of a key: what a server stores instead of the key.
///
/// Made by [`ApiKey::digest`](super::key::ApiKey::digest), or restored from
/// storage with [`from_bytes`](KeyDigest::from_bytes). `==` runs in constant
/// time; `Hash` is provided so digests can key a map. `Debug` shows the first
/// four bytes in hex only.
///
/// # Examples
///
/// ```
/// use keyrate::credential::digest::KeyDigest;
///
/// let stored = KeyDigest::from_bytes([0xAB; 32]);
/// assert_eq!(format!("{stored:?}"), "KeyDigest(abababab…)");
/// assert_eq!(stored.id().to_string(), "abababababababab");
/// assert_eq!(KeyDigest::from_bytes(*stored.as_bytes()), stored);
/// ```
#[derive(Clone, Copy)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyDigest([u8; DIGEST_LEN]);

impl KeyDigest {
    /// The digest with these bytes, as read back from storage.
    pub const fn from_bytes(bytes: [u8; DIGEST_LEN]) -> KeyDigest {
        KeyDigest(bytes)
    }

    /// The bytes to store.
    pub const fn as_bytes(&self) -> &[u8; DIGEST_LEN] {
        &self.0
    }

    /// The key's id: the first [`KEY_ID_LEN`] bytes of the digest.
    pub fn id(&self) -> KeyId {
        let mut id = [0; KEY_ID_LEN];
        for (dst, src) in id.iter_mut().zip(&self.0) {
            *dst = *src;
        }
        KeyId(id)
    }
}

impl PartialEq for KeyDigest {
    /// Constant-time: compares all 32 bytes whatever their contents.
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl Eq for KeyDigest {}

impl Hash for KeyDigest {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyDigest(")?;
        for b in self.0.iter().take(4) {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…)")
    }
}

/// A stable, non-secret name for a key, for logs and URLs: 16 lowercase hex
/// digits.
///
/// See the [module docs](self) for what it reveals and how unique it is.
///
/// # Examples
///
/// ```
/// use keyrate::credential::digest::KeyId;
///
/// let id: KeyId = "00ff10a0b0c0d0e0".parse()?;
/// assert_eq!(id.to_string(), "00ff10a0b0c0d0e0");
/// assert!("00FF10A0B0C0D0E0".parse::<KeyId>().is_err());
/// # Ok::<(), keyrate::credential::digest::KeyIdError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    /// The id with these bytes.
    pub const fn from_bytes(bytes: [u8; KEY_ID_LEN]) -> KeyId {
        KeyId(bytes)
    }

    /// The id's bytes.
    pub const fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = KeyIdError;

    /// Parses exactly 16 lowercase hex digits, the only form `Display`
    /// writes, so that each id has one spelling.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() != 2 * KEY_ID_LEN {
            return Err(KeyIdError);
        }
        let mut id = [0; KEY_ID_LEN];
        for (byte, pair) in id.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            for &c in pair {
                let nibble = match c {
                    b'0'..=b'9' => c - b'0',
                    b'a'..=b'f' => c - b'a' + 10,
                    _ => return Err(KeyIdError),
                };
                *byte = (*byte << 4) | nibble;
            }
        }
        Ok(KeyId(id))
    }
}

/// A text that is not 16 lowercase hex digits, as [`KeyId`] parses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyIdError;

impl fmt::Display for KeyIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("key id must be 16 lowercase hex digits")
    }
}

impl core::error::Error for KeyIdError {}

#[cfg(feature = "serde")]
impl serde::Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut text = heapless::String::<{ 2 * KEY_ID_LEN }>::new();
        fmt::Write::write_fmt(&mut text, format_args!("{self}"))
            .map_err(|_| serde::ser::Error::custom("key id does not fit"))?;
        s.serialize_str(&text)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for KeyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::key::text_serde::deserialize(d, "16 lowercase hex digits")
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;
    use std::string::ToString;

    use super::*;
    use crate::credential::key::KeyFormat;

    fn toy(text: &[u8]) -> [u8; DIGEST_LEN] {
        let mut out = [0; DIGEST_LEN];
        for (i, b) in text.iter().enumerate() {
            out[i % DIGEST_LEN] ^= b.rotate_left(i as u32);
        }
        out
    }

    #[test]
    fn digest_hashes_the_full_key_text() {
        let key = KeyFormat::DEFAULT.generate(&[8; 22]);
        let digest = key.digest(&toy);
        assert_eq!(digest.as_bytes(), &toy(key.expose_secret().as_bytes()));
        let other = KeyFormat::DEFAULT.generate(&[9; 22]);
        assert_ne!(other.digest(&toy), digest);
    }

    #[test]
    fn debug_shows_four_bytes_of_the_digest() {
        let mut bytes = [0u8; DIGEST_LEN];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        assert_eq!(format!("{:?}", KeyDigest(bytes)), "KeyDigest(00010203…)");
    }

    #[test]
    fn id_is_the_digest_prefix_in_hex() {
        let mut bytes = [0xEE; DIGEST_LEN];
        bytes[..KEY_ID_LEN].copy_from_slice(&[0, 1, 0x10, 0x7f, 0x80, 0xa5, 0xfe, 0xff]);
        let id = KeyDigest(bytes).id();
        assert_eq!(id.to_string(), "0001107f80a5feff");
        assert_eq!(format!("{id:?}"), "KeyId(0001107f80a5feff)");
        assert_eq!("0001107f80a5feff".parse(), Ok(id));
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in [
            "",
            "0001107f80a5fef",
            "0001107f80a5feff0",
            "0001107f80a5fefg",
            "é001107f80a5fef",
        ] {
            assert_eq!(bad.parse::<KeyId>(), Err(KeyIdError), "{bad:?}");
        }
    }

    #[cfg(feature = "sha2")]
    #[test]
    fn sha256_matches_the_standard_test_vector() {
        let d = Sha256.digest(b"abc");
        assert_eq!(
            KeyDigest(d).id().to_string(),
            "ba7816bf8f01cfea",
            "SHA-256(\"abc\") starts ba7816bf 8f01cfea"
        );
    }

    #[cfg(feature = "serde")]
    #[test]
    fn ids_deserialize_from_their_text() {
        use serde::Deserialize;
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer};

        let de: StrDeserializer<'_, Error> = "0001107f80a5feff".into_deserializer();
        assert_eq!(KeyId::deserialize(de).unwrap().as_bytes()[3], 0x7f);
        let de: StrDeserializer<'_, Error> = "0001107F80A5FEFF".into_deserializer();
        assert!(KeyId::deserialize(de).is_err());
    }
}
