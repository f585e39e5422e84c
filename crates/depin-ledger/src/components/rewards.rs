//! `rewards`: epoch reward roots and claims.
//!
//! Oracles registered in genesis attest `(epoch, root, total)` once the epoch is over (block
//! time at or past its end). When `attest_threshold` of them attest the same root and total,
//! the root takes effect: `total` (which must equal the epoch's scheduled emission) is minted
//! into the unclaimed-rewards pool, and the data credits the attestation says each payer used
//! are debited (all of them, or the payer's whole balance if it moved credits away after the
//! oracle's snapshot: the shortfall is recorded as unpaid), and the penalties it lists are
//! applied (the faulty device's owner's stake slashed, then each module's
//! [`on_penalty`](crate::module::LedgerModule::on_penalty), e.g. a module marking the
//! device's part of a deal faulty). An owner's reward is paid once, by a
//! claim that carries the leaf's Merkle proof; claims of an epoch can never exceed its total. Unclaimed rewards are
//! on the right-hand side of the supply equation.
//!
//! Keys: `rewards/config` → [`RewardsConfig`]; `rewards/att/<epoch BE>/<oracle>` →
//! `(root, total, effects digest)`; `rewards/epoch/<epoch BE>` → [`EpochRoot`];
//! `rewards/claimed/<epoch BE>/<owner>` → `u128` bones; `rewards/unclaimed` → `u128` bones.

use crate::components::{bank, credits, devices, staking, TxContext};
use crate::error::{ReasonCode, StateError};
use crate::module::ModuleRegistry;
use crate::state::{get, Overlay, StateRead};
use crate::TxError;
use borsh::{BorshDeserialize, BorshSerialize};
use depin_types::rewards::{emission_for_epoch, reward_leaf};
use depin_types::tx::{
    effects_digest, Penalty, RewardsAction, UsageDebit, MAX_PENALTIES, MAX_REASON_BYTES,
    MAX_USAGE_DEBITS,
};
use depin_types::{merkle, Amount, Hash32, PublicKey, RewardsParams};
use serde::Serialize;

/// Key of the rewards configuration.
pub const CONFIG_KEY: &[u8] = b"rewards/config";
/// Key prefix of oracle attestations.
pub const ATTESTATION_PREFIX: &[u8] = b"rewards/att/";
/// Key prefix of effective epoch roots.
pub const EPOCH_PREFIX: &[u8] = b"rewards/epoch/";
/// Key prefix of paid claims.
pub const CLAIMED_PREFIX: &[u8] = b"rewards/claimed/";
/// Key of the unclaimed-rewards pool (bones minted by roots, not yet claimed).
pub const UNCLAIMED_KEY: &[u8] = b"rewards/unclaimed";

/// What the component needs from genesis.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct RewardsConfig {
    /// Genesis time, ms (epoch 0 starts here).
    pub genesis_time_ms: u64,
    /// The genesis rewards parameters.
    pub params: RewardsParams,
}

/// An epoch's root once it has taken effect.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct EpochRoot {
    /// Merkle root of the epoch's reward leaves.
    pub root: Hash32,
    /// Bones minted for the epoch (Σ leaves).
    pub total: Amount,
    /// Bones claimed so far; never above `total`.
    pub claimed: Amount,
    /// Height of the block in which the root took effect.
    pub effective_height: u64,
    /// Data credits debited from payers for the epoch's usage.
    pub credits_debited: u64,
    /// Data credits attested but not held by their payers any more.
    pub credits_unpaid: u64,
    /// Bones slashed by the epoch's penalties.
    pub bones_slashed: Amount,
}

