//! The coverage module's reward rule: Helium IoT's split of an epoch's emission between
//! beacons, witnesses and data transfer.
//!
//! As run by helium/oracles `iot_verifier/src/reward_share.rs`:
//! - pools: beacons `6 %`, witnesses `24 %`, data transfer up to `50 %` of the emission;
//!   operations `7 %` and oracles `7 %` are set aside (here: to the genesis remainder account);
//! - the credits spent through hotspots are valued in bones (rounded up to 15 decimals); data
//!   transfer pays at most that value, capped by its pool, and the unused part of the data
//!   pool goes to beacons and witnesses `20 / 80`;
//! - `per share = pool / Σ shares` rounded to 15 decimals (banker's rounding), and each
//!   hotspot gets `per share × its shares` truncated to whole bones.
//!
//! All arithmetic is `rust_decimal`; nothing here is `f64`.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Decimals of per-share rates and credit values (helium/oracles `DEFAULT_PREC`).
pub const SHARE_DECIMALS: u32 = 15;

/// How an epoch's coverage emission is cut (fractions of the emission).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSplit {
    /// Beacons (Helium: 0.06).
    pub beacon: Decimal,
    /// Witnesses (Helium: 0.24).
    pub witness: Decimal,
    /// Data transfer, at most (Helium: 0.50).
    pub data_transfer: Decimal,
    /// Operations fund (Helium: 0.07); paid to the remainder account here.
    pub operations: Decimal,
    /// Oracles (Helium: 0.07); paid to the remainder account here.
    pub oracles: Decimal,
    /// Share of the unused data-transfer pool added to beacons (Helium: 0.20).
    pub beacon_remainder: Decimal,
    /// Share of the unused data-transfer pool added to witnesses (Helium: 0.80).
    pub witness_remainder: Decimal,
}

impl Default for PoolSplit {
    /// Helium IoT's split.
    fn default() -> Self {
        PoolSplit {
            beacon: Decimal::new(6, 2),
            witness: Decimal::new(24, 2),
            data_transfer: Decimal::new(50, 2),
            operations: Decimal::new(7, 2),
            oracles: Decimal::new(7, 2),
            beacon_remainder: Decimal::new(20, 2),
            witness_remainder: Decimal::new(80, 2),
        }
    }
}

/// Errors of a pool split.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// A fraction below zero.
    #[error("pool fraction {field} is negative: {value}")]
    Negative {
        /// The field.
        field: &'static str,
        /// Its value.
        value: Decimal,
    },
    /// Pools add up to more than the emission.
    #[error("pool fractions add up to {sum}, more than 1")]
    OverOne {
        /// The sum.
        sum: Decimal,
    },
    /// The remainder fractions do not add up to 1.
    #[error("beacon_remainder + witness_remainder = {sum}, not 1")]
    RemainderNotOne {
        /// The sum.
        sum: Decimal,
    },
}

impl PoolSplit {
    /// Checks the fractions: none negative, pools ≤ 1 in all, remainders = 1.
    ///
    /// Errors: [`SplitError`].
    pub fn validate(&self) -> Result<(), SplitError> {
        let fields = [
            ("beacon", self.beacon),
            ("witness", self.witness),
            ("data_transfer", self.data_transfer),
            ("operations", self.operations),
            ("oracles", self.oracles),
            ("beacon_remainder", self.beacon_remainder),
            ("witness_remainder", self.witness_remainder),
        ];
        if let Some((field, value)) = fields.iter().find(|(_, v)| v.is_sign_negative()) {
            return Err(SplitError::Negative {
                field,
                value: *value,
            });
        }
        let sum = self.beacon + self.witness + self.data_transfer + self.operations + self.oracles;
        if sum > Decimal::ONE {
            return Err(SplitError::OverOne { sum });
        }
        let rem = self.beacon_remainder + self.witness_remainder;
        if rem != Decimal::ONE {
            return Err(SplitError::RemainderNotOne { sum: rem });
        }
        Ok(())
    }
}

/// What one spent data credit is worth in bones: `numerator / denominator` (a chain with a
/// fixed credit price uses `credit_price_bones / 1`; Helium uses `$0.00001 / price per bone`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreditValue {
    /// Numerator.
    pub numerator: Decimal,
    /// Denominator (> 0).
    pub denominator: Decimal,
}

impl CreditValue {
    /// Bones worth of `credits`, rounded up at [`SHARE_DECIMALS`] (helium/oracles
    /// `dc_to_hnt_bones`).
    pub fn bones(&self, credits: Decimal) -> Decimal {
        assert!(
            self.denominator > Decimal::ZERO,
            "credit value denominator > 0"
        );
        (credits * self.numerator / self.denominator)
            .round_dp_with_strategy(SHARE_DECIMALS, RoundingStrategy::ToPositiveInfinity)
    }
}

