//! `escrow`: funds locked for a term and paid to payees per epoch — Akash's escrow accounts
//! and payments (`x/escrow`), settled per whole epoch instead of per block. Shared by the
//! modules that sell a service for a term (storage deals, compute leases).
//!
//! Rules:
//! - `Open` moves the deposit from the owner into the account; the term is the epochs
//!   `[start, start + term)`, `start` being the epoch of the opening block.
//! - Settlement is lazy: any `Settle`, `Deposit` (after adding the deposit, so a late top-up
//!   still pays the arrears) or `Close` pays every payee its rate for each whole epoch elapsed
//!   since the last settlement (epochs before the current one, within the term). If the balance does not cover them, the whole epochs it covers are
//!   paid and the account becomes `Overdrawn`: it accrues nothing more (Akash closes an
//!   overdrawn account's leases the same way).
//! - `Close` (owner only) also pays the epoch in progress, then refunds the rest.
//! - Epochs are the chain's reward epochs (genesis `rewards.epoch_length_ms`): without a
//!   rewards section there is no epoch clock and escrow is disabled.
//!
//! Money: bones only (u128); a payee receives exactly `rate × epochs paid`; the owner gets
//! back exactly `deposits − paid`. Escrow balances are on the right-hand side of the supply
//! equation (see [`crate::audit_supply`]).
//!
//! Keys: `escrow/acct/<id>` → [`EscrowAccount`].

use crate::components::{bank, rewards, TxContext};
use crate::error::{ReasonCode, StateError};
use crate::state::{get, Overlay, StateRead};
use crate::TxError;
use borsh::{BorshDeserialize, BorshSerialize};
use depin_types::tx::{EscrowAction, EscrowPayee, MAX_ESCROW_PAYEES};
use depin_types::{Amount, Hash32, PublicKey};
use serde::{Deserialize, Serialize};

/// Key prefix of escrow accounts.
pub const ACCOUNT_PREFIX: &[u8] = b"escrow/acct/";

/// Where an account is in its life.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EscrowState {
    /// Accruing (or past its term, waiting for the owner to close it).
    Open,
    /// The balance ran out: nothing accrues any more.
    Overdrawn,
    /// Closed by its owner: paid and refunded.
    Closed,
}

/// An escrow account.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct EscrowAccount {
    /// Who funded it (and gets refunds).
    pub owner: PublicKey,
    /// Bones held.
    pub balance: Amount,
    /// First epoch of the term.
    pub start_epoch: u64,
    /// Epochs in the term.
    pub term_epochs: u64,
    /// Epochs `[start_epoch, paid_through_epoch)` are paid.
    pub paid_through_epoch: u64,
    /// Payees and their rates.
    pub payees: Vec<EscrowPayee>,
    /// Its state.
    pub state: EscrowState,
    /// Bones paid to payees so far.
    pub paid: Amount,
}

impl EscrowAccount {
    /// First epoch after the term.
    pub fn end_epoch(&self) -> u64 {
        self.start_epoch.saturating_add(self.term_epochs)
    }

    /// Bones all payees accrue per epoch.
    ///
    /// Errors: [`EscrowError::Overflow`].
    pub fn rate_bones_per_epoch(&self) -> Result<Amount, EscrowError> {
        self.payees.iter().try_fold(Amount::ZERO, |a, p| {
            a.checked_add(p.rate_bones_per_epoch)
                .map_err(|_| EscrowError::Overflow)
        })
    }
}

/// Errors of the `escrow` component.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EscrowError {
    /// The chain has no epoch clock (no rewards section in genesis).
    #[error("escrow needs reward epochs; this chain has none")]
    Disabled,
    /// An account with this id exists.
    #[error("escrow account {id} already exists")]
    Exists {
        /// The id.
        id: Hash32,
    },
    /// No account with this id.
    #[error("no escrow account {id}")]
    NotFound {
        /// The id.
        id: Hash32,
    },
    /// Only the owner may close an account.
    #[error("only the owner may close escrow account {id}")]
    NotOwner {
        /// The id.
        id: Hash32,
    },
    /// The account no longer accepts this action.
    #[error("escrow account {id} is {state:?}")]
    NotOpen {
        /// The id.
        id: Hash32,
        /// Its state.
        state: EscrowState,
    },
    /// Terms that cannot be an account.
    #[error("invalid escrow terms: {reason}")]
    InvalidTerms {
        /// Why.
        reason: &'static str,
    },
    /// An amount would overflow `u128`.
    #[error("escrow amount overflow")]
    Overflow,
}

