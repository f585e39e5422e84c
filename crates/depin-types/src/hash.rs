//! 32-byte SHA-256 digests for consensus objects (blocks, transactions, state roots).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// A 32-byte digest. Serialised as lowercase hex in JSON and TOML, as 32 raw bytes in borsh.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// The all-zero hash, used as the parent of the genesis block.
    pub const ZERO: Hash32 = Hash32([0u8; 32]);

    /// SHA-256 of `domain || data`. The domain tag separates message kinds so that a digest of
    /// one kind can never be mistaken for another.
    pub fn digest_with_domain(domain: &[u8], data: &[u8]) -> Hash32 {
        let mut h = Sha256::new();
        h.update(domain);
        h.update(data);
        Hash32(h.finalize().into())
    }

    /// Plain SHA-256 of `data`.
    pub fn digest(data: &[u8]) -> Hash32 {
        Hash32(Sha256::digest(data).into())
    }

    /// SHA-256 of `domain || borsh(value)`, streamed into the hasher (no buffer of the
    /// encoding), for small values such as a report.
    pub fn digest_borsh<T: BorshSerialize + ?Sized>(domain: &[u8], value: &T) -> Hash32 {
        let mut h = Sha256::new();
        h.update(domain);
        value
            .serialize(&mut h)
            .expect("writing into a hasher cannot fail");
        Hash32(h.finalize().into())
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// Error parsing a [`Hash32`] from hex.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid hash: expected 64 hex characters, got {got:?}")]
pub struct HashParseError {
    /// The rejected input.
    pub got: String,
}

impl FromStr for Hash32 {
    type Err = HashParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || HashParseError { got: s.to_string() };
        let bytes = hex::decode(s.trim_start_matches("0x")).map_err(|_| err())?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| err())?;
        Ok(Hash32(arr))
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({})", self.to_hex())
    }
}

impl Serialize for Hash32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_digests_equal_the_digest_of_the_encoding() {
        let value: Vec<(u64, Vec<u8>)> = (0..5_000u64)
            .map(|i| (i, vec![7; (i % 300) as usize]))
            .collect();
        let bytes = borsh::to_vec(&value).expect("vec");
        let plain = Hash32::digest_with_domain(b"d", &bytes);
        assert_eq!(Hash32::digest_borsh(b"d", &value), plain);
    }

    #[test]
    fn sha256_of_abc_matches_fips_180_2() {
        let h = Hash32::digest(b"abc");
        assert_eq!(
            h.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn domain_tag_changes_the_digest() {
        assert_ne!(
            Hash32::digest_with_domain(b"a", b"x"),
            Hash32::digest_with_domain(b"b", b"x")
        );
    }

    #[test]
    fn hex_round_trips_and_rejects_short_input() {
        let h = Hash32::digest(b"x");
        assert_eq!(h.to_hex().parse::<Hash32>().unwrap(), h);
        assert!("abcd".parse::<Hash32>().is_err());
    }
}
