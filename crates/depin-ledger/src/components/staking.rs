//! `staking`: bonded stake, the unbonding queue, and the slashing entry point.
//!
//! Keys: `staking/stake/<key>` → [`Stake`]; `staking/queue/<height u64 BE>` → list of
//! [`Unbonding`] released at that height (every height is visited once, in order, so the queue
//! needs no range scan); `staking/validators` → the genesis BFT validator set (list of keys);
//! `staking/slashed/<validator><view u64 BE>` → `()` once a validator was slashed for a view.

use crate::components::{bank, TxContext};
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
/// Key of the BFT validator set (genesis `validators`; empty on a solo chain).
pub const VALIDATORS_KEY: &[u8] = b"staking/validators";
/// Key prefix of the (validator, view) pairs already slashed.
pub const SLASHED_PREFIX: &[u8] = b"staking/slashed/";
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
    /// Unbonding would leave less bonded than the collateral the account owes its modules
    /// (`LedgerModule::required_collateral`).
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
    /// A validator-only action by, or against, a key outside the validator set.
    #[error("{key} is not a validator")]
    NotAValidator {
        /// The key, hex.
        key: String,
    },
    /// The validator was already slashed for this view.
    #[error("validator {key} was already slashed for view {view}")]
    AlreadySlashed {
        /// The validator, hex.
        key: String,
        /// The view.
        view: u64,
    },
    /// An equivocation proof over [`depin_types::tx::MAX_EVIDENCE_BYTES`] or of an unknown kind.
    #[error("invalid evidence: {reason}")]
    InvalidEvidence {
        /// Why.
        reason: String,
    },
}

impl ReasonCode for StakingError {
    fn code(&self) -> &'static str {
        match self {
            StakingError::InsufficientBonded { .. } => "insufficient_bonded",
            StakingError::CollateralLocked { .. } => "collateral_locked",
            StakingError::Overflow => "stake_overflow",
            StakingError::NotAValidator { .. } => "not_a_validator",
            StakingError::AlreadySlashed { .. } => "already_slashed",
            StakingError::InvalidEvidence { .. } => "invalid_evidence",
        }
    }
}

/// State key of an account's stake.
pub fn stake_key(who: &PublicKey) -> Vec<u8> {
    [STAKE_PREFIX, &who.0].concat()
}

fn slashed_key(validator: &PublicKey, view: u64) -> Vec<u8> {
    [SLASHED_PREFIX, &validator.0, &view.to_be_bytes()[..]].concat()
}

/// The BFT validator set (empty on a solo chain).
pub fn validators(s: &impl StateRead) -> Result<Vec<PublicKey>, StateError> {
    Ok(get(s, VALIDATORS_KEY)?.unwrap_or_default())
}

/// Kinds of equivocation a [`StakingAction::SlashValidator`] may name.
pub const EVIDENCE_KINDS: [&str; 3] = [
    "conflicting_notarize",
    "conflicting_finalize",
    "nullify_finalize",
];

/// Who may report, against whom, how big, and only once (the proof's signatures are checked
/// by consensus, see [`StakingAction::SlashValidator`]).
fn check_slash(
    s: &impl StateRead,
    reporter: &PublicKey,
    validator: &PublicKey,
    view: u64,
    (kind, proof): (&str, &[u8]),
) -> Result<(), TxError> {
    let set = validators(s)?;
    for k in [reporter, validator] {
        if !set.contains(k) {
            return Err(StakingError::NotAValidator { key: k.to_hex() }.into());
        }
    }
    if !EVIDENCE_KINDS.contains(&kind) || proof.len() > depin_types::tx::MAX_EVIDENCE_BYTES {
        let reason = format!("kind {kind:?}, {} bytes", proof.len());
        return Err(StakingError::InvalidEvidence { reason }.into());
    }
    if get::<()>(s, &slashed_key(validator, view))?.is_some() {
        return Err(StakingError::AlreadySlashed {
            key: validator.to_hex(),
            view,
        }
        .into());
    }
    Ok(())
}

/// Burns [`depin_types::tx::VALIDATOR_SLASH_BPS`] of the validator's stake (floored) and
/// marks the view slashed.
fn slash_validator(s: &mut Overlay<'_>, validator: &PublicKey, view: u64) -> Result<(), TxError> {
    let st = stake(s, validator)?;
    let total = st
        .bonded
        .checked_add(st.unbonding)
        .map_err(|_| StakingError::Overflow)?;
    let amount = Amount(
        total.bones() / 10_000 * depin_types::tx::VALIDATOR_SLASH_BPS
            + total.bones() % 10_000 * depin_types::tx::VALIDATOR_SLASH_BPS / 10_000,
    );
    slash(s, validator, amount)?;
    s.put(slashed_key(validator, view), &());
    Ok(())
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
            let required = ctx.modules.required_collateral(s, &ctx.signer)?;
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
        StakingAction::SlashValidator {
            validator,
            view,
            kind,
            proof,
        } => check_slash(s, &ctx.signer, validator, *view, (kind, proof)),
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
        StakingAction::SlashValidator {
            validator, view, ..
        } => return slash_validator(s, validator, *view),
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
