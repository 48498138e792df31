//! A small seeded hash for the fixed table, usable without `std`.

use core::hash::{BuildHasher, Hasher};

/// Odd multiplier with bits spread across the word (2^64 divided by the
/// golden ratio), so that a multiplication mixes every input bit upwards.
const SPREAD: u64 = 0x9e37_79b9_7f4a_7c15;

/// A second odd multiplier, for the final mix.
const FINISH: u64 = 0xd6e8_feb8_6659_fd93;

/// Builds [`KeyHasher`]s from a seed: the default hash of a
/// [`FixedTable`](super::FixedTable).
///
/// It is fast for the short keys tables hold (integers, digests, addresses)
/// but it is **not** designed to resist an attacker who chooses keys: such
/// keys can be made to share slots, which lengthens a check up to a scan of
/// the whole table (never more: a fixed table's probes are bounded by its
/// size). For keys a client picks, such as addresses, give the table a keyed
/// hash such as `std::hash::RandomState` through
/// [`with_hasher`](super::FixedTable::with_hasher).
///
/// # Examples
///
/// ```
/// use core::hash::BuildHasher;
/// use keyrate::keyed::SeededHash;
///
/// let a = SeededHash::new(1);
/// assert_eq!(a.hash_one(42u64), a.hash_one(42u64));
/// assert_ne!(a.hash_one(42u64), SeededHash::new(2).hash_one(42u64));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeededHash {
    seed: u64,
}

impl SeededHash {
    /// Hashes seeded with `seed`.
    pub const fn new(seed: u64) -> SeededHash {
        SeededHash { seed }
    }
}

impl BuildHasher for SeededHash {
    type Hasher = KeyHasher;

    #[inline]
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher {
            state: self.seed ^ SPREAD,
        }
    }
}

/// The hasher [`SeededHash`] builds: one multiply per 8 bytes written and a
/// final mix that folds the high bits into the low ones.
#[derive(Clone, Copy, Debug)]
pub struct KeyHasher {
    state: u64,
}

impl KeyHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.state = (self.state.rotate_left(26) ^ word).wrapping_mul(SPREAD);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            for (w, b) in word.iter_mut().zip(chunk) {
                *w = *b;
            }
            self.mix(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        // usize is at most 64 bits on every supported target.
        self.mix(i as u64);
    }

    /// Products carry entropy upwards only: fold the high half down, so that
    /// the low bits, which choose a slot, depend on every input bit.
    #[inline]
    fn finish(&self) -> u64 {
        let x = self.state ^ (self.state >> 32);
        let x = x.wrapping_mul(FINISH);
        x ^ (x >> 29)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_integers_spread_over_low_bits() {
        // 1024 consecutive keys into 1024 buckets by the low 10 bits: a good
        // spread leaves roughly 1/e of the buckets empty, a poor one many more.
        let h = SeededHash::default();
        let mut used = [false; 1024];
        for k in 0u64..1024 {
            let slot = (h.hash_one(k) & 1023) as usize;
            used[slot] = true;
        }
        let empty = used.iter().filter(|u| !**u).count();
        assert!(empty < 450, "{empty} of 1024 buckets empty");
    }

    #[test]
    fn byte_strings_of_different_lengths_differ() {
        let h = SeededHash::new(7);
        assert_ne!(h.hash_one(&b"abc"[..]), h.hash_one(&b"abcd"[..]));
        assert_ne!(h.hash_one("abcdefgh1"), h.hash_one("abcdefgh2"));
    }
}
