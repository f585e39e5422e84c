//! The supply audit: recomputes every sum from the raw state entries and checks
//! `genesis + minted − burned = Σ balances + Σ bonded + Σ unbonding + unclaimed rewards
//! + Σ escrow balances`.

use crate::components::{bank, escrow, rewards, staking};
use crate::error::StateError;
use serde::Serialize;

/// The audit's figures, in bones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SupplyAudit {
    /// `genesis + minted − burned` from the supply record.
    pub outstanding: u128,
    /// Σ account balances.
    pub balances: u128,
    /// Σ bonded stake.
    pub bonded: u128,
    /// Σ unbonding stake.
    pub unbonding: u128,
    /// Rewards minted by effective epoch roots and not yet claimed.
    pub unclaimed_rewards: u128,
    /// Σ escrow account balances.
    pub escrowed: u128,
    /// Whether both sides are equal.
    pub ok: bool,
}

fn decode<T: borsh::BorshDeserialize>(k: &[u8], v: &[u8]) -> Result<T, StateError> {
    borsh::from_slice(v).map_err(|e| StateError {
        message: format!("corrupt value at {}: {e}", String::from_utf8_lossy(k)),
    })
}

fn add(a: u128, b: u128) -> Result<u128, StateError> {
    a.checked_add(b).ok_or(StateError {
        message: "supply sum overflows".into(),
    })
}

/// Audits the supply over every `(key, value)` entry of a state (in any order).
///
/// Errors: a corrupt entry or a sum that overflows `u128`.
pub fn audit_supply<'a>(
    entries: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<SupplyAudit, StateError> {
    let (mut balances, mut bonded, mut unbonding) = (0u128, 0u128, 0u128);
    let (mut unclaimed_rewards, mut escrowed) = (0u128, 0u128);
    let mut supply = bank::Supply::default();
    for (k, v) in entries {
        if k.starts_with(bank::ACCOUNT_PREFIX) {
            balances = add(balances, decode::<bank::Account>(k, v)?.balance.bones())?;
        } else if k.starts_with(staking::STAKE_PREFIX) {
            let st: staking::Stake = decode(k, v)?;
            bonded = add(bonded, st.bonded.bones())?;
            unbonding = add(unbonding, st.unbonding.bones())?;
        } else if k.starts_with(escrow::ACCOUNT_PREFIX) {
            let a: escrow::EscrowAccount = decode(k, v)?;
            escrowed = add(escrowed, a.balance.bones())?;
        } else if k == rewards::UNCLAIMED_KEY {
            unclaimed_rewards = decode(k, v)?;
        } else if k == bank::SUPPLY_KEY {
            supply = decode(k, v)?;
        }
    }
    let outstanding = supply.outstanding()?.bones();
    let held = add(add(add(balances, bonded)?, unbonding)?, unclaimed_rewards)?;
    let held = add(held, escrowed)?;
    Ok(SupplyAudit {
        outstanding,
        balances,
        bonded,
        unbonding,
        unclaimed_rewards,
        escrowed,
        ok: outstanding == held,
    })
}