impl ReasonCode for EscrowError {
    fn code(&self) -> &'static str {
        match self {
            EscrowError::Disabled => "escrow_disabled",
            EscrowError::Exists { .. } => "escrow_exists",
            EscrowError::NotFound { .. } => "escrow_not_found",
            EscrowError::NotOwner { .. } => "not_escrow_owner",
            EscrowError::NotOpen { .. } => "escrow_not_open",
            EscrowError::InvalidTerms { .. } => "invalid_escrow_terms",
            EscrowError::Overflow => "escrow_overflow",
        }
    }
}

/// State key of account `id`.
pub fn account_key(id: &Hash32) -> Vec<u8> {
    [ACCOUNT_PREFIX, &id.0].concat()
}

/// Reads account `id`.
pub fn account(s: &impl StateRead, id: &Hash32) -> Result<Option<EscrowAccount>, StateError> {
    get(s, &account_key(id))
}

fn existing(s: &impl StateRead, id: &Hash32) -> Result<EscrowAccount, TxError> {
    account(s, id)?.ok_or_else(|| EscrowError::NotFound { id: *id }.into())
}

fn not_open(id: &Hash32, state: EscrowState) -> TxError {
    EscrowError::NotOpen { id: *id, state }.into()
}

/// The epoch of the block being executed.
///
/// Errors: [`EscrowError::Disabled`] on a chain without reward epochs.
pub fn current_epoch(s: &impl StateRead, ctx: &TxContext<'_>) -> Result<u64, TxError> {
    let cfg = rewards::config(s)?.ok_or(EscrowError::Disabled)?;
    Ok(cfg
        .params
        .clock(cfg.genesis_time_ms)
        .epoch_at(ctx.time_ms)
        .unwrap_or(0))
}

/// Checks an account's terms: a positive term, 1 to [`MAX_ESCROW_PAYEES`] distinct payees,
/// positive rates.
///
/// Errors: [`EscrowError::InvalidTerms`].
pub fn check_terms(term_epochs: u64, payees: &[EscrowPayee]) -> Result<(), EscrowError> {
    let bad = |reason| Err(EscrowError::InvalidTerms { reason });
    if term_epochs == 0 {
        return bad("a term of zero epochs");
    }
    if payees.is_empty() || payees.len() > MAX_ESCROW_PAYEES {
        return bad("between 1 and MAX_ESCROW_PAYEES payees");
    }
    if payees
        .iter()
        .any(|p| p.rate_bones_per_epoch == Amount::ZERO)
    {
        return bad("a zero rate");
    }
    let mut keys: Vec<&PublicKey> = payees.iter().map(|p| &p.payee).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return bad("a payee twice");
    }
    Ok(())
}

/// Stateful check of an escrow action.
pub fn check(
    s: &impl StateRead,
    ctx: &TxContext<'_>,
    action: &EscrowAction,
) -> Result<(), TxError> {
    current_epoch(s, ctx)?;
    match action {
        EscrowAction::Open {
            id,
            deposit,
            term_epochs,
            payees,
        } => {
            check_terms(*term_epochs, payees)?;
            if account(s, id)?.is_some() {
                return Err(EscrowError::Exists { id: *id }.into());
            }
            bank::check_transfer(s, ctx, *deposit)
        }
        EscrowAction::Deposit { id, amount } => {
            let a = existing(s, id)?;
            if a.state != EscrowState::Open {
                return Err(not_open(id, a.state));
            }
            bank::check_transfer(s, ctx, *amount)
        }
        EscrowAction::Settle { id } => existing(s, id).map(|_| ()),
        EscrowAction::Close { id } => {
            let a = existing(s, id)?;
            if a.owner != ctx.signer {
                return Err(EscrowError::NotOwner { id: *id }.into());
            }
            if a.state == EscrowState::Closed {
                return Err(not_open(id, a.state));
            }
            Ok(())
        }
    }
}