/// Errors of the `rewards` component.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum RewardsError {
    /// The chain has no rewards section in genesis.
    #[error("rewards are not enabled on this chain")]
    Disabled,
    /// The signer is not a registered oracle.
    #[error("signer is not a registered oracle")]
    NotOracle,
    /// The epoch has not ended at this block's time.
    #[error("epoch {epoch} ends at {end_ms} ms, block time is {time_ms} ms")]
    EpochOpen {
        /// The epoch.
        epoch: u64,
        /// Its end, ms.
        end_ms: u64,
        /// Block time, ms.
        time_ms: u64,
    },
    /// The attested total is not the epoch's scheduled emission.
    #[error("total {total} bones is not epoch {epoch}'s emission of {emission} bones")]
    WrongTotal {
        /// The epoch.
        epoch: u64,
        /// Attested total.
        total: u128,
        /// Scheduled emission.
        emission: u128,
    },
    /// The oracle already attested this epoch.
    #[error("oracle already attested epoch {epoch}")]
    AlreadyAttested {
        /// The epoch.
        epoch: u64,
    },
    /// The epoch's root already took effect.
    #[error("epoch {epoch} is already settled")]
    AlreadySettled {
        /// The epoch.
        epoch: u64,
    },
    /// No root is in effect for the epoch.
    #[error("epoch {epoch} has no effective reward root")]
    NoRoot {
        /// The epoch.
        epoch: u64,
    },
    /// The Merkle proof does not lead to the epoch's root.
    #[error("reward proof does not verify against epoch {epoch}'s root")]
    InvalidProof {
        /// The epoch.
        epoch: u64,
    },
    /// The owner's reward for the epoch was already paid.
    #[error("reward of epoch {epoch} already claimed")]
    AlreadyClaimed {
        /// The epoch.
        epoch: u64,
    },
    /// The attested usage list is malformed.
    #[error("invalid usage list: {reason}")]
    InvalidUsage {
        /// Why.
        reason: &'static str,
    },
    /// The attested penalty list is malformed.
    #[error("invalid penalty list: {reason}")]
    InvalidPenalties {
        /// Why.
        reason: &'static str,
    },
    /// Paying the claim would exceed the epoch's total.
    #[error("claim exceeds epoch {epoch}'s remaining total")]
    ExceedsTotal {
        /// The epoch.
        epoch: u64,
    },
}

impl ReasonCode for RewardsError {
    fn code(&self) -> &'static str {
        match self {
            RewardsError::Disabled => "rewards_disabled",
            RewardsError::NotOracle => "not_oracle",
            RewardsError::EpochOpen { .. } => "epoch_not_closed",
            RewardsError::WrongTotal { .. } => "wrong_reward_total",
            RewardsError::AlreadyAttested { .. } => "already_attested",
            RewardsError::AlreadySettled { .. } => "epoch_already_settled",
            RewardsError::NoRoot { .. } => "no_reward_root",
            RewardsError::InvalidProof { .. } => "invalid_reward_proof",
            RewardsError::AlreadyClaimed { .. } => "reward_already_claimed",
            RewardsError::ExceedsTotal { .. } => "claim_exceeds_total",
            RewardsError::InvalidUsage { .. } => "invalid_usage",
            RewardsError::InvalidPenalties { .. } => "invalid_penalties",
        }
    }
}

fn epoch_key(prefix: &[u8], epoch: u64, who: Option<&PublicKey>) -> Vec<u8> {
    let mut k = [prefix, &epoch.to_be_bytes()].concat();
    if let Some(w) = who {
        k.push(b'/');
        k.extend_from_slice(&w.0);
    }
    k
}

/// The rewards configuration, if the chain has one.
pub fn config(s: &impl StateRead) -> Result<Option<RewardsConfig>, StateError> {
    get(s, CONFIG_KEY)
}

/// The effective root of `epoch`, if any.
pub fn epoch_root(s: &impl StateRead, epoch: u64) -> Result<Option<EpochRoot>, StateError> {
    get(s, &epoch_key(EPOCH_PREFIX, epoch, None))
}

/// Bones paid to `owner` for `epoch` (0 if unclaimed).
pub fn claimed(s: &impl StateRead, epoch: u64, owner: &PublicKey) -> Result<u128, StateError> {
    Ok(get(s, &epoch_key(CLAIMED_PREFIX, epoch, Some(owner)))?.unwrap_or(0))
}

/// Bones minted by effective roots and not yet claimed.
pub fn unclaimed(s: &impl StateRead) -> Result<u128, StateError> {
    Ok(get(s, UNCLAIMED_KEY)?.unwrap_or(0))
}

/// The attestation `oracle` made for `epoch`, if any: `(root, total, effects digest)`.
pub fn attestation(
    s: &impl StateRead,
    epoch: u64,
    oracle: &PublicKey,
) -> Result<Option<(Hash32, Amount, Hash32)>, StateError> {
    get(s, &epoch_key(ATTESTATION_PREFIX, epoch, Some(oracle)))
}

