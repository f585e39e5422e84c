//! ed25519 keys and signatures with one verification rule everywhere: ZIP-215, as implemented
//! by `ed25519-consensus` (Zcash ZIP-215, <https://zips.z.cash/zip-0215>).
//!
//! Why ZIP-215: RFC 8032 leaves the validity of some edge-case signatures (non-canonical point
//! encodings, small-order components) to the implementation, so two honest validators could
//! disagree about a signature and fork. ZIP-215 fixes the verdict for every input and makes
//! batch verification agree exactly with single verification, so the node may verify a block's
//! signatures as one batch. Consequences, tested against the CCTV, Wycheproof and RFC 8032
//! vectors in `tests/it/ed25519_vectors.rs`:
//! - `s` must be canonical (`s < ℓ`), otherwise the signature is rejected;
//! - `A` and `R` may be non-canonical encodings and may have small-order components; the
//!   cofactored equation `[8][s]B = [8]R + [8][k]A` decides.
//!
//! Because `R` may be encoded several ways, a signature is malleable: never identify a signed
//! object by the hash of its signature. Transaction ids hash the signed payload only.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Errors from key parsing and signature verification.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum CryptoError {
    /// The 32 bytes are not a point encoding accepted by ZIP-215.
    #[error("malformed public key")]
    MalformedPublicKey,
    /// The signature does not verify under ZIP-215 for this key and message.
    #[error("invalid signature")]
    InvalidSignature,
    /// Hex input of the wrong length or alphabet.
    #[error("invalid hex for {what}: {reason}")]
    InvalidHex {
        /// What was being parsed.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
}

/// A 32-byte ed25519 public key (compressed Edwards point, as transmitted).
///
/// The bytes are kept as given; whether they form a valid key is decided at verification, so
/// that a malformed key is a verification failure with a reason code, never a panic.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct PublicKey(pub [u8; 32]);

/// A 64-byte ed25519 signature `R || s`.
#[derive(Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

/// An ed25519 signing key. Its bytes are zeroised on drop by `ed25519-consensus`.
#[derive(Clone)]
pub struct SecretKey(ed25519_consensus::SigningKey);

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> SecretKey {
        SecretKey(ed25519_consensus::SigningKey::new(rand_core::OsRng))
    }

    /// The key whose 32-byte seed is `seed` (RFC 8032 §5.1.5 "private key").
    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        SecretKey(ed25519_consensus::SigningKey::from(seed))
    }

    /// The 32-byte seed. Handle with care: whoever has it can sign.
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verification_key().to_bytes())
    }

    /// Signs `msg` exactly as given (callers prepend their domain tag).
    pub fn sign(&self, msg: &[u8]) -> Signature {
        Signature(self.0.sign(msg).to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public={})", self.public())
    }
}

