//! Transactions built from a published manifest: an oracle's attestation of its root and
//! effects ([`attestation_of`]), and an owner's reward claim (the owner's leaf, its index and
//! its Merkle proof over all the manifest's leaves, [`claim_for`]).

use crate::settle::Manifest;
use depin_types::rewards::reward_leaf;
use depin_types::tx::{penalty_list, usage_debits, RewardsAction, MAX_PENALTIES, MAX_USAGE_DEBITS};
use depin_types::{merkle, Address, Amount, Hash32, PublicKey};

/// Why no claim could be built.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ClaimError {
    /// The owner has no leaf in the manifest.
    #[error("{owner} has no reward in epoch {epoch}")]
    NoReward {
        /// The owner.
        owner: String,
        /// The epoch.
        epoch: u64,
    },
    /// The manifest's leaves do not parse or do not hash to its root.
    #[error("manifest of epoch {epoch} is inconsistent: {reason}")]
    BadManifest {
        /// The epoch.
        epoch: u64,
        /// What is wrong.
        reason: String,
    },
}

/// The attestation of `m`: its root and emission, the usage debits (merged by payer) and the
/// penalties (merged by device and deal) it records.
///
/// Errors: [`ClaimError::BadManifest`] for a root or emission that does not parse, usage or
/// penalties that overflow or exceed [`MAX_USAGE_DEBITS`] / [`MAX_PENALTIES`].
pub fn attestation_of(m: &Manifest) -> Result<RewardsAction, ClaimError> {
    let bad = |reason: &str| ClaimError::BadManifest {
        epoch: m.epoch,
        reason: reason.into(),
    };
    let root: Hash32 = m.root.parse().map_err(|_| bad("bad root"))?;
    let total = Amount(m.emission_bones.parse().map_err(|_| bad("bad total"))?);
    let usage = usage_debits(m.usage.iter().map(|u| (u.payer, u.credits)))
        .filter(|u| u.len() <= MAX_USAGE_DEBITS)
        .ok_or_else(|| bad("usage overflows or has too many payers"))?;
    let penalties = penalty_list(m.penalties.iter().cloned())
        .filter(|p| p.len() <= MAX_PENALTIES)
        .ok_or_else(|| bad("penalties overflow or are too many"))?;
    Ok(RewardsAction::AttestRoot {
        epoch: m.epoch,
        root,
        total,
        usage,
        penalties,
    })
}

/// The manifest's payouts, in leaf order.
///
/// Errors: [`ClaimError::BadManifest`] if a leaf does not parse or the leaves do not hash to
/// the manifest's root.
pub fn payouts(m: &Manifest) -> Result<Vec<(PublicKey, Amount)>, ClaimError> {
    checked_leaves(m).map(|(p, _)| p)
}

/// The manifest's payouts and their leaf hashes, checked against its root.
#[allow(clippy::type_complexity)] // a private pair, named by its one caller
fn checked_leaves(m: &Manifest) -> Result<(Vec<(PublicKey, Amount)>, Vec<Hash32>), ClaimError> {
    let bad = |reason: String| ClaimError::BadManifest {
        epoch: m.epoch,
        reason,
    };
    let mut out = Vec::with_capacity(m.owners.len());
    for (i, o) in m.owners.iter().enumerate() {
        let a: Address = o
            .owner
            .parse()
            .map_err(|_| bad(format!("owners[{i}].owner")))?;
        let amount: u128 = o
            .amount_bones
            .parse()
            .map_err(|_| bad(format!("owners[{i}].amount_bones")))?;
        if o.index != i as u64 {
            return Err(bad(format!("owners[{i}].index is {}", o.index)));
        }
        out.push((a.key, Amount(amount)));
    }
    let leaves: Vec<Hash32> = out
        .iter()
        .map(|(o, a)| reward_leaf(m.epoch, o, *a))
        .collect();
    if merkle::root(&leaves).to_hex() != m.root {
        return Err(bad("leaves do not hash to the root".into()));
    }
    Ok((out, leaves))
}

/// The claim of `owner`'s reward in `m`.
///
/// Errors: [`ClaimError`].
pub fn claim_for(m: &Manifest, owner: &PublicKey) -> Result<RewardsAction, ClaimError> {
    let (p, leaves) = checked_leaves(m)?;
    let index = p.iter().position(|(o, _)| o == owner);
    let index = index.ok_or_else(|| ClaimError::NoReward {
        owner: owner.to_hex(),
        epoch: m.epoch,
    })?;
    let proof = merkle::proof(&leaves, index).expect("the index is in range");
    Ok(RewardsAction::Claim {
        epoch: m.epoch,
        owner: *owner,
        amount: p[index].1,
        index: index as u64,
        leaf_count: p.len() as u64,
        proof,
    })
}
