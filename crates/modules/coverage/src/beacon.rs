//! Beacon construction. A beacon's payload, channel, data rate and power follow from the
//! epoch's entropy, the beaconer's key, the beacon interval and the beaconer's region plan,
//! so the oracle rebuilds every beacon and refuses one that differs (`invalid_packet`), and
//! nobody can prepare beacons before the epoch's entropy exists (Helium: gateway-rs
//! `Beacon::new` from remote and local entropy).
//!
//! - `seed = SHA-256(DOMAIN ‖ entropy ‖ beaconer ‖ interval u64 BE)`;
//! - payload: the first [`BEACON_DATA_BYTES`] of `SHA-256(seed ‖ 0) ‖ SHA-256(seed ‖ 1)`;
//! - channel: `u64 BE(seed[0..8]) mod channels`;
//! - data rate: the slowest spreading factor (highest SF, longest range) of that channel
//!   whose maximum packet fits the payload;
//! - conducted power: `min(MAX_TX_POWER_DBM, ⌊(max EIRP − antenna gain) / 10⌋)` dBm, so the
//!   radiated power stays within the region's limit.

use crate::region::Channel;
use depin_types::{Hash32, PublicKey};
use sha2::{Digest, Sha256};

/// Domain tag of beacon seeds.
pub const DOMAIN_BEACON: &[u8] = b"depin/coverage/beacon/v1";
/// Beacon payload size, bytes (Helium's PoC payload is 51 bytes).
pub const BEACON_DATA_BYTES: usize = 51;
/// Highest conducted power a hotspot radio sends, dBm (SX1302 concentrators: 27).
pub const MAX_TX_POWER_DBM: i32 = 27;

/// A beacon as it must be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Beacon {
    /// Payload bytes.
    pub data: Vec<u8>,
    /// Frequency, Hz.
    pub frequency_hz: u64,
    /// Data rate, e.g. `SF9`.
    pub spreading: String,
    /// Conducted power, dBm.
    pub tx_power_dbm: i32,
}

/// Errors building a beacon.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum BeaconError {
    /// The region has no channels.
    #[error("the region's channel plan is empty")]
    NoChannels,
    /// No spreading factor of the chosen channel carries the payload.
    #[error("no data rate of {frequency_hz} Hz carries {bytes} bytes")]
    NoDataRate {
        /// The channel.
        frequency_hz: u64,
        /// Payload size.
        bytes: usize,
    },
}

/// The spreading factor of a data rate name (`SF9` → 9), 0 if it is not one.
pub fn spreading_factor(sf: &str) -> u32 {
    sf.strip_prefix("SF")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Builds the beacon `beaconer` must send in `interval` of the epoch with `entropy`.
///
/// Errors: [`BeaconError`] when the plan cannot carry a beacon.
pub fn build(
    entropy: &Hash32,
    beaconer: &PublicKey,
    interval: u64,
    plan: &[Channel],
    gain_ddbi: i32,
) -> Result<Beacon, BeaconError> {
    let seed: [u8; 32] = Sha256::new()
        .chain_update(DOMAIN_BEACON)
        .chain_update(entropy.0)
        .chain_update(beaconer.0)
        .chain_update(interval.to_be_bytes())
        .finalize()
        .into();
    let mut data = Vec::with_capacity(64);
    for i in 0u8..2 {
        data.extend_from_slice(
            &Sha256::new()
                .chain_update(seed)
                .chain_update([i])
                .finalize(),
        );
    }
    data.truncate(BEACON_DATA_BYTES);
    if plan.is_empty() {
        return Err(BeaconError::NoChannels);
    }
    let pick = u64::from_be_bytes(seed[..8].try_into().expect("8 bytes"));
    let channel = &plan[usize::try_from(pick % plan.len() as u64).expect("index < len")];
    let spreading = channel
        .spreading
        .iter()
        .filter(|(_, max)| usize::try_from(*max).is_ok_and(|m| m >= data.len()))
        .max_by_key(|(sf, _)| spreading_factor(sf))
        .map(|(sf, _)| sf.clone())
        .ok_or(BeaconError::NoDataRate {
            frequency_hz: channel.frequency_hz,
            bytes: data.len(),
        })?;
    let tx_power_dbm = MAX_TX_POWER_DBM.min((channel.max_eirp_ddbm - gain_ddbi) / 10);
    Ok(Beacon {
        data,
        frequency_hz: channel.frequency_hz,
        spreading,
        tx_power_dbm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Vec<Channel> {
        let mut p = crate::region::uniform_plan(903_900_000, 8);
        p.iter_mut()
            .for_each(|c| c.spreading.push(("SF7".to_string(), 256)));
        p
    }

    #[test]
    fn the_same_inputs_build_the_same_beacon_and_another_interval_a_different_one() {
        let (e, k) = (Hash32([7; 32]), PublicKey([9; 32]));
        let a = build(&e, &k, 3, &plan(), 12).expect("beacon");
        assert_eq!(a, build(&e, &k, 3, &plan(), 12).expect("beacon"));
        assert_ne!(a.data, build(&e, &k, 4, &plan(), 12).expect("beacon").data);
        assert_eq!(a.data.len(), BEACON_DATA_BYTES);
        assert_eq!(a.spreading, "SF9", "slowest rate that carries 51 bytes");
        assert_eq!(
            a.tx_power_dbm, 27,
            "36 dBm EIRP − 1.2 dBi is capped at 27 dBm"
        );
    }

    #[test]
    fn data_rate_names_give_their_spreading_factor() {
        assert_eq!(spreading_factor("SF12"), 12);
        assert_eq!(spreading_factor("LR"), 0);
    }

    #[test]
    fn an_empty_plan_cannot_beacon() {
        let r = build(&Hash32([0; 32]), &PublicKey([1; 32]), 0, &[], 12);
        assert_eq!(r, Err(BeaconError::NoChannels));
    }
}