impl PublicKey {
    /// Verifies `sig` over `msg` with the ZIP-215 rule.
    ///
    /// Errors: [`CryptoError::MalformedPublicKey`] if the key bytes do not decode,
    /// [`CryptoError::InvalidSignature`] otherwise.
    pub fn verify(&self, msg: &[u8], sig: &Signature) -> Result<(), CryptoError> {
        let vk = ed25519_consensus::VerificationKey::try_from(self.0)
            .map_err(|_| CryptoError::MalformedPublicKey)?;
        vk.verify(&ed25519_consensus::Signature::from(sig.0), msg)
            .map_err(|_| CryptoError::InvalidSignature)
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> Result<PublicKey, CryptoError> {
        parse_hex::<32>(s, "public key").map(PublicKey)
    }
}

impl Signature {
    /// Lowercase hex, 128 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 128 hex characters.
    pub fn from_hex(s: &str) -> Result<Signature, CryptoError> {
        parse_hex::<64>(s, "signature").map(Signature)
    }
}

fn parse_hex<const N: usize>(s: &str, what: &'static str) -> Result<[u8; N], CryptoError> {
    let bytes = hex::decode(s).map_err(|e| CryptoError::InvalidHex {
        what,
        reason: e.to_string(),
    })?;
    let got = bytes.len();
    bytes.try_into().map_err(|_| CryptoError::InvalidHex {
        what,
        reason: format!("expected {N} bytes, got {got}"),
    })
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

macro_rules! hex_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as Deserialize>::deserialize(d)?;
                <$t>::from_hex(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
hex_serde!(PublicKey);
hex_serde!(Signature);

/// Maximum signatures queued in one [`BatchVerifier`] before it must be verified.
pub const MAX_BATCH_SIGNATURES: usize = 65_536;

/// Verifies borrowed `(key bytes, signature bytes, message)` triples as one batch, with the
/// verdict of [`BatchVerifier::verify`] and without copying the messages (each is hashed into
/// its challenge as it is queued). At most [`MAX_BATCH_SIGNATURES`] triples.
///
/// Errors: [`CryptoError::InvalidSignature`] if any signature fails or any key is malformed.
///
/// # Panics
/// If more than [`MAX_BATCH_SIGNATURES`] triples are given (a caller bug: callers chunk).
pub fn verify_batch<'a>(
    items: impl IntoIterator<Item = (&'a [u8; 32], &'a [u8; 64], &'a [u8])>,
) -> Result<(), CryptoError> {
    let mut batch = ed25519_consensus::batch::Verifier::new();
    for (n, (key, sig, msg)) in items.into_iter().enumerate() {
        assert!(
            n < MAX_BATCH_SIGNATURES,
            "batch of more than {MAX_BATCH_SIGNATURES}"
        );
        let vk = ed25519_consensus::VerificationKeyBytes::from(*key);
        batch.queue((vk, ed25519_consensus::Signature::from(*sig), msg));
    }
    batch
        .verify(rand_core::OsRng)
        .map_err(|_| CryptoError::InvalidSignature)
}

/// Batch verification with the same ZIP-215 verdicts as [`PublicKey::verify`].
///
/// A batch either verifies as a whole or fails; on failure, callers that need to know which
/// signature is bad fall back to [`BatchVerifier::verify_each`].
#[derive(Default)]
pub struct BatchVerifier {
    items: Vec<([u8; 32], [u8; 64], Vec<u8>)>,
}

impl BatchVerifier {
    /// An empty batch.
    pub fn new() -> BatchVerifier {
        BatchVerifier::default()
    }

    /// Number of queued signatures.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Queues one signature. The message is copied.
    pub fn queue(&mut self, key: &PublicKey, msg: &[u8], sig: &Signature) {
        self.queue_owned(key, msg.to_vec(), sig);
    }

    /// Queues one signature, taking the message.
    pub fn queue_owned(&mut self, key: &PublicKey, msg: Vec<u8>, sig: &Signature) {
        assert!(
            self.items.len() < MAX_BATCH_SIGNATURES,
            "batch verifier is full"
        );
        self.items.push((key.0, sig.0, msg));
    }

    /// Verifies every queued signature at once. `Ok` means all are valid.
    ///
    /// Errors: [`CryptoError::InvalidSignature`] if any signature fails (or any key is
    /// malformed); use [`BatchVerifier::verify_each`] to find which.
    pub fn verify(&self) -> Result<(), CryptoError> {
        verify_batch(
            self.items
                .iter()
                .map(|(key, sig, msg)| (key, sig, msg.as_slice())),
        )
    }

    /// Verifies each signature on its own; the verdicts are in queue order.
    pub fn verify_each(&self) -> Vec<Result<(), CryptoError>> {
        self.items
            .iter()
            .map(|(key, sig, msg)| PublicKey(*key).verify(msg, &Signature(*sig)))
            .collect()
    }

    /// Batch-verifies, and on failure tells each signature's verdict, in queue order.
    pub fn verify_all(&self) -> Vec<Result<(), CryptoError>> {
        match self.verify() {
            Ok(()) => vec![Ok(()); self.items.len()],
            Err(_) => self.verify_each(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_message_and_key() {
        let sk = SecretKey::from_seed([7u8; 32]);
        let sig = sk.sign(b"hello");
        assert_eq!(sk.public().verify(b"hello", &sig), Ok(()));
        assert_eq!(
            sk.public().verify(b"hellp", &sig),
            Err(CryptoError::InvalidSignature)
        );
        let other = SecretKey::from_seed([8u8; 32]).public();
        assert_eq!(
            other.verify(b"hello", &sig),
            Err(CryptoError::InvalidSignature)
        );
    }

    #[test]
    fn batch_verdicts_agree_with_single_verdicts() {
        let mut batch = BatchVerifier::new();
        for i in 0..8u8 {
            let sk = SecretKey::from_seed([i; 32]);
            let msg = [i; 3];
            let mut sig = sk.sign(&msg);
            if i == 5 {
                sig.0[0] ^= 1;
            }
            batch.queue(&sk.public(), &msg, &sig);
        }
        assert!(batch.verify().is_err());
        let verdicts = batch.verify_all();
        assert_eq!(verdicts.iter().filter(|v| v.is_err()).count(), 1);
        assert!(verdicts[5].is_err());
    }
}