/// Executes an escrow action (after [`check`] passed).
pub fn execute(
    s: &mut Overlay<'_>,
    ctx: &TxContext<'_>,
    action: &EscrowAction,
) -> Result<(), TxError> {
    let now = current_epoch(s, ctx)?;
    match action {
        EscrowAction::Open {
            id,
            deposit,
            term_epochs,
            payees,
        } => {
            let a = EscrowAccount {
                owner: ctx.signer,
                balance: *deposit,
                start_epoch: now,
                term_epochs: *term_epochs,
                paid_through_epoch: now,
                payees: payees.clone(),
                state: EscrowState::Open,
                paid: Amount::ZERO,
            };
            open_account(s, id, a)
        }
        EscrowAction::Deposit { id, amount } => {
            let mut a = existing(s, id)?;
            bank::debit(s, &ctx.signer, *amount)?;
            a.balance = a
                .balance
                .checked_add(*amount)
                .map_err(|_| EscrowError::Overflow)?;
            settle_through(s, &mut a, now)?;
            s.put(account_key(id), &a);
            Ok(())
        }
        EscrowAction::Settle { id } => {
            let mut a = existing(s, id)?;
            settle_through(s, &mut a, now)?;
            s.put(account_key(id), &a);
            Ok(())
        }
        EscrowAction::Close { id } => close(s, id, now),
    }
}

/// Opens account `id` (checked new by the caller), moving its balance from the owner.
///
/// Errors: the owner's balance is short.
pub fn open_account(s: &mut Overlay<'_>, id: &Hash32, a: EscrowAccount) -> Result<(), TxError> {
    assert!(
        a.state == EscrowState::Open && a.paid == Amount::ZERO,
        "a new account"
    );
    bank::debit(s, &a.owner, a.balance)?;
    s.put(account_key(id), &a);
    Ok(())
}

/// Settles account `id` through the epochs before `now`, then pays its payees `payees` from
/// `now` on (a storage deal's shard moved to another provider). No-op on an account that is
/// not open.
///
/// Errors: [`EscrowError::NotFound`], [`EscrowError::InvalidTerms`], overflow.
pub fn set_payees(
    s: &mut Overlay<'_>,
    id: &Hash32,
    payees: Vec<EscrowPayee>,
    now: u64,
) -> Result<(), TxError> {
    let mut a = existing(s, id)?;
    settle_through(s, &mut a, now)?;
    if a.state == EscrowState::Open {
        check_terms(a.term_epochs, &payees)?;
        a.payees = payees;
    }
    s.put(account_key(id), &a);
    Ok(())
}

/// Pays the epoch in progress and everything before it, refunds the rest, closes.
///
/// Errors: [`EscrowError::NotFound`], overflow.
pub fn close(s: &mut Overlay<'_>, id: &Hash32, now: u64) -> Result<(), TxError> {
    let mut a = existing(s, id)?;
    settle_through(s, &mut a, now.saturating_add(1))?;
    let refund = a.balance;
    bank::credit(s, &a.owner, refund)?;
    a.balance = Amount::ZERO;
    a.state = EscrowState::Closed;
    s.put(account_key(id), &a);
    Ok(())
}

/// Pays every payee for the whole epochs before `until_epoch` not yet paid (within the term),
/// as many as the balance covers; an account that cannot cover them becomes overdrawn.
///
/// Errors: overflow, or a payee credit failure.
pub fn settle_through(
    s: &mut Overlay<'_>,
    a: &mut EscrowAccount,
    until_epoch: u64,
) -> Result<(), TxError> {
    if a.state != EscrowState::Open {
        return Ok(());
    }
    let until = until_epoch.min(a.end_epoch());
    if until <= a.paid_through_epoch {
        return Ok(());
    }
    let due_epochs = until - a.paid_through_epoch;
    let rate = a.rate_bones_per_epoch()?;
    assert!(rate > Amount::ZERO, "an account has a positive rate");
    let affordable = a.balance.bones() / rate.bones();
    let epochs = u64::try_from(affordable)
        .unwrap_or(u64::MAX)
        .min(due_epochs);
    for p in &a.payees {
        let pay = p
            .rate_bones_per_epoch
            .checked_mul(u128::from(epochs))
            .map_err(|_| EscrowError::Overflow)?;
        bank::credit(s, &p.payee, pay)?;
    }
    let total = rate
        .checked_mul(u128::from(epochs))
        .map_err(|_| EscrowError::Overflow)?;
    a.balance = a
        .balance
        .checked_sub(total)
        .map_err(|_| EscrowError::Overflow)?;
    a.paid = a
        .paid
        .checked_add(total)
        .map_err(|_| EscrowError::Overflow)?;
    a.paid_through_epoch += epochs;
    if epochs < due_epochs {
        a.state = EscrowState::Overdrawn;
    }
    assert!(
        a.paid_through_epoch <= a.end_epoch(),
        "never paid past the term"
    );
    Ok(())
}
