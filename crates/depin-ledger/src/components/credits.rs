//! `credits`: data credits, the non-transferable usage unit (Helium's DC). Tokens are burned
//! into credits at the chain's `credit_price_bones`; credits can only be delegated to a payer
//! key, and resource modules debit payers for usage through [`debit`].
//!
//! Keys: `credits/bal/<key>` → `u64` credits.

use crate::components::{bank, TxContext};
use crate::error::{ReasonCode, StateError};
use crate::state::{get, Overlay, StateRead};
use crate::TxError;
use depin_types::tx::CreditsAction;
use depin_types::{Amount, PublicKey};

/// Key prefix of credit balances.
pub const BALANCE_PREFIX: &[u8] = b"credits/bal/";

/// Errors of the `credits` component.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CreditsError {
    /// Fewer credits than needed.
    #[error("insufficient credits: have {have}, need {need}")]
    InsufficientCredits {
        /// Credits held.
        have: u64,
        /// Credits needed.
        need: u64,
    },
    /// A credit balance or the burn cost would overflow.
    #[error("credit amount overflow")]
    Overflow,
    /// Zero credits requested.
    #[error("credit amount must be positive")]
    Zero,
}

impl ReasonCode for CreditsError {
    fn code(&self) -> &'static str {
        match self {
            CreditsError::InsufficientCredits { .. } => "insufficient_credits",
            CreditsError::Overflow => "credit_overflow",
            CreditsError::Zero => "zero_credits",
        }
    }
}

/// State key of a credit balance.
pub fn balance_key(who: &PublicKey) -> Vec<u8> {
    [BALANCE_PREFIX, &who.0].concat()
}

/// Reads a credit balance.
pub fn balance(s: &impl StateRead, who: &PublicKey) -> Result<u64, StateError> {
    Ok(get(s, &balance_key(who))?.unwrap_or(0))
}

/// Bones burned for `credits` credits: `credits × credit_price_bones`.
pub fn burn_cost(ctx: &TxContext<'_>, credits: u64) -> Result<Amount, TxError> {
    ctx.params
        .credit_price_bones
        .checked_mul(u128::from(credits))
        .map_err(|_| CreditsError::Overflow.into())
}

/// Stateful check of a credits action.
pub fn check(
    s: &impl StateRead,
    ctx: &TxContext<'_>,
    action: &CreditsAction,
) -> Result<(), TxError> {
    match action {
        CreditsAction::Burn { credits } => {
            if *credits == 0 {
                return Err(CreditsError::Zero.into());
            }
            bank::check_transfer(s, ctx, burn_cost(ctx, *credits)?)
        }
        CreditsAction::Delegate { credits, .. } => {
            if *credits == 0 {
                return Err(CreditsError::Zero.into());
            }
            let have = balance(s, &ctx.signer)?;
            if have < *credits {
                return Err(CreditsError::InsufficientCredits {
                    have,
                    need: *credits,
                }
                .into());
            }
            Ok(())
        }
    }
}

/// Executes a credits action (after [`check`] passed).
pub fn execute(
    s: &mut Overlay<'_>,
    ctx: &TxContext<'_>,
    action: &CreditsAction,
) -> Result<(), TxError> {
    match action {
        CreditsAction::Burn { credits } => {
            bank::burn_from(s, &ctx.signer, burn_cost(ctx, *credits)?)?;
            add(s, &ctx.signer, *credits)
        }
        CreditsAction::Delegate { payer, credits } => {
            debit(s, &ctx.signer, *credits)?;
            add(s, payer, *credits)
        }
    }
}

fn add(s: &mut Overlay<'_>, who: &PublicKey, credits: u64) -> Result<(), TxError> {
    let b = balance(s, who)?
        .checked_add(credits)
        .ok_or(CreditsError::Overflow)?;
    s.put(balance_key(who), &b);
    Ok(())
}

/// Debit entry point for resource modules: takes `credits` from `payer`.
///
/// Errors: [`CreditsError::InsufficientCredits`]; nothing is written then.
pub fn debit(s: &mut Overlay<'_>, payer: &PublicKey, credits: u64) -> Result<(), TxError> {
    let have = balance(s, payer)?;
    let left = have
        .checked_sub(credits)
        .ok_or(CreditsError::InsufficientCredits {
            have,
            need: credits,
        })?;
    s.put(balance_key(payer), &left);
    Ok(())
}
