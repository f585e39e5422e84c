//! The physical witness checks, pure: frequency, minimum and maximum distance, and the
//! free-space signal bound (helium/oracles `iot_verifier/src/poc.rs`: `verify_witness_freq`,
//! `verify_witness_cell_distance`, `verify_witness_distance`, `verify_witness_rssi`).
//! Each returns the reason code of the first failed check.

use crate::geo;
use crate::payload::WitnessReport;
use crate::reason;
use crate::CoverageParams;

/// A radio at its asserted place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Radio {
    /// Asserted H3 cell.
    pub location: u64,
    /// Antenna gain, dBi × 10.
    pub gain_ddbi: i32,
}

/// `invalid_frequency` when the witness heard more than the tolerance off the beacon.
///
/// Errors: the reason code.
pub fn frequency(p: &CoverageParams, beacon_hz: u64, witness_hz: u64) -> Result<(), &'static str> {
    if beacon_hz.abs_diff(witness_hz) > p.frequency_tolerance_hz {
        return Err(reason::INVALID_FREQUENCY);
    }
    Ok(())
}

/// `below_min_distance` (res-11 grid distance under the minimum), `max_distance_exceeded`
/// (whole kilometres over the maximum), then `bad_rssi` (a signal, dBm×10 / 10, above the
/// free-space bound at the asserted distance).
///
/// Errors: the reason code.
pub fn distance_and_signal(
    p: &CoverageParams,
    beaconer: Radio,
    tx_power_dbm: i32,
    witness: Radio,
    heard: &WitnessReport,
) -> Result<(), &'static str> {
    let b = geo::Site::new(beaconer.location).map_err(|_| reason::BELOW_MIN_DISTANCE)?;
    let w = geo::Site::new(witness.location).map_err(|_| reason::BELOW_MIN_DISTANCE)?;
    let beaconer = (&b, beaconer.gain_ddbi);
    distance_and_signal_at(p, beaconer, tx_power_dbm, (&w, witness.gain_ddbi), heard)
}

/// [`distance_and_signal`] between precomputed sites `(site, gain dBi × 10)`.
///
/// Errors: the reason code.
pub fn distance_and_signal_at(
    p: &CoverageParams,
    (b, b_gain_ddbi): (&geo::Site, i32),
    tx_power_dbm: i32,
    (w, w_gain_ddbi): (&geo::Site, i32),
    heard: &WitnessReport,
) -> Result<(), &'static str> {
    let cells = b.cell_distance(w).map_err(|_| reason::BELOW_MIN_DISTANCE)?;
    if cells < p.min_cell_distance {
        return Err(reason::BELOW_MIN_DISTANCE);
    }
    let distance_m = b.distance_m(w);
    if distance_m / 1000 > p.max_distance_km {
        return Err(reason::MAX_DISTANCE_EXCEEDED);
    }
    let bound = geo::expected_rssi_dbm(
        tx_power_dbm,
        heard.frequency_hz,
        distance_m,
        b_gain_ddbi,
        w_gain_ddbi,
    );
    if f64::from(heard.signal_ddbm) / 10.0 > bound {
        return Err(reason::BAD_RSSI);
    }
    Ok(())
}
