//! `staking`: bonded stake, the unbonding queue, and the slashing entry point.
//!
//! Keys: `staking/stake/<key>` → [`Stake`]; `staking/queue/<height u64 BE>` → list of
//! [`Unbonding`] released at that height (every height is visited once, in order, so the queue
//! needs no range scan).

use crate::components::{bank, storage, TxContext};
use crate::error::{ReasonCode, StateError};
use crate::state::{get, Overlay, StateRead};
use crate::TxError;
use borsh::{BorshDeserialize, BorshSerialize};
use depin_types::tx::StakingAction;
use depin_types::{Amount, PublicKey};
use serde::{Deserialize, Serialize};

/// Key prefix of stakes.
pub const STAKE_PREFIX: &[u8] = b"staking/stake/";
/// Key prefix of the unbonding queue.
pub const QUEUE_PREFIX: &[u8] = b"staking/queue/";
/// Most unbonding entries released at one height (one per transaction of a full block).
pub const MAX_RELEASES_PER_BLOCK: usize = 100_000;

/// One account's stake.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct Stake {
    /// Bones bonded.
    pub bonded: Amount,
    /// Bones unbonding (still slashable, not spendable).
    pub unbonding: Amount,
}

/// An unbonding entry in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Unbonding {
    /// The account.
    pub owner: PublicKey,
    /// Bones to release.
    pub amount: Amount,
}

/// Errors of the `staking` component.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StakingError {
    /// Unbonding more than is bonded.
    #[error("insufficient bonded stake: bonded {bonded} bones, requested {requested} bones")]
    InsufficientBonded {
        /// Bones bonded.
        bonded: u128,
        /// Bones requested.
        requested: u128,
    },
    /// Unbonding would leave less bonded than the storage collateral the account owes.
    #[error("collateral locked: {required} bones must stay bonded, {remaining} would")]
    CollateralLocked {
        /// Bones that must stay bonded.
        required: u128,
        /// Bones that would stay bonded.
        remaining: u128,
    },
    /// A stake would overflow `u128`.
    #[error("stake overflow")]
    Overflow,
}

impl ReasonCode for StakingError {
    fn code(&self) -> &'static str {
        match self {
            StakingError::InsufficientBonded { .. } => "insufficient_bonded",
            StakingError::CollateralLocked { .. } => "collateral_locked",
            StakingError::Overflow => "stake_overflow",
        }
    }
}

/// State key of an account's stake.
pub fn stake_key(who: &PublicKey) -> Vec<u8> {
    [STAKE_PREFIX, &who.0].concat()
}

fn queue_key(height: u64) -> Vec<u8> {
    [QUEUE_PREFIX, &height.to_be_bytes()[..]].concat()
}

/// Reads an account's stake.
pub fn stake(s: &impl StateRead, who: &PublicKey) -> Result<Stake, StateError> {
    Ok(get(s, &stake_key(who))?.unwrap_or_default())
}

/// Stateful check of a staking action.
pub fn check(
    s: &impl StateRead,
    ctx: &TxContext<'_>,
    action: &StakingAction,
) -> Result<(), TxError> {
    match action {
        StakingAction::Bond { amount } => bank::check_transfer(s, ctx, *amount),
        StakingAction::Unbond { amount } => {
            let st = stake(s, &ctx.signer)?;
            if st.bonded < *amount {
                return Err(StakingError::InsufficientBonded {
                    bonded: st.bonded.bones(),
                    requested: amount.bones(),
                }
                .into());
            }
            let required = storage::required_collateral(s, &ctx.signer)?;
            let remaining = st.bonded.bones() - amount.bones(); // amount <= bonded
            if remaining < required.bones() {
                let required = required.bones();
                return Err(StakingError::CollateralLocked {
                    required,
                    remaining,
                }
                .into());
            }
            Ok(())
        }
    }
}

/// Executes a staking action (after [`check`] passed).
pub fn execute(
    s: &mut Overlay<'_>,
    ctx: &TxContext<'_>,
    action: &StakingAction,
) -> Result<(), TxError> {
    let mut st = stake(s, &ctx.signer)?;
    match action {
        StakingAction::Bond { amount } => {
            bank::debit(s, &ctx.signer, *amount)?;
            st.bonded = st
                .bonded
                .checked_add(*amount)
                .map_err(|_| StakingError::Overflow)?;
        }
        StakingAction::Unbond { amount } => {
            st.bonded = st
                .bonded
                .checked_sub(*amount)
                .map_err(|_| StakingError::Overflow)?;
            st.unbonding = st
                .unbonding
                .checked_add(*amount)
                .map_err(|_| StakingError::Overflow)?;
            let release = ctx
                .height
                .saturating_add(ctx.params.unbonding_period_blocks);
            let mut queue: Vec<Unbonding> = get(s, &queue_key(release))?.unwrap_or_default();
            queue.push(Unbonding {
                owner: ctx.signer,
                amount: *amount,
            });
            s.put(queue_key(release), &queue);
        }
    }
    s.put(stake_key(&ctx.signer), &st);
    Ok(())
}

/// Releases the unbonding entries due at `height` back to their owners' balances. Called once
/// per block, before its transactions.
pub fn release_due(s: &mut Overlay<'_>, height: u64) -> Result<(), TxError> {
    let Some(queue) = get::<Vec<Unbonding>>(s, &queue_key(height))? else {
        return Ok(());
    };
    assert!(
        queue.len() <= MAX_RELEASES_PER_BLOCK,
        "unbonding queue over its bound"
    );
    for u in &queue {
        let mut st = stake(s, &u.owner)?;
        // A slash may have taken part of the unbonding stake first.
        let amount = st.unbonding.min(u.amount);
        st.unbonding = st
            .unbonding
            .checked_sub(amount)
            .map_err(|_| StakingError::Overflow)?;
        s.put(stake_key(&u.owner), &st);
        bank::credit(s, &u.owner, amount)?;
    }
    s.delete(queue_key(height));
    Ok(())
}

/// Takes `min(pool, want)` out of `pool` and returns it.
fn take_up_to(pool: &mut Amount, want: Amount) -> Amount {
    let taken = (*pool).min(want);
    *pool = Amount(pool.bones() - taken.bones()); // taken <= pool
    taken
}

/// Slashing entry point for resource modules: destroys up to `amount` bones of `who`'s stake,
/// bonded first, then unbonding (as Cosmos SDK slashes unbonding delegations). Returns the
/// bones actually slashed (less than `amount` if the stake is smaller). Burned bones are
/// recorded in the supply.
pub fn slash(s: &mut Overlay<'_>, who: &PublicKey, amount: Amount) -> Result<Amount, TxError> {
    let mut st = stake(s, who)?;
    let from_bonded = take_up_to(&mut st.bonded, amount);
    let rest = Amount(amount.bones() - from_bonded.bones()); // from_bonded <= amount
    let from_unbonding = take_up_to(&mut st.unbonding, rest);
    let total = Amount(from_bonded.bones() + from_unbonding.bones()); // both <= amount
    assert!(total <= amount, "a slash never takes more than asked");
    s.put(stake_key(who), &st);
    bank::record_burn(s, total)?;
    Ok(total)
}
