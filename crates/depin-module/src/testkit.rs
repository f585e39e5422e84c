//! Test helpers for crates that run modules without naming one (feature `testkit`): the
//! oracle's and other core crates' tests use [`Probe`] where any module will do.

use crate::{EpochInput, EpochOutcome, PayloadRejection, ResourceModule, Verdict};
use depin_types::{Amount, DeviceClassParams};

/// [`Probe`]'s module name.
pub const PROBE: &str = "probe";
/// [`Probe`]'s device class.
pub const PROBE_CLASS: &str = "probe";

/// The smallest module: reports with an empty payload, each valid report one share unit of
/// its device. Not for a real network (nothing is checked but the payload's emptiness).
#[derive(Clone, Copy, Debug, Default)]
pub struct Probe;

impl ResourceModule for Probe {
    fn name(&self) -> &'static str {
        PROBE
    }

    fn device_classes(&self) -> Vec<DeviceClassParams> {
        vec![DeviceClassParams {
            name: PROBE_CLASS.into(),
            location_bound: false,
            onboarding_fee_bones: Amount::ZERO,
            location_fee_bones: Amount::ZERO,
        }]
    }

    fn check_payload(&self, payload: &[u8]) -> Result<(), PayloadRejection> {
        if payload.is_empty() {
            return Ok(());
        }
        Err(PayloadRejection {
            code: "malformed_payload",
            message: format!("a probe report has no payload, got {} bytes", payload.len()),
        })
    }

    fn verify_epoch(&self, input: &EpochInput<'_>) -> EpochOutcome {
        let mut out = EpochOutcome::default();
        for r in input.reports {
            out.verdicts.push(&Verdict::Valid);
            *out.shares.entry(r.device).or_insert(0) += 1;
        }
        out
    }
}