/// Stateful check of a rewards action.
pub fn check(
    s: &impl StateRead,
    ctx: &TxContext<'_>,
    action: &RewardsAction,
) -> Result<(), TxError> {
    let cfg = config(s)?.ok_or(RewardsError::Disabled)?;
    match action {
        RewardsAction::AttestRoot {
            epoch,
            total,
            usage,
            penalties,
            ..
        } => {
            check_usage(usage)?;
            check_penalties(penalties)?;
            check_attest(s, ctx, &cfg, *epoch, *total)
        }
        RewardsAction::Claim {
            epoch,
            owner,
            amount,
            index,
            leaf_count,
            proof,
        } => {
            let root = epoch_root(s, *epoch)?.ok_or(RewardsError::NoRoot { epoch: *epoch })?;
            let leaf = reward_leaf(*epoch, owner, *amount);
            if !merkle::verify(&leaf, *index, *leaf_count, proof, &root.root) {
                return Err(RewardsError::InvalidProof { epoch: *epoch }.into());
            }
            if claimed(s, *epoch, owner)? != 0 {
                return Err(RewardsError::AlreadyClaimed { epoch: *epoch }.into());
            }
            let after = root
                .claimed
                .checked_add(*amount)
                .ok()
                .filter(|c| *c <= root.total);
            after.ok_or(RewardsError::ExceedsTotal { epoch: *epoch })?;
            Ok(())
        }
    }
}

/// A usage list must be sorted by payer with no payer twice, positive and bounded.
fn check_usage(usage: &[UsageDebit]) -> Result<(), RewardsError> {
    let bad = |reason| Err(RewardsError::InvalidUsage { reason });
    if usage.len() > MAX_USAGE_DEBITS {
        return bad("more payers than MAX_USAGE_DEBITS");
    }
    if usage.iter().any(|u| u.credits == 0) {
        return bad("a zero debit");
    }
    if usage.windows(2).any(|w| w[0].payer >= w[1].payer) {
        return bad("payers not strictly ascending");
    }
    Ok(())
}

/// A penalty list must be sorted by (device, deal) with no pair twice, bounded, with short
/// reason codes.
fn check_penalties(penalties: &[Penalty]) -> Result<(), RewardsError> {
    let bad = |reason| Err(RewardsError::InvalidPenalties { reason });
    if penalties.len() > MAX_PENALTIES {
        return bad("more penalties than MAX_PENALTIES");
    }
    if penalties
        .iter()
        .any(|p| p.reason.is_empty() || p.reason.len() > MAX_REASON_BYTES)
    {
        return bad("a reason code empty or longer than MAX_REASON_BYTES");
    }
    if penalties
        .windows(2)
        .any(|w| (w[0].device, w[0].deal) >= (w[1].device, w[1].deal))
    {
        return bad("(device, deal) not strictly ascending");
    }
    Ok(())
}

fn check_attest(
    s: &impl StateRead,
    ctx: &TxContext<'_>,
    cfg: &RewardsConfig,
    epoch: u64,
    total: Amount,
) -> Result<(), TxError> {
    let p = &cfg.params;
    if !p.oracles.iter().any(|o| o.key == ctx.signer) {
        return Err(RewardsError::NotOracle.into());
    }
    let end_ms = p.clock(cfg.genesis_time_ms).end_ms(epoch);
    if ctx.time_ms < end_ms {
        let time_ms = ctx.time_ms;
        return Err(RewardsError::EpochOpen {
            epoch,
            end_ms,
            time_ms,
        }
        .into());
    }
    let emission = emission_for_epoch(p.initial_emission_bones, p.halving_interval_epochs, epoch);
    if total != emission {
        let (total, emission) = (total.0, emission.0);
        return Err(RewardsError::WrongTotal {
            epoch,
            total,
            emission,
        }
        .into());
    }
    if epoch_root(s, epoch)?.is_some() {
        return Err(RewardsError::AlreadySettled { epoch }.into());
    }
    if attestation(s, epoch, &ctx.signer)?.is_some() {
        return Err(RewardsError::AlreadyAttested { epoch }.into());
    }
    Ok(())
}

