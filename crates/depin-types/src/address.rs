//! Human-facing addresses: base58check of `[network byte, key-type byte, 32 key bytes]`, in the
//! manner of helium-crypto's `PublicKey` encoding (version/network tag plus key type), so that
//! a testnet address can never be pasted into a mainnet wallet unnoticed.
//!
//! The checksum is base58check's: the first 4 bytes of SHA-256(SHA-256(payload)).

use crate::crypto::PublicKey;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Which network an address belongs to (first payload byte).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// Production network, byte `0x00`.
    Mainnet,
    /// Public test network, byte `0x10`.
    Testnet,
    /// Local development network, byte `0x20`.
    Devnet,
}

impl Network {
    /// The payload byte.
    pub fn byte(self) -> u8 {
        match self {
            Network::Mainnet => 0x00,
            Network::Testnet => 0x10,
            Network::Devnet => 0x20,
        }
    }

    fn from_byte(b: u8) -> Option<Network> {
        match b {
            0x00 => Some(Network::Mainnet),
            0x10 => Some(Network::Testnet),
            0x20 => Some(Network::Devnet),
            _ => None,
        }
    }
}

/// Key algorithm (second payload byte). Only ed25519 (`0x01`, helium-crypto's value) exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// ed25519, byte `0x01`.
    Ed25519,
}

/// Errors decoding an address string.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    /// Not base58, or the checksum does not match.
    #[error("address {input:?} is not valid base58check: {reason}")]
    Encoding {
        /// The rejected input.
        input: String,
        /// The decoder's reason.
        reason: String,
    },
    /// The payload is not 34 bytes.
    #[error("address payload has {len} bytes, expected 34")]
    Length {
        /// Payload length found.
        len: usize,
    },
    /// Unknown network byte.
    #[error("unknown network byte {byte:#04x}")]
    Network {
        /// The byte found.
        byte: u8,
    },
    /// Unknown key-type byte.
    #[error("unknown key type byte {byte:#04x}")]
    KeyType {
        /// The byte found.
        byte: u8,
    },
}

/// An account or device address: a public key tagged with its network.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct Address {
    /// The network the address is for.
    pub network: Network,
    /// The ed25519 key.
    pub key: PublicKey,
}

impl Address {
    /// The address of `key` on `network`.
    pub fn new(network: Network, key: PublicKey) -> Address {
        Address { network, key }
    }

    /// Decodes and checks an address string for any network.
    pub fn parse(s: &str) -> Result<Address, AddressError> {
        let payload =
            bs58::decode(s)
                .with_check(None)
                .into_vec()
                .map_err(|e| AddressError::Encoding {
                    input: s.to_string(),
                    reason: e.to_string(),
                })?;
        let [net, kt, rest @ ..] = payload.as_slice() else {
            return Err(AddressError::Length { len: payload.len() });
        };
        let key: [u8; 32] = rest
            .try_into()
            .map_err(|_| AddressError::Length { len: payload.len() })?;
        let network = Network::from_byte(*net).ok_or(AddressError::Network { byte: *net })?;
        if *kt != 0x01 {
            return Err(AddressError::KeyType { byte: *kt });
        }
        Ok(Address {
            network,
            key: PublicKey(key),
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut payload = Vec::with_capacity(34);
        payload.push(self.network.byte());
        payload.push(0x01);
        payload.extend_from_slice(&self.key.0);
        f.write_str(&bs58::encode(payload).with_check().into_string())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        Address::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_round_trips_and_keeps_its_network() {
        let a = Address::new(Network::Testnet, PublicKey([9u8; 32]));
        let s = a.to_string();
        let b: Address = s.parse().unwrap();
        assert_eq!(a, b);
        assert_ne!(
            s,
            Address::new(Network::Mainnet, PublicKey([9u8; 32])).to_string()
        );
    }

    #[test]
    fn a_typo_fails_the_checksum() {
        let s = Address::new(Network::Devnet, PublicKey([3u8; 32])).to_string();
        let mut chars: Vec<char> = s.chars().collect();
        chars[10] = if chars[10] == 'a' { 'b' } else { 'a' };
        let typo: String = chars.into_iter().collect();
        assert!(matches!(
            Address::parse(&typo),
            Err(AddressError::Encoding { .. })
        ));
    }
}
