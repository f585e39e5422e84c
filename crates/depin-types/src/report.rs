//! Signed device reports: what a device's agent sends to an oracle (an uptime ping, a witness, a
//! storage proof, …). The engine sees only the envelope; the payload belongs to the resource
//! module named in it.
//!
//! What is signed: `DOMAIN_REPORT || borsh(Report)`. The chain id is inside, so a report is
//! valid for one network only, and the domain tag keeps it from ever being a transaction. The
//! report id (the oracle's receipt id) is SHA-256 of those same bytes.

use crate::crypto::{PublicKey, SecretKey, Signature};
use crate::hash::Hash32;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Domain tag of report signatures and ids.
pub const DOMAIN_REPORT: &[u8] = b"depin/report/v1\0";
/// Longest module name, in bytes.
pub const MAX_MODULE_NAME_BYTES: usize = 32;

/// One device report.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Report {
    /// The network this report is for.
    pub chain_id: String,
    /// The resource module that reads `payload` (its registered name).
    pub module: String,
    /// The reporting device's key (it signs).
    pub device: PublicKey,
    /// When the device made the report, ms since the Unix epoch (the device's clock; the
    /// oracle accepts it only within its window).
    pub timestamp_ms: u64,
    /// Module-specific body (borsh).
    pub payload: Vec<u8>,
}

/// A report with the device's ed25519 signature over [`Report::signing_bytes`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedReport {
    /// The report.
    pub report: Report,
    /// Signature by `report.device`.
    pub signature: Signature,
}

/// The oracle's answer for one report of a batch in its binary reply (borsh
/// `Vec<ReportOutcome>`, in request order), which a client asks for with
/// `Accept: application/octet-stream`; the JSON reply carries the same with hex ids.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ReportOutcome {
    /// Durable; `id` is the receipt id (see [`Report::id`]).
    Acknowledged {
        /// Receipt id.
        id: Hash32,
        /// The report's epoch.
        epoch: u64,
    },
    /// Refused, with the oracle's stable reason code (e.g. `duplicate_report`).
    Refused {
        /// Reason code.
        code: String,
        /// Detail.
        message: String,
    },
}

impl ReportOutcome {
    /// The receipt id, if acknowledged.
    pub fn id(&self) -> Option<Hash32> {
        match self {
            ReportOutcome::Acknowledged { id, .. } => Some(*id),
            ReportOutcome::Refused { .. } => None,
        }
    }

    /// The reason code, if refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            ReportOutcome::Acknowledged { .. } => None,
            ReportOutcome::Refused { code, .. } => Some(code),
        }
    }
}

impl Report {
    /// The exact bytes the device signs: `DOMAIN_REPORT || borsh(self)`.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = DOMAIN_REPORT.to_vec();
        BorshSerialize::serialize(self, &mut out).expect("writing to a Vec cannot fail");
        out
    }

    /// The report id: SHA-256 of [`Report::signing_bytes`] (not of the signature, which
    /// ZIP-215 lets a third party re-encode).
    pub fn id(&self) -> Hash32 {
        Hash32::digest_borsh(DOMAIN_REPORT, self)
    }

    /// Signs with the device key.
    pub fn sign(self, key: &SecretKey) -> SignedReport {
        let signature = key.sign(&self.signing_bytes());
        SignedReport {
            report: self,
            signature,
        }
    }
}

/// Bytes of a borsh length prefix (`u32`).
const LEN_PREFIX_BYTES: usize = 4;

impl Report {
    /// Length of `borsh(self)`, bytes, computed from the fields (no encoding).
    pub fn encoded_len(&self) -> usize {
        LEN_PREFIX_BYTES + self.chain_id.len()
            + LEN_PREFIX_BYTES + self.module.len()
            + 32 // device
            + 8 // timestamp_ms
            + LEN_PREFIX_BYTES + self.payload.len()
    }
}

