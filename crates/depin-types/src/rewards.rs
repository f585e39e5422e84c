//! Reward settlement types shared by the ledger's `rewards` component, the oracle and the
//! CLI: the emission schedule, reward leaves and their Merkle commitment.
//!
//! An epoch's manifest pays `(owner, amount)` pairs; the leaves are
//! `DOMAIN_REWARD_LEAF || borsh((epoch, owner, amount_bones))`, sorted by owner key, committed
//! with [`crate::merkle`]. The remainder of the floored split is a leaf of the genesis
//! remainder account, so the leaves always sum to the epoch's emission.

use crate::amount::Amount;
use crate::crypto::PublicKey;
use crate::hash::Hash32;
use crate::merkle;

/// Domain tag of reward leaves.
pub const DOMAIN_REWARD_LEAF: &[u8] = b"depin/reward-leaf/v1\0";

/// Bones minted for `epoch`: `initial_bones >> (epoch / halving_interval_epochs)` (Helium and
/// Bitcoin style halving; a zero interval never halves).
pub fn emission_for_epoch(
    initial_bones: Amount,
    halving_interval_epochs: u64,
    epoch: u64,
) -> Amount {
    if halving_interval_epochs == 0 {
        return initial_bones;
    }
    let halvings = epoch / halving_interval_epochs;
    if halvings >= 128 {
        return Amount::ZERO;
    }
    Amount(initial_bones.0 >> halvings)
}

/// Bytes of one reward leaf.
pub fn reward_leaf_bytes(epoch: u64, owner: &PublicKey, amount: Amount) -> Vec<u8> {
    let mut out = DOMAIN_REWARD_LEAF.to_vec();
    borsh::BorshSerialize::serialize(&(epoch, owner, amount.0), &mut out)
        .expect("writing to a Vec cannot fail");
    out
}

/// Leaf hash of one reward.
pub fn reward_leaf(epoch: u64, owner: &PublicKey, amount: Amount) -> Hash32 {
    merkle::leaf_hash(&reward_leaf_bytes(epoch, owner, amount))
}

/// The reward root over `payouts`, which must be sorted by owner with each owner once.
///
/// # Panics
/// If `payouts` is not strictly sorted by owner (a caller bug, not input).
pub fn reward_root(epoch: u64, payouts: &[(PublicKey, Amount)]) -> Hash32 {
    assert!(
        payouts.windows(2).all(|w| w[0].0 < w[1].0),
        "payouts are strictly sorted by owner"
    );
    let leaves: Vec<Hash32> = payouts
        .iter()
        .map(|(o, a)| reward_leaf(epoch, o, *a))
        .collect();
    merkle::root(&leaves)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emission_halves_every_interval() {
        let e = |n| emission_for_epoch(Amount(1_000), 10, n).0;
        assert_eq!((e(0), e(9), e(10), e(25)), (1_000, 1_000, 500, 250));
        assert_eq!(emission_for_epoch(Amount(7), 0, 1 << 40).0, 7);
        assert_eq!(emission_for_epoch(Amount(u128::MAX), 1, 200).0, 0);
    }
}
