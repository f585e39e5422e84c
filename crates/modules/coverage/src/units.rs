//! HIP-15 reward units: how a proof of coverage with `w` selected valid witnesses is
//! weighted for its beaconer and for each witness.
//!
//! With redundancy `N` (4), decay `R` (0.8) and cap (2), as run by helium/oracles
//! `iot_verifier/src/runner.rs` (`poc_beaconer_reward_unit`, `poc_per_witness_reward_unit`):
//! - beaconer: `0` if `w = 0`; `w / N` if `w ≤ N`; else `min(cap, 2 − R^(w−N))`;
//! - each witness: `0` if `w = 0`; `1` if `w ≤ N`; else `min(cap, (N − (1 − R^(w−N))) / w)`;
//!
//! both rounded to 4 decimals (banker's rounding).

use crate::hex_density::SCALE_DECIMALS;
use rust_decimal::Decimal;

/// The HIP-15 parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnitParams {
    /// Witnesses a beacon needs for its full beacon unit (`N`).
    pub redundancy: u32,
    /// Decay of the unit past `N` witnesses (`R`).
    pub decay: Decimal,
    /// Cap of a unit.
    pub cap: Decimal,
}

impl Default for UnitParams {
    /// HIP-15: `N = 4`, `R = 0.8`, cap 2.
    fn default() -> Self {
        UnitParams {
            redundancy: 4,
            decay: Decimal::new(8, 1),
            cap: Decimal::TWO,
        }
    }
}

/// `base^exp` by repeated multiplication (exact for the decays and witness counts in use;
/// saturates at zero if it ever underflowed the 28-digit precision).
fn pow(base: Decimal, exp: u32) -> Decimal {
    let mut out = Decimal::ONE;
    for _ in 0..exp {
        out = out.checked_mul(base).unwrap_or(Decimal::ZERO);
    }
    out
}

impl UnitParams {
    /// The beaconer's unit for `witnesses` selected valid witnesses.
    pub fn beaconer_unit(&self, witnesses: u32) -> Decimal {
        let unit = if witnesses == 0 {
            Decimal::ZERO
        } else if witnesses <= self.redundancy {
            Decimal::from(witnesses) / Decimal::from(self.redundancy)
        } else {
            let decayed = pow(self.decay, witnesses - self.redundancy);
            self.cap.min(Decimal::TWO - decayed)
        };
        unit.round_dp(SCALE_DECIMALS)
    }

    /// Each selected valid witness's unit when there are `witnesses` of them.
    pub fn witness_unit(&self, witnesses: u32) -> Decimal {
        let unit = if witnesses == 0 {
            Decimal::ZERO
        } else if witnesses <= self.redundancy {
            Decimal::ONE
        } else {
            let decayed = pow(self.decay, witnesses - self.redundancy);
            let n = Decimal::from(self.redundancy);
            self.cap
                .min((n - (Decimal::ONE - decayed)) / Decimal::from(witnesses))
        };
        unit.round_dp(SCALE_DECIMALS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HIP-15 with N = 4, R = 0.8, cap 2, computed by hand from the formula (4 decimals).
    const TABLE: [(u32, &str, &str); 15] = [
        (1, "0.2500", "1.0000"),
        (2, "0.5000", "1.0000"),
        (3, "0.7500", "1.0000"),
        (4, "1.0000", "1.0000"),
        (5, "1.2000", "0.7600"),
        (6, "1.3600", "0.6067"),
        (7, "1.4880", "0.5017"),
        (8, "1.5904", "0.4262"),
        (9, "1.6723", "0.3697"),
        (10, "1.7379", "0.3262"),
        (11, "1.7903", "0.2918"),
        (12, "1.8322", "0.2640"),
        (13, "1.8658", "0.2411"),
        (14, "1.8926", "0.2220"),
        (15, "1.9141", "0.2057"),
    ];

    #[test]
    fn hip15_units_for_one_to_fifteen_witnesses_match_the_table() {
        let u = UnitParams::default();
        for (w, beacon, witness) in TABLE {
            let b: Decimal = beacon.parse().expect("decimal");
            let x: Decimal = witness.parse().expect("decimal");
            assert_eq!(u.beaconer_unit(w), b, "beaconer unit for {w} witnesses");
            assert_eq!(u.witness_unit(w), x, "witness unit for {w} witnesses");
        }
        assert_eq!(u.beaconer_unit(0), Decimal::ZERO);
        assert_eq!(u.witness_unit(0), Decimal::ZERO);
    }
}
