//! The coverage module's parameters: genesis `rewards.module_weights[coverage].params`
//! (JSON; every field optional, defaults are Helium IoT's), so a network can change them.

use crate::reward_share::{PoolSplit, SplitError};
use crate::units::UnitParams;
use depin_types::Address;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Most denylist entries (keys plus edges).
pub const MAX_DENYLIST: usize = 100_000;

/// Parameters of the coverage module.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoverageParams {
    /// One beacon per hotspot per interval, ms; must divide the epoch length (Helium: 6 h).
    pub beacon_interval_ms: u64,
    /// Witnesses rewarded per beacon, earliest first (HIP-83: 14).
    pub max_witnesses_per_poc: u32,
    /// HIP-15 witness redundancy `N` (4).
    pub witness_redundancy: u32,
    /// HIP-15 decay `R` (0.8).
    pub reward_decay: Decimal,
    /// HIP-15 unit cap (2).
    pub reward_unit_cap: Decimal,
    /// Emission split (beacons 6 %, witnesses 24 %, data transfer 50 %, …).
    pub pools: PoolSplit,
    /// Bytes one data credit pays for (Helium: 24); a packet costs at least 1 credit.
    pub bytes_per_credit: u32,
    /// Latest a witness may be heard after its beacon, ms (4,000).
    pub max_beacon_to_witness_lag_ms: u64,
    /// Latest a witness may be heard after the first witness, when a witness came before
    /// the beacon, ms (1,500).
    pub max_witness_lag_ms: u64,
    /// Farthest a witness may be from the beaconer, km (100).
    pub max_distance_km: u32,
    /// Nearest a witness may be, in res-11 grid cells (8).
    pub min_cell_distance: u32,
    /// Largest frequency difference between beacon and witness, Hz (100 kHz).
    pub frequency_tolerance_hz: u64,
    /// HIP-106 reciprocity window, ms (48 h).
    pub reciprocity_window_ms: u64,
    /// Denylisted hotspots (Helium's denylist): their beacons and witnesses are refused.
    pub denylist: Vec<Address>,
    /// Denylisted edges: witness links between these pairs are refused (either direction).
    pub denied_edges: Vec<(Address, Address)>,
}

impl Default for CoverageParams {
    fn default() -> Self {
        let units = UnitParams::default();
        CoverageParams {
            beacon_interval_ms: 6 * 3_600_000,
            max_witnesses_per_poc: 14,
            witness_redundancy: units.redundancy,
            reward_decay: units.decay,
            reward_unit_cap: units.cap,
            pools: PoolSplit::default(),
            bytes_per_credit: 24,
            max_beacon_to_witness_lag_ms: 4_000,
            max_witness_lag_ms: 1_500,
            max_distance_km: 100,
            min_cell_distance: 8,
            frequency_tolerance_hz: 100_000,
            reciprocity_window_ms: 48 * 3_600_000,
            denylist: Vec::new(),
            denied_edges: Vec::new(),
        }
    }
}

/// Errors of coverage parameters.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ParamsError {
    /// The JSON does not parse.
    #[error("coverage params do not parse: {reason}")]
    Parse {
        /// Why.
        reason: String,
    },
    /// A field is out of range.
    #[error("coverage param {field} is invalid: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The pool split is invalid.
    #[error(transparent)]
    Split(#[from] SplitError),
}

impl CoverageParams {
    /// Parses and validates `json` (empty text means all defaults).
    ///
    /// Errors: [`ParamsError`].
    pub fn from_json(json: &str) -> Result<CoverageParams, ParamsError> {
        let p: CoverageParams = if json.trim().is_empty() {
            CoverageParams::default()
        } else {
            serde_json::from_str(json).map_err(|e| ParamsError::Parse {
                reason: e.to_string(),
            })?
        };
        p.validate()?;
        Ok(p)
    }

    /// Checks ranges.
    ///
    /// Errors: [`ParamsError`].
    pub fn validate(&self) -> Result<(), ParamsError> {
        let invalid = |field, reason: &str| ParamsError::Invalid {
            field,
            reason: reason.to_string(),
        };
        if self.beacon_interval_ms == 0 {
            return Err(invalid("beacon_interval_ms", "must be positive"));
        }
        if self.max_witnesses_per_poc == 0 || self.witness_redundancy == 0 {
            return Err(invalid("max_witnesses_per_poc", "counts must be positive"));
        }
        if self.reward_decay <= Decimal::ZERO || self.reward_decay >= Decimal::ONE {
            return Err(invalid("reward_decay", "must be in (0, 1)"));
        }
        if self.bytes_per_credit == 0 {
            return Err(invalid("bytes_per_credit", "must be positive"));
        }
        if self.denylist.len() + self.denied_edges.len() > MAX_DENYLIST {
            return Err(invalid("denylist", "too many entries"));
        }
        self.pools.validate()?;
        Ok(())
    }

    /// The HIP-15 unit parameters.
    pub fn units(&self) -> UnitParams {
        UnitParams {
            redundancy: self.witness_redundancy,
            decay: self.reward_decay,
            cap: self.reward_unit_cap,
        }
    }

    /// Credits a packet of `bytes` costs: `⌈bytes / bytes_per_credit⌉`, at least 1.
    pub fn packet_credits(&self, bytes: u32) -> u64 {
        u64::from(bytes.div_ceil(self.bytes_per_credit).max(1))
    }
}
