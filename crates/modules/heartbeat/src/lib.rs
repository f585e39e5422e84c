//! `heartbeat`: the smallest resource module. A device signs "up" once per interval; its
//! share of an epoch is the number of intervals it was seen up. It exercises the module
//! contract end to end (ingest, epoch verification, rewards) without any physical proof: real
//! modules (coverage, storage) replace the "up" claim with proofs of work.
//!
//! Interval: an epoch is cut into [`INTERVALS_PER_EPOCH`] equal intervals (the last one takes
//! the rounding). Payload: empty (the report's signed timestamp is the claim).
//!
//! Verdict reason codes: `unregistered_device` (not in the registry at the epoch's last
//! block), `inactive_device`, `wrong_device_class`, `out_of_window` (timestamp outside the
//! epoch), `duplicate_interval` (a valid heartbeat of the same device and interval came
//! first in log order).
//!
//! Agent (feature `agent`): [`agent::HeartbeatAgent`] sends one signed report per interval;
//! `depin agent heartbeat` (feature `cli`) runs it.

#[cfg(feature = "agent")]
pub mod agent;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "registration")]
pub mod registration;
#[cfg(feature = "registration")]
pub use registration::registration;

use depin_module::{EpochInput, EpochOutcome, PayloadRejection, ResourceModule, Verdict, Verdicts};
use depin_types::{Amount, DeviceClassParams, Report};
use std::collections::{BTreeMap, BTreeSet};

/// Module name, as in reports and genesis.
pub const NAME: &str = "heartbeat";
/// Device class this module rewards.
pub const CLASS: &str = "sensor";
/// Intervals per epoch; a device earns at most this many share units per epoch.
pub const INTERVALS_PER_EPOCH: u64 = 12;

/// The heartbeat module.
#[derive(Clone, Copy, Debug, Default)]
pub struct Heartbeat;

impl Heartbeat {
    /// Interval index of `timestamp_ms` within an epoch `[start_ms, end_ms)`, or `None`
    /// outside it.
    pub fn interval(start_ms: u64, end_ms: u64, timestamp_ms: u64) -> Option<u64> {
        if timestamp_ms < start_ms || timestamp_ms >= end_ms {
            return None;
        }
        let len = ((end_ms - start_ms) / INTERVALS_PER_EPOCH).max(1);
        Some(((timestamp_ms - start_ms) / len).min(INTERVALS_PER_EPOCH - 1))
    }

    fn verdict(
        input: &EpochInput<'_>,
        r: &Report,
        seen: &mut BTreeSet<([u8; 32], u64)>,
    ) -> Verdict {
        let invalid = Verdict::invalid;
        let Some(dev) = input.snapshot.devices.get(&r.device) else {
            return invalid("unregistered_device");
        };
        if !dev.active {
            return invalid("inactive_device");
        }
        if dev.class != CLASS {
            return invalid("wrong_device_class");
        }
        let Some(i) = Self::interval(input.start_ms, input.end_ms, r.timestamp_ms) else {
            return invalid("out_of_window");
        };
        if !seen.insert((r.device.0, i)) {
            return invalid("duplicate_interval");
        }
        Verdict::Valid
    }
}

impl ResourceModule for Heartbeat {
    fn name(&self) -> &'static str {
        NAME
    }

    fn device_classes(&self) -> Vec<DeviceClassParams> {
        vec![DeviceClassParams {
            name: CLASS.into(),
            location_bound: false,
            onboarding_fee_bones: Amount(100_000_000),
            location_fee_bones: Amount::ZERO,
        }]
    }

    fn check_payload(&self, payload: &[u8]) -> Result<(), PayloadRejection> {
        if payload.is_empty() {
            return Ok(());
        }
        Err(PayloadRejection {
            code: "malformed_payload",
            message: format!("a heartbeat payload is empty, got {} bytes", payload.len()),
        })
    }

    fn verify_epoch(&self, input: &EpochInput<'_>) -> EpochOutcome {
        let mut seen = BTreeSet::new();
        let mut shares: BTreeMap<_, u128> = BTreeMap::new();
        let verdicts: Verdicts = input
            .reports
            .iter()
            .map(|r| {
                let v = Self::verdict(input, r, &mut seen);
                if v == Verdict::Valid {
                    *shares.entry(r.device).or_insert(0) += 1;
                }
                v
            })
            .collect();
        assert_eq!(
            verdicts.len(),
            input.reports.len(),
            "one verdict per report"
        );
        EpochOutcome {
            verdicts,
            shares,
            ..EpochOutcome::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use depin_module::{DeviceInfo, LedgerSnapshot};
    use depin_types::{Hash32, PublicKey};

    fn report(dev: u8, ts: u64) -> Report {
        Report {
            chain_id: "t".into(),
            module: NAME.into(),
            device: PublicKey([dev; 32]),
            timestamp_ms: ts,
            payload: vec![],
        }
    }

    fn snapshot() -> LedgerSnapshot {
        let mut s = LedgerSnapshot::default();
        for (d, active, class) in [(1u8, true, CLASS), (2, false, CLASS), (3, true, "hotspot")] {
            let device = PublicKey([d; 32]);
            let info = DeviceInfo {
                device,
                owner: PublicKey([9; 32]),
                class: class.into(),
                location: None,
                antenna: None,
                active,
            };
            s.devices.insert(device, info);
        }
        s
    }

    #[test]
    fn each_rule_gives_its_reason_and_valid_intervals_make_the_share() {
        let snap = snapshot();
        let reports = [
            report(1, 1_000),
            report(1, 1_050), // same interval (len 100)
            report(1, 1_100),
            report(1, 2_200), // after the epoch
            report(2, 1_000),
            report(3, 1_000),
            report(4, 1_000),
        ];
        let input = EpochInput {
            epoch: 0,
            start_ms: 1_000,
            end_ms: 2_200,
            entropy: Hash32([0; 32]),
            reports: &reports.iter().collect::<Vec<_>>(),
            snapshot: &snap,
            pool_bones: Amount(1_000),
            carry: &[],
        };
        let out = Heartbeat.verify_epoch(&input);
        let codes: Vec<&str> = (0..out.verdicts.len())
            .map(|i| out.verdicts.code(i).expect("in range"))
            .collect();
        let expected = [
            "valid",
            "duplicate_interval",
            "valid",
            "out_of_window",
            "inactive_device",
            "wrong_device_class",
            "unregistered_device",
        ];
        assert_eq!(codes, expected);
        assert_eq!(out.shares.get(&PublicKey([1; 32])), Some(&2));
        assert_eq!(out.shares.len(), 1);
    }

    #[test]
    fn the_last_interval_takes_the_rounding() {
        assert_eq!(
            Heartbeat::interval(0, 1_000, 999),
            Some(INTERVALS_PER_EPOCH - 1)
        );
        assert_eq!(Heartbeat::interval(0, 1_000, 1_000), None);
        assert_eq!(Heartbeat::interval(0, 5, 4), Some(4));
    }

    #[test]
    fn a_non_empty_payload_is_refused() {
        assert!(Heartbeat.check_payload(&[]).is_ok());
        assert_eq!(
            Heartbeat.check_payload(&[1]).unwrap_err().code,
            "malformed_payload"
        );
    }
}
