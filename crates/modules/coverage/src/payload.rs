//! Report payloads of the coverage module (borsh). The report envelope already carries the
//! device key and its signed timestamp: for a beacon the time it was sent, for a witness the
//! time it was heard, for a packet the time it was forwarded.

use borsh::{BorshDeserialize, BorshSerialize};
use depin_types::{Hash32, PublicKey};

/// Largest beacon or witnessed payload, bytes (a LoRa frame is at most 255).
pub const MAX_FRAME_BYTES: usize = 255;
/// Largest payload of a coverage report, bytes.
pub const MAX_PAYLOAD_BYTES: usize = 512;

/// What a hotspot reports.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum CoveragePayload {
    /// A beacon the hotspot transmitted.
    Beacon(BeaconReport),
    /// A beacon the hotspot heard.
    Witness(WitnessReport),
    /// A paid data packet the hotspot forwarded for a payer.
    Packet(PacketReport),
}

/// A transmitted beacon, as the beaconer states it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BeaconReport {
    /// The entropy the beacon was built from (the epoch's first block hash).
    pub entropy: Hash32,
    /// Beacon payload bytes.
    pub data: Vec<u8>,
    /// Frequency, Hz.
    pub frequency_hz: u64,
    /// Data rate, e.g. `SF9`.
    pub spreading: String,
    /// Conducted transmit power, dBm.
    pub tx_power_dbm: i32,
}

/// A heard beacon.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct WitnessReport {
    /// The payload bytes heard (matched against the epoch's beacons).
    pub data: Vec<u8>,
    /// Received signal strength, dBm × 10.
    pub signal_ddbm: i32,
    /// Signal-to-noise ratio, dB × 10.
    pub snr_ddb: i32,
    /// Frequency heard, Hz.
    pub frequency_hz: u64,
}

/// A forwarded data packet.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct PacketReport {
    /// The key whose delegated credits pay for the packet.
    pub payer: PublicKey,
    /// Payload size, bytes.
    pub payload_bytes: u32,
    /// Hash of the packet (distinguishes packets of equal size and time).
    pub packet_hash: Hash32,
}

/// Errors decoding a payload.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// Larger than [`MAX_PAYLOAD_BYTES`].
    #[error("payload of {len} bytes is over {max}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a borsh [`CoveragePayload`].
    #[error("payload does not decode: {reason}")]
    Malformed {
        /// Why.
        reason: String,
    },
    /// A frame larger than [`MAX_FRAME_BYTES`] or empty.
    #[error("frame of {len} bytes is outside 1..={max}")]
    BadFrame {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl PayloadError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            PayloadError::TooLarge { .. } => "payload_too_large",
            PayloadError::Malformed { .. } => "malformed_payload",
            PayloadError::BadFrame { .. } => "bad_frame_size",
        }
    }
}

impl CoveragePayload {
    /// Encodes to borsh, in a buffer of exactly its size (`borsh::to_vec` reserves 1 KiB,
    /// which a report would keep for its lifetime).
    pub fn to_bytes(&self) -> Vec<u8> {
        let len = borsh::object_length(self).expect("a payload's length is countable");
        let mut out = Vec::with_capacity(len);
        BorshSerialize::serialize(self, &mut out).expect("writing to a Vec cannot fail");
        out
    }

    /// Decodes and checks sizes.
    ///
    /// Errors: [`PayloadError`].
    pub fn decode(bytes: &[u8]) -> Result<CoveragePayload, PayloadError> {
        if bytes.len() > MAX_PAYLOAD_BYTES {
            let (len, max) = (bytes.len(), MAX_PAYLOAD_BYTES);
            return Err(PayloadError::TooLarge { len, max });
        }
        let p = CoveragePayload::try_from_slice(bytes).map_err(|e| PayloadError::Malformed {
            reason: e.to_string(),
        })?;
        let frame = match &p {
            CoveragePayload::Beacon(b) => Some(b.data.len()),
            CoveragePayload::Witness(w) => Some(w.data.len()),
            CoveragePayload::Packet(_) => None,
        };
        if let Some(len) = frame.filter(|l| *l == 0 || *l > MAX_FRAME_BYTES) {
            return Err(PayloadError::BadFrame {
                len,
                max: MAX_FRAME_BYTES,
            });
        }
        Ok(p)
    }
}