/// One hotspot's shares of an epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HotspotShares {
    /// Σ over its valid beacons of `hex scale × beaconer unit`.
    pub beacon: Decimal,
    /// Σ over its selected valid witnesses of `hex scale × witness unit`.
    pub witness: Decimal,
    /// Data credits spent through it.
    pub data_credits: Decimal,
}

/// One hotspot's reward, bones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HotspotReward {
    /// For beacons.
    pub beacon_bones: u128,
    /// For witnesses.
    pub witness_bones: u128,
    /// For data transfer.
    pub data_transfer_bones: u128,
}

impl HotspotReward {
    /// Sum of the three parts.
    pub fn total_bones(&self) -> u128 {
        self.beacon_bones + self.witness_bones + self.data_transfer_bones
    }
}

/// The pools of one epoch and the rewards they pay.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RewardSplit<K> {
    /// Beacon pool (with its part of the unused data pool), bones.
    pub beacon_pool: Decimal,
    /// Witness pool (with its part of the unused data pool), bones.
    pub witness_pool: Decimal,
    /// Data-transfer rewards paid out at most: `min(value of credits spent, data pool)`.
    pub data_transfer_pool: Decimal,
    /// Unused part of the data-transfer pool (moved to beacons and witnesses).
    pub data_transfer_unused: Decimal,
    /// Rewards of every hotspot that earns something (zero rewards are left out).
    pub rewards: BTreeMap<K, HotspotReward>,
}

fn per_share(pool: Decimal, shares: Decimal) -> Decimal {
    if shares > Decimal::ZERO {
        (pool / shares)
            .round_dp_with_strategy(SHARE_DECIMALS, RoundingStrategy::MidpointNearestEven)
    } else {
        Decimal::ZERO
    }
}

fn pay(rate: Decimal, shares: Decimal) -> u128 {
    (rate * shares)
        .round_dp_with_strategy(0, RoundingStrategy::ToZero)
        .to_u128()
        .unwrap_or(0)
}

/// Splits `emission_bones` between the hotspots' `shares` by `split`, valuing spent
/// credits with `credit`. Σ rewards ≤ emission × (beacon + witness + data transfer).
pub fn split_rewards<K: Ord + Clone>(
    emission_bones: Decimal,
    shares: &BTreeMap<K, HotspotShares>,
    split: &PoolSplit,
    credit: &CreditValue,
) -> RewardSplit<K> {
    let (mut beacon, mut witness, mut credits) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for s in shares.values() {
        beacon += s.beacon;
        witness += s.witness;
        credits += s.data_credits;
    }
    let data_pool = emission_bones * split.data_transfer;
    let data_used = credit.bones(credits);
    let (unused, data_paid) = if data_used <= data_pool {
        (data_pool - data_used, data_used)
    } else {
        (Decimal::ZERO, data_pool)
    };
    let beacon_pool = emission_bones * split.beacon + unused * split.beacon_remainder;
    let witness_pool = emission_bones * split.witness + unused * split.witness_remainder;
    let rates = (
        per_share(beacon_pool, beacon),
        per_share(witness_pool, witness),
        per_share(data_paid, credits),
    );
    let rewards = shares
        .iter()
        .map(|(k, s)| {
            let r = HotspotReward {
                beacon_bones: pay(rates.0, s.beacon),
                witness_bones: pay(rates.1, s.witness),
                data_transfer_bones: pay(rates.2, s.data_credits),
            };
            (k.clone(), r)
        })
        .filter(|(_, r)| r.total_bones() > 0)
        .collect();
    RewardSplit {
        beacon_pool,
        witness_pool,
        data_transfer_pool: data_paid,
        data_transfer_unused: unused,
        rewards,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helium_split_is_valid_and_a_bad_one_is_refused() {
        assert_eq!(PoolSplit::default().validate(), Ok(()));
        let over = PoolSplit {
            data_transfer: Decimal::new(70, 2),
            ..PoolSplit::default()
        };
        assert!(matches!(over.validate(), Err(SplitError::OverOne { .. })));
        let rem = PoolSplit {
            beacon_remainder: Decimal::new(30, 2),
            ..PoolSplit::default()
        };
        assert!(matches!(
            rem.validate(),
            Err(SplitError::RemainderNotOne { .. })
        ));
    }

    #[test]
    fn nobody_with_shares_means_nobody_paid() {
        let shares: BTreeMap<u8, HotspotShares> = BTreeMap::from([(1, HotspotShares::default())]);
        let one = CreditValue {
            numerator: Decimal::ONE,
            denominator: Decimal::ONE,
        };
        let r = split_rewards(Decimal::from(1000), &shares, &PoolSplit::default(), &one);
        assert!(r.rewards.is_empty());
        assert_eq!(r.data_transfer_unused, Decimal::from(500));
    }
}
