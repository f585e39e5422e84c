//! `coverage`: Helium-style proof of coverage for location-bound radio networks, and paid
//! data transfer.
//!
//! Hotspots (device class `hotspot`) assert an H3 res-12 location, antenna gain and
//! elevation at onboarding. Each beacon interval a hotspot sends one beacon whose payload,
//! channel, data rate and power follow from the epoch's entropy ([`beacon`]); hotspots that
//! hear it report witnesses (signal, SNR, frequency, time). The oracle verifies every beacon
//! and witness with Helium's checks ([`checks`], codes in [`reason`]), applies HIP-106
//! reciprocity across epochs ([`state`]), selects the first 14 valid witnesses (HIP-83),
//! weights them by HIP-15 units ([`units`]) and HIP-17 hex density ([`hex_density`]), and
//! splits the module's pool as Helium IoT does ([`reward_share`]). Packets forwarded for a
//! payer are charged to its delegated credits (24 bytes per credit) and earn the
//! data-transfer pool. Regions and channel plans come from Helium's region maps ([`region`]).
//!
//! Data flow: reports ([`payload`]) → [`CoverageModule::verify_epoch`] → verdicts, exact
//! rewards in bones (the oracle pays them as computed), usage charges, and the reciprocity
//! state carried into the next epoch. Agents (feature `agent`): [`agent`]; commands (feature
//! `cli`): `depin coverage hex-scales`, `depin agent hotspot|fleet`; the node route the
//! explorer's map reads (feature `node`): `api`.

#[cfg(feature = "agent")]
pub mod agent;
#[cfg(feature = "node")]
pub mod api;
pub mod beacon;
pub mod checks;
#[cfg(feature = "cli")]
pub mod cli;
pub mod geo;
pub mod hex_density;
pub mod params;
pub mod payload;
pub mod reason;
mod records;
pub mod region;
#[cfg(feature = "registration")]
pub mod registration;
pub mod reward_share;
pub mod state;
pub mod units;
mod verify;

#[cfg(feature = "registration")]
pub use registration::registration;

pub use params::{CoverageParams, ParamsError};
pub use region::RegionCatalog;

use depin_module::{
    EpochCollector, EpochContext, EpochInput, EpochOutcome, LedgerSnapshot, PayloadRejection,
    ResourceModule,
};
use depin_types::{Amount, DeviceClassParams, PublicKey};
use hex_density::HexScales;
use std::collections::BTreeSet;

/// The hash map of an epoch's hot lookup tables (hotspots, frames, shares, densities, the
/// reciprocity state). Only looked up, removed from, or sorted before it reaches an outcome:
/// its iteration order never does. foldhash with a per-process random seed: several times
/// faster than SipHash on 32-byte keys, and device-chosen keys cannot aim at collisions.
#[allow(clippy::disallowed_types)] // order-free use, as stated above
pub(crate) type Lookup<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Module name, as in reports and genesis.
pub const NAME: &str = "coverage";
/// Device class this module rewards.
pub const CLASS: &str = "hotspot";

/// The coverage module: its parameters, region catalog and denylist.
#[derive(Clone, Debug)]
pub struct CoverageModule {
    params: CoverageParams,
    regions: RegionCatalog,
    deny: BTreeSet<PublicKey>,
    deny_edges: BTreeSet<(PublicKey, PublicKey)>,
}

fn edge(a: PublicKey, b: PublicKey) -> (PublicKey, PublicKey) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

impl CoverageModule {
    /// A module with validated `params` and a region catalog.
    ///
    /// Errors: [`ParamsError`] for out-of-range parameters.
    pub fn new(params: CoverageParams, regions: RegionCatalog) -> Result<Self, ParamsError> {
        params.validate()?;
        let deny = params.denylist.iter().map(|a| a.key).collect();
        let deny_edges = params
            .denied_edges
            .iter()
            .map(|(a, b)| edge(a.key, b.key))
            .collect();
        Ok(CoverageModule {
            params,
            regions,
            deny,
            deny_edges,
        })
    }

    /// The parameters.
    pub fn params(&self) -> &CoverageParams {
        &self.params
    }

    /// The region catalog.
    pub fn regions(&self) -> &RegionCatalog {
        &self.regions
    }

    /// Whether `key` is denylisted.
    pub fn denied(&self, key: &PublicKey) -> bool {
        self.deny.contains(key)
    }

    /// Whether the witness edge `a`–`b` is denylisted.
    pub fn denied_edge(&self, a: &PublicKey, b: &PublicKey) -> bool {
        self.deny_edges.contains(&edge(*a, *b))
    }

    /// HIP-17 scales of the registry's active, asserted hotspots.
    pub fn hex_scales(&self, snapshot: &LedgerSnapshot) -> HexScales {
        let cells = snapshot
            .devices
            .values()
            .filter(|d| d.active && d.class == CLASS)
            .filter_map(|d| d.location)
            .filter_map(|l| h3o::CellIndex::try_from(l.index()).ok());
        HexScales::compute(cells)
    }
}

impl ResourceModule for CoverageModule {
    fn name(&self) -> &'static str {
        NAME
    }

    fn device_classes(&self) -> Vec<DeviceClassParams> {
        vec![DeviceClassParams {
            name: CLASS.into(),
            location_bound: true,
            onboarding_fee_bones: Amount(400_000_000),
            location_fee_bones: Amount(100_000_000),
        }]
    }

    /// One beacon per 6 hours where that divides the epoch, else one per epoch.
    fn genesis_params(&self, epoch_length_ms: u64) -> String {
        let six_hours_ms = CoverageParams::default().beacon_interval_ms;
        let interval = if epoch_length_ms % six_hours_ms == 0 {
            six_hours_ms
        } else {
            epoch_length_ms
        };
        serde_json::json!({ "beacon_interval_ms": interval }).to_string()
    }

    fn check_payload(&self, payload: &[u8]) -> Result<(), PayloadRejection> {
        payload::CoveragePayload::decode(payload)
            .map(|_| ())
            .map_err(|e| PayloadRejection {
                code: e.code(),
                message: e.to_string(),
            })
    }

    fn verify_epoch(&self, input: &EpochInput<'_>) -> EpochOutcome {
        let mut c = Box::new(verify::Collector::new(self, EpochContext::of(input)));
        for r in input.reports {
            c.push(r);
        }
        c.finish()
    }

    fn collector<'a>(&'a self, context: EpochContext<'a>) -> Box<dyn EpochCollector + 'a> {
        Box::new(verify::Collector::new(self, context))
    }
}
