//! One hotspot: it builds the beacon the oracle expects from the epoch's entropy, signs it,
//! and signs what it heard of other hotspots' beacons (gateway-rs `beaconer` and
//! `poc_iot_injector` roles, with the radio replaced by the simulator).

use super::radio::Reception;
use crate::beacon::{self, Beacon, BeaconError};
use crate::payload::{BeaconReport, CoveragePayload, PacketReport, WitnessReport};
use crate::region::Channel;
use crate::NAME;
use depin_types::{Antenna, Hash32, Location, PublicKey, Report, SecretKey, SignedReport};
use sha2::{Digest, Sha256};

/// Domain tag of a hotspot's beacon time within an interval.
const DOMAIN_BEACON_TIME: &[u8] = b"depin/agent/beacon-time/v1";

/// A hotspot agent.
#[derive(Clone, Debug)]
pub struct HotspotAgent {
    /// The device key (signs its reports).
    pub device: SecretKey,
    /// Chain id written into reports.
    pub chain_id: String,
    /// Asserted location.
    pub location: Location,
    /// Asserted antenna.
    pub antenna: Antenna,
    /// Its region's channel plan.
    pub plan: Vec<Channel>,
}

impl HotspotAgent {
    fn signed(&self, at_ms: u64, payload: &CoveragePayload) -> SignedReport {
        Report {
            chain_id: self.chain_id.clone(),
            module: NAME.into(),
            device: self.device.public(),
            timestamp_ms: at_ms,
            payload: payload.to_bytes(),
        }
        .sign(&self.device)
    }

    /// The beacon of `interval` under `entropy`, and its signed report stamped `at_ms`.
    ///
    /// Errors: [`BeaconError`] when the plan cannot carry a beacon.
    pub fn beacon(
        &self,
        entropy: &Hash32,
        interval: u64,
        at_ms: u64,
    ) -> Result<(Beacon, SignedReport), BeaconError> {
        let key = self.device.public();
        let b = beacon::build(entropy, &key, interval, &self.plan, self.antenna.gain_ddbi)?;
        let report = self.signed(
            at_ms,
            &CoveragePayload::Beacon(BeaconReport {
                entropy: *entropy,
                data: b.data.clone(),
                frequency_hz: b.frequency_hz,
                spreading: b.spreading.clone(),
                tx_power_dbm: b.tx_power_dbm,
            }),
        );
        Ok((b, report))
    }

    /// The signed witness of a beacon carrying `data`, as the radio received it.
    pub fn witness(&self, data: &[u8], heard: &Reception) -> SignedReport {
        self.signed(
            heard.at_ms,
            &CoveragePayload::Witness(WitnessReport {
                data: data.to_vec(),
                signal_ddbm: heard.signal_ddbm,
                snr_ddb: heard.snr_ddb,
                frequency_hz: heard.frequency_hz,
            }),
        )
    }

    /// The signed report of a sensor packet of `payload_bytes` this hotspot forwarded for
    /// `payer` at `at_ms` (`packet_hash` names the packet).
    pub fn packet(
        &self,
        payer: PublicKey,
        payload_bytes: u32,
        packet_hash: Hash32,
        at_ms: u64,
    ) -> SignedReport {
        self.signed(
            at_ms,
            &CoveragePayload::Packet(PacketReport {
                payer,
                payload_bytes,
                packet_hash,
            }),
        )
    }

    /// When in an interval of `interval_ms` this hotspot beacons, ms after its start: spread
    /// evenly over `[margin_ms, interval_ms − margin_ms)` by the entropy and the key, so the
    /// network's beacons do not all fall at once (Helium gateways pick a random moment).
    pub fn beacon_offset_ms(&self, entropy: &Hash32, interval_ms: u64, margin_ms: u64) -> u64 {
        let span = interval_ms.saturating_sub(2 * margin_ms).max(1);
        let h: [u8; 32] = Sha256::new()
            .chain_update(DOMAIN_BEACON_TIME)
            .chain_update(entropy.0)
            .chain_update(self.device.public().0)
            .finalize()
            .into();
        margin_ms + u64::from_be_bytes(h[..8].try_into().expect("8 bytes")) % span
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::uniform_plan;

    fn agent(seed: u8) -> HotspotAgent {
        HotspotAgent {
            device: SecretKey::from_seed([seed; 32]),
            chain_id: "t".into(),
            location: Location::parse("8c2a1072d04e1ff").expect("cell"),
            antenna: Antenna {
                gain_ddbi: 12,
                elevation_m: 5,
            },
            plan: uniform_plan(903_900_000, 8),
        }
    }

    #[test]
    fn a_beacon_report_is_signed_and_carries_the_expected_beacon() {
        let a = agent(1);
        let (b, r) = a.beacon(&Hash32([3; 32]), 2, 1_000).expect("beacon");
        let key = a.device.public();
        key.verify(&r.report.signing_bytes(), &r.signature)
            .expect("signed by the device");
        let expected = beacon::build(&Hash32([3; 32]), &a.device.public(), 2, &a.plan, 12);
        assert_eq!(Ok(b.clone()), expected);
        let Ok(CoveragePayload::Beacon(p)) = CoveragePayload::decode(&r.report.payload) else {
            panic!("a beacon payload");
        };
        assert_eq!((p.data, p.tx_power_dbm), (b.data, b.tx_power_dbm));
    }

    #[test]
    fn beacon_offsets_stay_within_the_margins() {
        for seed in 0..50 {
            let o = agent(seed).beacon_offset_ms(&Hash32([seed; 32]), 60_000, 5_000);
            assert!((5_000..55_000).contains(&o), "{o}");
        }
    }
}