impl SignedReport {
    /// Length of [`SignedReport::to_bytes`], bytes.
    pub fn encoded_len(&self) -> usize {
        self.report.encoded_len() + 64
    }

    /// The report id (see [`Report::id`]).
    pub fn id(&self) -> Hash32 {
        self.report.id()
    }

    /// Decodes a report as sent ([`SignedReport::to_bytes`]) and returns it with its
    /// [`Report::signing_bytes`], cut from `bytes` instead of encoded again: borsh has one
    /// encoding per value and the signature is the last 64 bytes, so `borsh(report)` is
    /// `bytes` without them.
    ///
    /// Errors: `bytes` is not exactly one borsh-encoded `SignedReport`.
    pub fn decode_signed(bytes: &[u8]) -> Result<(SignedReport, Vec<u8>), borsh::io::Error> {
        let sr: SignedReport = borsh::from_slice(bytes)?;
        let report_bytes = &bytes[..bytes.len() - 64];
        let mut msg = Vec::with_capacity(DOMAIN_REPORT.len() + report_bytes.len());
        msg.extend_from_slice(DOMAIN_REPORT);
        msg.extend_from_slice(report_bytes);
        debug_assert_eq!(msg, sr.report.signing_bytes(), "borsh is canonical");
        Ok((sr, msg))
    }

    /// Canonical borsh encoding, as sent to the oracle.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Exact capacity: `borsh::to_vec` would reserve 1 KiB for a ~200-byte report.
        let mut out = Vec::with_capacity(self.encoded_len());
        BorshSerialize::serialize(self, &mut out).expect("writing to a Vec cannot fail");
        debug_assert_eq!(
            out.len(),
            self.encoded_len(),
            "encoded_len follows the layout"
        );
        out
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_encoded_length_is_the_length_of_the_encoding() {
        let k = SecretKey::from_seed([4; 32]);
        for payload_len in [0usize, 1, 70, 4_000] {
            let r = Report {
                chain_id: "depin-devnet".into(),
                module: "probe".into(),
                device: k.public(),
                timestamp_ms: 7,
                payload: vec![9; payload_len],
            }
            .sign(&k);
            assert_eq!(r.to_bytes().len(), r.encoded_len());
            assert_eq!(borsh::to_vec(&r).expect("vec"), r.to_bytes());
        }
    }

    use super::*;

    #[test]
    fn decoding_cuts_the_signing_bytes_from_the_encoding_and_refuses_extra_bytes() {
        let k = SecretKey::from_seed([5; 32]);
        let r = Report {
            chain_id: "depin-devnet".into(),
            module: "probe".into(),
            device: k.public(),
            timestamp_ms: 1_700_000_000_000,
            payload: vec![1, 2, 3],
        }
        .sign(&k);
        let bytes = r.to_bytes();
        let (back, msg) = SignedReport::decode_signed(&bytes).expect("decodes");
        assert_eq!(back, r);
        assert_eq!(msg, r.report.signing_bytes());
        assert_eq!(k.public().verify(&msg, &r.signature), Ok(()));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(SignedReport::decode_signed(&longer).is_err());
        assert!(SignedReport::decode_signed(&bytes[..bytes.len() - 1]).is_err());
        assert!(SignedReport::decode_signed(&[]).is_err());
    }

    #[test]
    fn a_report_signature_does_not_cover_another_chain() {
        let sk = SecretKey::from_seed([3; 32]);
        let r = Report {
            chain_id: "a".into(),
            module: "probe".into(),
            device: sk.public(),
            timestamp_ms: 5,
            payload: vec![1, 2],
        }
        .sign(&sk);
        assert!(sk
            .public()
            .verify(&r.report.signing_bytes(), &r.signature)
            .is_ok());
        let mut other = r.clone();
        other.report.chain_id = "b".into();
        assert!(sk
            .public()
            .verify(&other.report.signing_bytes(), &other.signature)
            .is_err());
        assert_ne!(r.id(), other.id());
    }
}