/// Executes a rewards action (after [`check`] passed).
pub fn execute(
    s: &mut Overlay<'_>,
    ctx: &TxContext<'_>,
    action: &RewardsAction,
) -> Result<(), TxError> {
    match action {
        RewardsAction::AttestRoot {
            epoch,
            root,
            total,
            usage,
            penalties,
        } => attest(s, ctx, *epoch, (*root, *total), (usage, penalties)),
        RewardsAction::Claim {
            epoch,
            owner,
            amount,
            ..
        } => {
            let mut er = epoch_root(s, *epoch)?.ok_or(RewardsError::NoRoot { epoch: *epoch })?;
            er.claimed = er
                .claimed
                .checked_add(*amount)
                .ok()
                .filter(|c| *c <= er.total)
                .ok_or(RewardsError::ExceedsTotal { epoch: *epoch })?;
            s.put(epoch_key(EPOCH_PREFIX, *epoch, None), &er);
            s.put(epoch_key(CLAIMED_PREFIX, *epoch, Some(owner)), &amount.0);
            let pool = unclaimed(s)?;
            assert!(
                pool >= amount.0,
                "the pool holds every effective root's unclaimed part"
            );
            s.put(UNCLAIMED_KEY.to_vec(), &(pool - amount.0));
            bank::credit(s, owner, *amount)
        }
    }
}

fn attest(
    s: &mut Overlay<'_>,
    ctx: &TxContext<'_>,
    epoch: u64,
    (root, total): (Hash32, Amount),
    (usage, penalties): (&[UsageDebit], &[Penalty]),
) -> Result<(), TxError> {
    let cfg = config(s)?.ok_or(RewardsError::Disabled)?;
    let attested = (root, total, effects_digest(usage, penalties));
    s.put(
        epoch_key(ATTESTATION_PREFIX, epoch, Some(&ctx.signer)),
        &attested,
    );
    let mut agreeing = 0u32;
    for o in &cfg.params.oracles {
        if attestation(s, epoch, &o.key)? == Some(attested) {
            agreeing += 1;
        }
    }
    if agreeing < cfg.params.attest_threshold {
        return Ok(());
    }
    let (credits_debited, credits_unpaid) = debit_usage(s, usage)?;
    let mut bones_slashed = Amount::ZERO;
    for p in penalties {
        let slashed = apply_penalty(s, ctx.modules, p)?;
        bones_slashed = bones_slashed
            .checked_add(slashed)
            .map_err(|_| RewardsError::ExceedsTotal { epoch })?;
    }
    let er = EpochRoot {
        root,
        total,
        claimed: Amount::ZERO,
        effective_height: ctx.height,
        credits_debited,
        credits_unpaid,
        bones_slashed,
    };
    s.put(epoch_key(EPOCH_PREFIX, epoch, None), &er);
    let pool = unclaimed(s)?
        .checked_add(total.0)
        .ok_or(RewardsError::ExceedsTotal { epoch })?;
    s.put(UNCLAIMED_KEY.to_vec(), &pool);
    bank::record_mint(s, total)
}

/// Applies an attested penalty: slashes up to `p.amount` of the stake of the device's owner
/// (or of whom a module names, [`ModuleRegistry::penalty_owner`]), then lets every module see
/// it ([`on_penalty`](crate::module::LedgerModule::on_penalty)). Returns the bones slashed; a
/// device nobody owns any more is skipped (nothing slashed, no module called).
///
/// Errors: storage failures, a module's.
fn apply_penalty(
    s: &mut Overlay<'_>,
    modules: &ModuleRegistry,
    p: &Penalty,
) -> Result<Amount, TxError> {
    let mut owner = modules.penalty_owner(&*s, &p.device)?;
    if owner.is_none() {
        owner = devices::device(s, &p.device)?.map(|d| d.owner);
    }
    let Some(owner) = owner else {
        return Ok(Amount::ZERO);
    };
    let slashed = staking::slash(s, &owner, p.amount)?;
    for m in modules.iter() {
        m.on_penalty(s, p)?;
    }
    Ok(slashed)
}

/// Debits each payer's used credits, at most its balance: `(debited, unpaid)`.
fn debit_usage(s: &mut Overlay<'_>, usage: &[UsageDebit]) -> Result<(u64, u64), TxError> {
    let (mut debited, mut unpaid) = (0u64, 0u64);
    for u in usage {
        let have = credits::balance(s, &u.payer)?;
        let take = have.min(u.credits);
        credits::debit(s, &u.payer, take)?;
        debited = debited.saturating_add(take);
        unpaid = unpaid.saturating_add(u.credits - take);
    }
    Ok((debited, unpaid))
}
