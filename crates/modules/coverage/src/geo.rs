//! Geometry and radio physics of a witness check: great-circle distance between asserted
//! cells, res-11 grid distance, free-space path loss and the strongest signal a witness can
//! honestly report.
//!
//! Formulas and constants are helium/oracles `iot_verifier/src/poc.rs` (`calc_distance`,
//! `calc_cell_distance`, `calc_fpsl`, `calc_expected_rssi`). The signal bound is physics, not
//! money: it is computed in `f64` like the reference (IEEE-754 arithmetic and `log10` give the
//! same result on every oracle of one platform; money and shares never touch `f64`).

use h3o::{CellIndex, LatLng, Resolution};

/// Speed of light used by the path-loss formula, m/s (helium/oracles `C`).
pub const SPEED_OF_LIGHT_M_PER_S: f64 = 2.998e8;

/// Resolution at which the minimum witness distance is counted in grid cells.
pub const CELL_DISTANCE_RES: Resolution = Resolution::Eleven;

/// Errors of the geometry helpers.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum GeoError {
    /// A location is not a valid H3 cell.
    #[error("invalid h3 cell {index:#x}")]
    InvalidCell {
        /// The raw index.
        index: u64,
    },
    /// The cell is coarser than the resolution the distance is counted at.
    #[error("cell {index:#x} has no res-11 parent")]
    NoParent {
        /// The raw index.
        index: u64,
    },
    /// H3 cannot compute a grid distance between the cells (too far apart, or across a
    /// pentagon distortion).
    #[error("no grid distance between {from:#x} and {to:#x}")]
    NoGridDistance {
        /// First cell.
        from: u64,
        /// Second cell.
        to: u64,
    },
}

fn cell(index: u64) -> Result<CellIndex, GeoError> {
    CellIndex::try_from(index).map_err(|_| GeoError::InvalidCell { index })
}

/// An asserted place with what the checks derive from it computed once: the cell centre and
/// the res-11 parent (an epoch checks each hotspot against many others).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Site {
    /// The H3 cell.
    pub location: u64,
    /// Its centre.
    pub centre: LatLng,
    /// Its res-11 parent (`None` for cells coarser than res 11).
    pub parent: Option<CellIndex>,
}

impl Site {
    /// The site of `location`.
    ///
    /// Errors: [`GeoError::InvalidCell`].
    pub fn new(location: u64) -> Result<Site, GeoError> {
        let c = cell(location)?;
        Ok(Site {
            location,
            centre: LatLng::from(c),
            parent: c.parent(CELL_DISTANCE_RES),
        })
    }

    /// Great-circle distance between the centres, metres, rounded to the nearest.
    pub fn distance_m(&self, other: &Site) -> u32 {
        // A distance on Earth (< 20,040 km) always fits in u32 metres.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let d = self.centre.distance_m(other.centre).round() as u32;
        d
    }

    /// Grid distance between the res-11 parents.
    ///
    /// Errors: [`GeoError`] for a cell coarser than res 11 or an uncomputable distance.
    pub fn cell_distance(&self, other: &Site) -> Result<u32, GeoError> {
        let parent = |s: &Site| s.parent.ok_or(GeoError::NoParent { index: s.location });
        let d =
            parent(self)?
                .grid_distance(parent(other)?)
                .map_err(|_| GeoError::NoGridDistance {
                    from: self.location,
                    to: other.location,
                })?;
        Ok(d.unsigned_abs())
    }
}

/// Great-circle distance between the centres of two cells, metres, rounded to the nearest.
///
/// Errors: [`GeoError::InvalidCell`].
pub fn distance_m(a: u64, b: u64) -> Result<u32, GeoError> {
    Ok(Site::new(a)?.distance_m(&Site::new(b)?))
}

/// Grid distance between the res-11 parents of two cells.
///
/// Errors: [`GeoError`] for invalid cells or an uncomputable distance.
pub fn cell_distance(a: u64, b: u64) -> Result<u32, GeoError> {
    Site::new(a)?.cell_distance(&Site::new(b)?)
}

/// Free-space path loss in dB: `20 log10(4π d f / c)`.
pub fn fspl_db(freq_hz: u64, distance_m: u32) -> f64 {
    #[allow(clippy::cast_precision_loss)] // LoRa frequencies (< 2^53 Hz) are exact in f64
    let f = freq_hz as f64;
    20.0 * (4.0 * std::f64::consts::PI * f64::from(distance_m) * f / SPEED_OF_LIGHT_M_PER_S).log10()
}

/// The strongest signal (dBm) a witness at `distance_m` can receive from a beacon sent at
/// `tx_power_dbm` conducted power: `tx + ⌊gain_b/10⌋ − fspl + ⌊gain_w/10⌋`, gains in dBi×10
/// truncated to whole dB as the reference does.
pub fn expected_rssi_dbm(
    tx_power_dbm: i32,
    freq_hz: u64,
    distance_m: u32,
    beacon_gain_ddbi: i32,
    witness_gain_ddbi: i32,
) -> f64 {
    f64::from(tx_power_dbm) + f64::from(beacon_gain_ddbi / 10) - fspl_db(freq_hz, distance_m)
        + f64::from(witness_gain_ddbi / 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_loss_grows_six_db_per_doubling_of_distance() {
        let d = fspl_db(915_000_000, 2000) - fspl_db(915_000_000, 1000);
        assert!((d - 20.0 * 2f64.log10()).abs() < 1e-9, "{d}");
    }

    #[test]
    fn an_invalid_cell_is_an_error_not_a_panic() {
        assert_eq!(distance_m(1, 2), Err(GeoError::InvalidCell { index: 1 }));
        assert!(cell_distance(0x8c2a1072d04e1ff, 7).is_err());
    }
}
